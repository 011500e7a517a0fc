/* Unit tests: the _mta-sts TXT record (lib/rules/ststxt.h), one table
 * row per record set. A record is written as its character-strings
 * joined by '|', so "v=STSv1; |id=abc" is two strings read as one text. */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rules/ststxt.h"
#include "table.h"

#define MAXREC 4

struct txt_case {
	const char *name;
	const char *records[MAXREC + 1];	/* NULL-terminated */
	enum ststxt_status status;
	const char *id;				/* FOUND */
	const char *why;			/* INVALID: a part of the reason */
};

#define ID32 "abcdefghijklmnopqrstuvwxyz012345"

static const struct txt_case txt_cases[] = {
	/* found */
	{"plain", {"v=STSv1; id=20160831085700Z;"}, STSTXT_FOUND, "20160831085700Z"},
	{"no trailing delimiter", {"v=STSv1; id=abc"}, STSTXT_FOUND, "abc"},
	{"no space after ;", {"v=STSv1;id=abc"}, STSTXT_FOUND, "abc"},
	{"tabs and spaces around ;", {"v=STSv1;\t id=abc \t; \t"}, STSTXT_FOUND, "abc"},
	{"trailing delimiter then white space", {"v=STSv1; id=abc;  "}, STSTXT_FOUND, "abc"},
	{"id of 32", {"v=STSv1; id=" ID32}, STSTXT_FOUND, ID32},
	{"id of 1", {"v=STSv1; id=7"}, STSTXT_FOUND, "7"},
	{"id split across strings", {"v=STSv1; id=abc|def;"}, STSTXT_FOUND, "abcdef"},
	{"prefix split across strings", {"v=ST|Sv1;| id=x1"}, STSTXT_FOUND, "x1"},
	{"empty character-strings inside", {"|v=STSv1;||id=a1|"}, STSTXT_FOUND, "a1"},
	{"extension after id", {"v=STSv1; id=abc; ext=value"}, STSTXT_FOUND, "abc"},
	{"extension before id", {"v=STSv1; my_ext.v-2=a:b/c!; id=abc;"}, STSTXT_FOUND, "abc"},
	{"extension name of 32", {"v=STSv1; id=a; " ID32 "=x"}, STSTXT_FOUND, "a"},
	{"ID= is an extension, id present", {"v=STSv1; ID=zz-zz; id=abc"}, STSTXT_FOUND, "abc"},
	{"other records around", {"v=spf1 -all", "v=STSv1; id=abc", "hello"}, STSTXT_FOUND, "abc"},
	/* none */
	{"empty RRset", {NULL}, STSTXT_NONE},
	{"only other records", {"v=spf1 -all", "google-site-verification=x"}, STSTXT_NONE},
	{"an empty record", {""}, STSTXT_NONE},
	{"version without ;", {"v=STSv1"}, STSTXT_NONE},
	{"space before ; is discarded", {"v=STSv1 ; id=abc"}, STSTXT_NONE},
	{"other version", {"v=STSv2; id=abc"}, STSTXT_NONE},
	{"lower-case version", {"v=stsv1; id=abc"}, STSTXT_NONE},
	{"leading space", {" v=STSv1; id=abc"}, STSTXT_NONE},
	/* invalid */
	{"two STS records", {"v=STSv1; id=abc", "v=STSv1; id=def"}, STSTXT_INVALID, NULL,
	    "2 TXT records"},
	{"two identical STS records", {"v=STSv1; id=abc", "v=STSv1; id=abc"}, STSTXT_INVALID, NULL,
	    "exactly one"},
	{"missing id", {"v=STSv1;"}, STSTXT_INVALID, NULL, "no id field"},
	{"missing id, extension only", {"v=STSv1; ext=1"}, STSTXT_INVALID, NULL, "no id field"},
	{"ID= alone is no id", {"v=STSv1; ID=abc"}, STSTXT_INVALID, NULL, "no id field"},
	{"id of 33", {"v=STSv1; id=" ID32 "6"}, STSTXT_INVALID, NULL, "longer than 32"},
	{"id with a hyphen", {"v=STSv1; id=2024-01-01"}, STSTXT_INVALID, NULL, "letter or a digit"},
	{"id with a dot", {"v=STSv1; id=a.b"}, STSTXT_INVALID, NULL, "letter or a digit"},
	{"id empty", {"v=STSv1; id=;"}, STSTXT_INVALID, NULL, "has no value"},
	{"id with a space inside", {"v=STSv1; id=ab cd"}, STSTXT_INVALID, NULL, "';' should"},
	{"two ids", {"v=STSv1; id=abc; id=def"}, STSTXT_INVALID, NULL, "two id fields"},
	{"trailing white space", {"v=STSv1; id=abc "}, STSTXT_INVALID, NULL, "white space"},
	{"empty field", {"v=STSv1;; id=abc"}, STSTXT_INVALID, NULL, "letter or digit"},
	{"field without =", {"v=STSv1; id=abc; flag"}, STSTXT_INVALID, NULL, "no '='"},
	{"extension with empty value", {"v=STSv1; id=abc; e="}, STSTXT_INVALID, NULL, "has no value"},
	{"extension value with =", {"v=STSv1; id=abc; e=a=b"}, STSTXT_INVALID, NULL, "';' should"},
	{"extension name starting with _", {"v=STSv1; id=abc; _e=1"}, STSTXT_INVALID, NULL,
	    "letter or digit"},
	{"extension name of 33", {"v=STSv1; id=a; " ID32 "x=1"}, STSTXT_INVALID, NULL, "longer than 32"},
	{"control character", {"v=STSv1; id=abc\x01"}, STSTXT_INVALID, NULL, "'?'"},
	{"non-ASCII value", {"v=STSv1; id=abc; e=caf\xc3\xa9"}, STSTXT_INVALID, NULL, "';' should"},
	{"several with one broken", {"v=STSv1; id=abc", "v=STSv1;"}, STSTXT_INVALID, NULL, "2 TXT"},
};

