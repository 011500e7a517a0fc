/* Unit tests: the MTA-STS check's diagnosis and report (lib/sts/stscheck.h)
 * from answers and fetch results made here, one row per kind of domain;
 * and explain's MTA-STS part (lib/report/explain.h) from a check and from
 * a cached policy. The JSON is read back with jansson. */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "util/buf.h"
#include "util/jsonw.h"
#include "rules/stspolicy.h"
#include "dns/dns.h"
#include "dns/rr.h"
#include "sts/stscache.h"
#include "sts/stscheck.h"
#include "report/stsreport.h"
#include "report/explain.h"
#include "fake_dns.h"
#include "table.h"

#define GOOD_POLICY "version: STSv1\r\nmode: enforce\r\nmx: mx.example.org\r\nmax_age: 604800\r\n"
#define WILD_POLICY "version: STSv1\nmode: enforce\nmx: *.example.org\nmax_age: 604800\n"
#define TESTING_POLICY "version: STSv1\nmode: testing\nmx: mx.example.org\nmax_age: 3600\n"
#define NONE_POLICY "version: STSv1\nmode: none\nmax_age: 604800\n"
#define BAD_POLICY "version: STSv2\nmode: strict\nmx: mx.example.org\n"
#define ID_RECORD "v=STSv1; id=2024a"

struct check_case {
	const char *name;
	/* TXT: outcome, security, up to two records ("" for none) */
	enum dns_outcome txt_outcome;
	enum dns_security txt_security;
	const char *txt1, *txt2;
	/* MX: outcome, up to two hosts ("." for a null MX) */
	enum dns_outcome mx_outcome;
	const char *mx1, *mx2;
	/* the fetch */
	enum stsfetch_outcome fetch;
	long status;
	const char *body;
	/* expected */
	enum stscheck_verdict verdict;
	const char *problem;		/* in the first problem; NULL: none */
	const char *note;		/* in some note; NULL: no note */
	const char *enforce_answer;	/* NULL: none */
	const char *text;		/* in the text report */
};

