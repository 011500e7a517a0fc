/*
 * Unit tests: the small pure modules - kv (log fields), socketmap (the
 * protocol words), tlsa (records and their usability), rr (wire names and
 * rdata), buf (the byte buffer) and endpoint (listener addresses).
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "util/buf.h"
#include "util/endpoint.h"
#include "util/kv.h"
#include "postfix/netstring.h"
#include "dns/rr.h"
#include "postfix/socketmap.h"
#include "table.h"
#include "rules/tlsa.h"

static void in_child(const char *name);

/* ==== kv ==== */

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

/* ==== socketmap ==== */

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

/* ==== tlsa ==== */

struct tlsa_case {
	const char *name;
	uint8_t usage, selector, mtype;
	size_t len;		/* association data bytes */
	bool usable;
	const char *why;	/* a substring of the reason */
};

static const struct tlsa_case tlsa_cases[] = {
	{"tlsa: 3 1 1 usable", 3, 1, 1, 32, true, NULL},
	{"tlsa: 2 0 1 usable", 2, 0, 1, 32, true, NULL},
	{"tlsa: 3 0 2 usable", 3, 0, 2, 64, true, NULL},
	/* Full data is usable only when it decodes: see test_tlsa_full. */
	{"tlsa: 3 1 0 of 300 bytes that are no key", 3, 1, 0, 300, false, "SubjectPublicKeyInfo"},
	{"tlsa: 2 1 0 one byte of full data", 2, 1, 0, 1, false, "SubjectPublicKeyInfo"},
	{"tlsa: 3 0 0 of 300 bytes that are no certificate", 3, 0, 0, 300, false, "certificate"},
	{"tlsa: usage 0 PKIX-TA", 0, 1, 1, 32, false, "PKIX"},
	{"tlsa: usage 1 PKIX-EE", 1, 1, 1, 32, false, "PKIX"},
	{"tlsa: usage 4 unknown", 4, 1, 1, 32, false, "unknown certificate usage"},
	{"tlsa: usage 255 unknown", 255, 1, 1, 32, false, "unknown certificate usage"},
	{"tlsa: selector 2", 3, 2, 1, 32, false, "unknown selector"},
	{"tlsa: selector 255", 3, 255, 1, 32, false, "unknown selector"},
	{"tlsa: matching type 3", 3, 1, 3, 32, false, "unknown matching type"},
	{"tlsa: matching type 255", 3, 1, 255, 32, false, "unknown matching type"},
	{"tlsa: SHA-256 of 31 bytes", 3, 1, 1, 31, false, "SHA-256"},
	{"tlsa: SHA-256 of 33 bytes", 3, 1, 1, 33, false, "SHA-256"},
	{"tlsa: SHA-256 of 64 bytes", 3, 1, 1, 64, false, "SHA-256"},
	{"tlsa: SHA-256 empty", 3, 1, 1, 0, false, "SHA-256"},
	{"tlsa: SHA-512 of 63 bytes", 3, 1, 2, 63, false, "SHA-512"},
	{"tlsa: SHA-512 of 65 bytes", 3, 1, 2, 65, false, "SHA-512"},
	{"tlsa: SHA-512 of 32 bytes", 3, 1, 2, 32, false, "SHA-512"},
	{"tlsa: empty full data", 3, 1, 0, 0, false, "empty"},
	{"tlsa: PKIX wins over a bad digest", 1, 1, 1, 31, false, "PKIX"},
};

static const char *
tlsa_case_name(const void *row)
{
	return ((const struct tlsa_case *)row)->name;
}

static void
test_tlsa(void **state)
{
	const struct tlsa_case *c = *state;
	unsigned char rdata[3 + 512];
	struct tlsa_record r;
	const char *why = "untouched";

	rdata[0] = c->usage;
	rdata[1] = c->selector;
	rdata[2] = c->mtype;
	for (size_t i = 0; i < c->len; i++)
		rdata[3 + i] = (unsigned char)(i * 7 + 1);
	assert_int_equal(tlsa_parse(rdata, 3 + c->len, &r), 0);
	assert_int_equal(r.usage, c->usage);
	assert_int_equal(r.selector, c->selector);
	assert_int_equal(r.mtype, c->mtype);
	assert_ptr_equal(r.data, rdata + 3);
	assert_int_equal(r.len, c->len);
	assert_int_equal(tlsa_usable(&r, &why), c->usable);
	if (c->usable)
		assert_string_equal(why, "untouched");
	else {
		assert_non_null(why);
		if (!strstr(why, c->why))
			fail_msg("reason '%s', want '%s'", why, c->why);
	}
}

static void
test_tlsa_short(void **state)
{
	static const unsigned char rdata[] = {3, 1, 1};
	struct tlsa_record r;

	assert_int_equal(tlsa_parse(rdata, 0, &r), -1);
	assert_int_equal(tlsa_parse(rdata, 1, &r), -1);
	assert_int_equal(tlsa_parse(rdata, 2, &r), -1);
	assert_int_equal(tlsa_parse(rdata, 3, &r), 0);
	assert_int_equal(r.len, 0);
}

