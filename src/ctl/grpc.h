/* braidd's gRPC API (proto/braid/v1/control.proto and grpc.health.v1 Health/Check) on
 * Debian's gRPC C core, and the client `braid ctl` uses. Every call into gRPC is in this
 * module (ctl_grpc), so an upgrade of the core touches one place.
 *
 * The core offers no descriptor to poll: a pump thread blocks in its completion queue
 * and hands each completion to the event loop through a locked queue and an eventfd.
 * Everything else, the sessions above all, is touched on the loop's thread only. */
#ifndef BRAID_CTL_GRPC_H
#define BRAID_CTL_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl/manager.h"
#include "ctl/session.h"
#include "io/loop.h"

/* gRPC status codes used here (their numbers are the protocol's). */
enum ctl_grpc_status {
	CTL_GRPC_OK = 0,
	CTL_GRPC_CANCELLED = 1,
	CTL_GRPC_UNKNOWN = 2,
	CTL_GRPC_INVALID_ARGUMENT = 3,
	CTL_GRPC_DEADLINE_EXCEEDED = 4,
	CTL_GRPC_NOT_FOUND = 5,
	CTL_GRPC_ALREADY_EXISTS = 6,
	CTL_GRPC_PERMISSION_DENIED = 7,
	CTL_GRPC_RESOURCE_EXHAUSTED = 8,
	CTL_GRPC_UNIMPLEMENTED = 12,
	CTL_GRPC_INTERNAL = 13,
	CTL_GRPC_UNAVAILABLE = 14,
	CTL_GRPC_UNAUTHENTICATED = 16,
};

const char *ctl_grpc_status_name(int status);

struct ctl_grpc_server_config {
	const char *listen;       /* ADDR:PORT; port 0 = any */
	const char *token;        /* required bearer token; NULL: none asked */
	const char *tls_cert_pem; /* both or neither: TLS */
	const char *tls_key_pem;
};

struct ctl_grpc_server;

/* Call after the loop blocks its signals (braid_loop_watch_signals): gRPC's threads
 * inherit the mask, so SIGTERM reaches the loop's signalfd and no other thread. */
struct ctl_grpc_server *ctl_grpc_server_start(struct braid_loop *loop, struct ctl_manager *m,
					      const struct ctl_grpc_server_config *cfg,
					      char *err, size_t err_len);
/* The port bound (useful with port 0). */
int ctl_grpc_server_port(const struct ctl_grpc_server *s);
/* Cancels every call, waits for the core to give back what it holds, frees. */
void ctl_grpc_server_stop(struct ctl_grpc_server *s);

/* ---- the client ---- */

struct ctl_grpc_client;

/* target: ADDR:PORT. ca_pem: the certificate to trust (TLS), NULL: plaintext. */
struct ctl_grpc_client *ctl_grpc_client_open(const char *target, const char *token,
					     const char *ca_pem, uint64_t timeout_ms);
void ctl_grpc_client_close(struct ctl_grpc_client *c);

/* Each returns a gRPC status (CTL_GRPC_OK...) and, when it is not OK, the server's
 * message in err. */
int ctl_grpc_client_create(struct ctl_grpc_client *c, struct ctl_spec *spec,
			   struct ctl_status *out, char *err, size_t err_len);
int ctl_grpc_client_destroy(struct ctl_grpc_client *c, const char *id, char *err,
			    size_t err_len);
int ctl_grpc_client_status(struct ctl_grpc_client *c, const char *id, struct ctl_status *out,
			   char *err, size_t err_len);
int ctl_grpc_client_list(struct ctl_grpc_client *c, enum ctl_kind kind, enum ctl_state state,
			 void (*fn)(void *arg, const struct ctl_status *st), void *arg,
			 char *err, size_t err_len);
/* Calls fn for each event until it returns false or the stream ends. */
int ctl_grpc_client_watch(struct ctl_grpc_client *c, const char *id, uint64_t interval_ms,
			  bool (*fn)(void *arg, enum ctl_event_type type,
				     const struct ctl_status *st),
			  void *arg, char *err, size_t err_len);

#endif
