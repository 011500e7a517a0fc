/* statusview - the status page gathered; see statusview.h. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "util/clock.h"
#include "util/netaddr.h"
#include "postfix/nexthop.h"
#include "rules/exceptions.h"
#include "probe/probestate.h"
#include "watch/alert.h"
#include "exlist.h"
#include "maillog.h"
#include "probing.h"
#include "resolvers.h"
#include "statusview.h"

struct statusview {
	uint64_t started_ms;
	struct event *minute;
	statusview_totals *totals;
	void *arg;
	struct statuspage_ring ring;
};

static uint64_t
minute_now(const struct statusview *v)
{
	return (clock_monotonic_ms() - v->started_ms) / 60000;
}

static void
on_minute(evutil_socket_t fd, short what, void *arg)
{
	struct statusview *v = arg;
	uint64_t totals[STATUSPAGE_RESULTS] = {0};

	v->totals(v->arg, totals);
	statuspage_ring_note(&v->ring, minute_now(v), totals);
}

struct statusview *
statusview_create(struct event_base *base, statusview_totals *totals, void *arg)
{
	struct statusview *v = calloc(1, sizeof(*v));
	struct timeval minute = {60, 0};

	if (!v)
		return NULL;
	v->started_ms = clock_monotonic_ms();
	v->totals = totals;
	v->arg = arg;
	if (!(v->minute = event_new(base, -1, EV_PERSIST, on_minute, v)) || event_add(v->minute, &minute) < 0) {
		statusview_free(v);
		return NULL;
	}
	on_minute(-1, 0, v);
	return v;
}

void
statusview_free(struct statusview *v)
{
	if (!v)
		return;
	if (v->minute)
		event_free(v->minute);
	free(v);
}

/* -- one page -- */

struct gather {
	struct statuspage *sp;
	const struct statusview_sources *src;
	uint64_t now_ms;
	struct statuspage_row *row;	/* the one probing_each_addr() fills */
};

static void
on_cached(void *arg, const struct policymap_cached *c)
{
	struct gather *g = arg;
	struct statuspage_row *r = statuspage_add_row(g->sp, c->key);

	if (!r)
		return;
	r->answer = c->answer;
	r->age_s = g->now_ms > c->stored_ms ? (g->now_ms - c->stored_ms) / 1000 : 0;
	r->asked_s = c->used_ms && g->now_ms > c->used_ms ? (g->now_ms - c->used_ms) / 1000 : 0;
	const char *reply = c->policy;
	if (!reply && c->answer.result == POLICY_OK && c->answer.rule <= POLICY_RULE_FAILED_HOST)
		reply = g->src->cfg->levels.level[c->answer.rule];
	/* Out of memory only leaves a cell empty. */
	(void)statuspage_set(&r->reply, reply);
	(void)statuspage_set(&r->reason, c->reason);
}

static void
on_addr(void *arg, const struct probestate_addr *a)
{
	struct gather *g = arg;
	char address[64];

	if (!a->nhistory)
		return;
	netaddr_format(&a->address, address, sizeof(address));
	(void)statuspage_add_host(g->row, a->host, address, a->port, a->history[0].class, a->history[0].unix_s);
}

/* Everything but the answer, which the cache gave. */
static void
annotate(struct gather *g, struct statuspage_row *r)
{
	const struct statusview_sources *src = g->src;
	struct nexthop nh;
	const char *why;

	if (nexthop_parse(r->dest, strlen(r->dest), &nh, &why) == 0) {
		bool automatic = false;
		const struct exception_entry *e = policymap_exception(src->pm, &nh, &automatic);
		if (e) {
			/* What Postfix gets is the exception's; the cache holds the
			 * background resolution's, which says whether it is still
			 * needed. */
			char text[512];
			snprintf(text, sizeof(text), "%s exception; DNS alone: %s (%s)", automatic ? "automatic" : "file",
			    r->reply ? r->reply : policy_result_name(r->answer.result), policy_rule_name(r->answer.rule));
			(void)statuspage_set(&r->exception, e->policy);
			(void)statuspage_set(&r->reply, e->policy);
			(void)statuspage_set(&r->reason, text);
			r->exception_auto = automatic;
			r->answer = (struct policy_answer){.result = POLICY_OK, .rule = POLICY_RULE_EXCEPTION};
		}
	}
	if (src->probing) {
		g->row = r;
		probing_each_addr(src->probing, r->dest, on_addr, g);
	}
	const struct logwatch_counts *lc = src->maillog ? maillog_counts(src->maillog, r->dest) : NULL;
	if (lc) {
		r->has_log = true;
		r->verified = lc->verified;
		r->sent = lc->sent;
		r->deferred = lc->deferred;
		r->deferred_tls = lc->deferred_tls;
		r->run_deferred_tls = lc->run_deferred_tls;
		r->log_last_seen = lc->last_seen;
	}
	uint64_t at_ms = 0;
	const char *kind = src->alerter ? alerter_last(src->alerter, r->dest, &at_ms) : NULL;
	if (kind) {
		(void)statuspage_set(&r->alert_kind, kind);
		uint64_t ago_s = g->now_ms > at_ms ? (g->now_ms - at_ms) / 1000 : 0;
		r->alert_at = g->sp->now - (int64_t)ago_s;
	}
	if (src->exlist)
		r->proposed = exlist_is_proposed(src->exlist, r->dest);
}

void
statusview_render(struct statusview *v, const struct statusview_sources *src, bool json, struct buf *out)
{
	struct statuspage sp;
	struct gather g = {.sp = &sp, .src = src, .now_ms = clock_monotonic_ms()};
	uint64_t totals[STATUSPAGE_RESULTS] = {0}, hour[STATUSPAGE_RESULTS];

	statuspage_init(&sp);
	sp.version = PACKAGE_VERSION;
	sp.now = (int64_t)time(NULL);
	sp.uptime_s = (g.now_ms - v->started_ms) / 1000;
	if (src->resolvers)
		sp.trust = resolvers_trust_state(src->resolvers);
	sp.trust_reason = policymap_untrusted_reason(src->pm);
	sp.exceptions_file = src->cfg->exceptions_file;
	if (src->exlist) {
		sp.exceptions = exlist_count(src->exlist);
		sp.exceptions_errors = exlist_errors(src->exlist);
	}
	v->totals(v->arg, totals);
	sp.hour_minutes = statuspage_ring_hour(&v->ring, minute_now(v), totals, hour);
	sp.hour_ok = hour[STATUSPAGE_OK];
	sp.hour_notfound = hour[STATUSPAGE_NOTFOUND];
	sp.hour_temp = hour[STATUSPAGE_TEMP_REPLIES];
	sp.hour_perm = hour[STATUSPAGE_PERM];
	sp.maillog = src->maillog && maillog_following(src->maillog);
	sp.probes = src->probing && probing_enabled(src->probing);

	/* The cache first, whole: policymap_exception() may not be called
	 * from within its walk. */
	sp.more = policymap_each_recent(src->pm, STATUSPAGE_MAX_ROWS, on_cached, &g);
	for (size_t i = 0; i < sp.nrows; i++)
		annotate(&g, &sp.rows[i]);
	statuspage_sort(&sp);
	if ((json ? statuspage_json(&sp, out) : statuspage_html(&sp, out)) < 0) {
		buf_reset(out);
		buf_puts(out, json ? "{\"error\":\"out of memory\"}\n" : "out of memory\n");
	}
	statuspage_free(&sp);
}
