#include "rist/rx.h"

#include <stdlib.h>
#include <string.h>

#include "braid/error.h"
#include "braid/rtcp.h"
#include "braid/rtp.h"
#include "rist/app.h"
#include "rist/ntp.h"

#define RTCP_QUEUE 64
#define RTCP_MAX 1400
#define NACK_BATCH 256
#define TICK_US 5000                 /* how often gaps are looked at while any exists */
#define FLOW_TIMEOUT_US 2000000      /* a silent flow may be replaced by another SSRC */
#define PEER_SILENT_US 5000000       /* a peer quiet this long gets no more RTCP */
/* Keep-alives a peer earns with each RTCP datagram it sends, and the most it may bank: an
 * address forged into one datagram draws a few answers, not a stream of them. */
#define CREDIT_PER_DATAGRAM 4
#define CREDIT_MAX 50
#define PEER_REPLACEABLE_US 30000000 /* its table entry may go to a new one */
#define RESYNC_AFTER 32              /* packets in a row beyond the window: a new start */
#define DEFAULT_RTT_US 40000
#define MIN_RETRY_US 20000
#define SEQ_BASE ((uint64_t)1 << 32) /* room below the first number for reordering */

enum slot_state { SLOT_FREE, SLOT_MISSING, SLOT_HELD, SLOT_RELEASED, SLOT_GIVEN_UP };

struct slot {
	uint64_t seq;
	uint8_t state;
	uint8_t *data;
	size_t len;
	uint64_t since_us;     /* MISSING: found missing */
	uint64_t last_nack_us;
	uint32_t nacks;
};

struct peer {
	struct braid_rist_peer_stats st;
	unsigned credit;       /* keep-alives it may still be sent */
	uint64_t next_rtcp_us;
	uint32_t lsr;          /* the middle of its last SR's NTP time */
	uint64_t sr_at_us;
	bool has_sr;
};

struct queued {
	struct braid_addr to;
	size_t len;
	uint8_t buf[RTCP_MAX];
};

struct braid_rist_rx {
	struct braid_rist_rx_config cfg;
	uint64_t start_us;
	struct braid_rist_rx_stats st;
	struct slot *slots;
	uint64_t next, highest;   /* extended sequence numbers */
	uint64_t first_us, last_rtp_us;
	bool released_any, flushing;
	unsigned beyond_in_row;
	uint64_t spread_us;       /* delay spread between paths seen lately */
	uint64_t next_tick_us;
	struct braid_rist_path_stats paths[BRAID_RIST_MAX_PATHS];
	size_t path_count;
	struct peer peers[BRAID_RIST_MAX_PEERS];
	size_t peer_count;
	struct queued *queue;
	size_t q_head, q_count;
};

void braid_rist_rx_config_default(struct braid_rist_rx_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->buffer_us = 1000000;
	cfg->reorder_min_us = 20000;
	cfg->rtcp_interval_us = 100000;
	cfg->nack = BRAID_RIST_NACK_AUTO;
	strcpy(cfg->cname, "braid");
}

struct braid_rist_rx *braid_rist_rx_new(const struct braid_rist_rx_config *cfg, uint64_t now)
{
	if (!cfg->buffer_us || !cfg->rtcp_interval_us || !cfg->cname[0] ||
	    memchr(cfg->cname, '\0', sizeof(cfg->cname)) == NULL)
		return NULL;
	struct braid_rist_rx *rx = calloc(1, sizeof(*rx));
	if (!rx)
		return NULL;
	rx->slots = calloc(BRAID_RIST_WINDOW, sizeof(*rx->slots));
	rx->queue = calloc(RTCP_QUEUE, sizeof(*rx->queue));
	if (!rx->slots || !rx->queue) {
		braid_rist_rx_free(rx);
		return NULL;
	}
	rx->cfg = *cfg;
	rx->start_us = now;
	rx->st.reorder_us = cfg->reorder_min_us;
	return rx;
}

static void drop_held(struct braid_rist_rx *rx)
{
	for (size_t i = 0; i < BRAID_RIST_WINDOW; i++) {
		free(rx->slots[i].data);
		rx->slots[i] = (struct slot){ 0 };
	}
}

void braid_rist_rx_free(struct braid_rist_rx *rx)
{
	if (!rx)
		return;
	if (rx->slots)
		drop_held(rx);
	free(rx->slots);
	free(rx->queue);
	free(rx);
}

