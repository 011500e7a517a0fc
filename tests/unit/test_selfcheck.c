/*
 * Unit tests: the checks of `tlspolicy selfcheck` (lib/selfcheck/), from
 * a made-up resolution and probes. One healthy domain (signed MX and
 * addresses, a 3 1 1 record for the server's key and a 2 1 1 record for
 * its issuer, a verified chain far from expiry, an ECDSA key alone as the
 * one-type handshakes find) gives only ok findings;
 * each row breaks it in one way and must give that row's code and
 * severity, and no failure of another code. Then the checklist's exit
 * status, its text order and its JSON (read back with jansson), and the
 * certificate dates.
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "util/buf.h"
#include "util/netaddr.h"
#include "rules/policy.h"
#include "dns/resolve.h"
#include "probe/probe.h"
#include "selfcheck/checklist.h"
#include "selfcheck/checkprint.h"
#include "selfcheck/selfcheck.h"
#include "table.h"

/* Digests of no real key, as the records hold them and as hex. */
#define LEAF_BYTE 0x11
#define ISSUER_BYTE 0x22
#define NEXT_BYTE 0x33
#define LEAF_HEX "1111111111111111111111111111111111111111111111111111111111111111"
#define ISSUER_HEX "2222222222222222222222222222222222222222222222222222222222222222"
#define OTHER_HEX "4444444444444444444444444444444444444444444444444444444444444444"
#define RSA_BYTE 0x55
#define RSA_HEX "5555555555555555555555555555555555555555555555555555555555555555"

#define NOW "2026-12-05T12:00:00Z"
#define FAR "2027-06-01T00:00:00Z"

struct fixture {
	struct resolve_result res;
	struct resolve_host hosts[2];
	unsigned char rdata[2][3][35];		/* up to three records a host */
	struct dns_rdata tlsa[2][3];
	struct resolve_lookup lookup;
	struct probe_target targets[2];
	struct probe_result results[2];
	struct probe_result typed[2][2];	/* each host's RSA-only and ECDSA-only handshakes */
	struct selfcheck_probe probes[2];
	struct selfcheck_input in;
};

static void
set_record(struct fixture *f, int h, int i, uint8_t usage, uint8_t sel, uint8_t mtype, unsigned char byte)
{
	f->rdata[h][i][0] = usage;
	f->rdata[h][i][1] = sel;
	f->rdata[h][i][2] = mtype;
	memset(&f->rdata[h][i][3], byte, 32);
	f->tlsa[h][i].data = f->rdata[h][i];
	f->tlsa[h][i].len = 35;
}

