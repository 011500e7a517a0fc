/* server - socketmap listeners and connections; see server.h. */
#include "autoconfig.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "util/buf.h"
#include "util/clock.h"
#include "util/kv.h"
#include "util/list.h"
#include "serve/mapreply.h"
#include "postfix/netstring.h"
#include "postfix/nexthop.h"
#include "util/peer.h"
#include "server.h"
#include "postfix/socketmap.h"
#include "serve/status.h"
#include "serve/peerlimit.h"

#define READ_CHUNK 16384
/* Stop reading from a client that does not read its replies. */
#define OUTPUT_HIGH_WATER (64 * 1024)
#define ACCEPT_BATCH 64
/* Input read and dropped after a fatal PERM, before the close. */
#define LINGER_MAX (256 * 1024)

struct listener {
	struct server *srv;
	struct event *ev;
	int fd;
	bool status;		/* a status_listen one: answers the status map */
	char name[160];
};

/* What a request's map name asks for. */
enum map_kind {
	MAP_POLICY,	/* map_names: the policy */
	MAP_TLSRPT,	/* tlsrpt_map_names: the policy, and TLSRPT attributes after an MTA-STS one */
	MAP_STATUS,	/* the status map (status.h) */
};

struct conn {
	struct server *srv;
	struct list_node link;		/* on srv->conns */
	int fd;
	struct event *ev_read;
	struct event *ev_write;
	struct buf in, out;
	struct policymap_waiter *waiter;
	struct peerlimit_peer *peer;
	bool closing;			/* close once the output is sent */
	bool linger;			/* ...after reading what the client still sends */
	size_t discarded;
	bool reading;			/* ev_read is added */
	uint64_t deadline_us;		/* for the part of a request in, or the linger; 0: none */
	bool read_timed;		/* ev_read's timeout is that deadline, not client_timeout */
	bool idle_sooner;		/* ...or client_timeout all the same, the sooner */
	uint64_t started_us;		/* of the request waiting for DNS */
	enum map_kind map;		/* ...and for which kind of map name */
	bool status_ok;			/* accepted on a status_listen listener */
	char key[NEXTHOP_NAME_MAX + 16];
};

struct server {
	struct event_base *base;
	struct log *log;
	struct policymap *pm;
	struct config *cfg;
	struct listener *listeners;
	size_t nlisteners;
	bool accepting;
	struct list conns;
	struct peerlimit *peers;	/* max_connections_per_peer */
	struct peer_diag *diag;
	const struct timeval *idle_timeout;	/* a libevent common timeout */
	struct event *resume_accept;
	struct event *drain_timer;
	void (*drained)(void *arg);
	void *drained_arg;
	bool draining;
	struct daemonmetrics_socketmap stats;
	bool (*all_mismatch)(void *arg, const char *dest);
	void *all_mismatch_arg;
	struct buf line;		/* scratch for log lines */
	struct buf answer;		/* ...and for the answer in them */
	/* Every read lands here first, so that an idle connection holds only
	 * the bytes it has actually sent, not a read-sized buffer. */
	char scratch[READ_CHUNK];
};

static void
set_idle_timeout(struct server *srv)
{
	struct timeval tv = {
		.tv_sec = srv->cfg->client_timeout_ms / 1000,
		.tv_usec = (srv->cfg->client_timeout_ms % 1000) * 1000,
	};
	srv->idle_timeout = event_base_init_common_timeout(srv->base, &tv);
}

static void
listeners_enable(struct server *srv, bool on)
{
	if (srv->accepting == on || srv->draining)
		return;
	for (size_t i = 0; i < srv->nlisteners; i++) {
		if (on)
			event_add(srv->listeners[i].ev, NULL);
		else
			event_del(srv->listeners[i].ev);
	}
	srv->accepting = on;
}

static void check_drained(struct server *srv);

static void
conn_close(struct conn *c)
{
	struct server *srv = c->srv;

	if (c->waiter)
		policymap_waiter_cancel(c->waiter);
	event_free(c->ev_read);
	event_free(c->ev_write);
	close(c->fd);
	buf_free(&c->in);
	buf_free(&c->out);
	if (c->peer)
		peerlimit_release(srv->peers, c->peer);
	list_remove(&srv->conns, &c->link);
	free(c);
	if (srv->conns.count < srv->cfg->max_connections)
		listeners_enable(srv, true);
	if (srv->draining)
		check_drained(srv);
}

