/*
 * cache - answers by next-hop key, each until its expiry time, at most
 * max_entries of them; when full, the least recently used entry goes.
 *
 * The caller passes the time (milliseconds on a monotonic clock) and the
 * expiry, so the cache itself has no clock and the tests control time.
 * Keys are hashed with SipHash-1-3 under a per-cache secret seed: the keys
 * are recipient domains, which senders choose, so an unkeyed hash would let
 * them pile every entry into one bucket.
 *
 * Ownership: the cache copies keys and reasons. cache_get() returns a
 * pointer owned by the cache, valid until the next call that modifies it.
 */
#ifndef TLSPOLICY_CACHE_H
#define TLSPOLICY_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "rules/policy.h"

struct cache_entry {
	struct policy_answer answer;
	char *reason;
	char *policy;			/* an exception's policy, or NULL */
	uint64_t stored_ms;
	uint64_t expires_ms;
	uint64_t used_ms;		/* the last cache_get() that found it */
};

struct cache;

struct cache *cache_create(size_t max_entries, const unsigned char seed[16]);
void cache_free(struct cache *c);

/* NULL when absent or expired (an expired entry is dropped). A hit makes
 * the entry the most recently used. */
const struct cache_entry *cache_get(struct cache *c, const char *key, uint64_t now_ms);

/* Stores or replaces; evicts the least recently used entry when full.
 * 0, or -1 when out of memory (the cache is unchanged). */
int cache_put(struct cache *c, const char *key, struct policy_answer answer,
    const char *reason, const char *policy, uint64_t now_ms, uint64_t expires_ms);
/* Forgets everything (a new exception list changes answers). */
void cache_clear(struct cache *c);

/* The entry without touching recency or expiry, or NULL. */
const struct cache_entry *cache_peek(const struct cache *c, const char *key);

/* Calls fn for every entry, expired or not, least recently used first
 * (putting them back in this order rebuilds the same recency). fn must
 * not modify the cache. */
void cache_each(const struct cache *c, void (*fn)(void *arg, const char *key, const struct cache_entry *e),
    void *arg);

/* Removes one key; 1 if it was there. */
int cache_remove(struct cache *c, const char *key);
/* Lowers or raises the bound, evicting at once when lowered. */
void cache_set_max(struct cache *c, size_t max_entries);
size_t cache_count(const struct cache *c);
uint64_t cache_evictions(const struct cache *c);

#endif
