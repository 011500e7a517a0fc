/*
 * probesched - when the daemon probes a destination's MX hosts, and which
 * of the addresses planned: the decisions between a resolution (or the
 * re-probe timer) and the probe pool.
 *
 * - A resolution answered OK plans its probes (probeplan.h). The
 *   destination is probed when it was never probed, or not for
 *   interval_ms (probe_interval), or when an administrator demanded it
 *   (probesched_demand: `tlspolicy refresh`). A plan with nothing in it
 *   changes nothing, and leaves a demand for a later resolution.
 * - A destination last probed interval_ms ago is probed again
 *   (probesched_tick), but only while Postfix keeps asking for it: it
 *   asked within interval_ms, as the policy map's cache tells
 *   (last_asked).
 * - Of a plan: an address refused (special-purpose, this host's) is
 *   reported for a fresh resolution's plan only, not at each re-probe; an
 *   address past the address limit is skipped; an address whose latest
 *   result, got for any destination that shares the host, is younger than
 *   interval_ms is not probed again: that result is recorded for this
 *   destination too (reused), so that a provider's host serving many
 *   destinations is probed once per interval. A demanded probe reuses
 *   nothing and jumps the queue (urgent).
 * - Demands: at most PROBESCHED_MAX_DEMANDS destinations, each once; a
 *   destination's next resolution with a plan takes its demand.
 * - The timer that looks for destinations due again runs a few times per
 *   interval, at least once a minute (probesched_tick_ms).
 *
 * Seams: both clocks and every action are the caller's callbacks
 * (struct probesched_ops): monotonic milliseconds for scheduling, Unix
 * seconds for results, as probestate.h keeps them; submitting a probe,
 * reporting a refusal or a reused result. Nothing here logs or reads a
 * clock.
 *
 * Ownership: borrows the probestate, which must outlive it; copies the
 * ops and the demanded names.
 */
#ifndef TLSPOLICY_PROBESCHED_H
#define TLSPOLICY_PROBESCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/netaddr.h"
#include "probe/probe.h"
#include "probe/probeplan.h"
#include "probe/probestate.h"
#include "dns/resolve.h"

/* Administrators type demands: a handful at most. */
#define PROBESCHED_MAX_DEMANDS 64
/* The re-probe timer runs at least this often. */
#define PROBESCHED_MAX_TICK_MS 60000

struct probesched_settings {
	uint64_t interval_ms;		/* probe_interval */
	bool allow_private;		/* probe_allow_private */
	unsigned address_limit;		/* probe_address_limit; 0: all */
};

struct probesched_ops {
	uint64_t (*now_ms)(void *arg);		/* monotonic */
	int64_t (*unix_s)(void *arg);		/* wall clock */
	/* When Postfix last asked for dest (monotonic ms); 0: not lately. */
	uint64_t (*last_asked)(void *arg, const char *dest);
	/* This host's addresses, for a plan to refuse; asked only without
	 * allow_private, and only for a plan being made. */
	const struct netaddr *(*own)(void *arg, size_t *n);
	/* Probe t for dest; urgent: an administrator waits for it. */
	void (*submit)(void *arg, const char *dest, const struct probe_target *t, bool urgent);
	/* A fresh resolution planned an address that may not be probed. */
	void (*refused)(void *arg, const char *dest, const struct probeplan_item *it);
	/* A result got for another destination was recorded for dest. */
	void (*reused)(void *arg, const char *dest);
	void *arg;
};

struct probesched;

/* NULL when out of memory. */
struct probesched *probesched_create(struct probestate *state, const struct probesched_ops *ops,
    const struct probesched_settings *settings);
void probesched_set(struct probesched *s, const struct probesched_settings *settings);
void probesched_free(struct probesched *s);

/* A resolution has completed. */
void probesched_resolved(struct probesched *s, const struct resolve_result *r);
/* Probes dest (a canonical next-hop key) at its next resolution, whatever
 * interval_ms says. 0, or -1 when PROBESCHED_MAX_DEMANDS are waiting (or
 * out of memory). */
int probesched_demand(struct probesched *s, const char *dest);
/* Probes again the destinations due that Postfix still asks for. */
void probesched_tick(struct probesched *s);
/* How often to call probesched_tick() for an interval. */
uint64_t probesched_tick_ms(uint64_t interval_ms);

#endif
