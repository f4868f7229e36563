/* A small, strict JSON reader (RFC 8259) for the input files of braid's tools, and a
 * string writer for their output. Values: objects, arrays, strings, integers (the whole
 * range of int64 and uint64), booleans, null. Refused: fractions and exponents, duplicate
 * keys, invalid UTF-8, lone surrogates, control characters in strings, nesting deeper
 * than BRAID_JSON_MAX_DEPTH, and anything but whitespace after the value.
 * braid_json_parse_reals also takes fractions and exponents, for files of measurements
 * (the stats lines of docs/stats.md). */
#ifndef BRAID_APP_JSON_H
#define BRAID_APP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BRAID_JSON_MAX_DEPTH 64

enum braid_json_type {
	BRAID_JSON_NULL,
	BRAID_JSON_BOOL,
	BRAID_JSON_INT,
	BRAID_JSON_STRING,
	BRAID_JSON_ARRAY,
	BRAID_JSON_OBJECT,
	BRAID_JSON_REAL,           /* a fraction or an exponent: braid_json_parse_reals only */
};

struct braid_json_member;

struct braid_json {
	enum braid_json_type type;
	unsigned line, column;     /* where the value starts, from 1 */
	bool boolean;
	bool negative;             /* INT: the value is -magnitude (magnitude > 0) */
	uint64_t magnitude;        /* INT */
	double real;               /* REAL */
	char *string;              /* STRING: UTF-8, NUL-terminated (may hold \u0000) */
	size_t string_len;
	struct braid_json *items;  /* ARRAY */
	struct braid_json_member *members; /* OBJECT, in file order */
	size_t count;              /* ARRAY items or OBJECT members */
};

struct braid_json_member {
	char *key;
	size_t key_len;
	unsigned line, column; /* where the key starts */
	struct braid_json value;
};

/* Parses text[0..len). Returns true, or false with "line L column C: what" in err. */
bool braid_json_parse(const char *text, size_t len, struct braid_json *out, char *err,
		      size_t err_len);
/* The same, with fractions and exponents read as REAL values. */
bool braid_json_parse_reals(const char *text, size_t len, struct braid_json *out, char *err,
			    size_t err_len);
void braid_json_free(struct braid_json *v);

/* The member `key` of an object, or NULL. */
const struct braid_json *braid_json_get(const struct braid_json *obj, const char *key);
/* A non-negative integer up to max. */
bool braid_json_uint(const struct braid_json *v, uint64_t max, uint64_t *out);
/* An INT or a REAL as a double. */
bool braid_json_number(const struct braid_json *v, double *out);
const char *braid_json_type_name(enum braid_json_type type);

/* s[0..len) for a one-line message: printable ASCII kept, anything else as '?', cut to
 * fit cap with "..." at the end. Returns buf. */
const char *braid_json_printable(const char *s, size_t len, char *buf, size_t cap);

/* Writes bytes as a JSON string, quotes included. Bytes that are not valid UTF-8 are
 * written as U+FFFD, so the output is always valid JSON. */
void braid_json_write_string(FILE *f, const uint8_t *s, size_t len);

#endif
