/* Unit tests: the next-hop keys Postfix looks up (SPEC section 3). */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "nexthop.h"
#include "table.h"

#define BAD -1

struct key_case {
	const char *name;
	const char *key;
	int kind;		/* enum nexthop_kind, or BAD */
	const char *host;	/* stored name */
	unsigned port;
	const char *canonical;
};

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
	{"non-ASCII", "b\xc3\xbc" "cher.example", BAD, NULL, 0, NULL},
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

	int rc = nexthop_parse(c->key, strlen(c->key), &nh, &why);
	if (c->kind == BAD) {
		assert_int_equal(rc, -1);
		assert_non_null(why);
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

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_name_length_limit),
	};
	struct table t = {0};

	TABLE_ADD(&t, cases, key_case, test_key);
	TABLE_TESTS(&t, more);
	return table_run(&t, "nexthop");
}
