/* Strict JSON: a recursive-descent reader with positions for error messages, and a string
 * writer. RFC 8259 grammar, less fractions and exponents (the tools read counts and
 * timestamps, where a fraction would be a mistake to report, not to round). */
#include "json.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct parser {
	const char *p, *end;
	const char *line_start;
	unsigned line;
	char *err;
	size_t err_len;
	bool failed;
	bool reals; /* fractions and exponents allowed */
};

/* A growing byte buffer for strings. */
struct text {
	char *buf;
	size_t len, cap;
};

static bool fail(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(struct parser *ps, const char *fmt, ...)
{
	if (ps->failed)
		return false;
	ps->failed = true;
	int n = snprintf(ps->err, ps->err_len, "line %u column %u: ", ps->line,
			 (unsigned)(ps->p - ps->line_start) + 1);
	if (n >= 0 && (size_t)n < ps->err_len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(ps->err + n, ps->err_len - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return false;
}

static void skip_space(struct parser *ps)
{
	while (ps->p < ps->end) {
		char c = *ps->p;
		if (c == '\n') {
			ps->line++;
			ps->line_start = ps->p + 1;
		} else if (c != ' ' && c != '\t' && c != '\r') {
			return;
		}
		ps->p++;
	}
}

static bool text_add(struct text *t, const char *bytes, size_t n)
{
	if (t->cap - t->len <= n) {
		size_t cap = t->cap ? t->cap : 16;
		while (cap - t->len <= n)
			cap *= 2;
		char *grown = realloc(t->buf, cap);
		if (!grown)
			return false;
		t->buf = grown;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, bytes, n);
	t->len += n;
	t->buf[t->len] = '\0';
	return true;
}

/* The length of the valid UTF-8 sequence at p (1 to 4), or 0. */
static size_t utf8_sequence(const uint8_t *p, size_t left)
{
	uint8_t c = p[0];
	size_t n;
	uint32_t cp, min;
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0) {
		n = 2, cp = c & 0x1fu, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3, cp = c & 0x0fu, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4, cp = c & 0x07u, min = 0x10000;
	} else {
		return 0;
	}
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3fu);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static size_t utf8_encode(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static bool hex4(struct parser *ps, uint32_t *out)
{
	if (ps->end - ps->p < 4)
		return fail(ps, "truncated \\u escape");
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		char c = ps->p[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return fail(ps, "bad hex digit in \\u escape");
		v = v << 4 | d;
	}
	ps->p += 4;
	*out = v;
	return true;
}

/* After "\u": one code point, a surrogate pair counting as one. */
static bool unicode_escape(struct parser *ps, struct text *t)
{
	uint32_t cp;
	if (!hex4(ps, &cp))
		return false;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return fail(ps, "lone low surrogate in \\u escape");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		uint32_t low;
		if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
			return fail(ps, "high surrogate without its low half");
		ps->p += 2;
		if (!hex4(ps, &low))
			return false;
		if (low < 0xdc00 || low > 0xdfff)
			return fail(ps, "high surrogate without its low half");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
	}
	char buf[4];
	return text_add(t, buf, utf8_encode(cp, buf)) || fail(ps, "out of memory");
}

static bool escape(struct parser *ps, struct text *t)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	if (ps->p == ps->end)
		return fail(ps, "unterminated string");
	char c = *ps->p++;
	if (c == 'u')
		return unicode_escape(ps, t);
	const char *at = memchr(from, c, sizeof(from) - 1);
	if (!at) {
		ps->p--;
		return fail(ps, "bad escape '\\%c'", c >= 0x20 && c < 0x7f ? c : '?');
	}
	return text_add(t, &to[at - from], 1) || fail(ps, "out of memory");
}

/* At the opening quote. */
static bool parse_string(struct parser *ps, char **out, size_t *out_len)
{
	struct text t = { NULL, 0, 0 };
	ps->p++;
	if (!text_add(&t, "", 0))
		return fail(ps, "out of memory");
	for (;;) {
		if (ps->p == ps->end) {
			free(t.buf);
			return fail(ps, "unterminated string");
		}
		uint8_t c = (uint8_t)*ps->p;
		bool ok;
		if (c == '"') {
			ps->p++;
			break;
		} else if (c == '\\') {
			ps->p++;
			ok = escape(ps, &t);
		} else if (c < 0x20) {
			ok = fail(ps, "control character in string (escape it)");
		} else {
			size_t n = utf8_sequence((const uint8_t *)ps->p, (size_t)(ps->end - ps->p));
			ok = n ? text_add(&t, ps->p, n) || fail(ps, "out of memory")
			       : fail(ps, "invalid UTF-8 in string");
			ps->p += n;
		}
		if (!ok) {
			free(t.buf);
			return false;
		}
	}
	*out = t.buf;
	*out_len = t.len;
	return true;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool digits(struct parser *ps)
{
	if (ps->p == ps->end || !is_digit(*ps->p))
		return fail(ps, "expected a digit");
	while (ps->p < ps->end && is_digit(*ps->p))
		ps->p++;
	return true;
}

/* The rest of a number from its fraction or exponent on; start is its first character. */
static bool parse_real(struct parser *ps, struct braid_json *v, const char *start)
{
	if (*ps->p == '.') {
		ps->p++;
		if (!digits(ps))
			return false;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (!digits(ps))
			return false;
	}
	/* strtod wants a terminated string; the grammar is checked, the length bounded */
	char copy[64];
	size_t n = (size_t)(ps->p - start);
	if (n >= sizeof(copy))
		return fail(ps, "number too long");
	memcpy(copy, start, n);
	copy[n] = '\0';
	v->type = BRAID_JSON_REAL;
	v->real = strtod(copy, NULL);
	return true;
}

static bool parse_int(struct parser *ps, struct braid_json *v)
{
	const char *start = ps->p;
	bool negative = *ps->p == '-';
	if (negative)
		ps->p++;
	if (ps->p == ps->end || !is_digit(*ps->p))
		return fail(ps, "expected a digit");
	if (*ps->p == '0' && ps->end - ps->p > 1 && is_digit(ps->p[1]))
		return fail(ps, "leading zero in a number");
	uint64_t m = 0;
	while (ps->p < ps->end && is_digit(*ps->p)) {
		unsigned d = (unsigned)(*ps->p - '0');
		if (m > (UINT64_MAX - d) / 10)
			return fail(ps, "integer out of range");
		m = m * 10 + d;
		ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == '.' || *ps->p == 'e' || *ps->p == 'E'))
		return ps->reals ? parse_real(ps, v, start) :
				   fail(ps, "only integers are accepted");
	if (negative && m > (uint64_t)INT64_MAX + 1)
		return fail(ps, "integer out of range");
	v->type = BRAID_JSON_INT;
	v->negative = negative && m > 0;
	v->magnitude = m;
	return true;
}

static bool literal(struct parser *ps, const char *word, struct braid_json *v,
		    enum braid_json_type type, bool value)
{
	size_t n = strlen(word);
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return fail(ps, "expected '%s'", word);
	ps->p += n;
	v->type = type;
	v->boolean = value;
	return true;
}

static bool parse_value(struct parser *ps, struct braid_json *v, unsigned depth);

static bool parse_array(struct parser *ps, struct braid_json *v, unsigned depth)
{
	size_t cap = 0;
	v->type = BRAID_JSON_ARRAY;
	ps->p++;
	skip_space(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		return true;
	}
	for (;;) {
		if (v->count == cap) {
			cap = cap ? cap * 2 : 8;
			struct braid_json *grown = realloc(v->items, cap * sizeof(*grown));
			if (!grown)
				return fail(ps, "out of memory");
			v->items = grown;
		}
		struct braid_json *item = &v->items[v->count];
		memset(item, 0, sizeof(*item));
		v->count++;
		if (!parse_value(ps, item, depth + 1))
			return false;
		skip_space(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
		} else if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			return true;
		} else {
			return fail(ps, "expected ',' or ']'");
		}
	}
}

