/* Media packets seen on the netns bench's links (docs/bench-links.md): which of the IP
 * packets crossing a link carry RTP (the RIST simple profile's media, on an even UDP port)
 * or braid DATA, and which of those repeat a packet some link carried before — a
 * retransmission when the sender marks it so (RIST: the SSRC's low bit, TR-06-1; braid: the
 * header's RETRANSMIT flag), else a duplicate copy (broadcast bonding). One tracker serves
 * every link of a bench, so a copy on a second link counts as a repeat there. */
#ifndef BRAID_EMU_REPEATS_H
#define BRAID_EMU_REPEATS_H

#include <stddef.h>
#include <stdint.h>

/* How long a packet counts as seen: longer than any resend a bench's latency allows. */
#define BRAID_EMU_REPEAT_WINDOW_US 5000000u

enum braid_emu_media {
	BRAID_EMU_NOT_MEDIA = 0, /* not IPv4 UDP RTP or braid DATA, or unreadable */
	BRAID_EMU_FIRST,         /* media, first time seen (or sealed: its number unknown) */
	BRAID_EMU_RETRANSMISSION,
	BRAID_EMU_DUPLICATE,
};

/* Per link, forward direction, totals since the link's path opened. */
struct braid_emu_media_stats {
	uint64_t packets;         /* RTP media and braid DATA packets */
	uint64_t retransmissions; /* of those, marked as resends by their sender */
	uint64_t duplicates;      /* unmarked repeats of a packet seen within the window */
};

struct braid_emu_repeats;

struct braid_emu_repeats *braid_emu_repeats_new(void);
void braid_emu_repeats_free(struct braid_emu_repeats *r);
/* Classifies one IPv4 packet seen at now_us (any monotonic clock) and remembers it. Reads
 * only inside pkt[0..len). Keys that collide in the tracker's table evict each other, so
 * under a flood of distinct packets a repeat may go unseen, never the other way round. */
enum braid_emu_media braid_emu_repeats_see(struct braid_emu_repeats *r, const uint8_t *pkt,
					   size_t len, uint64_t now_us);
/* Adds one classification to a link's counters. */
void braid_emu_media_count(struct braid_emu_media_stats *s, enum braid_emu_media m);

#endif
