/*
 * surveysum - the summary of a `tlspolicy survey` file: the JSON lines of
 * format v1 (tlspolicy(1), SURVEY), one record per domain, read one line at a
 * time, counted as that format's summary definitions say, and
 * written out as a plain-text table, one JSON object or one self-contained
 * HTML page with inline SVG bar charts.
 *
 * Use: surveysum_create(); surveysum_add_line() for every line of the file,
 * in file order; surveysum_finish() for the numbers, or one of
 * surveysum_text() / surveysum_json() / surveysum_html(), which finish by
 * themselves; surveysum_free(). More lines may be added after a finish; the
 * next finish counts them too.
 *
 * Last line wins: a domain may appear on several lines (a rerun after an
 * interrupted write); only its last valid line counts, as if the earlier
 * ones were not in the file. Domain names are compared after folding ASCII
 * upper case to lower case and dropping one trailing dot.
 *
 * Validity: a line is a v1 record when it is one JSON object with
 *   domain      a string, 1..SURVEYSUM_NAME_MAX bytes, no control characters
 *   time        an integer >= 0
 *   result      "ok" | "notfound" | "temp"
 *   rule        a name policy_rule_name() gives
 *   mx          "hosts" | "null" | "nxdomain" | "failed"
 *   mx_security a name policy_dns_name() gives
 *   hosts       an array (empty unless mx is "hosts"), at most
 *               SURVEYSUM_MAX_HOSTS, each an object with
 *     name        a string like domain
 *     verdict     a name policy_host_verdict_name() gives, or "noaddr"
 *     preference  optional, an integer 0..65535 (missing: 0)
 *     tlsa        optional, an array of strings
 *     addresses   an array of at most SURVEYSUM_MAX_ADDRESSES objects with
 *       address     an IPv4 or IPv6 address
 *       port        an integer 1..65535
 *       class       a name probe_class_name() gives, "refused" or "skipped"
 *       detail      optional, a string
 *   level, reason optional, strings.
 * An optional member may also be null (as if missing), except preference.
 * Other members are ignored; a member named twice is not valid. Anything
 * else makes surveysum_add_line() return SURVEYSUM_BAD with a one-line
 * reason naming the member (e.g. `hosts[1].addresses[0].class: unknown
 * word "foo"`), in printable ASCII, valid until the next call with s. The
 * summary is then unchanged, except that it counts the rejected line.
 *
 * Hosts are taken in preference order: by preference, ties in the order of
 * the array. An (MX host name, address, port) seen in several winning
 * records with different classes gets the class of the last of them in
 * file order.
 *
 * Memory: per domain its name, its key facts, its class, its MX host
 * names (as numbers into a table of distinct names) and its (host,
 * address, port) triples with their classes (likewise); one entry per
 * distinct host name, registrable domain and triple. A million domains
 * with 600 000 distinct MX host names take about 210 MB (and 15 s). The
 * tables are keyed (SipHash, a random key): names in the file are chosen
 * by strangers. A superseded line's data stays allocated until
 * surveysum_free().
 *
 * Output: every string from the data is escaped for where it goes (JSON
 * string escapes; HTML entities, so a hostile name cannot add markup;
 * non-printable bytes as '?' in the text table, so it cannot send escape
 * sequences to a terminal). The HTML has no scripts and no external
 * resources; its charts are <svg class="chart" id="..."> with ids
 * "domain-facts", "by-domain-class", "by-mx-host-class" and
 * "top-providers", each bar a <g class="bar" data-key="..."
 * data-count="N">, where data-key is the path of the same number in the
 * JSON object ("by_domain_class.verified", "top_providers.0.domains").
 *
 * Errors: functions returning int give 0, or SURVEYSUM_BAD (an invalid
 * line) or SURVEYSUM_NOMEM (out of memory, or a table past its limit; the
 * summary is unchanged). Nothing here logs or exits; no global state.
 */
#ifndef TLSPOLICY_SURVEYSUM_H
#define TLSPOLICY_SURVEYSUM_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

enum { SURVEYSUM_OK = 0, SURVEYSUM_BAD = -1, SURVEYSUM_NOMEM = -2 };

/* Limits of one line. */
#define SURVEYSUM_LINE_MAX (1024u * 1024u)
#define SURVEYSUM_NAME_MAX 253
#define SURVEYSUM_MAX_HOSTS 256
#define SURVEYSUM_MAX_ADDRESSES 256
/* How many providers the summary ranks, and how many domains with a TLSA
 * mismatch it names. */
