/*
 * strmap - a map from strings to the caller's pointers, for tables whose
 * values live elsewhere (the survey's probed addresses, the domains a
 * survey file already holds, connections per peer): map.h with the key
 * copied into a node of its own, one allocation per key. Keys are hashed
 * with SipHash under a random key, since they come from lists and DNS
 * that strangers write. Where the value is a struct of the caller's, embed
 * a map_node in it instead (map.h) and save that allocation.
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
