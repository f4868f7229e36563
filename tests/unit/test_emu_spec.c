/* The emulator's link specs, units, traces, scenario files and commands, and a short loopback
 * run of one relay for what events and reconfiguration do to it. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "emu/relay.h"
#include "scenario/files.h"
#include "braid/error.h"
#include "io/udp.h"
#include "harness.h"

static char err[640];

static bool has(const char *text, const char *part)
{
	bool found = strstr(text, part) != NULL;

	if (!found)
		fprintf(stderr, "  expected '%s' in '%s'\n", part, text);
	return found;
}

/* Writes text to a new temporary file; path must hold 32 bytes. */
static void temp_file(char *path, const char *text)
{
	int fd;

	strcpy(path, "/tmp/braid_emu_XXXXXX");
	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
	close(fd);
}

/* ---- units ---- */

static void test_units(void)
{
	double v = 0;
	uint64_t u = 0;

	CHECK_EQ(braid_emu_parse_rate("8mbit", &v), 0);
	CHECK_NEAR(v, 8e6, 1e-6);
	CHECK_EQ(braid_emu_parse_rate("1.5kbit", &v), 0);
	CHECK_NEAR(v, 1500, 1e-9);
	CHECK_EQ(braid_emu_parse_rate("2Gbit", &v), 0);
	CHECK_NEAR(v, 2e9, 1e-3);
	CHECK_EQ(braid_emu_parse_rate("300bit", &v), 0);
	CHECK_NEAR(v, 300, 1e-9);
	CHECK_EQ(braid_emu_parse_rate("8mbps", &v), BRAID_ERR_INVAL);
	CHECK_EQ(braid_emu_parse_rate("8", &v), BRAID_ERR_INVAL);
	CHECK_EQ(braid_emu_parse_rate("-1mbit", &v), BRAID_ERR_INVAL);
	CHECK_EQ(braid_emu_parse_rate("mbit", &v), BRAID_ERR_INVAL);
	CHECK_EQ(braid_emu_parse_rate("nanmbit", &v), BRAID_ERR_INVAL);

	CHECK_EQ(braid_emu_parse_duration("40ms", &u), 0);
	CHECK_EQ_U64(u, 40000);
	CHECK_EQ(braid_emu_parse_duration("250us", &u), 0);
	CHECK_EQ_U64(u, 250);
	CHECK_EQ(braid_emu_parse_duration("1.5s", &u), 0);
	CHECK_EQ_U64(u, 1500000);
	CHECK_EQ(braid_emu_parse_duration("0", &u), 0);
	CHECK_EQ_U64(u, 0);
	CHECK_EQ(braid_emu_parse_duration("40", &u), BRAID_ERR_INVAL);
	CHECK_EQ(braid_emu_parse_duration("ms", &u), BRAID_ERR_INVAL);
	CHECK_EQ(braid_emu_parse_duration("-5ms", &u), BRAID_ERR_INVAL);
	CHECK_EQ(braid_emu_parse_duration("5min", &u), BRAID_ERR_INVAL);

	CHECK_EQ(braid_emu_parse_percent("1%", &v), 0);
	CHECK_NEAR(v, 0.01, 1e-12);
	CHECK_EQ(braid_emu_parse_percent("100%", &v), 0);
	CHECK_NEAR(v, 1.0, 1e-12);
	CHECK_EQ(braid_emu_parse_percent("0.5%", &v), 0);
	CHECK_NEAR(v, 0.005, 1e-12);
	CHECK_EQ(braid_emu_parse_percent("101%", &v), BRAID_ERR_INVAL);
	CHECK_EQ(braid_emu_parse_percent("1", &v), BRAID_ERR_INVAL);
	CHECK_EQ(braid_emu_parse_percent("1%%", &v), BRAID_ERR_INVAL);

	CHECK_EQ(braid_emu_parse_size("64kb", &u), 0);
	CHECK_EQ_U64(u, 65536);
	CHECK_EQ(braid_emu_parse_size("1500b", &u), 0);
	CHECK_EQ_U64(u, 1500);
	CHECK_EQ(braid_emu_parse_size("2mb", &u), 0);
	CHECK_EQ_U64(u, 2097152);
	CHECK_EQ(braid_emu_parse_size("2mbit", &u), BRAID_ERR_INVAL);
}

/* ---- link specs ---- */

