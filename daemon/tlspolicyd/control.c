/* control - the administrator's socket; see control.h. */
#include "autoconfig.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "util/buf.h"
#include "util/clock.h"
#include "control.h"
#include "util/endpoint.h"
#include "util/list.h"
#include "serve/controlproto.h"

struct control_request {
	struct control *ctl;
	struct list_node link;		/* on ctl->requests */
	int fd;
	struct event *ev;
	struct buf in, out;
	uint64_t deadline_us;		/* for the whole request to be in */
};

struct control {
	struct event_base *base;
	int fd;
	struct event *accept_ev;
	control_handler *handler;
	void *arg;
	struct list requests;
};

int
control_listen(const char *path, long gid, char *err, size_t errlen)
{
	struct endpoint_unix_access access = {.mode = 0660, .gid = gid};
	struct endpoint ep;
	char spec[sizeof(ep.text)];

	snprintf(spec, sizeof(spec), "unix:%s", path);
	if (path[0] != '/' || endpoint_parse(spec, &ep, err, errlen) < 0) {
		snprintf(err, errlen, "control_socket %s: an absolute path of at most %zu bytes", path,
		    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return -1;
	}
	int fd = endpoint_listen_unix(&ep, 16, &access, err, errlen);
	if (fd < 0) {
		char why[512];
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "control_socket %s", why);
	}
	return fd;
}

static void
request_free(struct control_request *r)
{
	struct control *c = r->ctl;

	list_remove(&c->requests, &r->link);
	if (r->ev)
		event_free(r->ev);
	if (r->fd >= 0)
		close(r->fd);
	buf_free(&r->in);
	buf_free(&r->out);
	free(r);
}

/* Sends what is left of the reply; frees the request when done. */
static void
flush_reply(evutil_socket_t fd, short what, void *arg)
{
	struct control_request *r = arg;

	while (buf_size(&r->out)) {
		ssize_t n = write(r->fd, buf_ptr(&r->out), buf_size(&r->out));
		if (n > 0) {
			buf_consume(&r->out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !(what & EV_TIMEOUT)) {
			struct timeval tv = {CONTROLPROTO_REQUEST_TIMEOUT_S, 0};
			event_free(r->ev);
			r->ev = event_new(r->ctl->base, r->fd, EV_WRITE, flush_reply, r);
			if (r->ev && event_add(r->ev, &tv) == 0)
				return;
		}
		break;
	}
	request_free(r);
}

void
control_reply(struct control_request *r, const char *text)
{
	/* A client that went away meanwhile fails the write: freed quietly. */
	controlproto_put_reply(&r->out, text);
	flush_reply(r->fd, 0, r);
}

/* Waits for more of the request until its deadline, which is fixed at
 * the accept: the event is not persistent, so no byte extends it. */
static bool
wait_request(struct control_request *r)
{
	uint64_t now = clock_monotonic_us(), left = r->deadline_us > now ? r->deadline_us - now : 0;
	struct timeval tv = {(time_t)(left / 1000000), (suseconds_t)(left % 1000000)};

	return event_add(r->ev, &tv) == 0;
}

static void
on_request(evutil_socket_t fd, short what, void *arg)
{
	struct control_request *r = arg;
	struct controlproto_request req;
	const char *refusal;

	if (what & EV_TIMEOUT) {
		request_free(r);
		return;
	}
	char *dst = buf_reserve(&r->in, CONTROLPROTO_MAX_INPUT - buf_size(&r->in));
	ssize_t n = dst ? read(fd, dst, CONTROLPROTO_MAX_INPUT - buf_size(&r->in)) : -1;
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		if (!wait_request(r))
			request_free(r);
		return;
	}
	if (n <= 0) {
		request_free(r);
		return;
	}
	buf_commit(&r->in, (size_t)n);
	enum controlproto_parse rc = controlproto_parse_request(buf_ptr(&r->in), buf_size(&r->in), &req, &refusal);
	if (rc == CONTROLPROTO_INCOMPLETE) {
		if (!wait_request(r))
			request_free(r);
		return;
	}
	/* One request per connection: nothing more is read. The handler
	 * decides how long the answer takes (a resolution is bounded by
	 * dns_timeout); whatever the client sends meanwhile waits in the
	 * kernel, which stops it once its buffers are full. */
	event_del(r->ev);
	if (rc == CONTROLPROTO_REFUSED)
		control_reply(r, refusal);
	else
		r->ctl->handler(r->ctl->arg, r, req.command, req.argument);
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct control *c = arg;
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	struct control_request *r = calloc(1, sizeof(*r));
	if (!r) {
		close(fd);
		return;
	}
	r->ctl = c;
	r->fd = fd;
	r->deadline_us = clock_monotonic_us() + CONTROLPROTO_REQUEST_TIMEOUT_S * 1000000ull;
	buf_init(&r->in);
	buf_init(&r->out);
	list_push_front(&c->requests, &r->link);
	if (!(r->ev = event_new(c->base, fd, EV_READ, on_request, r)) || !wait_request(r))
		request_free(r);
}

struct control *
control_create(struct event_base *base, int fd, control_handler *handler, void *arg)
{
	struct control *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return NULL;
	}
	c->base = base;
	c->fd = fd;
	c->handler = handler;
	c->arg = arg;
	if (!(c->accept_ev = event_new(base, fd, EV_READ | EV_PERSIST, on_accept, c)) ||
	    event_add(c->accept_ev, NULL) < 0) {
		control_free(c);
		return NULL;
	}
	return c;
}

void
control_free(struct control *c)
{
	if (!c)
		return;
	/* Requests a handler still holds are answered into the void: they are
	 * freed here, and the handler must not reply after this. */
	while (c->requests.first)
		request_free(LIST_ENTRY(c->requests.first, struct control_request, link));
	if (c->accept_ev)
		event_free(c->accept_ev);
	close(c->fd);
	free(c);
}
