/* Unit tests: the probe pool (workers, queue, rate and per-address limits). */
#include "autoconfig.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "util/clock.h"
#include "fake_smtp.h"
#include "probe/probe.h"
#include "probe/prober.h"
#include "table.h"

#define MAX_CALLS 32

static const struct fake_step plain_script[] = {
	F_SEND("220 mx.test ESMTP fake\r\n"),
	F_EXPECT("EHLO", "250-mx.test\r\n250 8BITMIME\r\n"),
	F_EXPECT("QUIT", "221 bye\r\n"),
	F_CLOSE,
};
static const struct fake_step silent_script[] = {F_SILENT(10000), F_CLOSE};
/* Busy for 150 ms, then a refusal: a probe that holds its slot a while. */
static const struct fake_step slow_script[] = {F_SILENT(150), F_SEND("554 busy\r\n"), F_CLOSE};

static unsigned closed_port, closed_port2;	/* nothing listens there */
static pthread_t owner;

struct call {
	char dests[4][64];
	size_t ndests;
	char host[64];
	unsigned port;
	enum probe_class class;
	uint64_t at_ms;
	bool owner_thread, in_loop;
};

/* One test's pool, its event loop and what the callback saw. */
struct run {
	struct event_base *base;
	struct probe_env *env;
	struct prober *pr;
	struct event *guard, *linger, *watch;
	bool dispatching, timed_out;
	unsigned expected, ncalls;
	struct call calls[MAX_CALLS];
	size_t max_running;		/* seen by the watch timer */
	bool inconsistent;		/* queued + running + finished != submitted */
	uint64_t created_ms;		/* just before prober_create() */
};

static void
on_result(void *arg, const char *const *dests, size_t ndests, const struct probe_target *t,
    const struct probe_result *r)
{
	struct run *run = arg;

	if (run->ncalls < MAX_CALLS) {
		struct call *c = &run->calls[run->ncalls];
		for (size_t i = 0; i < ndests && i < 4; i++)
			snprintf(c->dests[i], sizeof(c->dests[i]), "%.63s", dests[i]);
		c->ndests = ndests;
		snprintf(c->host, sizeof(c->host), "%.63s", t->host);
		c->port = t->port;
		c->class = r->class;
		c->at_ms = clock_monotonic_ms();
		c->owner_thread = pthread_equal(pthread_self(), owner);
		c->in_loop = run->dispatching;
	}
	if (++run->ncalls == run->expected) {
		/* A while longer, to see that nothing more comes. */
		struct timeval tv = {0, 150 * 1000};
		evtimer_add(run->linger, &tv);
	}
}

static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct run *run = arg;

	event_base_loopbreak(run->base);
}

static void
on_guard(evutil_socket_t fd, short what, void *arg)
{
	struct run *run = arg;

	run->timed_out = true;
	event_base_loopbreak(run->base);
}

static void
on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct run *run = arg;
	struct prober_stats st;

	prober_stats(run->pr, &st);
	if (st.running > run->max_running)
		run->max_running = st.running;
	if (st.queued + st.running + st.finished != st.submitted)
		run->inconsistent = true;
}

static void
run_init(struct run *run, unsigned timeout_ms, const struct prober_settings *s)
{
	struct probe_env_settings es = {.ca_file = NULL, .helo_name = "probe.test", .step_timeout_ms = timeout_ms,
	    .max_reply = PROBE_MAX_REPLY};
	char err[256];

	memset(run, 0, sizeof(*run));
	run->base = event_base_new();
	assert_non_null(run->base);
	run->env = probe_env_new(&es, err, sizeof(err));
	if (!run->env)
		print_error("probe_env_new: %s\n", err);
	assert_non_null(run->env);
	run->guard = evtimer_new(run->base, on_guard, run);
	run->linger = evtimer_new(run->base, on_stop, run);
	run->watch = event_new(run->base, -1, EV_PERSIST, on_watch, run);
	run->created_ms = clock_monotonic_ms();
	run->pr = prober_create(run->base, run->env, s, on_result, run, err, sizeof(err));
	if (!run->pr)
		print_error("prober_create: %s\n", err);
	assert_non_null(run->pr);
}

/* Runs the loop until `expected` callbacks came (and 150 ms more), or
 * guard_ms passed. */