static const char *
txt_case_name(const void *row)
{
	return ((const struct txt_case *)row)->name;
}

/* The RDATA of a record written as "a|b|c": one character-string each. */
static size_t
rdata_of(const char *text, unsigned char *out)
{
	size_t n = 0;

	for (;;) {
		const char *bar = strchr(text, '|');
		size_t len = bar ? (size_t)(bar - text) : strlen(text);
		assert_true(len <= 255);
		out[n++] = (unsigned char)len;
		memcpy(out + n, text, len);
		n += len;
		if (!bar)
			return n;
		text = bar + 1;
	}
}

static void
test_txt(void **state)
{
	const struct txt_case *c = *state;
	unsigned char data[MAXREC][600];
	struct ststxt_rdata rd[MAXREC];
	struct ststxt_result r;
	size_t n = 0;

	for (; c->records[n]; n++) {
		rd[n].len = rdata_of(c->records[n], data[n]);
		rd[n].data = data[n];
	}
	assert_int_equal(ststxt_parse(rd, n, &r), c->status);
	assert_int_equal(r.status, c->status);
	if (c->status == STSTXT_FOUND) {
		assert_string_equal(r.id, c->id);
		assert_string_equal(r.why, "");
	} else {
		assert_string_equal(r.id, "");
	}
	if (c->status == STSTXT_INVALID) {
		if (!strstr(r.why, c->why))
			fail_msg("reason \"%s\" does not say \"%s\"", r.why, c->why);
	}
	if (c->status == STSTXT_NONE)
		assert_string_equal(r.why, "");
}

/* A character-string that claims more bytes than the RDATA holds. */
static void
test_overrun(void **state)
{
	static const unsigned char broken[] = {20, 'v', '=', 'S'};
	static const unsigned char good[] = "\x0fv=STSv1; id=abc";
	struct ststxt_rdata rd[2] = {{good, sizeof(good) - 1}, {broken, sizeof(broken)}};
	struct ststxt_result r;

	assert_int_equal(ststxt_parse(rd, 1, &r), STSTXT_FOUND);
	assert_string_equal(r.id, "abc");
	assert_int_equal(ststxt_parse(rd, 2, &r), STSTXT_INVALID);
	assert_non_null(strstr(r.why, "run past"));
}

/* A whole record of 255-byte strings, as a large TXT record is sent: the
 * extension's value crosses string boundaries many times. */
static void
test_long_record(void **state)
{
	static unsigned char rdata[2048];
	char text[1800];
	struct ststxt_result r;
	size_t n = 0, at = 0;

	strcpy(text, "v=STSv1; id=abc; ext=");
	size_t len = strlen(text);
	memset(text + len, 'x', 1500);
	len += 1500;
	while (at < len) {
		size_t piece = len - at > 255 ? 255 : len - at;
		rdata[n++] = (unsigned char)piece;
		memcpy(rdata + n, text + at, piece);
		n += piece;
		at += piece;
	}
	struct ststxt_rdata rd = {rdata, n};
	assert_int_equal(ststxt_parse(&rd, 1, &r), STSTXT_FOUND);
	assert_string_equal(r.id, "abc");
}

static void
test_names(void **state)
{
	assert_string_equal(ststxt_status_name(STSTXT_FOUND), "found");
	assert_string_equal(ststxt_status_name(STSTXT_NONE), "none");
	assert_string_equal(ststxt_status_name(STSTXT_INVALID), "invalid");
}

int
main(void)
{
	struct table t = {0};
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_overrun),
		cmocka_unit_test(test_long_record),
		cmocka_unit_test(test_names),
	};

	TABLE_ADD(&t, txt_cases, txt_case, test_txt);
	TABLE_TESTS(&t, more);
	return table_run(&t, "ststxt");
}
