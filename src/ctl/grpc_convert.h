/* Between the API's messages (protobuf-c, made from proto/braid/v1/control.proto) and the
 * plain data of ctl/session.h. Part of ctl_grpc: only it sees the generated code.
 * Messages built here point into the ctl structs they were made from, which must outlive
 * them. */
#ifndef BRAID_CTL_GRPC_CONVERT_H
#define BRAID_CTL_GRPC_CONVERT_H

#include <stdbool.h>
#include <stddef.h>

/* Generated at build time into the build tree, so not a quoted include of the source. */
#include <control.pb-c.h>

#include "ctl/session.h"

struct proto_spec {
	Braid__V1__CreateSessionRequest msg;
	Braid__V1__Endpoint listen, forward, destination;
};

struct proto_status {
	Braid__V1__SessionStatus msg;
	Braid__V1__SessionStats stats;
	struct proto_spec spec;
	Braid__V1__Endpoint listen;
	Braid__V1__LinkStatus links[CTL_MAX_LINKS];
	Braid__V1__LinkStatus *link_ptrs[CTL_MAX_LINKS];
};

void proto_endpoint_from(Braid__V1__Endpoint *msg, struct ctl_endpoint *ep);
void proto_spec_from(struct proto_spec *p, struct ctl_spec *spec);
void proto_status_from(struct proto_status *p, struct ctl_status *st);

/* Copies a request into a spec; false (with err) for a string too long for its field. */
bool proto_spec_to(const Braid__V1__CreateSessionRequest *msg, struct ctl_spec *spec,
		   char *err, size_t err_len);
bool proto_endpoint_to(const Braid__V1__Endpoint *msg, struct ctl_endpoint *ep, char *err,
		       size_t err_len);
void proto_status_to(const Braid__V1__SessionStatus *msg, struct ctl_status *st);

#endif
