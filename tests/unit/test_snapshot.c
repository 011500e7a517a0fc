/*
 * Unit tests: the policy map's cache entries as state-file lines
 * (lib/serve/snapshot.h). Each entry is written as one key=value line and
 * reads back as the same entry; a line with a field missing, unknown,
 * malformed or too long is refused whole, as is an answer the daemon could
 * never have given (a policy outside an exception, a bogus OK); fields of
 * a newer version are ignored; the reason is cut to fit and kept to
 * printable ASCII. How the policy map uses what it reads back is
 * test_policymap's.
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf.h"
#include "serve/snapshot.h"
#include "table.h"

struct format_case {
	const char *name;
	struct snapshot_entry e;
	const char *line;
};

static const struct format_case format_cases[] = {
	{"format: a DANE answer",
	    {SNAPSHOT_ANSWERS, "example.org", {POLICY_OK, POLICY_RULE_ALL_DANE, false}, false, "", "mx1.example.org dane",
		1764000000, 1764003600},
	    "store=answers key=example.org result=ok rule=all-hosts-dane bogus=no reason=\"mx1.example.org dane\" "
	    "stored=1764000000 expires=1764003600\n"},
	{"format: the last secure answer",
	    {SNAPSHOT_SECURE, "example.org", {POLICY_OK, POLICY_RULE_MIXED, false}, false, "", "mixed", 1, 2},
	    "store=secure key=example.org result=ok rule=hosts-mixed bogus=no reason=mixed stored=1 expires=2\n"},
	{"format: a host next hop",
	    {SNAPSHOT_ANSWERS, "[mx.example.org]:587", {POLICY_OK, POLICY_RULE_ALL_DANE, false}, false, "", "x", 5, 6},
	    "store=answers key=[mx.example.org]:587 result=ok rule=all-hosts-dane bogus=no reason=x stored=5 "
	    "expires=6\n"},
	{"format: a bogus TEMP",
	    {SNAPSHOT_ANSWERS, "bogus.example", {POLICY_TEMP, POLICY_RULE_MX_FAILED, true}, false, "",
		"MX lookup: validation failure", 10, 25},
	    "store=answers key=bogus.example result=temp rule=mx-lookup-failed bogus=yes "
	    "reason=\"MX lookup: validation failure\" stored=10 expires=25\n"},
	{"format: NOTFOUND",
	    {SNAPSHOT_ANSWERS, "nx.example", {POLICY_NOTFOUND, POLICY_RULE_NXDOMAIN, false}, false, "", "", 7, 8},
	    "store=answers key=nx.example result=notfound rule=nxdomain bogus=no reason=\"\" stored=7 expires=8\n"},
	{"format: an exception's policy, quoted",
	    {SNAPSHOT_ANSWERS, "broken.example", {POLICY_OK, POLICY_RULE_EXCEPTION, false}, true,
		"encrypt protocols=>=TLSv1.2", "listed", 1, 2},
	    "store=answers key=broken.example result=ok rule=exception bogus=no policy=\"encrypt protocols=>=TLSv1.2\" "
	    "reason=listed stored=1 expires=2\n"},
	{"format: a reason that would forge a field or a line",
	    {SNAPSHOT_ANSWERS, "x.example", {POLICY_TEMP, POLICY_RULE_ALL_FAILED, false}, false, "",
		"a\" store=secure\nkey=y", 1, 2},
	    "store=answers key=x.example result=temp rule=all-hosts-failed bogus=no "
	    "reason=\"a\\\" store=secure\\x0akey=y\" stored=1 expires=2\n"},
	{"format: the largest times",
	    {SNAPSHOT_SECURE, "example.org", {POLICY_OK, POLICY_RULE_ALL_DANE, false}, false, "", "x", INT64_MAX,
		INT64_MAX},
	    "store=secure key=example.org result=ok rule=all-hosts-dane bogus=no reason=x "
	    "stored=9223372036854775807 expires=9223372036854775807\n"},
};

static const char *
format_case_name(const void *row)
{
	return ((const struct format_case *)row)->name;
}

static void
assert_same_entry(const struct snapshot_entry *got, const struct snapshot_entry *want)
{
	assert_int_equal(got->store, want->store);
	assert_string_equal(got->key, want->key);
	assert_int_equal(got->answer.result, want->answer.result);
	assert_int_equal(got->answer.rule, want->answer.rule);
	assert_int_equal(got->answer.bogus, want->answer.bogus);
	assert_int_equal(got->has_policy, want->has_policy);
	if (want->has_policy)
		assert_string_equal(got->policy, want->policy);
	assert_int_equal(got->stored, want->stored);
	assert_int_equal(got->expires, want->expires);
}

/* Written as expected, one line, and read back as the same entry (the
 * reason too, where it was printable). */