/* The read event's time limit. With nothing of a request in, the client
 * may stay silent for client_timeout. Once a request's first byte is in,
 * the rest must follow within request_timeout of it, however it trickles
 * in (libevent restarts a persistent event's timeout at each read, so the
 * time left is set again after each read). The linger after a fatal PERM
 * is bounded the same way. */
static void
arm_read(struct conn *c)
{
	struct server *srv = c->srv;

	if (buf_size(&c->in) == 0 && !c->linger) {
		c->deadline_us = 0;
		if (c->read_timed) {
			c->read_timed = false;
			event_add(c->ev_read, srv->idle_timeout);
		}
		return;
	}
	uint64_t now = clock_monotonic_us(), left;
	if (!c->deadline_us)
		c->deadline_us = now + (uint64_t)srv->cfg->request_timeout_ms * 1000;
	left = c->deadline_us > now ? c->deadline_us - now : 0;
	c->idle_sooner = left > (uint64_t)srv->cfg->client_timeout_ms * 1000;
	if (c->idle_sooner)
		left = (uint64_t)srv->cfg->client_timeout_ms * 1000;
	struct timeval tv = {(time_t)(left / 1000000), (suseconds_t)(left % 1000000)};
	event_add(c->ev_read, &tv);
	c->read_timed = true;
}

/* Time the daemon spends on the requests in (DNS, a client that does not
 * read its replies) is not the client's: the deadline starts again when
 * reading does. */
static void
reading(struct conn *c, bool on)
{
	if (c->reading == on)
		return;
	c->deadline_us = 0;
	c->read_timed = false;
	if (on)
		event_add(c->ev_read, c->srv->idle_timeout);
	else
		event_del(c->ev_read);
	c->reading = on;
	if (on)
		arm_read(c);
}

