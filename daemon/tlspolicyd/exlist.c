/* exlist - the exception list at work; see exlist.h. */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/event.h>

#include "watch/alert.h"
#include "rules/exceptions.h"
#include "exlist.h"
#include "rules/exproposal.h"
#include "probe/probe.h"

#define WATCH_EVERY_S 2
#define EXPIRY_EVERY_S 60
#define MAX_PROPOSALS 10000

struct proposal {
	char *dest;
	bool applied;		/* in the automatic list: the log corroborated it */
};

struct exlist {
	struct event_base *base;
	struct log *log;
	struct policymap *pm;
	struct alerter *alerter;
	struct config *cfg;
	struct exceptions *file;	/* in force */
	struct exceptions *automatic;	/* the applied proposals (exceptions_auto) */
	struct stat seen;		/* the file as last loaded (st_ino 0: none) */
	struct event *watch;
	int64_t expiry_checked;
	unsigned ticks;
	struct proposal *proposals;
	size_t nproposals;
	exlist_evidence *evidence;	/* Postfix's log, for exceptions_auto */
	void *evidence_arg;
};

static void
log_errors(struct log *log, const struct buf *errors)
{
	const char *p = buf_ptr(errors), *end = p + buf_size(errors);

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *line = strndup(p, n);
		log_event(log, LOGL_ERROR, "exceptions-error", "error", line ? line : "out of memory", NULL);
		free(line);
		p += n + 1;
	}
}

struct expiry {
	struct exlist *x;
	int64_t from, to;	/* log entries expiring in (from, to] */
};

static void
log_expired(void *arg, const struct exception_entry *e)
{
	struct expiry *ex = arg;
	char line[16], when[32];
	time_t t = (time_t)e->expires - 1;	/* the last second it applied */
	struct tm tm;

	if (!e->expires || e->expires <= ex->from || e->expires > ex->to)
		return;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d", &tm);
	snprintf(line, sizeof(line), "%u", e->line);
	log_event(ex->x->log, LOGL_NOTICE, "exception-expired", "name", e->name, "line", line, "expired", when,
	    "reason", "its expires= date has passed: the entry no longer applies", NULL);
}

static void
check_expiry(struct exlist *x, int64_t from, int64_t to)
{
	struct expiry ex = {x, from, to};

	if (x->file)
		exceptions_each(x->file, log_expired, &ex);
	x->expiry_checked = to;
}

/* Rebuilds the automatic list from the applied proposals. */
static void
apply(struct exlist *x)
{
	struct buf text, errors;

	exceptions_unref(x->automatic);
	x->automatic = NULL;
	buf_init(&text);
	for (size_t i = 0; i < x->nproposals; i++)
		if (x->cfg->exceptions_auto && x->proposals[i].applied)
			buf_printf(&text, "%s may\n", x->proposals[i].dest);
	if (buf_size(&text)) {
		buf_init(&errors);
		x->automatic = exceptions_parse(buf_ptr(&text), buf_size(&text), "(proposals)", &errors);
		buf_free(&errors);
	}
	buf_free(&text);
	policymap_set_exceptions(x->pm, x->file, x->automatic);
}

/* The proposal's fate under exceptions_auto: what Postfix's log says. */
static enum exproposal_verdict
judge(const struct exlist *x, const char *dest, struct exproposal_evidence *ev)
{
	struct exproposal_rules rules = {
		.enabled = x->cfg->exceptions_auto,
		.window_s = x->cfg->exceptions_auto_evidence_ms / 1000,
		.min_deferrals = x->cfg->exceptions_auto_deferrals,
	};

	memset(ev, 0, sizeof(*ev));
	rules.log_followed = x->evidence && x->evidence(x->evidence_arg, dest, ev);
	return exproposal_decide(&rules, ev, (int64_t)time(NULL));
}

/* A proposal the log now corroborates: applied, logged and alerted, since
 * DANE is off for the destination from now on without a person deciding. */
static void
apply_one(struct exlist *x, struct proposal *p, const struct exproposal_evidence *ev)
{
	char line[NEXTHOP_NAME_MAX + 8], count[24], since[24];

	p->applied = true;
	snprintf(line, sizeof(line), "%s may", p->dest);
	snprintf(count, sizeof(count), "%llu", (unsigned long long)ev->deferrals);
	snprintf(since, sizeof(since), "%lld", (long long)ev->first);
	const char *reason = "probes find every MX host failing DANE and Postfix's own deliveries have been "
	    "deferred with dsn 4.7.5 long enough (exceptions_auto): DANE is off for it until it passes again";
	const char *fields[] = {"line", line, "deferrals", count, "failing_since", since, "reason", reason, NULL};

	log_event(x->log, LOGL_NOTICE, "exception-applied", "dest", p->dest, "line", line, "deferrals", count,
	    "failing_since", since, "reason", reason, NULL);
	alerter_raise(x->alerter, "exception-applied", p->dest, fields, probe_now_ms());
}

