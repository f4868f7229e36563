#include "ctl/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ctl_config_defaults(struct ctl_daemon_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->grpc, sizeof(cfg->grpc), "%s", CTL_DEFAULT_GRPC);
	cfg->max_sessions = CTL_DEFAULT_MAX_SESSIONS;
	cfg->stats_interval_ms = 1000;
	ctl_allowlist_loopback(&cfg->allow);
}

static bool copy_value(char *dst, size_t cap, const char *key, const char *value, char *err,
		       size_t err_len)
{
	if (strlen(value) >= cap) {
		snprintf(err, err_len, "%s: value too long", key);
		return false;
	}
	strcpy(dst, value);
	return true;
}

static bool parse_number(const char *key, const char *value, uint64_t min, uint64_t max,
			 uint64_t *out, char *err, size_t err_len)
{
	char *end;
	unsigned long long v = 0;
	bool digits = value[0] >= '0' && value[0] <= '9';
	if (digits)
		v = strtoull(value, &end, 10);
	if (!digits || *end || v < min || v > max) {
		snprintf(err, err_len, "%s: '%s' is not a whole number in %llu..%llu", key, value,
			 (unsigned long long)min, (unsigned long long)max);
		return false;
	}
	*out = v;
	return true;
}

static bool parse_bool(const char *key, const char *value, bool *out, char *err,
		       size_t err_len)
{
	if (strcmp(value, "true") == 0 || strcmp(value, "yes") == 0 || strcmp(value, "1") == 0)
		*out = true;
	else if (strcmp(value, "false") == 0 || strcmp(value, "no") == 0 ||
		 strcmp(value, "0") == 0)
		*out = false;
	else {
		snprintf(err, err_len, "%s: '%s' is not true or false", key, value);
		return false;
	}
	return true;
}

/* The first prefix given replaces the loopback default; the first given by a flag
 * replaces the file's list too, so the command line has the last word. */
static bool set_allow(struct ctl_daemon_config *cfg, const char *value, bool from_flag,
		      char *err, size_t err_len)
{
	enum ctl_allow_origin origin = from_flag ? CTL_ALLOW_FLAGS : CTL_ALLOW_FILE;
	if (cfg->allow_origin != origin)
		cfg->allow.count = 0;
	cfg->allow_origin = origin;
	if (cfg->allow.count >= CTL_ALLOW_MAX) {
		snprintf(err, err_len, "allow: more than %d prefixes", CTL_ALLOW_MAX);
		return false;
	}
	if (!ctl_allowlist_add(&cfg->allow, value)) {
		snprintf(err, err_len, "allow: '%s' is not ADDRESS[/BITS] with zero host bits",
			 value);
		return false;
	}
	return true;
}

bool ctl_config_set(struct ctl_daemon_config *cfg, const char *key, const char *value,
		    bool from_flag, char *err, size_t err_len)
{
	if (strcmp(key, "grpc") == 0)
		return copy_value(cfg->grpc, sizeof(cfg->grpc), key, value, err, err_len);
	if (strcmp(key, "metrics") == 0)
		return copy_value(cfg->metrics, sizeof(cfg->metrics), key, value, err, err_len);
	if (strcmp(key, "db") == 0)
		return copy_value(cfg->db, sizeof(cfg->db), key, value, err, err_len);
	if (strcmp(key, "create_db") == 0)
		return parse_bool(key, value, &cfg->create_db, err, err_len);
	if (strcmp(key, "token_file") == 0)
		return copy_value(cfg->token_file, sizeof(cfg->token_file), key, value, err,
				  err_len);
	if (strcmp(key, "tls_cert") == 0)
		return copy_value(cfg->tls_cert, sizeof(cfg->tls_cert), key, value, err, err_len);
	if (strcmp(key, "tls_key") == 0)
		return copy_value(cfg->tls_key, sizeof(cfg->tls_key), key, value, err, err_len);
	if (strcmp(key, "output_dir") == 0)
		return copy_value(cfg->output_dir, sizeof(cfg->output_dir), key, value, err,
				  err_len);
	if (strcmp(key, "allow") == 0)
		return set_allow(cfg, value, from_flag, err, err_len);
	if (strcmp(key, "max_sessions") == 0)
		return parse_number(key, value, 1, CTL_SESSIONS_LIMIT, &cfg->max_sessions, err,
				    err_len);
	if (strcmp(key, "save_interval_ms") == 0)
		return parse_number(key, value, 100, 3600000, &cfg->stats_interval_ms, err,
				    err_len);
	snprintf(err, err_len, "unknown key '%s'", key);
	return false;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t len = strlen(s);
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
		s[--len] = '\0';
	return s;
}

static bool parse_line(struct ctl_daemon_config *cfg, char *line, unsigned number, char *err,
		       size_t err_len)
{
	char *hash = strchr(line, '#');
	if (hash)
		*hash = '\0';
	char *text = trim(line);
	if (!*text)
		return true;
	char *eq = strchr(text, '=');
	if (!eq) {
		snprintf(err, err_len, "line %u: expected 'key = value'", number);
		return false;
	}
	*eq = '\0';
	char *key = trim(text), *value = trim(eq + 1);
	char why[512];
	if (!*key || !*value) {
		snprintf(err, err_len, "line %u: expected 'key = value'", number);
		return false;
	}
	if (!ctl_config_set(cfg, key, value, false, why, sizeof(why))) {
		snprintf(err, err_len, "line %u: %s", number, why);
		return false;
	}
	return true;
}

bool ctl_config_parse(struct ctl_daemon_config *cfg, const char *text, char *err,
		      size_t err_len)
{
	char line[CTL_PATH_MAX + 64];
	unsigned number = 0;
	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);
		number++;
		if (len >= sizeof(line)) {
			snprintf(err, err_len, "line %u: too long", number);
			return false;
		}
		memcpy(line, text, len);
		line[len] = '\0';
		if (!parse_line(cfg, line, number, err, err_len))
			return false;
		text += len + (nl ? 1 : 0);
	}
	return true;
}

bool ctl_config_check(const struct ctl_daemon_config *cfg, char *err, size_t err_len)
{
	if (!cfg->tls_cert[0] != !cfg->tls_key[0]) {
		snprintf(err, err_len, "tls_cert and tls_key go together: give both or neither");
		return false;
	}
	if (cfg->create_db && !cfg->db[0]) {
		snprintf(err, err_len, "create_db needs db");
		return false;
	}
	return true;
}
