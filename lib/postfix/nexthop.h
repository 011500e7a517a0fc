/*
 * nexthop - the keys Postfix looks up in smtp_tls_policy_maps.
 *
 * Forms (postconf(5), smtp_tls_policy_maps; case-insensitive, one trailing
 * dot ignored):
 *   example.org            domain next hop, port 25: MX lookup
 *   example.org:2525       domain next hop on another port
 *   [mx.example.org]       host next hop: no MX lookup
 *   [mx.example.org]:587   host next hop; TLSA at _587._tcp.mx.example.org
 *   [192.0.2.1], [ipv6:2001:db8::1], 192.0.2.1
 *                          IP literal: no DANE is possible
 *   .example.org           Postfix's parent-domain form, asked after a
 *                          NOTFOUND for a subdomain
 * A port is decimal (1-65535) or one of the service names smtp,
 * submission, submissions and smtps.
 *
 * A name with bytes outside ASCII is an internationalized one, as Postfix
 * with smtputf8_enable = yes passes it for SMTPUTF8 mail to an IDN domain
 * ("bücher.example", "[mx.bücher.example]:25"): UTF-8, at most
 * NEXTHOP_UTF8_MAX bytes, converted to its A-labels ("xn--bcher-kva.example")
 * as Postfix's own SMTP client converts it for DNS (libidn2: UTS #46
 * non-transitional mapping, which lower-cases and normalizes, then the
 * rules of IDNA2008). Only the A-label form is stored, so the cache, DNS,
 * exceptions and logs see one name whichever form Postfix sent. Bytes that
 * are not UTF-8, code points IDNA2008 disallows, or A-labels too long for
 * DNS are refused, each with its reason.
 *
 * Contract: nexthop_parse() is pure; it fills *out, which holds no
 * pointers, and returns 0, or -1 with a static English reason in *why
 * (which says what is wrong with a name: too long, a label too long, a
 * character that is not allowed).
 * Names are checked as DNS host names (letters, digits, '-', '_'; labels of
 * 1-63 bytes; at most 253 bytes) and stored in lower case without the
 * trailing dot.
 */
#ifndef TLSPOLICY_NEXTHOP_H
#define TLSPOLICY_NEXTHOP_H

#include <stdbool.h>
#include <stddef.h>

#define NEXTHOP_NAME_MAX 253
/* The longest UTF-8 name converted: a 253-byte A-label form is at most
 * about four times as long in UTF-8. */
#define NEXTHOP_UTF8_MAX 1024
#define NEXTHOP_DEFAULT_PORT 25

enum nexthop_kind {
	NEXTHOP_DOMAIN,
	NEXTHOP_HOST,
	NEXTHOP_IP_LITERAL,
	NEXTHOP_PARENT,
};

struct nexthop {
	enum nexthop_kind kind;
	unsigned port;
	char name[NEXTHOP_NAME_MAX + 1];
};

int nexthop_parse(const char *key, size_t len, struct nexthop *out, const char **why);

/* A host as an administrator names one (tlspolicy tlsa --host): "host",
 * "host:port", "[host]" or "[host]:port", each a host next hop (no MX
 * lookup). IP literals and the parent form are refused: DANE needs a host
 * name. Same contract as nexthop_parse(); any length is safe, and a spec
 * too long for a name is refused as such, never cut short. */
int nexthop_parse_host(const char *spec, size_t len, struct nexthop *out, const char **why);

/* The canonical key: "name", "name:port", "[name]" or "[name]:port";
 * the port is written only when it is not 25. Writes at most size bytes
 * including the NUL; returns the length it needed (as snprintf). */
int nexthop_format(const struct nexthop *nh, char *dst, size_t size);

/* A name with non-ASCII bytes, as Postfix sends it with smtputf8_enable
 * for mail to an IDN domain (and as MTA-STS policies may write their mx
 * patterns): UTF-8, converted to A-labels as Postfix's own client
 * converts it for DNS (libidn2, UTS #46 non-transitional mapping, which
 * lower-cases and normalizes, then the IDNA2008 rules). The A-label form
 * goes to alabel, to be judged as any ASCII name is (the mapping may even
 * give an IP address: "¹3.3.1.8" is 13.3.1.8); NULL, or why not. */
const char *nexthop_to_alabels(const char *name, size_t len, char alabel[NEXTHOP_NAME_MAX + 1], size_t *alen);

/* Checks a DNS host name as above; len excludes any trailing dot. */
bool nexthop_valid_hostname(const char *name, size_t len);

/* Whether the DNS name is domain itself or a name below it, ignoring
 * case and a trailing dot on either: "mx.Example.org" is within
 * "example.org.", "badexample.org" is not. */
bool nexthop_name_within(const char *name, const char *domain);

#endif
