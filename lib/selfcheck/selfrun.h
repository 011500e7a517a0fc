/*
 * selfrun - runs the checks of `tlspolicy selfcheck` (selfcheck.h) on an
 * event loop, for the command line and for the daemon's monitor alike.
 *
 * A check of one domain: its resolution (resolve.h) and, beside it, its
 * MTA-STS check (stscheck.h); once resolved, in parallel, the DNS checks
 * of its zones and name servers (zonecheck.h) and a probe of every
 * address of every MX host (probeplan.h, every address, not only those
 * Postfix would try: each must keep what the DNS promises), and where
 * selfcheck_wants_key_types() asks, two more that offer one key type
 * each. When all are back, zonecheck_findings(), selfcheck_run() and
 * stsmatch_run() have made the checklist the callback gets.
 *
 * The probes run on a prober of the runner's own (prober.h), on a worker
 * thread, so that no handshake delays the loop: in the daemon, answers to
 * Postfix go on while the monitor checks. The prober is made for a few
 * checks at a time: a handful of probes at once, none waiting for
 * another of the same address.
 *
 * Ownership: selfrun_create() borrows the event base, the dns seam and
 * the probe environment, which must outlive the runner, and copies the
 * settings (this host's addresses included). The checklist handed to the
 * callback lives during the call. selfrun_free() drops checks still
 * running, without callbacks; a callback may start further checks but
 * not free the runner.
 */
#ifndef TLSPOLICY_SELFRUN_H
#define TLSPOLICY_SELFRUN_H

#include <stdbool.h>
#include <stddef.h>

#include "dns/dns.h"
#include "probe/probe.h"
#include "probe/probeplan.h"
#include "sts/stsfetch.h"
#include "selfcheck/checklist.h"
#include "selfcheck/zonecheck.h"

struct event_base;

struct selfrun_settings {
	unsigned days;				/* cert-expiring's horizon */
	struct probeplan_settings plan;		/* address_limit is ignored: all */
	bool check_sts;				/* sts-mismatch (stsfetch_global_init() done) */
	struct stsfetch_settings sts;		/* its fetch; own is plan's */
	unsigned rrsig_days;			/* rrsig-expiring's horizon */
	struct zonecheck_settings zone;		/* the DNS checks */
};

typedef void selfrun_callback(void *arg, const struct checklist *list);

struct selfrun;

/* NULL with err when the prober cannot start or memory runs out. */
struct selfrun *selfrun_create(struct event_base *base, struct dns *dns, const struct probe_env *env,
    const struct selfrun_settings *s, char *err, size_t errlen);
void selfrun_free(struct selfrun *sr);
/* New settings (a reload); checks under way keep the plan they made. -1
 * when out of memory (the previous settings stay). */
int selfrun_set(struct selfrun *sr, const struct selfrun_settings *s);

/* Checks domain (a domain name as Postfix writes a next hop); cb gets
 * the checklist, which may say the domain could not be checked. 0, or -1
 * with err when the name is not a domain or the check cannot start (no
 * callback then). */
int selfrun_check(struct selfrun *sr, const char *domain, selfrun_callback *cb, void *arg, char *err,
    size_t errlen);

/* Checks under way. */
size_t selfrun_pending(const struct selfrun *sr);

#endif
