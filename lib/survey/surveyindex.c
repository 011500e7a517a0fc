/* surveyindex - entry numbers by hash; see surveyindex.h.
 *
 * Linear probing from hash & mask. An entry is never removed, so a probe
 * ends at the first empty slot: there find() gives up, and add() puts the
 * new number. */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>

#include "survey/surveyindex.h"

#define INITIAL_SLOTS 64

int
surveyindex_init(struct surveyindex *ix)
{
	ix->mask = INITIAL_SLOTS - 1;
	ix->count = 0;
	return (ix->slot = calloc(INITIAL_SLOTS, sizeof(*ix->slot))) ? 0 : -1;
}

void
surveyindex_free(struct surveyindex *ix)
{
	free(ix->slot);
	ix->slot = NULL;
	ix->mask = ix->count = 0;
}

int
surveyindex_find(const struct surveyindex *ix, uint32_t hash, surveyindex_eq_fn *eq, const void *ctx,
    const void *key, uint32_t *id)
{
	for (size_t i = hash & ix->mask;; i = (i + 1) & ix->mask) {
		uint64_t v = ix->slot[i];
		if (!v)
			return 0;
		if ((uint32_t)(v >> 32) == hash && eq(ctx, (uint32_t)v - 1, key)) {
			*id = (uint32_t)v - 1;
			return 1;
		}
	}
}

static void
put(uint64_t *slot, size_t mask, uint64_t v)
{
	size_t i = (uint32_t)(v >> 32) & mask;

	while (slot[i])
		i = (i + 1) & mask;
	slot[i] = v;
}

/* Room for one more entry at most half full: 0, or -1 when out of memory. */
static int
room(struct surveyindex *ix)
{
	size_t size = ix->mask + 1;

	if ((ix->count + 1) * 2 <= size)
		return 0;
	if (size > SIZE_MAX / 2 / sizeof(*ix->slot))
		return -1;
	uint64_t *slot = calloc(size * 2, sizeof(*slot));
	if (!slot)
		return -1;
	for (size_t i = 0; i < size; i++)
		if (ix->slot[i])
			put(slot, size * 2 - 1, ix->slot[i]);
	free(ix->slot);
	ix->slot = slot;
	ix->mask = size * 2 - 1;
	return 0;
}

int
surveyindex_add(struct surveyindex *ix, uint32_t hash, uint32_t id)
{
	if (id >= UINT32_MAX || room(ix) < 0)
		return -1;
	put(ix->slot, ix->mask, (uint64_t)hash << 32 | (uint64_t)(id + 1));
	ix->count++;
	return 0;
}