/* A throw-away EC key and self-signed certificate, in DER. */
static void
make_der(struct buf *cert, struct buf *spki)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	unsigned char *der = NULL;
	int n;

	assert_non_null(key);
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"mx.example", -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(x)), 1);
	assert_int_equal(X509_set_pubkey(x, key), 1);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	assert_true((n = i2d_X509(x, &der)) > 0);
	buf_append(cert, der, (size_t)n);
	OPENSSL_free(der);
	der = NULL;
	assert_true((n = i2d_PUBKEY(key, &der)) > 0);
	buf_append(spki, der, (size_t)n);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(key);
}

static bool
full_usable(uint8_t selector, const void *data, size_t len, const char **why)
{
	unsigned char rdata[3 + 2048] = {3, selector, 0};
	struct tlsa_record r;

	assert_true(len <= sizeof(rdata) - 3);
	memcpy(rdata + 3, data, len);
	assert_int_equal(tlsa_parse(rdata, 3 + len, &r), 0);
	return tlsa_usable(&r, why);
}

/* Matching type 0: usable only when the data decodes over its whole
 * length, as OpenSSL's DANE requires ("3 1 0 00" matches nothing). */
static void
test_tlsa_full(void **state)
{
	struct buf cert, spki;
	const char *why = NULL;

	buf_init(&cert);
	buf_init(&spki);
	make_der(&cert, &spki);
	const unsigned char *c = (const unsigned char *)buf_ptr(&cert), *k = (const unsigned char *)buf_ptr(&spki);
	size_t clen = buf_size(&cert), klen = buf_size(&spki);
	unsigned char longer[2048], zero = 0;

	assert_true(full_usable(1, k, klen, &why));
	assert_true(full_usable(0, c, clen, &why));
	assert_false(full_usable(1, &zero, 1, &why));
	assert_non_null(strstr(why, "SubjectPublicKeyInfo"));
	assert_false(full_usable(0, &zero, 1, &why));
	assert_non_null(strstr(why, "certificate"));
	/* A key where a certificate belongs, and the other way round. */
	assert_false(full_usable(0, k, klen, &why));
	assert_false(full_usable(1, c, clen, &why));
	/* Cut short by a byte, or a byte too long. */
	assert_false(full_usable(1, k, klen - 1, &why));
	assert_false(full_usable(0, c, clen - 1, &why));
	memcpy(longer, k, klen);
	longer[klen] = 0;
	assert_false(full_usable(1, longer, klen + 1, &why));
	memcpy(longer, c, clen);
	longer[clen] = 0;
	assert_false(full_usable(0, longer, clen + 1, &why));
	buf_free(&cert);
	buf_free(&spki);
}

static void
test_tlsa_format(void **state)
{
	static const unsigned char rdata[] = {3, 1, 1, 0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff};
	static const unsigned char other[] = {2, 0, 0, 0x5a};
	struct tlsa_record r;
	struct buf b;

	buf_init(&b);
	assert_int_equal(tlsa_parse(rdata, sizeof(rdata), &r), 0);
	buf_puts(&b, "record ");
	assert_int_equal(tlsa_format(&r, &b), 0);
	/* Hex is case-insensitive in presentation form. */
	if (strcasecmp(buf_ptr(&b), "record 3 1 1 00017F80ABCDEFFF") != 0)
		fail_msg("got '%s'", buf_ptr(&b));
	assert_int_equal(buf_size(&b), strlen("record 3 1 1 00017F80ABCDEFFF"));
	buf_reset(&b);
	assert_int_equal(tlsa_parse(other, sizeof(other), &r), 0);
	assert_int_equal(tlsa_format(&r, &b), 0);
	if (strcasecmp(buf_ptr(&b), "2 0 0 5A") != 0)
		fail_msg("got '%s'", buf_ptr(&b));
	/* A full SHA-512 record: 128 hex digits. */
	unsigned char big[3 + 64] = {3, 1, 2};
	memset(big + 3, 0xee, 64);
	buf_reset(&b);
	assert_int_equal(tlsa_parse(big, sizeof(big), &r), 0);
	assert_int_equal(tlsa_format(&r, &b), 0);
	assert_int_equal(buf_size(&b), 6 + 128);
	assert_int_equal(strspn(buf_ptr(&b) + 6, "eE"), 128);
	buf_free(&b);
}

/* ==== rr ==== */

struct name_case {
	const char *name;
	const char *wire;
	size_t len;
	int rc;			/* bytes consumed, or -1 */
	const char *text;
};

#define W(s) s, sizeof(s) - 1

