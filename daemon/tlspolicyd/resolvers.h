/*
 * resolvers - the daemon's two checks of resolvers, on its loop.
 *
 * The trust check (trustcheck.h): does the daemon's own resolver validate
 * under its trust anchors? The DNSKEY records of trust_check_name are
 * looked up at start, before the first request is read
 * (resolvers_first_trust_check(), whose verdict can stop the start), and
 * then every trust_check_interval, sooner while failing. Until a check
 * passes, fresh resolutions are answered TEMP (policymap_set_untrusted,
 * with the reason trustcheck_trust() gives); a failure is an alert
 * (kind=trust-check-failed) and a recovery is logged once.
 *
 * The AD check (adcheck.h): does the resolver Postfix uses (resolv_conf)
 * validate? Postfix trusts its AD bit for its own DANE. Asked every
 * resolver_check_interval (0: never); one that does not validate is an
 * alert (kind=resolver-not-validating).
 *
 * Ownership: borrows the event base, log, dns, policy map and alerter;
 * holds a reference to the configuration. resolvers_free() cancels what
 * is in flight.
 */
#ifndef TLSPOLICYD_RESOLVERS_H
#define TLSPOLICYD_RESOLVERS_H

#include <stddef.h>

#include "config/config.h"
#include "dns/dns.h"
#include "util/log.h"
#include "serve/policymap.h"

struct event_base;
struct alerter;
struct resolvers;

/* NULL when out of memory. Starts nothing. */
struct resolvers *resolvers_create(struct event_base *base, struct log *log, struct dns *dns,
    struct policymap *pm, struct alerter *alerter, struct config *cfg);
/* The trust check at start: runs the loop until its verdict. 0, with
 * refusal set (non-empty) when the anchors are wrong and the daemon must
 * not start; -1 when the check cannot run. Meanwhile the listeners have no
 * server, so connections wait in their queues; the control socket
 * answers (TEMP for anything that needs DNS). */
int resolvers_first_trust_check(struct resolvers *rs, char *refusal, size_t size);
/* Starts the AD checks when resolver_check_interval says so. */
void resolvers_start_ad_check(struct resolvers *rs);
/* SIGHUP: a new trust_check_name or interval is judged at once (the
 * interval counts from then); AD checks turned on start. */
void resolvers_set_config(struct resolvers *rs, struct config *cfg);
/* The trust check's state in a word: "validating", "not-validating",
 * "unverified" (no check has passed since start). */
const char *resolvers_trust_state(const struct resolvers *rs);
void resolvers_free(struct resolvers *rs);

#endif
