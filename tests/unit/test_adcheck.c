/* Unit tests: the AD-bit check's query, answer and resolv.conf reading. */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dns/adcheck.h"
#include "table.h"

static void
test_query_wire(void **state)
{
	unsigned char q[64];
	static const unsigned char want[] = {
		0x12, 0x34, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 0,	/* RD, AD, one question */
		4, 't', 'e', 's', 't', 0, 0, 6, 0, 1,		/* test. SOA IN */
	};

	assert_int_equal(adcheck_query("test.", 0x1234, q, sizeof(q)), sizeof(want));
	assert_memory_equal(q, want, sizeof(want));
	assert_int_equal(adcheck_query("test", 0x1234, q, sizeof(q)), sizeof(want));
	assert_int_equal(adcheck_query(".", 1, q, sizeof(q)), 12 + 1 + 4);
	assert_int_equal(q[12], 0);
	assert_int_equal(adcheck_query("bad name", 1, q, sizeof(q)), -1);
	assert_int_equal(adcheck_query("test.", 1, q, 10), -1);
}

struct answer_case {
	const char *name;
	unsigned char header[12];
	size_t len;
	int rc;
	int ad;
	int rcode;
};

static const struct answer_case answers[] = {
	{"validated", {0x12, 0x34, 0x81, 0xa0, 0, 1, 0, 1}, 12, 0, 1, 0},
	{"not validated", {0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1}, 12, 0, 0, 0},
	{"SERVFAIL", {0x12, 0x34, 0x81, 0x82, 0, 1}, 12, 0, 0, 2},
	{"another id", {0x43, 0x21, 0x81, 0xa0}, 12, -1, 0, 0},
	{"a query, not an answer", {0x12, 0x34, 0x01, 0x20}, 12, -1, 0, 0},
	{"too short", {0x12, 0x34, 0x81}, 3, -1, 0, 0},
};

static void
test_answers(void **state)
{
	for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
		const struct answer_case *c = &answers[i];
		struct adcheck_result r;
		int rc = adcheck_parse(c->header, c->len, 0x1234, &r);
		if (rc != c->rc || (rc == 0 && (r.ad != c->ad || r.rcode != c->rcode)))
			fail_msg("%s: rc %d ad %d rcode %d", c->name, rc, r.ad, r.rcode);
	}
}

static void
test_nameserver(void **state)
{
	char path[4096], err[256];
	struct netaddr a;

	snprintf(path, sizeof(path), "%s/adcheck-XXXXXX", table_tmp());
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");

	fputs("# a comment\nsearch example.org\nnameserver fe80::1%eth0\nnameserver 192.0.2.53\n", f);
	fclose(f);
	assert_int_equal(adcheck_nameserver(path, &a, err, sizeof(err)), 0);
	assert_int_equal(a.family, AF_INET6);
	f = fopen(path, "w");
	fputs("search example.org\n", f);
	fclose(f);
	assert_int_equal(adcheck_nameserver(path, &a, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no nameserver"));
	unlink(path);
	assert_int_equal(adcheck_nameserver(path, &a, err, sizeof(err)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_wire),
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_nameserver),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("adcheck", tests, NULL, NULL);
}
