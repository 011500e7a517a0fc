/*
 * selfcheck - the checks of a domain of one's own (selfcheck.h).
 *
 * Severity follows one rule: fail when senders that do DANE cannot
 * deliver now (a mismatch, a failing lookup, STARTTLS gone where TLSA
 * demands it, an expired certificate); warn when mail flows but less
 * safely than it could (no DNSSEC, no TLSA) or will stop at the next
 * change (expiry ahead, renewals on one day, no published next key).
 */
#include "autoconfig.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "util/netaddr.h"
#include "util/text.h"
#include "rules/policy.h"
#include "rules/tlsa.h"
#include "dns/resolve.h"
#include "probe/probe.h"
#include "selfcheck/checklist.h"
#include "selfcheck/selfcheck.h"

#define DAY_SECONDS 86400
/* Room for a finding's text with two names of 253 bytes, a subject and a
 * resolver's explanation in it: nothing is cut. */
#define TEXT_MAX 2048

/* The checks that give an ok finding when they ran and found nothing. */
enum {
	RAN_MX_INSECURE = 1 << 0,
	RAN_HOST_INSECURE = 1 << 1,
	RAN_NO_TLSA = 1 << 2,		/* no-tlsa, tlsa-unusable, tlsa-lookup-failed */
	RAN_TLSA_MISMATCH = 1 << 3,
	RAN_STARTTLS = 1 << 4,
	RAN_CERT_EXPIRING = 1 << 5,
	RAN_RENEWAL = 1 << 6,
	RAN_ROLLOVER = 1 << 7,
	RAN_CERT_TYPE = 1 << 8,
};

/* Chains of one host told apart by their leaf keys: a server with an
 * RSA and an ECDSA certificate has two. */
#define HOST_CHAINS_MAX 4

static const struct {
	unsigned ran;
	const char *code;
	const char *ok;
} ok_findings[] = {
	{RAN_MX_INSECURE, "mx-insecure", "the MX RRset is DNSSEC-signed"},
	{RAN_HOST_INSECURE, "host-insecure", "every MX host's addresses are DNSSEC-signed"},
	{RAN_NO_TLSA, "tlsa-lookup-failed", "every signed MX host's TLSA lookup validates"},
	{RAN_NO_TLSA, "no-tlsa", "every signed MX host has TLSA records"},
	{RAN_NO_TLSA, "tlsa-unusable", "every MX host with TLSA records has one usable for SMTP"},
	{RAN_STARTTLS, "starttls-missing", "every address that answers offers STARTTLS"},
	{RAN_TLSA_MISMATCH, "tlsa-mismatch", "every probed address with TLSA presents a chain a record matches"},
	{RAN_CERT_TYPE, "cert-type-uncovered", "every key type the addresses with TLSA offer (RSA, ECDSA) has a "
	    "TLSA record that matches its chain"},
	{RAN_CERT_EXPIRING, "cert-expiring", "no presented certificate expires"},
	{RAN_RENEWAL, "renewal-unstaggered", "the MX hosts' certificates expire on different days"},
	{RAN_ROLLOVER, "rollover-unready", "every MX host with TLSA has a record that survives its next key change"},
};

struct run {
	const struct selfcheck_input *in;
	const struct resolve_result *res;
	struct checklist *out;
	unsigned ran;
	int rc;
};

static void
add(struct run *r, const char *code, enum checklist_severity sev, const char *host, const char *address,
    const char *detail, const char *fix)
{
	if (checklist_add(r->out, code, sev, host, address, detail, fix) < 0)
		r->rc = -1;
}

/* Days from 1970-01-01 to a civil date (proleptic Gregorian). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int64_t
selfcheck_cert_time(const char *text)
{
	int y, mo, d, h, mi, s, end = 0;

	if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &s, &end) != 6 || end == 0 ||
	    text[end] != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 ||
	    h < 0 || mi < 0 || s < 0)
		return -1;
	return days_from_civil(y, (unsigned)mo, (unsigned)d) * DAY_SECONDS + h * 3600 + mi * 60 + s;
}

/* The index of the MX host a probe went to, -1 when none has its name. */
static int
host_of(const struct resolve_result *res, const struct probe_target *t)
{
	for (unsigned i = 0; i < res->nhosts; i++)
		if (strcmp(res->hosts[i].name, t->host) == 0)
			return (int)i;
	return -1;
}

