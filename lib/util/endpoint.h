/*
 * endpoint - the socket addresses of the configuration and command line:
 * "inet:ADDR:PORT" (ADDR an IPv4 address, "[IPv6]", or "localhost" for
 * 127.0.0.1) and "unix:/absolute/path". Host names other than localhost are
 * refused: checking a configuration must never wait on DNS.
 *
 * Contract: endpoint_parse() is pure and fills a struct endpoint that holds
 * no pointers. endpoint_listen(), endpoint_listen_unix() and
 * endpoint_connect() return a descriptor (non-blocking for listen, the
 * caller's choice for connect) or -1 with an English message in err and
 * errno from the call that failed; the caller owns and closes the
 * descriptor.
 *
 * Unix listeners: the socket is bound in a directory of its own made next
 * to its path (mode 0700, used only through a descriptor, removed before
 * the call returns), given its mode and group there, and renamed onto the
 * path, which it replaces in one step if that holds a stale socket; any
 * other kind of file there is refused and left alone. So the owner of the
 * path's directory, who may rename and link names in it at any moment,
 * can never aim the chown or the mode at another file, nor connect before
 * the socket has its group: the listener checks by device and inode that
 * the path names the socket it made. Binding needs /proc (bind() has no
 * *at() form; /proc/self/fd/N stands for the directory). The mode is set
 * through the umask, which is process-wide: it is restored before return.
 */
#ifndef TLSPOLICY_ENDPOINT_H
#define TLSPOLICY_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

struct endpoint {
	bool is_unix;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char text[160];		/* as configured, for messages */
};

int endpoint_parse(const char *spec, struct endpoint *out, char *err, size_t errlen);
int endpoint_listen(const struct endpoint *ep, int backlog, char *err, size_t errlen);
int endpoint_connect(const struct endpoint *ep, char *err, size_t errlen);

/* Who may connect to a unix listener. */
struct endpoint_unix_access {
	mode_t mode;		/* the socket's permissions, 0660 say */
	long gid;		/* its group; -1: the creator's */
	/* A seam for tests, NULL otherwise: called with the socket's path
	 * after bind() and before the socket gets its group and its path, so
	 * that a test can play the directory's owner in that window. */
	void (*between)(void *arg, const char *path);
	void *arg;
};

/* A unix listener (ep->is_unix), as above. Without access the umask sets
 * the mode and the group is the creator's: what endpoint_listen() does. */
int endpoint_listen_unix(const struct endpoint *ep, int backlog, const struct endpoint_unix_access *access,
    char *err, size_t errlen);

#endif
