/*
 * stspattern - one "mx" pattern of an MTA-STS policy: read (RFC 8461
 * section 3.2) and matched against an MX host name (section 4.1). Pure:
 * no I/O, no clock, no allocation but libidn2's own.
 *
 * A pattern is a host name, or "*." and a host name: the wildcard is the
 * whole first label and stands for exactly one label. A host name is as
 * RFC 5321 writes a Domain, with RFC 6531's U-labels: labels of letters,
 * digits and inner hyphens, 1 to 63 bytes, at most 253 bytes in all, no
 * trailing dot, no '_'. Refused: IP addresses and literals ("192.0.2.1",
 * "[192.0.2.1]", "2001:db8::1", a top-level label of digits), a '*'
 * anywhere else, empty labels.
 *
 * Normalized, a pattern is lower case with its U-labels converted to
 * A-labels as lib/postfix/nexthop.c converts a next hop (libidn2, UTS #46
 * non-transitional mapping, then IDNA2008), so that a pattern and an MX
 * name from DNS compare byte for byte.
 */
#ifndef TLSPOLICY_STSPATTERN_H
#define TLSPOLICY_STSPATTERN_H

#include <stdbool.h>
#include <stddef.h>

/* The longest pattern, normalized: a host name's 253 bytes. */
#define STSPATTERN_MAX 253

/* The value of an "mx" field (without line end or surrounding white
 * space) normalized into out, NUL-terminated, its length in *outlen.
 * Returns NULL, or a static reason the value is no pattern ("an IP
 * address, not a host name"). */
const char *stspattern_normalize(const char *value, size_t len, char out[STSPATTERN_MAX + 1], size_t *outlen);

/* Whether host (A-labels, any case, one trailing dot ignored) matches a
 * normalized pattern: equal, or "*.example.net" and one label more. */
bool stspattern_matches(const char *pattern, const char *host);

#endif