static void test_minimal(void)
{
	struct braid_emu_link_config c;
	char a[64];

	CHECK_EQ(braid_emu_parse_link("listen=127.0.0.1:0,to=127.0.0.1:5000", 2, &c, err,
				      sizeof(err)), 0);
	CHECK(strcmp(c.name, "link3") == 0);
	CHECK(strcmp(c.listen_text, "127.0.0.1:0") == 0 && strcmp(c.to_text, "127.0.0.1:5000") == 0);
	CHECK(c.listen.len == 0 && c.to.len == 0); /* the parser looks nothing up */
	CHECK_EQ(braid_emu_resolve(&c, err, sizeof(err)), 0);
	CHECK(strcmp(braid_addr_format(&c.listen, a, sizeof(a)), "127.0.0.1:0") == 0);
	CHECK(strcmp(braid_addr_format(&c.to, a, sizeof(a)), "127.0.0.1:5000") == 0);
	CHECK_EQ(c.fwd.rate_kind, BRAID_RATE_UNLIMITED);
	CHECK_EQ(c.fwd.loss_kind, BRAID_LOSS_NONE);
	CHECK_EQ_U64(c.fwd.delay_us, 0);
	CHECK_EQ(c.rev.rate_kind, BRAID_RATE_UNLIMITED);
	CHECK_EQ_U64(c.fwd.seed, 3);
	CHECK(c.rev.seed != c.fwd.seed);
	CHECK(c.fwd_trace == NULL && c.rev_trace == NULL);
	braid_emu_link_config_free(&c);
}

static void test_every_key(void)
{
	struct braid_emu_link_config c;

	CHECK_EQ(braid_emu_parse_link("name=lte1,listen=:7000,to=127.0.0.1:5000,rate=8mbit,"
				      "delay=40ms,jitter=10ms,reorder=on,loss=1%,queue=200ms,"
				      "queue=64kb,duplicate=0.5%,outage=10s+5s,outage=30s+500ms,"
				      "seed=42", 0, &c, err, sizeof(err)), 0);
	CHECK(strcmp(c.name, "lte1") == 0);
	CHECK_EQ(braid_emu_resolve(&c, err, sizeof(err)), 0);
	CHECK_EQ(braid_addr_port(&c.listen), 7000);
	CHECK_EQ(c.fwd.rate_kind, BRAID_RATE_CONSTANT);
	CHECK_NEAR(c.fwd.rate_bps, 8e6, 1e-6);
	CHECK_EQ_U64(c.fwd.delay_us, 40000);
	CHECK_EQ_U64(c.fwd.jitter_us, 10000);
	CHECK(c.fwd.reorder);
	CHECK_EQ(c.fwd.loss_kind, BRAID_LOSS_RANDOM);
	CHECK_NEAR(c.fwd.loss, 0.01, 1e-12);
	CHECK_EQ_U64(c.fwd.queue_us, 200000);
	CHECK_EQ_U64(c.fwd.queue_bytes, 65536);
	CHECK_NEAR(c.fwd.duplicate, 0.005, 1e-12);
	CHECK_EQ(c.fwd.outage_count, 2);
	CHECK_EQ_U64(c.fwd.outages[0].start_us, 10000000);
	CHECK_EQ_U64(c.fwd.outages[0].duration_us, 5000000);
	CHECK_EQ_U64(c.fwd.outages[1].start_us, 30000000);
	CHECK_EQ_U64(c.fwd.outages[1].duration_us, 500000);
	CHECK_EQ_U64(c.fwd.seed, 42);
	/* The return path: same delay, jitter, reorder and outages; no rate, loss or queue. */
	CHECK_EQ_U64(c.rev.delay_us, 40000);
	CHECK_EQ_U64(c.rev.jitter_us, 10000);
	CHECK(c.rev.reorder);
	CHECK_EQ(c.rev.outage_count, 2);
	CHECK_EQ_U64(c.rev.outages[1].start_us, 30000000);
	CHECK_EQ(c.rev.rate_kind, BRAID_RATE_UNLIMITED);
	CHECK_EQ(c.rev.loss_kind, BRAID_LOSS_NONE);
	CHECK_EQ_U64(c.rev.queue_us, 0);
	CHECK_NEAR(c.rev.duplicate, 0, 0);
	CHECK(c.rev.seed != 42);
	braid_emu_link_config_free(&c);
}

