/*
 * stshttps - the HTTPS half of an MTA-STS policy fetch (stsfetch.h): one
 * GET of https://<host>/.well-known/mta-sts.txt with libcurl, on a
 * curlevent loop, to the given addresses and no other, and the verdict on
 * what came back, as RFC 8461 section 3.3 demands: a verified
 * certificate for the host (SNI sent) over TLS 1.2 or later, status 200
 * (a redirect is not followed), Content-Type text/plain, at most max_body
 * bytes (the transfer is cut as soon as more arrives), within timeout_ms.
 *
 * curl resolves nothing itself: it is handed the addresses through
 * CURLOPT_RESOLVE, in a DNS cache of this transfer's own, and a socket
 * callback refuses any address (or port) but those. No proxy, whatever
 * the environment says; no cookies, no .netrc, no connection or TLS
 * session reuse, no HSTS or alt-svc cache, no compression; HTTP/1.1 (one
 * request a connection: HTTP/2 would bring nothing but more parsing).
 *
 * The owner finds its transfer in curlevent's done callback with
 * stshttps_of(), and asks for the verdict with stshttps_judge(); at its
 * own deadline it asks with CURLE_OPERATION_TIMEDOUT.
 *
 * Ownership: the request is copied but for ca_file, which must outlive
 * the transfer; so must the curlevent. The body stays the transfer's,
 * valid until stshttps_free(), which also stops a transfer in progress.
 */
#ifndef TLSPOLICY_STSHTTPS_H
#define TLSPOLICY_STSHTTPS_H

#include <stddef.h>

#include <curl/curl.h>

#include "util/netaddr.h"
#include "sts/curlevent.h"
#include "sts/stsfetch.h"

struct stshttps_request {
	const char *host;
	unsigned port;
	const struct netaddr *addresses;	/* at most STSFETCH_MAX_ADDRESSES */
	size_t naddresses;
	const char *ca_file;			/* instead of the system store; NULL: that store */
	size_t max_body;
	unsigned timeout_ms;			/* for this transfer */
	unsigned deadline_ms;			/* of the whole fetch, for the verdict's text */
	void *owner;
};

struct stshttps_verdict {
	enum stsfetch_outcome outcome;
	long status;				/* 0: no status line came */
	char address[INET6_ADDRSTRLEN];		/* connected to, or "" */
	char what[STSFETCH_DETAIL_MAX];		/* what went wrong; "" for STSFETCH_OK */
};

struct stshttps;

/* NULL when out of memory or curl refuses the set-up. */
struct stshttps *stshttps_start(struct curlevent *ce, const struct stshttps_request *rq);
/* The transfer of an easy handle (from curlevent's done callback). */
struct stshttps *stshttps_of(CURL *easy);
void *stshttps_owner(const struct stshttps *t);
void stshttps_judge(struct stshttps *t, CURLcode rc, struct stshttps_verdict *v);
/* What was kept of the body, NUL-terminated; "" when out of memory. */
const char *stshttps_body(struct stshttps *t, size_t *len);
void stshttps_free(struct stshttps *t);

#endif
