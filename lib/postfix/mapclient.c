/* mapclient - a socketmap client with a deadline; see mapclient.h. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "postfix/mapclient.h"
#include "postfix/netstring.h"

struct mapclient {
	struct endpoint ep;
	int fd;
	struct buf out, in;
};

struct mapclient *
mapclient_create(const struct endpoint *ep)
{
	struct mapclient *mc = calloc(1, sizeof(*mc));

	if (!mc)
		return NULL;
	mc->ep = *ep;
	mc->fd = -1;
	buf_init(&mc->out);
	buf_init(&mc->in);
	return mc;
}

static void
disconnect(struct mapclient *mc)
{
	if (mc->fd >= 0)
		close(mc->fd);
	mc->fd = -1;
	buf_reset(&mc->in);
}

void
mapclient_free(struct mapclient *mc)
{
	if (!mc)
		return;
	disconnect(mc);
	buf_free(&mc->out);
	buf_free(&mc->in);
	free(mc);
}

/* Waits for events on the connection until the deadline: 1 ready, 0 out
 * of time, -1 with errno. */
static int
wait_for(const struct mapclient *mc, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - clock_monotonic_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = {.fd = mc->fd, .events = events};
		int n = poll(&p, 1, (int)left);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static int
fail(struct mapclient *mc, int rc, char *err, size_t errlen, const char *what, const char *why)
{
	snprintf(err, errlen, "%s: %s: %s", mc->ep.text, what, why);
	disconnect(mc);
	return rc;
}

static int
connect_by(struct mapclient *mc, int64_t deadline, char *err, size_t errlen)
{
	mc->fd = socket(mc->ep.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (mc->fd < 0)
		return fail(mc, MAPCLIENT_ERROR, err, errlen, "socket", strerror(errno));
	if (connect(mc->fd, (const struct sockaddr *)&mc->ep.addr, mc->ep.addrlen) < 0) {
		if (errno != EINPROGRESS && errno != EAGAIN)
			return fail(mc, MAPCLIENT_ERROR, err, errlen, "connect", strerror(errno));
		int rc = wait_for(mc, POLLOUT, deadline);
		if (rc == 0)
			return fail(mc, MAPCLIENT_TIMEOUT, err, errlen, "connect", "no connection in time");
		int soerr = 0;
		socklen_t len = sizeof(soerr);
		if (rc < 0 || getsockopt(mc->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			return fail(mc, MAPCLIENT_ERROR, err, errlen, "connect", strerror(errno));
		if (soerr)
			return fail(mc, MAPCLIENT_ERROR, err, errlen, "connect", strerror(soerr));
	}
	if (!mc->ep.is_unix) {
		int on = 1;
		setsockopt(mc->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	}
	return MAPCLIENT_OK;
}

static int
send_all(struct mapclient *mc, int64_t deadline, char *err, size_t errlen)
{
	const char *p = buf_ptr(&mc->out);
	size_t left = buf_size(&mc->out);

	while (left > 0) {
		ssize_t n = send(mc->fd, p, left, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			left -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int rc = wait_for(mc, POLLOUT, deadline);
			if (rc == 0)
				return fail(mc, MAPCLIENT_TIMEOUT, err, errlen, "sending", "the server reads nothing");
			if (rc < 0)
				return fail(mc, MAPCLIENT_ERROR, err, errlen, "sending", strerror(errno));
			continue;
		}
		return fail(mc, MAPCLIENT_ERROR, err, errlen, "sending", strerror(errno));
	}
	return MAPCLIENT_OK;
}

/* Sends what mc->out holds and reads one reply netstring of at most
 * max_reply bytes: *payload points into mc->in, whose first *used bytes
 * the caller consumes once it has taken the payload. */
static int
exchange(struct mapclient *mc, int64_t deadline, size_t max_reply, const char **payload, size_t *len,
    size_t *used, char *err, size_t errlen)
{
	int rc;

	/* A connection the server closed while idle shows up only when it
	 * is used: one fresh try for a query that did not get anywhere. */
	for (int attempt = 0; attempt < 2; attempt++) {
		bool reused = mc->fd >= 0;
		if (!reused && (rc = connect_by(mc, deadline, err, errlen)) != MAPCLIENT_OK)
			return rc;
		if ((rc = send_all(mc, deadline, err, errlen)) != MAPCLIENT_OK) {
			if (reused && rc == MAPCLIENT_ERROR)
				continue;
			return rc;
		}
		for (;;) {
			int ns = netstring_parse(buf_ptr(&mc->in), buf_size(&mc->in), max_reply, payload, len, used);
			if (ns == NETSTRING_OK)
				return MAPCLIENT_OK;
			if (ns != NETSTRING_INCOMPLETE)
				return fail(mc, MAPCLIENT_ERROR, err, errlen, "reply", netstring_strerror(ns));
			char *dst = buf_reserve(&mc->in, 4096);
			if (!dst)
				return fail(mc, MAPCLIENT_ERROR, err, errlen, "reply", "out of memory");
			ssize_t n = recv(mc->fd, dst, 4096, 0);
			if (n > 0) {
				buf_commit(&mc->in, (size_t)n);
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				int w = wait_for(mc, POLLIN, deadline);
				if (w == 0)
					return fail(mc, MAPCLIENT_TIMEOUT, err, errlen, "reply", "no answer in time");
				if (w < 0)
					return fail(mc, MAPCLIENT_ERROR, err, errlen, "reply", strerror(errno));
				continue;
			}
			if (reused && buf_size(&mc->in) == 0) {
				disconnect(mc);
				break;		/* the idle connection was closed: try a fresh one */
			}
			return fail(mc, MAPCLIENT_ERROR, err, errlen, "reply",
			    n == 0 ? "the server closed the connection" : strerror(errno));
		}
	}
	return fail(mc, MAPCLIENT_ERROR, err, errlen, "reply", "the server closed the connection");
}

int
mapclient_query(struct mapclient *mc, const char *name, const char *key, unsigned timeout_ms,
    enum socketmap_status *status, struct buf *text, char *err, size_t errlen)
{
	int64_t deadline = clock_monotonic_ms() + timeout_ms;
	const char *payload, *t;
	size_t len, used, tlen;
	int rc;

	buf_reset(&mc->out);
	if (socketmap_request(&mc->out, name, key) < 0)
		return fail(mc, MAPCLIENT_ERROR, err, errlen, "request", "out of memory");
	if (buf_size(&mc->out) > SOCKETMAP_MAX_REQUEST + 16)
		return fail(mc, MAPCLIENT_ERROR, err, errlen, "request", "key too long");
	if ((rc = exchange(mc, deadline, SOCKETMAP_MAX_REPLY, &payload, &len, &used, err, errlen)) != MAPCLIENT_OK)
		return rc;
	if (socketmap_parse_reply(payload, len, status, &t, &tlen) < 0)
		return fail(mc, MAPCLIENT_ERROR, err, errlen, "reply", "unknown status word");
	buf_reset(text);
	if (buf_append(text, t, tlen) < 0 || buf_terminate(text) < 0)
		return fail(mc, MAPCLIENT_ERROR, err, errlen, "reply", "out of memory");
	buf_consume(&mc->in, used);
	return MAPCLIENT_OK;
}

int
mapclient_exchange(struct mapclient *mc, const char *request, size_t request_len, size_t max_reply,
    unsigned timeout_ms, struct buf *reply, char *err, size_t errlen)
{
	int64_t deadline = clock_monotonic_ms() + timeout_ms;
	const char *payload;
	size_t len, used;
	int rc;

	buf_reset(&mc->out);
	if (netstring_put(&mc->out, request, request_len) < 0)
		return fail(mc, MAPCLIENT_ERROR, err, errlen, "request", "out of memory");
	if ((rc = exchange(mc, deadline, max_reply, &payload, &len, &used, err, errlen)) != MAPCLIENT_OK)
		return rc;
	buf_reset(reply);
	if (buf_append(reply, payload, len) < 0 || buf_terminate(reply) < 0)
		return fail(mc, MAPCLIENT_ERROR, err, errlen, "reply", "out of memory");
	buf_consume(&mc->in, used);
	return MAPCLIENT_OK;
}
