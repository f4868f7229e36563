/* The virtual-time simulator: known answers on simple links, determinism, failover
 * measurement, the scenario format (sim statements, expectations, errors), synthetic traces
 * and --traces replacement. Expected values come from the scenario's own numbers (rates,
 * delays, budgets), never from a previous run. */
#include "harness.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "braid/error.h"
#include "sim/sim.h"
#include "sim/sim_internal.h"

#define MS 1000.0

struct run {
	struct braid_sim_scenario sc;
	struct braid_sim *sim;
	const struct braid_sim_metrics *m;
	char err[512];
};

/* Parses and runs a scenario text; false (and a failed check) when it does not run. */
static bool run_text(struct run *r, const char *text)
{
	braid_sim_scenario_init(&r->sc);
	r->sim = NULL;
	r->m = NULL;
	snprintf(r->sc.name, sizeof(r->sc.name), "test");
	if (braid_sim_scenario_parse(&r->sc, text, "test", NULL, r->err, sizeof(r->err))) {
		fprintf(stderr, "scenario: %s\n", r->err);
		CHECK(false);
		return false;
	}
	r->sim = braid_sim_new(&r->sc, r->err, sizeof(r->err));
	CHECK(r->sim != NULL);
	if (!r->sim)
		return false;
	CHECK_EQ(braid_sim_run(r->sim), 0);
	r->m = braid_sim_metrics(r->sim);
	return true;
}

static void run_free(struct run *r)
{
	braid_sim_free(r->sim);
	braid_sim_scenario_free(&r->sc);
}

/* One fast constant link without loss: everything arrives, once, and is released exactly
 * the budget plus the one-way delay (plus one datagram's serialization) after it was sent.
 * The link keys have no listen= or to=: the simulator does not need them. */
static void test_known_answer(void)
{
	const double budget_ms = 300, delay_ms = 25, rate_bps = 100e6, stream_bps = 2e6;
	const double payload = 1000, wire = payload + 16;
	struct run r;

	if (!run_text(&r, "link only rate=100mbit,delay=25ms\n"
			  "stream rate=2mbit packet=1000 duration=5s start=500ms\n"
			  "sender mode=broadcast latency=300ms\n"))
		return;
	const struct braid_sim_metrics *m = r.m;
	uint64_t expected = (uint64_t)(5.0 * stream_bps / (payload * 8));
	double added = budget_ms + delay_ms + wire * 8 / rate_bps * MS;

	CHECK_EQ_U64(m->sent, expected);
	CHECK_EQ_U64(m->delivered, m->sent);
	CHECK_EQ_U64(m->lost, 0);
	CHECK_EQ_U64(m->late, 0);
	CHECK_EQ_U64(m->out_of_order, 0);
	CHECK_EQ_U64(m->corrupt, 0);
	CHECK_NEAR(m->residual_loss, 0, 0);
	CHECK_EQ_U64(m->retransmitted, 0);
	CHECK_NEAR(m->latency_min_ms, added, 1);
	CHECK_NEAR(m->latency_median_ms, added, 1);
	CHECK_NEAR(m->latency_max_ms, added, 1);
	CHECK_NEAR(m->throughput_mbps, stream_bps / 1e6, 0.001);
	CHECK_EQ(m->link_count, 1);
	CHECK_NEAR(m->links[0].throughput_mbps, stream_bps / 1e6, 0.001);
	CHECK_EQ_U64(m->links[0].packets, expected);
	CHECK_EQ_U64(m->links[0].lost, 0);
	CHECK_EQ(m->links[0].down_events, 0);
	CHECK_NEAR(m->links[0].mean_rtt_ms, 2 * delay_ms, 1);
	CHECK_EQ(m->failover_count, 0);
	CHECK_EQ_U64(m->gaps, 0);
	CHECK_EQ_U64(m->whole_buckets, m->buckets);
	CHECK(m->buckets >= 50); /* 5 s of 100 ms buckets */
	CHECK(!m->stuck);
	run_free(&r);
}

/* The sender's clock 250 ppm fast, then slow, for two hours: the sender core really
 * reads the drifted clock (0.9 s apart after an hour, and the way back to the true time is
 * the first instant it reads a value), and the receiver still releases every packet the
 * budget after its send time plus the path. */
