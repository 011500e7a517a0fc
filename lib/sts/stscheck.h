/*
 * stscheck - one domain's MTA-STS (RFC 8461) checked now, from scratch,
 * for the administrator (`tlspolicy sts`, `tlspolicy explain`): what a
 * sender finds, and what is wrong with it, each problem saying what to
 * fix. Nothing is cached and nothing is kept from one check to the next.
 *
 * stscheck_start() runs, in parallel on the caller's event loop, the TXT
 * lookup of _mta-sts.<domain>, the domain's MX lookup (to see whether the
 * policy's mx patterns cover its MX hosts) and the policy's fetch
 * (stsfetch.h, with the settings given), whatever the TXT record says: a
 * policy served without a TXT record, or a record without a policy, is
 * exactly what an administrator needs to be told about. When all three
 * have ended, the callback gets the result.
 *
 * The result is facts (what DNS and the server said) and what
 * stscheck_diagnose() derives from them: the verdict, the policy parsed
 * with every error collected, the answer Postfix gets for it in mode
 * enforce (stspolicy_postfix_answer) with its TLSRPT attributes
 * (tlsrpt_append_sts), and the problems and notes. The facts are set
 * through stscheck_set_*(), which the runner calls and the tests call
 * with answers of their own: everything but the running is pure.
 *
 * The verdict:
 *   STSCHECK_VALID   one valid TXT record (not bogus) and a valid policy:
 *                    senders apply it (whatever its mode)
 *   STSCHECK_ABSENT  no STS TXT record and nothing served: the domain
 *                    does not use MTA-STS
 *   STSCHECK_BROKEN  anything else; the problems say what
 * A VALID domain may still have problems (an MX host no pattern
 * matches); notes are what is worth knowing but not wrong (mode testing,
 * a short max_age).
 *
 * Ownership: the callback owns the result and frees it with
 * stscheck_result_free(); every string in it is its own. stscheck_start()
 * borrows the event base and the dns seam, which outlive the check, and
 * copies the settings. The check frees itself after its callback returns;
 * stscheck_cancel() before then frees it without a callback. The program
 * has called stsfetch_global_init().
 */
#ifndef TLSPOLICY_STSCHECK_H
#define TLSPOLICY_STSCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/jsonw.h"
#include "postfix/nexthop.h"
#include "rules/stspolicy.h"
#include "rules/ststxt.h"
#include "dns/dns.h"
#include "sts/stsfetch.h"

/* Where a domain announces its policy (RFC 8461 section 3.1). */
#define STSCHECK_TXT_PREFIX "_mta-sts."
/* How an MTA-STS TXT record starts; others at that name are not. */
#define STSCHECK_RECORD_START "v=STSv1;"

/* Problems and notes kept one by one; more are counted in the last. */
#define STSCHECK_PROBLEMS_MAX 40
#define STSCHECK_NOTES_MAX 8
/* TXT records and MX hosts kept; more are counted, not shown. */
#define STSCHECK_RECORDS_MAX 16
#define STSCHECK_URL_MAX (sizeof("https://mta-sts.") + STSFETCH_DOMAIN_MAX + sizeof(":65535/.well-known/mta-sts.txt"))

enum stscheck_verdict {
	STSCHECK_VALID,
	STSCHECK_ABSENT,
	STSCHECK_BROKEN,
};

/* "valid", "absent", "broken". */
const char *stscheck_verdict_name(enum stscheck_verdict v);

/* One DNS lookup's outcome, as the check saw it. */
struct stscheck_lookup {
	bool done;			/* false: never started (no answer yet, or a name too long) */
	enum dns_outcome outcome;
	enum dns_security security;
	uint32_t ttl;
	char *why;			/* the resolver's reason, or NULL */
};

/* A failed lookup or a bogus answer: what it holds must not be used. */
bool stscheck_lookup_failed(const struct stscheck_lookup *l);

struct stscheck_mx {
	char name[NEXTHOP_NAME_MAX + 1];	/* lower case, no trailing dot */
	uint16_t preference;
	bool matched;			/* by one of the policy's patterns (stscheck_diagnose) */
};

struct stscheck_result {
	char domain[STSFETCH_DOMAIN_MAX + 1];

	/* _mta-sts.<domain> TXT: each record's text (its character-strings
	 * joined, bytes outside 0x20-0x7e as '?'), and what ststxt made of
	 * them. */
	struct stscheck_lookup txt_lookup;
	char *txt_records[STSCHECK_RECORDS_MAX];
	size_t ntxt, txt_count;		/* kept; in the answer */
	struct ststxt_result txt;

	/* <domain> MX; NODATA makes the domain its own (implicit) MX host,
	 * RFC 5321 section 5.1. */
	struct stscheck_lookup mx_lookup;
	struct stscheck_mx mx[STSCHECK_RECORDS_MAX];
	size_t nmx, mx_count;		/* kept; in the answer */
	bool mx_implicit, mx_null;

	/* The fetch. */
	bool fetched;			/* the fetch ended (the fields below are set) */
	char url[STSCHECK_URL_MAX];
	enum stsfetch_outcome fetch;
	long http_status;
	char address[INET6_ADDRSTRLEN];
	char fetch_detail[STSFETCH_DETAIL_MAX];
	uint64_t elapsed_ms;
	size_t body_len;

	/* The policy: NULL when none came or it is invalid; policy_errors
	 * then holds one line per problem stspolicy_parse() found. */
	struct stspolicy *policy;
	struct buf policy_errors;

	/* Derived (stscheck_diagnose). */
	enum stscheck_verdict verdict;
	char *enforce_answer;		/* "secure match=... servername=hostname", or NULL */
	char *tlsrpt;			/* its attributes, or NULL when they would not fit */
	char *problems[STSCHECK_PROBLEMS_MAX];
	size_t nproblems;
	char *notes[STSCHECK_NOTES_MAX];
	size_t nnotes;
};

/* An empty result for domain (a lower-case A-label name, no trailing
 * dot, at most STSFETCH_DOMAIN_MAX bytes); NULL when it is not one, or
 * out of memory. */
struct stscheck_result *stscheck_result_new(const char *domain);
void stscheck_result_free(struct stscheck_result *r);

/* The facts, each from what the lookup or the fetch gave; 0, or -1 out
 * of memory (the result is then partly set: treat the check as failed). */
int stscheck_set_txt(struct stscheck_result *r, const struct dns_answer *a);
int stscheck_set_mx(struct stscheck_result *r, const struct dns_answer *a);
/* Parses the body of a fetch that worked, collecting every error. */
int stscheck_set_fetch(struct stscheck_result *r, const struct stsfetch_result *f);

/* The verdict, the enforce answer, its TLSRPT attributes, the problems
 * and the notes, from the facts (replacing earlier ones); 0, or -1 out of
 * memory. */
int stscheck_diagnose(struct stscheck_result *r);

/* stsreport.h shows a result to people and scripts. */

typedef void stscheck_callback(void *arg, struct stscheck_result *r);

struct event_base;
struct stscheck;

/* NULL with err filled in: not a valid domain, the fetcher could not be
 * set up, a lookup could not start, or out of memory. The callback is
 * never called from inside stscheck_start(). */
struct stscheck *stscheck_start(struct event_base *base, struct dns *dns, const struct stsfetch_settings *s,
    const char *domain, stscheck_callback *cb, void *arg, char *err, size_t errlen);
void stscheck_cancel(struct stscheck *c);

#endif
