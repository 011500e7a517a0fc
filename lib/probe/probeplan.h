/*
 * probeplan - the probes a resolution calls for: one per address of every
 * MX host that has addresses, at the next hop's port, with the host's
 * TLSA records when DNSSEC validated them (so that the probe checks the
 * server against exactly what Postfix would).
 *
 * Which addresses: those Postfix's SMTP client would try, no more. Postfix
 * tries at most smtp_mx_address_limit addresses per delivery (default 5,
 * 0 for no limit), counted over the MX hosts in preference order, for a
 * host next hop too; with both IPv4 and IPv6 addresses over the limit it
 * first keeps either family from crowding out the other
 * (smtp_balance_inet_proto): of L allowed, a family with at most L/2
 * addresses keeps them all and the other fills the rest; when both have
 * more, each gets half, the odd one going to the family of the first
 * address. address_limit is that limit. Where Postfix shuffles equal
 * preferences, the plan takes the addresses in the resolution's order
 * (hosts by preference, A before AAAA). Addresses past the limit stay in
 * the plan, marked over_limit, so that a report can show them.
 *
 * Within the limit, addresses in special-purpose ranges (netaddr_special)
 * and this host's own addresses (own, from ownaddr_load()) are marked
 * refused, unless allow_private is set: a hostile MX record must not turn
 * the daemon against the local network or this host's own services.
 *
 * Ownership: the plan owns copies of everything it holds, so it outlives
 * the resolution; probeplan_free() releases them. The settings' own list
 * is only read during probeplan_build().
 */
#ifndef TLSPOLICY_PROBEPLAN_H
#define TLSPOLICY_PROBEPLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "util/netaddr.h"
#include "probe/probe.h"
#include "dns/resolve.h"

/* Postfix's smtp_mx_address_limit default. */
#define PROBEPLAN_DEFAULT_ADDRESS_LIMIT 5
/* The range name of a refused address of this host. */
#define PROBEPLAN_THIS_HOST "this-host"

struct probeplan_settings {
	bool allow_private;		/* special-purpose and own addresses too */
	unsigned address_limit;		/* addresses per destination; 0: all */
	const struct netaddr *own;	/* this host's addresses */
	size_t nown;
};

struct probeplan_item {
	struct probe_target target;
	const char *refused;		/* the special range, PROBEPLAN_THIS_HOST, or NULL */
	bool over_limit;		/* past address_limit: not probed, not refused */
};

struct probeplan {
	char dest[NEXTHOP_NAME_MAX + 16];	/* the next hop, canonical */
	size_t n;
	struct probeplan_item *items;		/* in the resolution's order */
	size_t nover_limit;			/* items marked over_limit */
	size_t ntlsa;
	struct probe_tlsa *tlsa;		/* what the targets point into */
};

/* 0, or -1 when out of memory (the plan is then empty). */
int probeplan_build(const struct resolve_result *r, const struct probeplan_settings *s, struct probeplan *out);
void probeplan_free(struct probeplan *plan);

/* A plan kept for later (probestate.h keeps one per destination): the
 * same content in one allocation of the size it needs, a host's name
 * stored once for all its addresses. One host with one address and a TLSA
 * record takes about a hundred bytes, where a struct probeplan takes more
 * than a kilobyte. Freed with free(). */
struct probeplan_packed;
/* NULL when out of memory. */
struct probeplan_packed *probeplan_pack(const struct probeplan *plan);
/* The plan again, as probeplan_build() made it (refusals are worked out
 * again from the addresses); 0, or -1 when out of memory (out is then
 * empty). */
int probeplan_unpack(const struct probeplan_packed *p, struct probeplan *out);
/* Items of the packed plan. */
size_t probeplan_packed_items(const struct probeplan_packed *p);

/* Why a refused item is refused, for a log line's reason: static text. */
const char *probeplan_refusal(const struct probeplan_item *it);

#endif
