/*
 * ownaddr - the addresses of this host's own network interfaces, which
 * probes refuse unless probe_allow_private = yes (probeplan.h). An MX
 * record naming one of them, public or not, would turn the daemon's probes
 * on this host's own services, which may trust a connection from this
 * host more than one from outside (Postfix's default mynetworks does).
 *
 * ownaddr_load() asks the kernel through getifaddrs(3) (on Linux, a
 * netlink socket: a sandbox that forbids AF_NETLINK makes it fail). Every
 * IPv4 and IPv6 address of every interface counts, up or down; other
 * families are skipped. Addresses come and go (DHCP, IPv6 privacy
 * addresses): a long-running caller loads the list again from time to
 * time.
 *
 * Ownership: on success *out is a malloc'ed array the caller frees (NULL
 * when there are no addresses), *n its length. On failure, -1 with err
 * filled in and *out NULL.
 */
#ifndef TLSPOLICY_OWNADDR_H
#define TLSPOLICY_OWNADDR_H

#include <stddef.h>

#include "util/netaddr.h"

int ownaddr_load(struct netaddr **out, size_t *n, char *err, size_t errlen);

#endif
