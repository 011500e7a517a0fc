/*
 * stsfetch - fetches a domain's MTA-STS policy body over HTTPS (RFC 8461
 * section 3.3): GET https://mta-sts.<domain>/.well-known/mta-sts.txt, on
 * the daemon's own libevent loop, without threads and without blocking.
 *
 * How: the addresses of mta-sts.<domain> come from the daemon's resolver
 * through the dns seam (A and AAAA in parallel); curl never resolves a
 * name itself, it is handed the allowed addresses (CURLOPT_RESOLVE) and
 * refuses to open a socket to any other. libcurl's multi interface runs
 * the transfers, its sockets and timer watched by events on the caller's
 * event_base (curlevent.h). This file keeps the jobs, their deadline and
 * their addresses; stshttps.h is the HTTPS half, curl's options and the
 * verdict on what the server sent.
 *
 * What is demanded of the server, each a distinct outcome when missing:
 * - addresses: a bogus answer, or the failure of both lookups (or of one,
 *   when the other has no address), is STSFETCH_DNS_FAILED; no address at
 *   all is STSFETCH_NO_ADDRESS. Special-purpose addresses (netaddr_special)
 *   and this host's own addresses are refused unless allow_private: a
 *   policy host is named by strangers, and must not turn the daemon
 *   against the local network. When only refused addresses remain, the
 *   outcome is STSFETCH_PRIVATE and the result names one of them.
 * - TLS 1.2 or later, a certificate chain that verifies against the CA
 *   file (or the system store) and names mta-sts.<domain> (SNI sent);
 *   STSFETCH_CERTIFICATE when verification fails, STSFETCH_TLS for any
 *   other TLS failure.
 * - HTTP status 200 (a 3xx is STSFETCH_REDIRECT and is not followed;
 *   others STSFETCH_STATUS), Content-Type text/plain with any parameters
 *   (STSFETCH_CONTENT_TYPE), at most max_body bytes (STSFETCH_TOO_LARGE,
 *   the transfer cut as soon as more arrives).
 * - all of it, DNS included, within timeout_ms (STSFETCH_TIMEOUT).
 * Never a proxy, whatever the environment says; no cookies, no .netrc, no
 * connection, TLS session, HSTS or alt-svc reuse between fetches, no
 * compression, HTTP/1.1 only. No "Cache-Control: no-cache" is sent: the RFC forbids the
 * sender's own HTTP cache, and with no proxy nothing between the two ends
 * caches; a server-side cache is the publisher's, who also changes the
 * DNS id when the policy changes.
 *
 * The program calls stsfetch_global_init() once at start, before any
 * thread exists (curl_global_init() is not thread-safe), and may call
 * stsfetch_global_cleanup() at exit. Nothing here runs from a library
 * constructor.
 *
 * Ownership: stsfetch_create() borrows the event base and the dns seam
 * (both outlive the fetcher) and copies the settings (the CA file's name
 * and the list of own addresses included). stsfetch_start() returns a
 * job the caller may cancel until its callback runs; the job frees itself
 * after the callback returns. The result, the body in it included, is
 * owned by the fetcher and valid only during the callback: a caller that
 * keeps the body copies it. stsfetch_start() never calls the callback
 * itself. A callback may start and cancel fetches, and may free the
 * fetcher (the rest is then freed when the callback returns).
 * stsfetch_free() cancels every job without callbacks.
 *
 * Limits: a domain is at most STSFETCH_DOMAIN_MAX bytes of letters,
 * digits, '-' and '.' (an A-label in lower case); at most
 * STSFETCH_MAX_ADDRESSES addresses are tried per fetch.
 */
#ifndef TLSPOLICY_STSFETCH_H
#define TLSPOLICY_STSFETCH_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/netaddr.h"
#include "config/config.h"
#include "dns/dns.h"

/* RFC 8461 section 3.3: "up to 64 KiB"; the default of max_body. */
#define STSFETCH_DEFAULT_MAX_BODY (64u * 1024u)
/* RFC 8461 section 3.3 suggests a timeout of one minute or less. */
#define STSFETCH_DEFAULT_TIMEOUT_MS 60000u
#define STSFETCH_PORT 443u
/* A name of 253 bytes, less "mta-sts.". */
#define STSFETCH_DOMAIN_MAX 245
#define STSFETCH_MAX_ADDRESSES 16
#define STSFETCH_DETAIL_MAX 400
/* Why an address is refused when it is one of this host's. */
#define STSFETCH_THIS_HOST "this-host"

