/* Unit tests: the MTA-STS policy (lib/rules/stspolicy.h): every rule of
 * RFC 8461 section 3.2 as the header states it, one table row each; then
 * the limits, matching (section 4.1) and Postfix's match= form. */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rules/stspolicy.h"
#include "util/buf.h"
#include "table.h"

#define V "version: STSv1\n"
#define ENF "mode: enforce\n"
#define AGE "max_age: 86400\n"
#define MX "mx: mail.example.com\n"
#define HEAD V ENF AGE

struct parse_case {
	const char *name;
	const char *body;
	const char *error;	/* NULL: valid; else a part of the errors */
	enum stspolicy_mode mode;
	uint32_t max_age;
	const char *patterns;	/* joined by ' ' */
	const char *match;	/* stspolicy_postfix_match() */
	size_t nlines;
};

static const struct parse_case parse_cases[] = {
	/* valid: line ends and white space */
	{"RFC example, LF", V ENF "mx: mail.example.com\nmx: *.example.net\nmx: backupmx.example.com\n"
	    "max_age: 604800\n", NULL, STSPOLICY_MODE_ENFORCE, 604800,
	    "mail.example.com *.example.net backupmx.example.com",
	    "mail.example.com:.example.net:backupmx.example.com", 6},
	{"CRLF", "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 86400\r\n", NULL,
	    STSPOLICY_MODE_ENFORCE, 86400, "mail.example.com", "mail.example.com", 4},
	{"LF, no final line end", V ENF MX "max_age: 86400", NULL, STSPOLICY_MODE_ENFORCE, 86400,
	    "mail.example.com", "mail.example.com", 4},
	{"CRLF, no final line end", "version: STSv1\r\nmode: testing\r\nmx: a.example\r\nmax_age: 1", NULL,
	    STSPOLICY_MODE_TESTING, 1, "a.example", "a.example", 4},
	{"CRLF and LF mixed", "version: STSv1\r\nmode: enforce\nmx: a.example\r\nmax_age: 5\n", NULL,
	    STSPOLICY_MODE_ENFORCE, 5, "a.example", "a.example", 4},
	{"no space after the colon", "version:STSv1\nmode:enforce\nmx:a.example\nmax_age:7\n", NULL,
	    STSPOLICY_MODE_ENFORCE, 7, "a.example", "a.example", 4},
	{"tabs and trailing white space", "version:\tSTSv1 \nmode:  enforce\t\nmx: a.example  \nmax_age: 9 \n",
	    NULL, STSPOLICY_MODE_ENFORCE, 9, "a.example", "a.example", 4},
	{"fields in any order", "max_age: 3\nmx: a.example\nmode: enforce\nversion: STSv1\n", NULL,
	    STSPOLICY_MODE_ENFORCE, 3, "a.example", "a.example", 4},
	{"empty lines skipped", "\n" V "\r\n" ENF "  \n" MX AGE "\n\n", NULL, STSPOLICY_MODE_ENFORCE, 86400,
	    "mail.example.com", "mail.example.com", 4},
	/* modes */
	{"mode testing", V "mode: testing\n" MX AGE, NULL, STSPOLICY_MODE_TESTING, 86400,
	    "mail.example.com", "mail.example.com", 4},
	{"mode none without mx", V "mode: none\n" AGE, NULL, STSPOLICY_MODE_NONE, 86400, "", "", 3},
	{"mode none with mx", V "mode: none\n" MX AGE, NULL, STSPOLICY_MODE_NONE, 86400,
	    "mail.example.com", "mail.example.com", 4},
	/* max_age */
	{"max_age 0", V ENF MX "max_age: 0\n", NULL, STSPOLICY_MODE_ENFORCE, 0, "mail.example.com",
	    "mail.example.com", 4},
	{"max_age 31557600", V ENF MX "max_age: 31557600\n", NULL, STSPOLICY_MODE_ENFORCE, 31557600,
	    "mail.example.com", "mail.example.com", 4},
	{"max_age of 10 digits", V ENF MX "max_age: 0000086400\n", NULL, STSPOLICY_MODE_ENFORCE, 86400,
	    "mail.example.com", "mail.example.com", 4},
	/* repeated keys: the first wins, mx accumulates */
	{"mode twice: first wins", V "mode: testing\nmode: enforce\n" MX AGE, NULL, STSPOLICY_MODE_TESTING,
	    86400, "mail.example.com", "mail.example.com", 5},
	{"version twice, second bad", V "version: STSv2\n" ENF MX AGE, NULL, STSPOLICY_MODE_ENFORCE, 86400,
	    "mail.example.com", "mail.example.com", 5},
	{"max_age twice, second bad", V ENF MX "max_age: 60\nmax_age: -1\n", NULL, STSPOLICY_MODE_ENFORCE, 60,
	    "mail.example.com", "mail.example.com", 5},
	{"mode twice, second bad", V ENF "mode: bogus\n" MX AGE, NULL, STSPOLICY_MODE_ENFORCE, 86400,
	    "mail.example.com", "mail.example.com", 5},
	{"mx duplicates dropped", HEAD "mx: b.example\nmx: a.example\nmx: B.EXAMPLE\nmx: a.example\n"
	    "mx: *.a.example\n", NULL, STSPOLICY_MODE_ENFORCE, 86400, "b.example a.example *.a.example",
	    "b.example:a.example:.a.example", 8},
	/* extensions */
	{"extension keys", HEAD MX "foo: bar baz\nx-ext.1_a: caf\xc3\xa9 au lait\nVersion: whatever\n", NULL,
	    STSPOLICY_MODE_ENFORCE, 86400, "mail.example.com", "mail.example.com", 7},
	{"extension name of 32", HEAD MX "abcdefghijklmnopqrstuvwxyz012345: v\n", NULL, STSPOLICY_MODE_ENFORCE,
	    86400, "mail.example.com", "mail.example.com", 5},
	/* patterns */
	{"upper case lowered", HEAD "mx: MAIL.Example.COM\nmx: *.EXAMPLE.NET\n", NULL, STSPOLICY_MODE_ENFORCE,
	    86400, "mail.example.com *.example.net", "mail.example.com:.example.net", 5},
	{"U-labels to A-labels", HEAD "mx: mail.b\xc3\xbc" "cher.example\nmx: *.B\xc3\x9c" "CHER.example\n", NULL,
	    STSPOLICY_MODE_ENFORCE, 86400, "mail.xn--bcher-kva.example *.xn--bcher-kva.example",
	    "mail.xn--bcher-kva.example:.xn--bcher-kva.example", 5},
	{"A-label and U-label are one pattern", HEAD "mx: xn--bcher-kva.example\nmx: b\xc3\xbc" "cher.example\n",
	    NULL, STSPOLICY_MODE_ENFORCE, 86400, "xn--bcher-kva.example", "xn--bcher-kva.example", 5},
	{"single-label and digits", HEAD "mx: localhost\nmx: 1mx.example\nmx: a-b.c0m\n", NULL,
	    STSPOLICY_MODE_ENFORCE, 86400, "localhost 1mx.example a-b.c0m", "localhost:1mx.example:a-b.c0m", 6},
	{"wildcard on a TLD", HEAD "mx: *.example\n", NULL, STSPOLICY_MODE_ENFORCE, 86400, "*.example",
	    ".example", 4},

	/* errors: missing fields */
	{"empty body", "", "no version field"},
	{"no version", ENF MX AGE, "no version field"},
	{"no mode", V MX AGE, "no mode field"},
	{"no max_age", V ENF MX, "no max_age field"},
	{"no mx in enforce", HEAD, "no mx field: mode enforce"},
	{"no mx in testing", V "mode: testing\n" AGE, "no mx field: mode testing"},
	{"Version is not version", "Version: STSv1\n" ENF MX AGE, "no version field"},
	/* errors: values */
	{"version STSv2", "version: STSv2\n" ENF MX AGE, "line 1: version \"STSv2\""},
	{"version stsv1", "version: stsv1\n" ENF MX AGE, "only STSv1"},
	{"mode Enforce", V "mode: Enforce\n" MX AGE, "line 2: mode \"Enforce\""},
	{"mode report", V "mode: report\n" MX AGE, "not enforce, testing or none"},
	{"mode empty", V "mode:\n" MX AGE, "line 2: mode \"\""},
	{"max_age 31557601", V ENF MX "max_age: 31557601\n", "max_age 31557601 is more than 31557600"},
	{"max_age 9999999999", V ENF MX "max_age: 9999999999\n", "is more than 31557600"},
	{"max_age of 11 digits", V ENF MX "max_age: 00000086400\n", "more than 10 digits"},
	{"max_age negative", V ENF MX "max_age: -1\n", "line 4: max_age \"-1\" is not a number"},
	{"max_age plus sign", V ENF MX "max_age: +86400\n", "not a number of seconds"},
	{"max_age space inside", V ENF MX "max_age: 86 400\n", "max_age \"86 400\""},
	{"max_age empty", V ENF MX "max_age:\n", "max_age is empty"},
	{"max_age with unit", V ENF MX "max_age: 86400s\n", "not a number of seconds"},
	{"max_age hex", V ENF MX "max_age: 0x10\n", "not a number of seconds"},
	{"max_age lone CR at the end", V ENF MX "max_age: 86400\r", "max_age \"86400?\""},
	/* errors: IP literals and names that are no host names */
	{"mx [192.0.2.1]", HEAD "mx: [192.0.2.1]\n", "line 4: mx \"[192.0.2.1]\": an IP address literal"},
	{"mx 192.0.2.1", HEAD "mx: 192.0.2.1\n", "an IP address, not a host name"},
	{"mx IPv6", HEAD "mx: 2001:db8::1\n", "an IP address literal"},
	{"mx [IPv6:...]", HEAD "mx: [IPv6:2001:db8::1]\n", "an IP address literal"},
	{"mx numeric TLD", HEAD "mx: 192.0.2\n", "an IP address, not a host name"},
	{"one bad mx spoils all", HEAD MX "mx: 192.0.2.1\nmx: b.example\n", "line 5: mx \"192.0.2.1\""},
	{"mx *foo.example", HEAD "mx: *foo.example\n", "a wildcard that is not the whole first label"},
	{"mx a.*.example", HEAD "mx: a.*.example\n", "a wildcard that is not the whole first label"},
	{"mx *", HEAD "mx: *\n", "a wildcard that is not the whole first label"},
	{"mx *.", HEAD "mx: *.\n", "an empty host name"},
	{"mx *.*.example", HEAD "mx: *.*.example\n", "a wildcard that is not"},
	{"mx empty", HEAD "mx:\n", "an empty host name"},
	{"mx trailing dot", HEAD "mx: mail.example.com.\n", "ends with a dot"},
	{"mx leading dot", HEAD "mx: .example.com\n", "an empty label"},
	{"mx double dot", HEAD "mx: a..example\n", "an empty label"},
	{"mx underscore", HEAD "mx: mail_1.example\n", "not a host name"},
	{"mx leading hyphen", HEAD "mx: -mail.example\n", "not a host name"},
	{"mx trailing hyphen", HEAD "mx: mail-.example\n", "not a host name"},
	{"mx space inside", HEAD "mx: mail example.com\n", "not a host name"},
	{"mx label of 64", HEAD "mx: a123456789012345678901234567890123456789012345678901234567890123.example\n",
	    "a label longer than 63 bytes"},
	{"mx not UTF-8", HEAD "mx: b\xfc" "cher.example\n", "not UTF-8"},
	/* errors: lines */
	{"line without a colon", HEAD MX "hello world\n", "line 5: \"hello world\" is not \"key: value\""},
	{"key with a space", HEAD MX "my key: v\n", "line 5: \"my key\" is not a field name"},
	{"leading space", " version: STSv1\n" ENF MX AGE, "line 1: \" version\" is not a field name"},
	{"key starting with _", HEAD MX "_ext: v\n", "is not a field name"},
	{"empty key", HEAD MX ": v\n", "is not a field name"},
	{"extension name of 33", HEAD MX "abcdefghijklmnopqrstuvwxyz0123456: v\n", "is not a field name"},
	{"extension without value", HEAD MX "ext:\n", "line 5: the field \"ext\" has no value"},
	{"extension with a control character", HEAD MX "ext: a\x01" "b\n", "has a control character"},
	{"extension with a tab inside", HEAD MX "ext: a\tb\n", "has a control character"},
	{"extension with a lone CR", HEAD MX "ext: a\rb\n", "has a control character"},
	{"several problems, each on its line", "version: STSv9\nmode: x\n" MX "max_age: -\n",
	    "line 1: version \"STSv9\": only STSv1 is known\nline 2: mode \"x\": not enforce, testing or none\n"
	    "line 4: max_age \"-\" is not a number of seconds (digits only)\n"},
};