static void test_ge_and_ou(void)
{
	struct braid_emu_link_config c;

	CHECK_EQ(braid_emu_parse_link("listen=:0,to=127.0.0.1:9,loss=ge:1%:10%:100%:0%,"
				      "ou=8mbit:2mbit:0.5:1mbit:12mbit", 0, &c, err,
				      sizeof(err)), 0);
	CHECK_EQ(c.fwd.loss_kind, BRAID_LOSS_GE);
	CHECK_NEAR(c.fwd.ge.p, 0.01, 1e-12);
	CHECK_NEAR(c.fwd.ge.r, 0.10, 1e-12);
	CHECK_NEAR(c.fwd.ge.loss_bad, 1.0, 1e-12);
	CHECK_NEAR(c.fwd.ge.loss_good, 0.0, 1e-12);
	CHECK_EQ(c.fwd.rate_kind, BRAID_RATE_OU);
	CHECK_NEAR(c.fwd.ou.mean_bps, 8e6, 1e-6);
	CHECK_NEAR(c.fwd.ou.sigma_bps, 2e6, 1e-6);
	CHECK_NEAR(c.fwd.ou.theta, 0.5, 1e-12);
	CHECK_NEAR(c.fwd.ou.floor_bps, 1e6, 1e-6);
	CHECK_NEAR(c.fwd.ou.ceiling_bps, 12e6, 1e-6);
	CHECK(c.fwd.ou.update_us > 0);
	braid_emu_link_config_free(&c);

	CHECK_EQ(braid_emu_parse_link("listen=:0,to=127.0.0.1:9,ou=8mbit:0:2", 0, &c, err,
				      sizeof(err)), 0);
	CHECK_NEAR(c.fwd.ou.sigma_bps, 0, 0);
	CHECK_NEAR(c.fwd.ou.floor_bps, 0, 0);
	CHECK_NEAR(c.fwd.ou.ceiling_bps, 0, 0);
	braid_emu_link_config_free(&c);
}

static void test_rev_keys(void)
{
	struct braid_emu_link_config c;

	/* rev= before the forward keys it would otherwise inherit: order does not matter. */
	CHECK_EQ(braid_emu_parse_link("rev=delay=10ms;loss=2%;rate=1mbit,listen=:0,"
				      "to=127.0.0.1:9,delay=40ms,jitter=5ms,rev.outage=1s+1s,"
				      "outage=5s+1s", 0, &c, err, sizeof(err)), 0);
	CHECK_EQ_U64(c.fwd.delay_us, 40000);
	CHECK_EQ_U64(c.rev.delay_us, 10000);
	CHECK_EQ_U64(c.rev.jitter_us, 5000);
	CHECK_EQ(c.rev.loss_kind, BRAID_LOSS_RANDOM);
	CHECK_NEAR(c.rev.loss, 0.02, 1e-12);
	CHECK_EQ(c.rev.rate_kind, BRAID_RATE_CONSTANT);
	CHECK_NEAR(c.rev.rate_bps, 1e6, 1e-6);
	CHECK_EQ(c.fwd.loss_kind, BRAID_LOSS_NONE);
	CHECK_EQ(c.fwd.rate_kind, BRAID_RATE_UNLIMITED);
	/* The return path's own outage replaces the copied one. */
	CHECK_EQ(c.fwd.outage_count, 1);
	CHECK_EQ(c.rev.outage_count, 1);
	CHECK_EQ_U64(c.rev.outages[0].start_us, 1000000);
	braid_emu_link_config_free(&c);

	CHECK_EQ(braid_emu_parse_link("listen=:0,to=127.0.0.1:9,outage=2s+1s,rev.outage=none", 0,
				      &c, err, sizeof(err)), 0);
	CHECK_EQ(c.fwd.outage_count, 1);
	CHECK_EQ(c.rev.outage_count, 0);
	braid_emu_link_config_free(&c);
}

static void expect_bad(const char *spec, const char *named)
{
	struct braid_emu_link_config c;
	int rc = braid_emu_parse_link(spec, 0, &c, err, sizeof(err));

	CHECK(rc < 0);
	CHECK(has(err, named));
}

