/*
 * selfcheck - the checks `tlspolicy selfcheck` makes of a domain of one's
 * own, as pure functions over what a resolution (resolve.h) and the
 * probes of its MX hosts' addresses (probe.h) found. Nothing here does
 * I/O, so every check can be tested from tables.
 *
 * Codes (the check's name; an ok finding carries the code of the check
 * that passed, with no host, once per domain):
 *   mx-insecure        warn  the MX RRset is not DNSSEC-signed
 *   host-insecure      warn  an MX host's addresses are not signed
 *   address-lookup-failed fail an MX host's address lookups fail or are bogus
 *   no-tlsa            warn  a signed MX host has no TLSA records
 *   tlsa-unusable      warn  only records unusable for SMTP (usage 0/1, malformed)
 *   tlsa-lookup-failed fail  the TLSA lookup is bogus or fails
 *   tlsa-mismatch      fail  an address presents a chain no usable record matches
 *   starttls-missing   fail  an address of a host with TLSA offers no STARTTLS
 *                      (warn when the host has no TLSA)
 *   tls-failed         fail  the TLS handshake fails (warn without TLSA)
 *   unreachable        warn  an address does not answer SMTP
 *   not-probed         warn  an address that may not be probed from here
 *   cert-expiring      warn  a presented certificate expires within `days`
 *                      (fail once it has expired)
 *   renewal-unstaggered warn all MX hosts' certificates expire within a day
 *   rollover-unready   warn  every usable TLSA record of a host matches its
 *                      current key alone; the fix names the record to add
 * The DNS checks (rrsig-expiring, denial-broken, ns-inconsistent,
 * nsec3-iterations) are zonecheck.h's.
 * ok findings exist for mx-insecure, host-insecure, no-tlsa, tlsa-unusable,
 * tlsa-lookup-failed, tlsa-mismatch, starttls-missing, cert-expiring,
 * renewal-unstaggered and rollover-unready, each when the check could be
 * made (tlsa-mismatch only with a TLSA record and a chain to match it
 * against, renewal-unstaggered only with two hosts' certificates) and
 * found nothing.
 *
 * A domain whose MX lookup fails, that has a null MX or does not exist is
 * unchecked (checklist.h), with the resolution's reason.
 *
 * Ownership: the input is only read; findings are added to the caller's
 * checklist.
 */
#ifndef TLSPOLICY_SELFCHECK_H
#define TLSPOLICY_SELFCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "dns/resolve.h"
#include "probe/probe.h"
#include "selfcheck/checklist.h"

#define SELFCHECK_DEFAULT_DAYS 21

/* One address of an MX host: its probe's result, or why it was not
 * probed. */
struct selfcheck_probe {
	const struct probe_target *target;	/* host name, address, TLSA given */
	const struct probe_result *result;	/* NULL: not probed */
	const char *not_probed;			/* why, when result is NULL */
};

struct selfcheck_input {
	const struct resolve_result *resolution;
	const struct selfcheck_probe *probes;
	size_t nprobes;
	int64_t now;		/* seconds since the epoch */
	unsigned days;		/* cert-expiring's horizon */
};

/* Runs every check; 0, or -1 when out of memory (the list then holds
 * part of the findings). */
int selfcheck_run(const struct selfcheck_input *in, struct checklist *out);

/* The time of a probe_cert date ("2026-12-05T13:00:00Z"), seconds since
 * the epoch; -1 when it is not one. */
int64_t selfcheck_cert_time(const char *text);

#endif
