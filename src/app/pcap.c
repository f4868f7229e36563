/* Classic pcap files (the format of libpcap's savefile, as tcpdump and tshark -F pcap
 * write it), read record by record down to UDP payloads. */
#include "pcap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum {
	FILE_HEADER_SIZE = 24,
	RECORD_HEADER_SIZE = 16,
	LINKTYPE_ETHERNET = 1,
	LINKTYPE_RAW = 101,
	LINKTYPE_LINUX_SLL = 113,
	LINKTYPE_IPV4 = 228,
	LINKTYPE_IPV6 = 229,
	LINKTYPE_LINUX_SLL2 = 276,
	ETHERTYPE_IPV4 = 0x0800,
	ETHERTYPE_IPV6 = 0x86dd,
	MAX_VLAN_TAGS = 2,
	MAX_IPV6_EXTENSIONS = 8,
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t file_u32(const struct braid_pcap *p, const uint8_t *b)
{
	uint32_t v;
	memcpy(&v, b, 4);
	return p->swapped ? __builtin_bswap32(v) : v;
}

bool braid_pcap_open(struct braid_pcap *p, const char *path, char *err, size_t err_len)
{
	memset(p, 0, sizeof(*p));
	p->f = fopen(path, "rb");
	if (!p->f) {
		snprintf(err, err_len, "%s", strerror(errno));
		return false;
	}
	uint8_t h[FILE_HEADER_SIZE];
	uint32_t magic;
	if (fread(h, 1, sizeof(h), p->f) != sizeof(h)) {
		snprintf(err, err_len, "too short for a pcap file header");
		goto fail;
	}
	memcpy(&magic, h, 4);
	if (magic == 0xa1b2c3d4u || magic == 0xa1b23c4du) {
		p->nanoseconds = magic == 0xa1b23c4du;
	} else if (magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u) {
		p->swapped = true;
		p->nanoseconds = magic == 0x4d3cb2a1u;
	} else if (magic == 0x0a0d0d0au) {
		snprintf(err, err_len, "pcapng is not supported (convert: editcap -F pcap)");
		goto fail;
	} else {
		snprintf(err, err_len, "not a pcap file (magic 0x%08x)", (unsigned)magic);
		goto fail;
	}
	/* The upper bits may carry FCS information (the pcap draft's LinkType field). */
	p->linktype = file_u32(p, h + 20) & 0xffff;
	if (p->linktype != LINKTYPE_ETHERNET && p->linktype != LINKTYPE_RAW &&
	    p->linktype != LINKTYPE_LINUX_SLL && p->linktype != LINKTYPE_LINUX_SLL2 &&
	    p->linktype != LINKTYPE_IPV4 && p->linktype != LINKTYPE_IPV6) {
		snprintf(err, err_len, "link type %u is not supported (Ethernet, Linux cooked, "
			 "raw IP)", (unsigned)p->linktype);
		goto fail;
	}
	p->frame = malloc(BRAID_PCAP_MAX_RECORD);
	if (!p->frame) {
		snprintf(err, err_len, "out of memory");
		goto fail;
	}
	p->offset = FILE_HEADER_SIZE;
	return true;
fail:
	fclose(p->f);
	p->f = NULL;
	return false;
}

void braid_pcap_close(struct braid_pcap *p)
{
	if (p->f)
		fclose(p->f);
	free(p->frame);
	memset(p, 0, sizeof(*p));
}

static void set_addr4(struct braid_addr *a, const uint8_t *ip, const uint8_t *port)
{
	memset(a, 0, sizeof(*a));
	a->u.in4.sin_family = AF_INET;
	memcpy(&a->u.in4.sin_addr, ip, 4);
	memcpy(&a->u.in4.sin_port, port, 2);
	a->len = sizeof(a->u.in4);
}

static void set_addr6(struct braid_addr *a, const uint8_t *ip, const uint8_t *port)
{
	memset(a, 0, sizeof(*a));
	a->u.in6.sin6_family = AF_INET6;
	memcpy(&a->u.in6.sin6_addr, ip, 16);
	memcpy(&a->u.in6.sin6_port, port, 2);
	a->len = sizeof(a->u.in6);
}

/* The UDP header and payload in p[0..len), len being what the IP header says. */
static bool udp(const uint8_t *p, size_t len, struct braid_pcap_udp *out)
{
	if (len < 8)
		return false;
	size_t udp_len = be16(p + 4);
	if (udp_len < 8 || udp_len > len)
		return false;
	out->payload = p + 8;
	out->len = udp_len - 8;
	return true;
}

static bool ipv4(const uint8_t *p, size_t len, struct braid_pcap_udp *out)
{
	if (len < 20 || p[0] >> 4 != 4)
		return false;
	size_t ihl = (size_t)(p[0] & 0x0f) * 4, total = be16(p + 2);
	/* A total beyond the capture is a truncated capture; below, Ethernet padding. */
	if (ihl < 20 || total < ihl || total > len)
		return false;
	if (be16(p + 6) & 0x3fff) /* more fragments, or a fragment offset */
		return false;
	if (p[9] != IPPROTO_UDP || !udp(p + ihl, total - ihl, out))
		return false;
	set_addr4(&out->src, p + 12, p + ihl);
	set_addr4(&out->dst, p + 16, p + ihl + 2);
	return true;
}