static void
run_until(struct run *run, unsigned expected, unsigned guard_ms)
{
	struct timeval tv = {guard_ms / 1000, (guard_ms % 1000) * 1000};

	run->expected = expected;
	evtimer_add(run->guard, &tv);
	if (run->ncalls >= expected) {
		struct timeval linger = {0, 150 * 1000};
		evtimer_add(run->linger, &linger);
	}
	run->dispatching = true;
	event_base_dispatch(run->base);
	run->dispatching = false;
	evtimer_del(run->guard);
	evtimer_del(run->linger);
	if (run->timed_out)
		print_error("timed out with %u of %u callbacks\n", run->ncalls, expected);
	assert_false(run->timed_out);
	assert_int_equal(run->ncalls, expected);
}

/* Runs the loop for ms, whatever happens. */
static void
run_for(struct run *run, unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(run->linger, &tv);
	run->dispatching = true;
	event_base_dispatch(run->base);
	run->dispatching = false;
}

static void
run_free(struct run *run)
{
	prober_free(run->pr);
	event_free(run->guard);
	event_free(run->linger);
	event_free(run->watch);
	probe_env_free(run->env);
	event_base_free(run->base);
}

static struct probe_target
target(const char *host, const char *address, unsigned port)
{
	struct probe_target t;

	memset(&t, 0, sizeof(t));
	snprintf(t.host, sizeof(t.host), "%s", host);
	assert_int_equal(netaddr_parse(address, &t.address), 0);
	t.port = port;
	return t;
}

static int
submit(struct run *run, const char *dest, const char *host, const char *address, unsigned port)
{
	struct probe_target t = target(host, address, port);

	return prober_submit(run->pr, dest, &t);
}

static const struct call *
call_for(const struct run *run, const char *host)
{
	for (unsigned i = 0; i < run->ncalls && i < MAX_CALLS; i++)
		if (strcmp(run->calls[i].host, host) == 0)
			return &run->calls[i];
	print_error("no callback for %s\n", host);
	fail();
	return NULL;
}

static void
assert_stats(const struct run *run, uint64_t submitted, uint64_t started, uint64_t finished, uint64_t dropped,
    size_t queued, size_t running)
{
	struct prober_stats st;

	prober_stats(run->pr, &st);
	assert_int_equal(st.submitted, submitted);
	assert_int_equal(st.started, started);
	assert_int_equal(st.finished, finished);
	assert_int_equal(st.dropped, dropped);
	assert_int_equal(st.queued, queued);
	assert_int_equal(st.running, running);
}

/* ---- the tests --------------------------------------------------------- */

/* Each probe's callback runs once, on the owner's thread, from its loop. */
static void
test_each_once(void **state)
{
	struct prober_settings s = {.workers = 2, .concurrency = 4, .queue_max = 100, .rate = 1000};
	struct fake_smtp *fake = fake_smtp_start("127.0.0.1", plain_script);
	struct run run;
	char dest[32], host[32], addr[32];

	assert_non_null(fake);
	run_init(&run, 5000, &s);
	for (int i = 0; i < 8; i++) {
		snprintf(dest, sizeof(dest), "d%d.test", i);
		snprintf(host, sizeof(host), "%s%d.test", i < 4 ? "fake" : "closed", i);
		snprintf(addr, sizeof(addr), "127.0.0.%d", i < 4 ? 1 : i - 2);
		assert_int_equal(submit(&run, dest, host, addr, i < 4 ? fake_smtp_port(fake) : closed_port), PROBER_QUEUED);
	}
	assert_int_equal(run.ncalls, 0);	/* never from inside prober_submit() */
	run_until(&run, 8, 5000);
	for (int i = 0; i < 8; i++) {
		snprintf(host, sizeof(host), "%s%d.test", i < 4 ? "fake" : "closed", i);
		snprintf(dest, sizeof(dest), "d%d.test", i);
		const struct call *c = call_for(&run, host);
		assert_int_equal(c->ndests, 1);
		assert_string_equal(c->dests[0], dest);
		assert_true(c->owner_thread);
		assert_true(c->in_loop);
		assert_int_equal(c->port, i < 4 ? fake_smtp_port(fake) : closed_port);
		assert_string_equal(probe_class_name(c->class), i < 4 ? "plaintext" : "unreachable");
	}
	assert_stats(&run, 8, 8, 8, 0, 0, 0);
	assert_int_equal(fake_smtp_connections(fake), 4);
	run_free(&run);
	fake_smtp_free(fake);
}

/* The same host, address and port while queued or running: one probe, one
 * callback, every destination. */
