/* braid tunnel's run: the TUN device, the MTU, the node on the loop (tunnel.h). */
#include "tunnel.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
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

static int run_field(struct braid_loop *loop, struct braid_tunnel_config *cfg, int tun_fd)
{
	char err[256];
	cfg->send.input_tun = true;
	cfg->send.tun_fd = tun_fd;
	struct braid_send_node *node = braid_send_node_open(loop, &cfg->send, err, sizeof(err));
	if (!node) {
		fprintf(stderr, "braid tunnel: %s\n", err);
		return 1;
	}
	int rc = braid_loop_run(loop);
	braid_send_node_report(node, true);
	fprintf(stderr, "braid tunnel: %llu packets from the gateway refused by %s\n",
		(unsigned long long)braid_send_node_tun_write_errors(node), cfg->tun_name);
	braid_send_node_close(node);
	return rc < 0 ? 1 : 0;
}

static int run_gateway(struct braid_loop *loop, struct braid_tunnel_config *cfg, int tun_fd)
{
	char err[256];
	cfg->recv.output = BRAID_OUTPUT_TUN;
	cfg->recv.tun_fd = tun_fd;
	struct braid_recv_node *node = braid_recv_node_open(loop, &cfg->recv, err, sizeof(err));
	if (!node) {
		fprintf(stderr, "braid tunnel: %s\n", err);
		return 1;
	}
	int rc = braid_loop_run(loop);
	braid_recv_node_report(node, true);
	fprintf(stderr, "braid tunnel: %llu packets from %s with no session to take them\n",
		(unsigned long long)braid_recv_node_tun_unsent(node), cfg->tun_name);
	braid_recv_node_close(node);
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
	int rc = field ? run_field(loop, cfg, tun_fd) : run_gateway(loop, cfg, tun_fd);
	braid_loop_free(loop);
	braid_tun_close(tun_fd); /* the device goes with its last fd */
	return rc;
}
