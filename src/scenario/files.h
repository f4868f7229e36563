/* The scenario library's only contact with the file system: whole text files and traces.
 * No sockets, no clock. */
#ifndef BRAID_SCENARIO_FILES_H
#define BRAID_SCENARIO_FILES_H

#include <stddef.h>
#include <stdint.h>

/* The longest trace file, in delivery opportunities (lines). */
#define BRAID_EMU_TRACE_MAX (16u * 1024 * 1024)

/* A mahimahi trace: one millisecond timestamp per line. *ms is malloc'd. */
int braid_emu_load_trace(const char *path, uint32_t **ms, size_t *len, char *err,
			 size_t err_len);

/* Reads a whole text file of at most 1 MiB without NUL bytes into *out (the caller frees
 * it). On failure writes a message naming the file. */
int braid_emu_read_text(const char *path, char **out, char *err, size_t err_len);
#endif
