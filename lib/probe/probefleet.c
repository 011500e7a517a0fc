/* probefleet - probes shared by a fleet; see probefleet.h. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/list.h"
#include "util/map.h"
#include "probe/probefleet.h"
#include "probe/probeshare.h"

enum stage {
	ASKING,			/* fleet_get: a shared result? */
	CLAIMING,		/* fleet_claim: the lease? */
	WAITING,		/* another relay holds the lease */
	PROBING,		/* in the pool */
};

/* A target in hand, with the destinations that asked for it. */
struct target {
	struct map_node node;		/* by name */
	struct list_node wait_link;	/* WAITING: on pf->waiting, soonest first */
	struct probefleet *pf;
	enum stage stage;
	struct fleet_op *op;		/* ASKING, CLAIMING */
	unsigned waits;
	uint64_t wake_ms;		/* WAITING */
	struct probe_target t;		/* its TLSA records in tlsa */
	struct probe_tlsa *tlsa;
	char **dests;			/* none once PROBING: the pool has them */
	size_t ndests;
	char name[PROBESHARE_NAME_MAX];
};

struct probefleet {
	struct probefleet_ops ops;
	struct probefleet_settings s;
	struct fleet *fleet;		/* NULL: alone */
	struct probefleet_client client;
	struct map targets;		/* of struct target */
	struct list waiting;		/* of struct target, WAITING */
	struct probefleet_stats stats;
	struct probe_result shared;	/* the latest one decoded */
};

struct probefleet *
probefleet_create(const struct probefleet_ops *ops, const struct probefleet_settings *s)
{
	struct probefleet *pf = calloc(1, sizeof(*pf));
	unsigned char seed[16];

	if (!pf)
		return NULL;
	pf->ops = *ops;
	pf->s = *s;
	/* Names are MX hosts, which strangers choose. */
	hash_random_seed(seed);
	map_init(&pf->targets, seed);
	return pf;
}

void
probefleet_set(struct probefleet *pf, const struct probefleet_settings *s)
{
	pf->s = *s;
}

unsigned
probefleet_lease_s(unsigned probe_timeout_ms)
{
	uint64_t s = ((uint64_t)PROBE_STAGE_DONE * probe_timeout_ms + 999) / 1000;

	return s < PROBEFLEET_LEASE_MIN_S ? PROBEFLEET_LEASE_MIN_S : s > 86400 ? 86400 : (unsigned)s;
}

static int64_t
interval_s(const struct probefleet *pf)
{
	return (int64_t)((pf->s.interval_ms + 999) / 1000);
}

void
probefleet_stats(const struct probefleet *pf, struct probefleet_stats *out)
{
	*out = pf->stats;
	out->pending = map_count(&pf->targets);
}

/* ---- targets in hand ---------------------------------------------------- */

/* A copy of t that owns its TLSA records: the scheduler's plan goes away
 * when it has submitted. */
static int
copy_target(struct target *e, const struct probe_target *t)
{
	e->t = *t;
	e->t.tlsa = NULL;
	if (!t->ntlsa)
		return 0;
	if (!(e->tlsa = calloc(t->ntlsa, sizeof(*e->tlsa))))
		return -1;
	for (size_t i = 0; i < t->ntlsa; i++) {
		e->tlsa[i] = t->tlsa[i];
		if (!(e->tlsa[i].data = malloc(t->tlsa[i].len ? t->tlsa[i].len : 1))) {
			e->t.ntlsa = i;
			return -1;
		}
		memcpy(e->tlsa[i].data, t->tlsa[i].data, t->tlsa[i].len);
	}
	e->t.tlsa = e->tlsa;
	return 0;
}

static void
free_dests(struct target *e)
{
	for (size_t i = 0; i < e->ndests; i++)
		free(e->dests[i]);
	free(e->dests);
	e->dests = NULL;
	e->ndests = 0;
}

static void
free_target(struct target *e)
{
	for (size_t i = 0; e->tlsa && i < e->t.ntlsa; i++)
		free(e->tlsa[i].data);
	free(e->tlsa);
	free_dests(e);
	free(e);
}

/* 0, or -1 when out of memory. */
static int
add_dest(struct target *e, const char *dest)
{
	for (size_t i = 0; i < e->ndests; i++)
		if (strcmp(e->dests[i], dest) == 0)
			return 0;
	char **more = realloc(e->dests, (e->ndests + 1) * sizeof(*more));
	if (!more)
		return -1;
	e->dests = more;
	if (!(e->dests[e->ndests] = strdup(dest)))
		return -1;
	e->ndests++;
	return 0;
}

static struct target *
find(const struct probefleet *pf, const char *name)
{
	return MAP_ENTRY(map_find_str(&pf->targets, name), struct target, node);
}

/* Takes e out of hand, its fleet operation cancelled; the caller frees
 * it, or uses it first. */
