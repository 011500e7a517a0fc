/* metrics_http - the Prometheus endpoint; see metrics_http.h. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "endpoint.h"
#include "metrics_http.h"

struct metrics_http {
	struct evhttp *http;
	void (*collect)(void *arg, struct buf *out);
	void *arg;
};

static void
on_metrics(struct evhttp_request *req, void *arg)
{
	struct metrics_http *m = arg;
	struct evbuffer *body = evbuffer_new();
	struct buf out;

	if (!body) {
		evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_send_error(req, 405, "only GET");
		evbuffer_free(body);
		return;
	}
	buf_init(&out);
	m->collect(m->arg, &out);
	evbuffer_add(body, buf_ptr(&out), buf_size(&out));
	buf_free(&out);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}

static void
on_other(struct evhttp_request *req, void *arg)
{
	evhttp_send_error(req, HTTP_NOTFOUND, "only /metrics here");
}

struct metrics_http *
metrics_http_create(struct event_base *base, const char *listen, void (*collect)(void *arg, struct buf *out),
    void *arg, char *err, size_t errlen)
{
	struct endpoint ep;
	char addr[INET6_ADDRSTRLEN];
	unsigned port;

	if (endpoint_parse(listen, &ep, err, errlen) < 0)
		return NULL;
	if (ep.is_unix) {
		snprintf(err, errlen, "metrics_listen %s: inet:ADDR:PORT only", listen);
		return NULL;
	}
	if (ep.addr.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&ep.addr;
		inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
		port = ntohs(sin->sin_port);
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ep.addr;
		inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr));
		port = ntohs(sin6->sin6_port);
	}
	struct metrics_http *m = calloc(1, sizeof(*m));
	if (!m || !(m->http = evhttp_new(base))) {
		snprintf(err, errlen, "out of memory");
		free(m);
		return NULL;
	}
	m->collect = collect;
	m->arg = arg;
	/* A scrape is a few kilobytes: no big requests, no slow clients. */
	evhttp_set_max_headers_size(m->http, 8192);
	evhttp_set_max_body_size(m->http, 0);
	evhttp_set_timeout(m->http, 10);
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_cb(m->http, "/metrics", on_metrics, m);
	evhttp_set_gencb(m->http, on_other, m);
	if (evhttp_bind_socket(m->http, addr, (ev_uint16_t)port) < 0) {
		snprintf(err, errlen, "metrics_listen %s: cannot bind", listen);
		metrics_http_free(m);
		return NULL;
	}
	return m;
}

void
metrics_http_free(struct metrics_http *m)
{
	if (!m)
		return;
	if (m->http)
		evhttp_free(m->http);
	free(m);
}