static struct slot *slot_of(struct braid_rist_rx *rx, uint64_t seq)
{
	return &rx->slots[seq % BRAID_RIST_WINDOW];
}

static uint64_t ntp_now(const struct braid_rist_rx *rx, uint64_t now)
{
	return braid_rist_ntp_at(rx->cfg.wall_clock_us, now - rx->start_us);
}

/* ---- the RTCP we send ------------------------------------------------------------- */

static struct queued *queue_slot(struct braid_rist_rx *rx)
{
	if (rx->q_count == RTCP_QUEUE)
		return NULL;
	struct queued *q = &rx->queue[(rx->q_head + rx->q_count) % RTCP_QUEUE];
	rx->q_count++;
	return q;
}

/* Our report on the flow for one peer: the loss so far and its last SR echoed back, so a
 * sender (GStreamer) can measure the RTT. */
static void write_report(struct braid_rist_rx *rx, struct peer *p, struct braid_rtcp_writer *w,
			 uint64_t now)
{
	struct braid_rtcp_packet rr;
	memset(&rr, 0, sizeof(rr));
	rr.kind = BRAID_RTCP_KIND_RR;
	rr.u.rr.ssrc = rx->cfg.ssrc;
	if (rx->st.started) {
		struct braid_rtcp_report_block *b = &rr.u.rr.blocks[0];
		rr.u.rr.block_count = 1;
		b->ssrc = rx->st.ssrc;
		b->cumulative_lost = rx->st.lost > 0x7fffff ? 0x7fffff : (int32_t)rx->st.lost;
		b->ext_highest_seq = (uint32_t)rx->highest;
		if (p->has_sr) {
			b->lsr = p->lsr;
			b->dlsr = braid_rtcp_dlsr_from_us(now - p->sr_at_us);
		}
	}
	(void)braid_rtcp_write(w, &rr);
	(void)braid_rtcp_write_cname(w, rx->cfg.ssrc, rx->cfg.cname, strlen(rx->cfg.cname));
}

/* The datagram written into q is due to p. */
static void finish(struct peer *p, struct queued *q, const struct braid_rtcp_writer *w)
{
	q->to = p->st.addr;
	q->len = w->len;
	p->st.rtcp_out++;
}

static void send_keepalive(struct braid_rist_rx *rx, struct peer *p, uint64_t now)
{
	p->next_rtcp_us = now + rx->cfg.rtcp_interval_us;
	if (!p->credit)
		return;
	struct queued *q = queue_slot(rx);
	if (!q)
		return;
	p->credit--;
	struct braid_rtcp_writer w;
	braid_rtcp_writer_init(&w, q->buf, sizeof(q->buf));
	write_report(rx, p, &w, now);
	if (p->st.speaks_rist) {
		struct braid_rist_echo e = { .ssrc = rx->cfg.ssrc, .timestamp = ntp_now(rx, now) };
		(void)braid_rist_write_echo(&w, BRAID_RIST_APP_ECHO_REQUEST, &e);
	}
	finish(p, q, &w);
}

static void send_echo_response(struct braid_rist_rx *rx, struct peer *p,
			       const struct braid_rist_echo *req, uint64_t now)
{
	struct queued *q = queue_slot(rx);
	if (!q)
		return;
	struct braid_rtcp_writer w;
	braid_rtcp_writer_init(&w, q->buf, sizeof(q->buf));
	write_report(rx, p, &w, now);
	struct braid_rist_echo resp = { .ssrc = req->ssrc, .timestamp = req->timestamp };
	(void)braid_rist_write_echo(&w, BRAID_RIST_APP_ECHO_RESPONSE, &resp);
	finish(p, q, &w);
}

static bool use_range(const struct braid_rist_rx *rx, const struct peer *p)
{
	return rx->cfg.nack == BRAID_RIST_NACK_RANGE ||
	       (rx->cfg.nack == BRAID_RIST_NACK_AUTO && p->st.speaks_rist);
}

static void send_nack(struct braid_rist_rx *rx, struct peer *p, const uint16_t *lost,
		      size_t n, uint64_t now)
{
	struct queued *q = queue_slot(rx);
	if (!q)
		return;
	struct braid_rtcp_writer w;
	braid_rtcp_writer_init(&w, q->buf, sizeof(q->buf));
	write_report(rx, p, &w, now);
	int rc = use_range(rx, p) ? braid_rist_write_range_nack(&w, rx->st.ssrc, lost, n) :
		 braid_rist_write_generic_nack(&w, rx->cfg.ssrc, rx->st.ssrc, lost, n);
	if (rc < 0) {
		rx->q_count--; /* nothing worth sending */
		return;
	}
	finish(p, q, &w);
	p->st.nacks_sent++;
	p->st.requested += n;
	rx->st.nacks++;
}

