/* mapreply - an answer as its readers get it; see mapreply.h. */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "rules/tlsrpt.h"
#include "serve/mapreply.h"

struct mapreply
mapreply_of(const struct policy_levels *levels, const struct policymap_answer *a)
{
	struct mapreply r = {SOCKETMAP_TEMP, a->reason};

	switch (a->answer.result) {
	case POLICY_OK:
		r.status = SOCKETMAP_OK;
		r.text = a->sts_text ? a->sts_text : a->policy ? a->policy : policy_level(levels, a->answer);
		break;
	case POLICY_NOTFOUND:
		r.status = SOCKETMAP_NOTFOUND;
		r.text = NULL;
		break;
	case POLICY_TEMP:
		break;
	}
	return r;
}

int
mapreply_put(const struct mapreply *r, struct buf *out)
{
	return socketmap_reply(out, r->status, r->text);
}

int
mapreply_put_tlsrpt(const struct mapreply *r, const struct policymap_answer *a, struct buf *out)
{
	struct buf text;
	int rc;

	if (r->status != SOCKETMAP_OK || !a->sts_text || !a->sts || !a->sts_domain)
		return mapreply_put(r, out);
	buf_init(&text);
	buf_puts(&text, r->text);
	/* Without room for them, the answer goes without its attributes. */
	tlsrpt_append_sts(&text, a->sts_domain, a->sts, TLSRPT_REPLY_MAX - strlen("OK "));
	rc = buf_terminate(&text) == 0 ? socketmap_reply(out, SOCKETMAP_OK, buf_ptr(&text)) : mapreply_put(r, out);
	buf_free(&text);
	return rc;
}

int
mapreply_format(const struct mapreply *r, bool with_reason, struct buf *out)
{
	int rc = buf_puts(out, socketmap_status_name(r->status));

	if (r->text && (r->status == SOCKETMAP_OK || with_reason)) {
		rc |= buf_putc(out, ' ');
		rc |= buf_puts(out, r->text);
	}
	return rc ? -1 : 0;
}

const char *
mapreply_cache_word(const struct policymap_answer *a)
{
	return a->no_dns ? "none" : a->stale ? "stale" : a->cache_hit ? "hit" : a->shared ? "shared" : "miss";
}

void
mapreply_status(const struct policymap_answer *a, const struct mapreply *r, const char *dest,
    mapreply_all_mismatch *all_mismatch, void *arg, struct status *out)
{
	memset(out, 0, sizeof(*out));
	out->result = a->answer.result;
	out->failure = STATUS_FAILURE_NONE;
	if (r->status == SOCKETMAP_OK)
		snprintf(out->policy, sizeof(out->policy), "%s", r->text);
	snprintf(out->rule, sizeof(out->rule), "%s", policy_rule_name(a->answer.rule));
	snprintf(out->cache, sizeof(out->cache), "%s", mapreply_cache_word(a));
	snprintf(out->reason, sizeof(out->reason), "%s", a->reason ? a->reason : "");
	if (a->answer.result == POLICY_TEMP && a->answer.bogus) {
		out->failure = STATUS_FAILURE_DNSSEC_BOGUS;
	} else if (a->answer.result == POLICY_OK && a->answer.rule == POLICY_RULE_ALL_DANE && all_mismatch &&
	    all_mismatch(arg, dest)) {
		out->failure = STATUS_FAILURE_TLSA_MISMATCH;
		snprintf(out->reason, sizeof(out->reason), "probes found that the certificate of every MX host of "
		    "%s matches none of its TLSA records", dest);
	}
}