static bool ipv6(const uint8_t *p, size_t len, struct braid_pcap_udp *out)
{
	if (len < 40 || p[0] >> 4 != 6)
		return false;
	size_t end = 40 + (size_t)be16(p + 4), off = 40;
	uint8_t next = p[6];
	if (end == 40 || end > len) /* a jumbogram, or a truncated capture */
		return false;
	for (int i = 0; next != IPPROTO_UDP; i++) {
		/* Hop-by-hop, routing and destination options share one layout; a fragment
		 * header (44) or anything else ends the walk. */
		if (i == MAX_IPV6_EXTENSIONS || (next != 0 && next != 43 && next != 60))
			return false;
		if (end - off < 8)
			return false;
		size_t ext_len = ((size_t)p[off + 1] + 1) * 8;
		if (end - off < ext_len)
			return false;
		next = p[off];
		off += ext_len;
	}
	if (!udp(p + off, end - off, out))
		return false;
	set_addr6(&out->src, p + 8, p + off);
	set_addr6(&out->dst, p + 24, p + off + 2);
	return true;
}

static bool by_ethertype(uint16_t type, const uint8_t *p, size_t len,
			 struct braid_pcap_udp *out)
{
	if (type == ETHERTYPE_IPV4)
		return ipv4(p, len, out);
	if (type == ETHERTYPE_IPV6)
		return ipv6(p, len, out);
	return false;
}

static bool ethernet(const uint8_t *p, size_t len, struct braid_pcap_udp *out)
{
	if (len < 14)
		return false;
	size_t off = 14;
	uint16_t type = be16(p + 12);
	for (int tags = 0; type == 0x8100 || type == 0x88a8 || type == 0x9100; tags++) {
		if (tags == MAX_VLAN_TAGS || len - off < 4)
			return false;
		type = be16(p + off + 2);
		off += 4;
	}
	return by_ethertype(type, p + off, len - off, out);
}

bool braid_pcap_frame_udp(uint32_t linktype, const uint8_t *frame, size_t len,
			  struct braid_pcap_udp *out)
{
	switch (linktype) {
	case LINKTYPE_ETHERNET:
		return ethernet(frame, len, out);
	case LINKTYPE_LINUX_SLL:
		return len >= 16 && by_ethertype(be16(frame + 14), frame + 16, len - 16, out);
	case LINKTYPE_LINUX_SLL2:
		return len >= 20 && by_ethertype(be16(frame), frame + 20, len - 20, out);
	case LINKTYPE_RAW:
		return len >= 1 && (frame[0] >> 4 == 4 ? ipv4(frame, len, out)
						       : ipv6(frame, len, out));
	case LINKTYPE_IPV4:
		return ipv4(frame, len, out);
	case LINKTYPE_IPV6:
		return ipv6(frame, len, out);
	default:
		return false;
	}
}

/* Reads one record into p->frame. Returns 1, 0 at the end of the file, or -1. */
static int read_record(struct braid_pcap *p, size_t *len, uint64_t *t_us, char *err,
		       size_t err_len)
{
	uint8_t h[RECORD_HEADER_SIZE];
	size_t n = fread(h, 1, sizeof(h), p->f);
	if (n == 0 && feof(p->f))
		return 0;
	if (n != sizeof(h)) {
		snprintf(err, err_len, "record at offset %llu: truncated header",
			 (unsigned long long)p->offset);
		return -1;
	}
	uint32_t sec = file_u32(p, h), frac = file_u32(p, h + 4), caplen = file_u32(p, h + 8);
	if (caplen > BRAID_PCAP_MAX_RECORD) {
		snprintf(err, err_len, "record at offset %llu: %u bytes, more than %u",
			 (unsigned long long)p->offset, (unsigned)caplen, BRAID_PCAP_MAX_RECORD);
		return -1;
	}
	if (fread(p->frame, 1, caplen, p->f) != caplen) {
		snprintf(err, err_len, "record at offset %llu: truncated (%u bytes expected)",
			 (unsigned long long)p->offset, (unsigned)caplen);
		return -1;
	}
	p->offset += RECORD_HEADER_SIZE + (uint64_t)caplen;
	*t_us = (uint64_t)sec * 1000000u + (p->nanoseconds ? frac / 1000u : frac);
	*len = caplen;
	return 1;
}

int braid_pcap_next_udp(struct braid_pcap *p, struct braid_pcap_udp *out, char *err,
			size_t err_len)
{
	for (;;) {
		uint64_t t_us;
		size_t len;
		int rc = read_record(p, &len, &t_us, err, err_len);
		if (rc <= 0)
			return rc;
		memset(out, 0, sizeof(*out));
		if (braid_pcap_frame_udp(p->linktype, p->frame, len, out)) {
			out->t_us = t_us;
			return 1;
		}
	}
}