/* NACKs go to peers heard lately that still have credit (they keep talking to us). */
static bool peer_live(const struct peer *p, uint64_t now)
{
	return now - p->st.last_us < PEER_SILENT_US && p->credit > 0;
}

/* ---- peers and paths ---------------------------------------------------------------- */

static struct peer *find_peer(struct braid_rist_rx *rx, const struct braid_addr *a,
			      uint64_t now, bool *is_new)
{
	struct peer *spare = NULL;
	*is_new = false;
	for (size_t i = 0; i < rx->peer_count; i++) {
		if (braid_addr_equal(&rx->peers[i].st.addr, a))
			return &rx->peers[i];
		if (now - rx->peers[i].st.last_us >= PEER_REPLACEABLE_US)
			spare = &rx->peers[i];
	}
	if (!spare && rx->peer_count < BRAID_RIST_MAX_PEERS)
		spare = &rx->peers[rx->peer_count++];
	if (!spare)
		return NULL;
	*spare = (struct peer){ .st.addr = *a };
	*is_new = true;
	return spare;
}

static struct braid_rist_path_stats *find_path(struct braid_rist_rx *rx,
					       const struct braid_addr *a, uint64_t now)
{
	struct braid_rist_path_stats *spare = NULL;
	for (size_t i = 0; i < rx->path_count; i++) {
		if (braid_addr_equal(&rx->paths[i].addr, a))
			return &rx->paths[i];
		if (now - rx->paths[i].last_us >= PEER_REPLACEABLE_US)
			spare = &rx->paths[i];
	}
	if (!spare && rx->path_count < BRAID_RIST_MAX_PATHS)
		spare = &rx->paths[rx->path_count++];
	if (spare)
		*spare = (struct braid_rist_path_stats){ .addr = *a };
	return spare;
}

/* ---- the flow ----------------------------------------------------------------------- */

static void start_flow(struct braid_rist_rx *rx, uint32_t ssrc, uint16_t seq, uint64_t now)
{
	drop_held(rx);
	rx->st.held = 0;
	rx->st.started = true;
	rx->st.ssrc = ssrc;
	rx->next = rx->highest = SEQ_BASE + seq;
	rx->first_us = now;
	rx->released_any = false;
	rx->beyond_in_row = 0;
	slot_of(rx, rx->next)->seq = rx->next;
	slot_of(rx, rx->next)->state = SLOT_MISSING;
	slot_of(rx, rx->next)->since_us = now;
}

static uint64_t extend(const struct braid_rist_rx *rx, uint16_t seq)
{
	int16_t delta = (int16_t)(uint16_t)(seq - (uint16_t)rx->highest);
	return (uint64_t)((int64_t)rx->highest + delta);
}

static void mark_missing(struct braid_rist_rx *rx, uint64_t from, uint64_t to, uint64_t now)
{
	for (uint64_t s = from; s < to; s++) {
		struct slot *sl = slot_of(rx, s);
		free(sl->data);
		*sl = (struct slot){ .seq = s, .state = SLOT_MISSING, .since_us = now };
	}
}

static uint64_t reorder_wait(const struct braid_rist_rx *rx)
{
	uint64_t wait = rx->spread_us + rx->spread_us / 2;
	if (wait < rx->cfg.reorder_min_us)
		wait = rx->cfg.reorder_min_us;
	if (wait > rx->cfg.buffer_us / 4)
		wait = rx->cfg.buffer_us / 4;
	return wait;
}

/* Before anything has left, a packet older than the first one seen is the flow's true
 * start arriving over a slower path: the start moves back to it. */
static bool reaches_back(struct braid_rist_rx *rx, uint64_t seq)
{
	return !rx->released_any && rx->highest - seq < BRAID_RIST_WINDOW / 2;
}

static void note_late(struct braid_rist_rx *rx, struct braid_rist_path_stats *path,
		      uint64_t seq)
{
	struct slot *sl = slot_of(rx, seq);
	if (sl->seq == seq && sl->state == SLOT_RELEASED) {
		path->duplicates++;
		rx->st.duplicates++;
	} else {
		path->late++;
		rx->st.late++;
	}
}

