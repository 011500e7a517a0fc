/*
 * authquery - one DNS question sent straight to one server address (an
 * authoritative name server), not through the validating resolver: what
 * selfcheck needs to see whether a domain's name servers agree, which no
 * recursive resolver shows.
 *
 * The query goes out with RD off, EDNS0 (AUTHQUERY_UDP_SIZE) and DO when
 * asked; over UDP first, again over TCP when the UDP reply is truncated.
 * A datagram is taken as the reply only when its ID and its question
 * (name, type, class) are those sent; anything else is ignored and the
 * wait goes on (spoofs, late replies to someone else). One deadline
 * covers both transports.
 *
 * The callback runs exactly once, from the event loop, never from inside
 * authquery_start(): with AUTHQUERY_OK and the parsed reply (any rcode
 * but REFUSED), or with a failure and reply NULL. The reply belongs to the
 * query and is valid only during the callback (copy what is needed). The
 * query frees itself after the callback returns; authquery_cancel()
 * before then frees it without a callback (never after, nor from inside
 * its own callback).
 *
 * Limits: a UDP datagram of at most AUTHQUERY_UDP_BUFFER bytes (a bigger
 * one, with our ID, is taken as truncated: the question goes again over
 * TCP), a TCP reply of at most AUTHQUERY_MAX_REPLY (the DNS's own 65535),
 * its buffer sized by its length prefix; no retry
 * over UDP (a lost datagram costs the deadline: callers keep deadlines
 * short). No blocking call anywhere.
 */
#ifndef TLSPOLICY_AUTHQUERY_H
#define TLSPOLICY_AUTHQUERY_H

#include <stdbool.h>
#include <stdint.h>

#include <ldns/ldns.h>

#include "util/netaddr.h"

/* The EDNS0 UDP size advertised: the DNS flag day 2020 value, which
 * avoids fragmentation on nearly every path. */
#define AUTHQUERY_UDP_SIZE 1232
#define AUTHQUERY_UDP_BUFFER 4096
#define AUTHQUERY_MAX_REPLY 65535

enum authquery_status {
	AUTHQUERY_OK,		/* a reply; its rcode may still be SERVFAIL, NXDOMAIN... */
	AUTHQUERY_TIMEOUT,	/* no acceptable reply before the deadline */
	AUTHQUERY_REFUSED,	/* the server refused (not authoritative, ACL) */
	AUTHQUERY_NETWORK,	/* sending or connecting failed, TCP closed early */
	AUTHQUERY_NO_ROUTE,	/* this host cannot reach that address at all (no IPv6) */
	AUTHQUERY_MALFORMED,	/* a reply with our ID that ldns cannot parse, a bad TCP length */
};

/* "ok", "timeout", "refused", "network error", "no route", "malformed reply". */
const char *authquery_status_name(enum authquery_status s);

struct authquery_settings {
	unsigned port;		/* 53; other values for tests */
	unsigned timeout_ms;	/* the whole query, UDP and TCP together */
	bool dnssec;		/* the DO bit: RRSIG, NSEC and NSEC3 in the reply */
};

/* reply is NULL unless status is AUTHQUERY_OK; why is a short English
 * text for failures (the errno's, "truncated over TCP"...), else NULL. */
typedef void authquery_callback(void *arg, enum authquery_status status, const ldns_pkt *reply,
    const char *why);

struct event_base;
struct authquery;

/* NULL when the query cannot even start (a name that is no domain name,
 * no socket, out of memory): nothing will be called back. */
struct authquery *authquery_start(struct event_base *base, const struct netaddr *server,
    const struct authquery_settings *s, const char *name, uint16_t type, authquery_callback *cb, void *arg);
void authquery_cancel(struct authquery *q);

#endif