static const struct check_case check_cases[] = {
	{"valid enforce", DNS_DATA, DNS_SECURE, ID_RECORD, NULL, DNS_DATA, "mx.example.org", NULL,
	    STSFETCH_OK, 200, GOOD_POLICY, STSCHECK_VALID, NULL, NULL,
	    "secure match=mx.example.org servername=hostname", "    10 mx.example.org  [matched by the policy]\n"},
	{"valid, an SPF record beside it", DNS_DATA, DNS_INSECURE, "v=spf1 -all", ID_RECORD, DNS_DATA,
	    "mx.example.org", NULL, STSFETCH_OK, 200, GOOD_POLICY, STSCHECK_VALID, NULL, NULL,
	    "secure match=mx.example.org servername=hostname", "    \"v=spf1 -all\"  [not MTA-STS]\n"},
	{"wildcard", DNS_DATA, DNS_SECURE, ID_RECORD, NULL, DNS_DATA, "mx1.example.org", "mx2.example.org",
	    STSFETCH_OK, 200, WILD_POLICY, STSCHECK_VALID, NULL, NULL,
	    "secure match=.example.org servername=hostname", "    mx: *.example.org\n"},
	{"MX host not covered", DNS_DATA, DNS_SECURE, ID_RECORD, NULL, DNS_DATA, "mx.example.org",
	    "backup.example.net", STSFETCH_OK, 200, GOOD_POLICY, STSCHECK_VALID,
	    "MX host backup.example.net is matched by no mx line", NULL, NULL, "[NOT matched by the policy]"},
	{"implicit MX not covered", DNS_DATA, DNS_SECURE, ID_RECORD, NULL, DNS_NODATA, NULL, NULL,
	    STSFETCH_OK, 200, GOOD_POLICY, STSCHECK_VALID, "implicit MX host example.org", NULL, NULL,
	    "(implicit MX)"},
	{"testing, short max_age", DNS_DATA, DNS_SECURE, ID_RECORD, NULL, DNS_DATA, "mx.example.org", NULL,
	    STSFETCH_OK, 200, TESTING_POLICY, STSCHECK_VALID, NULL, "mode testing", NULL, "max_age 3600 s is short"},
	{"none", DNS_DATA, DNS_SECURE, ID_RECORD, NULL, DNS_DATA, "mx.example.org", NULL, STSFETCH_OK, 200,
	    NONE_POLICY, STSCHECK_VALID, NULL, "mode none", NULL, "mode: none"},
	{"no MTA-STS at all", DNS_NXDOMAIN, DNS_SECURE, NULL, NULL, DNS_DATA, "mx.example.org", NULL,
	    STSFETCH_NO_ADDRESS, 0, NULL, STSCHECK_ABSENT, "does not use MTA-STS", NULL, NULL,
	    "verdict: absent"},
	{"only an SPF record", DNS_DATA, DNS_SECURE, "v=spf1 -all", NULL, DNS_DATA, "mx.example.org", NULL,
	    STSFETCH_CONNECT, 0, NULL, STSCHECK_ABSENT, "does not use MTA-STS", NULL, NULL, "no v=STSv1 record"},
	{"served without TXT", DNS_NXDOMAIN, DNS_SECURE, NULL, NULL, DNS_DATA, "mx.example.org", NULL,
	    STSFETCH_OK, 200, GOOD_POLICY, STSCHECK_BROKEN, "no TXT record announces it", NULL,
	    "secure match=mx.example.org servername=hostname", "verdict: broken"},
	{"two records", DNS_DATA, DNS_SECURE, "v=STSv1; id=a", "v=STSv1; id=b", DNS_DATA, "mx.example.org", NULL,
	    STSFETCH_OK, 200, GOOD_POLICY, STSCHECK_BROKEN, "publish exactly one record", NULL, NULL,
	    "    no usable id: "},
	{"TXT bogus", DNS_DATA, DNS_BOGUS, ID_RECORD, NULL, DNS_DATA, "mx.example.org", NULL, STSFETCH_OK, 200,
	    GOOD_POLICY, STSCHECK_BROKEN, "failed DNSSEC validation", NULL, NULL, "data, bogus"},
	{"TXT lookup failed", DNS_SERVFAIL, DNS_INSECURE, NULL, NULL, DNS_DATA, "mx.example.org", NULL,
	    STSFETCH_OK, 200, GOOD_POLICY, STSCHECK_BROKEN, "TXT lookup of _mta-sts.example.org failed", NULL, NULL,
	    "servfail"},
	{"certificate", DNS_DATA, DNS_SECURE, ID_RECORD, NULL, DNS_DATA, "mx.example.org", NULL,
	    STSFETCH_CERTIFICATE, 0, NULL, STSCHECK_BROKEN, "names mta-sts.example.org", NULL, NULL,
	    "fetch: certificate"},
	{"redirect", DNS_DATA, DNS_SECURE, ID_RECORD, NULL, DNS_DATA, "mx.example.org", NULL, STSFETCH_REDIRECT,
	    301, NULL, STSCHECK_BROKEN, "do not follow redirects", NULL, NULL, "HTTP status 301"},
	{"404", DNS_DATA, DNS_SECURE, ID_RECORD, NULL, DNS_DATA, "mx.example.org", NULL, STSFETCH_STATUS, 404,
	    NULL, STSCHECK_BROKEN, "status 200", NULL, NULL, "HTTP status 404"},
	{"content type", DNS_DATA, DNS_SECURE, ID_RECORD, NULL, DNS_DATA, "mx.example.org", NULL,
	    STSFETCH_CONTENT_TYPE, 200, NULL, STSCHECK_BROKEN, "Content-Type: text/plain", NULL, NULL,
	    "fetch: content-type"},
	{"too large", DNS_DATA, DNS_SECURE, ID_RECORD, NULL, DNS_DATA, "mx.example.org", NULL,
	    STSFETCH_TOO_LARGE, 200, NULL, STSCHECK_BROKEN, "64 KiB", NULL, NULL, "fetch: too-large"},
	{"timeout", DNS_DATA, DNS_SECURE, ID_RECORD, NULL, DNS_DATA, "mx.example.org", NULL, STSFETCH_TIMEOUT, 0,
	    NULL, STSCHECK_BROKEN, "took too long", NULL, NULL, "fetch: timeout"},
	{"invalid policy", DNS_DATA, DNS_SECURE, ID_RECORD, NULL, DNS_DATA, "mx.example.org", NULL, STSFETCH_OK,
	    200, BAD_POLICY, STSCHECK_BROKEN, "the policy at https://mta-sts.example.org/.well-known/mta-sts.txt "
	    "is invalid: line 1", NULL, NULL, "policy: invalid"},
	{"null MX", DNS_DATA, DNS_SECURE, ID_RECORD, NULL, DNS_DATA, ".", NULL, STSFETCH_OK, 200, GOOD_POLICY,
	    STSCHECK_VALID, NULL, "null MX", "secure match=mx.example.org servername=hostname", "(null MX)"},
};

