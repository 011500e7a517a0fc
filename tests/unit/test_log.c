/*
 * Unit tests: the daemon's log on standard error (lib/util/log.h). Each
 * line is "TIME LEVEL: TEXT", TIME in UTC to the millisecond; levels above
 * log_level are left out, alerts never; log_event() quotes what it is
 * given, so no value makes a second line; and the batching: info and
 * debug lines wait for log_flush() (the wakeup callback says when there
 * is something to flush), a warning or 16 KiB of lines are written at
 * once, log_free() writes the rest, and a batch that cannot be written is
 * dropped, never retried forever.
 *
 * Standard error is a memfd(2) while a test logs, so nothing reaches the
 * terminal or the file system; syslog is left alone (openlog() would send
 * the test's lines to the host's log).
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/buf.h"
#include "util/log.h"
#include "table.h"

/* Standard error redirected to a memfd while a test logs. Assertions come
 * after capture_stop(): cmocka reports on the real standard error. */
struct capture {
	int saved;
	int fd;
};

static void
capture_start(struct capture *c)
{
	fflush(stderr);
	c->fd = memfd_create("stderr", MFD_CLOEXEC);
	assert_true(c->fd >= 0);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_int_equal(dup2(c->fd, STDERR_FILENO), STDERR_FILENO);
}

/* What was written so far, as a string (the caller frees it). */
static char *
capture_text(const struct capture *c)
{
	struct buf b;
	char chunk[4096];
	off_t off = 0;
	ssize_t n;

	buf_init(&b);
	while ((n = pread(c->fd, chunk, sizeof(chunk), off)) > 0) {
		buf_append(&b, chunk, (size_t)n);
		off += n;
	}
	return buf_detach(&b);
}