/* Returns false when the connection was closed. */
static bool
flush_output(struct conn *c)
{
	while (buf_size(&c->out) > 0) {
		ssize_t n = write(c->fd, buf_ptr(&c->out), buf_size(&c->out));
		if (n > 0) {
			buf_consume(&c->out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(c->ev_write, NULL);
			return true;
		}
		conn_close(c);	/* the client went away */
		return false;
	}
	event_del(c->ev_write);
	if (c->closing && c->linger) {
		/* Closing with unread input would make the kernel send a reset
		 * that can destroy the PERM reply before the client reads it:
		 * send FIN, then read and drop what still arrives. */
		shutdown(c->fd, SHUT_WR);
		c->closing = false;
		reading(c, true);
		return true;
	}
	if (c->closing) {
		conn_close(c);
		return false;
	}
	return true;
}

static void
log_answer(struct conn *c, const char *dest, const struct mapreply *r, const struct policymap_answer *a,
    uint64_t usec, enum map_kind map)
{
	struct server *srv = c->srv;
	struct buf *line = &srv->line;

	/* The reason has a field of its own; the answer is what decides. */
	buf_reset(&srv->answer);
	mapreply_format(r, false, &srv->answer);
	buf_terminate(&srv->answer);
	buf_reset(line);
	kv_str(line, "event", "answer");
	if (map == MAP_STATUS)
		kv_str(line, "map", STATUS_MAP_NAME);
	else if (map == MAP_TLSRPT)
		kv_str(line, "map", "tlsrpt");
	kv_str(line, "dest", dest);
	kv_str(line, "answer", buf_ptr(&srv->answer));
	kv_str(line, "rule", policy_rule_name(a->answer.rule));
	kv_str(line, "cache", mapreply_cache_word(a));
	kv_str(line, "reason", a->reason);
	kv_ms(line, "duration_ms", usec);
	log_line(srv->log, LOGL_INFO, buf_ptr(line), buf_size(line));
}

/* The status map's reply: the answer, and whether delivery is known to
 * fail on DANE (mapreply.h). */
static void
reply_status(struct conn *c, const char *dest, const struct policymap_answer *a, const struct mapreply *r)
{
	struct server *srv = c->srv;
	struct status st;
	struct buf text;

	mapreply_status(a, r, dest, srv->all_mismatch, srv->all_mismatch_arg, &st);
	buf_init(&text);
	if (status_format(&st, &text) < 0 || buf_terminate(&text) < 0)
		socketmap_reply(&c->out, SOCKETMAP_TEMP, "out of memory");
	else
		socketmap_reply(&c->out, SOCKETMAP_OK, buf_ptr(&text));
	buf_free(&text);
}

static void
reply_answer(struct conn *c, const char *dest, const struct policymap_answer *a, uint64_t started,
    enum map_kind map)
{
	struct mapreply r = mapreply_of(&c->srv->cfg->levels, a);

	if (map == MAP_STATUS)
		reply_status(c, dest, a, &r);
	else if (map == MAP_TLSRPT)
		mapreply_put_tlsrpt(&r, a, &c->out);
	else
		mapreply_put(&r, &c->out);
	switch (a->answer.result) {
	case POLICY_OK: c->srv->stats.ok++; break;
	case POLICY_NOTFOUND: c->srv->stats.notfound++; break;
	case POLICY_TEMP: c->srv->stats.temp++; break;
	}
	if (log_enabled(c->srv->log, LOGL_INFO))
		log_answer(c, dest, &r, a, clock_monotonic_us() - started, map);
}

static void
reply_error(struct conn *c, const char *dest, const char *reason, bool fatal)
{
	struct server *srv = c->srv;

	socketmap_reply(&c->out, SOCKETMAP_PERM, reason);
	srv->stats.perm++;
	if (fatal)
		c->closing = c->linger = true;
	if (log_enabled(srv->log, LOGL_NOTICE)) {
		buf_reset(&srv->line);
		kv_str(&srv->line, "event", "bad-request");
		if (dest)
			kv_str(&srv->line, "dest", dest);
		kv_str(&srv->line, "reason", reason);
		kv_str(&srv->line, "action", fatal ? "closed" : "answered PERM");
		log_line(srv->log, LOGL_NOTICE, buf_ptr(&srv->line), buf_size(&srv->line));
	}
}

static bool
name_listed(char *const *names, const char *name, size_t len)
{
	for (char *const *n = names; *n; n++)
		if (strlen(*n) == len && memcmp(*n, name, len) == 0)
			return true;
	return false;
}

static void process_input(struct conn *c);

static void
on_answer(void *arg, const struct policymap_answer *a)
{
	struct conn *c = arg;

	c->waiter = NULL;
	reply_answer(c, c->key, a, c->started_us, c->map);
	process_input(c);
	if (flush_output(c) && !c->closing && !c->waiter)
		reading(c, buf_size(&c->out) < OUTPUT_HIGH_WATER);
}

/* One well-framed request. */
static void
handle_request(struct conn *c, const char *p, size_t n)
{
	struct server *srv = c->srv;
	const char *name, *key, *why;
	size_t name_len, key_len;
	struct nexthop nh;
	struct policymap_answer a;
	uint64_t started = clock_monotonic_us();
	char shown[NEXTHOP_NAME_MAX + 16];

	if (socketmap_split(p, n, &name, &name_len, &key, &key_len) < 0) {
		reply_error(c, NULL, "malformed request: expected '<map name> <key>'", false);
		return;
	}
	/* Elsewhere the status map is as unknown as any other name: its
	 * cache=hit would tell anyone who can connect where this host sends
	 * mail. */
	enum map_kind map;
	if (c->status_ok && name_len == strlen(STATUS_MAP_NAME) && memcmp(name, STATUS_MAP_NAME, name_len) == 0)
		map = MAP_STATUS;
	else if (name_listed(srv->cfg->tlsrpt_map_names, name, name_len))
		map = MAP_TLSRPT;
	else if (name_listed(srv->cfg->map_names, name, name_len))
		map = MAP_POLICY;
	else {
		reply_error(c, NULL, "unknown map name: the map_names and tlsrpt_map_names settings list the names "
		    "answered", false);
		return;
	}
	if (nexthop_parse(key, key_len, &nh, &why) < 0) {
		char reason[200];
		snprintf(shown, sizeof(shown), "%.*s", (int)(key_len > 80 ? 80 : key_len), key);
		snprintf(reason, sizeof(reason), "invalid next hop: %s", why);
		reply_error(c, shown, reason, false);
		return;
	}
	nexthop_format(&nh, c->key, sizeof(c->key));
	int rc = policymap_lookup(srv->pm, &nh, &a, on_answer, c, &c->waiter);
	if (rc == POLICYMAP_DONE) {
		reply_answer(c, c->key, &a, started, map);
	} else if (rc == POLICYMAP_PENDING) {
		c->started_us = started;
		c->map = map;
		reading(c, false);	/* DNS is the slow one now, not the client */
	} else {
		socketmap_reply(&c->out, SOCKETMAP_TEMP, "out of memory");
		log_event(srv->log, LOGL_ERROR, "error", "dest", c->key, "reason", "out of memory", NULL);
	}
}

/* Answers what the input holds until a request must wait, the output is
 * backed up, or the connection is to be closed. */
static void
process_input(struct conn *c)
{
	while (!c->waiter && !c->closing && !c->linger && buf_size(&c->out) < OUTPUT_HIGH_WATER) {
		const char *payload;
		size_t len, used;
		int rc = netstring_parse(buf_ptr(&c->in), buf_size(&c->in), SOCKETMAP_MAX_REQUEST,
		    &payload, &len, &used);
		if (rc == NETSTRING_INCOMPLETE)
			break;
		if (rc != NETSTRING_OK) {
			char reason[120];
			snprintf(reason, sizeof(reason), "%s (requests are netstrings of at most %d bytes)",
			    netstring_strerror(rc), SOCKETMAP_MAX_REQUEST);
			reply_error(c, NULL, reason, true);
			buf_reset(&c->in);
			break;
		}
		handle_request(c, payload, len);
		buf_consume(&c->in, used);
		c->deadline_us = 0;	/* what follows is the next request's */
	}
	/* After a large request, give the memory back. */
	if (buf_size(&c->in) == 0 && c->in.cap > 4096)
		buf_free(&c->in);
}

/* Half a request, and the rest not in within request_timeout: a client
 * that trickles its bytes (or stopped half-way) would otherwise hold its
 * connection for as long as it likes. */
static void
request_timed_out(struct conn *c)
{
	struct server *srv = c->srv;
	char reason[120];

	srv->stats.request_timeouts++;
	if (!log_enabled(srv->log, LOGL_NOTICE))
		return;
	/* The limit is the sooner of the two (arm_read). */
	if (!c->idle_sooner)
		snprintf(reason, sizeof(reason), "request not complete within request_timeout (%u ms)",
		    srv->cfg->request_timeout_ms);
	else
		snprintf(reason, sizeof(reason), "half a request, then silence for client_timeout (%u ms)",
		    srv->cfg->client_timeout_ms);
	buf_reset(&srv->line);
	kv_str(&srv->line, "event", "bad-request");
	kv_str(&srv->line, "reason", reason);
	kv_uint(&srv->line, "bytes", buf_size(&c->in));
	kv_str(&srv->line, "action", "closed");
	log_line(srv->log, LOGL_NOTICE, buf_ptr(&srv->line), buf_size(&srv->line));
}

static void
on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (what & EV_TIMEOUT) {
		if (buf_size(&c->in) && !c->linger)
			request_timed_out(c);
		conn_close(c);
		return;
	}
	if (c->linger) {
		ssize_t n = read(fd, c->srv->scratch, sizeof(c->srv->scratch));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		/* Give up on a client that keeps sending. */
		if (n <= 0 || (c->discarded += (size_t)n) > LINGER_MAX) {
			conn_close(c);
			return;
		}
		arm_read(c);
		return;
	}
	struct server *srv = c->srv;
	ssize_t n = read(fd, srv->scratch, sizeof(srv->scratch));
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0 || buf_append(&c->in, srv->scratch, (size_t)n) < 0) {
		conn_close(c);
		return;
	}
	process_input(c);
	if (!flush_output(c))
		return;
	if (c->closing || buf_size(&c->out) >= OUTPUT_HIGH_WATER)
		reading(c, false);
	else if (c->reading)
		arm_read(c);
}

