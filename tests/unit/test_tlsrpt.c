/* Unit tests: Postfix's TLSRPT attributes for an MTA-STS answer
 * (lib/rules/tlsrpt.h): the exact text, the lines left out, and the size
 * limit that drops the attributes but never the answer. */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rules/stspolicy.h"
#include "rules/tlsrpt.h"
#include "util/buf.h"
#include "table.h"

static struct stspolicy *
parse(const char *body)
{
	struct buf errors;

	buf_init(&errors);
	struct stspolicy *p = stspolicy_parse(body, strlen(body), &errors);
	buf_terminate(&errors);
	if (!p)
		fail_msg("refused: %s", buf_ptr(&errors));
	buf_free(&errors);
	return p;
}

/* The answer and its attributes, as the policy map would write them. */
static void
answer(const struct stspolicy *p, const char *domain, size_t limit, struct buf *out, bool want_attrs)
{
	assert_int_equal(stspolicy_postfix_answer(p, out), 0);
	assert_int_equal(tlsrpt_append_sts(out, domain, p, limit), want_attrs);
	buf_terminate(out);
}

static void
test_golden(void **state)
{
	struct stspolicy *p = parse("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
	    "mx: *.Example.NET\r\nmx: mail.example.com\r\nmax_age: 604800\r\n");
	struct buf out;

	buf_init(&out);
	answer(p, "example.com", TLSRPT_REPLY_MAX, &out, true);
	/* match= writes ".example.net", mx_host_pattern keeps "*.": Postfix
	 * matches certificates with the one, TLSRPT reports the other as
	 * published. Duplicates appear once as patterns, as often as
	 * published as lines. */
	assert_string_equal(buf_ptr(&out),
	    "secure match=mail.example.com:.example.net servername=hostname"
	    " policy_type=sts policy_domain=example.com"
	    " mx_host_pattern=mail.example.com mx_host_pattern=*.example.net"
	    " { policy_string = version: STSv1 }"
	    " { policy_string = mode: enforce }"
	    " { policy_string = mx: mail.example.com }"
	    " { policy_string = mx: *.Example.NET }"
	    " { policy_string = mx: mail.example.com }"
	    " { policy_string = max_age: 604800 }");
	buf_free(&out);
	stspolicy_free(p);
}

/* A brace would end "{ policy_string = ... }" early, a control character
 * (here a tab) has no place in the reply: such lines are left out, the
 * rest stays. */
static void
test_lines_left_out(void **state)
{
	struct stspolicy *p = parse("version: STSv1\nmode:\tenforce\nmx: mx.b\xc3\xbc" "cher.example\n"
	    "ext: a}b\nother: {x\nmax_age: 60\nnote: caf\xc3\xa9\n");
	struct buf out;

	buf_init(&out);
	answer(p, "xn--bcher-kva.example", TLSRPT_REPLY_MAX, &out, true);
	assert_string_equal(buf_ptr(&out),
	    "secure match=mx.xn--bcher-kva.example servername=hostname"
	    " policy_type=sts policy_domain=xn--bcher-kva.example"
	    " mx_host_pattern=mx.xn--bcher-kva.example"
	    " { policy_string = version: STSv1 }"
	    " { policy_string = mx: mx.b\xc3\xbc" "cher.example }"
	    " { policy_string = max_age: 60 }"
	    " { policy_string = note: caf\xc3\xa9 }");
	buf_free(&out);
	stspolicy_free(p);
	assert_false(tlsrpt_line_usable("a{"));
	assert_false(tlsrpt_line_usable("a\x7f"));
	assert_false(tlsrpt_line_usable("\r"));
	assert_true(tlsrpt_line_usable("mx: *.example.net"));
	assert_true(tlsrpt_line_usable(""));
}

/* At the limit exactly the attributes fit; one byte less and they are
 * dropped whole, the answer kept as it was. */
static void
test_limit(void **state)
{
	static const char ans[] = "secure match=mx.example.org servername=hostname";
	struct stspolicy *p = parse("version: STSv1\nmode: enforce\nmx: mx.example.org\nmax_age: 86400\n");
	struct buf out;

	buf_init(&out);
	answer(p, "example.org", TLSRPT_REPLY_MAX, &out, true);
	size_t full = buf_size(&out);
	assert_true(full > sizeof(ans));
	buf_reset(&out);
	answer(p, "example.org", full, &out, true);
	assert_int_equal(buf_size(&out), full);
	buf_reset(&out);
	answer(p, "example.org", full - 1, &out, false);
	assert_string_equal(buf_ptr(&out), ans);
	buf_reset(&out);
	answer(p, "example.org", 0, &out, false);
	assert_string_equal(buf_ptr(&out), ans);
	buf_free(&out);
	stspolicy_free(p);
}

/* A policy of 64 KiB makes attributes past Postfix's reply limit: the
 * answer still goes out, without them. */
static void
test_big_policy(void **state)
{
	struct buf body, out;

	buf_init(&body);
	buf_init(&out);
	buf_puts(&body, "version: STSv1\nmode: enforce\nmax_age: 86400\n");
	for (unsigned i = 0; buf_size(&body) < STSPOLICY_BODY_MAX - 40; i++)
		buf_printf(&body, "mx: mx%u.example.org\n", i);
	struct stspolicy *p = stspolicy_parse(buf_ptr(&body), buf_size(&body), NULL);
	assert_non_null(p);
	assert_int_equal(stspolicy_postfix_answer(p, &out), 0);
	size_t answer_len = buf_size(&out);
	assert_true(answer_len < TLSRPT_REPLY_MAX);
	assert_false(tlsrpt_append_sts(&out, "example.org", p, TLSRPT_REPLY_MAX));
	assert_int_equal(buf_size(&out), answer_len);
	buf_terminate(&out);
	assert_non_null(strstr(buf_ptr(&out), " servername=hostname"));
	assert_null(strstr(buf_ptr(&out), "policy_type"));
	buf_free(&out);
	buf_free(&body);
	stspolicy_free(p);
}

/* The domain goes into the reply as it is: only a host name may. */
static void
test_bad_domain(void **state)
{
	struct stspolicy *p = parse("version: STSv1\nmode: enforce\nmx: mx.example.org\nmax_age: 86400\n");
	static const char *bad[] = {"", "example.org x=y", "exa{mple.org", "a..b", "b\xc3\xbc" "cher.example"};
	struct buf out;

	buf_init(&out);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_puts(&out, "answer");
		assert_false(tlsrpt_append_sts(&out, bad[i], p, TLSRPT_REPLY_MAX));
		TABLE_EXPECT_TEXT(&out, "answer");
	}
	buf_free(&out);
	stspolicy_free(p);
}

/* Mode none has no patterns: the attributes still name the policy. */
static void
test_no_patterns(void **state)
{
	struct stspolicy *p = parse("version: STSv1\nmode: none\nmax_age: 86400\n");
	struct buf out;

	buf_init(&out);
	assert_true(tlsrpt_append_sts(&out, "example.org", p, TLSRPT_REPLY_MAX));
	TABLE_EXPECT_TEXT(&out, " policy_type=sts policy_domain=example.org { policy_string = version: STSv1 }"
	    " { policy_string = mode: none } { policy_string = max_age: 86400 }");
	buf_free(&out);
	stspolicy_free(p);
}

int
main(void)
{
	struct table t = {0};
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_lines_left_out),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_big_policy),
		cmocka_unit_test(test_bad_domain),
		cmocka_unit_test(test_no_patterns),
	};

	TABLE_TESTS(&t, tests);
	return table_run(&t, "tlsrpt");
}
