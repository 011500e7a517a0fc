/*
 * answercache - per next hop, two answers, each until its expiry time:
 * the answer served (ANSWERCACHE_ANSWER) and the last secure answer
 * (ANSWERCACHE_SECURE, what the policy map gives through a resolver
 * outage). At most max_entries next hops are kept; when full, the least
 * recently used one goes, with both its answers.
 *
 * Both answers of a next hop live in one entry, and equal reasons are
 * stored once: a DANE destination usually has both, with the same
 * reason, and memory per destination is what bounds how many a relay
 * keeps. The secure answer is allocated only when there is one.
 *
 * The caller passes the time (milliseconds on a monotonic clock) and the
 * expiry, so the cache itself has no clock and the tests control time.
 * Keys are hashed with SipHash-1-3 under a per-cache secret seed (map.h):
 * the keys are recipient domains, which senders choose, so an unkeyed hash
 * would let them pile every entry into one bucket. A hit allocates
 * nothing: it is the path every cached answer takes.
 *
 * An answer may be given a little past its expiry (late_until_ms): the
 * policy map does so while the answer's refresh runs, so that a refresh
 * that had to wait for the resolver's own copy to expire keeps Postfix
 * from waiting all the same.
 *
 * Ownership: the cache copies keys, reasons and policies. A returned
 * entry is owned by the cache, valid until the next call that modifies
 * it; the caller may set its owner fields (refreshing, late_until_ms).
 */
#ifndef TLSPOLICY_ANSWERCACHE_H
#define TLSPOLICY_ANSWERCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/policy.h"

enum answercache_slot {
	ANSWERCACHE_ANSWER,
	ANSWERCACHE_SECURE,
};

struct answercache_entry {
	struct policy_answer answer;
	const char *reason;
	const char *policy;		/* an exception's policy, or NULL */
	uint64_t stored_ms;
	uint64_t expires_ms;
	uint64_t used_ms;		/* the last answercache_get() that found it */
	/* The owner's: given until then when past expires_ms (0: never), and
	 * whether a refresh of the entry was started. A put clears both. */
	uint64_t late_until_ms;
	bool refreshing;
};

struct answercache;

struct answercache *answercache_create(size_t max_entries, const unsigned char seed[16]);
void answercache_free(struct answercache *c);

/* The slot's answer, or NULL when absent or expired past its
 * late_until_ms (such an answer is dropped). A hit makes the next hop the
 * most recently used. */
struct answercache_entry *answercache_get(struct answercache *c, enum answercache_slot slot, const char *key,
    uint64_t now_ms);

/* Stores or replaces the slot's answer; evicts the least recently used
 * next hop when full. 0, or -1 when out of memory (the cache is
 * unchanged). */
int answercache_put(struct answercache *c, enum answercache_slot slot, const char *key, struct policy_answer answer,
    const char *reason, const char *policy, uint64_t now_ms, uint64_t expires_ms);
/* Forgets every answer of the slot (a new exception list changes the
 * answers served, not what DNS last proved secure). */
void answercache_clear(struct answercache *c, enum answercache_slot slot);

/* The slot's answer without touching recency or expiry, or NULL. */
struct answercache_entry *answercache_peek(const struct answercache *c, enum answercache_slot slot,
    const char *key);

/* Calls fn for every answer of the slot, expired or not, least recently
 * used first (putting them back in this order rebuilds the same recency).
 * fn must not modify the cache. */
void answercache_each(const struct answercache *c, enum answercache_slot slot,
    void (*fn)(void *arg, const char *key, const struct answercache_entry *e), void *arg);

/* Removes the slot's answer of one key; 1 if there was one. */
int answercache_remove(struct answercache *c, enum answercache_slot slot, const char *key);
/* Lowers or raises the bound, evicting at once when lowered. */
void answercache_set_max(struct answercache *c, size_t max_entries);
/* Answers of the slot held. */
size_t answercache_count(const struct answercache *c, enum answercache_slot slot);
/* Next hops evicted for want of room. */
uint64_t answercache_evictions(const struct answercache *c);

#endif
