/* braidd: the gateway daemon. One event loop hosts every session (bond receive, RTP
 * proxy); a gRPC API creates and watches them (docs/braidd.md). */
#include <errno.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "braid/error.h"
#include "braidd_bond.h"
#include "ctl/config.h"
#include "ctl/grpc.h"
#include "ctl/manager.h"
#include "ctl/metrics.h"
#include "ctl/store.h"
#include "help.h"
#include "io/loop.h"
#include "io/udp.h"

#define USAGE_EXIT 2
#define SECRET_MAX (64 * 1024)

static const struct braid_help braidd_help = {
	.program = "braidd",
	.page = "braidd",
	.section = 8,
	.summary = "the braid gateway daemon: bond and RTP proxy sessions behind a gRPC API",
	.synopsis = (const char *const[]){
		"[--config FILE] [--grpc ADDR:PORT] [--metrics ADDR:PORT] [--db PATH [--create-db]] "
		"[--token-file FILE] [--allow CIDR]... [--tls-cert FILE --tls-key FILE] "
		"[--output-dir DIR] [--max-sessions N]",
		NULL },
	.description = (const char *const[]){
		"One event loop hosts every session: bond receive sessions (what braid recv does, "
		"many at once) and RTP proxies. braid ctl or any gRPC client creates, watches and "
		"destroys them (docs/braidd.md).",
		"Every flag is also a key of the config file, with '_' for '-': 'output_dir = "
		"/srv/rec'. The file holds 'key = value' lines, '#' comments and blank lines; "
		"flags override it.",
		NULL },
	.options = (const struct braid_help_item[]){
		{ "--config", "FILE", "settings as 'key = value' lines; flags override them" },
		{ "--grpc", "ADDR:PORT", "the control API (default " CTL_DEFAULT_GRPC "; port 0: "
		  "any)" },
		{ "--metrics", "ADDR:PORT", "Prometheus text at http://ADDR:PORT/metrics "
		  "(default: none)" },
		{ "--db", "PATH", "keep sessions in this SQLite file and recreate them at start" },
		{ "--create-db", NULL, "create the database when it does not exist (first "
		  "start)" },
		{ "--token-file", "FILE", "the bearer token every call must carry (needed off "
		  "loopback)" },
		{ "--allow", "CIDR", "a destination prefix sessions may send to (repeatable; "
		  "default: loopback only)" },
		{ "--tls-cert", "FILE", "serve the API over TLS with this PEM certificate" },
		{ "--tls-key", "FILE", "the PEM key of --tls-cert" },
		{ "--output-dir", "DIR", "the directory file:// outputs of bond sessions must be "
		  "in (none: file outputs are refused)" },
		{ "--max-sessions", "N", "the cap on sessions (default 64)" },
		{ "--help", NULL, "print this help and exit" },
		{ "--version", NULL, "print the version and exit" },
		{ NULL, NULL, NULL } },
	.notes = (const char *const[]){
		"Exit status: 0 after SIGINT/SIGTERM, 1 run-time failure, 2 bad flag or config.",
		NULL },
	.see_also = "braid(1), braid-ctl(1), braid-recv(1)",
};

static _Noreturn void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("braidd: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(USAGE_EXIT);
}

/* A whole small file (config, token, PEM); NULL with errno set. */
static char *read_small_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(SECRET_MAX + 1);
	size_t len = buf ? fread(buf, 1, SECRET_MAX + 1, f) : 0;
	bool failed = !buf || ferror(f) || len > SECRET_MAX;
	fclose(f);
	if (failed) {
		free(buf);
		errno = buf ? EFBIG : ENOMEM;
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

static const char *flag_value(int argc, char **argv, int *i)
{
	const char *eq = strchr(argv[*i], '=');
	if (eq)
		return eq + 1;
	if (*i + 1 >= argc)
		usage_error("%s needs a value", argv[*i]);
	return argv[++*i];
}

/* --flag-name -> config key flag_name */
static void flag_key(const char *flag, char *key, size_t cap)
{
	size_t len = strcspn(flag + 2, "=");
	if (len >= cap)
		len = cap - 1;
	for (size_t i = 0; i < len; i++)
		key[i] = flag[2 + i] == '-' ? '_' : flag[2 + i];
	key[len] = '\0';
}

static void load_config_file(int argc, char **argv, struct ctl_daemon_config *cfg)
{
	char err[512];
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--config", 8) != 0 || (argv[i][8] && argv[i][8] != '='))
			continue;
		const char *path = flag_value(argc, argv, &i);
		char *text = read_small_file(path);
		if (!text)
			usage_error("--config: cannot read '%s': %s", path, strerror(errno));
		if (!ctl_config_parse(cfg, text, err, sizeof(err))) {
			free(text);
			usage_error("%s: %s", path, err);
		}
		free(text);
	}
}

