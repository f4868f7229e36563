#include "ctl/manager.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/endpoint.h"
#include "ctl/proxy.h"
#include "io/seed.h"

#define MAX_LISTENERS 256
#define DEFAULT_CHECK_US 200000
#define MAX_IDLE_MS UINT64_C(86400000)
#define MAX_PACKET_RATE UINT64_C(100000000)     /* packets per second */
#define MAX_BITRATE UINT64_C(1000000000000)     /* bits per second: 1 Tbit/s */
#define MIN_LATENCY_MS 20
#define MAX_LATENCY_MS 60000

struct session {
	struct ctl_manager *m;
	char id[CTL_ID_LEN + 1];
	struct ctl_spec spec;
	enum ctl_state state;
	char error[CTL_ERROR_MAX];
	struct ctl_stats base;      /* counters saved before a restart */
	struct ctl_endpoint listen; /* bound */
	struct ctl_proxy *proxy;
	void *bond;
	uint64_t opened_us;
};

struct listener {
	ctl_listener_fn fn;
	void *arg;
};

struct ctl_manager {
	struct braid_loop *loop;
	struct ctl_manager_config cfg;
	struct session **sessions;
	size_t count;
	struct listener listeners[MAX_LISTENERS];
	size_t listener_count;
	struct braid_timer check_timer;
	struct ctl_status scratch; /* big: kept here, not on the stack */
};

static void fill_status(struct session *s, struct ctl_status *out)
{
	struct ctl_stats live = { 0 };
	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), "%s", s->id);
	out->kind = s->spec.kind;
	out->spec = s->spec;
	out->spec.psk_len = 0; /* never shown */
	memset(out->spec.psk, 0, sizeof(out->spec.psk));
	out->listen = s->listen;
	if (s->proxy)
		ctl_proxy_stats(s->proxy, &live);
	if (s->bond) {
		s->m->cfg.bond->status(s->bond, out);
		live = out->stats;
	}
	ctl_stats_add(&out->stats, &s->base, &live);
	out->state = s->state;
	snprintf(out->error, sizeof(out->error), "%s", s->error);
}

static void emit(struct ctl_manager *m, struct session *s, enum ctl_event_type type)
{
	if (!m->listener_count)
		return;
	fill_status(s, &m->scratch);
	for (size_t i = 0; i < m->listener_count; i++)
		m->listeners[i].fn(m->listeners[i].arg, type, &m->scratch);
}

static void set_state(struct session *s, enum ctl_state state, const char *error)
{
	if (s->state == state)
		return;
	s->state = state;
	snprintf(s->error, sizeof(s->error), "%s", error ? error : "");
	emit(s->m, s, CTL_EVENT_STATE_CHANGED);
	if (state == CTL_STATE_ERROR)
		emit(s->m, s, CTL_EVENT_ERROR);
}

/* What the running session says its state is now. */
static void refresh_state(struct session *s)
{
	char err[CTL_ERROR_MAX] = "";
	enum ctl_state state = s->state;
	if (s->proxy) {
		state = ctl_proxy_state(s->proxy, err, sizeof(err));
	} else if (s->bond) {
		fill_status(s, &s->m->scratch);
		s->m->cfg.bond->status(s->bond, &s->m->scratch);
		state = s->m->scratch.state;
		snprintf(err, sizeof(err), "%s", s->m->scratch.error);
	}
	set_state(s, state, err);
}

static void on_changed(void *arg)
{
	refresh_state(arg);
}

static uint64_t last_activity(const struct session *s)
{
	uint64_t last = 0;
	if (s->proxy)
		last = ctl_proxy_last_activity(s->proxy);
	else if (s->bond)
		last = s->m->cfg.bond->last_activity(s->bond);
	return last > s->opened_us ? last : s->opened_us;
}

static struct session *find(const struct ctl_manager *m, const char *id, size_t *index)
{
	for (size_t i = 0; i < m->count; i++) {
		if (strcmp(m->sessions[i]->id, id) == 0) {
			if (index)
				*index = i;
			return m->sessions[i];
		}
	}
	return NULL;
}

static void close_kind(struct ctl_manager *m, struct session *s)
{
	ctl_proxy_close(s->proxy);
	s->proxy = NULL;
	if (s->bond)
		m->cfg.bond->close(s->bond);
	s->bond = NULL;
}