static void
set_host(struct fixture *f, int h, const char *name, const char *addr)
{
	struct resolve_host *host = &f->hosts[h];
	snprintf(host->name, sizeof(host->name), "%s", name);
	snprintf(host->tlsa_name, sizeof(host->tlsa_name), "_25._tcp.%s", name);
	host->facts.a = POLICY_DNS_SECURE;
	host->facts.aaaa = POLICY_DNS_SECURE_DENIAL;
	host->facts.tlsa_looked_up = true;
	host->facts.tlsa = POLICY_DNS_SECURE;
	host->facts.tlsa_usable = 2;
	host->naddresses = 1;
	assert_int_equal(netaddr_parse(addr, &host->addresses[0]), 0);
	set_record(f, h, 0, 3, 1, 1, LEAF_BYTE);
	set_record(f, h, 1, 2, 1, 1, ISSUER_BYTE);
	host->ntlsa = 2;
	host->tlsa = f->tlsa[h];

	struct probe_target *t = &f->targets[h];
	snprintf(t->host, sizeof(t->host), "%s", name);
	t->address = host->addresses[0];
	t->port = 25;
	t->ntlsa = 2;
	struct probe_result *r = &f->results[h];
	r->class = PROBE_DANE_VERIFIED;
	r->stage = PROBE_STAGE_DONE;
	r->starttls_offered = true;
	r->ncerts = 2;
	snprintf(r->certs[0].subject, sizeof(r->certs[0].subject), "CN=%s", name);
	snprintf(r->certs[0].issuer, sizeof(r->certs[0].issuer), "CN=Lab Issuing CA");
	snprintf(r->certs[0].not_after, sizeof(r->certs[0].not_after), "%s", FAR);
	snprintf(r->certs[0].spki_sha256, sizeof(r->certs[0].spki_sha256), "%s", LEAF_HEX);
	snprintf(r->certs[0].cert_sha256, sizeof(r->certs[0].cert_sha256), "%s", OTHER_HEX);
	snprintf(r->certs[1].subject, sizeof(r->certs[1].subject), "CN=Lab Issuing CA");
	snprintf(r->certs[1].issuer, sizeof(r->certs[1].issuer), "CN=Lab Root");
	snprintf(r->certs[1].not_after, sizeof(r->certs[1].not_after), "2030-01-01T00:00:00Z");
	snprintf(r->certs[1].spki_sha256, sizeof(r->certs[1].spki_sha256), "%s", ISSUER_HEX);
	snprintf(r->certs[1].cert_sha256, sizeof(r->certs[1].cert_sha256), "%s", ISSUER_HEX);
	r->tlsa_usable = 2;
	r->dane_depth = 0;
	f->probes[h].target = t;
	f->probes[h].result = r;
	/* An ECDSA key alone: the RSA-only handshake fails, the ECDSA-only
	 * one presents the same chain. */
	struct probe_result *rsa = &f->typed[h][0];
	rsa->class = PROBE_TLS_FAILED;
	rsa->stage = PROBE_STAGE_HANDSHAKE;
	rsa->starttls_offered = true;
	snprintf(rsa->error, sizeof(rsa->error), "no shared signature algorithms");
	f->typed[h][1] = *r;
	f->probes[h].rsa = rsa;
	f->probes[h].ecdsa = &f->typed[h][1];
}

/* The RSA-only handshake of host h presents an RSA key, RSA_HEX, issued
 * by the same CA, with this DANE verdict. */
static void
rsa_chain(struct fixture *f, int h, enum probe_class class)
{
	struct probe_result *rsa = &f->typed[h][0];
	*rsa = f->results[h];
	rsa->class = class;
	rsa->dane_depth = class == PROBE_DANE_VERIFIED ? 0 : -1;
	snprintf(rsa->certs[0].spki_sha256, sizeof(rsa->certs[0].spki_sha256), "%s", RSA_HEX);
	snprintf(rsa->certs[0].cert_sha256, sizeof(rsa->certs[0].cert_sha256), "%s", RSA_HEX);
	if (class == PROBE_DANE_MISMATCH)
		snprintf(rsa->dane_error, sizeof(rsa->dane_error), "no matching DANE TLSA records");
}

/* The healthy domain: one MX host, mx1.example.org at 192.0.2.1. */
static void
healthy(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->res.facts.mx = POLICY_MX_HOSTS;
	f->res.facts.mx_dns = POLICY_DNS_SECURE;
	f->res.nhosts = 1;
	f->res.hosts = f->hosts;
	set_host(f, 0, "mx1.example.org", "192.0.2.1");
	/* A second host, used by the rows that set nhosts to 2. */
	set_host(f, 1, "mx2.example.org", "192.0.2.2");
	snprintf(f->results[1].certs[0].not_after, sizeof(f->results[1].certs[0].not_after), "2027-05-20T00:00:00Z");
	snprintf(f->results[1].certs[0].cert_sha256, sizeof(f->results[1].certs[0].cert_sha256), "%s", LEAF_HEX);
	f->in.resolution = &f->res;
	f->in.probes = f->probes;
	f->in.nprobes = 1;
	f->in.now = selfcheck_cert_time(NOW);
	f->in.days = SELFCHECK_DEFAULT_DAYS;
}

static void two_hosts(struct fixture *f) { f->res.nhosts = 2; f->in.nprobes = 2; }

