/* Unit tests: the trust check's verdict on an answer, and what each
 * verdict does in each state. */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dns/rr.h"
#include "table.h"
#include "dns/trustcheck.h"

#define HOUR_MS 3600000u

/* ---- The verdict: from what libunbound said about DNSKEY <name>. ---- */

struct verdict_case {
	const char *name;
	enum dns_outcome outcome;
	enum dns_security security;
	size_t records;
	const char *why;
	enum trustcheck_verdict want;
	const char *detail;	/* must appear in the detail */
};

static const struct verdict_case verdict_cases[] = {
	{"signed DNSKEY RRset: secure", DNS_DATA, DNS_SECURE, 2, NULL, TRUSTCHECK_SECURE, "secure, 2 DNSKEY records"},
	{"one key: secure", DNS_DATA, DNS_SECURE, 1, NULL, TRUSTCHECK_SECURE, "secure, 1 DNSKEY record"},
	/* The denial is signed with the zone's keys: it proves as much. */
	{"secure NODATA (not a zone apex): secure", DNS_NODATA, DNS_SECURE, 0, NULL, TRUSTCHECK_SECURE,
	    "secure (nodata): not a zone apex"},
	{"secure NXDOMAIN: secure", DNS_NXDOMAIN, DNS_SECURE, 0, NULL, TRUSTCHECK_SECURE, "secure (nxdomain)"},
	/* No anchor applies: the downgrade this check exists for. */
	{"keys without validation: insecure", DNS_DATA, DNS_INSECURE, 2, NULL, TRUSTCHECK_INSECURE,
	    "insecure (data, not validated)"},
	{"unsigned NODATA: insecure", DNS_NODATA, DNS_INSECURE, 0, NULL, TRUSTCHECK_INSECURE, "insecure (nodata"},
	{"unsigned NXDOMAIN: insecure", DNS_NXDOMAIN, DNS_INSECURE, 0, NULL, TRUSTCHECK_INSECURE,
	    "insecure (nxdomain"},
	/* libunbound: data present, rcode 0, bogus flag; or SERVFAIL + bogus. */
	{"wrong anchor, data: bogus", DNS_DATA, DNS_BOGUS, 2,
	    "validation failure <test. DNSKEY IN>: signature missing", TRUSTCHECK_BOGUS,
	    "bogus: validation failure <test. DNSKEY IN>: signature missing"},
	{"wrong anchor, SERVFAIL: bogus, not an outage", DNS_SERVFAIL, DNS_BOGUS, 0, "no DNSKEY rrset",
	    TRUSTCHECK_BOGUS, "bogus: no DNSKEY rrset"},
	{"bogus without a reason", DNS_DATA, DNS_BOGUS, 1, NULL, TRUSTCHECK_BOGUS, "bogus: validation failed"},
	{"SERVFAIL: no answer", DNS_SERVFAIL, DNS_INSECURE, 0, "could not send", TRUSTCHECK_NO_ANSWER,
	    "no answer (servfail: could not send)"},
	{"timeout: no answer", DNS_TIMEOUT, DNS_INSECURE, 0, "no answer within dns_timeout",
	    TRUSTCHECK_NO_ANSWER, "no answer (timeout: no answer within dns_timeout)"},
	/* What the resolver says is shown in logs and TEMP replies. */
	{"control bytes in the reason are replaced", DNS_DATA, DNS_BOGUS, 1, "bad\nkey\x1b[0m", TRUSTCHECK_BOGUS,
	    "bogus: bad?key?[0m"},
};

static const char *
verdict_case_name(const void *row)
{
	return ((const struct verdict_case *)row)->name;
}

static void
test_verdict(void **state)
{
	const struct verdict_case *c = *state;
	struct dns_answer *a = dns_answer_new("test.", RR_TYPE_DNSKEY);
	char detail[400];

	assert_non_null(a);
	a->outcome = c->outcome;
	a->security = c->security;
	if (c->why)
		a->why = strdup(c->why);
	for (size_t i = 0; i < c->records; i++)
		assert_int_equal(dns_answer_add(a, "\x01\x01\x03\x0d", 4), 0);
	enum trustcheck_verdict v = trustcheck_verdict(a, detail, sizeof(detail));
	dns_answer_free(a);
	if (v != c->want)
		fail_msg("verdict %s, want %s (%s)", trustcheck_verdict_name(v), trustcheck_verdict_name(c->want), detail);
	if (!strstr(detail, c->detail))
		fail_msg("detail \"%s\" lacks \"%s\"", detail, c->detail);
}

/* ---- What each verdict does, in each state. ---- */

#define RETRY TRUSTCHECK_RETRY_MS

struct step_case {
	const char *name;
	enum trustcheck_state state;
	bool first;
	enum trustcheck_verdict verdict;
	uint64_t interval_ms;
	enum trustcheck_state want_state;
	enum trustcheck_action want_action;
	uint64_t want_next_ms;
};