static void forget(struct ctl_manager *m, size_t index, bool announce)
{
	struct session *s = m->sessions[index];
	if (announce) {
		s->state = CTL_STATE_CLOSED;
		emit(m, s, CTL_EVENT_CLOSED);
	}
	close_kind(m, s);
	memmove(&m->sessions[index], &m->sessions[index + 1],
		(m->count - index - 1) * sizeof(m->sessions[0]));
	m->count--;
	free(s);
}

static void on_check(struct braid_loop *loop, void *arg)
{
	struct ctl_manager *m = arg;
	uint64_t now = braid_loop_now(loop);
	for (size_t i = 0; i < m->count;) {
		struct session *s = m->sessions[i];
		uint64_t idle_us = s->spec.idle_timeout_ms * 1000;
		if (s->bond)
			refresh_state(s);
		if (idle_us && s->state != CTL_STATE_ERROR && now - last_activity(s) >= idle_us) {
			fprintf(stderr, "braidd: session %s idle for %llu ms: closed\n", s->id,
				(unsigned long long)s->spec.idle_timeout_ms);
			forget(m, i, true);
			continue;
		}
		i++;
	}
	braid_timer_start(loop, &m->check_timer, now + m->cfg.check_interval_us);
}

struct ctl_manager *ctl_manager_new(struct braid_loop *loop, const struct ctl_manager_config *cfg)
{
	struct ctl_manager *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->loop = loop;
	m->cfg = *cfg;
	if (!m->cfg.check_interval_us)
		m->cfg.check_interval_us = DEFAULT_CHECK_US;
	m->sessions = calloc(cfg->max_sessions ? cfg->max_sessions : 1, sizeof(m->sessions[0]));
	if (!m->sessions) {
		free(m);
		return NULL;
	}
	braid_timer_init(&m->check_timer, on_check, m);
	braid_timer_start(loop, &m->check_timer, braid_loop_now(loop) + m->cfg.check_interval_us);
	return m;
}

void ctl_manager_free(struct ctl_manager *m)
{
	if (!m)
		return;
	while (m->count)
		forget(m, m->count - 1, false);
	braid_timer_stop(m->loop, &m->check_timer);
	free(m->sessions);
	free(m);
}

static enum ctl_code check_proxy(const struct ctl_manager *m, const struct ctl_spec *spec,
				 char *err, size_t err_len)
{
	struct braid_addr dest;
	enum ctl_code code = ctl_endpoint_addr(&spec->destination, false, 0, &dest, err, err_len);
	if (code) {
		char why[CTL_ERROR_MAX];
		snprintf(why, sizeof(why), "destination: %s", err);
		snprintf(err, err_len, "%s", why);
		return code;
	}
	if (spec->destination.port == 0 || spec->destination.port > (spec->rtcp ? 65534u : 65535u)) {
		snprintf(err, err_len, "destination: port %u is not in 1..%u",
			 spec->destination.port, spec->rtcp ? 65534 : 65535);
		return CTL_INVALID;
	}
	if (spec->listen.port > 65535 || spec->forward.port > 65535) {
		snprintf(err, err_len, "listen or forward port above 65535");
		return CTL_INVALID;
	}
	if (!ctl_allowlist_match(&m->cfg.allow, &dest)) {
		snprintf(err, err_len, "destination %s is not in the allowlist",
			 spec->destination.address);
		return CTL_DENIED;
	}
	return CTL_OK;
}

/* A file path strictly below dir, with no ".." component: an API caller may write recordings
 * only where the operator said, never elsewhere on the gateway. */
static bool path_below(const char *path, const char *dir)
{
	size_t n = dir ? strlen(dir) : 0;
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 0 || strncmp(path, dir, n) != 0 || path[n] != '/' || !path[n + 1])
		return false;
	for (const char *c = path + n; (c = strstr(c, "/..")) != NULL; c += 3)
		if (c[3] == '/' || c[3] == '\0')
			return false;
	return true;
}

