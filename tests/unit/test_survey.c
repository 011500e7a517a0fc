/*
 * Unit tests: the survey's pure parts. Lines of a domain list as the
 * published top lists have them; the domain of a record line, and lines cut
 * short; the string map the survey keeps its probes and done domains in.
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/strmap.h"
#include "survey/survey.h"
#include "table.h"

struct list_case {
	const char *name;
	const char *line;
	int rc;
	const char *domain;
};

static const struct list_case list_cases[] = {
	{"a bare domain", "example.org\n", 1, "example.org"},
	{"rank,domain (Tranco, Alexa)", "17,Example.ORG\r\n", 1, "example.org"},
	{"blanks and a trailing dot", "  example.org. \t\n", 1, "example.org"},
	{"a blank line", "   \n", 0, NULL},
	{"a comment", "# top sites, 2026\n", 0, NULL},
	{"an indented comment", "  #17,x.org\n", 0, NULL},
	{"nothing after the comma", "17,\n", 0, NULL},
	{"too long for the buffer", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.org\n", -1, NULL},
};

static const char *list_case_name(const void *row) { return ((const struct list_case *)row)->name; }

static void
test_list(void **state)
{
	const struct list_case *c = *state;
	char domain[64];

	assert_int_equal(survey_list_domain(c->line, strlen(c->line), domain, sizeof(domain)), c->rc);
	if (c->domain)
		assert_string_equal(domain, c->domain);
}

struct record_case {
	const char *name;
	const char *line;
	const char *domain;	/* NULL: not a record */
};

static const struct record_case record_cases[] = {
	{"a record", "{\"domain\":\"example.org\",\"time\":1,\"hosts\":[]}", "example.org"},
	{"cut short", "{\"domain\":\"example.org\",\"time\":1,\"hos", NULL},
	{"cut inside the domain", "{\"domain\":\"examp", NULL},
	{"not a record", "{\"time\":1,\"domain\":\"example.org\"}", NULL},
	{"an empty domain", "{\"domain\":\"\",\"time\":1}", NULL},
};

static const char *record_case_name(const void *row) { return ((const struct record_case *)row)->name; }

static void
test_record(void **state)
{
	const struct record_case *c = *state;
	char domain[256];

	int rc = survey_record_domain(c->line, strlen(c->line), domain, sizeof(domain));
	if (!c->domain) {
		assert_int_equal(rc, -1);
		return;
	}
	assert_int_equal(rc, 0);
	assert_string_equal(domain, c->domain);
}

static void
test_strmap(void **state)
{
	struct strmap *m = strmap_create();
	char key[32];
	int values[5000];

	assert_non_null(m);
	for (int i = 0; i < 5000; i++) {
		values[i] = i;
		snprintf(key, sizeof(key), "mx%d.example|192.0.2.1|25", i);
		assert_int_equal(strmap_put(m, key, &values[i]), 0);
	}
	assert_int_equal(strmap_count(m), 5000);
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "mx%d.example|192.0.2.1|25", i);
		int *v = strmap_get(m, key);
		assert_non_null(v);
		assert_int_equal(*v, i);
	}
	assert_null(strmap_get(m, "mx5000.example|192.0.2.1|25"));
	/* Replacing keeps one entry. */
	assert_int_equal(strmap_put(m, "mx1.example|192.0.2.1|25", &values[7]), 0);
	assert_int_equal(strmap_count(m), 5000);
	assert_int_equal(*(int *)strmap_get(m, "mx1.example|192.0.2.1|25"), 7);
	/* Removing gives the value back and leaves the others. */
	for (int i = 0; i < 5000; i += 2) {
		snprintf(key, sizeof(key), "mx%d.example|192.0.2.1|25", i);
		assert_ptr_equal(strmap_remove(m, key), &values[i]);
		assert_null(strmap_remove(m, key));
	}
	assert_int_equal(strmap_count(m), 2500);
	for (int i = 1; i < 5000; i += 2) {
		snprintf(key, sizeof(key), "mx%d.example|192.0.2.1|25", i);
		assert_non_null(strmap_get(m, key));
	}
	assert_null(strmap_get(m, "mx0.example|192.0.2.1|25"));
	strmap_free(m, NULL);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strmap),
	};
	struct table t = {0};

	TABLE_ADD(&t, list_cases, list_case, test_list);
	TABLE_ADD(&t, record_cases, record_case, test_record);
	table_add_tests(&t, tests, sizeof(tests) / sizeof(tests[0]));
	return table_run(&t, "survey");
}
