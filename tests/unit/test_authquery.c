/*
 * Unit tests: authquery (lib/dns/authquery.c), one question to one name
 * server, against a server inside the test on 127.0.0.1 (UDP and TCP on
 * one port, on the same event loop) that answers each case its own way:
 * a plain answer; truncated over UDP, whole over TCP; a datagram too big
 * for the client's buffer (TCP again); a reply with
 * another ID or to another question first (ignored), then the right one;
 * a runt datagram, then the answer; a reply with our ID that does not
 * parse; REFUSED; silence (the deadline); a TCP connection closed before
 * the reply; a port where nothing listens; a cancel before the reply.
 * The server also checks the question: RD off, DO on, EDNS0 size.
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <event2/event.h>
#include <ldns/ldns.h>

#include "util/netaddr.h"
#include "dns/authquery.h"
#include "table.h"

#define ZONE "example.test."
#define SERIAL_UDP 42
#define SERIAL_TCP 43

enum mode {
	ANSWER,
	TRUNCATED,
	OVERSIZED,
	WRONG_ID_FIRST,
	WRONG_QUESTION_FIRST,
	RUNT_FIRST,
	GARBAGE,
	REFUSED,
	SILENT,
	TCP_CLOSED,
	NOBODY,
	CANCELLED,
};

struct server {
	enum mode mode;
	struct event_base *base;
	int udp, listener, conn;
	unsigned port;
	struct event *udp_ev, *accept_ev, *conn_ev;
	int udp_queries, tcp_queries;
	bool rd, dnssec;
	uint16_t udp_size;
};

struct outcome {
	int calls;
	enum authquery_status status;
	uint32_t serial;
	bool tc;
};

/* The reply to q: an SOA answer with serial, or only the header's rcode
 * and flags. */
static uint8_t *
reply_to(const ldns_pkt *q, uint32_t serial, bool tc, ldns_pkt_rcode rcode, size_t *len)
{
	ldns_pkt *r = ldns_pkt_new();
	uint8_t *wire = NULL;
	char text[256];

	assert_non_null(r);
	ldns_pkt_set_id(r, ldns_pkt_id(q));
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_aa(r, true);
	ldns_pkt_set_tc(r, tc);
	ldns_pkt_set_rcode(r, rcode);
	ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(q), 0)));
	if (!tc && rcode == LDNS_RCODE_NOERROR) {
		ldns_rr *soa = NULL;
		snprintf(text, sizeof(text), ZONE " 300 IN SOA ns." ZONE " host." ZONE " %u 3600 600 86400 300", serial);
		assert_int_equal(ldns_rr_new_frm_str(&soa, text, 0, NULL, NULL), LDNS_STATUS_OK);
		ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, soa);
	}
	assert_int_equal(ldns_pkt2wire(&wire, r, len), LDNS_STATUS_OK);
	ldns_pkt_free(r);
	return wire;
}

static void
send_udp(struct server *sv, const struct sockaddr_storage *to, socklen_t tolen, const uint8_t *data, size_t len)
{
	assert_int_equal(sendto(sv->udp, data, len, 0, (const struct sockaddr *)to, tolen), (ssize_t)len);
}

