/*
 * answercache - the answers given for next hops, each until its expiry
 * time, at most max_entries of them; when full, the least recently used
 * one goes. The policy map keeps two: the answers it serves, and the last
 * secure answer of each destination, for an outage.
 *
 * The caller passes the time (milliseconds on a monotonic clock) and the
 * expiry, so the cache itself has no clock and the tests control time.
 * Keys are hashed with SipHash-1-3 under a per-cache secret seed (map.h):
 * the keys are recipient domains, which senders choose, so an unkeyed hash
 * would let them pile every entry into one bucket. A hit allocates
 * nothing: it is the path every cached answer takes.
 *
 * An entry may be given a little past its expiry (late_until_ms): the
 * policy map does so while the entry's refresh runs, so that a refresh
 * that had to wait for the resolver's own copy to expire keeps Postfix
 * from waiting all the same.
 *
 * Ownership: the cache copies keys and reasons. answercache_get() returns a
 * pointer owned by the cache, valid until the next call that modifies it;
 * the caller may set the entry's owner fields (refreshing, late_until_ms).
 */
#ifndef TLSPOLICY_ANSWERCACHE_H
#define TLSPOLICY_ANSWERCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "rules/policy.h"

struct answercache_entry {
	struct policy_answer answer;
	char *reason;
	char *policy;			/* an exception's policy, or NULL */
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

/* NULL when absent or expired past its late_until_ms (such an entry is
 * dropped). A hit makes the entry the most recently used. */
struct answercache_entry *answercache_get(struct answercache *c, const char *key, uint64_t now_ms);

/* Stores or replaces; evicts the least recently used entry when full.
 * 0, or -1 when out of memory (the cache is unchanged). */
int answercache_put(struct answercache *c, const char *key, struct policy_answer answer,
    const char *reason, const char *policy, uint64_t now_ms, uint64_t expires_ms);
/* Forgets everything (a new exception list changes answers). */
void answercache_clear(struct answercache *c);

/* The entry without touching recency or expiry, or NULL. */
struct answercache_entry *answercache_peek(const struct answercache *c, const char *key);

/* Calls fn for every entry, expired or not, least recently used first
 * (putting them back in this order rebuilds the same recency). fn must
 * not modify the cache. */
void answercache_each(const struct answercache *c,
    void (*fn)(void *arg, const char *key, const struct answercache_entry *e), void *arg);

/* Removes one key; 1 if it was there. */
int answercache_remove(struct answercache *c, const char *key);
/* Lowers or raises the bound, evicting at once when lowered. */
void answercache_set_max(struct answercache *c, size_t max_entries);
size_t answercache_count(const struct answercache *c);
uint64_t answercache_evictions(const struct answercache *c);

#endif