static void
unlink_target(struct probefleet *pf, struct target *e)
{
	if (e->op) {
		pf->client.cancel(e->op);
		e->op = NULL;
	}
	if (e->stage == WAITING)
		list_remove(&pf->waiting, &e->wait_link);
	map_remove(&pf->targets, &e->node);
}

/* ---- the steps ---------------------------------------------------------- */

/* To the pool; the target stays in hand while it is probed, so that
 * destinations asking meanwhile join the probe rather than the fleet. */
static void
probe_here(struct target *e)
{
	struct probefleet *pf = e->pf;
	bool taken = false;

	e->stage = PROBING;
	for (size_t i = 0; i < e->ndests; i++)
		taken |= pf->ops.submit(pf->ops.arg, e->dests[i], &e->t);
	free_dests(e);
	if (!taken) {
		/* The pool is full: no result will come for it. */
		map_remove(&pf->targets, &e->node);
		free_target(e);
	}
}

static void
probe_alone(struct target *e)
{
	e->pf->stats.fleet_alone++;
	probe_here(e);
}

/* The timer for the soonest wait. The list is short (max_pending at
 * most) and in the order the waits began, which is their order but
 * after a reload that shortened the lease. */
static void
arm(struct probefleet *pf)
{
	uint64_t soonest = UINT64_MAX;

	for (struct list_node *l = pf->waiting.first; l; l = l->next) {
		const struct target *e = LIST_ENTRY(l, struct target, wait_link);
		if (e->wake_ms < soonest)
			soonest = e->wake_ms;
	}
	if (soonest == UINT64_MAX)
		return;
	uint64_t now = pf->ops.now_ms(pf->ops.arg);
	pf->ops.wake_in(pf->ops.arg, soonest > now ? soonest - now : 1);
}

/* Until the lease another relay holds must have run out: it claimed it
 * before now, for lease_s (a setting the fleet's relays share; a longer
 * one costs this relay another wait). */
static void
wait_for_lease(struct target *e)
{
	struct probefleet *pf = e->pf;

	e->stage = WAITING;
	e->wake_ms = pf->ops.now_ms(pf->ops.arg) + (uint64_t)pf->s.lease_s * 1000 + PROBEFLEET_WAIT_MARGIN_MS;
	list_push_back(&pf->waiting, &e->wait_link);
	arm(pf);
}

static void
on_claimed(void *arg, enum fleet_claim claim, const char *holder)
{
	struct target *e = arg;
	struct probefleet *pf = e->pf;

	e->op = NULL;
	switch (claim) {
	case FLEET_CLAIM_OURS:
		pf->stats.lease_taken++;
		probe_here(e);
		return;
	case FLEET_CLAIM_HELD:
		pf->stats.lease_held++;
		if (++e->waits > PROBEFLEET_MAX_WAITS)
			probe_alone(e);
		else
			wait_for_lease(e);
		return;
	case FLEET_CLAIM_ALONE:
		break;
	}
	probe_alone(e);
}

static void
claim(struct target *e)
{
	struct probefleet *pf = e->pf;

	e->stage = CLAIMING;
	e->op = pf->client.claim(pf->fleet, FLEET_PROBE_LEASE, e->name, pf->s.lease_s, on_claimed, e);
	if (!e->op)
		probe_alone(e);
}

/* The shared result, when it is one for this target and recent enough. */
static bool
take_shared(struct target *e, const char *payload, size_t len)
{
	struct probefleet *pf = e->pf;
	struct probe_result *r = &pf->shared;
	int64_t probed, now = pf->ops.unix_s(pf->ops.arg);
	const char *why;

	if (probeshare_decode(payload, len, &e->t, now, r, &probed, &why) < 0) {
		pf->stats.shared_rejected++;
		if (pf->ops.rejected)
			pf->ops.rejected(pf->ops.arg, e->name, why);
		return false;
	}
	if ((now - probed) * 1000 >= (int64_t)pf->s.interval_ms)
		return false;
	pf->stats.shared_hits++;
	unlink_target(pf, e);
	pf->ops.record(pf->ops.arg, (const char *const *)e->dests, e->ndests, &e->t, r, probed);
	free_target(e);
	return true;
}

static void
on_got(void *arg, enum fleet_found found, const char *payload, size_t len, int64_t expires)
{
	struct target *e = arg;

	e->op = NULL;
	if (found == FLEET_FOUND && take_shared(e, payload, len))
		return;
	/* None, too old, refused, or Redis could not say in time: the lease
	 * decides, and where Redis cannot, this relay probes. */
	claim(e);
}

static void
ask(struct target *e)
{
	struct probefleet *pf = e->pf;

	e->stage = ASKING;
	/* A writer's clock a little ahead makes a value live a little
	 * longer: not a reason to refuse it. */
	e->op = pf->client.get(pf->fleet, FLEET_PROBE, e->name, interval_s(pf) + PROBESHARE_CLOCK_SLACK_S, on_got, e);
	if (!e->op)
		probe_alone(e);
}