static const struct name_case name_cases[] = {
	{"rr_name: two labels", W("\x07" "example" "\x03" "org" "\x00"), 13, "example.org"},
	{"rr_name: root", W("\x00"), 1, "."},
	{"rr_name: lower-cased", W("\x02" "MX" "\x07" "ExAmPlE" "\x00"), 12, "mx.example"},
	{"rr_name: trailing bytes not consumed", W("\x01" "a" "\x00" "garbage"), 3, "a"},
	{"rr_name: hyphen and underscore kept", W("\x04" "_25-" "\x00"), 6, "_25-"},
	{"rr_name: label of 63", W("\x3f" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "\x00"), 65,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
	{"rr_name: label of 64", W("\x40" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "\x00"), -1, NULL},
	{"rr_name: compression pointer", W("\xc0\x0c"), -1, NULL},
	{"rr_name: pointer after a label", W("\x03" "www" "\xc0\x0c"), -1, NULL},
	{"rr_name: extended label type", W("\x41\x00"), -1, NULL},
	{"rr_name: label past the end", W("\x07" "exam"), -1, NULL},
	{"rr_name: no terminating zero", W("\x03" "org"), -1, NULL},
	{"rr_name: length byte only", W("\x05"), -1, NULL},
	{"rr_name: empty input", "", 0, -1, NULL},
	{"rr_name: dot inside a label", W("\x03" "a.b" "\x03" "org" "\x00"), 9, "a?b.org"},
	{"rr_name: NUL inside a label", W("\x03" "a\0b" "\x00"), 5, "a?b"},
	{"rr_name: space inside a label", W("\x03" "a b" "\x00"), 5, "a?b"},
	{"rr_name: newline inside a label", W("\x03" "a\nb" "\x00"), 5, "a?b"},
	{"rr_name: DEL and high bytes", W("\x03" "\x7f\x80\xff" "\x00"), 5, "???"},
};

static const char *
name_case_name(const void *row)
{
	return ((const struct name_case *)row)->name;
}

static void
test_rr_name(void **state)
{
	const struct name_case *c = *state;
	char dst[NEXTHOP_NAME_MAX + 1];
	/* A private copy, so that a read past len is caught by valgrind/ASan. */
	unsigned char *wire = malloc(c->len ? c->len : 1);

	assert_non_null(wire);
	memcpy(wire, c->wire, c->len);
	int rc = rr_name(wire, c->len, dst);
	free(wire);
	assert_int_equal(rc, c->rc);
	if (c->rc >= 0)
		assert_string_equal(dst, c->text);
}

/* Wire form of labels of the given text lengths, each filled with a letter. */
static size_t
build_name(unsigned char *wire, const unsigned *labels, size_t n, char *text)
{
	size_t w = 0, t = 0;

	for (size_t i = 0; i < n; i++) {
		wire[w++] = (unsigned char)labels[i];
		if (i)
			text[t++] = '.';
		for (unsigned j = 0; j < labels[i]; j++) {
			wire[w++] = (unsigned char)('a' + i % 26);
			text[t++] = (char)('a' + i % 26);
		}
	}
	wire[w++] = 0;
	text[t] = '\0';
	return w;
}

/* 253 text bytes is the most a name may have; 254 is refused, and nothing
 * is ever written past dst[NEXTHOP_NAME_MAX]. */
static void
test_rr_name_lengths(void **state)
{
	static const unsigned l253[] = {63, 63, 63, 61};
	static const unsigned l254[] = {63, 63, 63, 62};
	static const unsigned l255[] = {63, 63, 63, 63};
	static const unsigned many[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};	/* 127 labels: 253 bytes */
	unsigned char wire[600];
	char text[600];
	char *dst = malloc(NEXTHOP_NAME_MAX + 1);

	assert_non_null(dst);
	size_t n = build_name(wire, l253, 4, text);
	assert_int_equal(strlen(text), 253);
	assert_int_equal(rr_name(wire, n, dst), (int)n);
	assert_string_equal(dst, text);

	n = build_name(wire, many, sizeof(many) / sizeof(many[0]), text);
	assert_int_equal(strlen(text), 253);
	assert_int_equal(rr_name(wire, n, dst), (int)n);
	assert_string_equal(dst, text);

	n = build_name(wire, l254, 4, text);
	assert_int_equal(strlen(text), 254);
	assert_int_equal(rr_name(wire, n, dst), -1);
	n = build_name(wire, l255, 4, text);
	assert_int_equal(rr_name(wire, n, dst), -1);
	/* 128 one-byte labels: 255 text bytes. */
	unsigned more[128];
	for (size_t i = 0; i < 128; i++)
		more[i] = 1;
	n = build_name(wire, more, 128, text);
	assert_int_equal(rr_name(wire, n, dst), -1);
	free(dst);
}

struct mx_case {
	const char *name;
	const char *rdata;
	size_t len;
	int rc;
	uint16_t pref;
	const char *exchange;
};

static const struct mx_case mx_cases[] = {
	{"rr_mx: preference and name", W("\x00\x0a" "\x02" "mx" "\x07" "example" "\x03" "org" "\x00"), 0, 10,
	    "mx.example.org"},
	{"rr_mx: null MX", W("\x00\x00\x00"), 0, 0, "."},
	{"rr_mx: highest preference", W("\xff\xff" "\x01" "a" "\x00"), 0, 65535, "a"},
	{"rr_mx: upper case lowered", W("\x01\x00" "\x02" "MX" "\x00"), 0, 256, "mx"},
	{"rr_mx: trailing garbage after the name", W("\x00\x0a" "\x02" "mx" "\x00" "x"), -1, 0, NULL},
	{"rr_mx: trailing zero byte", W("\x00\x0a" "\x00" "\x00"), -1, 0, NULL},
	{"rr_mx: name runs past the end", W("\x00\x0a" "\x05" "mx"), -1, 0, NULL},
	{"rr_mx: no terminating zero", W("\x00\x0a" "\x02" "mx"), -1, 0, NULL},
	{"rr_mx: compression pointer", W("\x00\x0a" "\xc0\x0c"), -1, 0, NULL},
	{"rr_mx: label over 63", W("\x00\x0a" "\x40" "a"), -1, 0, NULL},
	{"rr_mx: preference only", W("\x00\x0a"), -1, 0, NULL},
	{"rr_mx: one byte", W("\x00"), -1, 0, NULL},
	{"rr_mx: empty", "", 0, -1, 0, NULL},
	{"rr_mx: dot in a label", W("\x00\x01" "\x03" "m.x" "\x00"), 0, 1, "m?x"},
};

static const char *
mx_case_name(const void *row)
{
	return ((const struct mx_case *)row)->name;
}

static void
test_rr_mx(void **state)
{
	const struct mx_case *c = *state;
	char exchange[NEXTHOP_NAME_MAX + 1];
	uint16_t pref = 12345;
	unsigned char *rdata = malloc(c->len ? c->len : 1);

	assert_non_null(rdata);
	memcpy(rdata, c->rdata, c->len);
	int rc = rr_mx(rdata, c->len, &pref, exchange);
	free(rdata);
	assert_int_equal(rc, c->rc);
	if (c->rc == 0) {
		assert_int_equal(pref, c->pref);
		assert_string_equal(exchange, c->exchange);
	}
}

struct addr_case {
	const char *name;
	uint16_t type;
	const char *rdata;
	size_t len;
	size_t size;		/* of dst; 0: INET6_ADDRSTRLEN */
	int rc;
	const char *text;
};

static const struct addr_case addr_cases[] = {
	{"rr_address: A", RR_TYPE_A, W("\xc0\x00\x02\x01"), 0, 0, "192.0.2.1"},
	{"rr_address: A all ones", RR_TYPE_A, W("\xff\xff\xff\xff"), 0, 0, "255.255.255.255"},
	{"rr_address: AAAA", RR_TYPE_AAAA, W("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01"), 0, 0, "2001:db8::1"},
	{"rr_address: AAAA v4-mapped", RR_TYPE_AAAA, W("\0\0\0\0\0\0\0\0\0\0\xff\xff\xc0\x00\x02\x01"), 0, 0,
	    "::ffff:192.0.2.1"},
	{"rr_address: A of 3 bytes", RR_TYPE_A, W("\xc0\x00\x02"), 0, -1, NULL},
	{"rr_address: A of 5 bytes", RR_TYPE_A, W("\xc0\x00\x02\x01\x01"), 0, -1, NULL},
	{"rr_address: A of 16 bytes", RR_TYPE_A, W("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01"), 0, -1, NULL},
	{"rr_address: AAAA of 4 bytes", RR_TYPE_AAAA, W("\xc0\x00\x02\x01"), 0, -1, NULL},
	{"rr_address: AAAA of 15 bytes", RR_TYPE_AAAA, W("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0"), 0, -1, NULL},
	{"rr_address: empty A", RR_TYPE_A, "", 0, 0, -1, NULL},
	{"rr_address: MX type", RR_TYPE_MX, W("\xc0\x00\x02\x01"), 0, -1, NULL},
	{"rr_address: dst too small", RR_TYPE_A, W("\xc0\x00\x02\x01"), 9, -1, NULL},
	{"rr_address: dst just fits", RR_TYPE_A, W("\xc0\x00\x02\x01"), 10, 0, "192.0.2.1"},
};

static const char *
addr_case_name(const void *row)
{
	return ((const struct addr_case *)row)->name;
}

static void
test_rr_address(void **state)
{
	const struct addr_case *c = *state;
	char dst[INET6_ADDRSTRLEN];
	size_t size = c->size ? c->size : sizeof(dst);

	assert_int_equal(rr_address(c->type, (const unsigned char *)c->rdata, c->len, dst, size), c->rc);
	if (c->rc == 0)
		assert_string_equal(dst, c->text);
}

static void
test_rr_type_names(void **state)
{
	assert_string_equal(rr_type_name(RR_TYPE_A), "A");
	assert_string_equal(rr_type_name(RR_TYPE_AAAA), "AAAA");
	assert_string_equal(rr_type_name(RR_TYPE_MX), "MX");
	assert_string_equal(rr_type_name(RR_TYPE_TLSA), "TLSA");
	assert_string_equal(rr_type_name(RR_TYPE_CNAME), "CNAME");
	assert_string_equal(rr_type_name(99), "TYPE?");
}

/* ==== buf ==== */

static void
test_buf_empty(void **state)
{
	struct buf b;

	buf_init(&b);
	assert_string_equal(buf_ptr(&b), "");
	assert_int_equal(buf_size(&b), 0);
	buf_consume(&b, 5);
	buf_reset(&b);
	assert_int_equal(buf_size(&b), 0);
	assert_int_equal(buf_terminate(&b), 0);
	assert_string_equal(buf_ptr(&b), "");
	buf_free(&b);
	buf_free(&b);	/* free leaves it initialised */
	assert_int_equal(buf_size(&b), 0);
	assert_string_equal(buf_ptr(&b), "");
}

/* Appends of every size, checked byte for byte, with the NUL after. */
static void
test_buf_growth(void **state)
{
	struct buf b;
	size_t total = 0;
	char chunk[5000];

	buf_init(&b);
	for (size_t n = 0; total < 1000000; n = (n * 7 + 13) % sizeof(chunk)) {
		for (size_t i = 0; i < n; i++)
			chunk[i] = (char)((total + i) % 251);
		assert_int_equal(buf_append(&b, chunk, n), 0);
		total += n;
		assert_int_equal(buf_size(&b), total);
		assert_int_equal(buf_ptr(&b)[total], '\0');
	}
	for (size_t i = 0; i < total; i++)
		if (buf_ptr(&b)[i] != (char)(i % 251))
			fail_msg("byte %zu", i);
	/* reset keeps the storage but empties. */
	buf_reset(&b);
	assert_int_equal(buf_size(&b), 0);
	assert_string_equal(buf_ptr(&b), "");
	buf_free(&b);
}

static void
test_buf_binary(void **state)
{
	struct buf b;

	buf_init(&b);
	assert_int_equal(buf_append(&b, "a\0b", 3), 0);
	assert_int_equal(buf_putc(&b, '\0'), 0);
	assert_int_equal(buf_size(&b), 4);
	assert_memory_equal(buf_ptr(&b), "a\0b\0", 4);
	buf_free(&b);
}

/* Appending nothing from nowhere is a no-op, with or without room (a
 * child: under --enable-sanitizers a memcpy from NULL aborts). */
static int
append_null_empty(void)
{
	struct buf b;
	int rc = 0;

	buf_init(&b);
	if (buf_append(&b, NULL, 0) != 0 || buf_size(&b) != 0)
		rc = 10;
	buf_puts(&b, "abc");
	if (buf_append(&b, NULL, 0) != 0 || buf_size(&b) != 3 || strcmp(buf_ptr(&b), "abc") != 0)
		rc = 11;
	buf_free(&b);
	return rc;
}

static void
test_buf_append_nothing(void **state)
{
	in_child("append-null-empty");
}

static void
test_buf_consume(void **state)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "hello world");
	buf_consume(&b, 6);
	assert_int_equal(buf_size(&b), 5);
	assert_string_equal(buf_ptr(&b), "world");
	buf_consume(&b, 0);
	assert_string_equal(buf_ptr(&b), "world");
	buf_puts(&b, "!");
	assert_string_equal(buf_ptr(&b), "world!");
	buf_consume(&b, 6);
	assert_int_equal(buf_size(&b), 0);
	assert_string_equal(buf_ptr(&b), "");
	buf_puts(&b, "abc");
	buf_consume(&b, 100);	/* more than there is */
	assert_int_equal(buf_size(&b), 0);
	assert_string_equal(buf_ptr(&b), "");
	buf_free(&b);
}

