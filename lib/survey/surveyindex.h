/*
 * surveyindex - finds entries of a vector by key: an open-addressing
 * index of entry numbers, for the tables of a survey summary (domains,
 * MX host names, providers, (host, address, port) triples).
 *
 * The index holds no keys. The caller hashes a key (with a keyed hash:
 * the names come from strangers) to 32 bits and compares its own entries
 * through eq(); the index keeps, per entry, that hash and the number.
 *
 * Use: surveyindex_init(); surveyindex_find() for a key, and
 * surveyindex_add() for a number when find said there is none;
 * surveyindex_free(). Numbers are below UINT32_MAX.
 *
 * Limits and memory: 8 bytes a slot, kept at most half full, doubled when
 * it would be more. Errors: -1 when out of memory, the index unchanged.
 * No global state.
 */
#ifndef TLSPOLICY_SURVEYINDEX_H
#define TLSPOLICY_SURVEYINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether the caller's entry number id has the key. */
typedef bool surveyindex_eq_fn(const void *ctx, uint32_t id, const void *key);

struct surveyindex {
	uint64_t *slot;			/* the hash << 32 | number + 1; 0 empty */
	size_t mask;			/* slots - 1, slots a power of two */
	size_t count;
};

int surveyindex_init(struct surveyindex *ix);
void surveyindex_free(struct surveyindex *ix);

/* 1 with the number in *id when an entry has the key, else 0. */
int surveyindex_find(const struct surveyindex *ix, uint32_t hash, surveyindex_eq_fn *eq, const void *ctx,
    const void *key, uint32_t *id);
/* Adds the number id under hash; no entry with an equal key is there. */
int surveyindex_add(struct surveyindex *ix, uint32_t hash, uint32_t id);

#endif
