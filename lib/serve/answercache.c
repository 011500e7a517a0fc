/* answercache - answers with TTL and LRU eviction; see answercache.h. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "serve/answercache.h"
#include "util/map.h"

struct answer {
	struct map_node node;
	struct answercache_entry entry;
	char key[];
};

struct answercache {
	struct map answers;		/* LRU order, bounded */
	uint64_t evictions;
};

static void
free_answer(struct answer *a)
{
	free(a->entry.reason);
	free(a->entry.policy);
	free(a);
}

static void
on_evict(void *arg, struct map_node *n)
{
	struct answercache *c = arg;

	c->evictions++;
	free_answer(MAP_ENTRY(n, struct answer, node));
}

static void
on_clear(void *arg, struct map_node *n)
{
	free_answer(MAP_ENTRY(n, struct answer, node));
}

struct answercache *
answercache_create(size_t max_entries, const unsigned char seed[16])
{
	struct answercache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	map_init(&c->answers, seed);
	answercache_set_max(c, max_entries);
	return c;
}

struct answercache_entry *
answercache_get(struct answercache *c, const char *key, uint64_t now_ms)
{
	struct answer *a = MAP_ENTRY(map_find_str(&c->answers, key), struct answer, node);

	if (!a)
		return NULL;
	if (now_ms >= a->entry.expires_ms && now_ms >= a->entry.late_until_ms) {
		map_remove(&c->answers, &a->node);
		free_answer(a);
		return NULL;
	}
	map_touch(&c->answers, &a->node);
	a->entry.used_ms = now_ms;
	return &a->entry;
}

struct answercache_entry *
answercache_peek(const struct answercache *c, const char *key)
{
	struct answer *a = MAP_ENTRY(map_find_str(&c->answers, key), struct answer, node);

	return a ? &a->entry : NULL;
}

int
answercache_put(struct answercache *c, const char *key, struct policy_answer answer,
    const char *reason, const char *policy, uint64_t now_ms, uint64_t expires_ms)
{
	size_t klen = strlen(key);
	struct answer *a = malloc(sizeof(*a) + klen + 1);
	char *why = strdup(reason ? reason : "");
	char *pol = policy ? strdup(policy) : NULL;

	if (!a || !why || (policy && !pol)) {
		free(a);
		free(why);
		free(pol);
		return -1;
	}
	memcpy(a->key, key, klen + 1);
	a->entry.answer = answer;
	a->entry.reason = why;
	a->entry.policy = pol;
	a->entry.stored_ms = now_ms;
	a->entry.expires_ms = expires_ms;
	a->entry.used_ms = now_ms;
	a->entry.late_until_ms = 0;
	a->entry.refreshing = false;
	/* A replaced answer is no eviction: the cache did not run out of room. */
	struct answer *old = MAP_ENTRY(map_put(&c->answers, &a->node, a->key, klen), struct answer, node);
	if (old)
		free_answer(old);
	return 0;
}

void
answercache_each(const struct answercache *c,
    void (*fn)(void *arg, const char *key, const struct answercache_entry *e), void *arg)
{
	for (struct map_node *n = map_oldest(&c->answers); n; n = map_newer(n))
		fn(arg, MAP_ENTRY(n, struct answer, node)->key, &MAP_ENTRY(n, struct answer, node)->entry);
}

int
answercache_remove(struct answercache *c, const char *key)
{
	struct answer *a = MAP_ENTRY(map_find_str(&c->answers, key), struct answer, node);

	if (!a)
		return 0;
	map_remove(&c->answers, &a->node);
	free_answer(a);
	return 1;
}

void
answercache_set_max(struct answercache *c, size_t max_entries)
{
	map_set_max(&c->answers, max_entries ? max_entries : 1, on_evict, c);
}

void
answercache_clear(struct answercache *c)
{
	map_clear(&c->answers, on_clear, NULL);
}

size_t
answercache_count(const struct answercache *c)
{
	return map_count(&c->answers);
}

uint64_t
answercache_evictions(const struct answercache *c)
{
	return c->evictions;
}

void
answercache_free(struct answercache *c)
{
	if (!c)
		return;
	answercache_clear(c);
	free(c);
}