static const char *
parse_case_name(const void *row)
{
	return ((const struct parse_case *)row)->name;
}

static void
join_patterns(const struct stspolicy *p, struct buf *out)
{
	for (size_t i = 0; i < stspolicy_npatterns(p); i++) {
		if (i)
			buf_putc(out, ' ');
		buf_puts(out, stspolicy_pattern(p, i));
	}
	buf_terminate(out);
}

static void
test_parse(void **state)
{
	const struct parse_case *c = *state;
	struct buf errors, text;

	buf_init(&errors);
	buf_init(&text);
	struct stspolicy *p = stspolicy_parse(c->body, strlen(c->body), &errors);
	buf_terminate(&errors);
	if (c->error) {
		if (p)
			fail_msg("accepted, expected \"%s\"", c->error);
		if (!strstr(buf_ptr(&errors), c->error))
			fail_msg("errors \"%s\" do not say \"%s\"", buf_ptr(&errors), c->error);
		buf_free(&errors);
		return;
	}
	if (!p)
		fail_msg("refused: %s", buf_ptr(&errors));
	assert_int_equal(buf_size(&errors), 0);
	assert_int_equal(stspolicy_mode(p), c->mode);
	assert_int_equal(stspolicy_max_age(p), c->max_age);
	join_patterns(p, &text);
	assert_string_equal(buf_ptr(&text), c->patterns);
	buf_reset(&text);
	stspolicy_postfix_match(p, &text);
	buf_terminate(&text);
	assert_string_equal(buf_ptr(&text), c->match);
	assert_int_equal(stspolicy_nlines(p), c->nlines);
	assert_null(stspolicy_line(p, c->nlines));
	assert_null(stspolicy_pattern(p, stspolicy_npatterns(p)));
	for (size_t i = 0; i < stspolicy_nlines(p); i++) {
		const char *line = stspolicy_line(p, i);
		assert_true(line[0] != '\0');
		assert_null(strpbrk(line, "\r\n"));
	}
	buf_free(&text);
	buf_free(&errors);
	stspolicy_free(p);
}

