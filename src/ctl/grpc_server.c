/* The gRPC server: registered methods, each with one call always requested; a generic
 * request beside them so unknown methods get UNIMPLEMENTED at once; the pump thread. */
#include "ctl/grpc.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <health.pb-c.h>

#include "grpc_convert.h"

#define MAX_REQUEST_BYTES (64 * 1024)
#define STREAM_QUEUE_MAX 1024

enum method {
	M_CREATE, M_DESTROY, M_STATUS, M_LIST, M_EVENTS, M_HEALTH,
	M_COUNT,
	M_GENERIC = M_COUNT,
};

static const char *const method_paths[M_COUNT] = {
	"/braid.v1.Control/CreateSession",
	"/braid.v1.Control/DestroySession",
	"/braid.v1.Control/GetSessionStatus",
	"/braid.v1.Control/ListSessions",
	"/braid.v1.Control/StreamSessionEvents",
	"/grpc.health.v1.Health/Check",
};

struct call;

enum tag_kind { TAG_REQUEST, TAG_REPLY, TAG_CLOSE, TAG_SEND, TAG_SHUTDOWN };

/* What the completion queue hands back: which operation of which call finished. */
struct tag {
	struct call *call;
	enum tag_kind kind;
};

struct call {
	struct ctl_grpc_server *srv;
	enum method method;
	grpc_call *call;
	gpr_timespec deadline;
	grpc_metadata_array metadata;
	grpc_call_details details; /* generic calls */
	grpc_byte_buffer *payload;
	grpc_byte_buffer *reply;
	grpc_slice status_details;
	bool has_status_details;
	int cancelled;
	unsigned pending;          /* batches (and the request) not completed yet */
	bool done;                 /* nothing more will be started */
	struct tag request_tag, reply_tag, close_tag, send_tag;
	/* streaming */
	bool subscribed, sending, sending_message;
	char filter[CTL_ID_LEN + 1];
	uint64_t interval_us;
	struct braid_timer stats_timer;
	grpc_byte_buffer *queue[STREAM_QUEUE_MAX];
	size_t queue_head, queue_len;
	struct call *next_stream, *prev_stream;
};

struct completion {
	void *tag;
	bool ok;
};

struct ctl_grpc_server {
	struct braid_loop *loop;
	struct ctl_manager *manager;
	char *token;
	grpc_server *server;
	grpc_completion_queue *cq;
	void *methods[M_COUNT];
	int port;
	bool shutting_down;
	bool shutdown_done, pump_done;
	struct tag shutdown_tag;
	/* the pump's hand-over */
	pthread_t pump;
	bool pump_started;
	int event_fd;
	pthread_mutex_t lock;
	struct completion *items, *taken;
	size_t item_count, item_cap, taken_cap;
	struct call *streams;
};

const char *ctl_grpc_status_name(int status)
{
	switch (status) {
	case CTL_GRPC_OK: return "OK";
	case CTL_GRPC_CANCELLED: return "CANCELLED";
	case CTL_GRPC_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
	case CTL_GRPC_DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
	case CTL_GRPC_NOT_FOUND: return "NOT_FOUND";
	case CTL_GRPC_ALREADY_EXISTS: return "ALREADY_EXISTS";
	case CTL_GRPC_PERMISSION_DENIED: return "PERMISSION_DENIED";
	case CTL_GRPC_RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
	case CTL_GRPC_UNIMPLEMENTED: return "UNIMPLEMENTED";
	case CTL_GRPC_INTERNAL: return "INTERNAL";
	case CTL_GRPC_UNAVAILABLE: return "UNAVAILABLE";
	case CTL_GRPC_UNAUTHENTICATED: return "UNAUTHENTICATED";
	default: return "UNKNOWN";
	}
}