static void nothing(struct fixture *f) { (void)f; }
static void mx_unsigned(struct fixture *f) { f->res.facts.mx_dns = POLICY_DNS_INSECURE; }
static void mx_failed(struct fixture *f) { f->res.facts.mx = POLICY_MX_FAILED; f->res.facts.mx_dns = POLICY_DNS_BOGUS; f->res.nhosts = 0; }
static void null_mx(struct fixture *f) { f->res.facts.mx = POLICY_MX_NULL; f->res.nhosts = 0; }
static void host_unsigned(struct fixture *f)
{
	f->hosts[0].facts.a = POLICY_DNS_INSECURE;
	f->hosts[0].facts.aaaa = POLICY_DNS_INSECURE_DENIAL;
	f->hosts[0].facts.tlsa_looked_up = false;
	f->targets[0].ntlsa = 0;
	f->results[0].tlsa_usable = 0;
	f->results[0].class = PROBE_VERIFIED;
}
static void address_bogus(struct fixture *f) { f->hosts[0].facts.a = POLICY_DNS_BOGUS; f->in.nprobes = 0; }
static void tlsa_bogus(struct fixture *f)
{
	f->hosts[0].facts.tlsa = POLICY_DNS_BOGUS;
	f->hosts[0].ntlsa = 0;
	f->targets[0].ntlsa = 0;
	f->results[0].tlsa_usable = 0;
	f->results[0].class = PROBE_VERIFIED;
	f->lookup = (struct resolve_lookup){.name = f->hosts[0].tlsa_name, .type = 52, .host = 0,
	    .why = "validation failure <_25._tcp.mx1.example.org. TLSA IN>: signature expired"};
	f->res.lookups = &f->lookup;
	f->res.nlookups = 1;
}
static void tlsa_denied(struct fixture *f)
{
	f->hosts[0].facts.tlsa = POLICY_DNS_SECURE_DENIAL;
	f->hosts[0].facts.tlsa_usable = 0;
	f->hosts[0].ntlsa = 0;
	f->targets[0].ntlsa = 0;
	f->results[0].tlsa_usable = 0;
	f->results[0].class = PROBE_VERIFIED;
}
static void tlsa_pkix_only(struct fixture *f)
{
	f->hosts[0].facts.tlsa_usable = 0;
	f->hosts[0].facts.tlsa_unusable = 2;
	set_record(f, 0, 0, 1, 1, 1, LEAF_BYTE);
	set_record(f, 0, 1, 0, 1, 1, ISSUER_BYTE);
	f->results[0].tlsa_usable = 0;
	f->results[0].class = PROBE_VERIFIED;
}
static void mismatch(struct fixture *f)
{
	f->results[0].class = PROBE_DANE_MISMATCH;
	f->results[0].dane_depth = -1;
	snprintf(f->results[0].certs[0].spki_sha256, sizeof(f->results[0].certs[0].spki_sha256), "%s", OTHER_HEX);
}
static void plaintext(struct fixture *f)
{
	f->results[0].class = PROBE_PLAINTEXT;
	f->results[0].starttls_offered = false;
	f->results[0].ncerts = 0;
}
static void plaintext_no_tlsa(struct fixture *f) { tlsa_denied(f); plaintext(f); }
static void handshake_fails(struct fixture *f)
{
	f->results[0].class = PROBE_TLS_FAILED;
	f->results[0].ncerts = 0;
	snprintf(f->results[0].error, sizeof(f->results[0].error), "handshake failure");
}
static void silent(struct fixture *f)
{
	f->results[0].class = PROBE_UNREACHABLE;
	f->results[0].stage = PROBE_STAGE_BANNER;
	f->results[0].ncerts = 0;
	snprintf(f->results[0].error, sizeof(f->results[0].error), "timed out");
}
static void refused(struct fixture *f) { f->probes[0].result = NULL; f->probes[0].not_probed = "a special-purpose address"; }
static void expiring(struct fixture *f)
{
	snprintf(f->results[0].certs[0].not_after, sizeof(f->results[0].certs[0].not_after), "2026-12-15T12:00:00Z");
}
static void expiring_short_horizon(struct fixture *f) { expiring(f); f->in.days = 5; }
static void expired(struct fixture *f)
{
	snprintf(f->results[0].certs[0].not_after, sizeof(f->results[0].certs[0].not_after), "2026-12-01T00:00:00Z");
}
static void issuer_expiring(struct fixture *f)
{
	snprintf(f->results[0].certs[1].not_after, sizeof(f->results[0].certs[1].not_after), "2026-12-20T00:00:00Z");
}
static void same_day(struct fixture *f)
{
	two_hosts(f);
	snprintf(f->results[1].certs[0].not_after, sizeof(f->results[1].certs[0].not_after), "2027-06-01T18:00:00Z");
}
static void staggered(struct fixture *f) { two_hosts(f); }
static void one_record(struct fixture *f)
{
	f->hosts[0].ntlsa = 1;
	f->hosts[0].facts.tlsa_usable = 1;
	f->targets[0].ntlsa = 1;
	f->results[0].tlsa_usable = 1;
}
static void one_record_no_issuer(struct fixture *f) { one_record(f); f->results[0].ncerts = 1; }
static void next_key_published(struct fixture *f) { set_record(f, 0, 1, 3, 1, 1, NEXT_BYTE); }
static void pkix_next_to_ee(struct fixture *f)
{
	/* A PKIX-EE record beside the one DANE-EE: unusable, no spare. */
	set_record(f, 0, 1, 1, 1, 1, NEXT_BYTE);
	f->hosts[0].facts.tlsa_usable = 1;
	f->hosts[0].facts.tlsa_unusable = 1;
}