static void
test_format(void **state)
{
	const struct format_case *c = *state;
	struct snapshot_entry back;
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "earlier line\n");
	assert_int_equal(snapshot_format(&b, &c->e), 0);
	assert_string_equal(buf_ptr(&b) + 13, c->line);
	const char *line = buf_ptr(&b) + 13;
	size_t len = buf_size(&b) - 13;
	assert_ptr_equal(memchr(line, '\n', len), line + len - 1);
	if (snapshot_parse(line, len - 1, &back) < 0)
		fail_msg("does not read back: %s", line);
	assert_same_entry(&back, &c->e);
	if (!strpbrk(c->e.reason, "\n"))
		assert_string_equal(back.reason, c->e.reason);
	buf_free(&b);
}

struct parse_case {
	const char *name;
	const char *line;
	int rc;
	const char *reason;	/* accepted: the reason read */
};

#define FIELDS "store=answers key=example.org result=ok rule=all-hosts-dane bogus=no"
#define TIMES " stored=1 expires=2"

static const struct parse_case parse_cases[] = {
	{"parse: every field", FIELDS " reason=x" TIMES, 0, "x"},
	{"parse: fields in another order", "expires=2 stored=1 reason=x bogus=no rule=all-hosts-dane result=ok "
	    "key=example.org store=answers", 0, "x"},
	{"parse: no reason, an empty one", FIELDS TIMES, 0, ""},
	{"parse: a newer version's field, ignored", FIELDS " reason=x" TIMES " weight=3", 0, "x"},
	{"parse: no store", "key=example.org result=ok rule=all-hosts-dane bogus=no" TIMES, -1, NULL},
	{"parse: no key", "store=answers result=ok rule=all-hosts-dane bogus=no" TIMES, -1, NULL},
	{"parse: no result", "store=answers key=example.org rule=all-hosts-dane bogus=no" TIMES, -1, NULL},
	{"parse: no rule", "store=answers key=example.org result=ok bogus=no" TIMES, -1, NULL},
	{"parse: no bogus", "store=answers key=example.org result=ok rule=all-hosts-dane" TIMES, -1, NULL},
	{"parse: no stored", FIELDS " expires=2", -1, NULL},
	{"parse: no expires", FIELDS " stored=1", -1, NULL},
	{"parse: an unknown store", "store=elsewhere key=example.org result=ok rule=all-hosts-dane bogus=no" TIMES,
	    -1, NULL},
	{"parse: an empty key", "store=answers key=\"\" result=ok rule=all-hosts-dane bogus=no" TIMES, -1, NULL},
	{"parse: an unknown result", "store=answers key=x result=maybe rule=all-hosts-dane bogus=no" TIMES, -1,
	    NULL},
	{"parse: an unknown rule", "store=answers key=x result=ok rule=best-guess bogus=no" TIMES, -1, NULL},
	{"parse: bogus neither yes nor no", "store=answers key=x result=ok rule=all-hosts-dane bogus=1" TIMES, -1,
	    NULL},
	{"parse: a negative time", FIELDS " stored=-1 expires=2", -1, NULL},
	{"parse: a time with a sign", FIELDS " stored=+1 expires=2", -1, NULL},
	{"parse: a time past int64", FIELDS " stored=1 expires=9223372036854775808", -1, NULL},
	{"parse: a time that is no number", FIELDS " stored=1 expires=soon", -1, NULL},
	{"parse: an unterminated quote", FIELDS " reason=\"x" TIMES, -1, NULL},
	{"parse: a word that is no field", FIELDS " garbage" TIMES, -1, NULL},
	{"parse: an empty line", "", -1, NULL},
	{"parse: a bogus OK, never given",
	    "store=answers key=x result=ok rule=all-hosts-dane bogus=yes" TIMES, -1, NULL},
	{"parse: an OK by a TEMP rule, never given",
	    "store=answers key=x result=ok rule=mx-lookup-failed bogus=no" TIMES, -1, NULL},
	{"parse: a TEMP of the trust check, never stored",
	    "store=answers key=x result=temp rule=trust-check bogus=no" TIMES, -1, NULL},
	{"parse: a NOTFOUND by a level rule, never given",
	    "store=answers key=x result=notfound rule=no-tlsa bogus=no" TIMES, -1, NULL},
	{"parse: an exception without its policy",
	    "store=answers key=x result=ok rule=exception bogus=no" TIMES, -1, NULL},
	{"parse: a policy outside an exception",
	    FIELDS " policy=encrypt" TIMES, -1, NULL},
	{"parse: an exception's policy Postfix would refuse",
	    "store=answers key=x result=ok rule=exception bogus=no policy=\"dane-only evil=1\"" TIMES, -1, NULL},
	{"parse: control bytes in the reason made '?'",
	    FIELDS " reason=\"a\\x0d\\x0aevent=alert\\x1b[31m\\xff\"" TIMES, 0, "a??event=alert?[31m?"},
};