/* The first probe of host h that saw a certificate chain, or NULL. */
static const struct probe_result *
first_chain(const struct selfcheck_input *in, int h)
{
	for (size_t i = 0; i < in->nprobes; i++) {
		const struct selfcheck_probe *p = &in->probes[i];
		if (p->result && p->result->ncerts > 0 && host_of(in->resolution, p->target) == h)
			return p->result;
	}
	return NULL;
}

/* The results of one address's probes: the default one, then the
 * one-type ones; NULL where a probe was not made. */
static void
results_of(const struct selfcheck_probe *p, const struct probe_result *out[3])
{
	out[0] = p->result;
	out[1] = p->result ? p->rsa : NULL;
	out[2] = p->result ? p->ecdsa : NULL;
}

/* The chains host h presented, one per leaf key, the default probes'
 * first; how many. */
static size_t
host_chains(const struct selfcheck_input *in, int h, const struct probe_result *out[HOST_CHAINS_MAX])
{
	size_t n = 0;

	for (size_t i = 0; i < in->nprobes; i++) {
		const struct probe_result *res[3];
		if (host_of(in->resolution, in->probes[i].target) != h)
			continue;
		results_of(&in->probes[i], res);
		for (size_t k = 0; k < 3; k++) {
			if (!res[k] || res[k]->ncerts == 0)
				continue;
			bool known = false;
			for (size_t j = 0; j < n && !known; j++)
				known = strcmp(out[j]->certs[0].spki_sha256, res[k]->certs[0].spki_sha256) == 0;
			if (!known && n < HOST_CHAINS_MAX)
				out[n++] = res[k];
		}
	}
	return n;
}

bool
selfcheck_wants_key_types(const struct selfcheck_probe *p)
{
	return p->result && p->result->ncerts > 0 && p->target->ntlsa > 0 && p->result->tlsa_usable > 0;
}

/* Why the counted TLSA lookup of host h failed, as the resolver said. */
static const char *
tlsa_failure(const struct resolve_result *res, int h)
{
	for (size_t i = 0; i < res->nlookups; i++) {
		const struct resolve_lookup *l = &res->lookups[i];
		if (l->host == h && l->type == 52 && l->why && strcmp(l->name, res->hosts[h].tlsa_name) == 0)
			return l->why;
	}
	return "no validated answer";
}

static const char *
dns_words(enum policy_dns d)
{
	switch (d) {
	case POLICY_DNS_BOGUS: return "DNSSEC validation fails (bogus)";
	case POLICY_DNS_SERVFAIL: return "the name servers fail (SERVFAIL, REFUSED or no answer)";
	case POLICY_DNS_TIMEOUT: return "the lookup times out";
	default: return "the lookup fails";
	}
}

static void
check_mx(struct run *r, const char *domain)
{
	char detail[TEXT_MAX], fix[TEXT_MAX];
	enum policy_dns mx = r->res->facts.mx_dns;

	r->ran |= RAN_MX_INSECURE;
	if (mx != POLICY_DNS_INSECURE && mx != POLICY_DNS_INSECURE_DENIAL)
		return;
	snprintf(detail, sizeof(detail), "the MX %s of %s is not DNSSEC-signed, so senders cannot use TLSA records "
	    "of its hosts", mx == POLICY_DNS_INSECURE ? "RRset" : "denial", domain);
	snprintf(fix, sizeof(fix), "sign the zone of %s with DNSSEC and publish its DS record at the parent zone", domain);
	add(r, "mx-insecure", CHECKLIST_WARN, NULL, NULL, detail, fix);
}

/* host-insecure, address-lookup-failed, and the TLSA lookup's findings
 * of host h. */
