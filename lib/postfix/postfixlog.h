/*
 * postfixlog - recognises the lines of Postfix's log that tell how TLS to
 * the next hops goes (smtp(8)'s, and the delivery lines of any delivery
 * agent). A pure parser: one line in, one struct out, nothing kept.
 *
 * Lines are syslog's ("Nov 24 16:40:19 host postfix/smtp[18364]: ...") or
 * Postfix's own maillog_file's (the same shape), or journalctl's short
 * format, which is the same again. Recognised:
 *
 *   TLS_ESTABLISHED  "Verified|Trusted|Untrusted|Anonymous TLS connection
 *                     established to HOST[ADDR]:PORT: PROTOCOL with cipher ..."
 *   CERT_FAILED      "server certificate verification failed for
 *                     HOST[ADDR]:PORT: num=NN:REASON", and the
 *                     "certificate verification failed for" and "CA
 *                     certificate verification failed for" forms
 *   TLSA_ERROR       "TLSA lookup error for HOST:PORT" (warning)
 *   NON_DNSSEC       "... non DNSSEC destination" (warning)
 *   DNSSEC_OFF       "warning: DNSSEC validation may be unavailable"
 *   DELIVERY         "QUEUEID: to=<RCPT>, relay=HOST[ADDR]:PORT, ...,
 *                     dsn=X.Y.Z, status=sent|deferred|bounced (TEXT)",
 *                     with Postfix 3.11's "tls=..." field when present;
 *                     TEXT is where "Server certificate not verified" and
 *                     "Server certificate not trusted" appear
 *
 * Contract: postfixlog_parse() never reads past len, never allocates, and
 * fills every field with printable, bounded text (a hostile host name in
 * the log cannot overflow or inject anything). Returns the kind, or
 * POSTFIXLOG_NONE for every other line.
 */
#ifndef TLSPOLICY_POSTFIXLOG_H
#define TLSPOLICY_POSTFIXLOG_H

#include <stddef.h>

#include "postfix/nexthop.h"

enum postfixlog_kind {
	POSTFIXLOG_NONE,
	POSTFIXLOG_TLS_ESTABLISHED,
	POSTFIXLOG_CERT_FAILED,
	POSTFIXLOG_TLSA_ERROR,
	POSTFIXLOG_NON_DNSSEC,
	POSTFIXLOG_DNSSEC_OFF,
	POSTFIXLOG_DELIVERY,
};

struct postfixlog_line {
	enum postfixlog_kind kind;
	char program[32];		/* "postfix/smtp", or an instance's name */
	unsigned long pid;
	char queue_id[32];		/* DELIVERY */
	char trust[12];			/* TLS_ESTABLISHED: Verified, Trusted, Untrusted, Anonymous */
	char host[NEXTHOP_NAME_MAX + 1];
	char addr[64];
	unsigned port;
	char rcpt_domain[NEXTHOP_NAME_MAX + 1];	/* DELIVERY: the recipient's domain, lower case */
	char dsn[16];			/* DELIVERY: "4.7.5" */
	char status[16];		/* DELIVERY: sent, deferred, bounced */
	char tls[64];			/* DELIVERY: the tls= field, if any */
	char text[256];			/* the reason in parentheses, or the rest of the line */
};

enum postfixlog_kind postfixlog_parse(const char *line, size_t len, struct postfixlog_line *out);
const char *postfixlog_kind_name(enum postfixlog_kind k);

#endif
