/* policymap - cache and shared resolutions; see policymap.h. */
#include "autoconfig.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "util/list.h"
#include "util/map.h"
#include "serve/answercache.h"
#include "rules/exceptions.h"
#include "serve/policymap.h"
#include "dns/resolve.h"
#include "fleet/fleet.h"
#include "serve/snapshot.h"
#include "rules/stsprecedence.h"

#define KEY_MAX (NEXTHOP_NAME_MAX + 16)

struct policymap_waiter {
	struct in_flight *owner;	/* while its resolution runs, else NULL */
	struct list_node link;		/* on owner->waiters, or on pm->held */
	policymap_callback *cb;
	void *arg;
	bool shared;
	/* Held after the resolution, while a first lookup waits for the
	 * domain's MTA-STS policy: the answer it will get, its reason
	 * copied. */
	struct policymap *pm;
	struct sts_waiter *sts_wait;
	struct policymap_answer held;
	char *held_reason;
	struct nexthop nh;
};

/* A resolution under way, shared by every request for its next hop. */
struct in_flight {
	struct policymap *pm;
	struct map_node node;		/* in pm->in_flight, by key */
	struct resolve *resolve;
	uint64_t started_ms;
	bool refresh;			/* started by a hit, to renew a cached answer */
	struct list waiters;		/* in the order they asked */
	struct nexthop nh;
	/* A TEMP answer that waits for the fleet's last secure answer
	 * (ask_fleet_stale): the answer, its copied reason and TTL. */
	struct fleet_op *fleet_op;
	struct list_node fleet_link;	/* in pm->asking_fleet */
	struct policymap_answer pending;
	char *pending_reason;
	uint64_t pending_ttl_ms;
	char key[KEY_MAX];
};

/* A destination or MX host name exceptions no longer apply to. */
struct retired {
	struct map_node node;
	char name[];
};

struct policymap {
	struct dns *dns;
	struct config *cfg;
	/* The answers served and, per next hop, the last dane or dane-only
	 * answer, kept for stale_answer_max_age: what a resolver outage is
	 * answered with (ANSWERCACHE_SECURE). */
	struct answercache *cache;
	policymap_clock *clock;
	void *clock_arg;
	struct map in_flight;		/* of struct in_flight */
	struct policymap_stats stats;
	char no_dns_reason[256];	/* the reason of the last answer without DNS */
	policymap_observer *observer;
	void *observer_arg;
	struct exceptions *exceptions, *auto_exceptions;
	struct map retired;		/* of struct retired */
	policymap_wall_clock *wall;
	void *wall_arg;
	char exception_reason[1024];	/* the reason of the last exception answer */
	char stale_reason[700];		/* the reason of the last stale answer */
	bool untrusted;			/* policymap_set_untrusted() */
	char untrusted_reason[768];
	struct sts *sts;		/* policymap_set_sts() */
	struct list held;		/* of struct policymap_waiter, waiting for a policy */
	char sts_domain[NEXTHOP_NAME_MAX + 1];
	unsigned refreshes;		/* refreshes running */
	policymap_refresh_hook *refresh_hook;
	void *refresh_hook_arg;
	struct fleet *fleet;		/* policymap_set_fleet(); NULL: alone */
	struct list asking_fleet;	/* of struct in_flight, answered but waiting for the fleet */
};

static int64_t
system_wall_clock(void *arg)
{
	return (int64_t)time(NULL);
}

static bool
retired(const struct policymap *pm, const char *name)
{
	return map_find_str(&pm->retired, name) != NULL;
}

/* The entry of the file, else of the automatic list, that names what the
 * match function looks for; NULL when none applies. */
static const struct exception_entry *
find_exception(const struct policymap *pm, const char *name, bool mx, bool *automatic)
{
	int64_t now = pm->wall(pm->wall_arg);
	const struct exception_entry *e = NULL;

	if (retired(pm, name))
		return NULL;
	*automatic = false;
	if (pm->exceptions)
		e = mx ? exceptions_match_mx(pm->exceptions, name, now) : exceptions_match_domain(pm->exceptions, name, now);
	if (!e && pm->auto_exceptions) {
		e = mx ? exceptions_match_mx(pm->auto_exceptions, name, now)
		    : exceptions_match_domain(pm->auto_exceptions, name, now);
		*automatic = e != NULL;
	}
	return e;
}

/* "exception (line 12) for MX host mail.provider.example: encrypt" */
static void
exception_reason(char *dst, size_t size, const struct exception_entry *e, bool automatic, const char *host)
{
	struct buf b;

	buf_init(&b);
	if (automatic)
		buf_puts(&b, "automatic exception (exceptions_auto)");
	else
		buf_printf(&b, "exception (line %u)", e->line);
	buf_printf(&b, " for %s%s%s: %s", e->kind == EXCEPTION_MX_HOST ? "MX host " : "",
	    e->kind == EXCEPTION_SUBDOMAINS ? "." : "", e->name, e->policy);
	if (host && e->kind == EXCEPTION_MX_HOST && strcmp(host, e->name) != 0)
		buf_printf(&b, " (%s)", host);
	snprintf(dst, size, "%s", buf_ptr(&b));
	buf_free(&b);
}

