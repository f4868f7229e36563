/* braid rtcp dump: RTCP from a UDP port or a pcap file, one JSON line per packet. RTP on
 * the same port is told apart by its second octet (RFC 5761) and skipped. Reduced-size
 * compounds (RFC 5506) are shown like any other; a compound that breaks the rules shows
 * its packets up to the fault, then one line with the error. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "braid/error.h"
#include "braid/rtp.h"
#include "io/udp.h"
#include "cli.h"
#include "pcap.h"
#include "rtcp_json.h"
#include "rtcp_tools.h"

#define RECV_BATCH 16
#define RECV_SIZE 65536

struct dump {
	uint64_t limit;   /* lines to print; 0: no limit */
	uint64_t printed;
};

/* Where a datagram came from (and for captures, went to and when). */
struct origin {
	const struct braid_addr *src;
	const struct braid_addr *dst; /* NULL when listening */
	const uint64_t *t_us;         /* NULL when listening */
};

static bool line_start(struct dump *d, const struct origin *o)
{
	char a[64];
	if (d->limit && d->printed == d->limit)
		return false;
	fputc('{', stdout);
	if (o->t_us)
		printf("\"t_us\":%" PRIu64 ",", *o->t_us);
	printf("\"src\":\"%s\",", braid_addr_format(o->src, a, sizeof(a)));
	if (o->dst)
		printf("\"dst\":\"%s\",", braid_addr_format(o->dst, a, sizeof(a)));
	return true;
}

static void line_end(struct dump *d)
{
	fputs("}\n", stdout);
	d->printed++;
}

/* Returns false once the line limit is reached. */
static bool dump_datagram(struct dump *d, const uint8_t *buf, size_t len,
			  const struct origin *o)
{
	if (!braid_rtp_looks_like_rtcp(buf, len))
		return !d->limit || d->printed < d->limit;
	struct braid_rtcp_reader r;
	struct braid_rtcp_packet p;
	int rc = braid_rtcp_reader_init(&r, buf, len, BRAID_RTCP_REDUCED_SIZE);
	while (rc == 0 && (rc = braid_rtcp_read(&r, &p)) == 1) {
		if (!line_start(d, o))
			return false;
		braid_rtcp_json_fields(stdout, &p);
		line_end(d);
		rc = 0;
	}
	if (rc < 0) {
		if (!line_start(d, o))
			return false;
		printf("\"error\":\"%s\",\"offset\":%zu,\"len\":%zu", braid_strerror(rc), r.off,
		       len);
		line_end(d);
	}
	return !d->limit || d->printed < d->limit;
}

static int dump_pcap(struct dump *d, const char *path)
{
	struct braid_pcap pcap;
	struct braid_pcap_udp dg;
	char err[256];
	if (!braid_pcap_open(&pcap, path, err, sizeof(err)))
		braid_cli_usage_error("rtcp", "%s: %s", path, err);
	int rc;
	while ((rc = braid_pcap_next_udp(&pcap, &dg, err, sizeof(err))) == 1) {
		struct origin o = { &dg.src, &dg.dst, &dg.t_us };
		if (!dump_datagram(d, dg.payload, dg.len, &o))
			break;
	}
	braid_pcap_close(&pcap);
	if (rc < 0) {
		fflush(stdout);
		braid_cli_usage_error("rtcp", "%s: %s", path, err);
	}
	return 0;
}

static int receive_some(int fd, struct dump *d, uint8_t (*bufs)[RECV_SIZE])
{
	struct braid_datagram batch[RECV_BATCH];
	for (int i = 0; i < RECV_BATCH; i++) {
		memset(&batch[i], 0, sizeof(batch[i]));
		batch[i].buf = bufs[i];
		batch[i].cap = RECV_SIZE;
	}
	int n = braid_udp_recv_batch(fd, batch, RECV_BATCH);
	for (int i = 0; i < n; i++) {
		struct origin o = { &batch[i].addr, NULL, NULL };
		if (!batch[i].truncated && !dump_datagram(d, batch[i].buf, batch[i].len, &o))
			return 1;
	}
	return n < 0 ? n : 0;
}

static int dump_listen(struct dump *d, const char *spec)
{
	static uint8_t bufs[RECV_BATCH][RECV_SIZE];
	struct braid_addr bind, local;
	char a[64];
	if (braid_addr_parse(spec, 1, &bind) != 0)
		braid_cli_usage_error("rtcp", "--listen: '%s' is not ADDR:PORT", spec);
	struct braid_udp_options opt = { .bind = &bind };
	int fd = braid_udp_open(&opt);
	if (fd < 0) {
		fprintf(stderr, "braid rtcp: cannot listen on %s: %s\n", spec, strerror(errno));
		return 1;
	}
	braid_udp_local(fd, &local);
	fprintf(stderr, "braid rtcp: listening on %s\n", braid_addr_format(&local, a, sizeof(a)));
	setvbuf(stdout, NULL, _IOLBF, 0); /* lines as they come, even into a pipe */
	int rc = 0;
	while (rc == 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			rc = -1;
			break;
		}
		rc = receive_some(fd, d, bufs);
	}
	close(fd);
	if (rc < 0) {
		fprintf(stderr, "braid rtcp: receive failed: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

int braid_rtcp_dump(int argc, char **argv)
{
	const char *listen = NULL, *pcap = NULL, *v;
	struct dump d = { 0, 0 };
	for (int i = 1; i < argc; i++) {
		if ((v = braid_cli_option("rtcp", argc, argv, &i, "--listen"))) {
			listen = v;
		} else if ((v = braid_cli_option("rtcp", argc, argv, &i, "--pcap"))) {
			pcap = v;
		} else if ((v = braid_cli_option("rtcp", argc, argv, &i, "--count"))) {
			if (!braid_cli_parse_uint(v, 1, UINT64_MAX, &d.limit))
				braid_cli_usage_error("rtcp", "--count: '%s' is not a number >= 1",
						      v);
		} else {
			braid_cli_usage_error("rtcp", "dump: unknown argument '%s' (see --help)",
					      argv[i]);
		}
	}
	if (!listen == !pcap)
		braid_cli_usage_error("rtcp", "dump: one of --listen or --pcap is required");
	int rc = pcap ? dump_pcap(&d, pcap) : dump_listen(&d, listen);
	if (fflush(stdout) != 0 && rc == 0) {
		fprintf(stderr, "braid rtcp: writing to stdout failed\n");
		rc = 1;
	}
	return rc;
}
