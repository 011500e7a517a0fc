/*
 * Unit tests: the control socket's protocol (lib/serve/controlproto.h).
 * The daemon's end from tables of bytes read so far; the commands' checks
 * as the tlspolicy command makes them; and the client against a daemon
 * end on a thread that parses with the same module and answers as each
 * row scripts it (an answer, an error, silence, a close, garbage).
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "serve/controlproto.h"
#include "table.h"

/* ------------------------------------------------------- the daemon's end */

struct parse_case {
	const char *name;
	const char *in;
	size_t len;		/* 0: strlen(in) */
	enum controlproto_parse want;
	const char *command, *argument;	/* CONTROLPROTO_REQUEST */
	const char *refusal;		/* CONTROLPROTO_REFUSED */
};

static const char *
parse_case_name(const void *row)
{
	return ((const struct parse_case *)row)->name;
}

#define TOO_LONG "ERROR request too long: at most 4096 bytes"
#define MALFORMED "ERROR malformed request: send one netstring \"COMMAND [ARGUMENT]\""

/* "4096:", a payload of that length, and one byte more, not a comma. */
#define LONG_HEAD 5
static char long_input[LONG_HEAD + CONTROLPROTO_MAX_REQUEST + 2];

static const struct parse_case parse_cases[] = {
	{"nothing yet: read on", "", 0, CONTROLPROTO_INCOMPLETE},
	{"half the length: read on", "1", 0, CONTROLPROTO_INCOMPLETE},
	{"half the payload: read on", "5:sta", 0, CONTROLPROTO_INCOMPLETE},
	{"a command alone", "5:stats,", 0, CONTROLPROTO_REQUEST, "stats", ""},
	{"a command and its argument", "12:purge a.test,", 0, CONTROLPROTO_REQUEST, "purge", "a.test"},
	{"the argument is the rest, spaces and all", "14:maillog a b  c,", 0, CONTROLPROTO_REQUEST, "maillog",
	    "a b  c"},
	{"bytes after the request are not looked at", "5:stats,garbage", 0, CONTROLPROTO_REQUEST, "stats", ""},
	{"an empty request: an empty command", "0:,", 0, CONTROLPROTO_REQUEST, "", ""},
	{"a NUL ends the request", "9:stats\0xyz,", 12, CONTROLPROTO_REQUEST, "stats", ""},
	{"a payload at the limit, its comma to come", NULL, LONG_HEAD + CONTROLPROTO_MAX_REQUEST,
	    CONTROLPROTO_INCOMPLETE},
	{"a payload at the limit, then no comma", NULL, LONG_HEAD + CONTROLPROTO_MAX_REQUEST + 1,
	    CONTROLPROTO_REFUSED, NULL, NULL, MALFORMED},
	{"a length over the limit: refused at once", "4097:", 0, CONTROLPROTO_REFUSED, NULL, NULL, TOO_LONG},
	{"not a netstring", "stats\n", 0, CONTROLPROTO_REFUSED, NULL, NULL, MALFORMED},
	{"a netstring without its comma", "5:statsX", 0, CONTROLPROTO_REFUSED, NULL, NULL, MALFORMED},
};

static void
test_parse(void **state)
{
	const struct parse_case *c = *state;
	const char *in = c->in ? c->in : long_input;
	size_t len = c->len ? c->len : strlen(c->in);
	struct controlproto_request req;
	const char *refusal = NULL;

	assert_int_equal(controlproto_parse_request(in, len, &req, &refusal), c->want);
	if (c->want == CONTROLPROTO_REQUEST) {
		assert_string_equal(req.command, c->command);
		assert_string_equal(req.argument, c->argument);
	}
	if (c->want == CONTROLPROTO_REFUSED)
		assert_string_equal(refusal, c->refusal);
}

