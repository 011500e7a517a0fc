/* Unit tests: the next-hop keys Postfix looks up in smtp_tls_policy_maps
 * (postconf(5)). */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "postfix/nexthop.h"
#include "table.h"

#define BAD -1

struct key_case {
	const char *name;
	const char *key;
	int kind;		/* enum nexthop_kind, or BAD */
	const char *host;	/* stored name */
	unsigned port;
	const char *canonical;
	const char *why;	/* BAD: a part of the reason, when it matters */
	size_t len;		/* the key's length, when it holds a NUL; else 0 */
};

/* UTF-8 spelled out, so that the table means the same in any editor. */
#define U_UML "\xc3\xbc"		/* ü */
#define U_UML_UPPER "\xc3\x9c"	/* Ü */
#define BUECHER "b" U_UML "cher"
#define BUECHER_A "xn--bcher-kva"

static const struct key_case cases[] = {
	{"domain", "example.org", NEXTHOP_DOMAIN, "example.org", 25, "example.org"},
	{"domain, upper case folded", "Example.ORG", NEXTHOP_DOMAIN, "example.org", 25, "example.org"},
	{"domain, trailing dot", "example.org.", NEXTHOP_DOMAIN, "example.org", 25, "example.org"},
	{"domain with port", "example.org:2525", NEXTHOP_DOMAIN, "example.org", 2525, "example.org:2525"},
	{"domain with port 25 written", "example.org:25", NEXTHOP_DOMAIN, "example.org", 25, "example.org"},
	{"domain with service name", "example.org:submission", NEXTHOP_DOMAIN, "example.org", 587, "example.org:587"},
	{"host", "[mx.example.org]", NEXTHOP_HOST, "mx.example.org", 25, "[mx.example.org]"},
	{"host with port", "[mx.example.org]:587", NEXTHOP_HOST, "mx.example.org", 587, "[mx.example.org]:587"},
	{"host, case and dot", "[MX.Example.Org.]:587", NEXTHOP_HOST, "mx.example.org", 587, "[mx.example.org]:587"},
	{"IPv4 literal", "[192.0.2.1]", NEXTHOP_IP_LITERAL, "192.0.2.1", 25, "[192.0.2.1]"},
	{"IPv4 literal with port", "[192.0.2.1]:2525", NEXTHOP_IP_LITERAL, "192.0.2.1", 2525, "[192.0.2.1]:2525"},
	{"IPv6 literal", "[ipv6:2001:db8::1]", NEXTHOP_IP_LITERAL, "ipv6:2001:db8::1", 25, "[ipv6:2001:db8::1]"},
	{"IPv6 literal without tag", "[2001:db8::1]:25", NEXTHOP_IP_LITERAL, "2001:db8::1", 25, "[2001:db8::1]"},
	{"bare IPv4 address", "192.0.2.1", NEXTHOP_IP_LITERAL, "192.0.2.1", 25, "[192.0.2.1]"},
	{"bare IPv4 address, trailing dot", "2.1.2.2.", NEXTHOP_IP_LITERAL, "2.1.2.2", 25, "[2.1.2.2]"},
	{"parent form", ".example.org", NEXTHOP_PARENT, "example.org", 25, ".example.org"},
	{"underscore allowed", "_dmarc.example.org", NEXTHOP_DOMAIN, "_dmarc.example.org", 25, "_dmarc.example.org"},
	{"single label", "localhost", NEXTHOP_DOMAIN, "localhost", 25, "localhost"},
	{"empty", "", BAD, NULL, 0, NULL},
	{"just a dot", ".", BAD, NULL, 0, NULL},
	{"double dot", "example..org", BAD, NULL, 0, NULL},
	{"space inside", "exa mple.org", BAD, NULL, 0, NULL},
	{"unclosed bracket", "[mx.example.org", BAD, NULL, 0, NULL},
	{"text after bracket", "[mx.example.org]x", BAD, NULL, 0, NULL},
	{"empty brackets", "[]", BAD, NULL, 0, NULL},
	{"port zero", "example.org:0", BAD, NULL, 0, NULL},
	{"port too large", "example.org:65536", BAD, NULL, 0, NULL},
	{"port not a number", "example.org:25x", BAD, NULL, 0, NULL},
	{"unknown service", "example.org:gopher", BAD, NULL, 0, NULL},
	{"empty port", "example.org:", BAD, NULL, 0, NULL},
	/* IDN next hops, as Postfix sends them with smtputf8_enable = yes. */
	{"IDN domain: A-labels", BUECHER ".example", NEXTHOP_DOMAIN, BUECHER_A ".example", 25, BUECHER_A ".example"},
	{"IDN domain, upper case and trailing dot", "B" U_UML_UPPER "CHER.Example.", NEXTHOP_DOMAIN,
	    BUECHER_A ".example", 25, BUECHER_A ".example"},
	{"IDN domain with port", BUECHER ".example:2525", NEXTHOP_DOMAIN, BUECHER_A ".example", 2525,
	    BUECHER_A ".example:2525"},
	{"IDN host next hop", "[mx." BUECHER ".example]:25", NEXTHOP_HOST, "mx." BUECHER_A ".example", 25,
	    "[mx." BUECHER_A ".example]"},
	{"IDN parent form", "." BUECHER ".example", NEXTHOP_PARENT, BUECHER_A ".example", 25, "." BUECHER_A ".example"},
	{"IDN decomposed (NFD) input", "bu\xcc\x88" "cher.example", NEXTHOP_DOMAIN, BUECHER_A ".example", 25,
	    BUECHER_A ".example"},
	{"IDN with an ideographic full stop", BUECHER "\xe3\x80\x82" "example", NEXTHOP_DOMAIN,
	    BUECHER_A ".example", 25, BUECHER_A ".example"},
	{"IDN eszett, non-transitional as Postfix", "fa\xc3\x9f.de", NEXTHOP_DOMAIN, "xn--fa-hia.de", 25,
	    "xn--fa-hia.de"},
	{"IDN beside an A-label", BUECHER_A ".ex" "\xc3\xa4" "mple", NEXTHOP_DOMAIN, BUECHER_A ".xn--exmple-cua", 25,
	    BUECHER_A ".xn--exmple-cua"},
	{"IDN that maps to an IP address is one", "\xc2\xb9" "3.3.1.8", NEXTHOP_IP_LITERAL, "13.3.1.8", 25, "[13.3.1.8]"},
	{"IDN fullwidth letters map to ASCII", "\xef\xbd\x82" U_UML "cher.example", NEXTHOP_DOMAIN, BUECHER_A ".example",
	    25, BUECHER_A ".example"},
	{"A-labels pass as they are", "[MX." BUECHER_A ".example]", NEXTHOP_HOST, "mx." BUECHER_A ".example", 25,
	    "[mx." BUECHER_A ".example]"},
	{"IDN garbage: Latin-1, not UTF-8", "b\xfc" "cher.example", BAD, NULL, 0, NULL, "not UTF-8"},
	{"IDN garbage: a cut UTF-8 sequence", "b\xc3", BAD, NULL, 0, NULL, "not UTF-8"},
	{"IDN garbage: overlong UTF-8", "\xc0\xae" "example", BAD, NULL, 0, NULL, "not UTF-8"},
	{"IDN garbage: a UTF-16 surrogate", "\xed\xa0\x80" ".example", BAD, NULL, 0, NULL, "not UTF-8"},
	{"IDN garbage: a snowman", "\xe2\x98\x83" ".example", BAD, NULL, 0, NULL, "IDNA2008 does not allow"},
	{"IDN garbage: an emoji", "\xf0\x9f\x98\x80" ".example", BAD, NULL, 0, NULL, "IDNA2008 does not allow"},
	{"IDN garbage: a space", U_UML " .example", BAD, NULL, 0, NULL, "IDNA2008 does not allow"},
	{"IDN garbage: a control character", U_UML "\x01.example", BAD, NULL, 0, NULL, "IDNA2008 does not allow"},
	{"IDN garbage: a hyphen at a label's end", U_UML "-.example", BAD, NULL, 0, NULL, "hyphen"},
	{"IDN garbage: a broken A-label", "xn--zz." U_UML ".de", BAD, NULL, 0, NULL, "A-label"},
	{"IDN garbage: an empty label", BUECHER "..example", BAD, NULL, 0, NULL, "an empty label"},
	{"IDN garbage: a NUL byte", U_UML "\0.example", BAD, NULL, 0, NULL, NULL, 11},
	{"label of 64 bytes", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.org", BAD, NULL, 0, NULL},
	{"label of 63 bytes", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.org", NEXTHOP_DOMAIN,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.org", 25,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.org"},
};

static const char *
key_case_name(const void *row)
{
	return ((const struct key_case *)row)->name;
}

static void
test_key(void **state)
{
	const struct key_case *c = *state;
	struct nexthop nh;
	const char *why = NULL;
	char canonical[300];

	int rc = nexthop_parse(c->key, c->len ? c->len : strlen(c->key), &nh, &why);
	if (c->kind == BAD) {
		assert_int_equal(rc, -1);
		assert_non_null(why);
		if (c->why && !strstr(why, c->why))
			fail_msg("reason '%s', want one with '%s'", why, c->why);
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(nh.kind, c->kind);
	assert_string_equal(nh.name, c->host);
	assert_int_equal(nh.port, c->port);
	nexthop_format(&nh, canonical, sizeof(canonical));
	assert_string_equal(canonical, c->canonical);
}

/* A name of 254 bytes is one too long; 253 is the most DNS allows. */
static void
test_name_length_limit(void **state)
{
	char name[300];
	struct nexthop nh;
	const char *why;

	memset(name, 'a', sizeof(name));
	for (int i = 63; i < 300; i += 64)
		name[i] = '.';
	name[253] = '\0';
	assert_int_equal(nexthop_parse(name, 253, &nh, &why), 0);
	name[253] = 'a';
	assert_int_equal(nexthop_parse(name, 254, &nh, &why), -1);
}

/* IDNs are judged by the length of their A-labels, which DNS carries. */
static void
test_idn_lengths(void **state)
{
	char key[2000];
	struct nexthop nh;
	const char *why;
	size_t n = 0;

	(void)state;
	/* "üüüüüüüüüü.example": a short A-label. */
	for (int i = 0; i < 10; i++)
		n += (size_t)snprintf(key + n, sizeof(key) - n, U_UML);
	snprintf(key + n, sizeof(key) - n, ".example");
	assert_int_equal(nexthop_parse(key, strlen(key), &nh, &why), 0);
	assert_memory_equal(nh.name, "xn--", 4);
	/* 100 of them: 200 bytes of UTF-8, an A-label far over 63 bytes. */
	for (n = 0; n < 200; n += 2)
		memcpy(key + n, U_UML, 2);
	snprintf(key + n, sizeof(key) - n, ".example");
	assert_int_equal(nexthop_parse(key, strlen(key), &nh, &why), -1);
	assert_non_null(strstr(why, "a label longer than 63 bytes as an A-label"));
	/* Five labels of "ü" and 50 letters: each A-label about 58 bytes,
	 * each under 63, together over 253. */
	n = 0;
	for (int l = 0; l < 5; l++) {
		n += (size_t)snprintf(key + n, sizeof(key) - n, "%s" U_UML "%s", l ? "." : "",
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	}
	assert_int_equal(nexthop_parse(key, n, &nh, &why), -1);
	assert_non_null(strstr(why, "longer than 253 bytes"));
	/* Four of them fit. */
	key[strrchr(key, '.') - key] = '\0';
	assert_int_equal(nexthop_parse(key, strlen(key), &nh, &why), 0);
	assert_true(strlen(nh.name) > 200 && strlen(nh.name) <= NEXTHOP_NAME_MAX);
	/* More UTF-8 than any 253-byte name needs: refused before libidn2. */
	for (n = 0; n < 1200; n += 2)
		memcpy(key + n, U_UML, 2);
	assert_int_equal(nexthop_parse(key, n, &nh, &why), -1);
	assert_non_null(strstr(why, "longer than 253 bytes"));
}

/* The long forms, as keys and as tlspolicy tlsa --host specs: a name of
 * `len` bytes made of labels of `label` bytes (the last one shorter),
 * written in `form` (a printf format with one %s). */
struct long_case {
	const char *name;
	const char *form;
	size_t len;
	size_t label;
	const char *why;	/* NULL: valid; else a part of the reason */
};

static const struct long_case long_cases[] = {
	{"253 bytes: the most DNS allows", "%s", 253, 63, NULL},
	{"253 bytes with a trailing dot", "%s.", 253, 63, NULL},
	{"253 bytes with a port", "%s:2525", 253, 63, NULL},
	{"253 bytes in brackets", "[%s]", 253, 63, NULL},
	{"253 bytes in brackets with a port", "[%s]:65535", 253, 63, NULL},
	{"254 bytes", "%s", 254, 63, "longer than 253 bytes"},
	{"254 bytes in brackets with a port", "[%s]:25", 254, 63, "longer than 253 bytes"},
	{"255 bytes", "%s", 255, 63, "longer than 253 bytes"},
	{"277 bytes (once a stack overflow in tlsa --host)", "%s", 277, 63, "longer than 253 bytes"},
	{"277 bytes with a port", "%s:25", 277, 63, "longer than 253 bytes"},
	{"277 bytes in brackets with a port", "[%s]:25", 277, 63, "longer than 253 bytes"},
	{"1000 bytes", "%s", 1000, 63, "longer than 253 bytes"},
	{"a label of 63 bytes", "%s", 100, 63, NULL},
	{"a label of 64 bytes", "%s", 100, 64, "a label longer than 63 bytes"},
	{"a label of 64 bytes in brackets", "[%s]:25", 100, 64, "a label longer than 63 bytes"},
	{"one label of 253 bytes", "%s", 253, 253, "a label longer than 63 bytes"},
};

static const char *
long_case_name(const void *row)
{
	return ((const struct long_case *)row)->name;
}

/* The same rows as host specs, named apart in the TAP output. */
static const char *
long_host_name(const void *row)
{
	static char names[sizeof(long_cases) / sizeof(long_cases[0])][100];
	size_t i = (size_t)((const struct long_case *)row - long_cases);

	snprintf(names[i], sizeof(names[i]), "host spec: %s", long_cases[i].name);
	return names[i];
}

static void
make_name(char *dst, size_t len, size_t label)
{
	for (size_t i = 0; i < len; i++)
		dst[i] = (i % (label + 1) == label) ? '.' : (char)('a' + i % 26);
	/* Never end on a dot: that would be the trailing dot, not a label. */
	if (len && dst[len - 1] == '.')
		dst[len - 1] = 'z';
	dst[len] = '\0';
}

static void
check_long(const struct long_case *c, bool host_spec)
{
	char name[1100], spec[1200];
	struct nexthop nh;
	const char *why = NULL;

	make_name(name, c->len, c->label);
	/* The row's form is one of the table's constant formats. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(spec, sizeof(spec), c->form, name);
#pragma GCC diagnostic pop
	int rc = host_spec ? nexthop_parse_host(spec, strlen(spec), &nh, &why)
	    : nexthop_parse(spec, strlen(spec), &nh, &why);
	if (c->why) {
		assert_int_equal(rc, -1);
		assert_non_null(why);
		if (!strstr(why, c->why))
			fail_msg("reason '%s', want one with '%s'", why, c->why);
		return;
	}
	if (rc < 0)
		fail_msg("refused: %s", why);
	assert_string_equal(nh.name, name);
	if (host_spec)
		assert_int_equal(nh.kind, NEXTHOP_HOST);
	/* The canonical key of the longest name and port fits and reads back. */
	char key[NEXTHOP_NAME_MAX + 16];
	struct nexthop back;
	int n = nexthop_format(&nh, key, sizeof(key));
	assert_true(n > 0 && (size_t)n < sizeof(key));
	assert_int_equal(nexthop_parse(key, (size_t)n, &back, &why), 0);
	assert_string_equal(back.name, nh.name);
	assert_int_equal(back.kind, nh.kind);
	assert_int_equal(back.port, nh.port);
}

static void
test_long_key(void **state)
{
	check_long(*state, false);
}

static void
test_long_host(void **state)
{
	check_long(*state, true);
}

/* tlspolicy tlsa --host: what is and is not a host. */
struct host_case {
	const char *name;
	const char *spec;
	const char *host;	/* NULL: refused */
	unsigned port;
};

static const struct host_case host_cases[] = {
	{"host spec: bare host", "mx.example.org", "mx.example.org", 25},
	{"host spec: host:port", "MX.example.org:587", "mx.example.org", 587},
	{"host spec: [host]", "[mx.example.org]", "mx.example.org", 25},
	{"host spec: [host]:port", "[mx.example.org]:submission", "mx.example.org", 587},
	{"host spec: IPv4 address", "192.0.2.1", NULL, 0},
	{"host spec: IPv4 literal", "[192.0.2.1]:25", NULL, 0},
	{"host spec: IPv6 literal", "[ipv6:2001:db8::1]", NULL, 0},
	{"host spec: parent form", ".example.org", NULL, 0},
	{"host spec: empty", "", NULL, 0},
	{"host spec: bad port", "mx.example.org:0", NULL, 0},
	{"host spec: two ports", "mx.example.org:25:25", NULL, 0},
	{"host spec: unclosed bracket", "[mx.example.org:25", NULL, 0},
};

static const char *
host_case_name(const void *row)
{
	return ((const struct host_case *)row)->name;
}

static void
test_host_spec(void **state)
{
	const struct host_case *c = *state;
	struct nexthop nh;
	const char *why = NULL;

	int rc = nexthop_parse_host(c->spec, strlen(c->spec), &nh, &why);
	if (!c->host) {
		assert_int_equal(rc, -1);
		assert_non_null(why);
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(nh.kind, NEXTHOP_HOST);
	assert_string_equal(nh.name, c->host);
	assert_int_equal(nh.port, c->port);
}

/* Whether an MX host shares its domain's (unsigned) zone: by name only. */
static void
test_name_within(void **state)
{
	assert_true(nexthop_name_within("example.org", "example.org"));
	assert_true(nexthop_name_within("mx.Example.ORG", "example.org."));
	assert_true(nexthop_name_within("a.b.example.org.", "example.org"));
	assert_false(nexthop_name_within("badexample.org", "example.org"));
	assert_false(nexthop_name_within("example.org", "mx.example.org"));
	assert_false(nexthop_name_within("org", "example.org"));
	assert_false(nexthop_name_within("example.org", ""));
	assert_false(nexthop_name_within("mx.example.net", "example.org"));
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_name_within),
		cmocka_unit_test(test_name_length_limit),
		cmocka_unit_test(test_idn_lengths),
	};
	struct table t = {0};

	TABLE_ADD(&t, cases, key_case, test_key);
	TABLE_ADD(&t, long_cases, long_case, test_long_key);
	table_add_rows(&t, long_cases, sizeof(long_cases[0]), sizeof(long_cases) / sizeof(long_cases[0]),
	    long_host_name, test_long_host);
	TABLE_ADD(&t, host_cases, host_case, test_host_spec);
	TABLE_TESTS(&t, more);
	return table_run(&t, "nexthop");
}
