/* Shared command-line helpers for braid's subcommands: argument errors (one line naming
 * the argument, exit code 2), value parsing, link specs, key files. */
#ifndef BRAID_APP_CLI_H
#define BRAID_APP_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "braid/addr.h"
#include "core/wire.h"
#include "help.h"

#define BRAID_CLI_USAGE_EXIT 2
#define BRAID_PSK_MAX 256

/* Prints "braid <cmd>: <message>" and exits with status 2. */
_Noreturn void braid_cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Durations: decimal digits, alone ("250": bare_unit_us each, the option's own unit) or
 * with "ms" or "s" ("250ms", "2s"); anything else is refused. -> microseconds. */
bool braid_cli_parse_duration(const char *text, uint64_t bare_unit_us, uint64_t *out_us);
/* The duration an option names, within [min_us, max_us]; otherwise a usage error (exit 2)
 * naming the option, the range and the grammar. */
uint64_t braid_cli_duration(const char *cmd, const char *option, const char *text,
			    uint64_t bare_unit_us, uint64_t min_us, uint64_t max_us);
#define BRAID_CLI_MS 1000u
#define BRAID_CLI_S 1000000u
#define BRAID_CLI_MAX_INTERVAL_US UINT64_C(3600000000)    /* stats intervals: 1 h */
#define BRAID_CLI_MAX_RUN_US UINT64_C(31536000000000)    /* how long a run lasts: 8760 h */

/* A file an argument names for writing ("-" is stdout): a usage error (exit 2) naming the
 * option when it cannot be opened for writing. Creates nothing that stays. */
void braid_cli_check_writable(const char *cmd, const char *option, const char *path);
/* A whole number in [min, max]. */
bool braid_cli_parse_uint(const char *text, uint64_t min, uint64_t max, uint64_t *out);

/* A link as given on the command line: an interface name, a local address, or
 * key=value pairs (name=, dev=, addr=, to=, weight=, priority=). */
struct braid_link_spec {
	char name[BRAID_LINK_NAME_MAX + 1];
	char dev[32];           /* SO_BINDTODEVICE, or "" */
	struct braid_addr bind; /* local address, len 0 = any */
	struct braid_addr to;   /* this link's destination, len 0 = the --to address */
	uint32_t weight, priority;
};
/* index: the link's position, for a default name ("link1"...). On error, writes a message
 * naming the bad part to err and returns false. */
bool braid_cli_parse_link(const char *spec, unsigned index, struct braid_link_spec *out,
			  char *err, size_t err_len);

/* "udp://HOST:PORT", "udp://:PORT" or plain "HOST:PORT". */
bool braid_cli_parse_udp_url(const char *text, int passive, struct braid_addr *out);

/* Reads a pre-shared key file: its bytes, trailing newlines dropped; 1..256 bytes. */
bool braid_cli_read_psk(const char *path, uint8_t *key, size_t *len, char *err, size_t err_len);

/* `--name value` or `--name=value` at argv[*i]: returns the value and advances *i,
 * or NULL when argv[*i] is not this option. A missing value is a usage error. */
const char *braid_cli_option(const char *cmd, int argc, char **argv, int *i, const char *name);

/* --config FILE on the command line: the file's `key = value` lines (`#` comments, blank
 * lines; a key is a long option of help's table that takes a value, without its dashes)
 * become arguments before the command line's, which override them: an option given on the
 * command line drops every line of the file for it. Replaces *argc and *argv (kept for
 * the whole run); an unreadable file, a bad line or an unknown key is a usage error naming
 * the file and line, and so is a bad value, when braid_cli_option returns it. */
void braid_cli_load_config(const char *cmd, const struct braid_help *help, int *argc,
			   char ***argv);
/* "FILE:LINE" of the argument at index when it came from the config file. */
bool braid_cli_origin(int index, char *buf, size_t len);

#endif