static void
test_joined(void **state)
{
	struct prober_settings s = {.workers = 1, .concurrency = 1, .queue_max = 10, .rate = 1000};
	struct fake_smtp *fake = fake_smtp_start("127.0.0.1", silent_script);
	struct run run;

	assert_non_null(fake);
	unsigned slow = fake_smtp_port(fake);
	run_init(&run, 300, &s);
	assert_int_equal(submit(&run, "d0.test", "slow.test", "127.0.0.1", slow), PROBER_QUEUED);	/* runs */
	assert_int_equal(submit(&run, "d1.test", "c.test", "127.0.0.2", closed_port), PROBER_QUEUED);	/* waits */
	assert_int_equal(submit(&run, "d2.test", "c.test", "127.0.0.2", closed_port), PROBER_JOINED);
	assert_int_equal(submit(&run, "d1.test", "c.test", "127.0.0.2", closed_port), PROBER_JOINED);	/* once */
	assert_int_equal(submit(&run, "d3.test", "slow.test", "127.0.0.1", slow), PROBER_JOINED);	/* running */
	/* Not the same: another host name, another port, another address. */
	assert_int_equal(submit(&run, "d4.test", "other.test", "127.0.0.2", closed_port), PROBER_QUEUED);
	assert_int_equal(submit(&run, "d5.test", "c.test", "127.0.0.2", closed_port2), PROBER_QUEUED);
	assert_int_equal(submit(&run, "d6.test", "c.test", "127.0.0.3", closed_port), PROBER_QUEUED);
	assert_stats(&run, 5, 1, 0, 0, 4, 1);
	run_until(&run, 5, 5000);
	const struct call *c = call_for(&run, "slow.test");
	assert_int_equal(c->ndests, 2);
	assert_string_equal(c->dests[0], "d0.test");
	assert_string_equal(c->dests[1], "d3.test");
	assert_string_equal(probe_class_name(c->class), "unreachable");
	for (unsigned i = 0; i < run.ncalls; i++) {
		c = &run.calls[i];
		if (strcmp(c->dests[0], "d1.test") == 0) {
			assert_int_equal(c->ndests, 2);
			assert_string_equal(c->dests[1], "d2.test");
		} else if (strcmp(c->dests[0], "d0.test") != 0) {
			assert_int_equal(c->ndests, 1);
		}
	}
	assert_int_equal(fake_smtp_connections(fake), 1);
	assert_stats(&run, 5, 5, 5, 0, 0, 0);
	run_free(&run);
	fake_smtp_free(fake);
}

/* Past queue_max: PROBER_FULL, counted as dropped; joining still works. */
static void
test_full(void **state)
{
	struct prober_settings s = {.workers = 1, .concurrency = 1, .queue_max = 2, .rate = 1000};
	struct fake_smtp *fake = fake_smtp_start("127.0.0.1", silent_script);
	struct run run;

	assert_non_null(fake);
	run_init(&run, 5000, &s);
	assert_int_equal(submit(&run, "d0.test", "slow.test", "127.0.0.1", fake_smtp_port(fake)), PROBER_QUEUED);
	assert_int_equal(submit(&run, "d1.test", "a.test", "127.0.0.2", closed_port), PROBER_QUEUED);
	assert_int_equal(submit(&run, "d2.test", "b.test", "127.0.0.2", closed_port), PROBER_QUEUED);
	assert_int_equal(submit(&run, "d3.test", "c.test", "127.0.0.2", closed_port), PROBER_FULL);
	assert_int_equal(submit(&run, "d4.test", "d.test", "127.0.0.3", closed_port), PROBER_FULL);
	assert_int_equal(submit(&run, "d5.test", "a.test", "127.0.0.2", closed_port), PROBER_JOINED);
	assert_stats(&run, 3, 1, 0, 2, 2, 1);
	run_free(&run);
	assert_int_equal(run.ncalls, 0);
	fake_smtp_free(fake);
}

