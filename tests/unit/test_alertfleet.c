/* Unit tests: the alerter in a fleet (lib/watch/alert.h) - one alert for
 * the fleet per (destination, kind) and window. The fleet is a fake behind
 * the alerter's seam (struct alert_fleet): it records each claim and
 * answers it when the test says, OURS, HELD or ALONE, or refuses to start
 * one (NULL), as fleet_claim() does when Redis is not usable.
 *
 * Each test gets a temporary directory, standard error (where the log
 * writes) captured to a file there, and a small /bin/sh helper as
 * alert_command. The clock is the test's: now_ms is passed in. */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "watch/alert.h"
#include "util/log.h"
#include "stderrlog.h"
#include "table.h"

#define T0 1000000u
#define WAIT_MS 10000		/* for the helper, on a slow or loaded machine */
#define FAKE_OPS_MAX 16

/* The fake fleet's record of one claim (fleet.h leaves the type open). */
struct fleet_op {
	char name[256];
	int64_t life_s;
	fleet_claimed *cb;
	void *arg;
	bool cancelled, answered;
};

struct fake_fleet {
	bool refuse;			/* claim() returns NULL: Redis not usable */
	struct fleet_op ops[FAKE_OPS_MAX];
	size_t n, cancels;
};

static struct fleet_op *
fake_claim(void *arg, const char *name, int64_t life_s, fleet_claimed *cb, void *cb_arg)
{
	struct fake_fleet *ff = arg;
	struct fleet_op *op;

	if (ff->refuse || ff->n == FAKE_OPS_MAX)
		return NULL;
	op = &ff->ops[ff->n++];
	snprintf(op->name, sizeof(op->name), "%s", name);
	op->life_s = life_s;
	op->cb = cb;
	op->arg = cb_arg;
	return op;
}

static void
fake_cancel(struct fleet_op *op)
{
	assert_false(op->cancelled);
	assert_false(op->answered);	/* an answered claim is the fleet's no more */
	op->cancelled = true;
}

static const struct alert_fleet fake_ops = {fake_claim, fake_cancel};

/* The fleet answers claim i. */
static void
answer(struct fake_fleet *ff, size_t i, enum fleet_claim claim, const char *holder)
{
	struct fleet_op *op = &ff->ops[i];

	assert_true(i < ff->n);
	assert_false(op->cancelled);
	assert_false(op->answered);
	op->answered = true;
	op->cb(op->arg, claim, holder);
}

static size_t
cancelled(const struct fake_fleet *ff)
{
	size_t n = 0;

	for (size_t i = 0; i < ff->n; i++)
		n += ff->ops[i].cancelled;
	return n;
}

struct fixture {
	const void *row;		/* a table row's test: its row */
	char dir[64];
	struct log *log;
	struct alerter *a;
	struct alert_settings s;
	char command[256];
	struct fake_fleet fleet;
};

static void
path_in(const struct fixture *f, const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", f->dir, name);
}

/* "kind KIND host HOST" from the alert's environment into OUT. */
static const char helper_sh[] =
    "#!/bin/sh\n"
    "printf 'kind %s host %s\\n' \"$TLSPOLICY_ALERT_KIND\" \"$TLSPOLICY_ALERT_HOST\" > \"$1.tmp\"\n"
    "mv \"$1.tmp\" \"$1\"\n";

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[256];
	FILE *fp;

	assert_non_null(f);
	f->row = *state;
	assert_non_null(table_tmpdir(f->dir, sizeof(f->dir), "test_alertfleet"));
	path_in(f, "helper", path, sizeof(path));
	assert_non_null(fp = fopen(path, "w"));
	fputs(helper_sh, fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, 0755), 0);

	path_in(f, "log", path, sizeof(path));
	stderrlog_start(path);

	assert_non_null(f->log = log_create_stderr(LOGL_INFO));
	f->s.command = "";
	f->s.recipient = "";
	f->s.sendmail = "/usr/sbin/sendmail";
	f->s.interval_ms = 60000;
	f->s.max_per_hour = 0;
	assert_non_null(f->a = alerter_create(f->log, &f->s));
	alerter_set_fleet_ops(f->a, &fake_ops, &f->fleet);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	alerter_free(f->a);
	log_free(f->log);
	stderrlog_stop();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);	/* the test's own directory */
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", f->dir);
	free(f);
	return 0;
}

static int
log_count(const struct fixture *f, const char *what)
{
	char path[256], *text;
	int n = 0;

	path_in(f, "log", path, sizeof(path));
	assert_non_null(text = stderrlog_read_all(path, NULL));
	for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
		n++;
	free(text);
	return n;
}

