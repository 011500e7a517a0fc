/*
 * explain - a resolution as a person (or a script, with JSON) reads it:
 * every lookup with its DNSSEC status and TTL, each host's verdict, the
 * rule that chose the answer and the answer Postfix would get.
 *
 * Contract: pure formatting of a struct resolve_result into the caller's
 * buffer; levels map the answer to the Postfix level as the daemon would.
 *
 * The MTA-STS part (explain_sts_*): for a domain next hop, the policy the
 * daemon has cached (its state file read into a cache of the caller's),
 * or else a check made from here (stscheck.h), and what stsprecedence.h
 * makes of it beside the DNS answer: the policy replaces the answer (and
 * Postfix gets its "secure match=..."), DANE shadows it (and why), or
 * there is nothing to apply.
 */
#ifndef TLSPOLICY_EXPLAIN_H
#define TLSPOLICY_EXPLAIN_H

#include "util/buf.h"
#include "util/jsonw.h"
#include "rules/policy.h"
#include "dns/resolve.h"
#include "rules/stsprecedence.h"
#include "sts/stscache.h"
#include "sts/stscheck.h"

int explain_text(const struct resolve_result *r, const struct policy_levels *levels, struct buf *out);
/* The resolution's members, into the object j has open: the caller opens
 * and closes it, and may add members of its own. -1 when j has failed
 * (jsonw.h). */
int explain_json(const struct resolve_result *r, const struct policy_levels *levels, struct jsonw *j);

struct probestate_addr;
/* The probe history of one address, for the text report ("    host[addr]:port ...")
 * and as a JSON object, where j expects an unnamed value (in an array). */
int explain_probes_text(const struct probestate_addr *a, struct buf *out);
int explain_probes_json(const struct probestate_addr *a, struct jsonw *j);

/* The reply Postfix would read for the resolution alone, no exception
 * applied, as one line (mapreply_format): "OK dane-only". */
int explain_reply(const struct resolve_result *r, const struct policy_levels *levels, struct buf *out);

struct explain_sts {
	const char *domain;		/* the next hop's name */
	enum stsprec_nexthop nexthop;	/* stsprec_nexthop_of() */
	struct policy_answer answer;	/* the resolution's, or POLICY_RULE_EXCEPTION's */
	const char *state_file;		/* where the daemon keeps its policies, or NULL: none */
	const char *state_error;	/* why it could not be read, or NULL */
	const struct stscache_entry *cached;	/* the domain's entry there, or NULL */
	int64_t now;			/* Unix seconds: what is in force, and ages */
	/* Nothing in force in the cache: a check from here, or NULL (none
	 * was made, or it could not be). */
	const struct stscheck_result *check;
};

/* The MTA-STS part as text lines, and as the member "sts" of the object j
 * has open. */
int explain_sts_text(const struct explain_sts *s, struct buf *out);
int explain_sts_json(const struct explain_sts *s, struct jsonw *j);

#endif
