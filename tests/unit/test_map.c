/*
 * Unit tests: the keyed hash map (lib/util/map.h). Scripts of puts,
 * lookups, touches and removals against one bounded map, each checking the
 * order it leaves and what it evicted; then what no script shows: keys of
 * raw bytes, growth and shrinking under two seeds, the seed's part in the
 * hash, map_clear() as destructor, and a map that never got a bucket.
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

#include "util/map.h"
#include "table.h"

static const unsigned char seed[16] = "0123456789abcdef";

struct elem {
	struct map_node node;
	int value;
	char key[24];
};

static struct elem *
new_elem(const char *key, int value)
{
	struct elem *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->value = value;
	return e;
}

/* What the eviction callback saw, in order. */
struct evicted {
	char keys[64];
	unsigned n;
};

static void
on_evict(void *arg, struct map_node *n)
{
	struct evicted *ev = arg;
	struct elem *e = MAP_ENTRY(n, struct elem, node);

	if (ev->n)
		strcat(ev->keys, " ");
	strcat(ev->keys, e->key);
	ev->n++;
	free(e);
}

enum op {
	END,
	PUT,		/* key=value; the value the displaced element held, or 0 */
	GET,		/* key, touching it; the value expected, 0 for absent */
	PEEK,		/* key, not touching it; the same */
	DEL,		/* key, which is there */
	MAX,		/* the new bound */
};

struct step {
	enum op op;
	const char *key;
	int value;
	int expect;
};

struct map_case {
	const char *name;
	size_t max;		/* 0: unbounded */
	struct step steps[12];
	const char *order;	/* keys oldest first */
	const char *evicted;	/* keys evicted, in order */
};

static const struct map_case cases[] = {
	{"empty map finds nothing", 0, {{PEEK, "a", 0, 0}}, "", ""},
	{"put and find", 0, {{PUT, "a", 1, 0}, {PUT, "b", 2, 0}, {PEEK, "a", 0, 1}, {PEEK, "b", 0, 2},
	    {PEEK, "c", 0, 0}}, "a b", ""},
	{"put replaces and hands back the old one", 0, {{PUT, "a", 1, 0}, {PUT, "b", 2, 0}, {PUT, "a", 3, 1},
	    {PEEK, "a", 0, 3}}, "b a", ""},
	{"remove", 0, {{PUT, "a", 1, 0}, {PUT, "b", 2, 0}, {DEL, "a"}, {PEEK, "a", 0, 0}, {PEEK, "b", 0, 2}}, "b", ""},
	{"a key that is a prefix of another", 0, {{PUT, "ab", 1, 0}, {PUT, "a", 2, 0}, {PEEK, "ab", 0, 1},
	    {PEEK, "a", 0, 2}, {PEEK, "abc", 0, 0}}, "ab a", ""},
	{"a touch makes it the newest", 0, {{PUT, "a", 1, 0}, {PUT, "b", 2, 0}, {PUT, "c", 3, 0}, {GET, "a", 0, 1}},
	    "b c a", ""},
	{"a peek does not", 0, {{PUT, "a", 1, 0}, {PUT, "b", 2, 0}, {PEEK, "a", 0, 1}}, "a b", ""},
	{"the bound evicts the oldest", 2, {{PUT, "a", 1, 0}, {PUT, "b", 2, 0}, {PUT, "c", 3, 0}, {PEEK, "a", 0, 0}},
	    "b c", "a"},
	{"...the least recently used", 2, {{PUT, "a", 1, 0}, {PUT, "b", 2, 0}, {GET, "a", 0, 1}, {PUT, "c", 3, 0}},
	    "a c", "b"},
	{"a replacement evicts nothing", 2, {{PUT, "a", 1, 0}, {PUT, "b", 2, 0}, {PUT, "a", 3, 1}}, "b a", ""},
	{"a bound of one keeps the newest", 1, {{PUT, "a", 1, 0}, {PUT, "b", 2, 0}, {PUT, "c", 3, 0}}, "c", "a b"},
	{"lowering the bound evicts at once", 0, {{PUT, "a", 1, 0}, {PUT, "b", 2, 0}, {PUT, "c", 3, 0},
	    {PUT, "d", 4, 0}, {GET, "b", 0, 2}, {MAX, NULL, 2, 0}}, "d b", "a c"},
	{"raising it evicts nothing", 2, {{PUT, "a", 1, 0}, {PUT, "b", 2, 0}, {MAX, NULL, 3, 0}, {PUT, "c", 3, 0}},
	    "a b c", ""},
	{"removing makes room", 2, {{PUT, "a", 1, 0}, {PUT, "b", 2, 0}, {DEL, "a"}, {PUT, "c", 3, 0}}, "b c", ""},
};

