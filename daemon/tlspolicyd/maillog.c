/* maillog - Postfix's log followed by the daemon; see maillog.h. */
#include "autoconfig.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "util/clock.h"
#include "watch/alert.h"
#include "util/kv.h"
#include "maillog.h"
#include "probe/probe.h"
#include "util/tail.h"
#include "watch/logshare.h"

#define POLL_EVERY_MS 1000
/* Destinations whose counts are kept; the one seen longest ago goes first. */
#define MAX_DESTS 10000

struct maillog {
	struct event_base *base;
	struct log *log;
	struct alerter *alerter;
	struct logwatch *lw;
	char *path;		/* "": not following; "-": standard input */
	struct tail *tail;
	struct event *ev;
	bool read_failed;	/* logged once until a read succeeds */
	struct logshare *share;	/* with a fleet: every relay's counts */
	struct event *share_timer;
};

static void
on_alert(void *arg, const char *kind, const char *dest, const char *detail)
{
	struct maillog *m = arg;
	const char *fields[] = {"detail", detail, "source", "maillog", NULL};

	alerter_raise(m->alerter, kind, dest && dest[0] ? dest : "-", fields, clock_monotonic_ms());
}

static void
on_line(void *arg, const char *text, size_t len)
{
	struct maillog *m = arg;

	logwatch_line(m->lw, text, len, (int64_t)time(NULL));
}

static void
on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct maillog *m = arg;

	if (tail_poll(m->tail, on_line, m) < 0) {
		if (!m->read_failed)
			log_event(m->log, LOGL_WARNING, "maillog-error", "file", m->path, "error", strerror(errno),
			    "reason", "reading Postfix's log failed; trying again", NULL);
		m->read_failed = true;
		return;
	}
	m->read_failed = false;
	if (tail_eof(m->tail)) {
		event_del(m->ev);
		log_event(m->log, LOGL_NOTICE, "maillog-eof", "file", "-",
		    "reason", "standard input ended: Postfix's log is no longer followed", NULL);
	}
}

static void
stop(struct maillog *m)
{
	if (m->ev)
		event_free(m->ev);
	tail_close(m->tail);
	free(m->path);
	m->ev = NULL;
	m->tail = NULL;
	m->path = NULL;
}

static int
start(struct maillog *m, const char *path, char *err, size_t errlen)
{
	bool from_stdin = strcmp(path, "-") == 0;
	struct timeval every = {POLL_EVERY_MS / 1000, (POLL_EVERY_MS % 1000) * 1000};

	if (!(m->path = strdup(path))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (!path[0])
		return 0;
	/* From the end: what Postfix logged before the daemon started is not news. */
	if (!(m->tail = tail_open(path, true))) {
		snprintf(err, errlen, "maillog_file %s: %s (the daemon's user must be able to read it)", path,
		    strerror(errno));
		return -1;
	}
	/* A pipe is read as it comes; a file, and standard input redirected
	 * from one (which epoll refuses), is polled. */
	if (from_stdin) {
		m->ev = event_new(m->base, tail_fd(m->tail), EV_READ | EV_PERSIST, on_ready, m);
		if (m->ev && event_add(m->ev, NULL) == 0)
			return 0;
		if (m->ev)
			event_free(m->ev);
	}
	m->ev = event_new(m->base, -1, EV_PERSIST, on_ready, m);
	if (!m->ev || event_add(m->ev, &every) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

struct maillog *
maillog_create(struct event_base *base, struct log *log, struct alerter *alerter, const struct config *cfg,
    char *err, size_t errlen)
{
	struct maillog *m = calloc(1, sizeof(*m));

	if (!m || !(m->lw = logwatch_create(MAX_DESTS, on_alert, m))) {
		free(m);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->base = base;
	m->log = log;
	m->alerter = alerter;
	if (start(m, cfg->maillog_file, err, errlen) < 0) {
		maillog_free(m);
		return NULL;
	}
	return m;
}

void
maillog_reload(struct maillog *m, const struct config *cfg)
{
	char err[512];

	if (strcmp(m->path ? m->path : "", cfg->maillog_file) == 0)
		return;
	stop(m);
	if (start(m, cfg->maillog_file, err, sizeof(err)) < 0) {
		log_event(m->log, LOGL_ERROR, "maillog-error", "file", cfg->maillog_file, "error", err,
		    "reason", "Postfix's log is not followed until this is fixed and the daemon reloaded", NULL);
		stop(m);
	}
}

static void
add_counts(void *arg, const char *dest, const struct logwatch_counts *c)
{
	logwatch_counts_add(arg, c);
}

void
maillog_totals(const struct maillog *m, struct logwatch_counts *sum, size_t *lines)
{
	memset(sum, 0, sizeof(*sum));
	logwatch_each(m->lw, add_counts, sum);
	*lines = logwatch_lines(m->lw);
}

const struct logwatch_counts *
maillog_counts(const struct maillog *m, const char *dest)
{
	return logwatch_counts(m->lw, dest);
}

bool
maillog_following(const struct maillog *m)
{
	return m->path && m->path[0];
}

bool
maillog_evidence(void *arg, const char *dest, struct exproposal_evidence *out)
{
	const struct maillog *m = arg;

	memset(out, 0, sizeof(*out));
	if (!m->path || !m->path[0])
		return false;
	const struct logwatch_counts *c = logwatch_counts(m->lw, dest);
	if (c) {
		out->deferrals = c->run_deferred_tls;
		out->first = c->run_first;
		out->last = c->run_last;
	}
	return true;
}

void
maillog_report(const struct maillog *m, const char *dest, struct buf *out)
{
	kv_str(out, "file", m->path && m->path[0] ? m->path : "(none)");
	kv_uint(out, "lines", logwatch_lines(m->lw));
	if (dest) {
		const struct logwatch_counts *c = logwatch_counts(m->lw, dest);
		kv_str(out, "dest", dest);
		kv_str(out, "seen", c ? "yes" : "no");
		if (c) {
			logwatch_counts_format(c, out);
			kv_str(out, "last_verified", c->last_verified ? "yes" : "no");
			/* The run that corroborates probes for exceptions_auto. */
			kv_uint(out, "failing_deferrals", c->run_deferred_tls);
			kv_uint(out, "failing_since", (uint64_t)(c->run_first > 0 ? c->run_first : 0));
		}
		return;
	}
	struct logwatch_counts sum;
	size_t lines;
	maillog_totals(m, &sum, &lines);
	logwatch_counts_format(&sum, out);
}

static void
on_share(evutil_socket_t fd, short what, void *arg)
{
	struct maillog *m = arg;

	logshare_publish(m->share, m->lw, (int64_t)time(NULL));
}

int
maillog_set_fleet(struct maillog *m, struct fleet *fleet)
{
	struct timeval every = {MAILLOG_SHARE_INTERVAL_S, 0};

	if (!fleet)
		return 0;
	if (!(m->share = logshare_create(fleet)) || !(m->share_timer = event_new(m->base, -1, EV_PERSIST, on_share, m)) ||
	    event_add(m->share_timer, &every) < 0)
		return -1;
	return 0;
}

int
maillog_fleet_view(struct maillog *m, const char *dest, logshare_viewed *cb, void *arg)
{
	return m->share ? logshare_view(m->share, dest, cb, arg) : -1;
}

void
maillog_free(struct maillog *m)
{
	if (!m)
		return;
	if (m->share_timer)
		event_free(m->share_timer);
	logshare_free(m->share);
	stop(m);
	logwatch_free(m->lw);
	free(m);
}