static void
on_udp(evutil_socket_t fd, short what, void *arg)
{
	struct server *sv = arg;
	uint8_t buf[4096], *wire;
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	ldns_pkt *q = NULL;
	size_t len;

	ssize_t n = recvfrom(sv->udp, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);
	assert_true(n > 0);
	assert_int_equal(ldns_wire2pkt(&q, buf, (size_t)n), LDNS_STATUS_OK);
	sv->udp_queries++;
	sv->rd = ldns_pkt_rd(q);
	sv->dnssec = ldns_pkt_edns_do(q);
	sv->udp_size = ldns_pkt_edns_udp_size(q);
	switch (sv->mode) {
	case SILENT:
	case CANCELLED:
		break;
	case TRUNCATED:
	case TCP_CLOSED:
		wire = reply_to(q, 0, true, LDNS_RCODE_NOERROR, &len);
		send_udp(sv, &from, fromlen, wire, len);
		free(wire);
		break;
	case OVERSIZED: {
		/* Our ID, and more than the client reads from a datagram. */
		unsigned char big[AUTHQUERY_UDP_BUFFER + 100] = {0};
		wire = reply_to(q, SERIAL_UDP, false, LDNS_RCODE_NOERROR, &len);
		memcpy(big, wire, len);
		send_udp(sv, &from, fromlen, big, sizeof(big));
		free(wire);
		break;
	}
	case REFUSED:
		wire = reply_to(q, 0, false, LDNS_RCODE_REFUSED, &len);
		send_udp(sv, &from, fromlen, wire, len);
		free(wire);
		break;
	case GARBAGE:
		/* Our ID, one question announced, none there. */
		buf[2] = 0x84;
		buf[3] = 0;
		send_udp(sv, &from, fromlen, buf, LDNS_HEADER_SIZE);
		break;
	default:
		wire = reply_to(q, SERIAL_UDP + 100, false, LDNS_RCODE_NOERROR, &len);
		if (sv->mode == WRONG_ID_FIRST) {
			wire[1] ^= 1;
			send_udp(sv, &from, fromlen, wire, len);
		} else if (sv->mode == WRONG_QUESTION_FIRST) {
			ldns_pkt *other = ldns_pkt_clone(q);
			ldns_rr *question = ldns_rr_list_rr(ldns_pkt_question(other), 0);
			ldns_rdf *owner = ldns_rr_owner(question);
			ldns_rr_set_owner(question, ldns_dname_new_frm_str("other.test."));
			ldns_rdf_deep_free(owner);
			free(wire);
			wire = reply_to(other, SERIAL_UDP + 100, false, LDNS_RCODE_NOERROR, &len);
			send_udp(sv, &from, fromlen, wire, len);
			ldns_pkt_free(other);
		} else if (sv->mode == RUNT_FIRST) {
			send_udp(sv, &from, fromlen, wire, 3);
		}
		free(wire);
		wire = reply_to(q, SERIAL_UDP, false, LDNS_RCODE_NOERROR, &len);
		send_udp(sv, &from, fromlen, wire, len);
		free(wire);
		break;
	}
	ldns_pkt_free(q);
}

static void
on_conn(evutil_socket_t fd, short what, void *arg)
{
	struct server *sv = arg;
	uint8_t buf[4096], *wire;
	ldns_pkt *q = NULL;
	size_t len;

	ssize_t n = recv(sv->conn, buf, sizeof(buf), 0);
	if (n <= 0)
		return;
	assert_true(n > 2);
	assert_int_equal(ldns_read_uint16(buf), (size_t)n - 2);
	assert_int_equal(ldns_wire2pkt(&q, buf + 2, (size_t)n - 2), LDNS_STATUS_OK);
	sv->tcp_queries++;
	wire = reply_to(q, SERIAL_TCP, false, LDNS_RCODE_NOERROR, &len);
	ldns_write_uint16(buf, (uint16_t)len);
	/* The length and the message in two writes: the reader must join them. */
	assert_int_equal(send(sv->conn, buf, 2, 0), 2);
	assert_int_equal(send(sv->conn, wire, len, 0), (ssize_t)len);
	free(wire);
	ldns_pkt_free(q);
}

static void
on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct server *sv = arg;
	int c = accept(sv->listener, NULL, NULL);

	assert_true(c >= 0);
	if (sv->mode == TCP_CLOSED) {
		close(c);
		return;
	}
	sv->conn = c;
	sv->conn_ev = event_new(sv->base, c, EV_READ | EV_PERSIST, on_conn, sv);
	event_add(sv->conn_ev, NULL);
}

