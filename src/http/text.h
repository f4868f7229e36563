/* A growing text buffer for HTTP bodies (the Prometheus exposition format, JSON
 * assembled from pieces): printf-style appends, one failure flag checked at the end. */
#ifndef BRAID_HTTP_TEXT_H
#define BRAID_HTTP_TEXT_H

#include <stdbool.h>
#include <stddef.h>

struct http_text {
	char *buf;
	size_t len, cap;
	bool failed; /* an allocation or a format failed: the text is incomplete */
};

void http_text_append(struct http_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void http_text_append_bytes(struct http_text *t, const char *bytes, size_t len);
/* The text, NUL-terminated, for the caller to free (its length in *len); NULL when
 * anything failed (then the buffer is freed here). */
char *http_text_take(struct http_text *t, size_t *len);

/* A Prometheus label value: backslash, quote and newline escaped, cut to fit cap. */
void http_label_escape(const char *in, char *out, size_t cap);

#endif