static const char *
check_case_name(const void *row)
{
	return ((const struct check_case *)row)->name;
}

static void
add_mx(struct dns_answer *a, uint16_t pref, const char *host)
{
	unsigned char rd[300];
	size_t at = 2;

	rd[0] = (unsigned char)(pref >> 8);
	rd[1] = (unsigned char)pref;
	for (const char *p = host; strcmp(host, ".") != 0 && *p;) {
		size_t n = strcspn(p, ".");
		rd[at++] = (unsigned char)n;
		memcpy(rd + at, p, n);
		at += n;
		p += n + (p[n] == '.');
	}
	rd[at++] = 0;
	assert_int_equal(dns_answer_add(a, rd, at), 0);
}

/* The result a check of example.org would give with these answers. */
static struct stscheck_result *
check_of(const struct check_case *c)
{
	struct stscheck_result *r = stscheck_result_new("example.org");
	struct dns_answer *txt = dns_answer_new("_mta-sts.example.org", RR_TYPE_TXT);
	struct dns_answer *mx = dns_answer_new("example.org", RR_TYPE_MX);
	struct stsfetch_result f = {
		.domain = "example.org",
		.host = "mta-sts.example.org",
		.outcome = c->fetch,
		.status = c->status,
		.body = c->body ? c->body : "",
		.body_len = c->body ? strlen(c->body) : 0,
		.elapsed_ms = 42,
	};

	assert_non_null(r);
	txt->outcome = c->txt_outcome;
	txt->security = c->txt_security;
	txt->ttl = 300;
	if (c->txt1)
		assert_int_equal(fake_dns_add_txt(txt, c->txt1), 0);
	if (c->txt2)
		assert_int_equal(fake_dns_add_txt(txt, c->txt2), 0);
	mx->outcome = c->mx_outcome;
	mx->security = DNS_SECURE;
	if (c->mx1)
		add_mx(mx, 10, c->mx1);
	if (c->mx2)
		add_mx(mx, 20, c->mx2);
	if (c->fetch != STSFETCH_OK)
		snprintf(f.detail, sizeof(f.detail), "mta-sts.example.org (192.0.2.1): %s", stsfetch_outcome_name(c->fetch));
	if (c->status || c->fetch == STSFETCH_OK)
		snprintf(f.address, sizeof(f.address), "192.0.2.1");
	assert_int_equal(stscheck_set_txt(r, txt), 0);
	assert_int_equal(stscheck_set_mx(r, mx), 0);
	assert_int_equal(stscheck_set_fetch(r, &f), 0);
	assert_int_equal(stscheck_diagnose(r), 0);
	dns_answer_free(txt);
	dns_answer_free(mx);
	return r;
}

