/*
 * Unit tests: probes shared by a fleet (issue 16), with a fake fleet that
 * answers when the test says, fake clocks, and a pool and a record that
 * only write down what they are asked. A shared result saves the probe;
 * the lease decides who probes; a held lease is waited for and then its
 * holder's result taken, or the lease claimed again when the holder died;
 * wherever Redis cannot say the relay probes at once; destinations of one
 * target share one operation; what this relay probes is shared; and
 * nothing is left running (cancelled) when the module goes.
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

#include "probe/probefleet.h"
#include "probe/probeshare.h"
#include "table.h"

#define NOW_S 1800000000
#define INTERVAL_MS 3600000
#define LEASE_S 30
#define NAME_A "mx.a.test|192.0.2.1|25"
#define NAME_B "mx.b.test|192.0.2.2|25"
#define MAX_SEEN 16

/* ---- the fake fleet ------------------------------------------------------ */

struct fleet_op {
	bool claim;		/* else a get */
	enum fleet_kind kind;
	char name[PROBESHARE_NAME_MAX];
	int64_t life_s;
	fleet_got *got;
	fleet_claimed *claimed;
	void *arg;
	bool done, cancelled;
};

struct fleet {
	bool unusable;			/* gets and claims do not start */
	struct fleet_op ops[MAX_SEEN];
	size_t nops;
	struct {
		enum fleet_kind kind;
		char name[PROBESHARE_NAME_MAX];
		int64_t expires;
		char payload[PROBESHARE_PAYLOAD_MAX + 1];
	} puts[MAX_SEEN];
	size_t nputs;
	size_t cancels;
};

static struct fleet_op *
start(struct fleet *f, bool is_claim, enum fleet_kind kind, const char *name, int64_t life_s)
{
	if (f->unusable)
		return NULL;
	assert_true(f->nops < MAX_SEEN);
	struct fleet_op *op = &f->ops[f->nops++];
	memset(op, 0, sizeof(*op));
	op->claim = is_claim;
	op->kind = kind;
	snprintf(op->name, sizeof(op->name), "%s", name);
	op->life_s = life_s;
	return op;
}

static struct fleet_op *
fake_get(struct fleet *f, enum fleet_kind kind, const char *name, int64_t max_life_s, fleet_got *cb, void *arg)
{
	struct fleet_op *op = start(f, false, kind, name, max_life_s);

	if (op) {
		op->got = cb;
		op->arg = arg;
	}
	return op;
}

static struct fleet_op *
fake_claim(struct fleet *f, enum fleet_kind kind, const char *name, int64_t life_s, fleet_claimed *cb, void *arg)
{
	struct fleet_op *op = start(f, true, kind, name, life_s);

	if (op) {
		op->claimed = cb;
		op->arg = arg;
	}
	return op;
}

static void
fake_put(struct fleet *f, enum fleet_kind kind, const char *name, int64_t expires, const void *payload, size_t len)
{
	assert_true(f->nputs < MAX_SEEN);
	assert_true(len <= PROBESHARE_PAYLOAD_MAX);
	f->puts[f->nputs].kind = kind;
	snprintf(f->puts[f->nputs].name, sizeof(f->puts[0].name), "%s", name);
	f->puts[f->nputs].expires = expires;
	memcpy(f->puts[f->nputs].payload, payload, len);
	f->puts[f->nputs].payload[len] = '\0';
	f->nputs++;
}

static void
fake_cancel(struct fleet_op *op)
{
	assert_false(op->done);
	assert_false(op->cancelled);
	op->cancelled = true;
}

static const struct probefleet_client client = {
	.get = fake_get, .put = fake_put, .claim = fake_claim, .cancel = fake_cancel,
};

/* ---- the relay around it --------------------------------------------------- */

struct relay {
	struct fleet fleet;
	struct probefleet *pf;
	uint64_t now_ms;
	int64_t unix_s;
	bool pool_full;
	char submitted[MAX_SEEN][64];	/* "DEST NAME" */
	size_t nsubmitted;
	int first_tlsa_byte;		/* of the latest target submitted; -1: no TLSA */
	char recorded[MAX_SEEN][64];	/* "DEST class time" */
	size_t nrecorded, records;	/* lines, calls */
	size_t rejected;
	uint64_t wake_in;		/* the latest request; 0: none */
};

