/*
 * dns_unbound - the real resolver behind the dns seam: libunbound, in
 * process, its answers processed on the daemon's libevent loop (ub_fd +
 * ub_process); libunbound's own resolver thread does the network work.
 *
 * Set-up follows tlspolicyd.conf(5): full recursion from libunbound's root
 * hints with the trust anchors in trust_anchor_file (Debian's root key by
 * default), smaller message and RRset caches than libunbound's own
 * defaults (the daemon caches its answers itself), and an optional
 * unbound.conf (unbound_config) read into the context for forwarders,
 * stub zones, extra trust anchors and other cache sizes.
 *
 * dns_unbound_create() also finishes libunbound's set-up at once (it reads
 * every trust anchor and starts its thread), so that configuration errors
 * surface at start-up and the daemon can drop privileges afterwards.
 * Every lookup is bounded by timeout_ms: past it the callback gets
 * DNS_TIMEOUT and the libunbound query is cancelled.
 *
 * A context without any trust anchor is refused: libunbound would answer
 * everything insecure. Which anchors unbound_config holds (its own
 * trust-anchor-file:, trust-anchor:, auto-trust-anchor-file: and
 * trusted-keys-file: lines, and those of the files it includes) is asked
 * of libunbound once it has read the file, so it is judged by the parser
 * that uses it. Having an anchor does not prove that it works: that is
 * trustcheck.h's job.
 *
 * RFC 5011: with tracking_file, the anchors of trust_anchor_file are not
 * used as they are but tracked in that file, which libunbound reads at
 * start and rewrites from its own thread when it sees the keys change
 * (auto-trust-anchor-file: in unbound.conf(5)); the daemon's user must be
 * able to create files in its directory. dns_unbound_seed_tracking()
 * makes the file from trust_anchor_file the first time.
 *
 * Returns NULL with an English message in err on failure.
 */
#ifndef TLSPOLICY_DNS_UNBOUND_H
#define TLSPOLICY_DNS_UNBOUND_H

#include <stddef.h>

#include "dns/dns.h"

struct event_base;

/* libunbound's message and RRset cache sizes, set before unbound_config
 * is read (which may set others). */
#define DNS_UNBOUND_MSG_CACHE "1m"
#define DNS_UNBOUND_RRSET_CACHE "2m"

struct dns_unbound_settings {
	const char *trust_anchor_file;	/* "" for none */
	const char *tracking_file;	/* NULL or "": trust_anchor_file as it is */
	const char *unbound_config;	/* "" for none */
	unsigned timeout_ms;
};

struct dns *dns_unbound_create(struct event_base *base, const struct dns_unbound_settings *s,
    char *err, size_t errlen);

/* Copies the anchor file from into to, unless to exists: 1 when copied, 0
 * when to was there already, -1 with err. The copy is written beside to
 * and renamed into place, so a crash leaves no half a file for libunbound
 * to read at the next start. */
int dns_unbound_seed_tracking(const char *from, const char *to, char *err, size_t errlen);

#endif
