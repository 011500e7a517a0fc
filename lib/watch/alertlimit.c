/* alertlimit - deduplication and the hourly limit of alerts; see
 * alertlimit.h for the contract.
 *
 * A pair's entry says whether it was raised or held, when, and in which
 * hour; its key is kind NUL dest NUL. The entries live in a map (map.h)
 * bounded at ALERTLIMIT_KEYS_MAX, whose order is the order they were last
 * touched, so that the ones that no longer hold anything back are the
 * oldest: prune() stops at the first entry still in force, and the bound
 * pushes out the pair touched longest ago. */
#include "autoconfig.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/map.h"
#include "watch/alertlimit.h"

#define KEY_ON_STACK 512

struct entry {
	struct map_node node;		/* in alertlimit.pairs, under key */
	uint64_t last_ms;		/* raised or held then */
	uint64_t hour;			/* held: in which hour (hour_seq) */
	bool raised;			/* false: held over the hourly limit */
	char key[];			/* kind NUL dest NUL */
};

struct alertlimit {
	uint64_t interval_ms;
	unsigned max_per_hour;
	/* Keyed under a random seed: destinations are names strangers
	 * choose. */
	struct map pairs;
	bool hour_open;
	uint64_t hour_start_ms, hour_seq;
	unsigned hour_raised;
	uint64_t hour_held;		/* distinct pairs held in the hour under way */
	uint64_t closed_held;		/* held in the hour closed, not handed out yet */
};

static uint64_t
elapsed(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

static void
free_entry(void *arg, struct map_node *n)
{
	free(MAP_ENTRY(n, struct entry, node));
}

struct alertlimit *
alertlimit_create(uint64_t interval_ms, unsigned max_per_hour)
{
	struct alertlimit *l = calloc(1, sizeof(*l));
	unsigned char seed[16];

	if (!l)
		return NULL;
	hash_random_seed(seed);
	map_init(&l->pairs, seed);
	map_set_max(&l->pairs, ALERTLIMIT_KEYS_MAX, free_entry, NULL);
	alertlimit_set(l, interval_ms, max_per_hour);
	return l;
}

void
alertlimit_set(struct alertlimit *l, uint64_t interval_ms, unsigned max_per_hour)
{
	l->interval_ms = interval_ms;
	l->max_per_hour = max_per_hour;
}

/* -- the pairs -- */

/* Whether the entry still holds anything back. */
static bool
entry_live(const struct alertlimit *l, const struct entry *e, uint64_t now)
{
	if (e->raised)
		return elapsed(now, e->last_ms) < l->interval_ms;
	return l->hour_open && e->hour == l->hour_seq;
}

/* Forgets, oldest first, what no longer holds anything back; the order is
 * time order, so this stops at the first entry still in force. */
static void
prune(struct alertlimit *l, uint64_t now)
{
	struct entry *e;

	while ((e = MAP_ENTRY(map_oldest(&l->pairs), struct entry, node)) && !entry_live(l, e, now)) {
		map_remove(&l->pairs, &e->node);
		free(e);
	}
}

/* Records the pair as raised or held now: found or inserted, the newest.
 * Out of memory, nothing is remembered. */
static void
entry_touch(struct alertlimit *l, struct entry *e, const char *key, size_t size, bool raised, uint64_t now)
{
	if (e) {
		map_touch(&l->pairs, &e->node);
	} else {
		prune(l, now);
		if (!(e = malloc(sizeof(*e) + size)))
			return;
		memcpy(e->key, key, size);
		/* Past ALERTLIMIT_KEYS_MAX the map evicts the oldest. */
		map_put(&l->pairs, &e->node, e->key, size);
	}
	e->raised = raised;
	e->last_ms = now;
	e->hour = l->hour_seq;
}

/* -- the hour -- */

static void
close_hour(struct alertlimit *l, uint64_t now)
{
	if (!l->hour_open || elapsed(now, l->hour_start_ms) < ALERTLIMIT_HOUR_MS)
		return;
	l->closed_held += l->hour_held;
	l->hour_held = 0;
	l->hour_open = false;
	l->hour_raised = 0;
	l->hour_seq++;
}

uint64_t
alertlimit_roll(struct alertlimit *l, uint64_t now_ms)
{
	uint64_t n;

	close_hour(l, now_ms);
	n = l->closed_held;
	l->closed_held = 0;
	return n;
}

uint64_t
alertlimit_flush(struct alertlimit *l)
{
	uint64_t n = l->closed_held + l->hour_held;

	l->closed_held = l->hour_held = 0;
	return n;
}

/* -- the decision -- */

enum alertlimit_verdict
alertlimit_check(struct alertlimit *l, const char *kind, const char *dest, uint64_t now_ms)
{
	char stack[KEY_ON_STACK], *key = stack;
	size_t kl = strlen(kind) + 1, size = kl + strlen(dest) + 1;
	enum alertlimit_verdict v;
	struct entry *e = NULL;

	close_hour(l, now_ms);
	/* Without room for the key, the pair is only not remembered. */
	if (size > sizeof(stack))
		key = malloc(size);
	if (key) {
		memcpy(key, kind, kl);
		memcpy(key + kl, dest, size - kl);
		e = MAP_ENTRY(map_find(&l->pairs, key, size), struct entry, node);
	}
	if (e && e->raised && elapsed(now_ms, e->last_ms) < l->interval_ms) {
		v = ALERTLIMIT_REPEAT;
	} else if (l->max_per_hour && l->hour_open && l->hour_raised >= l->max_per_hour) {
		v = ALERTLIMIT_OVER_HOUR;
		/* Counted once for the report however often it comes. */
		if (!(e && !e->raised && e->hour == l->hour_seq)) {
			l->hour_held++;
			if (key)
				entry_touch(l, e, key, size, false, now_ms);
		}
	} else {
		v = ALERTLIMIT_RAISE;
		if (!l->hour_open) {
			l->hour_open = true;
			l->hour_start_ms = now_ms;
		}
		l->hour_raised++;
		if (key)
			entry_touch(l, e, key, size, true, now_ms);
	}
	if (key != stack)
		free(key);
	return v;
}

void
alertlimit_free(struct alertlimit *l)
{
	if (!l)
		return;
	map_clear(&l->pairs, free_entry, NULL);
	free(l);
}
