/* udp_forward: every datagram arriving on --listen leaves unchanged toward --to.
 *
 * The least a relay hop can do: one blocking recvmmsg and one sendmmsg per batch of up
 * to 32 (braid's batch), no copy, no per-packet state. bench/run.sh chains two of them
 * where braid has send and recv, so both pipelines cross the same number of processes
 * and sockets, and the difference is what braid's work costs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_net.h"

#define BATCH 32
#define SLOT_BYTES 9216 /* larger than any datagram braid sends */
#define STOP_CHECK_EVERY 256 /* batches between looks at pending signals under load */

static const char usage[] =
	"usage: udp_forward --listen ADDR:PORT --to ADDR:PORT [--count N]\n"
	"  forwards datagrams until N have gone (0: no limit) or SIGINT/SIGTERM, then prints\n"
	"  the packet count and its CPU time on stderr. PORT 0 in --listen picks a free port.\n";

struct forwarder {
	int in_fd, out_fd;
	uint64_t limit; /* 0: none */
	uint64_t packets, bytes, send_errors;
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	uint8_t *slots;
};

/* Sends msgs[0..n), retrying a send refused by an earlier ICMP error once: that error is
 * reported on the next send and says nothing about this datagram. */
static void send_all(struct forwarder *f, unsigned n)
{
	unsigned done = 0;
	bool retried = false;

	while (done < n) {
		int sent = sendmmsg(f->out_fd, f->msgs + done, n - done, 0);
		if (sent > 0) {
			done += (unsigned)sent;
			retried = false;
			continue;
		}
		if (sent < 0 && errno == EINTR)
			continue;
		if (sent < 0 && errno == ECONNREFUSED && !retried) {
			retried = true;
			continue;
		}
		f->send_errors++;
		done++;
		retried = false;
	}
}

/* One batch: the count forwarded, 0 when the receive timed out, -1 on an error. */
static int forward_batch(struct forwarder *f)
{
	unsigned want = BATCH;

	if (f->limit && f->limit - f->packets < want)
		want = (unsigned)(f->limit - f->packets);
	int got = recvmmsg(f->in_fd, f->msgs, want, MSG_WAITFORONE, NULL);
	if (got < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	for (int i = 0; i < got; i++) {
		f->iov[i].iov_len = f->msgs[i].msg_len;
		f->bytes += f->msgs[i].msg_len;
	}
	send_all(f, (unsigned)got);
	for (int i = 0; i < got; i++)
		f->iov[i].iov_len = SLOT_BYTES;
	f->packets += (uint64_t)got;
	return got;
}

/* Not inlined: bench/run.sh counts its instructions alone with callgrind's
 * --toggle-collect=forward_loop, as braid's with --toggle-collect=braid_loop_run. */
__attribute__((noinline)) static int forward_loop(struct forwarder *f)
{
	unsigned batches = 0;

	while (!f->limit || f->packets < f->limit) {
		int got = forward_batch(f);
		if (got < 0) {
			perror("udp_forward: recvmmsg");
			return 1;
		}
		if ((got == 0 || ++batches % STOP_CHECK_EVERY == 0) && bench_stop_requested())
			break;
	}
	return 0;
}

static void setup_slots(struct forwarder *f)
{
	memset(f->msgs, 0, sizeof(f->msgs));
	for (size_t i = 0; i < BATCH; i++) {
		f->iov[i].iov_base = f->slots + i * SLOT_BYTES;
		f->iov[i].iov_len = SLOT_BYTES;
		f->msgs[i].msg_hdr.msg_iov = &f->iov[i];
		f->msgs[i].msg_hdr.msg_iovlen = 1;
	}
}

static void parse_args(int argc, char **argv, struct bench_addr *listen_at, struct bench_addr *to,
		       uint64_t *limit)
{
	bool have_listen = false, have_to = false;

	for (int i = 1; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--listen") == 0 && v && bench_addr_parse(v, listen_at) == 0)
			have_listen = true;
		else if (strcmp(argv[i], "--to") == 0 && v && bench_addr_parse(v, to) == 0)
			have_to = true;
		else if (strcmp(argv[i], "--count") != 0 || !v ||
			 !bench_parse_u64(v, UINT64_MAX, limit)) {
			fprintf(stderr, "udp_forward: bad argument '%s'\n%s", argv[i], usage);
			exit(2);
		}
	}
	if (!have_listen || !have_to) {
		fputs(usage, stderr);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	struct forwarder f = { 0 };
	struct bench_addr listen_at, to;

	parse_args(argc, argv, &listen_at, &to, &f.limit);
	bench_block_stop_signals();
	f.slots = malloc((size_t)BATCH * SLOT_BYTES);
	f.in_fd = bench_udp_open(&listen_at, NULL);
	f.out_fd = bench_udp_open(NULL, &to);
	if (!f.slots || f.in_fd < 0 || f.out_fd < 0 || bench_set_recv_timeout(f.in_fd, 100) < 0) {
		perror("udp_forward: setup");
		return 1;
	}
	setup_slots(&f);
	bench_print_bound("udp_forward", "listening", f.in_fd);
	int rc = forward_loop(&f);

	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	fprintf(stderr, "udp_forward: forwarded %llu packets, %llu bytes, %llu send errors, "
		"cpu %.3f s\n", (unsigned long long)f.packets, (unsigned long long)f.bytes,
		(unsigned long long)f.send_errors, cpu);
	close(f.in_fd);
	close(f.out_fd);
	free(f.slots);
	return rc;
}
