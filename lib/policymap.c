/* policymap - cache and shared resolutions; see policymap.h. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "hash.h"
#include "policymap.h"
#include "resolve.h"

#define IN_FLIGHT_BUCKETS 1024
#define KEY_MAX (NEXTHOP_NAME_MAX + 16)

struct policymap_waiter {
	struct in_flight *owner;
	struct policymap_waiter *prev, *next;
	policymap_callback *cb;
	void *arg;
	bool shared;
};

struct in_flight {
	struct policymap *pm;
	struct in_flight *chain;
	uint64_t hash;
	struct resolve *resolve;
	uint64_t started_ms;
	struct policymap_waiter *waiters;
	char key[KEY_MAX];
};

struct policymap {
	struct dns *dns;
	struct config *cfg;
	struct cache *cache;
	struct hash_key hkey;
	policymap_clock *clock;
	void *clock_arg;
	struct in_flight *buckets[IN_FLIGHT_BUCKETS];
	struct policymap_stats stats;
	char no_dns_reason[256];	/* the reason of the last answer without DNS */
	policymap_observer *observer;
	void *observer_arg;
};

struct policymap *
policymap_create(struct dns *dns, struct config *cfg, const unsigned char seed[16],
    policymap_clock *clock, void *clock_arg)
{
	struct policymap *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return NULL;
	if (!(pm->cache = cache_create(cfg->cache_max_entries, seed))) {
		free(pm);
		return NULL;
	}
	pm->dns = dns;
	pm->cfg = config_ref(cfg);
	/* A different key from the cache's: the seed is 16 bytes, reused with
	 * its halves swapped; a collision in one table then says nothing
	 * about the other. */
	unsigned char swapped[16];
	memcpy(swapped, seed + 8, 8);
	memcpy(swapped + 8, seed, 8);
	pm->hkey = hash_key_from_bytes(swapped);
	pm->clock = clock;
	pm->clock_arg = clock_arg;
	return pm;
}

void
policymap_set_config(struct policymap *pm, struct config *cfg)
{
	config_ref(cfg);
	config_unref(pm->cfg);
	pm->cfg = cfg;
	cache_set_max(pm->cache, cfg->cache_max_entries);
}

static struct in_flight **
find_in_flight(struct policymap *pm, const char *key, uint64_t hash)
{
	struct in_flight **slot = &pm->buckets[hash % IN_FLIGHT_BUCKETS];

	while (*slot && ((*slot)->hash != hash || strcmp((*slot)->key, key) != 0))
		slot = &(*slot)->chain;
	return slot;
}

static void
unlink_in_flight(struct in_flight *f)
{
	struct in_flight **slot = find_in_flight(f->pm, f->key, f->hash);

	if (*slot == f)
		*slot = f->chain;
	f->pm->stats.in_flight--;
}