static void
check_host_dns(struct run *r, int h)
{
	const struct resolve_host *host = &r->res->hosts[h];
	const struct policy_host_facts *f = &host->facts;
	char detail[TEXT_MAX], fix[TEXT_MAX];

	r->ran |= RAN_HOST_INSECURE;
	if (policy_dns_failed(f->a) || policy_dns_failed(f->aaaa)) {
		snprintf(detail, sizeof(detail), "the %s lookup of %s: %s", policy_dns_failed(f->a) ? "A" : "AAAA",
		    host->name, dns_words(policy_dns_failed(f->a) ? f->a : f->aaaa));
		snprintf(fix, sizeof(fix), "make the name servers of %s answer A and AAAA queries with validly "
		    "signed data or a signed denial; senders skip or defer this host meanwhile", host->name);
		add(r, "address-lookup-failed", CHECKLIST_FAIL, host->name, NULL, detail, fix);
		return;
	}
	bool signed_cname = f->cname_looked_up && f->cname == POLICY_DNS_SECURE;
	if (policy_host_insecure(f->a, f->aaaa) && !signed_cname) {
		snprintf(detail, sizeof(detail), "the addresses of %s are not DNSSEC-signed, so senders ignore its "
		    "TLSA records", host->name);
		snprintf(fix, sizeof(fix), "sign the zone of %s with DNSSEC (with its DS at the parent), or name an "
		    "MX host in a signed zone", host->name);
		add(r, "host-insecure", CHECKLIST_WARN, host->name, NULL, detail, fix);
		return;
	}
	if (!f->tlsa_looked_up)
		return;
	r->ran |= RAN_NO_TLSA;
	if (policy_dns_failed(f->tlsa)) {
		snprintf(detail, sizeof(detail), "the TLSA lookup at %s: %s (%s)", host->tlsa_name, dns_words(f->tlsa),
		    tlsa_failure(r->res, h));
		snprintf(fix, sizeof(fix), "make every name server of %s answer TLSA queries with validly signed "
		    "records or a signed denial (firewalls must not drop them); senders defer mail to this host "
		    "meanwhile", host->tlsa_name);
		add(r, "tlsa-lookup-failed", CHECKLIST_FAIL, host->name, NULL, detail, fix);
		return;
	}
	const struct probe_result *chain = first_chain(r->in, h);
	char record[640];
	if (chain)
		snprintf(record, sizeof(record), "%s IN TLSA 3 1 1 %s", host->tlsa_name, chain->certs[0].spki_sha256);
	else
		snprintf(record, sizeof(record), "a 3 1 1 record at %s (tlspolicy tlsa --host %s prints it)",
		    host->tlsa_name, host->name);
	if (f->tlsa != POLICY_DNS_SECURE) {
		snprintf(detail, sizeof(detail), "%s at %s", f->tlsa == POLICY_DNS_INSECURE ?
		    "TLSA records are there but not DNSSEC-signed" : "no TLSA records", host->tlsa_name);
		snprintf(fix, sizeof(fix), "publish %s in the signed zone, for the key the server presents", record);
		add(r, "no-tlsa", CHECKLIST_WARN, host->name, NULL, detail, fix);
		return;
	}
	if (f->tlsa_usable == 0) {
		snprintf(detail, sizeof(detail), "none of the %u TLSA records at %s is usable for SMTP (RFC 7672 uses "
		    "only usages 2 and 3, well-formed)", f->tlsa_unusable, host->tlsa_name);
		snprintf(fix, sizeof(fix), "replace them with %s", record);
		add(r, "tlsa-unusable", CHECKLIST_WARN, host->name, NULL, detail, fix);
	}
}

/* Whether a TLSA record names a certificate of the chain: with the
 * certificate's DER any record, without it SHA-256 records only. */
static bool
record_matches(const struct tlsa_record *t, const struct probe_cert *c)
{
	if (c->der) {
		struct buf data;
		buf_init(&data);
		bool same = tlsa_data_for_cert(c->der, c->der_len, t->selector, t->mtype, &data) == 0 &&
		    buf_size(&data) == t->len && memcmp(buf_ptr(&data), t->data, t->len) == 0;
		buf_free(&data);
		return same;
	}
	if (t->mtype != TLSA_MATCH_SHA256 || t->len != 32)
		return false;
	char hex[65];
	text_hex(hex, t->data, 32);
	hex[64] = '\0';
	return strcmp(hex, t->selector == TLSA_SEL_SPKI ? c->spki_sha256 : c->cert_sha256) == 0;
}

