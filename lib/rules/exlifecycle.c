/* exlifecycle - proposed, automatic and retired exceptions; see exlifecycle.h. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rules/exlifecycle.h"

struct proposal {
	char *dest;
	bool applied;		/* in the automatic list: the log corroborated it */
};

struct exlifecycle {
	struct exlifecycle_settings settings;
	struct exlifecycle_ops ops;
	struct proposal *proposals;
	size_t n;
};

struct exlifecycle *
exlifecycle_create(const struct exlifecycle_settings *s, const struct exlifecycle_ops *ops)
{
	struct exlifecycle *lc = calloc(1, sizeof(*lc));

	if (!lc)
		return NULL;
	lc->settings = *s;
	lc->ops = *ops;
	return lc;
}

void
exlifecycle_free(struct exlifecycle *lc)
{
	if (!lc)
		return;
	for (size_t i = 0; i < lc->n; i++)
		free(lc->proposals[i].dest);
	free(lc->proposals);
	free(lc);
}

static bool
any_applied(const struct exlifecycle *lc)
{
	for (size_t i = 0; i < lc->n; i++)
		if (lc->proposals[i].applied)
			return true;
	return false;
}

bool
exlifecycle_set(struct exlifecycle *lc, const struct exlifecycle_settings *s)
{
	bool undo = !s->auto_apply && any_applied(lc);

	lc->settings = *s;
	/* Turned off: what was applied stops at once; turned on again, the
	 * log must corroborate afresh. */
	if (undo)
		for (size_t i = 0; i < lc->n; i++)
			lc->proposals[i].applied = false;
	return undo;
}

static struct proposal *
find(const struct exlifecycle *lc, const char *dest)
{
	for (size_t i = 0; i < lc->n; i++)
		if (strcmp(lc->proposals[i].dest, dest) == 0)
			return &lc->proposals[i];
	return NULL;
}

/* The proposal's fate under exceptions_auto: what Postfix's log says. */
static enum exproposal_verdict
judge(const struct exlifecycle *lc, const char *dest, int64_t now, struct exproposal_evidence *ev)
{
	struct exproposal_rules rules = {
		.enabled = lc->settings.auto_apply,
		.window_s = lc->settings.window_s,
		.min_deferrals = lc->settings.min_deferrals,
	};

	memset(ev, 0, sizeof(*ev));
	rules.log_followed = lc->ops.evidence && lc->ops.evidence(lc->ops.arg, dest, ev);
	return exproposal_decide(&rules, ev, now);
}

enum exlifecycle_proposal
exlifecycle_mismatch(struct exlifecycle *lc, const char *dest, int64_t now, struct exlifecycle_verdict *out)
{
	struct nexthop nh;
	const char *why;
	bool automatic;

	memset(out, 0, sizeof(*out));
	/* Only a domain, only once, and not when an entry covers it already. */
	if (nexthop_parse(dest, strlen(dest), &nh, &why) < 0 || nh.kind != NEXTHOP_DOMAIN || nh.port != 25 ||
	    find(lc, dest) || lc->ops.covering(lc->ops.arg, &nh, &automatic) || lc->n >= EXLIFECYCLE_MAX_PROPOSALS)
		return EXLIFECYCLE_IGNORED;
	struct proposal *more = realloc(lc->proposals, (lc->n + 1) * sizeof(*more));
	if (!more)
		return EXLIFECYCLE_IGNORED;
	lc->proposals = more;
	struct proposal *p = &more[lc->n];
	if (!(p->dest = strdup(dest)))
		return EXLIFECYCLE_IGNORED;
	lc->n++;
	/* Probe evidence alone applies nothing: anyone on the path to the
	 * receiver can make a probe see a wrong certificate. */
	out->verdict = judge(lc, dest, now, &out->evidence);
	p->applied = out->verdict == EXPROPOSAL_APPLY;
	return p->applied ? EXLIFECYCLE_APPLIED : EXLIFECYCLE_WAITING;
}

bool
exlifecycle_review(struct exlifecycle *lc, int64_t now,
    void (*applied)(void *arg, const char *dest, const struct exproposal_evidence *ev), void *arg)
{
	struct exproposal_evidence ev;
	bool changed = false;

	if (!lc->settings.auto_apply)
		return false;
	for (size_t i = 0; i < lc->n; i++) {
		struct proposal *p = &lc->proposals[i];
		if (!p->applied && judge(lc, p->dest, now, &ev) == EXPROPOSAL_APPLY) {
			p->applied = changed = true;
			applied(arg, p->dest, &ev);
		}
	}
	return changed;
}

void
exlifecycle_verified(struct exlifecycle *lc, const char *dest, struct exlifecycle_fix *out)
{
	struct nexthop nh;
	const char *why;
	bool automatic;

	memset(out, 0, sizeof(*out));
	if (nexthop_parse(dest, strlen(dest), &nh, &why) < 0)
		return;
	/* Asked before the proposal goes: an automatic entry is the proposal's. */
	const struct exception_entry *e = lc->ops.covering(lc->ops.arg, &nh, &automatic);
	struct proposal *p = find(lc, dest);
	if (p) {
		/* A proposal the destination has outgrown. */
		out->withdrawn = true;
		out->list_changed = p->applied;
		free(p->dest);
		*p = lc->proposals[--lc->n];
	}
	if (e && !automatic) {
		out->entry = e;
		out->retire = lc->settings.retire;
	}
}

struct exceptions *
exlifecycle_automatic(const struct exlifecycle *lc)
{
	struct exceptions *list = NULL;
	struct buf text, errors;

	buf_init(&text);
	for (size_t i = 0; i < lc->n; i++)
		if (lc->settings.auto_apply && lc->proposals[i].applied)
			buf_printf(&text, "%s may\n", lc->proposals[i].dest);
	if (buf_size(&text)) {
		buf_init(&errors);
		list = exceptions_parse(buf_ptr(&text), buf_size(&text), "(proposals)", &errors);
		buf_free(&errors);
	}
	buf_free(&text);
	return list;
}

void
exlifecycle_proposed(const struct exlifecycle *lc, struct buf *out)
{
	for (size_t i = 0; i < lc->n; i++)
		buf_printf(out, "%s may\n", lc->proposals[i].dest);
}

bool
exlifecycle_is_proposed(const struct exlifecycle *lc, const char *dest, bool *applied)
{
	for (size_t i = 0; i < lc->n; i++)
		if (strcmp(lc->proposals[i].dest, dest) == 0) {
			*applied = lc->proposals[i].applied;
			return true;
		}
	return false;
}

struct expiry {
	int64_t from, to;
	void (*fn)(void *arg, const struct exception_entry *e, const char *day);
	void *arg;
};

static void
expired_one(void *arg, const struct exception_entry *e)
{
	struct expiry *x = arg;
	time_t last = (time_t)e->expires - 1;	/* the last second it applied */
	char day[32];
	struct tm tm;

	if (!e->expires || e->expires <= x->from || e->expires > x->to)
		return;
	gmtime_r(&last, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	x->fn(x->arg, e, day);
}

void
exlifecycle_each_expired(const struct exceptions *list, int64_t from, int64_t to,
    void (*fn)(void *arg, const struct exception_entry *e, const char *day), void *arg)
{
	struct expiry x = {from, to, fn, arg};

	if (list)
		exceptions_each(list, expired_one, &x);
}
