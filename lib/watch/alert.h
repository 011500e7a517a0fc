/*
 * alert - raises the alerts: one key=value line at level alert,
 * "event=alert kind=KIND dest=DEST" and the fields, unless alertlimit.h
 * holds it back (the same (destination, kind) within interval_ms, or past
 * max_per_hour alerts this hour). Alerts over the hourly limit are counted
 * and summarised once the hour is over, as "event=alerts-held count=N
 * max_per_hour=M" (level alert), by the first alerter_raise() or
 * alert_reap() after it, or by alerter_free().
 *
 * Each alert raised can also:
 *   - run alert_command, executed directly with the alert in its
 *     environment and nothing from it as an argument; only a valid
 *     destination reaches TLSPOLICY_ALERT_DEST (alertspawn.h); one that
 *     has not exited after ALERT_COMMAND_TIMEOUT_S is killed;
 *   - mail alert_recipient through the local sendmail (alertmail.h).
 * A destination that is not a valid one is still logged and mailed,
 * quoted and escaped.
 *
 * Children are reaped by alert_reap(), which the owner calls on SIGCHLD
 * or a timer.
 *
 * Ownership: the alerter borrows the log; settings and fields are copied.
 */
#ifndef TLSPOLICY_ALERT_H
#define TLSPOLICY_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "util/log.h"
#include "watch/alertspawn.h"

#define ALERT_COMMAND_TIMEOUT_S ALERTSPAWN_TIMEOUT_S

struct alert_settings {
	const char *command;		/* "" for none; split on white space */
	const char *recipient;		/* "" for none */
	const char *sendmail;		/* path of sendmail(1); "" for the default */
	uint64_t interval_ms;		/* per (destination, kind); 0: no deduplication */
	unsigned max_per_hour;		/* 0: no hourly limit */
};

struct alerter;

struct alerter *alerter_create(struct log *log, const struct alert_settings *s);
/* New settings; what was raised and held stays. When they cannot be
 * copied (out of memory) the previous ones stay, and that is logged. */
void alerter_set(struct alerter *a, const struct alert_settings *s);
void alerter_free(struct alerter *a);	/* kills and reaps what still runs */

/* fields: key, value, key, value, ..., NULL. Returns 1 when raised, 0 when
 * held back as a repeat or over the hourly limit. now: monotonic ms. */
int alerter_raise(struct alerter *a, const char *kind, const char *dest, const char *const *fields,
    uint64_t now_ms);
/* Reaps children that exited and kills those past their time. */
void alert_reap(struct alerter *a, uint64_t now_ms);

struct alert_stats {
	uint64_t raised, held, commands, commands_failed, mails;
};
void alerter_stats(const struct alerter *a, struct alert_stats *out);
/* alerts raised so far by kind: calls fn(kind, count) for each. */
void alerter_each_kind(const struct alerter *a, void (*fn)(void *arg, const char *kind, uint64_t n), void *arg);

#endif
