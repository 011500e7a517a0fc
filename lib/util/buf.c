/* buf - growable byte buffer; see buf.h for the contract. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

void
buf_init(struct buf *b)
{
	b->data = NULL;
	b->start = b->len = b->cap = 0;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

void
buf_reset(struct buf *b)
{
	b->start = b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *
buf_reserve(struct buf *b, size_t n)
{
	size_t used = b->len - b->start;

	/* One byte more than asked, for the terminating NUL. */
	if (n >= BUF_MAX || used >= BUF_MAX - n)
		return NULL;
	if (b->len + n + 1 <= b->cap)
		return b->data + b->len;
	if (b->start > 0 && used + n + 1 <= b->cap) {
		memmove(b->data, b->data + b->start, used);
		b->start = 0;
		b->len = used;
		return b->data + b->len;
	}
	size_t cap = b->cap ? b->cap : 256;
	while (cap < used + n + 1)
		cap *= 2;
	char *data = malloc(cap);
	if (!data)
		return NULL;
	if (used)
		memcpy(data, b->data + b->start, used);
	free(b->data);
	b->data = data;
	b->cap = cap;
	b->start = 0;
	b->len = used;
	return b->data + b->len;
}

void
buf_commit(struct buf *b, size_t n)
{
	b->len += n;
	b->data[b->len] = '\0';
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	/* Most appends fit in the room already there. */
	if (b->data && n < b->cap - b->len) {
		if (n)
			memcpy(b->data + b->len, p, n);
		b->len += n;
		b->data[b->len] = '\0';
		return 0;
	}
	char *dst = buf_reserve(b, n);

	if (!dst)
		return -1;
	if (n)
		memcpy(dst, p, n);
	buf_commit(b, n);
	return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_putc(struct buf *b, char c)
{
	/* The common case, one byte into room already there. */
	if (b->data && b->len + 2 <= b->cap) {
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
		return 0;
	}
	return buf_append(b, &c, 1);
}

int
buf_put_uint(struct buf *b, uint64_t v, unsigned min_digits)
{
	char digits[24];
	unsigned n = 0;

	do {
		digits[sizeof(digits) - ++n] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < sizeof(digits));
	while (n < min_digits && n < sizeof(digits))	/* 24 digits: more than any caller wants */
		digits[sizeof(digits) - ++n] = '0';
	return buf_append(b, digits + sizeof(digits) - n, n);
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list copy;
	char *dst = buf_reserve(b, 128);

	if (!dst)
		return -1;
	size_t room = b->cap - b->len;
	va_copy(copy, ap);
	int n = vsnprintf(dst, room, fmt, copy);
	va_end(copy);
	if (n < 0)
		return -1;
	if ((size_t)n >= room) {
		if (!(dst = buf_reserve(b, (size_t)n)))
			return -1;
		vsnprintf(dst, (size_t)n + 1, fmt, ap);
	}
	buf_commit(b, (size_t)n);
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void
buf_truncate(struct buf *b, size_t n)
{
	if (n < buf_size(b))
		b->len = b->start + n;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len - b->start)
		buf_reset(b);
	else
		b->start += n;
}

int
buf_terminate(struct buf *b)
{
	if (!buf_reserve(b, 0))
		return -1;
	b->data[b->len] = '\0';
	return 0;
}

char *
buf_detach(struct buf *b)
{
	if (buf_terminate(b) < 0)
		return NULL;
	if (b->start)
		memmove(b->data, b->data + b->start, b->len - b->start + 1);
	char *s = b->data;
	buf_init(b);
	return s;
}
