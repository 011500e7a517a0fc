/*
 * stsmatch - a domain's MTA-STS against its MX hosts (stsmatch.h).
 *
 * The policy is matched against the MX hosts of the DANE resolution, not
 * stscheck's own MX lookup: the findings of one checklist speak of one
 * set of hosts. The problems stscheck wrote for a broken domain already
 * say what to change; one of them is quoted rather than said again.
 */
#include "autoconfig.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/netaddr.h"
#include "rules/stspolicy.h"
#include "probe/probe.h"
#include "sts/stscheck.h"
#include "sts/stsfetch.h"
#include "selfcheck/checklist.h"
#include "selfcheck/selfcheck.h"
#include "selfcheck/stsmatch.h"

/* Room for a finding's text: a domain, a host, a URL, a fetch's detail
 * (STSFETCH_DETAIL_MAX) and the patterns shown. */
#define TEXT_MAX 2048
/* The policy's patterns shown in a finding; the rest are counted. */
#define PATTERNS_SHOWN 8

/* "mx: a, mx: b" of the policy, shortened past PATTERNS_SHOWN. */
static void
patterns_text(const struct stspolicy *p, char *out, size_t size)
{
	size_t n = stspolicy_npatterns(p), used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && i < PATTERNS_SHOWN && used < size; i++)
		used += (size_t)snprintf(out + used, size - used, "%smx: %s", i ? ", " : "", stspolicy_pattern(p, i));
	if (n > PATTERNS_SHOWN && used < size)
		snprintf(out + used, size - used, " and %zu more", n - PATTERNS_SHOWN);
}

/* The MX hosts no pattern of a valid policy matches. */
static int
check_hosts(const struct stscheck_result *sts, const char *const *mx_hosts, size_t nhosts, struct checklist *out,
    bool *found)
{
	const struct stspolicy *p = sts->policy;
	bool enforce = stspolicy_mode(p) == STSPOLICY_MODE_ENFORCE;
	char patterns[TEXT_MAX / 2], detail[TEXT_MAX], fix[TEXT_MAX];

	if (stspolicy_mode(p) == STSPOLICY_MODE_NONE)
		return 0;
	patterns_text(p, patterns, sizeof(patterns));
	for (size_t i = 0; i < nhosts; i++) {
		if (stspolicy_mx_matches(p, mx_hosts[i]))
			continue;
		*found = true;
		snprintf(detail, sizeof(detail), "the MTA-STS policy of %s (mode %s; %s) has no mx pattern that "
		    "matches MX host %s: %s", sts->domain, stspolicy_mode_name(stspolicy_mode(p)), patterns,
		    mx_hosts[i], enforce ? "senders that apply MTA-STS refuse to deliver to it" :
		    "senders that apply MTA-STS report every delivery to it as failed (and would refuse it in mode "
		    "enforce)");
		snprintf(fix, sizeof(fix), "add \"mx: %s\" (or a wildcard that covers it) to the policy at %s, then "
		    "change the id of the _mta-sts.%s TXT record so that senders fetch it again", mx_hosts[i],
		    sts->url, sts->domain);
		if (checklist_add(out, STSMATCH_CODE, enforce ? CHECKLIST_FAIL : CHECKLIST_WARN, mx_hosts[i], NULL,
		    detail, fix) < 0)
			return -1;
	}
	return 0;
}

/* Whether an earlier probe of the same host presented this leaf: one
 * finding per host and certificate. */
static bool
leaf_seen_before(const struct selfcheck_probe *probes, size_t upto, const struct selfcheck_probe *p)
{
	for (size_t i = 0; i < upto; i++) {
		const struct probe_result *r = probes[i].result;
		if (r && r->ncerts && strcmp(probes[i].target->host, p->target->host) == 0 &&
		    strcmp(r->certs[0].cert_sha256, p->result->certs[0].cert_sha256) == 0)
			return true;
	}
	return false;
}

/* The certificates the matched MX hosts present, as senders that apply
 * MTA-STS judge them: a chain to a trusted CA, naming the host. */
static int
check_certificates(const struct stscheck_result *sts, const struct selfcheck_probe *probes, size_t nprobes,
    struct checklist *out, bool *found)
{
	const struct stspolicy *p = sts->policy;
	bool enforce = stspolicy_mode(p) == STSPOLICY_MODE_ENFORCE;
	char addr[64], why[512], detail[TEXT_MAX], fix[TEXT_MAX];

