/* Socket and clock helpers shared by the benchmark programs. They are not part of braid:
 * the programs built on them must stay as plain as a UDP relay can be, because they are
 * the floor braid is measured against. */
#ifndef BRAID_BENCH_NET_H
#define BRAID_BENCH_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct bench_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* "A.B.C.D:PORT" or "[V6]:PORT", numeric only (PORT may be 0). 0 or -1. */
int bench_addr_parse(const char *text, struct bench_addr *out);

/* A UDP socket of peer's or local's family, with the same 4 MB buffers braid asks for,
 * bound to local and connected to peer when they are given. The fd, or -1 with errno. */
int bench_udp_open(const struct bench_addr *local, const struct bench_addr *peer);

/* Blocking receives give up after ms, so a loop can look at its signals. 0 or -1. */
int bench_set_recv_timeout(int fd, unsigned ms);

/* Prints "PROG: WHAT on ADDR:PORT" on stderr: the scripts read the port from it. */
void bench_print_bound(const char *prog, const char *what, int fd);

/* SIGINT and SIGTERM are blocked and polled for, so no handler or global flag is needed. */
void bench_block_stop_signals(void);
bool bench_stop_requested(void);

uint64_t bench_now_ns(void);

/* A whole decimal number in [0, max]. */
bool bench_parse_u64(const char *text, uint64_t max, uint64_t *out);

#endif
