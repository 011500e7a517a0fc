/*
 * logwatch - what Postfix's own log says about TLS per destination: counts
 * of each outcome, and the alerts that follow from them.
 *
 * Lines go in one at a time (from tail.h); postfixlog.h recognises them.
 * A TLS line and a certificate failure name the host and address but not
 * the destination: they are kept per smtp process (program and pid) and
 * tied to the destination by that process's next delivery line, whose
 * recipient domain is the destination. An smtp process delivers one
 * message at a time, so everything it logged since its last delivery line
 * belongs to this one, whatever the relay: deferrals for a TLSA lookup
 * error or a non-DNSSEC destination say "relay=none", and after MX
 * fallback the relay is not the host that failed. (With
 * smtp_tls_connection_reuse the TLS lines come from tlsproxy, not from
 * the smtp process, and are not counted.)
 *
 * Per destination (at most max_dests; past that the one seen longest ago
 * is forgotten) it counts: verified, trusted, untrusted, anonymous TLS
 * connections; certificate verification failures; TLSA lookup errors;
 * "non DNSSEC destination" warnings; deliveries sent; deferrals, and among
 * them those with dsn 4.7.5 (TLS required but failed). It also keeps the
 * current run of 4.7.5 deferrals: how many since the last delivery sent,
 * and when the first and the latest of them were logged, which is what
 * corroborates a probe's dane-mismatch before exceptions_auto acts on it
 * (exproposal.h).
 *
 * Alerts, through the callback (the caller deduplicates and rate-limits):
 *   auth-failing      a destination last delivered over Verified TLS now
 *                     fails TLS authentication (a certificate failure, a
 *                     4.7.5 deferral, a TLSA lookup error)
 *   dnssec-off        Postfix says DNSSEC validation may be unavailable:
 *                     its resolver does not validate, so its DANE is off
 *
 * Ownership: the caller owns the logwatch; strings passed to the callback
 * are valid during the call only.
 */
#ifndef TLSPOLICY_LOGWATCH_H
#define TLSPOLICY_LOGWATCH_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct logwatch_counts {
	uint64_t verified, trusted, untrusted, anonymous;
	uint64_t cert_failed, tlsa_error, non_dnssec;
	uint64_t sent, deferred, deferred_tls;	/* deferred_tls: dsn 4.7.5 */
	int64_t last_seen;			/* Unix seconds of the last line */
	int last_verified;			/* the latest TLS outcome was Verified */
	/* The 4.7.5 deferrals since the last delivery sent (a sent one
	 * clears them): how many, and Unix seconds of the first and latest. */
	uint64_t run_deferred_tls;
	int64_t run_first, run_last;
};

typedef void logwatch_alert(void *arg, const char *kind, const char *dest, const char *detail);

struct logwatch;

struct logwatch *logwatch_create(size_t max_dests, logwatch_alert *alert, void *arg);
void logwatch_free(struct logwatch *lw);

/* One line of the log; now is Unix seconds. */
void logwatch_line(struct logwatch *lw, const char *line, size_t len, int64_t now);

/* NULL when nothing was seen for dest. */
const struct logwatch_counts *logwatch_counts(const struct logwatch *lw, const char *dest);
void logwatch_each(const struct logwatch *lw,
    void (*fn)(void *arg, const char *dest, const struct logwatch_counts *c), void *arg);
size_t logwatch_lines(const struct logwatch *lw);	/* lines fed so far */

/* The counts as key=value fields (kv.h: "verified=N ... deferred_tls=N
 * last_seen=T"), for people and for a fleet's relays, and back: 0, or -1
 * when a field is not a number or a count is missing. Unknown keys are
 * ignored (a later version's). */
void logwatch_counts_format(const struct logwatch_counts *c, struct buf *out);
int logwatch_counts_parse(const char *text, size_t len, struct logwatch_counts *out);
/* Adds the outcome counts of c to sum (last_seen: the latest). */
void logwatch_counts_add(struct logwatch_counts *sum, const struct logwatch_counts *c);

#endif
