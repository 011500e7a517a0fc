/*
 * dns_unbound - the real resolver behind the dns seam: libunbound, in
 * process, its answers processed on the daemon's libevent loop (ub_fd +
 * ub_process); libunbound's own resolver thread does the network work.
 *
 * Set-up follows SPEC section 8: full recursion from libunbound's root
 * hints with the trust anchors in trust_anchor_file (Debian's root key by
 * default), and an optional unbound.conf (unbound_config) read into the
 * context for forwarders, stub zones and extra trust anchors.
 *
 * dns_unbound_create() also finishes libunbound's set-up at once (it reads
 * every trust anchor and starts its thread), so that configuration errors
 * surface at start-up and the daemon can drop privileges afterwards.
 * Every lookup is bounded by timeout_ms: past it the callback gets
 * DNS_TIMEOUT and the libunbound query is cancelled.
 *
 * Returns NULL with an English message in err on failure.
 */
#ifndef TLSPOLICY_DNS_UNBOUND_H
#define TLSPOLICY_DNS_UNBOUND_H

#include <stddef.h>

#include "dns.h"

struct event_base;

struct dns_unbound_settings {
	const char *trust_anchor_file;	/* "" for none */
	const char *unbound_config;	/* "" for none */
	unsigned timeout_ms;
};

struct dns *dns_unbound_create(struct event_base *base, const struct dns_unbound_settings *s,
    char *err, size_t errlen);

#endif