/* The lines come back as published, without their line ends, blank lines
 * left out. */
static void
test_lines(void **state)
{
	static const char body[] = "version: STSv1\r\nmode:\tenforce \r\n\r\nmx: MAIL.example.com\nfoo: {x}\nmax_age: 60";
	static const char *want[] = {"version: STSv1", "mode:\tenforce ", "mx: MAIL.example.com", "foo: {x}",
		"max_age: 60"};
	struct stspolicy *p = stspolicy_parse(body, strlen(body), NULL);

	assert_non_null(p);
	assert_int_equal(stspolicy_nlines(p), 5);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(stspolicy_line(p, i), want[i]);
	assert_string_equal(stspolicy_pattern(p, 0), "mail.example.com");
	stspolicy_free(p);
}

/* A policy of n bytes exactly: padding in an extension's value. */
static char *
policy_of_size(size_t n)
{
	static const char head[] = HEAD MX "pad: ";
	char *body = malloc(n + 1);

	assert_non_null(body);
	assert_true(n > sizeof(head));
	memcpy(body, head, sizeof(head) - 1);
	memset(body + sizeof(head) - 1, 'x', n - (sizeof(head) - 1));
	body[n] = '\0';
	return body;
}

static void
test_body_limit(void **state)
{
	struct buf errors;
	char *body = policy_of_size(STSPOLICY_BODY_MAX + 1);

	buf_init(&errors);
	struct stspolicy *p = stspolicy_parse(body, STSPOLICY_BODY_MAX, &errors);
	assert_non_null(p);
	assert_int_equal(buf_size(&errors), 0);
	assert_int_equal(stspolicy_nlines(p), 5);
	stspolicy_free(p);
	assert_null(stspolicy_parse(body, STSPOLICY_BODY_MAX + 1, &errors));
	buf_terminate(&errors);
	assert_non_null(strstr(buf_ptr(&errors), "65537 bytes, more than the 65536"));
	buf_free(&errors);
	free(body);
}

