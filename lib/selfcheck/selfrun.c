/*
 * selfrun - the checks of a domain run on an event loop (selfrun.h).
 *
 * The prober reports a probe to every destination it was submitted for;
 * each check submits under a tag of its own ("selfcheck#N"), so that a
 * result finds its check even when two domains share an MX host and one
 * probe serves both.
 */
#include "autoconfig.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/list.h"
#include "util/netaddr.h"
#include "postfix/nexthop.h"
#include "dns/resolve.h"
#include "probe/probe.h"
#include "probe/probeplan.h"
#include "probe/prober.h"
#include "selfcheck/checklist.h"
#include "selfcheck/selfcheck.h"
#include "selfcheck/selfrun.h"

/* A few checks at a time, each with a handful of addresses: enough to
 * probe a domain's addresses at once, not enough to look like a scan. */
static const struct prober_settings probe_limits = {
	.workers = 1,
	.concurrency = 8,
	.queue_max = 512,
	.rate = 20,
	.host_interval_ms = 0,
};

enum slot_state { SLOT_WAITING, SLOT_DONE, SLOT_NOT_PROBED };

struct slot {
	enum slot_state state;
	const char *not_probed;		/* static */
	struct probe_result result;	/* SLOT_DONE: a copy of its own */
};

struct check {
	struct list_node node;
	struct selfrun *sr;
	char tag[32];			/* the prober's destination */
	char *domain;
	struct nexthop nh;
	struct resolve *resolving;
	struct resolve_result *res;
	struct probeplan plan;
	struct slot *slots;		/* one per plan item */
	size_t waiting;
	bool out_of_memory;
	selfrun_callback *cb;
	void *arg;
};

struct selfrun {
	struct event_base *base;
	struct dns *dns;
	struct prober *prober;
	struct selfrun_settings s;
	struct netaddr *own;		/* the copy s.plan.own points to */
	unsigned next_id;
	struct list checks;
};

static void
check_free(struct check *c)
{
	if (c->resolving)
		resolve_cancel(c->resolving);
	for (size_t i = 0; c->slots && i < c->plan.n; i++)
		if (c->slots[i].state == SLOT_DONE)
			probe_result_release(&c->slots[i].result);
	free(c->slots);
	probeplan_free(&c->plan);
	resolve_result_free(c->res);
	free(c->domain);
	free(c);
}

/* Everything is in: check, call back, forget. */
static void
finish(struct check *c)
{
	struct selfrun *sr = c->sr;
	struct checklist list;
	struct selfcheck_probe *probes = NULL;

	list_remove(&sr->checks, &c->node);
	if (checklist_init(&list, c->domain) < 0) {
		/* Not even the list: the caller still hears of the check. */
		char why[] = "out of memory";
		struct checklist bare = {.domain = c->domain, .unchecked = why};
		c->cb(c->arg, &bare);
		check_free(c);
		return;
	}
	if (!c->out_of_memory && c->plan.n && !(probes = calloc(c->plan.n, sizeof(*probes))))
		c->out_of_memory = true;
	if (c->out_of_memory || !c->res) {
		checklist_set_unchecked(&list, "out of memory");
	} else {
		for (size_t i = 0; i < c->plan.n; i++) {
			probes[i].target = &c->plan.items[i].target;
			if (c->slots[i].state == SLOT_DONE)
				probes[i].result = &c->slots[i].result;
			else
				probes[i].not_probed = c->slots[i].not_probed;
		}
		struct selfcheck_input in = {c->res, probes, c->plan.n, (int64_t)time(NULL), sr->s.days};
		if (selfcheck_run(&in, &list) < 0)
			checklist_set_unchecked(&list, "out of memory");
	}
	free(probes);
	c->cb(c->arg, &list);
	checklist_free(&list);
	check_free(c);
}

static struct check *
find_check(struct selfrun *sr, const char *tag)
{
	for (struct list_node *n = sr->checks.first; n; n = n->next) {
		struct check *c = LIST_ENTRY(n, struct check, node);
		if (strcmp(c->tag, tag) == 0)
			return c;
	}
	return NULL;
}

static bool
same_target(const struct probe_target *a, const struct probe_target *b)
{
	return a->port == b->port && strcmp(a->host, b->host) == 0 && netaddr_equal(&a->address, &b->address);
}

