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
#include "util/jsonw.h"
#include "rules/policy.h"
#include "dns/resolve.h"

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

/* The socketmap reply Postfix would read, e.g. "OK dane-only". */
int explain_reply(const struct resolve_result *r, const struct policy_levels *levels, struct buf *out);

#endif