static void test_clock_drift(void)
{
	static const char *const texts[] = {
		"link a rate=10mbit,delay=25ms\nstream rate=40kbit packet=1000 duration=7200s "
		"start=1s\nsender latency=500ms probe=200ms clock_drift=+250ppm\n",
		"link a rate=10mbit,delay=25ms\nstream rate=40kbit packet=1000 duration=7200s "
		"start=1s\nsender latency=500ms probe=200ms clock_drift=-250ppm\n",
	};
	for (int i = 0; i < 2; i++) {
		struct run r;
		double sign = i == 0 ? 1 : -1;

		if (!run_text(&r, texts[i]))
			return;
		uint64_t hour = SIM_BASE_US + UINT64_C(3600000000);
		CHECK_EQ_U64(sim_sender_clock(r.sim, hour), hour + (uint64_t)(sign * 900000));
		r.sim->now = SIM_BASE_US;
		for (uint64_t t = 1; t < UINT64_C(1) << 40; t = t * 3 + 7) {
			uint64_t back = sim_true_time(r.sim, SIM_BASE_US + t);
			CHECK(sim_sender_clock(r.sim, back) >= SIM_BASE_US + t);
			CHECK(sim_sender_clock(r.sim, back - 1) < SIM_BASE_US + t);
		}
		const struct braid_sim_metrics *m = r.m;
		printf("clock %+.0f ppm: release %.3f..%.3f ms after the %.3f ms path\n",
		       m->clock_drift_ppm, m->over_path_min_ms, m->over_path_max_ms,
		       m->fastest_path_ms);
		CHECK_NEAR(m->clock_drift_ppm, sign * 250, 0);
		CHECK_EQ_U64(m->delivered, m->sent);
		CHECK_EQ_U64(m->late, 0);
		CHECK_NEAR(m->fastest_path_ms, 25 + 1016 * 8 / 10e6 * MS, 0.01);
		CHECK(m->over_path_min_ms >= 499 && m->over_path_max_ms <= 501);
		CHECK(m->budget_error_ms <= 1);
		run_free(&r);
	}
}

static char *json_of(struct run *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	CHECK_EQ(braid_sim_write_json(f, &r->sc, r->m, NULL, -1), 0);
	fclose(f);
	return text;
}

static const char lossy[] =
	"link a ou=6mbit:2mbit:0.5:1mbit,delay=30ms,jitter=5ms,queue=200ms,loss=ge:2%:20%:100%:0%\n"
	"link b rate=4mbit,delay=50ms,loss=3%,rev.loss=3%\n"
	"at 2s b rate=2mbit\n"
	"at 3s a blackhole on\n"
	"at 3500ms a blackhole off\n"
	"stream rate=3mbit duration=6s\n"
	"sender mode=roundrobin latency=400ms\n";

/* Same scenario and seed: the same metrics, byte for byte; another seed: other losses. */
static void test_determinism(void)
{
	char text[1024];
	char *first = NULL, *second = NULL, *other = NULL;
	struct run r;

	for (int i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "%sseed %d\n", lossy, i == 2 ? 8 : 7);
		if (!run_text(&r, text))
			break;
		char *json = json_of(&r);
		CHECK(r.m->lost > 0); /* roundrobin over lossy links: something is lost */
		*(i == 0 ? &first : i == 1 ? &second : &other) = json;
		run_free(&r);
	}
	CHECK(first && second && other);
	if (first && second && other) {
		CHECK(strcmp(first, second) == 0);
		CHECK(strcmp(first, other) != 0);
		CHECK(strstr(first, "\"wall\"") == NULL);
	}
	free(first);
	free(second);
	free(other);
}

/* A blackhole and a scheduled outage: each death is found, detected after about three
 * probe intervals of silence, and the link carries data again after it comes back, while
 * broadcast on the other link keeps the output whole. */