/* Whether a usable TLSA record of host h is a DANE-EE record of one of
 * the keys its chains present. */
static bool
names_current_key(const struct tlsa_record *t, const struct probe_result *const *chains, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (t->usage == TLSA_DANE_EE && record_matches(t, &chains[k]->certs[0]))
			return true;
	return false;
}

/* rollover-unready for host h: its usable records against the keys of
 * every chain it presented. With two key types (RSA and ECDSA) a record
 * for the other type's key is no spare: both keys are current, and each
 * one's change breaks the handshakes that pick it. Judged only when every
 * chain matches: tlsa-mismatch and cert-type-uncovered say the rest, and
 * their fixes change the records first. */
static void
check_rollover(struct run *r, int h)
{
	const struct resolve_host *host = &r->res->hosts[h];
	const struct probe_result *chains[HOST_CHAINS_MAX];
	size_t nchains = host_chains(r->in, h, chains);
	char detail[TEXT_MAX], fix[TEXT_MAX];

	if (host->facts.tlsa != POLICY_DNS_SECURE || host->facts.tlsa_usable == 0 || nchains == 0)
		return;
	for (size_t k = 0; k < nchains; k++)
		if (chains[k]->class == PROBE_DANE_MISMATCH)
			return;
	size_t current = 0;
	bool spare = false;
	for (size_t i = 0; i < host->ntlsa; i++) {
		struct tlsa_record t;
		const char *why;
		if (tlsa_parse(host->tlsa[i].data, host->tlsa[i].len, &t) < 0 || !tlsa_usable(&t, &why))
			continue;
		if (names_current_key(&t, chains, nchains))
			current++;
		else
			spare = true;
	}
	r->ran |= RAN_ROLLOVER;
	if (spare || current == 0)
		return;
	/* The current keys, and a 2 1 1 record for each issuing CA the
	 * chains present (one serves every chain that CA issued). */
	struct buf keys, records;
	size_t nissuers = 0;
	buf_init(&keys);
	buf_init(&records);
	for (size_t k = 0; k < nchains; k++) {
		const struct probe_result *c = chains[k];
		if (buf_printf(&keys, "%s3 1 1 %s", k ? ", " : "", c->certs[0].spki_sha256) < 0)
			r->rc = -1;
		if (c->ncerts < 2 || strcmp(c->certs[0].issuer, c->certs[1].subject) != 0)
			continue;
		bool again = false;
		for (size_t j = 0; j < k && !again; j++)
			again = chains[j]->ncerts >= 2 && strcmp(chains[j]->certs[1].spki_sha256, c->certs[1].spki_sha256) == 0;
		if (again)
			continue;
		if (buf_printf(&records, "%s%s IN TLSA 2 1 1 %s (the issuing CA's key, %s, which the server presents in "
		    "its chain)", nissuers ? " and " : "", host->tlsa_name, c->certs[1].spki_sha256, c->certs[1].subject) < 0)
			r->rc = -1;
		nissuers++;
	}
	snprintf(detail, sizeof(detail), "the %zu usable TLSA record%s at %s match%s only the current key%s "
	    "(%s): the next key or certificate change breaks DANE for this host", current,
	    current == 1 ? "" : "s", host->tlsa_name, current == 1 ? "es" : "",
	    nchains > 1 ? "s of its key types" : "", buf_ptr(&keys));
	if (nissuers > 0)
		snprintf(fix, sizeof(fix), "publish %s beside the current record%s, or a 3 1 1 record for each next "
		    "key made ahead of the renewal", buf_ptr(&records), current == 1 ? "" : "s");
	else
		snprintf(fix, sizeof(fix), "make the next key now and publish its 3 1 1 record at %s beside the "
		    "current one (tlspolicy tlsa --usage 3 --selector 1 --mtype 1 NEXT.pem prints it), or have the "
		    "server present its issuing CA's certificate and publish a 2 1 1 record for that",
		    host->tlsa_name);
	buf_free(&keys);
	buf_free(&records);
	add(r, "rollover-unready", CHECKLIST_WARN, host->name, NULL, detail, fix);
}