static uint64_t
now_ms(void *arg)
{
	return ((struct relay *)arg)->now_ms;
}

static int64_t
unix_s(void *arg)
{
	return ((struct relay *)arg)->unix_s;
}

static bool
submit(void *arg, const char *dest, const struct probe_target *t)
{
	struct relay *r = arg;
	char name[PROBESHARE_NAME_MAX];

	assert_true(r->nsubmitted < MAX_SEEN);
	assert_int_equal(probeshare_name(t, name, sizeof(name)), 0);
	snprintf(r->submitted[r->nsubmitted++], sizeof(r->submitted[0]), "%s %s", dest, name);
	r->first_tlsa_byte = t->ntlsa ? t->tlsa[0].data[0] : -1;
	return !r->pool_full;
}

static void
record(void *arg, const char *const *dests, size_t ndests, const struct probe_target *t,
    const struct probe_result *res, int64_t when)
{
	struct relay *r = arg;

	r->records++;
	for (size_t i = 0; i < ndests; i++) {
		assert_true(r->nrecorded < MAX_SEEN);
		snprintf(r->recorded[r->nrecorded++], sizeof(r->recorded[0]), "%s %s %lld", dests[i],
		    probe_class_name(res->class), (long long)when);
	}
}

static void
rejected(void *arg, const char *name, const char *why)
{
	((struct relay *)arg)->rejected++;
}

static void
wake_in(void *arg, uint64_t delay_ms)
{
	assert_true(delay_ms > 0);
	((struct relay *)arg)->wake_in = delay_ms;
}

static struct probe_target
target(const char *host, const char *addr)
{
	static const unsigned char data[32] = {1, 2, 3};
	static const struct probe_tlsa tlsa = {3, 1, 1, sizeof(data), (unsigned char *)data};
	struct probe_target t = {.port = 25, .ntlsa = 1, .tlsa = &tlsa};

	snprintf(t.host, sizeof(t.host), "%s", host);
	assert_int_equal(netaddr_parse(addr, &t.address), 0);
	return t;
}

#define TARGET_A target("mx.a.test", "192.0.2.1")
#define TARGET_B target("mx.b.test", "192.0.2.2")

static int
setup(void **state)
{
	struct relay *r = calloc(1, sizeof(*r));
	struct probefleet_ops ops = {
		.now_ms = now_ms, .unix_s = unix_s, .submit = submit, .record = record, .rejected = rejected,
		.wake_in = wake_in, .arg = r,
	};
	struct probefleet_settings s = {.interval_ms = INTERVAL_MS, .lease_s = LEASE_S, .max_pending = 4};

	if (!r)
		return -1;
	r->now_ms = 5000;
	r->unix_s = NOW_S;
	if (!(r->pf = probefleet_create(&ops, &s)))
		return -1;
	probefleet_set_fleet(r->pf, &r->fleet, &client);
	*state = r;
	return 0;
}

static int
teardown(void **state)
{
	struct relay *r = *state;

	probefleet_free(r->pf);
	/* Every operation ended: answered, or cancelled. */
	for (size_t i = 0; i < r->fleet.nops; i++)
		if (!r->fleet.ops[i].done && !r->fleet.ops[i].cancelled)
			return -1;
	free(r);
	return 0;
}

/* The latest operation: of this kind, for this name, still open. */
static struct fleet_op *
last_op(struct relay *r, bool is_claim, const char *name)
{
	assert_true(r->fleet.nops > 0);
	struct fleet_op *op = &r->fleet.ops[r->fleet.nops - 1];
	assert_int_equal(op->claim, is_claim);
	assert_int_equal(op->kind, is_claim ? FLEET_PROBE_LEASE : FLEET_PROBE);
	assert_string_equal(op->name, name);
	assert_false(op->done);
	assert_false(op->cancelled);
	return op;
}

static void
answer_get(struct relay *r, const char *name, enum fleet_found found, const char *payload)
{
	struct fleet_op *op = last_op(r, false, name);

	op->done = true;
	op->got(op->arg, found, payload, payload ? strlen(payload) : 0, NOW_S + 100);
}

