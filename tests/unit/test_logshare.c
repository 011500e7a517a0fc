/*
 * test_logshare - two relays' counts of Postfix's log, shared through a
 * real redis-server and added up; counts that do not parse, and a relay
 * that publishes nothing new.
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "util/clock.h"
#include "util/log.h"
#include "fleet/fleet.h"
#include "watch/logshare.h"
#include "watch/logwatch.h"
#include "redislab.h"

#define NOW 1800000000
#define SMTP "Nov 24 18:50:09 mail postfix/smtp[1]: "
#define VERIFIED SMTP "Verified TLS connection established to mx.a.test[192.0.2.1]:25: TLSv1.3 with cipher X"
#define SENT(q) SMTP q ": to=<u@a.test>, relay=mx.a.test[192.0.2.1]:25, delay=0.1, delays=0/0/0/0.1, " \
	"dsn=2.0.0, status=sent (250 ok)"
#define DEFERRED(q) SMTP q ": to=<u@a.test>, relay=mx.a.test[192.0.2.1]:25, delay=0.1, delays=0/0/0/0.1, " \
	"dsn=4.7.5, status=deferred (Server certificate not verified)"

static struct redislab redis;
static struct event_base *base;
static struct log *logger;
static struct fleetvalue_key key;

static int64_t
wall(void *arg)
{
	return NOW;
}

static struct fleet *
relay(const char *name)
{
	return redislab_fleet(&redis, base, logger, &key, name, wall, NULL);
}

static void
feed(struct logwatch *lw, const char *line, int64_t at)
{
	logwatch_line(lw, line, strlen(line), at);
}

/* Waits until relay's value for dest is in Redis. */
static void
stored(const char *dest, const char *name)
{
	bool in = false;

	for (int i = 0; i < 3000 && !in; i++) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		redisReply *r = redislab_raw(&redis, NULL, "HEXISTS t:maillog:%s %s", dest, name);
		in = r->integer == 1;
		freeReplyObject(r);
		if (!in)
			usleep(1000);
	}
	assert_true(in);
}

struct viewed {
	bool done;
	char text[2048];
	bool unreachable;
};

static void
on_view(void *arg, const char *view)
{
	struct viewed *v = arg;

	v->done = true;
	v->unreachable = view == NULL;
	snprintf(v->text, sizeof(v->text), "%s", view ? view : "");
}

static struct viewed
view(struct logshare *ls, const char *dest)
{
	struct viewed v = {0};

	assert_int_equal(logshare_view(ls, dest, on_view, &v), 0);
	assert_true(redislab_run_until(base, &v.done, 3000));
	return v;
}

static void
test_two_relays(void **state)
{
	if (redislab_missing())
		return;
	assert_true(redislab_init(&redis, "logshare"));
	redislab_start(&redis, NULL);
	struct fleet *f1 = relay("r1"), *f2 = relay("r2");
	struct logshare *s1 = logshare_create(f1), *s2 = logshare_create(f2);
	struct logwatch *w1 = logwatch_create(100, NULL, NULL), *w2 = logwatch_create(100, NULL, NULL);
	assert_non_null(s1);
	assert_non_null(w1);

	feed(w1, VERIFIED, NOW - 5);
	feed(w1, SENT("A1"), NOW - 5);
	feed(w2, DEFERRED("B1"), NOW - 3);
	feed(w2, DEFERRED("B2"), NOW - 2);
	assert_int_equal(logshare_publish(s1, w1, NOW), 1);
	assert_int_equal(logshare_publish(s2, w2, NOW), 1);
	stored("a.test", "r1");
	stored("a.test", "r2");

	struct viewed v = view(s1, "a.test");
	assert_non_null(strstr(v.text, "fleet_relays=2 verified=1 trusted=0 untrusted=0 anonymous=0 cert_failed=0 "
	    "tlsa_error=0 non_dnssec=0 sent=1 deferred=2 deferred_tls=2"));
	assert_non_null(strstr(v.text, "\nrelay=r1 verified=1 "));
	assert_non_null(strstr(v.text, "\nrelay=r2 verified=0 "));
	assert_true(strstr(v.text, "relay=r1") < strstr(v.text, "relay=r2"));

	/* Nothing new: nothing stored again. A destination nobody mails. */
	assert_int_equal(logshare_publish(s1, w1, NOW + 10), 0);
	v = view(s2, "b.test");
	assert_non_null(strstr(v.text, "fleet_relays=0 "));

	/* A value that opens but is no counts: left out, counted. */
	struct buf sealed;
	buf_init(&sealed);
	assert_int_equal(fleetvalue_seal(&key, "t:maillog:a.test#r3", NOW + 60, "sent=lots", 9, &sealed), 0);
	buf_terminate(&sealed);
	freeReplyObject(redislab_raw(&redis, NULL, "HSET t:maillog:a.test r3 %s", buf_ptr(&sealed)));
	buf_free(&sealed);
	v = view(s1, "a.test");
	assert_non_null(strstr(v.text, "fleet_relays=2 "));
	struct logshare_stats st;
	logshare_stats(s1, &st);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(st.published, 1);

	/* Redis gone: no view starts. Freed with a view in flight: no call. */
	struct viewed pending = {0};
	assert_int_equal(logshare_view(s2, "a.test", on_view, &pending), 0);
	logshare_free(s2);
	redislab_stop(&redis);
	for (int i = 0; i < 300 && fleet_up(f1); i++) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(1000);
	}
	assert_false(pending.done);
	assert_int_equal(logshare_view(s1, "a.test", on_view, &pending), -1);

	logshare_free(s1);
	logwatch_free(w1);
	logwatch_free(w2);
	fleet_free(f1);
	fleet_free(f2);
}

static int
teardown(void **state)
{
	redislab_cleanup(&redis);
	return 0;
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_two_relays, teardown),
	};
	struct table t = {0};

	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	logger = log_create_stderr(LOGL_WARNING);
	memset(key.secret, 'm', 40);
	key.len = 40;
	TABLE_TESTS(&t, tests);
	int rc = table_run(&t, "logshare");
	event_base_free(base);
	log_free(logger);
	return rc;
}
