/*
 * table - runs tables of cases as one cmocka test per row, so that every
 * row is its own TAP line ("ok 7 - NXDOMAIN: NOTFOUND") and a failure
 * names its row. One group per test program: automake's TAP driver wants
 * one plan.
 *
 *   struct table t = {0};
 *   TABLE_ADD(&t, host_cases, host_case, test_host);   // rows, type, function
 *   table_add_tests(&t, extra, n);                      // plain cmocka tests
 *   return table_run(&t, "policy");
 *
 * test functions receive their row as *state; type##_name(row) names it.
 *
 * Also here: where a test finds its data (table_data_dir) and makes its
 * temporary files (table_tmpdir).
 *
 * The case tables leave their rows' trailing fields to the zero default
 * (a fake zone row without a `why`, a case that is not `raw`): that is the
 * point of them, not an oversight for -Wextra to report.
 */
#ifndef TLSPOLICY_TEST_TABLE_H
#define TLSPOLICY_TEST_TABLE_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

struct table {
	struct CMUnitTest *tests;
	size_t n;
};

static inline void
table_grow(struct table *t, size_t more)
{
	t->tests = realloc(t->tests, (t->n + more) * sizeof(*t->tests));
	if (!t->tests) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
}

static inline void
table_add_rows(struct table *t, const void *rows, size_t row_size, size_t nrows,
    const char *(*name_of)(const void *row), CMUnitTestFunction fn)
{
	table_grow(t, nrows);
	for (size_t i = 0; i < nrows; i++) {
		const void *row = (const char *)rows + i * row_size;
		struct CMUnitTest test = {name_of(row), fn, NULL, NULL, (void *)(uintptr_t)row};
		t->tests[t->n++] = test;
	}
}

static inline void
table_add_tests(struct table *t, const struct CMUnitTest *tests, size_t n)
{
	table_grow(t, n);
	for (size_t i = 0; i < n; i++)
		t->tests[t->n++] = tests[i];
}

static inline int
table_run(struct table *t, const char *group)
{
	cmocka_set_message_output(CM_OUTPUT_TAP);
	int rc = _cmocka_run_group_tests(group, t->tests, t->n, NULL, NULL);
	free(t->tests);
	return rc;
}

#define TABLE_ADD(t, rows, type, fn) \
	table_add_rows(t, rows, sizeof(rows[0]), sizeof(rows) / sizeof(rows[0]), type##_name, fn)
#define TABLE_TESTS(t, tests) table_add_tests(t, tests, sizeof(tests) / sizeof(tests[0]))

/* A folder of test data, tests/SUB: under $top_srcdir when make check sets
 * it, else under the source tree configure ran for (TOP_SRCDIR, in
 * autoconfig.h), for a run by hand. Fills buf once. */
static inline const char *
table_data_dir(char *buf, size_t size, const char *sub)
{
	if (!buf[0]) {
		const char *top = getenv("top_srcdir");
		snprintf(buf, size, "%s/tests/%s", top && *top ? top : TOP_SRCDIR, sub);
	}
	return buf;
}

/* A script's expectation step: the text a struct buf collected (buf.h) is
 * want; then it is emptied for the steps that follow. */
#define TABLE_EXPECT_TEXT(b, want) \
	do { \
		buf_terminate(b); \
		assert_string_equal(buf_ptr(b), (want)); \
		buf_reset(b); \
	} while (0)

/* Where a test makes its files: $TMPDIR, or /tmp without it. ./dev test
 * gives the suite a TMPDIR of its own and checks that it ends empty
 * (tests/leftovers.sh). */
static inline const char *
table_tmp(void)
{
	const char *tmp = getenv("TMPDIR");

	return tmp && *tmp ? tmp : "/tmp";
}

/* A directory of the test's own, table_tmp()/NAME.XXXXXX, made with
 * mkdtemp(3) into buf: buf, or NULL (errno set) when it cannot be made or
 * does not fit. The test removes it. */
static inline char *
table_tmpdir(char *buf, size_t size, const char *name)
{
	int n = snprintf(buf, size, "%s/%s.XXXXXX", table_tmp(), name);

	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	return mkdtemp(buf);
}

#endif
