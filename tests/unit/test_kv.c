/*
 * Unit tests: log fields (lib/util/kv.h). Whatever the value, kv_strn()
 * writes one field of printable ASCII that reads back as exactly that
 * value, so that a name from DNS or a client cannot forge a field or a
 * line; numbers read back only in the form kv_uint() writes.
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf.h"
#include "util/kv.h"
#include "table.h"

struct kv_case {
	const char *name;
	const char *value;
	size_t len;		/* 0: strlen(value) */
	const char *out;	/* what kv_strn appends for key "k" */
};

static const struct kv_case kv_cases[] = {
	{"kv: bare", "example.org", 0, "k=example.org"},
	{"kv: bare punctuation", "[mx.example.org]:587", 0, "k=[mx.example.org]:587"},
	{"kv: empty", "", 0, "k=\"\""},
	{"kv: space", "OK dane-only", 0, "k=\"OK dane-only\""},
	{"kv: leading space", " x", 0, "k=\" x\""},
	{"kv: quote", "a\"b", 0, "k=\"a\\\"b\""},
	{"kv: backslash", "a\\b", 0, "k=\"a\\\\b\""},
	{"kv: equals", "a=b", 0, "k=\"a=b\""},
	{"kv: newline", "a\nb", 0, "k=\"a\\x0ab\""},
	{"kv: carriage return", "a\rb", 0, "k=\"a\\x0db\""},
	{"kv: tab", "a\tb", 0, "k=\"a\\x09b\""},
	{"kv: NUL inside", "a\0b", 3, "k=\"a\\x00b\""},
	{"kv: escape byte", "\x1b[31m", 0, "k=\"\\x1b[31m\""},
	{"kv: DEL", "a\x7f", 0, "k=\"a\\x7f\""},
	{"kv: high byte", "\xff", 0, "k=\"\\xff\""},
	{"kv: UTF-8", "caf\xc3\xa9", 0, "k=\"caf\\xc3\\xa9\""},
	{"kv: forged field", "x dest=evil.example", 0, "k=\"x dest=evil.example\""},
	{"kv: forged line", "x\nevent=answer dest=evil", 0, "k=\"x\\x0aevent=answer dest=evil\""},
	{"kv: forged end of quote", "\" dest=evil \"", 0, "k=\"\\\" dest=evil \\\"\""},
	{"kv: length shorter than the string", "abc def", 3, "k=abc"},
};

static const char *
kv_case_name(const void *row)
{
	return ((const struct kv_case *)row)->name;
}

static void
test_kv(void **state)
{
	const struct kv_case *c = *state;
	struct buf b;

	buf_init(&b);
	assert_int_equal(kv_strn(&b, "k", c->value, c->len ? c->len : strlen(c->value)), 0);
	assert_string_equal(buf_ptr(&b), c->out);
	/* A second field is separated by one space. */
	buf_reset(&b);
	buf_puts(&b, "event=x");
	assert_int_equal(kv_strn(&b, "k", c->value, c->len ? c->len : strlen(c->value)), 0);
	assert_int_equal(strncmp(buf_ptr(&b), "event=x ", 8), 0);
	assert_string_equal(buf_ptr(&b) + 8, c->out);
	buf_free(&b);
}

/* Parses one "key=value" field at *p, as a log reader would: a bare value
 * runs to the next space; a quoted one is unescaped. Returns the value's
 * length in out, or -1 when malformed. */
static int
kv_read_field(const char **p, char *key, size_t keysize, char *out, size_t outsize)
{
	const char *s = *p;
	size_t k = 0, n = 0;

	while (*s && *s != '=' && *s != ' ') {
		if (k + 1 >= keysize)
			return -1;
		key[k++] = *s++;
	}
	key[k] = '\0';
	if (*s++ != '=')
		return -1;
	if (*s != '"') {
		while (*s && *s != ' ') {
			if (*s == '"' || *s == '\\' || *s == '=' || n >= outsize)
				return -1;
			out[n++] = *s++;
		}
		if (n == 0)
			return -1;	/* an empty value is always quoted */
	} else {
		for (s++;; s++) {
			if (!*s || n >= outsize)
				return -1;
			if (*s == '"') {
				s++;
				break;
			}
			if (*s == '\\') {
				s++;
				if (*s == '"' || *s == '\\')
					out[n++] = *s;
				else if (*s == 'x') {
					unsigned v;
					if (sscanf(s + 1, "%2x", &v) != 1)
						return -1;
					out[n++] = (char)v;
					s += 2;
				} else
					return -1;
			} else
				out[n++] = *s;
		}
	}
	if (*s == ' ')
		s++;
	else if (*s)
		return -1;
	*p = s;
	return (int)n;
}

