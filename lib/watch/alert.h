/*
 * alert - raises the alerts: one key=value line at level alert, not
 * repeated for the same (destination, kind) within interval_ms, and at
 * most max_per_hour lines an hour in all (the rest are counted and
 * summarised once the hour is over). Each alert raised can also:
 *
 *   - run alert_command, executed directly (posix_spawn with the words of
 *     the setting as argv, never through a shell), with the alert in its
 *     environment: TLSPOLICY_ALERT_KIND, TLSPOLICY_ALERT_DEST,
 *     TLSPOLICY_ALERT_LINE (the whole key=value line) and
 *     TLSPOLICY_ALERT_<KEY> for each field (upper case); nothing from the
 *     alert ever becomes an argument, so no destination name can inject
 *     one. TLSPOLICY_ALERT_DEST is set only for "-" (no destination) or
 *     a valid next hop as the daemon writes one (a host name in lower
 *     case, with a port or in brackets, an address literal): a recipient
 *     domain from Postfix's log can hold shell metacharacters, and a
 *     script may use the variable unquoted. For any other dest the
 *     variable is left out; the alert is still logged and mailed, the
 *     name quoted and escaped in its line. It runs with /dev/null as
 *     input; one that has not exited after ALERT_COMMAND_TIMEOUT_S is
 *     killed.
 *   - mail alert_recipient through the local sendmail (sendmail -i --
 *     RECIPIENT, the message on its input).
 *
 * Children are reaped by alert_reap(), which the owner calls on SIGCHLD
 * or a timer.
 *
 * Ownership: the alerter borrows the log; fields are copied.
 */
#ifndef TLSPOLICY_ALERT_H
#define TLSPOLICY_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "util/log.h"

#define ALERT_COMMAND_TIMEOUT_S 30

struct alert_settings {
	const char *command;		/* "" for none; split on white space */
	const char *recipient;		/* "" for none */
	const char *sendmail;		/* path of sendmail(1) */
	uint64_t interval_ms;		/* per (destination, kind) */
	unsigned max_per_hour;
};

struct alerter;

struct alerter *alerter_create(struct log *log, const struct alert_settings *s);
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
