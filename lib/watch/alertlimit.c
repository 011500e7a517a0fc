/* alertlimit - deduplication and the hourly limit of alerts; see
 * alertlimit.h for the contract.
 *
 * A pair's entry says whether it was raised or held, when, and in which
 * hour; its key is kind NUL dest NUL. The entries are chained in buckets
 * and listed in the order they were last touched, so that the ones that
 * no longer hold anything back are at the front: prune() stops at the
 * first entry still in force. */
#include "autoconfig.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util/hash.h"
#include "watch/alertlimit.h"

#define BUCKETS 1024			/* a power of two */
#define KEY_ON_STACK 512

struct entry {
	struct entry *chain;		/* next in the bucket */
	struct entry *older, *newer;	/* the list in order of last_ms */
	uint64_t hash;
	uint64_t last_ms;		/* raised or held then */
	uint64_t hour;			/* held: in which hour (hour_seq) */
	bool raised;			/* false: held over the hourly limit */
	size_t size;			/* of key[]: kind NUL dest NUL */
	char key[];
};

struct alertlimit {
	uint64_t interval_ms;
	unsigned max_per_hour;
	struct hash_key hkey;
	struct entry **buckets;
	struct entry *oldest, *newest;
	size_t nentries;
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

struct alertlimit *
alertlimit_create(uint64_t interval_ms, unsigned max_per_hour)
{
	struct alertlimit *l = calloc(1, sizeof(*l));
	unsigned char seed[16];

	if (!l)
		return NULL;
	if (!(l->buckets = calloc(BUCKETS, sizeof(*l->buckets)))) {
		free(l);
		return NULL;
	}
	/* Destinations are names strangers choose: a keyed table. */
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		memset(seed, 0x5a, sizeof(seed));
	l->hkey = hash_key_from_bytes(seed);
	alertlimit_set(l, interval_ms, max_per_hour);
	return l;
}

void
alertlimit_set(struct alertlimit *l, uint64_t interval_ms, unsigned max_per_hour)
{
	l->interval_ms = interval_ms;
	l->max_per_hour = max_per_hour;
}

/* -- the table -- */

static struct entry *
entry_find(const struct alertlimit *l, uint64_t h, const char *key, size_t size)
{
	for (struct entry *e = l->buckets[h & (BUCKETS - 1)]; e; e = e->chain)
		if (e->hash == h && e->size == size && memcmp(e->key, key, size) == 0)
			return e;
	return NULL;
}

static void
list_unlink(struct alertlimit *l, struct entry *e)
{
	if (e->older)
		e->older->newer = e->newer;
	else
		l->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		l->newest = e->older;
	e->older = e->newer = NULL;
}

static void
list_append(struct alertlimit *l, struct entry *e)
{
	e->older = l->newest;
	e->newer = NULL;
	if (l->newest)
		l->newest->newer = e;
	else
		l->oldest = e;
	l->newest = e;
}

static void
entry_remove(struct alertlimit *l, struct entry *e)
{
	struct entry **pp = &l->buckets[e->hash & (BUCKETS - 1)];

	while (*pp != e)
		pp = &(*pp)->chain;
	*pp = e->chain;
	list_unlink(l, e);
	free(e);
	l->nentries--;
}

/* Whether the entry still holds anything back. */
static bool
entry_live(const struct alertlimit *l, const struct entry *e, uint64_t now)
{
	if (e->raised)
		return elapsed(now, e->last_ms) < l->interval_ms;
	return l->hour_open && e->hour == l->hour_seq;
}

/* Forgets, oldest first, what no longer holds anything back; the list is
 * in time order, so this stops at the first entry still in force. */
static void
prune(struct alertlimit *l, uint64_t now)
{
	while (l->oldest && !entry_live(l, l->oldest, now))
		entry_remove(l, l->oldest);
}

/* Records the pair as raised or held now: found or inserted, last in the
 * list. Out of memory, nothing is remembered. */
static void
entry_touch(struct alertlimit *l, struct entry *e, uint64_t h, const char *key, size_t size, bool raised,
    uint64_t now)
{
	if (e) {
		list_unlink(l, e);
	} else {
		prune(l, now);
		if (l->nentries >= ALERTLIMIT_KEYS_MAX)
			entry_remove(l, l->oldest);
		if (!(e = malloc(sizeof(*e) + size)))
			return;
		e->hash = h;
		e->size = size;
		memcpy(e->key, key, size);
		e->chain = l->buckets[h & (BUCKETS - 1)];
		l->buckets[h & (BUCKETS - 1)] = e;
		l->nentries++;
	}
	e->raised = raised;
	e->last_ms = now;
	e->hour = l->hour_seq;
	list_append(l, e);
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
	uint64_t h = 0;

	close_hour(l, now_ms);
	/* Without room for the key, the pair is only not remembered. */
	if (size > sizeof(stack))
		key = malloc(size);
	if (key) {
		memcpy(key, kind, kl);
		memcpy(key + kl, dest, size - kl);
		h = hash_siphash13(l->hkey, key, size);
		e = entry_find(l, h, key, size);
	}
	if (e && e->raised && elapsed(now_ms, e->last_ms) < l->interval_ms) {
		v = ALERTLIMIT_REPEAT;
	} else if (l->max_per_hour && l->hour_open && l->hour_raised >= l->max_per_hour) {
		v = ALERTLIMIT_OVER_HOUR;
		/* Counted once for the report however often it comes. */
		if (!(e && !e->raised && e->hour == l->hour_seq)) {
			l->hour_held++;
			if (key)
				entry_touch(l, e, h, key, size, false, now_ms);
		}
	} else {
		v = ALERTLIMIT_RAISE;
		if (!l->hour_open) {
			l->hour_open = true;
			l->hour_start_ms = now_ms;
		}
		l->hour_raised++;
		if (key)
			entry_touch(l, e, h, key, size, true, now_ms);
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
	while (l->oldest)
		entry_remove(l, l->oldest);
	free(l->buckets);
	free(l);
}