static void
assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("\"%s\" not in:\n%s", needle, haystack);
}

static json_t *
json_of(const struct stscheck_result *r)
{
	struct buf out;
	struct jsonw j;
	json_error_t err;

	buf_init(&out);
	jsonw_init(&j, &out);
	assert_int_equal(stsreport_json(r, &j, NULL), 0);
	assert_int_equal(jsonw_done(&j), 0);
	json_t *doc = json_loadb(buf_ptr(&out), buf_size(&out), 0, &err);
	if (!doc)
		fail_msg("not JSON (%s): %s", err.text, buf_ptr(&out));
	buf_free(&out);
	return doc;
}

static void
test_check(void **state)
{
	const struct check_case *c = *state;
	struct stscheck_result *r = check_of(c);
	struct buf text;

	assert_int_equal(r->verdict, c->verdict);
	if (c->problem) {
		assert_true(r->nproblems > 0);
		assert_contains(r->problems[0], c->problem);
	} else if (r->nproblems) {
		fail_msg("unexpected problem: %s", r->problems[0]);
	}
	bool noted = false;
	for (size_t i = 0; i < r->nnotes; i++)
		noted = noted || (c->note && strstr(r->notes[i], c->note));
	if (c->note && !noted)
		fail_msg("no note says \"%s\"", c->note);
	if (!c->note && r->nnotes && !strstr(c->text, "short"))
		fail_msg("unexpected note: %s", r->notes[0]);
	if (c->enforce_answer)
		assert_string_equal(r->enforce_answer, c->enforce_answer);
	else if (!r->policy || stspolicy_mode(r->policy) == STSPOLICY_MODE_NONE)
		assert_null(r->enforce_answer);

	buf_init(&text);
	assert_int_equal(stsreport_text(r, &text), 0);
	assert_contains(buf_ptr(&text), "domain: example.org\n");
	assert_contains(buf_ptr(&text), c->text);
	assert_contains(buf_ptr(&text), r->nproblems ? "problems:\n  - " : "problems: none\n");
	buf_free(&text);

	json_t *doc = json_of(r);
	assert_string_equal(json_string_value(json_object_get(doc, "verdict")), stscheck_verdict_name(c->verdict));
	assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "fetch"), "outcome")),
	    stsfetch_outcome_name(c->fetch));
	assert_int_equal(json_array_size(json_object_get(doc, "problems")), r->nproblems);
	json_t *policy = json_object_get(doc, "policy");
	assert_int_equal(json_is_null(policy), r->policy == NULL);
	if (r->policy)
		assert_string_equal(json_string_value(json_object_get(policy, "mode")),
		    stspolicy_mode_name(stspolicy_mode(r->policy)));
	json_t *answer = json_object_get(doc, "enforce_answer");
	if (c->enforce_answer)
		assert_string_equal(json_string_value(answer), c->enforce_answer);
	json_decref(doc);
	stscheck_result_free(r);
}

/* Every error of an invalid policy is a problem of its own, and the JSON
 * lists them. */
static void
test_every_policy_error(void **state)
{
	(void)state;
	const struct check_case *c = &check_cases[sizeof(check_cases) / sizeof(check_cases[0]) - 2];
	struct stscheck_result *r = check_of(c);

	assert_string_equal(c->name, "invalid policy");
	/* version, mode, max_age: three problems at least */
	assert_true(r->nproblems >= 3);
	json_t *doc = json_of(r);
	assert_int_equal(json_array_size(json_object_get(doc, "policy_errors")), r->nproblems);
	json_decref(doc);
	stscheck_result_free(r);
}

