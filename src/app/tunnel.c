/* braid tunnel's run: the TUN device, the MTU, the node on the loop (tunnel.h). */
#include "tunnel.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "braid/addr.h"
#include "io/udp.h"
#include "netns/tun.h"

#define UDP_HEADER 8

size_t braid_tunnel_overhead(size_t outer_ip, bool sealed)
{
	return outer_ip + UDP_HEADER + BRAID_DATA_HEADER_SIZE + (sealed ? BRAID_SEAL_OVERHEAD : 0);
}

/* The kernel's path MTU toward a link's destination from the socket the link would use
 * (its device or source address); 0 when it cannot tell (the link is not up yet). */
static unsigned link_path_mtu(const struct braid_link_spec *spec, const struct braid_addr *to)
{
	struct braid_udp_options opt = { .bind = spec->bind.len ? &spec->bind : NULL,
					 .family = to->u.sa.sa_family,
					 .device = spec->dev[0] ? spec->dev : NULL };
	int fd = braid_udp_open(&opt), mtu = 0;
	socklen_t len = sizeof(mtu);
	if (fd < 0)
		return 0;
	bool v6 = to->u.sa.sa_family == AF_INET6;
	if (connect(fd, &to->u.sa, to->len) < 0 ||
	    getsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_MTU : IP_MTU, &mtu, &len) < 0)
		mtu = 0;
	close(fd);
	return mtu > 0 ? (unsigned)mtu : 0;
}

unsigned braid_tunnel_field_mtu(const struct braid_send_config *send)
{
	unsigned path = 0;
	size_t outer_ip = 20;
	for (size_t i = 0; i < send->link_count; i++) {
		const struct braid_addr *to = send->links[i].to.len ? &send->links[i].to : &send->to;
		unsigned mtu = link_path_mtu(&send->links[i], to);
		if (mtu && (!path || mtu < path))
			path = mtu;
		if (to->u.sa.sa_family == AF_INET6)
			outer_ip = 40;
	}
	if (!path)
		path = BRAID_TUNNEL_DEFAULT_PATH_MTU;
	return path - (unsigned)braid_tunnel_overhead(outer_ip, send->core.psk != NULL);
}

static void on_signal(struct braid_loop *loop, int signo, void *arg)
{
	(void)signo;
	(void)arg;
	braid_loop_stop(loop);
}

#define TUN_BATCH 64

/* One end's sessions, one per class in use, on one loop, sharing the TUN. */
struct tunnel {
	struct braid_tunnel_config *cfg;
	struct braid_loop *loop;
	int tun_fd;
	size_t sessions;
	struct braid_send_node *send[BRAID_CLASS_COUNT];
	struct braid_recv_node *recv[BRAID_CLASS_COUNT];
	uint64_t unrouted; /* gateway: packets for no known field unit */
	uint8_t buf[BRAID_MAX_DATAGRAM];
};

static size_t class_of(const struct tunnel *t, size_t len)
{
	if (t->sessions == 1)
		return BRAID_CLASS_MEDIA;
	return braid_tunnel_classify(&t->cfg->classes, t->buf, len);
}

/* The gateway's packet for a field unit: the reverse channel has no budget, so either
 * class's session serves; its own class's first, the other's when only that one has
 * heard from the destination (a connection the gateway's side opens). */
static void reverse(struct tunnel *t, size_t c, size_t len)
{
	if (braid_recv_node_reverse(t->recv[c], t->buf, len) == 0)
		return;
	size_t other = c == BRAID_CLASS_MEDIA ? BRAID_CLASS_FAST : BRAID_CLASS_MEDIA;
	if (t->recv[other] && braid_recv_node_reverse(t->recv[other], t->buf, len) == 0)
		return;
	t->unrouted++;
}

/* Packets routed into the TUN, each to its class's session, a batch at a time so that
 * the links get their turn. */
static void on_tun(struct braid_loop *loop, int fd, uint32_t events, void *arg)
{
	struct tunnel *t = arg;
	(void)loop;
	(void)events;
	for (int i = 0; i < TUN_BATCH; i++) {
		ssize_t got = read(fd, t->buf, sizeof(t->buf));
		if (got <= 0)
			break;
		size_t c = class_of(t, (size_t)got);
		if (t->send[c])
			braid_send_node_push(t->send[c], t->buf, (size_t)got);
		else
			reverse(t, c, (size_t)got);
	}
	for (size_t c = 0; c < t->sessions; c++) {
		if (t->send[c])
			braid_send_node_pump(t->send[c]);
		else
			braid_recv_node_drain(t->recv[c]);
	}
}

/* The fast session's port: the media session's plus one. */
static void next_port(struct braid_addr *a)
{
	uint16_t port = htons((uint16_t)(braid_addr_port(a) + 1));
	if (a->len && a->u.sa.sa_family == AF_INET)
		a->u.in4.sin_port = port;
	else if (a->len && a->u.sa.sa_family == AF_INET6)
		a->u.in6.sin6_port = port;
}

