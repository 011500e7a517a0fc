/*
 * netaddr - IP addresses, and the special-purpose ranges a probe must not
 * touch unless the administrator allows it (probe_allow_private): MX
 * records are data from strangers, and without this check a hostile zone
 * could point the daemon at the local network (RFC 6890 and the IANA
 * special-purpose address registries).
 *
 * Contract: pure functions; struct netaddr holds no pointers.
 */
#ifndef TLSPOLICY_NETADDR_H
#define TLSPOLICY_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct netaddr {
	int family;			/* AF_INET or AF_INET6 */
	unsigned char bytes[16];	/* network order; 4 used for AF_INET */
};

/* Parses an IPv4 or IPv6 address in text; 0 or -1. */
int netaddr_parse(const char *text, struct netaddr *out);
/* The address as text (INET6_ADDRSTRLEN bytes). */
void netaddr_format(const struct netaddr *a, char *dst, size_t size);
/* Fills a sockaddr for connect(); returns its length. */
socklen_t netaddr_sockaddr(const struct netaddr *a, unsigned port, struct sockaddr_storage *out);

/* Whether a and b are the same address; an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) is the same as its IPv4 address, since a connection to
 * either reaches the same place. */
bool netaddr_equal(const struct netaddr *a, const struct netaddr *b);

/* NULL for an ordinary global address; otherwise the name of the special
 * range it is in ("loopback", "private", "link-local", "CGNAT",
 * "multicast", "documentation", "unspecified", "reserved", "benchmarking",
 * "unique-local", "IPv4-compatible", "6to4", ...). IPv4-mapped IPv6
 * addresses are judged as IPv4. */
const char *netaddr_special(const struct netaddr *a);

#endif
