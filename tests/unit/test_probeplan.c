/* Unit tests: which addresses a probe plan probes. At most as many as
 * Postfix's SMTP client would try (smtp_mx_address_limit, with its IPv4 /
 * IPv6 balance), never a special-purpose address or one of this host's
 * own unless allowed. */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "util/ownaddr.h"
#include "probe/probeplan.h"
#include "table.h"

#define MAX_HOSTS 4
#define MAX_OWN 4

struct plan_case {
	const char *name;
	const char *key;			/* the next hop */
	const char *hosts[MAX_HOSTS];		/* "name addr addr ...", by preference */
	unsigned limit;
	bool allow_private;
	const char *own[MAX_OWN];		/* this host's addresses */
	/* One letter per address in plan order: p probed, o past the limit,
	 * r refused as special-purpose, h refused as this host's. */
	const char *want;
};

/* 192.0.3.0/24 and 2a00:1450:4001::/48 are ordinary global addresses. */
#define G4(n) "192.0.3." #n
#define G6(n) "2a00:1450:4001::" #n

static const struct plan_case cases[] = {
	{"one host, two addresses: both", "d.test", {"mx.d.test " G4(1) " " G6(1)}, 5, false, {NULL}, "pp"},
	{"Postfix's default 5: eight IPv4 addresses over two hosts", "d.test",
	    {"mx1.d.test " G4(1) " " G4(2) " " G4(3) " " G4(4), "mx2.d.test " G4(5) " " G4(6) " " G4(7) " " G4(8)},
	    5, false, {NULL}, "pppppooo"},
	{"exactly at the limit: all", "d.test", {"mx.d.test " G4(1) " " G4(2) " " G4(3) " " G4(4) " " G4(5)},
	    5, false, {NULL}, "ppppp"},
	{"limit 0: no limit, as Postfix", "d.test",
	    {"mx1.d.test " G4(1) " " G4(2) " " G4(3) " " G4(4), "mx2.d.test " G4(5) " " G4(6) " " G4(7) " " G4(8)},
	    0, false, {NULL}, "pppppppp"},
	{"limit 1: the most preferred host's first address", "d.test",
	    {"mx1.d.test " G4(1) " " G4(2), "mx2.d.test " G4(3)}, 1, false, {NULL}, "poo"},
	{"limit 1, both families: the first address's family", "d.test",
	    {"mx1.d.test " G6(1) " " G6(2), "mx2.d.test " G4(3) " " G4(4)}, 1, false, {NULL}, "pooo"},
	{"balance: one IPv6 among many IPv4 is kept", "d.test",
	    {"mx.d.test " G4(1) " " G4(2) " " G4(3) " " G4(4) " " G4(5) " " G4(6) " " G6(1)},
	    5, false, {NULL}, "ppppoop"},
	{"balance: two IPv4 among many IPv6 are kept", "d.test",
	    {"mx.d.test " G4(1) " " G4(2) " " G6(1) " " G6(2) " " G6(3) " " G6(4) " " G6(5) " " G6(6)},
	    5, false, {NULL}, "pppppooo"},
	{"balance: many of both, the odd one to IPv4, first", "d.test",
	    {"mx1.d.test " G4(1) " " G4(2) " " G4(3) " " G4(4), "mx2.d.test " G6(1) " " G6(2) " " G6(3) " " G6(4)},
	    5, false, {NULL}, "pppoppoo"},
	{"balance: many of both, the odd one to IPv6, first", "d.test",
	    {"mx1.d.test " G6(1) " " G6(2) " " G6(3) " " G6(4), "mx2.d.test " G4(1) " " G4(2) " " G4(3) " " G4(4)},
	    5, false, {NULL}, "pppoppoo"},
	{"balance over hosts: the backup host's IPv6 is kept", "d.test",
	    {"mx1.d.test " G4(1) " " G4(2) " " G4(3), "mx2.d.test " G4(4) " " G4(5) " " G6(1)},
	    5, false, {NULL}, "ppppop"},
	{"a host next hop has the same limit", "[mx.d.test]",
	    {"mx.d.test " G4(1) " " G4(2) " " G4(3) " " G4(4) " " G4(5) " " G4(6)}, 5, false, {NULL}, "ppppp" "o"},
	{"a refused address takes its place within the limit", "d.test",
	    {"mx1.d.test 127.0.0.1", "mx2.d.test " G4(1) " " G4(2) " " G4(3) " " G4(4) " " G4(5)},
	    5, false, {NULL}, "rppppo"},
	{"a special address past the limit is not refused, only not probed", "d.test",
	    {"mx1.d.test " G4(1) " " G4(2) " " G4(3) " " G4(4) " " G4(5), "mx2.d.test 10.0.0.1"},
	    5, false, {NULL}, "pppppo"},
	{"IPv4-compatible and 6to4 are refused", "d.test", {"mx.d.test ::192.0.3.1 2002:c000:301::1"},
	    5, false, {NULL}, "rr"},
	{"this host's IPv4 address is refused", "d.test", {"mx.d.test " G4(1) " " G4(25)},
	    5, false, {G6(9), G4(25)}, "ph"},
	{"this host's IPv6 address is refused", "d.test", {"mx.d.test " G6(25) " " G4(1)},
	    5, false, {G4(25), G6(25)}, "hp"},
	{"this host's IPv4 address, IPv4-mapped, is refused", "d.test", {"mx.d.test ::ffff:" G4(25)},
	    5, false, {G4(25)}, "h"},
	{"another address in this host's subnet is not", "d.test", {"mx.d.test " G4(26)}, 5, false, {G4(25)}, "p"},
	{"probe_allow_private: special and own addresses probed", "d.test",
	    {"mx.d.test 127.0.0.1 " G4(25) " 10.1.2.3"}, 5, true, {G4(25), "127.0.0.1"}, "ppp"},
	{"probe_allow_private does not lift the limit", "d.test",
	    {"mx.d.test 127.0.0.1 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5 127.0.0.6"}, 5, true, {NULL}, "ppppp" "o"},
};

