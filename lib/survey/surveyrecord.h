/*
 * surveyrecord - one line of a `tlspolicy survey` file (format v1,
 * tlspolicy(1), SURVEY) read and checked whole: the facts of one domain,
 * its MX hosts in preference order, their addresses parsed, and the class
 * of the domain.
 *
 * Use: surveyrecord_init(); surveyrecord_parse() for each line, which
 * fills the record (valid until the next parse); surveyrecord_free(). The
 * record keeps its arrays from line to line, so that reading a file does
 * not allocate once a line.
 *
 * Validity: a line is a v1 record when it is one JSON object with
 *   domain      a string, 1..SURVEYRECORD_NAME_MAX bytes, no control characters
 *   time        an integer >= 0
 *   result      "ok" | "notfound" | "temp"
 *   rule        a name policy_rule_name() gives
 *   mx          "hosts" | "null" | "nxdomain" | "failed"
 *   mx_security a name policy_dns_name() gives
 *   hosts       an array (empty unless mx is "hosts"), at most
 *               SURVEYRECORD_MAX_HOSTS, each an object with
 *     name        a string like domain
 *     verdict     a name policy_host_verdict_name() gives, or "noaddr"
 *     preference  optional, an integer 0..65535 (missing: 0)
 *     tlsa        optional, an array of strings
 *     addresses   an array of at most SURVEYRECORD_MAX_ADDRESSES objects with
 *       address     an IPv4 or IPv6 address
 *       port        an integer 1..65535
 *       class       a name surveyclass_name() gives, but not "none"
 *       detail      optional, a string
 *   level, reason optional, strings.
 * An optional member may also be null (as if missing), except preference.
 * Other members are ignored; a member named twice is not valid. The line
 * is at most SURVEYRECORD_LINE_MAX bytes, with or without its newline.
 *
 * What the record holds: domain and host names folded (ASCII upper case to
 * lower case, one trailing dot dropped); the hosts in preference order (by
 * preference, ties in the order of the array), each host's addresses in
 * the order of its array; the domain's class, that of the first address in
 * that order that was probed (not "refused" or "skipped"), or
 * SURVEYCLASS_NONE; mismatch, whether any address is "dane-mismatch".
 *
 * Errors: surveyrecord_parse() returns 0, SURVEYRECORD_BAD (not a v1
 * record) or SURVEYRECORD_NOMEM, with a one-line reason in why naming the
 * member (e.g. `hosts[1].addresses[0].class: unknown word "foo"`), in
 * printable ASCII whatever the line holds, valid until the next parse.
 * After an error the record's facts are undefined. Nothing here logs or
 * exits; no global state.
 */
#ifndef TLSPOLICY_SURVEYRECORD_H
#define TLSPOLICY_SURVEYRECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/policy.h"
#include "survey/surveyclass.h"

enum { SURVEYRECORD_OK = 0, SURVEYRECORD_BAD = -1, SURVEYRECORD_NOMEM = -2 };

/* Limits of one line. */
#define SURVEYRECORD_LINE_MAX (1024u * 1024u)
#define SURVEYRECORD_NAME_MAX 253
#define SURVEYRECORD_MAX_HOSTS 256
#define SURVEYRECORD_MAX_ADDRESSES 256
#define SURVEYRECORD_WHY_MAX 256

/* What the MX lookup gave: the member mx. */
enum surveyrecord_mx {
	SURVEYRECORD_MX_HOSTS,
	SURVEYRECORD_MX_NULL,
	SURVEYRECORD_MX_NXDOMAIN,
	SURVEYRECORD_MX_FAILED,
	SURVEYRECORD_MX_COUNT
};

struct surveyrecord_address {
	unsigned char addr[16];		/* IPv4 in the first 4 bytes, the rest 0 */
	uint16_t port;
	uint8_t family;			/* 4 or 6 */
	uint8_t cls;			/* enum surveyclass, never NONE */
};

struct surveyrecord_host {
	char name[SURVEYRECORD_NAME_MAX + 1];
	uint32_t preference;
	uint32_t first, n;		/* its addresses: addrs[first .. first + n) */
};

struct surveyrecord {
	char domain[SURVEYRECORD_NAME_MAX + 1];
	int64_t time;
	enum policy_result result;
	enum policy_rule rule;
	enum surveyrecord_mx mx;
	enum policy_dns mx_security;
	enum surveyclass cls;		/* the domain's */
	bool mismatch;			/* some address "dane-mismatch" */
	size_t nhosts, naddrs;
	/* The hosts in the order of the array: surveyrecord_host() gives
	 * them in preference order. */
	struct surveyrecord_host *hosts;
	struct surveyrecord_address *addrs;
	char why[SURVEYRECORD_WHY_MAX];

	/* The parser's own. */
	size_t caphosts, capaddrs;
	uint16_t order[SURVEYRECORD_MAX_HOSTS];
};

void surveyrecord_init(struct surveyrecord *r);
void surveyrecord_free(struct surveyrecord *r);

/* One line, without or with its newline. 0, SURVEYRECORD_BAD or
 * SURVEYRECORD_NOMEM with r->why. */
int surveyrecord_parse(struct surveyrecord *r, const char *line, size_t len);

/* The k-th host in preference order, k < r->nhosts. */
const struct surveyrecord_host *surveyrecord_host(const struct surveyrecord *r, size_t k);

/* The word of the member mx: "hosts", "null", "nxdomain", "failed". */
const char *surveyrecord_mx_name(enum surveyrecord_mx mx);

#endif
