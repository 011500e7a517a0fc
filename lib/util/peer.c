/* peer - who is at the other end of a connection; see peer.h. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "util/peer.h"

struct peer_diag {
	int fd;			/* the netlink socket; -1 until first use */
	bool broken;		/* cannot work here: addresses only */
	bool told;		/* peer_diag_error() has said why */
	uint32_t seq;
	char error[160];
};

struct peer_diag *
peer_diag_create(void)
{
	struct peer_diag *d = calloc(1, sizeof(*d));

	if (d)
		d->fd = -1;
	return d;
}

void
peer_diag_free(struct peer_diag *d)
{
	if (!d)
		return;
	if (d->fd >= 0)
		close(d->fd);
	free(d);
}

const char *
peer_diag_error(struct peer_diag *d)
{
	if (!d || !d->broken || d->told)
		return NULL;
	d->told = true;
	return d->error;
}

static void
diag_broken(struct peer_diag *d, const char *what, int err)
{
	d->broken = true;
	snprintf(d->error, sizeof(d->error), "%s: %s", what, strerror(err));
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

/* The owner of the TCP socket on this host whose own address is src and
 * whose peer is dst: 0 with *uid, or -1 (no such socket, or no answer). */
static int
diag_uid(struct peer_diag *d, const struct sockaddr_storage *src, const struct sockaddr_storage *dst, uid_t *uid)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg;
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};

	if (d->broken)
		return -1;
	if (d->fd < 0) {
		d->fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
		if (d->fd < 0) {
			diag_broken(d, "socket(AF_NETLINK, NETLINK_SOCK_DIAG)", errno);
			return -1;
		}
	}
	memset(&msg, 0, sizeof(msg));
	msg.nlh.nlmsg_len = sizeof(msg);
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST;	/* one socket, not a dump */
	msg.nlh.nlmsg_seq = ++d->seq;
	msg.req.sdiag_family = (uint8_t)src->ss_family;
	msg.req.sdiag_protocol = IPPROTO_TCP;
	msg.req.idiag_states = ~0u;
	msg.req.id.idiag_cookie[0] = msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (src->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)src, *t = (const struct sockaddr_in *)dst;
		msg.req.id.idiag_sport = s->sin_port;
		msg.req.id.idiag_dport = t->sin_port;
		memcpy(msg.req.id.idiag_src, &s->sin_addr, 4);
		memcpy(msg.req.id.idiag_dst, &t->sin_addr, 4);
	} else {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)src, *t = (const struct sockaddr_in6 *)dst;
		msg.req.id.idiag_sport = s->sin6_port;
		msg.req.id.idiag_dport = t->sin6_port;
		memcpy(msg.req.id.idiag_src, &s->sin6_addr, 16);
		memcpy(msg.req.id.idiag_dst, &t->sin6_addr, 16);
	}
	if (sendto(d->fd, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		if (errno == EPERM || errno == EACCES || errno == EPROTONOSUPPORT || errno == EOPNOTSUPP)
			diag_broken(d, "NETLINK_SOCK_DIAG", errno);
		else {
			close(d->fd);	/* opened again next time */
			d->fd = -1;
		}
		return -1;
	}
	/* The kernel answers within sendto(); replies to earlier requests
	 * that were not read (there are none normally) are skipped. */
	for (;;) {
		union {
			struct nlmsghdr h;
			char bytes[8192];
		} reply;
		ssize_t n = recv(d->fd, &reply, sizeof(reply), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		size_t len = (size_t)n;
		for (struct nlmsghdr *h = &reply.h; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != d->seq)
				continue;
			if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
			    h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
				const struct inet_diag_msg *m = NLMSG_DATA(h);
				*uid = (uid_t)m->idiag_uid;
				return 0;
			}
			/* NLMSG_ERROR: ENOENT when the socket is gone or not here. */
			return -1;
		}
	}
}

void
peer_address_key(const struct sockaddr_storage *addr, char *out, size_t len)
{
	char text[INET6_ADDRSTRLEN] = "?";

	if (addr->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, text, sizeof(text));
		snprintf(out, len, "addr:%s", text);
		return;
	}
	if (addr->ss_family != AF_INET6) {
		snprintf(out, len, "family:%u", (unsigned)addr->ss_family);
		return;
	}
	struct in6_addr a = ((const struct sockaddr_in6 *)addr)->sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(&a)) {
		inet_ntop(AF_INET, &a.s6_addr[12], text, sizeof(text));
		snprintf(out, len, "addr:%s", text);
		return;
	}
	memset(&a.s6_addr[8], 0, 8);
	inet_ntop(AF_INET6, &a, text, sizeof(text));
	snprintf(out, len, "net:%s/64", text);
}

int
peer_identify(struct peer_diag *d, int fd, struct peer *out)
{
	struct sockaddr_storage local, remote;
	socklen_t llen = sizeof(local), rlen = sizeof(remote);
	uid_t uid;

	memset(out, 0, sizeof(*out));
	if (getsockname(fd, (struct sockaddr *)&local, &llen) < 0)
		return -1;
	if (local.ss_family == AF_UNIX) {
		struct ucred cred;
		socklen_t clen = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0)
			return -1;
		snprintf(out->key, sizeof(out->key), "uid:%u", (unsigned)cred.uid);
		out->by_uid = true;
		return 0;
	}
	if (getpeername(fd, (struct sockaddr *)&remote, &rlen) < 0)
		return -1;
	/* Any peer may be on this host (any of its addresses, not only the
	 * loopback): the diagnostics find its socket, or nothing, at once. */
	if ((remote.ss_family == AF_INET || remote.ss_family == AF_INET6) && d && diag_uid(d, &remote, &local, &uid) == 0) {
		snprintf(out->key, sizeof(out->key), "uid:%u", (unsigned)uid);
		out->by_uid = true;
		return 0;
	}
	peer_address_key(&remote, out->key, sizeof(out->key));
	return 0;
}
