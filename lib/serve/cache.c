/* cache - answers with TTL and LRU eviction; see cache.h for the contract. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "serve/cache.h"
#include "util/hash.h"

struct node {
	struct cache_entry entry;
	struct node *chain;		/* next in the bucket */
	struct node *newer, *older;	/* LRU list */
	uint64_t hash;
	char key[];
};

struct cache {
	struct node **buckets;
	size_t nbuckets;		/* a power of two */
	size_t count;
	size_t max;
	uint64_t evictions;
	struct node *newest, *oldest;
	struct hash_key key;
};

struct cache *
cache_create(size_t max_entries, const unsigned char seed[16])
{
	struct cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->nbuckets = 64;
	if (!(c->buckets = calloc(c->nbuckets, sizeof(*c->buckets)))) {
		free(c);
		return NULL;
	}
	c->max = max_entries ? max_entries : 1;
	c->key = hash_key_from_bytes(seed);
	return c;
}

static void
lru_unlink(struct cache *c, struct node *n)
{
	if (n->newer)
		n->newer->older = n->older;
	else
		c->newest = n->older;
	if (n->older)
		n->older->newer = n->newer;
	else
		c->oldest = n->newer;
	n->newer = n->older = NULL;
}

static void
lru_push(struct cache *c, struct node *n)
{
	n->older = c->newest;
	n->newer = NULL;
	if (c->newest)
		c->newest->newer = n;
	c->newest = n;
	if (!c->oldest)
		c->oldest = n;
}

static struct node **
find_slot(struct cache *c, const char *key, uint64_t hash)
{
	struct node **slot = &c->buckets[hash & (c->nbuckets - 1)];

	while (*slot && ((*slot)->hash != hash || strcmp((*slot)->key, key) != 0))
		slot = &(*slot)->chain;
	return slot;
}

static void
drop(struct cache *c, struct node **slot)
{
	struct node *n = *slot;

	*slot = n->chain;
	lru_unlink(c, n);
	free(n->entry.reason);
	free(n->entry.policy);
	free(n);
	c->count--;
}

static void
evict_oldest(struct cache *c)
{
	struct node *n = c->oldest;

	drop(c, find_slot(c, n->key, n->hash));
	c->evictions++;
}

static void
grow(struct cache *c)
{
	size_t nb = c->nbuckets * 2;
	struct node **b = calloc(nb, sizeof(*b));

	if (!b)
		return;	/* longer chains, still correct */
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct node *n = c->buckets[i];
		while (n) {
			struct node *next = n->chain;
			n->chain = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
			n = next;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = nb;
}

const struct cache_entry *
cache_get(struct cache *c, const char *key, uint64_t now_ms)
{
	uint64_t hash = hash_siphash13(c->key, key, strlen(key));
	struct node **slot = find_slot(c, key, hash);
	struct node *n = *slot;

	if (!n)
		return NULL;
	if (now_ms >= n->entry.expires_ms) {
		drop(c, slot);
		return NULL;
	}
	lru_unlink(c, n);
	lru_push(c, n);
	n->entry.used_ms = now_ms;
	return &n->entry;
}

const struct cache_entry *
cache_peek(const struct cache *c, const char *key)
{
	uint64_t hash = hash_siphash13(c->key, key, strlen(key));
	const struct node *n = c->buckets[hash & (c->nbuckets - 1)];

	while (n && (n->hash != hash || strcmp(n->key, key) != 0))
		n = n->chain;
	return n ? &n->entry : NULL;
}

int
cache_put(struct cache *c, const char *key, struct policy_answer answer,
    const char *reason, const char *policy, uint64_t now_ms, uint64_t expires_ms)
{
	size_t klen = strlen(key);
	uint64_t hash = hash_siphash13(c->key, key, klen);
	struct node *n = malloc(sizeof(*n) + klen + 1);
	char *why = strdup(reason ? reason : "");
	char *pol = policy ? strdup(policy) : NULL;

	if (!n || !why || (policy && !pol)) {
		free(n);
		free(why);
		free(pol);
		return -1;
	}
	memcpy(n->key, key, klen + 1);
	n->hash = hash;
	n->entry.answer = answer;
	n->entry.reason = why;
	n->entry.policy = pol;
	n->entry.stored_ms = now_ms;
	n->entry.expires_ms = expires_ms;
	n->entry.used_ms = now_ms;

	struct node **slot = find_slot(c, key, hash);
	if (*slot)
		drop(c, slot);
	while (c->count >= c->max)
		evict_oldest(c);
	if (c->count >= c->nbuckets)
		grow(c);
	slot = &c->buckets[hash & (c->nbuckets - 1)];
	n->chain = *slot;
	*slot = n;
	lru_push(c, n);
	c->count++;
	return 0;
}

void
cache_each(const struct cache *c, void (*fn)(void *arg, const char *key, const struct cache_entry *e), void *arg)
{
	for (const struct node *n = c->oldest; n; n = n->newer)
		fn(arg, n->key, &n->entry);
}

int
cache_remove(struct cache *c, const char *key)
{
	uint64_t hash = hash_siphash13(c->key, key, strlen(key));
	struct node **slot = find_slot(c, key, hash);

	if (!*slot)
		return 0;
	drop(c, slot);
	return 1;
}

void
cache_set_max(struct cache *c, size_t max_entries)
{
	c->max = max_entries ? max_entries : 1;
	while (c->count > c->max)
		evict_oldest(c);
}

void
cache_clear(struct cache *c)
{
	while (c->oldest)
		drop(c, find_slot(c, c->oldest->key, c->oldest->hash));
}

size_t
cache_count(const struct cache *c)
{
	return c->count;
}

uint64_t
cache_evictions(const struct cache *c)
{
	return c->evictions;
}

void
cache_free(struct cache *c)
{
	if (!c)
		return;
	cache_clear(c);
	free(c->buckets);
	free(c);
}
