/*
 * netstring - D. J. Bernstein's netstrings, as Postfix's socketmap uses them:
 * "<decimal length>:<bytes>,".
 *
 * Contract:
 * - netstring_parse() looks at the first netstring in [p, p + n) without
 *   copying: on NETSTRING_OK the payload points into the caller's bytes and
 *   *consumed says how many bytes the whole netstring took. It never reads
 *   past p + n and never allocates.
 * - NETSTRING_INCOMPLETE means "read more"; it is returned only while the
 *   bytes so far can still become a valid netstring no longer than
 *   max_payload, so a caller that keeps reading on INCOMPLETE is bounded by
 *   max_payload plus the framing.
 * - A length longer than max_payload is refused as soon as its digits are
 *   seen, before the payload arrives.
 * - The length has no sign, no spaces and no leading zeros ("0:," is the
 *   empty netstring); anything else is NETSTRING_ERR_FORMAT.
 */
#ifndef TLSPOLICY_NETSTRING_H
#define TLSPOLICY_NETSTRING_H

#include <stddef.h>

#include "util/buf.h"

enum netstring_status {
	NETSTRING_OK = 0,
	NETSTRING_INCOMPLETE = 1,
	NETSTRING_ERR_FORMAT = -1,	/* not a netstring */
	NETSTRING_ERR_TOOLONG = -2,	/* longer than the caller allows */
};

int netstring_parse(const char *p, size_t n, size_t max_payload,
    const char **payload, size_t *payload_len, size_t *consumed);

/* Appends "<n>:<p>," to out; 0, or -1 when out cannot grow. */
int netstring_put(struct buf *out, const char *p, size_t n);

/* A short English description of a status, for logs and replies. */
const char *netstring_strerror(int status);

#endif
