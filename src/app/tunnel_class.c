/* braid tunnel's traffic classes (tunnel_class.h). */
#include "tunnel_class.h"

#include <stdlib.h>
#include <string.h>

#define PROTO_UDP 17
#define IPV6_HEADER 40

struct fields {
	unsigned dscp;
	bool udp;          /* UDP with its ports readable */
	uint16_t sport, dport;
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void read_ports(const uint8_t *pkt, size_t len, size_t at, struct fields *f)
{
	if (len < at + 4)
		return;
	f->udp = true;
	f->sport = be16(pkt + at);
	f->dport = be16(pkt + at + 2);
}

static bool read_fields(const uint8_t *pkt, size_t len, struct fields *f)
{
	memset(f, 0, sizeof(*f));
	if (len < 1)
		return false;
	if (pkt[0] >> 4 == 4) {
		if (len < 20)
			return false;
		size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
		bool first_fragment = (be16(pkt + 6) & 0x1fff) == 0;
		f->dscp = pkt[1] >> 2;
		if (pkt[9] == PROTO_UDP && ihl >= 20 && first_fragment)
			read_ports(pkt, len, ihl, f);
		return true;
	}
	if (pkt[0] >> 4 == 6) {
		if (len < IPV6_HEADER)
			return false;
		f->dscp = (unsigned)((pkt[0] & 0x0f) << 2 | pkt[1] >> 6);
		if (pkt[6] == PROTO_UDP)
			read_ports(pkt, len, IPV6_HEADER, f);
		return true;
	}
	return false;
}

static bool media_port(const struct braid_tunnel_classes *c, const struct fields *f)
{
	if (!c->media_port_count)
		return true;
	for (size_t i = 0; i < c->media_port_count; i++)
		if (f->sport == c->media_ports[i] || f->dport == c->media_ports[i])
			return true;
	return false;
}

enum braid_tunnel_class braid_tunnel_classify(const struct braid_tunnel_classes *c,
					      const uint8_t *pkt, size_t len)
{
	struct fields f;
	if (!read_fields(pkt, len, &f))
		return BRAID_CLASS_FAST;
	if (c->media_dscp >> f.dscp & 1)
		return BRAID_CLASS_MEDIA;
	return f.udp && media_port(c, &f) ? BRAID_CLASS_MEDIA : BRAID_CLASS_FAST;
}

/* Comma-separated whole numbers in [min, max], each given to add; false on any other. */
static bool parse_list(const char *text, unsigned long min, unsigned long max,
		       bool (*add)(struct braid_tunnel_classes *, unsigned long),
		       struct braid_tunnel_classes *c)
{
	const char *p = text;
	for (;;) {
		char *end;
		if (*p < '0' || *p > '9')
			return false;
		unsigned long v = strtoul(p, &end, 10);
		if (v < min || v > max || !add(c, v))
			return false;
		if (*end == '\0')
			return true;
		if (*end != ',')
			return false;
		p = end + 1;
	}
}

static bool add_port(struct braid_tunnel_classes *c, unsigned long port)
{
	if (c->media_port_count == BRAID_TUNNEL_MAX_PORTS)
		return false;
	c->media_ports[c->media_port_count++] = (uint16_t)port;
	return true;
}

static bool add_dscp(struct braid_tunnel_classes *c, unsigned long dscp)
{
	c->media_dscp |= (uint64_t)1 << dscp;
	return true;
}

bool braid_tunnel_parse_ports(const char *text, struct braid_tunnel_classes *c)
{
	c->media_port_count = 0;
	return parse_list(text, 1, 65535, add_port, c);
}

bool braid_tunnel_parse_dscp(const char *text, struct braid_tunnel_classes *c)
{
	c->media_dscp = 0;
	return parse_list(text, 0, 63, add_dscp, c);
}
