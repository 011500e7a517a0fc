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
#include "sts/stscheck.h"
#include "sts/stsfetch.h"
#include "selfcheck/checklist.h"
#include "selfcheck/selfcheck.h"
#include "selfcheck/selfrun.h"
#include "selfcheck/stsmatch.h"
#include "selfcheck/zonecheck.h"

/* A few checks at a time, each with a handful of addresses: enough to
 * probe a domain's addresses at once, not enough to look like a scan. */
static const struct prober_settings probe_limits = {
	.workers = 1,
	.concurrency = 8,
	.queue_max = 512,
	.rate = 20,
	.host_interval_ms = 0,
};

enum slot_state { SLOT_UNUSED, SLOT_WAITING, SLOT_DONE, SLOT_NOT_PROBED };

/* Each address gets its probe and, where selfcheck_wants_key_types() asks
 * once that is back, one that offers only RSA and one only ECDSA. */
enum { PROBE_DEFAULT, PROBE_RSA, PROBE_ECDSA, PROBES_PER_ADDRESS };

struct slot {
	enum slot_state state;
	const char *not_probed;		/* static */
	struct probe_target target;	/* the plan item's, with its key type */
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
	struct slot *slots;		/* PROBES_PER_ADDRESS per plan item */
	size_t waiting;			/* probes */
	struct stscheck *sts_checking;
	struct stscheck_result *sts;
	struct zonecheck *zone_checking;
	struct checklist list;		/* the DNS checks' findings come first */
	bool out_of_memory;
	selfrun_callback *cb;
	void *arg;
};

struct selfrun {
	struct event_base *base;
	struct dns *dns;
	struct prober *prober;
	struct selfrun_settings s;
	struct netaddr *own;		/* the copy s.plan.own and s.sts.own point to */
	unsigned next_id;
	struct list checks;
};

static void
check_free(struct check *c)
{
	if (c->resolving)
		resolve_cancel(c->resolving);
	if (c->sts_checking)
		stscheck_cancel(c->sts_checking);
	if (c->zone_checking)
		zonecheck_cancel(c->zone_checking);
	checklist_free(&c->list);
	stscheck_result_free(c->sts);
	for (size_t i = 0; c->slots && i < c->plan.n * PROBES_PER_ADDRESS; i++)
		if (c->slots[i].state == SLOT_DONE)
			probe_result_release(&c->slots[i].result);
	free(c->slots);
	probeplan_free(&c->plan);
	resolve_result_free(c->res);
	free(c->domain);
	free(c);
}

/* A slot's result, NULL when it has none. */
static const struct probe_result *
slot_result(const struct slot *s)
{
	return s->state == SLOT_DONE ? &s->result : NULL;
}

/* What the checks see of item i's probes. */
static struct selfcheck_probe
view(const struct check *c, size_t i)
{
	const struct slot *s = &c->slots[i * PROBES_PER_ADDRESS];

	return (struct selfcheck_probe){
		.target = &c->plan.items[i].target,
		.result = slot_result(&s[PROBE_DEFAULT]),
		.not_probed = s[PROBE_DEFAULT].not_probed,
		.rsa = slot_result(&s[PROBE_RSA]),
		.ecdsa = slot_result(&s[PROBE_ECDSA]),
	};
}

/* The checks of selfcheck.h, then the MTA-STS check against the MX hosts
 * and the probes (stsmatch.h). */
static void
run_checks(const struct check *c, struct checklist *list)
{
	struct selfcheck_probe *probes = NULL;
	const char **hosts = NULL;

	if (c->out_of_memory || !c->res || (c->plan.n && !(probes = calloc(c->plan.n, sizeof(*probes)))) ||
	    (c->res->nhosts && !(hosts = calloc(c->res->nhosts, sizeof(*hosts))))) {
		free(probes);
		checklist_set_unchecked(list, "out of memory");
		return;
	}
	for (size_t i = 0; i < c->plan.n; i++)
		probes[i] = view(c, i);
	for (unsigned h = 0; h < c->res->nhosts; h++)
		hosts[h] = c->res->hosts[h].name;
	struct selfcheck_input in = {c->res, probes, c->plan.n, (int64_t)time(NULL), c->sr->s.days};
	if (selfcheck_run(&in, list) < 0 ||
	    (c->sts && !list->unchecked && stsmatch_run(c->sts, hosts, c->res->nhosts, probes, c->plan.n, list) < 0))
		checklist_set_unchecked(list, "out of memory");
	free(hosts);
	free(probes);
}

/* Everything is in: check, call back, forget. */
static void
finish(struct check *c)
{
	list_remove(&c->sr->checks, &c->node);
	run_checks(c, &c->list);
	c->cb(c->arg, &c->list);
	check_free(c);
}

