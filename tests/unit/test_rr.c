/*
 * Unit tests: DNS records in wire form (lib/dns/rr.h): names (no
 * compression pointers, at most 253 text bytes, unprintable bytes made
 * '?'), MX and address rdata of exactly their size.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dns/rr.h"
#include "table.h"

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

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_rr_name_lengths),
		cmocka_unit_test(test_rr_type_names),
	};
	struct table t = {0};

	TABLE_ADD(&t, name_cases, name_case, test_rr_name);
	TABLE_ADD(&t, mx_cases, mx_case, test_rr_mx);
	TABLE_ADD(&t, addr_cases, addr_case, test_rr_address);
	TABLE_TESTS(&t, more);
	return table_run(&t, "rr");
}
