/* metrics_http - the Prometheus endpoint; see metrics_http.h. */
#include "autoconfig.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "util/endpoint.h"
#include "util/list.h"
#include "metrics_http.h"
#include "util/peer.h"
#include "serve/peerlimit.h"

struct mconn {
	struct metrics_http *m;
	struct list_node link;		/* on m->conns */
	int fd;
	struct event *ev;
	struct event *deadline;
	struct peerlimit_peer *peer;
	enum { READING, WRITING, DRAINING } state;
	size_t in_len;
	char in[METRICS_MAX_REQUEST];
	struct buf out;
};

struct metrics_http {
	struct event_base *base;
	int fd;
	struct event *accept_ev;
	void (*collect)(void *arg, struct buf *out);
	void *arg;
	void (*status)(void *arg, enum metrics_http_page page, struct buf *out);
	void *status_arg;
	unsigned timeout_ms;
	struct list conns;
	struct peerlimit *peers;	/* METRICS_MAX_PER_PEER */
	struct peer_diag *diag;
	uint64_t refused;
};

static void
mconn_close(struct mconn *c)
{
	struct metrics_http *m = c->m;

	peerlimit_release(m->peers, c->peer);
	list_remove(&m->conns, &c->link);
	if (c->ev)
		event_free(c->ev);
	if (c->deadline)
		event_free(c->deadline);
	close(c->fd);
	buf_free(&c->out);
	free(c);
}

/* Waits for what (EV_READ or EV_WRITE); the deadline is a timer apart,
 * set once: a persistent event's own timeout would start again at every
 * byte. */
static bool
mconn_wait(struct mconn *c, short what, event_callback_fn cb)
{
	if (c->ev)
		event_free(c->ev);
	c->ev = event_new(c->m->base, c->fd, what | EV_PERSIST, cb, c);
	return c->ev && event_add(c->ev, NULL) == 0;
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	mconn_close(arg);	/* whatever was under way */
}

static void on_io(evutil_socket_t fd, short what, void *arg);

static void
respond(struct mconn *c, int status, const char *reason, const char *type, const struct buf *body,
    bool head, const char *extra)
{
	buf_printf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
	    status, reason, type, buf_size(body), extra ? extra : "");
	if (!head)
		buf_append(&c->out, buf_ptr(body), buf_size(body));
	c->state = WRITING;
	if (!mconn_wait(c, EV_WRITE, on_io))
		mconn_close(c);
}

static void
respond_text(struct mconn *c, int status, const char *reason, const char *text, bool head, const char *extra)
{
	struct buf body;

	buf_init(&body);
	buf_puts(&body, text);
	respond(c, status, reason, "text/plain; charset=utf-8", &body, head, extra);
	buf_free(&body);
}

/* The request line of a complete head: "METHOD TARGET HTTP/x.y". The
 * headers are not needed, and a body is never read. */
