/*
 * redislab - a real redis-server (Debian's) for the unit tests of the
 * fleet: started on a unix socket in a directory of the test's own,
 * without persistence, stopped by its process id; and raw commands sent
 * with hiredis's synchronous API, as a stranger with access to Redis
 * would send them. Include after cmocka.h.
 */
#ifndef TLSPOLICY_TEST_REDISLAB_H
#define TLSPOLICY_TEST_REDISLAB_H

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "util/clock.h"
#include "fleet/fleet.h"
#include "table.h"

#define REDISLAB_SERVER "/usr/bin/redis-server"

struct redislab {
	char dir[256], socket[300];
	pid_t pid;
};

/* Not skip(): cmocka 1.1 prints "not ok # SKIP", which automake's TAP
 * driver counts as a failure. ./dev installs redis-server. */
static inline bool
redislab_missing(void)
{
	if (access(REDISLAB_SERVER, X_OK) == 0)
		return false;
	print_message("# SKIP " REDISLAB_SERVER " is not installed (./dev test installs redis-server)\n");
	return true;
}

/* Makes the lab's directory; false when there is no redis-server. */
static inline bool
redislab_init(struct redislab *lab, const char *name)
{
	memset(lab, 0, sizeof(*lab));
	if (access(REDISLAB_SERVER, X_OK) != 0 || !table_tmpdir(lab->dir, sizeof(lab->dir), name))
		return false;
	snprintf(lab->socket, sizeof(lab->socket), "%s/redis.sock", lab->dir);
	return true;
}

static inline void
redislab_start(struct redislab *lab, const char *password)
{
	char conf[400];

	snprintf(conf, sizeof(conf), "%s/redis.conf", lab->dir);
	FILE *fp = fopen(conf, "w");
	assert_non_null(fp);
	fprintf(fp, "port 0\nunixsocket %s\nunixsocketperm 700\nsave \"\"\nappendonly no\ndir %s\n", lab->socket,
	    lab->dir);
	if (password)
		fprintf(fp, "requirepass %s\n", password);
	fclose(fp);
	unlink(lab->socket);
	lab->pid = fork();
	assert_true(lab->pid >= 0);
	if (lab->pid == 0) {
		/* Never outlives a test that failed before its cleanup, nor
		 * holds its output open. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
			_exit(126);
		execl(REDISLAB_SERVER, "redis-server", conf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		struct stat st;
		if (stat(lab->socket, &st) == 0)
			return;
		usleep(10000);
	}
	fail_msg("redis-server did not create %s", lab->socket);
}

static inline void
redislab_stop(struct redislab *lab)
{
	if (lab->pid <= 0)
		return;
	kill(lab->pid, SIGCONT);
	kill(lab->pid, SIGTERM);
	waitpid(lab->pid, NULL, 0);
	lab->pid = 0;
}

/* Stops the server and removes what the lab made. */
static inline void
redislab_cleanup(struct redislab *lab)
{
	char path[400];

	redislab_stop(lab);
	if (!lab->dir[0])
		return;
	snprintf(path, sizeof(path), "%s/redis.conf", lab->dir);
	unlink(path);
	unlink(lab->socket);
	rmdir(lab->dir);
}

static inline redisReply *
redislab_vraw(const struct redislab *lab, const char *password, const char *fmt, va_list ap)
{
	redisContext *c = redisConnectUnix(lab->socket);

	assert_non_null(c);
	assert_int_equal(c->err, 0);
	if (password)
		freeReplyObject(redisCommand(c, "AUTH %s", password));
	redisReply *r = redisvCommand(c, fmt, ap);
	redisFree(c);
	assert_non_null(r);
	return r;
}

/* A command as a stranger sends it; the caller frees the reply. */
static inline redisReply *
redislab_raw(const struct redislab *lab, const char *password, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	redisReply *r = redislab_vraw(lab, password, fmt, ap);
	va_end(ap);
	return r;
}

static inline void
redislab_set(const struct redislab *lab, const char *key, const char *value)
{
	freeReplyObject(redislab_raw(lab, NULL, "SET %s %s", key, value));
}

/* The value of key, or NULL; the caller frees it. */
static inline char *
redislab_get(const struct redislab *lab, const char *key)
{
	redisReply *r = redislab_raw(lab, NULL, "GET %s", key);
	char *v = r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL;

	freeReplyObject(r);
	return v;
}

/* A relay of the lab's fleet (keys under "t:"), up before it returns. */
static inline struct fleet *
redislab_fleet(const struct redislab *lab, struct event_base *base, struct log *log,
    const struct fleetvalue_key *key, const char *relay, fleet_wall_clock *wall, void *wall_arg)
{
	struct fleet_settings s = {.password = "", .key = key, .timeout_ms = 500, .prefix = "t:", .relay = relay};
	char spec[320], err[300];

	snprintf(spec, sizeof(spec), "unix:%s", lab->socket);
	assert_int_equal(endpoint_parse(spec, &s.server, err, sizeof(err)), 0);
	struct fleet *f = fleet_create(base, log, &s, err, sizeof(err));
	assert_non_null(f);
	fleet_set_wall_clock(f, wall, wall_arg);
	for (int i = 0; i < 3000 && !fleet_up(f); i++) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(1000);
	}
	assert_true(fleet_up(f));
	return f;
}

/* Runs the loop until *done, for at most ms. */
static inline bool
redislab_run_until(struct event_base *base, const bool *done, unsigned ms)
{
	uint64_t end = clock_monotonic_ms() + ms;

	while (!*done && clock_monotonic_ms() < end) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		if (!*done)
			usleep(1000);
	}
	return *done;
}

#endif
