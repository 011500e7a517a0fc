/* Unit tests: DANE first, then MTA-STS (lib/rules/stsprecedence.h). A
 * table of the cases that matter, one row each, then every rule × every
 * STS state × every next-hop kind × stale, against the one rule the
 * header states: STS replaces only NO_TLSA and INSECURE answers, in mode
 * enforce, for a domain next hop. */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rules/policy.h"
#include "rules/stsprecedence.h"
#include "table.h"

#define D STSPREC_NEXTHOP_DOMAIN
#define DP STSPREC_NEXTHOP_DOMAIN_PORT
#define H STSPREC_NEXTHOP_HOST
#define P STSPREC_NEXTHOP_PARENT
#define IP STSPREC_NEXTHOP_IP_LITERAL
#define ABS STSPREC_STS_ABSENT
#define ENF STSPREC_STS_ENFORCE
#define TST STSPREC_STS_TESTING
#define NON STSPREC_STS_NONE
#define DANE STSPREC_USE_DANE
#define STS STSPREC_USE_STS

/* The result each rule yields (policy.h). */
static enum policy_result
result_of(enum policy_rule r)
{
	switch (r) {
	case POLICY_RULE_ALL_FAILED:
	case POLICY_RULE_MX_FAILED:
	case POLICY_RULE_TRUST_CHECK:
		return POLICY_TEMP;
	case POLICY_RULE_NXDOMAIN:
	case POLICY_RULE_NULL_MX:
	case POLICY_RULE_NO_ADDRESS:
	case POLICY_RULE_IP_LITERAL:
	case POLICY_RULE_PARENT_FORM:
		return POLICY_NOTFOUND;
	default:
		return POLICY_OK;
	}
}

struct prec_case {
	const char *name;
	enum stsprec_nexthop nexthop;
	enum policy_rule rule;
	bool stale;
	enum stsprec_sts sts;
	enum stsprec_choice choice;
	const char *why;	/* a part of the reason */
};

