/* Unit tests: which alerts are raised (lib/watch/alertlimit.h) -
 * deduplication per (kind, destination) and the hourly limit, with the
 * hours' held counts handed out when they are over.
 *
 * Pure: no processes, no files, no log. The clock is the table's: each
 * step names its time, in ms after T0. A row is a run of steps, each a
 * check (with the verdict expected), a roll or a flush (with the count
 * expected); the row's name says the rule. */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "watch/alertlimit.h"
#include "table.h"

#define T0 1000000u
#define H ALERTLIMIT_HOUR_MS
#define W 60000			/* the window in most rows */
#define MAX_STEPS 16

enum op { END, CHECK, ROLL, FLUSH };

struct step {
	enum op op;
	const char *kind, *dest;	/* CHECK */
	uint64_t at;			/* ms after T0 */
	uint64_t want;			/* CHECK: the verdict; ROLL, FLUSH: the count */
};

struct limit_case {
	const char *name;
	uint64_t interval_ms;
	unsigned max_per_hour;
	struct step steps[MAX_STEPS];	/* up to the first END */
};

static const char *
limit_case_name(const void *row)
{
	return ((const struct limit_case *)row)->name;
}

#define RAISE(k, d, t) {CHECK, k, d, t, ALERTLIMIT_RAISE}
#define REPEAT(k, d, t) {CHECK, k, d, t, ALERTLIMIT_REPEAT}
#define OVER(k, d, t) {CHECK, k, d, t, ALERTLIMIT_OVER_HOUR}
#define ROLLED(t, n) {ROLL, NULL, NULL, t, n}
#define FLUSHED(n) {FLUSH, NULL, NULL, 0, n}

static const struct limit_case limit_cases[] = {
	/* Deduplication. */
	{"dedup: a repeat inside the window is held", W, 0,
	    {RAISE("k", "d.example", 0), REPEAT("k", "d.example", 1), REPEAT("k", "d.example", W - 1)}},
	{"dedup: raised again once the window is over", W, 0,
	    {RAISE("k", "d.example", 0), RAISE("k", "d.example", W), REPEAT("k", "d.example", W + 1)}},
	{"dedup: the window runs from the last raise, not the last repeat", W, 0,
	    {RAISE("k", "d.example", 0), REPEAT("k", "d.example", W - 1), RAISE("k", "d.example", W),
	     REPEAT("k", "d.example", 2 * W - 1), RAISE("k", "d.example", 2 * W)}},
	{"dedup: kinds are independent", W, 0,
	    {RAISE("dane-mismatch", "d.example", 0), RAISE("auth-failing", "d.example", 1),
	     REPEAT("dane-mismatch", "d.example", 2), REPEAT("auth-failing", "d.example", 3)}},
	{"dedup: destinations are independent", W, 0,
	    {RAISE("k", "a.example", 0), RAISE("k", "b.example", 1), REPEAT("k", "a.example", 2),
	     REPEAT("k", "b.example", 3)}},
	{"dedup: (ab, c) and (a, bc) are two pairs", W, 0,
	    {RAISE("ab", "c", 0), RAISE("a", "bc", 1), REPEAT("ab", "c", 2)}},
	{"dedup: an empty destination is one too", W, 0,
	    {RAISE("dnssec-off", "", 0), REPEAT("dnssec-off", "", 1), RAISE("dnssec-off", "x", 2)}},
	{"dedup: interval 0 repeats everything", 0, 0,
	    {RAISE("k", "d.example", 0), RAISE("k", "d.example", 0), RAISE("k", "d.example", 1)}},
	{"dedup: a clock going back holds rather than repeats", W, 0,
	    {RAISE("k", "d.example", 1000), REPEAT("k", "d.example", 0)}},

	/* The hourly limit. */
	{"hour: past the limit held, each pair counted once, handed out when the hour is over", W, 3,
	    {RAISE("k", "d0", 0), RAISE("k", "d1", 0), RAISE("k", "d2", 0), OVER("k", "d3", 10), OVER("k", "d4", 10),
	     OVER("k", "d3", 20), ROLLED(H - 1, 0), ROLLED(H, 2), ROLLED(H + 1, 0), ROLLED(3 * H, 0)}},
	{"hour: a pair held was never raised, so a later hour raises it at once", W, 3,
	    {RAISE("k", "d0", 0), RAISE("k", "d1", 0), RAISE("k", "d2", 0), OVER("k", "d3", 10), ROLLED(H, 1),
	     RAISE("k", "d3", H + 20)}},
	{"hour: a repeat is held as a repeat, not counted over the limit", W, 3,
	    {RAISE("k", "d0", 0), RAISE("k", "d1", 0), RAISE("k", "d2", 0), REPEAT("k", "d0", 1),
	     ROLLED(2 * H, 0)}},
	{"hour: a check closes the hour; the next roll hands out its count", 0, 2,
	    {RAISE("k", "d0", 0), RAISE("k", "d1", 0), OVER("k", "d2", H / 2), OVER("k", "d3", H / 2),
	     OVER("k", "d4", H / 2), OVER("k", "d5", H / 2), RAISE("k", "new", H + 5), ROLLED(H + 5, 4),
	     ROLLED(H + 5, 0)}},
	{"hour: the next hour starts with its first raise, not at the end of the last", 0, 2,
	    {RAISE("k", "d0", 0), RAISE("k", "d1", 0), RAISE("k", "n1", H + 5), RAISE("k", "n2", H + 6),
	     OVER("k", "n3", H + 7), ROLLED(2 * H + 4, 0), ROLLED(2 * H + 5, 1)}},
	{"hour: no limit, nothing held", W, 0,
	    {RAISE("k", "d0", 0), RAISE("k", "d1", 0), RAISE("k", "d2", 0), RAISE("k", "d3", 0), ROLLED(H, 0)}},
	{"hour: a flush hands out the hour under way, once", W, 1,
	    {RAISE("k", "d0", 0), OVER("k", "d1", 0), OVER("k", "d2", 0), FLUSHED(2), FLUSHED(0)}},
	{"hour: limit and window together: a repeat is held before the limit counts", W, 1,
	    {RAISE("k", "d0", 0), REPEAT("k", "d0", 1), OVER("k", "d1", 2), ROLLED(H, 1)}},
};

