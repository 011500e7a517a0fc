/*
 * Unit tests: Postfix's socketmap protocol (lib/postfix/socketmap.h): a
 * request split into map name and key, replies with their status words,
 * and reply text that cannot break the netstring framing or exceed
 * Postfix's limit, whatever it holds.
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
#include "postfix/netstring.h"
#include "postfix/socketmap.h"
#include "table.h"

struct split_case {
	const char *name;
	const char *req;
	size_t len;		/* 0: strlen(req) */
	int rc;
	const char *map;
	const char *key;
	size_t key_len;		/* 0: strlen(key) */
};

static const struct split_case split_cases[] = {
	{"split: name and key", "tlspolicy example.org", 0, 0, "tlspolicy", "example.org", 0},
	{"split: at the first space", "a b c", 0, 0, "a", "b c", 0},
	{"split: key starting with a space", "tlspolicy  x", 0, 0, "tlspolicy", " x", 0},
	{"split: key of one byte", "m k", 0, 0, "m", "k", 0},
	{"split: binary key", "m a\0b", 5, 0, "m", "a\0b", 3},
	{"split: no space", "tlspolicy", 0, -1, NULL, NULL, 0},
	{"split: empty name", " example.org", 0, -1, NULL, NULL, 0},
	{"split: empty key", "tlspolicy ", 0, -1, NULL, NULL, 0},
	{"split: only a space", " ", 0, -1, NULL, NULL, 0},
	{"split: empty", "", 0, -1, NULL, NULL, 0},
	{"split: space past len", "tlspolicy example.org", 9, -1, NULL, NULL, 0},
	{"split: len stops at the space", "tlspolicy example.org", 10, -1, NULL, NULL, 0},
};

static const char *
split_case_name(const void *row)
{
	return ((const struct split_case *)row)->name;
}

static void
test_split(void **state)
{
	const struct split_case *c = *state;
	size_t len = c->len ? c->len : strlen(c->req);
	const char *name = NULL, *key = NULL;
	size_t nlen = 0, klen = 0;

	assert_int_equal(socketmap_split(c->req, len, &name, &nlen, &key, &klen), c->rc);
	if (c->rc < 0)
		return;
	assert_int_equal(nlen, strlen(c->map));
	assert_memory_equal(name, c->map, nlen);
	size_t want_klen = c->key_len ? c->key_len : strlen(c->key);
	assert_int_equal(klen, want_klen);
	assert_memory_equal(key, c->key, klen);
	assert_ptr_equal(name, c->req);
	assert_true(key + klen == c->req + len);
}

struct reply_case {
	const char *name;
	enum socketmap_status status;
	const char *text;
	const char *out;	/* the whole netstring */
};

static const struct reply_case reply_cases[] = {
	{"reply: NOTFOUND is exactly 9:NOTFOUND ,", SOCKETMAP_NOTFOUND, NULL, "9:NOTFOUND ,"},
	{"reply: NOTFOUND with empty text", SOCKETMAP_NOTFOUND, "", "9:NOTFOUND ,"},
	{"reply: OK", SOCKETMAP_OK, "dane-only", "12:OK dane-only,"},
	{"reply: OK with attributes", SOCKETMAP_OK, "secure match=nexthop:dot-nexthop",
	    "35:OK secure match=nexthop:dot-nexthop,"},
	{"reply: TEMP", SOCKETMAP_TEMP, "DNS timeout", "16:TEMP DNS timeout,"},
	{"reply: TIMEOUT", SOCKETMAP_TIMEOUT, "x", "9:TIMEOUT x,"},
	{"reply: PERM", SOCKETMAP_PERM, "malformed request", "22:PERM malformed request,"},
	{"reply: newline sanitised", SOCKETMAP_TEMP, "a\nb", "8:TEMP a?b,"},
	{"reply: control bytes sanitised", SOCKETMAP_PERM, "\x01\x1b\x7f\t\r", "10:PERM ?????,"},
	{"reply: high bytes sanitised", SOCKETMAP_TEMP, "caf\xc3\xa9", "10:TEMP caf??,"},
	{"reply: a forged netstring stays inside", SOCKETMAP_TEMP, "x,2:OK,", "12:TEMP x,2:OK,,"},
};

