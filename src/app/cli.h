/* Shared command-line helpers for braid's subcommands: argument errors (one line naming
 * the argument, exit code 2), value parsing, link specs, key files. */
#ifndef BRAID_APP_CLI_H
#define BRAID_APP_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "braid/addr.h"
#include "core/wire.h"

#define BRAID_CLI_USAGE_EXIT 2
#define BRAID_PSK_MAX 256

/* Prints "braid <cmd>: <message>" and exits with status 2. */
_Noreturn void braid_cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "250", "250ms", "2s", "1500us" -> microseconds. Bare numbers are `unit_us` each. */
bool braid_cli_parse_duration(const char *text, uint64_t unit_us, uint64_t *out_us);
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

#endif