static const char *
parse_case_name(const void *row)
{
	return ((const struct parse_case *)row)->name;
}

static void
test_parse(void **state)
{
	const struct parse_case *c = *state;
	struct snapshot_entry e;
	/* A private copy, so that a read past the length is caught by ASan. */
	size_t len = strlen(c->line);
	char *line = malloc(len ? len : 1);

	assert_non_null(line);
	memcpy(line, c->line, len);
	int rc = snapshot_parse(line, len, &e);
	free(line);
	if (rc != c->rc)
		fail_msg("%s: %d, want %d", c->line, rc, c->rc);
	if (rc == 0)
		assert_string_equal(e.reason, c->reason);
}

/* The longest key that fits is read; one byte more is refused, not cut:
 * a cut key would answer for another destination. */
static void
test_key_length(void **state)
{
	struct snapshot_entry e;
	struct buf line;
	size_t max = sizeof(e.key) - 1;

	for (size_t n = max - 1; n <= max + 1; n++) {
		buf_init(&line);
		buf_puts(&line, "store=answers key=");
		for (size_t i = 0; i < n; i++)
			buf_putc(&line, 'a');
		buf_puts(&line, " result=ok rule=all-hosts-dane bogus=no stored=1 expires=2");
		int rc = snapshot_parse(buf_ptr(&line), buf_size(&line), &e);
		if (rc != (n <= max ? 0 : -1))
			fail_msg("a key of %zu bytes: %d", n, rc);
		if (rc == 0)
			assert_int_equal(strlen(e.key), n);
		buf_free(&line);
	}
}

/* A reason longer than its place is cut, not refused: only people read it. */
static void
test_reason_cut(void **state)
{
	struct snapshot_entry e;
	struct buf line;
	size_t max = sizeof(e.reason) - 1;

	buf_init(&line);
	buf_puts(&line, FIELDS " reason=");
	for (size_t i = 0; i < 3 * max; i++)
		buf_putc(&line, (char)('a' + i % 26));
	buf_puts(&line, TIMES);
	assert_int_equal(snapshot_parse(buf_ptr(&line), buf_size(&line), &e), 0);
	assert_int_equal(strlen(e.reason), max);
	assert_memory_equal(e.reason, "abcdefghijklmnopqrstuvwxyz", 26);
	buf_free(&line);
}

/* Only the given length is read: a line need not end in NUL, and what
 * follows it is the next line's. */
static void
test_length_bounds(void **state)
{
	static const char two[] = FIELDS " reason=first stored=1 expires=20\n" FIELDS " reason=second stored=3 expires=4";
	struct snapshot_entry e;
	size_t first = (size_t)(strchr(two, '\n') - two);

	assert_int_equal(snapshot_parse(two, first, &e), 0);
	assert_string_equal(e.reason, "first");
	assert_int_equal(e.expires, 20);
	/* Cut inside the last value: it is shorter, not the next line's. */
	assert_int_equal(snapshot_parse(two, first - 1, &e), 0);
	assert_int_equal(e.expires, 2);
	/* Cut before the last field: it is missing. */
	assert_int_equal(snapshot_parse(two, first - strlen(" expires=20"), &e), -1);
}

/* What the parser fills is the line's alone: nothing of an earlier entry
 * survives in the struct. */
static void
test_parse_clears(void **state)
{
	static const char with[] = "store=answers key=x result=ok rule=exception bogus=no policy=encrypt reason=long"
	    TIMES;
	static const char without[] = FIELDS TIMES;
	struct snapshot_entry e;

	assert_int_equal(snapshot_parse(with, strlen(with), &e), 0);
	assert_true(e.has_policy);
	assert_int_equal(snapshot_parse(without, strlen(without), &e), 0);
	assert_false(e.has_policy);
	assert_string_equal(e.policy, "");
	assert_string_equal(e.reason, "");
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_key_length),
		cmocka_unit_test(test_reason_cut),
		cmocka_unit_test(test_length_bounds),
		cmocka_unit_test(test_parse_clears),
	};
	struct table t = {0};

	TABLE_ADD(&t, format_cases, format_case, test_format);
	TABLE_ADD(&t, parse_cases, parse_case, test_parse);
	TABLE_TESTS(&t, more);
	return table_run(&t, "snapshot");
}