static int open_field(struct tunnel *t, size_t c, char *err, size_t err_len)
{
	struct braid_send_config cfg = t->cfg->send;
	cfg.input_tun = true;
	cfg.tun_fd = t->tun_fd;
	if (c == BRAID_CLASS_FAST) {
		cfg.core.latency_us = t->cfg->fast_latency_us;
		cfg.stats_path = NULL;
		next_port(&cfg.to);
		for (size_t i = 0; i < cfg.link_count; i++)
			next_port(&cfg.links[i].to);
	}
	t->send[c] = braid_send_node_open(t->loop, &cfg, err, err_len);
	return t->send[c] ? 0 : -1;
}

static int open_gateway(struct tunnel *t, size_t c, char *err, size_t err_len)
{
	struct braid_recv_config cfg = t->cfg->recv;
	cfg.output = BRAID_OUTPUT_TUN;
	cfg.tun_fd = t->tun_fd;
	if (c == BRAID_CLASS_FAST) {
		cfg.core.latency_us = t->cfg->fast_latency_us;
		cfg.stats_path = NULL;
		next_port(&cfg.listen);
	}
	t->recv[c] = braid_recv_node_open(t->loop, &cfg, err, err_len);
	return t->recv[c] ? 0 : -1;
}

static void close_sessions(struct tunnel *t)
{
	for (size_t c = 0; c < BRAID_CLASS_COUNT; c++) {
		if (t->send[c]) {
			braid_send_node_report(t->send[c], true);
			fprintf(stderr, "braid tunnel: %llu packets from the gateway refused by "
				"%s\n", (unsigned long long)braid_send_node_tun_write_errors(t->send[c]),
				t->cfg->tun_name);
			braid_send_node_close(t->send[c]);
		}
		if (t->recv[c]) {
			braid_recv_node_report(t->recv[c], true);
			fprintf(stderr, "braid tunnel: %llu packets from %s refused by the "
				"reverse queue\n", (unsigned long long)braid_recv_node_tun_unsent(t->recv[c]),
				t->cfg->tun_name);
			braid_recv_node_close(t->recv[c]);
		}
	}
}

static int run_sessions(struct tunnel *t)
{
	char err[256];
	bool field = t->cfg->role == BRAID_TUNNEL_FIELD;
	int rc = 0;
	t->sessions = t->cfg->fast_latency_us ? 2 : 1;
	for (size_t c = 0; c < t->sessions && rc == 0; c++)
		rc = field ? open_field(t, c, err, sizeof(err)) : open_gateway(t, c, err, sizeof(err));
	if (rc == 0 && braid_loop_add_fd(t->loop, t->tun_fd, EPOLLIN, on_tun, t) < 0) {
		snprintf(err, sizeof(err), "cannot watch the TUN device: %s", strerror(errno));
		rc = -1;
	}
	if (rc == 0) {
		rc = braid_loop_run(t->loop);
		braid_loop_del_fd(t->loop, t->tun_fd);
	} else {
		fprintf(stderr, "braid tunnel: %s\n", err);
	}
	close_sessions(t);
	if (!field)
		fprintf(stderr, "braid tunnel: %llu packets from %s for no known field unit\n",
			(unsigned long long)t->unrouted, t->cfg->tun_name);
	return rc < 0 ? 1 : 0;
}

int braid_tunnel_run(struct braid_tunnel_config *cfg)
{
	bool field = cfg->role == BRAID_TUNNEL_FIELD;
	if (!cfg->mtu)
		cfg->mtu = field ? braid_tunnel_field_mtu(&cfg->send)
				 : BRAID_TUNNEL_DEFAULT_PATH_MTU -
					   (unsigned)braid_tunnel_overhead(20, cfg->recv.core.psk != NULL);
	const char *step = "";
	int tun_fd = braid_tundev_open(cfg->tun_name, cfg->mtu, cfg->addrs, cfg->addr_count, &step);
	if (tun_fd < 0) {
		fprintf(stderr, "braid tunnel: TUN device %s: %s: %s\n", cfg->tun_name, step,
			strerror(-tun_fd));
		return 1;
	}
	struct braid_loop *loop = braid_loop_new();
	if (!loop) {
		fprintf(stderr, "braid tunnel: cannot create the event loop\n");
		braid_tun_close(tun_fd);
		return 1;
	}
	static const int signals[] = { SIGINT, SIGTERM, SIGHUP, 0 };
	braid_loop_watch_signals(loop, signals, on_signal, NULL);
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "braid tunnel: %s up, MTU %u, role %s\n", cfg->tun_name, cfg->mtu,
		field ? "field" : "gateway");
	static struct tunnel t;
	t = (struct tunnel){ .cfg = cfg, .loop = loop, .tun_fd = tun_fd };
	int rc = run_sessions(&t);
	braid_loop_free(loop);
	braid_tun_close(tun_fd); /* the device goes with its last fd */
	return rc;
}
