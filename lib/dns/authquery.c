/* authquery - one question to one name server, UDP then TCP; see authquery.h. */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "dns/authquery.h"

struct authquery {
	struct event_base *base;
	authquery_callback *cb;
	void *arg;
	struct authquery_settings s;
	struct netaddr server;
	uint16_t id;
	ldns_rdf *qname;
	uint16_t qtype;
	uint8_t *wire;			/* the query, 2 bytes of TCP length first */
	size_t wirelen;			/* without those 2 */
	int fd;
	bool tcp;
	struct event *io;
	struct event *deadline;		/* also fires at once for a failure found while starting */
	enum authquery_status pending;	/* what the deadline reports */
	const char *pending_why;
	char why[160];			/* for pending_why */
	uint8_t *in;			/* UDP: one datagram; TCP: the reply, once its length is known */
	size_t have, want;		/* TCP: bytes read; expected (0: the length is not read yet) */
	size_t sent;			/* TCP: bytes of length + query written */
	uint8_t lenbuf[2];
};

const char *
authquery_status_name(enum authquery_status s)
{
	switch (s) {
	case AUTHQUERY_OK:
		return "ok";
	case AUTHQUERY_TIMEOUT:
		return "timeout";
	case AUTHQUERY_REFUSED:
		return "refused";
	case AUTHQUERY_NETWORK:
		return "network error";
	case AUTHQUERY_NO_ROUTE:
		return "no route";
	case AUTHQUERY_MALFORMED:
		return "malformed reply";
	}
	return "?";
}

static void
close_transport(struct authquery *q)
{
	if (q->io) {
		event_free(q->io);
		q->io = NULL;
	}
	if (q->fd >= 0) {
		close(q->fd);
		q->fd = -1;
	}
}

static void
free_query(struct authquery *q)
{
	close_transport(q);
	if (q->deadline)
		event_free(q->deadline);
	if (q->qname)
		ldns_rdf_deep_free(q->qname);
	free(q->wire);
	free(q->in);
	free(q);
}

static void
deliver(struct authquery *q, enum authquery_status st, const ldns_pkt *reply, const char *why)
{
	q->cb(q->arg, st, reply, why);
	free_query(q);
}

/* A failure found outside an event callback: reported from the loop. */
static void
fail_soon(struct authquery *q, enum authquery_status st, const char *why)
{
	struct timeval now = {0, 0};

	close_transport(q);
	q->pending = st;
	q->pending_why = why;
	evtimer_add(q->deadline, &now);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct authquery *q = arg;

	deliver(q, q->pending, NULL, q->pending_why);
}

/* Whether the reply's question is the one asked. */
static bool
same_question(const struct authquery *q, const ldns_pkt *p)
{
	const ldns_rr_list *qs = ldns_pkt_question(p);

	if (!qs || ldns_rr_list_rr_count(qs) != 1)
		return false;
	const ldns_rr *rr = ldns_rr_list_rr(qs, 0);
	return ldns_rr_get_type(rr) == q->qtype && ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
	    ldns_dname_compare(ldns_rr_owner(rr), q->qname) == 0;
}

static void start_tcp(struct authquery *q);

/* A whole message read: 1 when it was taken (delivered or passed on to
 * TCP; q may be gone), 0 when ignored. */