static void
answer_claim(struct relay *r, const char *name, enum fleet_claim claim)
{
	struct fleet_op *op = last_op(r, true, name);

	op->done = true;
	op->claimed(op->arg, claim, claim == FLEET_CLAIM_HELD ? "relay-b" : NULL);
}

/* What another relay shares for t, probed at when. */
static const char *
shared(const struct probe_target *t, enum probe_class class, int64_t when)
{
	static char text[PROBESHARE_PAYLOAD_MAX + 1];
	static struct probe_result res;
	struct buf b;

	memset(&res, 0, sizeof(res));
	res.class = class;
	buf_init(&b);
	assert_int_equal(probeshare_encode(t, &res, when, &b), 0);
	snprintf(text, sizeof(text), "%.*s", (int)buf_size(&b), buf_ptr(&b));
	buf_free(&b);
	return text;
}

static void
assert_stats(struct relay *r, uint64_t hits, uint64_t taken, uint64_t held, uint64_t alone, size_t pending)
{
	struct probefleet_stats st;

	probefleet_stats(r->pf, &st);
	assert_int_equal(st.shared_hits, hits);
	assert_int_equal(st.lease_taken, taken);
	assert_int_equal(st.lease_held, held);
	assert_int_equal(st.fleet_alone, alone);
	assert_int_equal(st.pending, pending);
}

/* The pool's result for what this relay probed. */
static void
probed(struct relay *r, const char *const *dests, size_t n, const struct probe_target *t, enum probe_class class)
{
	static struct probe_result res;

	memset(&res, 0, sizeof(res));
	res.class = class;
	probefleet_result(r->pf, dests, n, t, &res, r->unix_s);
}

/* ---- the tests ------------------------------------------------------------ */

static void
test_alone_without_fleet(void **state)
{
	struct relay *r = *state;
	struct probe_target t = TARGET_A;
	const char *dests[] = {"a.test"};

	probefleet_set_fleet(r->pf, NULL, NULL);
	probefleet_submit(r->pf, "a.test", &t);
	assert_int_equal(r->nsubmitted, 1);
	assert_string_equal(r->submitted[0], "a.test " NAME_A);
	probed(r, dests, 1, &t, PROBE_VERIFIED);
	assert_int_equal(r->fleet.nops, 0);
	assert_int_equal(r->fleet.nputs, 0);
	assert_stats(r, 0, 0, 0, 0, 0);
}

/* Another relay probed it a minute ago: recorded, not probed. */
static void
test_shared_hit(void **state)
{
	struct relay *r = *state;
	struct probe_target t = TARGET_A;

	probefleet_submit(r->pf, "a.test", &t);
	assert_int_equal(r->nsubmitted, 0);
	struct fleet_op *op = last_op(r, false, NAME_A);
	assert_true(op->life_s >= INTERVAL_MS / 1000);
	assert_true(op->life_s <= INTERVAL_MS / 1000 + 60);
	answer_get(r, NAME_A, FLEET_FOUND, shared(&t, PROBE_DANE_VERIFIED, NOW_S - 60));
	assert_int_equal(r->nsubmitted, 0);
	assert_int_equal(r->nrecorded, 1);
	assert_string_equal(r->recorded[0], "a.test dane-verified 1799999940");
	assert_int_equal(r->fleet.nops, 1);	/* no claim */
	assert_stats(r, 1, 0, 0, 0, 0);
}