static grpc_status_code status_for(enum ctl_code code)
{
	switch (code) {
	case CTL_OK: return GRPC_STATUS_OK;
	case CTL_INVALID: return GRPC_STATUS_INVALID_ARGUMENT;
	case CTL_NOT_FOUND: return GRPC_STATUS_NOT_FOUND;
	case CTL_EXISTS: return GRPC_STATUS_ALREADY_EXISTS;
	case CTL_EXHAUSTED: return GRPC_STATUS_RESOURCE_EXHAUSTED;
	case CTL_DENIED: return GRPC_STATUS_PERMISSION_DENIED;
	default: return GRPC_STATUS_INTERNAL;
	}
}

/* ---- the pump: the only code that runs on another thread ---- */

static void push_completion(struct ctl_grpc_server *s, void *tag, bool ok)
{
	pthread_mutex_lock(&s->lock);
	if (s->item_count == s->item_cap) {
		size_t cap = s->item_cap ? 2 * s->item_cap : 64;
		struct completion *grown = realloc(s->items, cap * sizeof(*grown));
		if (!grown)
			abort(); /* a lost completion would leak a call forever */
		s->items = grown;
		s->item_cap = cap;
	}
	s->items[s->item_count++] = (struct completion){ tag, ok };
	pthread_mutex_unlock(&s->lock);
	uint64_t one = 1;
	while (write(s->event_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

static void *pump(void *arg)
{
	struct ctl_grpc_server *s = arg;
	for (;;) {
		grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME),
							   NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN) {
			push_completion(s, NULL, false); /* NULL: the pump is done */
			return NULL;
		}
		if (ev.type == GRPC_OP_COMPLETE)
			push_completion(s, ev.tag, ev.success != 0);
	}
}

/* ---- calls ---- */

static void request_call(struct ctl_grpc_server *s, enum method m);
static void handle(struct ctl_grpc_server *s, struct tag *t, bool ok);

static void stream_end(struct call *c);

static void free_call(struct call *c)
{
	struct ctl_grpc_server *s = c->srv;
	stream_end(c);
	if (c->next_stream)
		c->next_stream->prev_stream = c->prev_stream;
	if (c->prev_stream)
		c->prev_stream->next_stream = c->next_stream;
	else if (s->streams == c)
		s->streams = c->next_stream;
	for (size_t i = 0; i < c->queue_len; i++)
		grpc_byte_buffer_destroy(c->queue[(c->queue_head + i) % STREAM_QUEUE_MAX]);
	if (c->call)
		grpc_call_unref(c->call);
	grpc_metadata_array_destroy(&c->metadata);
	if (c->method == M_GENERIC)
		grpc_call_details_destroy(&c->details);
	if (c->payload)
		grpc_byte_buffer_destroy(c->payload);
	if (c->reply)
		grpc_byte_buffer_destroy(c->reply);
	if (c->has_status_details)
		grpc_slice_unref(c->status_details);
	free(c);
}

static void release_if_done(struct call *c)
{
	if (c->done && c->pending == 0)
		free_call(c);
}

static void start_batch(struct call *c, const grpc_op *ops, size_t n, struct tag *t)
{
	c->pending++;
	if (grpc_call_start_batch(c->call, ops, n, t, NULL) != GRPC_CALL_OK) {
		c->pending--;
		c->done = true;
	}
}

static grpc_byte_buffer *pack_buffer(const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	grpc_slice slice = grpc_slice_malloc(len);
	protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(slice));
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
	grpc_slice_unref(slice);
	return bb;
}

/* Initial metadata, the reply if any, the status and the close, in one batch: a status
 * batched without the initial metadata is never written. */
static void finish(struct call *c, grpc_status_code status, const char *message,
		   grpc_byte_buffer *reply)
{
	grpc_op ops[4];
	size_t n = 0;
	memset(ops, 0, sizeof(ops));
	ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (reply) {
		c->reply = reply;
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = reply;
	}
	c->status_details = grpc_slice_from_copied_string(message ? message : "");
	c->has_status_details = true;
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = status;
	ops[n++].data.send_status_from_server.status_details = message ? &c->status_details : NULL;
	ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
	c->done = true;
	start_batch(c, ops, n, &c->reply_tag);
}