static const char *
plan_case_name(const void *row)
{
	return ((const struct plan_case *)row)->name;
}

/* "name addr addr ..." into a host of the resolution. */
static void
fill_host(struct resolve_host *h, const char *spec)
{
	char copy[512], *save, *word;

	snprintf(copy, sizeof(copy), "%s", spec);
	word = strtok_r(copy, " ", &save);
	snprintf(h->name, sizeof(h->name), "%s", word);
	while ((word = strtok_r(NULL, " ", &save))) {
		assert_true(h->naddresses < RESOLVE_MAX_ADDRESSES);
		assert_int_equal(netaddr_parse(word, &h->addresses[h->naddresses++]), 0);
	}
}

/* The packed plan gives back the plan it was made of. */
static void
assert_pack_round_trip(const struct probeplan *plan)
{
	struct probeplan_packed *p = probeplan_pack(plan);
	struct probeplan back;

	assert_non_null(p);
	assert_int_equal(probeplan_packed_items(p), plan->n);
	assert_int_equal(probeplan_unpack(p, &back), 0);
	free(p);
	assert_string_equal(back.dest, plan->dest);
	assert_int_equal(back.n, plan->n);
	assert_int_equal(back.nover_limit, plan->nover_limit);
	assert_int_equal(back.ntlsa, plan->ntlsa);
	for (size_t i = 0; i < plan->n; i++) {
		const struct probeplan_item *a = &plan->items[i], *b = &back.items[i];
		assert_string_equal(a->target.host, b->target.host);
		assert_string_equal(a->target.tlsa_base, b->target.tlsa_base);
		assert_int_equal(a->target.address.family, b->target.address.family);
		assert_memory_equal(a->target.address.bytes, b->target.address.bytes, 16);
		assert_int_equal(a->target.port, b->target.port);
		assert_int_equal(a->over_limit, b->over_limit);
		assert_true((a->refused == NULL) == (b->refused == NULL));
		if (a->refused)
			assert_string_equal(a->refused, b->refused);
		assert_int_equal(a->target.ntlsa, b->target.ntlsa);
		for (size_t k = 0; k < a->target.ntlsa; k++) {
			const struct probe_tlsa *x = &a->target.tlsa[k], *y = &b->target.tlsa[k];
			assert_int_equal(x->usage, y->usage);
			assert_int_equal(x->selector, y->selector);
			assert_int_equal(x->mtype, y->mtype);
			assert_int_equal(x->len, y->len);
			assert_memory_equal(x->data, y->data, x->len);
		}
	}
	probeplan_free(&back);
}

static void
test_plan(void **state)
{
	const struct plan_case *c = *state;
	struct resolve_host hosts[MAX_HOSTS];
	struct resolve_result r;
	struct netaddr own[MAX_OWN];
	struct probeplan plan;
	const char *why = NULL;
	char got[64] = "";
	size_t nown = 0, over = 0;

	memset(&r, 0, sizeof(r));
	memset(hosts, 0, sizeof(hosts));
	assert_int_equal(nexthop_parse(c->key, strlen(c->key), &r.nexthop, &why), 0);
	r.hosts = hosts;
	for (; r.nhosts < MAX_HOSTS && c->hosts[r.nhosts]; r.nhosts++)
		fill_host(&hosts[r.nhosts], c->hosts[r.nhosts]);
	for (; nown < MAX_OWN && c->own[nown]; nown++)
		assert_int_equal(netaddr_parse(c->own[nown], &own[nown]), 0);
	struct probeplan_settings ps = {
		.allow_private = c->allow_private,
		.address_limit = c->limit,
		.own = nown ? own : NULL,
		.nown = nown,
	};

	assert_int_equal(probeplan_build(&r, &ps, &plan), 0);
	assert_true(plan.n < sizeof(got));
	for (size_t i = 0; i < plan.n; i++) {
		const struct probeplan_item *it = &plan.items[i];
		if (it->over_limit) {
			got[i] = 'o';
			over++;
			assert_null(it->refused);
		} else if (!it->refused) {
			got[i] = 'p';
		} else if (strcmp(it->refused, PROBEPLAN_THIS_HOST) == 0) {
			got[i] = 'h';
			assert_string_equal(probeplan_refusal(it), "an address of this host; probe_allow_private = no");
		} else {
			got[i] = 'r';
			assert_string_equal(probeplan_refusal(it), "special-purpose address; probe_allow_private = no");
		}
		assert_int_equal(it->target.port, r.nexthop.port);
	}
	got[plan.n] = '\0';
	assert_string_equal(got, c->want);
	assert_int_equal(plan.nover_limit, over);
	assert_pack_round_trip(&plan);
	probeplan_free(&plan);
}

