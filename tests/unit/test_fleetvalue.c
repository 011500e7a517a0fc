/*
 * Unit tests: sealed values for the fleet's shared store (issue 16). A
 * value survives the round trip; every tampering a stranger with write
 * access to Redis can do (garbage, a value copied from another key, a
 * longer expiry, a value sealed without the fleet's secret, a changed
 * payload) is refused, each for its own reason; and the secret's file is
 * checked.
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fleet/fleetvalue.h"
#include "table.h"

#define NOW 1800000000
#define DAY 86400
#define KEY_A "0123456789abcdef0123456789abcdef"
#define KEY_B "fedcba9876543210fedcba9876543210"

static struct fleetvalue_key
key_of(const char *secret)
{
	struct fleetvalue_key k = {.len = strlen(secret)};

	memcpy(k.secret, secret, k.len);
	return k;
}

/* A sealed value as text, for the tables to tamper with. */
static char *
sealed(const char *secret, const char *name, int64_t expires, const char *payload)
{
	struct fleetvalue_key k = key_of(secret);
	struct buf b;

	buf_init(&b);
	assert_int_equal(fleetvalue_seal(&k, name, expires, payload, strlen(payload), &b), 0);
	buf_terminate(&b);
	return buf_detach(&b);
}

static void
test_round_trip(void **state)
{
	struct fleetvalue_key k = key_of(KEY_A);
	static const char payload[] = "domain=example.org id=2026 body=\"version: STSv1\\nmode: enforce\" \0tail";
	struct buf b;
	const char *p;
	size_t n;
	int64_t expires;

	buf_init(&b);
	assert_int_equal(fleetvalue_seal(&k, "tlsp:sts:example.org", NOW + DAY, payload, sizeof(payload), &b), 0);
	assert_int_equal(fleetvalue_open(&k, "tlsp:sts:example.org", buf_ptr(&b), buf_size(&b), NOW, 7 * DAY, &p, &n,
	    &expires), FLEETVALUE_OK);
	assert_int_equal(n, sizeof(payload));
	assert_memory_equal(p, payload, n);	/* spaces and a NUL inside */
	assert_int_equal(expires, NOW + DAY);
	buf_reset(&b);
	assert_int_equal(fleetvalue_seal(&k, "tlsp:empty", NOW + 10, "", 0, &b), 0);
	assert_int_equal(fleetvalue_open(&k, "tlsp:empty", buf_ptr(&b), buf_size(&b), NOW, 60, &p, &n, &expires),
	    FLEETVALUE_OK);
	assert_int_equal(n, 0);
	buf_free(&b);
}

struct tamper_case {
	const char *name;
	const char *value;		/* NULL: made by make() */
	char *(*make)(void);
	const char *read_as;		/* the key it is read under */
	int64_t max_life;
	enum fleetvalue_verdict want;
};

static char *
good(void)
{
	return sealed(KEY_A, "tlsp:probe:mx.example.org", NOW + 3600, "class=dane-verified");
}

static char *
other_key_name(void)
{
	return sealed(KEY_A, "tlsp:probe:mx.other.example", NOW + 3600, "class=dane-verified");
}

static char *
longer_expiry(void)
{
	char *v = good();
	char *digits = strchr(v, ' ') + 1;

	/* NOW + 3600 = 1800003600, made 1800086400 (a day): same length. */
	memcpy(digits, "1800086400", 10);
	return v;
}

static char *
without_the_secret(void)
{
	return sealed(KEY_B, "tlsp:probe:mx.example.org", NOW + 3600, "class=dane-verified");
}

static char *
changed_payload(void)
{
	char *v = good();
	char *p = strstr(v, "dane-verified");

	memcpy(p, "dane-mismatch", 13);
	return v;
}

static char *
honest_but_too_long(void)
{
	return sealed(KEY_A, "tlsp:probe:mx.example.org", NOW + 30 * DAY, "class=dane-verified");
}

static char *
expired(void)
{
	return sealed(KEY_A, "tlsp:probe:mx.example.org", NOW, "class=dane-verified");
}

static char *
newer_version(void)
{
	char *v = good();

	v[3] = '9';	/* tpf9 */
	return v;
}