static bool read_payload(struct call *c, uint8_t **data, size_t *len)
{
	if (!c->payload) {
		*data = NULL;
		*len = 0;
		return true; /* an empty message */
	}
	grpc_byte_buffer_reader reader;
	if (!grpc_byte_buffer_reader_init(&reader, c->payload))
		return false;
	grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	*len = GRPC_SLICE_LENGTH(all);
	*data = malloc(*len ? *len : 1);
	if (*data)
		memcpy(*data, GRPC_SLICE_START_PTR(all), *len);
	grpc_slice_unref(all);
	return *data != NULL;
}

/* Unpacks the request with the message's own descriptor; NULL when it does not parse. */
static ProtobufCMessage *unpack_request(struct call *c, const ProtobufCMessageDescriptor *d)
{
	uint8_t *data;
	size_t len;
	if (!read_payload(c, &data, &len))
		return NULL;
	ProtobufCMessage *msg = protobuf_c_message_unpack(d, NULL, len, data);
	free(data);
	return msg;
}

static bool token_matches(const struct ctl_grpc_server *s, const grpc_slice *value)
{
	static const char prefix[] = "Bearer ";
	size_t plen = sizeof(prefix) - 1, tlen = strlen(s->token);
	size_t len = GRPC_SLICE_LENGTH(*value);
	const uint8_t *v = GRPC_SLICE_START_PTR(*value);
	if (len != plen + tlen || memcmp(v, prefix, plen) != 0)
		return false;
	unsigned char diff = 0; /* every byte compared: the time tells nothing */
	for (size_t i = 0; i < tlen; i++)
		diff |= (unsigned char)(v[plen + i] ^ (uint8_t)s->token[i]);
	return diff == 0;
}

static bool authorized(const struct call *c)
{
	const struct ctl_grpc_server *s = c->srv;
	if (!s->token)
		return true;
	for (size_t i = 0; i < c->metadata.count; i++)
		if (grpc_slice_str_cmp(c->metadata.metadata[i].key, "authorization") == 0 &&
		    token_matches(s, &c->metadata.metadata[i].value))
			return true;
	return false;
}

/* ---- the methods ---- */

static void do_create(struct call *c, const ProtobufCMessage *in)
{
	const Braid__V1__CreateSessionRequest *req = (const Braid__V1__CreateSessionRequest *)in;
	static struct ctl_spec spec;
	static struct ctl_status st;
	char err[CTL_ERROR_MAX];
	if (!proto_spec_to(req, &spec, err, sizeof(err))) {
		finish(c, GRPC_STATUS_INVALID_ARGUMENT, err, NULL);
		return;
	}
	enum ctl_code code = ctl_manager_create(c->srv->manager, &spec, &st, err, sizeof(err));
	if (code) {
		finish(c, status_for(code), err, NULL);
		return;
	}
	Braid__V1__CreateSessionResponse resp;
	Braid__V1__Endpoint listen;
	braid__v1__create_session_response__init(&resp);
	resp.session_id = st.id;
	proto_endpoint_from(&listen, &st.listen);
	resp.listen = &listen;
	finish(c, GRPC_STATUS_OK, NULL, pack_buffer(&resp.base));
}

static void do_destroy(struct call *c, const ProtobufCMessage *in)
{
	const Braid__V1__DestroySessionRequest *req = (const Braid__V1__DestroySessionRequest *)in;
	if (ctl_manager_destroy(c->srv->manager, req->session_id) != CTL_OK) {
		finish(c, GRPC_STATUS_NOT_FOUND, "no such session", NULL);
		return;
	}
	Braid__V1__DestroySessionResponse resp;
	braid__v1__destroy_session_response__init(&resp);
	finish(c, GRPC_STATUS_OK, NULL, pack_buffer(&resp.base));
}

static void do_status(struct call *c, const ProtobufCMessage *in)
{
	const Braid__V1__GetSessionStatusRequest *req =
		(const Braid__V1__GetSessionStatusRequest *)in;
	static struct ctl_status st;
	static struct proto_status ps;
	if (ctl_manager_status(c->srv->manager, req->session_id, &st) != CTL_OK) {
		finish(c, GRPC_STATUS_NOT_FOUND, "no such session", NULL);
		return;
	}
	proto_status_from(&ps, &st);
	finish(c, GRPC_STATUS_OK, NULL, pack_buffer(&ps.msg.base));
}