static struct alert_stats
stats(const struct fixture *f)
{
	struct alert_stats st;

	alerter_stats(f->a, &st);
	return st;
}

static const char *const mx_fields[] = {"host", "mx1.example.org", "error", "no matching records", NULL};

/* ---- the fleet's answers ---- */

/* Ours: raised when the fleet answers, not before, under the claim
 * "KIND|DEST" for the window in seconds. */
static void
test_ours_raises_on_answer(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(alerter_raise(f->a, "dane-mismatch", "example.org", mx_fields, T0), ALERTER_CLAIMING);
	assert_int_equal(f->fleet.n, 1);
	assert_string_equal(f->fleet.ops[0].name, "dane-mismatch|example.org");
	assert_int_equal(f->fleet.ops[0].life_s, 60);
	assert_int_equal(log_count(f, "event=alert "), 0);
	assert_int_equal(stats(f).raised, 0);
	assert_int_equal(stats(f).fleet_claiming, 1);

	answer(&f->fleet, 0, FLEET_CLAIM_OURS, "r1");
	assert_int_equal(log_count(f, " alert: event=alert kind=dane-mismatch dest=example.org "
	    "host=mx1.example.org error=\"no matching records\"\n"), 1);
	assert_int_equal(stats(f).raised, 1);
	assert_int_equal(stats(f).fleet_held, 0);
	assert_int_equal(stats(f).fleet_claiming, 0);
}

/* Held by another relay: not raised, one line at info that says who. */
static void
test_held_is_not_raised(void **state)
{
	struct fixture *f = *state;
	struct alert_stats st;

	snprintf(f->command, sizeof(f->command), "%s/helper %s/out", f->dir, f->dir);
	f->s.command = f->command;
	alerter_set(f->a, &f->s);
	assert_int_equal(alerter_raise(f->a, "dane-mismatch", "example.org", mx_fields, T0), ALERTER_CLAIMING);
	answer(&f->fleet, 0, FLEET_CLAIM_HELD, "relay-2");
	assert_int_equal(log_count(f, "event=alert "), 0);
	assert_int_equal(log_count(f, " info: event=alert-shared kind=dane-mismatch dest=example.org "
	    "raised_by=relay-2\n"), 1);
	st = stats(f);
	assert_int_equal(st.raised, 0);
	assert_int_equal(st.commands, 0);
	assert_int_equal(st.fleet_held, 1);
	assert_int_equal(st.held, 0);
	/* Within the window the pair is not even asked about again. */
	assert_int_equal(alerter_raise(f->a, "dane-mismatch", "example.org", mx_fields, T0 + 1000), ALERTER_HELD);
	assert_int_equal(f->fleet.n, 1);
	assert_int_equal(stats(f).held, 1);
}

/* Alone (Redis could not say): raised, as without a fleet. */
static void
test_alone_raises(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(alerter_raise(f->a, "dane-mismatch", "example.org", mx_fields, T0), ALERTER_CLAIMING);
	answer(&f->fleet, 0, FLEET_CLAIM_ALONE, NULL);
	assert_int_equal(log_count(f, "event=alert kind=dane-mismatch dest=example.org "), 1);
	assert_int_equal(log_count(f, "alert-shared"), 0);
	assert_int_equal(stats(f).raised, 1);
}

/* A claim that cannot start: raised at once. */
static void
test_no_claim_raises_at_once(void **state)
{
	struct fixture *f = *state;

	f->fleet.refuse = true;
	assert_int_equal(alerter_raise(f->a, "dane-mismatch", "example.org", mx_fields, T0), ALERTER_RAISED);
	assert_int_equal(log_count(f, "event=alert kind=dane-mismatch dest=example.org "), 1);
	assert_int_equal(stats(f).raised, 1);
	assert_int_equal(stats(f).fleet_claiming, 0);
}

/* Without a fleet, as before: raised at once, nothing claimed. */
static void
test_no_fleet(void **state)
{
	struct fixture *f = *state;

	alerter_set_fleet_ops(f->a, NULL, NULL);
	assert_int_equal(alerter_raise(f->a, "dane-mismatch", "example.org", mx_fields, T0), ALERTER_RAISED);
	assert_int_equal(f->fleet.n, 0);
	assert_int_equal(log_count(f, "event=alert kind=dane-mismatch dest=example.org "), 1);
}