static void test_bad_values(void)
{
	static const char base[] = "listen=:0,to=127.0.0.1:9,";
	static const struct { const char *keys, *named; } cases[] = {
		{ "rate=8mbps", "rate" },        { "rate=0bit", "rate" },
		{ "rate=fast", "rate" },         { "ou=8mbit:2mbit", "ou" },
		{ "ou=8mbit:2mbit:0", "ou" },    { "ou=8mbit:2mbit:x", "ou" },
		{ "ou=8mbit:1mbit:1:5mbit:2mbit", "ou" },
		{ "trace=/nonexistent/trace", "trace" },
		{ "delay=40", "delay" },         { "delay=61s", "delay" },
		{ "jitter=-1ms", "jitter" },     { "reorder=yes", "reorder" },
		{ "loss=1", "loss" },            { "loss=150%", "loss" },
		{ "loss=ge:1%:10%:100%", "loss" }, { "loss=ge:1%:10%:100%:0", "loss" },
		{ "queue=fast", "queue" },       { "queue=2mbit", "queue" },
		{ "duplicate=2", "duplicate" },  { "outage=10s", "outage" },
		{ "outage=10s+0", "outage" },    { "outage=x+1s", "outage" },
		{ "seed=-3", "seed" },           { "seed=12ab", "seed" },
		{ "name=a,b", "b" },             { "name=*", "name" },
		{ "name=012345678901234567890123456789012", "name" },
		{ "to=nowhere", "to" },          { "listen=1.2.3.4:99999", "listen" },
		{ "colour=red", "colour" },      { "delay", "delay" },
		{ "rev=delay=40", "rev.delay" }, { "rev.loss=2", "rev.loss" },
		{ "rev=", "rev" },               { "rev=bogus=1", "rev.bogus" },
	};
	char spec[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(spec, sizeof(spec), "%s%s", base, cases[i].keys);
		expect_bad(spec, cases[i].named);
	}
	expect_bad("to=127.0.0.1:9", "listen");
	expect_bad("listen=:0", "to");
	expect_bad("", "empty");
	expect_bad("listen=:0,to=127.0.0.1:9,outage=1s+1s,outage=2s+1s,outage=3s+1s,"
		   "outage=4s+1s,outage=5s+1s,outage=6s+1s,outage=7s+1s,outage=8s+1s,"
		   "outage=9s+1s,outage=10s+1s,outage=11s+1s,outage=12s+1s,outage=13s+1s,"
		   "outage=14s+1s,outage=15s+1s,outage=16s+1s,outage=17s+1s", "at most 16");
}

static void test_apply_keys(void)
{
	struct braid_emu_link_config c;

	CHECK_EQ(braid_emu_parse_link("listen=:0,to=127.0.0.1:9,rate=8mbit,delay=40ms,loss=1%",
				      0, &c, err, sizeof(err)), 0);
	CHECK_EQ(braid_emu_apply_keys(&c, "rate=2mbit,rev=loss=5%", err, sizeof(err)), 0);
	CHECK_NEAR(c.fwd.rate_bps, 2e6, 1e-6);
	CHECK_EQ_U64(c.fwd.delay_us, 40000); /* untouched */
	CHECK_NEAR(c.fwd.loss, 0.01, 1e-12);
	CHECK_NEAR(c.rev.loss, 0.05, 1e-12);
	/* A change does not drag the return path along. */
	CHECK_EQ(braid_emu_apply_keys(&c, "delay=100ms", err, sizeof(err)), 0);
	CHECK_EQ_U64(c.fwd.delay_us, 100000);
	CHECK_EQ_U64(c.rev.delay_us, 40000);
	/* Refused changes leave everything as it was. */
	CHECK(braid_emu_apply_keys(&c, "rate=1mbit,listen=:5", err, sizeof(err)) < 0);
	CHECK(has(err, "listen"));
	CHECK(braid_emu_apply_keys(&c, "delay=1ms,loss=oops", err, sizeof(err)) < 0);
	CHECK(has(err, "loss"));
	CHECK_NEAR(c.fwd.rate_bps, 2e6, 1e-6);
	CHECK_EQ_U64(c.fwd.delay_us, 100000);
	CHECK_EQ(braid_emu_apply_keys(&c, "rate=none,loss=none,queue=none", err, sizeof(err)), 0);
	CHECK_EQ(c.fwd.rate_kind, BRAID_RATE_UNLIMITED);
	CHECK_EQ(c.fwd.loss_kind, BRAID_LOSS_NONE);
	braid_emu_link_config_free(&c);
}

/* ---- traces ---- */