static enum ctl_code check_bond(const struct ctl_manager *m, const struct ctl_spec *spec,
				char *err, size_t err_len)
{
	struct ctl_output out;
	if (!m->cfg.bond) {
		snprintf(err, err_len, "bond sessions are not available");
		return CTL_INVALID;
	}
	if (spec->transport == CTL_TRANSPORT_TCP) {
		snprintf(err, err_len, "bond sessions run over UDP only");
		return CTL_INVALID;
	}
	if (spec->latency_ms && (spec->latency_ms < MIN_LATENCY_MS ||
				 spec->latency_ms > MAX_LATENCY_MS)) {
		snprintf(err, err_len, "latency_ms %llu is not in %d..%d",
			 (unsigned long long)spec->latency_ms, MIN_LATENCY_MS, MAX_LATENCY_MS);
		return CTL_INVALID;
	}
	if (spec->listen.port > 65535) {
		snprintf(err, err_len, "listen: port above 65535");
		return CTL_INVALID;
	}
	enum ctl_code code = ctl_output_parse(spec->output, &out, err, err_len);
	if (code)
		return code;
	if (out.udp && !ctl_allowlist_match(&m->cfg.allow, &out.addr)) {
		snprintf(err, err_len, "output %.200s is not in the allowlist", spec->output);
		return CTL_DENIED;
	}
	if (!out.udp && !path_below(out.path, m->cfg.output_dir)) {
		snprintf(err, err_len, "output %.200s is not a file below the output_dir",
			 spec->output);
		return CTL_DENIED;
	}
	return CTL_OK;
}

static enum ctl_code check_spec(const struct ctl_manager *m, const struct ctl_spec *spec,
				char *err, size_t err_len)
{
	if (spec->idle_timeout_ms > MAX_IDLE_MS) {
		snprintf(err, err_len, "idle_timeout_ms above a day");
		return CTL_INVALID;
	}
	if (spec->transport > CTL_TRANSPORT_TCP) {
		snprintf(err, err_len, "unknown transport %d", (int)spec->transport);
		return CTL_INVALID;
	}
	/* beyond these the token buckets' arithmetic would wrap; no link carries more */
	if (spec->max_packet_rate > MAX_PACKET_RATE || spec->max_bitrate > MAX_BITRATE) {
		snprintf(err, err_len, "max_packet_rate above %llu or max_bitrate above %llu",
			 (unsigned long long)MAX_PACKET_RATE, (unsigned long long)MAX_BITRATE);
		return CTL_INVALID;
	}
	if (spec->kind == CTL_KIND_RTP_PROXY)
		return check_proxy(m, spec, err, err_len);
	if (spec->kind == CTL_KIND_BOND_RECEIVE)
		return check_bond(m, spec, err, err_len);
	snprintf(err, err_len, "kind must be KIND_BOND_RECEIVE or KIND_RTP_PROXY");
	return CTL_INVALID;
}

static enum ctl_code open_kind(struct ctl_manager *m, struct session *s, char *err,
			       size_t err_len)
{
	enum ctl_code code = CTL_OK;
	if (s->spec.kind == CTL_KIND_RTP_PROXY) {
		s->proxy = ctl_proxy_open(m->loop, &s->spec, on_changed, s, &code, err, err_len);
		if (s->proxy)
			ctl_proxy_listen(s->proxy, &s->listen);
	} else {
		s->bond = m->cfg.bond->open(m->cfg.bond_arg, m->loop, &s->spec, on_changed, s,
					    &s->listen, &code, err, err_len);
	}
	s->opened_us = braid_loop_now(m->loop);
	return s->proxy || s->bond ? CTL_OK : code;
}

static struct session *new_session(struct ctl_manager *m, const char *id,
				   const struct ctl_spec *spec)
{
	struct session *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->m = m;
	s->spec = *spec;
	s->state = CTL_STATE_CREATED;
	snprintf(s->id, sizeof(s->id), "%s", id);
	return s;
}

static bool make_id(char out[CTL_ID_LEN + 1])
{
	uint8_t bytes[CTL_ID_LEN / 2];
	if (braid_seed_bytes(bytes, sizeof(bytes)) < 0)
		return false;
	for (size_t i = 0; i < sizeof(bytes); i++)
		snprintf(out + 2 * i, 3, "%02x", bytes[i]);
	return true;
}

/* The new session joins the table, then says CREATED and where it went from there. */
static void announce(struct ctl_manager *m, struct session *s, enum ctl_state state,
		     const char *error)
{
	m->sessions[m->count++] = s;
	emit(m, s, CTL_EVENT_CREATED);
	set_state(s, state, error);
}