/* Nothing shared: this relay takes the lease, probes, and shares. */
static void
test_lease_taken_and_shared(void **state)
{
	struct relay *r = *state;
	struct probe_target t = TARGET_A;
	const char *dests[] = {"a.test"};

	probefleet_submit(r->pf, "a.test", &t);
	answer_get(r, NAME_A, FLEET_ABSENT, NULL);
	struct fleet_op *op = last_op(r, true, NAME_A);
	assert_int_equal(op->life_s, LEASE_S);
	assert_int_equal(r->nsubmitted, 0);
	answer_claim(r, NAME_A, FLEET_CLAIM_OURS);
	assert_int_equal(r->nsubmitted, 1);
	assert_string_equal(r->submitted[0], "a.test " NAME_A);
	assert_stats(r, 0, 1, 0, 0, 1);
	r->unix_s += 7;
	probed(r, dests, 1, &t, PROBE_DANE_MISMATCH);
	assert_int_equal(r->fleet.nputs, 1);
	assert_int_equal(r->fleet.puts[0].kind, FLEET_PROBE);
	assert_string_equal(r->fleet.puts[0].name, NAME_A);
	assert_int_equal(r->fleet.puts[0].expires, NOW_S + 7 + INTERVAL_MS / 1000);
	/* What another relay reads back. */
	static struct probe_result back;
	int64_t when;
	const char *why = "";
	const char *p = r->fleet.puts[0].payload;
	assert_int_equal(probeshare_decode(p, strlen(p), &t, r->unix_s, &back, &when, &why), 0);
	assert_int_equal(back.class, PROBE_DANE_MISMATCH);
	assert_int_equal(when, NOW_S + 7);
	assert_int_equal(r->nrecorded, 0);	/* the caller records its own */
	assert_stats(r, 0, 1, 0, 0, 0);
}

/* A shared result too old, or one that does not decode: the lease. */
static void
test_stale_result(void **state)
{
	struct relay *r = *state;
	struct probe_target t = TARGET_A;

	probefleet_submit(r->pf, "a.test", &t);
	answer_get(r, NAME_A, FLEET_FOUND, shared(&t, PROBE_VERIFIED, NOW_S - INTERVAL_MS / 1000));
	assert_int_equal(r->nrecorded, 0);
	answer_claim(r, NAME_A, FLEET_CLAIM_OURS);
	assert_int_equal(r->nsubmitted, 1);
	assert_stats(r, 0, 1, 0, 0, 1);
}

static void
test_undecodable_result(void **state)
{
	struct relay *r = *state;
	struct probe_target t = TARGET_A, b = TARGET_B;
	struct probefleet_stats st;

	probefleet_submit(r->pf, "a.test", &t);
	/* Sealed by the fleet's key, but for another target. */
	answer_get(r, NAME_A, FLEET_FOUND, shared(&b, PROBE_VERIFIED, NOW_S));
	assert_int_equal(r->nrecorded, 0);
	assert_int_equal(r->rejected, 1);
	probefleet_stats(r->pf, &st);
	assert_int_equal(st.shared_rejected, 1);
	answer_claim(r, NAME_A, FLEET_CLAIM_OURS);
	assert_int_equal(r->nsubmitted, 1);
}

/* Another relay probes: wait out its lease, then take its result. */
static void
test_held_then_result(void **state)
{
	struct relay *r = *state;
	struct probe_target t = TARGET_A;

	probefleet_submit(r->pf, "a.test", &t);
	answer_get(r, NAME_A, FLEET_ABSENT, NULL);
	answer_claim(r, NAME_A, FLEET_CLAIM_HELD);
	assert_int_equal(r->nsubmitted, 0);
	assert_int_equal(r->wake_in, LEASE_S * 1000 + PROBEFLEET_WAIT_MARGIN_MS);
	assert_stats(r, 0, 0, 1, 0, 1);
	/* Woken early: nothing yet. */
	size_t ops = r->fleet.nops;
	r->now_ms += 1000;
	r->wake_in = 0;
	probefleet_wake(r->pf);
	assert_int_equal(r->fleet.nops, ops);
	assert_int_equal(r->wake_in, (LEASE_S - 1) * 1000 + PROBEFLEET_WAIT_MARGIN_MS);
	r->now_ms += LEASE_S * 1000;
	r->unix_s += LEASE_S + 1;
	probefleet_wake(r->pf);
	answer_get(r, NAME_A, FLEET_FOUND, shared(&t, PROBE_PLAINTEXT, NOW_S + 5));
	assert_int_equal(r->nsubmitted, 0);
	assert_int_equal(r->nrecorded, 1);
	assert_string_equal(r->recorded[0], "a.test plaintext 1800000005");
	assert_stats(r, 1, 0, 1, 0, 0);
}

/* The holder died: its lease ran out with nothing shared; this relay
 * claims it and probes. */
