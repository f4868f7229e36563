/* braidd's sans-I/O pieces: the destination allowlist, the token buckets, the config
 * file and flags, endpoints and output URLs. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ctl/config.h"
#include "ctl/endpoint.h"
#include "ctl/framing.h"
#include "ctl/policy.h"
#include "ctl/session.h"

static struct braid_addr v4(const char *text)
{
	struct braid_addr a = { .len = sizeof(struct sockaddr_in) };
	a.u.in4.sin_family = AF_INET;
	inet_pton(AF_INET, text, &a.u.in4.sin_addr);
	return a;
}

static struct braid_addr v6(const char *text)
{
	struct braid_addr a = { .len = sizeof(struct sockaddr_in6) };
	a.u.in6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, text, &a.u.in6.sin6_addr);
	return a;
}

static void test_prefixes(void)
{
	struct ctl_prefix p;
	CHECK(ctl_prefix_parse("10.0.0.0/8", &p));
	CHECK_EQ(p.bits, 8);
	CHECK(ctl_prefix_parse("192.168.1.7", &p));
	CHECK_EQ(p.bits, 32);
	CHECK(ctl_prefix_parse("2001:db8::/32", &p));
	CHECK(ctl_prefix_parse("0.0.0.0/0", &p));
	CHECK(!ctl_prefix_parse("10.1.2.3/8", &p));   /* host bits set: a typo */
	CHECK(!ctl_prefix_parse("10.0.0.0/33", &p));
	CHECK(!ctl_prefix_parse("10.0.0.0/", &p));
	CHECK(!ctl_prefix_parse("10.0.0.0/+8", &p));
	CHECK(!ctl_prefix_parse("example.com/8", &p));
	CHECK(!ctl_prefix_parse("", &p));
	CHECK(!ctl_prefix_parse("/8", &p));
}

static void test_allowlist(void)
{
	struct ctl_allowlist list = { .count = 0 };
	struct braid_addr a;
	CHECK(ctl_allowlist_add(&list, "10.0.0.0/8"));
	CHECK(ctl_allowlist_add(&list, "192.168.4.0/22"));
	CHECK(ctl_allowlist_add(&list, "2001:db8::/33"));
	a = v4("10.200.1.1");
	CHECK(ctl_allowlist_match(&list, &a));
	a = v4("11.0.0.1");
	CHECK(!ctl_allowlist_match(&list, &a));
	a = v4("192.168.7.255");
	CHECK(ctl_allowlist_match(&list, &a));
	a = v4("192.168.8.0");
	CHECK(!ctl_allowlist_match(&list, &a));
	a = v6("2001:db8:7fff::1");
	CHECK(ctl_allowlist_match(&list, &a));
	a = v6("2001:db8:8000::1");
	CHECK(!ctl_allowlist_match(&list, &a));
	a = v6("::ffff:10.1.1.1"); /* a mapped IPv4 address is judged as IPv4 */
	CHECK(ctl_allowlist_match(&list, &a));
	ctl_allowlist_loopback(&list);
	a = v4("127.0.0.5");
	CHECK(ctl_allowlist_match(&list, &a));
	a = v6("::1");
	CHECK(ctl_allowlist_match(&list, &a));
	a = v4("10.0.0.1");
	CHECK(!ctl_allowlist_match(&list, &a));
}

static void test_bucket(void)
{
	struct ctl_bucket b;
	unsigned taken = 0;
	ctl_bucket_init(&b, 100, 0);
	for (int i = 0; i < 150; i++)
		taken += ctl_bucket_take(&b, 1, 0);
	CHECK_EQ(taken, 100); /* one second's burst */
	CHECK(!ctl_bucket_take(&b, 1, 9999));    /* 9.999 ms: not yet one token */
	CHECK(ctl_bucket_take(&b, 1, 10000));    /* 10 ms at 100/s: one */
	CHECK(!ctl_bucket_take(&b, 1, 10000));
	CHECK(!ctl_bucket_has(&b, 101, 5000000)); /* never more than a second's worth */
	CHECK(ctl_bucket_has(&b, 100, 5000000));
	ctl_bucket_init(&b, 0, 0);
	CHECK(ctl_bucket_take(&b, UINT64_C(1) << 40, 0)); /* 0: no limit */
}

