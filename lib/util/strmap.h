/*
 * strmap - a map from strings to the caller's pointers: the survey's probed
 * addresses and the domains a survey file already holds. Keys are hashed
 * with SipHash under a random key (hash.h), since they come from lists and
 * DNS that strangers write.
 *
 * Ownership: the map copies keys; values stay the caller's (strmap_free
 * calls free_value on each, when given).
 */
#ifndef TLSPOLICY_STRMAP_H
#define TLSPOLICY_STRMAP_H

#include <stddef.h>

struct strmap;

struct strmap *strmap_create(void);
void strmap_free(struct strmap *m, void (*free_value)(void *value));
/* The value, or NULL when the key is absent. */
void *strmap_get(const struct strmap *m, const char *key);
/* Stores or replaces (value must not be NULL); 0, or -1 when out of memory. */
int strmap_put(struct strmap *m, const char *key, void *value);
/* Forgets the key; its value, which is the caller's, or NULL when absent. */
void *strmap_remove(struct strmap *m, const char *key);
size_t strmap_count(const struct strmap *m);

#endif
