#include "grpc_convert.h"

#include <stdio.h>
#include <string.h>

/* proto3 strings are never NULL once unpacked, but a message built by hand may hold one. */
static bool copy_text(char *dst, size_t cap, const char *src, const char *field, char *err,
		      size_t err_len)
{
	if (!src)
		src = "";
	size_t len = strlen(src);
	if (len >= cap) {
		snprintf(err, err_len, "%s: longer than %zu bytes", field, cap - 1);
		return false;
	}
	memcpy(dst, src, len + 1);
	return true;
}

void proto_endpoint_from(Braid__V1__Endpoint *msg, struct ctl_endpoint *ep)
{
	braid__v1__endpoint__init(msg);
	msg->address = ep->address;
	msg->port = ep->port;
	msg->interface = ep->interface;
}

void proto_spec_from(struct proto_spec *p, struct ctl_spec *spec)
{
	Braid__V1__CreateSessionRequest *m = &p->msg;
	braid__v1__create_session_request__init(m);
	m->kind = (Braid__V1__SessionKind)spec->kind;
	m->transport = (Braid__V1__Transport)spec->transport;
	proto_endpoint_from(&p->listen, &spec->listen);
	proto_endpoint_from(&p->forward, &spec->forward);
	proto_endpoint_from(&p->destination, &spec->destination);
	m->listen = &p->listen;
	m->forward = &p->forward;
	m->destination = &p->destination;
	m->rtcp = spec->rtcp;
	m->max_packet_rate = spec->max_packet_rate;
	m->max_bitrate = spec->max_bitrate;
	m->idle_timeout_ms = spec->idle_timeout_ms;
	m->output = spec->output;
	m->latency_ms = spec->latency_ms;
	m->psk.data = spec->psk;
	m->psk.len = spec->psk_len;
}

static void link_from(Braid__V1__LinkStatus *m, struct ctl_link_status *l)
{
	braid__v1__link_status__init(m);
	m->session = l->session;
	m->id = l->id;
	m->name = l->name;
	m->state = l->state;
	m->packets_received = l->packets_received;
	m->bytes_received = l->bytes_received;
	m->loss = l->loss;
	m->jitter_ms = l->jitter_ms;
	m->rtt_ms = l->rtt_ms;
}

void proto_status_from(struct proto_status *p, struct ctl_status *st)
{
	Braid__V1__SessionStatus *m = &p->msg;
	braid__v1__session_status__init(m);
	braid__v1__session_stats__init(&p->stats);
	m->session_id = st->id;
	m->kind = (Braid__V1__SessionKind)st->kind;
	m->state = (Braid__V1__SessionState)st->state;
	m->error = st->error;
	p->stats.packets_received = st->stats.packets_received;
	p->stats.packets_sent = st->stats.packets_sent;
	p->stats.bytes_received = st->stats.bytes_received;
	p->stats.bytes_sent = st->stats.bytes_sent;
	p->stats.packets_lost = st->stats.packets_lost;
	p->stats.packets_invalid = st->stats.packets_invalid;
	p->stats.packets_rate_limited = st->stats.packets_rate_limited;
	p->stats.jitter_ms = st->stats.jitter_ms;
	p->stats.latency_ms = st->stats.latency_ms;
	p->stats.rtt_ms = st->stats.rtt_ms;
	m->stats = &p->stats;
	proto_spec_from(&p->spec, &st->spec);
	m->spec = &p->spec.msg;
	proto_endpoint_from(&p->listen, &st->listen);
	m->listen = &p->listen;
	size_t count = st->link_count < CTL_MAX_LINKS ? st->link_count : CTL_MAX_LINKS;
	for (size_t i = 0; i < count; i++) {
		link_from(&p->links[i], &st->links[i]);
		p->link_ptrs[i] = &p->links[i];
	}
	m->n_links = count;
	m->links = p->link_ptrs;
}

bool proto_endpoint_to(const Braid__V1__Endpoint *msg, struct ctl_endpoint *ep, char *err,
		       size_t err_len)
{
	memset(ep, 0, sizeof(*ep));
	if (!msg)
		return true;
	ep->port = msg->port;
	return copy_text(ep->address, sizeof(ep->address), msg->address, "address", err,
			 err_len) &&
	       copy_text(ep->interface, sizeof(ep->interface), msg->interface, "interface", err,
			 err_len);
}

bool proto_spec_to(const Braid__V1__CreateSessionRequest *msg, struct ctl_spec *spec,
		   char *err, size_t err_len)
{
	memset(spec, 0, sizeof(*spec));
	spec->kind = (enum ctl_kind)msg->kind;
	spec->transport = (enum ctl_transport)msg->transport;
	spec->rtcp = msg->rtcp;
	spec->max_packet_rate = msg->max_packet_rate;
	spec->max_bitrate = msg->max_bitrate;
	spec->idle_timeout_ms = msg->idle_timeout_ms;
	spec->latency_ms = msg->latency_ms;
	if (msg->psk.len > sizeof(spec->psk)) {
		snprintf(err, err_len, "psk: longer than %zu bytes", sizeof(spec->psk));
		return false;
	}
	if (msg->psk.len)
		memcpy(spec->psk, msg->psk.data, msg->psk.len);
	spec->psk_len = msg->psk.len;
	return proto_endpoint_to(msg->listen, &spec->listen, err, err_len) &&
	       proto_endpoint_to(msg->forward, &spec->forward, err, err_len) &&
	       proto_endpoint_to(msg->destination, &spec->destination, err, err_len) &&
	       copy_text(spec->output, sizeof(spec->output), msg->output, "output", err, err_len);
}

void proto_status_to(const Braid__V1__SessionStatus *msg, struct ctl_status *st)
{
	char err[64];
	memset(st, 0, sizeof(*st));
	copy_text(st->id, sizeof(st->id), msg->session_id, "id", err, sizeof(err));
	st->kind = (enum ctl_kind)msg->kind;
	st->state = (enum ctl_state)msg->state;
	copy_text(st->error, sizeof(st->error), msg->error, "error", err, sizeof(err));
	if (msg->stats) {
		const Braid__V1__SessionStats *s = msg->stats;
		st->stats = (struct ctl_stats){
			s->packets_received, s->packets_sent, s->bytes_received, s->bytes_sent,
			s->packets_lost, s->packets_invalid, s->packets_rate_limited,
			s->jitter_ms, s->latency_ms, s->rtt_ms,
		};
	}
	if (msg->spec)
		proto_spec_to(msg->spec, &st->spec, err, sizeof(err));
	proto_endpoint_to(msg->listen, &st->listen, err, sizeof(err));
	for (size_t i = 0; i < msg->n_links && i < CTL_MAX_LINKS; i++) {
		const Braid__V1__LinkStatus *l = msg->links[i];
		struct ctl_link_status *out = &st->links[st->link_count++];
		out->session = l->session;
		out->id = l->id;
		copy_text(out->name, sizeof(out->name), l->name, "name", err, sizeof(err));
		copy_text(out->state, sizeof(out->state), l->state, "state", err, sizeof(err));
		out->packets_received = l->packets_received;
		out->bytes_received = l->bytes_received;
		out->loss = l->loss;
		out->jitter_ms = l->jitter_ms;
		out->rtt_ms = l->rtt_ms;
	}
}