static void
test_held_holder_died(void **state)
{
	struct relay *r = *state;
	struct probe_target t = TARGET_A;

	probefleet_submit(r->pf, "a.test", &t);
	answer_get(r, NAME_A, FLEET_ABSENT, NULL);
	answer_claim(r, NAME_A, FLEET_CLAIM_HELD);
	r->now_ms += LEASE_S * 1000 + PROBEFLEET_WAIT_MARGIN_MS;
	probefleet_wake(r->pf);
	answer_get(r, NAME_A, FLEET_ABSENT, NULL);
	answer_claim(r, NAME_A, FLEET_CLAIM_OURS);
	assert_int_equal(r->nsubmitted, 1);
	assert_stats(r, 0, 1, 1, 0, 1);
}

/* A relay that keeps claiming and never shares cannot keep this one
 * from probing. */
static void
test_held_too_often(void **state)
{
	struct relay *r = *state;
	struct probe_target t = TARGET_A;

	probefleet_submit(r->pf, "a.test", &t);
	for (int i = 0; i < PROBEFLEET_MAX_WAITS; i++) {
		answer_get(r, NAME_A, FLEET_ABSENT, NULL);
		answer_claim(r, NAME_A, FLEET_CLAIM_HELD);
		assert_int_equal(r->nsubmitted, 0);
		r->now_ms += LEASE_S * 1000 + PROBEFLEET_WAIT_MARGIN_MS;
		probefleet_wake(r->pf);
	}
	answer_get(r, NAME_A, FLEET_ABSENT, NULL);
	answer_claim(r, NAME_A, FLEET_CLAIM_HELD);
	assert_int_equal(r->nsubmitted, 1);
	assert_stats(r, 0, 0, PROBEFLEET_MAX_WAITS + 1, 1, 1);
}

/* Wherever Redis cannot say, this relay probes at once. */
struct alone_case {
	const char *name;
	bool unusable;			/* the get does not start */
	enum fleet_found found;		/* else its answer */
	bool claim_unusable;		/* the claim does not start */
	enum fleet_claim claim;		/* else its answer */
};

static const char *
alone_case_name(const void *row)
{
	return ((const struct alone_case *)row)->name;
}

static const struct alone_case alone_cases[] = {
	{"alone: Redis down, no get", true},
	{"alone: unreachable, then no claim", false, FLEET_UNREACHABLE, true},
	{"alone: absent, then no claim (read-only)", false, FLEET_ABSENT, true},
	{"alone: rejected, then the claim cannot say", false, FLEET_REJECTED, false, FLEET_CLAIM_ALONE},
	{"alone: unreachable, then the claim cannot say", false, FLEET_UNREACHABLE, false, FLEET_CLAIM_ALONE},
};

static void
test_alone(void **state)
{
	const struct alone_case *c = *state;
	struct relay *r;
	struct probe_target t = TARGET_A;

	assert_int_equal(setup((void **)&r), 0);
	r->fleet.unusable = c->unusable;
	probefleet_submit(r->pf, "a.test", &t);
	if (!c->unusable) {
		assert_int_equal(r->nsubmitted, 0);
		r->fleet.unusable = c->claim_unusable;
		answer_get(r, NAME_A, c->found, NULL);
		if (!c->claim_unusable) {
			assert_int_equal(r->nsubmitted, 0);
			answer_claim(r, NAME_A, c->claim);
		}
	}
	assert_int_equal(r->nsubmitted, 1);
	assert_string_equal(r->submitted[0], "a.test " NAME_A);
	assert_stats(r, 0, 0, 0, 1, 1);
	assert_int_equal(teardown((void **)&r), 0);
}

/* Destinations of one MX host: one operation, one record call. */
static void
test_destinations_join(void **state)
{
	struct relay *r = *state;
	struct probe_target t = TARGET_A;

	probefleet_submit(r->pf, "a.test", &t);
	probefleet_submit(r->pf, "b.test", &t);
	probefleet_submit(r->pf, "a.test", &t);
	assert_int_equal(r->fleet.nops, 1);
	answer_get(r, NAME_A, FLEET_FOUND, shared(&t, PROBE_VERIFIED, NOW_S));
	assert_int_equal(r->records, 1);
	assert_int_equal(r->nrecorded, 2);
	assert_string_equal(r->recorded[0], "a.test verified 1800000000");
	assert_string_equal(r->recorded[1], "b.test verified 1800000000");
}