static const struct prec_case prec_cases[] = {
	/* where STS applies */
	{"no TLSA, enforce: STS", D, POLICY_RULE_NO_TLSA, false, ENF, STS, "mode enforce"},
	{"insecure, enforce: STS", D, POLICY_RULE_INSECURE, false, ENF, STS, "DANE absent"},
	{"domain:port, insecure, enforce: STS", DP, POLICY_RULE_INSECURE, false, ENF, STS, "enforce"},
	{"domain:port, no TLSA, enforce: STS", DP, POLICY_RULE_NO_TLSA, false, ENF, STS, "enforce"},
	/* the modes that answer as without STS */
	{"no TLSA, testing", D, POLICY_RULE_NO_TLSA, false, TST, DANE, "mode testing"},
	{"no TLSA, none", D, POLICY_RULE_NO_TLSA, false, NON, DANE, "mode none"},
	{"no TLSA, absent", D, POLICY_RULE_NO_TLSA, false, ABS, DANE, "no MTA-STS policy"},
	{"insecure, testing", D, POLICY_RULE_INSECURE, false, TST, DANE, "testing"},
	{"insecure, absent", D, POLICY_RULE_INSECURE, false, ABS, DANE, "no MTA-STS"},
	/* DANE answers stand */
	{"all dane, enforce", D, POLICY_RULE_ALL_DANE, false, ENF, DANE, "DANE answered"},
	{"mixed, enforce", D, POLICY_RULE_MIXED, false, ENF, DANE, "DANE answered"},
	{"all encrypt, enforce", D, POLICY_RULE_ALL_ENCRYPT, false, ENF, DANE, "DANE answered"},
	{"insecure MX, dane host, enforce", D, POLICY_RULE_INSECURE_MX_DANE, false, ENF, DANE, "DANE answered"},
	{"failed host, enforce", D, POLICY_RULE_FAILED_HOST, false, ENF, DANE, "lookups failed"},
	/* the exception list */
	{"exception, enforce", D, POLICY_RULE_EXCEPTION, false, ENF, DANE, "exception list"},
	{"exception, testing", D, POLICY_RULE_EXCEPTION, false, TST, DANE, "exception list"},
	/* DNS failures: TEMP and the stale answer */
	{"MX failed (TEMP), enforce", D, POLICY_RULE_MX_FAILED, false, ENF, DANE, "TEMP stands"},
	{"all hosts failed (TEMP), enforce", D, POLICY_RULE_ALL_FAILED, false, ENF, DANE, "TEMP stands"},
	{"trust check (TEMP), enforce", D, POLICY_RULE_TRUST_CHECK, false, ENF, DANE, "TEMP stands"},
	{"stale all dane, enforce", D, POLICY_RULE_ALL_DANE, true, ENF, DANE, "stale"},
	{"stale no TLSA, enforce", D, POLICY_RULE_NO_TLSA, true, ENF, DANE, "stale"},
	{"stale insecure, enforce", D, POLICY_RULE_INSECURE, true, ENF, DANE, "stale"},
	/* NOTFOUND */
	{"NXDOMAIN, enforce", D, POLICY_RULE_NXDOMAIN, false, ENF, DANE, "NOTFOUND"},
	{"null MX, enforce", D, POLICY_RULE_NULL_MX, false, ENF, DANE, "NOTFOUND"},
	{"no address, enforce", D, POLICY_RULE_NO_ADDRESS, false, ENF, DANE, "NOTFOUND"},
	/* next hops that are no recipient domain */
	{"[host], no TLSA, enforce", H, POLICY_RULE_NO_TLSA, false, ENF, DANE, "[host]"},
	{"[host], insecure, enforce", H, POLICY_RULE_INSECURE, false, ENF, DANE, "no MX lookup"},
	{".parent, insecure, enforce", P, POLICY_RULE_INSECURE, false, ENF, DANE, ".parent"},
	{".parent form NOTFOUND, enforce", P, POLICY_RULE_PARENT_FORM, false, ENF, DANE, "NOTFOUND"},
	{"IP literal, insecure, enforce", IP, POLICY_RULE_INSECURE, false, ENF, DANE, "IP literal"},
	{"IP literal NOTFOUND, enforce", IP, POLICY_RULE_IP_LITERAL, false, ENF, DANE, "NOTFOUND"},
};

static const char *
prec_case_name(const void *row)
{
	return ((const struct prec_case *)row)->name;
}

static void
test_prec(void **state)
{
	const struct prec_case *c = *state;
	struct stsprec_input in = {
		.nexthop = c->nexthop,
		.dane = {.result = result_of(c->rule), .rule = c->rule},
		.stale = c->stale,
		.sts = c->sts,
	};
	const char *why = NULL;

	assert_int_equal(stsprec_choose(&in, &why), c->choice);
	assert_non_null(why);
	if (!strstr(why, c->why))
		fail_msg("reason \"%s\" does not say \"%s\"", why, c->why);
	assert_int_equal(stsprec_may_apply(c->nexthop, in.dane, c->stale),
	    c->choice == STS || (c->sts != ENF && (c->rule == POLICY_RULE_NO_TLSA ||
	    c->rule == POLICY_RULE_INSECURE) && !c->stale && (c->nexthop == D || c->nexthop == DP)));
}

/* Every combination against the header's rule, written out here once
 * more. A TEMP answer flagged bogus changes nothing either. */
