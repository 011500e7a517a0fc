/*
 * probeplan - the probes a resolution calls for: one per address of every
 * MX host that has addresses, at the next hop's port, with the host's
 * TLSA records when DNSSEC validated them (so that the probe checks the
 * server against exactly what Postfix would). Addresses in special-purpose
 * ranges (netaddr_special) are kept in the plan but marked refused, with
 * the range, unless allow_private is set: a hostile MX record must not
 * turn the daemon against the local network.
 *
 * Ownership: the plan owns copies of everything it holds, so it outlives
 * the resolution; probeplan_free() releases them.
 */
#ifndef TLSPOLICY_PROBEPLAN_H
#define TLSPOLICY_PROBEPLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "probe.h"
#include "resolve.h"

struct probeplan_item {
	struct probe_target target;
	const char *refused;		/* the special range, or NULL */
};

struct probeplan {
	char dest[NEXTHOP_NAME_MAX + 16];	/* the next hop, canonical */
	size_t n;
	struct probeplan_item *items;
	size_t ntlsa;
	struct probe_tlsa *tlsa;		/* what the targets point into */
};

/* 0, or -1 when out of memory (the plan is then empty). */
int probeplan_build(const struct resolve_result *r, bool allow_private, struct probeplan *out);
void probeplan_free(struct probeplan *plan);

#endif
