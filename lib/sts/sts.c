/*
 * sts - see sts.h for the contract.
 *
 * A discovery walks one domain's entry through what stscache_next() asks
 * for (a TXT lookup, then perhaps a fetch) until it asks for nothing, and
 * then releases its waiters. Every callback finds the entry again by
 * name: the cache may have pushed it out meanwhile.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "util/list.h"
#include "fleet/fleet.h"
#include "util/map.h"
#include "dns/rr.h"
#include "rules/ststxt.h"
#include "sts/sts.h"

#define TXT_PREFIX "_mta-sts."
#define TXT_RECORDS_MAX 16

struct discovery {
	struct sts *s;
	struct map_node node;		/* in sts.discoveries, under domain */
	int txt_lookup;			/* the TXT lookup's id while it runs, else 0 */
	struct stsfetch_job *job;	/* while a fetch runs */
	struct fleet_op *fleet_op;	/* while the fleet is asked */
	bool asked_fleet;		/* once per discovery */
	char fetch_id[STSCACHE_ID_MAX + 1];
	/* Nothing was known when it started: first lookups wait for it,
	 * until wait_timer says the wait is over. */
	bool first, wait_over;
	struct event *wait_timer;
	struct list waiters;
	char domain[];
};

struct sts_waiter {
	struct discovery *d;
	struct list_node link;		/* in d->waiters */
	sts_callback *cb;
	void *arg;
};

struct sts {
	struct event_base *base;
	struct dns *dns;
	struct log *log;
	struct stsfetch *fetcher;
	struct stscache *cache;
	unsigned wait_ms;
	struct map discoveries;		/* of struct discovery */
	sts_wall_clock *wall;
	void *wall_arg;
	struct fleet *fleet;		/* NULL: alone */
	struct sts_stats counts;	/* the counters; the rest is filled in by sts_stats() */
};

static int64_t
system_wall_clock(void *arg)
{
	return (int64_t)time(NULL);
}

struct sts *
sts_create(struct event_base *base, struct dns *dns, struct log *log, const struct sts_settings *settings,
    char *err, size_t errlen)
{
	struct sts *s = calloc(1, sizeof(*s));
	unsigned char seed[16];

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->base = base;
	s->dns = dns;
	s->log = log;
	s->wait_ms = settings->wait_ms;
	s->wall = system_wall_clock;
	hash_random_seed(seed);
	map_init(&s->discoveries, seed);
	if (!(s->cache = stscache_create(settings->max_domains))) {
		snprintf(err, errlen, "out of memory");
		free(s);
		return NULL;
	}
	if (!(s->fetcher = stsfetch_create(base, dns, &settings->fetch, err, errlen))) {
		stscache_free(s->cache);
		free(s);
		return NULL;
	}
	return s;
}

void
sts_set_fleet(struct sts *s, struct fleet *fleet)
{
	s->fleet = fleet;
}

void
sts_set_wall_clock(struct sts *s, sts_wall_clock *clock, void *arg)
{
	s->wall = clock;
	s->wall_arg = arg;
}

struct stsfetch *
sts_fetcher(struct sts *s)
{
	return s->fetcher;
}

/* ---- Discoveries. ---- */

static bool step(struct discovery *d);

static struct discovery *
find_discovery(const struct sts *s, const char *domain)
{
	return MAP_ENTRY(map_find_str(&s->discoveries, domain), struct discovery, node);
}

/* Runs every waiter's callback once; each may start or cancel lookups. */
static void
release_waiters(struct discovery *d)
{
	struct list_node *l;

	while ((l = list_pop_front(&d->waiters))) {
		struct sts_waiter *w = LIST_ENTRY(l, struct sts_waiter, link);
		sts_callback *cb = w->cb;
		void *arg = w->arg;
		free(w);
		cb(arg);
	}
}

static void
end_discovery(struct discovery *d)
{
	struct sts *s = d->s;

	map_remove(&s->discoveries, &d->node);
	if (d->wait_timer)
		event_free(d->wait_timer);
	release_waiters(d);
	free(d);
}

static void
on_wait_over(evutil_socket_t fd, short what, void *arg)
{
	struct discovery *d = arg;

	d->wait_over = true;
	release_waiters(d);
}

/* The discovery of domain, started; NULL when it ended at once (or no
 * memory). */
static struct discovery *
start_discovery(struct sts *s, const char *domain, bool first)
{
	size_t len = strlen(domain);
	struct discovery *d = calloc(1, sizeof(*d) + len + 1);

	if (!d)
		return NULL;
	d->s = s;
	memcpy(d->domain, domain, len + 1);
	d->first = first;
	map_put(&s->discoveries, &d->node, d->domain, len);
	if (first) {
		struct timeval tv = {(time_t)(s->wait_ms / 1000), (suseconds_t)(s->wait_ms % 1000) * 1000};
		/* Without the timer a first lookup does not wait at all. */
		d->wait_timer = evtimer_new(s->base, on_wait_over, d);
		if (!d->wait_timer || evtimer_add(d->wait_timer, &tv) != 0)
			d->wait_over = true;
	}
	return step(d) ? d : NULL;
}