enum ctl_code ctl_manager_create(struct ctl_manager *m, const struct ctl_spec *spec,
				 struct ctl_status *out, char *err, size_t err_len)
{
	char id[CTL_ID_LEN + 1];
	if (m->count >= m->cfg.max_sessions) {
		snprintf(err, err_len, "the cap of %zu sessions is reached", m->cfg.max_sessions);
		return CTL_EXHAUSTED;
	}
	enum ctl_code code = check_spec(m, spec, err, err_len);
	if (code)
		return code;
	if (!make_id(id)) {
		snprintf(err, err_len, "cannot draw a session id: %s", strerror(errno));
		return CTL_INTERNAL;
	}
	struct session *s = new_session(m, id, spec);
	if (!s) {
		snprintf(err, err_len, "out of memory");
		return CTL_INTERNAL;
	}
	code = open_kind(m, s, err, err_len);
	if (code) {
		free(s);
		return code;
	}
	announce(m, s, CTL_STATE_CONNECTING, NULL);
	refresh_state(s);
	fill_status(s, out);
	return CTL_OK;
}

static bool valid_id(const char *id)
{
	if (strlen(id) != CTL_ID_LEN)
		return false;
	for (size_t i = 0; i < CTL_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

enum ctl_code ctl_manager_restore(struct ctl_manager *m, const char *id,
				  const struct ctl_spec *spec, const struct ctl_stats *counters,
				  char *err, size_t err_len)
{
	if (!valid_id(id) || find(m, id, NULL)) {
		snprintf(err, err_len, "session id '%.32s' is malformed or already present", id);
		return CTL_EXISTS;
	}
	if (m->count >= m->cfg.max_sessions) {
		snprintf(err, err_len, "the cap of %zu sessions is reached", m->cfg.max_sessions);
		return CTL_EXHAUSTED;
	}
	struct session *s = new_session(m, id, spec);
	if (!s) {
		snprintf(err, err_len, "out of memory");
		return CTL_INTERNAL;
	}
	s->base = *counters;
	char why[CTL_ERROR_MAX] = "";
	enum ctl_code code = check_spec(m, spec, why, sizeof(why));
	if (!code)
		code = open_kind(m, s, why, sizeof(why));
	announce(m, s, code ? CTL_STATE_ERROR : CTL_STATE_CONNECTING, why);
	if (!code)
		refresh_state(s);
	return CTL_OK;
}

enum ctl_code ctl_manager_destroy(struct ctl_manager *m, const char *id)
{
	size_t index;
	if (!find(m, id, &index))
		return CTL_NOT_FOUND;
	forget(m, index, true);
	return CTL_OK;
}

enum ctl_code ctl_manager_status(struct ctl_manager *m, const char *id, struct ctl_status *out)
{
	struct session *s = find(m, id, NULL);
	if (!s)
		return CTL_NOT_FOUND;
	fill_status(s, out);
	return CTL_OK;
}

enum ctl_code ctl_manager_spec(struct ctl_manager *m, const char *id, struct ctl_spec *out)
{
	struct session *s = find(m, id, NULL);
	if (!s)
		return CTL_NOT_FOUND;
	*out = s->spec;
	if (!out->listen.port)
		out->listen.port = s->listen.port;
	return CTL_OK;
}

size_t ctl_manager_count(const struct ctl_manager *m)
{
	return m->count;
}

void ctl_manager_foreach(struct ctl_manager *m,
			 void (*fn)(void *arg, const struct ctl_status *status), void *arg)
{
	for (size_t i = 0; i < m->count; i++) {
		fill_status(m->sessions[i], &m->scratch);
		fn(arg, &m->scratch);
	}
}

bool ctl_manager_subscribe(struct ctl_manager *m, ctl_listener_fn fn, void *arg)
{
	if (m->listener_count >= MAX_LISTENERS)
		return false;
	m->listeners[m->listener_count++] = (struct listener){ fn, arg };
	return true;
}

void ctl_manager_unsubscribe(struct ctl_manager *m, ctl_listener_fn fn, void *arg)
{
	for (size_t i = 0; i < m->listener_count; i++) {
		if (m->listeners[i].fn == fn && m->listeners[i].arg == arg) {
			memmove(&m->listeners[i], &m->listeners[i + 1],
				(m->listener_count - i - 1) * sizeof(m->listeners[0]));
			m->listener_count--;
			return;
		}
	}
}
