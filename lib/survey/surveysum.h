/*
 * surveysum - the summary of a `tlspolicy survey` file: its lines read one
 * at a time (surveyrecord.h says which are valid), and counted as the
 * format's summary definitions say (tlspolicy(1), SURVEY); MX hosts are
 * grouped into providers by their registrable domain (libpsl, the Public
 * Suffix List). surveytext.h, surveyjson.h and surveyhtml.h write the
 * result out.
 *
 * Use: surveysum_create(); surveysum_add_line() for every line of the file,
 * in file order; surveysum_finish() for the numbers; surveysum_free().
 * More lines may be added after a finish; the next finish counts them too.
 *
 * Last line wins: a domain may appear on several lines (a rerun after an
 * interrupted write); only its last valid line counts, as if the earlier
 * ones were not in the file. Domain names are compared folded
 * (surveyrecord.h). A line that is not valid leaves the summary unchanged,
 * except that it counts as read and rejected.
 *
 * A domain's class is that of its record (surveyrecord.h). An (MX host
 * name, address, port) seen in several winning records with different
 * classes gets the class of the last of them in file order. A host name
 * for which libpsl knows no registrable domain (a bare public suffix, a
 * name without dots) is a provider of its own.
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
 * Errors: surveysum_add_line() gives 0, SURVEYSUM_BAD (an invalid line,
 * with surveyrecord's reason) or SURVEYSUM_NOMEM (out of memory, or a
 * table past its limit; the summary is unchanged and the line not
 * counted). Nothing here logs or exits; no global state.
 */
#ifndef TLSPOLICY_SURVEYSUM_H
#define TLSPOLICY_SURVEYSUM_H

#include <stddef.h>
#include <stdint.h>

#include "survey/surveyclass.h"

enum { SURVEYSUM_OK = 0, SURVEYSUM_BAD = -1, SURVEYSUM_NOMEM = -2 };

/* How many providers the summary ranks, and how many domains with a TLSA
 * mismatch it names. */
#define SURVEYSUM_TOP 20
#define SURVEYSUM_MISMATCH_LIST 100

struct surveysum_provider {
	const char *name;		/* the registrable domain; owned by the summary */
	uint64_t domains;		/* distinct domains with an MX host under it */
	uint64_t by_class[SURVEYCLASS_COUNT];	/* those domains, by domain class */
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
	uint64_t by_domain[SURVEYCLASS_COUNT];	/* sums to domains */
	uint64_t by_address[SURVEYCLASS_COUNT];	/* sums to mx_addresses */
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

/* One line, without or with its newline. 0, SURVEYSUM_BAD with *why, or
 * SURVEYSUM_NOMEM with *why; *why is printable ASCII, valid until the
 * next call with s. */
int surveysum_add_line(struct surveysum *s, const char *line, size_t len, const char **why);

/* Counts every line added so far. The result is owned by the summary and
 * valid until the next call that adds a line, finishes or frees; NULL
 * when out of memory. */
const struct surveysum_result *surveysum_finish(struct surveysum *s);

#endif
