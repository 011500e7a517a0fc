/* Unit tests: every rule of the RFC 7672 decision (lib/rules/policy.h, the
 * README's "What the daemon answers"), one table row each. */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rules/policy.h"
#include "table.h"

/* Steps 2-3: one host. */
struct host_case {
	const char *name;
	struct policy_host_facts facts;
	enum policy_host_verdict verdict;
};

#define SEC POLICY_DNS_SECURE
#define INS POLICY_DNS_INSECURE
#define SDEN POLICY_DNS_SECURE_DENIAL
#define IDEN POLICY_DNS_INSECURE_DENIAL
#define BOG POLICY_DNS_BOGUS
#define SF POLICY_DNS_SERVFAIL
#define TO POLICY_DNS_TIMEOUT

static const struct host_case host_cases[] = {
	{"host: A bogus", {BOG, SDEN, false, 0, 0, 0}, POLICY_HOST_FAILED},
	{"host: AAAA SERVFAIL", {SEC, SF, false, 0, 0, 0}, POLICY_HOST_FAILED},
	{"host: A timeout", {TO, SEC, false, 0, 0, 0}, POLICY_HOST_FAILED},
	{"host: no A, no AAAA", {SDEN, SDEN, false, 0, 0, 0}, POLICY_HOST_NOADDR},
	{"host: insecure addresses", {INS, IDEN, false, 0, 0, 0}, POLICY_HOST_PLAIN},
	{"host: secure A, insecure AAAA", {SEC, INS, false, 0, 0, 0}, POLICY_HOST_PLAIN},
	{"host: usable TLSA", {SEC, SDEN, true, SEC, 1, 0}, POLICY_HOST_DANE},
	{"host: usable among unusable TLSA", {SEC, SEC, true, SEC, 1, 3}, POLICY_HOST_DANE},
	{"host: only unusable TLSA", {SEC, SDEN, true, SEC, 0, 2}, POLICY_HOST_ENCRYPT},
	{"host: TLSA securely denied", {SEC, SDEN, true, SDEN, 0, 0}, POLICY_HOST_PLAIN},
	{"host: TLSA insecure", {SEC, SDEN, true, INS, 1, 0}, POLICY_HOST_PLAIN},
	{"host: TLSA insecurely denied", {SEC, SDEN, true, IDEN, 0, 0}, POLICY_HOST_PLAIN},
	{"host: TLSA bogus", {SEC, SDEN, true, BOG, 0, 0}, POLICY_HOST_FAILED},
	{"host: TLSA SERVFAIL", {SEC, SDEN, true, SF, 0, 0}, POLICY_HOST_FAILED},
	{"host: TLSA timeout", {SEC, SDEN, true, TO, 0, 0}, POLICY_HOST_FAILED},
	{"host: secure but TLSA never asked (refused)", {SEC, SDEN, false, 0, 0, 0}, POLICY_HOST_FAILED},
	/* Unsigned addresses through a CNAME: the CNAME's own signature decides
	 * whether the TLSA records at the host's name count. */
	{"host: insecure via signed CNAME, usable TLSA", {INS, IDEN, true, SEC, 1, 0, true, SEC}, POLICY_HOST_DANE},
	{"host: insecure via signed CNAME, unusable TLSA", {INS, IDEN, true, SEC, 0, 1, true, SEC}, POLICY_HOST_ENCRYPT},
	{"host: insecure via signed CNAME, no TLSA", {INS, IDEN, true, SDEN, 0, 0, true, SEC}, POLICY_HOST_PLAIN},
	{"host: insecure via signed CNAME, TLSA bogus", {INS, IDEN, true, BOG, 0, 0, true, SEC}, POLICY_HOST_FAILED},
	{"host: insecure via signed CNAME, TLSA never asked", {INS, IDEN, false, 0, 0, 0, true, SEC}, POLICY_HOST_FAILED},
	{"host: insecure via unsigned CNAME", {INS, IDEN, false, 0, 0, 0, true, INS}, POLICY_HOST_PLAIN},
	{"host: insecure via CNAME, CNAME lookup bogus", {INS, IDEN, false, 0, 0, 0, true, BOG}, POLICY_HOST_FAILED},
	{"host: insecure via CNAME, CNAME lookup timeout", {INS, IDEN, false, 0, 0, 0, true, TO}, POLICY_HOST_FAILED},
	{"host: insecure via CNAME, no longer a CNAME", {INS, IDEN, false, 0, 0, 0, true, SDEN}, POLICY_HOST_FAILED},
};