/* UDP and TCP on one port of 127.0.0.1. */
static void
server_start(struct server *sv, struct event_base *base, enum mode mode)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int one = 1;

	memset(sv, 0, sizeof(*sv));
	sv->mode = mode;
	sv->base = base;
	sv->conn = -1;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int tries = 0; tries < 20; tries++) {
		sv->udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		sv->listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		assert_true(sv->udp >= 0 && sv->listener >= 0);
		setsockopt(sv->listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		sin.sin_port = 0;
		assert_int_equal(bind(sv->udp, (struct sockaddr *)&sin, sizeof(sin)), 0);
		assert_int_equal(getsockname(sv->udp, (struct sockaddr *)&sin, &len), 0);
		if (bind(sv->listener, (struct sockaddr *)&sin, sizeof(sin)) == 0 && listen(sv->listener, 4) == 0)
			break;
		close(sv->udp);
		close(sv->listener);
		sv->udp = sv->listener = -1;
	}
	assert_true(sv->udp >= 0);
	sv->port = ntohs(sin.sin_port);
	if (mode == NOBODY) {
		/* Nothing listens there any more: ICMP port unreachable. */
		close(sv->udp);
		close(sv->listener);
		sv->udp = sv->listener = -1;
		return;
	}
	sv->udp_ev = event_new(base, sv->udp, EV_READ | EV_PERSIST, on_udp, sv);
	sv->accept_ev = event_new(base, sv->listener, EV_READ | EV_PERSIST, on_accept, sv);
	event_add(sv->udp_ev, NULL);
	event_add(sv->accept_ev, NULL);
}

static void
server_stop(struct server *sv)
{
	if (sv->udp_ev)
		event_free(sv->udp_ev);
	if (sv->accept_ev)
		event_free(sv->accept_ev);
	if (sv->conn_ev)
		event_free(sv->conn_ev);
	if (sv->udp >= 0)
		close(sv->udp);
	if (sv->listener >= 0)
		close(sv->listener);
	if (sv->conn >= 0)
		close(sv->conn);
}

struct run {
	struct event_base *base;
	struct outcome out;
};

static void
done(void *arg, enum authquery_status st, const ldns_pkt *reply, const char *why)
{
	struct run *r = arg;
	const ldns_rr_list *an;

	r->out.calls++;
	r->out.status = st;
	if (st == AUTHQUERY_OK) {
		assert_non_null(reply);
		assert_null(why);
		r->out.tc = ldns_pkt_tc(reply);
		an = ldns_pkt_answer(reply);
		if (an && ldns_rr_list_rr_count(an) == 1)
			r->out.serial = ldns_rdf2native_int32(ldns_rr_rdf(ldns_rr_list_rr(an, 0), 2));
	} else {
		assert_null(reply);
		assert_non_null(why);
	}
	event_base_loopbreak(r->base);
}

struct aq_case {
	const char *name;
	enum mode mode;
	enum authquery_status status;
	uint32_t serial;		/* OK: the SOA serial that came */
	int tcp_queries;
};

static const char *
aq_case_name(const void *row)
{
	return ((const struct aq_case *)row)->name;
}

static const struct aq_case cases[] = {
	{"an answer over UDP", ANSWER, AUTHQUERY_OK, SERIAL_UDP, 0},
	{"truncated over UDP: asked again over TCP", TRUNCATED, AUTHQUERY_OK, SERIAL_TCP, 1},
	{"a datagram bigger than the buffer: asked again over TCP", OVERSIZED, AUTHQUERY_OK, SERIAL_TCP, 1},
	{"a reply with another ID is ignored", WRONG_ID_FIRST, AUTHQUERY_OK, SERIAL_UDP, 0},
	{"a reply to another question is ignored", WRONG_QUESTION_FIRST, AUTHQUERY_OK, SERIAL_UDP, 0},
	{"a runt datagram is ignored", RUNT_FIRST, AUTHQUERY_OK, SERIAL_UDP, 0},
	{"our ID on what does not parse: malformed", GARBAGE, AUTHQUERY_MALFORMED},
	{"REFUSED", REFUSED, AUTHQUERY_REFUSED},
	{"silence: the deadline", SILENT, AUTHQUERY_TIMEOUT},
	{"TCP closed before the reply: network error", TCP_CLOSED, AUTHQUERY_NETWORK},
	{"nothing listens: network error", NOBODY, AUTHQUERY_NETWORK},
};