static void test_failover_detection(void)
{
	struct run r;

	if (!run_text(&r, "link a rate=20mbit,delay=20ms,outage=5s+2s\n"
			  "link b rate=20mbit,delay=30ms\n"
			  "at 2s b blackhole on\n"
			  "at 3500ms b blackhole off\n"
			  "stream rate=4mbit duration=9s\n"
			  "sender mode=broadcast latency=500ms probe=50ms down_after=3\n"))
		return;
	const struct braid_sim_metrics *m = r.m;

	CHECK_EQ(m->failover_count, 2);
	CHECK_EQ_U64(m->failovers_detected, 2);
	CHECK_EQ_U64(m->spurious_downs, 0);
	CHECK_EQ_U64(m->residual_loss, 0);
	for (size_t i = 0; i < m->failover_count && i < 2; i++) {
		const struct braid_sim_failover *f = &m->failovers[i];
		double detection = (double)(f->detected_us - f->dead_us) / MS;

		/* silence of 150 ms after the last reply, which left before the death */
		CHECK(detection >= 100 && detection <= 250);
		CHECK(f->back_us != UINT64_MAX && f->recovered_us != UINT64_MAX);
		CHECK(f->usable_us >= f->back_us && f->recovered_us >= f->back_us);
		CHECK((double)(f->recovered_us - f->back_us) / MS < 500);
	}
	if (m->failover_count == 2) {
		CHECK(strcmp(m->failovers[0].link, "b") == 0);
		CHECK_EQ_U64(m->failovers[0].dead_us, 2000000);
		CHECK_EQ_U64(m->failovers[0].back_us, 3500000);
		CHECK(strcmp(m->failovers[1].link, "a") == 0);
		CHECK_EQ_U64(m->failovers[1].dead_us, 5000000);
		CHECK_EQ_U64(m->failovers[1].back_us, 7000000);
	}
	CHECK_EQ(m->links[0].down_events, 1);
	CHECK_EQ(m->links[1].down_events, 1);
	CHECK(m->max_detection_ms >= 100 && m->max_detection_ms <= 250);
	run_free(&r);
}

/* Settings changes halfway. A longer forward delay, within the budget, changes nothing in
 * the release timing (the receiver releases on the sender's clock) while the sender sees
 * the RTT grow; a rate cut on one link of two leaves the other carrying the stream. */
static void test_settings_events(void)
{
	const double budget_ms = 1000, delay_ms = 10;
	struct run r;

	if (!run_text(&r, "link a rate=50mbit,delay=10ms\n"
			  "at 3s a delay=200ms\n"
			  "stream rate=2mbit duration=6s start=500ms\n"
			  "sender mode=broadcast\n"))
		return;
	double added = budget_ms + delay_ms + 1332 * 8 / 50e6 * MS;

	CHECK_EQ_U64(r.m->lost, 0);
	CHECK_NEAR(r.m->latency_min_ms, added, 1);
	CHECK_NEAR(r.m->latency_max_ms, added, 1);
	/* RTT 20 ms for half the run, 210 ms (the return path keeps 10 ms) for the rest */
	CHECK(r.m->links[0].mean_rtt_ms > 60 && r.m->links[0].mean_rtt_ms < 190);
	run_free(&r);

	if (!run_text(&r, "link a rate=10mbit,delay=10ms,queue=100ms\n"
			  "link b rate=10mbit,delay=20ms\n"
			  "at 2500ms a rate=1mbit\n"
			  "stream rate=2mbit duration=4s start=500ms\n"
			  "sender mode=broadcast\n"))
		return;
	CHECK_EQ_U64(r.m->lost, 0);
	CHECK_NEAR(r.m->links[1].throughput_mbps, 2.0, 0.01);
	/* a: all of the first 2 s, then at most 1 Mbit/s of wire (and the drain's backlog) */
	CHECK(r.m->links[0].throughput_mbps < (2 * 2.0 + 2.2 * 1.0) / 4);
	CHECK(r.m->links[0].throughput_mbps > 2 * 2.0 / 4);
	CHECK(r.m->links[0].lost > 100);
	CHECK_EQ_U64(r.m->links[1].lost, 0);
	run_free(&r);
}

