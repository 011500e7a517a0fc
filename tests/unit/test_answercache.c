/*
 * Unit tests: the answer cache (lib/serve/answercache.h): expiry, LRU eviction,
 * replacement, removal, the bound and its counter, awkward keys.
 *
 * Each scenario is a script of steps against one cache; the clock is the
 * `now` of each step.
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

#include "serve/answercache.h"
#include "table.h"

static const unsigned char seed[16] = "0123456789abcdef";

enum op {
	END,
	PUT,		/* key, now, expires, arg: the rule stored */
	HIT,		/* key, now; arg: the rule expected */
	MISS,		/* key, now */
	REMOVE,		/* key; arg: expected return */
	SET_MAX,	/* arg */
	COUNT,		/* arg */
	EVICTIONS,	/* arg */
};

struct step {
	enum op op;
	const char *key;
	uint64_t now;
	uint64_t expires;
	unsigned arg;
};

struct answercache_case {
	const char *name;
	size_t max;
	struct step steps[24];
};

/* Rules double as distinct payloads. */
#define R1 POLICY_RULE_ALL_DANE
#define R2 POLICY_RULE_MIXED
#define R3 POLICY_RULE_NO_TLSA
#define R4 POLICY_RULE_MX_FAILED

#define P(k, exp, r) {PUT, k, 0, exp, r}
#define PT(k, now, exp, r) {PUT, k, now, exp, r}
#define H(k, now, r) {HIT, k, now, 0, r}
#define M(k, now) {MISS, k, now, 0, 0}
#define RM(k, rc) {REMOVE, k, 0, 0, rc}
#define MAX(n) {SET_MAX, NULL, 0, 0, n}
#define N(n) {COUNT, NULL, 0, 0, n}
#define EV(n) {EVICTIONS, NULL, 0, 0, n}
#define LONG_TTL 1000000