/* The TLSRPT attributes follow the answer as the daemon writes them. */
static void
test_tlsrpt(void **state)
{
	(void)state;
	struct stscheck_result *r = check_of(&check_cases[0]);

	assert_string_equal(r->tlsrpt, "policy_type=sts policy_domain=example.org mx_host_pattern=mx.example.org "
	    "{ policy_string = version: STSv1 } { policy_string = mode: enforce } "
	    "{ policy_string = mx: mx.example.org } { policy_string = max_age: 604800 }");
	stscheck_result_free(r);
}

static void
test_bad_domain(void **state)
{
	(void)state;
	assert_null(stscheck_result_new("Example.org"));
	assert_null(stscheck_result_new("example.org."));
	assert_null(stscheck_result_new(""));
	assert_null(stscheck_result_new("a..b"));
	struct stscheck_result *r = stscheck_result_new("xn--bcher-kva.example");
	assert_non_null(r);
	assert_string_equal(r->url, "https://mta-sts.xn--bcher-kva.example/.well-known/mta-sts.txt");
	stscheck_result_free(r);
}

/* ---- explain's MTA-STS part ---- */

static void
explain_both(const struct explain_sts *s, struct buf *text, json_t **doc)
{
	struct buf js;
	struct jsonw j;

	buf_init(text);
	assert_int_equal(explain_sts_text(s, text), 0);
	buf_init(&js);
	jsonw_init(&j, &js);
	jsonw_object(&j, NULL);
	assert_int_equal(explain_sts_json(s, &j), 0);
	jsonw_object_end(&j);
	assert_int_equal(jsonw_done(&j), 0);
	*doc = json_loadb(buf_ptr(&js), buf_size(&js), 0, NULL);
	assert_non_null(*doc);
	buf_free(&js);
}

static const char *
sts_member(json_t *doc, const char *name)
{
	return json_string_value(json_object_get(json_object_get(doc, "sts"), name));
}

static void
test_explain_check_replaces(void **state)
{
	(void)state;
	struct stscheck_result *r = check_of(&check_cases[0]);
	struct explain_sts s = {
		.domain = "example.org",
		.nexthop = STSPREC_NEXTHOP_DOMAIN,
		.answer = {POLICY_OK, POLICY_RULE_NO_TLSA},
		.state_file = "/var/lib/tlspolicyd/sts-policies",
		.now = 1764000000,
		.check = r,
	};
	struct buf text;
	json_t *doc;

	explain_both(&s, &text, &doc);
	assert_contains(buf_ptr(&text), "mta-sts: no policy cached by the daemon (none for example.org in "
	    "/var/lib/tlspolicyd/sts-policies); checked from here:\n");
	assert_contains(buf_ptr(&text), "    TXT _mta-sts.example.org: data, secure, id 2024a\n");
	assert_contains(buf_ptr(&text), "mta-sts decision: the policy replaces the answer: Postfix gets OK "
	    "secure match=mx.example.org servername=hostname (");
	assert_string_equal(sts_member(doc, "source"), "check");
	assert_string_equal(sts_member(doc, "decision"), "sts");
	assert_string_equal(sts_member(doc, "answer"), "OK secure match=mx.example.org servername=hostname");
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(doc, "sts"), "check"),
	    "verdict")), "valid");
	json_decref(doc);
	buf_free(&text);
	stscheck_result_free(r);
}

static void
test_explain_dane_shadows(void **state)
{
	(void)state;
	struct stscheck_result *r = check_of(&check_cases[0]);
	struct explain_sts s = {
		.domain = "example.org",
		.nexthop = STSPREC_NEXTHOP_DOMAIN,
		.answer = {POLICY_OK, POLICY_RULE_ALL_DANE},
		.now = 1764000000,
		.check = r,
	};
	struct buf text;
	json_t *doc;

	explain_both(&s, &text, &doc);
	assert_contains(buf_ptr(&text), "mta-sts decision: DANE shadows the policy in mode enforce: DANE answered");
	assert_string_equal(sts_member(doc, "decision"), "dane-shadows");
	assert_true(json_is_null(json_object_get(json_object_get(doc, "sts"), "answer")));
	json_decref(doc);
	buf_free(&text);
	stscheck_result_free(r);
}

