/* A running receiver: the listening socket, the receiver core, the output (a UDP
 * destination with one socket per session so replies find their way back, a file, or
 * stdout), timers and reports, on an event loop owned by the caller.
 *
 * A TUN output takes every session's packets (braid tunnel's gateway). Other outputs are
 * never interleaved: a file whose name holds {session} gets one file per
 * session; any other output (UDP, one file, stdout) carries one session at a time, and the
 * media of the others is refused (counted, one line per refused session) until the holder
 * ends or releases nothing for BRAID_OUTPUT_HANDOVER_US. Files are appended to. */
#ifndef BRAID_APP_RECV_NODE_H
#define BRAID_APP_RECV_NODE_H

#include <stdbool.h>
#include <stddef.h>

#include "io/loop.h"
#include "report.h"
#include "braid/receiver.h"
#include "send_node.h"

enum braid_output_kind {
	BRAID_OUTPUT_UDP,
	BRAID_OUTPUT_FILE,
	BRAID_OUTPUT_STDOUT,
	BRAID_OUTPUT_RIST, /* output_addr: RTP there, RTCP on the next port (rist_out.h) */
	BRAID_OUTPUT_TUN,  /* tun_fd: IP packets into a TUN device (braid tunnel); the
			    * caller reads the TUN and hands its packets to
			    * braid_recv_node_reverse */
};

#define BRAID_OUTPUT_SESSION_TEMPLATE "{session}"
#define BRAID_OUTPUT_HANDOVER_US 2000000

struct braid_recv_config {
	struct braid_addr listen;
	enum braid_output_kind output;
	struct braid_addr output_addr; /* UDP */
	const char *output_path;       /* FILE; may hold BRAID_OUTPUT_SESSION_TEMPLATE */
	int tun_fd;                    /* TUN: the caller's, not closed here */
	struct braid_receiver_settings core; /* seeds and wall clock: set by the node */
	const char *stats_path;
	uint64_t stats_interval_us;
	bool live_view;
	braid_report_tap_fn stats_tap; /* also given every JSON line (the dashboard); or NULL */
	void *stats_tap_arg;
	braid_event_fn on_event;       /* NULL: events are printed on stderr */
	void *event_arg;
};

struct braid_recv_node;

struct braid_recv_node *braid_recv_node_open(struct braid_loop *loop,
					     const struct braid_recv_config *cfg, char *err,
					     size_t err_len);
/* Releases everything still held, in order, now (at shutdown). */
void braid_recv_node_flush(struct braid_recv_node *n);
void braid_recv_node_close(struct braid_recv_node *n);
const struct braid_receiver *braid_recv_node_receiver(const struct braid_recv_node *n);
int braid_recv_node_listen_addr(const struct braid_recv_node *n, struct braid_addr *out);
/* TUN: a packet for a field unit, on the reverse channel of the session that released
 * packets from its destination address (or of the only session): 0, or -1 when no session
 * is known for it (nothing sent, not counted). After a batch, drain. */
int braid_recv_node_reverse(struct braid_recv_node *n, const uint8_t *buf, size_t len);
void braid_recv_node_drain(struct braid_recv_node *n);
/* TUN: packets from the device its session's reverse queue refused. */
uint64_t braid_recv_node_tun_unsent(const struct braid_recv_node *n);
void braid_recv_node_report(struct braid_recv_node *n, bool final);

#endif
