/* map - keyed hash map of intrusive nodes, with LRU order; see map.h. */
#include "autoconfig.h"

#include <stdlib.h>

#include "util/map.h"

void
map_init(struct map *m, const unsigned char seed[16])
{
	memset(m, 0, sizeof(*m));
	m->key = hash_key_from_bytes(seed);
}

static struct map_node **
bucket_of(const struct map *m, uint64_t hash)
{
	return &m->buckets[hash & (m->nbuckets - 1)];
}

/* Relinks every element into size buckets, walking the order list (the
 * same elements as the old chains, in one loop). Without memory it keeps
 * the old array: longer chains, still correct; and a map that never had
 * an array makes do with its one bucket. */
static void
resize(struct map *m, size_t size)
{
	struct map_node **fresh = calloc(size, sizeof(*fresh));

	if (!fresh) {
		if (!m->buckets) {
			m->one = NULL;
			m->buckets = &m->one;
			m->nbuckets = 1;
		}
		return;
	}
	if (m->buckets != &m->one)
		free(m->buckets);
	m->buckets = fresh;
	m->nbuckets = size;
	for (struct list_node *l = m->order.first; l; l = l->next) {
		struct map_node *n = map_node_of(l), **b = bucket_of(m, n->hash);
		n->chain = *b;
		*b = n;
	}
}

static struct map_node **
slot_of(const struct map *m, const void *key, size_t len, uint64_t hash)
{
	struct map_node **slot = bucket_of(m, hash);

	while (*slot && ((*slot)->hash != hash || (*slot)->len != len || memcmp((*slot)->key, key, len) != 0))
		slot = &(*slot)->chain;
	return slot;
}

struct map_node *
map_find(const struct map *m, const void *key, size_t len)
{
	if (map_count(m) == 0)
		return NULL;
	return *slot_of(m, key, len, hash_siphash13(m->key, key, len));
}

static void
unlink_node(struct map *m, struct map_node *n)
{
	struct map_node **slot = bucket_of(m, n->hash);

	while (*slot != n)
		slot = &(*slot)->chain;
	*slot = n->chain;
	n->chain = NULL;
	list_remove(&m->order, &n->order);
}

static void
evict_over_max(struct map *m)
{
	while (m->max && map_count(m) > m->max) {
		struct map_node *old = map_oldest(m);
		unlink_node(m, old);
		if (m->evict)
			m->evict(m->evict_arg, old);
	}
}

struct map_node *
map_put(struct map *m, struct map_node *n, const void *key, size_t len)
{
	uint64_t hash = hash_siphash13(m->key, key, len);
	struct map_node *old = NULL;

	if (!m->buckets || m->nbuckets < MAP_MIN_BUCKETS)
		resize(m, MAP_MIN_BUCKETS);
	else if (map_count(m) >= m->nbuckets)
		resize(m, m->nbuckets * 2);
	struct map_node **slot = slot_of(m, key, len, hash);
	if (*slot) {
		old = *slot;
		*slot = old->chain;
		old->chain = NULL;
		list_remove(&m->order, &old->order);
	}
	n->key = key;
	n->len = len;
	n->hash = hash;
	n->chain = *slot;
	*slot = n;
	list_push_back(&m->order, &n->order);
	evict_over_max(m);
	return old;
}

void
map_remove(struct map *m, struct map_node *n)
{
	unlink_node(m, n);
	if (m->nbuckets > MAP_MIN_BUCKETS && map_count(m) < m->nbuckets / 4)
		resize(m, m->nbuckets / 2);
}

void
map_touch(struct map *m, struct map_node *n)
{
	list_move_back(&m->order, &n->order);
}

void
map_set_max(struct map *m, size_t max, map_node_fn *evict, void *arg)
{
	m->max = max;
	m->evict = evict;
	m->evict_arg = arg;
	evict_over_max(m);
}

void
map_clear(struct map *m, map_node_fn *fn, void *arg)
{
	struct list all = m->order;

	/* The whole structure goes at once: nothing is unlinked one by one,
	 * and fn may free each element as it gets it. */
	if (m->buckets != &m->one)
		free(m->buckets);
	m->buckets = NULL;
	m->nbuckets = 0;
	m->one = NULL;
	memset(&m->order, 0, sizeof(m->order));
	for (struct list_node *l = all.first, *next; l; l = next) {
		next = l->next;
		if (fn)
			fn(arg, map_node_of(l));
	}
}
