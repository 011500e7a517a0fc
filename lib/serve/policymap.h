/*
 * policymap - the answer for a next hop: from the cache when it holds one,
 * otherwise from a resolution (resolve.c) that every request for the same
 * next hop shares while it runs. Results are cached until the smallest TTL
 * of the records used, clamped to [cache_min_ttl, cache_max_ttl]; TEMP for
 * cache_temp_ttl only, so a failure is retried soon but a burst of
 * requests during an outage does not hammer the resolver.
 *
 * A resolver outage (SERVFAIL, timeout; not a DNSSEC failure) for a next
 * hop whose last answer was dane or dane-only is answered with that answer
 * for up to stale_answer_max_age, marked stale: Postfix checks the TLSA
 * records itself at those levels, so the answer cannot weaken anything.
 * Every other failure stays TEMP.
 *
 * Prefetch: a hit in the last cache_prefetch_percent of an answer's life
 * answers at once and refreshes the answer in the background, once per
 * answer, at most cache_prefetch_max at a time, coalesced with the
 * requests that miss meanwhile; nothing is refreshed that nobody asks
 * for. A refresh that fails while the answer is still good keeps it until
 * it expires; only then do the rules of a failure apply. An answer whose
 * refresh is still under way when it expires is given on until that
 * refresh ends, for at most dns_timeout past its expiry. When the
 * resolver gives back the very records it had cached (a refresh cannot
 * make libunbound skip its cache), the answer is given on in the same
 * way while a refresh started after its expiry runs. So a destination
 * asked for at least once in each refresh window never makes Postfix
 * wait for DNS.
 *
 * MTA-STS (policymap_set_sts), for domain next hops: DANE first (RFC 8461
 * section 2, stsprecedence.h). The answer DNS or the exception list gave
 * stands unless it is one where DNS proved DANE absent and the domain's
 * policy in force is in mode enforce; then Postfix is told "secure
 * match=... servername=hostname". The cache keeps DNS's answers only, and
 * the policy is applied as each answer is given, so an answer changes the
 * moment a policy is fetched or runs out. A first lookup of a domain
 * waits for its policy while the first discovery runs (sts.h).
 *
 * Ownership: the policymap borrows the dns and holds a reference to the
 * configuration snapshot it is given (policymap_set_config() swaps it). A
 * pending lookup returns a waiter that the caller may cancel until its
 * callback runs; the resolution itself continues and is cached (another
 * request will want it). The answer passed to a callback, and the reason
 * in an answer returned at once, are valid only until control returns to
 * the policymap or the next policymap call.
 */
#ifndef TLSPOLICY_POLICYMAP_H
#define TLSPOLICY_POLICYMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"
#include "config/config.h"
#include "dns/dns.h"
#include "postfix/nexthop.h"
#include "rules/policy.h"
#include "sts/sts.h"

struct policymap_answer {
	struct policy_answer answer;
	const char *policy;	/* an exception's policy (POLICY_RULE_EXCEPTION), else NULL */
	const char *reason;
	bool cache_hit;
	bool shared;		/* joined a resolution already under way */
	bool no_dns;		/* answered from the key alone (IP literal, parent form) */
	bool stale;		/* a resolver outage answered with the last secure answer */
	uint32_t ttl_s;		/* how long it is cached from now */
	/* MTA-STS, for a domain next hop with policymap_set_sts(): the policy
	 * in force, or NULL. With sts_text it replaced the answer, and
	 * Postfix gets sts_text ("secure match=... servername=hostname");
	 * without, the answer stood before it. sts_why says why, either
	 * way; sts_domain is the policy's domain. */
	const struct stspolicy *sts;
	const char *sts_text, *sts_why, *sts_domain;
	const char *sts_id;		/* with sts: the id it was fetched under */
	int64_t sts_fetched_at;		/* with sts: Unix seconds */
};

typedef void policymap_callback(void *arg, const struct policymap_answer *a);
typedef uint64_t policymap_clock(void *arg);	/* monotonic milliseconds */