static enum stscache_txt
read_txt(struct sts *s, const struct dns_answer *a, const char *domain, char id[STSCACHE_ID_MAX + 1])
{
	struct ststxt_rdata records[TXT_RECORDS_MAX];
	struct ststxt_result r;
	size_t n = a->count < TXT_RECORDS_MAX ? a->count : TXT_RECORDS_MAX;

	if (a->security == DNS_BOGUS || a->outcome == DNS_SERVFAIL || a->outcome == DNS_TIMEOUT)
		return STSCACHE_TXT_FAILED;
	if (a->outcome != DNS_DATA)
		return STSCACHE_TXT_ABSENT;
	for (size_t i = 0; i < n; i++) {
		records[i].data = a->rdata[i].data;
		records[i].len = a->rdata[i].len;
	}
	switch (ststxt_parse(records, n, &r)) {
	case STSTXT_FOUND:
		memcpy(id, r.id, sizeof(r.id) < STSCACHE_ID_MAX + 1 ? sizeof(r.id) : STSCACHE_ID_MAX + 1);
		id[STSCACHE_ID_MAX] = '\0';
		return STSCACHE_TXT_ID;
	case STSTXT_INVALID:
		log_event(s->log, LOGL_NOTICE, "sts-txt", "domain", domain, "result", "invalid", "reason", r.why, NULL);
		return STSCACHE_TXT_INVALID;
	case STSTXT_NONE:
		break;
	}
	return STSCACHE_TXT_ABSENT;
}

static void
on_txt(void *arg, struct dns_answer *a)
{
	struct discovery *d = arg;
	struct sts *s = d->s;
	int64_t now = s->wall(s->wall_arg);
	char id[STSCACHE_ID_MAX + 1] = "";

	d->txt_lookup = 0;
	enum stscache_txt txt = read_txt(s, a, d->domain, id);
	struct stscache_entry *e = stscache_lookup(s->cache, d->domain, true, now);
	if (e)
		stscache_txt(e, txt, id, a->ttl, now);
	dns_answer_free(a);
	if (e)
		(void)step(d);
	else
		end_discovery(d);
}

static void
said_unfetchable(struct sts *s, struct stscache_entry *e, const char *detail, int64_t now)
{
	const struct stspolicy *p = stscache_in_force(e, now);
	char expires[32];

	if (!p || stspolicy_mode(p) != STSPOLICY_MODE_ENFORCE || e->unfetchable_said)
		return;
	e->unfetchable_said = true;
	snprintf(expires, sizeof(expires), "%lld", (long long)stscache_known(e)->expires_at);
	log_event(s->log, LOGL_WARNING, "sts-unfetchable", "domain", e->domain, "id", stscache_known(e)->policy_id, "expires",
	    expires, "reason", detail,
	    "action", "the cached enforce policy applies until it expires; check the domain's MTA-STS server", NULL);
}

/* A policy this relay fetched, for the fleet: it lives in Redis as long
 * as its max_age, the newest fetch replacing older ones. */
static void
share(struct sts *s, const struct stscache_entry *e, int64_t now)
{
	struct buf line;

	if (!s->fleet)
		return;
	buf_init(&line);
	if (stscache_share(e, now, &line) == 0)
		fleet_put(s->fleet, FLEET_STS, e->domain, stscache_known(e)->expires_at, buf_ptr(&line), buf_size(&line));
	buf_free(&line);
}

/* What the fleet knows of the domain: a policy another relay fetched,
 * taken when it is newer than the one in force (RFC 8461's cache, shared:
 * a relay that never fetched it applies it, even when an attacker hides
 * the TXT record from this relay). */
static void
on_fleet_policy(void *arg, enum fleet_found found, const char *payload, size_t len, int64_t expires)
{
	struct discovery *d = arg;
	struct sts *s = d->s;
	int64_t now = s->wall(s->wall_arg);
	struct buf why;

	d->fleet_op = NULL;
	buf_init(&why);
	if (found == FLEET_FOUND && stscache_adopt(s->cache, d->domain, payload, len, now, &why) > 0) {
		struct stscache_entry *e = stscache_lookup(s->cache, d->domain, false, now);
		const struct stspolicy *p = e ? stscache_in_force(e, now) : NULL;
		s->counts.fleet_policies++;
		if (p)
			log_event(s->log, LOGL_INFO, "sts-fetch", "domain", d->domain, "result", "ok", "source", "fleet",
			    "id", stscache_known(e)->policy_id, "mode", stspolicy_mode_name(stspolicy_mode(p)), NULL);
	} else if (found == FLEET_FOUND) {
		buf_terminate(&why);
		if (buf_size(&why))
			log_event(s->log, LOGL_NOTICE, "sts-fleet", "domain", d->domain, "result", "ignored", "reason",
			    buf_ptr(&why), NULL);
	}
	buf_free(&why);
	if (stscache_lookup(s->cache, d->domain, false, now))
		(void)step(d);
	else
		end_discovery(d);
}