static void test_config(void)
{
	struct ctl_daemon_config cfg;
	char err[256];
	ctl_config_defaults(&cfg);
	CHECK(strcmp(cfg.grpc, CTL_DEFAULT_GRPC) == 0);
	CHECK(ctl_config_parse(&cfg, "# braidd\n grpc = 127.0.0.1:6000 \n\nallow = 10.0.0.0/8\n"
			       "allow=192.168.0.0/16 # two\nmax_sessions = 5\ncreate_db = yes\n"
			       "db = /tmp/x.db\n", err, sizeof(err)));
	CHECK(strcmp(cfg.grpc, "127.0.0.1:6000") == 0);
	CHECK_EQ(cfg.allow.count, 2);
	CHECK_EQ(cfg.max_sessions, 5);
	CHECK(cfg.create_db);
	CHECK(ctl_config_check(&cfg, err, sizeof(err)));
	/* a flag's first allow replaces the file's list, later ones add to it */
	CHECK(ctl_config_set(&cfg, "allow", "172.16.0.0/12", true, err, sizeof(err)));
	CHECK(ctl_config_set(&cfg, "allow", "127.0.0.1", true, err, sizeof(err)));
	CHECK_EQ(cfg.allow.count, 2);
	struct braid_addr a = v4("10.1.1.1");
	CHECK(!ctl_allowlist_match(&cfg.allow, &a));

	ctl_config_defaults(&cfg);
	CHECK(!ctl_config_parse(&cfg, "grpc = x\nbogus = 1\n", err, sizeof(err)));
	CHECK(strstr(err, "line 2") && strstr(err, "bogus"));
	CHECK(!ctl_config_parse(&cfg, "max_sessions = 0\n", err, sizeof(err)));
	CHECK(strstr(err, "line 1") != NULL);
	CHECK(!ctl_config_parse(&cfg, "max_sessions = 12x\n", err, sizeof(err)));
	CHECK(!ctl_config_parse(&cfg, "no equals sign\n", err, sizeof(err)));
	CHECK(!ctl_config_parse(&cfg, "allow = 10.1.0.0/8\n", err, sizeof(err)));
	CHECK(!ctl_config_parse(&cfg, "create_db = maybe\n", err, sizeof(err)));
	ctl_config_defaults(&cfg);
	CHECK(ctl_config_set(&cfg, "tls_cert", "/c.pem", false, err, sizeof(err)));
	CHECK(!ctl_config_check(&cfg, err, sizeof(err))); /* a certificate without its key */
}

static void test_endpoints(void)
{
	struct ctl_endpoint ep = { .address = "127.0.0.1", .port = 5004 };
	struct braid_addr a;
	char err[256];
	CHECK_EQ(ctl_endpoint_addr(&ep, false, 0, &a, err, sizeof(err)), CTL_OK);
	CHECK_EQ(a.u.sa.sa_family, AF_INET);
	CHECK_EQ(ntohs(a.u.in4.sin_port), 5004);
	snprintf(ep.address, sizeof(ep.address), "[::1]");
	CHECK_EQ(ctl_endpoint_addr(&ep, false, 0, &a, err, sizeof(err)), CTL_OK);
	CHECK_EQ(a.u.sa.sa_family, AF_INET6);
	snprintf(ep.address, sizeof(ep.address), "localhost"); /* no name lookups */
	CHECK_EQ(ctl_endpoint_addr(&ep, false, 0, &a, err, sizeof(err)), CTL_INVALID);
	ep.address[0] = '\0';
	CHECK_EQ(ctl_endpoint_addr(&ep, false, 0, &a, err, sizeof(err)), CTL_INVALID);
	CHECK_EQ(ctl_endpoint_addr(&ep, true, AF_INET, &a, err, sizeof(err)), CTL_OK);
	CHECK_EQ(a.u.sa.sa_family, AF_INET);
	ep.port = 70000;
	CHECK_EQ(ctl_endpoint_addr(&ep, true, AF_INET, &a, err, sizeof(err)), CTL_INVALID);

	struct ctl_output out;
	CHECK_EQ(ctl_output_parse("udp://127.0.0.1:5000", &out, err, sizeof(err)), CTL_OK);
	CHECK(out.udp && ntohs(out.addr.u.in4.sin_port) == 5000);
	CHECK_EQ(ctl_output_parse("udp://[::1]:5000", &out, err, sizeof(err)), CTL_OK);
	CHECK_EQ(ctl_output_parse("file:///tmp/a-{session}.ts", &out, err, sizeof(err)), CTL_OK);
	CHECK(!out.udp && strcmp(out.path, "/tmp/a-{session}.ts") == 0);
	CHECK_EQ(ctl_output_parse("udp://127.0.0.1:0", &out, err, sizeof(err)), CTL_INVALID);
	CHECK_EQ(ctl_output_parse("udp://127.0.0.1", &out, err, sizeof(err)), CTL_INVALID);
	CHECK_EQ(ctl_output_parse("tcp://127.0.0.1:5", &out, err, sizeof(err)), CTL_INVALID);
	CHECK_EQ(ctl_output_parse("file://", &out, err, sizeof(err)), CTL_INVALID);
}

