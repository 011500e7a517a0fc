/*
 * trustcheck - does the daemon's own resolver really validate DNSSEC?
 *
 * libunbound without a trust anchor, or with anchors that cover none of
 * the names it is asked, answers everything "insecure", and the decision
 * turns insecure into may: a silent downgrade of every destination. An
 * anchor that no longer matches its zone's keys (a stale root key after a
 * rollover) makes everything under it bogus. So the daemon looks up the
 * DNSKEY RRset of trust_check_name, a signed zone under its anchors (the
 * root by default), through its own resolver, at start and every
 * trust_check_interval, and judges the answer:
 *
 *   secure      the resolver validates under its anchors. A secure
 *               denial (a name that is not a zone apex) proves the same.
 *   insecure    no anchor applies to the name: nothing is validated.
 *   bogus       an anchor applies and the zone's keys do not match it.
 *   no answer   SERVFAIL or a timeout: an outage, which proves nothing
 *               about the anchors either way.
 *
 * trustcheck_next() is the whole policy, a pure function:
 *
 *   state \ verdict   secure                insecure, bogus       no answer
 *   (the first check) validating            refuse to start       unverified, warn
 *   unverified        validating, recovered not-validating, alert unverified, warn
 *   validating        validating            not-validating, alert validating, warn
 *   not-validating    validating, recovered not-validating, alert not-validating, warn
 *
 * Unless the state is validating, every fresh resolution is answered TEMP
 * (policymap_set_untrusted); answers cached before stand until they
 * expire. The next check comes after the interval when the verdict was
 * secure; otherwise after TRUSTCHECK_RETRY_MS (or the interval, if that
 * is shorter), so that a recovery is noticed soon.
 *
 * Contract: no state, no I/O; the caller owns every buffer. Texts are
 * printable ASCII, whatever the resolver said.
 */
#ifndef TLSPOLICY_TRUSTCHECK_H
#define TLSPOLICY_TRUSTCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"

/* While the resolver is not known to validate: check again this soon. */
#define TRUSTCHECK_RETRY_MS 30000u

enum trustcheck_verdict {
	TRUSTCHECK_SECURE,
	TRUSTCHECK_INSECURE,
	TRUSTCHECK_BOGUS,
	TRUSTCHECK_NO_ANSWER,
};

enum trustcheck_state {
	TRUSTCHECK_UNVERIFIED,		/* no check has passed since start */
	TRUSTCHECK_VALIDATING,
	TRUSTCHECK_NOT_VALIDATING,
};

enum trustcheck_action {
	TRUSTCHECK_NONE,
	TRUSTCHECK_REFUSE_START,	/* the first check: the anchors are wrong */
	TRUSTCHECK_ALERT,		/* the resolver does not validate */
	TRUSTCHECK_RECOVERED,		/* it validates again: say so once */
	TRUSTCHECK_WARN,		/* no verdict this time */
};

struct trustcheck_step {
	enum trustcheck_state state;
	enum trustcheck_action action;
	uint64_t next_ms;		/* the next check, from now */
};

/* The verdict on the answer to the DNSKEY lookup of the check name, and
 * in detail one line saying what came back ("bogus: validation failure
 * <test. DNSKEY IN>: ..."). */
enum trustcheck_verdict trustcheck_verdict(const struct dns_answer *a, char *detail, size_t size);

/* first: the check at start, before the daemon serves anything. */
struct trustcheck_step trustcheck_next(enum trustcheck_state state, bool first, enum trustcheck_verdict v,
    uint64_t interval_ms);

/* What the policy map is told after a check (policymap_set_untrusted). */
enum trustcheck_trust {
	TRUSTCHECK_TRUST,	/* validating: fresh resolutions go ahead */
	TRUSTCHECK_DISTRUST,	/* answered TEMP with the reason */
	TRUSTCHECK_KEEP,	/* no answer while not validating: the failed proof stands, and its reason */
};

/* After a check of name that came back v with detail (trustcheck_verdict)
 * and led to step: whether fresh resolutions may go ahead, and if not,
 * the reason they are answered TEMP with, in reason. */
enum trustcheck_trust trustcheck_trust(const struct trustcheck_step *step, enum trustcheck_verdict v,
    const char *name, const char *detail, char *reason, size_t size);

/* What a verdict means and what to do about it, in one static sentence. */
const char *trustcheck_advice(enum trustcheck_verdict v);

/* "secure", "insecure", "bogus", "no-answer"; "unverified", "validating",
 * "not-validating". */
const char *trustcheck_verdict_name(enum trustcheck_verdict v);
const char *trustcheck_state_name(enum trustcheck_state s);

#endif
