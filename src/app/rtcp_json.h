/* RTCP packets as JSON fields, the format of `braid rtcp dump` (docs/rtcp-replay.md). */
#ifndef BRAID_APP_RTCP_JSON_H
#define BRAID_APP_RTCP_JSON_H

#include <stdio.h>

#include "braid/rtcp.h"

/* Writes the packet's members, "type" first, without the braces, so a caller can put its
 * own members (source address, time) around them. */
void braid_rtcp_json_fields(FILE *f, const struct braid_rtcp_packet *p);

#endif
