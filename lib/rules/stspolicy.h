/*
 * stspolicy - an MTA-STS policy (RFC 8461 section 3.2) parsed strictly
 * from the body fetched over HTTPS, and what the daemon derives from it.
 * Pure: no I/O, no clock.
 *
 * The body is lines "key: value" ended by CRLF or LF (the last line's end
 * may be missing). Required: version (STSv1), mode (enforce, testing,
 * none), max_age (0 .. STSPOLICY_MAX_AGE_MAX seconds, digits only); mx
 * (one or more lines) is required unless mode is none. Of a repeated key
 * other than mx the first wins; unknown keys (extensions) are kept as
 * lines but otherwise ignored. An mx value that is not a host name or a
 * "*." wildcard of one (an IP literal, an empty label, a wildcard
 * anywhere but the whole first label) makes the whole policy invalid, as
 * does a body over STSPOLICY_BODY_MAX bytes, a NUL byte, or a line that is
 * not "key: value".
 *
 * Strict where the ABNF is: keys and the values of version and mode are
 * case-sensitive ("Mode: enforce" is an extension and leaves mode
 * missing), a key is an sts-policy-ext-name, an extension's value has no
 * control characters, an mx is a host name as RFC 5321 and RFC 6531 write
 * one (LDH labels, or U-labels; no trailing dot, no '_'). One leniency:
 * empty lines (or white space only) are skipped, not refused; they are
 * not policy lines either. A repeated key other than mx is kept as a line
 * but its value is not judged.
 *
 * Patterns are kept lower case, U-labels converted to A-labels,
 * duplicates dropped, in the order first published (stspattern.h says
 * what a pattern is).
 *
 * Ownership: stspolicy_parse() returns one immutable object the caller
 * frees with stspolicy_free(); every string an accessor returns points
 * into it.
 */
#ifndef TLSPOLICY_STSPOLICY_H
#define TLSPOLICY_STSPOLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define STSPOLICY_BODY_MAX 65536
#define STSPOLICY_MAX_AGE_MAX 31557600u
/* Problems reported one by one; the rest only counted. */
#define STSPOLICY_ERRORS_MAX 20

enum stspolicy_mode {
	STSPOLICY_MODE_ENFORCE,
	STSPOLICY_MODE_TESTING,
	STSPOLICY_MODE_NONE,
};

/* "enforce", "testing", "none"; and back (-1 for anything else). */
const char *stspolicy_mode_name(enum stspolicy_mode m);
int stspolicy_mode_from_name(const char *name);

struct stspolicy;

/* The policy, or NULL with one line per problem appended to errors
 * ("line N: ..." or a line naming no line), each saying what is wrong;
 * past STSPOLICY_ERRORS_MAX problems one last line counts the rest.
 * errors may be NULL. NULL without errors only when out of memory. */
struct stspolicy *stspolicy_parse(const char *body, size_t len, struct buf *errors);
void stspolicy_free(struct stspolicy *p);

enum stspolicy_mode stspolicy_mode(const struct stspolicy *p);
uint32_t stspolicy_max_age(const struct stspolicy *p);

/* The mx patterns as published but normalized (lower case, A-labels,
 * "*.example.net" kept with its star), without duplicates. */
size_t stspolicy_npatterns(const struct stspolicy *p);
const char *stspolicy_pattern(const struct stspolicy *p, size_t i);

/* The policy's lines as published, without their line ends: what TLSRPT
 * reports as policy-string. */
size_t stspolicy_nlines(const struct stspolicy *p);
const char *stspolicy_line(const struct stspolicy *p, size_t i);

/* Whether an MX host name (lower case A-labels, no trailing dot) matches
 * a pattern (RFC 8461 section 4.1: "*." matches exactly one leftmost
 * label). */
bool stspolicy_mx_matches(const struct stspolicy *p, const char *host);

/* Appends the patterns in Postfix's match= form: joined with ':', a
 * "*.example.net" written ".example.net". Nothing for a policy without
 * patterns (mode none): the caller never writes an empty match=. */
void stspolicy_postfix_match(const struct stspolicy *p, struct buf *out);

/* Appends Postfix's answer for the policy in mode enforce, "secure
 * match=<stspolicy_postfix_match> servername=hostname" (postconf(5),
 * smtp_tls_policy_maps: the secure level verifies the certificate against
 * the match= names; servername=hostname sends the MX host name as SNI).
 * Returns 0; -1 with out unchanged for a policy without patterns (never
 * an empty match=) or when out of memory. The mode is the caller's
 * concern (stsprecedence.h): this writes the answer whatever it is. */
int stspolicy_postfix_answer(const struct stspolicy *p, struct buf *out);

/* The size of the policy in memory (its one allocation), for the metrics
 * and the benchmark. */
size_t stspolicy_memory(const struct stspolicy *p);

#endif