static const struct answercache_case cases[] = {
	{"TTL: a hit one ms before expires_ms", 10, {P("a", 1000, R1), H("a", 999, R1), N(1)}},
	{"TTL: a miss at exactly expires_ms", 10, {P("a", 1000, R1), M("a", 1000), N(0)}},
	{"TTL: a miss after expires_ms", 10, {P("a", 1000, R1), M("a", 5000), N(0)}},
	{"TTL: expired entry is dropped, not evicted", 10,
	    {P("a", 1000, R1), P("b", 2000, R2), M("a", 1500), N(1), H("b", 1500, R2), EV(0)}},
	{"TTL: each entry its own expiry", 10,
	    {PT("a", 100, 200, R1), PT("b", 100, 300, R2), M("a", 250), H("b", 250, R2), M("b", 300)}},
	{"TTL: already expired when stored", 10, {PT("a", 500, 500, R1), M("a", 500), N(0)}},
	{"TTL: a replacement gets the new expiry", 10,
	    {P("a", 1000, R1), PT("a", 900, 5000, R2), H("a", 4999, R2), M("a", 5000)}},
	{"LRU: the oldest goes first", 3,
	    {P("a", LONG_TTL, R1), P("b", LONG_TTL, R2), P("c", LONG_TTL, R3), P("d", LONG_TTL, R4),
		M("a", 1), H("b", 1, R2), H("c", 1, R3), H("d", 1, R4), N(3), EV(1)}},
	{"LRU: a get refreshes recency", 3,
	    {P("a", LONG_TTL, R1), P("b", LONG_TTL, R2), P("c", LONG_TTL, R3), H("a", 1, R1),
		P("d", LONG_TTL, R4), M("b", 1), H("a", 1, R1), H("c", 1, R3), H("d", 1, R4), EV(1)}},
	{"LRU: a miss does not refresh", 2,
	    {P("a", LONG_TTL, R1), P("b", LONG_TTL, R2), M("zzz", 1), P("c", LONG_TTL, R3),
		M("a", 1), H("b", 1, R2), H("c", 1, R3)}},
	{"LRU: eviction order follows gets", 3,
	    {P("a", LONG_TTL, R1), P("b", LONG_TTL, R2), P("c", LONG_TTL, R3),
		H("b", 1, R2), H("a", 1, R1), H("c", 1, R3),
		P("d", LONG_TTL, R4), M("b", 1), N(3),
		P("e", LONG_TTL, R4), M("a", 1), N(3), H("c", 1, R3), EV(2)}},
	{"LRU: a replacement is the newest", 3,
	    {P("a", LONG_TTL, R1), P("b", LONG_TTL, R2), P("c", LONG_TTL, R3), P("a", LONG_TTL, R4),
		P("d", LONG_TTL, R1), M("b", 1), H("a", 1, R4)}},
	{"LRU: a bound of one", 1,
	    {P("a", LONG_TTL, R1), P("b", LONG_TTL, R2), M("a", 1), H("b", 1, R2), N(1), EV(1)}},
	{"replace: keeps the count", 10,
	    {P("a", LONG_TTL, R1), P("b", LONG_TTL, R2), P("a", LONG_TTL, R3), N(2), H("a", 1, R3), EV(0)}},
	{"replace: when full evicts nothing", 2,
	    {P("a", LONG_TTL, R1), P("b", LONG_TTL, R2), P("a", LONG_TTL, R3), P("b", LONG_TTL, R4),
		N(2), EV(0), H("a", 1, R3), H("b", 1, R4)}},
	{"remove: present, then gone", 10,
	    {P("a", LONG_TTL, R1), P("b", LONG_TTL, R2), RM("a", 1), RM("a", 0), N(1), M("a", 1),
		H("b", 1, R2), EV(0)}},
	{"remove: from an empty cache", 10, {RM("a", 0), N(0)}},
	{"remove: the only entry, then reuse", 1,
	    {P("a", LONG_TTL, R1), RM("a", 1), N(0), P("b", LONG_TTL, R2), P("a", LONG_TTL, R3),
		M("b", 1), H("a", 1, R3), EV(1)}},
	{"remove: the newest keeps LRU order", 3,
	    {P("a", LONG_TTL, R1), P("b", LONG_TTL, R2), P("c", LONG_TTL, R3), RM("c", 1),
		P("d", LONG_TTL, R4), P("e", LONG_TTL, R4), M("a", 1), H("b", 1, R2), EV(1)}},
	{"remove: the oldest keeps LRU order", 3,
	    {P("a", LONG_TTL, R1), P("b", LONG_TTL, R2), P("c", LONG_TTL, R3), RM("a", 1),
		P("d", LONG_TTL, R4), P("e", LONG_TTL, R4), M("b", 1), H("c", 1, R3), EV(1)}},
	{"set_max: lowering evicts the oldest", 10,
	    {P("a", LONG_TTL, R1), P("b", LONG_TTL, R2), P("c", LONG_TTL, R3), P("d", LONG_TTL, R4),
		H("a", 1, R1), MAX(2), N(2), EV(2), M("b", 1), M("c", 1), H("a", 1, R1), H("d", 1, R4)}},
	{"set_max: raising keeps everything", 2,
	    {P("a", LONG_TTL, R1), P("b", LONG_TTL, R2), MAX(4), P("c", LONG_TTL, R3), P("d", LONG_TTL, R4),
		N(4), EV(0), H("a", 1, R1)}},
	{"set_max: to the count evicts nothing", 10,
	    {P("a", LONG_TTL, R1), P("b", LONG_TTL, R2), MAX(2), N(2), EV(0), P("c", LONG_TTL, R3),
		M("a", 1), EV(1)}},
	{"evictions: counts only LRU evictions", 2,
	    {P("a", 10, R1), P("b", LONG_TTL, R2), P("c", LONG_TTL, R3), EV(1),
		RM("b", 1), M("c", LONG_TTL), EV(1), P("d", LONG_TTL, R1), P("d", LONG_TTL, R2), EV(1)}},
	{"keys: differing in the last byte", 10,
	    {P("example.org", LONG_TTL, R1), P("example.orh", LONG_TTL, R2), P("example.or", LONG_TTL, R3),
		H("example.org", 1, R1), H("example.orh", 1, R2), H("example.or", 1, R3),
		M("example.org.", 1), N(3)}},
	{"keys: case matters to the cache", 10,
	    {P("Example.org", LONG_TTL, R1), M("example.org", 1), H("Example.org", 1, R1)}},
	{"keys: the empty key", 10, {P("", LONG_TTL, R1), H("", 1, R1), M(" ", 1), RM("", 1), N(0)}},
};

static const char *
answercache_case_name(const void *row)
{
	return ((const struct answercache_case *)row)->name;
}

static struct policy_answer
answer(unsigned rule)
{
	struct policy_answer a = {rule >= POLICY_RULE_ALL_FAILED ? POLICY_TEMP : POLICY_OK, (enum policy_rule)rule};
	return a;
}

