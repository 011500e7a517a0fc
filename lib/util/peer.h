/*
 * peer - who is at the other end of an accepted connection, so that a
 * limit per peer can tell one local user from another.
 *
 * A peer is named by a key, also fit for logs:
 * - "uid:N" for a unix socket (SO_PEERCRED), and for TCP from a socket on
 *   this host: the kernel's socket diagnostics (NETLINK_SOCK_DIAG) find
 *   the connecting socket by its exact addresses and ports, and give its
 *   owner. Every local user can connect from any address of 127.0.0.0/8,
 *   so the address alone would let one of them pass for many, or for
 *   Postfix itself.
 * - "addr:A" for TCP from elsewhere (an IPv4 address, or an IPv4-mapped
 *   IPv6 one), "net:P/64" for IPv6 from elsewhere: a host gets a whole /64
 *   and may use any address of it.
 * When the diagnostics are unavailable (no AF_NETLINK under a seccomp
 * filter, an old kernel) or the connecting socket is already gone, a local
 * TCP peer is named by its address, and peer_diag_error() says why once.
 *
 * Ownership: peer_diag_create() returns a handle that holds the netlink
 * socket, opened at first use; peer_diag_free() closes it. Not
 * thread-safe; one handle per event loop.
 */
#ifndef TLSPOLICY_PEER_H
#define TLSPOLICY_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define PEER_KEY_MAX 64

struct peer {
	char key[PEER_KEY_MAX];
	bool by_uid;
};

struct peer_diag;

struct peer_diag *peer_diag_create(void);
void peer_diag_free(struct peer_diag *d);

/* The peer of the connected socket fd: 0, or -1 when even its address
 * cannot be read (errno set). */
int peer_identify(struct peer_diag *d, int fd, struct peer *out);

/* Once the diagnostics have failed for a reason that will not pass: that
 * reason, returned once (later calls return NULL); NULL otherwise. */
const char *peer_diag_error(struct peer_diag *d);

/* The address key of a TCP peer ("addr:..." or "net:.../64"), pure. */
void peer_address_key(const struct sockaddr_storage *addr, char *out, size_t len);

#endif
