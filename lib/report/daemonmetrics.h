/*
 * daemonmetrics - the daemon's Prometheus metrics: every family that its
 * metrics endpoint (metrics_listen) serves, with name, type, help text and
 * label, in one table, and how each is filled from the counters of the
 * modules that keep them. The exposition format is metrics.h's; this is
 * what the daemon says in it.
 *
 * The counters live with their owners and are gathered at each scrape
 * into a struct daemonmetrics. Two are the daemon's own, kept here so
 * that their counting is tested too: the DNS lookups of every fresh
 * resolution by DNSSEC status and outcome, and the time resolutions take
 * (struct daemonmetrics_resolutions, daemonmetrics_resolved()).
 *
 * It sits in report/, the top layer, because it reads the counters of
 * probe/ (the pool, the classes) and watch/ (Postfix's log).
 *
 * Contract: pure; daemonmetrics_write() appends to the caller's buffer and
 * reads only what it is given (the alerts by kind through a callback).
 */
#ifndef TLSPOLICY_DAEMONMETRICS_H
#define TLSPOLICY_DAEMONMETRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/metrics.h"
#include "dns/dns.h"
#include "dns/resolve.h"
#include "fleet/fleet.h"
#include "serve/policymap.h"
#include "probe/probe.h"
#include "probe/prober.h"
#include "sts/sts.h"
#include "watch/logwatch.h"

/* enum dns_security and enum dns_outcome, counted. */
#define DAEMONMETRICS_SECURITIES 3
#define DAEMONMETRICS_OUTCOMES 5

/* The socketmap listeners' counters (the daemon's server counts them). */
struct daemonmetrics_socketmap {
	uint64_t ok, notfound, temp, perm;	/* replies by status */
	uint64_t accepted;			/* connections */
	uint64_t request_timeouts;		/* closed with half a request in */
	uint64_t refused_peer_limit;		/* closed at once: max_connections_per_peer */
};

/* The fresh resolutions, as the policy map's observer sees them. */
struct daemonmetrics_resolutions {
	uint64_t lookups[DAEMONMETRICS_SECURITIES][DAEMONMETRICS_OUTCOMES];
	struct metrics_histogram seconds;
};

/* Counts one resolution's lookups and its time. */
void daemonmetrics_resolved(struct daemonmetrics_resolutions *res, const struct resolve_result *r,
    uint64_t elapsed_ms);

typedef void daemonmetrics_alert_count(void *arg, const char *kind, uint64_t n);

/* Everything a scrape shows, gathered from its owners. */
struct daemonmetrics {
	struct daemonmetrics_socketmap socketmap;
	size_t connections;			/* socketmap connections open */
	uint64_t metrics_refused;		/* the endpoint's own refusals */
	struct policymap_stats cache;
	struct sts_stats sts;			/* zero without MTA-STS */
	const struct daemonmetrics_resolutions *resolutions;
	const uint64_t *probes;			/* finished, by enum probe_class; NULL: none */
	struct prober_stats prober;
	size_t exceptions;			/* entries of the list in force */
	size_t maillog_lines;
	struct logwatch_counts maillog;		/* summed over the destinations tracked */
	/* Calls each() for every kind of alert raised, with its count. */
	void (*alerts)(void *arg, daemonmetrics_alert_count *each, void *each_arg);
	void *alerts_arg;
	uint64_t monitor_checks;		/* of monitor_domains, so far */
	/* Calls each() for every domain of monitor_domains checked so far,
	 * with the last check's exit status as `tlspolicy selfcheck` gives it
	 * (0 passed, 1 warned, 2 failed, 3 could not check). */
	void (*monitor)(void *arg, daemonmetrics_alert_count *each, void *each_arg);
	void *monitor_arg;
	bool has_fleet;				/* redis_server set */
	struct fleet_stats fleet;		/* with has_fleet */
};

/* Appends the whole exposition. 0, or -1 when out of memory. */
int daemonmetrics_write(const struct daemonmetrics *m, struct buf *out);

/* The families in the order written, i from 0; NULL past the last. */
struct daemonmetrics_family {
	const char *name, *type, *help;
	const char *label;			/* NULL: one sample without a label */
};
const struct daemonmetrics_family *daemonmetrics_family(size_t i);

#endif
