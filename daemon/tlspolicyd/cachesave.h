/*
 * cachesave - the cache snapshot, state_directory/cache: restored when the
 * daemon starts (a restart does not send every destination to the resolver
 * at once, and keeps the last secure answers for an outage), written every
 * cache_snapshot_interval and when the daemon stops. Beside it, the
 * MTA-STS policies in force, state_directory/sts-policies, saved and
 * restored with it: STS trusts on first use, so a policy must outlive a
 * restart (a policy fetched since the last write is fetched again).
 *
 * The snapshot is composed on the event loop, which owns the caches, and
 * written, synced and renamed (statefile.h) on a thread of its own, so a
 * slow disk never holds up an answer. One write at a time: a turn that
 * finds the last one still running is skipped. A failed write is logged
 * once, until one succeeds.
 *
 * Ownership: borrows the event base, log, policy map and MTA-STS (NULL:
 * none); holds a
 * reference to the configuration.
 */
#ifndef TLSPOLICYD_CACHESAVE_H
#define TLSPOLICYD_CACHESAVE_H

#include <stdbool.h>

#include "config/config.h"
#include "util/log.h"
#include "serve/policymap.h"
#include "sts/sts.h"

struct event_base;
struct cachesave;

/* Restores the snapshot (logging how many entries, or why none) and
 * starts the timer; NULL when out of memory. With no state_directory it
 * does nothing. */
struct cachesave *cachesave_create(struct event_base *base, struct log *log, struct policymap *pm,
    struct sts *sts, struct config *cfg);
void cachesave_set_config(struct cachesave *cs, struct config *cfg);
/* Waits for a write under way; then, when final, writes the snapshot
 * once more (the daemon stops), else leaves the file as it is (a start
 * that failed must not replace a good snapshot with an empty cache). */
void cachesave_free(struct cachesave *cs, bool final);

#endif