static const struct step_case step_cases[] = {
	/* At start the state before is no state: nothing has been answered. */
	{"start, secure: validating, quietly", TRUSTCHECK_UNVERIFIED, true, TRUSTCHECK_SECURE, HOUR_MS,
	    TRUSTCHECK_VALIDATING, TRUSTCHECK_NONE, HOUR_MS},
	{"start, insecure: refuse to start", TRUSTCHECK_UNVERIFIED, true, TRUSTCHECK_INSECURE, HOUR_MS,
	    TRUSTCHECK_NOT_VALIDATING, TRUSTCHECK_REFUSE_START, RETRY},
	{"start, bogus: refuse to start", TRUSTCHECK_UNVERIFIED, true, TRUSTCHECK_BOGUS, HOUR_MS,
	    TRUSTCHECK_NOT_VALIDATING, TRUSTCHECK_REFUSE_START, RETRY},
	{"start, no answer: start unverified, retry soon", TRUSTCHECK_UNVERIFIED, true, TRUSTCHECK_NO_ANSWER,
	    HOUR_MS, TRUSTCHECK_UNVERIFIED, TRUSTCHECK_WARN, RETRY},
	{"start ignores the state it is given", TRUSTCHECK_VALIDATING, true, TRUSTCHECK_NO_ANSWER, HOUR_MS,
	    TRUSTCHECK_UNVERIFIED, TRUSTCHECK_WARN, RETRY},
	/* Later: the daemon stays up to defer mail, and says why. */
	{"validating, secure: no news", TRUSTCHECK_VALIDATING, false, TRUSTCHECK_SECURE, HOUR_MS,
	    TRUSTCHECK_VALIDATING, TRUSTCHECK_NONE, HOUR_MS},
	{"validating, insecure: alert", TRUSTCHECK_VALIDATING, false, TRUSTCHECK_INSECURE, HOUR_MS,
	    TRUSTCHECK_NOT_VALIDATING, TRUSTCHECK_ALERT, RETRY},
	{"validating, bogus: alert", TRUSTCHECK_VALIDATING, false, TRUSTCHECK_BOGUS, HOUR_MS,
	    TRUSTCHECK_NOT_VALIDATING, TRUSTCHECK_ALERT, RETRY},
	{"validating, no answer: still validating, retry soon", TRUSTCHECK_VALIDATING, false,
	    TRUSTCHECK_NO_ANSWER, HOUR_MS, TRUSTCHECK_VALIDATING, TRUSTCHECK_WARN, RETRY},
	{"not validating, bogus again: alert again (the alerter holds repeats)", TRUSTCHECK_NOT_VALIDATING,
	    false, TRUSTCHECK_BOGUS, HOUR_MS, TRUSTCHECK_NOT_VALIDATING, TRUSTCHECK_ALERT, RETRY},
	{"not validating, no answer: no proof of recovery", TRUSTCHECK_NOT_VALIDATING, false,
	    TRUSTCHECK_NO_ANSWER, HOUR_MS, TRUSTCHECK_NOT_VALIDATING, TRUSTCHECK_WARN, RETRY},
	{"not validating, secure: recovered", TRUSTCHECK_NOT_VALIDATING, false, TRUSTCHECK_SECURE, HOUR_MS,
	    TRUSTCHECK_VALIDATING, TRUSTCHECK_RECOVERED, HOUR_MS},
	{"unverified, secure: recovered", TRUSTCHECK_UNVERIFIED, false, TRUSTCHECK_SECURE, HOUR_MS,
	    TRUSTCHECK_VALIDATING, TRUSTCHECK_RECOVERED, HOUR_MS},
	{"unverified, no answer: still unverified", TRUSTCHECK_UNVERIFIED, false, TRUSTCHECK_NO_ANSWER,
	    HOUR_MS, TRUSTCHECK_UNVERIFIED, TRUSTCHECK_WARN, RETRY},
	/* After an outage at start the anchors are judged at last: too late
	 * to refuse, not too late to defer. */
	{"unverified, insecure: alert, not refuse", TRUSTCHECK_UNVERIFIED, false, TRUSTCHECK_INSECURE, HOUR_MS,
	    TRUSTCHECK_NOT_VALIDATING, TRUSTCHECK_ALERT, RETRY},
	/* An interval shorter than the retry: the interval. */
	{"short interval, failing: retried at the interval", TRUSTCHECK_VALIDATING, false, TRUSTCHECK_BOGUS,
	    2000, TRUSTCHECK_NOT_VALIDATING, TRUSTCHECK_ALERT, 2000},
	{"short interval, secure: the interval", TRUSTCHECK_VALIDATING, false, TRUSTCHECK_SECURE, 2000,
	    TRUSTCHECK_VALIDATING, TRUSTCHECK_NONE, 2000},
};

static const char *
step_case_name(const void *row)
{
	return ((const struct step_case *)row)->name;
}

static void
test_step(void **state)
{
	const struct step_case *c = *state;
	struct trustcheck_step s = trustcheck_next(c->state, c->first, c->verdict, c->interval_ms);

	if (s.state != c->want_state)
		fail_msg("state %s, want %s", trustcheck_state_name(s.state), trustcheck_state_name(c->want_state));
	assert_int_equal(s.action, c->want_action);
	assert_int_equal(s.next_ms, c->want_next_ms);
}

