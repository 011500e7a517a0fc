/*
 * status - the daemon's status map: what tlspolicy-milter asks instead of
 * the policy Postfix asks for. Same lookup, same cache, same probes
 * started; the reply adds what a submission server needs to tell a sender
 * at RCPT time: whether delivery is known to fail on DANE.
 *
 * Request: "tlspolicy-status <next hop>". Reply: "OK " and key=value
 * fields (kv.h), whatever the answer:
 *
 *   result=ok|notfound|temp    the answer Postfix gets from the policy map
 *   policy=...                 with result=ok: the policy, as Postfix gets it
 *   rule=...                   the rule that chose it (policy_rule_name)
 *   failure=none|tlsa-mismatch|dnssec-bogus
 *                              tlsa-mismatch: every MX host has usable TLSA
 *                              and probes found each presenting a chain that
 *                              matches none; dnssec-bogus: the answer is TEMP
 *                              because DNSSEC validation failed (not an
 *                              outage). Either way delivery would be deferred
 *                              until the receiver fixes it.
 *   cache=hit|miss|shared|none
 *   reason=...                 one line for people
 *
 * Contract: pure functions on caller-owned memory.
 */
#ifndef TLSPOLICY_STATUS_H
#define TLSPOLICY_STATUS_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "rules/policy.h"

#define STATUS_MAP_NAME "tlspolicy-status"

enum status_failure {
	STATUS_FAILURE_NONE,
	STATUS_FAILURE_TLSA_MISMATCH,
	STATUS_FAILURE_DNSSEC_BOGUS,
};

struct status {
	enum policy_result result;
	char policy[256];	/* result=ok only */
	char rule[32];
	enum status_failure failure;
	char cache[8];
	char reason[512];
};

int status_format(const struct status *s, struct buf *out);
/* -1 with a static reason in *why when the text is not a status reply
 * (a field missing or unknown values); unknown keys are ignored, so that
 * a newer daemon may add fields. */
int status_parse(const char *text, size_t len, struct status *out, const char **why);

const char *status_failure_name(enum status_failure f);

#endif
