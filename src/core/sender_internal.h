/* Internal: the sender's state, shared by sender.c (session, links, transmit queue),
 * sender_adaptive.c (adaptive mode: where each packet goes, pacing, moving what waits on
 * a failing link) and sender_resend.c (answering NACKs). */
#ifndef BRAID_CORE_SENDER_INTERNAL_H
#define BRAID_CORE_SENDER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "braid/sender.h"
#include "core/event_ring.h"
#include "core/link.h"
#include "core/sched.h"
#include "core/wire.h"
#include "core/history.h"
#include "core/pktq.h"
#include "core/resend.h"
#include "core/sender_link.h"
#include "core/sender_keys.h"

#define TX_QUEUE_SIZE 65536
#define OUTPUT_QUEUE_SIZE 1024
#define EVENT_QUEUE_SIZE 64
#define NACK_MAX_RESENDS 1024
#define NACK_MAX_EXAMINED 4096 /* numbers of one NACK looked at, held or not */
#define PACED_QUEUE_SIZE 16384
#define ARRIVAL_TOLERANCE_US 10000
#define REHOME_MAX 256
#define ASSIGN_HORIZON_US 10000 /* adaptive: data a link may hold before new packets wait */
#define TIMEOUT_LEAD_RTTS 2 /* adaptive: a stranded packet goes again this many RTTs */
#define TIMEOUT_LEAD_US 50000 /* plus this before its release */
#define TIMEOUT_CHECK_US 10000 /* how often stranded packets are looked at */
#define TAKE_OVER_MARGIN 1.25 /* adaptive: the input rate plus resends, when a link fails */
#define TAKE_OVER_MAX_GROWTH 8.0 /* and at most this times what a survivor was known to carry */

/* Why a packet is scheduled (for the stats, and whether it is a resend). */
enum braid__send_cause {
	BRAID__SEND_NEW,      /* first time */
	BRAID__SEND_MOVED,    /* taken off a failed or stalled link's pacer before it left */
	BRAID__SEND_NACK,
	BRAID__SEND_FAILOVER,
	BRAID__SEND_TIMEOUT,
};

/* Why pick_adaptive gave a packet a second link. */
enum braid__copy_cause {
	BRAID__COPY_NONE,
	BRAID__COPY_HEDGE,
	BRAID__COPY_REDUNDANCY,
};

struct tx_item {
	uint8_t type;  /* BRAID_PKT_* */
	uint8_t flags; /* BRAID_FLAG_RETRANSMIT */
	uint8_t slot;
	uint64_t seq;  /* DATA */
};

struct braid_sender {
	struct braid_sender_settings settings;
	struct braid__sender_crypto crypto;
	uint8_t opened[BRAID_MAX_DATAGRAM]; /* the plain datagram a sealed one carried */
	bool handshake_done; /* a receiver answered: its nonce is known (and keys agreed) */
	uint8_t receiver_nonce[BRAID_NONCE_SIZE];
	/* A new receiver instance answered: what the sender still holds goes again once a
	 * link is live (the old instance lost it). */
	bool restart_resend;
	uint64_t restart_first_live_us; /* when a link was first usable again, or 0 */
	uint64_t now;
	bool closing;

	struct braid__sender_link links[BRAID_MAX_LINKS];
	/* One past the highest slot ever used: the per-link loops, run on every event and
	 * timeout, stop there instead of walking all BRAID_MAX_LINKS slots. */
	size_t links_in_use;
	uint16_t next_link_id;
	struct braid_sched sched;
	struct braid_sched_link sched_links[BRAID_MAX_LINKS];
	uint8_t sched_slot[BRAID_MAX_LINKS];
	size_t sched_count;

	struct braid__history history;
	uint64_t next_seq;    /* next sequence number for pushed media */
	uint64_t next_unsent; /* first pushed packet not yet scheduled */
	uint64_t sent_through; /* one past the highest sequence number sent on any link */

	struct tx_item *tx;
	size_t tx_head, tx_count;
	struct braid__pktq output;
	uint64_t reverse_highest;
	uint64_t reverse_window; /* bit i: reverse_highest - i was seen */
	bool reverse_seen;

	struct braid_event event_slots[EVENT_QUEUE_SIZE];
	struct braid__event_ring events; /* over event_slots */

	struct braid__resend_budget resend;
	double redundancy_credit;
	uint64_t timeout_check_us; /* adaptive: next look at what stalled links hold */
	struct braid_sender_stats stats;
};