/* Two key types: TLSA for the ECDSA key alone (a 3 1 1 record, no 2 1 1
 * that would match the RSA chain's issuer too). */
static void
rsa_uncovered(struct fixture *f)
{
	one_record(f);
	rsa_chain(f, 0, PROBE_DANE_MISMATCH);
}
/* ... and the default handshake picked the RSA chain: tlsa-mismatch says it. */
static void
rsa_uncovered_default(struct fixture *f)
{
	rsa_uncovered(f);
	f->results[0] = f->typed[0][0];
}
/* Both types covered by their own 3 1 1 records, and the 2 1 1 record
 * for their common issuer: nothing to say. */
static void
two_types_covered(struct fixture *f)
{
	rsa_chain(f, 0, PROBE_DANE_VERIFIED);
	f->hosts[0].ntlsa = 3;
	f->hosts[0].facts.tlsa_usable = 3;
	f->targets[0].ntlsa = 3;
	f->results[0].tlsa_usable = 3;
	set_record(f, 0, 2, 3, 1, 1, RSA_BYTE);
}
/* Each type's key has its 3 1 1 record and nothing else: each is
 * current, neither is a spare for the other. */
static void
two_types_no_spare(struct fixture *f)
{
	rsa_chain(f, 0, PROBE_DANE_VERIFIED);
	set_record(f, 0, 1, 3, 1, 1, RSA_BYTE);
}
/* The RSA certificate expires soon, the ECDSA one does not. */
static void
rsa_expiring(struct fixture *f)
{
	rsa_chain(f, 0, PROBE_DANE_VERIFIED);
	snprintf(f->typed[0][0].certs[0].not_after, sizeof(f->typed[0][0].certs[0].not_after),
	    "2026-12-12T00:00:00Z");
}

struct check_case {
	const char *name;
	void (*shape)(struct fixture *f);
	const char *code;		/* the finding the row must give; NULL: none but ok */
	enum checklist_severity severity;
	int status;
	const char *fix_has;		/* a text the finding's fix must hold, or NULL */
	const char *absent;		/* a code that must not be a problem here, or NULL */
};
static const char *check_case_name(const void *row) { return ((const struct check_case *)row)->name; }

