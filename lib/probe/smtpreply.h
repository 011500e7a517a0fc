/*
 * smtpreply - SMTP server replies (RFC 5321 section 4.2) as the probe reads
 * them: "250-first line", ..., "250 last line", each line ending in LF or
 * CRLF. Every line must start with a code 200-599 followed by nothing, a
 * space (the last line) or a hyphen (more lines follow); anything else is
 * not SMTP. The reply's code is the last line's. A line of the form
 * "250-STARTTLS" or "250 STARTTLS" (case-insensitive, optionally followed
 * by a space and more) is the EHLO keyword STARTTLS.
 *
 * Contract:
 * - smtpreply_scan() reads the bytes the caller has buffered, [data,
 *   data + len), without copying or allocating, and never past data + len.
 *   It is incremental: r->scanned remembers how far the lines of an
 *   incomplete reply were checked, so each line is checked, and handed to
 *   the line callback, exactly once however the bytes arrive. Until a call
 *   returns SMTPREPLY_DONE, the caller may only append to its buffer, or
 *   throw it away and call smtpreply_init().
 * - SMTPREPLY_DONE: a whole reply was read; r->code, r->starttls and
 *   r->last describe it, and the first *used bytes of the buffer (through
 *   the last line's LF) are the caller's to drop. Bytes after it (a
 *   pipelining server's next reply, or garbage) are left for the next call.
 * - SMTPREPLY_MORE: read more bytes and call again; returned only while
 *   fewer than max bytes are buffered, so a server that floods costs at
 *   most max bytes plus one read.
 * - SMTPREPLY_ERROR: r->error says why (a line that is not SMTP, or max
 *   bytes without the end of the reply); the session is over.
 * - r->last and r->error hold printable ASCII only (anything else becomes
 *   '?'): no server can forge a line of a report or an escape sequence.
 * - smtpreply_init() readies a struct for the first reply, and again when
 *   the caller throws its buffer away (at STARTTLS).
 */
#ifndef TLSPOLICY_SMTPREPLY_H
#define TLSPOLICY_SMTPREPLY_H

#include <stdbool.h>
#include <stddef.h>

enum { SMTPREPLY_ERROR = -1, SMTPREPLY_MORE = 0, SMTPREPLY_DONE = 1 };

struct smtpreply {
	size_t scanned;		/* bytes of the buffer checked: lines of this reply */
	int code;		/* 200..599, with SMTPREPLY_DONE */
	bool starttls;		/* a line of this reply is the keyword STARTTLS */
	char last[256];		/* the last line, printable, cut to fit */
	char error[200];	/* why, with SMTPREPLY_ERROR */
};

/* Called once per line scanned, before it is checked, without its line
 * end: the probe writes its transcript from it. */
typedef void smtpreply_line_fn(void *arg, const char *line, size_t len);

void smtpreply_init(struct smtpreply *r);
int smtpreply_scan(struct smtpreply *r, const char *data, size_t len, size_t max, size_t *used,
    smtpreply_line_fn *on_line, void *arg);

#endif
