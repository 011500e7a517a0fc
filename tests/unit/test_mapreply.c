/*
 * Unit tests: an answer as each reader gets it (lib/serve/mapreply.h): the
 * socketmap reply, the line for people, the cache word, and the status
 * map's reply with when it reports a failure. One row per answer; each
 * row also says whether the probes may be asked at all.
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

#include "serve/mapreply.h"
#include "table.h"

/* The levels of an unchanged configuration, but for one rule, so that a
 * row shows the level comes from the levels in force. */
static struct policy_levels
levels(void)
{
	struct policy_levels l;

	memset(&l, 0, sizeof(l));
	for (int r = 0; r <= POLICY_RULE_FAILED_HOST; r++)
		l.level[r] = policy_default_level((enum policy_rule)r);
	l.level[POLICY_RULE_NO_TLSA] = "encrypt protocols=>=TLSv1.2";
	return l;
}

enum flags {
	HIT = 1 << 0,
	SHARED = 1 << 1,
	NO_DNS = 1 << 2,
	STALE = 1 << 3,
	BOGUS = 1 << 4,
};

enum probes { NOT_ASKED, SAYS_NO, SAYS_ALL_MISMATCH };

struct reply_case {
	const char *name;
	enum policy_result result;
	enum policy_rule rule;
	unsigned flags;
	const char *policy;		/* an exception's */
	const char *reason;
	enum probes probes;		/* what the probe view answers; NOT_ASKED: it must not be asked */
	const char *netstring;
	const char *line;		/* with the reason */
	const char *terse;		/* without it */
	const char *cache;
	enum status_failure failure;
	const char *status_reason;	/* NULL: the answer's */
};

static const char *
reply_case_name(const void *row)
{
	return ((const struct reply_case *)row)->name;
}

#define MISMATCH_REASON "probes found that the certificate of every MX host of good.test matches none of its TLSA records"

static const struct reply_case reply_cases[] = {
	{"all DANE: dane-only, probes asked and content", POLICY_OK, POLICY_RULE_ALL_DANE, 0, NULL,
	    "mx1.good.test dane", SAYS_NO, "12:OK dane-only,", "OK dane-only", "OK dane-only", "miss",
	    STATUS_FAILURE_NONE},
	{"all DANE, every host mismatching: tlsa-mismatch", POLICY_OK, POLICY_RULE_ALL_DANE, HIT, NULL,
	    "mx1.good.test dane", SAYS_ALL_MISMATCH, "12:OK dane-only,", "OK dane-only", "OK dane-only", "hit",
	    STATUS_FAILURE_TLSA_MISMATCH, MISMATCH_REASON},
	{"mixed hosts: dane, probes not asked", POLICY_OK, POLICY_RULE_MIXED, SHARED, NULL, "some hosts dane",
	    NOT_ASKED, "7:OK dane,", "OK dane", "OK dane", "shared", STATUS_FAILURE_NONE},
	{"the level in force, with attributes", POLICY_OK, POLICY_RULE_NO_TLSA, 0, NULL, "no TLSA", NOT_ASKED,
	    "30:OK encrypt protocols=>=TLSv1.2,", "OK encrypt protocols=>=TLSv1.2", "OK encrypt protocols=>=TLSv1.2",
	    "miss", STATUS_FAILURE_NONE},
	{"an exception: its policy, and it overrides the probes", POLICY_OK, POLICY_RULE_EXCEPTION, HIT, "may",
	    "exceptions line 3", NOT_ASKED, "6:OK may,", "OK may", "OK may", "hit", STATUS_FAILURE_NONE},
	{"an mx: entry naming some of the hosts: dane", POLICY_OK, POLICY_RULE_EXCEPTION, 0, "dane",
	    "exceptions line 9 names 1 of 2 MX hosts", NOT_ASKED, "7:OK dane,", "OK dane", "OK dane", "miss",
	    STATUS_FAILURE_NONE},
	{"a stale dane-only: the probes may still speak", POLICY_OK, POLICY_RULE_ALL_DANE, STALE, NULL,
	    "resolver outage", SAYS_ALL_MISMATCH, "12:OK dane-only,", "OK dane-only", "OK dane-only", "stale",
	    STATUS_FAILURE_TLSA_MISMATCH, MISMATCH_REASON},
	{"NXDOMAIN: NOTFOUND", POLICY_NOTFOUND, POLICY_RULE_NXDOMAIN, 0, NULL, "no such domain", NOT_ASKED,
	    "9:NOTFOUND ,", "NOTFOUND", "NOTFOUND", "miss", STATUS_FAILURE_NONE},
	{"IP literal: NOTFOUND without DNS", POLICY_NOTFOUND, POLICY_RULE_IP_LITERAL, NO_DNS, NULL, "IP literal",
	    NOT_ASKED, "9:NOTFOUND ,", "NOTFOUND", "NOTFOUND", "none", STATUS_FAILURE_NONE},
	{"an outage: TEMP, no failure", POLICY_TEMP, POLICY_RULE_MX_FAILED, 0, NULL, "MX lookup: SERVFAIL",
	    NOT_ASKED, "24:TEMP MX lookup: SERVFAIL,", "TEMP MX lookup: SERVFAIL", "TEMP", "miss",
	    STATUS_FAILURE_NONE},
	{"bogus: TEMP, dnssec-bogus", POLICY_TEMP, POLICY_RULE_MX_FAILED, BOGUS | HIT, NULL, "MX lookup: bogus",
	    NOT_ASKED, "21:TEMP MX lookup: bogus,", "TEMP MX lookup: bogus", "TEMP", "hit",
	    STATUS_FAILURE_DNSSEC_BOGUS},
	{"every host failed bogus: dnssec-bogus", POLICY_TEMP, POLICY_RULE_ALL_FAILED, BOGUS, NULL,
	    "every host failed", NOT_ASKED, "22:TEMP every host failed,", "TEMP every host failed", "TEMP", "miss",
	    STATUS_FAILURE_DNSSEC_BOGUS},
	{"trust check: TEMP, no failure", POLICY_TEMP, POLICY_RULE_TRUST_CHECK, NO_DNS, NULL,
	    "trust check: not done yet", NOT_ASKED, "30:TEMP trust check: not done yet,",
	    "TEMP trust check: not done yet", "TEMP", "none", STATUS_FAILURE_NONE},
	{"a hostile reason stays printable on the wire", POLICY_TEMP, POLICY_RULE_MX_FAILED, 0, NULL,
	    "bad\nname", NOT_ASKED, "13:TEMP bad?name,", "TEMP bad\nname", "TEMP", "miss", STATUS_FAILURE_NONE},
};

