/* The RTCP packets the RIST Simple Profile (VSF TR-06-1) adds to RFC 3550 and RFC 4585, all
 * RTCP APP packets named "RIST": the range NACK (subtype 0: records of a first lost sequence
 * number and how many follow it) and the RTT echo request and response (subtypes 2 and 3:
 * a 64-bit timestamp echoed back with the responder's processing delay). The framing is the
 * rtp library's RTCP reader and writer; this file reads and writes the APP data only. */
#ifndef BRAID_RIST_APP_H
#define BRAID_RIST_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "braid/rtcp.h"

#define BRAID_RIST_APP_RANGE_NACK 0
#define BRAID_RIST_APP_ECHO_REQUEST 2
#define BRAID_RIST_APP_ECHO_RESPONSE 3

/* Sequence numbers one NACK packet can ask for are bounded so that a hostile range
 * (65536 numbers per record) costs no more than an honest one. */
#define BRAID_RIST_NACK_MAX_SEQS 1024

/* The largest payload taken (jumbo frames on loopback included), and a datagram
 * holding it with an RTP header. */
#define BRAID_RIST_MAX_PAYLOAD 9000
#define BRAID_RIST_MAX_DATAGRAM (BRAID_RIST_MAX_PAYLOAD + 128)

struct braid_rist_echo {
	uint32_t ssrc;
	uint64_t timestamp; /* opaque to the responder: echoed as it came */
	uint32_t delay_us;  /* response: the time the responder held the request */
};

/* Whether an APP packet is one of RIST's (its name is "RIST"). */
bool braid_rist_app_is_rist(const struct braid_rtcp_app *app);

/* The sequence numbers a NACK asks for, of either kind: an RTPFB Generic NACK (its pid and
 * bitmask pairs) or a RIST range NACK. Writes at most cap, in the packet's order, and the
 * media SSRC the request is about. Returns the count written, or -1 when the packet is no
 * NACK or a malformed one (an APP range NACK whose data is not whole records). */
int braid_rist_nack_seqs(const struct braid_rtcp_packet *p, uint32_t *media_ssrc,
			 uint16_t *out, size_t cap);

/* An echo request or response: returns true and fills e, or false for any other packet or
 * an echo of the wrong size. */
bool braid_rist_echo_parse(const struct braid_rtcp_packet *p, uint8_t *subtype,
			   struct braid_rist_echo *e);

/* Appends a RIST range NACK for media_ssrc asking for lost[0..n), which must be in
 * increasing order modulo 2^16 (runs of consecutive numbers become one record). Returns
 * the length written, or a negative braid_error (TOO_BIG, INVAL for n == 0). */
int braid_rist_write_range_nack(struct braid_rtcp_writer *w, uint32_t media_ssrc,
				const uint16_t *lost, size_t n);
/* Appends an RTPFB Generic NACK (RFC 4585) from sender_ssrc about media_ssrc. */
int braid_rist_write_generic_nack(struct braid_rtcp_writer *w, uint32_t sender_ssrc,
				  uint32_t media_ssrc, const uint16_t *lost, size_t n);
/* Appends an echo request or response. */
int braid_rist_write_echo(struct braid_rtcp_writer *w, uint8_t subtype,
			  const struct braid_rist_echo *e);

#endif
