/* A running sender: the encoder's input socket (or stdin), one socket per link, the
 * sender core, timers and reports, on an event loop owned by the caller. `braid send`
 * runs one; `braid demo` runs one beside a receiver in the same loop. */
#ifndef BRAID_APP_SEND_NODE_H
#define BRAID_APP_SEND_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/loop.h"
#include "report.h"
#include "braid/sender.h"
#include "cli.h"

typedef void (*braid_event_fn)(void *arg, const struct braid_event *ev, const char *link_name);

struct braid_send_config {
	bool input_stdin;             /* read MPEG-TS from stdin instead of a socket */
	bool input_tun;               /* no input: the caller pushes IP packets it reads from
				       * tun_fd (braid tunnel); the far side's are written
				       * back into it */
	int tun_fd;                   /* the caller's; not closed here */
	struct braid_addr input;      /* where the encoder sends */
	struct braid_addr to;         /* default destination of every link */
	struct braid_link_spec links[BRAID_MAX_LINKS];
	size_t link_count;
	struct braid_sender_settings core; /* identity, key seed, wall clock: by the node */
	struct braid_addr bitrate_out; /* where to send the available bitrate; len 0 = nowhere */
	const char *stats_path;       /* JSON lines: a file, "-", or NULL */
	uint64_t stats_interval_us;
	bool live_view;
	braid_report_tap_fn stats_tap; /* also given every JSON line (the dashboard); or NULL */
	void *stats_tap_arg;
	braid_event_fn on_event;      /* NULL: events are printed on stderr */
	void *event_arg;
};

struct braid_send_node;

/* Opens sockets and starts. On failure returns NULL and writes the reason to err. */
struct braid_send_node *braid_send_node_open(struct braid_loop *loop,
					     const struct braid_send_config *cfg, char *err,
					     size_t err_len);
/* Sends BYE on every link and closes everything. */
void braid_send_node_close(struct braid_send_node *n);
const struct braid_sender *braid_send_node_sender(const struct braid_send_node *n);
/* True once stdin input has ended and everything was given time to arrive. */
bool braid_send_node_finished(const struct braid_send_node *n);
/* The input socket's bound address (to tell an encoder where to send). */
int braid_send_node_input_addr(const struct braid_send_node *n, struct braid_addr *out);
/* With input_tun: one packet for the sender (refusals are counted by the core), and
 * after a batch of them, the datagrams and timers they lead to. */
void braid_send_node_push(struct braid_send_node *n, const uint8_t *buf, size_t len);
void braid_send_node_pump(struct braid_send_node *n);
/* With input_tun: packets from the far side the TUN refused. */
uint64_t braid_send_node_tun_write_errors(const struct braid_send_node *n);
/* Prints the final report. */
void braid_send_node_report(struct braid_send_node *n, bool final);

#endif