/* rate 5 per second: ten probes start 200 ms apart, the first at once. */
static void
test_rate(void **state)
{
	struct prober_settings s = {.workers = 2, .concurrency = 20, .queue_max = 100, .rate = 5};
	struct run run;
	char addr[32], host[32];

	run_init(&run, 5000, &s);
	/* The bucket holds one token at creation, and gains one each 200 ms. */
	uint64_t t0 = run.created_ms;
	for (int i = 0; i < 10; i++) {
		snprintf(addr, sizeof(addr), "127.0.0.%d", i + 2);
		snprintf(host, sizeof(host), "h%d.test", i);
		assert_int_equal(submit(&run, "rate.test", host, addr, closed_port), PROBER_QUEUED);
	}
	struct prober_stats st;
	prober_stats(run.pr, &st);
	assert_int_equal(st.started, 1);
	run_until(&run, 10, 6000);
	for (unsigned i = 0; i < 10; i++) {
		uint64_t at = run.calls[i].at_ms - t0;
		if (at + 2 < i * 200) {
			print_error("probe %u finished %llu ms after the first submission, before its turn at %u ms\n", i,
			    (unsigned long long)at, i * 200);
			fail();
		}
	}
	uint64_t took = run.calls[9].at_ms - t0;
	print_message("# ten probes at 5 per second took %llu ms\n", (unsigned long long)took);
	assert_in_range(took, 1798, 2600);
	run_free(&run);
}

/* After a pause the pool may start a burst of one second's worth, no more. */
static void
test_burst(void **state)
{
	struct prober_settings s = {.workers = 2, .concurrency = 20, .queue_max = 100, .rate = 10};
	struct run run;
	char addr[32], host[32];

	run_init(&run, 5000, &s);
	run_for(&run, 1100);	/* would be 12 starts' worth */
	uint64_t t0 = clock_monotonic_ms();
	for (int i = 0; i < 15; i++) {
		snprintf(addr, sizeof(addr), "127.0.0.%d", i + 2);
		snprintf(host, sizeof(host), "h%d.test", i);
		assert_int_equal(submit(&run, "burst.test", host, addr, closed_port), PROBER_QUEUED);
	}
	struct prober_stats st;
	prober_stats(run.pr, &st);
	assert_int_equal(st.started, 10);
	run_until(&run, 15, 5000);
	uint64_t took = run.calls[14].at_ms - t0;
	print_message("# the five after the burst took %llu ms\n", (unsigned long long)took);
	assert_in_range(took, 498, 1300);
	run_free(&run);
}

/* Two probes of one address (for two host names) start host_interval apart;
 * a probe of another address does not wait behind them. */
static void
test_host_interval(void **state)
{
	struct prober_settings s = {.workers = 2, .concurrency = 10, .queue_max = 100, .rate = 1000,
	    .host_interval_ms = 500};
	struct run run;

	run_init(&run, 5000, &s);
	run_for(&run, 20);	/* the token bucket fills: the rate is not what holds b */
	uint64_t t0 = clock_monotonic_ms();
	assert_int_equal(submit(&run, "d.test", "a.test", "127.0.0.2", closed_port), PROBER_QUEUED);
	assert_int_equal(submit(&run, "d.test", "b.test", "127.0.0.2", closed_port), PROBER_QUEUED);
	assert_int_equal(submit(&run, "d.test", "c.test", "127.0.0.3", closed_port), PROBER_QUEUED);
	/* Another port of the same address is the same address. */
	assert_int_equal(submit(&run, "e.test", "a.test", "127.0.0.2", closed_port2), PROBER_QUEUED);
	struct prober_stats st;
	prober_stats(run.pr, &st);
	assert_int_equal(st.started, 2);	/* a and c; b and a:port2 wait */
	run_until(&run, 4, 5000);
	uint64_t b = call_for(&run, "b.test")->at_ms - t0;
	uint64_t c = call_for(&run, "c.test")->at_ms - t0;
	uint64_t a2 = 0;
	for (unsigned i = 0; i < run.ncalls; i++)
		if (run.calls[i].port == closed_port2)
			a2 = run.calls[i].at_ms - t0;
	print_message("# the second probe of the address came %llu ms after the first, the third %llu ms\n",
	    (unsigned long long)b, (unsigned long long)a2);
	assert_in_range(b, 500, 1200);
	assert_in_range(a2, 1000, 1700);
	assert_true(c < 400);
	run_free(&run);
}

/* Never more than `concurrency` probes at once, and that many when there
 * is work. */
