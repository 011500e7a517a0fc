/* exlist - the exception list at work; see exlist.h. */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/event.h>

#include "alert.h"
#include "exceptions.h"
#include "exlist.h"
#include "probe.h"

#define WATCH_EVERY_S 2
#define EXPIRY_EVERY_S 60
#define MAX_PROPOSALS 10000

struct exlist {
	struct event_base *base;
	struct log *log;
	struct policymap *pm;
	struct alerter *alerter;
	struct config *cfg;
	struct exceptions *file;	/* in force */
	struct exceptions *automatic;	/* the proposals, when exceptions_auto */
	struct stat seen;		/* the file as last loaded (st_ino 0: none) */
	struct event *watch;
	int64_t expiry_checked;
	unsigned ticks;
	char **proposals;
	size_t nproposals;
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

/* Rebuilds the automatic list from the proposals (exceptions_auto). */
static void
apply(struct exlist *x)
{
	exceptions_unref(x->automatic);
	x->automatic = NULL;
	if (x->cfg->exceptions_auto && x->nproposals) {
		struct buf text, errors;
		buf_init(&text);
		buf_init(&errors);
		for (size_t i = 0; i < x->nproposals; i++)
			buf_printf(&text, "%s may\n", x->proposals[i]);
		x->automatic = exceptions_parse(buf_ptr(&text), buf_size(&text), "(proposals)", &errors);
		buf_free(&text);
		buf_free(&errors);
	}
	policymap_set_exceptions(x->pm, x->file, x->automatic);
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
	reload_file(x, "SIGHUP");
}

static bool
proposed(const struct exlist *x, const char *dest, size_t *at)
{
	for (size_t i = 0; i < x->nproposals; i++) {
		if (strcmp(x->proposals[i], dest) == 0) {
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
	char **more = realloc(x->proposals, (x->nproposals + 1) * sizeof(*more));
	if (!more || !(more[x->nproposals] = strdup(dest))) {
		if (more)
			x->proposals = more;
		return;
	}
	x->proposals = more;
	x->nproposals++;
	char line[NEXTHOP_NAME_MAX + 8];
	snprintf(line, sizeof(line), "%s may", dest);
	log_event(x->log, LOGL_NOTICE, "exception-proposed", "dest", dest, "line", line,
	    "applied", x->cfg->exceptions_auto ? "yes" : "no",
	    "reason", "every MX host with TLSA records fails DANE: mail to it is deferred", NULL);
	if (x->cfg->exceptions_auto)
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
		free(x->proposals[at]);
		x->proposals[at] = x->proposals[--x->nproposals];
		if (automatic)
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
		buf_printf(out, "%s may\n", x->proposals[i]);
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
		free(x->proposals[i]);
	free(x->proposals);
	config_unref(x->cfg);
	free(x);
}
