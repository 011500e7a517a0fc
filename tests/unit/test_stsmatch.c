/* Unit tests: selfcheck's sts-mismatch (lib/selfcheck/stsmatch.h), from
 * MTA-STS check results built as the check builds them (answers and a
 * fetch made here, then stscheck_diagnose), against the MX hosts of the
 * DANE resolution and the certificates their probes saw. One row per kind
 * of domain: the findings it must give, exactly, as "SEVERITY HOST"
 * words, and a text the first one must hold. */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf.h"
#include "util/netaddr.h"
#include "dns/dns.h"
#include "dns/rr.h"
#include "probe/probe.h"
#include "sts/stscheck.h"
#include "sts/stsfetch.h"
#include "selfcheck/checklist.h"
#include "selfcheck/selfcheck.h"
#include "selfcheck/stsmatch.h"
#include "fake_dns.h"
#include "table.h"

#define ENFORCE "version: STSv1\nmode: enforce\nmx: mx1.example.org\nmax_age: 604800\n"
#define WILD "version: STSv1\nmode: enforce\nmx: *.example.org\nmax_age: 604800\n"
#define TESTING "version: STSv1\nmode: testing\nmx: mx1.example.org\nmax_age: 604800\n"
#define NONE "version: STSv1\nmode: none\nmax_age: 604800\n"
#define INVALID "version: STSv1\nmode: strict\nmx: mx1.example.org\n"
#define RECORD "v=STSv1; id=20261205"

struct match_case {
	const char *name;
	const char *txt;		/* the one TXT record, or NULL: NXDOMAIN */
	enum stsfetch_outcome fetch;
	const char *body;		/* with STSFETCH_OK */
	const char *hosts[3];		/* the MX hosts, NULL-ended */
	/* How each host's one address's certificate verifies: "" or NULL a
	 * valid one; "pkix" a chain to no trusted CA; "name" one for another
	 * name; "none" not probed. */
	const char *certs[3];
	const char *want;		/* "SEVERITY HOST|-" a finding, " " between; "" none */
	const char *detail_has;		/* in the first finding's detail, or NULL */
	const char *fix_has;		/* in the first finding's fix, or NULL */
};

static const char *
match_case_name(const void *row)
{
	return ((const struct match_case *)row)->name;
}

static const struct match_case match_cases[] = {
	{"no MTA-STS: no finding at all", NULL, STSFETCH_NO_ADDRESS, NULL, {"mx1.example.org"}, {"pkix"}, ""},
	{"enforce, every host matched: ok", RECORD, STSFETCH_OK, ENFORCE, {"mx1.example.org"}, {""}, "ok -",
	    "matches every MX host"},
	{"wildcard covers both hosts: ok", RECORD, STSFETCH_OK, WILD, {"mx1.example.org", "mx2.example.org"},
	    {"", ""}, "ok -"},
	{"enforce, a host no pattern matches: fail for it", RECORD, STSFETCH_OK, ENFORCE,
	    {"mx1.example.org", "backup.example.net"}, {"", ""}, "fail backup.example.net",
	    "(mode enforce; mx: mx1.example.org) has no mx pattern that matches MX host backup.example.net",
	    "add \"mx: backup.example.net\""},
	{"enforce, no host matched: a failure each", RECORD, STSFETCH_OK, ENFORCE,
	    {"mx.example.net", "mx2.example.net"}, {""}, "fail mx.example.net fail mx2.example.net",
	    "refuse to deliver", "change the id of the _mta-sts.example.org TXT record"},
	{"the wildcard is one label deep", RECORD, STSFETCH_OK, WILD, {"a.b.example.org"}, {""},
	    "fail a.b.example.org"},
	{"testing, a host not matched: warn", RECORD, STSFETCH_OK, TESTING, {"mx2.example.org"}, {""},
	    "warn mx2.example.org", "report every delivery to it as failed"},
	{"mode none: ok, nothing to match", RECORD, STSFETCH_OK, NONE, {"mx2.example.org"}, {"pkix"}, "ok -",
	    "mode none"},
	{"enforce, a host's chain untrusted: fail for it", RECORD, STSFETCH_OK, WILD,
	    {"mx1.example.org", "mx2.example.org"}, {"", "pkix"}, "fail mx2.example.org",
	    "its chain does not verify (self-signed certificate)", "a public certification authority that names "
	    "mx2.example.org"},
	{"enforce, a certificate for another name: fail", RECORD, STSFETCH_OK, ENFORCE, {"mx1.example.org"},
	    {"name"}, "fail mx1.example.org", "it does not name mx1.example.org; under the enforce policy"},
	{"testing, a certificate for another name: warn", RECORD, STSFETCH_OK, TESTING, {"mx1.example.org"},
	    {"name"}, "warn mx1.example.org"},
	{"a host not matched: its certificate not judged again", RECORD, STSFETCH_OK, ENFORCE,
	    {"mx.example.net"}, {"pkix"}, "fail mx.example.net", "has no mx pattern"},
	{"a host not probed: nothing to judge", RECORD, STSFETCH_OK, ENFORCE, {"mx1.example.org"}, {"none"},
	    "ok -"},
	{"mta-sts certificate invalid: warn for the mta-sts host", RECORD, STSFETCH_CERTIFICATE, NULL,
	    {"mx1.example.org"}, {""}, "warn mta-sts.example.org",
	    "the certificate of mta-sts.example.org does not verify",
	    "a public certification authority that names mta-sts.example.org"},
	{"policy 404: warn quoting the check", RECORD, STSFETCH_STATUS, NULL, {"mx1.example.org"}, {""}, "warn -",
	    "status 200", "tlspolicy sts example.org"},
	{"invalid policy: warn", RECORD, STSFETCH_OK, INVALID, {"mx1.example.org"}, {""}, "warn -", "is invalid"},
	{"policy served, no TXT: warn, senders do not apply it", NULL, STSFETCH_OK, ENFORCE, {"mx.example.net"},
	    {""}, "warn -", "senders do not apply MTA-STS"},
};

