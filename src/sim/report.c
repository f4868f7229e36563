/* The metrics by name (for expect lines), the expectations' verdicts, and the JSON object
 * braid sim prints. Names follow the JSON: "stream.sent" is "sent" inside "stream";
 * "link.NAME.FIELD" is FIELD of the link called NAME in "links". */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "braid/error.h"
#include "core/sched.h"
#include "sim/bound.h"
#include "sim/sim_internal.h"

enum field_kind { F64, U64, U32, SIZE };

struct field {
	const char *name;
	size_t offset;
	enum field_kind kind;
};

#define M(name, member, kind) { name, offsetof(struct braid_sim_metrics, member), kind }
static const struct field metric_fields[] = {
	M("residual_loss", residual_loss, F64),
	M("simulated_s", simulated_s, F64),
	M("stream.sent", sent, U64),
	M("stream.delivered", delivered, U64),
	M("stream.lost", lost, U64),
	M("stream.late", late, U64),
	M("stream.duplicates_removed", duplicates, U64),
	M("stream.out_of_order", out_of_order, U64),
	M("stream.corrupt", corrupt, U64),
	M("stream.residual_loss", residual_loss, F64),
	M("stream.throughput_mbps", throughput_mbps, F64),
	M("retransmissions.count", retransmitted, U64),
	M("retransmissions.rate", retransmission_rate, F64),
	M("retransmissions.nack", resent_nack, U64),
	M("retransmissions.failover", resent_failover, U64),
	M("retransmissions.timeout", resent_timeout, U64),
	M("copies.hedge", copies_hedge, U64),
	M("copies.redundancy", copies_redundancy, U64),
	M("failover.stalls", stalls, U64),
	M("added_latency_ms.min", latency_min_ms, F64),
	M("added_latency_ms.median", latency_median_ms, F64),
	M("added_latency_ms.p99", latency_p99_ms, F64),
	M("added_latency_ms.max", latency_max_ms, F64),
	M("timing.clock_drift_ppm", clock_drift_ppm, F64),
	M("timing.fastest_path_ms", fastest_path_ms, F64),
	M("timing.over_path_min_ms", over_path_min_ms, F64),
	M("timing.over_path_max_ms", over_path_max_ms, F64),
	M("timing.budget_error_ms", budget_error_ms, F64),
	M("failover.deaths", failover_count, SIZE),
	M("failover.detected", failovers_detected, U64),
	M("failover.undetected", failovers_undetected, U64),
	M("failover.spurious_downs", spurious_downs, U64),
	M("failover.max_detection_ms", max_detection_ms, F64),
	M("failover.mean_detection_ms", mean_detection_ms, F64),
	M("failover.max_recovery_ms", max_recovery_ms, F64),
	M("continuity.buckets", buckets, U64),
	M("continuity.whole_buckets", whole_buckets, U64),
	M("continuity.gaps", gaps, U64),
	M("continuity.longest_gap_ms", longest_gap_ms, F64),
};
#undef M

#define L(name, member, kind) { name, offsetof(struct braid_sim_link_metrics, member), kind }
static const struct field link_fields[] = {
	L("throughput_mbps", throughput_mbps, F64),
	L("share", share, F64),
	L("packets", packets, U64),
	L("delivered", delivered, U64),
	L("lost", lost, U64),
	L("loss", loss, F64),
	L("down_events", down_events, U32),
	L("mean_rtt_ms", mean_rtt_ms, F64),
};
#undef L

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static double field_value(const void *base, const struct field *f)
{
	const char *p = (const char *)base + f->offset;
	uint64_t u64;
	uint32_t u32;
	size_t size;
	double d;

	switch (f->kind) {
	case F64:
		memcpy(&d, p, sizeof(d));
		return d;
	case U64:
		memcpy(&u64, p, sizeof(u64));
		return (double)u64;
	case U32:
		memcpy(&u32, p, sizeof(u32));
		return u32;
	case SIZE:
		memcpy(&size, p, sizeof(size));
		return (double)size;
	}
	return NAN;
}

static const struct field *find_field(const struct field *fields, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(fields[i].name, name) == 0)
			return &fields[i];
	return NULL;
}