/* Consuming from the front while appending at the back, as a connection's
 * input buffer does: the data stays right through every compaction. */
static void
test_buf_stream(void **state)
{
	struct buf b;
	unsigned long next_in = 0, next_out = 0;
	char chunk[700];

	size_t most = 0;

	buf_init(&b);
	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)(round * 37 % (int)sizeof(chunk));
		for (size_t i = 0; i < n; i++)
			chunk[i] = (char)(next_in++ % 253);
		assert_int_equal(buf_append(&b, chunk, n), 0);
		if (buf_size(&b) > most)
			most = buf_size(&b);
		size_t take = buf_size(&b) * (size_t)(round % 5) / 4;
		for (size_t i = 0; i < take; i++)
			if (buf_ptr(&b)[i] != (char)((next_out + i) % 253))
				fail_msg("round %d byte %zu", round, i);
		next_out += take;
		buf_consume(&b, take);
		assert_int_equal(buf_size(&b), next_in - next_out);
		if (buf_size(&b))
			assert_int_equal(buf_ptr(&b)[buf_size(&b)], '\0');
	}
	/* Compaction reuses the consumed space: the storage never grew past
	 * twice the most data held at once. */
	if (b.cap > 256 && b.cap > 2 * (most + 1))
		fail_msg("capacity %zu for at most %zu bytes of data", b.cap, most);
	buf_free(&b);
}

