/* Unit tests: netstring framing (partial reads, oversize, garbage, zero length). */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "postfix/netstring.h"
#include "table.h"

#define MAX 10000

struct parse_case {
	const char *name;
	const char *input;
	size_t len;		/* 0: strlen(input) */
	size_t max;
	int status;
	const char *payload;	/* when NETSTRING_OK */
	size_t payload_len;
	size_t consumed;
};

static const struct parse_case cases[] = {
	{"zero length", "0:,", 0, MAX, NETSTRING_OK, "", 0, 3},
	{"simple", "5:hello,", 0, MAX, NETSTRING_OK, "hello", 5, 8},
	{"first of two", "5:hello,5:world,", 0, MAX, NETSTRING_OK, "hello", 5, 8},
	{"postfix request", "19:tlspolicy good.test,", 0, MAX, NETSTRING_OK, "tlspolicy good.test", 19, 23},
	{"binary payload", "3:a\0b,", 6, MAX, NETSTRING_OK, "a\0b", 3, 6},
	{"partial: nothing", "", 0, MAX, NETSTRING_INCOMPLETE, NULL, 0, 0},
	{"partial: one digit", "1", 0, MAX, NETSTRING_INCOMPLETE, NULL, 0, 0},
	{"partial: length", "19", 0, MAX, NETSTRING_INCOMPLETE, NULL, 0, 0},
	{"partial: colon", "19:", 0, MAX, NETSTRING_INCOMPLETE, NULL, 0, 0},
	{"partial: half payload", "19:tlspolicy good.tes", 0, MAX, NETSTRING_INCOMPLETE, NULL, 0, 0},
	{"partial: no comma yet", "19:tlspolicy good.test", 0, MAX, NETSTRING_INCOMPLETE, NULL, 0, 0},
	{"garbage: no length", ":,", 0, MAX, NETSTRING_ERR_FORMAT, NULL, 0, 0},
	{"garbage: letter", "x", 0, MAX, NETSTRING_ERR_FORMAT, NULL, 0, 0},
	{"garbage: letter after digit", "5x", 0, MAX, NETSTRING_ERR_FORMAT, NULL, 0, 0},
	{"garbage: sign", "-1:,", 0, MAX, NETSTRING_ERR_FORMAT, NULL, 0, 0},
	{"garbage: leading space", " 5:hello,", 0, MAX, NETSTRING_ERR_FORMAT, NULL, 0, 0},
	{"garbage: leading zero", "05:hello,", 0, MAX, NETSTRING_ERR_FORMAT, NULL, 0, 0},
	{"garbage: double zero", "00:,", 0, MAX, NETSTRING_ERR_FORMAT, NULL, 0, 0},
	{"garbage: no comma", "5:hello;", 0, MAX, NETSTRING_ERR_FORMAT, NULL, 0, 0},
	{"garbage: length lies", "3:hello,", 0, MAX, NETSTRING_ERR_FORMAT, NULL, 0, 0},
	{"garbage: HTTP", "GET / HTTP/1.0\r\n", 0, MAX, NETSTRING_ERR_FORMAT, NULL, 0, 0},
	{"oversize: refused at the colon", "10001:", 0, MAX, NETSTRING_ERR_TOOLONG, NULL, 0, 0},
	{"oversize: refused from digits", "10001", 0, MAX, NETSTRING_ERR_TOOLONG, NULL, 0, 0},
	{"oversize: huge length", "99999999999999999999999999:", 0, MAX, NETSTRING_ERR_TOOLONG, NULL, 0, 0},
	{"at the limit: wait for it", "10000:", 0, MAX, NETSTRING_INCOMPLETE, NULL, 0, 0},
	{"oversize: small limit", "6:hello!,", 0, 5, NETSTRING_ERR_TOOLONG, NULL, 0, 0},
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
	size_t len = c->len ? c->len : strlen(c->input);
	const char *payload = NULL;
	size_t plen = 0, used = 0;

	assert_int_equal(netstring_parse(c->input, len, c->max, &payload, &plen, &used), c->status);
	if (c->status == NETSTRING_OK) {
		assert_int_equal(used, c->consumed);
		assert_int_equal(plen, c->payload_len);
		assert_ptr_equal(payload, c->input + (used - plen - 1));
		assert_memory_equal(payload, c->payload, plen);
	}
}

/* A valid stream fed one byte at a time is INCOMPLETE until its last byte. */
static void
test_byte_by_byte(void **state)
{
	const char *stream = "19:tlspolicy good.test,";
	size_t n = strlen(stream);
	const char *payload;
	size_t plen, used;

	for (size_t i = 0; i < n; i++)
		assert_int_equal(netstring_parse(stream, i, MAX, &payload, &plen, &used), NETSTRING_INCOMPLETE);
	assert_int_equal(netstring_parse(stream, n, MAX, &payload, &plen, &used), NETSTRING_OK);
	assert_int_equal(plen, 19);
	assert_int_equal(used, n);
}

static void
test_put_roundtrip(void **state)
{
	struct buf b;
	const char *payload;
	size_t plen, used;

	buf_init(&b);
	assert_int_equal(netstring_put(&b, "OK dane-only", 12), 0);
	assert_int_equal(netstring_put(&b, "", 0), 0);
	assert_string_equal(buf_ptr(&b), "12:OK dane-only,0:,");
	assert_int_equal(netstring_parse(buf_ptr(&b), buf_size(&b), MAX, &payload, &plen, &used), NETSTRING_OK);
	assert_int_equal(plen, 12);
	buf_consume(&b, used);
	assert_int_equal(netstring_parse(buf_ptr(&b), buf_size(&b), MAX, &payload, &plen, &used), NETSTRING_OK);
	assert_int_equal(plen, 0);
	buf_free(&b);
}

static void
test_strerror(void **state)
{
	assert_string_equal(netstring_strerror(NETSTRING_ERR_TOOLONG), "netstring too long");
	assert_string_equal(netstring_strerror(NETSTRING_ERR_FORMAT), "malformed netstring");
	assert_string_equal(netstring_strerror(42), "unknown netstring status");
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_put_roundtrip),
		cmocka_unit_test(test_strerror),
	};
	struct table t = {0};

	TABLE_ADD(&t, cases, parse_case, test_parse);
	TABLE_TESTS(&t, more);
	return table_run(&t, "netstring");
}