/* How a refresh ended: its answer lives longer than the one it replaced;
 * the resolver gave back its cached records (the answer is given on past
 * its expiry while the next refresh runs); DNS failed and the answer it
 * was to replace stands until it expires; it failed after that answer
 * expired, and a failure's rules applied. */
enum policymap_refresh {
	POLICYMAP_REFRESH_RENEWED,
	POLICYMAP_REFRESH_UNCHANGED,
	POLICYMAP_REFRESH_KEPT,
	POLICYMAP_REFRESH_FAILED,
	POLICYMAP_REFRESH_COUNT
};

struct policymap_stats {
	uint64_t hits, misses, shared, resolutions, stale;
	uint64_t stale_fleet;		/* of stale: the fleet's last secure answer */
	uint64_t late;			/* hits given past expiry while their refresh ran */
	uint64_t refreshes;		/* refreshes started */
	uint64_t refresh_skipped;	/* not started: cache_prefetch_max were running */
	uint64_t refresh_outcomes[POLICYMAP_REFRESH_COUNT];	/* by enum policymap_refresh */
	uint64_t sts_applied;		/* answers an MTA-STS policy replaced */
	uint64_t sts_waits;		/* first lookups that waited for a policy */
	size_t entries, in_flight;
};

enum { POLICYMAP_DONE = 0, POLICYMAP_PENDING = 1 };

struct policymap;
struct policymap_waiter;

struct policymap *policymap_create(struct dns *dns, struct config *cfg,
    const unsigned char seed[16], policymap_clock *clock, void *clock_arg);
void policymap_free(struct policymap *pm);	/* cancels everything pending */
struct fleet;
/* Shares the last secure answers with a fleet (fleet.h; NULL: alone),
 * borrowed: each dane answer remembered for an outage is stored there for
 * stale_answer_max_age, and a resolver outage for a next hop this relay
 * has none for asks the fleet (the answer waits at most redis_timeout),
 * which this relay then serves and keeps as its own. Not for a DNSSEC
 * failure, nor while the resolver is untrusted. */
void policymap_set_fleet(struct policymap *pm, struct fleet *fleet);
void policymap_set_config(struct policymap *pm, struct config *cfg);

/* POLICYMAP_DONE with *out filled; POLICYMAP_PENDING with *waiter set, the
 * callback to run once later; -1 when out of memory. */
int policymap_lookup(struct policymap *pm, const struct nexthop *nh, struct policymap_answer *out,
    policymap_callback *cb, void *arg, struct policymap_waiter **waiter);
void policymap_waiter_cancel(struct policymap_waiter *w);

/* "renewed", "unchanged", "kept", "failed". */
const char *policymap_refresh_name(enum policymap_refresh outcome);
/* Called as each refresh ends, with how long the answer in force now
 * lives: the daemon logs it. */
typedef void policymap_refresh_hook(void *arg, const char *key, enum policymap_refresh outcome, uint32_t ttl_s);
void policymap_set_refresh_hook(struct policymap *pm, policymap_refresh_hook *hook, void *arg);

struct resolve_result;
/* Called with every resolution as it completes, before its waiters, with
 * how long it took: the daemon logs its lookups, counts them and probes
 * the hosts. */
typedef void policymap_observer(void *arg, const struct resolve_result *r, uint64_t elapsed_ms);
void policymap_set_observer(struct policymap *pm, policymap_observer *observer, void *arg);

struct exceptions;
struct exception_entry;

/* The exception lists in force: the administrator's file, and the
 * proposals applied automatically (exceptions_auto); either may be NULL.
 * Takes references; the cache is emptied, since answers may change.
 *
 * A domain next hop that a domain entry names (or a [host] next hop an
 * "mx:" entry names) is answered with the entry's policy before any DNS;
 * the destination is still resolved in the background (once per cache
 * TTL) so that its hosts are probed and a fix is noticed. A resolution
 * one of whose MX hosts an "mx:" entry names is answered with that
 * entry's policy. Retired names (policymap_retire) are skipped. */