struct list_build {
	enum ctl_kind kind;
	enum ctl_state state;
	struct ctl_status *statuses;
	size_t count, cap;
};

static void collect(void *arg, const struct ctl_status *st)
{
	struct list_build *b = arg;
	if ((b->kind && st->kind != b->kind) || (b->state && st->state != b->state))
		return;
	if (b->count < b->cap)
		b->statuses[b->count++] = *st;
}

static void do_list(struct call *c, const ProtobufCMessage *in)
{
	const Braid__V1__ListSessionsRequest *req = (const Braid__V1__ListSessionsRequest *)in;
	size_t total = ctl_manager_count(c->srv->manager);
	struct list_build b = { .kind = (enum ctl_kind)req->kind,
				.state = (enum ctl_state)req->state, .cap = total };
	b.statuses = calloc(total ? total : 1, sizeof(*b.statuses));
	struct proto_status *ps = calloc(total ? total : 1, sizeof(*ps));
	Braid__V1__SessionStatus **ptrs = calloc(total ? total : 1, sizeof(*ptrs));
	if (!b.statuses || !ps || !ptrs) {
		finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory", NULL);
	} else {
		ctl_manager_foreach(c->srv->manager, collect, &b);
		Braid__V1__ListSessionsResponse resp;
		braid__v1__list_sessions_response__init(&resp);
		for (size_t i = 0; i < b.count; i++) {
			proto_status_from(&ps[i], &b.statuses[i]);
			ptrs[i] = &ps[i].msg;
		}
		resp.n_sessions = b.count;
		resp.sessions = ptrs;
		finish(c, GRPC_STATUS_OK, NULL, pack_buffer(&resp.base));
	}
	free(b.statuses);
	free(ps);
	free(ptrs);
}

static void do_health(struct call *c, const ProtobufCMessage *in)
{
	const Grpc__Health__V1__HealthCheckRequest *req =
		(const Grpc__Health__V1__HealthCheckRequest *)in;
	if (req->service[0] && strcmp(req->service, "braid.v1.Control") != 0) {
		finish(c, GRPC_STATUS_NOT_FOUND, "unknown service", NULL);
		return;
	}
	Grpc__Health__V1__HealthCheckResponse resp;
	grpc__health__v1__health_check_response__init(&resp);
	resp.status = c->srv->shutting_down ?
		GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING :
		GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	finish(c, GRPC_STATUS_OK, NULL, pack_buffer(&resp.base));
}

/* ---- the event stream: one message in flight, the rest queued ---- */

static void stream_send_next(struct call *c)
{
	if (c->sending || c->done || !c->queue_len)
		return;
	grpc_op op;
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_SEND_MESSAGE;
	op.data.send_message.send_message = c->queue[c->queue_head];
	c->sending = c->sending_message = true;
	start_batch(c, &op, 1, &c->send_tag);
	if (c->done)
		c->sending = c->sending_message = false;
}

static void on_session_event(void *arg, enum ctl_event_type type, const struct ctl_status *st);

static void stream_end(struct call *c)
{
	if (c->subscribed) {
		ctl_manager_unsubscribe(c->srv->manager, on_session_event, c);
		braid_timer_stop(c->srv->loop, &c->stats_timer);
		c->subscribed = false;
	}
}

static void stream_push(struct call *c, enum ctl_event_type type, const struct ctl_status *st)
{
	static struct ctl_status copy;
	static struct proto_status ps;
	if (c->done || (c->filter[0] && strcmp(c->filter, st->id) != 0))
		return;
	if (c->queue_len == STREAM_QUEUE_MAX) {
		/* a client that does not read: end its stream rather than hold memory */
		grpc_call_cancel_with_status(c->call, GRPC_STATUS_RESOURCE_EXHAUSTED,
					     "event stream not read", NULL);
		return;
	}
	copy = *st;
	proto_status_from(&ps, &copy);
	Braid__V1__SessionEvent ev;
	braid__v1__session_event__init(&ev);
	ev.session_id = copy.id;
	ev.type = (Braid__V1__EventType)type;
	ev.status = &ps.msg;
	c->queue[(c->queue_head + c->queue_len++) % STREAM_QUEUE_MAX] = pack_buffer(&ev.base);
	stream_send_next(c);
}

