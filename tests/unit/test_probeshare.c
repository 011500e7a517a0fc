/*
 * Unit tests: a probe result as the fleet shares it (issue 16). Results
 * survive the round trip so that the record a relay makes of a shared
 * result is the one the prober made; names are lower-case and exact; and
 * every payload that is not exactly what a relay writes for the target
 * asked for is refused, each row on its own.
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

#include "probe/probeshare.h"
#include "probe/probestate.h"
#include "table.h"

#define NOW 1800000000
#define SPKI "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static struct probe_target
target(const char *host, const char *addr, unsigned port)
{
	struct probe_target t = {.port = port};

	snprintf(t.host, sizeof(t.host), "%s", host);
	assert_int_equal(netaddr_parse(addr, &t.address), 0);
	return t;
}

/* The record a relay keeps of a result: what must come through whole. */
static void
assert_same_record(const struct probe_result *a, const struct probe_result *b, int64_t when)
{
	struct probestate_record ra, rb;

	probestate_record_of(a, when, &ra);
	probestate_record_of(b, when, &rb);
	assert_int_equal(ra.class, rb.class);
	assert_string_equal(ra.detail, rb.detail);
	assert_string_equal(ra.leaf_spki, rb.leaf_spki);
}

static void
round_trip(const struct probe_target *t, const struct probe_result *r)
{
	static struct probe_result back;	/* large */
	struct buf b;
	int64_t when = -1;
	const char *why = "";

	buf_init(&b);
	assert_int_equal(probeshare_encode(t, r, NOW - 5, &b), 0);
	int rc = probeshare_decode(buf_ptr(&b), buf_size(&b), t, NOW, &back, &when, &why);
	buf_free(&b);
	assert_string_equal(why, "");
	assert_int_equal(rc, 0);
	assert_int_equal(when, NOW - 5);
	assert_int_equal(back.class, r->class);
	assert_same_record(r, &back, when);
}

static void
test_round_trip_dane(void **state)
{
	static struct probe_result r;
	struct probe_target t = target("mx.example.test", "192.0.2.1", 25);

	memset(&r, 0, sizeof(r));
	r.class = PROBE_DANE_VERIFIED;
	snprintf(r.dane_match, sizeof(r.dane_match), "3 1 1 %s", SPKI);
	r.ncerts = 2;
	snprintf(r.certs[0].spki_sha256, sizeof(r.certs[0].spki_sha256), "%s", SPKI);
	round_trip(&t, &r);
}

static void
test_round_trip_error(void **state)
{
	static struct probe_result r;
	struct probe_target t = target("mx.example.test", "2001:db8::25", 2525);

	memset(&r, 0, sizeof(r));
	r.class = PROBE_UNREACHABLE;
	/* What a hostile server may put in its reply comes through escaped
	 * and whole. */
	snprintf(r.error, sizeof(r.error), "EHLO: \"554 no\"\n\x01 class=verified \\ %s", "é");
	round_trip(&t, &r);
}

static void
test_round_trip_every_class(void **state)
{
	static struct probe_result r;
	struct probe_target t = target("mx.example.test", "192.0.2.1", 25);

	for (int c = 0; c < PROBE_CLASS_COUNT; c++) {
		memset(&r, 0, sizeof(r));
		r.class = (enum probe_class)c;
		snprintf(r.pkix_error, sizeof(r.pkix_error), "detail of class %d", c);
		round_trip(&t, &r);
	}
}

/* The detail cut as the record cuts it: the shared record is the one the
 * prober keeps. */
static void
test_round_trip_long_detail(void **state)
{
	static struct probe_result r;
	struct probe_target t = target("mx.example.test", "192.0.2.1", 25);

	memset(&r, 0, sizeof(r));
	r.class = PROBE_TLS_FAILED;
	memset(r.error, '\x7f', sizeof(r.error) - 1);
	round_trip(&t, &r);
}

/* Another relay may have a host name in other case: the same target. */
static void
test_host_case(void **state)
{
	static struct probe_result r, back;
	struct probe_target upper = target("MX.Example.TEST", "192.0.2.1", 25);
	struct probe_target lower = target("mx.example.test", "192.0.2.1", 25);
	struct buf b;
	int64_t when;
	const char *why = "";

	memset(&r, 0, sizeof(r));
	r.class = PROBE_VERIFIED;
	buf_init(&b);
	assert_int_equal(probeshare_encode(&upper, &r, NOW, &b), 0);
	buf_terminate(&b);
	assert_non_null(strstr(buf_ptr(&b), "host=mx.example.test "));
	int rc = probeshare_decode(buf_ptr(&b), buf_size(&b), &lower, NOW, &back, &when, &why);
	assert_int_equal(rc, 0);
	rc = probeshare_decode(buf_ptr(&b), buf_size(&b), &upper, NOW, &back, &when, &why);
	buf_free(&b);
	assert_int_equal(rc, 0);
	assert_int_equal(back.class, PROBE_VERIFIED);
}