static void
test_script(void **state)
{
	const struct answercache_case *c = *state;
	struct answercache *cache = answercache_create(c->max, seed);
	char reason[64];

	assert_non_null(cache);
	for (size_t i = 0; c->steps[i].op != END; i++) {
		const struct step *s = &c->steps[i];
		const struct answercache_entry *e;
		switch (s->op) {
		case PUT:
			snprintf(reason, sizeof(reason), "%s:%u", s->key, s->arg);
			assert_int_equal(answercache_put(cache, ANSWERCACHE_ANSWER, s->key, answer(s->arg), reason, NULL, s->now, s->expires),
			    0);
			break;
		case HIT:
			e = answercache_get(cache, ANSWERCACHE_ANSWER, s->key, s->now);
			if (!e)
				fail_msg("step %zu: '%s' missing", i, s->key);
			if ((unsigned)e->answer.rule != s->arg)
				fail_msg("step %zu: '%s' holds rule %d, want %u", i, s->key, e->answer.rule, s->arg);
			assert_int_equal(e->answer.result, answer(s->arg).result);
			snprintf(reason, sizeof(reason), "%s:%u", s->key, s->arg);
			assert_string_equal(e->reason, reason);
			break;
		case MISS:
			if (answercache_get(cache, ANSWERCACHE_ANSWER, s->key, s->now))
				fail_msg("step %zu: '%s' still there", i, s->key);
			break;
		case REMOVE:
			assert_int_equal(answercache_remove(cache, ANSWERCACHE_ANSWER, s->key), s->arg);
			break;
		case SET_MAX:
			answercache_set_max(cache, s->arg);
			break;
		case COUNT:
			if (answercache_count(cache, ANSWERCACHE_ANSWER) != s->arg)
				fail_msg("step %zu: %zu entries, want %u", i, answercache_count(cache, ANSWERCACHE_ANSWER), s->arg);
			break;
		case EVICTIONS:
			if (answercache_evictions(cache) != s->arg)
				fail_msg("step %zu: %llu evictions, want %u", i,
				    (unsigned long long)answercache_evictions(cache), s->arg);
			break;
		case END:
			break;
		}
	}
	answercache_free(cache);
}

/* The entry carries what was stored; the reason is a copy. */
static void
test_entry_fields(void **state)
{
	struct answercache *c = answercache_create(4, seed);
	char reason[] = "secure MX, every host dane";
	struct policy_answer a = {POLICY_OK, POLICY_RULE_ALL_DANE};

	assert_int_equal(answercache_put(c, ANSWERCACHE_ANSWER, "example.org", a, reason, NULL, 1234, 5678), 0);
	memset(reason, 'X', sizeof(reason) - 1);
	const struct answercache_entry *e = answercache_get(c, ANSWERCACHE_ANSWER, "example.org", 2000);
	assert_non_null(e);
	assert_int_equal(e->answer.result, POLICY_OK);
	assert_int_equal(e->answer.rule, POLICY_RULE_ALL_DANE);
	assert_string_equal(e->reason, "secure MX, every host dane");
	assert_int_equal(e->stored_ms, 1234);
	assert_int_equal(e->expires_ms, 5678);
	/* A NULL reason is stored as "". */
	struct policy_answer t = {POLICY_TEMP, POLICY_RULE_MX_FAILED};
	assert_int_equal(answercache_put(c, ANSWERCACHE_ANSWER, "temp.example", t, NULL, NULL, 0, 10), 0);
	e = answercache_get(c, ANSWERCACHE_ANSWER, "temp.example", 9);
	assert_non_null(e);
	assert_string_equal(e->reason, "");
	assert_int_equal(e->answer.result, POLICY_TEMP);
	answercache_free(c);
}

/* The key is a copy too. */
static void
test_key_copied(void **state)
{
	struct answercache *c = answercache_create(4, seed);
	char key[] = "example.org";
	struct policy_answer a = {POLICY_OK, POLICY_RULE_MIXED};

	assert_int_equal(answercache_put(c, ANSWERCACHE_ANSWER, key, a, "r", NULL, 0, LONG_TTL), 0);
	key[0] = 'X';
	assert_null(answercache_get(c, ANSWERCACHE_ANSWER, key, 1));
	assert_non_null(answercache_get(c, ANSWERCACHE_ANSWER, "example.org", 1));
	answercache_free(c);
}

/* 100 000 inserts into a 1 000-entry cache: never more than 1 000, and the
 * last 1 000 keys are the ones kept. */