static void on_session_event(void *arg, enum ctl_event_type type, const struct ctl_status *st)
{
	stream_push(arg, type, st);
}

static void push_stats(void *arg, const struct ctl_status *st)
{
	stream_push(arg, CTL_EVENT_STATS, st);
}

static void on_stats_timer(struct braid_loop *loop, void *arg)
{
	struct call *c = arg;
	ctl_manager_foreach(c->srv->manager, push_stats, c);
	braid_timer_start(loop, &c->stats_timer, braid_loop_now(loop) + c->interval_us);
}

static void do_events(struct call *c, const ProtobufCMessage *in)
{
	const Braid__V1__StreamSessionEventsRequest *req =
		(const Braid__V1__StreamSessionEventsRequest *)in;
	struct ctl_grpc_server *s = c->srv;
	if (strlen(req->session_id) > CTL_ID_LEN) {
		finish(c, GRPC_STATUS_INVALID_ARGUMENT, "session_id too long", NULL);
		return;
	}
	if (req->stats_interval_ms && (req->stats_interval_ms < 100 ||
				       req->stats_interval_ms > 86400000)) {
		/* the upper bound keeps interval_us and now + interval_us from wrapping */
		finish(c, GRPC_STATUS_INVALID_ARGUMENT,
		       "stats_interval_ms must be 100 to 86400000", NULL);
		return;
	}
	if (!ctl_manager_subscribe(s->manager, on_session_event, c)) {
		finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "too many event streams", NULL);
		return;
	}
	strcpy(c->filter, req->session_id);
	c->subscribed = true;
	c->interval_us = req->stats_interval_ms * 1000;
	braid_timer_init(&c->stats_timer, on_stats_timer, c);
	if (c->interval_us)
		braid_timer_start(s->loop, &c->stats_timer, braid_loop_now(s->loop) + c->interval_us);
	c->next_stream = s->streams;
	if (s->streams)
		s->streams->prev_stream = c;
	s->streams = c;
	/* the close tells of cancellation, the deadline and a client gone */
	grpc_op ops[2];
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[0].data.recv_close_on_server.cancelled = &c->cancelled;
	start_batch(c, ops, 1, &c->close_tag);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	c->sending = true;
	start_batch(c, ops, 1, &c->send_tag);
}

static const ProtobufCMessageDescriptor *request_descriptor(enum method m)
{
	switch (m) {
	case M_CREATE: return &braid__v1__create_session_request__descriptor;
	case M_DESTROY: return &braid__v1__destroy_session_request__descriptor;
	case M_STATUS: return &braid__v1__get_session_status_request__descriptor;
	case M_LIST: return &braid__v1__list_sessions_request__descriptor;
	case M_EVENTS: return &braid__v1__stream_session_events_request__descriptor;
	default: return &grpc__health__v1__health_check_request__descriptor;
	}
}

static void dispatch(struct call *c)
{
	static void (*const run[M_COUNT])(struct call *, const ProtobufCMessage *) = {
		do_create, do_destroy, do_status, do_list, do_events, do_health,
	};
	if (c->method == M_GENERIC) {
		finish(c, GRPC_STATUS_UNIMPLEMENTED, "no such method", NULL);
		return;
	}
	/* Health answers without a token: probes (a load balancer's, systemd's) carry none. */
	if (c->method != M_HEALTH && !authorized(c)) {
		finish(c, GRPC_STATUS_UNAUTHENTICATED, "missing or wrong bearer token", NULL);
		return;
	}
	ProtobufCMessage *req = unpack_request(c, request_descriptor(c->method));
	if (!req) {
		finish(c, GRPC_STATUS_INVALID_ARGUMENT, "the request does not parse", NULL);
		return;
	}
	run[c->method](c, req);
	protobuf_c_message_free_unpacked(req, NULL);
}