static void
test_name(void **state)
{
	char name[PROBESHARE_NAME_MAX], small[20];
	struct probe_target t = target("MX1.Example.TEST", "192.0.2.1", 25);
	struct probe_target t6 = target("mx1.example.test", "2001:DB8::1", 465);
	struct probe_target longest = target("", "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 65535);

	assert_int_equal(probeshare_name(&t, name, sizeof(name)), 0);
	assert_string_equal(name, "mx1.example.test|192.0.2.1|25");
	assert_int_equal(probeshare_name(&t6, name, sizeof(name)), 0);
	assert_string_equal(name, "mx1.example.test|2001:db8::1|465");
	assert_int_equal(probeshare_name(&t, small, sizeof(small)), -1);
	memset(longest.host, 'a', NEXTHOP_NAME_MAX);
	longest.host[NEXTHOP_NAME_MAX] = '\0';
	assert_int_equal(probeshare_name(&longest, name, sizeof(name)), 0);
}

/* Payloads for mx.example.test, 192.0.2.1, port 25, read at NOW. */
struct bad_case {
	const char *name;
	const char *payload;
	const char *why;	/* NULL: accepted */
	size_t len;		/* 0: strlen(payload) */
};

static const char *
bad_case_name(const void *row)
{
	return ((const struct bad_case *)row)->name;
}

#define GOOD "host=mx.example.test addr=192.0.2.1 port=25 time=1800000000 class=dane-verified " \
	"detail=\"3 1 1 ab\" spki=" SPKI
#define AT(s) "host=mx.example.test addr=192.0.2.1 port=25 time=" s " class=untrusted\n"
#define D100 "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"

static const struct bad_case bad_cases[] = {
	{"good: as a relay writes it", GOOD "\n", NULL},
	{"good: no detail, no digest", "host=mx.example.test addr=192.0.2.1 port=25 time=1 class=plaintext\n", NULL},
	{"good: probed a minute ahead of this clock", AT("1800000060"), NULL},
	{"empty", "", "not one line"},
	{"no newline", GOOD, "not one line"},
	{"two lines", GOOD "\n" GOOD "\n", "not one line"},
	{"a NUL inside", GOOD "\0\n", "not one line", sizeof(GOOD "\0\n") - 1},
	{"garbage", "this is not a probe result\n", "not a probe result"},
	{"an empty line", "\n", "not a probe result"},
	{"an unknown key", GOOD " relay=b\n", "not a probe result"},
	{"a key twice", GOOD " class=verified\n", "not a probe result"},
	{"a destination", "dest=example.test " GOOD "\n", "a field a shared result has not"},
	{"the sharer's view of TLSA", GOOD " tlsa=usable\n", "a field a shared result has not"},
	{"another host", "host=mx2.example.test addr=192.0.2.1 port=25 time=1 class=plaintext\n", "for another target"},
	{"another address", "host=mx.example.test addr=192.0.2.2 port=25 time=1 class=plaintext\n", "for another target"},
	{"the address IPv4-mapped", "host=mx.example.test addr=::ffff:192.0.2.1 port=25 time=1 class=plaintext\n",
	    "for another target"},
	{"another port", "host=mx.example.test addr=192.0.2.1 port=587 time=1 class=plaintext\n", "for another target"},
	{"the host in upper case", "host=MX.example.test addr=192.0.2.1 port=25 time=1 class=plaintext\n",
	    "for another target"},
	{"an unknown class", "host=mx.example.test addr=192.0.2.1 port=25 time=1 class=superb\n", "not a probe result"},
	{"a class by number", "host=mx.example.test addr=192.0.2.1 port=25 time=1 class=6\n", "not a probe result"},
	{"no class", "host=mx.example.test addr=192.0.2.1 port=25 time=1\n", "not a probe result"},
	{"no time", "host=mx.example.test addr=192.0.2.1 port=25 class=plaintext\n", "not a probe result"},
	{"no host", "addr=192.0.2.1 port=25 time=1 class=plaintext\n", "not a probe result"},
	{"no address", "host=mx.example.test port=25 time=1 class=plaintext\n", "not a probe result"},
	{"no port", "host=mx.example.test addr=192.0.2.1 time=1 class=plaintext\n", "not a probe result"},
	{"port 0", "host=mx.example.test addr=192.0.2.1 port=0 time=1 class=plaintext\n", "not a probe result"},
	{"a port past 65535", "host=mx.example.test addr=192.0.2.1 port=65561 time=1 class=plaintext\n",
	    "not a probe result"},
	{"probed past a minute ahead", AT("1800000061"), "probed in the future"},
	{"probed at the end of time", AT("9223372036854775807"), "probed in the future"},
	{"a time past int64", AT("9223372036854775808"), "not a probe result"},
	{"a negative time", AT("-1"), "not a probe result"},
	{"a time with a sign", AT("+1"), "not a probe result"},
	{"an empty host", "host=\"\" addr=192.0.2.1 port=25 time=1 class=plaintext\n", "not a probe result"},
	{"a digest too short", "host=mx.example.test addr=192.0.2.1 port=25 time=1 class=verified spki=0123\n",
	    "not a SHA-256 digest"},
	{"a digest in upper case", "host=mx.example.test addr=192.0.2.1 port=25 time=1 class=verified "
	    "spki=0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\n", "not a SHA-256 digest"},
	{"a digest not hex", "host=mx.example.test addr=192.0.2.1 port=25 time=1 class=verified "
	    "spki=0123456789abcdefg123456789abcdef0123456789abcdef0123456789abcdef\n", "not a SHA-256 digest"},
	{"a digest too long", "host=mx.example.test addr=192.0.2.1 port=25 time=1 class=verified spki=" SPKI "00\n",
	    "not a probe result"},
	{"a detail too long for the record", "host=mx.example.test addr=192.0.2.1 port=25 time=1 class=verified "
	    "detail=" D100 D100 "\n", "not a probe result"},
};

static void
test_bad(void **state)
{
	const struct bad_case *c = *state;
	static struct probe_result r;
	struct probe_target t = target("mx.example.test", "192.0.2.1", 25);
	size_t len = c->len ? c->len : strlen(c->payload);
	int64_t when = -1;
	const char *why = NULL;

	int rc = probeshare_decode(c->payload, len, &t, NOW, &r, &when, &why);
	if (!c->why) {
		assert_int_equal(rc, 0);
		assert_true(when >= 0);
		return;
	}
	assert_int_equal(rc, -1);
	assert_non_null(why);
	assert_string_equal(why, c->why);
	assert_int_equal(when, 0);
	assert_int_equal(r.ncerts, 0);
}

/* A payload as long as any relay writes is read; one longer is not. */
static void
test_too_long(void **state)
{
	static struct probe_result r;
	struct probe_target t = target("mx.example.test", "192.0.2.1", 25);
	char *big = malloc(PROBESHARE_PAYLOAD_MAX + 2);
	int64_t when;
	const char *why = "";

	assert_non_null(big);
	int n = snprintf(big, PROBESHARE_PAYLOAD_MAX + 2, "%s", GOOD " detail=");
	memset(big + n, 'x', (size_t)(PROBESHARE_PAYLOAD_MAX - n));
	big[PROBESHARE_PAYLOAD_MAX] = '\n';
	big[PROBESHARE_PAYLOAD_MAX + 1] = '\0';
	int rc = probeshare_decode(big, PROBESHARE_PAYLOAD_MAX + 1, &t, NOW, &r, &when, &why);
	free(big);
	assert_int_equal(rc, -1);
	assert_string_equal(why, "not one line");
}

/* The longest payload a relay can write fits in PROBESHARE_PAYLOAD_MAX
 * and is read back. */
static void
test_longest(void **state)
{
	static struct probe_result r, back;
	struct probe_target t = target("", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff1", 65535);
	struct buf b;
	int64_t when;
	const char *why = "";

	memset(t.host, 'a', NEXTHOP_NAME_MAX);
	t.host[NEXTHOP_NAME_MAX] = '\0';
	memset(&r, 0, sizeof(r));
	r.class = PROBE_DANE_MISMATCH;
	memset(r.error, '\x01', sizeof(r.error) - 1);	/* each byte written as \x01 */
	r.ncerts = 1;
	snprintf(r.certs[0].spki_sha256, sizeof(r.certs[0].spki_sha256), "%s", SPKI);
	buf_init(&b);
	assert_int_equal(probeshare_encode(&t, &r, INT64_MAX - PROBESHARE_CLOCK_SLACK_S, &b), 0);
	size_t len = buf_size(&b);
	int rc = probeshare_decode(buf_ptr(&b), len, &t, INT64_MAX - PROBESHARE_CLOCK_SLACK_S, &back, &when, &why);
	buf_free(&b);
	assert_true(len <= PROBESHARE_PAYLOAD_MAX);
	assert_int_equal(rc, 0);
	assert_same_record(&r, &back, when);
}

int
main(void)
{
	struct table t = {0};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_dane),
		cmocka_unit_test(test_round_trip_error),
		cmocka_unit_test(test_round_trip_every_class),
		cmocka_unit_test(test_round_trip_long_detail),
		cmocka_unit_test(test_host_case),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_longest),
	};

	TABLE_TESTS(&t, tests);
	TABLE_ADD(&t, bad_cases, bad_case, test_bad);
	return table_run(&t, "probeshare");
}