enum stsfetch_outcome {
	STSFETCH_OK,
	STSFETCH_DNS_FAILED,	/* bogus, or no lookup gave an answer */
	STSFETCH_NO_ADDRESS,	/* NXDOMAIN or NODATA for both A and AAAA */
	STSFETCH_PRIVATE,	/* only refused addresses */
	STSFETCH_CONNECT,	/* no TCP connection to any address */
	STSFETCH_CERTIFICATE,	/* the chain or the name did not verify */
	STSFETCH_TLS,		/* any other TLS failure */
	STSFETCH_HTTP,		/* connected, but no well-formed HTTP response */
	STSFETCH_STATUS,	/* a status other than 200 and 3xx */
	STSFETCH_REDIRECT,	/* a 3xx status: not followed */
	STSFETCH_CONTENT_TYPE,	/* not text/plain */
	STSFETCH_TOO_LARGE,	/* more than max_body bytes */
	STSFETCH_TIMEOUT,	/* not all done within timeout_ms */
	STSFETCH_INTERNAL,	/* out of memory, a curl set-up failure */
};
#define STSFETCH_OUTCOME_COUNT (STSFETCH_INTERNAL + 1)

struct stsfetch_settings {
	const char *ca_file;		/* PEM trust anchors instead of the system store; NULL or "": that store */
	bool allow_private;		/* special-purpose and own addresses too */
	unsigned timeout_ms;		/* DNS, connection, TLS and body; 0: the default */
	size_t max_body;		/* 0: STSFETCH_DEFAULT_MAX_BODY */
	unsigned port;			/* 0: 443; another port only for tests */
	const struct netaddr *own;	/* this host's addresses (ownaddr_load()) */
	size_t nown;
};

/* The fetch settings of the configuration (sts_ca_file,
 * sts_allow_private, sts_fetch_timeout); own is left to the caller. */
struct stsfetch_settings stsfetch_settings_from_config(const struct config *cfg);

struct stsfetch_result {
	const char *domain;		/* as passed to stsfetch_start() */
	const char *host;		/* mta-sts.<domain> */
	enum stsfetch_outcome outcome;
	long status;			/* the HTTP status; 0 when none came */
	const char *body;		/* NUL-terminated; "" unless STSFETCH_OK */
	size_t body_len;
	char address[INET6_ADDRSTRLEN];	/* connected to, or refused; "" when none */
	uint64_t elapsed_ms;
	/* One printable line: what went wrong and where, e.g.
	 * "mta-sts.example.org (192.0.2.1): certificate verify failed: ...",
	 * naming the addresses tried when none was connected to;
	 * "" for STSFETCH_OK. */
	char detail[STSFETCH_DETAIL_MAX];
};

typedef void stsfetch_callback(void *arg, const struct stsfetch_result *r);

struct event_base;
struct stsfetch;
struct stsfetch_job;

/* curl_global_init(); 0, or -1 with err filled in. Once, at start. */
int stsfetch_global_init(char *err, size_t errlen);
void stsfetch_global_cleanup(void);

/* NULL with err filled in when the CA file cannot be read or curl cannot
 * be set up. */
struct stsfetch *stsfetch_create(struct event_base *base, struct dns *dns, const struct stsfetch_settings *s,
    char *err, size_t errlen);
/* Replaces the list of this host's addresses (copied), for fetches
 * started from now on; 0, or -1 when out of memory (the old list stays). */
int stsfetch_set_own(struct stsfetch *f, const struct netaddr *own, size_t nown);
/* NULL when the domain is not a valid A-label name or memory is short:
 * nothing is pending then, and no callback will come. */
struct stsfetch_job *stsfetch_start(struct stsfetch *f, const char *domain, stsfetch_callback *cb, void *arg);
/* The job's callback will not run; the job is freed. */
void stsfetch_cancel(struct stsfetch_job *job);
size_t stsfetch_pending(const struct stsfetch *f);
void stsfetch_free(struct stsfetch *f);

/* "ok", "dns-failed", "no-address", ...: for logs and metrics labels. */
const char *stsfetch_outcome_name(enum stsfetch_outcome o);

#endif