static const char *
reply_case_name(const void *row)
{
	return ((const struct reply_case *)row)->name;
}

static void
test_reply(void **state)
{
	const struct reply_case *c = *state;
	struct buf b;

	buf_init(&b);
	assert_int_equal(socketmap_reply(&b, c->status, c->text), 0);
	assert_int_equal(buf_size(&b), strlen(c->out));
	assert_memory_equal(buf_ptr(&b), c->out, buf_size(&b));
	/* And it reads back. */
	const char *payload, *text;
	size_t plen, used, tlen;
	enum socketmap_status st;
	assert_int_equal(netstring_parse(buf_ptr(&b), buf_size(&b), SOCKETMAP_MAX_REPLY, &payload, &plen, &used),
	    NETSTRING_OK);
	assert_int_equal(used, buf_size(&b));
	assert_int_equal(socketmap_parse_reply(payload, plen, &st, &text, &tlen), 0);
	assert_int_equal(st, c->status);
	buf_free(&b);
}

/* A reason of any length gives one netstring within Postfix's limit, the
 * prefix of the sanitised text. */
static void
test_reply_long(void **state)
{
	static const size_t lens[] = {1000, 1018, 1019, 1020, 1023, 1024, 5000, 200000};

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = lens[i];
		char *text = malloc(n + 1);
		assert_non_null(text);
		for (size_t j = 0; j < n; j++)
			text[j] = (j % 100 == 99) ? '\n' : (char)('a' + j % 26);
		text[n] = '\0';
		struct buf b;
		buf_init(&b);
		buf_puts(&b, "before");
		assert_int_equal(socketmap_reply(&b, SOCKETMAP_TEMP, text), 0);
		const char *payload;
		size_t plen, used;
		assert_int_equal(strncmp(buf_ptr(&b), "before", 6), 0);
		assert_int_equal(netstring_parse(buf_ptr(&b) + 6, buf_size(&b) - 6, SOCKETMAP_MAX_REPLY,
		    &payload, &plen, &used), NETSTRING_OK);
		assert_int_equal(used, buf_size(&b) - 6);
		assert_true(plen <= SOCKETMAP_MAX_REPLY);
		assert_true(plen > 5);
		assert_memory_equal(payload, "TEMP ", 5);
		for (size_t j = 5; j < plen; j++) {
			char want = text[j - 5] == '\n' ? '?' : text[j - 5];
			if (payload[j] != want)
				fail_msg("length %zu: byte %zu is 0x%02x", n, j, (unsigned char)payload[j]);
		}
		if (n <= 1000)
			assert_int_equal(plen, n + 5);
		buf_free(&b);
		free(text);
	}
}

static void
test_request(void **state)
{
	struct buf b;

	buf_init(&b);
	assert_int_equal(socketmap_request(&b, "tlspolicy", "example.org"), 0);
	assert_int_equal(socketmap_request(&b, "tlspolicy", "[mx.example.org]:587"), 0);
	assert_string_equal(buf_ptr(&b), "21:tlspolicy example.org,30:tlspolicy [mx.example.org]:587,");
	buf_free(&b);
}

struct parse_reply_case {
	const char *name;
	const char *payload;
	int rc;
	enum socketmap_status status;
	const char *text;
};

