/*
 * redisconn - see redisconn.h for the contract.
 *
 * hiredis calls every command's callback exactly once: with the reply,
 * or with NULL when the context goes (a drop, the server closing, or
 * redisAsyncFree). So a command's memory is freed there, whatever became
 * of it before: answered late, cancelled, or failed by its deadline.
 * The context is forgotten (c->ac = NULL) before it is freed, so that the
 * callbacks it runs on its way out can tell a connection that is gone.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "util/clock.h"
#include "fleet/redisconn.h"

#ifdef HAVE_REDIS

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcast-qual"
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#include <hiredis/adapters/libevent.h>
#pragma GCC diagnostic pop

enum state { DOWN, CONNECTING, UP };

struct redisconn {
	struct event_base *base;
	struct log *log;
	struct endpoint endpoint;
	char role[16];
	char *password;
	unsigned timeout_ms;
	redisAsyncContext *ac;
	enum state state;
	bool said_down;		/* until it is up again */
	bool ever_up;
	bool freeing;		/* redisconn_free: no callbacks */
	unsigned retry_ms;
	struct event *retry;
	struct redisconn_stats stats;
};

struct redisconn_cmd {
	struct redisconn *c;
	redisconn_callback *cb;		/* NULL: cancelled, failed or answered */
	void *arg;
	struct event *deadline;
	uint64_t sent_us;
};

static void connect_now(struct redisconn *c);

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	connect_now(arg);
}

static void
schedule_retry(struct redisconn *c)
{
	struct timeval tv = {(time_t)(c->retry_ms / 1000), (suseconds_t)(c->retry_ms % 1000) * 1000};

	evtimer_add(c->retry, &tv);
	c->retry_ms = c->retry_ms * 2 > REDISCONN_RETRY_MAX_MS ? REDISCONN_RETRY_MAX_MS : c->retry_ms * 2;
}

/* Down: said once in the log, and counted as one outage, until it is up
 * again; tries again later. */
static void
went_down(struct redisconn *c, const char *why)
{
	c->state = DOWN;
	if (!c->said_down) {
		c->said_down = true;
		c->stats.outages++;
		log_event(c->log, LOGL_WARNING, "redis-down", "role", c->role, "endpoint", c->endpoint.text, "reason",
		    why, "action", "this relay works alone (its own probes, fetches and alerts) and keeps trying "
		    "to reconnect; check the Redis server", NULL);
	}
	schedule_retry(c);
}

/* Drops the connection: every command in flight fails. */
static void
drop(struct redisconn *c, const char *why)
{
	redisAsyncContext *ac = c->ac;

	c->ac = NULL;
	if (ac)
		redisAsyncFree(ac);
	if (!c->freeing)
		went_down(c, why);
}

static void
count_rtt(struct redisconn *c, uint64_t sent_us)
{
	metrics_observe(&c->stats.rtt, (double)(clock_monotonic_us() - sent_us) / 1e6);
}

/* One reply of hiredis's, but an array: nested arrays are OTHER. */
static void
convert(const redisReply *reply, struct redisconn_reply *out)
{
	memset(out, 0, sizeof(*out));
	out->type = REDISCONN_OTHER;
	switch (reply->type) {
	case REDIS_REPLY_NIL:
		out->type = REDISCONN_NIL;
		break;
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS:
		out->type = REDISCONN_STRING;
		out->str = reply->str;
		out->len = reply->len;
		break;
	case REDIS_REPLY_ERROR:
		out->type = REDISCONN_ERROR;
		out->str = reply->str;
		out->len = reply->len;
		break;
	case REDIS_REPLY_INTEGER:
		out->type = REDISCONN_INTEGER;
		out->integer = reply->integer;
		break;
	default:
		break;
	}
}