static void test_names_and_counters(void)
{
	enum ctl_kind kind;
	enum ctl_state state;
	CHECK(ctl_kind_parse("rtp_proxy", &kind) && kind == CTL_KIND_RTP_PROXY);
	CHECK(!ctl_kind_parse("proxy", &kind));
	CHECK(ctl_state_parse("active", &state) && state == CTL_STATE_ACTIVE);
	CHECK(strcmp(ctl_state_name(CTL_STATE_ERROR), "error") == 0);
	struct ctl_stats base = { .packets_received = 10, .bytes_sent = 100, .jitter_ms = 9 };
	struct ctl_stats now = { .packets_received = 5, .bytes_sent = 1, .jitter_ms = 2 };
	struct ctl_stats total;
	ctl_stats_add(&total, &base, &now);
	CHECK_EQ(total.packets_received, 15);
	CHECK_EQ(total.bytes_sent, 101);
	CHECK_NEAR(total.jitter_ms, 2, 1e-9); /* a gauge: the live value */
}

/* Feeds bytes to the reader `piece` at a time and collects the frames' lengths and first
 * payload bytes. */
static size_t read_in_pieces(struct ctl_frame_reader *r, const uint8_t *bytes, size_t len,
			     size_t piece, size_t *lengths, uint8_t *firsts, size_t max)
{
	size_t frames = 0;
	for (size_t at = 0, n; at < len; at += n) {
		size_t room;
		uint8_t *space = ctl_frame_reader_space(r, &room);
		CHECK(room > 0); /* never stuck: a whole frame always fits */
		n = len - at < piece ? len - at : piece;
		n = n < room ? n : room;
		memcpy(space, bytes + at, n);
		ctl_frame_reader_filled(r, n);
		const uint8_t *payload;
		size_t plen;
		while (frames < max && ctl_frame_reader_next(r, &payload, &plen)) {
			lengths[frames] = plen;
			firsts[frames++] = plen ? payload[0] : 0;
		}
	}
	return frames;
}

static void test_framing(void)
{
	static struct ctl_frame_reader r;
	struct ctl_byte_queue q = { 0 };
	uint8_t big[CTL_FRAME_MAX], small[3] = { 7, 8, 9 };
	memset(big, 0xAB, sizeof(big));
	CHECK(ctl_byte_queue_push_frame(&q, small, sizeof(small), 1 << 20));
	CHECK(ctl_byte_queue_push_frame(&q, small, 0, 1 << 20)); /* empty: a frame too */
	CHECK(ctl_byte_queue_push_frame(&q, big, sizeof(big), 1 << 20));
	CHECK(!ctl_byte_queue_push_frame(&q, big, sizeof(big) + 1, 1 << 20)); /* no 16 bits */
	CHECK(!ctl_byte_queue_push_frame(&q, small, 3, ctl_byte_queue_len(&q) + 4));
	CHECK_EQ(ctl_byte_queue_len(&q), 5 + 2 + 2 + CTL_FRAME_MAX);
	size_t len, lengths[8];
	uint8_t firsts[8];
	const uint8_t *bytes = ctl_byte_queue_front(&q, &len);
	CHECK_EQ(bytes[0], 0);
	CHECK_EQ(bytes[1], 3);
	/* one byte at a time, then in pieces that cut headers and payloads */
	const size_t pieces[] = { 1, 2, 1000, 65537, 70000 };
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		memset(&r, 0, sizeof(r));
		size_t n = read_in_pieces(&r, bytes, len, pieces[i], lengths, firsts, 8);
		CHECK_EQ(n, 3);
		CHECK_EQ(lengths[0], 3);
		CHECK_EQ(firsts[0], 7);
		CHECK_EQ(lengths[1], 0);
		CHECK_EQ(lengths[2], CTL_FRAME_MAX);
		CHECK_EQ(firsts[2], 0xAB);
	}
	/* written in part: the rest stays, in order */
	ctl_byte_queue_consume(&q, 4);
	bytes = ctl_byte_queue_front(&q, &len);
	CHECK_EQ(bytes[0], 9);
	ctl_byte_queue_consume(&q, len);
	CHECK_EQ(ctl_byte_queue_len(&q), 0);
	CHECK(ctl_byte_queue_push(&q, small, 2, 2));
	CHECK(!ctl_byte_queue_push(&q, small, 1, 2));
	ctl_byte_queue_free(&q);
}

int main(void)
{
	RUN_TEST(test_framing);
	RUN_TEST(test_prefixes);
	RUN_TEST(test_allowlist);
	RUN_TEST(test_bucket);
	RUN_TEST(test_config);
	RUN_TEST(test_endpoints);
	RUN_TEST(test_names_and_counters);
	return braid_test_finish();
}