static void request_call(struct ctl_grpc_server *s, enum method m)
{
	struct call *c = calloc(1, sizeof(*c));
	if (!c) {
		fprintf(stderr, "braidd: out of memory: gRPC method %d no longer served\n", (int)m);
		return;
	}
	c->srv = s;
	c->method = m;
	c->request_tag = (struct tag){ c, TAG_REQUEST };
	c->reply_tag = (struct tag){ c, TAG_REPLY };
	c->close_tag = (struct tag){ c, TAG_CLOSE };
	c->send_tag = (struct tag){ c, TAG_SEND };
	grpc_metadata_array_init(&c->metadata);
	grpc_call_error e;
	c->pending = 1;
	if (m == M_GENERIC) {
		grpc_call_details_init(&c->details);
		e = grpc_server_request_call(s->server, &c->call, &c->details, &c->metadata, s->cq,
					     s->cq, &c->request_tag);
	} else {
		e = grpc_server_request_registered_call(s->server, s->methods[m], &c->call,
							&c->deadline, &c->metadata, &c->payload,
							s->cq, s->cq, &c->request_tag);
	}
	if (e != GRPC_CALL_OK) {
		c->pending = 0;
		c->done = true;
		release_if_done(c);
	}
}

static void on_send_done(struct call *c, bool ok)
{
	c->sending = false;
	if (c->sending_message) {
		grpc_byte_buffer_destroy(c->queue[c->queue_head]);
		c->queue_head = (c->queue_head + 1) % STREAM_QUEUE_MAX;
		c->queue_len--;
		c->sending_message = false;
	}
	if (ok)
		stream_send_next(c);
	/* else the call is broken: its close completes too and ends it */
}

static void handle(struct ctl_grpc_server *s, struct tag *t, bool ok)
{
	if (t == &s->shutdown_tag) {
		s->shutdown_done = true;
		return;
	}
	struct call *c = t->call;
	c->pending--;
	switch (t->kind) {
	case TAG_REQUEST:
		if (!ok) { /* the server is shutting down */
			c->done = true;
			break;
		}
		if (!s->shutting_down)
			request_call(s, c->method); /* the next caller of this method */
		dispatch(c);
		break;
	case TAG_SEND:
		on_send_done(c, ok);
		break;
	case TAG_CLOSE:
		stream_end(c);
		c->done = true;
		break;
	default: /* TAG_REPLY: the unary call is over */
		break;
	}
	release_if_done(c);
}

/* Takes what the pump queued; false once the pump has gone. */
static void drain_completions(struct ctl_grpc_server *s)
{
	pthread_mutex_lock(&s->lock);
	struct completion *items = s->items;
	size_t count = s->item_count, cap = s->item_cap;
	s->items = s->taken;
	s->item_cap = s->taken_cap;
	s->item_count = 0;
	s->taken = items;
	s->taken_cap = cap;
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < count; i++) {
		if (!items[i].tag)
			s->pump_done = true;
		else
			handle(s, items[i].tag, items[i].ok);
	}
}

static void on_event_fd(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	uint64_t count;
	(void)loop;
	(void)events;
	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return;
	drain_completions(arg);
}

static int add_port(struct ctl_grpc_server *s, const struct ctl_grpc_server_config *cfg)
{
	grpc_server_credentials *creds;
	if (cfg->tls_cert_pem) {
		grpc_ssl_pem_key_cert_pair pair = { cfg->tls_key_pem, cfg->tls_cert_pem };
		creds = grpc_ssl_server_credentials_create(NULL, &pair, 1, 0, NULL);
	} else {
		creds = grpc_insecure_server_credentials_create();
	}
	if (!creds)
		return 0;
	int port = grpc_server_add_http2_port(s->server, cfg->listen, creds);
	grpc_server_credentials_release(creds);
	return port;
}

