/*
 * map - the one keyed hash map: elements embed a struct map_node, and the
 * map links them under a key (bytes, or a string without its NUL) that the
 * element holds. Linking allocates nothing but, now and then, the bucket
 * array, so a lookup, an LRU touch or an insert of an element the caller
 * has already allocated costs no malloc.
 *
 * - Keys are hashed with SipHash-1-3 (hash.h) under the map's own secret
 *   seed: keys come from recipient domains, MX records and log lines,
 *   which strangers write, and must not be aimable at one bucket.
 * - The bucket array doubles when the map holds more elements than
 *   buckets and halves when it holds fewer than a quarter (never below
 *   MAP_MIN_BUCKETS); a failed allocation only leaves longer chains.
 * - Every element is also on one list in order of use: oldest first. An
 *   insert, and map_touch(), make an element the newest, so the order is
 *   LRU order when the caller touches what it uses, insertion order when
 *   it does not. map_oldest() and map_newer() (or map_newest() and
 *   map_older()) walk it.
 * - Optionally bounded (map_set_max): an insert past the bound unlinks the
 *   oldest element and hands it to the eviction callback.
 *
 * Ownership: the map owns only its bucket array; elements are the caller's.
 * A node's key must stay valid and unchanged while the node is linked (keep
 * it in the element). map_clear() unlinks everything, hands each element
 * to a callback, and frees the bucket array: it is also the destructor.
 * A struct map must not be copied once initialised.
 *
 * Errors: none. Inserting never fails (see above). Not thread-safe.
 */
#ifndef TLSPOLICY_MAP_H
#define TLSPOLICY_MAP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/hash.h"
#include "util/list.h"

#define MAP_MIN_BUCKETS 16

struct map_node {
	struct map_node *chain;		/* the next in its bucket */
	struct list_node order;		/* oldest first */
	const void *key;
	size_t len;
	uint64_t hash;
};

/* The element that holds node ptr as its member `member`; NULL for NULL,
 * so that a failed map_find() needs no test of its own. */
#define MAP_ENTRY(ptr, type, member) ((type *)map_entry_at((ptr), offsetof(type, member)))

static inline void *
map_entry_at(const struct map_node *n, size_t offset)
{
	return n ? (void *)((uintptr_t)n - offset) : NULL;
}

/* Called with an element the map has unlinked (an eviction, map_clear). */
typedef void map_node_fn(void *arg, struct map_node *n);

/* The fields are the map's. */
struct map {
	struct map_node **buckets;	/* NULL until the first insert */
	size_t nbuckets;		/* a power of two */
	struct map_node *one;		/* the only bucket, when no array could be had */
	struct list order;
	struct hash_key key;
	size_t max;			/* 0: unbounded */
	map_node_fn *evict;
	void *evict_arg;
};

void map_init(struct map *m, const unsigned char seed[16]);
/* At most max elements (0: no bound); lowering it evicts at once. evict
 * gets each element pushed out, oldest first, and may free it (NULL: the
 * elements are only unlinked). */
void map_set_max(struct map *m, size_t max, map_node_fn *evict, void *arg);

/* The element under the key, or NULL. An empty map hashes nothing. */
struct map_node *map_find(const struct map *m, const void *key, size_t len);
static inline struct map_node *
map_find_str(const struct map *m, const char *key)
{
	return m->order.count ? map_find(m, key, strlen(key)) : NULL;
}

/* Links n under key (len bytes), as the newest. Returns the element that
 * had the key, now unlinked (the caller's to free), or NULL. Past the
 * bound, the oldest element is evicted afterwards (never n). */
struct map_node *map_put(struct map *m, struct map_node *n, const void *key, size_t len);
static inline struct map_node *
map_put_str(struct map *m, struct map_node *n, const char *key)
{
	return map_put(m, n, key, strlen(key));
}

/* Unlinks n, which is in m. */
void map_remove(struct map *m, struct map_node *n);
/* Makes n, which is in m, the newest: it was used now. */
void map_touch(struct map *m, struct map_node *n);
/* Unlinks every element, oldest first, handing each to fn (which may free
 * it; NULL: nobody needs them), and frees the bucket array. The map stays
 * usable, with the same seed and bound. */
void map_clear(struct map *m, map_node_fn *fn, void *arg);

static inline size_t
map_count(const struct map *m)
{
	return m->order.count;
}

static inline struct map_node *
map_node_of(const struct list_node *n)
{
	return LIST_ENTRY(n, struct map_node, order);
}

static inline struct map_node *map_oldest(const struct map *m) { return map_node_of(m->order.first); }
static inline struct map_node *map_newest(const struct map *m) { return map_node_of(m->order.last); }
static inline struct map_node *map_newer(const struct map_node *n) { return map_node_of(n->order.next); }
static inline struct map_node *map_older(const struct map_node *n) { return map_node_of(n->order.prev); }

#endif