/* The check of example.org with these answers; its own MX lookup found
 * mx1.example.org (stsmatch matches the hosts given instead). */
static struct stscheck_result *
check_of(const struct match_case *c)
{
	static const unsigned char mx1[] = {0, 10, 3, 'm', 'x', '1', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'o', 'r',
	    'g', 0};
	struct stscheck_result *r = stscheck_result_new("example.org");
	struct dns_answer *txt = dns_answer_new("_mta-sts.example.org", RR_TYPE_TXT);
	struct dns_answer *mx = dns_answer_new("example.org", RR_TYPE_MX);
	struct stsfetch_result f = {
		.domain = "example.org",
		.host = "mta-sts.example.org",
		.outcome = c->fetch,
		.status = c->fetch == STSFETCH_OK ? 200 : c->fetch == STSFETCH_STATUS ? 404 : 0,
		.body = c->body ? c->body : "",
		.body_len = c->body ? strlen(c->body) : 0,
	};

	assert_non_null(r);
	txt->outcome = c->txt ? DNS_DATA : DNS_NXDOMAIN;
	txt->security = DNS_SECURE;
	if (c->txt)
		assert_int_equal(fake_dns_add_txt(txt, c->txt), 0);
	mx->outcome = DNS_DATA;
	mx->security = DNS_SECURE;
	assert_int_equal(dns_answer_add(mx, mx1, sizeof(mx1)), 0);
	if (c->fetch != STSFETCH_OK)
		snprintf(f.detail, sizeof(f.detail), "mta-sts.example.org (192.0.2.1): %s", stsfetch_outcome_name(c->fetch));
	snprintf(f.address, sizeof(f.address), "192.0.2.1");
	assert_int_equal(stscheck_set_txt(r, txt), 0);
	assert_int_equal(stscheck_set_mx(r, mx), 0);
	assert_int_equal(stscheck_set_fetch(r, &f), 0);
	assert_int_equal(stscheck_diagnose(r), 0);
	dns_answer_free(txt);
	dns_answer_free(mx);
	return r;
}

/* Each host's one address (192.0.2.1, .2, ...) and its probe. */
struct probes {
	struct probe_target targets[3];
	struct probe_result results[3];
	struct selfcheck_probe probes[3];
};