static void test_expectations(void)
{
	struct braid_sim_scenario sc;
	char err[512];
	bool pass[5];
	double v;

	braid_sim_scenario_init(&sc);
	CHECK_EQ(braid_sim_scenario_parse(&sc, "link a rate=10mbit\n"
					  "stream rate=1mbit packet=1250 duration=2s\n"
					  "sender mode=broadcast\n"
					  "expect stream.sent == 200\n"
					  "expect residual_loss > 0\n"
					  "expect link.a.throughput_mbps >= 0.99\n"
					  "expect failover.max_detection_ms <= 100\n"
					  "expect link.a.down_events != 0\n", "t", NULL, err,
					  sizeof(err)), 0);
	CHECK_EQ(sc.expect_count, 5);
	struct braid_sim *sim = braid_sim_new(&sc, err, sizeof(err));
	CHECK(sim != NULL);
	if (sim) {
		braid_sim_run(sim);
		const struct braid_sim_metrics *m = braid_sim_metrics(sim);
		/* the second fails, the fourth has nothing to measure, the fifth is false */
		CHECK_EQ(braid_sim_check(&sc, m, pass), 3);
		CHECK(pass[0] && !pass[1] && pass[2] && !pass[3] && !pass[4]);
		CHECK_EQ(braid_sim_metric(m, "link.a.packets", &v), 0);
		CHECK_NEAR(v, 200, 0);
		CHECK_EQ(braid_sim_metric(m, "link.b.packets", &v), BRAID_ERR_INVAL);
		CHECK_EQ(braid_sim_metric(m, "stream.nothing", &v), BRAID_ERR_INVAL);
		CHECK_EQ(sc.expects[1].line, 5);
		braid_sim_free(sim);
	}
	braid_sim_scenario_free(&sc);
}

/* Each bad line is refused with its line number; the scenario is not half-taken. */
static void test_parse_errors(void)
{
	static const struct {
		const char *text, *needle;
	} cases[] = {
		{ "link a rate=1mbit\nstream rate=fast\n", "t:2: rate 'fast'" },
		{ "link a rate=1mbit\nexpect link.b.loss <= 1\n", "t:2: expect: unknown metric" },
		{ "link a rate=1mbit\nexpect loss ~ 1\n", "t:2:" },
		{ "link a rate=1mbit\nbogus 1\n", "t:2: 'bogus' is not" },
		{ "link a rate=1mbit\nat 1s a weight=2\n", "t:2: weight" },
		{ "link a rate=1mbit,weight=0\n", "t:1: weight '0'" },
		{ "link a rate=1mbit\nsender mode=fastest\n", "t:2: mode" },
		{ "link a rate=1mbit\nsender latency=5ms\n", "t:2: latency" },
		{ "link a rate=1mbit\nat 1s c rate=2mbit\n", "no link named 'c'" },
		{ "link a speed=1mbit\n", "t:1: unknown key 'speed'" },
		{ "link a listen=nowhere\n", "t:1: listen 'nowhere'" },
		{ "link a rate=1mbit\nsender redundancy=lots\n", "t:2: redundancy 'lots'" },
		{ "link a rate=1mbit\nsender clock_drift=fast\n", "t:2: clock_drift 'fast'" },
		{ "link a rate=1mbit\nsender clock_drift=2000ppm\n", "t:2: clock_drift '2000ppm'" },
		{ "link a rate=1mbit\nsender clock_drift=100\n", "t:2: clock_drift '100'" },
	};
	char err[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct braid_sim_scenario sc;

		braid_sim_scenario_init(&sc);
		err[0] = '\0';
		int rc = braid_sim_scenario_parse(&sc, cases[i].text, "t", NULL, err, sizeof(err));

		CHECK(rc < 0);
		if (!strstr(err, cases[i].needle)) {
			fprintf(stderr, "case %zu: '%s' lacks '%s'\n", i, err, cases[i].needle);
			CHECK(false);
		}
		braid_sim_scenario_free(&sc);
	}
	/* Accepted: listen/to given anyway (ignored), weights, priorities and sender keys. */
	struct braid_sim_scenario sc;
	braid_sim_scenario_init(&sc);
	CHECK_EQ(braid_sim_scenario_parse(&sc, "link a listen=127.0.0.1:7001,to=127.0.0.1:9000,"
					  "rate=1mbit,weight=3,priority=2\n"
					  "link b rate=2mbit\n"
					  "sender mode=backup,latency=2s probe=20ms "
					  "down_after=4 psk=k redundancy=20%\n"
					  "seed 42\n", "t", NULL, err, sizeof(err)), 0);
	CHECK_EQ(sc.link_options[0].weight, 3);
	CHECK_EQ(sc.link_options[0].priority, 2);
	CHECK_EQ(sc.link_options[1].priority, 1);
	CHECK_EQ(sc.sender.mode, BRAID_MODE_BACKUP);
	CHECK_EQ_U64(sc.sender.latency_us, 2000000);
	CHECK_EQ_U64(sc.sender.health.probe_interval_us, 20000);
	CHECK_EQ(sc.sender.health.down_after_missed, 4);
	CHECK_EQ_U64(sc.seed, 42);
	CHECK(strcmp(sc.psk_text, "k") == 0);
	CHECK_NEAR(sc.sender.redundancy, 0.2, 1e-9);
	braid_sim_scenario_free(&sc);
}