/* interval_ms 0: no window to share, so nothing to claim. */
static void
test_no_window_no_claim(void **state)
{
	struct fixture *f = *state;

	f->s.interval_ms = 0;
	alerter_set(f->a, &f->s);
	assert_int_equal(alerter_raise(f->a, "k", "example.org", NULL, T0), ALERTER_RAISED);
	assert_int_equal(alerter_raise(f->a, "k", "example.org", NULL, T0), ALERTER_RAISED);
	assert_int_equal(f->fleet.n, 0);
}

/* The window in whole seconds, rounded up: never shorter than the local one. */
struct life_case {
	const char *name;
	uint64_t interval_ms;
	int64_t life_s;
};

static const struct life_case life_cases[] = {
	{"claim life: 1 ms is 1 s", 1, 1},
	{"claim life: 999 ms is 1 s", 999, 1},
	{"claim life: 1000 ms is 1 s", 1000, 1},
	{"claim life: 1001 ms is 2 s", 1001, 2},
	{"claim life: 1500 ms is 2 s", 1500, 2},
	{"claim life: an hour", 3600000, 3600},
	{"claim life: a day", 86400000, 86400},
};

static const char *
life_case_name(const void *row)
{
	return ((const struct life_case *)row)->name;
}

static void
test_claim_life(void **state)
{
	struct fixture *f = *state;
	const struct life_case *c = f->row;

	f->s.interval_ms = c->interval_ms;
	alerter_set(f->a, &f->s);
	assert_int_equal(alerter_raise(f->a, "k", "d.example", NULL, T0), ALERTER_CLAIMING);
	assert_int_equal(f->fleet.ops[0].life_s, c->life_s);
}

/* ---- what the asynchronous path keeps ---- */

/* The caller's strings are gone by the time the fleet answers: the alert
 * raised (line and command) is the one given. */
static void
test_fields_copied(void **state)
{
	struct fixture *f = *state;
	char kind[32], dest[32], key[16], value[32], out[256], *text = NULL;
	const char *fields[] = {key, value, NULL};

	snprintf(f->command, sizeof(f->command), "%s/helper %s/out", f->dir, f->dir);
	f->s.command = f->command;
	alerter_set(f->a, &f->s);
	snprintf(kind, sizeof(kind), "dane-mismatch");
	snprintf(dest, sizeof(dest), "example.org");
	snprintf(key, sizeof(key), "host");
	snprintf(value, sizeof(value), "mx1.example.org");
	assert_int_equal(alerter_raise(f->a, kind, dest, fields, T0), ALERTER_CLAIMING);
	memset(kind, 'x', sizeof(kind) - 1);
	memset(dest, 'x', sizeof(dest) - 1);
	memset(key, 'x', sizeof(key) - 1);
	memset(value, 'x', sizeof(value) - 1);
	answer(&f->fleet, 0, FLEET_CLAIM_OURS, "r1");
	assert_int_equal(log_count(f, "event=alert kind=dane-mismatch dest=example.org host=mx1.example.org\n"), 1);
	assert_int_equal(stats(f).commands, 1);
	path_in(f, "out", out, sizeof(out));
	for (int i = 0; i < WAIT_MS / 10 && !(text = stderrlog_read_all(out, NULL)); i++) {
		struct timespec ts = {0, 10000000L};

		alert_reap(f->a, T0);
		nanosleep(&ts, NULL);
	}
	if (!text)
		FAIL("alert_command did not run");
	assert_string_equal(text, "kind dane-mismatch host mx1.example.org\n");
	free(text);
}

/* Claims answered out of order each raise their own alert. */
static void
test_claims_out_of_order(void **state)
{
	struct fixture *f = *state;
	const char *fa[] = {"n", "1", NULL}, *fb[] = {"n", "2", NULL}, *fc[] = {"n", "3", NULL};

	assert_int_equal(alerter_raise(f->a, "k", "a.example", fa, T0), ALERTER_CLAIMING);
	assert_int_equal(alerter_raise(f->a, "k", "b.example", fb, T0), ALERTER_CLAIMING);
	assert_int_equal(alerter_raise(f->a, "other", "a.example", fc, T0), ALERTER_CLAIMING);
	assert_string_equal(f->fleet.ops[2].name, "other|a.example");
	assert_int_equal(stats(f).fleet_claiming, 3);
	answer(&f->fleet, 1, FLEET_CLAIM_OURS, "r1");
	answer(&f->fleet, 2, FLEET_CLAIM_HELD, "r3");
	answer(&f->fleet, 0, FLEET_CLAIM_OURS, "r1");
	assert_int_equal(log_count(f, "event=alert kind=k dest=b.example n=2\n"), 1);
	assert_int_equal(log_count(f, "event=alert kind=k dest=a.example n=1\n"), 1);
	assert_int_equal(log_count(f, "event=alert-shared kind=other dest=a.example raised_by=r3\n"), 1);
	assert_int_equal(stats(f).raised, 2);
	assert_int_equal(stats(f).fleet_held, 1);
	assert_int_equal(stats(f).fleet_claiming, 0);
}