static void
on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct redisconn_cmd *cmd = privdata;
	struct redisconn *c = cmd->c;
	redisReply *reply = r;
	redisconn_callback *cb = cmd->cb;
	struct redisconn_reply out = {0};

	if (cmd->deadline)
		event_free(cmd->deadline);
	cmd->cb = NULL;
	if (reply && cb)
		count_rtt(c, cmd->sent_us);
	void *arg = cmd->arg;
	free(cmd);
	if (!cb || c->freeing)
		return;
	if (!reply) {
		cb(arg, NULL);
		return;
	}
	if (reply->type == REDIS_REPLY_ARRAY) {
		struct redisconn_reply *elements = calloc(reply->elements ? reply->elements : 1, sizeof(*elements));
		if (!elements) {
			cb(arg, NULL);
			return;
		}
		for (size_t i = 0; i < reply->elements; i++)
			convert(reply->element[i], &elements[i]);
		out.type = REDISCONN_ARRAY;
		out.elements = elements;
		out.nelements = reply->elements;
		cb(arg, &out);
		free(elements);
		return;
	}
	convert(reply, &out);
	cb(arg, &out);
}

/* A command past its deadline fails, and the connection with it: what
 * queues behind a slow command would be slow too. */
static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct redisconn_cmd *cmd = arg;
	struct redisconn *c = cmd->c;
	redisconn_callback *cb = cmd->cb;
	char why[96];

	cmd->cb = NULL;
	c->stats.timeouts++;
	if (cb)
		cb(cmd->arg, NULL);
	if (c->ac) {
		snprintf(why, sizeof(why), "no answer within %u ms (redis_timeout)", c->timeout_ms);
		drop(c, why);
	}
}

static struct redisconn_cmd *
send_argv(struct redisconn *c, int argc, const char **argv, const size_t *argvlen, unsigned timeout_ms,
    redisconn_callback *cb, void *arg)
{
	struct redisconn_cmd *cmd = calloc(1, sizeof(*cmd));
	struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};

	if (!cmd)
		return NULL;
	cmd->c = c;
	cmd->cb = cb;
	cmd->arg = arg;
	cmd->sent_us = clock_monotonic_us();
	if (!(cmd->deadline = evtimer_new(c->base, on_deadline, cmd))) {
		free(cmd);
		return NULL;
	}
	if (redisAsyncCommandArgv(c->ac, on_reply, cmd, argc, argv, argvlen) != REDIS_OK) {
		event_free(cmd->deadline);
		free(cmd);
		return NULL;
	}
	evtimer_add(cmd->deadline, &tv);
	c->stats.commands++;
	return cmd;
}

static void
on_handshake(void *arg, const struct redisconn_reply *r)
{
	struct redisconn *c = arg;
	char why[200];

	if (!r)
		return;		/* the deadline or the drop said why */
	if (r->type == REDISCONN_ERROR) {
		snprintf(why, sizeof(why), "the server refused %s: %.*s", c->password ? "AUTH" : "PING",
		    (int)(r->len > 120 ? 120 : r->len), r->str);
		drop(c, why);
		return;
	}
	c->state = UP;
	c->retry_ms = REDISCONN_RETRY_MIN_MS;
	log_event(c->log, c->said_down ? LOGL_NOTICE : LOGL_INFO, "redis-up", "role", c->role, "endpoint",
	    c->endpoint.text, "reason", c->ever_up ? "reconnected: this relay shares with the fleet again" :
	    "connected: this relay shares with the fleet", NULL);
	c->said_down = false;
	c->ever_up = true;
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	struct redisconn *c = ac->data;
	char why[200];

	if (status == REDIS_OK || c->ac != ac)
		return;
	/* hiredis frees the context after this callback. */
	snprintf(why, sizeof(why), "cannot connect: %s", ac->errstr[0] ? ac->errstr : "error");
	c->ac = NULL;
	went_down(c, why);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	struct redisconn *c = ac->data;

	if (c->ac != ac)
		return;		/* dropped by us: said already */
	c->ac = NULL;
	went_down(c, status == REDIS_OK ? "the connection was closed" : (ac->errstr[0] ? ac->errstr :
	    "the connection broke"));
}

