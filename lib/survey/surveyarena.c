/* surveyarena - memory freed all at once; see surveyarena.h. */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "survey/surveyarena.h"

struct surveyarena_chunk {
	struct surveyarena_chunk *next;
	size_t size, used;
	unsigned char data[];
};

void
surveyarena_init(struct surveyarena *a)
{
	a->chunks = NULL;
}

void
surveyarena_free(struct surveyarena *a)
{
	while (a->chunks) {
		struct surveyarena_chunk *next = a->chunks->next;
		free(a->chunks);
		a->chunks = next;
	}
}

void *
surveyarena_alloc(struct surveyarena *a, size_t n)
{
	struct surveyarena_chunk *c = a->chunks;

	if (n > SIZE_MAX - sizeof(*c) - 7)
		return NULL;
	n = (n + 7) & ~(size_t)7;
	if (!c || c->size - c->used < n) {
		size_t size = n > SURVEYARENA_CHUNK / 4 ? n : SURVEYARENA_CHUNK;
		if (!(c = malloc(sizeof(*c) + size)))
			return NULL;
		c->size = size;
		c->used = 0;
		if (size != SURVEYARENA_CHUNK && a->chunks) {
			/* A big one is used up at once: keep filling the current one. */
			c->next = a->chunks->next;
			a->chunks->next = c;
		} else {
			c->next = a->chunks;
			a->chunks = c;
		}
	}
	void *p = c->data + c->used;
	c->used += n;
	return p;
}

const char *
surveyarena_strdup(struct surveyarena *a, const char *str)
{
	size_t n = strlen(str) + 1;
	char *p = surveyarena_alloc(a, n);

	if (p)
		memcpy(p, str, n);
	return p;
}