static uint64_t
clamp(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static void
on_resolved(void *arg, const struct resolve_result *res)
{
	struct in_flight *f = arg;
	struct policymap *pm = f->pm;
	const struct config *cfg = pm->cfg;
	uint64_t now = pm->clock(pm->clock_arg);
	uint64_t ttl_ms = res->answer.result == POLICY_TEMP ? cfg->cache_temp_ttl_ms
	    : clamp((uint64_t)res->ttl * 1000, cfg->cache_min_ttl_ms, cfg->cache_max_ttl_ms);

	f->resolve = NULL;	/* it frees itself after this callback */
	unlink_in_flight(f);
	if (pm->observer)
		pm->observer(pm->observer_arg, res, now - f->started_ms);
	if (ttl_ms > 0)
		cache_put(pm->cache, f->key, res->answer, res->reason, now, now + ttl_ms);

	struct policymap_answer a = {
		.answer = res->answer,
		.reason = res->reason,
		.ttl_s = (uint32_t)(ttl_ms / 1000),
	};
	/* Each callback may start or cancel other lookups, so take the
	 * waiters off the list one at a time. */
	while (f->waiters) {
		struct policymap_waiter *w = f->waiters;
		f->waiters = w->next;
		if (f->waiters)
			f->waiters->prev = NULL;
		a.shared = w->shared;
		w->cb(w->arg, &a);
		free(w);
	}
	free(f);
}

static int
add_waiter(struct in_flight *f, policymap_callback *cb, void *arg, struct policymap_waiter **out)
{
	struct policymap_waiter *w = calloc(1, sizeof(*w));

	if (!w)
		return -1;
	w->owner = f;
	w->cb = cb;
	w->arg = arg;
	w->shared = f->waiters != NULL;
	/* Waiters are answered in the order they asked. */
	if (!f->waiters) {
		f->waiters = w;
	} else {
		struct policymap_waiter *last = f->waiters;
		while (last->next)
			last = last->next;
		last->next = w;
		w->prev = last;
	}
	*out = w;
	return POLICYMAP_PENDING;
}

int
policymap_lookup(struct policymap *pm, const struct nexthop *nh, struct policymap_answer *out,
    policymap_callback *cb, void *arg, struct policymap_waiter **waiter)
{
	char key[KEY_MAX];
	uint64_t now = pm->clock(pm->clock_arg);

	memset(out, 0, sizeof(*out));
	if (resolve_without_dns(nh, &out->answer, pm->no_dns_reason, sizeof(pm->no_dns_reason))) {
		out->reason = pm->no_dns_reason;
		out->no_dns = true;
		return POLICYMAP_DONE;
	}
	nexthop_format(nh, key, sizeof(key));
	const struct cache_entry *e = cache_get(pm->cache, key, now);
	if (e) {
		pm->stats.hits++;
		out->answer = e->answer;
		out->reason = e->reason;
		out->cache_hit = true;
		out->ttl_s = (uint32_t)((e->expires_ms - now) / 1000);
		return POLICYMAP_DONE;
	}
	pm->stats.misses++;
	uint64_t hash = hash_siphash13(pm->hkey, key, strlen(key));
	struct in_flight **slot = find_in_flight(pm, key, hash);
	if (*slot) {
		pm->stats.shared++;
		return add_waiter(*slot, cb, arg, waiter);
	}
	struct in_flight *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	f->pm = pm;
	f->hash = hash;
	f->started_ms = now;
	memcpy(f->key, key, sizeof(key));
	if (add_waiter(f, cb, arg, waiter) < 0) {
		free(f);
		return -1;
	}
	if (!(f->resolve = resolve_start(pm->dns, nh, on_resolved, f))) {
		free(f->waiters);
		free(f);
		*waiter = NULL;
		return -1;
	}
	*slot = f;
	pm->stats.in_flight++;
	pm->stats.resolutions++;
	return POLICYMAP_PENDING;
}

void
policymap_waiter_cancel(struct policymap_waiter *w)
{
	struct in_flight *f = w->owner;

	if (w->prev)
		w->prev->next = w->next;
	else
		f->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	free(w);
}

void
policymap_set_observer(struct policymap *pm, policymap_observer *observer, void *arg)
{
	pm->observer = observer;
	pm->observer_arg = arg;
}

uint64_t
policymap_last_asked(const struct policymap *pm, const char *key)
{
	const struct cache_entry *e = cache_peek(pm->cache, key);

	return e ? e->used_ms : 0;
}

int
policymap_purge(struct policymap *pm, const struct nexthop *nh)
{
	char key[KEY_MAX];

	nexthop_format(nh, key, sizeof(key));
	return cache_remove(pm->cache, key);
}

void
policymap_stats(const struct policymap *pm, struct policymap_stats *out)
{
	*out = pm->stats;
	out->entries = cache_count(pm->cache);
}

void
policymap_free(struct policymap *pm)
{
	if (!pm)
		return;
	for (size_t i = 0; i < IN_FLIGHT_BUCKETS; i++) {
		while (pm->buckets[i]) {
			struct in_flight *f = pm->buckets[i];
			pm->buckets[i] = f->chain;
			resolve_cancel(f->resolve);
			while (f->waiters) {
				struct policymap_waiter *w = f->waiters;
				f->waiters = w->next;
				free(w);
			}
			free(f);
		}
	}
	cache_free(pm->cache);
	config_unref(pm->cfg);
	free(pm);
}
