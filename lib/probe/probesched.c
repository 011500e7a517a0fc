/* probesched - when to probe, and what; see probesched.h. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "probe/probesched.h"

struct probesched {
	struct probestate *state;
	struct probesched_ops ops;
	struct probesched_settings settings;
	char *demanded[PROBESCHED_MAX_DEMANDS];	/* to probe at their next resolution */
	size_t ndemanded;
};

struct probesched *
probesched_create(struct probestate *state, const struct probesched_ops *ops,
    const struct probesched_settings *settings)
{
	struct probesched *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->state = state;
	s->ops = *ops;
	s->settings = *settings;
	return s;
}

void
probesched_set(struct probesched *s, const struct probesched_settings *settings)
{
	s->settings = *settings;
}

void
probesched_free(struct probesched *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ndemanded; i++)
		free(s->demanded[i]);
	free(s);
}

static bool
take_demand(struct probesched *s, const char *dest)
{
	for (size_t i = 0; i < s->ndemanded; i++) {
		if (strcmp(s->demanded[i], dest) == 0) {
			free(s->demanded[i]);
			s->demanded[i] = s->demanded[--s->ndemanded];
			return true;
		}
	}
	return false;
}

int
probesched_demand(struct probesched *s, const char *dest)
{
	take_demand(s, dest);	/* once each */
	if (s->ndemanded >= PROBESCHED_MAX_DEMANDS)
		return -1;
	if (!(s->demanded[s->ndemanded] = strdup(dest)))
		return -1;
	s->ndemanded++;
	return 0;
}

/* A result younger than the interval, found for another destination with
 * the same host: recorded for this one instead of a probe. */
static bool
reuse_recent(struct probesched *s, const char *dest, const struct probe_target *t)
{
	bool usable;
	const struct probestate_record *rec = probestate_latest(s->state, t->host, &t->address, t->port, &usable);

	if (!rec || (s->ops.unix_s(s->ops.arg) - rec->unix_s) * 1000 >= (int64_t)s->settings.interval_ms)
		return false;
	struct probestate_record copy = *rec;	/* the state may move it */
	probestate_record_shared(s->state, dest, t->host, &t->address, t->port, usable, &copy);
	s->ops.reused(s->ops.arg, dest);
	return true;
}

/* fresh: the plan of a resolution (refusals are reported); demanded: an
 * administrator asked (no reuse, no waiting). */
static void
submit_plan(struct probesched *s, const char *dest, bool fresh, bool demanded)
{
	struct probeplan stored, *plan = &stored;

	probestate_get_plan(s->state, dest, &stored);
	probestate_probed(s->state, dest, s->ops.now_ms(s->ops.arg));
	for (size_t i = 0; i < plan->n; i++) {
		const struct probeplan_item *it = &plan->items[i];
		if (it->refused) {
			if (fresh)
				s->ops.refused(s->ops.arg, plan->dest, it);
			continue;
		}
		if (it->over_limit || (!demanded && reuse_recent(s, plan->dest, &it->target)))
			continue;
		s->ops.submit(s->ops.arg, plan->dest, &it->target, demanded);
	}
	probeplan_free(&stored);
}

void
probesched_resolved(struct probesched *s, const struct resolve_result *r)
{
	struct probeplan_settings ps = {
		.allow_private = s->settings.allow_private,
		.address_limit = s->settings.address_limit,
	};
	struct probeplan plan;

	if (r->answer.result != POLICY_OK)
		return;
	if (!ps.allow_private)
		ps.own = s->ops.own(s->ops.arg, &ps.nown);
	if (probeplan_build(r, &ps, &plan) < 0 || plan.n == 0) {
		probeplan_free(&plan);
		return;
	}
	char dest[sizeof(plan.dest)];
	memcpy(dest, plan.dest, sizeof(dest));	/* the state takes the plan over */
	bool demanded = take_demand(s, dest);
	if (probestate_plan(s->state, &plan, s->ops.now_ms(s->ops.arg), s->settings.interval_ms) || demanded)
		submit_plan(s, dest, true, demanded);
}

static void
probe_again(void *arg, const char *dest)
{
	struct probesched *s = arg;
	uint64_t now = s->ops.now_ms(s->ops.arg);
	uint64_t asked = s->ops.last_asked(s->ops.arg, dest);

	/* Only while Postfix keeps asking for it. */
	if (!asked || now - asked > s->settings.interval_ms)
		return;
	submit_plan(s, dest, false, false);
}

void
probesched_tick(struct probesched *s)
{
	probestate_each_due(s->state, s->ops.now_ms(s->ops.arg), s->settings.interval_ms, probe_again, s);
}

uint64_t
probesched_tick_ms(uint64_t interval_ms)
{
	/* Looking a few times per interval keeps a re-probe close to due. */
	return interval_ms / 4 < PROBESCHED_MAX_TICK_MS ? interval_ms / 4 : PROBESCHED_MAX_TICK_MS;
}