static const struct check_case check_cases[] = {
	{"healthy domain: ok findings only", nothing, NULL, CHECKLIST_OK, CHECKLIST_EXIT_PASSED},
	{"healthy, two hosts renewed on different days", staggered, NULL, CHECKLIST_OK, CHECKLIST_EXIT_PASSED},
	{"next key published as a second 3 1 1: rollover ready", next_key_published, NULL, CHECKLIST_OK,
	    CHECKLIST_EXIT_PASSED},
	{"unsigned MX: mx-insecure", mx_unsigned, "mx-insecure", CHECKLIST_WARN, CHECKLIST_EXIT_WARNED,
	    "DS record"},
	{"unsigned addresses: host-insecure", host_unsigned, "host-insecure", CHECKLIST_WARN, CHECKLIST_EXIT_WARNED,
	    "mx1.example.org", "no-tlsa"},
	{"bogus A: address-lookup-failed", address_bogus, "address-lookup-failed", CHECKLIST_FAIL,
	    CHECKLIST_EXIT_FAILED, "mx1.example.org"},
	{"bogus TLSA: tlsa-lookup-failed", tlsa_bogus, "tlsa-lookup-failed", CHECKLIST_FAIL, CHECKLIST_EXIT_FAILED,
	    "_25._tcp.mx1.example.org", "no-tlsa"},
	{"no TLSA: no-tlsa, the record to publish", tlsa_denied, "no-tlsa", CHECKLIST_WARN, CHECKLIST_EXIT_WARNED,
	    "_25._tcp.mx1.example.org IN TLSA 3 1 1 " LEAF_HEX},
	{"PKIX usages only: tlsa-unusable", tlsa_pkix_only, "tlsa-unusable", CHECKLIST_WARN, CHECKLIST_EXIT_WARNED,
	    "3 1 1 " LEAF_HEX, "no-tlsa"},
	{"chain no record matches: tlsa-mismatch", mismatch, "tlsa-mismatch", CHECKLIST_FAIL, CHECKLIST_EXIT_FAILED,
	    "3 1 1 " OTHER_HEX, "rollover-unready"},
	{"no STARTTLS with TLSA: starttls-missing fails", plaintext, "starttls-missing", CHECKLIST_FAIL,
	    CHECKLIST_EXIT_FAILED, "STARTTLS"},
	{"no STARTTLS without TLSA: starttls-missing warns", plaintext_no_tlsa, "starttls-missing", CHECKLIST_WARN,
	    CHECKLIST_EXIT_WARNED},
	{"handshake fails with TLSA: tls-failed", handshake_fails, "tls-failed", CHECKLIST_FAIL, CHECKLIST_EXIT_FAILED},
	{"silent address: unreachable", silent, "unreachable", CHECKLIST_WARN, CHECKLIST_EXIT_WARNED},
	{"refused address: not-probed", refused, "not-probed", CHECKLIST_WARN, CHECKLIST_EXIT_WARNED,
	    "probe_allow_private"},
	{"leaf expires in 10 days: cert-expiring warns", expiring, "cert-expiring", CHECKLIST_WARN,
	    CHECKLIST_EXIT_WARNED, "renew"},
	{"leaf expires in 10 days, --days 5: nothing", expiring_short_horizon, NULL, CHECKLIST_OK,
	    CHECKLIST_EXIT_PASSED},
	{"leaf expired: cert-expiring fails", expired, "cert-expiring", CHECKLIST_FAIL, CHECKLIST_EXIT_FAILED},
	{"issuer expires in 15 days: cert-expiring", issuer_expiring, "cert-expiring", CHECKLIST_WARN,
	    CHECKLIST_EXIT_WARNED},
	{"two hosts expiring the same day: renewal-unstaggered", same_day, "renewal-unstaggered", CHECKLIST_WARN,
	    CHECKLIST_EXIT_WARNED, "different days"},
	{"one 3 1 1 record: rollover-unready names the 2 1 1 to publish", one_record, "rollover-unready",
	    CHECKLIST_WARN, CHECKLIST_EXIT_WARNED, "_25._tcp.mx1.example.org IN TLSA 2 1 1 " ISSUER_HEX},
	{"one 3 1 1 record, no issuer presented: rollover-unready in words", one_record_no_issuer,
	    "rollover-unready", CHECKLIST_WARN, CHECKLIST_EXIT_WARNED, "make the next key now"},
	{"3 1 1 beside an unusable record: rollover-unready", pkix_next_to_ee, "rollover-unready", CHECKLIST_WARN,
	    CHECKLIST_EXIT_WARNED},
	{"RSA and ECDSA, TLSA for ECDSA only: cert-type-uncovered names the RSA record", rsa_uncovered,
	    "cert-type-uncovered", CHECKLIST_FAIL, CHECKLIST_EXIT_FAILED,
	    "publish _25._tcp.mx1.example.org IN TLSA 3 1 1 " RSA_HEX, "rollover-unready"},
	{"RSA and ECDSA, the default handshake got the uncovered RSA: tlsa-mismatch alone", rsa_uncovered_default,
	    "tlsa-mismatch", CHECKLIST_FAIL, CHECKLIST_EXIT_FAILED, "3 1 1 " RSA_HEX, "cert-type-uncovered"},
	{"RSA and ECDSA, both covered, a 2 1 1 spare: nothing", two_types_covered, NULL, CHECKLIST_OK,
	    CHECKLIST_EXIT_PASSED},
	{"RSA and ECDSA, a 3 1 1 for each and no spare: rollover-unready", two_types_no_spare, "rollover-unready",
	    CHECKLIST_WARN, CHECKLIST_EXIT_WARNED, "_25._tcp.mx1.example.org IN TLSA 2 1 1 " ISSUER_HEX,
	    "cert-type-uncovered"},
	{"RSA certificate expiring, ECDSA fine: cert-expiring", rsa_expiring, "cert-expiring", CHECKLIST_WARN,
	    CHECKLIST_EXIT_WARNED, "renew"},
	{"MX lookup bogus: could not check", mx_failed, NULL, CHECKLIST_OK, CHECKLIST_EXIT_UNCHECKED},
	{"null MX: could not check", null_mx, NULL, CHECKLIST_OK, CHECKLIST_EXIT_UNCHECKED},
};