static bool store(struct braid_rist_rx *rx, struct slot *sl, uint64_t seq,
		  const struct braid_rtp_header *h)
{
	uint8_t *copy = malloc(h->payload_len ? h->payload_len : 1);
	if (!copy)
		return false;
	memcpy(copy, h->payload, h->payload_len);
	free(sl->data);
	*sl = (struct slot){ .seq = seq, .state = SLOT_HELD, .data = copy, .len = h->payload_len };
	rx->st.held++;
	return true;
}

/* A packet inside the window [next, next + WINDOW). */
static void place(struct braid_rist_rx *rx, struct braid_rist_path_stats *path, uint64_t seq,
		  const struct braid_rtp_header *h, bool resend, uint64_t now)
{
	if (seq > rx->highest) {
		mark_missing(rx, rx->highest + 1, seq, now);
		rx->highest = seq;
	}
	struct slot *sl = slot_of(rx, seq);
	if (sl->seq == seq && sl->state == SLOT_HELD) {
		path->duplicates++;
		rx->st.duplicates++;
		return;
	}
	bool was_missing = sl->seq == seq && sl->state == SLOT_MISSING && seq < rx->highest;
	uint64_t missing_for = now - sl->since_us;
	bool asked = sl->nacks > 0;
	if (!store(rx, sl, seq, h)) {
		rx->st.dropped.no_room++;
		return;
	}
	if (was_missing && asked)
		rx->st.recovered++;
	if (was_missing && !resend) {
		path->reordered++;
		rx->st.reordered++;
		/* how long a packet on a slower path trails: the wait before asking again */
		if (missing_for > rx->spread_us)
			rx->spread_us = missing_for;
	}
}

static void take_packet(struct braid_rist_rx *rx, struct braid_rist_path_stats *path,
			const struct braid_rtp_header *h, uint64_t now)
{
	uint64_t seq = extend(rx, h->seq);
	bool resend = h->ssrc & 1u;
	if (resend) {
		path->retransmitted++;
		rx->st.retransmitted++;
	}
	if (seq < rx->next && reaches_back(rx, seq)) {
		mark_missing(rx, seq, rx->next, now);
		rx->next = seq;
	} else if (seq < rx->next) {
		note_late(rx, path, seq);
		return;
	}
	if (seq >= rx->next + BRAID_RIST_WINDOW) {
		rx->st.beyond_window++;
		if (++rx->beyond_in_row < RESYNC_AFTER)
			return;
		/* the sender restarted its numbers: what is held cannot be placed any more */
		rx->st.lost += rx->highest - rx->next + 1;
		start_flow(rx, rx->st.ssrc, h->seq, now);
		seq = rx->next;
	}
	rx->beyond_in_row = 0;
	place(rx, path, seq, h, resend, now);
}

void braid_rist_rx_handle_rtp(struct braid_rist_rx *rx, const struct braid_addr *from,
			      const uint8_t *buf, size_t len, uint64_t now)
{
	struct braid_rtp_header h;
	rx->st.in++;
	rx->st.bytes_in += len;
	if (braid_rtp_parse(buf, len, &h) < 0 || braid_rtp_looks_like_rtcp(buf, len)) {
		rx->st.dropped.malformed++;
		return;
	}
	if (h.payload_len > BRAID_RIST_MAX_PAYLOAD) {
		rx->st.dropped.too_large++;
		return;
	}
	uint32_t flow = h.ssrc & ~1u;
	if (rx->st.started && flow != rx->st.ssrc && now - rx->last_rtp_us < FLOW_TIMEOUT_US) {
		rx->st.dropped.other_flow++;
		return;
	}
	struct braid_rist_path_stats *path = find_path(rx, from, now);
	if (!path) {
		rx->st.dropped.no_room++;
		return;
	}
	path->packets++;
	path->bytes += len;
	path->last_us = now;
	if (!rx->st.started || flow != rx->st.ssrc)
		start_flow(rx, flow, h.seq, now);
	rx->last_rtp_us = now;
	take_packet(rx, path, &h, now);
	if (rx->next_tick_us == 0 || rx->next_tick_us > now + TICK_US)
		rx->next_tick_us = now + TICK_US;
}

/* ---- RTCP in ------------------------------------------------------------------------ */

