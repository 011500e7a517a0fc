/*
 * list - an intrusive doubly linked list. The links live in the element
 * (a struct list_node member), so linking allocates nothing, cannot fail,
 * and unlinking an element the caller holds is O(1); LIST_ENTRY() turns a
 * node back into its element.
 *
 * Contract:
 * - A zeroed struct list is empty: lists inside calloc'ed structs need no
 *   set-up. first, last and count may be read; only these functions write.
 * - A node is on at most one list at a time. An element on two lists at
 *   once (a job in a queue and on a worker) has a node for each.
 * - The list owns nothing: an element is unlinked by its owner before it
 *   is freed. To free while walking, take n->next before freeing n.
 * - Not thread-safe: a list that threads share is used under their lock.
 */
#ifndef TLSPOLICY_LIST_H
#define TLSPOLICY_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct list_node {
	struct list_node *prev, *next;	/* NULL at the ends */
};

struct list {
	struct list_node *first, *last;
	size_t count;
};

/* The element that holds node ptr as its member `member`; NULL for NULL,
 * so that list_pop_front()'s and a walk's end need no test of their own. */
#define LIST_ENTRY(ptr, type, member) ((type *)list_entry_at((ptr), offsetof(type, member)))

static inline void *
list_entry_at(const struct list_node *n, size_t offset)
{
	return n ? (void *)((uintptr_t)n - offset) : NULL;
}

static inline bool
list_empty(const struct list *l)
{
	return l->first == NULL;
}

static inline void
list_push_back(struct list *l, struct list_node *n)
{
	n->next = NULL;
	n->prev = l->last;
	if (l->last)
		l->last->next = n;
	else
		l->first = n;
	l->last = n;
	l->count++;
}

static inline void
list_push_front(struct list *l, struct list_node *n)
{
	n->prev = NULL;
	n->next = l->first;
	if (l->first)
		l->first->prev = n;
	else
		l->last = n;
	l->first = n;
	l->count++;
}

/* n must be on l. */
static inline void
list_remove(struct list *l, struct list_node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		l->first = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		l->last = n->prev;
	n->prev = n->next = NULL;
	l->count--;
}

/* The first node, unlinked; NULL when the list is empty. */
static inline struct list_node *
list_pop_front(struct list *l)
{
	struct list_node *n = l->first;

	if (n)
		list_remove(l, n);
	return n;
}

/* Moves n, which is on l, to the end: an LRU list's "used now". */
static inline void
list_move_back(struct list *l, struct list_node *n)
{
	if (l->last == n)
		return;
	list_remove(l, n);
	list_push_back(l, n);
}

/* Moves every node of from to the end of to, in order; from is left empty. */
static inline void
list_splice_back(struct list *to, struct list *from)
{
	if (!from->first)
		return;
	if (to->last) {
		to->last->next = from->first;
		from->first->prev = to->last;
	} else {
		to->first = from->first;
	}
	to->last = from->last;
	to->count += from->count;
	from->first = from->last = NULL;
	from->count = 0;
}

#endif