/* Every state and verdict: only the state "validating" lets fresh
 * resolutions through, and only a secure verdict leads to it. */
static void
test_only_secure_validates(void **state)
{
	for (int st = TRUSTCHECK_UNVERIFIED; st <= TRUSTCHECK_NOT_VALIDATING; st++)
		for (int v = TRUSTCHECK_SECURE; v <= TRUSTCHECK_NO_ANSWER; v++)
			for (int first = 0; first < 2; first++) {
				struct trustcheck_step s = trustcheck_next((enum trustcheck_state)st, first,
				    (enum trustcheck_verdict)v, HOUR_MS);
				if (s.state == TRUSTCHECK_VALIDATING && v != TRUSTCHECK_SECURE &&
				    st != TRUSTCHECK_VALIDATING)
					fail_msg("%s became validating on %s", trustcheck_state_name((enum trustcheck_state)st),
					    trustcheck_verdict_name((enum trustcheck_verdict)v));
				if (first && s.state == TRUSTCHECK_VALIDATING && v != TRUSTCHECK_SECURE)
					fail_msg("start validating on %s", trustcheck_verdict_name((enum trustcheck_verdict)v));
				if (s.next_ms == 0 || s.next_ms > HOUR_MS)
					fail_msg("next check in %llu ms", (unsigned long long)s.next_ms);
			}
}

/* ---- What the policy map is told, after each step. ---- */

struct trust_case {
	const char *name;
	enum trustcheck_state state;		/* after the step */
	enum trustcheck_verdict verdict;
	enum trustcheck_trust want;
	const char *reason;
};

static const struct trust_case trust_cases[] = {
	{"trust: validating, secure", TRUSTCHECK_VALIDATING, TRUSTCHECK_SECURE, TRUSTCHECK_TRUST},
	/* An outage proves nothing against a resolver that validated. */
	{"trust: validating through an outage", TRUSTCHECK_VALIDATING, TRUSTCHECK_NO_ANSWER, TRUSTCHECK_TRUST},
	{"trust: bogus, what came back", TRUSTCHECK_NOT_VALIDATING, TRUSTCHECK_BOGUS, TRUSTCHECK_DISTRUST,
	    "trust check: DNSKEY test. came back DETAIL"},
	{"trust: insecure, what came back", TRUSTCHECK_NOT_VALIDATING, TRUSTCHECK_INSECURE, TRUSTCHECK_DISTRUST,
	    "trust check: DNSKEY test. came back DETAIL"},
	{"trust: unverified since start, no answer", TRUSTCHECK_UNVERIFIED, TRUSTCHECK_NO_ANSWER,
	    TRUSTCHECK_DISTRUST, "trust check: none has passed since start (DNSKEY test.: DETAIL)"},
	/* Not validating, then an outage: the failure's reason stands. */
	{"trust: not validating, no answer: kept", TRUSTCHECK_NOT_VALIDATING, TRUSTCHECK_NO_ANSWER,
	    TRUSTCHECK_KEEP},
};

static const char *
trust_case_name(const void *row)
{
	return ((const struct trust_case *)row)->name;
}

static void
test_trust(void **state)
{
	const struct trust_case *c = *state;
	struct trustcheck_step step = {.state = c->state};
	char reason[200] = "untouched";

	assert_int_equal(trustcheck_trust(&step, c->verdict, "test.", "DETAIL", reason, sizeof(reason)), c->want);
	assert_string_equal(reason, c->want == TRUSTCHECK_DISTRUST ? c->reason : "untouched");
}

static void
test_names(void **state)
{
	for (int v = TRUSTCHECK_SECURE; v <= TRUSTCHECK_NO_ANSWER; v++) {
		assert_string_not_equal(trustcheck_verdict_name((enum trustcheck_verdict)v), "unknown");
		assert_string_not_equal(trustcheck_advice((enum trustcheck_verdict)v), "unknown verdict");
	}
	for (int s = TRUSTCHECK_UNVERIFIED; s <= TRUSTCHECK_NOT_VALIDATING; s++)
		assert_string_not_equal(trustcheck_state_name((enum trustcheck_state)s), "unknown");
	/* The advice names what to change. */
	assert_non_null(strstr(trustcheck_advice(TRUSTCHECK_BOGUS), "trust_anchor_file"));
	assert_non_null(strstr(trustcheck_advice(TRUSTCHECK_INSECURE), "trust_check_name"));
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_only_secure_validates),
		cmocka_unit_test(test_names),
	};
	struct table t = {0};

	TABLE_ADD(&t, verdict_cases, verdict_case, test_verdict);
	TABLE_ADD(&t, step_cases, step_case, test_step);
	TABLE_ADD(&t, trust_cases, trust_case, test_trust);
	TABLE_TESTS(&t, more);
	return table_run(&t, "trustcheck");
}