static void test_traces(void)
{
	struct braid_emu_link_config c, copy;
	char path[32], bad[32], spec[160];
	uint32_t *ms;
	size_t len;

	temp_file(path, "1\n1\n3\n\n7\n12\n");
	CHECK_EQ(braid_emu_load_trace(path, &ms, &len, err, sizeof(err)), 0);
	CHECK_EQ(len, 5);
	if (len == 5) {
		CHECK_EQ(ms[0], 1);
		CHECK_EQ(ms[2], 3);
		CHECK_EQ(ms[4], 12);
	}
	free(ms);

	snprintf(spec, sizeof(spec), "listen=:0,to=127.0.0.1:9,trace=%s,rev.trace=%s", path, path);
	CHECK_EQ(braid_emu_parse_link(spec, 0, &c, err, sizeof(err)), 0);
	CHECK_EQ(c.fwd.rate_kind, BRAID_RATE_TRACE);
	CHECK_EQ(c.rev.rate_kind, BRAID_RATE_TRACE);
	CHECK(c.fwd.trace_ms == c.fwd_trace && c.fwd_trace != NULL);
	CHECK(c.rev.trace_ms == c.rev_trace && c.rev_trace != c.fwd_trace);
	CHECK_EQ(c.fwd.trace_len, 5);
	CHECK_EQ_U64(c.fwd.trace_offset_us, 0);
	/* The offset is its own key, each way, and outlives a change of trace. */
	CHECK_EQ(braid_emu_apply_keys(&c, "trace_offset=20s,rev.trace_offset=1500ms", err,
				      sizeof(err)), 0);
	CHECK_EQ_U64(c.fwd.trace_offset_us, 20000000);
	CHECK_EQ_U64(c.rev.trace_offset_us, 1500000);
	snprintf(spec, sizeof(spec), "trace=%s", path);
	CHECK_EQ(braid_emu_apply_keys(&c, spec, err, sizeof(err)), 0);
	CHECK_EQ_U64(c.fwd.trace_offset_us, 20000000);
	CHECK(braid_emu_apply_keys(&c, "trace_offset=soon", err, sizeof(err)) < 0);
	CHECK(has(err, "trace_offset 'soon'"));
	CHECK(braid_emu_apply_keys(&c, "trace_offset=-1s", err, sizeof(err)) < 0);
	CHECK_EQ_U64(c.fwd.trace_offset_us, 20000000);
	CHECK_EQ(braid_emu_link_config_copy(&copy, &c), 0);
	CHECK(copy.fwd_trace != c.fwd_trace && copy.fwd.trace_ms == copy.fwd_trace);
	CHECK(copy.fwd_trace && memcmp(copy.fwd_trace, c.fwd_trace, 5 * sizeof(uint32_t)) == 0);
	/* Leaving the trace for a rate releases it. */
	CHECK_EQ(braid_emu_apply_keys(&copy, "rate=1mbit", err, sizeof(err)), 0);
	CHECK(copy.fwd_trace == NULL && copy.fwd.trace_ms == NULL);
	CHECK(copy.rev_trace != NULL);
	braid_emu_link_config_free(&copy);
	braid_emu_link_config_free(&c);

	temp_file(bad, "1\n5\n3\n");
	CHECK(braid_emu_load_trace(bad, &ms, &len, err, sizeof(err)) < 0);
	CHECK(has(err, "line 3"));
	unlink(bad);
	temp_file(bad, "0\n0\n");
	CHECK(braid_emu_load_trace(bad, &ms, &len, err, sizeof(err)) < 0);
	unlink(bad);
	temp_file(bad, "1\nten\n");
	CHECK(braid_emu_load_trace(bad, &ms, &len, err, sizeof(err)) < 0);
	CHECK(has(err, "line 2"));
	unlink(bad);
	temp_file(bad, "");
	CHECK(braid_emu_load_trace(bad, &ms, &len, err, sizeof(err)) < 0);
	unlink(bad);
	unlink(path);
}

/* ---- scenarios and commands ---- */

