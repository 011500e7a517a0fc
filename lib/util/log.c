/* log - syslog or batched stderr; see log.h for the contract. */
#include "autoconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/kv.h"
#include "util/log.h"

#define LOG_BATCH 16384

struct log {
	bool to_syslog;
	int level;
	struct buf pending;
	time_t stamp_second;		/* the second stamp[] shows */
	char stamp[24];			/* "2026-11-24T16:18:05" */
	void (*wakeup)(void *arg);
	void *wakeup_arg;
};

/* Indexed by level - LOGL_ALERT. */
static const char *const level_names[] = {"alert", "error", "warning", "notice", "info", "debug"};
static const int syslog_priorities[] = {LOG_ALERT, LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG};

static int
clamp_level(int level)
{
	return level < LOGL_ALERT ? LOGL_ALERT : level > LOGL_DEBUG ? LOGL_DEBUG : level;
}

const char *
log_level_name(int level)
{
	return level_names[clamp_level(level) - LOGL_ALERT];
}

static struct log *
create(bool to_syslog, int level)
{
	struct log *log = calloc(1, sizeof(*log));

	if (!log)
		return NULL;
	log->to_syslog = to_syslog;
	log->level = level;
	buf_init(&log->pending);
	return log;
}

struct log *
log_create_stderr(int level)
{
	return create(false, level);
}

struct log *
log_create_syslog(const char *ident, int facility, int level)
{
	struct log *log = create(true, level);

	if (log)
		openlog(ident, LOG_PID | LOG_NDELAY, facility);
	return log;
}

void
log_free(struct log *log)
{
	if (!log)
		return;
	log_flush(log);
	buf_free(&log->pending);
	if (log->to_syslog)
		closelog();
	free(log);
}

void
log_set_level(struct log *log, int level)
{
	log->level = level;
}

bool
log_enabled(const struct log *log, int level)
{
	return level <= log->level;
}

void
log_set_wakeup(struct log *log, void (*wakeup)(void *arg), void *arg)
{
	log->wakeup = wakeup;
	log->wakeup_arg = arg;
}

void
log_flush(struct log *log)
{
	const char *p = buf_ptr(&log->pending);
	size_t n = buf_size(&log->pending);

	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;	/* nowhere to report it: drop the batch */
		p += w;
		n -= (size_t)w;
	}
	buf_reset(&log->pending);
}

void
log_line(struct log *log, int level, const char *line, size_t len)
{
	if (!log_enabled(log, level))
		return;
	level = clamp_level(level);
	if (log->to_syslog) {
		syslog(syslog_priorities[level - LOGL_ALERT], "%.*s", (int)len, line);
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* Formatting the date is most of a line's cost: once a second will do. */
	if (ts.tv_sec != log->stamp_second || !log->stamp[0]) {
		struct tm tm;
		gmtime_r(&ts.tv_sec, &tm);
		strftime(log->stamp, sizeof(log->stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		log->stamp_second = ts.tv_sec;
	}
	bool was_empty = buf_size(&log->pending) == 0;
	struct buf *b = &log->pending;
	buf_puts(b, log->stamp);
	buf_putc(b, '.');
	buf_put_uint(b, (uint64_t)ts.tv_nsec / 1000000, 3);
	buf_puts(b, "Z ");
	buf_puts(b, log_level_name(level));
	buf_puts(b, ": ");
	buf_append(b, line, len);
	buf_putc(b, '\n');
	if (level <= LOGL_WARNING || buf_size(&log->pending) >= LOG_BATCH || !log->wakeup)
		log_flush(log);
	else if (was_empty)
		log->wakeup(log->wakeup_arg);
}

void
log_msg(struct log *log, int level, const char *fmt, ...)
{
	va_list ap;
	struct buf line;

	if (!log_enabled(log, level))
		return;
	buf_init(&line);
	va_start(ap, fmt);
	buf_vprintf(&line, fmt, ap);
	va_end(ap);
	log_line(log, level, buf_ptr(&line), buf_size(&line));
	buf_free(&line);
}

void
log_event(struct log *log, int level, const char *event, ...)
{
	va_list ap;
	struct buf line;
	const char *key;

	if (!log_enabled(log, level))
		return;
	buf_init(&line);
	kv_str(&line, "event", event);
	va_start(ap, event);
	while ((key = va_arg(ap, const char *)))
		kv_str(&line, key, va_arg(ap, const char *));
	va_end(ap);
	log_line(log, level, buf_ptr(&line), buf_size(&line));
	buf_free(&line);
}
