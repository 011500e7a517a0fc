/* Unit tests: the special-purpose ranges probes stay away from. */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/netaddr.h"
#include "table.h"

struct range_case {
	const char *name;
	const char *address;
	const char *range;	/* NULL: an ordinary global address */
};

static const struct range_case cases[] = {
	{"IPv4 global", "192.0.3.1", NULL},
	{"IPv4 global, public resolver", "9.9.9.9", NULL},
	{"IPv4 this network", "0.1.2.3", "unspecified"},
	{"IPv4 private 10/8", "10.20.30.40", "private"},
	{"IPv4 CGNAT low", "100.64.0.1", "CGNAT"},
	{"IPv4 CGNAT high", "100.127.255.254", "CGNAT"},
	{"IPv4 just past CGNAT", "100.128.0.1", NULL},
	{"IPv4 loopback", "127.0.0.1", "loopback"},
	{"IPv4 lab loopback", "127.0.1.1", "loopback"},
	{"IPv4 link-local", "169.254.1.1", "link-local"},
	{"IPv4 private 172.16/12", "172.31.255.255", "private"},
	{"IPv4 just past 172.16/12", "172.32.0.1", NULL},
	{"IPv4 documentation 192.0.2/24", "192.0.2.1", "documentation"},
	{"IPv4 private 192.168/16", "192.168.1.1", "private"},
	{"IPv4 benchmarking", "198.19.0.1", "benchmarking"},
	{"IPv4 documentation 198.51.100/24", "198.51.100.7", "documentation"},
	{"IPv4 documentation 203.0.113/24", "203.0.113.9", "documentation"},
	{"IPv4 multicast", "224.0.0.251", "multicast"},
	{"IPv4 reserved", "240.0.0.1", "reserved"},
	{"IPv4 broadcast", "255.255.255.255", "reserved"},
	{"IPv6 global", "2a00:1450:4001::1", NULL},
	{"IPv6 unspecified", "::", "unspecified"},
	{"IPv6 loopback", "::1", "loopback"},
	{"IPv6 mapped loopback", "::ffff:127.0.0.1", "loopback"},
	{"IPv6 mapped private", "::ffff:10.0.0.1", "private"},
	{"IPv6 mapped global", "::ffff:192.0.3.1", NULL},
	{"IPv6 NAT64", "64:ff9b::a00:1", "NAT64"},
	{"IPv6 documentation", "2001:db8::25", "documentation"},
	{"IPv6 unique-local", "fd12:3456::1", "unique-local"},
	{"IPv6 link-local", "fe80::1", "link-local"},
	{"IPv6 multicast", "ff02::1", "multicast"},
	{"IPv6 discard-only", "100::1", "reserved"},
	/* ::/96 holds :: and ::1, which keep their own names. */
	{"IPv6 IPv4-compatible", "::10.0.0.1", "IPv4-compatible"},
	{"IPv6 IPv4-compatible, global inside", "::192.0.3.1", "IPv4-compatible"},
	{"IPv6 IPv4-compatible, last", "::255.255.255.255", "IPv4-compatible"},
	{"IPv6 just past ::/96", "::1:0:0:1", NULL},
	{"IPv6 6to4 of a global address", "2002:c000:301::1", "6to4"},
	{"IPv6 6to4 of a private address", "2002:a00:1::1", "6to4"},
	{"IPv6 6to4 last", "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "6to4"},
	{"IPv6 just past 6to4", "2003::1", NULL},
	{"IPv6 just before 6to4", "2001:ffff::1", NULL},
};

static const char *
range_case_name(const void *row)
{
	return ((const struct range_case *)row)->name;
}

static void
test_range(void **state)
{
	const struct range_case *c = *state;
	struct netaddr a;
	char back[64];

	assert_int_equal(netaddr_parse(c->address, &a), 0);
	const char *got = netaddr_special(&a);
	if (c->range)
		assert_string_equal(got ? got : "(none)", c->range);
	else if (got)
		fail_msg("%s is in %s, want an ordinary address", c->address, got);
	netaddr_format(&a, back, sizeof(back));
	assert_string_equal(back, c->address);
}

static void
test_parse_errors(void **state)
{
	struct netaddr a;

	assert_int_equal(netaddr_parse("mx.example.org", &a), -1);
	assert_int_equal(netaddr_parse("256.0.0.1", &a), -1);
	assert_int_equal(netaddr_parse("", &a), -1);
	assert_int_equal(netaddr_parse("[::1]", &a), -1);
}

/* Whether a probe target is one of this host's addresses: the same
 * address however it is written, an IPv4-mapped one as its IPv4. */
struct equal_case {
	const char *name;
	const char *a, *b;
	bool equal;
};

static const struct equal_case equal_cases[] = {
	{"equal: same IPv4", "192.0.3.25", "192.0.3.25", true},
	{"equal: IPv4 and its mapped form", "192.0.3.25", "::ffff:192.0.3.25", true},
	{"equal: mapped form and its IPv4", "::ffff:192.0.3.25", "192.0.3.25", true},
	{"equal: IPv6 written two ways", "2a00:1450:4001::25", "2a00:1450:4001:0:0:0:0:25", true},
	{"equal: not another IPv4", "192.0.3.25", "192.0.3.26", false},
	{"equal: not the IPv4-compatible form", "192.0.3.25", "::192.0.3.25", false},
	{"equal: not an IPv6 with the same last bytes", "192.0.3.25", "2a00::c000:319", false},
	{"equal: not another IPv6", "2a00:1450:4001::25", "2a00:1450:4001::26", false},
};

static const char *
equal_case_name(const void *row)
{
	return ((const struct equal_case *)row)->name;
}

static void
test_equal(void **state)
{
	const struct equal_case *c = *state;
	struct netaddr a, b;

	assert_int_equal(netaddr_parse(c->a, &a), 0);
	assert_int_equal(netaddr_parse(c->b, &b), 0);
	assert_int_equal(netaddr_equal(&a, &b), c->equal);
	assert_int_equal(netaddr_equal(&b, &a), c->equal);
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_parse_errors),
	};
	struct table t = {0};

	TABLE_ADD(&t, cases, range_case, test_range);
	TABLE_ADD(&t, equal_cases, equal_case, test_equal);
	TABLE_TESTS(&t, more);
	return table_run(&t, "netaddr");
}
