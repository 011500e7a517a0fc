/*
 * tail - follows a log file as it grows, across rotation, or standard
 * input, handing over complete lines.
 *
 * A file is followed from its end when opened (what was logged before the
 * daemon started is not news) or from its start (tests, catching up).
 * Each tail_poll() reads what was appended since the last one. Rotation by
 * rename (logrotate's default): the old file is read to its end first, then
 * the new one from its start, so no line is lost or read twice. Rotation by
 * truncation (copytruncate): a file shorter than what was read is read
 * again from its start. A line longer than TAIL_MAX_LINE is cut there (the
 * rest is dropped up to the next newline), so memory stays bounded
 * whatever the file holds.
 *
 * Standard input ("-"): read without blocking; the end of input is
 * reported once (tail_eof()).
 *
 * Ownership: the caller owns the tail; line pointers are valid during the
 * callback only.
 */
#ifndef TLSPOLICY_TAIL_H
#define TLSPOLICY_TAIL_H

#include <stdbool.h>
#include <stddef.h>

#define TAIL_MAX_LINE 8192

struct tail;

/* NULL with errno when a file cannot be opened; a file that does not
 * exist yet is no error: it is looked for again at every poll. */
struct tail *tail_open(const char *path, bool from_end);
void tail_close(struct tail *t);

/* The descriptor to watch for standard input, or -1 for a file (poll it on
 * a timer instead). */
int tail_fd(const struct tail *t);

/* Calls line() for each complete line read; returns how many, or -1 with
 * errno on a read error (the tail stays usable). */
int tail_poll(struct tail *t, void (*line)(void *arg, const char *text, size_t len), void *arg);
bool tail_eof(const struct tail *t);

#endif