static void test_commands(void)
{
	struct braid_emu_event ev;

	CHECK_EQ(braid_emu_parse_command("lte1 blackhole on", &ev, err, sizeof(err)), 0);
	CHECK(strcmp(ev.link, "lte1") == 0);
	CHECK_EQ(ev.action, BRAID_EMU_BLACKHOLE_ON);
	CHECK_EQ(braid_emu_parse_command("  wifi   blackhole   toggle \n", &ev, err,
					 sizeof(err)), 0);
	CHECK_EQ(ev.action, BRAID_EMU_BLACKHOLE_TOGGLE);
	CHECK_EQ(braid_emu_parse_command("lte1 blackhole off", &ev, err, sizeof(err)), 0);
	CHECK_EQ(ev.action, BRAID_EMU_BLACKHOLE_OFF);
	CHECK_EQ(braid_emu_parse_command("* rate=2mbit,rev=delay=5ms", &ev, err, sizeof(err)), 0);
	CHECK_EQ(ev.action, BRAID_EMU_SET);
	CHECK(strcmp(ev.link, "*") == 0);
	CHECK(strcmp(ev.keys, "rate=2mbit,rev=delay=5ms") == 0);
	CHECK(braid_emu_parse_command("lte1 blackhole maybe", &ev, err, sizeof(err)) < 0);
	CHECK(has(err, "blackhole"));
	CHECK(braid_emu_parse_command("lte1 blackhole on now", &ev, err, sizeof(err)) < 0);
	CHECK(braid_emu_parse_command("lte1", &ev, err, sizeof(err)) < 0);
	CHECK(braid_emu_parse_command("", &ev, err, sizeof(err)) < 0);
	CHECK(braid_emu_parse_command("lte1 rate=fast", &ev, err, sizeof(err)) < 0);
	CHECK(has(err, "rate"));
	CHECK(braid_emu_parse_command("lte1 to=127.0.0.1:5", &ev, err, sizeof(err)) < 0);
	CHECK(has(err, "to"));
}

static const char scenario_text[] =
	"# two links and a day in their life\n"
	"link lte1 listen=127.0.0.1:0,to=127.0.0.1:5000,rate=8mbit,delay=40ms\n"
	"\n"
	"link wifi listen=127.0.0.1:0,to=127.0.0.1:5000,delay=10ms   # comment\n"
	"at 10s lte1 blackhole on\n"
	"at 5s wifi rate=2mbit\n"
	"at 10s * delay=60ms\n"
	"at 1500ms lte1 blackhole off\n";

static void test_scenario(void)
{
	struct braid_emu_scenario sc;
	struct braid_emu_link_config extra;

	braid_emu_scenario_init(&sc);
	CHECK_EQ(braid_emu_parse_link("listen=:0,to=127.0.0.1:9", 0, &extra, err, sizeof(err)), 0);
	CHECK_EQ(braid_emu_scenario_add_link(&sc, &extra), 0);
	CHECK_EQ(braid_emu_scenario_parse(&sc, scenario_text, "test", err, sizeof(err)), 0);
	CHECK_EQ(sc.link_count, 3);
	CHECK_EQ(sc.event_count, 4);
	if (sc.link_count == 3) {
		CHECK(strcmp(sc.links[0].name, "link1") == 0);
		CHECK(strcmp(sc.links[1].name, "lte1") == 0);
		CHECK_NEAR(sc.links[1].fwd.rate_bps, 8e6, 1e-6);
		CHECK(strcmp(sc.links[2].name, "wifi") == 0);
		CHECK_EQ_U64(sc.links[2].fwd.delay_us, 10000);
	}
	CHECK_EQ(braid_emu_scenario_check(&sc, err, sizeof(err)), 0);
	if (sc.event_count == 4) {
		/* Sorted by time, and events at the same time keep their order. */
		CHECK_EQ_U64(sc.events[0].at_us, 1500000);
		CHECK_EQ(sc.events[0].action, BRAID_EMU_BLACKHOLE_OFF);
		CHECK_EQ_U64(sc.events[1].at_us, 5000000);
		CHECK(strcmp(sc.events[1].keys, "rate=2mbit") == 0);
		CHECK_EQ(sc.events[2].line, 5);
		CHECK_EQ(sc.events[3].line, 7);
		CHECK(strcmp(sc.events[3].link, "*") == 0);
	}
	braid_emu_scenario_free(&sc);
}

static void expect_bad_scenario(const char *text, const char *named)
{
	struct braid_emu_scenario sc;
	int rc;

	braid_emu_scenario_init(&sc);
	rc = braid_emu_scenario_parse(&sc, text, "s.txt", err, sizeof(err));
	if (rc == 0)
		rc = braid_emu_scenario_check(&sc, err, sizeof(err));
	CHECK(rc < 0);
	CHECK(has(err, named));
	braid_emu_scenario_free(&sc);
}