static void
test_bound_under_load(void **state)
{
	struct answercache *c = answercache_create(1000, seed);
	char key[32];
	struct policy_answer a = {POLICY_OK, POLICY_RULE_NO_TLSA};

	for (unsigned i = 0; i < 100000; i++) {
		snprintf(key, sizeof(key), "d%u.example", i);
		assert_int_equal(answercache_put(c, ANSWERCACHE_ANSWER, key, a, "load", NULL, i, UINT64_MAX), 0);
		if (answercache_count(c, ANSWERCACHE_ANSWER) > 1000)
			fail_msg("%zu entries after %u inserts", answercache_count(c, ANSWERCACHE_ANSWER), i + 1);
	}
	assert_int_equal(answercache_count(c, ANSWERCACHE_ANSWER), 1000);
	assert_int_equal(answercache_evictions(c), 99000);
	for (unsigned i = 0; i < 100000; i += (i < 98900 ? 97 : 1)) {
		snprintf(key, sizeof(key), "d%u.example", i);
		const struct answercache_entry *e = answercache_get(c, ANSWERCACHE_ANSWER, key, 100000);
		if ((i >= 99000) != (e != NULL))
			fail_msg("key %s: %s", key, e ? "kept" : "gone");
	}
	answercache_free(c);
}

/* Long keys that differ only at the end, or only in length. */
static void
test_long_keys(void **state)
{
	enum { LEN = 10000 };
	struct answercache *c = answercache_create(16, seed);
	char *k1 = malloc(LEN + 1), *k2 = malloc(LEN + 1), *k3 = malloc(LEN + 2);
	struct policy_answer a1 = {POLICY_OK, POLICY_RULE_ALL_DANE}, a2 = {POLICY_OK, POLICY_RULE_MIXED};
	struct policy_answer a3 = {POLICY_OK, POLICY_RULE_NO_TLSA};

	assert_non_null(k1);
	assert_non_null(k2);
	assert_non_null(k3);
	memset(k1, 'a', LEN);
	k1[LEN] = '\0';
	memcpy(k2, k1, LEN + 1);
	k2[LEN - 1] = 'b';
	memcpy(k3, k1, LEN);
	k3[LEN] = 'a';
	k3[LEN + 1] = '\0';
	assert_int_equal(answercache_put(c, ANSWERCACHE_ANSWER, k1, a1, "one", NULL, 0, LONG_TTL), 0);
	assert_int_equal(answercache_put(c, ANSWERCACHE_ANSWER, k2, a2, "two", NULL, 0, LONG_TTL), 0);
	assert_int_equal(answercache_put(c, ANSWERCACHE_ANSWER, k3, a3, "three", NULL, 0, LONG_TTL), 0);
	assert_int_equal(answercache_count(c, ANSWERCACHE_ANSWER), 3);
	assert_string_equal(answercache_get(c, ANSWERCACHE_ANSWER, k1, 1)->reason, "one");
	assert_string_equal(answercache_get(c, ANSWERCACHE_ANSWER, k2, 1)->reason, "two");
	assert_string_equal(answercache_get(c, ANSWERCACHE_ANSWER, k3, 1)->reason, "three");
	assert_int_equal(answercache_remove(c, ANSWERCACHE_ANSWER, k2), 1);
	assert_null(answercache_get(c, ANSWERCACHE_ANSWER, k2, 1));
	assert_non_null(answercache_get(c, ANSWERCACHE_ANSWER, k1, 1));
	free(k1);
	free(k2);
	free(k3);
	answercache_free(c);
}

/* Enough keys to grow the table many times; all stay reachable, whatever
 * the seed. */
static void
test_growth(void **state)
{
	static const unsigned char zero[16] = {0};
	const unsigned char *seeds[] = {seed, zero};
	char key[32];
	struct policy_answer a = {POLICY_OK, POLICY_RULE_INSECURE};

	for (size_t s = 0; s < 2; s++) {
		struct answercache *c = answercache_create(5000, seeds[s]);
		for (unsigned i = 0; i < 5000; i++) {
			snprintf(key, sizeof(key), "h%u", i);
			assert_int_equal(answercache_put(c, ANSWERCACHE_ANSWER, key, a, key, NULL, 0, LONG_TTL), 0);
		}
		assert_int_equal(answercache_count(c, ANSWERCACHE_ANSWER), 5000);
		assert_int_equal(answercache_evictions(c), 0);
		for (unsigned i = 0; i < 5000; i++) {
			snprintf(key, sizeof(key), "h%u", i);
			const struct answercache_entry *e = answercache_get(c, ANSWERCACHE_ANSWER, key, 1);
			if (!e)
				fail_msg("seed %zu: %s lost", s, key);
			assert_string_equal(e->reason, key);
		}
		for (unsigned i = 0; i < 5000; i += 2) {
			snprintf(key, sizeof(key), "h%u", i);
			assert_int_equal(answercache_remove(c, ANSWERCACHE_ANSWER, key), 1);
		}
		assert_int_equal(answercache_count(c, ANSWERCACHE_ANSWER), 2500);
		answercache_free(c);
	}
}

