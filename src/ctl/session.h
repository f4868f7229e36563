/* What braidd's sessions are, as plain data shared by the session manager, the gRPC API,
 * the store and the metrics: a session's specification (what it was created with), its
 * state and its counters. The numbers of the enums are those of proto/braid/v1/control.proto
 * so that conversions are a cast. */
#ifndef BRAID_CTL_SESSION_H
#define BRAID_CTL_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_ID_LEN 16 /* hex digits of a session id */
#define CTL_ADDRESS_MAX 64
#define CTL_INTERFACE_MAX 16 /* IFNAMSIZ */
#define CTL_OUTPUT_MAX 512
#define CTL_PSK_MAX 256
#define CTL_ERROR_MAX 256
#define CTL_MAX_LINKS 32
#define CTL_LINK_NAME_MAX 32

enum ctl_kind {
	CTL_KIND_ANY = 0,
	CTL_KIND_BOND_RECEIVE = 1,
	CTL_KIND_RTP_PROXY = 2,
};

enum ctl_transport {
	CTL_TRANSPORT_DEFAULT = 0, /* UDP */
	CTL_TRANSPORT_UDP = 1,
	CTL_TRANSPORT_TCP = 2,
};

enum ctl_state {
	CTL_STATE_ANY = 0,
	CTL_STATE_CREATED = 1,
	CTL_STATE_CONNECTING = 2,
	CTL_STATE_ACTIVE = 3,
	CTL_STATE_ERROR = 4,
	CTL_STATE_CLOSED = 5,
};

enum ctl_event_type {
	CTL_EVENT_CREATED = 1,
	CTL_EVENT_STATE_CHANGED = 2,
	CTL_EVENT_STATS = 3,
	CTL_EVENT_ERROR = 4,
	CTL_EVENT_CLOSED = 5,
};

/* How a request fails; the gRPC layer maps each to its status code. */
enum ctl_code {
	CTL_OK = 0,
	CTL_INVALID,     /* INVALID_ARGUMENT: a bad endpoint, URL or value */
	CTL_NOT_FOUND,   /* NOT_FOUND: no such session */
	CTL_EXISTS,      /* ALREADY_EXISTS: the port is in use */
	CTL_EXHAUSTED,   /* RESOURCE_EXHAUSTED: the session cap */
	CTL_DENIED,      /* PERMISSION_DENIED: a destination outside the allowlist */
	CTL_INTERNAL,    /* INTERNAL: out of memory, a socket that cannot be made */
};

struct ctl_endpoint {
	char address[CTL_ADDRESS_MAX];     /* literal IPv4/IPv6; "": any */
	uint32_t port;                     /* 0: any */
	char interface[CTL_INTERFACE_MAX]; /* "": none */
};

struct ctl_spec {
	enum ctl_kind kind;
	enum ctl_transport transport;
	struct ctl_endpoint listen, forward, destination;
	bool rtcp;
	uint64_t max_packet_rate; /* per second; 0: no limit */
	uint64_t max_bitrate;     /* bits per second; 0: no limit */
	uint64_t idle_timeout_ms; /* 0: never */
	char output[CTL_OUTPUT_MAX];
	uint64_t latency_ms;      /* 0: the receiver's default */
	uint8_t psk[CTL_PSK_MAX];
	size_t psk_len;
};

struct ctl_stats {
	uint64_t packets_received, packets_sent, bytes_received, bytes_sent;
	uint64_t packets_lost, packets_invalid, packets_rate_limited;
	double jitter_ms, latency_ms, rtt_ms;
};

struct ctl_link_status {
	uint32_t session; /* the bonding session (one sender) the link belongs to */
	uint32_t id;
	char name[CTL_LINK_NAME_MAX + 1];
	char state[16];
	uint64_t packets_received, bytes_received;
	double loss, jitter_ms, rtt_ms;
};

struct ctl_status {
	char id[CTL_ID_LEN + 1];
	enum ctl_kind kind;
	enum ctl_state state;
	char error[CTL_ERROR_MAX];
	struct ctl_stats stats;
	struct ctl_spec spec;
	struct ctl_endpoint listen; /* bound */
	size_t link_count;
	struct ctl_link_status links[CTL_MAX_LINKS];
};

const char *ctl_kind_name(enum ctl_kind kind);
const char *ctl_state_name(enum ctl_state state);
const char *ctl_event_name(enum ctl_event_type type);
/* Parses the names above ("rtp_proxy", "active"...); false for anything else. */
bool ctl_kind_parse(const char *text, enum ctl_kind *out);
bool ctl_state_parse(const char *text, enum ctl_state *out);

/* Counters that restart from zero when a session is made again, added to the values saved
 * before (the rates and delays are taken from `now` as they are). */
void ctl_stats_add(struct ctl_stats *total, const struct ctl_stats *base,
		   const struct ctl_stats *now);

#endif
