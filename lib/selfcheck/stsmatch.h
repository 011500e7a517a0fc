/*
 * stsmatch - `tlspolicy selfcheck`'s sts-mismatch check: a domain's
 * MTA-STS (RFC 8461), as stscheck.h found it, against the MX hosts the
 * DANE resolution found and the certificates their addresses presented
 * (selfcheck.h's probes). Pure: the caller ran the check and the probes;
 * this only reads their results.
 *
 * A domain uses MTA-STS when it publishes a v=STSv1 TXT record or serves
 * a policy (stscheck's verdict is not STSCHECK_ABSENT); otherwise there is
 * nothing to say and no finding, not even an ok one. Findings, all with
 * the code "sts-mismatch":
 *   fail  a policy in mode enforce matches no mx pattern to an MX host:
 *         senders that apply MTA-STS refuse to deliver to it now (one
 *         finding per host)
 *   fail  under a policy in mode enforce, an address of a matched MX host
 *         presents a certificate that does not verify (PKIX against the
 *         probes' CA store, and the MX host's name): senders that apply
 *         MTA-STS, which do not use DANE, defer mail to it (one finding per
 *         host and certificate)
 *   warn  either of those in mode testing: senders deliver and report
 *         failures
 *   warn  the mta-sts host's certificate does not verify (a finding of
 *         its own, with the fix): senders cannot fetch the policy, those
 *         that hold it keep it until max_age runs out, the others deliver
 *         without MTA-STS
 *   warn  anything else that keeps a domain that uses MTA-STS from having
 *         a valid policy (an unusable TXT record, a fetch that fails, an
 *         invalid policy, a policy served without a TXT record): one
 *         finding quoting stscheck's first problem, which names its fix
 *   ok    the domain has a valid policy that matches every MX host
 * Problems `tlspolicy sts` reports for a valid policy that make no sender
 * fail (mode testing, a short max_age) are left to it.
 *
 * Ownership: the inputs are only read; findings are added to the caller's
 * checklist.
 */
#ifndef TLSPOLICY_STSMATCH_H
#define TLSPOLICY_STSMATCH_H

#include <stddef.h>

#include "sts/stscheck.h"
#include "selfcheck/checklist.h"
#include "selfcheck/selfcheck.h"

#define STSMATCH_CODE "sts-mismatch"

/* Adds the findings of sts (for the checklist's domain) against the MX
 * host names given (lower case, no trailing dot) and the probes of their
 * addresses (those not probed, or that did not complete a handshake, are
 * left to selfcheck's own checks). 0, or -1 when out of memory (the list
 * then holds part of the findings). */
int stsmatch_run(const struct stscheck_result *sts, const char *const *mx_hosts, size_t nhosts,
    const struct selfcheck_probe *probes, size_t nprobes, struct checklist *out);

#endif