/* A holder's name comes from Redis (sealed, but still text): quoted. */
static void
test_holder_quoted(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(alerter_raise(f->a, "k", "a b\n", NULL, T0), ALERTER_CLAIMING);
	assert_string_equal(f->fleet.ops[0].name, "k|a b\n");
	answer(&f->fleet, 0, FLEET_CLAIM_HELD, "r2\nevent=alert kind=forged");
	assert_int_equal(log_count(f, "event=alert-shared kind=k dest=\"a b\\x0a\" "
	    "raised_by=\"r2\\x0aevent=alert kind=forged\"\n"), 1);
	assert_int_equal(log_count(f, "\n"), 1);
	/* No name at all: still one line. */
	assert_int_equal(alerter_raise(f->a, "k", "c.example", NULL, T0), ALERTER_CLAIMING);
	answer(&f->fleet, 1, FLEET_CLAIM_HELD, NULL);
	assert_int_equal(log_count(f, "event=alert-shared kind=k dest=c.example raised_by=-\n"), 1);
}

/* ---- the end of a fleet, and of the alerter ---- */

/* Freed while claims wait: cancelled, nothing raised, no callback after. */
static void
test_free_cancels(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(alerter_raise(f->a, "k", "a.example", NULL, T0), ALERTER_CLAIMING);
	assert_int_equal(alerter_raise(f->a, "k", "b.example", NULL, T0), ALERTER_CLAIMING);
	answer(&f->fleet, 0, FLEET_CLAIM_OURS, "r1");
	alerter_free(f->a);
	f->a = NULL;
	assert_int_equal(cancelled(&f->fleet), 1);
	assert_true(f->fleet.ops[1].cancelled);
	assert_int_equal(log_count(f, "event=alert kind=k dest=a.example\n"), 1);
	assert_int_equal(log_count(f, "dest=b.example"), 0);
}

/* The fleet taken away (a reload, before it is freed): what waited is
 * cancelled and raised at once, alone; later alerts are not claimed. */
static void
test_fleet_removed_raises_waiting(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(alerter_raise(f->a, "k", "a.example", NULL, T0), ALERTER_CLAIMING);
	alerter_set_fleet_ops(f->a, NULL, NULL);
	assert_true(f->fleet.ops[0].cancelled);
	assert_int_equal(log_count(f, "event=alert kind=k dest=a.example\n"), 1);
	assert_int_equal(stats(f).fleet_claiming, 0);
	assert_int_equal(alerter_raise(f->a, "k", "b.example", NULL, T0), ALERTER_RAISED);
	assert_int_equal(f->fleet.n, 1);
}

/* The hourly limit is the relay's: it is applied before the fleet is
 * asked, and an alert another relay raised still counts in it. */
static void
test_hourly_limit_local(void **state)
{
	struct fixture *f = *state;

	f->s.max_per_hour = 2;
	alerter_set(f->a, &f->s);
	assert_int_equal(alerter_raise(f->a, "k", "a.example", NULL, T0), ALERTER_CLAIMING);
	assert_int_equal(alerter_raise(f->a, "k", "b.example", NULL, T0), ALERTER_CLAIMING);
	answer(&f->fleet, 0, FLEET_CLAIM_HELD, "r2");
	answer(&f->fleet, 1, FLEET_CLAIM_OURS, "r1");
	assert_int_equal(alerter_raise(f->a, "k", "c.example", NULL, T0), ALERTER_HELD);
	assert_int_equal(f->fleet.n, 2);
	alerter_free(f->a);
	f->a = NULL;
	assert_int_equal(log_count(f, "event=alerts-held count=1 max_per_hour=2\n"), 1);
}

int
main(void)
{
	struct table t = {0};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ours_raises_on_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_is_not_raised, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alone_raises, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_claim_raises_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_fleet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_window_no_claim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fields_copied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claims_out_of_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_holder_quoted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_cancels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fleet_removed_raises_waiting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hourly_limit_local, setup, teardown),
	};

	TABLE_ADD(&t, life_cases, life_case, test_claim_life);
	/* The rows get the fixture too, with their row in it. */
	for (size_t i = 0; i < t.n; i++) {
		t.tests[i].setup_func = setup;
		t.tests[i].teardown_func = teardown;
	}
	TABLE_TESTS(&t, tests);
	return table_run(&t, "alertfleet");
}
