/* The bonding test bench's network (docs/bench-links.md): a sender namespace with one
 * interface and source address per link, one namespace per link, a receiver namespace with
 * one address, veth pairs between them, and routes and policy rules so that whatever leaves
 * the sender from link i's address (or bound to its interface) crosses link i's namespace
 * only, and the answers come back the same way. Each link namespace shapes its egress both
 * ways with a TBF and, when asked, sends every packet through a TUN device ("path") where a
 * program can model it. Everything is made over rtnetlink; nothing runs ip or tc.
 *
 *   PREFIX-tx: linkI 10.200.I.1/24 --veth-- PREFIX-lI: s 10.200.I.2 [path TUN] r 10.201.I.1
 *   PREFIX-lI: r --veth-- PREFIX-rx: linkI 10.201.I.2/24; lo 10.202.0.1/32 (the receiver)
 *
 * In the sender namespace link I has its own routing table (a default route through it),
 * chosen by rules on the source address 10.200.I.1, on the interface linkI (a socket bound
 * to it) and, when asked, on UDP destination ports. Nothing else has a route: a program
 * that says nothing about its link does not reach the receiver.
 */
#ifndef BRAID_NETNS_BENCH_H
#define BRAID_NETNS_BENCH_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "netns/rtnl.h"
#include "netns/tc.h"

/* Links are numbered 1..N in addresses and names: 10.200.N.1 bounds them. */
#define BRAID_BENCH_MAX_LINKS 250
/* Prefixes are short enough for PREFIX-lNNN to be a namespace name. */
#define BRAID_BENCH_PREFIX_MAX 48

enum braid_bench_dir { BRAID_BENCH_FWD = 0, BRAID_BENCH_REV = 1 };

struct braid_bench_link_plan {
	/* TBF per direction (forward: sender to receiver); rate 0 leaves it unshaped. */
	struct braid_tbf tbf[2];
	bool user_space; /* route the link's packets through its TUN */
	/* When > 0: UDP from the sender to ports dport and dport + 1 (RTP and RTCP) takes this
	 * link whatever its source address, for programs that bond by destination port and
	 * bind no address (GStreamer's ristsink, librist's ristsender). */
	uint16_t dport;
};

struct braid_bench_link {
	char ns_name[BRAID_BENCH_PREFIX_MAX + 8];
	int ns_fd;
	struct braid_rtnl nl;
	int ifindex[2]; /* egress toward the receiver ("r", forward), toward the sender ("s") */
	int tun_fd;     /* -1 unless user_space */
	bool shaped[2];
};

struct braid_bench {
	char prefix[BRAID_BENCH_PREFIX_MAX + 1];
	char tx_name[BRAID_BENCH_PREFIX_MAX + 8], rx_name[BRAID_BENCH_PREFIX_MAX + 8];
	int tx_fd, rx_fd, lock_fd;
	struct braid_rtnl tx_nl, rx_nl;
	size_t count;
	struct braid_bench_link *links;
	bool has_netem, has_ifb; /* what the kernel offers, probed at start */
	int leftovers;           /* namespaces an earlier run of this prefix left behind */
};

/* An empty bench that braid_bench_down leaves alone (no fd, no lock). */
void braid_bench_init(struct braid_bench *b);
/* Whether a prefix can name namespaces: 1..48 of [A-Za-z0-9_.] and '-' not first. */
bool braid_bench_prefix_valid(const char *prefix);
/* Builds the network. Removes first what a killed run of the same prefix left; refuses
 * (-EBUSY) while a live process holds the prefix. 0, or -errno with a message in err; on
 * failure nothing is left behind. */
int braid_bench_up(struct braid_bench *b, const char *prefix, size_t count,
		   const struct braid_bench_link_plan *plans, char *err, size_t err_len);
/* Removes everything braid_bench_up made; safe on a partly built bench. */
void braid_bench_down(struct braid_bench *b);

/* The sender's address on link i (0-based), and the receiver's. */
struct in_addr braid_bench_link_addr(size_t i);
struct in_addr braid_bench_receiver_addr(void);
/* The sender namespace's interface for link i: "link1"... (buf of IFNAMSIZ). */
void braid_bench_link_ifname(size_t i, char *buf, size_t len);

/* Sets (or changes in place) link i's TBF for one direction. 0 or -errno. */
int braid_bench_set_tbf(struct braid_bench *b, size_t i, enum braid_bench_dir dir,
			const struct braid_tbf *tbf);
/* Removes link i's TBF for one direction (the link runs unshaped). 0 or -errno. */
int braid_bench_clear_tbf(struct braid_bench *b, size_t i, enum braid_bench_dir dir);
/* The root qdiscs of link i's two egresses, from a dump. 0 or -errno. */
int braid_bench_read_qdiscs(struct braid_bench *b, size_t i, struct braid_qdisc_info out[2]);

#endif
