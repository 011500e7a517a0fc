/*
 * zonecheck - selfcheck's DNS checks of a domain of one's own: what its
 * zones' signatures, denials of existence and name servers will do to
 * senders that do DANE, before they do it.
 *
 * zonecheck_start() gathers the facts about the domain and its first
 * ZONECHECK_MAX_HOSTS MX hosts (the caller gives them in preference
 * order) on the caller's event loop, through
 * the dns seam (validated answers) and authquery.h (each name server
 * asked directly), never blocking:
 *   1. SOA at every ancestor of the domain, of each MX host and of each
 *      host's TLSA name (the zone of a name is its longest ancestor with
 *      a validated SOA); MX at the domain, A and AAAA at each host, TLSA
 *      at each TLSA name (each with its signatures' first expiry); a
 *      question for ZONECHECK_UNUSED_TYPE at the domain and at each host
 *      (a NODATA must come back) and for TLSA at
 *      ZONECHECK_NX_LABEL._tcp.<host> (an NXDOMAIN must);
 *   2. DNSKEY and NS of each zone (at most ZONECHECK_MAX_ZONES);
 *   3. A and AAAA of each name server;
 *   4. each name server address (at most ZONECHECK_MAX_SERVERS a zone)
 *      asked directly, with DO: the zone's SOA, the TLSA RRsets of the
 *      hosts whose TLSA names are in that zone, and a name that does not
 *      exist (for its NSEC or NSEC3 records). Special-purpose addresses
 *      (netaddr.h) are asked only with allow_private, as probes are;
 *      otherwise the server is recorded as not asked, with why.
 * At most ZONECHECK_MAX_QUERIES questions in all; all of it under
 * settings.timeout_ms. What has not come back by then is recorded as not
 * answered, and the callback runs with the facts there are.
 *
 * zonecheck_findings() turns facts into checklist findings; it is pure.
 * The facts are set through the zonecheck_facts_add_*() functions, which
 * the gatherer calls and tests call with facts of their own.
 *
 * Codes (ok findings carry the code of a check that ran and found
 * nothing, once per domain):
 *   rrsig-expiring   warn  a validated signature over the domain's MX, a
 *                    zone's DNSKEY, an MX host's A/AAAA or TLSA RRset
 *                    expires within rrsig_days (fail once expired)
 *   denial-broken    warn  the unused type at an existing name does not
 *                    give a validated NODATA (dropped, failed, bogus)
 *                    fail  the TLSA question at a name that does not
 *                    exist does not give a validated NXDOMAIN
 *                    (answers from unsigned zones are not judged)
 *   ns-inconsistent  warn  a server serves an older SOA serial, does not
 *                    answer the SOA question, or does not answer TLSA
 *                    questions while another server does
 *                    fail  a server gives other TLSA records than the
 *                    one with the newest serial, or no server answers
 *   nsec3-iterations warn  a zone's NSEC3 records use extra iterations
 *                    or opt-out (RFC 9276)
 *
 * Ownership: zonecheck_start() borrows base and dns (they outlive the
 * check) and copies everything else. The callback's facts are valid only
 * during the call; the check frees itself after the callback returns.
 * zonecheck_cancel() before then frees it without a callback. Facts own
 * copies of every string given to them.
 */
#ifndef TLSPOLICY_ZONECHECK_H
#define TLSPOLICY_ZONECHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"
#include "selfcheck/checklist.h"

#define ZONECHECK_DEFAULT_RRSIG_DAYS 7
/* A type no zone uses: the first of the private-use range (RFC 6895). */
#define ZONECHECK_UNUSED_TYPE 65280
/* The label under _tcp.<host> that must not exist. */
#define ZONECHECK_NX_LABEL "_tlspolicy-selfcheck-nx"
#define ZONECHECK_MAX_HOSTS 8
#define ZONECHECK_MAX_ZONES 6
#define ZONECHECK_MAX_SERVERS 6
#define ZONECHECK_MAX_QUERIES 96
#define ZONECHECK_DEFAULT_TIMEOUT_MS 15000
#define ZONECHECK_DEFAULT_QUERY_TIMEOUT_MS 2000

/* One validated RRset and when its first signature expires. */
struct zonecheck_rrset {
	char *name;
	uint16_t type;
	char *host;			/* the MX host it is about, or NULL */
	int64_t expires;		/* seconds since the epoch; 0 unknown (unsigned) */
};

