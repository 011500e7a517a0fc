/*
 * surveyarena - memory for the many small things of a survey summary that
 * live as long as the summary: names and each domain's lists of numbers.
 * Taken from large chunks, never freed one by one, all freed together.
 *
 * Use: surveyarena_init(); surveyarena_alloc() or surveyarena_strdup() as
 * often as needed; surveyarena_free(). Blocks are aligned to 8 bytes.
 * A request larger than a quarter of SURVEYARENA_CHUNK gets a chunk of its
 * own, so that the current chunk goes on being filled.
 *
 * Errors: NULL when out of memory, the arena unchanged. No global state.
 */
#ifndef TLSPOLICY_SURVEYARENA_H
#define TLSPOLICY_SURVEYARENA_H

#include <stddef.h>

#define SURVEYARENA_CHUNK (256u * 1024u)

struct surveyarena_chunk;

struct surveyarena {
	struct surveyarena_chunk *chunks;	/* the one being filled first */
};

void surveyarena_init(struct surveyarena *a);
void surveyarena_free(struct surveyarena *a);

void *surveyarena_alloc(struct surveyarena *a, size_t n);
const char *surveyarena_strdup(struct surveyarena *a, const char *str);

#endif