/* The fleet is asked once per discovery, before a fetch, and where the
 * TXT answer is in and no policy is in force. */
static bool
ask_fleet(struct discovery *d, const struct stscache_entry *e, enum stscache_action next, int64_t now)
{
	struct sts *s = d->s;

	if (!s->fleet || d->asked_fleet || e->txt == STSCACHE_TXT_UNKNOWN)
		return false;
	if (next != STSCACHE_FETCH && stscache_in_force(e, now))
		return false;
	d->asked_fleet = true;
	d->fleet_op = fleet_get(s->fleet, FLEET_STS, d->domain, STSPOLICY_MAX_AGE_MAX, on_fleet_policy, d);
	return d->fleet_op != NULL;
}

static void
on_fetched(void *arg, const struct stsfetch_result *r)
{
	struct discovery *d = arg;
	struct sts *s = d->s;
	int64_t now = s->wall(s->wall_arg);
	struct stscache_entry *e = stscache_lookup(s->cache, d->domain, true, now);
	struct stspolicy *policy = NULL;
	struct buf why;

	d->job = NULL;
	s->counts.fetches[r->outcome]++;
	buf_init(&why);
	if (r->outcome == STSFETCH_OK) {
		policy = stspolicy_parse(r->body, r->body_len, &why);
		if (!policy) {
			s->counts.invalid++;
			/* The first problem is enough for a log line. */
			buf_terminate(&why);
			char *nl = strchr(buf_ptr(&why), '\n');
			if (nl)
				*nl = '\0';
		}
	} else {
		buf_puts(&why, r->detail);
	}
	buf_terminate(&why);
	if (policy) {
		log_event(s->log, LOGL_INFO, "sts-fetch", "domain", d->domain, "result", "ok", "id", d->fetch_id,
		    "mode", stspolicy_mode_name(stspolicy_mode(policy)), NULL);
		if (e) {
			stscache_fetched(e, d->fetch_id, policy, now);
			share(s, e, now);
		} else {
			stspolicy_free(policy);
		}
	} else {
		log_event(s->log, LOGL_NOTICE, "sts-fetch", "domain", d->domain, "result",
		    r->outcome == STSFETCH_OK ? "invalid-policy" : stsfetch_outcome_name(r->outcome), "id", d->fetch_id,
		    "reason", buf_ptr(&why), NULL);
		if (e) {
			stscache_fetch_failed(e, d->fetch_id, buf_ptr(&why), now);
			said_unfetchable(s, e, buf_ptr(&why), now);
		}
	}
	buf_free(&why);
	if (e)
		(void)step(d);
	else
		end_discovery(d);
}

/* Does what the entry asks for next: true while that runs, false when
 * there was nothing more to do and the discovery has ended (d is gone). */
static bool
step(struct discovery *d)
{
	struct sts *s = d->s;
	int64_t now = s->wall(s->wall_arg);
	struct stscache_entry *e = stscache_lookup(s->cache, d->domain, true, now);
	char name[sizeof(TXT_PREFIX) + NEXTHOP_NAME_MAX];
	bool too_long = strlen(d->domain) + sizeof(TXT_PREFIX) - 1 > NEXTHOP_NAME_MAX;
	enum stscache_action next = e ? stscache_next(e, now) : STSCACHE_NOTHING;

	if (e && ask_fleet(d, e, next, now))
		return true;
	switch (next) {
	case STSCACHE_LOOKUP_TXT:
		snprintf(name, sizeof(name), "%s%s", TXT_PREFIX, d->domain);
		s->counts.txt_lookups++;
		if (!too_long && (d->txt_lookup = dns_lookup(s->dns, name, RR_TYPE_TXT, on_txt, d)) > 0)
			return true;
		/* A name too long for DNS has no record; a lookup that cannot
		 * start is as one that failed. */
		d->txt_lookup = 0;
		stscache_txt(e, too_long ? STSCACHE_TXT_ABSENT : STSCACHE_TXT_FAILED, NULL, STSCACHE_TXT_MAX_S, now);
		return step(d);
	case STSCACHE_FETCH:
		memcpy(d->fetch_id, stscache_known(e)->txt_id, sizeof(d->fetch_id));
		if ((d->job = stsfetch_start(s->fetcher, d->domain, on_fetched, d)))
			return true;
		stscache_fetch_failed(e, d->fetch_id, "the fetch could not start", now);
		return step(d);
	case STSCACHE_NOTHING:
		break;
	}
	end_discovery(d);
	return false;
}