/* sender.c */
bool braid__sender_tx_push(struct braid_sender *s, uint8_t type, uint8_t flags, size_t slot,
			   uint64_t seq);
bool braid__sender_expired(const struct braid_sender *s, const struct braid__history_entry *e);
bool braid__sender_schedule_entry(struct braid_sender *s, struct braid__history_entry *e,
				  uint8_t flags, int avoid, enum braid__send_cause cause);
/* Sends the entry again (cause: failover or timeout) within the resend budget; false when
 * the budget is spent (counted), true otherwise, made or not. */
bool braid__sender_resend_entry(struct braid_sender *s, struct braid__history_entry *e,
				int avoid, enum braid__send_cause cause);
/* Counts `copies` resends of the cause. */
void braid__sender_count_resends(struct braid_sender *s, enum braid__send_cause cause,
				 uint64_t copies);
int braid__sender_encode_item(struct braid_sender *s, const struct tx_item *it, uint8_t *buf,
			      size_t cap);

/* sender_adaptive.c */
uint64_t braid__sender_release_deadline(const struct braid_sender *s,
					const struct braid__history_entry *e);
uint64_t braid__sender_arrival_tolerance(const struct braid__sender_link *l);
size_t braid__sender_pick_adaptive(struct braid_sender *s, const struct braid__history_entry *e,
				   size_t out[2], enum braid__copy_cause *why);
size_t braid__sender_live_links(const struct braid_sender *s);
/* Adaptive: whether data may go to the link: usable, or live when every live link is
 * stalled (one that answers again soonest may be the one whose way back is held up). */
bool braid__sender_eligible(const struct braid_sender *s, const struct braid__sender_link *l);
/* Adaptive: live links not stalled, which new data may go to. */
size_t braid__sender_usable_links(const struct braid_sender *s);
/* Adaptive: marks links silent for too long as stalled (what waits for them goes to the
 * others) and sends again elsewhere what they took and did not confirm, as its release
 * draws near; and when that is next due. */
void braid__sender_check_stalls(struct braid_sender *s);
uint64_t braid__sender_stall_timeout(const struct braid_sender *s);
bool braid__sender_pace(struct braid_sender *s, size_t slot, const struct braid__history_entry *e,
			uint8_t flags);
void braid__sender_rehome_paced(struct braid_sender *s, size_t slot);
void braid__sender_rehome_late(struct braid_sender *s, size_t slot);
/* Adaptive: every live link has more than a moment's data waiting for its pacer, so new
 * packets wait in the history, in order, until one has room. */
bool braid__sender_links_busy(const struct braid_sender *s);
/* Adaptive, with packets waiting in the history: when the link will have room for them (its
 * backlog down to the horizon); UINT64_MAX otherwise. */
uint64_t braid__sender_link_room_at(const struct braid_sender *s, size_t slot);
int braid__sender_poll_paced(struct braid_sender *s, uint16_t *link_id, uint8_t *buf, size_t cap);

/* sender_keys.c */
bool braid__sender_crypto_init(struct braid_sender *s, const struct braid_sender_settings *set,
			       uint64_t now_us);
void braid__sender_crypto_free(struct braid_sender *s);
void braid__sender_new_exchange(struct braid_sender *s);
/* Keyed, and the current exchange is not answered yet: links say HELLO. */
bool braid__sender_exchanging(const struct braid_sender *s);
uint64_t braid__sender_rekey_at(const struct braid_sender *s);
/* Starts a new exchange when the schedule or the packet numbers say so. */
void braid__sender_rekey_tick(struct braid_sender *s);
void braid__sender_fill_hello(const struct braid_sender *s, struct braid_hello *h);
int braid__sender_accept_ack(struct braid_sender *s, struct braid__sender_link *l,
			     const struct braid_hello_ack *ack);
/* Opens a sealed datagram into s->opened: its length, or BRAID_ERR_AUTH / _REPLAY. */
int braid__sender_open(struct braid_sender *s, const uint8_t *buf, size_t len);
/* The key to protect a packet of this type with; false when there is none yet. */
bool braid__sender_wire_key(struct braid_sender *s, uint8_t type, struct braid_wire_key *out);
void braid__sender_links_lost(struct braid_sender *s);

/* sender_resend.c */
void braid__sender_on_nack(struct braid_sender *s, const struct braid_packet *p);

#endif