	if (stspolicy_mode(p) == STSPOLICY_MODE_NONE)
		return 0;
	for (size_t i = 0; i < nprobes; i++) {
		const struct selfcheck_probe *q = &probes[i];
		const struct probe_result *r = q->result;
		if (!r || r->ncerts == 0 || (r->pkix_ok && r->name_ok) || !stspolicy_mx_matches(p, q->target->host) ||
		    leaf_seen_before(probes, i, q))
			continue;
		*found = true;
		netaddr_format(&q->target->address, addr, sizeof(addr));
		if (!r->pkix_ok)
			snprintf(why, sizeof(why), "its chain does not verify (%s)", r->pkix_error[0] ? r->pkix_error :
			    "no trusted CA");
		else
			snprintf(why, sizeof(why), "it does not name %s", q->target->host);
		snprintf(detail, sizeof(detail), "the certificate %s that %s presents is not valid for MTA-STS: %s; "
		    "%s", r->certs[0].subject, q->target->host, why, enforce ?
		    "under the enforce policy of the domain, senders that apply MTA-STS (and not DANE) defer mail to it" :
		    "senders that apply MTA-STS report every delivery to it as failed (and would defer it in mode "
		    "enforce)");
		snprintf(fix, sizeof(fix), "install on %s a certificate from a public certification authority that "
		    "names %s (subjectAltName), with its intermediate certificates%s", q->target->host, q->target->host,
		    q->target->ntlsa ? "; publish the TLSA record for its key before the server presents it, so "
		    "that DANE keeps working" : "");
		if (checklist_add(out, STSMATCH_CODE, enforce ? CHECKLIST_FAIL : CHECKLIST_WARN, q->target->host, addr,
		    detail, fix) < 0)
			return -1;
	}
	return 0;
}

/* A domain that announces MTA-STS but whose policy senders cannot get. */
static int
check_broken(const struct stscheck_result *sts, struct checklist *out)
{
	char host[STSFETCH_DOMAIN_MAX + sizeof("mta-sts.")], detail[TEXT_MAX];
	const char *consequence = "senders that hold the policy keep it until its max_age runs out, the others "
	    "deliver without MTA-STS";

	snprintf(host, sizeof(host), "mta-sts.%s", sts->domain);
	if (sts->fetched && sts->fetch == STSFETCH_CERTIFICATE) {
		char fix[TEXT_MAX];
		snprintf(detail, sizeof(detail), "the certificate of %s does not verify (%s), so senders cannot "
		    "fetch the MTA-STS policy of %s: %s", host, sts->fetch_detail[0] ? sts->fetch_detail :
		    "certificate", sts->domain, consequence);
		snprintf(fix, sizeof(fix), "serve at %s a certificate from a public certification authority that "
		    "names %s, with its intermediate certificates", host, host);
		return checklist_add(out, STSMATCH_CODE, CHECKLIST_WARN, host, sts->address[0] ? sts->address : NULL,
		    detail, fix);
	}
	/* stscheck's first problem is the one that breaks it (the TXT
	 * record, then the fetch, then the policy); each says its fix. */
	bool announced = !stscheck_lookup_failed(&sts->txt_lookup) && sts->txt.status == STSTXT_FOUND;
	char fix[TEXT_MAX];
	snprintf(detail, sizeof(detail), "MTA-STS of %s does not work: %s%s; %s", sts->domain,
	    sts->nproblems ? sts->problems[0] : "no valid policy", sts->nproblems > 1 ? " (and more)" : "",
	    announced ? consequence : "senders do not apply MTA-STS");
	snprintf(fix, sizeof(fix), "make the change the problem names; `tlspolicy sts %s` checks MTA-STS alone and "
	    "lists every problem with its fix", sts->domain);
	return checklist_add(out, STSMATCH_CODE, CHECKLIST_WARN, NULL, NULL, detail, fix);
}

int
stsmatch_run(const struct stscheck_result *sts, const char *const *mx_hosts, size_t nhosts,
    const struct selfcheck_probe *probes, size_t nprobes, struct checklist *out)
{
	bool found = false;
	char detail[TEXT_MAX];

	switch (sts->verdict) {
	case STSCHECK_ABSENT:
		return 0;
	case STSCHECK_BROKEN:
		return check_broken(sts, out);
	case STSCHECK_VALID:
		break;
	}
	if (check_hosts(sts, mx_hosts, nhosts, out, &found) < 0 ||
	    check_certificates(sts, probes, nprobes, out, &found) < 0)
		return -1;
	if (found)
		return 0;
	if (stspolicy_mode(sts->policy) == STSPOLICY_MODE_NONE)
		snprintf(detail, sizeof(detail), "the MTA-STS policy of %s is in mode none (withdrawn): no mx "
		    "pattern to match", sts->domain);
	else
		snprintf(detail, sizeof(detail), "the MTA-STS policy of %s (mode %s) is served with a valid "
		    "certificate and matches every MX host, and every certificate they present verifies", sts->domain,
		    stspolicy_mode_name(stspolicy_mode(sts->policy)));
	return checklist_add(out, STSMATCH_CODE, CHECKLIST_OK, NULL, NULL, detail, NULL);
}
