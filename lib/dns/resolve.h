/*
 * resolve - gathers the DNS facts for one next hop through the dns seam and
 * hands them, with the decision of policy.c, to a callback.
 *
 * For a domain next hop: the MX lookup, then for each MX host (at most
 * POLICY_MAX_HOSTS, lowest preference first, in parallel) its A and AAAA
 * lookups and, with them, the TLSA lookup at _<port>._tcp.<host>, whose
 * answer counts only when the addresses turn out secure (otherwise it is
 * cancelled or dropped unread): two round trips for a fresh destination.
 * Hosts named within a domain whose MX answer is unsigned get no such
 * early lookup. When a host name is a CNAME chain, the TLSA base
 * is chosen as Postfix's own DANE chooses it (RFC 7672 section 2.2.2):
 * with secure addresses, the expanded name first and, when nothing signed
 * is there (denied, or an unsigned answer), the original name; with
 * unsigned addresses, a CNAME lookup at the original name, and the TLSA
 * records there if that CNAME is signed (a signed MX name aliased into
 * an unsigned provider zone). A failed TLSA lookup at the expanded name,
 * or a failed CNAME lookup, fails the host. NODATA for the MX
 * is an implicit MX: the domain itself is the host. A host next hop
 * ([host]:port) skips the MX lookup. IP literals and Postfix's parent form
 * need no DNS at all: resolve_without_dns() answers them.
 *
 * Every lookup is recorded with its outcome, DNSSEC status, TTL and records
 * in presentation form, for `tlspolicy explain`. Every text of a result
 * (names, the resolver's explanations, the reason) is printable ASCII,
 * whatever the answers held: other bytes become '?'.
 *
 * Ownership: resolve_start() returns a resolution the caller may cancel
 * until its callback runs. The callback receives the result, valid only
 * during the call; the resolution frees itself after the callback returns.
 * resolve_start() never calls the callback itself; it returns NULL when it
 * cannot start (out of memory), in which case nothing is pending.
 */
#ifndef TLSPOLICY_RESOLVE_H
#define TLSPOLICY_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"
#include "util/netaddr.h"
#include "postfix/nexthop.h"
#include "rules/policy.h"

struct resolve_lookup {
	char *name;
	uint16_t type;
	int host;			/* index into hosts, -1 for the MX lookup */
	enum dns_outcome outcome;
	enum dns_security security;
	uint32_t ttl;
	char *canonname;		/* NULL unless a CNAME was followed */
	char *why;			/* NULL unless failed or bogus */
	size_t nrecords;
	char **records;			/* presentation form, e.g. "3 1 1 ab12..." */
	const char **notes;		/* per record: why a TLSA record is unusable, or NULL */
};

#define RESOLVE_MAX_ADDRESSES 16

struct resolve_host {
	char name[NEXTHOP_NAME_MAX + 1];
	uint16_t preference;
	struct policy_host_facts facts;
	enum policy_host_verdict verdict;
	const char *why;		/* static: why this verdict */
	char tlsa_name[NEXTHOP_NAME_MAX + 16]; /* where the counted TLSA lookup went */
	/* For probes: the host's addresses (A then AAAA, at most
	 * RESOLVE_MAX_ADDRESSES) and its TLSA records as DNS gave them, when
	 * they were DNSSEC-validated (facts.tlsa == POLICY_DNS_SECURE). */
	size_t naddresses;
	struct netaddr addresses[RESOLVE_MAX_ADDRESSES];
	size_t ntlsa;
	struct dns_rdata *tlsa;
};

struct resolve_result {
	struct nexthop nexthop;
	struct policy_facts facts;
	struct policy_answer answer;
	uint32_t ttl;			/* smallest TTL of the records used */
	char reason[512];		/* one line, for logs and TEMP replies */
	unsigned nhosts;
	struct resolve_host *hosts;
	size_t nlookups;
	struct resolve_lookup *lookups;
};

typedef void resolve_callback(void *arg, const struct resolve_result *result);

struct resolve;

struct resolve *resolve_start(struct dns *dns, const struct nexthop *nh,
    resolve_callback *cb, void *arg);
void resolve_cancel(struct resolve *r);

/* A deep copy of a result, for a caller that keeps it past the callback
 * (`tlspolicy selfcheck` probes first, then checks); NULL when out of
 * memory. The static texts (a host's why, a record's note) are shared. */
struct resolve_result *resolve_result_dup(const struct resolve_result *r);
/* Frees a copy from resolve_result_dup(); NULL is fine. */
void resolve_result_free(struct resolve_result *r);

/* Answers the key forms that need no DNS (IP literals, parent form):
 * true with *out and a reason filled in, false for the others. */
bool resolve_without_dns(const struct nexthop *nh, struct policy_answer *out,
    char *reason, size_t size);

#endif