static void test_bad_scenarios(void)
{
	static const char link[] = "link a listen=:0,to=127.0.0.1:9\n";
	char text[256];

	expect_bad_scenario("link a listen=:0,to=127.0.0.1:9\nlink b to=127.0.0.1:9\n",
			    "s.txt:2: listen");
	expect_bad_scenario("links a listen=:0\n", "s.txt:1: 'links'");
	expect_bad_scenario("link\n", "s.txt:1");
	expect_bad_scenario("link a listen=:0,to=127.0.0.1:9,name=b\n", "name");
	snprintf(text, sizeof(text), "%s%s", link, link);
	expect_bad_scenario(text, "'a' used twice");
	snprintf(text, sizeof(text), "%sat soon a blackhole on\n", link);
	expect_bad_scenario(text, "s.txt:2: at needs a time");
	snprintf(text, sizeof(text), "%sat 1s a blackhole\n", link);
	expect_bad_scenario(text, "s.txt:2: blackhole");
	snprintf(text, sizeof(text), "%sat 1s a delay=fast\n", link);
	expect_bad_scenario(text, "s.txt:2: delay");
	snprintf(text, sizeof(text), "%s\n\nat 1s b blackhole on\n", link);
	expect_bad_scenario(text, "line 4: no link named 'b'");
}

static void test_scenario_file(void)
{
	struct braid_emu_scenario sc;
	char path[32];

	temp_file(path, scenario_text);
	braid_emu_scenario_init(&sc);
	CHECK_EQ(braid_emu_scenario_load(&sc, path, err, sizeof(err)), 0);
	CHECK_EQ(sc.link_count, 2);
	CHECK_EQ(sc.event_count, 4);
	braid_emu_scenario_free(&sc);
	unlink(path);
	braid_emu_scenario_init(&sc);
	CHECK(braid_emu_scenario_load(&sc, path, err, sizeof(err)) < 0);
	CHECK(has(err, path));
	braid_emu_scenario_free(&sc);
}

/* ---- a relay on loopback ---- */

struct relay_run {
	struct braid_loop *loop;
	struct braid_timer stop;
};

static void stop_loop(struct braid_loop *loop, void *arg)
{
	(void)arg;
	braid_loop_stop(loop);
}

static void run_for(struct relay_run *run, uint64_t us)
{
	braid_timer_start(run->loop, &run->stop, braid_loop_update_time(run->loop) + us);
	braid_loop_run(run->loop);
}

/* Sends n datagrams from one socket to another through the relay, runs it a while, and
 * counts what arrived; *from gets the last sender the receiving side saw. */
static int pass_through(struct relay_run *run, int out_fd, int in_fd, const struct braid_addr *to,
			int n, struct braid_addr *from)
{
	uint8_t buf[64] = { 0 };
	int got = 0;

	for (int i = 0; i < n; i++)
		CHECK_EQ(braid_udp_send(out_fd, to, buf, sizeof(buf)), 0);
	run_for(run, 30000);
	for (;;) {
		struct braid_datagram d = { .buf = buf, .cap = sizeof(buf) };

		if (braid_udp_recv_batch(in_fd, &d, 1) != 1)
			break;
		CHECK_EQ(d.len, sizeof(buf));
		if (from)
			*from = d.addr;
		got++;
	}
	return got;
}

