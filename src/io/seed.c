#include "io/seed.h"

#include <errno.h>
#include <stdint.h>
#include <sys/random.h>

#include "braid/error.h"

int braid_seed_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t got = getrandom(p, len, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return BRAID_ERR_IO;
		p += got;
		len -= (size_t)got;
	}
	return 0;
}
