/* trustcheck - is the daemon's own resolver validating; see trustcheck.h. */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "util/text.h"
#include "dns/trustcheck.h"

enum trustcheck_verdict
trustcheck_verdict(const struct dns_answer *a, char *detail, size_t size)
{
	char why[300] = "";

	if (a->why)
		text_printable(why, sizeof(why), a->why, strlen(a->why));
	/* libunbound hands back a bogus DNSKEY RRset with rcode SERVFAIL or
	 * NOERROR: the flag decides, before the outcome. */
	if (a->security == DNS_BOGUS) {
		snprintf(detail, size, "bogus: %s", why[0] ? why : "validation failed");
		return TRUSTCHECK_BOGUS;
	}
	if (a->outcome == DNS_SERVFAIL || a->outcome == DNS_TIMEOUT) {
		snprintf(detail, size, "no answer (%s%s%s)", dns_outcome_name(a->outcome), why[0] ? ": " : "", why);
		return TRUSTCHECK_NO_ANSWER;
	}
	if (a->security == DNS_SECURE) {
		if (a->outcome == DNS_DATA)
			snprintf(detail, size, "secure, %zu DNSKEY record%s", a->count, a->count == 1 ? "" : "s");
		else
			snprintf(detail, size, "secure (%s): not a zone apex, but the denial validated",
			    dns_outcome_name(a->outcome));
		return TRUSTCHECK_SECURE;
	}
	snprintf(detail, size, "insecure (%s, not validated)", dns_outcome_name(a->outcome));
	return TRUSTCHECK_INSECURE;
}

struct trustcheck_step
trustcheck_next(enum trustcheck_state state, bool first, enum trustcheck_verdict v, uint64_t interval_ms)
{
	struct trustcheck_step step = {
		.state = state,
		.action = TRUSTCHECK_NONE,
		.next_ms = interval_ms < TRUSTCHECK_RETRY_MS ? interval_ms : TRUSTCHECK_RETRY_MS,
	};

	if (first)
		state = step.state = TRUSTCHECK_UNVERIFIED;
	switch (v) {
	case TRUSTCHECK_SECURE:
		step.state = TRUSTCHECK_VALIDATING;
		step.next_ms = interval_ms;
		/* At start, nothing was answered without it: no news. */
		if (!first && state != TRUSTCHECK_VALIDATING)
			step.action = TRUSTCHECK_RECOVERED;
		break;
	case TRUSTCHECK_INSECURE:
	case TRUSTCHECK_BOGUS:
		/* Proof that the anchors do not work. At start that is the
		 * configuration; later, the daemon has mail to defer and
		 * stays up to defer it. */
		step.state = TRUSTCHECK_NOT_VALIDATING;
		step.action = first ? TRUSTCHECK_REFUSE_START : TRUSTCHECK_ALERT;
		break;
	case TRUSTCHECK_NO_ANSWER:
		/* An outage proves nothing either way: the state stands. */
		step.action = TRUSTCHECK_WARN;
		break;
	}
	return step;
}

enum trustcheck_trust
trustcheck_trust(const struct trustcheck_step *step, enum trustcheck_verdict v, const char *name,
    const char *detail, char *reason, size_t size)
{
	if (step->state == TRUSTCHECK_VALIDATING)
		return TRUSTCHECK_TRUST;
	if (v != TRUSTCHECK_NO_ANSWER) {
		snprintf(reason, size, "trust check: DNSKEY %s came back %s", name, detail);
		return TRUSTCHECK_DISTRUST;
	}
	if (step->state == TRUSTCHECK_UNVERIFIED) {
		snprintf(reason, size, "trust check: none has passed since start (DNSKEY %s: %s)", name, detail);
		return TRUSTCHECK_DISTRUST;
	}
	return TRUSTCHECK_KEEP;
}

const char *
trustcheck_advice(enum trustcheck_verdict v)
{
	switch (v) {
	case TRUSTCHECK_SECURE:
		return "the resolver validates DNSSEC under its trust anchors";
	case TRUSTCHECK_INSECURE:
		return "no trust anchor covers trust_check_name, so nothing the resolver answers is validated: "
		    "set trust_anchor_file (or a trust anchor in unbound_config) to the key of a zone at or "
		    "above it, or set trust_check_name to a zone that your anchors sign";
	case TRUSTCHECK_BOGUS:
		return "the trust anchor does not match the keys of the zone it is for (a wrong anchor, or "
		    "one from before a key rollover), so everything under it fails validation: update "
		    "trust_anchor_file (or the anchor in unbound_config)";
	case TRUSTCHECK_NO_ANSWER:
		return "no answer proves nothing about the trust anchors (an outage?): the check is "
		    "repeated soon";
	}
	return "unknown verdict";
}

const char *
trustcheck_verdict_name(enum trustcheck_verdict v)
{
	switch (v) {
	case TRUSTCHECK_SECURE: return "secure";
	case TRUSTCHECK_INSECURE: return "insecure";
	case TRUSTCHECK_BOGUS: return "bogus";
	case TRUSTCHECK_NO_ANSWER: return "no-answer";
	}
	return "unknown";
}

const char *
trustcheck_state_name(enum trustcheck_state s)
{
	switch (s) {
	case TRUSTCHECK_UNVERIFIED: return "unverified";
	case TRUSTCHECK_VALIDATING: return "validating";
	case TRUSTCHECK_NOT_VALIDATING: return "not-validating";
	}
	return "unknown";
}
