/* ownaddr - this host's interface addresses; see ownaddr.h. */
#include "autoconfig.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ownaddr.h"

int
ownaddr_load(struct netaddr **out, size_t *n, char *err, size_t errlen)
{
	struct ifaddrs *list, *ifa;
	size_t count = 0;

	*out = NULL;
	*n = 0;
	if (getifaddrs(&list) < 0) {
		snprintf(err, errlen, "cannot list this host's addresses: getifaddrs: %s", strerror(errno));
		return -1;
	}
	for (ifa = list; ifa; ifa = ifa->ifa_next)
		if (ifa->ifa_addr && (ifa->ifa_addr->sa_family == AF_INET || ifa->ifa_addr->sa_family == AF_INET6))
			count++;
	if (count && !(*out = calloc(count, sizeof(**out)))) {
		freeifaddrs(list);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (ifa = list; ifa; ifa = ifa->ifa_next) {
		if (!ifa->ifa_addr)
			continue;
		struct netaddr *a = &(*out)[*n];
		if (ifa->ifa_addr->sa_family == AF_INET) {
			a->family = AF_INET;
			memcpy(a->bytes, &((const struct sockaddr_in *)(const void *)ifa->ifa_addr)->sin_addr, 4);
			(*n)++;
		} else if (ifa->ifa_addr->sa_family == AF_INET6) {
			a->family = AF_INET6;
			memcpy(a->bytes, &((const struct sockaddr_in6 *)(const void *)ifa->ifa_addr)->sin6_addr, 16);
			(*n)++;
		}
	}
	freeifaddrs(list);
	return 0;
}
