/* strmap - strings to pointers; see strmap.h. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util/hash.h"
#include "util/strmap.h"

struct node {
	struct node *chain;
	void *value;
	uint64_t hash;
	char key[];
};

struct strmap {
	struct node **buckets;
	size_t nbuckets;	/* a power of two */
	size_t count;
	struct hash_key hkey;
};

struct strmap *
strmap_create(void)
{
	struct strmap *m = calloc(1, sizeof(*m));
	unsigned char seed[16] = {0};

	if (!m)
		return NULL;
	m->nbuckets = 64;
	if (!(m->buckets = calloc(m->nbuckets, sizeof(*m->buckets)))) {
		free(m);
		return NULL;
	}
	/* Without randomness the map still works, only predictably. */
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		memset(seed, 0x5a, sizeof(seed));
	m->hkey = hash_key_from_bytes(seed);
	return m;
}

void
strmap_free(struct strmap *m, void (*free_value)(void *value))
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nbuckets; i++) {
		for (struct node *n = m->buckets[i], *next; n; n = next) {
			next = n->chain;
			if (free_value)
				free_value(n->value);
			free(n);
		}
	}
	free(m->buckets);
	free(m);
}

static struct node **
slot_of(const struct strmap *m, const char *key, uint64_t hash)
{
	struct node **slot = &m->buckets[hash & (m->nbuckets - 1)];

	while (*slot && ((*slot)->hash != hash || strcmp((*slot)->key, key) != 0))
		slot = &(*slot)->chain;
	return slot;
}

void *
strmap_get(const struct strmap *m, const char *key)
{
	struct node *n = *slot_of(m, key, hash_siphash13(m->hkey, key, strlen(key)));

	return n ? n->value : NULL;
}

static void
grow(struct strmap *m)
{
	size_t size = m->nbuckets * 2;
	struct node **bigger = calloc(size, sizeof(*bigger));

	if (!bigger)
		return;	/* longer chains, still correct */
	for (size_t i = 0; i < m->nbuckets; i++) {
		for (struct node *n = m->buckets[i], *next; n; n = next) {
			next = n->chain;
			n->chain = bigger[n->hash & (size - 1)];
			bigger[n->hash & (size - 1)] = n;
		}
	}
	free(m->buckets);
	m->buckets = bigger;
	m->nbuckets = size;
}

int
strmap_put(struct strmap *m, const char *key, void *value)
{
	size_t len = strlen(key);
	uint64_t hash = hash_siphash13(m->hkey, key, len);
	struct node **slot = slot_of(m, key, hash);

	if (*slot) {
		(*slot)->value = value;
		return 0;
	}
	struct node *n = malloc(sizeof(*n) + len + 1);
	if (!n)
		return -1;
	memcpy(n->key, key, len + 1);
	n->hash = hash;
	n->value = value;
	n->chain = NULL;
	*slot = n;
	if (++m->count > m->nbuckets)
		grow(m);
	return 0;
}

void *
strmap_remove(struct strmap *m, const char *key)
{
	struct node **slot = slot_of(m, key, hash_siphash13(m->hkey, key, strlen(key)));
	struct node *n = *slot;

	if (!n)
		return NULL;
	void *value = n->value;
	*slot = n->chain;
	free(n);
	m->count--;
	return value;
}

size_t
strmap_count(const struct strmap *m)
{
	return m->count;
}
