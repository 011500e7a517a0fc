/*
 * Unit tests: when the daemon probes, and what (lib/probe/probesched.h).
 * Each row is a script against one scheduler on a fake clock: resolutions,
 * results, demands, Postfix asking, the timer; and what the scheduler did
 * in between (probes submitted, refusals reported, results reused),
 * checked and cleared at each expectation step.
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

#include "util/buf.h"
#include "probe/probesched.h"
#include "table.h"

#define HOUR_S 3600
/* The clocks start here, so that 0 means "never" nowhere by accident. */
#define MONO_START_MS 1000000
#define UNIX_START 1700000000

enum op {
	END,
	AT,		/* n: seconds since the start */
	RESOLVE,	/* a: next hop; b: "host=addr,addr" (NULL: no address); n: 1 for TEMP */
	RESULT,		/* a: next hop; b: "host=addr": a probe's result recorded now */
	ASKED,		/* a: Postfix asks for the next hop now */
	DEMAND,		/* a: next hop; n: the result expected (0 or -1) */
	TICK,		/* the re-probe timer */
	SUBMITS,	/* a: "dest/addr" each, '!' after an urgent one */
	REFUSED,	/* a: "dest/addr" each */
	REUSED,		/* a: the destinations, each time */
	HISTORY,	/* a: next hop; n: addresses it has results for */
};

struct step {
	enum op op;
	const char *a, *b;
	long n;
};

struct sched_case {
	const char *name;
	bool allow_private;
	unsigned limit;
	struct step steps[16];
};

static const char *
sched_case_name(const void *row)
{
	return ((const struct sched_case *)row)->name;
}

#define MX "mx.p.test=192.0.3.1"
#define MX2 "mx.p.test=192.0.3.1,192.0.3.2"