static void
capture_stop(struct capture *c)
{
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	close(c->fd);
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* "2026-11-24T16:18:05.123Z LEVEL: TEXT\n" at the start of line, within a
 * few seconds of now; returns what follows "Z ", or NULL. */
static const char *
check_stamp(const char *line, time_t now)
{
	struct tm tm = {0};
	const char *p = strptime(line, "%Y-%m-%dT%H:%M:%S", &tm);

	if (!p || p[0] != '.' || p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9' || p[3] < '0' || p[3] > '9' ||
	    strncmp(p + 4, "Z ", 2) != 0)
		return NULL;
	time_t t = timegm(&tm);
	if (t < now - 5 || t > now + 5)
		return NULL;
	return p + 6;
}

static void
test_line_format(void **state)
{
	struct capture c;
	time_t now = time(NULL);

	capture_start(&c);
	struct log *log = log_create_stderr(LOGL_DEBUG);
	log_msg(log, LOGL_NOTICE, "event=start version=%s", "0.1.0");
	log_line(log, LOGL_ERROR, "event=x tail-not-taken", 7);
	log_free(log);
	char *text = capture_text(&c);
	capture_stop(&c);

	assert_int_equal(count_lines(text), 2);
	const char *rest = check_stamp(text, now);
	if (!rest)
		fail_msg("no UTC time stamp to the millisecond: %s", text);
	assert_memory_equal(rest, "notice: event=start version=0.1.0\n", 34);
	const char *second = strchr(text, '\n') + 1;
	rest = check_stamp(second, now);
	assert_non_null(rest);
	assert_string_equal(rest, "error: event=x\n");
	free(text);
}

struct level_case {
	const char *name;
	int log_level;		/* the log's log_level */
	int level;		/* the line's */
	bool shown;
};

static const struct level_case level_cases[] = {
	{"level: info at info", LOGL_INFO, LOGL_INFO, true},
	{"level: debug at info", LOGL_INFO, LOGL_DEBUG, false},
	{"level: notice at info", LOGL_INFO, LOGL_NOTICE, true},
	{"level: info at notice", LOGL_NOTICE, LOGL_INFO, false},
	{"level: warning at notice", LOGL_NOTICE, LOGL_WARNING, true},
	{"level: error at error", LOGL_ERROR, LOGL_ERROR, true},
	{"level: warning at error", LOGL_ERROR, LOGL_WARNING, false},
	{"level: debug at debug", LOGL_DEBUG, LOGL_DEBUG, true},
	{"level: alert at error, never filtered", LOGL_ERROR, LOGL_ALERT, true},
	{"level: alert at debug", LOGL_DEBUG, LOGL_ALERT, true},
};

static const char *
level_case_name(const void *row)
{
	return ((const struct level_case *)row)->name;
}

static void
test_level(void **state)
{
	const struct level_case *c = *state;
	struct capture cap;

	capture_start(&cap);
	struct log *log = log_create_stderr(c->log_level);
	bool enabled = log_enabled(log, c->level);
	log_msg(log, c->level, "m");
	log_event(log, c->level, "e", NULL);
	log_line(log, c->level, "l", 1);
	log_free(log);
	char *text = capture_text(&cap);
	capture_stop(&cap);

	assert_int_equal(enabled, c->shown);
	assert_int_equal(count_lines(text), c->shown ? 3 : 0);
	if (c->shown) {
		char want[32];
		snprintf(want, sizeof(want), " %s: m\n", log_level_name(c->level));
		assert_non_null(strstr(text, want));
	}
	free(text);
}

/* A reload changes the level at once. */
static void
test_set_level(void **state)
{
	struct capture c;

	capture_start(&c);
	struct log *log = log_create_stderr(LOGL_NOTICE);
	log_msg(log, LOGL_INFO, "before");
	log_set_level(log, LOGL_INFO);
	log_msg(log, LOGL_INFO, "after");
	log_set_level(log, LOGL_ERROR);
	log_msg(log, LOGL_WARNING, "hidden again");
	log_free(log);
	char *text = capture_text(&c);
	capture_stop(&c);

	assert_null(strstr(text, "before"));
	assert_non_null(strstr(text, "info: after\n"));
	assert_null(strstr(text, "hidden"));
	assert_int_equal(count_lines(text), 1);
	free(text);
}

static void
test_level_names(void **state)
{
	assert_string_equal(log_level_name(LOGL_ALERT), "alert");
	assert_string_equal(log_level_name(LOGL_ERROR), "error");
	assert_string_equal(log_level_name(LOGL_WARNING), "warning");
	assert_string_equal(log_level_name(LOGL_NOTICE), "notice");
	assert_string_equal(log_level_name(LOGL_INFO), "info");
	assert_string_equal(log_level_name(LOGL_DEBUG), "debug");
	/* Out of range: the nearest level, never a read past the table. */
	assert_string_equal(log_level_name(-100), "alert");
	assert_string_equal(log_level_name(100), "debug");
}

struct event_case {
	const char *name;
	const char *value;	/* of the field "dest" */
	const char *out;	/* the line after "info: " */
};

static const struct event_case event_cases[] = {
	{"event: a plain value", "example.org", "event=answer dest=example.org rule=x\n"},
	{"event: a value with spaces, quoted", "OK dane-only", "event=answer dest=\"OK dane-only\" rule=x\n"},
	{"event: an empty value", "", "event=answer dest=\"\" rule=x\n"},
	{"event: NULL, as empty", NULL, "event=answer dest=\"\" rule=x\n"},
	{"event: a forged line stays in its field", "x\nevent=alert kind=forged",
	    "event=answer dest=\"x\\x0aevent=alert kind=forged\" rule=x\n"},
	{"event: a forged field stays in its value", "x rule=forged", "event=answer dest=\"x rule=forged\" rule=x\n"},
	{"event: a closing quote escaped", "\" rule=forged \"", "event=answer dest=\"\\\" rule=forged \\\"\" rule=x\n"},
	{"event: control and high bytes escaped", "\x1b[31m\xff", "event=answer dest=\"\\x1b[31m\\xff\" rule=x\n"},
};

static const char *
event_case_name(const void *row)
{
	return ((const struct event_case *)row)->name;
}

static void
test_event(void **state)
{
	const struct event_case *c = *state;
	struct capture cap;

	capture_start(&cap);
	struct log *log = log_create_stderr(LOGL_INFO);
	log_event(log, LOGL_INFO, "answer", "dest", c->value, "rule", "x", NULL);
	log_free(log);
	char *text = capture_text(&cap);
	capture_stop(&cap);

	const char *p = strstr(text, " info: ");
	if (!p)
		fail_msg("no info line: %s", text);
	assert_string_equal(p + 7, c->out);
	assert_int_equal(count_lines(text), 1);
	free(text);
}

static unsigned wakeups;

static void
on_wakeup(void *arg)
{
	(void)arg;
	wakeups++;
}

/* With a wakeup: info and debug lines wait for log_flush(); the wakeup
 * runs when the first one arrives, not for each; a warning writes the
 * batch at once, in order, and log_free() writes what is left. */
static void
test_batch(void **state)
{
	struct capture c;
	char *before_flush, *after_flush, *after_warning, *after_free;

	wakeups = 0;
	capture_start(&c);
	struct log *log = log_create_stderr(LOGL_DEBUG);
	log_set_wakeup(log, on_wakeup, NULL);
	log_msg(log, LOGL_INFO, "one");
	log_msg(log, LOGL_DEBUG, "two");
	log_msg(log, LOGL_INFO, "three");
	before_flush = capture_text(&c);
	unsigned wakeups_first = wakeups;
	log_flush(log);
	after_flush = capture_text(&c);
	log_msg(log, LOGL_INFO, "four");
	unsigned wakeups_second = wakeups;
	log_msg(log, LOGL_WARNING, "five");
	after_warning = capture_text(&c);
	log_msg(log, LOGL_NOTICE, "six");
	log_free(log);
	after_free = capture_text(&c);
	capture_stop(&c);

	assert_string_equal(before_flush, "");
	assert_int_equal(wakeups_first, 1);
	assert_int_equal(count_lines(after_flush), 3);
	assert_true(strstr(after_flush, "one") < strstr(after_flush, "two"));
	assert_true(strstr(after_flush, "two") < strstr(after_flush, "three"));
	assert_int_equal(wakeups_second, 2);
	assert_int_equal(count_lines(after_warning), 5);
	assert_true(strstr(after_warning, "info: four") < strstr(after_warning, "warning: five"));
	assert_int_equal(count_lines(after_free), 6);
	assert_non_null(strstr(after_free, "notice: six\n"));
	free(before_flush);
	free(after_flush);
	free(after_warning);
	free(after_free);
}

/* Without a wakeup nothing would ever flush: each line is written at once. */
static void
test_no_wakeup_writes_at_once(void **state)
{
	struct capture c;

	capture_start(&c);
	struct log *log = log_create_stderr(LOGL_DEBUG);
	log_msg(log, LOGL_DEBUG, "at once");
	char *text = capture_text(&c);
	log_free(log);
	capture_stop(&c);

	assert_non_null(strstr(text, "debug: at once\n"));
	free(text);
}

/* A batch is written once it passes 16 KiB, so a daemon that logs faster
 * than its loop turns holds no more than that. */
static void
test_batch_limit(void **state)
{
	struct capture c;
	char line[200], *text;
	size_t written_at = 0, total = 0;

	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	wakeups = 0;
	capture_start(&c);
	struct log *log = log_create_stderr(LOGL_INFO);
	log_set_wakeup(log, on_wakeup, NULL);
	for (int i = 0; i < 200 && !written_at; i++) {
		log_msg(log, LOGL_INFO, "%s", line);
		total += 200 + 32;	/* about: stamp, level, text, newline */
		text = capture_text(&c);
		if (text[0])
			written_at = strlen(text);
		free(text);
	}
	log_free(log);
	capture_stop(&c);

	if (!written_at)
		fail_msg("nothing written after %zu bytes of lines", total);
	if (written_at < 16384 || written_at > 16384 + 300)
		fail_msg("the batch was written at %zu bytes, want just past 16384", written_at);
	assert_int_equal(wakeups, 1);
}

/* Nowhere to write (a pipe nobody reads): the batch is dropped, the call
 * returns, and later lines are not held back by the lost ones. */
static void
test_write_fails(void **state)
{
	int p[2];
	struct capture c;
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);	/* as the daemon does */

	assert_int_equal(pipe(p), 0);
	close(p[0]);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	dup2(p[1], STDERR_FILENO);
	close(p[1]);
	struct log *log = log_create_stderr(LOGL_INFO);
	log_set_wakeup(log, on_wakeup, NULL);
	log_msg(log, LOGL_INFO, "lost one");
	log_msg(log, LOGL_INFO, "lost two");
	log_flush(log);
	dup2(saved, STDERR_FILENO);
	close(saved);

	capture_start(&c);
	log_msg(log, LOGL_WARNING, "kept");
	log_free(log);
	char *text = capture_text(&c);
	capture_stop(&c);
	signal(SIGPIPE, old);

	assert_null(strstr(text, "lost"));
	assert_non_null(strstr(text, "warning: kept\n"));
	assert_int_equal(count_lines(text), 1);
	free(text);
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_line_format),
		cmocka_unit_test(test_set_level),
		cmocka_unit_test(test_level_names),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_no_wakeup_writes_at_once),
		cmocka_unit_test(test_batch_limit),
		cmocka_unit_test(test_write_fails),
	};
	struct table t = {0};

	TABLE_ADD(&t, level_cases, level_case, test_level);
	TABLE_ADD(&t, event_cases, event_case, test_event);
	TABLE_TESTS(&t, more);
	return table_run(&t, "log");
}