/* cert-type-uncovered for probe i: where the RSA-only and the ECDSA-only
 * handshakes gave different keys, each type whose chain no usable record
 * matches (OpenSSL's DANE verdict, as for tlsa-mismatch). A key the
 * default handshake presented and tlsa-mismatch named is not said again;
 * nor a key already said for another address of the host. */
static void
check_key_types(struct run *r, size_t i, const char *addr)
{
	const struct selfcheck_probe *p = &r->in->probes[i];
	const struct probe_result *typed[2] = {p->rsa, p->ecdsa};
	static const enum probe_key_type types[2] = {PROBE_KEY_RSA, PROBE_KEY_ECDSA};
	char detail[TEXT_MAX], fix[TEXT_MAX];

	if (!p->rsa || !p->ecdsa)
		return;
	r->ran |= RAN_CERT_TYPE;
	if (p->rsa->ncerts == 0 || p->ecdsa->ncerts == 0 ||
	    strcmp(p->rsa->certs[0].spki_sha256, p->ecdsa->certs[0].spki_sha256) == 0)
		return;
	int h = host_of(r->res, p->target);
	const char *owner = h >= 0 ? r->res->hosts[h].tlsa_name : p->target->host;
	for (size_t k = 0; k < 2; k++) {
		const struct probe_result *t = typed[k], *other = typed[1 - k];
		const char *key = t->certs[0].spki_sha256;
		if (t->class != PROBE_DANE_MISMATCH)
			continue;
		if (p->result->class == PROBE_DANE_MISMATCH && p->result->ncerts > 0 &&
		    strcmp(p->result->certs[0].spki_sha256, key) == 0)
			continue;
		bool said = false;
		for (size_t j = 0; j < i && !said; j++) {
			const struct selfcheck_probe *q = &r->in->probes[j];
			said = strcmp(q->target->host, p->target->host) == 0 && q->result &&
			    ((q->rsa && q->rsa->ncerts && strcmp(q->rsa->certs[0].spki_sha256, key) == 0) ||
			    (q->ecdsa && q->ecdsa->ncerts && strcmp(q->ecdsa->certs[0].spki_sha256, key) == 0));
		}
		if (said)
			continue;
		snprintf(detail, sizeof(detail), "the server offers %s and %s certificates, and no usable TLSA record "
		    "at %s matches its %s chain (%s, key 3 1 1 %s): senders whose handshake picks %s (those that "
		    "prefer or only support it) fail DANE and defer mail", probe_key_type_name(types[0]),
		    probe_key_type_name(types[1]), owner, probe_key_type_name(types[k]), t->certs[0].subject, key,
		    probe_key_type_name(types[k]));
		snprintf(fix, sizeof(fix), "publish %s IN TLSA 3 1 1 %s for the %s key, beside the records for the "
		    "%s key (3 1 1 %s), or stop offering the %s certificate", owner, key,
		    probe_key_type_name(types[k]), probe_key_type_name(types[1 - k]), other->certs[0].spki_sha256,
		    probe_key_type_name(types[k]));
		add(r, "cert-type-uncovered", CHECKLIST_FAIL, p->target->host, addr, detail, fix);
	}
}

/* Whether an earlier probe of the same host presented this certificate:
 * one finding per certificate and host is enough. */
static bool
cert_seen_before(const struct selfcheck_input *in, size_t upto, const struct probe_target *t, const char *cert_sha256)
{
	for (size_t i = 0; i < upto; i++) {
		const struct selfcheck_probe *p = &in->probes[i];
		const struct probe_result *res[3];
		if (strcmp(p->target->host, t->host) != 0)
			continue;
		results_of(p, res);
		for (size_t j = 0; j < 3; j++)
			for (size_t k = 0; res[j] && k < res[j]->ncerts; k++)
				if (strcmp(res[j]->certs[k].cert_sha256, cert_sha256) == 0)
					return true;
	}
	return false;
}

/* Whether one of the address's earlier results (before j) has it. */
static bool
seen_in_own_results(const struct probe_result *const res[3], size_t j, const char *cert_sha256)
{
	for (size_t i = 0; i < j; i++)
		for (size_t k = 0; res[i] && k < res[i]->ncerts; k++)
			if (strcmp(res[i]->certs[k].cert_sha256, cert_sha256) == 0)
				return true;
	return false;
}