/* Once probed here, another destination joins the probe in the pool. */
static void
test_join_probe(void **state)
{
	struct relay *r = *state;
	struct probe_target t = TARGET_A;
	const char *dests[] = {"a.test", "b.test"};

	probefleet_submit(r->pf, "a.test", &t);
	answer_get(r, NAME_A, FLEET_ABSENT, NULL);
	answer_claim(r, NAME_A, FLEET_CLAIM_OURS);
	probefleet_submit(r->pf, "b.test", &t);
	assert_int_equal(r->fleet.nops, 2);
	assert_int_equal(r->nsubmitted, 2);
	assert_string_equal(r->submitted[1], "b.test " NAME_A);
	probed(r, dests, 2, &t, PROBE_VERIFIED);
	assert_int_equal(r->nrecorded, 0);
	assert_int_equal(r->fleet.nputs, 1);
	/* Out of hand: the next interval asks the fleet again. */
	probefleet_submit(r->pf, "a.test", &t);
	assert_int_equal(r->fleet.nops, 3);
	last_op(r, false, NAME_A);
}

/* A result probed here (an administrator's demand) settles a target
 * still waiting for the fleet. */
static void
test_result_settles_waiting(void **state)
{
	struct relay *r = *state;
	struct probe_target t = TARGET_A;
	const char *dests[] = {"b.test"};

	probefleet_submit(r->pf, "a.test", &t);
	probefleet_submit(r->pf, "b.test", &t);
	answer_get(r, NAME_A, FLEET_ABSENT, NULL);
	struct fleet_op *op = last_op(r, true, NAME_A);
	probed(r, dests, 1, &t, PROBE_TRUSTED);
	assert_true(op->cancelled);
	assert_int_equal(r->nrecorded, 1);	/* b.test has it from the pool */
	assert_string_equal(r->recorded[0], "a.test trusted 1800000000");
	assert_int_equal(r->fleet.nputs, 1);
	assert_stats(r, 0, 0, 0, 0, 0);
}

/* The pool full: no result will come, so the target leaves the hand. */
static void
test_pool_full(void **state)
{
	struct relay *r = *state;
	struct probe_target t = TARGET_A;

	r->pool_full = true;
	probefleet_submit(r->pf, "a.test", &t);
	answer_get(r, NAME_A, FLEET_ABSENT, NULL);
	answer_claim(r, NAME_A, FLEET_CLAIM_OURS);
	assert_int_equal(r->nsubmitted, 1);
	assert_stats(r, 0, 1, 0, 0, 0);
	r->pool_full = false;
	probefleet_submit(r->pf, "a.test", &t);
	last_op(r, false, NAME_A);
}

/* No more in hand than max_pending: past that, probed at once. */
static void
test_bounded(void **state)
{
	struct relay *r = *state;
	char host[32];

	for (int i = 0; i < 5; i++) {
		snprintf(host, sizeof(host), "mx%d.test", i);
		struct probe_target t = target(host, "192.0.2.9");
		probefleet_submit(r->pf, "a.test", &t);
	}
	assert_int_equal(r->fleet.nops, 4);
	assert_int_equal(r->nsubmitted, 1);
	assert_string_equal(r->submitted[0], "a.test mx4.test|192.0.2.9|25");
	assert_stats(r, 0, 0, 0, 1, 4);
}

/* The target is copied whole, TLSA records included: the plan it came
 * from goes away once the scheduler has submitted. */
static void
test_target_copied(void **state)
{
	struct relay *r = *state;
	unsigned char data[32] = {9, 9, 9};
	struct probe_tlsa tlsa = {3, 1, 1, sizeof(data), data};
	struct probe_target t = target("mx.a.test", "192.0.2.1");

	t.tlsa = &tlsa;
	probefleet_submit(r->pf, "a.test", &t);
	memset(data, 0, sizeof(data));
	memset(&t, 0, sizeof(t));
	answer_get(r, NAME_A, FLEET_ABSENT, NULL);
	answer_claim(r, NAME_A, FLEET_CLAIM_HELD);
	r->now_ms += LEASE_S * 1000 + PROBEFLEET_WAIT_MARGIN_MS;
	probefleet_wake(r->pf);
	answer_get(r, NAME_A, FLEET_ABSENT, NULL);
	answer_claim(r, NAME_A, FLEET_CLAIM_OURS);
	assert_int_equal(r->nsubmitted, 1);
	assert_string_equal(r->submitted[0], "a.test " NAME_A);
	assert_int_equal(r->first_tlsa_byte, 9);
}