/* Two hosts with TLSA records, one of them at its CNAME target's name,
 * and one without: each item points at its own host's records after
 * packing too. */
static void
test_pack_tlsa(void **state)
{
	static unsigned char r1[] = {3, 1, 1, 0xaa, 0xbb, 0xcc}, r2[] = {2, 0, 1, 0x01}, r3[] = {3, 0, 2, 0xff, 0xee};
	struct dns_rdata a[] = {{sizeof(r1), r1}, {sizeof(r2), r2}}, b[] = {{sizeof(r3), r3}};
	struct resolve_host hosts[3];
	struct resolve_result r;
	struct probeplan plan;
	const char *why;

	memset(&r, 0, sizeof(r));
	memset(hosts, 0, sizeof(hosts));
	assert_int_equal(nexthop_parse("d.test:2525", 11, &r.nexthop, &why), 0);
	fill_host(&hosts[0], "mx1.d.test " G4(1) " " G6(1));
	hosts[0].ntlsa = 2;
	hosts[0].tlsa = a;
	snprintf(hosts[0].tlsa_name, sizeof(hosts[0].tlsa_name), "_2525._tcp.mx1.d.test");
	fill_host(&hosts[1], "mx2.d.test 10.0.0.1 " G4(2));
	hosts[1].ntlsa = 1;
	hosts[1].tlsa = b;
	snprintf(hosts[1].tlsa_name, sizeof(hosts[1].tlsa_name), "_2525._tcp.target.provider.test");
	fill_host(&hosts[2], "mx3.d.test " G4(3));
	r.hosts = hosts;
	r.nhosts = 3;
	struct probeplan_settings ps = {.address_limit = 4};
	assert_int_equal(probeplan_build(&r, &ps, &plan), 0);
	assert_int_equal(plan.n, 5);
	assert_int_equal(plan.ntlsa, 3);
	assert_string_equal(plan.items[2].target.tlsa_base, "target.provider.test");
	assert_non_null(plan.items[2].refused);
	assert_true(plan.items[4].over_limit);
	assert_pack_round_trip(&plan);
	probeplan_free(&plan);
}

/* This host's own addresses, as the kernel lists them: whatever they are
 * here, each is IPv4 or IPv6, and a plan refuses every one. */
static void
test_own_addresses(void **state)
{
	struct netaddr *own;
	size_t n;
	char err[256];

	(void)state;
	assert_int_equal(ownaddr_load(&own, &n, err, sizeof(err)), 0);
	for (size_t i = 0; i < n; i++) {
		assert_true(own[i].family == AF_INET || own[i].family == AF_INET6);
		/* Loopback and link-local ones are refused as special; the
		 * others only because they are this host's. */
		struct resolve_host host;
		struct resolve_result r;
		struct probeplan plan;
		const char *why;
		memset(&host, 0, sizeof(host));
		memset(&r, 0, sizeof(r));
		assert_int_equal(nexthop_parse("d.test", 6, &r.nexthop, &why), 0);
		snprintf(host.name, sizeof(host.name), "mx.d.test");
		host.naddresses = 1;
		host.addresses[0] = own[i];
		r.nhosts = 1;
		r.hosts = &host;
		struct probeplan_settings ps = {.address_limit = 5, .own = own, .nown = n};
		assert_int_equal(probeplan_build(&r, &ps, &plan), 0);
		assert_int_equal(plan.n, 1);
		const char *special = netaddr_special(&own[i]);
		assert_string_equal(plan.items[0].refused, special ? special : PROBEPLAN_THIS_HOST);
		probeplan_free(&plan);
	}
	free(own);
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_own_addresses),
		cmocka_unit_test(test_pack_tlsa),
	};
	struct table t = {0};

	TABLE_ADD(&t, cases, plan_case, test_plan);
	TABLE_TESTS(&t, more);
	return table_run(&t, "probeplan");
}
