/*
 * ownwatch - the daemon's monitor of monitor_domains (lib/selfcheck/
 * monitor.h), set up from the configuration: a runner (selfrun.h) with a
 * probe environment of its own that keeps certificates (rollover-unready
 * matches records of every type against them), on the daemon's resolver
 * and alerter. The first checks start 10 seconds after the daemon (or one
 * interval, if shorter): the resolver has been judged by then.
 *
 * Ownership: borrows the event base, log, dns seam and alerter, which
 * outlive it; owns the probe environment, runner and monitor.
 */
#ifndef TLSPOLICYD_OWNWATCH_H
#define TLSPOLICYD_OWNWATCH_H

#include <stddef.h>

#include "config/config.h"
#include "dns/dns.h"
#include "util/log.h"
#include "watch/alert.h"
#include "report/daemonmetrics.h"

struct event_base;
struct ownwatch;

/* An ownwatch that watches nothing while monitor_domains is empty; NULL
 * with err when the probes or the runner cannot be set up. */
struct ownwatch *ownwatch_create(struct event_base *base, struct log *log, struct dns *dns,
    struct alerter *alerter, const struct config *cfg, char *err, size_t errlen);
/* SIGHUP: the new domains, interval and probe settings; a domain kept
 * keeps what its checks found. Failures are logged; the old stay. */
void ownwatch_reload(struct ownwatch *w, const struct config *cfg);
void ownwatch_free(struct ownwatch *w);

/* The monitor's part of a scrape. */
void ownwatch_metrics(struct ownwatch *w, struct daemonmetrics *m);

#endif
