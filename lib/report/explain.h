/*
 * explain - a resolution as a person (or a script, with JSON) reads it:
 * every lookup with its DNSSEC status and TTL, each host's verdict, the
 * rule that chose the answer and the answer Postfix would get.
 *
 * Contract: pure formatting of a struct resolve_result into the caller's
 * buffer; levels map the answer to the Postfix level as the daemon would.
 */
#ifndef TLSPOLICY_EXPLAIN_H
#define TLSPOLICY_EXPLAIN_H

#include "util/buf.h"
#include "rules/policy.h"
#include "dns/resolve.h"

int explain_text(const struct resolve_result *r, const struct policy_levels *levels, struct buf *out);
/* The JSON object is left open (no closing brace) so that the caller can
 * add members; explain_json_close() ends it. */
int explain_json(const struct resolve_result *r, const struct policy_levels *levels, struct buf *out);
int explain_json_close(struct buf *out);

struct probestate_addr;
/* The probe history of one address, for the text report ("    host[addr]:port ...")
 * and as a JSON object. */
int explain_probes_text(const struct probestate_addr *a, struct buf *out);
int explain_probes_json(const struct probestate_addr *a, struct buf *out);

/* The socketmap reply Postfix would read, e.g. "OK dane-only". */
int explain_reply(const struct resolve_result *r, const struct policy_levels *levels, struct buf *out);

#endif
