/* strmap - strings to pointers, on map.h; see strmap.h. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "util/map.h"
#include "util/strmap.h"

struct strmap {
	struct map map;
};

struct entry {
	struct map_node node;
	void *value;
	char key[];
};

struct strmap *
strmap_create(void)
{
	struct strmap *m = malloc(sizeof(*m));
	unsigned char seed[16];

	if (!m)
		return NULL;
	hash_random_seed(seed);
	map_init(&m->map, seed);
	return m;
}

struct free_values {
	void (*free_value)(void *value);
};

static void
free_entry(void *arg, struct map_node *n)
{
	struct entry *e = MAP_ENTRY(n, struct entry, node);
	const struct free_values *f = arg;

	if (f->free_value)
		f->free_value(e->value);
	free(e);
}

void
strmap_free(struct strmap *m, void (*free_value)(void *value))
{
	struct free_values f = {free_value};

	if (!m)
		return;
	map_clear(&m->map, free_entry, &f);
	free(m);
}

void *
strmap_get(const struct strmap *m, const char *key)
{
	struct map_node *n = map_find_str(&m->map, key);

	return n ? MAP_ENTRY(n, struct entry, node)->value : NULL;
}

int
strmap_put(struct strmap *m, const char *key, void *value)
{
	struct map_node *n = map_find_str(&m->map, key);

	if (n) {
		MAP_ENTRY(n, struct entry, node)->value = value;
		return 0;
	}
	size_t len = strlen(key);
	struct entry *e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return -1;
	memcpy(e->key, key, len + 1);
	e->value = value;
	map_put(&m->map, &e->node, e->key, len);
	return 0;
}

void *
strmap_remove(struct strmap *m, const char *key)
{
	struct map_node *n = map_find_str(&m->map, key);

	if (!n)
		return NULL;
	struct entry *e = MAP_ENTRY(n, struct entry, node);
	void *value = e->value;
	map_remove(&m->map, n);
	free(e);
	return value;
}

size_t
strmap_count(const struct strmap *m)
{
	return map_count(&m->map);
}