static void test_relay(void)
{
	struct relay_run run = { .loop = braid_loop_new() };
	struct braid_udp_options lo = { .family = AF_INET };
	struct braid_addr sink_addr, listen_addr, upstream, reply_from;
	struct braid_emu_link_config cfg;
	struct braid_model_stats fwd, rev;
	struct braid_emu_relay *r;
	struct braid_emu_event ev;
	char spec[128], a[64], trace[32];
	int sink, src;

	CHECK(run.loop != NULL);
	if (!run.loop)
		return;
	braid_timer_init(&run.stop, stop_loop, NULL);
	CHECK_EQ(braid_addr_parse("127.0.0.1:0", 1, &sink_addr), 0);
	lo.bind = &sink_addr;
	sink = braid_udp_open(&lo);
	src = braid_udp_open(&lo);
	CHECK(sink >= 0 && src >= 0);
	braid_udp_local(sink, &sink_addr);
	snprintf(spec, sizeof(spec), "name=t,listen=127.0.0.1:0,to=%s,delay=1ms",
		 braid_addr_format(&sink_addr, a, sizeof(a)));
	CHECK_EQ(braid_emu_parse_link(spec, 0, &cfg, err, sizeof(err)), 0);
	r = braid_emu_relay_open(run.loop, &cfg, err, sizeof(err));
	braid_emu_link_config_free(&cfg);
	CHECK(r != NULL);
	if (!r)
		return;
	CHECK(strcmp(braid_emu_relay_name(r), "t") == 0);
	CHECK_EQ(braid_emu_relay_listen_addr(r, &listen_addr), 0);
	CHECK(braid_addr_port(&listen_addr) != 0);

	CHECK_EQ(pass_through(&run, src, sink, &listen_addr, 10, &upstream), 10);
	/* Replies go back to the last source, through the return path. */
	CHECK_EQ(pass_through(&run, sink, src, &upstream, 2, &reply_from), 2);
	CHECK(braid_addr_equal(&reply_from, &listen_addr));
	CHECK_EQ(braid_emu_parse_command("t blackhole on", &ev, err, sizeof(err)), 0);
	CHECK_EQ(braid_emu_apply_event(&r, 1, &ev, err, sizeof(err)), 1);
	CHECK(braid_emu_relay_blackhole(r));
	CHECK_EQ(pass_through(&run, src, sink, &listen_addr, 5, NULL), 0);
	CHECK_EQ(braid_emu_parse_command("* blackhole toggle", &ev, err, sizeof(err)), 0);
	CHECK_EQ(braid_emu_apply_event(&r, 1, &ev, err, sizeof(err)), 1);
	CHECK(!braid_emu_relay_blackhole(r));
	/* A change of settings keeps the totals and the blackhole state. */
	CHECK_EQ(braid_emu_parse_command("t loss=100%", &ev, err, sizeof(err)), 0);
	CHECK_EQ(braid_emu_apply_event(&r, 1, &ev, err, sizeof(err)), 1);
	CHECK_NEAR(braid_emu_relay_config(r)->fwd.loss, 1.0, 0);
	CHECK_EQ(pass_through(&run, src, sink, &listen_addr, 4, NULL), 0);
	CHECK_EQ(braid_emu_parse_command("other blackhole on", &ev, err, sizeof(err)), 0);
	CHECK_EQ(braid_emu_apply_event(&r, 1, &ev, err, sizeof(err)), 0);
	CHECK(braid_emu_relay_apply_keys(r, "listen=:1", err, sizeof(err)) < 0);
	CHECK_EQ(braid_emu_relay_apply_keys(r, "loss=none", err, sizeof(err)), 0);
	CHECK_EQ(pass_through(&run, src, sink, &listen_addr, 3, NULL), 3);
	/* Traces change hands with the settings: the relay keeps its own copy. */
	temp_file(trace, "1\n2\n4\n");
	snprintf(spec, sizeof(spec), "trace=%s,rev.trace=%s", trace, trace);
	CHECK_EQ(braid_emu_relay_apply_keys(r, spec, err, sizeof(err)), 0);
	unlink(trace);
	CHECK_EQ(braid_emu_relay_config(r)->fwd.rate_kind, BRAID_RATE_TRACE);
	CHECK_EQ(pass_through(&run, src, sink, &listen_addr, 3, NULL), 3);
	CHECK_EQ(braid_emu_relay_apply_keys(r, "rate=none", err, sizeof(err)), 0);
	CHECK_EQ(pass_through(&run, src, sink, &listen_addr, 2, NULL), 2);

	braid_emu_relay_get_stats(r, braid_loop_now(run.loop), &fwd, &rev);
	CHECK_EQ_U64(fwd.offered, 27);
	CHECK_EQ_U64(fwd.delivered, 18);
	CHECK_EQ_U64(fwd.dropped_outage, 5);
	CHECK_EQ_U64(fwd.dropped_loss, 4);
	CHECK_EQ_U64(fwd.delivered_bytes, 18 * 64);
	CHECK_EQ_U64(rev.offered, 2);
	CHECK_EQ_U64(rev.delivered, 2);
	braid_emu_relay_close(r);
	close(sink);
	close(src);
	braid_loop_free(run.loop);
}

int main(void)
{
	RUN_TEST(test_units);
	RUN_TEST(test_minimal);
	RUN_TEST(test_every_key);
	RUN_TEST(test_ge_and_ou);
	RUN_TEST(test_rev_keys);
	RUN_TEST(test_bad_values);
	RUN_TEST(test_apply_keys);
	RUN_TEST(test_traces);
	RUN_TEST(test_commands);
	RUN_TEST(test_scenario);
	RUN_TEST(test_bad_scenarios);
	RUN_TEST(test_scenario_file);
	RUN_TEST(test_relay);
	return braid_test_finish();
}