static const char *
host_case_name(const void *row)
{
	return ((const struct host_case *)row)->name;
}

static void
test_host(void **state)
{
	const struct host_case *c = *state;
	const char *why = NULL;

	assert_int_equal(policy_host_verdict(&c->facts, &why), c->verdict);
	assert_non_null(why);
}

/* Step 4: the answer. */
struct decide_case {
	const char *name;
	struct policy_facts facts;
	enum policy_result result;
	enum policy_rule rule;
	const char *level;	/* with the default levels */
};

#define D POLICY_HOST_DANE
#define E POLICY_HOST_ENCRYPT
#define P POLICY_HOST_PLAIN
#define F POLICY_HOST_FAILED
#define N POLICY_HOST_NOADDR
#define MX(sec, n, ...) {false, false, false, POLICY_MX_HOSTS, sec, n, {__VA_ARGS__}}
#define HOSTHOP(v) {true, false, false, POLICY_MX_HOSTS, 0, 1, {v}}

static const struct decide_case decide_cases[] = {
	{"MX bogus: TEMP", {false, false, false, POLICY_MX_FAILED, BOG, 0, {0}}, POLICY_TEMP, POLICY_RULE_MX_FAILED, NULL},
	{"MX SERVFAIL: TEMP", {false, false, false, POLICY_MX_FAILED, SF, 0, {0}}, POLICY_TEMP, POLICY_RULE_MX_FAILED, NULL},
	{"MX timeout: TEMP", {false, false, false, POLICY_MX_FAILED, TO, 0, {0}}, POLICY_TEMP, POLICY_RULE_MX_FAILED, NULL},
	{"NXDOMAIN: NOTFOUND", {false, false, false, POLICY_MX_NXDOMAIN, SDEN, 0, {0}}, POLICY_NOTFOUND, POLICY_RULE_NXDOMAIN, NULL},
	{"null MX: NOTFOUND", {false, false, false, POLICY_MX_NULL, SEC, 0, {0}}, POLICY_NOTFOUND, POLICY_RULE_NULL_MX, NULL},
	{"IP literal: NOTFOUND", {false, true, false, 0, 0, 0, {0}}, POLICY_NOTFOUND, POLICY_RULE_IP_LITERAL, NULL},
	{"parent form: NOTFOUND", {false, false, true, 0, 0, 0, {0}}, POLICY_NOTFOUND, POLICY_RULE_PARENT_FORM, NULL},
	{"secure MX, one dane host: dane-only", MX(SEC, 1, D), POLICY_OK, POLICY_RULE_ALL_DANE, "dane-only"},
	{"secure MX, all dane: dane-only", MX(SEC, 3, D, D, D), POLICY_OK, POLICY_RULE_ALL_DANE, "dane-only"},
	{"secure MX, dane and plain: dane", MX(SEC, 2, D, P), POLICY_OK, POLICY_RULE_MIXED, "dane"},
	{"secure MX, dane and encrypt: dane", MX(SEC, 2, D, E), POLICY_OK, POLICY_RULE_MIXED, "dane"},
	{"secure MX, encrypt and plain: dane", MX(SEC, 2, E, P), POLICY_OK, POLICY_RULE_MIXED, "dane"},
	{"secure MX, all encrypt: encrypt", MX(SEC, 2, E, E), POLICY_OK, POLICY_RULE_ALL_ENCRYPT, "encrypt"},
	{"secure MX, no TLSA: may", MX(SEC, 2, P, P), POLICY_OK, POLICY_RULE_NO_TLSA, "may"},
	{"insecure MX, a dane host: dane", MX(INS, 2, P, D), POLICY_OK, POLICY_RULE_INSECURE_MX_DANE, "dane"},
	{"insecure MX, all dane: dane, not dane-only", MX(INS, 1, D), POLICY_OK, POLICY_RULE_INSECURE_MX_DANE, "dane"},
	{"insecure MX, plain: may", MX(INS, 1, P), POLICY_OK, POLICY_RULE_INSECURE, "may"},
	{"insecure MX, encrypt host: may", MX(INS, 1, E), POLICY_OK, POLICY_RULE_INSECURE, "may"},
	{"implicit MX, secure denial, dane: dane-only", MX(SDEN, 1, D), POLICY_OK, POLICY_RULE_ALL_DANE, "dane-only"},
	{"implicit MX, insecure denial, dane: dane", MX(IDEN, 1, D), POLICY_OK, POLICY_RULE_INSECURE_MX_DANE, "dane"},
	{"implicit MX, insecure denial, plain: may", MX(IDEN, 1, P), POLICY_OK, POLICY_RULE_INSECURE, "may"},
	{"failed host beside dane: dane-only", MX(SEC, 2, F, D), POLICY_OK, POLICY_RULE_ALL_DANE, "dane-only"},
	{"failed host beside plain: never below dane", MX(SEC, 2, P, F), POLICY_OK, POLICY_RULE_FAILED_HOST, "dane"},
	{"failed host beside encrypt: never below dane", MX(SEC, 2, F, E), POLICY_OK, POLICY_RULE_FAILED_HOST, "dane"},
	{"failed host beside mixed: dane", MX(SEC, 3, D, P, F), POLICY_OK, POLICY_RULE_MIXED, "dane"},
	{"insecure MX, failed and plain: never below dane", MX(INS, 2, P, F), POLICY_OK, POLICY_RULE_FAILED_HOST, "dane"},
	{"insecure MX, failed and dane: dane", MX(INS, 2, F, D), POLICY_OK, POLICY_RULE_INSECURE_MX_DANE, "dane"},
	{"every host failed: TEMP", MX(SEC, 2, F, F), POLICY_TEMP, POLICY_RULE_ALL_FAILED, NULL},
	{"every host failed, insecure MX: TEMP", MX(INS, 1, F), POLICY_TEMP, POLICY_RULE_ALL_FAILED, NULL},
	{"no host has an address: NOTFOUND", MX(SEC, 2, N, N), POLICY_NOTFOUND, POLICY_RULE_NO_ADDRESS, NULL},
	{"addressless host ignored beside dane", MX(SEC, 2, N, D), POLICY_OK, POLICY_RULE_ALL_DANE, "dane-only"},
	{"addressless and failed: TEMP", MX(SEC, 2, N, F), POLICY_TEMP, POLICY_RULE_ALL_FAILED, NULL},
	{"[host] dane: dane-only", HOSTHOP(D), POLICY_OK, POLICY_RULE_ALL_DANE, "dane-only"},
	{"[host] encrypt: encrypt", HOSTHOP(E), POLICY_OK, POLICY_RULE_ALL_ENCRYPT, "encrypt"},
	{"[host] plain: may", HOSTHOP(P), POLICY_OK, POLICY_RULE_NO_TLSA, "may"},
	{"[host] failed: TEMP", HOSTHOP(F), POLICY_TEMP, POLICY_RULE_ALL_FAILED, NULL},
	{"[host] no address: NOTFOUND", HOSTHOP(N), POLICY_NOTFOUND, POLICY_RULE_NO_ADDRESS, NULL},
};

