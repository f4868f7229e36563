/* The gRPC client `braid ctl` speaks: blocking calls on a pluck queue, one at a time. */
#include "ctl/grpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#include "grpc_convert.h"

struct ctl_grpc_client {
	grpc_channel *channel;
	grpc_completion_queue *cq;
	char *auth; /* "Bearer TOKEN", or NULL */
	uint64_t timeout_ms;
};

struct ctl_grpc_client *ctl_grpc_client_open(const char *target, const char *token,
					     const char *ca_pem, uint64_t timeout_ms)
{
	struct ctl_grpc_client *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	grpc_init();
	grpc_channel_credentials *creds = ca_pem ?
		grpc_ssl_credentials_create(ca_pem, NULL, NULL, NULL) :
		grpc_insecure_credentials_create();
	c->channel = grpc_channel_create(target, creds, NULL);
	grpc_channel_credentials_release(creds);
	c->cq = grpc_completion_queue_create_for_pluck(NULL);
	c->timeout_ms = timeout_ms;
	if (token) {
		size_t len = strlen(token) + 8;
		c->auth = malloc(len);
		if (c->auth)
			snprintf(c->auth, len, "Bearer %s", token);
	}
	if (!c->channel || !c->cq || (token && !c->auth)) {
		ctl_grpc_client_close(c);
		return NULL;
	}
	return c;
}

void ctl_grpc_client_close(struct ctl_grpc_client *c)
{
	if (!c)
		return;
	if (c->cq) {
		grpc_completion_queue_shutdown(c->cq);
		grpc_completion_queue_destroy(c->cq);
	}
	if (c->channel)
		grpc_channel_destroy(c->channel);
	free(c->auth);
	free(c);
	grpc_shutdown();
}

static gpr_timespec deadline_in(uint64_t ms)
{
	if (!ms)
		return gpr_inf_future(GPR_CLOCK_REALTIME);
	return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
			    gpr_time_from_millis((int64_t)ms, GPR_TIMESPAN));
}

static grpc_byte_buffer *pack(const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	grpc_slice slice = grpc_slice_malloc(len);
	protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(slice));
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
	grpc_slice_unref(slice);
	return bb;
}

static ProtobufCMessage *unpack(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *d)
{
	grpc_byte_buffer_reader reader;
	if (!bb || !grpc_byte_buffer_reader_init(&reader, bb))
		return NULL;
	grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	ProtobufCMessage *msg = protobuf_c_message_unpack(d, NULL, GRPC_SLICE_LENGTH(all),
							  GRPC_SLICE_START_PTR(all));
	grpc_slice_unref(all);
	return msg;
}