static void
test_concurrency(void **state)
{
	struct prober_settings s = {.workers = 2, .concurrency = 2, .queue_max = 100, .rate = 1000};
	struct fake_smtp *fake = fake_smtp_start("127.0.0.1", slow_script);
	struct run run;
	char host[32];
	struct timeval tick = {0, 5 * 1000};

	assert_non_null(fake);
	run_init(&run, 5000, &s);
	run_for(&run, 20);	/* the token bucket fills: only concurrency holds them */
	event_add(run.watch, &tick);
	for (int i = 0; i < 6; i++) {
		snprintf(host, sizeof(host), "h%d.test", i);
		assert_int_equal(submit(&run, "d.test", host, "127.0.0.1", fake_smtp_port(fake)), PROBER_QUEUED);
	}
	assert_stats(&run, 6, 2, 0, 0, 4, 2);
	run_until(&run, 6, 5000);
	event_del(run.watch);
	assert_int_equal(run.max_running, 2);
	assert_false(run.inconsistent);
	for (unsigned i = 0; i < 6; i++)
		assert_string_equal(probe_class_name(run.calls[i].class), "unreachable");
	/* Three rounds of 150 ms, two at a time. */
	assert_true(run.calls[5].at_ms - run.calls[0].at_ms >= 290);
	assert_stats(&run, 6, 6, 6, 0, 0, 0);
	run_free(&run);
	fake_smtp_free(fake);
}

/* New limits apply at once: raising concurrency starts what waits. */
static void
test_set_limits(void **state)
{
	struct prober_settings s = {.workers = 2, .concurrency = 1, .queue_max = 100, .rate = 1000};
	struct fake_smtp *fake = fake_smtp_start("127.0.0.1", silent_script);
	struct run run;
	char host[32];

	assert_non_null(fake);
	run_init(&run, 5000, &s);
	run_for(&run, 20);	/* the token bucket fills: only concurrency holds them */
	for (int i = 0; i < 4; i++) {
		snprintf(host, sizeof(host), "h%d.test", i);
		assert_int_equal(submit(&run, "d.test", host, "127.0.0.1", fake_smtp_port(fake)), PROBER_QUEUED);
	}
	assert_stats(&run, 4, 1, 0, 0, 3, 1);
	s.concurrency = 3;
	prober_set_limits(run.pr, &s);
	assert_stats(&run, 4, 3, 0, 0, 1, 3);
	s.queue_max = 1;
	prober_set_limits(run.pr, &s);
	assert_int_equal(submit(&run, "d.test", "h9.test", "127.0.0.1", fake_smtp_port(fake)), PROBER_FULL);
	run_free(&run);
	assert_int_equal(run.ncalls, 0);
	fake_smtp_free(fake);
}

/* prober_free() with probes running and queued: no callback, nothing left
 * (valgrind tells). */
static void
test_free_busy(void **state)
{
	struct prober_settings s = {.workers = 2, .concurrency = 2, .queue_max = 100, .rate = 1000};
	struct fake_smtp *fake = fake_smtp_start("127.0.0.1", silent_script);
	struct run run;
	char host[32];

	assert_non_null(fake);
	run_init(&run, 5000, &s);
	for (int i = 0; i < 5; i++) {
		snprintf(host, sizeof(host), "h%d.test", i);
		assert_int_equal(submit(&run, "d.test", host, "127.0.0.1", fake_smtp_port(fake)), PROBER_QUEUED);
	}
	run_for(&run, 100);
	assert_stats(&run, 5, 2, 0, 0, 3, 2);
	run_free(&run);
	assert_int_equal(run.ncalls, 0);
	fake_smtp_stop(fake);
	assert_int_equal(fake_smtp_connections(fake), 2);
	fake_smtp_free(fake);
}

/* prober_free() with results posted that the owner's loop has not taken. */
static void
test_free_unclaimed(void **state)
{
	struct prober_settings s = {.workers = 2, .concurrency = 4, .queue_max = 100, .rate = 1000};
	struct run run;

	run_init(&run, 5000, &s);
	assert_int_equal(submit(&run, "d.test", "a.test", "127.0.0.2", closed_port), PROBER_QUEUED);
	assert_int_equal(submit(&run, "d.test", "b.test", "127.0.0.3", closed_port), PROBER_QUEUED);
	usleep(300 * 1000);	/* refused at once: both wait for the owner */
	run_free(&run);
	assert_int_equal(run.ncalls, 0);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_once),
		cmocka_unit_test(test_joined),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_burst),
		cmocka_unit_test(test_host_interval),
		cmocka_unit_test(test_concurrency),
		cmocka_unit_test(test_set_limits),
		cmocka_unit_test(test_free_busy),
		cmocka_unit_test(test_free_unclaimed),
	};
	struct table t = {0};
	int fd, fd2;

	owner = pthread_self();
	if (!(closed_port = fake_closed_port(&fd)) || !(closed_port2 = fake_closed_port(&fd2))) {
		fprintf(stderr, "cannot reserve a closed port\n");
		return 1;
	}
	TABLE_TESTS(&t, tests);
	int rc = table_run(&t, "prober");
	close(fd);
	close(fd2);
	return rc;
}