static const char *
decide_case_name(const void *row)
{
	return ((const struct decide_case *)row)->name;
}

static struct policy_levels
default_levels(void)
{
	struct policy_levels l;

	for (int r = 0; r <= POLICY_RULE_FAILED_HOST; r++)
		l.level[r] = policy_default_level((enum policy_rule)r);
	return l;
}

static void
test_decide(void **state)
{
	const struct decide_case *c = *state;
	struct policy_levels levels = default_levels();
	struct policy_answer a = policy_decide(&c->facts);

	assert_true(policy_answer_possible(a));
	assert_int_equal(a.result, c->result);
	if (a.rule != c->rule)
		fail_msg("rule %s, want %s", policy_rule_name(a.rule), policy_rule_name(c->rule));
	if (c->level)
		assert_string_equal(policy_level(&levels, a), c->level);
	else
		assert_null(policy_level(&levels, a));
}

/* The invariant, checked over every combination of up to three hosts: a
 * failed host never lets the answer fall below dane, and an MX failure
 * is always TEMP. */
static void
test_never_weaker_with_failures(void **state)
{
	const enum policy_host_verdict all[] = {D, E, P, F, N};
	const enum policy_dns secs[] = {SEC, INS, SDEN, IDEN};
	struct policy_levels levels = default_levels();

	for (size_t s = 0; s < 4; s++)
		for (size_t i = 0; i < 125; i++) {
			struct policy_facts f = MX(secs[s], 3, all[i % 5], all[i / 5 % 5], all[i / 25]);
			bool failed = false, usable = false;
			for (int h = 0; h < 3; h++) {
				failed |= f.hosts[h] == F;
				usable |= f.hosts[h] == D || f.hosts[h] == E || f.hosts[h] == P;
			}
			struct policy_answer a = policy_decide(&f);
			assert_true(policy_answer_possible(a));
			if (!failed)
				continue;
			if (!usable) {
				assert_int_equal(a.result, POLICY_TEMP);
				continue;
			}
			assert_int_equal(a.result, POLICY_OK);
			const char *level = policy_level(&levels, a);
			if (strcmp(level, "dane") != 0 && strcmp(level, "dane-only") != 0)
				fail_msg("hosts %d %d %d gave %s", f.hosts[0], f.hosts[1], f.hosts[2], level);
		}
}