static void
kv_check_round_trip(const char *value, size_t len)
{
	struct buf b;
	char key[16], out[512];

	buf_init(&b);
	assert_int_equal(kv_strn(&b, "first", value, len), 0);
	assert_int_equal(kv_uint(&b, "second", 7), 0);
	const char *line = buf_ptr(&b);
	for (size_t i = 0; i < buf_size(&b); i++) {
		unsigned char ch = (unsigned char)line[i];
		if (ch < 0x20 || ch >= 0x7f)
			fail_msg("byte 0x%02x in the output for a %zu-byte value", ch, len);
	}
	const char *p = line;
	int n = kv_read_field(&p, key, sizeof(key), out, sizeof(out));
	if (n < 0)
		fail_msg("unparsable: %s", line);
	assert_string_equal(key, "first");
	assert_int_equal((size_t)n, len);
	assert_memory_equal(out, value, len);
	n = kv_read_field(&p, key, sizeof(key), out, sizeof(out));
	if (n < 0)
		fail_msg("the second field is lost: %s", line);
	assert_string_equal(key, "second");
	assert_int_equal(n, 1);
	assert_int_equal(out[0], '7');
	assert_int_equal(*p, '\0');
	buf_free(&b);
}

/* Every byte, alone and between letters, and hostile mixes: the output is
 * printable ASCII, and reads back as exactly the two fields written. */
static void
test_kv_hostile(void **state)
{
	static const char *const mixes[] = {
		"a b", "a=b c=d", "\"", "\\", "\\\"", "\" x=y \"", "a\n\nb", "\r\n", "x\\x0a",
		"end\\", "=", " ", "  ", "\"\"", "\xc0\x80", "\xe2\x80\xa8", "k=v\nk=v",
	};
	char v[3];

	for (unsigned c = 0; c < 256; c++) {
		v[0] = (char)c;
		kv_check_round_trip(v, 1);
		v[0] = 'a';
		v[1] = (char)c;
		v[2] = 'b';
		kv_check_round_trip(v, 3);
	}
	for (size_t i = 0; i < sizeof(mixes) / sizeof(mixes[0]); i++)
		kv_check_round_trip(mixes[i], strlen(mixes[i]));
	/* Pseudo-random values of every byte. */
	uint32_t x = 12345;
	char r[64];
	for (int round = 0; round < 2000; round++) {
		size_t len = (size_t)(round % 64);
		for (size_t i = 0; i < len; i++) {
			x = x * 1103515245u + 12345u;
			r[i] = (char)(x >> 16);
		}
		kv_check_round_trip(r, len);
	}
}

static void
test_kv_other(void **state)
{
	struct buf b;

	buf_init(&b);
	assert_int_equal(kv_str(&b, "event", "answer"), 0);
	assert_int_equal(kv_str(&b, "reason", NULL), 0);
	assert_int_equal(kv_uint(&b, "n", 18446744073709551615ull), 0);
	assert_int_equal(kv_ms(&b, "t", 1234), 0);
	assert_int_equal(kv_ms(&b, "u", 5), 0);
	assert_int_equal(kv_ms(&b, "w", 0), 0);
	assert_int_equal(kv_ms(&b, "x", 12000000), 0);
	assert_string_equal(buf_ptr(&b),
	    "event=answer reason=\"\" n=18446744073709551615 t=1.234 u=0.005 w=0.000 x=12000.000");
	/* The first field has no leading space, even for numbers. */
	buf_reset(&b);
	assert_int_equal(kv_uint(&b, "n", 0), 0);
	assert_string_equal(buf_ptr(&b), "n=0");
	buf_reset(&b);
	assert_int_equal(kv_ms(&b, "t", 999), 0);
	assert_string_equal(buf_ptr(&b), "t=0.999");
	buf_free(&b);
}

/* Numbers read back only in the form kv_uint() writes, within bounds. */
static void
test_kv_number(void **state)
{
	uint64_t v = 7;

	assert_true(kv_number("0", 10, &v) && v == 0);
	assert_true(kv_number("65535", 65535, &v) && v == 65535);
	assert_true(kv_number("18446744073709551615", UINT64_MAX, &v) && v == UINT64_MAX);
	assert_true(kv_number("007", 10, &v) && v == 7);
	v = 3;
	assert_false(kv_number("65536", 65535, &v));
	assert_false(kv_number("18446744073709551616", UINT64_MAX, &v));
	assert_false(kv_number("99999999999999999999999", INT64_MAX, &v));
	assert_false(kv_number("", 10, &v));
	assert_false(kv_number("-1", 10, &v));
	assert_false(kv_number("+1", 10, &v));
	assert_false(kv_number(" 1", 10, &v));
	assert_false(kv_number("1 ", 10, &v));
	assert_false(kv_number("1x", 10, &v));
	assert_int_equal(v, 3);		/* untouched when refused */
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_kv_hostile),
		cmocka_unit_test(test_kv_other),
		cmocka_unit_test(test_kv_number),
	};
	struct table t = {0};

	TABLE_ADD(&t, kv_cases, kv_case, test_kv);
	TABLE_TESTS(&t, more);
	return table_run(&t, "kv");
}
