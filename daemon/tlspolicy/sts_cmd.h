/*
 * sts_cmd - `tlspolicy sts [--json] DOMAIN` (tlspolicy(1), MTA-STS): the
 * domain's MTA-STS checked now from this host, as the daemon would fetch
 * it (stscheck.h), and every problem found. Exits 0 when the domain has a
 * valid policy senders apply, 1 when it has none (or a broken one), 2 on
 * trouble (usage, configuration, resolver).
 *
 * sts_cmd_explain() is `tlspolicy explain`'s MTA-STS part: for a domain
 * next hop, the policy the daemon has cached (read from its state file),
 * or else a check from here, and what it does to the answer
 * (explain_sts_*, report/explain.h).
 */
#ifndef TLSPOLICYD_STS_CMD_H
#define TLSPOLICYD_STS_CMD_H

#include <stdbool.h>

#include "util/buf.h"
#include "util/jsonw.h"
#include "config/config.h"
#include "postfix/nexthop.h"
#include "rules/policy.h"

int cmd_sts(const struct config *cfg, int argc, char **argv);

/* Appends the part to out, or with json the member "sts" to the object
 * j has open; answer is the resolution's (or the exception list's, rule
 * POLICY_RULE_EXCEPTION). */
void sts_cmd_explain(const struct config *cfg, const struct nexthop *nh, struct policy_answer answer, bool json,
    struct jsonw *j, struct buf *out);

#endif