/* A broken check leaves the answer as DNS gave it; a [host] is no
 * domain at all. */
static void
test_explain_broken_and_host(void **state)
{
	(void)state;
	struct stscheck_result *r = check_of(&check_cases[14]);
	struct explain_sts s = {
		.domain = "example.org",
		.nexthop = STSPREC_NEXTHOP_DOMAIN,
		.answer = {POLICY_OK, POLICY_RULE_INSECURE},
		.now = 1764000000,
		.check = r,
	};
	struct buf text;
	json_t *doc;

	assert_string_equal(check_cases[14].name, "redirect");
	explain_both(&s, &text, &doc);
	assert_contains(buf_ptr(&text), "    problem: https://mta-sts.example.org/.well-known/mta-sts.txt answered "
	    "with a redirect");
	assert_contains(buf_ptr(&text), "mta-sts decision: the answer stands: no MTA-STS policy in force");
	assert_string_equal(sts_member(doc, "decision"), "unchanged");
	json_decref(doc);
	buf_free(&text);

	s.nexthop = STSPREC_NEXTHOP_HOST;
	s.check = NULL;
	explain_both(&s, &text, &doc);
	assert_contains(buf_ptr(&text), "mta-sts: does not apply: a [host] next hop");
	assert_string_equal(sts_member(doc, "source"), "none");
	json_decref(doc);
	buf_free(&text);
	stscheck_result_free(r);
}

/* The daemon's cached policy: its id, when fetched and until when. */
static void
test_explain_cached(void **state)
{
	(void)state;
	const int64_t fetched = 1764000000, now = fetched + 600;
	struct stscache *c = stscache_create(10);
	struct stscache_entry *e = stscache_lookup(c, "example.org", true, fetched);
	struct stspolicy *p = stspolicy_parse(GOOD_POLICY, strlen(GOOD_POLICY), NULL);

	assert_non_null(e);
	assert_non_null(p);
	stscache_fetched(e, "2024a", p, fetched);
	struct explain_sts s = {
		.domain = "example.org",
		.nexthop = STSPREC_NEXTHOP_DOMAIN,
		.answer = {POLICY_OK, POLICY_RULE_NO_TLSA},
		.state_file = "/state/sts-policies",
		.cached = e,
		.now = now,
	};
	struct buf text;
	json_t *doc;

	explain_both(&s, &text, &doc);
	assert_contains(buf_ptr(&text), "mta-sts: the daemon's policy (/state/sts-policies): id 2024a, fetched "
	    "2025-11-24T16:00:00Z (600 s ago), in force until 2025-12-01T16:00:00Z (604200 s from now)\n");
	assert_contains(buf_ptr(&text), "the policy replaces the answer");
	json_t *cached = json_object_get(json_object_get(doc, "sts"), "cached");
	assert_string_equal(json_string_value(json_object_get(cached, "id")), "2024a");
	assert_int_equal(json_integer_value(json_object_get(cached, "age_s")), 600);
	assert_int_equal(json_integer_value(json_object_get(cached, "expires_in_s")), 604200);
	assert_string_equal(sts_member(doc, "source"), "cache");
	json_decref(doc);
	buf_free(&text);
	stscache_free(c);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_policy_error),
		cmocka_unit_test(test_tlsrpt),
		cmocka_unit_test(test_bad_domain),
		cmocka_unit_test(test_explain_check_replaces),
		cmocka_unit_test(test_explain_dane_shadows),
		cmocka_unit_test(test_explain_broken_and_host),
		cmocka_unit_test(test_explain_cached),
	};
	struct table t = {0};

	TABLE_ADD(&t, check_cases, check_case, test_check);
	table_add_tests(&t, tests, sizeof(tests) / sizeof(tests[0]));
	return table_run(&t, "stscheck");
}