static bool setup_server(struct ctl_grpc_server *s, const struct ctl_grpc_server_config *cfg,
			 char *err, size_t err_len)
{
	grpc_arg arg = { .type = GRPC_ARG_INTEGER, .key = (char *)(uintptr_t)
			 GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
			 .value.integer = MAX_REQUEST_BYTES };
	grpc_channel_args args = { .num_args = 1, .args = &arg };
	s->server = grpc_server_create(&args, NULL);
	if (!s->server) {
		snprintf(err, err_len, "cannot create the gRPC server");
		return false;
	}
	for (int m = 0; m < M_COUNT; m++)
		s->methods[m] = grpc_server_register_method(
			s->server, method_paths[m], NULL, GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
	grpc_server_register_completion_queue(s->server, s->cq, NULL);
	s->port = add_port(s, cfg);
	if (s->port <= 0) {
		snprintf(err, err_len, "cannot listen for gRPC on %s (in use, or not an address "
			 "of this host%s)", cfg->listen, cfg->tls_cert_pem ? ", or a bad TLS "
			 "certificate or key" : "");
		return false;
	}
	grpc_server_start(s->server);
	return true;
}

/* The queue and its pump first, so that whatever fails later can be shut down through
 * them. */
static bool start_pump(struct ctl_grpc_server *s, char *err, size_t err_len)
{
	s->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->event_fd < 0 ||
	    braid_loop_add_fd(s->loop, s->event_fd, EPOLLIN, on_event_fd, s) < 0) {
		snprintf(err, err_len, "cannot make the gRPC event descriptor: %s", strerror(errno));
		return false;
	}
	s->cq = grpc_completion_queue_create_for_next(NULL);
	if (!s->cq || pthread_create(&s->pump, NULL, pump, s) != 0) {
		snprintf(err, err_len, "cannot start the gRPC completion queue and its thread");
		return false;
	}
	s->pump_started = true;
	return true;
}

struct ctl_grpc_server *ctl_grpc_server_start(struct braid_loop *loop, struct ctl_manager *m,
					      const struct ctl_grpc_server_config *cfg,
					      char *err, size_t err_len)
{
	struct ctl_grpc_server *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	s->loop = loop;
	s->manager = m;
	s->event_fd = -1;
	s->token = cfg->token ? strdup(cfg->token) : NULL;
	s->shutdown_tag.kind = TAG_SHUTDOWN;
	pthread_mutex_init(&s->lock, NULL);
	grpc_init();
	if (!start_pump(s, err, err_len) || !setup_server(s, cfg, err, err_len)) {
		ctl_grpc_server_stop(s);
		return NULL;
	}
	for (int method = 0; method <= M_GENERIC; method++)
		request_call(s, (enum method)method);
	return s;
}

int ctl_grpc_server_port(const struct ctl_grpc_server *s)
{
	return s->port;
}

/* Waits on the eventfd (the loop no longer runs) until `flag` is set. */
static void wait_for(struct ctl_grpc_server *s, const bool *flag)
{
	while (!*flag) {
		struct pollfd pfd = { .fd = s->event_fd, .events = POLLIN };
		uint64_t count;
		if (poll(&pfd, 1, 100) > 0 && read(s->event_fd, &count, sizeof(count)) < 0 &&
		    errno != EAGAIN)
			return;
		drain_completions(s);
	}
}

void ctl_grpc_server_stop(struct ctl_grpc_server *s)
{
	if (!s)
		return;
	s->shutting_down = true;
	if (s->server) {
		grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
		grpc_server_cancel_all_calls(s->server);
		if (s->pump_started)
			wait_for(s, &s->shutdown_done);
		grpc_server_destroy(s->server);
	}
	if (s->cq) {
		grpc_completion_queue_shutdown(s->cq);
		if (s->pump_started) {
			wait_for(s, &s->pump_done);
			pthread_join(s->pump, NULL);
		}
		grpc_completion_queue_destroy(s->cq);
	}
	grpc_shutdown();
	if (s->event_fd >= 0) {
		braid_loop_del_fd(s->loop, s->event_fd); /* may not have been added: harmless */
		close(s->event_fd);
	}
	pthread_mutex_destroy(&s->lock);
	free(s->items);
	free(s->taken);
	free(s->token);
	free(s);
}