static void
on_probe(void *arg, const char *const *dests, size_t ndests, const struct probe_target *t,
    const struct probe_result *r)
{
	struct selfrun *sr = arg;

	for (size_t d = 0; d < ndests; d++) {
		struct check *c = find_check(sr, dests[d]);
		if (!c)
			continue;
		for (size_t i = 0; i < c->plan.n; i++) {
			struct slot *s = &c->slots[i];
			if (s->state != SLOT_WAITING || !same_target(&c->plan.items[i].target, t))
				continue;
			if (probe_result_copy(&s->result, r) < 0) {
				s->state = SLOT_NOT_PROBED;
				s->not_probed = "out of memory";
			} else {
				s->state = SLOT_DONE;
			}
			c->waiting--;
		}
		if (c->waiting == 0)
			finish(c);
	}
}

/* Why the plan refused an address, in the words selfcheck prints. */
static const char *
refusal(const struct probeplan_item *it)
{
	return strcmp(it->refused, PROBEPLAN_THIS_HOST) == 0 ?
	    "an address of this host (probe_allow_private = no)" :
	    "a special-purpose address (probe_allow_private = no)";
}

static void
resolved(void *arg, const struct resolve_result *res)
{
	struct check *c = arg;
	struct selfrun *sr = c->sr;

	c->resolving = NULL;
	if (!(c->res = resolve_result_dup(res)) || probeplan_build(res, &sr->s.plan, &c->plan) < 0 ||
	    (c->plan.n && !(c->slots = calloc(c->plan.n, sizeof(*c->slots))))) {
		c->out_of_memory = true;
		finish(c);
		return;
	}
	for (size_t i = 0; i < c->plan.n; i++) {
		const struct probeplan_item *it = &c->plan.items[i];
		struct slot *s = &c->slots[i];
		if (it->refused) {
			s->state = SLOT_NOT_PROBED;
			s->not_probed = refusal(it);
		} else if (prober_submit(sr->prober, c->tag, &it->target) == PROBER_FULL) {
			s->state = SLOT_NOT_PROBED;
			s->not_probed = "too many probes waiting (try fewer domains at once)";
		} else {
			s->state = SLOT_WAITING;
			c->waiting++;
		}
	}
	if (c->waiting == 0)
		finish(c);
}

struct selfrun *
selfrun_create(struct event_base *base, struct dns *dns, const struct probe_env *env,
    const struct selfrun_settings *s, char *err, size_t errlen)
{
	struct selfrun *sr = calloc(1, sizeof(*sr));

	if (!sr) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sr->base = base;
	sr->dns = dns;
	if (selfrun_set(sr, s) < 0) {
		snprintf(err, errlen, "out of memory");
		free(sr);
		return NULL;
	}
	if (!(sr->prober = prober_create(base, env, &probe_limits, on_probe, sr, err, errlen))) {
		free(sr->own);
		free(sr);
		return NULL;
	}
	return sr;
}

int
selfrun_set(struct selfrun *sr, const struct selfrun_settings *s)
{
	struct netaddr *own = NULL;

	if (s->plan.nown) {
		if (!(own = calloc(s->plan.nown, sizeof(*own))))
			return -1;
		memcpy(own, s->plan.own, s->plan.nown * sizeof(*own));
	}
	free(sr->own);
	sr->own = own;
	sr->s = *s;
	sr->s.plan.address_limit = 0;
	sr->s.plan.own = own;
	return 0;
}

void
selfrun_free(struct selfrun *sr)
{
	struct list_node *n;

	if (!sr)
		return;
	/* First the prober, so that no result comes for a check freed. */
	prober_free(sr->prober);
	while ((n = list_pop_front(&sr->checks)))
		check_free(LIST_ENTRY(n, struct check, node));
	free(sr->own);
	free(sr);
}

int
selfrun_check(struct selfrun *sr, const char *domain, selfrun_callback *cb, void *arg, char *err, size_t errlen)
{
	struct check *c;
	const char *why;

	if (!(c = calloc(1, sizeof(*c))) || !(c->domain = strdup(domain))) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (nexthop_parse(domain, strlen(domain), &c->nh, &why) == 0)
		why = c->nh.kind == NEXTHOP_DOMAIN ? NULL : "not a domain (name the domain, without brackets)";
	if (why) {
		snprintf(err, errlen, "'%s': %s", domain, why);
		check_free(c);
		return -1;
	}
	c->sr = sr;
	c->cb = cb;
	c->arg = arg;
	snprintf(c->tag, sizeof(c->tag), "selfcheck#%u", ++sr->next_id);
	list_push_back(&sr->checks, &c->node);
	if (!(c->resolving = resolve_start(sr->dns, &c->nh, resolved, c))) {
		list_remove(&sr->checks, &c->node);
		check_free(c);
		snprintf(err, errlen, "cannot start the lookups of %s (out of memory)", domain);
		return -1;
	}
	return 0;
}

size_t
selfrun_pending(const struct selfrun *sr)
{
	return sr->checks.count;
}
