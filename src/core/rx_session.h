/* Internal: one session at the receiver — its links, its reorder buffer, its clock
 * offset. Sessions share nothing, so one sender's trouble never touches another's. */
#ifndef BRAID_CORE_RX_SESSION_H
#define BRAID_CORE_RX_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "braid/addr.h"
#include "core/link.h"
#include "braid/receiver.h"
#include "core/wire.h"
#include "core/rxbuf.h"
#include "braid/stats.h"
#include "core/keys.h"
#include "core/nack.h"
#include "core/clock.h"

#define BRAID__RX_MAX_LINKS 32
#define BRAID__RX_DEFAULT_RTT_US 100000 /* until the sender's probes tell */

struct braid__rx_link {
	bool used;
	uint16_t id;
	char name[BRAID_LINK_NAME_MAX + 1];
	struct braid_addr addr; /* where it was last heard from; replies go there */
	struct braid_link_health health;
	struct braid_jitter jitter;
	double transit_us;      /* smoothed arrival - send time: compares links' delays */
	int64_t transit_min_us; /* the least: the path's own, without any queue */
	bool has_transit;
	uint64_t data_received; /* reported back in probe replies */
	uint64_t data_bytes;    /* payload bytes of those */
	uint32_t rtt_us;        /* the sender's RTT of this link, from its probes */
	/* Loss as the gateway sees it: probes carry a sequence number per link, so the
	 * ones that never came tell, without the sender's word. */
	struct braid_loss probe_loss;
	uint32_t first_probe_seq;
	uint64_t probes_received;
	uint64_t packets_received, bytes_received, packets_sent, bytes_sent;
	uint32_t down_events;
};

/* A key exchange as the receiver answered it (keyed sessions). */
struct braid__rx_exchange {
	bool valid;
	uint8_t sender_nonce[BRAID_NONCE_SIZE];
	uint8_t receiver_nonce[BRAID_NONCE_SIZE];
	uint8_t sender_public[BRAID_KEY_SIZE];
	uint8_t receiver_public[BRAID_KEY_SIZE];
	uint64_t wall_us;            /* the sender's wall clock in the HELLO that started it */
	struct braid__key_set keys;  /* while pending: opens only, never seals */
	/* pending, from a restarted sender (another nonce): the links its HELLOs named, for
	 * the session that replaces the old one once a sealed packet confirms it */
	struct {
		uint16_t id;
		char name[BRAID_LINK_NAME_MAX + 1];
		struct braid_addr addr;
	} links[BRAID__RX_MAX_LINKS];
	size_t link_count;
};

struct braid__rx_session {
	bool used;
	bool closing; /* BYE seen: ends once everything held is released */
	uint32_t id;
	struct braid_addr origin; /* where the HELLO that started it came from */
	uint8_t sender_nonce[BRAID_NONCE_SIZE];
	uint8_t receiver_nonce[BRAID_NONCE_SIZE];
	/* keyed: the confirmed exchange and its keys, the keys it replaced (during their
	 * grace), and an exchange answered but not yet confirmed by a packet sealed with it */
	struct braid__rx_exchange exchange, pending;
	struct braid__key_set keys, old_keys;
	struct braid__rx_link links[BRAID__RX_MAX_LINKS];
	size_t links_in_use; /* one past the highest link slot used: loops stop there */
	struct braid_rxbuf *rxbuf;
	struct braid__clock clock; /* the offset: release = sender timestamp + offset + budget */
	uint64_t ts_highest, seq_highest; /* extended; start at 2^32 so older values fit below */
	bool ts_known;  /* ts_highest holds a first timestamp (a HELLO's or a DATA's) */
	bool clock_from_hello; /* the clock holds a HELLO's transit alone, not yet a DATA's */
	bool seen_data; /* seq_highest holds a first sequence number */
	uint64_t last_data_us; /* when the newest DATA arrived */
	uint64_t tail_asked;   /* numbers below this were registered from a PROBE already */
	uint64_t last_heard_us;
	uint32_t reverse_seq;
	struct braid__nack_tracker nack;
	uint64_t nacks_sent;
	struct braid_session_stats stats;
};

int braid__rx_session_init(struct braid__rx_session *s, uint32_t id, size_t reorder_capacity,
			   uint64_t now_us);
void braid__rx_session_free(struct braid__rx_session *s);
struct braid__rx_link *braid__rx_session_link(struct braid__rx_session *s, uint16_t link_id);
/* Finds or adds a link. NULL when the session has no room left. */
struct braid__rx_link *braid__rx_session_add_link(struct braid__rx_session *s, uint16_t link_id,
						  const char *name, uint64_t now_us);
/* A HELLO the session accepted: before any data, its timestamp (taken when it was sent,
 * never held back) starts the clock. Data that comes first may be old packets sent again
 * (after a receiver restart), whose transit says nothing of the path. The first fresh
 * DATA starts the clock over: a HELLO is small and may take another link, so its transit
 * is only a stand-in for the data path's. */
void braid__rx_session_hello_time(struct braid__rx_session *s, uint32_t timestamp_us,
				  uint64_t latency_us, uint64_t now_us);
/* The far side was heard on a link: liveness, NAT rebinding. True when its state changed. */
bool braid__rx_link_heard(struct braid__rx_link *l, const struct braid_health_settings *hs,
			  const struct braid_addr *from, uint64_t now_us);
/* The lowest RTT the sender reports for a live link (a NACK and its resend take the
 * fastest way), or BRAID__RX_DEFAULT_RTT_US before any report. */
uint64_t braid__rx_session_rtt(const struct braid__rx_session *s);
/* How long a missing number may just be on a slower link: the spread of the links'
 * one-way delays plus their jitter. */
uint64_t braid__rx_session_reorder_wait(const struct braid__rx_session *s);
/* Stores a data packet for release, noting the gaps it reveals for NACKs. A packet whose
 * timestamp the clock tracker does not believe is dropped and counted (bad_timestamps). */
void braid__rx_session_data(struct braid__rx_session *s, struct braid__rx_link *l,
			    const struct braid_packet *p, uint64_t latency_us, uint64_t now_us);
/* A PROBE says the sender has sent every number below sent_through: once no DATA has come
 * for a round trip (the end of a burst or of the stream, where no later packet reveals a
 * gap), those above the highest seen are asked for as a gap would be. */
void braid__rx_session_sent_through(struct braid__rx_session *s, uint32_t sent_through,
				    uint32_t probe_ts_us, uint64_t latency_us, uint64_t now_us);
/* The live link with the lowest delay (for reverse traffic); the last heard when none is. */
struct braid__rx_link *braid__rx_session_best_link(struct braid__rx_session *s);
/* Another live link than `other` for a second copy of a NACK: the one heard from most
 * recently (a path that just carried data is likeliest to carry the request back); NULL
 * when there is none. */
struct braid__rx_link *braid__rx_session_spare_link(struct braid__rx_session *s,
						   const struct braid__rx_link *other);
void braid__rx_link_stats(const struct braid__rx_link *l, struct braid_link_stats *out);

#endif