static const char *
map_case_name(const void *row)
{
	return ((const struct map_case *)row)->name;
}

static void
order_of(const struct map *m, char *dst, size_t size)
{
	dst[0] = '\0';
	for (struct map_node *n = map_oldest(m); n; n = map_newer(n)) {
		if (dst[0])
			strncat(dst, " ", size - strlen(dst) - 1);
		strncat(dst, MAP_ENTRY(n, struct elem, node)->key, size - strlen(dst) - 1);
	}
}

static void
free_elem(void *arg, struct map_node *n)
{
	unsigned *count = arg;

	if (count)
		(*count)++;
	free(MAP_ENTRY(n, struct elem, node));
}

static void
test_script(void **state)
{
	const struct map_case *c = *state;
	struct evicted ev = {{0}, 0};
	struct map m;
	char order[64], reverse[64] = "";

	map_init(&m, seed);
	if (c->max)
		map_set_max(&m, c->max, on_evict, &ev);
	for (const struct step *s = c->steps; s->op != END; s++) {
		struct elem *e, *old;
		switch (s->op) {
		case PUT:
			e = new_elem(s->key, s->value);
			old = MAP_ENTRY(map_put_str(&m, &e->node, e->key), struct elem, node);
			assert_int_equal(old ? old->value : 0, s->expect);
			free(old);
			break;
		case GET:
		case PEEK:
			e = MAP_ENTRY(map_find_str(&m, s->key), struct elem, node);
			assert_int_equal(e ? e->value : 0, s->expect);
			if (e && s->op == GET)
				map_touch(&m, &e->node);
			break;
		case DEL:
			e = MAP_ENTRY(map_find_str(&m, s->key), struct elem, node);
			assert_non_null(e);
			map_remove(&m, &e->node);
			free(e);
			break;
		case MAX:
			map_set_max(&m, (size_t)s->value, on_evict, &ev);
			break;
		case END:
			break;
		}
	}
	order_of(&m, order, sizeof(order));
	assert_string_equal(order, c->order);
	assert_string_equal(ev.keys, c->evicted);
	/* Newest first is the same list backwards. */
	for (struct map_node *n = map_newest(&m); n; n = map_older(n)) {
		const struct elem *e = MAP_ENTRY(n, struct elem, node);
		char tmp[64];
		snprintf(tmp, sizeof(tmp), "%s%s%s", e->key, reverse[0] ? " " : "", reverse);
		strcpy(reverse, tmp);
	}
	assert_string_equal(reverse, c->order);
	/* Every key still in the order is found, and counted. */
	size_t n = 0;
	for (struct map_node *p = map_oldest(&m); p; p = map_newer(p), n++)
		assert_ptr_equal(map_find_str(&m, MAP_ENTRY(p, struct elem, node)->key), p);
	assert_int_equal(map_count(&m), n);
	unsigned freed = 0;
	map_clear(&m, free_elem, &freed);
	assert_int_equal(freed, n);
	assert_int_equal(map_count(&m), 0);
}