static const struct parse_reply_case parse_reply_cases[] = {
	{"parse reply: OK", "OK dane-only", 0, SOCKETMAP_OK, "dane-only"},
	{"parse reply: OK with spaces in the text", "OK secure match=a:b", 0, SOCKETMAP_OK, "secure match=a:b"},
	{"parse reply: NOTFOUND with its space", "NOTFOUND ", 0, SOCKETMAP_NOTFOUND, ""},
	{"parse reply: NOTFOUND alone", "NOTFOUND", 0, SOCKETMAP_NOTFOUND, ""},
	{"parse reply: TEMP", "TEMP no answer", 0, SOCKETMAP_TEMP, "no answer"},
	{"parse reply: TIMEOUT", "TIMEOUT slow", 0, SOCKETMAP_TIMEOUT, "slow"},
	{"parse reply: PERM", "PERM bad", 0, SOCKETMAP_PERM, "bad"},
	{"parse reply: OK with empty text", "OK", 0, SOCKETMAP_OK, ""},
	{"parse reply: text keeps a second space", "TEMP  x", 0, SOCKETMAP_TEMP, " x"},
	{"parse reply: lower case", "ok dane", -1, 0, NULL},
	{"parse reply: word run on", "OKAY dane", -1, 0, NULL},
	{"parse reply: NOTFOUND run on", "NOTFOUNDX", -1, 0, NULL},
	{"parse reply: unknown word", "MAYBE x", -1, 0, NULL},
	{"parse reply: leading space", " OK dane", -1, 0, NULL},
	{"parse reply: empty", "", -1, 0, NULL},
	{"parse reply: prefix of a word", "TEM", -1, 0, NULL},
};

static const char *
parse_reply_case_name(const void *row)
{
	return ((const struct parse_reply_case *)row)->name;
}

static void
test_parse_reply(void **state)
{
	const struct parse_reply_case *c = *state;
	enum socketmap_status st = (enum socketmap_status)99;
	const char *text = NULL;
	size_t tlen = 99;
	size_t n = strlen(c->payload);

	assert_int_equal(socketmap_parse_reply(c->payload, n, &st, &text, &tlen), c->rc);
	if (c->rc < 0)
		return;
	assert_int_equal(st, c->status);
	assert_int_equal(tlen, strlen(c->text));
	assert_memory_equal(text, c->text, tlen);
	assert_true(text >= c->payload && text + tlen == c->payload + n);
}

static void
test_status_names(void **state)
{
	assert_string_equal(socketmap_status_name(SOCKETMAP_OK), "OK");
	assert_string_equal(socketmap_status_name(SOCKETMAP_NOTFOUND), "NOTFOUND");
	assert_string_equal(socketmap_status_name(SOCKETMAP_TEMP), "TEMP");
	assert_string_equal(socketmap_status_name(SOCKETMAP_TIMEOUT), "TIMEOUT");
	assert_string_equal(socketmap_status_name(SOCKETMAP_PERM), "PERM");
	assert_string_equal(socketmap_status_name((enum socketmap_status)5), "?");
	assert_string_equal(socketmap_status_name((enum socketmap_status)-1), "?");
}

/* A reply that cannot fit is not written at all: half a netstring would
 * corrupt every later reply on the connection. */
static void
test_reply_atomic(void **state)
{
	struct buf b;
	static const size_t rooms[] = {1, 2, 3, 4, 5, 10, 20};

	for (size_t i = 0; i < sizeof(rooms) / sizeof(rooms[0]); i++) {
		buf_init(&b);
		size_t fill = BUF_MAX - 1 - rooms[i];
		char *p = buf_reserve(&b, fill);
		assert_non_null(p);
		memset(p, 'x', fill);
		buf_commit(&b, fill);
		int rc = socketmap_reply(&b, SOCKETMAP_TEMP, "a reason longer than the room left");
		char added[64];
		size_t n = buf_size(&b) - fill;
		snprintf(added, sizeof(added), "%.*s", (int)(n < 60 ? n : 60), buf_ptr(&b) + fill);
		buf_free(&b);
		assert_int_equal(rc, -1);
		if (n)
			fail_msg("room %zu: a failed reply appended %zu bytes: '%s'", rooms[i], n, added);
	}
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_reply_long),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_reply_atomic),
	};
	struct table t = {0};

	TABLE_ADD(&t, split_cases, split_case, test_split);
	TABLE_ADD(&t, reply_cases, reply_case, test_reply);
	TABLE_ADD(&t, parse_reply_cases, parse_reply_case, test_parse_reply);
	TABLE_TESTS(&t, more);
	return table_run(&t, "socketmap");
}