static void
test_nul_byte(void **state)
{
	static const char body[] = HEAD MX "ext: a\0b\n";
	struct buf errors;

	buf_init(&errors);
	assert_null(stspolicy_parse(body, sizeof(body) - 1, &errors));
	buf_terminate(&errors);
	assert_string_equal(buf_ptr(&errors), "line 5: a NUL byte: a policy is text\n");
	buf_free(&errors);
}

/* Past STSPOLICY_ERRORS_MAX problems, one line counts the rest. */
static void
test_many_errors(void **state)
{
	struct buf body, errors;
	size_t lines = 0;

	buf_init(&body);
	buf_init(&errors);
	buf_puts(&body, HEAD MX);
	for (int i = 0; i < 30; i++)
		buf_puts(&body, "bad line\n");
	assert_null(stspolicy_parse(buf_ptr(&body), buf_size(&body), &errors));
	buf_terminate(&errors);
	for (const char *s = buf_ptr(&errors); *s; s++)
		lines += *s == '\n';
	assert_int_equal(lines, STSPOLICY_ERRORS_MAX + 1);
	assert_non_null(strstr(buf_ptr(&errors), "\n10 more problems not shown\n"));
	assert_non_null(strstr(buf_ptr(&errors), "line 5: \"bad line\""));
	buf_free(&body);
	buf_free(&errors);
}