static void
test_every_combination(void **state)
{
	static const enum stsprec_nexthop nexthops[] = {D, DP, H, P, IP};
	static const enum stsprec_sts stses[] = {ABS, ENF, TST, NON};
	unsigned sts_answers = 0;

	for (int r = 0; r < POLICY_RULE_COUNT; r++)
		for (size_t n = 0; n < sizeof(nexthops) / sizeof(nexthops[0]); n++)
			for (size_t s = 0; s < sizeof(stses) / sizeof(stses[0]); s++)
				for (int stale = 0; stale <= 1; stale++) {
					enum policy_rule rule = (enum policy_rule)r;
					struct policy_answer dane = {result_of(rule), rule,
						result_of(rule) == POLICY_TEMP};
					struct stsprec_input in = {nexthops[n], dane, stale, stses[s]};
					bool dane_absent = rule == POLICY_RULE_NO_TLSA || rule == POLICY_RULE_INSECURE;
					bool domain = nexthops[n] == D || nexthops[n] == DP;
					bool may = dane_absent && domain && !stale;
					const char *why = NULL;
					enum stsprec_choice got = stsprec_choose(&in, &why);

					if (got != ((may && stses[s] == ENF) ? STS : DANE))
						fail_msg("rule %s, next hop %zu, sts %zu, stale %d: choice %d",
						    policy_rule_name(rule), n, s, stale, (int)got);
					if (!why || !*why)
						fail_msg("rule %s: no reason", policy_rule_name(rule));
					if (stsprec_may_apply(nexthops[n], dane, stale) != may)
						fail_msg("rule %s, next hop %zu, stale %d: may_apply wrong",
						    policy_rule_name(rule), n, stale);
					sts_answers += got == STS;
				}
	/* NO_TLSA and INSECURE, two domain forms, fresh, enforce. */
	assert_int_equal(sts_answers, 4);
}

/* Next-hop keys as the policy map parses them, and the kind each is. */
static void
test_nexthop_kinds(void **state)
{
	static const struct {
		const char *key;
		enum stsprec_nexthop kind;
		bool domain;
	} rows[] = {
		{"example.org", STSPREC_NEXTHOP_DOMAIN, true},
		{"example.org:587", STSPREC_NEXTHOP_DOMAIN_PORT, true},
		{"[mx.example.org]", STSPREC_NEXTHOP_HOST, false},
		{"[mx.example.org]:25", STSPREC_NEXTHOP_HOST, false},
		{".example.org", STSPREC_NEXTHOP_PARENT, false},
		{"[192.0.2.1]", STSPREC_NEXTHOP_IP_LITERAL, false},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct nexthop nh;
		const char *why;
		assert_int_equal(nexthop_parse(rows[i].key, strlen(rows[i].key), &nh, &why), 0);
		if (stsprec_nexthop_of(&nh) != rows[i].kind || stsprec_domain_nexthop(rows[i].kind) != rows[i].domain)
			fail_msg("%s: kind %d, want %d", rows[i].key, stsprec_nexthop_of(&nh), rows[i].kind);
	}
}

/* A policy's mode as the precedence reads it; no policy is absent. */
static void
test_policy_states(void **state)
{
	static const struct {
		const char *body;
		enum stsprec_sts want;
	} rows[] = {
		{"version: STSv1\nmode: enforce\nmx: mx.example.org\nmax_age: 86400\n", STSPREC_STS_ENFORCE},
		{"version: STSv1\nmode: testing\nmx: mx.example.org\nmax_age: 86400\n", STSPREC_STS_TESTING},
		{"version: STSv1\nmode: none\nmax_age: 86400\n", STSPREC_STS_NONE},
	};

	assert_int_equal(stsprec_sts_of(NULL), STSPREC_STS_ABSENT);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct stspolicy *p = stspolicy_parse(rows[i].body, strlen(rows[i].body), NULL);
		assert_non_null(p);
		assert_int_equal(stsprec_sts_of(p), rows[i].want);
		stspolicy_free(p);
	}
}

int
main(void)
{
	struct table t = {0};
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_every_combination),
		cmocka_unit_test(test_nexthop_kinds),
		cmocka_unit_test(test_policy_states),
	};

	TABLE_ADD(&t, prec_cases, prec_case, test_prec);
	TABLE_TESTS(&t, more);
	return table_run(&t, "stsprecedence");
}
