/* endpoint - socket addresses; see endpoint.h for the contract. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "endpoint.h"

int
endpoint_parse(const char *spec, struct endpoint *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->text, sizeof(out->text), "%s", spec);
	if (strncmp(spec, "unix:", 5) == 0) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&out->addr;
		const char *path = spec + 5;
		if (path[0] != '/') {
			snprintf(err, errlen, "'%s': a unix socket needs an absolute path", spec);
			return -1;
		}
		if (strlen(path) >= sizeof(sun->sun_path)) {
			snprintf(err, errlen, "'%s': socket path longer than %zu bytes", spec,
			    sizeof(sun->sun_path) - 1);
			return -1;
		}
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, path);
		out->is_unix = true;
		out->addrlen = (socklen_t)sizeof(*sun);
		return 0;
	}
	if (strncmp(spec, "inet:", 5) != 0) {
		snprintf(err, errlen, "'%s': expected inet:ADDR:PORT or unix:/PATH", spec);
		return -1;
	}
	const char *host = spec + 5;
	const char *colon = strrchr(host, ':');
	if (!colon || colon == host || colon[1] == '\0') {
		snprintf(err, errlen, "'%s': expected inet:ADDR:PORT", spec);
		return -1;
	}
	char name[128];
	size_t hlen = (size_t)(colon - host);
	if (host[0] == '[' && hlen >= 2 && host[hlen - 1] == ']') {
		host++;
		hlen -= 2;
	}
	if (hlen >= sizeof(name)) {
		snprintf(err, errlen, "'%s': address too long", spec);
		return -1;
	}
	memcpy(name, host, hlen);
	name[hlen] = '\0';
	/* getaddrinfo() would cut a port to 16 bits without a word. */
	unsigned long port = 0;
	for (const char *p = colon + 1; *p && port <= 65535; p++)
		port = (*p >= '0' && *p <= '9') ? port * 10 + (unsigned long)(*p - '0') : 65536;
	if (port == 0 || port > 65535) {
		snprintf(err, errlen, "'%s': the port must be a number from 1 to 65535", spec);
		return -1;
	}
	/* Addresses only: a configuration check must not wait on DNS. */
	if (strcmp(name, "localhost") == 0)
		strcpy(name, "127.0.0.1");
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_NUMERICSERV | AI_NUMERICHOST}, *res;
	int rc = getaddrinfo(name, colon + 1, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "'%s': %s is not an IP address (write [IPv6] in brackets)", spec, name);
		return -1;
	}
	memcpy(&out->addr, res->ai_addr, res->ai_addrlen);
	out->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int
endpoint_listen(const struct endpoint *ep, int backlog, char *err, size_t errlen)
{
	int fd = socket(ep->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int on = 1;

	if (fd < 0) {
		snprintf(err, errlen, "%s: socket: %s", ep->text, strerror(errno));
		return -1;
	}
	if (ep->is_unix) {
		const char *path = ((const struct sockaddr_un *)&ep->addr)->sun_path;
		struct stat st;
		if (lstat(path, &st) == 0) {
			if (!S_ISSOCK(st.st_mode)) {
				snprintf(err, errlen, "%s: exists and is not a socket; not replacing it", ep->text);
				close(fd);
				return -1;
			}
			unlink(path);
		}
	} else {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (ep->addr.ss_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	}
	if (bind(fd, (const struct sockaddr *)&ep->addr, ep->addrlen) < 0 || listen(fd, backlog) < 0) {
		snprintf(err, errlen, "%s: %s", ep->text, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
endpoint_connect(const struct endpoint *ep, char *err, size_t errlen)
{
	int fd = socket(ep->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int on = 1;

	if (fd < 0) {
		snprintf(err, errlen, "%s: socket: %s", ep->text, strerror(errno));
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&ep->addr, ep->addrlen) < 0) {
		snprintf(err, errlen, "%s: %s", ep->text, strerror(errno));
		close(fd);
		return -1;
	}
	if (!ep->is_unix)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	return fd;
}
