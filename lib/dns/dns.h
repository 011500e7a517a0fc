/*
 * dns - the narrow asynchronous seam between the decision and a resolver.
 *
 * A struct dns is an opaque resolver with three operations: look up (name,
 * type) and call back once with the answer; cancel a lookup so that its
 * callback never runs; free. dns_unbound.c provides the real back end
 * (libunbound on the daemon's libevent loop); the unit tests provide a fake
 * through dns_create().
 *
 * Ownership: the callback receives the answer and owns it from then on; it
 * frees it with dns_answer_free(). Name strings passed to dns_lookup() are
 * copied. A back end never calls a callback from inside dns_lookup(), so a
 * caller may start several lookups before handling any answer.
 *
 * Errors: dns_lookup() returns a lookup id > 0, or -1 when the lookup could
 * not even start (the caller treats that like SERVFAIL).
 */
#ifndef TLSPOLICY_DNS_H
#define TLSPOLICY_DNS_H

#include <stddef.h>
#include <stdint.h>

enum dns_outcome {
	DNS_DATA,	/* NOERROR with records of the asked type */
	DNS_NODATA,	/* NOERROR without them */
	DNS_NXDOMAIN,
	DNS_SERVFAIL,	/* SERVFAIL, REFUSED and other failures */
	DNS_TIMEOUT,	/* no answer within the back end's time limit */
};

enum dns_security {
	DNS_INSECURE,
	DNS_SECURE,
	DNS_BOGUS,
};

struct dns_rdata {
	size_t len;
	unsigned char *data;
};

struct dns_answer {
	char *qname;
	uint16_t qtype;
	enum dns_outcome outcome;
	enum dns_security security;
	int rcode;
	uint32_t ttl;		/* of the answer (negative TTL for denials) */
	char *canonname;	/* target of a CNAME chain, or NULL */
	char *why;		/* why bogus (the validator) or why failed, or NULL */
	/* Secure answers with data: when the first of the validated RRSIGs
	 * over the answer's RRset expires, seconds since the epoch (from
	 * libunbound's answer_packet, which carries them); 0 when unknown. */
	int64_t sig_expires;
	size_t count;
	struct dns_rdata *rdata;
};

typedef void dns_callback(void *arg, struct dns_answer *answer);

struct dns_ops {
	int (*lookup)(void *impl, const char *name, uint16_t type, dns_callback *cb, void *arg);
	void (*cancel)(void *impl, int id);
	void (*free)(void *impl);
};

struct dns;

/* Wraps a back end; NULL on allocation failure (impl is then not freed). */
struct dns *dns_create(const struct dns_ops *ops, void *impl);
void dns_free(struct dns *dns);

int dns_lookup(struct dns *dns, const char *name, uint16_t type, dns_callback *cb, void *arg);
void dns_cancel(struct dns *dns, int id);

/* An answer with qname copied and every other field zero; NULL on failure.
 * For back ends and fakes. */
struct dns_answer *dns_answer_new(const char *qname, uint16_t qtype);
/* Appends a copy of one record; 0 or -1. */
int dns_answer_add(struct dns_answer *a, const void *data, size_t len);
void dns_answer_free(struct dns_answer *a);

const char *dns_outcome_name(enum dns_outcome o);
const char *dns_security_name(enum dns_security s);

#endif
