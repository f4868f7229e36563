#include "braidd_bond.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "braid/receiver.h"
#include "ctl/endpoint.h"
#include "recv_node.h"

struct bond {
	struct braid_loop *loop;
	struct braid_recv_node *node;
	ctl_changed_fn changed;
	void *changed_arg;
	char output_path[CTL_OUTPUT_MAX]; /* the node keeps a pointer to it */
	uint8_t psk[CTL_PSK_MAX];         /* likewise, until the receiver has copied it */
	uint64_t latency_ms;
	uint64_t packets_seen, last_activity_us;
	bool active;
};

/* A sender registering is the session's first sign of life. */
static void on_receiver_event(void *arg, const struct braid_event *ev, const char *link)
{
	struct bond *b = arg;
	(void)link;
	if (ev->kind == BRAID_EVENT_SESSION_NEW && !b->active) {
		b->active = true;
		b->last_activity_us = braid_loop_now(b->loop);
		b->changed(b->changed_arg);
	}
}

/* The port is tried first on its own, for an answer a client can act on (in use or
 * not), which the node's message alone would not give. */
static enum ctl_code try_listen(const struct braid_addr *listen, char *err, size_t err_len)
{
	enum ctl_code code = CTL_OK;
	int fd = ctl_udp_bind(listen, "", &code, err, err_len);
	if (fd < 0)
		return code;
	close(fd);
	return CTL_OK;
}

static bool fill_config(struct bond *b, const struct ctl_spec *spec,
			struct braid_recv_config *cfg, enum ctl_code *code, char *err,
			size_t err_len)
{
	struct ctl_output out;
	memset(cfg, 0, sizeof(*cfg));
	if (spec->listen.interface[0]) {
		*code = CTL_INVALID;
		snprintf(err, err_len, "bond sessions listen on an address, not an interface");
		return false;
	}
	*code = ctl_endpoint_addr(&spec->listen, true, AF_INET6, &cfg->listen, err, err_len);
	if (!*code)
		*code = ctl_output_parse(spec->output, &out, err, err_len);
	if (!*code)
		*code = try_listen(&cfg->listen, err, err_len);
	if (*code)
		return false;
	if (out.udp) {
		cfg->output = BRAID_OUTPUT_UDP;
		cfg->output_addr = out.addr;
	} else {
		cfg->output = BRAID_OUTPUT_FILE;
		snprintf(b->output_path, sizeof(b->output_path), "%s", out.path);
		cfg->output_path = b->output_path;
	}
	braid_receiver_settings_default(&cfg->core);
	if (spec->latency_ms)
		cfg->core.latency_us = spec->latency_ms * 1000;
	b->latency_ms = cfg->core.latency_us / 1000;
	if (spec->psk_len) {
		memcpy(b->psk, spec->psk, spec->psk_len);
		cfg->core.psk = b->psk;
		cfg->core.psk_len = spec->psk_len;
	}
	cfg->on_event = on_receiver_event;
	cfg->event_arg = b;
	return true;
}

static void *bond_open(void *ops_arg, struct braid_loop *loop, const struct ctl_spec *spec,
		       ctl_changed_fn changed, void *changed_arg, struct ctl_endpoint *bound,
		       enum ctl_code *code, char *err, size_t err_len)
{
	struct braid_recv_config cfg;
	struct braid_addr local;
	(void)ops_arg;
	struct bond *b = calloc(1, sizeof(*b));
	if (!b) {
		*code = CTL_INTERNAL;
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	b->loop = loop;
	b->changed = changed;
	b->changed_arg = changed_arg;
	if (!fill_config(b, spec, &cfg, code, err, err_len)) {
		free(b);
		return NULL;
	}
	b->node = braid_recv_node_open(loop, &cfg, err, err_len);
	if (!b->node) {
		*code = CTL_INTERNAL;
		free(b);
		return NULL;
	}
	braid_recv_node_listen_addr(b->node, &local);
	ctl_endpoint_from_addr(&local, &spec->listen, bound);
	return b;
}

static void bond_close(void *arg)
{
	struct bond *b = arg;
	braid_recv_node_close(b->node);
	free(b);
}

static void copy_link(struct ctl_link_status *out, uint32_t session,
		      const struct braid_link_stats *l)
{
	memset(out, 0, sizeof(*out));
	out->session = session;
	out->id = l->id;
	snprintf(out->name, sizeof(out->name), "%s", l->name);
	snprintf(out->state, sizeof(out->state), "%s", braid_link_state_name(l->state));
	out->packets_received = l->packets_received;
	out->bytes_received = l->bytes_received;
	out->loss = l->loss;
	out->jitter_ms = l->jitter_ms;
	out->rtt_ms = l->rtt_ms;
}

/* Every link of every sender the node serves, up to what the status holds. */
static void list_links(const struct braid_receiver *r, struct ctl_status *out, double *jitter)
{
	uint32_t ids[64];
	struct braid_session_stats ss;
	struct braid_link_stats links[BRAID_MAX_LINKS];
	size_t sessions = braid_receiver_sessions(r, ids, 64);
	for (size_t i = 0; i < sessions && i < 64; i++) {
		size_t count = 0;
		if (braid_receiver_session_stats(r, ids[i], &ss, links, BRAID_MAX_LINKS, &count) < 0)
			continue;
		for (size_t k = 0; k < count && k < BRAID_MAX_LINKS; k++) {
			if (links[k].jitter_ms > *jitter)
				*jitter = links[k].jitter_ms;
			if (out->link_count < CTL_MAX_LINKS)
				copy_link(&out->links[out->link_count++], ids[i], &links[k]);
		}
	}
}

static void bond_status(void *arg, struct ctl_status *out)
{
	struct bond *b = arg;
	const struct braid_receiver *r = braid_recv_node_receiver(b->node);
	struct braid_receiver_stats rs;
	braid_receiver_get_stats(r, &rs);
	const struct braid_drop_stats *d = &rs.drops;
	out->stats = (struct ctl_stats){
		.packets_received = rs.packets_in, .bytes_received = rs.bytes_in,
		.packets_sent = rs.packets_out, .bytes_sent = rs.bytes_out, .packets_lost = rs.lost,
		.packets_invalid = d->truncated + d->malformed + d->auth + d->unknown_session +
				   d->unknown_link + d->oversized + d->wrong_direction,
		.latency_ms = (double)b->latency_ms, /* every packet leaves one budget after it was sent */
	};
	out->link_count = 0;
	list_links(r, out, &out->stats.jitter_ms);
	if (rs.packets_in != b->packets_seen) {
		b->packets_seen = rs.packets_in;
		b->last_activity_us = braid_loop_now(b->loop);
	}
	out->state = b->active ? CTL_STATE_ACTIVE : CTL_STATE_CONNECTING;
}

static uint64_t bond_last_activity(void *arg)
{
	const struct bond *b = arg;
	return b->last_activity_us;
}

const struct ctl_bond_ops braidd_bond_ops = {
	.open = bond_open,
	.close = bond_close,
	.status = bond_status,
	.last_activity = bond_last_activity,
};