static char *
upper_case_mac(void)
{
	char *v = good();

	for (char *p = strchr(strchr(v, ' ') + 1, ' ') + 1; *p != ' '; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	return v;
}

static char *
leading_zero(void)
{
	char *v = good(), *out = malloc(strlen(v) + 2);
	char *digits = strchr(v, ' ') + 1;

	sprintf(out, "%.*s0%s", (int)(digits - v), v, digits);
	free(v);
	return out;
}

#define MX "tlsp:probe:mx.example.org"

static const struct tamper_case cases[] = {
	{"a value as sealed", NULL, good, MX, 7200, FLEETVALUE_OK},
	{"copied from another key", NULL, other_key_name, MX, 7200, FLEETVALUE_BAD_MAC},
	{"read under another key", NULL, good, "tlsp:probe:mx.other.example", 7200, FLEETVALUE_BAD_MAC},
	{"its expiry made longer", NULL, longer_expiry, MX, 7 * DAY, FLEETVALUE_BAD_MAC},
	{"sealed without the fleet's secret", NULL, without_the_secret, MX, 7200, FLEETVALUE_BAD_MAC},
	{"its payload changed", NULL, changed_payload, MX, 7200, FLEETVALUE_BAD_MAC},
	{"a longer life than allowed", NULL, honest_but_too_long, MX, 7200, FLEETVALUE_TOO_LONG},
	{"expired", NULL, expired, MX, 7200, FLEETVALUE_EXPIRED},
	{"another format version", NULL, newer_version, MX, 7200, FLEETVALUE_VERSION_UNKNOWN},
	{"upper-case MAC", NULL, upper_case_mac, MX, 7200, FLEETVALUE_MALFORMED},
	{"expiry with a leading zero", NULL, leading_zero, MX, 7200, FLEETVALUE_MALFORMED},
	{"empty", "", NULL, MX, 7200, FLEETVALUE_MALFORMED},
	{"a word", "garbage", NULL, MX, 7200, FLEETVALUE_MALFORMED},
	{"the version alone", "tpf1 ", NULL, MX, 7200, FLEETVALUE_MALFORMED},
	{"no MAC", "tpf1 1800003600 class=x", NULL, MX, 7200, FLEETVALUE_MALFORMED},
	{"a short MAC", "tpf1 1800003600 abcdef class=x", NULL, MX, 7200, FLEETVALUE_MALFORMED},
	{"an expiry of 19 digits", "tpf1 1234567890123456789 "
	    "0000000000000000000000000000000000000000000000000000000000000000 x", NULL, MX, 7200, FLEETVALUE_MALFORMED},
	{"a negative expiry", "tpf1 -5 0000000000000000000000000000000000000000000000000000000000000000 x", NULL, MX,
	    7200, FLEETVALUE_MALFORMED},
	{"a well-formed forgery", "tpf1 1800003600 0000000000000000000000000000000000000000000000000000000000000000 "
	    "class=dane-verified", NULL, MX, 7200, FLEETVALUE_BAD_MAC},
};

static const char *
tamper_case_name(const void *row)
{
	return ((const struct tamper_case *)row)->name;
}

static void
test_tamper(void **state)
{
	const struct tamper_case *c = *state;
	struct fleetvalue_key k = key_of(KEY_A);
	char *made = c->make ? c->make() : NULL;
	const char *value = made ? made : c->value;
	const char *p = NULL;
	size_t n = 0;
	int64_t expires = 0;

	enum fleetvalue_verdict v = fleetvalue_open(&k, c->read_as, value, strlen(value), NOW, c->max_life, &p, &n,
	    &expires);
	free(made);
	if (v != c->want)
		fail_msg("%s, want %s", fleetvalue_verdict_name(v), fleetvalue_verdict_name(c->want));
}

static char tmpdir[] = "/tmp/test_fleetvalue.XXXXXX";

static const char *
key_file(const char *name, const char *content, mode_t mode)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(content, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void
test_key_file(void **state)
{
	struct fleetvalue_key k;
	char err[512];

	assert_non_null(mkdtemp(tmpdir));
	assert_int_equal(fleetvalue_key_load(key_file("good", KEY_A "\n", 0640), &k, err, sizeof(err)), 0);
	assert_int_equal(k.len, 32);	/* without the newline */
	assert_memory_equal(k.secret, KEY_A, 32);
	assert_int_equal(fleetvalue_key_load(key_file("short", "0123456789abcdef\n", 0600), &k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "fewer than 32"));
	assert_non_null(strstr(err, "openssl rand"));
	assert_int_equal(fleetvalue_key_load(key_file("open", KEY_A, 0644), &k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "readable by everyone"));
	snprintf(err, sizeof(err), "%s/none", tmpdir);
	char missing[600];
	snprintf(missing, sizeof(missing), "%s", err);
	assert_int_equal(fleetvalue_key_load(missing, &k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
	char big[FLEETVALUE_SECRET_MAX + 10];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(fleetvalue_key_load(key_file("big", big, 0600), &k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "longer than"));
	const char *names[] = {"good", "short", "open", "big"};
	for (size_t i = 0; i < 4; i++) {
		char path[300];
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_key_file),
	};
	struct table t = {0};

	TABLE_ADD(&t, cases, tamper_case, test_tamper);
	TABLE_TESTS(&t, more);
	return table_run(&t, "fleetvalue");
}
