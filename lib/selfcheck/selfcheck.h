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
 *   cert-type-uncovered fail an address presents certificates of two key
 *                      types (an RSA-only and an ECDSA-only handshake give
 *                      different keys) and one type's chain matches no
 *                      usable TLSA record; the fix names the 3 1 1 record
 *                      for that key. Not said again for the key a failed
 *                      tlsa-mismatch already names.
 *   rollover-unready   warn  every usable TLSA record of a host matches one
 *                      of its current keys (every key type's); the fix
 *                      names the record to add. Judged only where every
 *                      chain of the host matches (tlsa-mismatch and
 *                      cert-type-uncovered come first).
 *   sts-mismatch       (stsmatch.h: the MTA-STS policy against the MX hosts)
 * The DNS checks (rrsig-expiring, denial-broken, ns-inconsistent,
 * nsec3-iterations) are zonecheck.h's.
 * ok findings exist for mx-insecure, host-insecure, no-tlsa, tlsa-unusable,
 * tlsa-lookup-failed, tlsa-mismatch, starttls-missing, cert-type-uncovered,
 * cert-expiring, renewal-unstaggered and rollover-unready, each when the
 * check could be made (tlsa-mismatch only with a TLSA record and a chain
 * to match it against, cert-type-uncovered only where both one-type
 * handshakes were made, renewal-unstaggered only with two hosts'
 * certificates) and found nothing.
 *
 * A domain whose MX lookup fails, that has a null MX or does not exist is
 * unchecked (checklist.h), with the resolution's reason.
 *
 * Ownership: the input is only read; findings are added to the caller's
 * checklist.
 */
#ifndef TLSPOLICY_SELFCHECK_H
#define TLSPOLICY_SELFCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/resolve.h"
#include "probe/probe.h"
#include "selfcheck/checklist.h"

#define SELFCHECK_DEFAULT_DAYS 21

/* One address of an MX host: its probe's result, or why it was not
 * probed; and, where selfcheck_wants_key_types() asks for them, the
 * results of two more probes of the same target whose handshakes offer
 * only RSA and only ECDSA (probe_target.key_type). */
struct selfcheck_probe {
	const struct probe_target *target;	/* host name, address, TLSA given */
	const struct probe_result *result;	/* NULL: not probed */
	const char *not_probed;			/* why, when result is NULL */
	const struct probe_result *rsa;		/* NULL: not made */
	const struct probe_result *ecdsa;	/* NULL: not made */
};

struct selfcheck_input {
	const struct resolve_result *resolution;
	const struct selfcheck_probe *probes;
	size_t nprobes;
	int64_t now;		/* seconds since the epoch */
	unsigned days;		/* cert-expiring's horizon */
};

/* Whether an address's certificate types are worth the two one-type
 * probes: its host has usable TLSA records and its probe saw a chain. */
bool selfcheck_wants_key_types(const struct selfcheck_probe *p);

/* Runs every check; 0, or -1 when out of memory (the list then holds
 * part of the findings). */
int selfcheck_run(const struct selfcheck_input *in, struct checklist *out);

/* The time of a probe_cert date ("2026-12-05T13:00:00Z"), seconds since
 * the epoch; -1 when it is not one. */
int64_t selfcheck_cert_time(const char *text);

#endif
