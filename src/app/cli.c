#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/udp.h"

/* "FILE:LINE" of the option braid_cli_option returned last, when it came from a --config
 * file: the errors about its value then say where it is. */
static char option_origin[4200];

void braid_cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "braid %s: ", cmd);
	if (option_origin[0])
		fprintf(stderr, "%s: ", option_origin);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(BRAID_CLI_USAGE_EXIT);
}

bool braid_cli_parse_uint(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	if (!text || *text < '0' || *text > '9')
		return false;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* The one grammar for durations on the command line: decimal digits, alone (in the option's
 * own unit) or followed by "ms" or "s". No sign, fraction, exponent, hex or other unit, so
 * that what is accepted is exactly what --help and the README say. */
bool braid_cli_parse_duration(const char *text, uint64_t bare_unit_us, uint64_t *out_us)
{
	if (!text || *text < '0' || *text > '9')
		return false;
	uint64_t v = 0;
	for (; *text >= '0' && *text <= '9'; text++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*text - '0');
	}
	uint64_t unit;
	if (*text == '\0')
		unit = bare_unit_us;
	else if (strcmp(text, "ms") == 0)
		unit = 1000;
	else if (strcmp(text, "s") == 0)
		unit = 1000000;
	else
		return false;
	if (unit == 0 || v > UINT64_MAX / unit)
		return false;
	*out_us = v * unit;
	return true;
}

/* "250 ms", "20 s", "48 h": the largest unit that divides the time exactly. */
static const char *format_duration(uint64_t us, char *buf, size_t len)
{
	if (us % 3600000000u == 0 && us >= 3600000000u)
		snprintf(buf, len, "%llu h", (unsigned long long)(us / 3600000000u));
	else if (us % 1000000 == 0 && us > 0)
		snprintf(buf, len, "%llu s", (unsigned long long)(us / 1000000));
	else
		snprintf(buf, len, "%llu ms", (unsigned long long)(us / 1000));
	return buf;
}

uint64_t braid_cli_duration(const char *cmd, const char *option, const char *text,
			    uint64_t bare_unit_us, uint64_t min_us, uint64_t max_us)
{
	uint64_t us;
	if (braid_cli_parse_duration(text, bare_unit_us, &us) && us >= min_us && us <= max_us)
		return us;
	char lo[32], hi[32];
	braid_cli_usage_error(cmd, "%s: '%s' is not a duration from %s to %s (N%s, Nms or Ns)",
			      option, text, format_duration(min_us, lo, sizeof(lo)),
			      format_duration(max_us, hi, sizeof(hi)),
			      bare_unit_us == 1000 ? " in ms" : " in s");
}

void braid_cli_check_writable(const char *cmd, const char *option, const char *path)
{
	if (strcmp(path, "-") == 0)
		return;
	/* Try it the way it will be written (never truncating), and leave no file behind
	 * that was not there: the run may still stop on another argument. */
	bool existed = access(path, F_OK) == 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		braid_cli_usage_error(cmd, "%s: cannot write '%s': %s", option, path,
				      strerror(errno));
	close(fd);
	if (!existed)
		unlink(path);
}

static bool set_name(struct braid_link_spec *out, const char *value, char *err, size_t err_len)
{
	size_t n = strlen(value);
	if (n == 0 || n > BRAID_LINK_NAME_MAX) {
		snprintf(err, err_len, "name '%s' must be 1 to %d characters", value,
			 BRAID_LINK_NAME_MAX);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (value[i] < 0x21 || value[i] > 0x7e || value[i] == ',' || value[i] == '=') {
			snprintf(err, err_len, "name '%s' may hold only printable characters",
				 value);
			return false;
		}
	}
	memcpy(out->name, value, n + 1);
	return true;
}

