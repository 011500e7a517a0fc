/*
 * monitor - the daemon's own domains checked on a timer (monitor.h).
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "util/buf.h"
#include "util/clock.h"
#include "util/list.h"
#include "util/log.h"
#include "watch/alert.h"
#include "selfcheck/checklist.h"
#include "selfcheck/checkprint.h"
#include "selfcheck/monitor.h"
#include "selfcheck/selfrun.h"

/* The code a check that could not look counts under. */
#define UNCHECKED_CODE "unchecked"

static void
problem_free(struct monitor_problem *p)
{
	free(p->host);
	free(p->address);
}

static void
problems_free(struct monitor_problem *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		problem_free(&p[i]);
	free(p);
}

void
monitor_memory_free(struct monitor_memory *m)
{
	problems_free(m->last, m->nlast);
	problems_free(m->told, m->ntold);
	memset(m, 0, sizeof(*m));
}

void
monitor_news_init(struct monitor_news *n)
{
	memset(n, 0, sizeof(*n));
	buf_init(&n->worse);
	buf_init(&n->recovered);
}

void
monitor_news_free(struct monitor_news *n)
{
	buf_free(&n->worse);
	buf_free(&n->recovered);
}

static bool
same_text(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool
same_place(const struct monitor_problem *p, const char *code, const char *host, const char *address)
{
	return strcmp(p->code, code) == 0 && same_text(p->host, host) && same_text(p->address, address);
}

static struct monitor_problem *
find(struct monitor_problem *p, size_t n, const char *code, const char *host, const char *address)
{
	for (size_t i = 0; i < n; i++)
		if (same_place(&p[i], code, host, address))
			return &p[i];
	return NULL;
}

/* The worst finding at a place of the list (several certificates of one
 * address may each expire), or NULL. */
static const struct checklist_finding *
worst_at(const struct checklist *list, const char *code, const char *host, const char *address)
{
	const struct checklist_finding *worst = NULL;

	for (size_t i = 0; i < list->n; i++) {
		const struct checklist_finding *f = &list->findings[i];
		if (strcmp(f->code, code) == 0 && same_text(f->host, host) && same_text(f->address, address) &&
		    (!worst || f->severity > worst->severity))
			worst = f;
	}
	return worst;
}

static enum checklist_severity
severity_at(const struct checklist *list, const char *code, const char *host, const char *address)
{
	const struct checklist_finding *f = worst_at(list, code, host, address);

	return f ? f->severity : CHECKLIST_OK;
}

/* Appends a problem with its place copied; 0 or -1. */
static int
push(struct monitor_problem **p, size_t *n, const char *code, const char *host, const char *address,
    enum checklist_severity severity, enum checklist_severity before)
{
	struct monitor_problem *grown = realloc(*p, (*n + 1) * sizeof(**p));

	if (!grown)
		return -1;
	*p = grown;
	struct monitor_problem *q = &grown[*n];
	*q = (struct monitor_problem){code, NULL, NULL, severity, before};
	if ((host && !(q->host = strdup(host))) || (address && !(q->address = strdup(address)))) {
		problem_free(q);
		return -1;
	}
	(*n)++;
	return 0;
}

/* "code host[address]" added to a comma-separated list. */
static int
name_place(struct buf *b, const char *code, const char *host, const char *address)
{
	int rc = buf_printf(b, "%s%s", buf_size(b) ? "," : "", code);
	if (rc == 0 && host)
		rc = buf_printf(b, " %s", host);
	if (rc == 0 && address)
		rc = buf_printf(b, "[%s]", address);
	return rc;
}

/* The told problems now back at or below their severity before. */
static int
observe_recovered(struct monitor_memory *m, const struct checklist *list, struct monitor_news *news)
{
	size_t kept = 0;

	for (size_t i = 0; i < m->ntold; i++) {
		struct monitor_problem *p = &m->told[i];
		enum checklist_severity now = strcmp(p->code, UNCHECKED_CODE) == 0 ? CHECKLIST_OK :
		    severity_at(list, p->code, p->host, p->address);
		if (now > p->before) {
			m->told[kept++] = *p;
			continue;
		}
		if (name_place(&news->recovered, p->code, p->host, p->address) < 0)
			return -1;
		news->nrecovered++;
		problem_free(p);
	}
	m->ntold = kept;
	return 0;
}

/* A place got worse: told of, or its told severity raised. */
static int
observe_worse(struct monitor_memory *m, const struct checklist_finding *f, enum checklist_severity before,
    struct monitor_news *news)
{
	struct monitor_problem *told = find(m->told, m->ntold, f->code, f->host, f->address);

	if (told)
		told->severity = f->severity;
	else if (push(&m->told, &m->ntold, f->code, f->host, f->address, f->severity, before) < 0)
		return -1;
	if (name_place(&news->worse, f->code, f->host, f->address) < 0)
		return -1;
	news->nworse++;
	if (!news->first || f->severity > news->first->severity)
		news->first = f;
	return 0;
}

static int
observe(struct monitor_memory *m, const struct checklist *list, struct monitor_news *news)
{
	if (list->unchecked) {
		if (m->unchecked)
			return 0;
		m->unchecked = true;
		news->kind = "selfcheck-unchecked";
		news->nworse = 1;
		if (push(&m->told, &m->ntold, UNCHECKED_CODE, NULL, NULL, CHECKLIST_FAIL, CHECKLIST_OK) < 0)
			return -1;
		return buf_puts(&news->worse, UNCHECKED_CODE);
	}
	m->unchecked = false;
	/* Each place once, at its worst finding. */
	struct monitor_problem *now = NULL;
	size_t nnow = 0;
	for (size_t i = 0; i < list->n; i++) {
		const struct checklist_finding *f = &list->findings[i];
		if (f->severity == CHECKLIST_OK || find(now, nnow, f->code, f->host, f->address))
			continue;
		f = worst_at(list, f->code, f->host, f->address);
		const struct monitor_problem *last = find(m->last, m->nlast, f->code, f->host, f->address);
		enum checklist_severity before = last ? last->severity : CHECKLIST_OK;
		if (push(&now, &nnow, f->code, f->host, f->address, f->severity, before) < 0) {
			problems_free(now, nnow);
			return -1;
		}
		if (f->severity > before && observe_worse(m, f, before, news) < 0) {
			problems_free(now, nnow);
			return -1;
		}
	}
	problems_free(m->last, m->nlast);
	m->last = now;
	m->nlast = nnow;
	if (news->nworse)
		news->kind = news->first && news->first->severity == CHECKLIST_FAIL ? "selfcheck-failed" :
		    "selfcheck-warned";
	return observe_recovered(m, list, news);
}

int
monitor_observe(struct monitor_memory *m, const struct checklist *list, struct monitor_news *news)
{
	if (observe(m, list, news) == 0)
		return 0;
	monitor_memory_free(m);
	return -1;
}

/* One domain watched. */
struct watched {
	struct list_node node;
	struct monitor *m;
	char *domain;
	struct monitor_memory memory;
	int status;			/* of the last check, -1 before the first */
	bool made;			/* by the build under way (build()) */
	bool running;
	bool retired;			/* dropped by a reload while its check ran */
};

struct monitor {
	struct selfrun *sr;
	struct alerter *alerter;
	struct log *log;
	uint64_t interval_ms;
	struct event *timer;
	struct list domains;		/* struct watched */
	struct list retired;		/* struct watched whose check still runs */
	uint64_t checks;
};

static void
watched_free(struct watched *w)
{
	monitor_memory_free(&w->memory);
	free(w->domain);
	free(w);
}

static void
log_check(struct monitor *m, const struct checklist *list, int status)
{
	char failed[24], warned[24], passed[24];
	struct buf problems;

	buf_init(&problems);
	for (size_t i = 0; i < list->n; i++) {
		const struct checklist_finding *f = &list->findings[i];
		bool named = f->severity == CHECKLIST_OK;
		for (size_t j = 0; j < i && !named; j++)
			named = list->findings[j].severity != CHECKLIST_OK && strcmp(list->findings[j].code, f->code) == 0;
		if (!named)
			buf_printf(&problems, "%s%s", buf_size(&problems) ? "," : "", f->code);
	}
	snprintf(failed, sizeof(failed), "%zu", checklist_count(list, CHECKLIST_FAIL));
	snprintf(warned, sizeof(warned), "%zu", checklist_count(list, CHECKLIST_WARN));
	snprintf(passed, sizeof(passed), "%zu", checklist_count(list, CHECKLIST_OK));
	log_event(m->log, LOGL_INFO, "selfcheck", "domain", list->domain, "status", checkprint_status_word(status),
	    "failed", failed, "warned", warned, "passed", passed, "problems", buf_size(&problems) ? buf_ptr(&problems) : "-",
	    list->unchecked ? "reason" : NULL, list->unchecked, NULL);
	buf_free(&problems);
}

static void
tell(struct monitor *m, const struct checklist *list, int status, const struct monitor_news *news)
{
	uint64_t now = clock_monotonic_ms();
	const char *word = checkprint_status_word(status);

	if (news->nworse) {
		const struct checklist_finding *f = news->first;
		const char *fields[] = {
			"status", word, "problems", buf_ptr(&news->worse),
			"detail", f ? f->detail : list->unchecked,
			"fix", f && f->fix ? f->fix : "make the domain's MX lookup answer, validly signed, from "
			    "every name server (tlspolicy selfcheck DOMAIN shows what a sender sees)",
			NULL,
		};
		alerter_raise(m->alerter, news->kind, list->domain, fields, now);
	}
	if (news->nrecovered) {
		const char *fields[] = {"status", word, "recovered", buf_ptr(&news->recovered), NULL};
		alerter_raise(m->alerter, "selfcheck-recovered", list->domain, fields, now);
	}
}

static void
checked(void *arg, const struct checklist *list)
{
	struct watched *w = arg;
	struct monitor *m = w->m;
	struct monitor_news news;

	w->running = false;
	if (w->retired) {
		list_remove(&m->retired, &w->node);
		watched_free(w);
		return;
	}
	m->checks++;
	w->status = checklist_status(list);
	log_check(m, list, w->status);
	monitor_news_init(&news);
	if (monitor_observe(&w->memory, list, &news) < 0)
		log_event(m->log, LOGL_WARNING, "selfcheck", "domain", w->domain, "error", "out of memory",
		    "reason", "what the last checks found is forgotten", NULL);
	else
		tell(m, list, w->status, &news);
	monitor_news_free(&news);
}

static void
start_round(struct monitor *m)
{
	char err[512];

	for (struct list_node *n = m->domains.first; n; n = n->next) {
		struct watched *w = LIST_ENTRY(n, struct watched, node);
		if (w->running)
			continue;	/* slower than the interval: the next round takes it */
		if (selfrun_check(m->sr, w->domain, checked, w, err, sizeof(err)) < 0) {
			log_event(m->log, LOGL_WARNING, "selfcheck", "domain", w->domain, "error", err, NULL);
			continue;
		}
		w->running = true;
	}
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct monitor *m = arg;
	struct timeval tv = {(time_t)(m->interval_ms / 1000), (suseconds_t)(m->interval_ms % 1000) * 1000};

	(void)fd;
	(void)what;
	start_round(m);
	evtimer_add(m->timer, &tv);
}

/* Undoes a build that failed half-way: what it took goes back to old. */
static void
unbuild(struct list *out, struct list *old)
{
	struct list_node *n;

	while ((n = list_pop_front(out))) {
		struct watched *w = LIST_ENTRY(n, struct watched, node);
		if (w->made)
			watched_free(w);
		else
			list_push_back(old, &w->node);
	}
}

/* The watched list for these domains, taking those kept (with their
 * memory) from old; what remains in old the caller drops. */
static int
build(struct monitor *m, char *const *domains, struct list *out, struct list *old)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; domains && domains[i]; i++) {
		struct watched *w = NULL;
		for (struct list_node *n = old->first; n && !w; n = n->next) {
			struct watched *o = LIST_ENTRY(n, struct watched, node);
			if (strcmp(o->domain, domains[i]) == 0)
				w = o;
		}
		if (w) {
			list_remove(old, &w->node);
		} else {
			if (!(w = calloc(1, sizeof(*w))) || !(w->domain = strdup(domains[i]))) {
				free(w);
				unbuild(out, old);
				return -1;
			}
			w->m = m;
			w->status = -1;
			w->made = true;
		}
		list_push_back(out, &w->node);
	}
	for (struct list_node *n = out->first; n; n = n->next)
		LIST_ENTRY(n, struct watched, node)->made = false;
	return 0;
}