/* The longest request there is: its whole payload parsed. */
static void
test_parse_longest(void **state)
{
	char in[CONTROLPROTO_MAX_INPUT];
	struct controlproto_request req;
	const char *refusal;
	int n = snprintf(in, sizeof(in), "%d:purge ", CONTROLPROTO_MAX_REQUEST);

	memset(in + n, 'a', CONTROLPROTO_MAX_REQUEST - 6);
	in[n + CONTROLPROTO_MAX_REQUEST - 6] = ',';
	assert_int_equal(controlproto_parse_request(in, (size_t)n + CONTROLPROTO_MAX_REQUEST - 5, &req, &refusal),
	    CONTROLPROTO_REQUEST);
	assert_string_equal(req.command, "purge");
	assert_int_equal(strlen(req.argument), CONTROLPROTO_MAX_REQUEST - 6);
}

/* ------------------------------------------------------ what is typed */

struct check_case {
	const char *name;
	const char *command;
	size_t nargs;
	enum controlproto_argument_check want;
	const char *why;	/* when not OK */
};

static const char *
check_case_name(const void *row)
{
	return ((const struct check_case *)row)->name;
}

static const struct check_case check_cases[] = {
	{"purge DEST", "purge", 1, CONTROLPROTO_ARGS_OK},
	{"purge alone", "purge", 0, CONTROLPROTO_BAD_ARGS, "name one destination"},
	{"refresh with two", "refresh", 2, CONTROLPROTO_BAD_ARGS, "name one destination"},
	{"stats", "stats", 0, CONTROLPROTO_ARGS_OK},
	{"stats with one", "stats", 1, CONTROLPROTO_BAD_ARGS, "takes no argument"},
	{"proposed", "proposed", 0, CONTROLPROTO_ARGS_OK},
	{"maillog alone", "maillog", 0, CONTROLPROTO_ARGS_OK},
	{"maillog DEST", "maillog", 1, CONTROLPROTO_ARGS_OK},
	{"maillog with two", "maillog", 2, CONTROLPROTO_BAD_ARGS, "name at most one destination"},
	{"an unknown command", "reload", 0, CONTROLPROTO_UNKNOWN,
	    "unknown command: purge DEST, refresh DEST, stats, proposed or maillog [DEST]"},
};

static void
test_check(void **state)
{
	const struct check_case *c = *state;
	const char *why = NULL;

	assert_int_equal(controlproto_check(c->command, c->nargs, &why), c->want);
	if (c->want != CONTROLPROTO_ARGS_OK)
		assert_string_equal(why, c->why);
}

/* ------------------------------------------------------- the client */

enum act { ANSWER, SILENT, CLOSE, GARBAGE, NO_DAEMON };

struct ask_case {
	const char *name;
	const char *command, *argument;
	enum act act;
	const char *reply;		/* ANSWER: what the daemon says */
	unsigned timeout_ms;
	int rc;
	bool ok;			/* controlproto_reply_ok() of the reply */
	const char *err;		/* rc -1: a part of the reason */
	const char *request;		/* what the daemon's end read: "COMMAND|ARGUMENT" */
};

static const char *
ask_case_name(const void *row)
{
	return ((const struct ask_case *)row)->name;
}

static const struct ask_case ask_cases[] = {
	{"an answer", "stats", NULL, ANSWER, "OK\ncache_entries=1", 2000, 0, true, NULL, "stats|"},
	{"an argument goes with the command", "purge", "good.test", ANSWER, "OK good.test: was not cached", 2000, 0,
	    true, NULL, "purge|good.test"},
	{"an empty argument is none", "maillog", "", ANSWER, "OK lines=0", 2000, 0, true, NULL, "maillog|"},
	{"an error is a reply too", "refresh", "not a domain", ANSWER, "ERROR 'not a domain': not a valid domain",
	    2000, 0, false, NULL, "refresh|not a domain"},
	{"no reply in time", "refresh", "slow.test", SILENT, NULL, 300, -1, false, "no answer in time",
	    "refresh|slow.test"},
	{"closed without a reply", "stats", NULL, CLOSE, NULL, 2000, -1, false, "closed the connection", "stats|"},
	{"a reply that is no netstring", "stats", NULL, GARBAGE, NULL, 2000, -1, false, "malformed netstring", "stats|"},
	{"no daemon", "stats", NULL, NO_DAEMON, NULL, 2000, -1, false, "No such file or directory"},
};