/* One question that must be denied, and what came back. */
struct zonecheck_denial {
	char *name;
	uint16_t type;
	char *host;			/* the MX host, or NULL for the domain */
	bool want_nxdomain;		/* else NODATA */
	enum dns_outcome outcome;
	enum dns_security security;
	char *why;			/* the resolver's reason, or NULL */
};

/* One TLSA RRset as one server gave it. */
struct zonecheck_tlsa {
	char *name;
	char *records;			/* the records' data, sorted, "; " between; "" none */
	char *failed;			/* why there is no answer, or NULL */
};

/* One address of one name server of one zone. */
struct zonecheck_server {
	char *zone, *ns, *address;
	char *not_asked;		/* why it was not asked (or could not be), or NULL */
	char *failed;			/* why the SOA question got no answer, or NULL */
	bool have_serial;
	uint32_t serial;
	size_t ntlsa;
	struct zonecheck_tlsa *tlsa;
	/* What its denial of a name that does not exist showed. */
	bool nsec, nsec3;
	unsigned iterations;
	bool optout;
};

struct zonecheck_facts {
	char *domain;
	size_t nrrsets, ndenials, nservers;
	struct zonecheck_rrset *rrsets;
	struct zonecheck_denial *denials;
	struct zonecheck_server **servers;
	size_t nzones;
	char **zones;			/* the zones found */
	char *incomplete;		/* what was left out (limits, deadline), or NULL */
};

/* 0, or -1 out of memory. */
int zonecheck_facts_init(struct zonecheck_facts *f, const char *domain);
void zonecheck_facts_free(struct zonecheck_facts *f);

/* The setters: 0, or -1 out of memory. host, why may be NULL. */
int zonecheck_facts_add_rrset(struct zonecheck_facts *f, const char *name, uint16_t type, const char *host,
    int64_t expires);
int zonecheck_facts_add_denial(struct zonecheck_facts *f, const char *name, uint16_t type, const char *host,
    bool want_nxdomain, enum dns_outcome outcome, enum dns_security security, const char *why);
/* A server; not_asked NULL when it is to be asked. NULL out of memory;
 * the server belongs to the facts. */
struct zonecheck_server *zonecheck_facts_add_server(struct zonecheck_facts *f, const char *zone, const char *ns,
    const char *address, const char *not_asked);
/* Not asked after all: this host has no route there. */
int zonecheck_server_set_not_asked(struct zonecheck_server *s, const char *why);
int zonecheck_server_set_serial(struct zonecheck_server *s, uint32_t serial);
int zonecheck_server_set_failed(struct zonecheck_server *s, const char *why);
/* records "" for NODATA; failed non-NULL when no answer. */
int zonecheck_server_add_tlsa(struct zonecheck_server *s, const char *name, const char *records,
    const char *failed);
/* Its denial of a name that does not exist: NSEC (nsec3 false), or NSEC3
 * with these parameters. */
void zonecheck_server_set_denial(struct zonecheck_server *s, bool nsec3, unsigned iterations, bool optout);
/* Appends a note to what was left out, unless it is there already. */
int zonecheck_facts_note_incomplete(struct zonecheck_facts *f, const char *what);
int zonecheck_facts_add_zone(struct zonecheck_facts *f, const char *zone);

/* Every DNS check's findings into out; 0, or -1 out of memory. now in
 * seconds since the epoch. */
int zonecheck_findings(const struct zonecheck_facts *f, int64_t now, unsigned rrsig_days,
    struct checklist *out);

/* The gatherer. */
struct zonecheck_settings {
	unsigned timeout_ms;		/* everything */
	unsigned query_timeout_ms;	/* each direct question */
	unsigned port;			/* of the name servers: 53 */
	bool allow_private;		/* probe_allow_private */
};

/* The defaults above, the name servers at port 53, none at a
 * special-purpose address. */
struct zonecheck_settings zonecheck_default_settings(void);

struct zonecheck_host {
	const char *name;		/* the MX host */
	const char *tlsa_name;		/* _25._tcp.<name>, or its CNAME-expanded base's */
};

typedef void zonecheck_callback(void *arg, const struct zonecheck_facts *facts);

struct event_base;
struct zonecheck;

/* NULL out of memory (nothing is pending then). The callback is never
 * called from inside zonecheck_start(). */
struct zonecheck *zonecheck_start(struct event_base *base, struct dns *dns, const struct zonecheck_settings *s,
    const char *domain, const struct zonecheck_host *hosts, size_t nhosts, zonecheck_callback *cb, void *arg);
void zonecheck_cancel(struct zonecheck *zc);

#endif