static void parse_flags(int argc, char **argv, struct ctl_daemon_config *cfg)
{
	static const char *const flags[] = { "grpc", "metrics", "db", "token_file", "allow",
					     "tls_cert", "tls_key", "output_dir", "max_sessions" };
	char key[32], err[512];
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			braid_help_print(stdout, &braidd_help);
			exit(0);
		}
		if (strcmp(argv[i], "--create-db") == 0) {
			cfg->create_db = true;
			continue;
		}
		if (strncmp(argv[i], "--", 2) != 0)
			usage_error("unexpected argument '%s' (see --help)", argv[i]);
		flag_key(argv[i], key, sizeof(key));
		if (strcmp(key, "config") == 0) {
			flag_value(argc, argv, &i); /* read already */
			continue;
		}
		bool known = false;
		for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
			known |= strcmp(key, flags[k]) == 0;
		if (!known)
			usage_error("unknown flag '%s' (see --help)", argv[i]);
		if (!ctl_config_set(cfg, key, flag_value(argc, argv, &i), true, err, sizeof(err)))
			usage_error("--%s", err);
	}
}

static bool is_loopback(const struct braid_addr *a)
{
	if (a->u.sa.sa_family == AF_INET)
		return (ntohl(a->u.in4.sin_addr.s_addr) >> 24) == 127;
	return a->u.sa.sa_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&a->u.in6.sin6_addr);
}

/* Settings that only make sense together, and the files they name, checked before
 * anything starts: a mistake exits 2 with one line. */
struct secrets {
	char *token, *tls_cert, *tls_key;
};

static char *read_secret(const char *option, const char *path)
{
	char *text = read_small_file(path);
	if (!text)
		usage_error("%s: cannot read '%s': %s", option, path, strerror(errno));
	return text;
}

static void check_config(const struct ctl_daemon_config *cfg, struct secrets *sec)
{
	char err[512];
	struct braid_addr grpc, metrics;
	if (!ctl_config_check(cfg, err, sizeof(err)))
		usage_error("%s", err);
	if (braid_addr_parse(cfg->grpc, 0, &grpc) < 0 || !strchr(cfg->grpc, ':'))
		usage_error("grpc: '%s' is not ADDR:PORT", cfg->grpc);
	if (cfg->metrics[0] && (braid_addr_parse(cfg->metrics, 0, &metrics) < 0 ||
				!strchr(cfg->metrics, ':')))
		usage_error("metrics: '%s' is not ADDR:PORT", cfg->metrics);
	if (cfg->token_file[0]) {
		sec->token = read_secret("token_file", cfg->token_file);
		sec->token[strcspn(sec->token, "\r\n")] = '\0';
		if (!sec->token[0])
			usage_error("token_file: '%s' holds no token", cfg->token_file);
	} else if (!is_loopback(&grpc)) {
		usage_error("grpc: %s is not loopback: a token_file is required", cfg->grpc);
	}
	if (cfg->tls_cert[0]) {
		sec->tls_cert = read_secret("tls_cert", cfg->tls_cert);
		sec->tls_key = read_secret("tls_key", cfg->tls_key);
	}
}

struct daemon {
	struct ctl_daemon_config cfg;
	struct secrets secrets;
	struct braid_loop *loop;
	struct ctl_manager *manager;
	struct ctl_grpc_server *grpc;
	struct ctl_store *store;
	struct braid_timer save_timer;
	struct ctl_metrics *metrics;
};

static void on_signal(struct braid_loop *loop, int signo, void *arg)
{
	(void)arg;
	fprintf(stderr, "braidd: %s: shutting down\n", strsignal(signo));
	braid_loop_stop(loop);
}

static void save_counters(struct daemon *d)
{
	char err[512];
	if (d->store && !ctl_store_save_counters(d->store, d->manager, err, sizeof(err)))
		fprintf(stderr, "braidd: %s\n", err);
}

static void on_save_timer(struct braid_loop *loop, void *arg)
{
	struct daemon *d = arg;
	save_counters(d);
	braid_timer_start(loop, &d->save_timer,
			  braid_loop_now(loop) + d->cfg.stats_interval_ms * 1000);
}