/* The certificates of one of address i's results, res[j]. */
static void
check_chain_expiry(struct run *r, size_t i, const char *addr, const struct probe_result *const res[3], size_t j)
{
	const struct selfcheck_probe *p = &r->in->probes[i];
	char detail[TEXT_MAX], fix[TEXT_MAX];

	for (size_t k = 0; k < res[j]->ncerts; k++) {
		const struct probe_cert *c = &res[j]->certs[k];
		int64_t end = selfcheck_cert_time(c->not_after);
		if (end < 0)
			continue;
		r->ran |= RAN_CERT_EXPIRING;
		if (end - r->in->now >= (int64_t)r->in->days * DAY_SECONDS ||
		    cert_seen_before(r->in, i, p->target, c->cert_sha256) || seen_in_own_results(res, j, c->cert_sha256))
			continue;
		bool expired = end <= r->in->now;
		snprintf(detail, sizeof(detail), "the %s certificate %s %s %s (%s)", k == 0 ? "server's" : "chain's",
		    c->subject, expired ? "expired" : "expires", c->not_after,
		    expired ? "senders that check it fail now" : "within the days asked");
		snprintf(fix, sizeof(fix), "renew it%s; when the key changes, publish the TLSA record for the new key "
		    "before the server presents it", expired ? " now" : " before it expires");
		add(r, "cert-expiring", expired ? CHECKLIST_FAIL : CHECKLIST_WARN, p->target->host, addr, detail, fix);
	}
}

/* Every certificate the address presented, in any of its handshakes (an
 * RSA certificate may expire while the ECDSA one is fresh). */
static void
check_expiry(struct run *r, size_t i, const char *addr)
{
	const struct probe_result *res[3];

	results_of(&r->in->probes[i], res);
	for (size_t j = 0; j < 3; j++)
		if (res[j])
			check_chain_expiry(r, i, addr, res, j);
}

/* The findings of one probed address. */
static void
check_probe(struct run *r, size_t i)
{
	const struct selfcheck_probe *p = &r->in->probes[i];
	const struct probe_result *res = p->result;
	bool has_tlsa = p->target->ntlsa > 0;
	char addr[64], detail[TEXT_MAX], fix[TEXT_MAX];

	netaddr_format(&p->target->address, addr, sizeof(addr));
	if (!res) {
		snprintf(detail, sizeof(detail), "not probed: %s", p->not_probed ? p->not_probed : "no reason given");
		add(r, "not-probed", CHECKLIST_WARN, p->target->host, addr, detail,
		    "run selfcheck from a host that may reach this address, or set probe_allow_private = yes");
		return;
	}
	switch (res->class) {
	case PROBE_UNREACHABLE:
		snprintf(detail, sizeof(detail), "no SMTP session at port %u: %s (%s)", p->target->port, res->error,
		    probe_stage_name(res->stage));
		add(r, "unreachable", CHECKLIST_WARN, p->target->host, addr, detail,
		    "make this address answer SMTP at port 25, or take it out of the host's A or AAAA records");
		return;
	case PROBE_PLAINTEXT:
		r->ran |= RAN_STARTTLS;
		snprintf(detail, sizeof(detail), "the server does not offer STARTTLS%s", has_tlsa ?
		    ", though the host publishes TLSA records: senders that do DANE defer mail" : "");
		add(r, "starttls-missing", has_tlsa ? CHECKLIST_FAIL : CHECKLIST_WARN, p->target->host, addr, detail,
		    "enable STARTTLS on this address (Postfix: smtpd_tls_security_level = may, with "
		    "smtpd_tls_chain_files naming the key and certificate)");
		return;
	case PROBE_TLS_FAILED:
		r->ran |= RAN_STARTTLS;
		snprintf(detail, sizeof(detail), "STARTTLS is offered but the handshake fails: %s", res->error);
		add(r, "tls-failed", has_tlsa ? CHECKLIST_FAIL : CHECKLIST_WARN, p->target->host, addr, detail,
		    "repair the server's TLS settings (key, certificate, protocols) so that a handshake completes");
		return;
	default:
		break;
	}
	r->ran |= RAN_STARTTLS;
	if (has_tlsa && res->tlsa_usable > 0 && res->ncerts > 0) {
		r->ran |= RAN_TLSA_MISMATCH;
		if (res->class == PROBE_DANE_MISMATCH) {
			int h = host_of(r->res, p->target);
			const char *owner = h >= 0 ? r->res->hosts[h].tlsa_name : p->target->host;
			snprintf(detail, sizeof(detail), "no usable TLSA record at %s matches the chain presented "
			    "(server key 3 1 1 %s)%s%s", owner, res->certs[0].spki_sha256, res->dane_error[0] ? ": " : "",
			    res->dane_error);
			snprintf(fix, sizeof(fix), "install on this address the certificate whose key the TLSA records "
			    "name, or, if the presented key is the right one, publish %s IN TLSA 3 1 1 %s",
			    owner, res->certs[0].spki_sha256);
			add(r, "tlsa-mismatch", CHECKLIST_FAIL, p->target->host, addr, detail, fix);
		}
	}
	check_key_types(r, i, addr);
	check_expiry(r, i, addr);
}