struct policymap *
policymap_create(struct dns *dns, struct config *cfg, const unsigned char seed[16],
    policymap_clock *clock, void *clock_arg)
{
	struct policymap *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return NULL;
	if (!(pm->cache = answercache_create(cfg->cache_max_entries, seed))) {
		free(pm);
		return NULL;
	}
	pm->dns = dns;
	pm->cfg = config_ref(cfg);
	/* A different key from the caches': the seed is 16 bytes, reused with
	 * its halves swapped; a collision in one table then says nothing
	 * about the other. */
	unsigned char swapped[16];
	memcpy(swapped, seed + 8, 8);
	memcpy(swapped + 8, seed, 8);
	map_init(&pm->in_flight, swapped);
	map_init(&pm->retired, swapped);
	pm->clock = clock;
	pm->clock_arg = clock_arg;
	pm->wall = system_wall_clock;
	return pm;
}

void
policymap_set_config(struct policymap *pm, struct config *cfg)
{
	config_ref(cfg);
	config_unref(pm->cfg);
	pm->cfg = cfg;
	answercache_set_max(pm->cache, cfg->cache_max_entries);
}

static void on_resolved(void *arg, const struct resolve_result *res);

static struct in_flight *
find_in_flight(const struct policymap *pm, const char *key)
{
	struct map_node *n = map_find_str(&pm->in_flight, key);

	return n ? MAP_ENTRY(n, struct in_flight, node) : NULL;
}

/* ---- MTA-STS (stsprecedence.h): applied as each answer is given. ---- */

static bool
sts_domain_form(const struct nexthop *nh)
{
	return stsprec_domain_nexthop(stsprec_nexthop_of(nh));
}

/* A resolution starts: the domain's policy is looked for beside it, so
 * that an answer that needs it rarely waits. */
static void
start_sts(struct policymap *pm, const struct nexthop *nh)
{
	struct sts_view v;

	if (pm->sts && sts_domain_form(nh))
		sts_lookup(pm->sts, nh->name, &v);
}

static bool
configured_authenticates(const struct policymap *pm, struct policy_answer answer)
{
	char word[32];

	if (answer.result != POLICY_OK || answer.rule == POLICY_RULE_EXCEPTION)
		return false;
	policy_level_word(policy_level(&pm->cfg->levels, answer), word, sizeof(word));
	return policy_level_all_authenticated(word);
}

/* Applies the domain's policy to the answer. An answer the policy cannot
 * change only learns of the policy (and starts nothing: a policy DANE
 * shadows is not kept fresh). Returns true, with the answer unchanged,
 * when may_wait and the policy is still being discovered for the first
 * time. */
static bool
apply_sts(struct policymap *pm, const struct nexthop *nh, struct policymap_answer *a, bool may_wait)
{
	struct sts_view v;
	const char *why;

	if (!pm->sts || !sts_domain_form(nh))
		return false;
	bool may = stsprec_may_apply(stsprec_nexthop_of(nh), a->answer, a->stale);
	if (may)
		sts_lookup(pm->sts, nh->name, &v);
	else
		sts_peek(pm->sts, nh->name, &v);
	if (may && v.pending && may_wait)
		return true;
	if (!v.policy)
		return false;
	snprintf(pm->sts_domain, sizeof(pm->sts_domain), "%s", nh->name);
	a->sts = v.policy;
	a->sts_domain = pm->sts_domain;
	a->sts_id = v.policy_id;
	a->sts_fetched_at = v.fetched_at;
	struct stsprec_input in = {stsprec_nexthop_of(nh), a->answer, a->stale, stsprec_sts_of(v.policy)};
	enum stsprec_choice choice = stsprec_choose(&in, &why);
	if (choice == STSPREC_USE_STS && configured_authenticates(pm, a->answer)) {
		/* The administrator's level for the rule already has Postfix
		 * authenticate every host (or defer): replacing it could only
		 * make it weaker or different. */
		choice = STSPREC_USE_DANE;
		why = "the level configured for this rule already demands authentication: the policy changes nothing";
	}
	a->sts_why = why;
	if (choice != STSPREC_USE_STS || !v.postfix_answer || !v.reason)
		return false;
	a->reason = v.reason;
	a->sts_text = v.postfix_answer;
	pm->stats.sts_applied++;
	return false;
}

static void
on_sts_known(void *arg)
{
	struct policymap_waiter *w = arg;
	struct policymap *pm = w->pm;
	struct policymap_answer a = w->held;

	w->sts_wait = NULL;
	list_remove(&pm->held, &w->link);
	apply_sts(pm, &w->nh, &a, false);
	w->cb(w->arg, &a);
	free(w->held_reason);
	free(w);
}

/* Holds w with its answer until the domain's first discovery ends;
 * false when it cannot (then answer at once). */
static bool
hold_for_sts(struct policymap *pm, struct policymap_waiter *w, const struct nexthop *nh,
    const struct policymap_answer *a)
{
	if (!(w->held_reason = strdup(a->reason ? a->reason : "")))
		return false;
	w->pm = pm;
	w->owner = NULL;
	w->nh = *nh;
	w->held = *a;
	w->held.reason = w->held_reason;
	if (!(w->sts_wait = sts_wait(pm->sts, nh->name, on_sts_known, w))) {
		free(w->held_reason);
		w->held_reason = NULL;
		return false;
	}
	list_push_back(&pm->held, &w->link);
	pm->stats.sts_waits++;
	return true;
}

/* Gives w its answer, MTA-STS applied, and frees it; or holds it for the
 * policy. */