static void
handle_request(struct mconn *c)
{
	char method[16], target[256], version[16];
	const char *eol = memchr(c->in, '\n', c->in_len);
	size_t len = (size_t)(eol - c->in);
	char line[sizeof(c->in)];

	memcpy(line, c->in, len);
	line[len] = '\0';
	if (len && line[len - 1] == '\r')
		line[len - 1] = '\0';
	if (sscanf(line, "%15s %255s %15s", method, target, version) != 3 || strncmp(version, "HTTP/1.", 7) != 0) {
		respond_text(c, 400, "Bad Request", "expected GET /metrics HTTP/1.1\n", false, NULL);
		return;
	}
	bool head = strcmp(method, "HEAD") == 0;
	if (!head && strcmp(method, "GET") != 0) {
		respond_text(c, 405, "Method Not Allowed", "only GET and HEAD\n", false, "Allow: GET, HEAD\r\n");
		return;
	}
	size_t plen = strcspn(target, "?");
	target[plen] = '\0';
	struct buf body;
	buf_init(&body);
	if (strcmp(target, "/metrics") == 0) {
		c->m->collect(c->m->arg, &body);
		respond(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", &body, head, NULL);
	} else if (c->m->status && strcmp(target, "/") == 0) {
		c->m->status(c->m->status_arg, METRICS_HTTP_STATUS_HTML, &body);
		respond(c, 200, "OK", "text/html; charset=utf-8", &body, head,
		    "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
		    "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; "
		    "script-src 'unsafe-inline'\r\n");
	} else if (c->m->status && strcmp(target, "/status.json") == 0) {
		c->m->status(c->m->status_arg, METRICS_HTTP_STATUS_JSON, &body);
		respond(c, 200, "OK", "application/json", &body, head,
		    "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n");
	} else {
		respond_text(c, 404, "Not Found", c->m->status ? "only /, /status.json and /metrics here\n" :
		    "only /metrics here\n", head, NULL);
	}
	buf_free(&body);
}

static void
on_io(evutil_socket_t fd, short what, void *arg)
{
	struct mconn *c = arg;

	if (c->state == READING) {
		ssize_t n = read(fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			mconn_close(c);
			return;
		}
		size_t from = c->in_len >= 3 ? c->in_len - 3 : 0;
		c->in_len += (size_t)n;
		/* The head ends with an empty line (bare LF tolerated). */
		for (size_t i = from; i < c->in_len; i++) {
			if (c->in[i] == '\n' && ((i >= 1 && c->in[i - 1] == '\n') ||
			    (i >= 3 && memcmp(c->in + i - 3, "\r\n\r\n", 4) == 0))) {
				handle_request(c);
				return;
			}
		}
		if (c->in_len == sizeof(c->in))
			respond_text(c, 431, "Request Header Fields Too Large", "request too large\n", false, NULL);
		return;
	}
	if (c->state == WRITING) {
		while (buf_size(&c->out)) {
			ssize_t n = write(fd, buf_ptr(&c->out), buf_size(&c->out));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				return;
			if (n <= 0) {
				mconn_close(c);
				return;
			}
			buf_consume(&c->out, (size_t)n);
		}
		/* Closing with unread input would send a reset that can destroy
		 * the reply: send FIN, then read until the client closes. */
		shutdown(fd, SHUT_WR);
		c->state = DRAINING;
		if (!mconn_wait(c, EV_READ, on_io))
			mconn_close(c);
		return;
	}
	char sink[4096];
	ssize_t n = read(fd, sink, sizeof(sink));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		mconn_close(c);
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct metrics_http *m = arg;

	for (int i = 0; i < 16; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct peer p;
		struct peerlimit_peer *mine = NULL;
		struct peerlimit_report report;	/* not logged: the count says it */
		if (peer_identify(m->diag, fd, &p) < 0)
			snprintf(p.key, sizeof(p.key), "unknown");
		struct mconn *c = NULL;
		if (m->conns.count >= METRICS_MAX_CONNECTIONS ||
		    peerlimit_admit(m->peers, p.key, METRICS_MAX_PER_PEER, 0, &mine, &report) != PEERLIMIT_ADMITTED ||
		    !(c = calloc(1, sizeof(*c)))) {
			if (mine)
				peerlimit_release(m->peers, mine);
			m->refused++;
			close(fd);
			continue;
		}
		c->m = m;
		c->fd = fd;
		c->state = READING;
		c->peer = mine;
		buf_init(&c->out);
		list_push_front(&m->conns, &c->link);
		struct timeval tv = {(time_t)(m->timeout_ms / 1000), (suseconds_t)(m->timeout_ms % 1000) * 1000};
		if (!(c->deadline = evtimer_new(m->base, on_deadline, c)) || evtimer_add(c->deadline, &tv) < 0 ||
		    !mconn_wait(c, EV_READ, on_io))
			mconn_close(c);
	}
}

struct metrics_http *
metrics_http_create(struct event_base *base, const char *listen, unsigned timeout_ms,
    void (*collect)(void *arg, struct buf *out), void *arg, char *err, size_t errlen)
{
	struct endpoint ep;

	if (endpoint_parse(listen, &ep, err, errlen) < 0)
		return NULL;
	if (ep.is_unix) {
		snprintf(err, errlen, "metrics_listen %s: inet:ADDR:PORT only", listen);
		return NULL;
	}
	struct metrics_http *m = calloc(1, sizeof(*m));
	if (m)
		m->fd = -1;
	if (!m || !(m->peers = peerlimit_create()) || !(m->diag = peer_diag_create())) {
		snprintf(err, errlen, "out of memory");
		metrics_http_free(m);
		return NULL;
	}
	m->base = base;
	m->collect = collect;
	m->arg = arg;
	m->timeout_ms = timeout_ms;
	if ((m->fd = endpoint_listen(&ep, 16, err, errlen)) < 0) {
		char why[512];
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "metrics_listen %s", why);
		metrics_http_free(m);
		return NULL;
	}
	if (!(m->accept_ev = event_new(base, m->fd, EV_READ | EV_PERSIST, on_accept, m)) ||
	    event_add(m->accept_ev, NULL) < 0) {
		snprintf(err, errlen, "out of memory");
		metrics_http_free(m);
		return NULL;
	}
	return m;
}

void
metrics_http_set_status(struct metrics_http *m,
    void (*status)(void *arg, enum metrics_http_page page, struct buf *out), void *arg)
{
	if (!m)
		return;
	m->status = status;
	m->status_arg = arg;
}

void
metrics_http_set_timeout(struct metrics_http *m, unsigned timeout_ms)
{
	if (m)
		m->timeout_ms = timeout_ms;
}

uint64_t
metrics_http_refused(const struct metrics_http *m)
{
	return m ? m->refused : 0;
}

void
metrics_http_free(struct metrics_http *m)
{
	if (!m)
		return;
	while (m->conns.first)
		mconn_close(LIST_ENTRY(m->conns.first, struct mconn, link));
	if (m->accept_ev)
		event_free(m->accept_ev);
	if (m->fd >= 0)
		close(m->fd);
	peerlimit_free(m->peers);
	peer_diag_free(m->diag);
	free(m);
}