static void
test_buf_detach(void **state)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "hello world");
	buf_consume(&b, 6);
	char *s = buf_detach(&b);
	assert_non_null(s);
	assert_string_equal(s, "world");
	assert_int_equal(buf_size(&b), 0);
	assert_string_equal(buf_ptr(&b), "");
	free(s);
	/* The buffer is usable again. */
	buf_puts(&b, "again");
	assert_string_equal(buf_ptr(&b), "again");
	buf_free(&b);
	/* Detaching an empty buffer gives an empty string to free. */
	buf_init(&b);
	s = buf_detach(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	buf_free(&b);
	/* Everything consumed. */
	buf_puts(&b, "xyz");
	buf_consume(&b, 3);
	s = buf_detach(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
}

static void
check_printf(size_t pre, size_t n)
{
	struct buf b;
	char *s = malloc(n + 1);

	assert_non_null(s);
	for (size_t j = 0; j < n; j++)
		s[j] = (char)('A' + j % 26);
	s[n] = '\0';
	buf_init(&b);
	for (size_t j = 0; j < pre; j++)
		buf_putc(&b, '.');
	buf_consume(&b, pre / 2);	/* data not at the start of the storage */
	assert_int_equal(buf_printf(&b, "<%s>%zu", s, n), 0);
	size_t kept = pre - pre / 2;
	size_t want_len = kept + n + 2 + (size_t)snprintf(NULL, 0, "%zu", n);
	if (buf_size(&b) != want_len)
		fail_msg("pre %zu, n %zu: %zu bytes, want %zu", pre, n, buf_size(&b), want_len);
	const char *p = buf_ptr(&b) + kept;
	assert_int_equal(p[0], '<');
	if (memcmp(p + 1, s, n) != 0 || p[n + 1] != '>' || strtoul(p + n + 2, NULL, 10) != n)
		fail_msg("pre %zu, n %zu: wrong text", pre, n);
	assert_int_equal(buf_ptr(&b)[buf_size(&b)], '\0');
	buf_free(&b);
	free(s);
}

/* Formatted text of every length around the buffer's first sizes, after
 * data already there: the text is whole, the NUL after it. */
static void
test_buf_printf(void **state)
{
	static const size_t pres[] = {0, 1, 73, 127, 128, 200, 255, 256, 300};
	static const size_t big[] = {1000, 4095, 4096, 4097, 100000};
	struct buf b;

	buf_init(&b);
	assert_int_equal(buf_printf(&b, "%d-%s", 42, "x"), 0);
	assert_string_equal(buf_ptr(&b), "42-x");
	assert_int_equal(buf_printf(&b, "%s", ""), 0);
	assert_string_equal(buf_ptr(&b), "42-x");
	buf_free(&b);
	for (size_t i = 0; i < sizeof(pres) / sizeof(pres[0]); i++) {
		for (size_t n = 0; n < 600; n++)
			check_printf(pres[i], n);
		for (size_t j = 0; j < sizeof(big) / sizeof(big[0]); j++)
			check_printf(pres[i], big[j]);
	}
}

/* Growth past BUF_MAX fails and leaves the buffer as it was. */
static void
test_buf_max(void **state)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "keep");
	assert_null(buf_reserve(&b, BUF_MAX));
	assert_null(buf_reserve(&b, SIZE_MAX));
	assert_null(buf_reserve(&b, BUF_MAX - 4));
	assert_int_equal(buf_append(&b, "x", SIZE_MAX / 2), -1);
	assert_string_equal(buf_ptr(&b), "keep");
	char *p = buf_reserve(&b, BUF_MAX - 5);
	assert_non_null(p);
	memset(p, 'z', BUF_MAX - 5);
	buf_commit(&b, BUF_MAX - 5);
	assert_int_equal(buf_size(&b), BUF_MAX - 1);
	assert_int_equal(buf_putc(&b, 'y'), -1);
	assert_int_equal(buf_printf(&b, "%s", "y"), -1);
	assert_int_equal(buf_size(&b), BUF_MAX - 1);
	assert_memory_equal(buf_ptr(&b), "keepzzz", 7);
	assert_int_equal(buf_ptr(&b)[BUF_MAX - 2], 'z');
	assert_int_equal(buf_ptr(&b)[BUF_MAX - 1], '\0');
	buf_free(&b);
}