/* ---- Lookups. ---- */

/* d: the domain's discovery, or NULL. */
static void
fill_view(const struct stscache_entry *e, const struct discovery *d, int64_t now, struct sts_view *out)
{
	out->policy = stscache_in_force(e, now);
	if (out->policy) {
		out->policy_id = stscache_known(e)->policy_id;
		out->postfix_answer = stscache_known(e)->postfix_answer;
		out->reason = stscache_known(e)->reason;
		out->fetched_at = stscache_known(e)->fetched_at;
		out->expires_at = stscache_known(e)->expires_at;
	}
	out->txt = e->txt;
	out->txt_id = e->txt == STSCACHE_TXT_ID ? stscache_known(e)->txt_id : NULL;
	out->failure = stscache_known(e)->failure;
	out->pending = d && d->first && !d->wait_over && !out->policy;
}

void
sts_lookup(struct sts *s, const char *domain, struct sts_view *out)
{
	int64_t now = s->wall(s->wall_arg);
	struct stscache_entry *e = stscache_lookup(s->cache, domain, true, now);

	struct discovery *d = find_discovery(s, domain);

	memset(out, 0, sizeof(*out));
	if (!e)
		return;
	if (!d && stscache_next(e, now) != STSCACHE_NOTHING) {
		d = start_discovery(s, domain, e->txt == STSCACHE_TXT_UNKNOWN && !stscache_known(e)->policy);
		/* It may have ended at once, and changed the cache. */
		if (!(e = stscache_lookup(s->cache, domain, false, now)))
			return;
	}
	fill_view(e, d, now, out);
}

void
sts_peek(struct sts *s, const char *domain, struct sts_view *out)
{
	int64_t now = s->wall(s->wall_arg);
	struct stscache_entry *e = stscache_lookup(s->cache, domain, false, now);

	memset(out, 0, sizeof(*out));
	if (e)
		fill_view(e, find_discovery(s, domain), now, out);
}

void
sts_forget_unused(struct sts *s, const char *domain)
{
	if (!find_discovery(s, domain))
		stscache_forget_if_empty(s->cache, domain);
}

struct sts_waiter *
sts_wait(struct sts *s, const char *domain, sts_callback *cb, void *arg)
{
	struct discovery *d = find_discovery(s, domain);
	struct sts_waiter *w;

	if (!d || !d->first || d->wait_over || !(w = calloc(1, sizeof(*w))))
		return NULL;
	w->d = d;
	w->cb = cb;
	w->arg = arg;
	list_push_back(&d->waiters, &w->link);
	return w;
}

void
sts_waiter_cancel(struct sts_waiter *w)
{
	list_remove(&w->d->waiters, &w->link);
	free(w);
}

void
sts_stats(struct sts *s, struct sts_stats *out)
{
	*out = s->counts;
	stscache_stats(s->cache, s->wall(s->wall_arg), out->by_mode, &out->bytes);
	out->domains = stscache_count(s->cache);
	out->discoveries = map_count(&s->discoveries);
}

void
sts_save(struct sts *s, struct buf *out)
{
	stscache_expire(s->cache, s->wall(s->wall_arg));
	stscache_save(s->cache, s->wall(s->wall_arg), out);
}

size_t
sts_restore(struct sts *s, const char *text, size_t len, struct buf *errors)
{
	return stscache_restore(s->cache, text, len, s->wall(s->wall_arg), errors);
}

/* No callback after this: waiters are dropped, lookups and fetches
 * cancelled. */
static void
free_discovery(void *arg, struct map_node *n)
{
	struct discovery *d = MAP_ENTRY(n, struct discovery, node);
	struct sts *s = arg;
	struct list_node *l;

	if (d->txt_lookup > 0)
		dns_cancel(s->dns, d->txt_lookup);
	if (d->job)
		stsfetch_cancel(d->job);
	fleet_cancel(d->fleet_op);
	if (d->wait_timer)
		event_free(d->wait_timer);
	while ((l = list_pop_front(&d->waiters)))
		free(LIST_ENTRY(l, struct sts_waiter, link));
	free(d);
}

void
sts_free(struct sts *s)
{
	if (!s)
		return;
	map_clear(&s->discoveries, free_discovery, s);
	stsfetch_free(s->fetcher);
	stscache_free(s->cache);
	free(s);
}