static const struct sched_case sched_cases[] = {
	{"a first resolution probes every planned address", false, 5, {
		{RESOLVE, "a.test", MX2}, {SUBMITS, "a.test/192.0.3.1 a.test/192.0.3.2"}, {REFUSED, ""}, {REUSED, ""},
	}},
	{"resolved again within the interval: not probed", false, 5, {
		{RESOLVE, "a.test", MX}, {SUBMITS, "a.test/192.0.3.1"},
		{AT, .n = HOUR_S - 1}, {RESOLVE, "a.test", MX}, {SUBMITS, ""},
	}},
	{"resolved again an interval later: probed", false, 5, {
		{RESOLVE, "a.test", MX}, {SUBMITS, "a.test/192.0.3.1"},
		{AT, .n = HOUR_S}, {RESOLVE, "a.test", MX}, {SUBMITS, "a.test/192.0.3.1"},
	}},
	{"a TEMP answer plans nothing", false, 5, {
		{RESOLVE, "a.test", MX, 1}, {SUBMITS, ""}, {TICK}, {SUBMITS, ""},
	}},
	{"refusals are reported at a resolution, not at re-probes", false, 5, {
		{RESOLVE, "a.test", "mx.a.test=127.0.0.1,192.0.3.1"}, {REFUSED, "a.test/127.0.0.1"},
		{SUBMITS, "a.test/192.0.3.1"},
		{AT, .n = 100}, {ASKED, "a.test"}, {AT, .n = HOUR_S}, {TICK},
		{SUBMITS, "a.test/192.0.3.1"}, {REFUSED, ""},
	}},
	{"this host's own address is refused", false, 5, {
		{RESOLVE, "a.test", "mx.a.test=192.0.3.25,192.0.3.1"}, {REFUSED, "a.test/192.0.3.25"},
		{SUBMITS, "a.test/192.0.3.1"},
	}},
	{"probe_allow_private: special and own addresses probed", true, 5, {
		{RESOLVE, "a.test", "mx.a.test=127.0.0.1,192.0.3.25"}, {REFUSED, ""},
		{SUBMITS, "a.test/127.0.0.1 a.test/192.0.3.25"},
	}},
	{"past the address limit: skipped, not refused", false, 1, {
		{RESOLVE, "a.test", MX2}, {SUBMITS, "a.test/192.0.3.1"}, {REFUSED, ""},
	}},
	{"re-probed while Postfix keeps asking", false, 5, {
		{RESOLVE, "a.test", MX}, {SUBMITS, "a.test/192.0.3.1"},
		{AT, .n = 10}, {ASKED, "a.test"}, {AT, .n = HOUR_S - 1}, {TICK}, {SUBMITS, ""},
		{AT, .n = HOUR_S}, {TICK}, {SUBMITS, "a.test/192.0.3.1"},
		{TICK}, {SUBMITS, ""},
	}},
	{"not re-probed when Postfix never asked", false, 5, {
		{RESOLVE, "a.test", MX}, {SUBMITS, "a.test/192.0.3.1"},
		{AT, .n = 2 * HOUR_S}, {TICK}, {SUBMITS, ""},
	}},
	{"not re-probed when Postfix last asked an interval ago", false, 5, {
		{RESOLVE, "a.test", MX}, {ASKED, "a.test"}, {SUBMITS, "a.test/192.0.3.1"},
		{AT, .n = HOUR_S + 1}, {TICK}, {SUBMITS, ""},
	}},
	{"a shared host's recent result is reused", false, 5, {
		{RESOLVE, "a.test", MX}, {SUBMITS, "a.test/192.0.3.1"}, {AT, .n = 10}, {RESULT, "a.test", MX},
		{AT, .n = HOUR_S + 9}, {RESOLVE, "b.test", MX}, {SUBMITS, ""}, {REUSED, "b.test"}, {HISTORY, "b.test", .n = 1},
	}},
	{"a result as old as the interval is not reused", false, 5, {
		{RESOLVE, "a.test", MX}, {RESULT, "a.test", MX}, {SUBMITS, "a.test/192.0.3.1"},
		{AT, .n = HOUR_S}, {RESOLVE, "b.test", MX}, {SUBMITS, "b.test/192.0.3.1"}, {REUSED, ""},
		{HISTORY, "b.test", .n = 0},
	}},
	{"only the address with a result is reused", false, 5, {
		{RESOLVE, "a.test", MX}, {RESULT, "a.test", MX}, {SUBMITS, "a.test/192.0.3.1"},
		{RESOLVE, "b.test", MX2}, {SUBMITS, "b.test/192.0.3.2"}, {REUSED, "b.test"},
	}},
	{"a demand probes at once, urgent, reusing nothing", false, 5, {
		{RESOLVE, "a.test", MX}, {RESULT, "a.test", MX}, {SUBMITS, "a.test/192.0.3.1"},
		{DEMAND, "a.test"}, {AT, .n = 10}, {RESOLVE, "a.test", MX}, {SUBMITS, "a.test/192.0.3.1!"}, {REUSED, ""},
		{AT, .n = 20}, {RESOLVE, "a.test", MX}, {SUBMITS, ""},
	}},
	{"a demand waits for a resolution with addresses", false, 5, {
		{RESOLVE, "a.test", MX}, {SUBMITS, "a.test/192.0.3.1"},
		{DEMAND, "a.test"}, {RESOLVE, "a.test", NULL}, {SUBMITS, ""},
		{RESOLVE, "a.test", MX}, {SUBMITS, "a.test/192.0.3.1!"},
	}},
	{"a demand is for its destination only", false, 5, {
		{RESOLVE, "a.test", MX}, {RESOLVE, "b.test", MX}, {SUBMITS, "a.test/192.0.3.1 b.test/192.0.3.1"},
		{DEMAND, "b.test"}, {RESOLVE, "a.test", MX}, {SUBMITS, ""}, {RESOLVE, "b.test", MX},
		{SUBMITS, "b.test/192.0.3.1!"},
	}},
};

/* ---- the fake world ---------------------------------------------------- */

struct world {
	uint64_t now_ms;
	int64_t unix_s;
	struct { char dest[64]; uint64_t at; } asked[8];
	size_t nasked;
	struct netaddr own[1];
	int own_asked;
	struct buf submits, refused, reused;
};

static uint64_t
w_now_ms(void *arg)
{
	return ((struct world *)arg)->now_ms;
}

static int64_t
w_unix_s(void *arg)
{
	return ((struct world *)arg)->unix_s;
}

