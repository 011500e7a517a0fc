/*
 * log - where the daemon's lines go: syslog (with the configured facility)
 * or standard error (with -f). One line per event; the caller composes it
 * (kv.h) and the log adds the time and level on stderr, the priority on
 * syslog.
 *
 * Standard error is written in batches: lines at info and debug collect in
 * a buffer that is written when it grows past 16 KiB, when a warning or
 * worse is logged, or when the owner calls log_flush() (the daemon does so
 * once per turn of its event loop, prompted by the wakeup callback, which
 * runs when the buffer stops being empty). So a busy daemon pays one
 * write(2) per batch of answers, not one per answer.
 *
 * Ownership: log_create_*() return an object the caller frees with
 * log_free(), which flushes. Not thread-safe: the daemon logs from its
 * event loop only.
 */
#ifndef TLSPOLICY_LOG_H
#define TLSPOLICY_LOG_H

#include <stdbool.h>

/* The levels of log_level; LOGL_ALERT is never filtered out: alerts are
 * what the log is for. */
enum log_level_value { LOGL_ALERT = -1, LOGL_ERROR, LOGL_WARNING, LOGL_NOTICE, LOGL_INFO, LOGL_DEBUG };

struct log;

struct log *log_create_stderr(int level);
struct log *log_create_syslog(const char *ident, int facility, int level);
void log_free(struct log *log);

void log_set_level(struct log *log, int level);
bool log_enabled(const struct log *log, int level);
void log_set_wakeup(struct log *log, void (*wakeup)(void *arg), void *arg);

void log_msg(struct log *log, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "event=EVENT key=value ..." from string pairs ending with NULL, each
 * value quoted as kv.h does: the way to log anything a client, a file or
 * DNS supplied. */
void log_event(struct log *log, int level, const char *event, ...) __attribute__((sentinel));
/* A pre-composed line (no newline). */
void log_line(struct log *log, int level, const char *line, size_t len);
void log_flush(struct log *log);

const char *log_level_name(int level);

#endif