/* Looks again at the proposals not applied yet; the log moves on. */
static void
review(struct exlist *x)
{
	struct exproposal_evidence ev;
	bool changed = false;

	if (!x->cfg->exceptions_auto)
		return;
	for (size_t i = 0; i < x->nproposals; i++) {
		struct proposal *p = &x->proposals[i];
		if (!p->applied && judge(x, p->dest, &ev) == EXPROPOSAL_APPLY) {
			apply_one(x, p, &ev);
			changed = true;
		}
	}
	if (changed)
		apply(x);
}

/* exceptions_auto without Postfix's log can never apply anything. */
static void
warn_no_evidence(struct exlist *x)
{
	if (x->cfg->exceptions_auto && !x->cfg->maillog_file[0])
		log_event(x->log, LOGL_WARNING, "exceptions-auto", "applies", "never",
		    "reason", "exceptions_auto = yes needs maillog_file: probes alone can be fooled by anyone on "
		    "the path, so without Postfix's log to corroborate them no proposal is applied", NULL);
}

/* Loads the file; 0, or -1 with its errors (the list in force stays). */
static int
load(struct exlist *x, struct buf *errors)
{
	const char *path = x->cfg->exceptions_file;
	struct stat st;
	struct exceptions *fresh;

	if (!path[0] || stat(path, &st) < 0) {
		if (path[0] && errno != ENOENT) {
			buf_printf(errors, "%s: %s\n", path, strerror(errno));
			return -1;
		}
		/* No file: no exceptions (it is looked for again and again). */
		memset(&st, 0, sizeof(st));
		fresh = exceptions_empty();
	} else if (!(fresh = exceptions_load(path, errors))) {
		x->seen = st;	/* the same broken file is not read every two seconds */
		return -1;
	}
	exceptions_unref(x->file);
	x->file = fresh;
	x->seen = st;
	policymap_unretire_all(x->pm);	/* a new list: every entry applies again */
	apply(x);
	check_expiry(x, INT64_MIN, (int64_t)time(NULL));
	return 0;
}

static void
log_loaded(struct exlist *x, const char *why)
{
	char count[24];

	snprintf(count, sizeof(count), "%zu", exceptions_count(x->file));
	log_event(x->log, LOGL_NOTICE, "exceptions-reload", "result", "ok", "file",
	    x->cfg->exceptions_file[0] ? x->cfg->exceptions_file : "(none)", "entries", count, "trigger", why, NULL);
}

static void
reload_file(struct exlist *x, const char *why)
{
	struct buf errors;

	buf_init(&errors);
	if (load(x, &errors) == 0) {
		log_loaded(x, why);
	} else {
		log_errors(x->log, &errors);
		log_event(x->log, LOGL_ERROR, "exceptions-reload", "result", "rejected", "file", x->cfg->exceptions_file,
		    "trigger", why, "reason", "the list has errors; the previous one stays in force", NULL);
	}
	buf_free(&errors);
}

static bool
changed(const struct exlist *x)
{
	struct stat st;

	if (!x->cfg->exceptions_file[0] || stat(x->cfg->exceptions_file, &st) < 0)
		return x->seen.st_ino != 0;	/* it was there and is gone */
	return st.st_ino != x->seen.st_ino || st.st_dev != x->seen.st_dev || st.st_size != x->seen.st_size ||
	    st.st_mtim.tv_sec != x->seen.st_mtim.tv_sec || st.st_mtim.tv_nsec != x->seen.st_mtim.tv_nsec;
}

static void
on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct exlist *x = arg;

	if (changed(x))
		reload_file(x, "file changed");
	if (++x->ticks * WATCH_EVERY_S >= EXPIRY_EVERY_S) {
		x->ticks = 0;
		check_expiry(x, x->expiry_checked, (int64_t)time(NULL));
	}
	review(x);
}

struct exlist *
exlist_create(struct event_base *base, struct log *log, struct policymap *pm, struct alerter *alerter,
    struct config *cfg, struct buf *err)
{
	struct exlist *x = calloc(1, sizeof(*x));
	struct timeval every = {WATCH_EVERY_S, 0};

	if (!x) {
		buf_puts(err, "out of memory\n");
		return NULL;
	}
	x->base = base;
	x->log = log;
	x->pm = pm;
	x->alerter = alerter;
	x->cfg = config_ref(cfg);
	if (load(x, err) < 0) {
		exlist_free(x);
		return NULL;
	}
	log_loaded(x, "start");
	warn_no_evidence(x);
	if (!(x->watch = event_new(base, -1, EV_PERSIST, on_watch, x)) || event_add(x->watch, &every) < 0) {
		buf_puts(err, "out of memory\n");
		exlist_free(x);
		return NULL;
	}
	return x;
}

