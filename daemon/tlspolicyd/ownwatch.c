/* ownwatch - monitor_domains watched; see ownwatch.h. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ownaddr.h"
#include "probe/probe.h"
#include "selfcheck/monitor.h"
#include "selfcheck/selfcheck.h"
#include "selfcheck/selfrun.h"
#include "selfcheck/zonecheck.h"
#include "ownwatch.h"

/* The first checks wait this long after the start, or one interval if
 * that is shorter. */
#define FIRST_CHECK_MS 10000

struct ownwatch {
	struct event_base *base;
	struct log *log;
	struct dns *dns;
	struct alerter *alerter;
	struct probe_env *env;		/* made with the first monitor */
	struct selfrun *sr;		/* the monitor's */
	struct monitor *monitor;	/* NULL while nothing is watched */
	uint64_t checks_before;		/* by monitors freed since the start */
};

static bool
watching(const struct config *cfg)
{
	return cfg->monitor_domains && cfg->monitor_domains[0];
}

/* The runner's settings from cfg; *own is the caller's to free. */
static int
run_settings(const struct config *cfg, struct selfrun_settings *s, struct netaddr **own, char *err, size_t errlen)
{
	*s = (struct selfrun_settings){.days = SELFCHECK_DEFAULT_DAYS, .check_sts = true,
	    .rrsig_days = ZONECHECK_DEFAULT_RRSIG_DAYS, .zone = zonecheck_default_settings()};
	*own = NULL;
	s->plan.allow_private = s->zone.allow_private = cfg->probe_allow_private;
	s->sts = stsfetch_settings_from_config(cfg);
	if (ownaddr_load(own, &s->plan.nown, err, errlen) < 0)
		return -1;
	s->plan.own = *own;
	return 0;
}

static int
start(struct ownwatch *w, const struct config *cfg, char *err, size_t errlen)
{
	struct selfrun_settings rs;
	struct netaddr *own;
	struct monitor_settings ms = {cfg->monitor_domains, cfg->monitor_interval_ms};
	uint64_t first = ms.interval_ms < FIRST_CHECK_MS ? ms.interval_ms : FIRST_CHECK_MS;

	if (!w->env && !(w->env = probe_env_from_config(cfg, true, err, errlen)))
		return -1;
	if (run_settings(cfg, &rs, &own, err, errlen) < 0)
		return -1;
	w->sr = selfrun_create(w->base, w->dns, w->env, &rs, err, errlen);
	free(own);
	if (!w->sr)
		return -1;
	if (!(w->monitor = monitor_create(w->base, w->sr, w->alerter, w->log, &ms, first))) {
		w->sr = NULL;	/* freed by the failed create */
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

struct ownwatch *
ownwatch_create(struct event_base *base, struct log *log, struct dns *dns, struct alerter *alerter,
    const struct config *cfg, char *err, size_t errlen)
{
	struct ownwatch *w = calloc(1, sizeof(*w));

	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	*w = (struct ownwatch){.base = base, .log = log, .dns = dns, .alerter = alerter};
	if (watching(cfg) && start(w, cfg, err, errlen) < 0) {
		ownwatch_free(w);
		return NULL;
	}
	return w;
}

void
ownwatch_reload(struct ownwatch *w, const struct config *cfg)
{
	struct selfrun_settings rs;
	struct monitor_settings ms = {cfg->monitor_domains, cfg->monitor_interval_ms};
	struct netaddr *own;
	char err[512] = "out of memory";

	if (!watching(cfg)) {
		if (w->monitor)
			w->checks_before += monitor_checks(w->monitor);
		monitor_free(w->monitor);
		w->monitor = NULL;
		w->sr = NULL;
		return;
	}
	if (!w->monitor) {
		if (start(w, cfg, err, sizeof(err)) < 0)
			log_event(w->log, LOGL_ERROR, "selfcheck", "error", err, "reason",
			    "monitor_domains are not watched", NULL);
		return;
	}
	if (run_settings(cfg, &rs, &own, err, sizeof(err)) < 0 || selfrun_set(w->sr, &rs) < 0 ||
	    monitor_set(w->monitor, &ms) < 0)
		log_event(w->log, LOGL_ERROR, "selfcheck", "error", err, "reason",
		    "the monitor goes on with its previous settings", NULL);
	free(own);
}

void
ownwatch_free(struct ownwatch *w)
{
	if (!w)
		return;
	monitor_free(w->monitor);
	probe_env_free(w->env);
	free(w);
}

struct status_sink {
	daemonmetrics_alert_count *each;
	void *arg;
};

static void
each_status(void *arg, const char *domain, int status)
{
	struct status_sink *to = arg;

	if (status >= 0)
		to->each(to->arg, domain, (uint64_t)status);
}

static void
monitor_statuses(void *arg, daemonmetrics_alert_count *each, void *each_arg)
{
	struct status_sink to = {each, each_arg};

	monitor_each(arg, each_status, &to);
}

void
ownwatch_metrics(struct ownwatch *w, struct daemonmetrics *m)
{
	if (!w)
		return;
	m->monitor_checks = w->checks_before;
	if (!w->monitor)
		return;
	m->monitor_checks += monitor_checks(w->monitor);
	m->monitor = monitor_statuses;
	m->monitor_arg = w->monitor;
}