static uint64_t
w_last_asked(void *arg, const char *dest)
{
	struct world *w = arg;

	for (size_t i = 0; i < w->nasked; i++)
		if (strcmp(w->asked[i].dest, dest) == 0)
			return w->asked[i].at;
	return 0;
}

static const struct netaddr *
w_own(void *arg, size_t *n)
{
	struct world *w = arg;

	w->own_asked++;
	*n = 1;
	return w->own;
}

static void
add_word(struct buf *b, const char *dest, const struct netaddr *a, const char *mark)
{
	char addr[64];

	netaddr_format(a, addr, sizeof(addr));
	buf_printf(b, "%s%s/%s%s", buf_size(b) ? " " : "", dest, addr, mark);
}

static void
w_submit(void *arg, const char *dest, const struct probe_target *t, bool urgent)
{
	add_word(&((struct world *)arg)->submits, dest, &t->address, urgent ? "!" : "");
}

static void
w_refused(void *arg, const char *dest, const struct probeplan_item *it)
{
	add_word(&((struct world *)arg)->refused, dest, &it->target.address, "");
}

static void
w_reused(void *arg, const char *dest)
{
	struct buf *b = &((struct world *)arg)->reused;

	buf_printf(b, "%s%s", buf_size(b) ? " " : "", dest);
}

/* A resolution of key, OK (or TEMP), with one host "name=addr,addr". */
static void
resolve(struct probesched *s, const char *key, const char *host, bool temp)
{
	struct resolve_host h;
	struct resolve_result r;
	const char *why;

	memset(&r, 0, sizeof(r));
	memset(&h, 0, sizeof(h));
	assert_int_equal(nexthop_parse(key, strlen(key), &r.nexthop, &why), 0);
	r.answer.result = temp ? POLICY_TEMP : POLICY_OK;
	r.hosts = &h;
	r.nhosts = 1;
	snprintf(h.name, sizeof(h.name), "mx.%s", key);
	if (host) {
		const char *eq = strchr(host, '=');
		snprintf(h.name, sizeof(h.name), "%.*s", (int)(eq - host), host);
		for (const char *p = eq + 1; *p;) {
			char addr[64];
			size_t len = strcspn(p, ",");
			snprintf(addr, sizeof(addr), "%.*s", (int)len, p);
			assert_int_equal(netaddr_parse(addr, &h.addresses[h.naddresses++]), 0);
			p += len + (p[len] == ',');
		}
	}
	probesched_resolved(s, &r);
}

static void
record(struct probestate *ps, const char *dest, const char *host, int64_t unix_s)
{
	const char *eq = strchr(host, '=');
	struct probe_target t;
	struct probe_result r = {.class = PROBE_DANE_VERIFIED};

	memset(&t, 0, sizeof(t));
	snprintf(t.host, sizeof(t.host), "%.*s", (int)(eq - host), host);
	assert_int_equal(netaddr_parse(eq + 1, &t.address), 0);
	t.port = 25;
	assert_non_null(probestate_record(ps, dest, &t, &r, unix_s));
}

static void
count_addr(void *arg, const struct probestate_addr *a)
{
	(*(long *)arg)++;
}