static void
test_limit(void **state)
{
	const struct limit_case *c = *state;
	struct alertlimit *l = alertlimit_create(c->interval_ms, c->max_per_hour);

	assert_non_null(l);
	for (size_t i = 0; i < MAX_STEPS && c->steps[i].op != END; i++) {
		const struct step *s = &c->steps[i];
		uint64_t got = 0;
		switch (s->op) {
		case CHECK: got = alertlimit_check(l, s->kind, s->dest, T0 + s->at); break;
		case ROLL: got = alertlimit_roll(l, T0 + s->at); break;
		case FLUSH: got = alertlimit_flush(l); break;
		case END: break;
		}
		if (got != s->want)
			fail_msg("step %zu (%s %s +%llu): %llu, expected %llu", i + 1, s->kind ? s->kind : "-",
			    s->dest ? s->dest : "-", (unsigned long long)s->at, (unsigned long long)got,
			    (unsigned long long)s->want);
	}
	alertlimit_free(l);
}

/* The table is bounded: past its maximum the pair seen longest ago is
 * forgotten, so it can be raised again early; the newest stay. */
static void
test_table_bounded(void **state)
{
	struct alertlimit *l = alertlimit_create(24 * (uint64_t)H, 0);
	char dest[32];

	assert_non_null(l);
	for (int i = 0; i < ALERTLIMIT_KEYS_MAX + 904; i++) {
		snprintf(dest, sizeof(dest), "d%d.example", i);
		assert_int_equal(alertlimit_check(l, "k", dest, T0 + (uint64_t)i), ALERTLIMIT_RAISE);
	}
	assert_int_equal(alertlimit_check(l, "k", "d4999.example", T0 + 5000), ALERTLIMIT_REPEAT);
	assert_int_equal(alertlimit_check(l, "k", "d4000.example", T0 + 5000), ALERTLIMIT_REPEAT);
	assert_int_equal(alertlimit_check(l, "k", "d0.example", T0 + 5000), ALERTLIMIT_RAISE);
	alertlimit_free(l);
}

/* Pairs past their window are forgotten as new ones come: 20 000
 * destinations, one a second, with a 10 s window (valgrind and ASan check
 * the memory; this checks the answers stay right). */
static void
test_table_forgets_old(void **state)
{
	struct alertlimit *l = alertlimit_create(10000, 0);
	char dest[32];

	assert_non_null(l);
	for (int i = 0; i < 20000; i++) {
		snprintf(dest, sizeof(dest), "d%d.example", i);
		assert_int_equal(alertlimit_check(l, "k", dest, T0 + (uint64_t)i * 1000), ALERTLIMIT_RAISE);
	}
	assert_int_equal(alertlimit_check(l, "k", "d19991.example", T0 + 19999 * 1000), ALERTLIMIT_REPEAT);
	assert_int_equal(alertlimit_check(l, "k", "d19989.example", T0 + 19999 * 1000), ALERTLIMIT_RAISE);
	alertlimit_free(l);
}

/* New settings keep what was raised: a repeat stays held, under the new
 * window. */
static void
test_set_keeps_state(void **state)
{
	struct alertlimit *l = alertlimit_create(60000, 0);

	assert_non_null(l);
	assert_int_equal(alertlimit_check(l, "k", "d.example", T0), ALERTLIMIT_RAISE);
	alertlimit_set(l, 120000, 0);
	assert_int_equal(alertlimit_check(l, "k", "d.example", T0 + 90000), ALERTLIMIT_REPEAT);
	assert_int_equal(alertlimit_check(l, "k", "d.example", T0 + 120000), ALERTLIMIT_RAISE);
	alertlimit_free(l);
}

/* A pair longer than the key fits on the stack is remembered all the
 * same, and told apart from one that differs in its last byte. */
static void
test_long_pair(void **state)
{
	struct alertlimit *l = alertlimit_create(W, 0);
	char dest[2000];

	assert_non_null(l);
	memset(dest, 'a', sizeof(dest) - 1);
	dest[sizeof(dest) - 1] = '\0';
	assert_int_equal(alertlimit_check(l, "k", dest, T0), ALERTLIMIT_RAISE);
	assert_int_equal(alertlimit_check(l, "k", dest, T0 + 1), ALERTLIMIT_REPEAT);
	dest[sizeof(dest) - 2] = 'b';
	assert_int_equal(alertlimit_check(l, "k", dest, T0 + 2), ALERTLIMIT_RAISE);
	alertlimit_free(l);
}

int
main(void)
{
	struct table t = {0};
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_bounded),
		cmocka_unit_test(test_table_forgets_old),
		cmocka_unit_test(test_set_keeps_state),
		cmocka_unit_test(test_long_pair),
	};

	TABLE_ADD(&t, limit_cases, limit_case, test_limit);
	TABLE_TESTS(&t, tests);
	return table_run(&t, "alertlimit");
}
