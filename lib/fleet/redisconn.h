/*
 * redisconn - one connection to one Redis endpoint on the event loop
 * (hiredis in async mode), kept up, and bounded in time: every command
 * gets an answer or a failure within timeout_ms.
 *
 * - The connection counts as up once the server has answered a first
 *   command (AUTH with a password, else PING): a port that accepts but
 *   does not speak Redis is not up.
 * - A command past its deadline fails; the connection is then taken for
 *   slow and dropped (its other commands fail with it), and is connected
 *   again later. So is one the server closes, or that cannot connect.
 * - Reconnecting waits 1 s after the first failure, doubling to 30 s.
 * - Going down is logged once (warning, event=redis-down, with the
 *   endpoint, the reason and what the relay does meanwhile); coming back
 *   once (notice, event=redis-up).
 *
 * Without hiredis at build time, redisconn_create() fails with a message
 * saying so.
 *
 * Callbacks never run from inside redisconn_command(). A command calls
 * back exactly once, unless cancelled first; a reply points into memory
 * valid during the callback only.
 *
 * Ownership: borrows the event base and the log, which outlive it; copies
 * the settings. redisconn_free() fails every command without calling
 * back.
 */
#ifndef TLSPOLICY_REDISCONN_H
#define TLSPOLICY_REDISCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/endpoint.h"
#include "util/log.h"
#include "util/metrics.h"

#define REDISCONN_RETRY_MIN_MS 1000
#define REDISCONN_RETRY_MAX_MS 30000

struct redisconn_settings {
	struct endpoint endpoint;
	const char *role;		/* "server", "replica": for logs */
	const char *password;		/* "" or NULL: no AUTH */
	unsigned timeout_ms;
};

enum redisconn_type {
	REDISCONN_NIL,
	REDISCONN_STRING,	/* str, len: a bulk string or a status */
	REDISCONN_INTEGER,
	REDISCONN_ERROR,	/* str: the server's error */
	REDISCONN_ARRAY,	/* elements, nelements: one level, nested arrays as OTHER */
	REDISCONN_OTHER,	/* anything else */
};

struct redisconn_reply {
	enum redisconn_type type;
	const char *str;
	size_t len;
	long long integer;
	const struct redisconn_reply *elements;
	size_t nelements;
};

/* reply NULL: no answer (down, dropped, or past the deadline). */
typedef void redisconn_callback(void *arg, const struct redisconn_reply *reply);

struct event_base;
struct redisconn;
struct redisconn_cmd;

/* Starts connecting; NULL with err (no memory, no hiredis). */
struct redisconn *redisconn_create(struct event_base *base, struct log *log, const struct redisconn_settings *s,
    char *err, size_t errlen);
void redisconn_free(struct redisconn *c);

bool redisconn_up(const struct redisconn *c);

/* Sends argv; NULL (no callback) when the connection is not up or out of
 * memory. */
struct redisconn_cmd *redisconn_command(struct redisconn *c, int argc, const char **argv, const size_t *argvlen,
    redisconn_callback *cb, void *arg);
void redisconn_cancel(struct redisconn_cmd *cmd);

struct redisconn_stats {
	uint64_t commands, timeouts, outages;
	struct metrics_histogram rtt;	/* replies' round trips */
};

/* Adds this connection's counts to out. */
void redisconn_add_stats(const struct redisconn *c, struct redisconn_stats *out);

#endif