static int
take_reply(struct authquery *q, const uint8_t *data, size_t len)
{
	ldns_pkt *p = NULL;

	if (len < LDNS_HEADER_SIZE || ldns_read_uint16(data) != q->id) {
		if (!q->tcp)
			return 0;
		deliver(q, AUTHQUERY_MALFORMED, NULL, "a TCP reply with another ID");
		return 1;
	}
	if (ldns_wire2pkt(&p, data, len) != LDNS_STATUS_OK) {
		deliver(q, AUTHQUERY_MALFORMED, NULL, "a reply that does not parse");
		return 1;
	}
	if (!same_question(q, p)) {
		ldns_pkt_free(p);
		if (!q->tcp)
			return 0;
		deliver(q, AUTHQUERY_MALFORMED, NULL, "a TCP reply to another question");
		return 1;
	}
	if (ldns_pkt_tc(p) && !q->tcp) {
		ldns_pkt_free(p);
		start_tcp(q);
		return 1;
	}
	if (ldns_pkt_get_rcode(p) == LDNS_RCODE_REFUSED)
		deliver(q, AUTHQUERY_REFUSED, NULL, "REFUSED");
	else
		deliver(q, AUTHQUERY_OK, p, NULL);
	ldns_pkt_free(p);
	return 1;
}

static void
on_udp(evutil_socket_t fd, short what, void *arg)
{
	struct authquery *q = arg;

	for (;;) {
		/* MSG_TRUNC: the datagram's real length, even past the buffer. */
		ssize_t n = recv(q->fd, q->in, AUTHQUERY_UDP_BUFFER, MSG_TRUNC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			deliver(q, AUTHQUERY_NETWORK, NULL, strerror(errno));
			return;
		}
		if (n > AUTHQUERY_UDP_BUFFER) {
			if (ldns_read_uint16(q->in) != q->id)
				continue;
			start_tcp(q);
			return;
		}
		if (take_reply(q, q->in, (size_t)n))
			return;
	}
}

static void
on_tcp(evutil_socket_t fd, short what, void *arg)
{
	struct authquery *q = arg;
	size_t total = q->wirelen + 2;
	ssize_t n;

	if (q->sent < total) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (q->sent == 0 && getsockopt(q->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err) {
			deliver(q, AUTHQUERY_NETWORK, NULL, strerror(err));
			return;
		}
		while (q->sent < total) {
			n = send(q->fd, q->wire + q->sent, total - q->sent, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return;
				deliver(q, AUTHQUERY_NETWORK, NULL, strerror(errno));
				return;
			}
			q->sent += (size_t)n;
		}
		event_free(q->io);
		if (!(q->io = event_new(q->base, q->fd, EV_READ | EV_PERSIST, on_tcp, q)) ||
		    event_add(q->io, NULL) < 0) {
			deliver(q, AUTHQUERY_NETWORK, NULL, "cannot watch the TCP connection");
		}
		return;
	}
	for (;;) {
		uint8_t *dst = q->want ? q->in + q->have : q->lenbuf + q->have;
		size_t room = q->want ? q->want - q->have : 2 - q->have;
		n = recv(q->fd, dst, room, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			deliver(q, AUTHQUERY_NETWORK, NULL, strerror(errno));
			return;
		}
		if (n == 0) {
			deliver(q, AUTHQUERY_NETWORK, NULL, "the server closed the TCP connection before replying");
			return;
		}
		q->have += (size_t)n;
		if (!q->want && q->have == 2) {
			q->want = ldns_read_uint16(q->lenbuf);
			q->have = 0;
			if (q->want < LDNS_HEADER_SIZE) {
				deliver(q, AUTHQUERY_MALFORMED, NULL, "a TCP reply shorter than a DNS header");
				return;
			}
			free(q->in);
			if (!(q->in = malloc(q->want))) {
				deliver(q, AUTHQUERY_NETWORK, NULL, "out of memory");
				return;
			}
		} else if (q->want && q->have == q->want) {
			take_reply(q, q->in, q->want);
			return;
		}
	}
}

/* A failure that says this host has no way there, rather than that the
 * server is down: no IPv6 address or route here. */
static enum authquery_status
network_status(int err)
{
	return err == ENETUNREACH || err == EADDRNOTAVAIL || err == EAFNOSUPPORT ? AUTHQUERY_NO_ROUTE :
	    AUTHQUERY_NETWORK;
}