static const struct checklist_finding *
find(const struct checklist *c, const char *code, enum checklist_severity s)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->findings[i].code, code) == 0 && c->findings[i].severity == s)
			return &c->findings[i];
	return NULL;
}

/* The codes that must have an ok finding on the healthy domain. */
static const char *const healthy_ok[] = {
	"mx-insecure", "host-insecure", "tlsa-lookup-failed", "no-tlsa", "tlsa-unusable", "starttls-missing",
	"tlsa-mismatch", "cert-type-uncovered", "cert-expiring", "rollover-unready",
};

static void
test_check(void **state)
{
	const struct check_case *row = *state;
	struct fixture f;
	struct checklist c;

	healthy(&f);
	row->shape(&f);
	assert_int_equal(checklist_init(&c, "example.org"), 0);
	assert_int_equal(selfcheck_run(&f.in, &c), 0);
	if (checklist_status(&c) != row->status) {
		struct buf out;
		buf_init(&out);
		checkprint_text(&c, &out);
		print_message("%s", buf_ptr(&out));
		buf_free(&out);
	}
	assert_int_equal(checklist_status(&c), row->status);
	if (row->status == CHECKLIST_EXIT_UNCHECKED) {
		assert_non_null(c.unchecked);
		assert_int_equal(c.n, 0);
		checklist_free(&c);
		return;
	}
	assert_null(c.unchecked);
	if (row->code) {
		const struct checklist_finding *hit = find(&c, row->code, row->severity);
		assert_non_null(hit);
		assert_non_null(hit->fix);
		assert_true(hit->detail[0] != '\0');
		if (row->fix_has && !strstr(hit->fix, row->fix_has))
			fail_msg("fix \"%s\" lacks \"%s\"", hit->fix, row->fix_has);
		/* No failure of another code: each broken domain shows what
		 * broke it. */
		for (size_t i = 0; i < c.n; i++)
			if (c.findings[i].severity == CHECKLIST_FAIL && strcmp(c.findings[i].code, row->code) != 0)
				fail_msg("unrelated failure %s: %s", c.findings[i].code, c.findings[i].detail);
		/* Its check has no ok finding beside the problem. */
		assert_null(find(&c, row->code, CHECKLIST_OK));
	} else {
		assert_int_equal(checklist_count(&c, CHECKLIST_WARN) + checklist_count(&c, CHECKLIST_FAIL), 0);
		for (size_t i = 0; i < sizeof(healthy_ok) / sizeof(healthy_ok[0]); i++)
			if (!find(&c, healthy_ok[i], CHECKLIST_OK))
				fail_msg("no ok finding for %s", healthy_ok[i]);
	}
	if (row->absent)
		assert_false(checklist_has_problem(&c, row->absent));
	checklist_free(&c);
}

