/*
 * exlifecycle - the life of an exception beyond what the administrator
 * wrote: proposed by the daemon, applied automatically, withdrawn, fixed,
 * retired, expired. The daemon's exception list (exlist in daemon/) only
 * watches the file and carries out what this decides.
 *
 * - Proposed: when probes find every DANE host of a destination failing
 *   DANE (exlifecycle_mismatch). Only a domain next hop at port 25 (what
 *   a line of the list names), only once, never when an entry of the
 *   lists in force covers it already, at most EXLIFECYCLE_MAX_PROPOSALS.
 * - Applied: a proposal that the corroboration rule (exproposal.h) lets
 *   apply, at once or at a later review (exlifecycle_review: Postfix's
 *   log moves on). The applied proposals are the automatic list
 *   (exlifecycle_automatic), "<dest> may" each. With exceptions_auto
 *   turned off, every application is undone at once; turned on again, the
 *   log must corroborate afresh.
 * - Fixed: when probes find every DANE host of a destination passing DANE
 *   again (exlifecycle_verified), its proposal is withdrawn (and
 *   unapplied), and an entry of the administrator's list that covers it
 *   is reported fixed, and retired under exceptions_retire = yes: no
 *   longer applied until the list is loaded again. An entry of the
 *   automatic list is not reported: the withdrawal ended it.
 * - Expired: an entry of the list whose expires= date fell in a window of
 *   time (exlifecycle_each_expired) is reported with the last day it
 *   applied: the daemon asks at load for everything already past, then
 *   every minute for the minute gone by, so each is reported once.
 *
 * Seams: the time is the caller's (Unix seconds); Postfix's log (the
 * evidence) and the lists in force (what covers a destination) are
 * callbacks (struct exlifecycle_ops). Nothing here logs: each call says
 * what happened, and the caller logs, alerts and hands the lists to the
 * policy map.
 *
 * Ownership: the lifecycle copies the names it keeps. Entries handed
 * back point into the caller's lists and live as long as those.
 */
#ifndef TLSPOLICY_EXLIFECYCLE_H
#define TLSPOLICY_EXLIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "postfix/nexthop.h"
#include "rules/exceptions.h"
#include "rules/exproposal.h"

#define EXLIFECYCLE_MAX_PROPOSALS 10000

struct exlifecycle_settings {
	bool auto_apply;		/* exceptions_auto */
	uint64_t window_s;		/* exceptions_auto_evidence */
	uint64_t min_deferrals;		/* exceptions_auto_deferrals */
	bool retire;			/* exceptions_retire */
};

struct exlifecycle_ops {
	/* What Postfix's log says about dest; false when no log is followed. */
	bool (*evidence)(void *arg, const char *dest, struct exproposal_evidence *out);
	/* The domain entry of the lists in force that applies to nh now, or
	 * NULL; *automatic: it is the automatic list's. */
	const struct exception_entry *(*covering)(void *arg, const struct nexthop *nh, bool *automatic);
	void *arg;
};

struct exlifecycle;

struct exlifecycle *exlifecycle_create(const struct exlifecycle_settings *s, const struct exlifecycle_ops *ops);
void exlifecycle_free(struct exlifecycle *lc);
/* New settings (a reload); true when the automatic list changed. */
bool exlifecycle_set(struct exlifecycle *lc, const struct exlifecycle_settings *s);

/* What exlifecycle_mismatch() did. */
enum exlifecycle_proposal {
	EXLIFECYCLE_IGNORED,	/* not a domain at port 25, proposed already, covered, or no room */
	EXLIFECYCLE_WAITING,	/* proposed; verdict says what it waits for */
	EXLIFECYCLE_APPLIED,	/* proposed and applied: the automatic list changed */
};

struct exlifecycle_verdict {
	enum exproposal_verdict verdict;
	struct exproposal_evidence evidence;	/* what the log said */
};

/* Probes find every DANE host of dest (a canonical next-hop key) failing
 * DANE. */
enum exlifecycle_proposal exlifecycle_mismatch(struct exlifecycle *lc, const char *dest, int64_t now,
    struct exlifecycle_verdict *out);

/* Judges again the proposals not applied; applied() for each that now
 * applies. True when the automatic list changed. */
bool exlifecycle_review(struct exlifecycle *lc, int64_t now,
    void (*applied)(void *arg, const char *dest, const struct exproposal_evidence *ev), void *arg);

/* What exlifecycle_verified() did. */
struct exlifecycle_fix {
	bool withdrawn;				/* a proposal went */
	bool list_changed;			/* ...an applied one: the automatic list changed */
	const struct exception_entry *entry;	/* the administrator's entry that covers dest, or NULL */
	bool retire;				/* stop applying dest's entries (exceptions_retire) */
};

/* Probes find every DANE host of dest passing DANE. */
void exlifecycle_verified(struct exlifecycle *lc, const char *dest, struct exlifecycle_fix *out);

/* The automatic list now: a new snapshot (the caller's reference), or
 * NULL when nothing applies (or out of memory). */
struct exceptions *exlifecycle_automatic(const struct exlifecycle *lc);
/* The proposals, one line each in the list's syntax ("example.org may"). */
void exlifecycle_proposed(const struct exlifecycle *lc, struct buf *out);
/* Whether dest (as proposed) is among the proposals, and *applied
 * whether the log corroborated it. */
bool exlifecycle_is_proposed(const struct exlifecycle *lc, const char *dest, bool *applied);

/* Calls fn for each entry of list whose expiry fell in (from, to], with
 * the last day it applied ("2027-01-31", UTC). */
void exlifecycle_each_expired(const struct exceptions *list, int64_t from, int64_t to,
    void (*fn)(void *arg, const struct exception_entry *e, const char *day), void *arg);

#endif