struct level_case {
	const char *name;
	const char *value;
	bool valid;
};

static const struct level_case level_cases[] = {
	{"level: dane-only", "dane-only", true},
	{"level: secure with match", "secure match=nexthop:dot-nexthop", true},
	{"level: verify with ciphers", "verify ciphers=high protocols=>=TLSv1.2", true},
	{"level: none", "none", true},
	{"level: empty", "", false},
	{"level: unknown", "strict", false},
	{"level: unknown attribute", "encrypt foo=bar", false},
	{"level: attribute without value", "encrypt ciphers=", false},
	{"level: bare word after level", "encrypt high", false},
	{"level: control character", "may\x01", false},
	{"level: case matters", "MAY", false},
};

static const char *
level_case_name(const void *row)
{
	return ((const struct level_case *)row)->name;
}

static void
test_level(void **state)
{
	const struct level_case *c = *state;
	const char *why = NULL;

	assert_int_equal(policy_level_valid(c->value, &why), c->valid);
	if (!c->valid)
		assert_non_null(why);
}

/* What a state file may claim: exactly the pairs the decision makes (and
 * an exception's OK), and each possible OK answer has a level to give
 * Postfix, since a restored answer is served as it is. */
static void
test_answer_possible(void **state)
{
	struct policy_levels levels = default_levels();
	unsigned possible[3] = {0};

	for (int result = POLICY_OK; result <= POLICY_TEMP; result++)
		for (int rule = 0; rule < POLICY_RULE_COUNT; rule++)
			for (int bogus = 0; bogus < 2; bogus++) {
				struct policy_answer a = {(enum policy_result)result, (enum policy_rule)rule, bogus};
				if (!policy_answer_possible(a))
					continue;
				possible[result]++;
				if (result == POLICY_OK && rule != POLICY_RULE_EXCEPTION)
					assert_non_null(policy_level(&levels, a));
			}
	assert_int_equal(possible[POLICY_OK], POLICY_RULE_FAILED_HOST + 1 + 1);	/* the levels, and exceptions */
	assert_int_equal(possible[POLICY_TEMP], 2 * 2);				/* two rules, bogus or not */
	assert_int_equal(possible[POLICY_NOTFOUND], POLICY_RULE_PARENT_FORM - POLICY_RULE_NXDOMAIN + 1);
	assert_false(policy_answer_possible((struct policy_answer){POLICY_OK, POLICY_RULE_NXDOMAIN, false}));
	assert_false(policy_answer_possible((struct policy_answer){POLICY_OK, POLICY_RULE_ALL_DANE, true}));
	assert_false(policy_answer_possible((struct policy_answer){POLICY_TEMP, POLICY_RULE_EXCEPTION, false}));
	assert_false(policy_answer_possible((struct policy_answer){POLICY_NOTFOUND, POLICY_RULE_MX_FAILED, false}));
	assert_false(policy_answer_possible((struct policy_answer){(enum policy_result)7, POLICY_RULE_ALL_DANE, false}));
}

static void
test_rule_names_complete(void **state)
{
	for (int r = 0; r < POLICY_RULE_COUNT; r++) {
		assert_string_not_equal(policy_rule_name((enum policy_rule)r), "unknown");
		assert_string_not_equal(policy_rule_text((enum policy_rule)r), "unknown rule");
	}
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_never_weaker_with_failures),
		cmocka_unit_test(test_answer_possible),
		cmocka_unit_test(test_rule_names_complete),
	};
	struct table t = {0};

	TABLE_ADD(&t, host_cases, host_case, test_host);
	TABLE_ADD(&t, decide_cases, decide_case, test_decide);
	TABLE_ADD(&t, level_cases, level_case, test_level);
	TABLE_TESTS(&t, more);
	return table_run(&t, "policy");
}