static int
open_socket(struct authquery *q, int type)
{
	struct sockaddr_storage ss;
	socklen_t len = netaddr_sockaddr(&q->server, q->s.port, &ss);

	q->fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (q->fd < 0)
		return -1;
	if (connect(q->fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS)
		return -1;
	return 0;
}

static void
start_tcp(struct authquery *q)
{
	close_transport(q);
	q->tcp = true;
	q->have = q->want = q->sent = 0;
	if (open_socket(q, SOCK_STREAM) < 0) {
		snprintf(q->why, sizeof(q->why), "cannot connect over TCP: %s", strerror(errno));
		fail_soon(q, network_status(errno), q->why);
		return;
	}
	if (!(q->io = event_new(q->base, q->fd, EV_WRITE | EV_PERSIST, on_tcp, q)) ||
	    event_add(q->io, NULL) < 0)
		fail_soon(q, AUTHQUERY_NETWORK, "cannot watch the TCP connection");
}

/* The query's wire form behind a 2-byte TCP length. */
static int
build_query(struct authquery *q)
{
	ldns_pkt *p = ldns_pkt_query_new(ldns_rdf_clone(q->qname), q->qtype, LDNS_RR_CLASS_IN, 0);
	uint8_t *wire = NULL;
	size_t len = 0;
	int rc = -1;

	if (!p)
		return -1;
	ldns_pkt_set_id(p, q->id);
	ldns_pkt_set_rd(p, false);
	ldns_pkt_set_edns_udp_size(p, AUTHQUERY_UDP_SIZE);
	ldns_pkt_set_edns_do(p, q->s.dnssec);
	if (ldns_pkt2wire(&wire, p, &len) == LDNS_STATUS_OK && len <= AUTHQUERY_MAX_REPLY &&
	    (q->wire = malloc(len + 2))) {
		ldns_write_uint16(q->wire, (uint16_t)len);
		memcpy(q->wire + 2, wire, len);
		q->wirelen = len;
		rc = 0;
	}
	free(wire);
	ldns_pkt_free(p);
	return rc;
}

struct authquery *
authquery_start(struct event_base *base, const struct netaddr *server, const struct authquery_settings *s,
    const char *name, uint16_t type, authquery_callback *cb, void *arg)
{
	struct authquery *q = calloc(1, sizeof(*q));
	struct timeval tv;

	if (!q)
		return NULL;
	q->fd = -1;
	q->base = base;
	q->cb = cb;
	q->arg = arg;
	q->s = *s;
	q->server = *server;
	q->qtype = type;
	if (getrandom(&q->id, sizeof(q->id), 0) != (ssize_t)sizeof(q->id) ||
	    ldns_str2rdf_dname(&q->qname, name) != LDNS_STATUS_OK || build_query(q) < 0 ||
	    !(q->in = malloc(AUTHQUERY_UDP_BUFFER)) ||
	    !(q->deadline = evtimer_new(base, on_deadline, q)))
		goto fail;
	q->pending = AUTHQUERY_TIMEOUT;
	q->pending_why = "no reply before the deadline";
	tv.tv_sec = s->timeout_ms / 1000;
	tv.tv_usec = (s->timeout_ms % 1000) * 1000;
	if (evtimer_add(q->deadline, &tv) < 0)
		goto fail;
	if (open_socket(q, SOCK_DGRAM) < 0 || send(q->fd, q->wire + 2, q->wirelen, 0) != (ssize_t)q->wirelen) {
		snprintf(q->why, sizeof(q->why), "cannot send over UDP: %s", strerror(errno));
		fail_soon(q, network_status(errno), q->why);
		return q;
	}
	if (!(q->io = event_new(base, q->fd, EV_READ | EV_PERSIST, on_udp, q)) || event_add(q->io, NULL) < 0)
		goto fail;
	return q;
fail:
	free_query(q);
	return NULL;
}

void
authquery_cancel(struct authquery *q)
{
	if (q)
		free_query(q);
}