/* Keys are bytes: NULs inside, lengths that differ only by a NUL. */
static void
test_bytes(void **state)
{
	static const unsigned char k1[] = {1, 0, 2}, k2[] = {1, 0, 3}, k3[] = {1, 0, 2, 0};
	struct map_node n1, n2, n3;
	struct map m;

	map_init(&m, seed);
	assert_null(map_put(&m, &n1, k1, sizeof(k1)));
	assert_null(map_put(&m, &n2, k2, sizeof(k2)));
	assert_null(map_put(&m, &n3, k3, sizeof(k3)));
	assert_ptr_equal(map_find(&m, k1, sizeof(k1)), &n1);
	assert_ptr_equal(map_find(&m, k2, sizeof(k2)), &n2);
	assert_ptr_equal(map_find(&m, k3, sizeof(k3)), &n3);
	assert_null(map_find(&m, k1, 1));
	assert_null(map_find(&m, "", 0));
	assert_null(MAP_ENTRY(map_find(&m, "", 0), struct elem, node));
	map_clear(&m, NULL, NULL);
}

/* Enough keys to double the buckets many times, then few enough to halve
 * them: every key stays reachable, under either seed (an all-zero one
 * too), and the array shrinks back. */
static void
test_growth(void **state)
{
	static const unsigned char zero[16] = {0};
	const unsigned char *seeds[] = {seed, zero};
	enum { N = 20000 };

	for (size_t s = 0; s < 2; s++) {
		struct elem *all = calloc(N, sizeof(*all));
		struct map m;
		assert_non_null(all);
		map_init(&m, seeds[s]);
		for (int i = 0; i < N; i++) {
			snprintf(all[i].key, sizeof(all[i].key), "h%d.example", i);
			all[i].value = i;
			assert_null(map_put_str(&m, &all[i].node, all[i].key));
		}
		assert_int_equal(map_count(&m), N);
		assert_true(m.nbuckets >= N / 2);
		for (int i = 0; i < N; i++) {
			struct elem *e = MAP_ENTRY(map_find_str(&m, all[i].key), struct elem, node);
			if (!e || e->value != i)
				fail_msg("seed %zu: %s lost", s, all[i].key);
		}
		for (int i = 0; i < N; i++)
			if (i % 100)
				map_remove(&m, &all[i].node);
		assert_int_equal(map_count(&m), N / 100);
		assert_true(m.nbuckets <= N / 100 * 4);
		for (int i = 0; i < N; i += 100)
			assert_ptr_equal(map_find_str(&m, all[i].key), &all[i].node);
		assert_null(map_find_str(&m, all[1].key));
		map_clear(&m, NULL, NULL);
		assert_null(m.buckets);
		free(all);
	}
}

/* The same key hashes differently under another seed: what keeps a
 * stranger who does not know the seed from aiming keys at one bucket. */
static void
test_seed(void **state)
{
	static const unsigned char other[16] = "fedcba9876543210";
	struct map a, b;
	struct map_node na, nb;

	map_init(&a, seed);
	map_init(&b, other);
	map_put_str(&a, &na, "example.org");
	map_put_str(&b, &nb, "example.org");
	assert_true(na.hash != nb.hash);
	map_clear(&a, NULL, NULL);
	map_clear(&b, NULL, NULL);
}

/* A cleared map is as new, bound included. */
static void
test_clear_reuse(void **state)
{
	struct evicted ev = {{0}, 0};
	struct map m;

	map_init(&m, seed);
	map_set_max(&m, 2, on_evict, &ev);
	map_put_str(&m, &new_elem("a", 1)->node, "a");
	map_clear(&m, free_elem, NULL);
	assert_null(map_find_str(&m, "a"));
	const char *keys[] = {"b", "c", "d"};
	for (size_t i = 0; i < 3; i++) {
		struct elem *e = new_elem(keys[i], (int)i);
		map_put_str(&m, &e->node, e->key);
	}
	assert_string_equal(ev.keys, "b");
	map_clear(&m, free_elem, NULL);
	map_clear(&m, free_elem, NULL);	/* twice is harmless */
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_seed),
		cmocka_unit_test(test_clear_reuse),
	};
	struct table t = {0};

	TABLE_ADD(&t, cases, map_case, test_script);
	TABLE_TESTS(&t, more);
	return table_run(&t, "map");
}