static size_t count_lines(const char *path, uint32_t *last)
{
	FILE *f = fopen(path, "r");
	size_t n = 0, bad = 0;
	unsigned long v, prev = 0;

	if (!f)
		return 0;
	while (fscanf(f, "%lu", &v) == 1) {
		bad += v < prev;
		prev = v;
		n++;
	}
	fclose(f);
	*last = (uint32_t)prev;
	CHECK_EQ(bad, 0);
	return n;
}

static bool write_trace_file(const char *path, double mean_bps, uint64_t seconds)
{
	struct braid_ou_settings ou = { .mean_bps = mean_bps, .sigma_bps = 0, .theta = 1,
					.update_us = 100000 };
	FILE *f = fopen(path, "w");
	int rc;

	if (!f)
		return false;
	rc = braid_sim_write_trace(f, &ou, seconds * 1000000, 5);
	fclose(f);
	CHECK_EQ(rc, 0);
	return rc == 0;
}

/* A constant-rate synthetic trace has rate / 12000 opportunities per second, ends on its
 * period, and a link replaying it delivers about that rate when fed more. */
static void test_trace_writer(char *dir)
{
	char path[128], text[1024];
	uint32_t last = 0;
	struct run r;

	snprintf(path, sizeof(path), "%.80s/const.up", dir);
	if (!write_trace_file(path, 3e6, 10))
		return;
	CHECK_NEAR((double)count_lines(path, &last), 10 * 3e6 / 12000 + 1, 3);
	CHECK_EQ(last, 10000);
	snprintf(text, sizeof(text), "link t trace=%.120s,delay=20ms,queue=200ms\n"
		 "stream rate=2mbit duration=10s\nsender mode=broadcast\n", path);
	if (!run_text(&r, text))
		return;
	CHECK_EQ_U64(r.m->lost, 0);
	CHECK_NEAR(r.m->links[0].throughput_mbps, 2.0, 0.01);
	run_free(&r);
	/* fed 4 Mbit/s, it loses about 1 - 3/4 of the stream; resends can only lower that */
	snprintf(text, sizeof(text), "link t trace=%.120s,delay=20ms,queue=200ms\n"
		 "stream rate=4mbit duration=10s\nsender mode=broadcast\n", path);
	if (!run_text(&r, text))
		return;
	CHECK(r.m->residual_loss > 0.1 && r.m->residual_loss < 1 - 3.0 * 1316 / 1332 / 4 + 0.01);
	CHECK(strcmp(r.sc.link_options[0].trace, "const.up") == 0);
	run_free(&r);
}

/* --traces: the i-th trace link takes the i-th NAME.up in name order, and NAME.down for
 * its return path when there is one. */
