/*
 * Unit tests: connections per peer (lib/serve/peerlimit.h). Each row is a
 * script on a fake clock: connections admitted or refused at the limit,
 * released, and when a refusal is due to be logged.
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

#include "serve/peerlimit.h"
#include "table.h"

#define SECOND 1000000ull

enum op {
	END,
	ADMIT,		/* key at t; want: the result; the connection is kept as number slot */
	REFUSE,		/* key at t: refused; due, connections and refused as the report says */
	RELEASE,	/* slot */
	PEERS,		/* n: peers holding connections */
};

struct step {
	enum op op;
	const char *key;
	uint64_t t;		/* seconds */
	int slot;
	bool due;
	unsigned connections;
	uint64_t refused;
};

struct limit_case {
	const char *name;
	unsigned max;
	struct step steps[16];
};

static const char *
limit_case_name(const void *row)
{
	return ((const struct limit_case *)row)->name;
}

#define A(k, s) {ADMIT, k, 0, s}
#define AT(k, t, s) {ADMIT, k, t, s}
#define R(k, t, due, conns, refused) {REFUSE, k, t, 0, due, conns, refused}
#define REL(s) {RELEASE, NULL, 0, s}
#define N(n) {PEERS, NULL, 0, n}

static const struct limit_case limit_cases[] = {
	{"up to the limit, then refused", 2, {
		A("uid:100", 0), A("uid:100", 1), R("uid:100", 5, true, 2, 1), N(1),
	}},
	{"other peers are not affected", 1, {
		A("uid:100", 0), R("uid:100", 1, true, 1, 1), A("uid:101", 1), A("addr:192.0.2.1", 2), N(3),
	}},
	/* Its last connection gone, the peer is forgotten, with its report. */
	{"a release makes room", 1, {
		A("uid:100", 0), R("uid:100", 1, true, 1, 1), REL(0), N(0), A("uid:100", 1), R("uid:100", 2, true, 1, 1),
	}},
	{"the last release forgets the peer", 2, {
		A("uid:100", 0), A("uid:100", 1), N(1), REL(0), N(1), REL(1), N(0),
	}},
	{"refusals reported once a minute, with their count", 1, {
		A("uid:100", 0), R("uid:100", 10, true, 1, 1), R("uid:100", 20, false, 1, 1),
		R("uid:100", 69, false, 1, 2), R("uid:100", 70, true, 1, 3), R("uid:100", 71, false, 1, 1),
	}},
	{"each peer has its own minute", 1, {
		A("uid:100", 0), A("uid:101", 1), R("uid:100", 10, true, 1, 1), R("uid:101", 11, true, 1, 1),
		R("uid:100", 12, false, 1, 1),
	}},
	{"the report's time survives while the peer holds connections", 2, {
		A("uid:100", 0), A("uid:100", 1), R("uid:100", 10, true, 2, 1), REL(0),
		A("uid:100", 2), R("uid:100", 20, false, 2, 1),
	}},
	{"at time 0 a refusal is still reported once", 1, {
		A("uid:100", 0), {REFUSE, "uid:100", 0, 0, true, 1, 1}, {REFUSE, "uid:100", 0, 0, false, 1, 1},
	}},
	{"limit 0: everyone refused, nothing kept", 0, {
		R("uid:100", 1, true, 0, 1), R("uid:100", 2, true, 0, 1), N(0),
	}},
};

static void
test_limit(void **state)
{
	const struct limit_case *c = *state;
	struct peerlimit *pl = peerlimit_create();
	struct peerlimit_peer *slots[16] = {0}, *p;
	struct peerlimit_report r;

	assert_non_null(pl);
	for (const struct step *st = c->steps; st->op != END; st++) {
		switch (st->op) {
		case END:
			break;
		case ADMIT:
			assert_int_equal(peerlimit_admit(pl, st->key, c->max, st->t * SECOND, &p, &r), PEERLIMIT_ADMITTED);
			assert_non_null(p);
			assert_false(r.due);
			slots[st->slot] = p;
			break;
		case REFUSE:
			assert_int_equal(peerlimit_admit(pl, st->key, c->max, st->t * SECOND, &p, &r), PEERLIMIT_REFUSED);
			assert_null(p);
			assert_int_equal(r.due, st->due);
			assert_string_equal(r.key, st->key);
			assert_int_equal(r.connections, st->connections);
			assert_int_equal(r.refused, st->refused);
			break;
		case RELEASE:
			peerlimit_release(pl, slots[st->slot]);
			slots[st->slot] = NULL;
			break;
		case PEERS:
			assert_int_equal(peerlimit_count(pl), st->slot);
			break;
		}
	}
	peerlimit_free(pl);	/* with peers still counted: they go too */
}

int
main(void)
{
	struct table t = {0};

	TABLE_ADD(&t, limit_cases, limit_case, test_limit);
	return table_run(&t, "peerlimit");
}
