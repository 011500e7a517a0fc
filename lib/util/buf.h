/*
 * buf - a growable byte buffer with a read position.
 *
 * Contract:
 * - A struct buf is owned by whoever embeds it; buf_init() makes it empty,
 *   buf_free() releases its storage. Nothing else owns it.
 * - Data lives in [data + start, data + len). buf_consume() advances start;
 *   the buffer compacts itself lazily when it needs room at the end.
 * - Every append either succeeds or returns -1 with the buffer unchanged
 *   (allocation failure, or growth past BUF_MAX).
 * - The byte after the data is always '\0' when len > 0 or after
 *   buf_terminate(), so text can be passed to C string functions; binary
 *   data may contain NUL bytes of its own.
 */
#ifndef TLSPOLICY_BUF_H
#define TLSPOLICY_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* No single buffer ever needs more: replies are capped at 100 000 bytes. */
#define BUF_MAX (16u * 1024u * 1024u)

struct buf {
	char *data;
	size_t start;
	size_t len;
	size_t cap;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
/* Drops all data, keeps the storage. */
void buf_reset(struct buf *b);

static inline const char *buf_ptr(const struct buf *b) { return b->data ? b->data + b->start : ""; }
static inline size_t buf_size(const struct buf *b) { return b->len - b->start; }

/* Makes room for at least n more bytes; returns a pointer to write them. */
char *buf_reserve(struct buf *b, size_t n);
/* Records that n bytes were written at the pointer buf_reserve() returned. */
void buf_commit(struct buf *b, size_t n);

int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
/* Appends a number in decimal, at least min_digits long (zero-padded):
 * cheaper than buf_printf on the paths that run once per request. */
int buf_put_uint(struct buf *b, uint64_t v, unsigned min_digits);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void buf_consume(struct buf *b, size_t n);
/* Drops all but the first n bytes of the data (n <= buf_size). */
void buf_truncate(struct buf *b, size_t n);
/* Guarantees a terminating NUL after the data, even when empty. */
int buf_terminate(struct buf *b);
/* Hands the storage to the caller as a NUL-terminated string (caller frees)
 * and leaves the buffer empty. Returns NULL on allocation failure. */
char *buf_detach(struct buf *b);

#endif