static uint64_t us_of_ntp_delta(uint64_t ntp)
{
	return (ntp >> 32) * 1000000u + (((ntp & 0xffffffffu) * 1000000u) >> 32);
}

static void take_echo_response(struct braid_rist_rx *rx, struct peer *p,
			       const struct braid_rist_echo *e, uint64_t now)
{
	uint64_t sent = e->timestamp, at = ntp_now(rx, now);
	if (e->ssrc != rx->cfg.ssrc || sent > at)
		return; /* not ours, or a time we never sent */
	uint64_t rtt = us_of_ntp_delta(at - sent);
	if (rtt > 10000000)
		return;
	if (e->delay_us < rtt)
		rtt -= e->delay_us;
	p->st.rtt_us = p->st.has_rtt ? (7 * p->st.rtt_us + rtt) / 8 : rtt;
	p->st.has_rtt = true;
}

static void take_rtcp_packet(struct braid_rist_rx *rx, struct peer *p,
			     const struct braid_rtcp_packet *pkt, uint64_t now)
{
	uint8_t subtype;
	struct braid_rist_echo e;
	if (pkt->kind == BRAID_RTCP_KIND_SR) {
		p->lsr = braid_ntp_middle(pkt->u.sr.ntp);
		p->sr_at_us = now;
		p->has_sr = true;
	} else if (pkt->kind == BRAID_RTCP_KIND_APP && braid_rist_app_is_rist(&pkt->u.app)) {
		p->st.speaks_rist = true;
		if (!braid_rist_echo_parse(pkt, &subtype, &e))
			return;
		if (subtype == BRAID_RIST_APP_ECHO_REQUEST)
			send_echo_response(rx, p, &e, now);
		else
			take_echo_response(rx, p, &e, now);
	}
}

void braid_rist_rx_handle_rtcp(struct braid_rist_rx *rx, const struct braid_addr *from,
			       const uint8_t *buf, size_t len, uint64_t now)
{
	rx->st.in++;
	rx->st.bytes_in += len;
	if (braid_rtcp_check(buf, len, BRAID_RTCP_REDUCED_SIZE) < 0) {
		rx->st.dropped.malformed++;
		return;
	}
	bool is_new;
	struct peer *p = find_peer(rx, from, now, &is_new);
	if (!p) {
		rx->st.dropped.no_room++;
		return;
	}
	p->st.rtcp_in++;
	p->st.last_us = now;
	p->credit = p->credit + CREDIT_PER_DATAGRAM > CREDIT_MAX ? CREDIT_MAX :
		    p->credit + CREDIT_PER_DATAGRAM;
	struct braid_rtcp_reader r;
	struct braid_rtcp_packet pkt;
	braid_rtcp_reader_init(&r, buf, len, BRAID_RTCP_REDUCED_SIZE);
	while (braid_rtcp_read(&r, &pkt) == 1)
		take_rtcp_packet(rx, p, &pkt, now);
	/* A sender may hold its media until it hears from us: answer a new peer at once. */
	if (is_new)
		send_keepalive(rx, p, now);
}

/* ---- time --------------------------------------------------------------------------- */

static uint64_t retry_interval(const struct braid_rist_rx *rx)
{
	uint64_t rtt = 0;
	for (size_t i = 0; i < rx->peer_count; i++)
		if (rx->peers[i].st.has_rtt && (!rtt || rx->peers[i].st.rtt_us < rtt))
			rtt = rx->peers[i].st.rtt_us;
	if (!rtt)
		rtt = DEFAULT_RTT_US;
	return rtt < MIN_RETRY_US ? MIN_RETRY_US : rtt;
}

/* The missing numbers due to be asked for now, marked asked. */
static size_t due_gaps(struct braid_rist_rx *rx, uint64_t now, uint16_t *lost)
{
	size_t n = 0;
	uint64_t wait = reorder_wait(rx), retry = retry_interval(rx);
	rx->st.reorder_us = wait;
	for (uint64_t s = rx->next; s <= rx->highest && n < NACK_BATCH; s++) {
		struct slot *sl = slot_of(rx, s);
		if (sl->seq != s || sl->state != SLOT_MISSING || s == rx->highest)
			continue;
		uint64_t due = sl->nacks ? sl->last_nack_us + retry : sl->since_us + wait;
		/* a resend asked for now must arrive (half an RTT away) before its turn */
		if (now < due || now + retry / 2 >= sl->since_us + rx->cfg.buffer_us)
			continue;
		sl->nacks++;
		sl->last_nack_us = now;
		lost[n++] = (uint16_t)s;
	}
	return n;
}

