/*
 * exlist - the daemon's exception list at work: loaded from exceptions_file
 * at start, again on SIGHUP and whenever the file changes (looked at every
 * two seconds), a file with errors rejected whole (each error logged with
 * its line, at level error) while the previous list stays in force.
 *
 * What becomes of proposals, automatic and retired entries is
 * exlifecycle.h's decision; this file gives it the time, Postfix's log
 * and the lists in force, and carries out what it decides: expired
 * entries logged once (policymap checks the date), a destination whose
 * every DANE host fails proposed (logged, listed by `tlspolicy
 * exceptions --proposed`) and, with exceptions_auto = yes, applied once
 * Postfix's own log corroborates it (logged, and an alert of kind
 * exception-applied; looked at again every two seconds), an excepted
 * destination whose every DANE host verifies again an alert
 * (kind=exception-fixed) and, with exceptions_retire = yes, retired.
 * Without maillog_file nothing can corroborate: a warning at start and on
 * each reload says that exceptions_auto will never apply anything.
 *
 * Ownership: borrows the event base, log, policy map and alerter; holds a
 * reference to the configuration.
 */
#ifndef TLSPOLICYD_EXLIST_H
#define TLSPOLICYD_EXLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "config/config.h"
#include "rules/exproposal.h"
#include "watch/exshare.h"
#include "util/log.h"
#include "serve/policymap.h"
#include "probing.h"

struct event_base;
struct alerter;
struct exlist;

/* NULL with err (the file's errors, one per line) when the file exists
 * but has errors: the daemon does not start on a broken list. */
struct exlist *exlist_create(struct event_base *base, struct log *log, struct policymap *pm,
    struct alerter *alerter, struct config *cfg, struct buf *err);
/* SIGHUP: the configuration (the file's name may change) and the file. */
void exlist_reload(struct exlist *x, struct config *cfg);
/* Where the evidence for exceptions_auto comes from (maillog_evidence):
 * false when no log is followed. Until set, there is none. */
typedef bool exlist_evidence(void *arg, const char *dest, struct exproposal_evidence *out);
void exlist_set_evidence(struct exlist *x, exlist_evidence *evidence, void *arg);
/* Probes' news about whole destinations (probing_set_news). */
void exlist_news(void *arg, const char *dest, enum probing_news n);
/* The proposals, one line each in the list's syntax. */
void exlist_proposed(const struct exlist *x, struct buf *out);
size_t exlist_count(const struct exlist *x);
/* Whether dest has a proposal waiting, not applied (the status page). */
bool exlist_is_proposed(const struct exlist *x, const char *dest);
/* The errors of the last load that failed, one per line, or NULL when the
 * last load worked; valid until the next load. */
const char *exlist_errors(const struct exlist *x);
/* With a fleet (fleet.h): this relay's proposals are shared, and
 * exlist_fleet_proposed() lists the other relays' (exshare.h), which are
 * shown, never applied. -1 when out of memory. */
struct fleet;
int exlist_set_fleet(struct exlist *x, struct fleet *fleet);
/* -1 without a fleet or Redis usable now: no callback. */
int exlist_fleet_proposed(struct exlist *x, exshare_listed *cb, void *arg);
void exlist_free(struct exlist *x);

#endif
