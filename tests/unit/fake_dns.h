/*
 * fake_dns - a scripted resolver behind the dns seam, for unit tests: a
 * table of (name, type) answers written in presentation form. Lookups are
 * queued; fake_dns_run() delivers them (and those their callbacks start)
 * until none is left, so a test controls exactly when answers arrive.
 * A (name, type) missing from the table answers SERVFAIL "not in the fake
 * zone"; a row with fail_to_start makes dns_lookup() itself fail.
 */
#ifndef TLSPOLICY_FAKE_DNS_H
#define TLSPOLICY_FAKE_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"

/* A zone's rows name only the fields they need (most have no `why`): the
 * rest are zero by design, not an oversight for -Wextra to report. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

struct fake_rr {
	const char *name;
	uint16_t type;
	enum dns_outcome outcome;
	enum dns_security security;
	uint32_t ttl;
	const char *canonname;
	const char *records[48];	/* "10 mx.example", "192.0.2.1", "3 1 1 <hex>", "\\# <hex>" */
	bool fail_to_start;
	const char *why;		/* the resolver's explanation, as given (bogus has one anyway) */
};

struct fake_dns;

/* The fake and its seam; dns_free() on the seam frees the fake. */
struct dns *fake_dns_create(const struct fake_rr *zone, size_t n, struct fake_dns **fake);
/* Delivers every queued answer; returns how many. */
size_t fake_dns_run(struct fake_dns *fake);
/* Delivers the oldest queued answer only; 0 when none was queued. */
size_t fake_dns_step(struct fake_dns *fake);
/* One round trip: delivers the answers queued now, not those their
 * callbacks queue; returns how many. */
size_t fake_dns_round(struct fake_dns *fake);
/* Delivers the queued answer to (name, type) before the others; 0 when
 * no such lookup is queued. */
size_t fake_dns_deliver(struct fake_dns *fake, const char *name, uint16_t type);
size_t fake_dns_pending(const struct fake_dns *fake);
/* How many lookups of (name, type) were started. */
unsigned fake_dns_count(const struct fake_dns *fake, const char *name, uint16_t type);
unsigned fake_dns_total(const struct fake_dns *fake);
/* How many lookups of type were started, and how many were cancelled
 * before their answer came. */
unsigned fake_dns_count_type(const struct fake_dns *fake, uint16_t type);
unsigned fake_dns_cancelled(const struct fake_dns *fake);

/* Adds one TXT record of a single string (shorter than 256 bytes) to an
 * answer a test builds itself; 0, or -1 when it does not fit. */
int fake_dns_add_txt(struct dns_answer *a, const char *text);

/* A SHA-256-sized TLSA record "U S M <64 hex digits>" for tables. */
#define FAKE_DIGEST32 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

#endif