static void
test_sched(void **state)
{
	const struct sched_case *c = *state;
	struct world w = {.now_ms = MONO_START_MS, .unix_s = UNIX_START};
	struct probesched_ops ops = {
		.now_ms = w_now_ms, .unix_s = w_unix_s, .last_asked = w_last_asked, .own = w_own,
		.submit = w_submit, .refused = w_refused, .reused = w_reused, .arg = &w,
	};
	struct probesched_settings settings = {
		.interval_ms = HOUR_S * 1000, .allow_private = c->allow_private, .address_limit = c->limit,
	};
	struct probestate *ps = probestate_create(100);
	struct probesched *s = probesched_create(ps, &ops, &settings);
	long n;

	assert_non_null(s);
	assert_int_equal(netaddr_parse("192.0.3.25", &w.own[0]), 0);
	buf_init(&w.submits);
	buf_init(&w.refused);
	buf_init(&w.reused);
	for (const struct step *st = c->steps; st->op != END; st++) {
		switch (st->op) {
		case END:
			break;
		case AT:
			w.now_ms = MONO_START_MS + (uint64_t)st->n * 1000;
			w.unix_s = UNIX_START + st->n;
			break;
		case RESOLVE:
			resolve(s, st->a, st->b, st->n == 1);
			break;
		case RESULT:
			record(ps, st->a, st->b, w.unix_s);
			break;
		case ASKED:
			snprintf(w.asked[w.nasked].dest, sizeof(w.asked[0].dest), "%s", st->a);
			w.asked[w.nasked++].at = w.now_ms;
			break;
		case DEMAND:
			assert_int_equal(probesched_demand(s, st->a), st->n);
			break;
		case TICK:
			probesched_tick(s);
			break;
		case SUBMITS:
			TABLE_EXPECT_TEXT(&w.submits, st->a);
			break;
		case REFUSED:
			TABLE_EXPECT_TEXT(&w.refused, st->a);
			break;
		case REUSED:
			TABLE_EXPECT_TEXT(&w.reused, st->a);
			break;
		case HISTORY:
			n = 0;
			probestate_each_addr(ps, st->a, count_addr, &n);
			assert_int_equal(n, st->n);
			break;
		}
	}
	/* This host's addresses are asked for only when they can matter. */
	if (c->allow_private)
		assert_int_equal(w.own_asked, 0);
	probesched_free(s);
	probestate_free(ps);
	buf_free(&w.submits);
	buf_free(&w.refused);
	buf_free(&w.reused);
}

/* Demands: each destination once, at most PROBESCHED_MAX_DEMANDS. */
static void
test_demand_limit(void **state)
{
	struct world w = {.now_ms = MONO_START_MS, .unix_s = UNIX_START};
	struct probesched_ops ops = {
		.now_ms = w_now_ms, .unix_s = w_unix_s, .last_asked = w_last_asked, .own = w_own,
		.submit = w_submit, .refused = w_refused, .reused = w_reused, .arg = &w,
	};
	struct probesched_settings settings = {.interval_ms = HOUR_S * 1000, .address_limit = 5};
	struct probestate *ps = probestate_create(100);
	struct probesched *s = probesched_create(ps, &ops, &settings);
	char dest[32];

	buf_init(&w.submits);
	buf_init(&w.refused);
	buf_init(&w.reused);
	for (int i = 0; i < PROBESCHED_MAX_DEMANDS; i++) {
		snprintf(dest, sizeof(dest), "d%d.test", i);
		assert_int_equal(probesched_demand(s, dest), 0);
		assert_int_equal(probesched_demand(s, "d0.test"), 0);	/* again: still once */
	}
	assert_int_equal(probesched_demand(s, "one-more.test"), -1);
	/* Taking one makes room for another. */
	resolve(s, "d7.test", MX, false);
	TABLE_EXPECT_TEXT(&w.submits, "d7.test/192.0.3.1!");
	assert_int_equal(probesched_demand(s, "one-more.test"), 0);
	probesched_free(s);
	probestate_free(ps);
	buf_free(&w.submits);
	buf_free(&w.refused);
	buf_free(&w.reused);
}

struct tick_case {
	const char *name;
	uint64_t interval_ms, want_ms;
};

static const char *
tick_case_name(const void *row)
{
	return ((const struct tick_case *)row)->name;
}

static const struct tick_case tick_cases[] = {
	{"tick: an hour's interval, once a minute", 3600000, 60000},
	{"tick: four minutes, once a minute", 240000, 60000},
	{"tick: two minutes, every 30 s", 120000, 30000},
	{"tick: 10 s, every 2.5 s", 10000, 2500},
};

static void
test_tick(void **state)
{
	const struct tick_case *c = *state;

	assert_int_equal(probesched_tick_ms(c->interval_ms), c->want_ms);
}

int
main(void)
{
	struct table t = {0};
	static const struct CMUnitTest extra[] = {
		cmocka_unit_test(test_demand_limit),
	};

	TABLE_ADD(&t, sched_cases, sched_case, test_sched);
	TABLE_ADD(&t, tick_cases, tick_case, test_tick);
	TABLE_TESTS(&t, extra);
	return table_run(&t, "probesched");
}