static void
on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (!flush_output(c))
		return;
	if (!c->closing && !c->waiter && buf_size(&c->out) < OUTPUT_HIGH_WATER) {
		process_input(c);
		if (!flush_output(c))
			return;
		if (!c->waiter && !c->closing) {
			if (c->reading)
				arm_read(c);
			else
				reading(c, true);
		}
	}
}

static void
accept_pause(struct server *srv, const char *why)
{
	struct timeval second = {1, 0};

	char conns[24];
	snprintf(conns, sizeof(conns), "%zu", srv->conns.count);
	log_event(srv->log, LOGL_WARNING, "accept-paused", "reason", why, "connections", conns, NULL);
	listeners_enable(srv, false);
	evtimer_add(srv->resume_accept, &second);
}

static void
on_resume_accept(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	if (srv->conns.count < srv->cfg->max_connections)
		listeners_enable(srv, true);
}

/* The peer's count if it may open one more connection (peerlimit.h:
 * max_connections_per_peer), NULL if not; a refusal is counted, and
 * logged once a minute per peer. */
static struct peerlimit_peer *
peer_admit(struct server *srv, int fd)
{
	struct peer p;
	struct peerlimit_peer *pc;
	struct peerlimit_report r;
	const char *why;

	if (peer_identify(srv->diag, fd, &p) < 0)
		snprintf(p.key, sizeof(p.key), "unknown");	/* all such peers together */
	if ((why = peer_diag_error(srv->diag)))
		log_event(srv->log, LOGL_WARNING, "peer-identity", "error", why, "reason", "cannot tell local "
		    "users apart over TCP, so max_connections_per_peer counts local TCP clients by address "
		    "(under systemd, RestrictAddressFamilies= must allow AF_NETLINK)", NULL);
	if (peerlimit_admit(srv->peers, p.key, srv->cfg->max_connections_per_peer, clock_monotonic_us(), &pc, &r) ==
	    PEERLIMIT_REFUSED)
		srv->stats.refused_peer_limit++;
	if (r.due) {
		char conns[24], refused[24];
		snprintf(conns, sizeof(conns), "%u", r.connections);
		snprintf(refused, sizeof(refused), "%llu", (unsigned long long)r.refused);
		log_event(srv->log, LOGL_WARNING, "peer-limit", "peer", r.key, "connections", conns,
		    "refused", refused, "action", "closed", "reason", "at max_connections_per_peer; "
		    "logged at most once a minute per peer", NULL);
	}
	return pc;
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct listener *l = arg;
	struct server *srv = l->srv;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		if (srv->conns.count >= srv->cfg->max_connections) {
			listeners_enable(srv, false);
			return;
		}
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				accept_pause(srv, strerror(errno));
			return;
		}
		struct peerlimit_peer *peer = peer_admit(srv, fd);
		if (!peer) {
			close(fd);
			continue;
		}
		int on = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));	/* fails harmlessly on unix sockets */
		struct conn *c = calloc(1, sizeof(*c));
		if (c) {
			c->ev_read = event_new(srv->base, fd, EV_READ | EV_PERSIST, on_readable, c);
			c->ev_write = event_new(srv->base, fd, EV_WRITE | EV_PERSIST, on_writable, c);
		}
		if (!c || !c->ev_read || !c->ev_write) {
			if (c) {
				if (c->ev_read)
					event_free(c->ev_read);
				if (c->ev_write)
					event_free(c->ev_write);
				free(c);
			}
			close(fd);
			peerlimit_release(srv->peers, peer);
			accept_pause(srv, "out of memory");
			return;
		}
		c->srv = srv;
		c->fd = fd;
		c->status_ok = l->status;
		c->peer = peer;
		srv->stats.accepted++;
		buf_init(&c->in);
		buf_init(&c->out);
		list_push_front(&srv->conns, &c->link);
		reading(c, true);
	}
}