/* renewal-unstaggered: the servers' certificates of all MX hosts (the
 * first chain seen of each) expire within one day of each other. */
static void
check_renewal(struct run *r)
{
	int64_t first = -1, last = -1;
	unsigned hosts = 0;
	char detail[TEXT_MAX];

	for (unsigned h = 0; h < r->res->nhosts; h++) {
		const struct probe_result *chain = first_chain(r->in, (int)h);
		int64_t end = chain ? selfcheck_cert_time(chain->certs[0].not_after) : -1;
		if (end < 0)
			continue;
		if (hosts == 0 || end < first)
			first = end;
		if (hosts == 0 || end > last)
			last = end;
		hosts++;
	}
	if (hosts < 2)
		return;
	r->ran |= RAN_RENEWAL;
	if (last - first >= DAY_SECONDS)
		return;
	snprintf(detail, sizeof(detail), "the certificates of all %u MX hosts expire within one day of each other: "
	    "a renewal that goes wrong breaks every host at once", hosts);
	add(r, "renewal-unstaggered", CHECKLIST_WARN, NULL, NULL, detail,
	    "give each MX host a certificate of its own and renew them on different days (a week apart)");
}

int
selfcheck_run(const struct selfcheck_input *in, struct checklist *out)
{
	struct run r = {in, in->resolution, out, 0, 0};

	if (r.res->facts.mx != POLICY_MX_HOSTS || r.res->nhosts == 0) {
		/* The resolution's reason says it already ("accepts no mail
		 * (null MX)", the resolver's error); words when it has none. */
		const char *why = r.res->reason[0] ? r.res->reason :
		    r.res->facts.mx == POLICY_MX_NULL ? "it accepts no mail (null MX)" :
		    r.res->facts.mx == POLICY_MX_NXDOMAIN ? "the domain does not exist" : "no MX host to check";
		return checklist_set_unchecked(out, why);
	}
	check_mx(&r, out->domain);
	for (unsigned h = 0; h < r.res->nhosts; h++)
		check_host_dns(&r, (int)h);
	for (size_t i = 0; i < in->nprobes; i++)
		check_probe(&r, i);
	check_renewal(&r);
	for (unsigned h = 0; h < r.res->nhosts; h++)
		check_rollover(&r, (int)h);
	for (size_t k = 0; k < sizeof(ok_findings) / sizeof(ok_findings[0]); k++) {
		if (!(r.ran & ok_findings[k].ran) || checklist_has_problem(out, ok_findings[k].code))
			continue;
		const char *text = ok_findings[k].ok;
		char detail[160];
		if (ok_findings[k].ran == RAN_CERT_EXPIRING) {
			snprintf(detail, sizeof(detail), "%s within %u days", text, in->days);
			text = detail;
		}
		add(&r, ok_findings[k].code, CHECKLIST_OK, NULL, NULL, text, NULL);
	}
	return r.rc;
}