static void
finish_when_done(struct check *c)
{
	if (!c->resolving && !c->sts_checking && !c->zone_checking && c->waiting == 0)
		finish(c);
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

/* Hands slot s's target to the prober: 0, or -1 (said in the slot). */
static int
submit(struct check *c, struct slot *s)
{
	if (prober_submit(c->sr->prober, c->tag, &s->target) == PROBER_FULL) {
		s->state = SLOT_NOT_PROBED;
		s->not_probed = "too many probes waiting (try fewer domains at once)";
		return -1;
	}
	s->state = SLOT_WAITING;
	c->waiting++;
	return 0;
}

/* An address's probe is back: the one-key-type probes, if it calls for
 * them. */
static void
more_probes(struct check *c, size_t i)
{
	struct selfcheck_probe v = view(c, i);
	struct slot *s = &c->slots[i * PROBES_PER_ADDRESS];

	if (!selfcheck_wants_key_types(&v))
		return;
	submit(c, &s[PROBE_RSA]);
	submit(c, &s[PROBE_ECDSA]);
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
		for (size_t k = 0; k < c->plan.n * PROBES_PER_ADDRESS; k++) {
			struct slot *s = &c->slots[k];
			if (s->state != SLOT_WAITING || !probe_target_same(&s->target, t))
				continue;
			c->waiting--;
			if (probe_result_copy(&s->result, r) < 0) {
				s->state = SLOT_NOT_PROBED;
				s->not_probed = "out of memory";
				continue;
			}
			s->state = SLOT_DONE;
			if (k % PROBES_PER_ADDRESS == PROBE_DEFAULT)
				more_probes(c, k / PROBES_PER_ADDRESS);
		}
		finish_when_done(c);
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
zone_checked(void *arg, const struct zonecheck_facts *facts)
{
	struct check *c = arg;

	c->zone_checking = NULL;
	if (zonecheck_findings(facts, (int64_t)time(NULL), c->sr->s.rrsig_days, &c->list) < 0)
		c->out_of_memory = true;
	finish_when_done(c);
}

/* The DNS checks of the domain and its MX hosts (zonecheck.h), beside the
 * probes; none for a domain with no MX host to check. */
static void
start_zone_checks(struct check *c)
{
	struct zonecheck_host hosts[ZONECHECK_MAX_HOSTS];
	size_t n = 0;

	if (c->res->facts.mx != POLICY_MX_HOSTS)
		return;
	for (; n < c->res->nhosts && n < ZONECHECK_MAX_HOSTS; n++)
		hosts[n] = (struct zonecheck_host){c->res->hosts[n].name, c->res->hosts[n].tlsa_name};
	if (n && !(c->zone_checking = zonecheck_start(c->sr->base, c->sr->dns, &c->sr->s.zone, c->res->nexthop.name,
	    hosts, n, zone_checked, c)))
		c->out_of_memory = true;
}

static void
resolved(void *arg, const struct resolve_result *res)
{
	struct check *c = arg;
	struct selfrun *sr = c->sr;

	c->resolving = NULL;
	if (!(c->res = resolve_result_dup(res)) || probeplan_build(res, &sr->s.plan, &c->plan) < 0 ||
	    (c->plan.n && !(c->slots = calloc(c->plan.n * PROBES_PER_ADDRESS, sizeof(*c->slots))))) {
		c->out_of_memory = true;
		finish_when_done(c);
		return;
	}
	for (size_t i = 0; i < c->plan.n; i++) {
		const struct probeplan_item *it = &c->plan.items[i];
		struct slot *s = &c->slots[i * PROBES_PER_ADDRESS];
		for (int k = 0; k < PROBES_PER_ADDRESS; k++) {
			s[k].target = it->target;
			s[k].target.key_type = k == PROBE_RSA ? PROBE_KEY_RSA : k == PROBE_ECDSA ? PROBE_KEY_ECDSA :
			    PROBE_KEY_ANY;
		}
		if (it->refused) {
			s[PROBE_DEFAULT].state = SLOT_NOT_PROBED;
			s[PROBE_DEFAULT].not_probed = refusal(it);
		} else {
			submit(c, &s[PROBE_DEFAULT]);
		}
	}
	start_zone_checks(c);
	finish_when_done(c);
}

static void
sts_checked(void *arg, struct stscheck_result *r)
{
	struct check *c = arg;

	c->sts_checking = NULL;
	c->sts = r;
	finish_when_done(c);
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
	sr->s.sts.own = own;
	sr->s.sts.nown = s->plan.nown;
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
	if (checklist_init(&c->list, domain) < 0) {
		check_free(c);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	c->sr = sr;
	c->cb = cb;
	c->arg = arg;
	snprintf(c->tag, sizeof(c->tag), "selfcheck#%u", ++sr->next_id);
	if (sr->s.check_sts &&
	    !(c->sts_checking = stscheck_start(sr->base, sr->dns, &sr->s.sts, c->nh.name, sts_checked, c, err, errlen))) {
		check_free(c);
		return -1;
	}
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