struct uint_case {
	const char *name;
	uint64_t v;
	unsigned min_digits;
	const char *out;
};

static const struct uint_case uint_cases[] = {
	{"buf_put_uint: zero", 0, 1, "0"},
	{"buf_put_uint: zero, no minimum", 0, 0, "0"},
	{"buf_put_uint: zero padded", 0, 3, "000"},
	{"buf_put_uint: padded", 5, 3, "005"},
	{"buf_put_uint: padding not needed", 1234, 3, "1234"},
	{"buf_put_uint: exactly the minimum", 999, 3, "999"},
	{"buf_put_uint: powers of ten", 1000000, 1, "1000000"},
	{"buf_put_uint: largest", UINT64_MAX, 1, "18446744073709551615"},
	{"buf_put_uint: largest padded", UINT64_MAX, 22, "0018446744073709551615"},
};

static const char *
uint_case_name(const void *row)
{
	return ((const struct uint_case *)row)->name;
}

static void
test_put_uint(void **state)
{
	const struct uint_case *c = *state;
	struct buf b;

	buf_init(&b);
	assert_int_equal(buf_put_uint(&b, c->v, c->min_digits), 0);
	assert_string_equal(buf_ptr(&b), c->out);
	/* After other data, and across the first growth. */
	buf_reset(&b);
	for (int i = 0; i < 250; i++)
		buf_putc(&b, '.');
	assert_int_equal(buf_put_uint(&b, c->v, c->min_digits), 0);
	assert_string_equal(buf_ptr(&b) + 250, c->out);
	assert_int_equal(buf_size(&b), 250 + strlen(c->out));
	buf_free(&b);
}