struct daemon_end {
	const struct ask_case *c;
	int listen_fd;
	char request[CONTROLPROTO_MAX_REQUEST + 2];
};

/* One connection, served as the row says. */
static void *
serve_one(void *arg)
{
	struct daemon_end *d = arg;
	char in[CONTROLPROTO_MAX_INPUT];
	size_t have = 0;
	struct controlproto_request req;
	const char *refusal;
	enum controlproto_parse rc = CONTROLPROTO_INCOMPLETE;
	int fd = accept(d->listen_fd, NULL, NULL);

	if (fd < 0)
		return NULL;
	while (rc == CONTROLPROTO_INCOMPLETE && have < sizeof(in)) {
		ssize_t n = read(fd, in + have, sizeof(in) - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		rc = controlproto_parse_request(in, have, &req, &refusal);
	}
	if (rc == CONTROLPROTO_REQUEST)
		snprintf(d->request, sizeof(d->request), "%s|%s", req.command, req.argument);
	struct buf out;
	buf_init(&out);
	if (d->c->act == ANSWER)
		controlproto_put_reply(&out, d->c->reply);
	else if (d->c->act == GARBAGE)
		buf_puts(&out, "OK\n");
	else if (d->c->act == SILENT)
		usleep(1000 * (d->c->timeout_ms + 200));	/* past the client's patience */
	if (buf_size(&out))
		assert_int_equal(write(fd, buf_ptr(&out), buf_size(&out)), (ssize_t)buf_size(&out));
	buf_free(&out);
	close(fd);
	return NULL;
}

static void
test_ask(void **state)
{
	const struct ask_case *c = *state;
	char dir[80], path[96], err[256] = "";
	struct daemon_end d = {.c = c, .listen_fd = -1};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	pthread_t thread;
	struct buf reply;

	/* A socket path must fit in sun_path: a short name under $TMPDIR. */
	assert_non_null(table_tmpdir(dir, sizeof(dir), "tlsp-controlproto"));
	snprintf(path, sizeof(path), "%s/control", dir);
	if (c->act != NO_DAEMON) {
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
		d.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(d.listen_fd >= 0);
		assert_int_equal(bind(d.listen_fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
		assert_int_equal(listen(d.listen_fd, 4), 0);
		assert_int_equal(pthread_create(&thread, NULL, serve_one, &d), 0);
	}
	buf_init(&reply);
	int rc = controlproto_ask(path, c->command, c->argument, c->timeout_ms, &reply, err, sizeof(err));
	if (c->act != NO_DAEMON) {
		pthread_join(thread, NULL);
		close(d.listen_fd);
		unlink(path);
	}
	rmdir(dir);
	assert_int_equal(rc, c->rc);
	if (rc == 0) {
		assert_string_equal(buf_ptr(&reply), c->reply);
		assert_int_equal(controlproto_reply_ok(buf_ptr(&reply), buf_size(&reply)), c->ok);
	} else {
		assert_non_null(strstr(err, c->err));
		assert_non_null(strstr(err, path));	/* the reason names the socket */
	}
	if (c->request)
		assert_string_equal(d.request, c->request);
	buf_free(&reply);
}

/* A refresh waits for up to four rounds of lookups, and a margin. */
static void
test_timeout(void **state)
{
	assert_int_equal(controlproto_timeout_ms(10000), 45000);
	assert_int_equal(controlproto_timeout_ms(0), 5000);
}

int
main(void)
{
	struct table t = {0};
	static const struct CMUnitTest extra[] = {
		cmocka_unit_test(test_parse_longest),
		cmocka_unit_test(test_timeout),
	};

	snprintf(long_input, sizeof(long_input), "%d:", CONTROLPROTO_MAX_REQUEST);
	memset(long_input + LONG_HEAD, 'x', CONTROLPROTO_MAX_REQUEST + 1);
	TABLE_ADD(&t, parse_cases, parse_case, test_parse);
	TABLE_ADD(&t, check_cases, check_case, test_check);
	TABLE_ADD(&t, ask_cases, ask_case, test_ask);
	TABLE_TESTS(&t, extra);
	return table_run(&t, "controlproto");
}
