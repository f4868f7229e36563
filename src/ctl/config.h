/* braidd's settings: the config file's `key = value` lines and the flags that override
 * them share one setter, so a key means the same in both (docs/braidd.md). Parsing only:
 * the program reads the file. */
#ifndef BRAID_CTL_CONFIG_H
#define BRAID_CTL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl/policy.h"

#define CTL_PATH_MAX 4096
#define CTL_LISTEN_MAX 128
#define CTL_DEFAULT_GRPC "127.0.0.1:50051"
#define CTL_DEFAULT_MAX_SESSIONS 64
#define CTL_SESSIONS_LIMIT 4096

enum ctl_allow_origin { CTL_ALLOW_DEFAULT, CTL_ALLOW_FILE, CTL_ALLOW_FLAGS };

struct ctl_daemon_config {
	char grpc[CTL_LISTEN_MAX];     /* ADDR:PORT of the gRPC API */
	char metrics[CTL_LISTEN_MAX];  /* ADDR:PORT of /metrics; "": none */
	char db[CTL_PATH_MAX];         /* SQLite file; "": sessions are not kept */
	bool create_db;                /* a missing database may be created */
	char token_file[CTL_PATH_MAX]; /* "": no token (loopback only) */
	char tls_cert[CTL_PATH_MAX], tls_key[CTL_PATH_MAX];
	char output_dir[CTL_PATH_MAX]; /* file:// outputs of bond sessions: only below it;
				       * "": file outputs are refused */
	struct ctl_allowlist allow;    /* destinations; loopback when none is given */
	enum ctl_allow_origin allow_origin;
	uint64_t max_sessions;
	uint64_t stats_interval_ms;    /* how often counters are saved and metrics refreshed */
};

void ctl_config_defaults(struct ctl_daemon_config *cfg);
/* Sets one key ("grpc", "metrics", "db", "create_db", "token_file", "allow", "tls_cert",
 * "tls_key", "output_dir", "max_sessions", "save_interval_ms"). `allow` adds to the list; from_flag says
 * the value came from the command line, whose first `allow` replaces the file's list. On error writes one
 * line naming the key and the problem to err. */
bool ctl_config_set(struct ctl_daemon_config *cfg, const char *key, const char *value,
		    bool from_flag, char *err, size_t err_len);
/* The config file's text: `key = value` lines, `#` comments, blank lines. Errors name the
 * line. */
bool ctl_config_parse(struct ctl_daemon_config *cfg, const char *text, char *err,
		      size_t err_len);
/* Checks what only the whole can tell (a TLS key without a certificate...). */
bool ctl_config_check(const struct ctl_daemon_config *cfg, char *err, size_t err_len);

#endif