struct server *
server_create(struct event_base *base, struct log *log, struct policymap *pm,
    struct config *cfg, const int *fds, const char *const *names, const bool *status, size_t nfds)
{
	struct server *srv = calloc(1, sizeof(*srv));

	if (!srv)
		goto fail;
	srv->base = base;
	srv->log = log;
	srv->pm = pm;
	srv->cfg = config_ref(cfg);
	buf_init(&srv->line);
	buf_init(&srv->answer);
	set_idle_timeout(srv);
	if (!(srv->peers = peerlimit_create()) || !(srv->diag = peer_diag_create()))
		goto fail;
	if (!(srv->listeners = calloc(nfds, sizeof(*srv->listeners))))
		goto fail;
	if (!(srv->resume_accept = evtimer_new(base, on_resume_accept, srv)))
		goto fail;
	for (size_t i = 0; i < nfds; i++) {
		struct listener *l = &srv->listeners[i];
		l->srv = srv;
		l->fd = fds[i];
		l->status = status[i];
		snprintf(l->name, sizeof(l->name), "%s", names[i]);
		if (!(l->ev = event_new(base, l->fd, EV_READ | EV_PERSIST, on_accept, l)))
			goto fail;
		srv->nlisteners++;
	}
	listeners_enable(srv, true);
	return srv;
fail:
	if (srv) {
		for (size_t i = srv->nlisteners; i < nfds; i++)
			close(fds[i]);
		server_free(srv);
	} else {
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
	}
	return NULL;
}

