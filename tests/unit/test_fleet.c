/*
 * test_fleet - the fleet client against a real redis-server (Debian's,
 * started here on a unix socket in a directory of the test's own): values
 * stored and read back, every way a value can be forged, claims, the
 * read-only relay, a server that is slow, gone and back, and a wrong
 * password. Raw values are written with hiredis's synchronous API, as a
 * stranger with access to Redis would.
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "util/clock.h"
#include "util/log.h"
#include "fleet/fleet.h"
#include "redislab.h"

#define PASSWORD "fleet-test-password"

struct lab {
	struct redislab redis;
	struct event_base *base;
	struct log *log;
	struct fleetvalue_key key;
	int64_t now;
};

static struct lab lab;

static int64_t
test_clock(void *arg)
{
	return lab.now;
}

#define redis_start(password) redislab_start(&lab.redis, password)
#define redis_stop() redislab_stop(&lab.redis)
#define raw(password, ...) redislab_raw(&lab.redis, password, __VA_ARGS__)
#define raw_set(key, value) redislab_set(&lab.redis, key, value)
#define raw_get(key) redislab_get(&lab.redis, key)

static struct fleet *
fleet_for(const char *relay, bool readonly, const char *password, unsigned timeout_ms)
{
	struct fleet_settings s = {.readonly = readonly, .password = password ? password : "", .key = &lab.key,
	    .timeout_ms = timeout_ms, .prefix = "t:", .relay = relay};
	char spec[320], err[300];

	snprintf(spec, sizeof(spec), "unix:%s", lab.redis.socket);
	assert_int_equal(endpoint_parse(spec, &s.server, err, sizeof(err)), 0);
	struct fleet *f = fleet_create(lab.base, lab.log, &s, err, sizeof(err));
	assert_non_null(f);
	fleet_set_wall_clock(f, test_clock, NULL);
	return f;
}

/* Runs the loop until *done, or fails after ms. */
static void
run_until(const bool *done, unsigned ms, const char *what)
{
	uint64_t end = clock_monotonic_ms() + ms;

	while (!*done) {
		if (clock_monotonic_ms() > end)
			fail_msg("%s: not within %u ms", what, ms);
		event_base_loop(lab.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(1000);
	}
}

static bool
is_up(struct fleet *f)
{
	static bool up;

	up = false;
	uint64_t end = clock_monotonic_ms() + 5000;
	while (!(up = fleet_up(f)) && clock_monotonic_ms() < end) {
		event_base_loop(lab.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(1000);
	}
	return up;
}

struct got {
	bool done;
	enum fleet_found found;
	char payload[256];
	int64_t expires;
};

static void
on_got(void *arg, enum fleet_found found, const char *payload, size_t len, int64_t expires)
{
	struct got *g = arg;

	g->done = true;
	g->found = found;
	snprintf(g->payload, sizeof(g->payload), "%.*s", (int)len, payload ? payload : "");
	g->expires = expires;
}

static struct got
get(struct fleet *f, enum fleet_kind kind, const char *name, int64_t max_life)
{
	struct got g = {0};

	if (!fleet_get(f, kind, name, max_life, on_got, &g)) {
		g.found = FLEET_UNREACHABLE;
		strcpy(g.payload, "(not started)");
		return g;
	}
	assert_false(g.done);	/* never from inside the call */
	run_until(&g.done, 3000, "fleet_get");
	return g;
}

struct claimed {
	bool done;
	enum fleet_claim claim;
	char holder[64];
};

static void
on_claimed(void *arg, enum fleet_claim c, const char *holder)
{
	struct claimed *cl = arg;

	cl->done = true;
	cl->claim = c;
	snprintf(cl->holder, sizeof(cl->holder), "%s", holder ? holder : "");
}

static struct claimed
claim(struct fleet *f, const char *name, int64_t life)
{
	struct claimed c = {0};

	if (!fleet_claim(f, FLEET_PROBE_LEASE, name, life, on_claimed, &c)) {
		c.claim = FLEET_CLAIM_ALONE;
		strcpy(c.holder, "(not started)");
		return c;
	}
	run_until(&c.done, 3000, "fleet_claim");
	return c;
}

/* Writes through the fleet and waits until Redis has it. */
static void
put(struct fleet *f, enum fleet_kind kind, const char *name, int64_t expires, const char *payload)
{
	char key[200];
	bool there = false;

	fleet_put(f, kind, name, expires, payload, strlen(payload));
	snprintf(key, sizeof(key), "t:%s:%s", fleet_kind_name(kind), name);
	for (int i = 0; i < 300 && !there; i++) {
		event_base_loop(lab.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		char *v = raw_get(key);
		there = v != NULL;
		free(v);
		if (!there)
			usleep(1000);
	}
	assert_true(there);
}

static int
setup(void **state)
{
	if (!redislab_init(&lab.redis, "fleet"))
		return 0;
	lab.base = event_base_new();
	lab.log = log_create_stderr(LOGL_DEBUG);
	memset(lab.key.secret, 'k', 40);
	lab.key.len = 40;
	lab.now = 1800000000;
	redis_start(NULL);
	freeReplyObject(raw(NULL, "FLUSHALL"));
	return 0;
}

static int
teardown(void **state)
{
	redislab_cleanup(&lab.redis);
	if (lab.base)
		event_base_free(lab.base);
	log_free(lab.log);
	return 0;
}

#define no_redis() redislab_missing()

static void
test_put_get(void **state)
{
	if (no_redis())
		return;
	struct fleet *f = fleet_for("r1", false, NULL, 500);
	assert_true(is_up(f));
	put(f, FLEET_STS, "example.org", lab.now + 600, "policy text");
	struct got g = get(f, FLEET_STS, "example.org", 3600);
	assert_int_equal(g.found, FLEET_FOUND);
	assert_string_equal(g.payload, "policy text");
	assert_int_equal(g.expires, lab.now + 600);
	/* Another relay of the fleet reads it. */
	struct fleet *f2 = fleet_for("r2", false, NULL, 500);
	assert_true(is_up(f2));
	assert_int_equal(get(f2, FLEET_STS, "example.org", 3600).found, FLEET_FOUND);
	/* Absent, and other kinds are other keys. */
	assert_int_equal(get(f2, FLEET_STS, "example.net", 3600).found, FLEET_ABSENT);
	assert_int_equal(get(f2, FLEET_PROBE, "example.org", 3600).found, FLEET_ABSENT);
	/* A value living longer than the reader allows does not count. */
	assert_int_equal(get(f2, FLEET_STS, "example.org", 60).found, FLEET_REJECTED);
	struct fleet_stats st;
	fleet_stats(f2, &st);
	assert_int_equal(st.rejected[FLEET_STS][FLEETVALUE_TOO_LONG], 1);
	assert_int_equal(st.hits[FLEET_STS], 1);
	/* Redis expires it with the value. */
	redisReply *r = raw(NULL, "PTTL t:sts:example.org");
	assert_true(r->integer > 590000 && r->integer <= 600000);
	freeReplyObject(r);
	fleet_free(f);
	fleet_free(f2);
}

static void
test_forged(void **state)
{
	if (no_redis())
		return;
	struct fleet *f = fleet_for("r1", false, NULL, 500);
	assert_true(is_up(f));
	put(f, FLEET_STS, "a.example", lab.now + 600, "policy a");
	put(f, FLEET_STS, "b.example", lab.now + 600, "policy b");
	char *a = raw_get("t:sts:a.example");
	assert_non_null(a);

	/* Copied from another key. */
	raw_set("t:sts:b.example", a);
	assert_int_equal(get(f, FLEET_STS, "b.example", 3600).found, FLEET_REJECTED);
	/* Its expiry extended: "tpf1 EXPIRES MAC PAYLOAD". */
	char longer[512];
	char *sp = strchr(a + 5, ' ');
	snprintf(longer, sizeof(longer), "tpf1 %lld%s", (long long)lab.now + 6000, sp);
	raw_set("t:sts:a.example", longer);
	assert_int_equal(get(f, FLEET_STS, "a.example", 36000).found, FLEET_REJECTED);
	/* Garbage, and a value written without the key. */
	raw_set("t:sts:a.example", "garbage");
	assert_int_equal(get(f, FLEET_STS, "a.example", 3600).found, FLEET_REJECTED);
	char forged[256];
	snprintf(forged, sizeof(forged), "tpf1 %lld %064d policy-of-the-attacker", (long long)lab.now + 60, 0);
	raw_set("t:sts:a.example", forged);
	assert_int_equal(get(f, FLEET_STS, "a.example", 3600).found, FLEET_REJECTED);
	/* A newer relay's format: not ours to read. */
	raw_set("t:sts:a.example", "tpf2 anything");
	assert_int_equal(get(f, FLEET_STS, "a.example", 3600).found, FLEET_REJECTED);
	/* Sealed under another fleet's secret. */
	struct fleetvalue_key other = lab.key;
	other.secret[0] = 'x';
	struct buf sealed;
	buf_init(&sealed);
	assert_int_equal(fleetvalue_seal(&other, "t:sts:a.example", lab.now + 60, "x", 1, &sealed), 0);
	buf_terminate(&sealed);
	raw_set("t:sts:a.example", buf_ptr(&sealed));
	assert_int_equal(get(f, FLEET_STS, "a.example", 3600).found, FLEET_REJECTED);
	buf_free(&sealed);

	struct fleet_stats st;
	fleet_stats(f, &st);
	assert_int_equal(st.rejected[FLEET_STS][FLEETVALUE_BAD_MAC], 4);
	assert_int_equal(st.rejected[FLEET_STS][FLEETVALUE_MALFORMED], 1);
	assert_int_equal(st.rejected[FLEET_STS][FLEETVALUE_VERSION_UNKNOWN], 1);
	assert_int_equal(st.hits[FLEET_STS], 0);
	free(a);
	fleet_free(f);
}

static void
test_claims(void **state)
{
	if (no_redis())
		return;
	struct fleet *r1 = fleet_for("r1", false, NULL, 500), *r2 = fleet_for("r2", false, NULL, 500);
	assert_true(is_up(r1) && is_up(r2));

	assert_int_equal(claim(r1, "mx.example|192.0.2.1|25", 60).claim, FLEET_CLAIM_OURS);
	struct claimed c = claim(r2, "mx.example|192.0.2.1|25", 60);
	assert_int_equal(c.claim, FLEET_CLAIM_HELD);
	assert_string_equal(c.holder, "r1");
	/* Its lease has an expiry in Redis: a relay that died holding it
	 * blocks nobody past it. */
	redisReply *r = raw(NULL, "PTTL t:lease:mx.example|192.0.2.1|25");
	assert_true(r->integer > 0 && r->integer <= 60000);
	freeReplyObject(r);
	freeReplyObject(raw(NULL, "DEL t:lease:mx.example|192.0.2.1|25"));
	assert_int_equal(claim(r2, "mx.example|192.0.2.1|25", 60).claim, FLEET_CLAIM_OURS);

	/* A lease a stranger wrote does not stop anyone: replaced. */
	raw_set("t:lease:mx2.example|192.0.2.2|25", "tpf1 9999999999 0000 r9");
	assert_int_equal(claim(r1, "mx2.example|192.0.2.2|25", 60).claim, FLEET_CLAIM_OURS);
	assert_int_equal(claim(r2, "mx2.example|192.0.2.2|25", 60).claim, FLEET_CLAIM_HELD);
	struct fleet_stats st;
	fleet_stats(r1, &st);
	assert_int_equal(st.rejected[FLEET_PROBE_LEASE][FLEETVALUE_MALFORMED], 1);
	assert_int_equal(st.claims_ours[FLEET_PROBE_LEASE], 2);
	fleet_free(r1);
	fleet_free(r2);
}

static void
test_readonly(void **state)
{
	if (no_redis())
		return;
	struct fleet *rw = fleet_for("rw", false, NULL, 500), *ro = fleet_for("ro", true, NULL, 500);
	assert_true(is_up(rw) && is_up(ro));

	fleet_put(ro, FLEET_STS, "ro.example", lab.now + 600, "p", 1);
	/* Nothing written, however long we wait for it: the PUT would have
	 * come before this read on the same server. */
	assert_int_equal(get(rw, FLEET_STS, "ro.example", 3600).found, FLEET_ABSENT);
	assert_int_equal(claim(ro, "free|192.0.2.3|25", 60).claim, FLEET_CLAIM_ALONE);
	assert_int_equal(get(rw, FLEET_PROBE_LEASE, "free|192.0.2.3|25", 3600).found, FLEET_ABSENT);
	/* It reads what others share, and respects their leases. */
	put(rw, FLEET_STS, "rw.example", lab.now + 600, "q");
	assert_int_equal(get(ro, FLEET_STS, "rw.example", 3600).found, FLEET_FOUND);
	assert_int_equal(claim(rw, "held|192.0.2.4|25", 60).claim, FLEET_CLAIM_OURS);
	struct claimed c = claim(ro, "held|192.0.2.4|25", 60);
	assert_int_equal(c.claim, FLEET_CLAIM_HELD);
	assert_string_equal(c.holder, "rw");
	redisReply *r = raw(NULL, "INFO commandstats");
	assert_non_null(strstr(r->str, "cmdstat_set:"));
	freeReplyObject(r);
	fleet_free(rw);
	fleet_free(ro);
}

/* A server that stops answering: every operation ends within the
 * deadline, the relay goes on alone, and rejoins when it answers again. */
static void
test_slow_and_gone(void **state)
{
	if (no_redis())
		return;
	struct fleet *f = fleet_for("r1", false, NULL, 200);
	assert_true(is_up(f));
	put(f, FLEET_STS, "slow.example", lab.now + 600, "p");

	kill(lab.redis.pid, SIGSTOP);
	uint64_t start = clock_monotonic_ms();
	struct got g = get(f, FLEET_STS, "slow.example", 3600);
	uint64_t took = clock_monotonic_ms() - start;
	assert_int_equal(g.found, FLEET_UNREACHABLE);
	assert_true(took < 1500);	/* the deadline is 200 ms: generous for a loaded machine */
	assert_false(fleet_up(f));
	/* Down: nothing starts, nothing waits. */
	assert_null(fleet_get(f, FLEET_STS, "slow.example", 3600, on_got, &g));
	assert_int_equal(claim(f, "x|192.0.2.5|25", 60).claim, FLEET_CLAIM_ALONE);
	kill(lab.redis.pid, SIGCONT);
	assert_true(is_up(f));
	assert_int_equal(get(f, FLEET_STS, "slow.example", 3600).found, FLEET_FOUND);

	/* Gone, then back empty (a restart without persistence). */
	redis_stop();
	assert_int_equal(get(f, FLEET_STS, "slow.example", 3600).found, FLEET_UNREACHABLE);
	redis_start(NULL);
	assert_true(is_up(f));
	assert_int_equal(get(f, FLEET_STS, "slow.example", 3600).found, FLEET_ABSENT);
	struct fleet_stats st;
	fleet_stats(f, &st);
	assert_true(st.timeouts >= 1);
	assert_int_equal(st.outages, 2);
	assert_true(st.unreachable >= 2);
	fleet_free(f);
}

static void
test_password(void **state)
{
	if (no_redis())
		return;
	redis_stop();
	redis_start(PASSWORD);
	struct fleet *wrong = fleet_for("r1", false, "not-the-password", 300);
	struct fleet *none = fleet_for("r2", false, NULL, 300);
	struct fleet *right = fleet_for("r3", false, PASSWORD, 300);
	assert_true(is_up(right));
	/* Those without the password stay down: the handshake is refused. */
	for (int i = 0; i < 200; i++) {
		event_base_loop(lab.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(1000);
	}
	assert_false(fleet_up(wrong));
	assert_false(fleet_up(none));
	fleet_put(right, FLEET_STALE, "d.example", lab.now + 60, "x", 1);
	bool there = false;
	for (int i = 0; i < 300 && !there; i++) {
		event_base_loop(lab.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		redisReply *r = raw(PASSWORD, "EXISTS t:stale:d.example");
		there = r->integer == 1;
		freeReplyObject(r);
		usleep(1000);
	}
	assert_true(there);
	fleet_free(wrong);
	fleet_free(none);
	fleet_free(right);
	redis_stop();
	redis_start(NULL);
}

struct all {
	bool done;
	enum fleet_found found;
	int n;
	char seen[256];
};

static void
on_each(void *arg, const char *relay, const char *payload, size_t len, int64_t expires)
{
	struct all *a = arg;
	size_t at = strlen(a->seen);

	a->n++;
	snprintf(a->seen + at, sizeof(a->seen) - at, "%s=%.*s;", relay, (int)len, payload);
}

static void
on_done(void *arg, enum fleet_found found)
{
	struct all *a = arg;

	a->done = true;
	a->found = found;
}

static struct all
get_all(struct fleet *f, const char *name)
{
	struct all a = {0};

	assert_non_null(fleet_get_all(f, FLEET_MAILLOG, name, 86400, on_each, on_done, &a));
	run_until(&a.done, 3000, "fleet_get_all");
	return a;
}

/* One value per relay under one name: each relay's own, none another's. */
static void
test_per_relay(void **state)
{
	if (no_redis())
		return;
	struct fleet *r1 = fleet_for("r1", false, NULL, 500), *r2 = fleet_for("r2", false, NULL, 500);
	assert_true(is_up(r1) && is_up(r2));
	assert_int_equal(get_all(r1, "d.example").found, FLEET_ABSENT);
	fleet_put_mine(r1, FLEET_MAILLOG, "d.example", lab.now + 3600, "sent=3", 6);
	fleet_put_mine(r2, FLEET_MAILLOG, "d.example", lab.now + 3600, "sent=4", 6);
	fleet_put_mine(r2, FLEET_MAILLOG, "d.example", lab.now + 3600, "sent=5", 6);	/* replaces its own */
	/* Two connections: wait until both relays' writes are in. */
	bool in = false;
	for (int i = 0; i < 3000 && !in; i++) {
		event_base_loop(lab.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		redisReply *h = raw(NULL, "HGET t:maillog:d.example r2");
		in = h->type == REDIS_REPLY_STRING && strstr(h->str, "sent=5") != NULL;
		freeReplyObject(h);
	}
	assert_true(in);
	struct all a = get_all(r1, "d.example");
	assert_int_equal(a.found, FLEET_FOUND);
	assert_int_equal(a.n, 2);
	assert_non_null(strstr(a.seen, "r1=sent=3;"));
	assert_non_null(strstr(a.seen, "r2=sent=5;"));
	redisReply *r = raw(NULL, "PTTL t:maillog:d.example");
	assert_true(r->integer > 3590000 && r->integer <= 3600000);
	freeReplyObject(r);

	/* r1's value under r3's name, garbage, and a long field: ignored. */
	r = raw(NULL, "HGET t:maillog:d.example r1");
	freeReplyObject(raw(NULL, "HSET t:maillog:d.example r3 %s", r->str));
	freeReplyObject(r);
	freeReplyObject(raw(NULL, "HSET t:maillog:d.example r4 garbage"));
	char longname[100];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	freeReplyObject(raw(NULL, "HSET t:maillog:d.example %s x", longname));
	a = get_all(r2, "d.example");
	assert_int_equal(a.n, 2);
	struct fleet_stats st;
	fleet_stats(r2, &st);
	assert_int_equal(st.rejected[FLEET_MAILLOG][FLEETVALUE_BAD_MAC], 1);
	assert_int_equal(st.rejected[FLEET_MAILLOG][FLEETVALUE_MALFORMED], 2);
	/* A read-only relay writes none. */
	struct fleet *ro = fleet_for("ro", true, NULL, 500);
	assert_true(is_up(ro));
	fleet_put_mine(ro, FLEET_MAILLOG, "d.example", lab.now + 3600, "sent=9", 6);
	a = get_all(ro, "d.example");
	assert_int_equal(a.n, 2);
	fleet_free(r1);
	fleet_free(r2);
	fleet_free(ro);
}

/* Redis full (maxmemory reached): writes and claims are refused, the
 * relay works alone, reads still count. */
static void
test_full(void **state)
{
	if (no_redis())
		return;
	struct fleet *f = fleet_for("r1", false, NULL, 500);
	assert_true(is_up(f));
	put(f, FLEET_STS, "before.example", lab.now + 600, "p");
	freeReplyObject(raw(NULL, "CONFIG SET maxmemory 1"));
	freeReplyObject(raw(NULL, "CONFIG SET maxmemory-policy noeviction"));
	assert_int_equal(claim(f, "full|192.0.2.9|25", 60).claim, FLEET_CLAIM_ALONE);
	fleet_put(f, FLEET_STS, "after.example", lab.now + 600, "q", 1);
	assert_int_equal(get(f, FLEET_STS, "after.example", 3600).found, FLEET_ABSENT);
	assert_int_equal(get(f, FLEET_STS, "before.example", 3600).found, FLEET_FOUND);
	assert_true(fleet_up(f));	/* full is not down */
	freeReplyObject(raw(NULL, "CONFIG SET maxmemory 0"));
	assert_int_equal(claim(f, "full|192.0.2.9|25", 60).claim, FLEET_CLAIM_OURS);
	fleet_free(f);
}

/* Freed with operations in flight: no callback runs after. */
static void
test_free_in_flight(void **state)
{
	if (no_redis())
		return;
	struct fleet *f = fleet_for("r1", false, NULL, 500);
	struct got g = {0};
	struct claimed c = {0};
	assert_true(is_up(f));
	assert_non_null(fleet_get(f, FLEET_STS, "x.example", 60, on_got, &g));
	assert_non_null(fleet_claim(f, FLEET_ALERT, "dane-mismatch|x.example", 60, on_claimed, &c));
	struct fleet_op *cancelled = fleet_get(f, FLEET_STS, "y.example", 60, on_got, &g);
	fleet_cancel(cancelled);
	fleet_free(f);
	for (int i = 0; i < 50; i++)
		event_base_loop(lab.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_false(g.done);
	assert_false(c.done);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get),
		cmocka_unit_test(test_forged),
		cmocka_unit_test(test_claims),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_slow_and_gone),
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_per_relay),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_free_in_flight),
	};

	struct table t = {0};

	signal(SIGPIPE, SIG_IGN);
	setup(NULL);
	TABLE_TESTS(&t, tests);
	int rc = table_run(&t, "fleet");
	teardown(NULL);
	return rc;
}