#define SURVEYSUM_TOP 20
#define SURVEYSUM_MISMATCH_LIST 100

/* A domain's or an address's class. The first nine are enum probe_class,
 * in its order; REFUSED and SKIPPED occur only for addresses, NONE only
 * for domains. */
enum surveysum_class {
	SURVEYSUM_PLAINTEXT,
	SURVEYSUM_TLS_FAILED,
	SURVEYSUM_ANONYMOUS,
	SURVEYSUM_UNTRUSTED,
	SURVEYSUM_TRUSTED,
	SURVEYSUM_VERIFIED,
	SURVEYSUM_DANE_VERIFIED,
	SURVEYSUM_DANE_MISMATCH,
	SURVEYSUM_UNREACHABLE,
	SURVEYSUM_REFUSED,
	SURVEYSUM_SKIPPED,
	SURVEYSUM_NONE,
	SURVEYSUM_CLASS_COUNT
};

/* The word of the JSONL and JSON formats: "plaintext", "tls-failed",
 * "anonymous", ..., "refused", "skipped", "none". */
const char *surveysum_class_name(enum surveysum_class c);
/* The word for people: Postfix's where it has one ("Anonymous",
 * "Untrusted", "Trusted", "Verified"), else the format's word. */
const char *surveysum_class_label(enum surveysum_class c);
/* Whether a class can be a domain's (not REFUSED or SKIPPED), and an
 * address's (not NONE). */
int surveysum_class_for_domain(enum surveysum_class c);
int surveysum_class_for_address(enum surveysum_class c);

struct surveysum_provider {
	const char *name;		/* the registrable domain; owned by the summary */
	uint64_t domains;		/* distinct domains with an MX host under it */
	uint64_t by_class[SURVEYSUM_CLASS_COUNT];	/* those domains, by domain class */
};

struct surveysum_result {
	uint64_t lines;			/* surveysum_add_line() calls */
	uint64_t rejected;		/* of them SURVEYSUM_BAD */
	uint64_t domains;		/* distinct domains, last line wins */
	uint64_t with_mx;		/* mx "hosts" */
	uint64_t null_mx;		/* mx "null" */
	uint64_t nxdomain;		/* mx "nxdomain" */
	uint64_t mx_failed;		/* mx "failed" */
	uint64_t dns_failures;		/* result "temp" */
	uint64_t signed_mx;		/* mx "hosts" and mx_security "secure" */
	uint64_t all_dane;		/* rule "all-hosts-dane" */
	uint64_t tlsa_mismatch;		/* some address "dane-mismatch" */
	uint64_t mx_hosts;		/* distinct MX host names */
	uint64_t mx_addresses;		/* distinct (host, address, port) */
	uint64_t providers;		/* distinct registrable domains of MX hosts */
	int64_t time_first, time_last;	/* over the winning lines; 0 without any */
	uint64_t by_domain[SURVEYSUM_CLASS_COUNT];	/* sums to domains */
	uint64_t by_address[SURVEYSUM_CLASS_COUNT];	/* sums to mx_addresses */
	/* Sorted by domains, descending, then name. */
	size_t ntop;
	struct surveysum_provider top[SURVEYSUM_TOP];
	/* The domains with a TLSA mismatch, sorted, the first
	 * SURVEYSUM_MISMATCH_LIST of them (tlsa_mismatch says how many). */
	size_t nmismatch_listed;
	const char *mismatch[SURVEYSUM_MISMATCH_LIST];
};

struct surveysum;

/* NULL when out of memory, or when libpsl has no Public Suffix List. */
struct surveysum *surveysum_create(void);
void surveysum_free(struct surveysum *s);

/* One line, without or with its newline; len at most SURVEYSUM_LINE_MAX.
 * 0, SURVEYSUM_BAD with *why, or SURVEYSUM_NOMEM with *why. */
int surveysum_add_line(struct surveysum *s, const char *line, size_t len, const char **why);

/* Counts every line added so far. The result is owned by the summary and
 * valid until the next call that adds a line, finishes or frees; NULL
 * when out of memory. */
const struct surveysum_result *surveysum_finish(struct surveysum *s);

/* Append to out; 0, or SURVEYSUM_NOMEM (out may then hold part of it). */
int surveysum_text(struct surveysum *s, struct buf *out);
/* One line: one JSON object, with a newline. */
int surveysum_json(struct surveysum *s, struct buf *out);
/* A whole HTML document; title (escaped here) may be NULL for the default. */
int surveysum_html(struct surveysum *s, struct buf *out, const char *title);

#endif