struct match_case {
	const char *name;
	const char *host;
	bool match;
};

static const struct match_case match_cases[] = {
	{"exact", "mail.example.com", true},
	{"exact, upper case", "MAIL.Example.com", true},
	{"exact, trailing dot", "mail.example.com.", true},
	{"other host", "xmail.example.com", false},
	{"shorter", "ail.example.com", false},
	{"suffix of exact is no match", "a.mail.example.com", false},
	{"longer TLD", "mail.example.com.evil", false},
	{"wildcard, one label", "a.example.net", true},
	{"wildcard, A-label", "xn--bcher-kva.example.net", true},
	{"wildcard, upper case", "MX1.EXAMPLE.NET", true},
	{"wildcard, the parent itself", "example.net", false},
	{"wildcard, two labels", "a.b.example.net", false},
	{"wildcard, empty first label", ".example.net", false},
	{"wildcard, a different parent", "a.example.org", false},
	{"wildcard, suffix only", "aexample.net", false},
	{"U-label pattern as A-label", "mx.xn--bcher-kva.example", true},
	{"empty host", "", false},
	{"a lone dot", ".", false},
};

static const char *
match_case_name(const void *row)
{
	return ((const struct match_case *)row)->name;
}

static void
test_match(void **state)
{
	static const char body[] = HEAD "mx: mail.example.com\nmx: *.example.net\nmx: mx.b\xc3\xbc" "cher.example\n";
	const struct match_case *c = *state;
	struct stspolicy *p = stspolicy_parse(body, strlen(body), NULL);

	assert_non_null(p);
	assert_int_equal(stspolicy_mx_matches(p, c->host), c->match);
	stspolicy_free(p);
}