static bool add_member(struct parser *ps, struct braid_json *v, size_t *cap)
{
	if (ps->p == ps->end || *ps->p != '"')
		return fail(ps, "expected a string key");
	if (v->count == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		struct braid_json_member *grown = realloc(v->members, *cap * sizeof(*grown));
		if (!grown)
			return fail(ps, "out of memory");
		v->members = grown;
	}
	struct braid_json_member *m = &v->members[v->count];
	memset(m, 0, sizeof(*m));
	v->count++;
	const char *key_at = ps->p;
	m->line = ps->line;
	m->column = (unsigned)(ps->p - ps->line_start) + 1;
	if (!parse_string(ps, &m->key, &m->key_len))
		return false;
	for (size_t i = 0; i + 1 < v->count; i++) {
		if (v->members[i].key_len == m->key_len &&
		    memcmp(v->members[i].key, m->key, m->key_len) == 0) {
			char shown[64];
			ps->p = key_at;
			return fail(ps, "duplicate key \"%s\"",
				    braid_json_printable(m->key, m->key_len, shown, sizeof(shown)));
		}
	}
	return true;
}

static bool parse_object(struct parser *ps, struct braid_json *v, unsigned depth)
{
	size_t cap = 0;
	v->type = BRAID_JSON_OBJECT;
	ps->p++;
	skip_space(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return true;
	}
	for (;;) {
		if (!add_member(ps, v, &cap))
			return false;
		skip_space(ps);
		if (ps->p == ps->end || *ps->p != ':')
			return fail(ps, "expected ':'");
		ps->p++;
		if (!parse_value(ps, &v->members[v->count - 1].value, depth + 1))
			return false;
		skip_space(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			skip_space(ps);
		} else if (ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			return true;
		} else {
			return fail(ps, "expected ',' or '}'");
		}
	}
}