/* Sessions saved before come back before the API opens, so no client sees a gap. */
static int open_store(struct daemon *d)
{
	char err[512];
	if (!d->cfg.db[0])
		return 0;
	braid_timer_init(&d->save_timer, on_save_timer, d);
	d->store = ctl_store_open(d->cfg.db, d->cfg.create_db, err, sizeof(err));
	if (!d->store || !ctl_manager_subscribe(d->manager, ctl_store_on_event, d->store)) {
		fprintf(stderr, "braidd: %s\n", err);
		return -1;
	}
	int count = ctl_store_load(d->store, d->manager, err, sizeof(err));
	if (count < 0) {
		fprintf(stderr, "braidd: %s\n", err);
		return -1;
	}
	fprintf(stderr, "braidd: %d session%s restored from %s\n", count, count == 1 ? "" : "s",
		d->cfg.db);
	braid_timer_start(d->loop, &d->save_timer,
			  braid_loop_now(d->loop) + d->cfg.stats_interval_ms * 1000);
	return 0;
}

static int start(struct daemon *d)
{
	char err[512];
	static const int signals[] = { SIGINT, SIGTERM, 0 };
	d->loop = braid_loop_new();
	if (!d->loop || braid_loop_watch_signals(d->loop, signals, on_signal, d) < 0) {
		fprintf(stderr, "braidd: cannot set up the event loop\n");
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);
	struct ctl_manager_config mc = { .max_sessions = d->cfg.max_sessions,
					 .allow = d->cfg.allow, .output_dir = d->cfg.output_dir,
					 .bond = &braidd_bond_ops };
	d->manager = ctl_manager_new(d->loop, &mc);
	if (!d->manager) {
		fprintf(stderr, "braidd: out of memory\n");
		return -1;
	}
	if (open_store(d) < 0)
		return -1;
	struct ctl_grpc_server_config gc = { .listen = d->cfg.grpc, .token = d->secrets.token,
					     .tls_cert_pem = d->secrets.tls_cert,
					     .tls_key_pem = d->secrets.tls_key };
	d->grpc = ctl_grpc_server_start(d->loop, d->manager, &gc, err, sizeof(err));
	if (!d->grpc) {
		fprintf(stderr, "braidd: %s\n", err);
		return -1;
	}
	fprintf(stderr, "braidd: gRPC on %.*s:%d%s\n", (int)(strrchr(d->cfg.grpc, ':') - d->cfg.grpc),
		d->cfg.grpc, ctl_grpc_server_port(d->grpc), d->secrets.tls_cert ? " (TLS)" : "");
	if (d->cfg.metrics[0]) {
		d->metrics = ctl_metrics_start(d->loop, d->manager, d->cfg.metrics, err, sizeof(err));
		if (!d->metrics) {
			fprintf(stderr, "braidd: %s\n", err);
			return -1;
		}
		fprintf(stderr, "braidd: metrics on http://%.*s:%d/metrics\n",
			(int)(strrchr(d->cfg.metrics, ':') - d->cfg.metrics), d->cfg.metrics,
			ctl_metrics_port(d->metrics));
	}
	return 0;
}

static void stop(struct daemon *d)
{
	ctl_metrics_stop(d->metrics);
	ctl_grpc_server_stop(d->grpc);
	if (d->store && d->manager) {
		save_counters(d);
		braid_timer_stop(d->loop, &d->save_timer);
		ctl_manager_unsubscribe(d->manager, ctl_store_on_event, d->store);
	}
	ctl_manager_free(d->manager);
	ctl_store_close(d->store);
	braid_loop_free(d->loop);
	free(d->secrets.token);
	free(d->secrets.tls_cert);
	free(d->secrets.tls_key);
}

int main(int argc, char **argv)
{
	static struct daemon d;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("braidd %s\n", BRAID_VERSION);
			return 0;
		}
		/* The build makes the manual page and the completion this way (not in --help:
		 * not for users). */
		if (strcmp(argv[i], "--man") == 0) {
			braid_help_print_man(stdout, &braidd_help, BRAID_VERSION);
			return 0;
		}
		if (strcmp(argv[i], "--completion") == 0) {
			braid_help_print_completion(stdout, "braidd", &braidd_help, NULL, 0);
			return 0;
		}
	}
	ctl_config_defaults(&d.cfg);
	load_config_file(argc, argv, &d.cfg);
	parse_flags(argc, argv, &d.cfg);
	check_config(&d.cfg, &d.secrets);
	int status = start(&d) == 0 && braid_loop_run(d.loop) == 0 ? 0 : 1;
	stop(&d);
	return status;
}