/* ---- the entry points --------------------------------------------------- */

void
probefleet_submit(struct probefleet *pf, const char *dest, const struct probe_target *t)
{
	char name[PROBESHARE_NAME_MAX];

	if (!pf->fleet || probeshare_name(t, name, sizeof(name)) < 0) {
		pf->ops.submit(pf->ops.arg, dest, t);
		return;
	}
	struct target *e = find(pf, name);
	if (e && e->stage == PROBING) {
		pf->ops.submit(pf->ops.arg, dest, t);	/* joins the probe */
		return;
	}
	if (e) {
		if (add_dest(e, dest) < 0)
			pf->ops.submit(pf->ops.arg, dest, t);
		return;
	}
	if (map_count(&pf->targets) >= pf->s.max_pending) {
		pf->stats.fleet_alone++;
		pf->ops.submit(pf->ops.arg, dest, t);
		return;
	}
	if (!(e = calloc(1, sizeof(*e))) || copy_target(e, t) < 0 || add_dest(e, dest) < 0) {
		if (e)
			free_target(e);
		pf->ops.submit(pf->ops.arg, dest, t);
		return;
	}
	e->pf = pf;
	memcpy(e->name, name, sizeof(name));
	map_put_str(&pf->targets, &e->node, e->name);
	ask(e);
}

static bool
among(const char *const *dests, size_t ndests, const char *dest)
{
	for (size_t i = 0; i < ndests; i++)
		if (strcmp(dests[i], dest) == 0)
			return true;
	return false;
}

void
probefleet_result(struct probefleet *pf, const char *const *dests, size_t ndests, const struct probe_target *t,
    const struct probe_result *r, int64_t unix_s)
{
	char name[PROBESHARE_NAME_MAX];
	struct buf payload;

	if (!pf->fleet || probeshare_name(t, name, sizeof(name)) < 0)
		return;
	buf_init(&payload);
	if (probeshare_encode(t, r, unix_s, &payload) == 0)
		pf->client.put(pf->fleet, FLEET_PROBE, name, unix_s + interval_s(pf), buf_ptr(&payload),
		    buf_size(&payload));
	buf_free(&payload);
	struct target *e = find(pf, name);
	if (!e)
		return;
	/* Probed here (or demanded meanwhile): those still waiting for the
	 * fleet have their answer. */
	unlink_target(pf, e);
	size_t n = 0;
	for (size_t i = 0; i < e->ndests; i++) {
		if (among(dests, ndests, e->dests[i]))
			free(e->dests[i]);
		else
			e->dests[n++] = e->dests[i];
	}
	e->ndests = n;
	if (n)
		pf->ops.record(pf->ops.arg, (const char *const *)e->dests, n, &e->t, r, unix_s);
	free_target(e);
}

void
probefleet_wake(struct probefleet *pf)
{
	uint64_t now = pf->ops.now_ms(pf->ops.arg);
	struct list due = {0};

	/* Taken off first: asking may put a target back to wait. */
	for (struct list_node *l = pf->waiting.first, *next; l; l = next) {
		struct target *e = LIST_ENTRY(l, struct target, wait_link);
		next = l->next;
		if (e->wake_ms <= now) {
			list_remove(&pf->waiting, &e->wait_link);
			e->stage = ASKING;
			list_push_back(&due, &e->wait_link);
		}
	}
	for (struct list_node *l; (l = list_pop_front(&due));)
		ask(LIST_ENTRY(l, struct target, wait_link));
	arm(pf);
}

/* ---- the fleet ---------------------------------------------------------- */

static void
drop_all(struct probefleet *pf, bool probe)
{
	struct map_node *n;

	while ((n = map_oldest(&pf->targets))) {
		struct target *e = MAP_ENTRY(n, struct target, node);
		bool in_hand = e->stage != PROBING;
		unlink_target(pf, e);
		if (probe && in_hand) {
			/* probe_here() forgets it once in the pool: it is out
			 * of the map already, so it must not try. */
			pf->stats.fleet_alone++;
			for (size_t i = 0; i < e->ndests; i++)
				pf->ops.submit(pf->ops.arg, e->dests[i], &e->t);
		}
		free_target(e);
	}
}

void
probefleet_set_fleet(struct probefleet *pf, struct fleet *f, const struct probefleet_client *client)
{
	if (f == pf->fleet)
		return;
	/* Nothing in hand belongs to the new fleet: what waited goes to the
	 * pool now, as a relay alone would have sent it. */
	drop_all(pf, true);
	pf->fleet = f;
	if (f && client)
		pf->client = *client;
	else
		pf->fleet = NULL;
}

void
probefleet_free(struct probefleet *pf)
{
	if (!pf)
		return;
	drop_all(pf, false);
	map_clear(&pf->targets, NULL, NULL);
	free(pf);
}
