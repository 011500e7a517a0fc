/*
 * tlsrpt - the TLSRPT attributes (RFC 8460) that Postfix 3.10 and later
 * accept after the level of an MTA-STS answer in smtp_tls_policy_maps and
 * hand to its TLSRPT library, so that its reports name the policy that
 * applied. Pure: no I/O, no clock.
 *
 * The syntax is Postfix's (TLSRPT_README, "MTA-STS Support via
 * smtp_tls_policy_maps"; postconf(5), smtp_tls_policy_maps: a level, then
 * name=value attributes, "{ name = value }" where a value holds white
 * space). After the answer "secure match=... servername=hostname" come:
 *
 *   policy_type=sts policy_domain=<domain>
 *   mx_host_pattern=<pattern>          one per pattern, "*.x" kept as
 *                                      published (match= writes ".x")
 *   { policy_string = <line> }         one per policy line, in order
 *
 * each after one space. The patterns are the policy's (stspolicy.h: lower
 * case, A-labels, no duplicates). A line holding '{' or '}' (which would
 * end the braces early) or a control character (a tab after "mx:") is
 * left out: the report then lacks that line, which is better than an
 * answer Postfix misreads. Postfix refuses these attributes after a level
 * other than an MTA-STS one, so the caller adds them only to an answer
 * stsprecedence.h chose STS for.
 *
 * The attributes are optional and the answer is not: Postfix's socketmap
 * client refuses a reply longer than socketmap_max_reply_size (100 000 by
 * default), and a policy of 64 KiB can make the attributes longer than
 * that. So they are appended whole or not at all.
 */
#ifndef TLSPOLICY_TLSRPT_H
#define TLSPOLICY_TLSRPT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "rules/stspolicy.h"

/* Postfix's default socketmap_max_reply_size. */
#define TLSRPT_REPLY_MAX 100000

/* Appends the attributes for policy p of domain (a lower-case A-label
 * name, no trailing dot) to out, which holds the answer so far, when out
 * then holds at most limit bytes; the caller counts in limit what it adds
 * around the answer (the socketmap's "OK ", the netstring's length).
 * Returns true; false with out unchanged when they would not fit, when
 * domain is not a host name, or when out of memory. */
bool tlsrpt_append_sts(struct buf *out, const char *domain, const struct stspolicy *p, size_t limit);

/* Whether a policy line can go into "{ policy_string = ... }". */
bool tlsrpt_line_usable(const char *line);

#endif