/* "link.NAME.FIELD": splits at the last dot, since names may hold dots. */
static const struct field *split_link_metric(const char *name, char *link, size_t link_len)
{
	const char *dot;
	size_t n;

	if (strncmp(name, "link.", 5) != 0 || !(dot = strrchr(name + 5, '.')))
		return NULL;
	n = (size_t)(dot - (name + 5));
	if (n == 0 || n >= link_len)
		return NULL;
	memcpy(link, name + 5, n);
	link[n] = '\0';
	return find_field(link_fields, COUNT(link_fields), dot + 1);
}

int braid_sim_metric(const struct braid_sim_metrics *m, const char *name, double *value)
{
	const struct field *f = find_field(metric_fields, COUNT(metric_fields), name);
	char link[BRAID_EMU_NAME_MAX + 1];

	if (f) {
		*value = field_value(m, f);
		return 0;
	}
	f = split_link_metric(name, link, sizeof(link));
	for (size_t i = 0; f && i < m->link_count; i++) {
		if (strcmp(m->links[i].name, link) == 0) {
			*value = field_value(&m->links[i], f);
			return 0;
		}
	}
	return BRAID_ERR_INVAL;
}

bool braid_sim_metric_known(const struct braid_sim_scenario *sc, const char *name)
{
	char link[BRAID_EMU_NAME_MAX + 1];

	if (find_field(metric_fields, COUNT(metric_fields), name))
		return true;
	if (!split_link_metric(name, link, sizeof(link)))
		return false;
	for (size_t i = 0; i < sc->emu.link_count; i++)
		if (strcmp(sc->emu.links[i].name, link) == 0)
			return true;
	return false;
}

static bool holds(enum braid_sim_op op, double v, double bound)
{
	if (isnan(v))
		return false;
	switch (op) {
	case BRAID_SIM_LT:
		return v < bound;
	case BRAID_SIM_LE:
		return v <= bound;
	case BRAID_SIM_GT:
		return v > bound;
	case BRAID_SIM_GE:
		return v >= bound;
	case BRAID_SIM_EQ:
		return v == bound;
	case BRAID_SIM_NE:
		return v != bound;
	}
	return false;
}

static bool expect_holds(const struct braid_sim_expect *ex, const struct braid_sim_metrics *m,
			 double *value)
{
	*value = NAN;
	return braid_sim_metric(m, ex->metric, value) == 0 && holds(ex->op, *value, ex->value);
}

size_t braid_sim_check(const struct braid_sim_scenario *sc, const struct braid_sim_metrics *m,
		       bool *pass)
{
	size_t failed = 0;

	for (size_t i = 0; i < sc->expect_count; i++) {
		double v;
		bool ok = expect_holds(&sc->expects[i], m, &v);

		failed += !ok;
		if (pass)
			pass[i] = ok;
	}
	return failed;
}

/* ---- JSON ---- */

static void num(FILE *f, const char *key, double v, int decimals)
{
	if (isnan(v) || isinf(v))
		fprintf(f, "\"%s\":null", key);
	else
		fprintf(f, "\"%s\":%.*f", key, decimals, v);
}

/* Link and scenario names are printable ASCII without quotes' special meaning in our
 * formats, but escape anyway: a JSON reader must never choke. */