static void
make_probes(const struct match_case *c, size_t nhosts, struct probes *p)
{
	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < nhosts; i++) {
		const char *cert = c->certs[i] ? c->certs[i] : "";
		char addr[32];
		snprintf(p->targets[i].host, sizeof(p->targets[i].host), "%s", c->hosts[i]);
		snprintf(addr, sizeof(addr), "192.0.2.%zu", i + 1);
		assert_int_equal(netaddr_parse(addr, &p->targets[i].address), 0);
		p->targets[i].port = 25;
		p->probes[i].target = &p->targets[i];
		if (strcmp(cert, "none") == 0) {
			p->probes[i].not_probed = "a special-purpose address";
			continue;
		}
		struct probe_result *r = &p->results[i];
		r->class = PROBE_VERIFIED;
		r->ncerts = 1;
		snprintf(r->certs[0].subject, sizeof(r->certs[0].subject), "/CN=%s", c->hosts[i]);
		snprintf(r->certs[0].cert_sha256, sizeof(r->certs[0].cert_sha256), "%064zx", i);
		r->pkix_ok = strcmp(cert, "pkix") != 0;
		r->name_ok = strcmp(cert, "name") != 0;
		if (!r->pkix_ok) {
			r->class = PROBE_UNTRUSTED;
			snprintf(r->pkix_error, sizeof(r->pkix_error), "self-signed certificate");
		} else if (!r->name_ok) {
			r->class = PROBE_TRUSTED;
		}
		p->probes[i].result = r;
	}
}

static void
test_match(void **state)
{
	const struct match_case *c = *state;
	struct stscheck_result *r = check_of(c);
	struct checklist list;
	struct probes p;
	size_t nhosts = 0;
	char got[512] = "";

	while (nhosts < 3 && c->hosts[nhosts])
		nhosts++;
	make_probes(c, nhosts, &p);
	assert_int_equal(checklist_init(&list, "example.org"), 0);
	assert_int_equal(stsmatch_run(r, c->hosts, nhosts, p.probes, nhosts, &list), 0);
	for (size_t i = 0; i < list.n; i++) {
		const struct checklist_finding *f = &list.findings[i];
		size_t used = strlen(got);
		assert_string_equal(f->code, "sts-mismatch");
		snprintf(got + used, sizeof(got) - used, "%s%s %s", i ? " " : "", checklist_severity_name(f->severity),
		    f->host ? f->host : "-");
		/* A problem has its fix; an ok finding none. */
		if (f->severity == CHECKLIST_OK)
			assert_null(f->fix);
		else
			assert_non_null(f->fix);
	}
	assert_string_equal(got, c->want);
	if (c->detail_has && !strstr(list.findings[0].detail, c->detail_has))
		fail_msg("detail \"%s\" lacks \"%s\"", list.findings[0].detail, c->detail_has);
	if (c->fix_has && !strstr(list.findings[0].fix, c->fix_has))
		fail_msg("fix \"%s\" lacks \"%s\"", list.findings[0].fix, c->fix_has);
	checklist_free(&list);
	stscheck_result_free(r);
}

/* The mta-sts host's finding carries the address the fetch used. */
static void
test_certificate_address(void **state)
{
	static const struct match_case c = {"", RECORD, STSFETCH_CERTIFICATE, NULL, {"mx1.example.org"}, {""}, ""};
	struct stscheck_result *r = check_of(&c);
	struct checklist list;
	const char *hosts[] = {"mx1.example.org"};
	(void)state;

	assert_int_equal(checklist_init(&list, "example.org"), 0);
	assert_int_equal(stsmatch_run(r, hosts, 1, NULL, 0, &list), 0);
	assert_int_equal(list.n, 1);
	assert_string_equal(list.findings[0].address, "192.0.2.1");
	assert_int_equal(checklist_status(&list), CHECKLIST_EXIT_WARNED);
	checklist_free(&list);
	stscheck_result_free(r);
}

/* Two addresses of a host presenting one untrusted certificate: one
 * finding, at the first address. */
static void
test_certificate_once(void **state)
{
	static const struct match_case c = {"", RECORD, STSFETCH_OK, ENFORCE, {"mx1.example.org", "mx1.example.org"},
	    {"pkix", "pkix"}, ""};
	struct stscheck_result *r = check_of(&c);
	struct checklist list;
	struct probes p;
	(void)state;

	make_probes(&c, 2, &p);
	p.results[1] = p.results[0];
	assert_int_equal(checklist_init(&list, "example.org"), 0);
	assert_int_equal(stsmatch_run(r, c.hosts, 1, p.probes, 2, &list), 0);
	assert_int_equal(list.n, 1);
	assert_string_equal(list.findings[0].address, "192.0.2.1");
	assert_int_equal(checklist_status(&list), CHECKLIST_EXIT_FAILED);
	checklist_free(&list);
	stscheck_result_free(r);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_certificate_address),
		cmocka_unit_test(test_certificate_once),
	};
	struct table t = {0};

	TABLE_ADD(&t, match_cases, match_case, test_match);
	table_add_tests(&t, tests, sizeof(tests) / sizeof(tests[0]));
	return table_run(&t, "stsmatch");
}