void
exlist_reload(struct exlist *x, struct config *cfg)
{
	config_ref(cfg);
	config_unref(x->cfg);
	x->cfg = cfg;
	/* Turned off: what was applied stops at once, even if the file
	 * turns out broken; turned on again, the log must corroborate
	 * afresh. */
	if (!cfg->exceptions_auto && x->automatic) {
		for (size_t i = 0; i < x->nproposals; i++)
			x->proposals[i].applied = false;
		apply(x);
	}
	warn_no_evidence(x);
	reload_file(x, "SIGHUP");
}

void
exlist_set_evidence(struct exlist *x, exlist_evidence *evidence, void *arg)
{
	x->evidence = evidence;
	x->evidence_arg = arg;
}

static bool
proposed(const struct exlist *x, const char *dest, size_t *at)
{
	for (size_t i = 0; i < x->nproposals; i++) {
		if (strcmp(x->proposals[i].dest, dest) == 0) {
			*at = i;
			return true;
		}
	}
	return false;
}

static void
propose(struct exlist *x, const char *dest)
{
	size_t at;
	struct nexthop nh;
	const char *why;
	bool automatic;

	/* Only a domain, only once, and not when an entry covers it already. */
	if (nexthop_parse(dest, strlen(dest), &nh, &why) < 0 || nh.kind != NEXTHOP_DOMAIN || nh.port != 25 ||
	    proposed(x, dest, &at) || policymap_exception(x->pm, &nh, &automatic) ||
	    x->nproposals >= MAX_PROPOSALS)
		return;
	struct proposal *more = realloc(x->proposals, (x->nproposals + 1) * sizeof(*more));
	if (!more)
		return;
	x->proposals = more;
	struct proposal *p = &more[x->nproposals];
	if (!(p->dest = strdup(dest)))
		return;
	p->applied = false;
	x->nproposals++;
	/* Probe evidence alone applies nothing: anyone on the path to the
	 * receiver can make a probe see a wrong certificate. */
	struct exproposal_evidence ev;
	enum exproposal_verdict v = judge(x, dest, &ev);
	char line[NEXTHOP_NAME_MAX + 8];
	snprintf(line, sizeof(line), "%s may", dest);
	const char *reason = "every MX host with TLSA records fails DANE: mail to it is deferred";
	if (v != EXPROPOSAL_APPLY) {
		char text[400];
		snprintf(text, sizeof(text), "%s; not applied: %s", reason, exproposal_verdict_text(v));
		log_event(x->log, LOGL_NOTICE, "exception-proposed", "dest", dest, "line", line, "applied", "no",
		    "waiting", exproposal_verdict_name(v), "reason", text, NULL);
		return;
	}
	log_event(x->log, LOGL_NOTICE, "exception-proposed", "dest", dest, "line", line, "applied", "yes",
	    "reason", reason, NULL);
	apply_one(x, p, &ev);
	apply(x);
}

static void
fixed(struct exlist *x, const char *dest)
{
	struct nexthop nh;
	const char *why;
	bool automatic;
	size_t at;

	if (nexthop_parse(dest, strlen(dest), &nh, &why) < 0)
		return;
	const struct exception_entry *e = policymap_exception(x->pm, &nh, &automatic);
	if (proposed(x, dest, &at)) {
		/* A proposal the destination has outgrown. */
		bool was_applied = x->proposals[at].applied;
		free(x->proposals[at].dest);
		x->proposals[at] = x->proposals[--x->nproposals];
		if (was_applied)
			apply(x);
	}
	if (!e || automatic)
		return;
	char line[16];
	snprintf(line, sizeof(line), "%u", e->line);
	const char *fields[] = {
		"line", line, "policy", e->policy, "retired", x->cfg->exceptions_retire ? "yes" : "no",
		"reason", "every MX host with TLSA records now passes DANE: the exception can go", NULL,
	};
	alerter_raise(x->alerter, "exception-fixed", dest, fields, probe_now_ms());
	if (x->cfg->exceptions_retire) {
		policymap_retire(x->pm, dest);
		log_event(x->log, LOGL_NOTICE, "exception-retired", "dest", dest, "line", line,
		    "reason", "exceptions_retire = yes: no longer applied until the list is loaded again", NULL);
	}
}

void
exlist_news(void *arg, const char *dest, enum probing_news n)
{
	struct exlist *x = arg;

	if (n == PROBING_ALL_MISMATCH)
		propose(x, dest);
	else
		fixed(x, dest);
}

void
exlist_proposed(const struct exlist *x, struct buf *out)
{
	for (size_t i = 0; i < x->nproposals; i++)
		buf_printf(out, "%s may\n", x->proposals[i].dest);
}

size_t
exlist_count(const struct exlist *x)
{
	return x->file ? exceptions_count(x->file) : 0;
}

void
exlist_free(struct exlist *x)
{
	if (!x)
		return;
	if (x->watch)
		event_free(x->watch);
	exceptions_unref(x->file);
	exceptions_unref(x->automatic);
	for (size_t i = 0; i < x->nproposals; i++)
		free(x->proposals[i].dest);
	free(x->proposals);
	config_unref(x->cfg);
	free(x);
}