static void str(FILE *f, const char *key, const char *s)
{
	fprintf(f, "\"%s\":\"", key);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static double seconds_or_nan(uint64_t us)
{
	return us == SIM_NEVER ? NAN : (double)us / 1e6;
}

static double span_ms(uint64_t from, uint64_t to)
{
	return from == SIM_NEVER || to == SIM_NEVER ? NAN : (double)(to - from) / 1000.0;
}

static void write_stream(FILE *f, const struct braid_sim_scenario *sc,
			 const struct braid_sim_metrics *m)
{
	fprintf(f, " \"stream\":{");
	num(f, "rate_mbps", sc->stream_rate_bps / 1e6, 3);
	fprintf(f, ",\"packet_bytes\":%zu,", sc->packet_bytes);
	num(f, "duration_s", m->stream_s, 3);
	fprintf(f, ",\"sent\":%llu,\"delivered\":%llu,\"lost\":%llu,\"late\":%llu,"
		"\"duplicates_removed\":%llu,\"out_of_order\":%llu,\"corrupt\":%llu,",
		(unsigned long long)m->sent, (unsigned long long)m->delivered,
		(unsigned long long)m->lost, (unsigned long long)m->late,
		(unsigned long long)m->duplicates, (unsigned long long)m->out_of_order,
		(unsigned long long)m->corrupt);
	num(f, "residual_loss", m->residual_loss, 6);
	fputc(',', f);
	num(f, "throughput_mbps", m->throughput_mbps, 3);
	fprintf(f, "},\n \"retransmissions\":{\"count\":%llu,",
		(unsigned long long)m->retransmitted);
	num(f, "rate", m->retransmission_rate, 6);
	fprintf(f, ",\"nack\":%llu,\"failover\":%llu,\"timeout\":%llu},\n \"copies\":{"
		"\"hedge\":%llu,\"redundancy\":%llu", (unsigned long long)m->resent_nack,
		(unsigned long long)m->resent_failover, (unsigned long long)m->resent_timeout,
		(unsigned long long)m->copies_hedge, (unsigned long long)m->copies_redundancy);
	fprintf(f, "},\n \"added_latency_ms\":{");
	num(f, "min", m->latency_min_ms, 3);
	fputc(',', f);
	num(f, "median", m->latency_median_ms, 3);
	fputc(',', f);
	num(f, "p99", m->latency_p99_ms, 3);
	fputc(',', f);
	num(f, "max", m->latency_max_ms, 3);
	fprintf(f, "},\n \"timing\":{");
	num(f, "clock_drift_ppm", m->clock_drift_ppm, 3);
	fputc(',', f);
	num(f, "budget_ms", (double)sc->sender.latency_us / 1000.0, 3);
	fputc(',', f);
	num(f, "fastest_path_ms", m->fastest_path_ms, 3);
	fputc(',', f);
	num(f, "over_path_min_ms", m->over_path_min_ms, 3);
	fputc(',', f);
	num(f, "over_path_max_ms", m->over_path_max_ms, 3);
	fputc(',', f);
	num(f, "budget_error_ms", m->budget_error_ms, 3);
	fprintf(f, "},\n");
}

static void write_links(FILE *f, const struct braid_sim_scenario *sc,
			const struct braid_sim_metrics *m)
{
	fprintf(f, " \"links\":[");
	for (size_t i = 0; i < m->link_count; i++) {
		const struct braid_sim_link_metrics *l = &m->links[i];

		fprintf(f, "%s\n  {", i ? "," : "");
		str(f, "name", l->name);
		if (i < BRAID_MAX_LINKS && sc->link_options[i].trace[0]) {
			fputc(',', f);
			str(f, "trace", sc->link_options[i].trace);
		}
		fputc(',', f);
		num(f, "throughput_mbps", l->throughput_mbps, 3);
		fputc(',', f);
		num(f, "share", l->share, 4);
		fprintf(f, ",\"packets\":%llu,\"delivered\":%llu,\"lost\":%llu,",
			(unsigned long long)l->packets, (unsigned long long)l->delivered,
			(unsigned long long)l->lost);
		num(f, "loss", l->loss, 6);
		fprintf(f, ",\"down_events\":%u,", l->down_events);
		num(f, "mean_rtt_ms", l->mean_rtt_ms, 3);
		fputc('}', f);
	}
	fprintf(f, "],\n");
}

static void write_failovers(FILE *f, const struct braid_sim_metrics *m)
{
	fprintf(f, " \"failover\":{\"deaths\":%zu,\"detected\":%llu,\"undetected\":%llu,"
		"\"spurious_downs\":%llu,\"stalls\":%llu,", m->failover_count,
		(unsigned long long)m->failovers_detected,
		(unsigned long long)m->failovers_undetected, (unsigned long long)m->spurious_downs,
		(unsigned long long)m->stalls);
	num(f, "max_detection_ms", m->max_detection_ms, 3);
	fputc(',', f);
	num(f, "mean_detection_ms", m->mean_detection_ms, 3);
	fputc(',', f);
	num(f, "max_recovery_ms", m->max_recovery_ms, 3);
	fprintf(f, "},\n \"failovers\":[");
	for (size_t i = 0; i < m->failover_count; i++) {
		const struct braid_sim_failover *d = &m->failovers[i];

		fprintf(f, "%s\n  {", i ? "," : "");
		str(f, "link", d->link);
		fputc(',', f);
		num(f, "dead_s", seconds_or_nan(d->dead_us), 6);
		fputc(',', f);
		num(f, "detected_s", seconds_or_nan(d->detected_us), 6);
		fputc(',', f);
		num(f, "detection_ms", span_ms(d->dead_us, d->detected_us), 3);
		fputc(',', f);
		num(f, "back_s", seconds_or_nan(d->back_us), 6);
		fputc(',', f);
		num(f, "usable_ms", span_ms(d->back_us, d->usable_us), 3);
		fputc(',', f);
		num(f, "recovery_ms", span_ms(d->back_us, d->recovered_us), 3);
		fputc('}', f);
	}
	fprintf(f, "],\n");
}

static void write_expectations(FILE *f, const struct braid_sim_scenario *sc,
			       const struct braid_sim_metrics *m)
{
	size_t failed = 0;

	fprintf(f, " \"expectations\":[");
	for (size_t i = 0; i < sc->expect_count; i++) {
		const struct braid_sim_expect *ex = &sc->expects[i];
		double v;
		bool ok = expect_holds(ex, m, &v);

		failed += !ok;
		fprintf(f, "%s\n  {\"line\":%u,", i ? "," : "", ex->line);
		str(f, "expect", ex->text);
		fputc(',', f);
		num(f, "value", v, 6);
		fprintf(f, ",\"pass\":%s}", ok ? "true" : "false");
	}
	fprintf(f, "],\n \"expectations_failed\":%zu", failed);
}

static void write_bound(FILE *f, const struct braid_sim_bound *b,
			const struct braid_sim_metrics *m)
{
	fprintf(f, " \"bound\":{");
	num(f, "rate_mbps", b->unlimited ? NAN : b->rate_bps / 1e6, 3);
	fprintf(f, ",\"unlimited\":%s,\"opportunities\":%llu,", b->unlimited ? "true" : "false",
		(unsigned long long)b->opportunities);
	num(f, "max_loss", BRAID_SIM_LOSSLESS, 6);
	fputc(',', f);
	num(f, "carried_mbps", m->throughput_mbps, 3);
	fprintf(f, ",\"lossless\":%s,", braid_sim_lossless(m) ? "true" : "false");
	num(f, "share", braid_sim_bound_share(b, m), 4);
	fprintf(f, "},\n");
}

int braid_sim_write_json(FILE *f, const struct braid_sim_scenario *sc,
			 const struct braid_sim_metrics *m, const struct braid_sim_bound *bound,
			 double wall_s)
{
	fputc('{', f);
	str(f, "scenario", sc->name);
	fprintf(f, ",\"seed\":%llu,", (unsigned long long)sc->seed);
	str(f, "mode", braid_mode_name(sc->sender.mode));
	fputc(',', f);
	num(f, "latency_ms", (double)sc->sender.latency_us / 1000.0, 3);
	fputc(',', f);
	num(f, "simulated_s", m->simulated_s, 3);
	fprintf(f, ",\"stuck\":%s,\n", m->stuck ? "true" : "false");
	write_stream(f, sc, m);
	write_links(f, sc, m);
	write_failovers(f, m);
	fprintf(f, " \"continuity\":{");
	num(f, "bucket_ms", m->bucket_ms, 1);
	fprintf(f, ",\"buckets\":%llu,\"whole_buckets\":%llu,\"gaps\":%llu,",
		(unsigned long long)m->buckets, (unsigned long long)m->whole_buckets,
		(unsigned long long)m->gaps);
	num(f, "longest_gap_ms", m->longest_gap_ms, 3);
	fprintf(f, "},\n");
	if (bound)
		write_bound(f, bound, m);
	write_expectations(f, sc, m);
	if (wall_s >= 0) {
		fprintf(f, ",\n \"wall\":{");
		num(f, "seconds", wall_s, 3);
		fputc(',', f);
		num(f, "sim_to_real", wall_s > 0 ? m->simulated_s / wall_s : NAN, 1);
		fputc('}', f);
	}
	fprintf(f, "}\n");
	return ferror(f) ? BRAID_ERR_IO : 0;
}
