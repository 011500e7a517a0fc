/*
 * jsonw - a JSON writer (RFC 8259) into a struct buf that tracks nesting
 * and places commas and colons itself, for --json output and JSON lines.
 * Compact: no white space, members in the order written.
 *
 * Every value function takes the member's name: inside an object it is
 * required, inside an array or at the top it must be NULL. A string value
 * of NULL is written as null. Strings are escaped as RFC 8259 requires
 * (", \, control characters and DEL as \u00XX, newline as \n); bytes
 * above 0x7f pass through, so UTF-8 stays UTF-8 and nothing is lost from a
 * name that is not.
 *
 * Why not jansson, which reads the survey files: it builds a tree in
 * memory first, rejects strings that are not UTF-8 (a hostile banner or
 * certificate subject would vanish) and escapes differently. This writes
 * straight into the caller's buffer, the same bytes the hand-written
 * output gave. (The prefix is jsonw_ because jansson owns json_.)
 *
 * Errors: each call returns 0, or -1 when the buffer cannot grow or the
 * call breaks the nesting (a name where none belongs or none where one
 * must be, an end that closes nothing or the other kind, more than
 * JSON_DEPTH_MAX levels: a bug). The first failure sticks: later calls
 * write nothing and return -1, and jsonw_done() says whether the document
 * is whole, so a caller may check once at the end. A struct jsonw borrows
 * its buffer and holds nothing else.
 */
#ifndef TLSPOLICY_JSONW_H
#define TLSPOLICY_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define JSONW_DEPTH_MAX 64

/* The fields are the writer's. */
struct jsonw {
	struct buf *out;
	unsigned depth;
	uint64_t objects;		/* bit d: level d+1 is an object */
	uint64_t nonempty;		/* bit d: level d+1 has a value already */
	bool failed;
};

void jsonw_init(struct jsonw *j, struct buf *out);
/* 0 when every object and array opened is closed and nothing failed. */
int jsonw_done(const struct jsonw *j);

int jsonw_object(struct jsonw *j, const char *name);
int jsonw_object_end(struct jsonw *j);
int jsonw_array(struct jsonw *j, const char *name);
int jsonw_array_end(struct jsonw *j);

int jsonw_string(struct jsonw *j, const char *name, const char *s);
int jsonw_uint(struct jsonw *j, const char *name, uint64_t v);
int jsonw_int(struct jsonw *j, const char *name, int64_t v);
int jsonw_bool(struct jsonw *j, const char *name, bool v);
int jsonw_null(struct jsonw *j, const char *name);
/* A value that is JSON already (what another writer wrote). */
int jsonw_raw(struct jsonw *j, const char *name, const char *text, size_t len);

/* One string literal, escaped as above, straight into a buffer; NULL as
 * null. */
int jsonw_quote(struct buf *b, const char *s);

#endif
