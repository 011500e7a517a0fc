/*
 * statusview - the daemon's status page (lib/report/statuspage.h) on the
 * metrics endpoint: gathers, when "/" or "/status.json" is asked for, the
 * state of the modules that own it into one struct statuspage, and keeps
 * what no module keeps: the start time, and once a minute the socketmap's
 * reply totals (statuspage_ring), for the answers of the last hour.
 *
 * A destination's row joins, under its cache key (the next hop as Postfix
 * asked): the policy map's cached answer and when Postfix last asked
 * (policymap_each_recent, the latest STATUSPAGE_MAX_ROWS), the exception
 * that applies (policymap_exception), the probe history of its MX
 * addresses (probing), the log watcher's counts (maillog), the last alert
 * (alerter_last) and a waiting proposal (exlist). Probes, the log and
 * alerts name the destination as a domain: a [host] next hop's row has
 * its answer only.
 *
 * Cost: one pass over at most STATUSPAGE_MAX_ROWS cached answers and a
 * few map lookups per row, on the loop, per page asked for; the metrics
 * endpoint's connection limits bound how often.
 *
 * Ownership: borrows the event base; the sources are borrowed for one call.
 */
#ifndef TLSPOLICYD_STATUSVIEW_H
#define TLSPOLICYD_STATUSVIEW_H

#include <stdint.h>

#include "util/buf.h"
#include "config/config.h"
#include "serve/policymap.h"
#include "report/statuspage.h"

struct event_base;
struct probing;
struct maillog;
struct exlist;
struct alerter;
struct resolvers;

/* What a page is gathered from; any but pm and cfg may be NULL (not set
 * up yet, while the start waits for the trust check). */
struct statusview_sources {
	const struct config *cfg;
	const struct policymap *pm;
	const struct probing *probing;
	const struct maillog *maillog;
	const struct exlist *exlist;
	const struct alerter *alerter;
	const struct resolvers *resolvers;
};

/* The reply totals so far, by STATUSPAGE_OK ... STATUSPAGE_PERM. */
typedef void statusview_totals(void *arg, uint64_t out[STATUSPAGE_RESULTS]);

struct statusview;

/* NULL when out of memory. totals() is called at once and every minute. */
struct statusview *statusview_create(struct event_base *base, statusview_totals *totals, void *arg);
/* Appends the page (html) or its JSON. */
void statusview_render(struct statusview *v, const struct statusview_sources *src, bool json, struct buf *out);
void statusview_free(struct statusview *v);

#endif
