/* exlist - the exception list at work; see exlist.h. */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/event.h>

#include "util/clock.h"
#include "watch/alert.h"
#include "rules/exceptions.h"
#include "exlist.h"
#include "rules/exlifecycle.h"
#include "watch/exshare.h"
#include "probe/probe.h"

#define WATCH_EVERY_S 2
#define EXPIRY_EVERY_S 60

struct exlist {
	struct event_base *base;
	struct log *log;
	struct policymap *pm;
	struct alerter *alerter;
	struct config *cfg;
	struct exceptions *file;	/* in force */
	struct exceptions *automatic;	/* the applied proposals (exceptions_auto) */
	struct exlifecycle *life;	/* proposals, and what becomes of them */
	struct stat seen;		/* the file as last loaded (st_ino 0: none) */
	struct event *watch;
	int64_t expiry_checked;
	unsigned ticks;
	exlist_evidence *evidence;	/* Postfix's log, for exceptions_auto */
	void *evidence_arg;
	struct exshare *share;		/* with a fleet: every relay's proposals */
	char *errors;			/* the last load's, or NULL when it loaded */
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

static void
log_expired(void *arg, const struct exception_entry *e, const char *day)
{
	struct exlist *x = arg;
	char line[16];

	snprintf(line, sizeof(line), "%u", e->line);
	log_event(x->log, LOGL_NOTICE, "exception-expired", "name", e->name, "line", line, "expired", day,
	    "reason", "its expires= date has passed: the entry no longer applies", NULL);
}

/* Logs the entries expiring in (from, to]. */
static void
check_expiry(struct exlist *x, int64_t from, int64_t to)
{
	exlifecycle_each_expired(x->file, from, to, log_expired, x);
	x->expiry_checked = to;
}

/* Hands the lists in force to the policy map: the file, and the applied
 * proposals as they are now. */
static void
apply(struct exlist *x)
{
	exceptions_unref(x->automatic);
	x->automatic = exlifecycle_automatic(x->life);
	policymap_set_exceptions(x->pm, x->file, x->automatic);
}

/* A proposal the log now corroborates: logged and alerted, since DANE is
 * off for the destination from now on without a person deciding. */
static void
log_applied(void *arg, const char *dest, const struct exproposal_evidence *ev)
{
	struct exlist *x = arg;
	char line[NEXTHOP_NAME_MAX + 8], count[24], since[24];

	snprintf(line, sizeof(line), "%s may", dest);
	snprintf(count, sizeof(count), "%llu", (unsigned long long)ev->deferrals);
	snprintf(since, sizeof(since), "%lld", (long long)ev->first);
	const char *reason = "probes find every MX host failing DANE and Postfix's own deliveries have been "
	    "deferred with dsn 4.7.5 long enough (exceptions_auto): DANE is off for it until it passes again";
	const char *fields[] = {"line", line, "deferrals", count, "failing_since", since, "reason", reason, NULL};

	log_event(x->log, LOGL_NOTICE, "exception-applied", "dest", dest, "line", line, "deferrals", count,
	    "failing_since", since, "reason", reason, NULL);
	alerter_raise(x->alerter, "exception-applied", dest, fields, clock_monotonic_ms());
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
	free(x->errors);
	x->errors = NULL;
	if (load(x, &errors) == 0) {
		log_loaded(x, why);
	} else {
		if (buf_terminate(&errors) == 0)
			x->errors = strdup(buf_ptr(&errors));
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
	/* The proposals waiting: the log moves on. */
	if (exlifecycle_review(x->life, (int64_t)time(NULL), log_applied, x))
		apply(x);
}

static struct exlifecycle_settings
life_settings(const struct config *cfg)
{
	struct exlifecycle_settings s = {
		.auto_apply = cfg->exceptions_auto,
		.window_s = cfg->exceptions_auto_evidence_ms / 1000,
		.min_deferrals = cfg->exceptions_auto_deferrals,
		.retire = cfg->exceptions_retire,
	};
	return s;
}

/* The lifecycle's seams: Postfix's log, and the lists in force as the
 * policy map applies them. */
static bool
life_evidence(void *arg, const char *dest, struct exproposal_evidence *out)
{
	struct exlist *x = arg;

	return x->evidence && x->evidence(x->evidence_arg, dest, out);
}

static const struct exception_entry *
life_covering(void *arg, const struct nexthop *nh, bool *automatic)
{
	struct exlist *x = arg;

	return policymap_exception(x->pm, nh, automatic);
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
	struct exlifecycle_settings ls = life_settings(cfg);
	struct exlifecycle_ops ops = {.evidence = life_evidence, .covering = life_covering, .arg = x};
	if (!(x->life = exlifecycle_create(&ls, &ops))) {
		buf_puts(err, "out of memory\n");
		exlist_free(x);
		return NULL;
	}
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
	struct exlifecycle_settings ls = life_settings(cfg);

	config_ref(cfg);
	config_unref(x->cfg);
	x->cfg = cfg;
	/* exceptions_auto turned off: what was applied stops at once, even
	 * if the file turns out broken. */
	if (exlifecycle_set(x->life, &ls))
		apply(x);
	warn_no_evidence(x);
	reload_file(x, "SIGHUP");
}

void
exlist_set_evidence(struct exlist *x, exlist_evidence *evidence, void *arg)
{
	x->evidence = evidence;
	x->evidence_arg = arg;
}

static void
propose(struct exlist *x, const char *dest)
{
	struct exlifecycle_verdict v;
	char line[NEXTHOP_NAME_MAX + 8], text[400];
	const char *reason = "every MX host with TLSA records fails DANE: mail to it is deferred";

	enum exlifecycle_proposal what = exlifecycle_mismatch(x->life, dest, (int64_t)time(NULL), &v);
	if (what == EXLIFECYCLE_IGNORED)
		return;
	snprintf(line, sizeof(line), "%s may", dest);
	if (x->share)
		exshare_propose(x->share, dest, what == EXLIFECYCLE_APPLIED, &v.evidence, (int64_t)time(NULL));
	if (what == EXLIFECYCLE_WAITING) {
		snprintf(text, sizeof(text), "%s; not applied: %s", reason, exproposal_verdict_text(v.verdict));
		log_event(x->log, LOGL_NOTICE, "exception-proposed", "dest", dest, "line", line, "applied", "no",
		    "waiting", exproposal_verdict_name(v.verdict), "reason", text, NULL);
		return;
	}
	log_event(x->log, LOGL_NOTICE, "exception-proposed", "dest", dest, "line", line, "applied", "yes",
	    "reason", reason, NULL);
	log_applied(x, dest, &v.evidence);
	apply(x);
}

static void
fixed(struct exlist *x, const char *dest)
{
	struct exlifecycle_fix fix;
	char line[16];

	exlifecycle_verified(x->life, dest, &fix);
	if (x->share && fix.withdrawn)
		exshare_withdraw(x->share, dest);
	if (fix.list_changed)
		apply(x);
	if (!fix.entry)
		return;
	snprintf(line, sizeof(line), "%u", fix.entry->line);
	const char *fields[] = {
		"line", line, "policy", fix.entry->policy, "retired", fix.retire ? "yes" : "no",
		"reason", "every MX host with TLSA records now passes DANE: the exception can go", NULL,
	};
	alerter_raise(x->alerter, "exception-fixed", dest, fields, clock_monotonic_ms());
	if (fix.retire) {
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
	exlifecycle_proposed(x->life, out);
}

int
exlist_set_fleet(struct exlist *x, struct fleet *fleet)
{
	if (fleet && !(x->share = exshare_create(fleet)))
		return -1;
	return 0;
}

int
exlist_fleet_proposed(struct exlist *x, exshare_listed *cb, void *arg)
{
	return x->share ? exshare_list(x->share, cb, arg) : -1;
}

bool
exlist_is_proposed(const struct exlist *x, const char *dest)
{
	bool applied;

	return exlifecycle_is_proposed(x->life, dest, &applied) && !applied;
}

const char *
exlist_errors(const struct exlist *x)
{
	return x->errors;
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
	exlifecycle_free(x->life);
	exshare_free(x->share);
	config_unref(x->cfg);
	free(x->errors);
	free(x);
}
