/* Arbitrary bytes as IP packets crossing netns bench links into the repeats tracker
 * (emu/repeats.h): a control byte, then packets of [2-byte length][bytes], each seen twice.
 * Nothing may be read outside a packet, and a packet seen again within the window must
 * classify the same way or as a repeat of itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emu/repeats.h"

#define FUZZ_REQUIRE(cond)                                                               \
	do {                                                                             \
		if (!(cond))                                                             \
			abort();                                                         \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The second sighting of a packet, given the first. */
static void check_again(enum braid_emu_media first, enum braid_emu_media again)
{
	if (first == BRAID_EMU_NOT_MEDIA || first == BRAID_EMU_RETRANSMISSION)
		FUZZ_REQUIRE(again == first);
	else
		FUZZ_REQUIRE(again == BRAID_EMU_DUPLICATE || again == BRAID_EMU_FIRST);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct braid_emu_repeats *r;
	struct braid_emu_media_stats stats = { 0 };
	uint64_t now = 1;

	if (!r)
		r = braid_emu_repeats_new();
	FUZZ_REQUIRE(r);
	if (size < 1)
		return 0;
	/* The control byte spaces the sightings, some beyond the window. */
	uint64_t step = (uint64_t)data[0] * 40000;
	data++;
	size--;
	while (size >= 2) {
		size_t len = (size_t)(data[0] << 8 | data[1]);

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		/* An exact-size copy, so a read past the packet trips the sanitizer. */
		uint8_t *pkt = malloc(len ? len : 1);
		FUZZ_REQUIRE(pkt);
		memcpy(pkt, data, len);
		enum braid_emu_media first = braid_emu_repeats_see(r, pkt, len, now);
		enum braid_emu_media again = braid_emu_repeats_see(r, pkt, len, now + 1);
		check_again(first, again);
		braid_emu_media_count(&stats, first);
		braid_emu_media_count(&stats, again);
		free(pkt);
		data += len;
		size -= len;
		now += step + 2;
	}
	FUZZ_REQUIRE(stats.retransmissions + stats.duplicates <= stats.packets);
	return 0;
}