/* Some checks run in a child process (this program again, with --child
 * NAME), so that a crash is a failed test, not a dead test program, and a
 * child under valgrind exits cleanly. */
static const char *self_path;
extern char **environ;

static void
in_child(const char *name)
{
	char *argv[] = {(char *)(uintptr_t)self_path, (char *)(uintptr_t)"--child", (char *)(uintptr_t)name, NULL};
	pid_t pid;
	int status;

	fflush(NULL);
	if (posix_spawn(&pid, self_path, NULL, NULL, argv, environ) != 0)
		fail_msg("cannot run %s", self_path);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("%s: killed by signal %d", name, WTERMSIG(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("%s: exit %d", name, WEXITSTATUS(status));
}

static int
absurd_append(void)
{
	static const size_t lens[] = {SIZE_MAX, SIZE_MAX - 4, SIZE_MAX - 100, SIZE_MAX / 2, BUF_MAX};
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "keep");
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		if (buf_append(&b, "x", lens[i]) != -1 || buf_size(&b) != 4 || strcmp(buf_ptr(&b), "keep") != 0)
			return 10 + (int)i;
	buf_free(&b);
	return 0;
}

/* A length no buffer can hold is refused, whatever the room there is. */
static void
test_buf_absurd_length(void **state)
{
	in_child("absurd-append");
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

/* ==== endpoint ==== */

struct endpoint_case {
	const char *name;
	const char *spec;
	int rc;
	int family;		/* AF_INET, AF_INET6, AF_UNIX */
	const char *addr;	/* address text, or the unix path */
	unsigned port;
	const char *err;	/* a substring of the error */
};

static const struct endpoint_case endpoint_cases[] = {
	{"endpoint: IPv4", "inet:127.0.0.1:7672", 0, AF_INET, "127.0.0.1", 7672, NULL},
	{"endpoint: IPv4 any", "inet:0.0.0.0:25", 0, AF_INET, "0.0.0.0", 25, NULL},
	{"endpoint: IPv4 port 65535", "inet:192.0.2.1:65535", 0, AF_INET, "192.0.2.1", 65535, NULL},
	{"endpoint: IPv6 loopback", "inet:[::1]:7672", 0, AF_INET6, "::1", 7672, NULL},
	{"endpoint: IPv6 address", "inet:[2001:db8::25]:10025", 0, AF_INET6, "2001:db8::25", 10025, NULL},
	{"endpoint: unix", "unix:/run/tlspolicyd/socketmap", 0, AF_UNIX, "/run/tlspolicyd/socketmap", 0, NULL},
	{"endpoint: unix root", "unix:/", 0, AF_UNIX, "/", 0, NULL},
	{"endpoint: unix relative", "unix:run/sock", -1, 0, NULL, 0, "absolute path"},
	{"endpoint: unix empty", "unix:", -1, 0, NULL, 0, "absolute path"},
	{"endpoint: unix path too long",
	    "unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    -1, 0, NULL, 0, "longer than 107 bytes"},
	{"endpoint: no port", "inet:127.0.0.1", -1, 0, NULL, 0, "expected inet:ADDR:PORT"},
	{"endpoint: empty port", "inet:127.0.0.1:", -1, 0, NULL, 0, "expected inet:ADDR:PORT"},
	{"endpoint: empty address", "inet::25", -1, 0, NULL, 0, "expected inet:ADDR:PORT"},
	{"endpoint: IPv6 without port", "inet:[::1]", -1, 0, NULL, 0, "port must be a number"},
	{"endpoint: port name", "inet:127.0.0.1:smtp", -1, 0, NULL, 0, "port must be a number"},
	{"endpoint: negative port", "inet:127.0.0.1:-1", -1, 0, NULL, 0, "port must be a number"},
	{"endpoint: port 65536", "inet:127.0.0.1:65536", -1, 0, NULL, 0, "port"},
	{"endpoint: port 70000", "inet:127.0.0.1:70000", -1, 0, NULL, 0, "port"},
	{"endpoint: port of 12 digits", "inet:127.0.0.1:99999999999", -1, 0, NULL, 0, "port"},
	{"endpoint: port 0", "inet:127.0.0.1:0", -1, 0, NULL, 0, "port"},
	{"endpoint: address too long",
	    "inet:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:25",
	    -1, 0, NULL, 0, "address too long"},
	{"endpoint: no scheme", "127.0.0.1:7672", -1, 0, NULL, 0, "expected inet:ADDR:PORT or unix:/PATH"},
	{"endpoint: other scheme", "tcp:127.0.0.1:7672", -1, 0, NULL, 0, "expected inet:ADDR:PORT or unix:/PATH"},
	{"endpoint: upper-case scheme", "INET:127.0.0.1:7672", -1, 0, NULL, 0, "expected inet:ADDR:PORT or unix:/PATH"},
	{"endpoint: empty", "", -1, 0, NULL, 0, "expected inet:ADDR:PORT or unix:/PATH"},
	{"endpoint: garbage", "\x01\xff", -1, 0, NULL, 0, "expected inet:ADDR:PORT or unix:/PATH"},
};

static const char *
endpoint_case_name(const void *row)
{
	return ((const struct endpoint_case *)row)->name;
}

static void
test_endpoint(void **state)
{
	const struct endpoint_case *c = *state;
	struct endpoint ep;
	char err[512] = "";
	char text[INET6_ADDRSTRLEN];

	int rc = endpoint_parse(c->spec, &ep, err, sizeof(err));
	if (rc != c->rc)
		fail_msg("'%s': %d (%s), want %d", c->spec, rc, rc ? err : "accepted", c->rc);
	if (rc < 0) {
		if (!strstr(err, c->err))
			fail_msg("error '%s', want '%s'", err, c->err);
		/* The error names what was wrong. */
		if (c->spec[0] >= 0x20 && strlen(c->spec) < 100 && !strstr(err, c->spec))
			fail_msg("error '%s' does not quote '%s'", err, c->spec);
		return;
	}
	assert_string_equal(ep.text, c->spec);
	assert_int_equal(ep.addr.ss_family, c->family);
	switch (c->family) {
	case AF_INET: {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&ep.addr;
		assert_false(ep.is_unix);
		assert_int_equal(ep.addrlen, sizeof(*sin));
		assert_int_equal(ntohs(sin->sin_port), c->port);
		assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text)));
		assert_string_equal(text, c->addr);
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ep.addr;
		assert_false(ep.is_unix);
		assert_int_equal(ep.addrlen, sizeof(*sin6));
		assert_int_equal(ntohs(sin6->sin6_port), c->port);
		assert_non_null(inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text)));
		assert_string_equal(text, c->addr);
		break;
	}
	case AF_UNIX: {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)&ep.addr;
		assert_true(ep.is_unix);
		assert_string_equal(sun->sun_path, c->addr);
		break;
	}
	}
}

