/*
 * rcptpolicy - what tlspolicy-milter does with one recipient at RCPT time,
 * from the daemon's status answer for the recipient's domain (status.h),
 * the sender and the settings: accept, or refuse with a reply that tells
 * the sender in plain words what is wrong and with whom.
 *
 * The rules, in order:
 * - No answer from the daemon (down, out of time, an error), or TEMP for
 *   any reason but failed DNSSEC validation: accept, except for a sender
 *   in milter_require_secure_senders, who gets 450 4.7.5 (whether the
 *   destination is secure is not known: never assume it is). The daemon's
 *   trouble never blocks other mail; Postfix asks again when it delivers.
 * - Delivery known to fail on DANE, with milter_on_dane_failure tempfail
 *   or reject: 450 4.7.5, or 550 5.7.5 under reject only when the
 *   failure is the daemon's own DNSSEC validation (dnssec-bogus). A
 *   tlsa-mismatch is probe evidence, which anyone on the path to the
 *   receiver can fake: it never gives more than 450 4.7.5, so an attacker
 *   can at worst delay mail, never have it bounced.
 * - A listed sender whose destination is TEMP for failed DNSSEC (and
 *   milter_on_dane_failure accept): 450 4.7.5.
 * - A listed sender, to a destination whose answer does not make Postfix
 *   authenticate every host it delivers to: 550 5.7.1. Secure answers
 *   are dane-only, and the levels an exception (or a level_* setting)
 *   may give: verify, secure, fingerprint. dane is not (Postfix falls
 *   back to unauthenticated TLS or plain text for MX hosts without
 *   usable TLSA: mixed hosts, a failed host, an insecure MX), nor are
 *   encrypt, may, none or no policy at all (NOTFOUND).
 * - Otherwise accept.
 *
 * The answer at RCPT time is the daemon's answer then; the queue manager
 * asks again at delivery time, which may be later and differ (DNS
 * changed, an exception was added, the cache expired). A listed sender's
 * mail accepted at RCPT time is only as secure as the answer at delivery.
 *
 * Contract: pure functions on caller-owned memory. Reply texts hold only
 * printable ASCII without '%' (libmilter reads them as a format), so a
 * hostile recipient domain cannot change a reply.
 */
#ifndef TLSPOLICY_RCPTPOLICY_H
#define TLSPOLICY_RCPTPOLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "config/config.h"
#include "serve/status.h"

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
