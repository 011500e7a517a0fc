/*
 * maillog - the daemon follows Postfix's own log (maillog_file): a file,
 * read on from its end across rotation, or "-" for standard input (as in
 * `journalctl -f -u postfix -o short | tlspolicyd -f`). Each line goes to
 * a logwatch (lib/watch/logwatch.h), whose alerts go to the alerter.
 *
 * The file is opened after the daemon dropped its privileges, so a file it
 * could not read again after a rotation is refused at start. It is polled
 * once a second; standard input is read as it comes, and its end is
 * logged once.
 *
 * Ownership: borrows the event base, log and alerter; owns the tail and
 * the logwatch.
 */
#ifndef TLSPOLICYD_MAILLOG_H
#define TLSPOLICYD_MAILLOG_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "config/config.h"
#include "rules/exproposal.h"
#include "util/log.h"
#include "watch/logshare.h"
#include "watch/logwatch.h"

struct event_base;
struct alerter;
struct maillog;

/* NULL with err when maillog_file cannot be read; a maillog that reads
 * nothing when maillog_file is empty. */
struct maillog *maillog_create(struct event_base *base, struct log *log, struct alerter *alerter,
    const struct config *cfg, char *err, size_t errlen);
/* SIGHUP: a new maillog_file is followed from its end; the counts stay. */
void maillog_reload(struct maillog *m, const struct config *cfg);
/* One key=value line: one destination's counts, or the totals (dest NULL). */
void maillog_report(const struct maillog *m, const char *dest, struct buf *out);
/* What Postfix's log says to corroborate a proposed exception for dest
 * (exproposal.h): false when no log is followed (maillog_file empty). */
bool maillog_evidence(void *m, const char *dest, struct exproposal_evidence *out);
/* The counts of every destination added up, and the lines read. */
void maillog_totals(const struct maillog *m, struct logwatch_counts *sum, size_t *lines);
/* One destination's counts, or NULL when the log never named it. */
const struct logwatch_counts *maillog_counts(const struct maillog *m, const char *dest);
/* Whether a log is followed (maillog_file set). */
bool maillog_following(const struct maillog *m);
void maillog_free(struct maillog *m);

/* With a fleet (fleet.h): this relay's counts are stored every
 * MAILLOG_SHARE_INTERVAL_S for the others (logshare.h), and
 * maillog_fleet_view() reads every relay's. -1 when out of memory. */
#define MAILLOG_SHARE_INTERVAL_S 10
struct fleet;
int maillog_set_fleet(struct maillog *m, struct fleet *fleet);
/* -1 without a fleet, or Redis not usable now: no callback. */
int maillog_fleet_view(struct maillog *m, const char *dest, logshare_viewed *cb, void *arg);

#endif
