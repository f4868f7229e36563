/* One JSON object per RTCP packet. Field names follow RFC 3550's, in snake case; numbers
 * are printed as the packet carries them (cumulative_lost signed, NTP as one 64-bit
 * integer); opaque bytes as lowercase hex. */
#include "rtcp_json.h"

#include <inttypes.h>

#include "json.h"

static void hex(FILE *f, const uint8_t *p, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
	fputc('"', f);
}

static void blocks(FILE *f, const struct braid_rtcp_report_block *b, unsigned n)
{
	fputs(",\"blocks\":[", f);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "%s{\"ssrc\":%" PRIu32 ",\"fraction_lost\":%u,\"cumulative_lost\":%"
			PRId32 ",\"ext_highest_seq\":%" PRIu32 ",\"jitter\":%" PRIu32
			",\"lsr\":%" PRIu32 ",\"dlsr\":%" PRIu32 "}",
			i ? "," : "", b[i].ssrc, b[i].fraction_lost, b[i].cumulative_lost,
			b[i].ext_highest_seq, b[i].jitter, b[i].lsr, b[i].dlsr);
	fputc(']', f);
}

static void ext(FILE *f, const uint8_t *p, size_t n)
{
	if (!n)
		return;
	fputs(",\"ext\":", f);
	hex(f, p, n);
}

static void item_type(FILE *f, uint8_t type)
{
	static const char *const names[] = { "end", "cname", "name", "email", "phone",
					     "loc", "tool", "note", "priv" };
	if (type < sizeof(names) / sizeof(names[0]))
		fprintf(f, "\"%s\"", names[type]);
	else
		fprintf(f, "\"item%u\"", type);
}

static void sdes(FILE *f, const struct braid_rtcp_sdes *s)
{
	fputs(",\"chunks\":[", f);
	for (unsigned i = 0; i < s->chunk_count; i++) {
		fprintf(f, "%s{\"ssrc\":%" PRIu32 ",\"items\":[", i ? "," : "", s->chunks[i].ssrc);
		struct braid_rtcp_sdes_item item;
		size_t off = 0;
		for (int k = 0; braid_rtcp_sdes_next_item(&s->chunks[i], &off, &item) == 1; k++) {
			fputs(k ? ",{\"type\":" : "{\"type\":", f);
			item_type(f, item.type);
			fputs(",\"text\":", f);
			braid_json_write_string(f, item.text, item.len);
			fputc('}', f);
		}
		fputs("]}", f);
	}
	fputc(']', f);
}

static void bye(FILE *f, const struct braid_rtcp_bye *b)
{
	fputs(",\"ssrcs\":[", f);
	for (unsigned i = 0; i < b->ssrc_count; i++)
		fprintf(f, "%s%" PRIu32, i ? "," : "", b->ssrcs[i]);
	fputc(']', f);
	if (b->has_reason) {
		fputs(",\"reason\":", f);
		braid_json_write_string(f, b->reason, b->reason_len);
	}
}

static void nack(FILE *f, const struct braid_rtcp_nack *n)
{
	fprintf(f, ",\"sender_ssrc\":%" PRIu32 ",\"media_ssrc\":%" PRIu32 ",\"pairs\":[",
		n->sender_ssrc, n->media_ssrc);
	for (size_t i = 0; i < n->pair_count; i++) {
		struct braid_rtcp_nack_pair pair = braid_rtcp_nack_pair_at(n, i);
		fprintf(f, "%s{\"pid\":%u,\"blp\":%u}", i ? "," : "", pair.pid, pair.blp);
	}
	fputs("],\"lost\":[", f);
	for (size_t i = 0; i < n->pair_count; i++) {
		uint16_t seqs[17];
		unsigned count = braid_rtcp_nack_pair_seqs(braid_rtcp_nack_pair_at(n, i), seqs);
		for (unsigned k = 0; k < count; k++)
			fprintf(f, "%s%u", i || k ? "," : "", seqs[k]);
	}
	fputc(']', f);
}

static void other(FILE *f, const struct braid_rtcp_packet *p)
{
	const char *name = p->type == BRAID_RTCP_RTPFB	 ? "rtpfb"
			   : p->type == BRAID_RTCP_PSFB ? "psfb"
							: "other";
	fprintf(f, "\"type\":\"%s\",\"pt\":%u,\"count\":%u,\"body\":", name, p->type, p->count);
	hex(f, p->u.other.body, p->u.other.body_len);
}

void braid_rtcp_json_fields(FILE *f, const struct braid_rtcp_packet *p)
{
	const struct braid_rtcp_sr *sr = &p->u.sr;
	const struct braid_rtcp_app *app = &p->u.app;
	switch (p->kind) {
	case BRAID_RTCP_KIND_SR:
		fprintf(f, "\"type\":\"sr\",\"ssrc\":%" PRIu32 ",\"ntp\":%" PRIu64
			",\"rtp_ts\":%" PRIu32 ",\"packets\":%" PRIu32 ",\"octets\":%" PRIu32,
			sr->ssrc, sr->ntp, sr->rtp_ts, sr->packets, sr->octets);
		blocks(f, sr->blocks, sr->block_count);
		ext(f, sr->ext, sr->ext_len);
		break;
	case BRAID_RTCP_KIND_RR:
		fprintf(f, "\"type\":\"rr\",\"ssrc\":%" PRIu32, p->u.rr.ssrc);
		blocks(f, p->u.rr.blocks, p->u.rr.block_count);
		ext(f, p->u.rr.ext, p->u.rr.ext_len);
		break;
	case BRAID_RTCP_KIND_SDES:
		fputs("\"type\":\"sdes\"", f);
		sdes(f, &p->u.sdes);
		break;
	case BRAID_RTCP_KIND_BYE:
		fputs("\"type\":\"bye\"", f);
		bye(f, &p->u.bye);
		break;
	case BRAID_RTCP_KIND_APP:
		fprintf(f, "\"type\":\"app\",\"subtype\":%u,\"ssrc\":%" PRIu32 ",\"name\":",
			app->subtype, app->ssrc);
		braid_json_write_string(f, app->name, 4);
		fputs(",\"data\":", f);
		hex(f, app->data, app->data_len);
		break;
	case BRAID_RTCP_KIND_NACK:
		fputs("\"type\":\"nack\"", f);
		nack(f, &p->u.nack);
		break;
	case BRAID_RTCP_KIND_OTHER:
		other(f, p);
		break;
	}
	if (p->padding_len)
		fprintf(f, ",\"padding\":%u", p->padding_len);
}
