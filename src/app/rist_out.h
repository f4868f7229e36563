/* --output rist://HOST:PORT: the released stream sent on as a RIST Simple Profile flow
 * (src/rist/tx.h) from a local even/odd port pair, RTP to PORT and RTCP to PORT + 1, with
 * the receiver's NACKs answered from the retransmission buffer. RTCP is taken only from the
 * address it is sent to (HOST:PORT + 1); any other source is dropped and counted. */
#ifndef BRAID_APP_RIST_OUT_H
#define BRAID_APP_RIST_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "braid/addr.h"
#include "io/loop.h"
#include "rist/tx.h"

struct braid_rist_out;

/* Binds a free even/odd port pair of dest's family. Returns NULL with err set. */
struct braid_rist_out *braid_rist_out_open(struct braid_loop *loop,
					   const struct braid_addr *dest, uint64_t buffer_us,
					   char *err, size_t err_len);
void braid_rist_out_close(struct braid_rist_out *o);
/* Sends one payload now (and whatever resends and RTCP wait). */
void braid_rist_out_push(struct braid_rist_out *o, const uint8_t *payload, size_t len);
const struct braid_rist_tx *braid_rist_out_core(const struct braid_rist_out *o);
/* Its RTP socket (to mark an output open; the caller never closes it). */
int braid_rist_out_fd(const struct braid_rist_out *o);
/* Its figures as a JSON object's members after a comma: ,"rist_out":{...}. */
void braid_rist_out_json(const struct braid_rist_out *o, FILE *f);

/* Sets the port of an address. */
void braid_rist_set_port(struct braid_addr *a, uint16_t port);

#endif
