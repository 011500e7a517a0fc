/*
 * logshare - what Postfix's log said about each destination, shared by
 * the relays of a fleet (fleet.h, FLEET_MAILLOG): each relay stores its
 * own counts per destination, and `tlspolicy maillog DEST` adds up every
 * relay's.
 *
 * - logshare_publish() stores the counts of the destinations whose log
 *   lines came since the last publish (last_seen), each for
 *   LOGSHARE_LIFE_S: a destination no relay mails to any more goes.
 *   Called on a timer, so a busy log costs one write per destination per
 *   tick, not one per line.
 * - logshare_view() reads every relay's counts for a destination and
 *   calls back once with the view: a line "fleet_relays=N <counts>", the
 *   sum, and a line "relay=NAME <counts>" per relay, names sorted. Counts
 *   that do not parse are left out and counted (rejected).
 *
 * Only people read the view: nothing here feeds a policy, an alert or an
 * exception, which stay each relay's own.
 *
 * Ownership: borrows the fleet, which outlives it. logshare_free()
 * cancels the views in flight: their callbacks do not run.
 */
#ifndef TLSPOLICY_LOGSHARE_H
#define TLSPOLICY_LOGSHARE_H

#include <stdint.h>

#include "util/buf.h"
#include "fleet/fleet.h"
#include "watch/logwatch.h"

#define LOGSHARE_LIFE_S (7 * 86400)

struct logshare;

/* NULL when out of memory. */
struct logshare *logshare_create(struct fleet *fleet);
void logshare_free(struct logshare *ls);

/* Stores the counts of the destinations seen since the last call; now
 * is Unix seconds. Returns how many were stored. */
size_t logshare_publish(struct logshare *ls, const struct logwatch *lw, int64_t now);

/* view: the lines above (each ending in a newline), or NULL when Redis
 * could not say. */
typedef void logshare_viewed(void *arg, const char *view);

/* -1 when Redis is not usable now (no callback). */
int logshare_view(struct logshare *ls, const char *dest, logshare_viewed *cb, void *arg);

struct logshare_stats {
	uint64_t published, views, rejected;
};
void logshare_stats(const struct logshare *ls, struct logshare_stats *out);

#endif
