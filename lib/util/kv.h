/*
 * kv - one event per log line in a stable key=value form that greps and
 * parses: `event=answer dest=example.org answer="OK dane-only" ...`.
 *
 * Fields are separated by one space; a field starts a line without one
 * when the buffer ends with a newline, so one buffer can hold many lines.
 * A value is written bare when it is non-empty and holds only printable
 * ASCII other than space, '"', '\' and '='; otherwise it is double-quoted
 * with '"' and '\' escaped as \" and \\ and any other byte outside
 * printable ASCII as \xNN, so a hostile DNS name or client key can never
 * forge a field or a line. Keys are the caller's constants.
 */
#ifndef TLSPOLICY_KV_H
#define TLSPOLICY_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

int kv_str(struct buf *b, const char *key, const char *value);
int kv_strn(struct buf *b, const char *key, const char *value, size_t len);
int kv_uint(struct buf *b, const char *key, uint64_t value);
/* Milliseconds with microsecond precision: "1.234". */
int kv_ms(struct buf *b, const char *key, uint64_t usec);

/* Reads a line written by the functions above: calls field() for each
 * key=value with the value unquoted. Returns 0, or -1 at the first thing
 * that is not key=value (fields before it have been passed on). The value
 * strings are valid during the call only. */
int kv_parse(const char *line, size_t len, void (*field)(void *arg, const char *key, const char *value),
    void *arg);
/* A value that kv_uint() could have written, up to max: decimal digits
 * only (no sign, no space), no more than max. */
bool kv_number(const char *value, uint64_t max, uint64_t *out);

#endif