static void
test_postfix_answer(void **state)
{
	static const char enforce[] = HEAD "mx: mail.example.com\nmx: *.Example.NET\nmx: MAIL.example.com\n";
	static const char none[] = V "mode: none\n" AGE;
	struct stspolicy *p = stspolicy_parse(enforce, strlen(enforce), NULL);
	struct stspolicy *n = stspolicy_parse(none, strlen(none), NULL);
	struct buf out;

	assert_non_null(p);
	assert_non_null(n);
	buf_init(&out);
	buf_puts(&out, "before|");
	assert_int_equal(stspolicy_postfix_answer(p, &out), 0);
	TABLE_EXPECT_TEXT(&out, "before|secure match=mail.example.com:.example.net servername=hostname");
	/* Never an empty match=: nothing written, and said so. */
	buf_puts(&out, "before|");
	assert_int_equal(stspolicy_postfix_answer(n, &out), -1);
	TABLE_EXPECT_TEXT(&out, "before|");
	stspolicy_postfix_match(n, &out);
	assert_int_equal(buf_size(&out), 0);
	buf_free(&out);
	stspolicy_free(p);
	stspolicy_free(n);
}

/* One allocation holds everything: its size covers the text and no more
 * than a small header and the offsets beside it. */
static void
test_memory(void **state)
{
	static const char body[] = V ENF "mx: mail.example.com\nmx: *.example.net\n" AGE;
	struct stspolicy *p = stspolicy_parse(body, strlen(body), NULL);
	size_t text = 0;

	assert_non_null(p);
	for (size_t i = 0; i < stspolicy_npatterns(p); i++)
		text += strlen(stspolicy_pattern(p, i)) + 1;
	for (size_t i = 0; i < stspolicy_nlines(p); i++)
		text += strlen(stspolicy_line(p, i)) + 1;
	size_t mem = stspolicy_memory(p);
	assert_true(mem >= text);
	assert_true(mem <= text + 32 + (stspolicy_npatterns(p) + stspolicy_nlines(p)) * sizeof(uint32_t));
	/* The strings lie inside the one block. */
	const char *base = (const char *)p;
	for (size_t i = 0; i < stspolicy_nlines(p); i++)
		assert_true(stspolicy_line(p, i) > base && stspolicy_line(p, i) < base + mem);
	stspolicy_free(p);
}

static void
test_mode_names(void **state)
{
	for (int m = STSPOLICY_MODE_ENFORCE; m <= STSPOLICY_MODE_NONE; m++)
		assert_int_equal(stspolicy_mode_from_name(stspolicy_mode_name((enum stspolicy_mode)m)), m);
	assert_int_equal(stspolicy_mode_from_name("Enforce"), -1);
	assert_int_equal(stspolicy_mode_from_name(""), -1);
}

int
main(void)
{
	struct table t = {0};
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_body_limit),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_many_errors),
		cmocka_unit_test(test_postfix_answer),
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_mode_names),
	};

	TABLE_ADD(&t, parse_cases, parse_case, test_parse);
	TABLE_ADD(&t, match_cases, match_case, test_match);
	TABLE_TESTS(&t, more);
	return table_run(&t, "stspolicy");
}