void policymap_set_exceptions(struct policymap *pm, struct exceptions *file, struct exceptions *automatic);
/* Stops applying exceptions for a destination or MX host name, until
 * policymap_unretire_all() (the daemon calls it when the file is loaded
 * again). */
void policymap_retire(struct policymap *pm, const char *name);
void policymap_unretire_all(struct policymap *pm);
/* The domain exception that applies to a next hop now, or NULL; *automatic
 * says which list it came from. */
const struct exception_entry *policymap_exception(const struct policymap *pm, const struct nexthop *nh,
    bool *automatic);
/* Unix seconds, for exception expiry (default: time()). */
typedef int64_t policymap_wall_clock(void *arg);
void policymap_set_wall_clock(struct policymap *pm, policymap_wall_clock *clock, void *arg);

/* When Postfix last asked for a next hop (canonical key) that is still
 * cached, in the policymap's clock; 0 when it is not cached. */
uint64_t policymap_last_asked(const struct policymap *pm, const char *key);

/* One answer of the cache, as policymap_each_recent() shows it; valid
 * during the call. Times are the policymap's clock. */
struct policymap_cached {
	const char *key;		/* canonical next hop */
	struct policy_answer answer;
	const char *reason;
	const char *policy;		/* an exception's policy, or NULL */
	uint64_t stored_ms, expires_ms;
	uint64_t used_ms;		/* when Postfix last asked */
};
typedef void policymap_cached_fn(void *arg, const struct policymap_cached *c);
/* Calls fn for the max next hops Postfix asked for most recently (a
 * bound: the cache may hold a hundred thousand), least recent first,
 * expired answers included; fn must not call the policymap. Returns how
 * many more the cache holds. */
size_t policymap_each_recent(const struct policymap *pm, size_t max, policymap_cached_fn *fn, void *arg);
/* Why the resolver is not trusted now (policymap_set_untrusted()), or
 * NULL. */
const char *policymap_untrusted_reason(const struct policymap *pm);

/* The caches as snapshot lines (snapshot.h), for the state file: the
 * answers but exceptions' (see policymap_restore), and the last secure
 * answers. */
int policymap_snapshot(const struct policymap *pm, struct buf *out);
/* Puts back what snapshot lines hold that the daemon would give now:
 * never an exception's answer (the list in force gives those; nor are
 * they written), a secure answer only when it is still dane or dane-only
 * under the levels in force, and each until it expires but no longer
 * than stored + cache_max_ttl (cache_temp_ttl for TEMP; for the secure
 * answers, stale_answer_max_age) by the wall clock. Lines it cannot read
 * (snapshot_parse), whose key is not a canonical next hop, or stored in
 * the future are skipped. Returns how many entries it restored. */
size_t policymap_restore(struct policymap *pm, const char *text, size_t len);

/* Whether the resolver is known to validate DNSSEC (the daemon's trust
 * check, trustcheck.h). With a reason (copied), it is not: a request that
 * misses the cache is answered TEMP with that reason (POLICY_RULE_TRUST_CHECK),
 * or, as through an outage, with the destination's last dane or
 * dane-only answer; nothing is looked up and nothing is cached, so the
 * answers change the moment a check passes. Background resolutions for
 * exceptions wait, and a resolution that finishes meanwhile is not kept.
 * Cached answers, validated before, stand until they expire. NULL: the
 * resolver is trusted (the default). */
void policymap_set_untrusted(struct policymap *pm, const char *reason);

/* MTA-STS policies from sts (borrowed, outliving the policymap), or none
 * (NULL, the default). */
void policymap_set_sts(struct policymap *pm, struct sts *sts);

/* Forgets a cached answer, and the last secure one; 1 if there was one. */
int policymap_purge(struct policymap *pm, const struct nexthop *nh);
void policymap_stats(const struct policymap *pm, struct policymap_stats *out);

#endif
