/* System randomness for the edges (session ids, nonces, seeds for the cores' generators).
 * The cores never draw it themselves; the programs do, here, and stop if it fails. */
#ifndef BRAID_IO_SEED_H
#define BRAID_IO_SEED_H

#include <stddef.h>

/* Fills buf with len bytes from the kernel's generator (getrandom). 0, or BRAID_ERR_IO
 * with errno set when the kernel could not give them: never a weaker fallback. */
int braid_seed_bytes(void *buf, size_t len);

#endif
