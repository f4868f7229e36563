/* braidd's sessions on one event loop: creation with every check a client can fail
 * (endpoints, allowlist, cap, ports), the lifecycle CREATED -> CONNECTING -> ACTIVE ->
 * ERROR -> CLOSED, idle timeouts, and events to whoever listens (the gRPC streams, the
 * store). Everything here runs on the loop's thread.
 *
 * Bond-receive sessions are run by the program (they are `braid recv`'s component),
 * through the operations it registers; RTP proxies are ctl/proxy. */
#ifndef BRAID_CTL_MANAGER_H
#define BRAID_CTL_MANAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl/policy.h"
#include "ctl/session.h"
#include "io/loop.h"

typedef void (*ctl_changed_fn)(void *arg);

/* A bond-receive session, run by the program. open() calls changed(changed_arg) (on the
 * loop) whenever what status() reports may have moved: first traffic, a failure. */
struct ctl_bond_ops {
	void *(*open)(void *ops_arg, struct braid_loop *loop, const struct ctl_spec *spec,
		      ctl_changed_fn changed, void *changed_arg, struct ctl_endpoint *bound,
		      enum ctl_code *code, char *err, size_t err_len);
	void (*close)(void *bond);
	/* state (CONNECTING, ACTIVE or ERROR with error), stats, links */
	void (*status)(void *bond, struct ctl_status *out);
	uint64_t (*last_activity)(void *bond); /* 0: never */
};

struct ctl_manager_config {
	size_t max_sessions;
	struct ctl_allowlist allow;
	const char *output_dir;          /* file:// outputs only below it; NULL or "": none */
	const struct ctl_bond_ops *bond; /* NULL: bond sessions are refused */
	void *bond_arg;
	uint64_t check_interval_us;      /* idle checks; 0: 200 ms */
};

typedef void (*ctl_listener_fn)(void *arg, enum ctl_event_type type,
				const struct ctl_status *status);

struct ctl_manager;

struct ctl_manager *ctl_manager_new(struct braid_loop *loop, const struct ctl_manager_config *cfg);
/* Closes every session without events (a shutdown: the store keeps them). */
void ctl_manager_free(struct ctl_manager *m);

/* Checks, opens, registers; fills *out (id, bound listen) on success. */
enum ctl_code ctl_manager_create(struct ctl_manager *m, const struct ctl_spec *spec,
				 struct ctl_status *out, char *err, size_t err_len);
/* A session saved before a restart: the same id, its counters continued. One that can no
 * longer open (its port taken...) stays registered in ERROR, so it is seen and can be
 * destroyed, never lost. Fails only for an id already present or the cap. */
enum ctl_code ctl_manager_restore(struct ctl_manager *m, const char *id,
				  const struct ctl_spec *spec, const struct ctl_stats *counters,
				  char *err, size_t err_len);
/* Closes and forgets a session (event CLOSED). */
enum ctl_code ctl_manager_destroy(struct ctl_manager *m, const char *id);
enum ctl_code ctl_manager_status(struct ctl_manager *m, const char *id, struct ctl_status *out);
/* The spec a session was created with, its secret (psk) included, and the listen port it
 * bound in place of 0, so that it is made again the same (the store). */
enum ctl_code ctl_manager_spec(struct ctl_manager *m, const char *id, struct ctl_spec *out);
size_t ctl_manager_count(const struct ctl_manager *m);
/* Every session's status, in creation order. */
void ctl_manager_foreach(struct ctl_manager *m,
			 void (*fn)(void *arg, const struct ctl_status *status), void *arg);

/* Listeners get every event; false when the table of listeners is full. */
bool ctl_manager_subscribe(struct ctl_manager *m, ctl_listener_fn fn, void *arg);
void ctl_manager_unsubscribe(struct ctl_manager *m, ctl_listener_fn fn, void *arg);

#endif