static bool run_batch(struct ctl_grpc_client *c, grpc_call *call, const grpc_op *ops, size_t n)
{
	int tag;
	if (grpc_call_start_batch(call, ops, n, &tag, NULL) != GRPC_CALL_OK)
		return false;
	grpc_event ev = grpc_completion_queue_pluck(c->cq, &tag,
						    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	return ev.type == GRPC_OP_COMPLETE && ev.success;
}

/* A call in progress: the request sent, the initial metadata received. */
struct client_call {
	grpc_call *call;
	grpc_metadata auth;
	grpc_metadata_array initial, trailing;
	grpc_status_code status;
	grpc_slice details;
};

static bool call_start(struct ctl_grpc_client *c, struct client_call *cc, const char *method,
		       const ProtobufCMessage *req, uint64_t timeout_ms)
{
	memset(cc, 0, sizeof(*cc));
	grpc_metadata_array_init(&cc->initial);
	grpc_metadata_array_init(&cc->trailing);
	grpc_slice path = grpc_slice_from_static_string(method);
	cc->call = grpc_channel_create_call(c->channel, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq, path,
					    NULL, deadline_in(timeout_ms), NULL);
	if (!cc->call)
		return false;
	grpc_byte_buffer *bb = pack(req);
	grpc_op ops[4];
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (c->auth) {
		cc->auth.key = grpc_slice_from_static_string("authorization");
		cc->auth.value = grpc_slice_from_static_string(c->auth);
		ops[0].data.send_initial_metadata.count = 1;
		ops[0].data.send_initial_metadata.metadata = &cc->auth;
	}
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = bb;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &cc->initial;
	run_batch(c, cc->call, ops, 4); /* a failure shows in the status */
	grpc_byte_buffer_destroy(bb);
	return true;
}

static grpc_byte_buffer *call_read(struct ctl_grpc_client *c, struct client_call *cc)
{
	grpc_byte_buffer *bb = NULL;
	grpc_op op;
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = &bb;
	if (!run_batch(c, cc->call, &op, 1) && bb) {
		grpc_byte_buffer_destroy(bb);
		bb = NULL;
	}
	return bb;
}

static int call_finish(struct ctl_grpc_client *c, struct client_call *cc, char *err,
		       size_t err_len)
{
	grpc_op op;
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	op.data.recv_status_on_client.trailing_metadata = &cc->trailing;
	op.data.recv_status_on_client.status = &cc->status;
	op.data.recv_status_on_client.status_details = &cc->details;
	if (!run_batch(c, cc->call, &op, 1))
		cc->status = GRPC_STATUS_UNKNOWN;
	snprintf(err, err_len, "%.*s", (int)GRPC_SLICE_LENGTH(cc->details),
		 (const char *)GRPC_SLICE_START_PTR(cc->details));
	grpc_slice_unref(cc->details);
	grpc_metadata_array_destroy(&cc->initial);
	grpc_metadata_array_destroy(&cc->trailing);
	grpc_call_unref(cc->call);
	return (int)cc->status;
}

/* One request, one reply: *resp is NULL unless the status is OK. */
static int unary(struct ctl_grpc_client *c, const char *method, const ProtobufCMessage *req,
		 const ProtobufCMessageDescriptor *d, ProtobufCMessage **resp, char *err,
		 size_t err_len)
{
	struct client_call cc;
	*resp = NULL;
	if (!call_start(c, &cc, method, req, c->timeout_ms)) {
		snprintf(err, err_len, "cannot start the call");
		return CTL_GRPC_INTERNAL;
	}
	grpc_byte_buffer *bb = call_read(c, &cc);
	int status = call_finish(c, &cc, err, err_len);
	if (bb && status == CTL_GRPC_OK)
		*resp = unpack(bb, d);
	if (bb)
		grpc_byte_buffer_destroy(bb);
	if (status == CTL_GRPC_OK && !*resp) {
		snprintf(err, err_len, "the reply does not parse");
		return CTL_GRPC_INTERNAL;
	}
	return status;
}

int ctl_grpc_client_create(struct ctl_grpc_client *c, struct ctl_spec *spec,
			   struct ctl_status *out, char *err, size_t err_len)
{
	struct proto_spec req;
	ProtobufCMessage *resp;
	proto_spec_from(&req, spec);
	int status = unary(c, "/braid.v1.Control/CreateSession", &req.msg.base,
			   &braid__v1__create_session_response__descriptor, &resp, err, err_len);
	if (status != CTL_GRPC_OK)
		return status;
	const Braid__V1__CreateSessionResponse *r = (const Braid__V1__CreateSessionResponse *)resp;
	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), "%s", r->session_id);
	proto_endpoint_to(r->listen, &out->listen, err, err_len);
	protobuf_c_message_free_unpacked(resp, NULL);
	return status;
}

int ctl_grpc_client_destroy(struct ctl_grpc_client *c, const char *id, char *err,
			    size_t err_len)
{
	Braid__V1__DestroySessionRequest req;
	ProtobufCMessage *resp;
	char copy[CTL_ID_LEN * 4];
	braid__v1__destroy_session_request__init(&req);
	snprintf(copy, sizeof(copy), "%s", id);
	req.session_id = copy;
	int status = unary(c, "/braid.v1.Control/DestroySession", &req.base,
			   &braid__v1__destroy_session_response__descriptor, &resp, err, err_len);
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	return status;
}

