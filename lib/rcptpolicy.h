/*
 * rcptpolicy - what tlspolicy-milter does with one recipient at RCPT time,
 * from the daemon's status answer for the recipient's domain (status.h),
 * the sender and the settings: accept, or refuse with a reply that tells
 * the sender in plain words what is wrong and with whom.
 *
 * The rules, in order:
 * - No answer from the daemon (down, out of time, an error), or TEMP for
 *   any reason but failed DNSSEC validation: accept. The daemon's trouble
 *   never blocks mail; Postfix asks again when it delivers.
 * - A sender in milter_require_secure_senders, to a destination that
 *   Postfix will not authenticate (a level other than dane-only, dane,
 *   verify, secure, fingerprint, or no policy at all): 550 5.7.1.
 * - Delivery known to fail on DANE (status failure tlsa-mismatch or
 *   dnssec-bogus): milter_on_dane_failure, 450 4.7.5 or 550 5.7.5.
 * - Otherwise accept.
 *
 * Contract: pure functions on caller-owned memory. Reply texts hold only
 * printable ASCII without '%' (libmilter reads them as a format), so a
 * hostile recipient domain cannot change a reply.
 */
#ifndef TLSPOLICY_RCPTPOLICY_H
#define TLSPOLICY_RCPTPOLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "status.h"

enum rcptpolicy_action { RCPTPOLICY_ACCEPT, RCPTPOLICY_TEMPFAIL, RCPTPOLICY_REJECT };

struct rcptpolicy_verdict {
	enum rcptpolicy_action action;
	const char *rcode;	/* "450", "550"; NULL when accepted */
	const char *xcode;	/* "4.7.5", ... */
	char text[512];		/* the reply's text */
	const char *why;	/* for the log: a stable word */
	/* What the message's header says about the destination: the level
	 * (dane-only, dane, encrypt, may, ...), "default" when the daemon has
	 * no policy (Postfix's smtp_tls_security_level applies), "deferred"
	 * when it answered TEMP, "unknown" without an answer. */
	char security[32];
};

/* The domain of an envelope address ("<user@Example.ORG.>" gives
 * "example.org"): lowercased, without a trailing dot; -1 when there is
 * none (a bare local part, "<>") or it does not fit. */
int rcptpolicy_domain(const char *address, char *domain, size_t size);

/* Whether the envelope sender is listed: an entry "user@example.org"
 * matches that address, "@example.org" every address in that domain;
 * case does not matter. */
bool rcptpolicy_sender_listed(char *const *list, const char *sender);

/* st is NULL when the daemon gave no usable answer. */
void rcptpolicy_decide(const struct config *cfg, bool secure_sender, const char *domain,
    const struct status *st, struct rcptpolicy_verdict *out);

/* Appends "domain=security" to a header value under construction, folded
 * (newline and tab) before a line grows past 78 characters; a domain
 * already there is not repeated. */
int rcptpolicy_header_add(struct buf *value, const char *domain, const char *security);

#endif