struct probe_view {
	enum probes says;
	int asked;
	char dest[64];
};

static bool
all_mismatch(void *arg, const char *dest)
{
	struct probe_view *v = arg;

	v->asked++;
	snprintf(v->dest, sizeof(v->dest), "%s", dest);
	return v->says == SAYS_ALL_MISMATCH;
}

static void
test_reply(void **state)
{
	const struct reply_case *c = *state;
	struct policy_levels l = levels();
	struct policymap_answer a = {
		.answer = {.result = c->result, .rule = c->rule, .bogus = (c->flags & BOGUS) != 0},
		.policy = c->policy,
		.reason = c->reason,
		.cache_hit = (c->flags & HIT) != 0,
		.shared = (c->flags & SHARED) != 0,
		.no_dns = (c->flags & NO_DNS) != 0,
		.stale = (c->flags & STALE) != 0,
	};
	struct mapreply r = mapreply_of(&l, &a);
	struct buf b;

	buf_init(&b);
	assert_int_equal(mapreply_put(&r, &b), 0);
	assert_int_equal(buf_size(&b), strlen(c->netstring));
	assert_memory_equal(buf_ptr(&b), c->netstring, buf_size(&b));
	buf_reset(&b);
	assert_int_equal(mapreply_format(&r, true, &b), 0);
	buf_terminate(&b);
	assert_string_equal(buf_ptr(&b), c->line);
	buf_reset(&b);
	assert_int_equal(mapreply_format(&r, false, &b), 0);
	buf_terminate(&b);
	assert_string_equal(buf_ptr(&b), c->terse);
	assert_string_equal(mapreply_cache_word(&a), c->cache);

	struct probe_view v = {.says = c->probes};
	struct status st, back;
	const char *why;
	mapreply_status(&a, &r, "good.test", all_mismatch, &v, &st);
	assert_int_equal(v.asked, c->probes == NOT_ASKED ? 0 : 1);
	if (v.asked)
		assert_string_equal(v.dest, "good.test");
	assert_int_equal(st.result, c->result);
	assert_int_equal(st.failure, c->failure);
	assert_string_equal(st.policy, c->result == POLICY_OK ? c->line + 3 : "");
	assert_string_equal(st.rule, policy_rule_name(c->rule));
	assert_string_equal(st.cache, c->cache);
	assert_string_equal(st.reason, c->status_reason ? c->status_reason : c->reason);
	/* What tlspolicy-milter reads back is what was decided. */
	buf_reset(&b);
	assert_int_equal(status_format(&st, &b), 0);
	assert_int_equal(status_parse(buf_ptr(&b), buf_size(&b), &back, &why), 0);
	assert_int_equal(back.failure, c->failure);
	assert_string_equal(back.policy, st.policy);

	/* Without a probe view nothing is ever a mismatch. */
	mapreply_status(&a, &r, "good.test", NULL, NULL, &st);
	assert_int_equal(st.failure, c->failure == STATUS_FAILURE_TLSA_MISMATCH ? STATUS_FAILURE_NONE : c->failure);
	buf_free(&b);
}

/* A reason longer than the status field is cut, never overrun. */
static void
test_long_reason(void **state)
{
	struct policy_levels l = levels();
	char reason[2000];
	struct status st;

	memset(reason, 'x', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	struct policymap_answer a = {.answer = {.result = POLICY_TEMP, .rule = POLICY_RULE_MX_FAILED}, .reason = reason};
	struct mapreply r = mapreply_of(&l, &a);
	mapreply_status(&a, &r, "long.test", NULL, NULL, &st);
	assert_int_equal(strlen(st.reason), sizeof(st.reason) - 1);
}

int
main(void)
{
	struct table t = {0};
	static const struct CMUnitTest extra[] = {
		cmocka_unit_test(test_long_reason),
	};

	TABLE_ADD(&t, reply_cases, reply_case, test_reply);
	TABLE_TESTS(&t, extra);
	return table_run(&t, "mapreply");
}
