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
 * In a fleet (fleet.h, issue 16), an alert that passes this relay's limits
 * is raised once for the fleet: the alerter first claims "KIND|DEST"
 * (FLEET_ALERT) for interval_ms, rounded up to a second, and raises the
 * alert only when the claim is this relay's, or when Redis cannot say
 * (the relay then works alone: a lost Redis never loses an alert, it can
 * only repeat one). Held by another relay, the alert is not raised: it is
 * counted (fleet_held) and logged at info as "event=alert-shared kind=K
 * dest=D raised_by=RELAY". With interval_ms = 0 there is no window to
 * share, and nothing is claimed.
 * - The claim answers later (within redis_timeout): the alert's fields are
 *   copied meanwhile, and it is raised, if it is, from the fleet's
 *   callback, with the now_ms it was raised with.
 * - The hourly limit stays per relay: an alert another relay raised still
 *   counts in this relay's max_per_hour (it can only make the fleet send
 *   fewer, never more), and each relay summarises what it held. A fleet's
 *   hourly budget would need a counter in Redis that a stranger could
 *   raise to silence every relay; the per-pair claims cannot be abused so.
 * - The seam: the alerter claims through struct alert_fleet, two function
 *   pointers; alerter_set_fleet() fills them with fleet_claim() and
 *   fleet_cancel(), and the unit tests with a fake that answers OURS,
 *   HELD or ALONE when told, or cannot start (NULL).
 *
 * Ownership: the alerter borrows the log and the fleet (which must
 * outlive it, or be set to NULL before it is freed); settings and fields
 * are copied.
 */
#ifndef TLSPOLICY_ALERT_H
#define TLSPOLICY_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "util/log.h"
#include "fleet/fleet.h"
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
/* Kills and reaps what still runs; claims still waiting for the fleet are
 * cancelled, and their alerts not raised. */
void alerter_free(struct alerter *a);

/* How the alerter claims an alert for the fleet: claim() as fleet_claim()
 * with FLEET_ALERT and the name "KIND|DEST" (NULL: go on alone at once,
 * no callback), cancel() as fleet_cancel(). */
struct alert_fleet {
	struct fleet_op *(*claim)(void *arg, const char *name, int64_t life_s, fleet_claimed *cb, void *cb_arg);
	void (*cancel)(struct fleet_op *op);
};

/* Claims alerts through fleet (NULL: alone, as without a fleet), which
 * the alerter borrows. Claims waiting for the previous fleet are
 * cancelled and their alerts raised at once, alone; so set NULL before
 * the fleet is freed. */
void alerter_set_fleet(struct alerter *a, struct fleet *fleet);
/* The same through any claim(), for tests: ops (borrowed) and its arg. */
void alerter_set_fleet_ops(struct alerter *a, const struct alert_fleet *ops, void *arg);

#define ALERTER_HELD 0		/* held back: a repeat, or over the hourly limit */
#define ALERTER_RAISED 1	/* raised now */
#define ALERTER_CLAIMING 2	/* passed this relay's limits: raised or shared when the fleet answers */

/* fields: key, value, key, value, ..., NULL. Returns one of ALERTER_*.
 * now: monotonic ms. */
int alerter_raise(struct alerter *a, const char *kind, const char *dest, const char *const *fields,
    uint64_t now_ms);
/* Reaps children that exited and kills those past their time. */
void alert_reap(struct alerter *a, uint64_t now_ms);

struct alert_stats {
	uint64_t raised, held, commands, commands_failed, mails;
	uint64_t fleet_held;		/* not raised: another relay of the fleet did */
	uint64_t fleet_claiming;	/* waiting for the fleet's answer now */
};
void alerter_stats(const struct alerter *a, struct alert_stats *out);
/* alerts raised so far by kind: calls fn(kind, count) for each. */
void alerter_each_kind(const struct alerter *a, void (*fn)(void *arg, const char *kind, uint64_t n), void *arg);

/* The kind of the last alert raised for dest and when (*at_ms, the now_ms
 * it was raised with), or NULL: for the status page. The alerter keeps
 * the last of ALERT_REMEMBER_MAX destinations (the least recently alerted
 * go first); the kind is valid until the next alerter_raise() or free. */
#define ALERT_REMEMBER_MAX 1000
const char *alerter_last(const struct alerter *a, const char *dest, uint64_t *at_ms);

#endif