static void
connect_now(struct redisconn *c)
{
	const struct endpoint *ep = &c->endpoint;
	char host[INET6_ADDRSTRLEN];
	redisAsyncContext *ac;
	int port = 0;

	if (ep->is_unix) {
		ac = redisAsyncConnectUnix(((const struct sockaddr_un *)(const void *)&ep->addr)->sun_path);
	} else if (ep->addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)(const void *)&ep->addr;
		inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof(host));
		port = ntohs(a6->sin6_port);
		ac = redisAsyncConnect(host, port);
	} else {
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)(const void *)&ep->addr;
		inet_ntop(AF_INET, &a4->sin_addr, host, sizeof(host));
		port = ntohs(a4->sin_port);
		ac = redisAsyncConnect(host, port);
	}
	if (!ac) {
		went_down(c, "out of memory");
		return;
	}
	if (ac->err) {
		char why[200];
		snprintf(why, sizeof(why), "cannot connect: %s", ac->errstr);
		redisAsyncFree(ac);
		went_down(c, why);
		return;
	}
	ac->data = c;
	if (redisLibeventAttach(ac, c->base) != REDIS_OK) {
		redisAsyncFree(ac);
		went_down(c, "cannot attach to the event loop");
		return;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	c->ac = ac;
	c->state = CONNECTING;
	/* Sent once connected; its deadline covers the connect too. */
	const char *argv[2] = {"AUTH", c->password};
	size_t argvlen[2] = {4, c->password ? strlen(c->password) : 0};
	if (!c->password)
		argv[0] = "PING";
	if (!send_argv(c, c->password ? 2 : 1, argv, argvlen, c->timeout_ms * 2, on_handshake, c))
		drop(c, "out of memory");
}

struct redisconn *
redisconn_create(struct event_base *base, struct log *log, const struct redisconn_settings *s, char *err,
    size_t errlen)
{
	struct redisconn *c = calloc(1, sizeof(*c));

	if (!c || !(c->retry = evtimer_new(base, on_retry, c))) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->base = base;
	c->log = log;
	c->endpoint = s->endpoint;
	snprintf(c->role, sizeof(c->role), "%s", s->role ? s->role : "server");
	if (s->password && s->password[0] && !(c->password = strdup(s->password))) {
		redisconn_free(c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->timeout_ms = s->timeout_ms ? s->timeout_ms : 1;
	c->retry_ms = REDISCONN_RETRY_MIN_MS;
	connect_now(c);
	return c;
}

void
redisconn_free(struct redisconn *c)
{
	if (!c)
		return;
	c->freeing = true;
	drop(c, "");
	event_free(c->retry);
	if (c->password)
		explicit_bzero(c->password, strlen(c->password));
	free(c->password);
	free(c);
}

bool
redisconn_up(const struct redisconn *c)
{
	return c && c->state == UP && c->ac;
}

struct redisconn_cmd *
redisconn_command(struct redisconn *c, int argc, const char **argv, const size_t *argvlen, redisconn_callback *cb,
    void *arg)
{
	if (!redisconn_up(c))
		return NULL;
	return send_argv(c, argc, argv, argvlen, c->timeout_ms, cb, arg);
}

void
redisconn_cancel(struct redisconn_cmd *cmd)
{
	if (cmd)
		cmd->cb = NULL;
}

void
redisconn_add_stats(const struct redisconn *c, struct redisconn_stats *out)
{
	if (!c)
		return;
	out->commands += c->stats.commands;
	out->timeouts += c->stats.timeouts;
	out->outages += c->stats.outages;
	out->rtt.count += c->stats.rtt.count;
	out->rtt.sum += c->stats.rtt.sum;
	for (size_t i = 0; i < METRICS_BUCKETS; i++)
		out->rtt.buckets[i] += c->stats.rtt.buckets[i];
}

#else /* !HAVE_REDIS */

struct redisconn {
	int unused;
};

struct redisconn *
redisconn_create(struct event_base *base, struct log *log, const struct redisconn_settings *s, char *err,
    size_t errlen)
{
	snprintf(err, errlen, "this tlspolicyd was built without Redis support (configure --without-redis): "
	    "install libhiredis-dev and build again, or leave redis_server empty");
	return NULL;
}

void
redisconn_free(struct redisconn *c)
{
}

bool
redisconn_up(const struct redisconn *c)
{
	return false;
}

struct redisconn_cmd *
redisconn_command(struct redisconn *c, int argc, const char **argv, const size_t *argvlen, redisconn_callback *cb,
    void *arg)
{
	return NULL;
}

void
redisconn_cancel(struct redisconn_cmd *cmd)
{
}

void
redisconn_add_stats(const struct redisconn *c, struct redisconn_stats *out)
{
}

#endif
