/* Internal: one link as the sender sees it — handshake, probes, estimators, health. */
#ifndef BRAID_CORE_SENDER_LINK_H
#define BRAID_CORE_SENDER_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/link.h"
#include "braid/sender.h"
#include "braid/stats.h"
#include "core/wire.h"
#include "core/capacity.h"
#include "core/paced.h"

#define BRAID__PROBE_RECORDS 64

struct braid__probe_record {
	uint32_t probe_seq;
	uint64_t sent_us;
	uint64_t data_sent; /* data datagrams sent on the link before this probe */
	uint64_t data_bytes_sent; /* and their bytes */
	uint64_t predicted_queue_us; /* the virtual queue when it left */
	bool valid;
};

struct braid__sender_link {
	bool used;
	bool acked; /* the receiver answered a HELLO: data may flow */
	/* unkeyed: the receiver's cookie for this link's address, echoed in HELLO */
	uint8_t cookie[BRAID_COOKIE_SIZE];
	uint16_t id;
	char name[BRAID_LINK_NAME_MAX + 1];
	uint32_t weight, priority;

	struct braid_link_health health;
	struct braid_rtt rtt;
	struct braid_loss loss;
	double jitter_us; /* as the receiver measures it */
	struct braid__capacity capacity;
	struct braid__paced_queue paced; /* adaptive: data waiting for its departure time */

	uint64_t next_probe_us;
	uint32_t probe_seq;
	struct braid__probe_record probes[BRAID__PROBE_RECORDS];
	uint64_t last_answered_probe_us; /* send time of the newest answered probe */
	uint32_t last_answered_seq;      /* its probe sequence number */
	bool answered_any;
	double probe_loss;               /* smoothed share of probes left unanswered */
	uint64_t received_reported;      /* the receiver's counter, extended */
	uint64_t received_bytes_reported; /* and its payload bytes */
	/* The forward one-way delay by the receiver's clock (arrival minus send, of any
	 * origin): its base (see update_forward_queue), since when, and what the answers
	 * show above it. */
	uint32_t forward_base;
	uint64_t forward_base_at_us;
	bool forward_known;
	uint64_t forward_queue_us;        /* the latest answer's */
	uint64_t forward_queue_smooth_us; /* smoothed with gain 1/8 */

	/* Adaptive: silent for longer than its answers take, yet not given up for dead (a
	 * cellular link goes quiet for hundreds of ms and comes back): it gets no new data
	 * until it answers. How long its recent stalls lasted sets how long a silence must
	 * last before it counts as death. */
	bool stalled;
	double stall_memory_us;      /* the longest recent silence it came back from */
	uint64_t stall_memory_at_us; /* when that was */
	uint32_t stalls;

	uint64_t packets_sent, bytes_sent, packets_received, bytes_received;
	uint32_t down_events;
	uint32_t last_ack_echo; /* keyed: the newest HELLO_ACK's echo; older ones are copies */
	bool ack_echo_known;
};

bool braid__link_name_valid(const char *name);
void braid__sender_link_init(struct braid__sender_link *l, uint16_t id,
			     const struct braid_link_config *cfg, uint64_t now_us);
/* Fills the control packet (HELLO, PROBE, BYE) whose type is in p->header, and records
 * a probe as sent at now_us. */
void braid__sender_link_fill_control(struct braid__sender_link *l, struct braid_packet *p,
				     const uint8_t nonce[BRAID_NONCE_SIZE], uint64_t now_us);
/* A link starts carrying (first handshake, or back from DOWN). Back within a few seconds
 * with an estimate in hand, it resumes at that estimate; otherwise it earns its rate anew,
 * from a quarter of what it had (the first time: floor_bps, at least 1 Mbit/s). */
void braid__sender_link_restart_capacity(struct braid__sender_link *l, double floor_bps,
					 uint64_t now_us);
/* The receiver's clock has changed (a new receiver instance): the forward delay's base is
 * found again. (A link back from DOWN keeps it: a cellular link flaps often, and a base
 * gone wrong is bounded by the RTT's excess anyway.) */
void braid__sender_link_forget_path(struct braid__sender_link *l);
/* The link's one-way delay now: its minimum plus the queue standing in the network. */
uint64_t braid__sender_link_path_delay(const struct braid__sender_link *l);
/* The same with the latest answer's queue when that is larger: for judging whether a copy
 * sent now could be overdue later. */
uint64_t braid__sender_link_latest_path_delay(const struct braid__sender_link *l);
/* When a packet of `bytes` sent on it now should arrive (adaptive scheduling). */
uint64_t braid__sender_link_arrival(const struct braid__sender_link *l, uint64_t now_us,
				    size_t bytes);
/* A HELLO_ACK (reply NULL) or PROBE_REPLY arrived. Returns true when the state changed. */
bool braid__sender_link_on_reply(struct braid__sender_link *l,
				 const struct braid_health_settings *hs, uint64_t now_us,
				 uint32_t echo_timestamp_us, const struct braid_probe_reply *reply);
/* Time to the next probe: the probe interval, or a fifth of it while a reply is overdue,
 * so that a lossy but living link gets several chances to answer before it is declared
 * down, while a dead one is still declared down on time. */
uint64_t braid__sender_link_probe_gap(const struct braid__sender_link *l,
				      const struct braid_health_settings *hs, uint64_t now_us);
/* Adaptive: the silence after which the link counts as stalled (no new data for it, what
 * it has not confirmed is sent again elsewhere), and when that is reached (UINT64_MAX: not
 * live, or stalled already). */
uint64_t braid__sender_link_stall_after(const struct braid__sender_link *l,
					const struct braid_health_settings *hs);
uint64_t braid__sender_link_stall_deadline(const struct braid__sender_link *l,
					   const struct braid_health_settings *hs);
/* Adaptive: live, registered and not stalled: a link new data may be given to. */
bool braid__sender_link_usable(const struct braid__sender_link *l);
/* A silence of silence_us ended with the link alive (a stall, or a down that was not
 * death): remembered, so silences like it are not taken for death. */
void braid__sender_link_remember_silence(struct braid__sender_link *l, uint64_t silence_us,
					 uint64_t now_us);
void braid__sender_link_stats(const struct braid__sender_link *l, struct braid_link_stats *out);

#endif