void braid_rist_rx_handle_timeout(struct braid_rist_rx *rx, uint64_t now)
{
	uint16_t lost[NACK_BATCH];
	size_t n = rx->st.started ? due_gaps(rx, now, lost) : 0;
	rx->st.requested += n;
	for (size_t i = 0; i < rx->peer_count; i++) {
		struct peer *p = &rx->peers[i];
		if (!peer_live(p, now))
			continue;
		if (n)
			send_nack(rx, p, lost, n, now);
		if (now >= p->next_rtcp_us)
			send_keepalive(rx, p, now);
	}
	/* the spread seen forgets slowly, so one late burst does not slow NACKs for ever */
	rx->spread_us -= rx->spread_us / 256;
	bool busy = rx->st.started && rx->next <= rx->highest;
	rx->next_tick_us = busy ? now + TICK_US : 0;
}

uint64_t braid_rist_rx_next_timeout(const struct braid_rist_rx *rx)
{
	uint64_t next = rx->next_tick_us ? rx->next_tick_us : UINT64_MAX;
	for (size_t i = 0; i < rx->peer_count; i++) {
		const struct peer *p = &rx->peers[i];
		if (p->credit && p->st.last_us + PEER_SILENT_US > p->next_rtcp_us &&
		    p->next_rtcp_us < next)
			next = p->next_rtcp_us;
	}
	return next;
}

/* ---- output ------------------------------------------------------------------------- */

int braid_rist_rx_poll_output(struct braid_rist_rx *rx, uint64_t now, uint8_t *buf,
			      size_t cap, size_t *len)
{
	if (!rx->st.started)
		return 0;
	if (!rx->released_any && !rx->flushing && now < rx->first_us + reorder_wait(rx))
		return 0;
	while (rx->next <= rx->highest) {
		struct slot *sl = slot_of(rx, rx->next);
		if (sl->seq == rx->next && sl->state == SLOT_HELD) {
			if (cap < sl->len)
				return BRAID_ERR_BUFFER;
			memcpy(buf, sl->data, sl->len);
			*len = sl->len;
			free(sl->data);
			sl->data = NULL;
			sl->state = SLOT_RELEASED;
			rx->st.held--;
			rx->st.out++;
			rx->st.bytes_out += *len;
			rx->released_any = true;
			rx->next++;
			return 1;
		}
		bool missing = sl->seq == rx->next && sl->state == SLOT_MISSING;
		if (missing && !rx->flushing && now < sl->since_us + rx->cfg.buffer_us)
			return 0;
		if (missing) {
			sl->state = SLOT_GIVEN_UP;
			rx->st.lost++;
		}
		rx->next++;
	}
	return 0;
}

void braid_rist_rx_flush(struct braid_rist_rx *rx)
{
	rx->flushing = true;
}

int braid_rist_rx_poll_rtcp(struct braid_rist_rx *rx, struct braid_addr *to, uint8_t *buf,
			    size_t cap, size_t *len)
{
	if (!rx->q_count)
		return 0;
	struct queued *q = &rx->queue[rx->q_head];
	if (cap < q->len)
		return BRAID_ERR_BUFFER;
	*to = q->to;
	memcpy(buf, q->buf, q->len);
	*len = q->len;
	rx->q_head = (rx->q_head + 1) % RTCP_QUEUE;
	rx->q_count--;
	return 1;
}

/* ---- figures ------------------------------------------------------------------------ */

void braid_rist_rx_stats(const struct braid_rist_rx *rx, struct braid_rist_rx_stats *out)
{
	*out = rx->st;
	out->reorder_us = reorder_wait(rx);
}

size_t braid_rist_rx_paths(const struct braid_rist_rx *rx, struct braid_rist_path_stats *out,
			   size_t cap)
{
	for (size_t i = 0; i < rx->path_count && i < cap; i++)
		out[i] = rx->paths[i];
	return rx->path_count;
}

size_t braid_rist_rx_peers(const struct braid_rist_rx *rx, struct braid_rist_peer_stats *out,
			   size_t cap)
{
	for (size_t i = 0; i < rx->peer_count && i < cap; i++) {
		out[i] = rx->peers[i].st;
		out[i].gets_range = use_range(rx, &rx->peers[i]);
	}
	return rx->peer_count;
}