static bool parse_value(struct parser *ps, struct braid_json *v, unsigned depth)
{
	skip_space(ps);
	v->line = ps->line;
	v->column = (unsigned)(ps->p - ps->line_start) + 1;
	if (ps->p == ps->end)
		return fail(ps, "expected a value");
	if (depth >= BRAID_JSON_MAX_DEPTH)
		return fail(ps, "nested deeper than %d", BRAID_JSON_MAX_DEPTH);
	switch (*ps->p) {
	case '{':
		return parse_object(ps, v, depth);
	case '[':
		return parse_array(ps, v, depth);
	case '"':
		v->type = BRAID_JSON_STRING;
		return parse_string(ps, &v->string, &v->string_len);
	case 't':
		return literal(ps, "true", v, BRAID_JSON_BOOL, true);
	case 'f':
		return literal(ps, "false", v, BRAID_JSON_BOOL, false);
	case 'n':
		return literal(ps, "null", v, BRAID_JSON_NULL, false);
	default:
		if (*ps->p == '-' || is_digit(*ps->p))
			return parse_int(ps, v);
		if (*ps->p >= 0x20 && *ps->p < 0x7f)
			return fail(ps, "unexpected character '%c'", *ps->p);
		return fail(ps, "unexpected byte 0x%02x", (unsigned)(uint8_t)*ps->p);
	}
}

static bool parse_text(const char *text, size_t len, struct braid_json *out, char *err,
		       size_t err_len, bool reals)
{
	struct parser ps = { text, text + len, text, 1, err, err_len, false, reals };
	memset(out, 0, sizeof(*out));
	if (err_len)
		err[0] = '\0';
	if (parse_value(&ps, out, 0)) {
		skip_space(&ps);
		if (ps.p == ps.end)
			return true;
		fail(&ps, "trailing characters after the value");
	}
	braid_json_free(out);
	return false;
}

bool braid_json_parse(const char *text, size_t len, struct braid_json *out, char *err,
		      size_t err_len)
{
	return parse_text(text, len, out, err, err_len, false);
}

bool braid_json_parse_reals(const char *text, size_t len, struct braid_json *out, char *err,
			    size_t err_len)
{
	return parse_text(text, len, out, err, err_len, true);
}

void braid_json_free(struct braid_json *v)
{
	if (!v)
		return;
	free(v->string);
	for (size_t i = 0; v->items && i < v->count; i++)
		braid_json_free(&v->items[i]);
	free(v->items);
	for (size_t i = 0; v->members && i < v->count; i++) {
		free(v->members[i].key);
		braid_json_free(&v->members[i].value);
	}
	free(v->members);
	memset(v, 0, sizeof(*v));
}

const struct braid_json *braid_json_get(const struct braid_json *obj, const char *key)
{
	if (obj->type != BRAID_JSON_OBJECT)
		return NULL;
	size_t n = strlen(key);
	for (size_t i = 0; i < obj->count; i++)
		if (obj->members[i].key_len == n && memcmp(obj->members[i].key, key, n) == 0)
			return &obj->members[i].value;
	return NULL;
}

bool braid_json_uint(const struct braid_json *v, uint64_t max, uint64_t *out)
{
	if (v->type != BRAID_JSON_INT || v->negative || v->magnitude > max)
		return false;
	*out = v->magnitude;
	return true;
}

bool braid_json_number(const struct braid_json *v, double *out)
{
	if (v->type == BRAID_JSON_REAL)
		*out = v->real;
	else if (v->type == BRAID_JSON_INT)
		*out = v->negative ? -(double)v->magnitude : (double)v->magnitude;
	else
		return false;
	return true;
}

const char *braid_json_type_name(enum braid_json_type type)
{
	static const char *const names[] = { "null", "a boolean", "an integer", "a string",
					     "an array", "an object", "a number" };
	return (unsigned)type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

const char *braid_json_printable(const char *s, size_t len, char *buf, size_t cap)
{
	if (cap == 0)
		return buf;
	size_t n = 0;
	for (size_t i = 0; i < len && n + 1 < cap; i++)
		buf[n++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (n < len && cap >= 4) {
		memcpy(buf + cap - 4, "...", 3);
		n = cap - 1;
	}
	buf[n] = '\0';
	return buf;
}

void braid_json_write_string(FILE *f, const uint8_t *s, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len;) {
		uint8_t c = s[i];
		size_t n = utf8_sequence(s + i, len - i);
		if (n == 0) {
			fputs("\\ufffd", f);
			i++;
		} else if (c == '"' || c == '\\') {
			fprintf(f, "\\%c", c);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
			i++;
		} else {
			fwrite(s + i, 1, n, f);
			i += n;
		}
	}
	fputc('"', f);
}
