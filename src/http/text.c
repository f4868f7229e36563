#include "http/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(struct http_text *t, size_t more)
{
	if (t->failed)
		return false;
	if (t->cap - t->len > more)
		return true;
	size_t cap = (t->cap + more + 1) * 2;
	char *grown = realloc(t->buf, cap);
	if (!grown) {
		t->failed = true;
		return false;
	}
	t->buf = grown;
	t->cap = cap;
	return true;
}

void http_text_append(struct http_text *t, const char *fmt, ...)
{
	/* the first try tells the length when the room left is too small */
	for (int attempt = 0; attempt < 2 && reserve(t, 0); attempt++) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
		} else if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		} else {
			reserve(t, (size_t)n);
		}
	}
}

void http_text_append_bytes(struct http_text *t, const char *bytes, size_t len)
{
	if (!reserve(t, len))
		return;
	memcpy(t->buf + t->len, bytes, len);
	t->len += len;
	t->buf[t->len] = '\0';
}

char *http_text_take(struct http_text *t, size_t *len)
{
	if (!t->failed && !t->buf)
		reserve(t, 0);
	if (t->failed) {
		free(t->buf);
		*t = (struct http_text){ 0 };
		return NULL;
	}
	char *out = t->buf;
	out[t->len] = '\0';
	*len = t->len;
	*t = (struct http_text){ 0 };
	return out;
}

void http_label_escape(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	for (; *in && o + 3 < cap; in++) {
		char c = *in;
		if (c == '\\' || c == '"' || c == '\n') {
			out[o++] = '\\';
			c = c == '\n' ? 'n' : c;
		}
		out[o++] = c;
	}
	out[o] = '\0';
}