static struct authquery *
start(struct run *r, const struct server *sv, unsigned timeout_ms)
{
	struct authquery_settings s = {sv->port, timeout_ms, true};
	struct netaddr addr;

	assert_int_equal(netaddr_parse("127.0.0.1", &addr), 0);
	return authquery_start(r->base, &addr, &s, "Example.Test", LDNS_RR_TYPE_SOA, done, r);
}

static void
test_case(void **state)
{
	const struct aq_case *c = *state;
	struct run r = {event_base_new()};
	struct server sv;
	struct timeval safety = {10, 0};

	assert_non_null(r.base);
	server_start(&sv, r.base, c->mode);
	assert_non_null(start(&r, &sv, c->mode == SILENT ? 200 : 5000));
	/* Never from inside authquery_start(). */
	assert_int_equal(r.out.calls, 0);
	event_base_loopexit(r.base, &safety);
	event_base_dispatch(r.base);
	assert_int_equal(r.out.calls, 1);
	assert_int_equal(r.out.status, c->status);
	if (c->status == AUTHQUERY_OK) {
		assert_int_equal(r.out.serial, c->serial);
		assert_false(r.out.tc);
	}
	if (c->mode != NOBODY) {
		assert_int_equal(sv.udp_queries, 1);
		assert_int_equal(sv.tcp_queries, c->tcp_queries);
		assert_false(sv.rd);
		assert_true(sv.dnssec);
		assert_int_equal(sv.udp_size, AUTHQUERY_UDP_SIZE);
	}
	server_stop(&sv);
	event_base_free(r.base);
}

static void
cancel_now(evutil_socket_t fd, short what, void *arg)
{
	authquery_cancel(arg);
}

/* Cancelled before the reply: no callback, ever. */
static void
test_cancel(void **state)
{
	struct run r = {event_base_new()};
	struct server sv;
	struct timeval soon = {0, 50000}, later = {0, 400000};

	(void)state;
	server_start(&sv, r.base, CANCELLED);
	struct authquery *q = start(&r, &sv, 200);
	assert_non_null(q);
	struct event *ev = evtimer_new(r.base, cancel_now, q);
	evtimer_add(ev, &soon);
	event_base_loopexit(r.base, &later);
	event_base_dispatch(r.base);
	assert_int_equal(r.out.calls, 0);
	assert_int_equal(sv.udp_queries, 1);
	event_free(ev);
	server_stop(&sv);
	event_base_free(r.base);
}

/* A name that is no domain name does not start. */
static void
test_bad_name(void **state)
{
	struct run r = {event_base_new()};
	struct authquery_settings s = {53, 100, false};
	struct netaddr addr;
	char label[80];

	(void)state;
	memset(label, 'a', sizeof(label) - 1);
	label[sizeof(label) - 1] = '\0';
	assert_int_equal(netaddr_parse("127.0.0.1", &addr), 0);
	assert_null(authquery_start(r.base, &addr, &s, label, LDNS_RR_TYPE_SOA, done, &r));
	assert_string_equal(authquery_status_name(AUTHQUERY_MALFORMED), "malformed reply");
	event_base_free(r.base);
}

int
main(void)
{
	struct table t = {0};
	const struct CMUnitTest more[] = {
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_bad_name),
	};

	TABLE_ADD(&t, cases, aq_case, test_case);
	TABLE_TESTS(&t, more);
	return table_run(&t, "authquery");
}
