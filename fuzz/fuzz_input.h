/* Shared by the stateful fuzz targets: how an input is cut into datagrams, how time moves,
 * and how a harness that knows the keys protects a datagram (MAC or seal) so the fuzzer
 * reaches the states behind authentication.
 *
 * Input: one mode byte, then records of
 *   ctl (1 byte, meaning per target) | time step (1 byte) | length (2 bytes, BE) | bytes
 * A length past the end of the input takes what is left. */
#ifndef BRAID_FUZZ_INPUT_H
#define BRAID_FUZZ_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/wire.h"

/* A datagram may exceed the largest valid one a little, so oversize handling is reached. */
#define FUZZ_MAX_CHUNK (BRAID_MAX_DATAGRAM + 16)
#define FUZZ_BUF_SIZE (FUZZ_MAX_CHUNK + BRAID_SEAL_OVERHEAD)

/* Failed invariants end the run the way a sanitizer would, so libFuzzer keeps the input. */
#define FUZZ_REQUIRE(cond)                                                               \
	do {                                                                             \
		if (!(cond))                                                             \
			abort();                                                         \
	} while (0)

struct fuzz_reader {
	const uint8_t *p;
	size_t left;
};

struct fuzz_record {
	uint8_t ctl;
	uint64_t step_us;
	const uint8_t *bytes;
	size_t len;
};

/* Small steps for the ordinary pace of packets, large ones for silence and timeouts. */
static inline uint64_t fuzz_time_step(uint8_t t)
{
	return t < 200 ? (uint64_t)t * 1000 : (uint64_t)(t - 199) * 250000;
}

static inline bool fuzz_next_record(struct fuzz_reader *rd, struct fuzz_record *rec)
{
	if (rd->left < 4)
		return false;
	rec->ctl = rd->p[0];
	rec->step_us = fuzz_time_step(rd->p[1]);
	size_t len = (size_t)rd->p[2] << 8 | rd->p[3];
	rd->p += 4;
	rd->left -= 4;
	if (len > rd->left)
		len = rd->left;
	rec->bytes = rd->p;
	rec->len = len > FUZZ_MAX_CHUNK ? FUZZ_MAX_CHUNK : len;
	rd->p += len;
	rd->left -= len;
	return true;
}

/* Whether a next_timeout still equal to the time just handled is let pass once (the
 * health deadline of braid/link.h is one microsecond early: on_tick acts only after it).
 * Build with -DFUZZ_STRICT_TIMEOUTS to count it as a failure. */
static inline bool fuzz_tolerate_stall(void)
{
#ifdef FUZZ_STRICT_TIMEOUTS
	return false;
#else
	return true;
#endif
}

/* The core under test, as the time-advancing loop sees it. */
struct fuzz_clocked {
	void *core;
	uint64_t (*next_timeout)(const void *core);
	void (*handle_timeout)(void *core, uint64_t now_us);
	void (*drain)(void *harness); /* poll everything after each timeout */
	void *harness;
};

/* Moves *now forward by step_us, handling each timeout at the moment it falls due. */
static inline void fuzz_advance(const struct fuzz_clocked *c, uint64_t *now, uint64_t step_us)
{
	uint64_t until = *now + step_us;
	bool stalled = false;
	for (int i = 0; i < 64; i++) {
		uint64_t t = c->next_timeout(c->core);
		if (t > until)
			break;
		if (t <= *now) {
			/* Handling left the deadline at now. Tolerated once (link health deadlines
			 * fall a microsecond before the tick that acts on them), not twice: that
			 * would be an event loop spinning without progress. */
			FUZZ_REQUIRE(!stalled && fuzz_tolerate_stall());
			stalled = true;
			t = *now + 1;
		} else {
			stalled = false;
		}
		*now = t;
		c->handle_timeout(c->core, *now);
		c->drain(c->harness);
	}
	*now = until;
}

static inline bool fuzz_uses_hmac(uint8_t type)
{
	return type == BRAID_PKT_HELLO || type == BRAID_PKT_HELLO_ACK;
}

/* Sets KEYED and protects the datagram as its type calls for: HELLO and HELLO_ACK get the
 * MAC under the psk key; the rest are sealed under aead_key with packet number pn (the
 * packet number goes in after the header). buf holds FUZZ_BUF_SIZE bytes. Returns the new
 * length. */
static inline size_t fuzz_sign(uint8_t *buf, size_t len, const uint8_t mac_key[32],
			       const uint8_t aead_key[32], uint64_t pn)
{
	if (len < BRAID_WIRE_HEADER_SIZE)
		return len;
	buf[1] |= BRAID_FLAG_KEYED;
	if (fuzz_uses_hmac(buf[0] & 0x0f)) {
		braid__mac(mac_key, buf, len, buf + len);
		return len + BRAID_HELLO_TAG_SIZE;
	}
	size_t body = len - BRAID_WIRE_HEADER_SIZE;
	memmove(buf + 16, buf + 8, body);
	for (int i = 0; i < 8; i++)
		buf[8 + i] = (uint8_t)(pn >> (56 - 8 * i));
	braid__aead_seal(aead_key, pn, buf, 16, buf + 16, body, buf + 16, buf + 16 + body);
	return len + BRAID_SEAL_OVERHEAD;
}

static inline void fuzz_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void fuzz_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
