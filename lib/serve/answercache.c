/* answercache - answers with TTL and LRU eviction; see answercache.h. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "serve/answercache.h"
#include "util/map.h"

/* A reason text, shared by the answers of a next hop that have it. */
struct reason {
	unsigned refs;
	char text[];
};

struct node {
	struct map_node node;
	bool has_answer;
	struct answercache_entry answer;
	struct answercache_entry *secure;	/* NULL: none */
	char key[];
};

struct answercache {
	struct map nodes;		/* LRU order, bounded */
	size_t count[2];		/* answers per slot */
	uint64_t evictions;
};

static struct reason *
reason_of(const char *text)
{
	return (struct reason *)((uintptr_t)text - offsetof(struct reason, text));
}

static void
reason_drop(const char *text)
{
	if (text && --reason_of(text)->refs == 0)
		free(reason_of(text));
}

/* The other slot's reason when it is the same text, else a new one. */
static const char *
reason_share(const struct answercache_entry *other, const char *text)
{
	if (other && strcmp(other->reason, text) == 0) {
		reason_of(other->reason)->refs++;
		return other->reason;
	}
	size_t len = strlen(text);
	struct reason *r = malloc(sizeof(*r) + len + 1);
	if (!r)
		return NULL;
	r->refs = 1;
	memcpy(r->text, text, len + 1);
	return r->text;
}

static struct answercache_entry *
slot_of(struct node *n, enum answercache_slot slot)
{
	if (!n)
		return NULL;
	if (slot == ANSWERCACHE_SECURE)
		return n->secure;
	return n->has_answer ? &n->answer : NULL;
}

/* The entry's texts are the cache's own, const only to its callers. */
static void
free_text(const char *text)
{
	free((void *)(uintptr_t)text);
}

static void
clear_entry(struct answercache_entry *e)
{
	reason_drop(e->reason);
	free_text(e->policy);
}

static void
free_node(struct answercache *c, struct node *n)
{
	if (n->has_answer) {
		clear_entry(&n->answer);
		c->count[ANSWERCACHE_ANSWER]--;
	}
	if (n->secure) {
		clear_entry(n->secure);
		free(n->secure);
		c->count[ANSWERCACHE_SECURE]--;
	}
	free(n);
}

/* Drops one answer; the node goes with its last one. */
static void
drop_slot(struct answercache *c, struct node *n, enum answercache_slot slot)
{
	struct answercache_entry *e = slot_of(n, slot);

	if (!e)
		return;
	clear_entry(e);
	c->count[slot]--;
	if (slot == ANSWERCACHE_SECURE) {
		free(n->secure);
		n->secure = NULL;
	} else {
		n->has_answer = false;
	}
	if (!n->has_answer && !n->secure) {
		map_remove(&c->nodes, &n->node);
		free(n);
	}
}

static void
on_evict(void *arg, struct map_node *mn)
{
	struct answercache *c = arg;

	c->evictions++;
	free_node(c, MAP_ENTRY(mn, struct node, node));
}

static void
on_clear(void *arg, struct map_node *mn)
{
	free_node(arg, MAP_ENTRY(mn, struct node, node));
}

static struct node *
find(const struct answercache *c, const char *key)
{
	return MAP_ENTRY(map_find_str(&c->nodes, key), struct node, node);
}

struct answercache *
answercache_create(size_t max_entries, const unsigned char seed[16])
{
	struct answercache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	map_init(&c->nodes, seed);
	answercache_set_max(c, max_entries);
	return c;
}

struct answercache_entry *
answercache_get(struct answercache *c, enum answercache_slot slot, const char *key, uint64_t now_ms)
{
	struct node *n = find(c, key);
	struct answercache_entry *e = slot_of(n, slot);

	if (!e)
		return NULL;
	if (now_ms >= e->expires_ms && now_ms >= e->late_until_ms) {
		drop_slot(c, n, slot);
		return NULL;
	}
	map_touch(&c->nodes, &n->node);
	e->used_ms = now_ms;
	return e;
}

struct answercache_entry *
answercache_peek(const struct answercache *c, enum answercache_slot slot, const char *key)
{
	return slot_of(find(c, key), slot);
}

int
answercache_put(struct answercache *c, enum answercache_slot slot, const char *key, struct policy_answer answer,
    const char *reason, const char *policy, uint64_t now_ms, uint64_t expires_ms)
{
	struct node *n = find(c, key), *fresh = NULL;
	size_t klen = strlen(key);

	if (!n) {
		if (!(fresh = calloc(1, sizeof(*fresh) + klen + 1)))
			return -1;
		memcpy(fresh->key, key, klen + 1);
		n = fresh;
	}
	struct answercache_entry e = {
		.answer = answer,
		.stored_ms = now_ms,
		.expires_ms = expires_ms,
		.used_ms = now_ms,
	};
	struct answercache_entry *other = slot_of(n, slot == ANSWERCACHE_SECURE ? ANSWERCACHE_ANSWER : ANSWERCACHE_SECURE);
	struct answercache_entry *secure = slot == ANSWERCACHE_SECURE && !n->secure ? malloc(sizeof(*secure)) : NULL;
	e.reason = reason_share(other, reason ? reason : "");
	e.policy = policy ? strdup(policy) : NULL;
	if (!e.reason || (policy && !e.policy) || (slot == ANSWERCACHE_SECURE && !n->secure && !secure)) {
		reason_drop(e.reason);
		free_text(e.policy);
		free(secure);
		free(fresh);
		return -1;
	}
	bool replaced = slot_of(n, slot) != NULL;
	if (secure)
		n->secure = secure;
	struct answercache_entry *dst = slot == ANSWERCACHE_SECURE ? n->secure : &n->answer;
	if (replaced)
		clear_entry(dst);
	else
		c->count[slot]++;
	*dst = e;
	if (slot == ANSWERCACHE_ANSWER)
		n->has_answer = true;
	if (fresh)
		map_put(&c->nodes, &n->node, n->key, klen);	/* evicts past the bound */
	else
		map_touch(&c->nodes, &n->node);
	return 0;
}

void
answercache_each(const struct answercache *c, enum answercache_slot slot,
    void (*fn)(void *arg, const char *key, const struct answercache_entry *e), void *arg)
{
	for (struct map_node *mn = map_oldest(&c->nodes); mn; mn = map_newer(mn)) {
		struct node *n = MAP_ENTRY(mn, struct node, node);
		const struct answercache_entry *e = slot_of(n, slot);
		if (e)
			fn(arg, n->key, e);
	}
}

int
answercache_remove(struct answercache *c, enum answercache_slot slot, const char *key)
{
	struct node *n = find(c, key);

	if (!slot_of(n, slot))
		return 0;
	drop_slot(c, n, slot);
	return 1;
}

void
answercache_clear(struct answercache *c, enum answercache_slot slot)
{
	struct map_node *mn = map_oldest(&c->nodes);

	while (mn) {
		struct map_node *next = map_newer(mn);
		drop_slot(c, MAP_ENTRY(mn, struct node, node), slot);
		mn = next;
	}
}

void
answercache_set_max(struct answercache *c, size_t max_entries)
{
	map_set_max(&c->nodes, max_entries ? max_entries : 1, on_evict, c);
}

size_t
answercache_count(const struct answercache *c, enum answercache_slot slot)
{
	return c->count[slot];
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
	map_clear(&c->nodes, on_clear, c);
	free(c);
}