/* The worst severity decides, and an unchecked domain outranks all. */
static void
test_status(void **state)
{
	struct checklist c;
	(void)state;

	assert_int_equal(checklist_init(&c, "example.org"), 0);
	assert_int_equal(checklist_status(&c), CHECKLIST_EXIT_PASSED);
	assert_int_equal(checklist_add(&c, "a", CHECKLIST_OK, NULL, NULL, "fine", NULL), 0);
	assert_int_equal(checklist_status(&c), CHECKLIST_EXIT_PASSED);
	assert_int_equal(checklist_add(&c, "b", CHECKLIST_WARN, "h", NULL, "meh", "do x"), 0);
	assert_int_equal(checklist_status(&c), CHECKLIST_EXIT_WARNED);
	assert_int_equal(checklist_add(&c, "c", CHECKLIST_FAIL, "h", "192.0.2.1", "bad", "do y"), 0);
	assert_int_equal(checklist_status(&c), CHECKLIST_EXIT_FAILED);
	assert_true(checklist_has_problem(&c, "b"));
	assert_false(checklist_has_problem(&c, "a"));
	assert_int_equal(checklist_set_unchecked(&c, "resolver failed"), 0);
	assert_int_equal(checklist_status(&c), CHECKLIST_EXIT_UNCHECKED);
	checklist_free(&c);
}

/* Failures first, then warnings, then passes; a fix line under a
 * problem; bytes a server sent shown as '?'. */
static void
test_text(void **state)
{
	struct checklist c;
	struct buf out;
	(void)state;

	buf_init(&out);
	assert_int_equal(checklist_init(&c, "example.org"), 0);
	checklist_add(&c, "mx-insecure", CHECKLIST_OK, NULL, NULL, "signed", NULL);
	checklist_add(&c, "cert-expiring", CHECKLIST_WARN, "mx1.example.org", "192.0.2.1", "soon\x1b[2J", "renew it");
	checklist_add(&c, "tlsa-mismatch", CHECKLIST_FAIL, "mx1.example.org", "192.0.2.1", "no match", "publish it");
	assert_int_equal(checkprint_text(&c, &out), 0);
	assert_string_equal(buf_ptr(&out),
	    "example.org: failed (1 failed, 1 warned, 1 passed)\n"
	    "  fail tlsa-mismatch mx1.example.org[192.0.2.1]: no match\n"
	    "       fix: publish it\n"
	    "  warn cert-expiring mx1.example.org[192.0.2.1]: soon?[2J\n"
	    "       fix: renew it\n"
	    "  ok   mx-insecure: signed\n");
	buf_reset(&out);
	checklist_set_unchecked(&c, "the MX lookup failed");
	assert_int_equal(checkprint_text(&c, &out), 0);
	assert_string_equal(buf_ptr(&out), "example.org: could not check: the MX lookup failed\n");
	checklist_free(&c);
	buf_free(&out);
}

/* One line, the issue's shape: domain, findings with code, severity,
 * host, address, detail, fix; null where there is none. */