/* Two targets waiting: the timer follows the soonest. */
static void
test_two_waits(void **state)
{
	struct relay *r = *state;
	struct probe_target a = TARGET_A, b = TARGET_B;

	probefleet_submit(r->pf, "a.test", &a);
	answer_get(r, NAME_A, FLEET_ABSENT, NULL);
	answer_claim(r, NAME_A, FLEET_CLAIM_HELD);
	r->now_ms += 10000;
	probefleet_submit(r->pf, "b.test", &b);
	answer_get(r, NAME_B, FLEET_ABSENT, NULL);
	answer_claim(r, NAME_B, FLEET_CLAIM_HELD);
	assert_int_equal(r->wake_in, (LEASE_S - 10) * 1000 + PROBEFLEET_WAIT_MARGIN_MS);
	r->now_ms += (LEASE_S - 10) * 1000 + PROBEFLEET_WAIT_MARGIN_MS;
	probefleet_wake(r->pf);
	last_op(r, false, NAME_A);
	assert_int_equal(r->wake_in, 10000);
	r->now_ms += 10000;
	probefleet_wake(r->pf);
	last_op(r, false, NAME_B);
}

/* Leaving the fleet: what waited for it goes to the pool, its operations
 * cancelled. */
static void
test_fleet_removed(void **state)
{
	struct relay *r = *state;
	struct probe_target a = TARGET_A, b = TARGET_B;

	probefleet_submit(r->pf, "a.test", &a);
	probefleet_submit(r->pf, "b.test", &b);
	answer_get(r, NAME_B, FLEET_ABSENT, NULL);
	answer_claim(r, NAME_B, FLEET_CLAIM_HELD);
	probefleet_set_fleet(r->pf, NULL, NULL);
	assert_true(r->fleet.ops[0].cancelled);
	assert_int_equal(r->nsubmitted, 2);
	assert_stats(r, 0, 0, 1, 2, 0);
	probefleet_submit(r->pf, "a.test", &a);
	assert_int_equal(r->nsubmitted, 3);
	assert_int_equal(r->fleet.nops, 3);
}

/* Freed with operations under way: cancelled, no callback (teardown
 * checks that every operation ended). */
static void
test_free_cancels(void **state)
{
	struct relay *r = *state;
	struct probe_target a = TARGET_A, b = TARGET_B;

	probefleet_submit(r->pf, "a.test", &a);
	probefleet_submit(r->pf, "b.test", &b);
	answer_get(r, NAME_B, FLEET_ABSENT, NULL);
	probefleet_free(r->pf);
	r->pf = NULL;
	assert_true(r->fleet.ops[0].cancelled);
	assert_true(r->fleet.ops[2].cancelled);
	assert_int_equal(r->nsubmitted, 0);
}

static void
test_lease_length(void **state)
{
	assert_int_equal(probefleet_lease_s(0), PROBEFLEET_LEASE_MIN_S);
	assert_int_equal(probefleet_lease_s(500), PROBEFLEET_LEASE_MIN_S);
	assert_int_equal(probefleet_lease_s(1000), 6);
	assert_int_equal(probefleet_lease_s(10000), 60);
	assert_int_equal(probefleet_lease_s(10001), 61);
}

int
main(void)
{
	struct table t = {0};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_alone_without_fleet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_hit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_taken_and_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_result, setup, teardown),
		cmocka_unit_test_setup_teardown(test_undecodable_result, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_then_result, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_holder_died, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_too_often, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destinations_join, setup, teardown),
		cmocka_unit_test_setup_teardown(test_join_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_result_settles_waiting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_target_copied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fleet_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_cancels, setup, teardown),
		cmocka_unit_test(test_lease_length),
	};

	TABLE_TESTS(&t, tests);
	TABLE_ADD(&t, alone_cases, alone_case, test_alone);
	return table_run(&t, "probefleet");
}
