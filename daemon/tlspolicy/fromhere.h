/*
 * fromhere - DNS and probes from this host, set up from the daemon's own
 * settings, for the commands that look for themselves instead of asking
 * the daemon (explain, probe, tlsa, survey): they must see what the daemon
 * would see.
 *
 * fromhere_resolve() runs one resolution to its end on an event loop of
 * its own, and fromhere_sts_check() one MTA-STS check (stscheck.h) with
 * the daemon's sts_* settings. Errors are said on standard error, as
 * "tlspolicy CMD: ...".
 */
#ifndef TLSPOLICYD_FROMHERE_H
#define TLSPOLICYD_FROMHERE_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "dns/dns_unbound.h"
#include "dns/resolve.h"
#include "postfix/nexthop.h"
#include "probe/probe.h"
#include "sts/stscheck.h"

/* The resolver's settings in cfg; cfg must outlive them. */
void fromhere_dns_settings(const struct config *cfg, struct dns_unbound_settings *out);
/* A probe environment as the daemon's; keep_certs for `tlspolicy tlsa`.
 * NULL with err. */
struct probe_env *fromhere_probe_env(const struct config *cfg, bool keep_certs, char *err, size_t errlen);

/* A destination as Postfix writes one (nexthop.h); -1, said, when it is
 * not one. */
int fromhere_dest(const char *cmd, const char *dest, struct nexthop *nh);
/* Resolves nh and hands the result to done() (which must copy what it
 * keeps). -1, said, when the resolver could not be set up or the lookups
 * could not start. */
int fromhere_resolve(const struct config *cfg, const char *cmd, const struct nexthop *nh,
    void (*done)(void *arg, const struct resolve_result *r), void *arg);

/* Checks domain's MTA-STS now (the program has called
 * stsfetch_global_init()); the result is the caller's
 * (stscheck_result_free). NULL, said, when the resolver, this host's
 * addresses or the fetcher could not be set up. */
struct stscheck_result *fromhere_sts_check(const struct config *cfg, const char *cmd, const char *domain);

#endif