static void
answer_waiter(struct policymap *pm, struct policymap_waiter *w, const struct nexthop *nh, struct policymap_answer *a)
{
	if (apply_sts(pm, nh, a, true)) {
		if (hold_for_sts(pm, w, nh, a))
			return;
		apply_sts(pm, nh, a, false);
	}
	w->cb(w->arg, a);
	free(w);
}

void
policymap_set_sts(struct policymap *pm, struct sts *sts)
{
	pm->sts = sts;
}

/* A resolution for key, in the table: NULL when it cannot start. */
static struct in_flight *
start_in_flight(struct policymap *pm, const struct nexthop *nh, const char *key, uint64_t now, bool refresh)
{
	struct in_flight *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->pm = pm;
	f->refresh = refresh;
	f->started_ms = now;
	f->nh = *nh;
	snprintf(f->key, sizeof(f->key), "%s", key);
	if (!(f->resolve = resolve_start(pm->dns, nh, on_resolved, f))) {
		free(f);
		return NULL;
	}
	map_put_str(&pm->in_flight, &f->node, f->key);
	pm->stats.resolutions++;
	if (refresh) {
		pm->refreshes++;
		pm->stats.refreshes++;
	}
	start_sts(pm, nh);
	return f;
}

static uint64_t
clamp(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Whether a decided answer makes Postfix check TLSA records itself. */
static bool
is_dane(const struct policymap *pm, struct policy_answer answer)
{
	if (answer.result != POLICY_OK || answer.rule == POLICY_RULE_EXCEPTION)
		return false;
	return policy_level_is_dane(policy_level(&pm->cfg->levels, answer));
}

/* The last secure answer, for the fleet: another relay that meets an
 * outage for this next hop before it has one of its own serves it. */
static void
share_secure(struct policymap *pm, const char *key, const struct policymap_answer *a)
{
	int64_t wall_now = pm->wall(pm->wall_arg);
	struct snapshot_entry e = {.store = SNAPSHOT_SECURE, .answer = a->answer, .stored = wall_now,
	    .expires = wall_now + (int64_t)(pm->cfg->stale_answer_max_age_ms / 1000)};
	struct buf line;

	if (!pm->fleet || e.expires <= wall_now)
		return;
	snprintf(e.key, sizeof(e.key), "%s", key);
	snprintf(e.reason, sizeof(e.reason), "%s", a->reason ? a->reason : "");
	buf_init(&line);
	if (snapshot_format(&line, &e) == 0)
		fleet_put(pm->fleet, FLEET_STALE, key, e.expires, buf_ptr(&line), buf_size(&line));
	buf_free(&line);
}

/* A last secure answer another relay shared, kept as this relay's own
 * when it is one this relay would keep: the same checks as a snapshot
 * read back at start-up, and the same next hop. */
static bool
adopt_secure(struct policymap *pm, const char *key, const char *payload, size_t len, uint64_t now)
{
	int64_t wall_now = pm->wall(pm->wall_arg);
	int64_t max_age_s = (int64_t)(pm->cfg->stale_answer_max_age_ms / 1000);
	struct snapshot_entry e;

	if (len && payload[len - 1] == '\n')
		len--;
	if (memchr(payload, '\n', len) || snapshot_parse(payload, len, &e) < 0 || e.store != SNAPSHOT_SECURE ||
	    strcmp(e.key, key) != 0 || e.answer.rule == POLICY_RULE_EXCEPTION || !is_dane(pm, e.answer) ||
	    e.stored > wall_now || wall_now - e.stored >= max_age_s)
		return false;
	uint64_t age_ms = (uint64_t)(wall_now - e.stored) * 1000;
	uint64_t stored = age_ms < now ? now - age_ms : 0;
	return answercache_put(pm->cache, ANSWERCACHE_SECURE, key, e.answer, e.reason, NULL, stored,
	    stored + pm->cfg->stale_answer_max_age_ms) == 0;
}

/* A dane answer is kept as the one to serve through an outage; any other
 * answer but TEMP replaces it, so a destination that gave up DANE is never
 * answered dane from memory. An answer beside a failed host is neither:
 * it says too little about the destination to be served for a day, or to
 * erase what was. */
static void
remember_secure(struct policymap *pm, const char *key, const struct policymap_answer *a, bool some_failed,
    uint64_t now)
{
	if (pm->untrusted)
		return;	/* from a resolver that does not validate: proves nothing */
	if (a->answer.rule == POLICY_RULE_EXCEPTION || some_failed)
		return;	/* the administrator's, not the DNS's; or partial */
	if (is_dane(pm, a->answer) && pm->cfg->stale_answer_max_age_ms) {
		answercache_put(pm->cache, ANSWERCACHE_SECURE, key, a->answer, a->reason, NULL, now,
		    now + pm->cfg->stale_answer_max_age_ms);
		share_secure(pm, key, a);
	} else if (a->answer.result != POLICY_TEMP)
		answercache_remove(pm->cache, ANSWERCACHE_SECURE, key);
}

/* A resolver outage (not a DNSSEC failure: that stays TEMP) for a next
 * hop whose last answer was dane or dane-only, within
 * stale_answer_max_age: that answer again. Safe, because at those levels
 * Postfix looks up and checks the TLSA records itself; and better than
 * TEMP, which defers mail that Postfix could deliver securely. */
static bool
serve_stale(struct policymap *pm, const char *key, struct policymap_answer *a, uint64_t now)
{
	if (a->answer.bogus || !pm->cfg->stale_answer_max_age_ms)
		return false;
	const struct answercache_entry *e = answercache_get(pm->cache, ANSWERCACHE_SECURE, key, now);
	if (!e || now - e->stored_ms > pm->cfg->stale_answer_max_age_ms || !is_dane(pm, e->answer))
		return false;
	snprintf(pm->stale_reason, sizeof(pm->stale_reason), "stale: %s; the last secure answer, from %llu s ago: %s",
	    a->reason, (unsigned long long)((now - e->stored_ms) / 1000), e->reason);
	a->answer = e->answer;
	a->reason = pm->stale_reason;
	a->stale = true;
	a->ttl_s = (uint32_t)(pm->cfg->cache_temp_ttl_ms / 1000);
	pm->stats.stale++;
	return true;
}

struct mx_lookup {
	const struct policymap *pm;
	bool automatic;		/* of the first entry found */
	bool found;
};

static const struct exception_entry *
mx_lookup(void *arg, const char *host)
{
	struct mx_lookup *l = arg;
	bool automatic;
	const struct exception_entry *e = find_exception(l->pm, host, true, &automatic);

	if (e && !l->found) {
		l->found = true;
		l->automatic = automatic;
	}
	return e;
}

/* A provider's broken MX host, named once for all its domains ("mx:"
 * entries), as exceptions_mx_cover() says. Returns whether an entry
 * changed the answer. */
static bool
apply_mx_exception(struct policymap *pm, const struct resolve_result *res, struct policymap_answer *a)
{
	const char *names[POLICY_MAX_HOSTS];
	size_t n = 0;
	struct mx_lookup l = {.pm = pm};
	struct exceptions_mx_cover cover;

	for (unsigned i = 0; i < res->nhosts && n < POLICY_MAX_HOSTS; i++)
		if (res->hosts[i].verdict != POLICY_HOST_NOADDR)
			names[n++] = res->hosts[i].name;
	exceptions_mx_cover(names, n, mx_lookup, &l, &cover);
	if (!cover.entry || (!cover.all && res->answer.result != POLICY_OK))
		return false;
	exception_reason(pm->exception_reason, sizeof(pm->exception_reason), cover.entry, l.automatic, cover.host);
	a->answer.result = POLICY_OK;
	a->answer.rule = POLICY_RULE_EXCEPTION;
	a->answer.bogus = false;
	a->reason = pm->exception_reason;
	if (cover.all) {
		a->policy = cover.entry->policy;
		return true;
	}
	size_t used = strlen(pm->exception_reason);
	snprintf(pm->exception_reason + used, sizeof(pm->exception_reason) - used,
	    "; it names %u of %u MX hosts, so " EXCEPTIONS_PARTIAL_POLICY
	    ": Postfix checks the others' TLSA records (%s)", cover.named, cover.hosts, res->reason);
	a->policy = EXCEPTIONS_PARTIAL_POLICY;
	return true;
}

static void
refreshed(struct policymap *pm, const char *key, enum policymap_refresh outcome, uint64_t life_ms)
{
	pm->stats.refresh_outcomes[outcome]++;
	if (pm->refresh_hook)
		pm->refresh_hook(pm->refresh_hook_arg, key, outcome, (uint32_t)(life_ms / 1000));
}

/* A refresh ended; stored: with an answer DNS gave, now cached. When
 * that answer expires no later than
 * the one it replaced, the resolver gave back the records it had cached
 * (libunbound cannot be asked to skip its cache): no lookup gets newer
 * ones before they expire. The answer is then given on past its expiry
 * while a refresh started after it runs, for at most dns_timeout, so
 * that Postfix still does not wait. */
static void
renewed(struct policymap *pm, const char *key, bool stored, uint64_t old_expires_ms, uint64_t now)
{
	struct answercache_entry *e = stored ? answercache_peek(pm->cache, ANSWERCACHE_ANSWER, key) : NULL;

	if (!e) {
		refreshed(pm, key, POLICYMAP_REFRESH_FAILED, 0);
		return;
	}
	if (e->expires_ms > old_expires_ms + 1000) {
		refreshed(pm, key, POLICYMAP_REFRESH_RENEWED, e->expires_ms - now);
		return;
	}
	e->refreshing = true;
	e->late_until_ms = e->expires_ms + pm->cfg->dns_timeout_ms;
	refreshed(pm, key, POLICYMAP_REFRESH_UNCHANGED, e->expires_ms - now);
}

/* The end of a resolution: its answer stored (store: not when a failed
 * refresh kept the one in force), and given to every waiter. Frees f. */
static void
finish(struct policymap *pm, struct in_flight *f, struct policymap_answer *a, uint64_t ttl_ms, int store,
    bool failed, uint64_t old_expires_ms, uint64_t now)
{
	if (store) {
		if (pm->untrusted)
			ttl_ms = 0;	/* finished after the trust check failed: not kept */
		bool stored = ttl_ms > 0 &&
		    answercache_put(pm->cache, ANSWERCACHE_ANSWER, f->key, a->answer, a->reason, a->policy, now, now + ttl_ms) == 0;
		if (f->refresh)
			renewed(pm, f->key, stored && !failed, old_expires_ms, now);
	}
	/* Each callback may start or cancel other lookups, so take the
	 * waiters off the list one at a time. */
	struct list_node *l;
	while ((l = list_pop_front(&f->waiters))) {
		struct policymap_waiter *w = LIST_ENTRY(l, struct policymap_waiter, link);
		struct policymap_answer wa = *a;
		wa.shared = w->shared;
		w->owner = NULL;
		answer_waiter(pm, w, &f->nh, &wa);
	}
	free(f->pending_reason);
	free(f);
}

static void
on_fleet_stale(void *arg, enum fleet_found found, const char *payload, size_t len, int64_t expires)
{
	struct in_flight *f = arg;
	struct policymap *pm = f->pm;
	uint64_t now = pm->clock(pm->clock_arg);
	struct policymap_answer a = f->pending;
	uint64_t ttl_ms = f->pending_ttl_ms;

	f->fleet_op = NULL;
	list_remove(&pm->asking_fleet, &f->fleet_link);
	if (found == FLEET_FOUND && adopt_secure(pm, f->key, payload, len, now) && serve_stale(pm, f->key, &a, now)) {
		ttl_ms = pm->cfg->cache_temp_ttl_ms;
		pm->stats.stale_fleet++;
	}
	finish(pm, f, &a, ttl_ms, 1, true, 0, now);
}

/* A resolver outage for a next hop this relay has no secure answer for:
 * the fleet may have one (another relay's, within stale_answer_max_age).
 * The answer waits for it at most redis_timeout; false when there is
 * nothing to ask (no fleet, a DNSSEC failure, not a resolution of its
 * own, or Redis not usable). */
static bool
ask_fleet_stale(struct policymap *pm, struct in_flight *f, const struct policymap_answer *a, uint64_t ttl_ms)
{
	if (!pm->fleet || a->answer.bogus || pm->untrusted || !pm->cfg->stale_answer_max_age_ms || f->refresh ||
	    !(f->pending_reason = strdup(a->reason ? a->reason : "")))
		return false;
	f->pending = *a;
	f->pending.reason = f->pending_reason;
	f->pending_ttl_ms = ttl_ms;
	f->fleet_op = fleet_get(pm->fleet, FLEET_STALE, f->key, (int64_t)(pm->cfg->stale_answer_max_age_ms / 1000),
	    on_fleet_stale, f);
	if (!f->fleet_op) {
		free(f->pending_reason);
		f->pending_reason = NULL;
		return false;
	}
	list_push_back(&pm->asking_fleet, &f->fleet_link);
	return true;
}

static void
on_resolved(void *arg, const struct resolve_result *res)
{
	struct in_flight *f = arg;
	struct policymap *pm = f->pm;
	const struct config *cfg = pm->cfg;
	uint64_t now = pm->clock(pm->clock_arg);
	bool some_failed = policy_some_host_failed(&res->facts);
	/* An answer beside a failed host is retried as soon as a TEMP: the
	 * next lookup may well find that host again. */
	uint64_t ttl_ms = res->answer.result == POLICY_TEMP || some_failed ? cfg->cache_temp_ttl_ms
	    : clamp((uint64_t)res->ttl * 1000, cfg->cache_min_ttl_ms, cfg->cache_max_ttl_ms);

	f->resolve = NULL;	/* it frees itself after this callback */
	map_remove(&pm->in_flight, &f->node);
	if (f->refresh)
		pm->refreshes--;
	if (pm->observer)
		pm->observer(pm->observer_arg, res, now - f->started_ms);

	struct policymap_answer a = {.answer = res->answer, .reason = res->reason};
	/* An entry that names every host stands in for a DNS that failed. */
	if (apply_mx_exception(pm, res, &a) && res->answer.result == POLICY_TEMP)
		ttl_ms = cfg->cache_min_ttl_ms;
	a.ttl_s = (uint32_t)(ttl_ms / 1000);
	/* A refresh that failed while the answer it was to renew is still
	 * good changes nothing: that answer stands until it expires, and
	 * only then do a failure's rules (TEMP, the stale answer) apply. */
	struct answercache_entry *old = f->refresh ? answercache_peek(pm->cache, ANSWERCACHE_ANSWER, f->key) : NULL;
	uint64_t old_expires_ms = old ? old->expires_ms : 0;
	bool failed = a.answer.result == POLICY_TEMP || some_failed;
	bool kept = old && failed && now < old_expires_ms;
	if (kept) {
		old->late_until_ms = 0;		/* no refresh runs for it now */
		refreshed(pm, f->key, POLICYMAP_REFRESH_KEPT, old_expires_ms - now);
		ttl_ms = 0;
	} else {
		remember_secure(pm, f->key, &a, some_failed, now);
		if (a.answer.result == POLICY_TEMP && serve_stale(pm, f->key, &a, now))
			ttl_ms = cfg->cache_temp_ttl_ms;	/* and try DNS again as soon as for a TEMP */
		else if (a.answer.result == POLICY_TEMP && ask_fleet_stale(pm, f, &a, ttl_ms))
			return;		/* finish() once the fleet has answered */
	}
	/* MTA-STS yields to DANE: the entry start_sts() made has no use. */
	if (pm->sts && sts_domain_form(&f->nh) && is_dane(pm, res->answer) && !some_failed)
		sts_forget_unused(pm->sts, f->nh.name);
	finish(pm, f, &a, ttl_ms, kept ? 0 : 1, failed, old_expires_ms, now);
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
	w->shared = !list_empty(&f->waiters) || f->refresh;
	list_push_back(&f->waiters, &w->link);
	*out = w;
	return POLICYMAP_PENDING;
}

/* Starts a resolution nobody waits for, unless one runs or its answer is
 * cached: an excepted destination's hosts are probed all the same. */
static void
resolve_in_background(struct policymap *pm, const struct nexthop *nh, const char *key, uint64_t now)
{
	if (!find_in_flight(pm, key) && !answercache_peek(pm->cache, ANSWERCACHE_ANSWER, key) && !pm->untrusted)
		start_in_flight(pm, nh, key, now, false);
}

const struct exception_entry *
policymap_exception(const struct policymap *pm, const struct nexthop *nh, bool *automatic)
{
	if (nh->kind == NEXTHOP_DOMAIN)
		return find_exception(pm, nh->name, false, automatic);
	if (nh->kind == NEXTHOP_HOST)
		return find_exception(pm, nh->name, true, automatic);
	return NULL;
}

void
policymap_set_exceptions(struct policymap *pm, struct exceptions *file, struct exceptions *automatic)
{
	if (file)
		exceptions_ref(file);
	if (automatic)
		exceptions_ref(automatic);
	exceptions_unref(pm->exceptions);
	exceptions_unref(pm->auto_exceptions);
	pm->exceptions = file;
	pm->auto_exceptions = automatic;
	answercache_clear(pm->cache, ANSWERCACHE_ANSWER);
}

static void
free_retired(void *arg, struct map_node *n)
{
	free(MAP_ENTRY(n, struct retired, node));
}

void
policymap_unretire_all(struct policymap *pm)
{
	map_clear(&pm->retired, free_retired, NULL);
	answercache_clear(pm->cache, ANSWERCACHE_ANSWER);
}

void
policymap_retire(struct policymap *pm, const char *name)
{
	size_t len = strlen(name);
	struct retired *r;

	if (retired(pm, name) || !(r = malloc(sizeof(*r) + len + 1)))
		return;
	memcpy(r->name, name, len + 1);
	map_put(&pm->retired, &r->node, r->name, len);
	/* The answers given under the exception are stale now. */
	answercache_clear(pm->cache, ANSWERCACHE_ANSWER);
}

void
policymap_set_wall_clock(struct policymap *pm, policymap_wall_clock *clock, void *arg)
{
	pm->wall = clock;
	pm->wall_arg = arg;
}

void
policymap_set_fleet(struct policymap *pm, struct fleet *fleet)
{
	pm->fleet = fleet;
}

void
policymap_set_untrusted(struct policymap *pm, const char *reason)
{
	pm->untrusted = reason != NULL;
	snprintf(pm->untrusted_reason, sizeof(pm->untrusted_reason), "%s", reason ? reason : "");
}

/* A request that would start a resolution while the resolver is not
 * trusted: no lookup, nothing cached. The last secure answer is as safe
 * here as through an outage: at dane and dane-only Postfix looks up and
 * checks the TLSA records itself, through its own resolver. */
static void
answer_untrusted(struct policymap *pm, const char *key, struct policymap_answer *out, uint64_t now)
{
	out->answer.result = POLICY_TEMP;
	out->answer.rule = POLICY_RULE_TRUST_CHECK;
	out->reason = pm->untrusted_reason;
	serve_stale(pm, key, out, now);
	out->ttl_s = 0;
}

/* Whether a refresh may start now: prefetching is on, the resolver is
 * trusted, and fewer than cache_prefetch_max run. */
static bool
may_refresh(struct policymap *pm)
{
	if (!pm->cfg->cache_prefetch_percent || pm->untrusted)
		return false;
	if (pm->refreshes >= pm->cfg->cache_prefetch_max) {
		pm->stats.refresh_skipped++;
		return false;
	}
	return true;
}

/* The shortest refresh window: about what a refresh takes. Records of a
 * destination expire at different times, so a refreshed answer can have
 * a second or two to live; a tenth of that would be a window no request
 * falls in, and the answer would expire unrefreshed. */
#define PREFETCH_MIN_WINDOW_MS 2000

/* A hit in the last cache_prefetch_percent of the answer's life (at
 * least PREFETCH_MIN_WINDOW_MS of it) starts a refresh, once per answer,
 * unless a resolution for it already runs. */
static void
prefetch(struct policymap *pm, const struct nexthop *nh, const char *key, struct answercache_entry *e,
    uint64_t now)
{
	uint64_t life = e->expires_ms - e->stored_ms, left = e->expires_ms - now;
	uint64_t window = life * pm->cfg->cache_prefetch_percent / 100;

	if (window < PREFETCH_MIN_WINDOW_MS)
		window = PREFETCH_MIN_WINDOW_MS;
	if (e->refreshing || left > window)
		return;
	if (find_in_flight(pm, key) || !may_refresh(pm))
		return;
	if (start_in_flight(pm, nh, key, now, true)) {
		/* Should it end after the answer expires, Postfix still does
		 * not wait for it. */
		e->refreshing = true;
		e->late_until_ms = e->expires_ms + pm->cfg->dns_timeout_ms;
	}
}

/* A hit on an answer given past its expiry (answercache.h): only while
 * its refresh runs, started by the first such hit. */
static bool
refresh_late(struct policymap *pm, const struct nexthop *nh, const char *key, uint64_t now)
{
	if (find_in_flight(pm, key))
		return true;
	return may_refresh(pm) && start_in_flight(pm, nh, key, now, true) != NULL;
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
	bool automatic;
	const struct exception_entry *x = policymap_exception(pm, nh, &automatic);
	if (x) {
		out->answer.result = POLICY_OK;
		out->answer.rule = POLICY_RULE_EXCEPTION;
		out->policy = x->policy;
		exception_reason(pm->exception_reason, sizeof(pm->exception_reason), x, automatic, NULL);
		out->reason = pm->exception_reason;
		out->no_dns = true;
		resolve_in_background(pm, nh, key, now);
		return POLICYMAP_DONE;
	}
	struct answercache_entry *e = answercache_get(pm->cache, ANSWERCACHE_ANSWER, key, now);
	if (e && now >= e->expires_ms && !refresh_late(pm, nh, key, now)) {
		answercache_remove(pm->cache, ANSWERCACHE_ANSWER, key);	/* no refresh can run: a miss */
		e = NULL;
	}
	if (e) {
		pm->stats.hits++;
		out->answer = e->answer;
		out->policy = e->policy;
		out->reason = e->reason;
		out->cache_hit = true;
		out->ttl_s = now < e->expires_ms ? (uint32_t)((e->expires_ms - now) / 1000) : 0;
		if (now >= e->expires_ms)
			pm->stats.late++;
		else
			prefetch(pm, nh, key, e, now);
		if (apply_sts(pm, nh, out, true)) {
			struct policymap_waiter *w = calloc(1, sizeof(*w));
			if (w && hold_for_sts(pm, w, nh, out)) {
				w->cb = cb;
				w->arg = arg;
				*waiter = w;
				return POLICYMAP_PENDING;
			}
			free(w);
			apply_sts(pm, nh, out, false);
		}
		return POLICYMAP_DONE;
	}
	pm->stats.misses++;
	if (pm->untrusted) {
		answer_untrusted(pm, key, out, now);
		return POLICYMAP_DONE;
	}
	struct in_flight *f = find_in_flight(pm, key);
	if (f) {
		pm->stats.shared++;
		return add_waiter(f, cb, arg, waiter);
	}
	if (!(f = start_in_flight(pm, nh, key, now, false)))
		return -1;
	return add_waiter(f, cb, arg, waiter);
}

void
policymap_waiter_cancel(struct policymap_waiter *w)
{
	if (w->sts_wait) {
		sts_waiter_cancel(w->sts_wait);
		list_remove(&w->pm->held, &w->link);
		free(w->held_reason);
	} else {
		list_remove(&w->owner->waiters, &w->link);
	}
	free(w);
}

void
policymap_set_refresh_hook(struct policymap *pm, policymap_refresh_hook *hook, void *arg)
{
	pm->refresh_hook = hook;
	pm->refresh_hook_arg = arg;
}

const char *
policymap_refresh_name(enum policymap_refresh outcome)
{
	static const char *const names[] = {"renewed", "unchanged", "kept", "failed"};

	return outcome < POLICYMAP_REFRESH_COUNT ? names[outcome] : "?";
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
	const struct answercache_entry *e = answercache_peek(pm->cache, ANSWERCACHE_ANSWER, key);

	return e ? e->used_ms : 0;
}

struct recent_walk {
	size_t skip;
	policymap_cached_fn *fn;
	void *arg;
};

static void
recent_one(void *arg, const char *key, const struct answercache_entry *e)
{
	struct recent_walk *w = arg;

	if (w->skip) {
		w->skip--;
		return;
	}
	struct policymap_cached c = {
		.key = key, .answer = e->answer, .reason = e->reason, .policy = e->policy,
		.stored_ms = e->stored_ms, .expires_ms = e->expires_ms, .used_ms = e->used_ms,
	};
	w->fn(w->arg, &c);
}

size_t
policymap_each_recent(const struct policymap *pm, size_t max, policymap_cached_fn *fn, void *arg)
{
	size_t n = answercache_count(pm->cache, ANSWERCACHE_ANSWER), more = n > max ? n - max : 0;
	struct recent_walk w = {.skip = more, .fn = fn, .arg = arg};

	answercache_each(pm->cache, ANSWERCACHE_ANSWER, recent_one, &w);
	return more;
}

const char *
policymap_untrusted_reason(const struct policymap *pm)
{
	return pm->untrusted ? pm->untrusted_reason : NULL;
}

int
policymap_purge(struct policymap *pm, const struct nexthop *nh)
{
	char key[KEY_MAX];

	nexthop_format(nh, key, sizeof(key));
	int was_secure = answercache_remove(pm->cache, ANSWERCACHE_SECURE, key);
	return answercache_remove(pm->cache, ANSWERCACHE_ANSWER, key) | was_secure;
}

void
policymap_stats(const struct policymap *pm, struct policymap_stats *out)
{
	*out = pm->stats;
	out->entries = answercache_count(pm->cache, ANSWERCACHE_ANSWER);
	out->in_flight = map_count(&pm->in_flight);
}

/* Drops a resolution and its waiters unanswered. */
static void
cancel_in_flight(void *arg, struct map_node *n)
{
	struct in_flight *f = MAP_ENTRY(n, struct in_flight, node);
	struct list_node *l;

	resolve_cancel(f->resolve);
	while ((l = list_pop_front(&f->waiters)))
		free(LIST_ENTRY(l, struct policymap_waiter, link));
	free(f);
}

void
policymap_free(struct policymap *pm)
{
	if (!pm)
		return;
	map_clear(&pm->in_flight, cancel_in_flight, NULL);
	struct list_node *l;
	while ((l = list_pop_front(&pm->asking_fleet))) {
		struct in_flight *f = LIST_ENTRY(l, struct in_flight, fleet_link);
		fleet_cancel(f->fleet_op);
		free(f->pending_reason);
		cancel_in_flight(NULL, &f->node);
	}
	while ((l = list_pop_front(&pm->held))) {
		struct policymap_waiter *w = LIST_ENTRY(l, struct policymap_waiter, link);
		sts_waiter_cancel(w->sts_wait);
		free(w->held_reason);
		free(w);
	}
	policymap_unretire_all(pm);
	answercache_free(pm->cache);
	exceptions_unref(pm->exceptions);
	exceptions_unref(pm->auto_exceptions);
	config_unref(pm->cfg);
	free(pm);
}

struct snapshot_walk {
	const struct policymap *pm;
	enum snapshot_store store;
	struct buf *out;
	uint64_t now;
	int64_t wall_now;
	int rc;
};

static void
snapshot_one(void *arg, const char *key, const struct answercache_entry *e)
{
	struct snapshot_walk *w = arg;
	struct snapshot_entry s = {.store = w->store, .answer = e->answer, .has_policy = e->policy != NULL};

	/* An exception's answer is the list's to give, not the file's:
	 * policymap_restore() refuses it, so it is not written. */
	if (e->expires_ms <= w->now || e->answer.rule == POLICY_RULE_EXCEPTION)
		return;
	snprintf(s.key, sizeof(s.key), "%s", key);
	if (e->policy)
		snprintf(s.policy, sizeof(s.policy), "%s", e->policy);
	snprintf(s.reason, sizeof(s.reason), "%s", e->reason);
	s.stored = w->wall_now - (int64_t)((w->now - e->stored_ms) / 1000);
	/* Rounded down, so an entry never outlives its TTL by a restart. */
	s.expires = w->wall_now + (int64_t)((e->expires_ms - w->now) / 1000);
	w->rc |= snapshot_format(w->out, &s);
}

int
policymap_snapshot(const struct policymap *pm, struct buf *out)
{
	struct snapshot_walk w = {.pm = pm, .out = out, .now = pm->clock(pm->clock_arg),
	    .wall_now = pm->wall(pm->wall_arg)};

	w.store = SNAPSHOT_ANSWERS;
	answercache_each(pm->cache, ANSWERCACHE_ANSWER, snapshot_one, &w);
	w.store = SNAPSHOT_SECURE;
	answercache_each(pm->cache, ANSWERCACHE_SECURE, snapshot_one, &w);
	return w.rc ? -1 : 0;
}

size_t
policymap_restore(struct policymap *pm, const char *text, size_t len)
{
	uint64_t now = pm->clock(pm->clock_arg);
	int64_t wall_now = pm->wall(pm->wall_arg);
	const char *p = text, *end = text + len;
	size_t restored = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line = p;
		size_t n = (size_t)((nl ? nl : end) - line);
		struct snapshot_entry e;
		p = nl ? nl + 1 : end;
		/* A clock that went back makes no entry older than stored. */
		if (snapshot_parse(line, n, &e) < 0 || e.expires <= wall_now || e.stored > wall_now)
			continue;
		struct nexthop nh;
		const char *why;
		char canonical[KEY_MAX];
		/* Only keys the daemon itself would have made. */
		if (nexthop_parse(e.key, strlen(e.key), &nh, &why) < 0 ||
		    (nexthop_format(&nh, canonical, sizeof(canonical)), strcmp(canonical, e.key) != 0))
			continue;
		/* Only what the daemon would give now. An exception's answer
		 * comes from the list in force, never from a file: one the list
		 * no longer has (or never had) must not outlive it. */
		if (e.answer.rule == POLICY_RULE_EXCEPTION)
			continue;
		if (e.store == SNAPSHOT_SECURE && !is_dane(pm, e.answer))
			continue;
		/* And for no longer than the settings in force keep such an
		 * entry from when it was stored: a file cannot extend a TTL. */
		uint64_t keep_ms = e.store == SNAPSHOT_SECURE ? pm->cfg->stale_answer_max_age_ms
		    : e.answer.result == POLICY_TEMP ? pm->cfg->cache_temp_ttl_ms : pm->cfg->cache_max_ttl_ms;
		int64_t latest = e.stored + (int64_t)(keep_ms / 1000);
		if (e.expires > latest)
			e.expires = latest;
		if (e.expires <= wall_now)
			continue;
		uint64_t age_ms = (uint64_t)(wall_now - e.stored) * 1000;
		uint64_t stored = age_ms < now ? now - age_ms : 0;
		uint64_t expires = now + (uint64_t)(e.expires - wall_now) * 1000;
		enum answercache_slot slot = e.store == SNAPSHOT_SECURE ? ANSWERCACHE_SECURE : ANSWERCACHE_ANSWER;
		if (answercache_put(pm->cache, slot, e.key, e.answer, e.reason, e.has_policy ? e.policy : NULL, stored, expires) == 0)
			restored++;
	}
	return restored;
}