static void
test_json(void **state)
{
	struct fixture f;
	struct checklist c;
	struct buf out;
	json_error_t jerr;
	(void)state;

	healthy(&f);
	mismatch(&f);
	buf_init(&out);
	assert_int_equal(checklist_init(&c, "example.org"), 0);
	assert_int_equal(selfcheck_run(&f.in, &c), 0);
	assert_int_equal(checkprint_json(&c, &out), 0);
	const char *text = buf_ptr(&out);
	assert_non_null(strchr(text, '\n'));
	assert_ptr_equal(strchr(text, '\n'), text + buf_size(&out) - 1);
	json_t *root = json_loads(text, 0, &jerr);
	if (!root)
		fail_msg("not JSON (%s): %s", jerr.text, text);
	assert_int_equal(json_object_size(root), 2);
	assert_string_equal(json_string_value(json_object_get(root, "domain")), "example.org");
	json_t *findings = json_object_get(root, "findings");
	assert_true(json_is_array(findings));
	assert_int_equal(json_array_size(findings), c.n);
	json_t *first = json_array_get(findings, 0);
	assert_int_equal(json_object_size(first), 6);
	assert_string_equal(json_string_value(json_object_get(first, "code")), "tlsa-mismatch");
	assert_string_equal(json_string_value(json_object_get(first, "severity")), "fail");
	assert_string_equal(json_string_value(json_object_get(first, "host")), "mx1.example.org");
	assert_string_equal(json_string_value(json_object_get(first, "address")), "192.0.2.1");
	assert_non_null(strstr(json_string_value(json_object_get(first, "fix")), OTHER_HEX));
	json_t *last = json_array_get(findings, json_array_size(findings) - 1);
	assert_string_equal(json_string_value(json_object_get(last, "severity")), "ok");
	assert_true(json_is_null(json_object_get(last, "host")));
	assert_true(json_is_null(json_object_get(last, "address")));
	assert_true(json_is_null(json_object_get(last, "fix")));
	json_decref(root);

	/* Unchecked: an empty list and the reason. */
	checklist_free(&c);
	buf_reset(&out);
	assert_int_equal(checklist_init(&c, "example.org"), 0);
	checklist_set_unchecked(&c, "SERVFAIL");
	assert_int_equal(checkprint_json(&c, &out), 0);
	assert_string_equal(buf_ptr(&out), "{\"domain\":\"example.org\",\"error\":\"SERVFAIL\",\"findings\":[]}\n");
	checklist_free(&c);
	buf_free(&out);
}

/* Two addresses of one host with the same uncovered RSA key: one
 * finding, at the first address; the fix is one record for the host. */
static void
test_key_type_once(void **state)
{
	struct fixture f;
	struct checklist c;
	size_t n = 0;
	(void)state;

	healthy(&f);
	rsa_uncovered(&f);
	f.probes[1] = f.probes[0];
	f.in.nprobes = 2;
	assert_int_equal(checklist_init(&c, "example.org"), 0);
	assert_int_equal(selfcheck_run(&f.in, &c), 0);
	for (size_t i = 0; i < c.n; i++)
		if (strcmp(c.findings[i].code, "cert-type-uncovered") == 0) {
			n++;
			assert_int_equal(c.findings[i].severity, CHECKLIST_FAIL);
			assert_string_equal(c.findings[i].address, "192.0.2.1");
			assert_non_null(strstr(c.findings[i].detail, "RSA chain"));
		}
	assert_int_equal(n, 1);
	checklist_free(&c);
}

/* The one-type probes are for addresses with usable TLSA and a chain. */
static void
test_wants_key_types(void **state)
{
	struct fixture f;
	(void)state;

	healthy(&f);
	assert_true(selfcheck_wants_key_types(&f.probes[0]));
	f.results[0].tlsa_usable = 0;
	assert_false(selfcheck_wants_key_types(&f.probes[0]));
	healthy(&f);
	f.targets[0].ntlsa = 0;
	assert_false(selfcheck_wants_key_types(&f.probes[0]));
	healthy(&f);
	plaintext(&f);
	assert_false(selfcheck_wants_key_types(&f.probes[0]));
	healthy(&f);
	refused(&f);
	assert_false(selfcheck_wants_key_types(&f.probes[0]));
}

static void
test_cert_time(void **state)
{
	(void)state;
	assert_int_equal(selfcheck_cert_time("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(selfcheck_cert_time("1970-01-02T00:00:01Z"), 86401);
	assert_int_equal(selfcheck_cert_time("2000-03-01T00:00:00Z"), 951868800);
	assert_int_equal(selfcheck_cert_time("2038-01-19T03:14:08Z"), 2147483648LL);
	assert_int_equal(selfcheck_cert_time(""), -1);
	assert_int_equal(selfcheck_cert_time("2026-13-01T00:00:00Z"), -1);
	assert_int_equal(selfcheck_cert_time("2026-12-01T00:00:00"), -1);
	assert_int_equal(selfcheck_cert_time("2026-12-01T00:00:00Zjunk"), -1);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_cert_time),
		cmocka_unit_test(test_key_type_once),
		cmocka_unit_test(test_wants_key_types),
	};
	struct table t = {0};

	TABLE_ADD(&t, check_cases, check_case, test_check);
	table_add_tests(&t, tests, sizeof(tests) / sizeof(tests[0]));
	return table_run(&t, "selfcheck");
}
