/*
 * endpoint - the socket addresses of the configuration and command line:
 * "inet:ADDR:PORT" (ADDR an IPv4 address, "[IPv6]", or "localhost" for
 * 127.0.0.1) and "unix:/absolute/path". Host names other than localhost are
 * refused: checking a configuration must never wait on DNS.
 *
 * Contract: endpoint_parse() is pure and fills a struct endpoint that holds
 * no pointers. endpoint_listen() and
 * endpoint_connect() return a descriptor (non-blocking for listen, the
 * caller's choice for connect) or -1 with an English message in err; the
 * caller owns and closes the descriptor. A unix listener replaces a stale
 * socket file but never any other kind of file.
 */
#ifndef TLSPOLICY_ENDPOINT_H
#define TLSPOLICY_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct endpoint {
	bool is_unix;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char text[160];		/* as configured, for messages */
};

int endpoint_parse(const char *spec, struct endpoint *out, char *err, size_t errlen);
int endpoint_listen(const struct endpoint *ep, int backlog, char *err, size_t errlen);
int endpoint_connect(const struct endpoint *ep, char *err, size_t errlen);

#endif
