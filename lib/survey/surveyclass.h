/*
 * surveyclass - the classes of a survey: what a probe of one MX host
 * address found (the prober's nine classes, plus "refused" and "skipped"
 * for addresses the survey did not probe), and a domain's class (that of
 * the first probed address of its first MX host, or "none").
 *
 * The words are those of the survey's JSON lines and of the summary's JSON
 * object (tlspolicy(1), SURVEY); the labels are for people. The orders are
 * the ones every output of the summary lists the classes in, best first.
 *
 * Pure: constants and lookups only.
 */
#ifndef TLSPOLICY_SURVEYCLASS_H
#define TLSPOLICY_SURVEYCLASS_H

/* The first nine are enum probe_class, in its order; REFUSED and SKIPPED
 * occur only for addresses, NONE only for domains. */
enum surveyclass {
	SURVEYCLASS_PLAINTEXT,
	SURVEYCLASS_TLS_FAILED,
	SURVEYCLASS_ANONYMOUS,
	SURVEYCLASS_UNTRUSTED,
	SURVEYCLASS_TRUSTED,
	SURVEYCLASS_VERIFIED,
	SURVEYCLASS_DANE_VERIFIED,
	SURVEYCLASS_DANE_MISMATCH,
	SURVEYCLASS_UNREACHABLE,
	SURVEYCLASS_REFUSED,
	SURVEYCLASS_SKIPPED,
	SURVEYCLASS_NONE,
	SURVEYCLASS_COUNT
};

/* The word of the formats: "plaintext", "tls-failed", "anonymous", ...,
 * "refused", "skipped", "none"; "unknown" out of range. */
const char *surveyclass_name(enum surveyclass c);
/* The word for people: Postfix's where it has one ("Anonymous",
 * "Untrusted", "Trusted", "Verified"), else the format's word. */
const char *surveyclass_label(enum surveyclass c);
/* Whether a class can be a domain's (not REFUSED or SKIPPED), and an
 * address's (not NONE). */
int surveyclass_for_domain(enum surveyclass c);
int surveyclass_for_address(enum surveyclass c);

/* Every class a domain can have, and every class an address can have, best
 * first: the order of the tables, the charts and the JSON objects. */
#define SURVEYCLASS_DOMAIN_CLASSES 10
#define SURVEYCLASS_ADDRESS_CLASSES 11
extern const enum surveyclass surveyclass_domain_order[SURVEYCLASS_DOMAIN_CLASSES];
extern const enum surveyclass surveyclass_address_order[SURVEYCLASS_ADDRESS_CLASSES];

#endif