static bool set_key(struct braid_link_spec *out, const char *key, const char *value, char *err,
		    size_t err_len)
{
	uint64_t v;
	if (strcmp(key, "name") == 0)
		return set_name(out, value, err, err_len);
	if (strcmp(key, "dev") == 0) {
		if (!*value || strlen(value) >= sizeof(out->dev)) {
			snprintf(err, err_len, "dev '%s' is not an interface name", value);
			return false;
		}
		strcpy(out->dev, value);
		return true;
	}
	if (strcmp(key, "addr") == 0) {
		if (braid_addr_parse_host(value, 0, &out->bind) == 0 ||
		    braid_addr_parse(value, 1, &out->bind) == 0)
			return true;
		snprintf(err, err_len, "addr '%s' is not a local address", value);
		return false;
	}
	if (strcmp(key, "to") == 0) {
		if (braid_addr_parse(value, 0, &out->to) == 0)
			return true;
		snprintf(err, err_len, "to '%s' is not HOST:PORT", value);
		return false;
	}
	if (strcmp(key, "weight") == 0 || strcmp(key, "priority") == 0) {
		if (!braid_cli_parse_uint(value, 0, 1000000, &v)) {
			snprintf(err, err_len, "%s '%s' must be a whole number 0..1000000", key,
				 value);
			return false;
		}
		*(key[0] == 'w' ? &out->weight : &out->priority) = (uint32_t)v;
		return true;
	}
	snprintf(err, err_len, "unknown key '%s' (name, dev, addr, to, weight, priority)", key);
	return false;
}

static bool parse_pairs(char *spec, struct braid_link_spec *out, char *err, size_t err_len)
{
	for (char *save = NULL, *pair = strtok_r(spec, ",", &save); pair;
	     pair = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(pair, '=');
		if (!eq) {
			snprintf(err, err_len, "'%s' is not key=value", pair);
			return false;
		}
		*eq = '\0';
		if (!set_key(out, pair, eq + 1, err, err_len))
			return false;
	}
	return true;
}

bool braid_cli_parse_link(const char *spec, unsigned index, struct braid_link_spec *out,
			  char *err, size_t err_len)
{
	memset(out, 0, sizeof(*out));
	out->weight = 1;
	snprintf(out->name, sizeof(out->name), "link%u", index + 1);
	if (!spec || !*spec) {
		snprintf(err, err_len, "empty link");
		return false;
	}
	if (strchr(spec, '=')) {
		char copy[512];
		if (strlen(spec) >= sizeof(copy)) {
			snprintf(err, err_len, "link spec too long");
			return false;
		}
		strcpy(copy, spec);
		return parse_pairs(copy, out, err, err_len);
	}
	/* A bare word: a local address if it parses as one, an interface name otherwise. */
	if (braid_addr_parse_host(spec, 0, &out->bind) == 0)
		return set_name(out, spec, err, err_len);
	char pair[64];
	if (strlen(spec) >= sizeof(out->dev)) {
		snprintf(err, err_len, "'%s' is neither an address nor an interface name", spec);
		return false;
	}
	snprintf(pair, sizeof(pair), "%s", spec);
	strcpy(out->dev, pair);
	return set_name(out, spec, err, err_len);
}

bool braid_cli_read_psk(const char *path, uint8_t *key, size_t *len, char *err, size_t err_len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, err_len, "cannot read '%s': %s", path, strerror(errno));
		return false;
	}
	size_t n = fread(key, 1, BRAID_PSK_MAX + 1, f);
	bool read_error = ferror(f);
	fclose(f);
	while (n > 0 && (key[n - 1] == '\n' || key[n - 1] == '\r'))
		n--;
	if (read_error || n == 0 || n > BRAID_PSK_MAX) {
		snprintf(err, err_len, "'%s' must hold a key of 1 to %d bytes", path,
			 BRAID_PSK_MAX);
		return false;
	}
	*len = n;
	return true;
}

const char *braid_cli_option(const char *cmd, int argc, char **argv, int *i, const char *name)
{
	const char *arg = argv[*i];
	size_t n = strlen(name);
	if (strncmp(arg, name, n) != 0 || (arg[n] != '=' && arg[n] != '\0'))
		return NULL;
	if (!braid_cli_origin(*i, option_origin, sizeof(option_origin)))
		option_origin[0] = '\0';
	if (arg[n] == '=')
		return arg + n + 1;
	if (*i + 1 >= argc)
		braid_cli_usage_error(cmd, "%s needs a value", name);
	*i += 1;
	return argv[*i];
}

bool braid_cli_parse_udp_url(const char *text, int passive, struct braid_addr *out)
{
	if (strncmp(text, "udp://", 6) == 0)
		text += 6;
	else if (strstr(text, "://"))
		return false;
	return braid_addr_parse(text, passive, out) == 0;
}