/* Drops what a reload left out: at once, or when its check comes back. */
static void
drop(struct monitor *m, struct list *gone)
{
	struct list_node *n;

	while ((n = list_pop_front(gone))) {
		struct watched *w = LIST_ENTRY(n, struct watched, node);
		if (w->running) {
			w->retired = true;
			list_push_back(&m->retired, &w->node);
		} else {
			watched_free(w);
		}
	}
}

struct monitor *
monitor_create(struct event_base *base, struct selfrun *sr, struct alerter *alerter, struct log *log,
    const struct monitor_settings *s, uint64_t first_ms)
{
	struct monitor *m = calloc(1, sizeof(*m));
	struct list none = {0};
	struct timeval tv = {(time_t)(first_ms / 1000), (suseconds_t)(first_ms % 1000) * 1000};

	if (!m) {
		selfrun_free(sr);
		return NULL;
	}
	m->sr = sr;
	m->alerter = alerter;
	m->log = log;
	m->interval_ms = s->interval_ms;
	if (build(m, s->domains, &m->domains, &none) < 0 || !(m->timer = evtimer_new(base, on_timer, m)) ||
	    evtimer_add(m->timer, &tv) < 0) {
		monitor_free(m);
		return NULL;
	}
	return m;
}

int
monitor_set(struct monitor *m, const struct monitor_settings *s)
{
	struct list fresh;

	if (build(m, s->domains, &fresh, &m->domains) < 0)
		return -1;
	drop(m, &m->domains);
	m->domains = fresh;
	m->interval_ms = s->interval_ms;
	return 0;
}

void
monitor_free(struct monitor *m)
{
	if (!m)
		return;
	if (m->timer)
		event_free(m->timer);
	/* The runner first: no check calls back into what is freed next. */
	selfrun_free(m->sr);
	drop(m, &m->domains);
	struct list_node *n;
	while ((n = list_pop_front(&m->retired)))
		watched_free(LIST_ENTRY(n, struct watched, node));
	free(m);
}

uint64_t
monitor_checks(const struct monitor *m)
{
	return m->checks;
}

void
monitor_each(const struct monitor *m, void (*fn)(void *arg, const char *domain, int status), void *arg)
{
	for (const struct list_node *n = m->domains.first; n; n = n->next) {
		const struct watched *w = LIST_ENTRY(n, const struct watched, node);
		fn(arg, w->domain, w->status);
	}
}
