/*
 * monitor - the daemon's watch over the administrator's own domains
 * (monitor_domains): each is checked as `tlspolicy selfcheck` checks it
 * (selfrun.h), every monitor_interval, and the alerter hears when a
 * result gets worse and, once, when it recovers.
 *
 * What counts: a problem is a finding of severity warn or fail, known by
 * its code, host and address. After each check:
 *   - worse: a problem whose severity is above the last check's (absent
 *     counts as ok; the first check compares with nothing, so a domain
 *     broken from the start is told at once). One alert per check lists
 *     them: kind selfcheck-failed when one is a failure, selfcheck-warned
 *     otherwise, and selfcheck-unchecked when the domain could not be
 *     checked at all (its MX lookup failed, say).
 *   - recovered: a problem told of before whose severity is back at or
 *     below what it was before it got worse. One selfcheck-recovered alert
 *     per check lists them, and each is told once.
 * A check that could not look (unchecked) tells nothing of the problems
 * seen before: they are neither recovered nor forgotten, and the next
 * check that looks is compared with the last that did.
 *
 * Every check is logged at info: "event=selfcheck domain=D status=S
 * failed=N warned=N passed=N problems=CODE,...".
 *
 * monitor_observe() is the comparison alone, without I/O, for the tests.
 *
 * Ownership: monitor_create() takes the runner, which monitor_free()
 * frees (and so does a create that fails), borrows the event base, the
 * alerter and the log (all outlive the monitor) and copies the settings.
 * monitor_free() drops checks under way.
 */
#ifndef TLSPOLICY_MONITOR_H
#define TLSPOLICY_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/log.h"
#include "watch/alert.h"
#include "selfcheck/checklist.h"
#include "selfcheck/selfrun.h"

struct event_base;

/* One problem remembered. */
struct monitor_problem {
	const char *code;		/* static, as in the checklist */
	char *host, *address;		/* NULL: the domain, the host as a whole */
	enum checklist_severity severity;
	enum checklist_severity before;	/* told of: its severity before it got worse */
};

/* What the monitor remembers of one domain between checks. */
struct monitor_memory {
	bool unchecked;			/* the last check could not look */
	size_t nlast, ntold;
	struct monitor_problem *last;	/* the problems of the last check that looked */
	struct monitor_problem *told;	/* got worse and told of, not yet recovered */
};

/* What one check changed: each list "code host[address]", comma-separated. */
struct monitor_news {
	struct buf worse;
	struct buf recovered;
	size_t nworse, nrecovered;
	const char *kind;		/* of the worse alert: selfcheck-failed, -warned, -unchecked */
	const struct checklist_finding *first;	/* the worst of the worse findings, or NULL */
};

void monitor_memory_free(struct monitor_memory *m);
void monitor_news_init(struct monitor_news *n);
void monitor_news_free(struct monitor_news *n);
/* Compares list with what m remembers, fills news (initialised) and
 * remembers list. 0, or -1 when out of memory (m then forgets the
 * domain: its next check compares with nothing). */
int monitor_observe(struct monitor_memory *m, const struct checklist *list, struct monitor_news *news);

struct monitor_settings {
	char *const *domains;		/* NULL-terminated; copied */
	uint64_t interval_ms;
};

struct monitor;

/* The first checks start after first_ms. NULL when out of memory. */
struct monitor *monitor_create(struct event_base *base, struct selfrun *sr, struct alerter *alerter,
    struct log *log, const struct monitor_settings *s, uint64_t first_ms);
/* New settings from a reload: a domain kept keeps its memory. -1 when out
 * of memory (the previous settings stay). */
int monitor_set(struct monitor *m, const struct monitor_settings *s);
void monitor_free(struct monitor *m);

/* Checks run so far, and the status of the last check of each domain
 * (CHECKLIST_EXIT_*, -1 before its first): fn(arg, domain, status). */
uint64_t monitor_checks(const struct monitor *m);
void monitor_each(const struct monitor *m, void (*fn)(void *arg, const char *domain, int status), void *arg);

#endif