void
server_set_config(struct server *srv, struct config *cfg)
{
	config_ref(cfg);
	config_unref(srv->cfg);
	srv->cfg = cfg;
	set_idle_timeout(srv);
	/* Open connections take the new client_timeout now, not at their
	 * next re-arm, which a connection served from the cache never has. */
	for (struct list_node *l = srv->conns.first; l; l = l->next) {
		struct conn *c = LIST_ENTRY(l, struct conn, link);
		if (c->reading) {
			event_add(c->ev_read, srv->idle_timeout);
			c->read_timed = false;
			arm_read(c);
		}
	}
	if (srv->conns.count < cfg->max_connections)
		listeners_enable(srv, true);
}

static void
check_drained(struct server *srv)
{
	if (srv->conns.count == 0 && srv->drained) {
		void (*done)(void *) = srv->drained;
		srv->drained = NULL;
		done(srv->drained_arg);
	}
}

static void
on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	if (srv->conns.count)
		log_msg(srv->log, LOGL_WARNING, "event=drain-timeout connections=%zu action=closed", srv->conns.count);
	while (srv->conns.first)
		conn_close(LIST_ENTRY(srv->conns.first, struct conn, link));
	check_drained(srv);
}

void
server_drain(struct server *srv, unsigned grace_ms, void (*done)(void *arg), void *arg)
{
	struct timeval grace = {grace_ms / 1000, (grace_ms % 1000) * 1000};

	listeners_enable(srv, false);
	srv->draining = true;
	srv->drained = done;
	srv->drained_arg = arg;
	for (size_t i = 0; i < srv->nlisteners; i++) {
		event_free(srv->listeners[i].ev);
		srv->listeners[i].ev = NULL;
		close(srv->listeners[i].fd);
		srv->listeners[i].fd = -1;
	}
	srv->nlisteners = 0;
	/* Idle connections go now; the others once their answers are out. */
	for (struct list_node *l = srv->conns.first, *next; l; l = next) {
		struct conn *c = LIST_ENTRY(l, struct conn, link);
		next = l->next;
		if (!c->waiter && buf_size(&c->out) == 0)
			conn_close(c);
		else
			c->closing = true;
	}
	if (srv->conns.count == 0) {
		check_drained(srv);
		return;
	}
	srv->drain_timer = evtimer_new(srv->base, on_drain_timeout, srv);
	if (srv->drain_timer)
		evtimer_add(srv->drain_timer, &grace);
}

void
server_set_probe_view(struct server *srv, bool (*all_mismatch)(void *arg, const char *dest), void *arg)
{
	srv->all_mismatch = all_mismatch;
	srv->all_mismatch_arg = arg;
}

void
server_stats(const struct server *srv, struct daemonmetrics_socketmap *out)
{
	*out = srv->stats;
}

size_t
server_connections(const struct server *srv)
{
	return srv->conns.count;
}

void
server_free(struct server *srv)
{
	if (!srv)
		return;
	while (srv->conns.first)
		conn_close(LIST_ENTRY(srv->conns.first, struct conn, link));
	for (size_t i = 0; i < srv->nlisteners; i++) {
		if (srv->listeners[i].ev)
			event_free(srv->listeners[i].ev);
		close(srv->listeners[i].fd);
	}
	free(srv->listeners);
	if (srv->resume_accept)
		event_free(srv->resume_accept);
	if (srv->drain_timer)
		event_free(srv->drain_timer);
	buf_free(&srv->line);
	buf_free(&srv->answer);
	peerlimit_free(srv->peers);	/* empty: each conn_close() above took its count away */
	peer_diag_free(srv->diag);
	config_unref(srv->cfg);
	free(srv);
}