int ctl_grpc_client_status(struct ctl_grpc_client *c, const char *id, struct ctl_status *out,
			   char *err, size_t err_len)
{
	Braid__V1__GetSessionStatusRequest req;
	ProtobufCMessage *resp;
	char copy[CTL_ID_LEN * 4];
	braid__v1__get_session_status_request__init(&req);
	snprintf(copy, sizeof(copy), "%s", id);
	req.session_id = copy;
	int status = unary(c, "/braid.v1.Control/GetSessionStatus", &req.base,
			   &braid__v1__session_status__descriptor, &resp, err, err_len);
	if (status != CTL_GRPC_OK)
		return status;
	proto_status_to((const Braid__V1__SessionStatus *)resp, out);
	protobuf_c_message_free_unpacked(resp, NULL);
	return status;
}

int ctl_grpc_client_list(struct ctl_grpc_client *c, enum ctl_kind kind, enum ctl_state state,
			 void (*fn)(void *arg, const struct ctl_status *st), void *arg,
			 char *err, size_t err_len)
{
	Braid__V1__ListSessionsRequest req;
	ProtobufCMessage *resp;
	braid__v1__list_sessions_request__init(&req);
	req.kind = (Braid__V1__SessionKind)kind;
	req.state = (Braid__V1__SessionState)state;
	int status = unary(c, "/braid.v1.Control/ListSessions", &req.base,
			   &braid__v1__list_sessions_response__descriptor, &resp, err, err_len);
	if (status != CTL_GRPC_OK)
		return status;
	const Braid__V1__ListSessionsResponse *r = (const Braid__V1__ListSessionsResponse *)resp;
	struct ctl_status *st = malloc(sizeof(*st));
	for (size_t i = 0; st && i < r->n_sessions; i++) {
		proto_status_to(r->sessions[i], st);
		fn(arg, st);
	}
	free(st);
	protobuf_c_message_free_unpacked(resp, NULL);
	return status;
}

int ctl_grpc_client_watch(struct ctl_grpc_client *c, const char *id, uint64_t interval_ms,
			  bool (*fn)(void *arg, enum ctl_event_type type,
				     const struct ctl_status *st),
			  void *arg, char *err, size_t err_len)
{
	Braid__V1__StreamSessionEventsRequest req;
	struct client_call cc;
	char copy[CTL_ID_LEN * 4];
	braid__v1__stream_session_events_request__init(&req);
	snprintf(copy, sizeof(copy), "%s", id ? id : "");
	req.session_id = copy;
	req.stats_interval_ms = interval_ms;
	if (!call_start(c, &cc, "/braid.v1.Control/StreamSessionEvents", &req.base, 0)) {
		snprintf(err, err_len, "cannot start the call");
		return CTL_GRPC_INTERNAL;
	}
	struct ctl_status *st = malloc(sizeof(*st));
	bool go_on = st != NULL;
	grpc_byte_buffer *bb;
	while (go_on && (bb = call_read(c, &cc))) {
		ProtobufCMessage *msg = unpack(bb, &braid__v1__session_event__descriptor);
		grpc_byte_buffer_destroy(bb);
		if (!msg)
			break;
		const Braid__V1__SessionEvent *ev = (const Braid__V1__SessionEvent *)msg;
		memset(st, 0, sizeof(*st));
		if (ev->status)
			proto_status_to(ev->status, st);
		go_on = fn(arg, (enum ctl_event_type)ev->type, st);
		protobuf_c_message_free_unpacked(msg, NULL);
	}
	free(st);
	if (!go_on)
		grpc_call_cancel(cc.call, NULL);
	int status = call_finish(c, &cc, err, err_len);
	return !go_on && status == CTL_GRPC_CANCELLED ? CTL_GRPC_OK : status;
}
