/* An RTP proxy session on the event loop: RTP (and RTCP on port + 1 when asked) from a
 * source to a destination, and what the destination sends back to the latched source.
 *
 * Every datagram must be RTP (or, on either port, RTCP: RFC 5761 multiplexing) to pass;
 * anything else is dropped and counted. RTP from the source goes through the session's
 * token buckets (packets and bits per second). The source is latched on its first valid
 * packet; another address takes over only once the latched one has been silent for
 * CTL_PROXY_RELATCH_US. Replies are taken only from the destination's address.
 *
 * Measured with braid's RTP/RTCP modules: loss and interarrival jitter of the source's
 * stream (RFC 3550 A.1, A.3, A.8; the clock rate from the payload type, 90 kHz for
 * dynamic types), the time a datagram spends inside the proxy, and the round trip seen
 * from RTCP: an SR the proxy passed on, answered by a report block whose LSR names it,
 * gives that leg's RTT (arrival - forwarding - DLSR); the two legs add up to the ends'
 * round trip less the time inside the proxy.
 *
 * With the TCP transport each leg is one RFC 4571-framed connection per channel: the
 * first connection accepted on a listen port is the source (later ones are closed), and
 * it makes the proxy connect to the destination. A frame is handled as a datagram would
 * be; a side whose outgoing queue is congested pauses reading of the other; a peer that
 * closes puts the proxy in ERROR. */
#ifndef BRAID_CTL_PROXY_H
#define BRAID_CTL_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl/session.h"
#include "io/loop.h"

#define CTL_PROXY_RELATCH_US UINT64_C(5000000)

struct ctl_proxy;

/* Called (on the loop) when the proxy's state changes: first traffic, or a failure. */
typedef void (*ctl_proxy_changed_fn)(void *arg);

/* Opens the sockets. The spec's endpoints must already be checked (the manager does).
 * On failure returns NULL with *code and err set. */
struct ctl_proxy *ctl_proxy_open(struct braid_loop *loop, const struct ctl_spec *spec,
				 ctl_proxy_changed_fn changed, void *arg, enum ctl_code *code,
				 char *err, size_t err_len);
void ctl_proxy_close(struct ctl_proxy *p);

/* The bound listen endpoint (the RTP port). */
void ctl_proxy_listen(const struct ctl_proxy *p, struct ctl_endpoint *out);
/* CONNECTING until the first valid packet, then ACTIVE; ERROR after a failure (err). */
enum ctl_state ctl_proxy_state(const struct ctl_proxy *p, char *err, size_t err_len);
void ctl_proxy_stats(const struct ctl_proxy *p, struct ctl_stats *out);
/* When the last valid datagram arrived (either way), 0: never. */
uint64_t ctl_proxy_last_activity(const struct ctl_proxy *p);

/* The clock rate an RTP payload type implies (RFC 3551), 90 kHz when it says none. */
uint32_t ctl_rtp_clock_rate(uint8_t payload_type);

#endif
