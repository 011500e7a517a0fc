/*
 * probing - the daemon's probes: the wiring between the answers the
 * policy map resolves and the probe pool.
 *
 * When a destination is probed, and which of its addresses, is
 * probesched.h's decision: after a resolution when never probed or not
 * for probe_interval, again while Postfix keeps asking for it, at once on
 * demand, a recent result of a shared host reused; with a fleet, a
 * result another relay shared reused too, and the probe lease asked
 * first (probefleet.h). This file gives it its clocks, the policy map,
 * this host's addresses (listed at start, where probing_create() fails
 * when they cannot be, and again at most every 10 s when a plan needs
 * them) and the pool, and logs what it
 * decides: a refused address (probe-refused), a full queue
 * (probe-dropped). Each result is one key=value line at info; a
 * dane-mismatch is an alert naming the destination, host, address, the
 * published TLSA records and the presented chain's digests; a
 * destination whose every DANE host mismatches is one more alert, when it
 * becomes so. The history is kept in state_directory/probes, rewritten at
 * most every few seconds.
 *
 * Ownership: borrows the event base, log, policy map and alerter; holds a
 * reference to the configuration.
 */
#ifndef TLSPOLICYD_PROBING_H
#define TLSPOLICYD_PROBING_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "config/config.h"
#include "util/log.h"
#include "serve/policymap.h"
#include "dns/resolve.h"
#include "probe/probefleet.h"

struct event_base;
struct probing;

/* NULL with err when probes are enabled but cannot be set up. With
 * probe_enable = no it returns an object that does nothing. */
struct alerter;
struct probing *probing_create(struct event_base *base, struct log *log, struct policymap *pm,
    struct alerter *alerter, struct config *cfg, char *err, size_t errlen);
void probing_set_config(struct probing *pg, struct config *cfg);
struct fleet;
/* Shares probes with a fleet (fleet.h), borrowed until the next call or
 * probing_free(); NULL: alone, as without one. Each MX host, address and
 * port is then probed once per probe_interval for the fleet
 * (probefleet.h): a result another relay shared is recorded instead of a
 * probe (event=probe-shared), the probe lease says which relay probes,
 * and what this relay probes is shared, demands included. Free the
 * probing before the fleet. */
void probing_set_fleet(struct probing *pg, struct fleet *fleet);
/* Loads state_directory/probes: called as the daemon's user, who owns
 * the file (root without CAP_DAC_OVERRIDE, as under systemd, cannot). */
void probing_load_history(struct probing *pg);
/* The policy map's observer: a resolution has completed. */
void probing_resolved(void *arg, const struct resolve_result *r);
/* Probes dest's MX hosts after its next resolution, whatever probe_interval
 * says (tlspolicy refresh). */
void probing_demand(struct probing *pg, const char *dest);
/* What probes found out about a whole destination, when it becomes so. */
enum probing_news {
	PROBING_ALL_MISMATCH,	/* every DANE host fails DANE */
	PROBING_ALL_VERIFIED,	/* every DANE host passes DANE */
};
void probing_set_news(struct probing *pg, void (*news)(void *arg, const char *dest, enum probing_news n),
    void *arg);

/* Whether probes found every DANE host of dest failing DANE (a
 * server_set_probe_view() callback; arg is the probing). */
bool probing_all_mismatch(void *arg, const char *dest);

/* Appends the pool's counters as one key=value line, and the fleet's
 * share: probes_shared_hits, probes_shared_rejected, probes_lease_taken,
 * probes_lease_held, probes_fleet_alone (probefleet.h's stats). */
void probing_stats(const struct probing *pg, struct buf *out);
/* Those counters (zero without probes or a fleet). */
void probing_fleet_stats(const struct probing *pg, struct probefleet_stats *out);
/* Probes finished so far by class (indexes: enum probe_class). */
const uint64_t *probing_class_counts(const struct probing *pg);
/* Calls fn for each address of dest's MX hosts that has a probe history
 * (probestate.h), for the status page. */
struct probestate_addr;
void probing_each_addr(const struct probing *pg, const char *dest,
    void (*fn)(void *arg, const struct probestate_addr *a), void *arg);
/* probe_enable. */
bool probing_enabled(const struct probing *pg);
struct prober;
/* The pool, for its counters; NULL when probes are disabled. */
const struct prober *probing_prober(const struct probing *pg);
void probing_free(struct probing *pg);

#endif