static void test_use_traces(char *dir)
{
	char path[128], sub[96];
	struct braid_sim_scenario sc;
	char err[512], text[1024];

	snprintf(sub, sizeof(sub), "%.60s/real", dir);
	mkdir(sub, 0700);
	snprintf(path, sizeof(path), "%.80s/b.up", sub);
	write_trace_file(path, 2e6, 2);
	snprintf(path, sizeof(path), "%.80s/a.up", sub);
	write_trace_file(path, 1e6, 3);
	snprintf(path, sizeof(path), "%.80s/a.down", sub);
	write_trace_file(path, 4e6, 1);
	snprintf(path, sizeof(path), "%.80s/const.up", dir);
	snprintf(text, sizeof(text),
		 "link x rate=1mbit\nlink y trace=%.120s\nlink z trace=%.120s\n", path, path);
	braid_sim_scenario_init(&sc);
	CHECK_EQ(braid_sim_scenario_parse(&sc, text, "t", NULL, err, sizeof(err)), 0);
	CHECK_EQ(braid_sim_scenario_use_traces(&sc, sub, err, sizeof(err)), 0);
	CHECK(strcmp(sc.link_options[1].trace, "a.up") == 0);
	CHECK(strcmp(sc.link_options[2].trace, "b.up") == 0);
	CHECK_EQ(sc.emu.links[0].fwd.rate_kind, BRAID_RATE_CONSTANT);
	if (sc.emu.link_count == 3) {
		CHECK_EQ(sc.emu.links[1].fwd.trace_ms[sc.emu.links[1].fwd.trace_len - 1], 3000);
		CHECK_EQ(sc.emu.links[1].rev.rate_kind, BRAID_RATE_TRACE);
		CHECK_EQ(sc.emu.links[1].rev.trace_ms[sc.emu.links[1].rev.trace_len - 1], 1000);
		CHECK_EQ(sc.emu.links[2].fwd.trace_ms[sc.emu.links[2].fwd.trace_len - 1], 2000);
		CHECK_EQ(sc.emu.links[2].rev.rate_kind, BRAID_RATE_UNLIMITED);
	}
	braid_sim_scenario_free(&sc);
	/* three trace links, two files: refused */
	snprintf(text, sizeof(text),
		 "link x trace=%.120s\nlink y trace=%.120s\nlink z trace=%.120s\n", path, path,
		 path);
	braid_sim_scenario_init(&sc);
	CHECK_EQ(braid_sim_scenario_parse(&sc, text, "t", NULL, err, sizeof(err)), 0);
	CHECK(braid_sim_scenario_use_traces(&sc, sub, err, sizeof(err)) < 0);
	CHECK(strstr(err, "2 *.up files") != NULL);
	braid_sim_scenario_free(&sc);
	snprintf(path, sizeof(path), "%.80s/a.up", sub);
	unlink(path);
	snprintf(path, sizeof(path), "%.80s/b.up", sub);
	unlink(path);
	snprintf(path, sizeof(path), "%.80s/a.down", sub);
	unlink(path);
	rmdir(sub);
}

/* The plot is produced after any run, and names each link. */
static void test_svg(void)
{
	struct run r;
	char *text = NULL;
	size_t len = 0;

	if (!run_text(&r, lossy))
		return;
	FILE *f = open_memstream(&text, &len);
	if (f) {
		CHECK_EQ(braid_sim_write_svg(f, r.sim), 0);
		fclose(f);
	}
	CHECK(text && strncmp(text, "<?xml", 5) == 0);
	CHECK(text && strstr(text, "</svg>") && strstr(text, ">a</text>") &&
	      strstr(text, ">b</text>") && strstr(text, "b rate=2mbit"));
	free(text);
	run_free(&r);
}

int main(void)
{
	char dir[] = "/tmp/braid-test-sim-XXXXXX";

	RUN_TEST(test_known_answer);
	RUN_TEST(test_clock_drift);
	RUN_TEST(test_determinism);
	RUN_TEST(test_failover_detection);
	RUN_TEST(test_settings_events);
	RUN_TEST(test_expectations);
	RUN_TEST(test_parse_errors);
	RUN_TEST(test_svg);
	if (mkdtemp(dir)) {
		char path[128];

		braid_test_current = "test_trace_writer";
		test_trace_writer(dir);
		braid_test_current = "test_use_traces";
		test_use_traces(dir);
		snprintf(path, sizeof(path), "%.80s/const.up", dir);
		unlink(path);
		rmdir(dir);
	} else {
		CHECK(false);
	}
	return braid_test_finish();
}