static void
test_free_null(void **state)
{
	answercache_free(NULL);
}

/* A next hop's two answers: each with its own expiry, the reason stored
 * once when equal, the next hop kept while either lives, evicted with
 * both; clearing one slot leaves the other. */
static void
test_two_slots(void **state)
{
	struct answercache *c = answercache_create(2, seed);
	struct policy_answer dane = {.result = POLICY_OK, .rule = POLICY_RULE_ALL_DANE};
	struct policy_answer may = {.result = POLICY_OK, .rule = POLICY_RULE_NO_TLSA};

	assert_int_equal(answercache_put(c, ANSWERCACHE_ANSWER, "a.example", dane, "mx dane", NULL, 0, 300), 0);
	assert_int_equal(answercache_put(c, ANSWERCACHE_SECURE, "a.example", dane, "mx dane", NULL, 0, 86400), 0);
	const struct answercache_entry *ans = answercache_peek(c, ANSWERCACHE_ANSWER, "a.example");
	const struct answercache_entry *sec = answercache_peek(c, ANSWERCACHE_SECURE, "a.example");
	assert_ptr_equal(ans->reason, sec->reason);	/* one copy */
	assert_int_equal(answercache_count(c, ANSWERCACHE_ANSWER), 1);
	assert_int_equal(answercache_count(c, ANSWERCACHE_SECURE), 1);
	/* The answer expires; the secure one stays, and with it the next hop. */
	assert_null(answercache_get(c, ANSWERCACHE_ANSWER, "a.example", 300));
	assert_int_equal(answercache_count(c, ANSWERCACHE_ANSWER), 0);
	sec = answercache_get(c, ANSWERCACHE_SECURE, "a.example", 300);
	assert_non_null(sec);
	assert_string_equal(sec->reason, "mx dane");
	/* A new answer with another reason: two texts now. */
	assert_int_equal(answercache_put(c, ANSWERCACHE_ANSWER, "a.example", may, "mx plain", NULL, 400, 700), 0);
	assert_string_equal(answercache_peek(c, ANSWERCACHE_ANSWER, "a.example")->reason, "mx plain");
	assert_string_equal(answercache_peek(c, ANSWERCACHE_SECURE, "a.example")->reason, "mx dane");
	/* Clearing the answers leaves the secure ones. */
	answercache_clear(c, ANSWERCACHE_ANSWER);
	assert_null(answercache_peek(c, ANSWERCACHE_ANSWER, "a.example"));
	assert_non_null(answercache_peek(c, ANSWERCACHE_SECURE, "a.example"));
	/* Removing the last answer of a next hop forgets it. */
	assert_int_equal(answercache_remove(c, ANSWERCACHE_SECURE, "a.example"), 1);
	assert_int_equal(answercache_remove(c, ANSWERCACHE_SECURE, "a.example"), 0);
	assert_int_equal(answercache_count(c, ANSWERCACHE_SECURE), 0);
	/* The bound counts next hops: the third evicts the first, both its
	 * answers. */
	answercache_put(c, ANSWERCACHE_ANSWER, "1.example", dane, "r", NULL, 0, 300);
	answercache_put(c, ANSWERCACHE_SECURE, "1.example", dane, "r", NULL, 0, 300);
	answercache_put(c, ANSWERCACHE_SECURE, "2.example", dane, "r", NULL, 0, 300);
	answercache_put(c, ANSWERCACHE_ANSWER, "3.example", may, "s", NULL, 0, 300);
	assert_null(answercache_peek(c, ANSWERCACHE_ANSWER, "1.example"));
	assert_null(answercache_peek(c, ANSWERCACHE_SECURE, "1.example"));
	assert_int_equal(answercache_evictions(c), 1);
	assert_int_equal(answercache_count(c, ANSWERCACHE_ANSWER), 1);
	assert_int_equal(answercache_count(c, ANSWERCACHE_SECURE), 1);
	answercache_free(c);
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_entry_fields),
		cmocka_unit_test(test_key_copied),
		cmocka_unit_test(test_bound_under_load),
		cmocka_unit_test(test_long_keys),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_free_null),
		cmocka_unit_test(test_two_slots),
	};
	struct table t = {0};

	TABLE_ADD(&t, cases, answercache_case, test_script);
	TABLE_TESTS(&t, more);
	return table_run(&t, "answercache");
}