/* The longest unix path that fits, and the text kept for messages. */
static void
test_endpoint_unix_limit(void **state)
{
	struct endpoint ep;
	char spec[200], err[256];
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;

	strcpy(spec, "unix:/");
	memset(spec + 6, 'p', max - 1);
	spec[5 + max] = '\0';
	assert_int_equal(strlen(spec + 5), max);
	assert_int_equal(endpoint_parse(spec, &ep, err, sizeof(err)), 0);
	assert_true(ep.is_unix);
	assert_string_equal(((struct sockaddr_un *)&ep.addr)->sun_path, spec + 5);
	strcat(spec, "p");
	assert_int_equal(endpoint_parse(spec, &ep, err, sizeof(err)), -1);
	/* A small err buffer is never overrun. */
	char tiny[8];
	memset(tiny, 'X', sizeof(tiny));
	assert_int_equal(endpoint_parse("bogus", &ep, tiny, 4), -1);
	assert_int_equal(tiny[3], '\0');
	assert_int_equal(tiny[4], 'X');
}

int
main(int argc, char **argv)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_kv_hostile),
		cmocka_unit_test(test_kv_other),
		cmocka_unit_test(test_kv_number),
		cmocka_unit_test(test_reply_long),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_tlsa_short),
		cmocka_unit_test(test_tlsa_format),
		cmocka_unit_test(test_tlsa_full),
		cmocka_unit_test(test_rr_name_lengths),
		cmocka_unit_test(test_rr_type_names),
		cmocka_unit_test(test_buf_empty),
		cmocka_unit_test(test_buf_growth),
		cmocka_unit_test(test_buf_binary),
		cmocka_unit_test(test_buf_append_nothing),
		cmocka_unit_test(test_buf_consume),
		cmocka_unit_test(test_buf_stream),
		cmocka_unit_test(test_buf_detach),
		cmocka_unit_test(test_buf_printf),
		cmocka_unit_test(test_buf_max),
		cmocka_unit_test(test_buf_absurd_length),
		cmocka_unit_test(test_reply_atomic),
		cmocka_unit_test(test_endpoint_unix_limit),
	};
	struct table t = {0};

	self_path = argv[0];
	if (argc == 3 && strcmp(argv[1], "--child") == 0) {
		if (strcmp(argv[2], "absurd-append") == 0)
			return absurd_append();
		if (strcmp(argv[2], "append-null-empty") == 0)
			return append_null_empty();
		return 2;
	}
	TABLE_ADD(&t, kv_cases, kv_case, test_kv);
	TABLE_ADD(&t, split_cases, split_case, test_split);
	TABLE_ADD(&t, reply_cases, reply_case, test_reply);
	TABLE_ADD(&t, parse_reply_cases, parse_reply_case, test_parse_reply);
	TABLE_ADD(&t, tlsa_cases, tlsa_case, test_tlsa);
	TABLE_ADD(&t, name_cases, name_case, test_rr_name);
	TABLE_ADD(&t, mx_cases, mx_case, test_rr_mx);
	TABLE_ADD(&t, addr_cases, addr_case, test_rr_address);
	TABLE_ADD(&t, uint_cases, uint_case, test_put_uint);
	TABLE_ADD(&t, endpoint_cases, endpoint_case, test_endpoint);
	TABLE_TESTS(&t, more);
	return table_run(&t, "modules");
}
