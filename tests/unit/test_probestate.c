/* Unit tests: probe state (plans, due, history, the history file) and kv. */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/kv.h"
#include "probe/probeplan.h"
#include "probe/probestate.h"
#include "util/statefile.h"
#include "table.h"

#define SPKI_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SPKI_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HOUR_MS (3600u * 1000u)

static char tmpdir[64];

static const char *
file_in_tmp(const char *name)
{
	static char path[2][256];
	static int which;

	which ^= 1;
	snprintf(path[which], sizeof(path[which]), "%s/%s", tmpdir, name);
	return path[which];
}

/* A plan of n targets: mx<i>.<dest>, 192.0.2.<i+1>, port 25. */
static void
make_plan(struct probeplan *plan, const char *dest, size_t n)
{
	char addr[32];

	memset(plan, 0, sizeof(*plan));
	snprintf(plan->dest, sizeof(plan->dest), "%s", dest);
	plan->n = n;
	plan->items = n ? calloc(n, sizeof(*plan->items)) : NULL;
	for (size_t i = 0; i < n; i++) {
		struct probe_target *t = &plan->items[i].target;
		snprintf(t->host, sizeof(t->host), "mx%zu.%s", i, dest);
		snprintf(addr, sizeof(addr), "192.0.2.%zu", i + 1);
		assert_int_equal(netaddr_parse(addr, &t->address), 0);
		t->port = 25;
	}
}

static bool
plan(struct probestate *ps, const char *dest, size_t n, uint64_t now, uint64_t interval)
{
	struct probeplan p;

	make_plan(&p, dest, n);
	bool due = probestate_plan(ps, &p, now, interval);
	assert_int_equal(p.n, 0);	/* taken over */
	assert_null(p.items);
	return due;
}

static bool
has_plan(const struct probestate *ps, const char *dest)
{
	struct probeplan p;
	bool has = probestate_get_plan(ps, dest, &p);

	probeplan_free(&p);
	return has;
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

/* A validated 3 1 1 record, usable for SMTP. */
static unsigned char digest[32] = {1, 2, 3};
static struct probe_tlsa usable_tlsa = {3, 1, 1, sizeof(digest), digest};
/* A 1 1 1 record: DNSSEC-validated, but not usable for SMTP. */
static struct probe_tlsa pkix_tlsa = {1, 1, 1, sizeof(digest), digest};

static struct probe_target
dane_target(const char *host, const char *address, unsigned port)
{
	struct probe_target t = target(host, address, port);

	t.ntlsa = 1;
	t.tlsa = &usable_tlsa;
	return t;
}

/* Copies, history included: they outlive the state. */
struct addr_list {
	size_t n;
	struct probestate_addr a[8];
	struct probestate_record history[8][PROBESTATE_HISTORY];
};

static void
list_addr(void *arg, const struct probestate_addr *a)
{
	struct addr_list *l = arg;

	if (l->n == 8)
		return;
	assert_true(a->nhistory <= PROBESTATE_HISTORY);
	memcpy(l->history[l->n], a->history, a->nhistory * sizeof(a->history[0]));
	l->a[l->n] = *a;
	l->a[l->n].history = l->history[l->n];
	l->n++;
}

/* ---- plan and due ------------------------------------------------------ */

struct due_case {
	const char *name;
	uint64_t probed;		/* 0: never */
	uint64_t now, interval;
	bool due;
};

static const char *
due_case_name(const void *row)
{
	return ((const struct due_case *)row)->name;
}

static const struct due_case due_cases[] = {
	{"plan: never probed is due", 0, 5000, HOUR_MS, true},
	{"plan: probed just now is not due", 5000, 5000, HOUR_MS, false},
	{"plan: probed within the interval is not due", 5000, 5000 + HOUR_MS - 1, HOUR_MS, false},
	{"plan: probed an interval ago is due", 5000, 5000 + HOUR_MS, HOUR_MS, true},
	{"plan: probed long ago is due", 5000, 5000 + 10 * HOUR_MS, HOUR_MS, true},
	{"plan: interval 0 is always due", 5000, 5000, 0, true},
};

static void
test_due(void **state)
{
	const struct due_case *c = *state;
	struct probestate *ps = probestate_create(10);

	struct probeplan p;
	assert_false(probestate_get_plan(ps, "d.test", &p));
	assert_true(plan(ps, "d.test", 1, 1000, c->interval));	/* the first time */
	if (c->probed)
		probestate_probed(ps, "d.test", c->probed);
	assert_int_equal(plan(ps, "d.test", 2, c->now, c->interval), c->due);
	/* The latest plan is the one kept. */
	assert_true(probestate_get_plan(ps, "d.test", &p));
	assert_int_equal(p.n, 2);
	assert_string_equal(p.items[1].target.host, "mx1.d.test");
	probeplan_free(&p);
	probestate_free(ps);
}

struct each_case {
	const char *name;
	uint64_t now, interval;
	const char *due;		/* the destinations, sorted */
};

static const char *
each_case_name(const void *row)
{
	return ((const struct each_case *)row)->name;
}

static const struct each_case each_cases[] = {
	{"each_due: the never probed and the old", 10000, 5000, "never.test old.test"},
	{"each_due: a long interval, only the never probed", 10000, 100000, "never.test"},
	{"each_due: later, the recent one too", 14000, 5000, "never.test old.test recent.test"},
	{"each_due: interval 0, every one with a plan", 10000, 0, "never.test old.test recent.test"},
};

static void
collect(void *arg, const char *dest)
{
	char (*names)[8][64] = arg;

	for (int i = 0; i < 8; i++) {
		if (!(*names)[i][0]) {
			snprintf((*names)[i], sizeof((*names)[i]), "%s", dest);
			return;
		}
	}
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
test_each_due(void **state)
{
	const struct each_case *c = *state;
	struct probestate *ps = probestate_create(10);
	struct probe_result r = {.class = PROBE_PLAINTEXT};
	struct probe_target t = target("mx.noplan.test", "192.0.2.1", 25);
	char names[8][64] = {{0}}, joined[8 * 65] = "";

	plan(ps, "never.test", 1, 1000, c->interval);
	plan(ps, "recent.test", 1, 1000, c->interval);
	probestate_probed(ps, "recent.test", 9000);
	plan(ps, "old.test", 1, 1000, c->interval);
	probestate_probed(ps, "old.test", 1000);
	plan(ps, "emptyplan.test", 0, 1000, c->interval);	/* nothing to probe */
	probestate_record(ps, "noplan.test", &t, &r, 100);	/* a result, no plan */
	probestate_each_due(ps, c->now, c->interval, collect, names);
	qsort(names, 8, sizeof(names[0]), by_name);
	for (int i = 0; i < 8; i++) {
		if (names[i][0]) {
			if (joined[0])
				strcat(joined, " ");
			strcat(joined, names[i]);
		}
	}
	assert_string_equal(joined, c->due);
	probestate_free(ps);
}

/* ---- records ----------------------------------------------------------- */

struct detail_case {
	const char *name;
	const char *error, *dane_match, *dane_error, *pkix_error;
	const char *detail;
};

static const char *
detail_case_name(const void *row)
{
	return ((const struct detail_case *)row)->name;
}

static const struct detail_case detail_cases[] = {
	{"detail: the error first", "connect: refused", "3 1 1 ab", "x", "y", "connect: refused"},
	{"detail: then the DANE match", "", "3 1 1 ab", "x", "y", "3 1 1 ab"},
	{"detail: then the DANE error", "", "", "no matching TLSA", "y", "no matching TLSA"},
	{"detail: then the PKIX error", "", "", "", "self-signed certificate", "self-signed certificate"},
	{"detail: none", "", "", "", "", ""},
};

static void
test_detail(void **state)
{
	const struct detail_case *c = *state;
	struct probestate *ps = probestate_create(10);
	struct probe_target t = target("mx.d.test", "192.0.2.1", 25);
	struct probe_result r = {.class = PROBE_UNTRUSTED, .ncerts = 1};

	snprintf(r.error, sizeof(r.error), "%s", c->error);
	snprintf(r.dane_match, sizeof(r.dane_match), "%s", c->dane_match);
	snprintf(r.dane_error, sizeof(r.dane_error), "%s", c->dane_error);
	snprintf(r.pkix_error, sizeof(r.pkix_error), "%s", c->pkix_error);
	snprintf(r.certs[0].spki_sha256, sizeof(r.certs[0].spki_sha256), "%s", SPKI_A);
	const struct probestate_addr *a = probestate_record(ps, "d.test", &t, &r, 100);
	assert_non_null(a);
	assert_string_equal(a->history[0].detail, c->detail);
	assert_string_equal(a->history[0].leaf_spki, SPKI_A);
	probestate_free(ps);
}

/* Newest first, PROBESTATE_HISTORY at most; usable TLSA follows the latest. */
static void
test_history_order(void **state)
{
	struct probestate *ps = probestate_create(10);
	struct probe_target t = dane_target("mx.h.test", "192.0.2.1", 25);
	const struct probestate_addr *a = NULL;

	for (int i = 0; i < 10; i++) {
		struct probe_result r = {.class = i % 2 ? PROBE_DANE_VERIFIED : PROBE_DANE_MISMATCH, .tlsa_usable = 1};
		snprintf(r.error, sizeof(r.error), "result %d", i);
		a = probestate_record(ps, "h.test", &t, &r, 101 + i);
	}
	assert_int_equal(a->nhistory, PROBESTATE_HISTORY);
	for (int i = 0; i < PROBESTATE_HISTORY; i++) {
		char want[32];
		snprintf(want, sizeof(want), "result %d", 9 - i);
		assert_int_equal(a->history[i].unix_s, 110 - i);
		assert_string_equal(a->history[i].detail, want);
		assert_int_equal(a->history[i].class, (9 - i) % 2 ? PROBE_DANE_VERIFIED : PROBE_DANE_MISMATCH);
	}
	assert_true(a->has_usable_tlsa);
	assert_string_equal(a->history[0].leaf_spki, "");	/* no certificate */
	/* Another address of the same destination is its own entry; its
	 * only TLSA record is not for SMTP. */
	struct probe_target t2 = target("mx.h.test", "2001:db8::1", 25);
	t2.ntlsa = 1;
	t2.tlsa = &pkix_tlsa;
	struct probe_result r2 = {.class = PROBE_PLAINTEXT};
	const struct probestate_addr *b = probestate_record(ps, "h.test", &t2, &r2, 200);
	assert_int_equal(b->nhistory, 1);
	assert_false(b->has_usable_tlsa);
	assert_int_equal(b->address.family, AF_INET6);
	probestate_free(ps);
}

/* The latest result per host, address and port, whatever the destination;
 * shared records land in the other destination's history once. */
static void
test_latest_and_shared(void **state)
{
	struct probestate *ps = probestate_create(10);
	struct probe_target t = dane_target("mx.shared.test", "192.0.2.1", 25);
	struct probe_result r = {.class = PROBE_DANE_VERIFIED, .tlsa_usable = 1, .dane_match = "3 1 1 ab"};
	bool usable = false;
	struct netaddr other;

	assert_null(probestate_latest(ps, "mx.shared.test", &t.address, 25, &usable));
	probestate_record(ps, "a.test", &t, &r, 100);
	const struct probestate_record *rec = probestate_latest(ps, "mx.shared.test", &t.address, 25, &usable);
	assert_non_null(rec);
	assert_true(usable);
	assert_int_equal(rec->unix_s, 100);
	assert_int_equal(rec->class, PROBE_DANE_VERIFIED);
	assert_null(probestate_latest(ps, "mx.shared.test", &t.address, 26, &usable));
	assert_null(probestate_latest(ps, "mx.other.test", &t.address, 25, &usable));
	netaddr_parse("192.0.2.2", &other);
	assert_null(probestate_latest(ps, "mx.shared.test", &other, 25, &usable));

	struct probestate_record copy = *rec;
	probestate_record_shared(ps, "b.test", "mx.shared.test", &t.address, 25, true, &copy);
	probestate_record_shared(ps, "b.test", "mx.shared.test", &t.address, 25, true, &copy);	/* once */
	struct probestate_record later = copy;
	later.unix_s = 200;
	probestate_record_shared(ps, "b.test", "mx.shared.test", &t.address, 25, true, &later);
	struct addr_list l = {0};
	probestate_each_addr(ps, "b.test", list_addr, &l);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.a[0].host, "mx.shared.test");
	assert_true(l.a[0].has_usable_tlsa);
	assert_int_equal(l.a[0].nhistory, 2);
	assert_int_equal(l.a[0].history[0].unix_s, 200);
	assert_int_equal(l.a[0].history[1].unix_s, 100);
	assert_string_equal(l.a[0].history[1].detail, "3 1 1 ab");
	/* A newer result for a.test is the latest for the host. */
	struct probe_result worse = {.class = PROBE_DANE_MISMATCH, .tlsa_usable = 1};
	probestate_record(ps, "a.test", &t, &worse, 300);
	rec = probestate_latest(ps, "mx.shared.test", &t.address, 25, &usable);
	assert_int_equal(rec->unix_s, 300);
	assert_int_equal(rec->class, PROBE_DANE_MISMATCH);
	probestate_free(ps);
}

/* ---- all_mismatch ------------------------------------------------------ */

struct addr_spec {
	const char *address;
	bool dns_usable;		/* the target carries a usable TLSA record */
	enum probe_class classes[3];	/* results, oldest first */
	int n;
};

struct mismatch_case {
	const char *name;
	struct addr_spec addrs[3];
	bool want;
};

static const char *
mismatch_case_name(const void *row)
{
	return ((const struct mismatch_case *)row)->name;
}

#define MIS PROBE_DANE_MISMATCH
#define VER PROBE_DANE_VERIFIED
static const struct mismatch_case mismatch_cases[] = {
	{"all_mismatch: nothing known", {{NULL}}, false},
	{"all_mismatch: no address with usable TLSA", {{"192.0.2.1", false, {PROBE_PLAINTEXT}, 1}}, false},
	{"all_mismatch: the one usable address mismatches", {{"192.0.2.1", true, {MIS}, 1}}, true},
	{"all_mismatch: mismatch, then verified", {{"192.0.2.1", true, {MIS, VER}, 2}}, false},
	{"all_mismatch: verified, then mismatch", {{"192.0.2.1", true, {VER, MIS}, 2}}, true},
	{"all_mismatch: two usable, one verified", {{"192.0.2.1", true, {MIS}, 1}, {"192.0.2.2", true, {VER}, 1}},
	    false},
	{"all_mismatch: two usable, both mismatch", {{"192.0.2.1", true, {MIS}, 1}, {"192.0.2.2", true, {MIS}, 1}},
	    true},
	{"all_mismatch: a mismatch and an address without TLSA",
	    {{"192.0.2.1", true, {MIS}, 1}, {"192.0.2.2", false, {PROBE_UNTRUSTED}, 1}}, true},
	/* tlspolicyd(8): an address with usable TLSA records whose probe ended
	 * before the TLS handshake (unreachable, no STARTTLS) holds it back. */
	{"all_mismatch: a mismatch and an unreachable address with usable TLSA",
	    {{"192.0.2.1", true, {MIS}, 1}, {"192.0.2.2", true, {PROBE_UNREACHABLE}, 1}}, false},
	{"all_mismatch: a mismatch and a plaintext address with usable TLSA",
	    {{"192.0.2.1", true, {MIS}, 1}, {"192.0.2.2", true, {PROBE_PLAINTEXT}, 1}}, false},
	{"all_mismatch: a mismatch that became unreachable",
	    {{"192.0.2.1", true, {MIS, PROBE_UNREACHABLE}, 2}}, false},
};

/* What a probe of such a target reports: tlsa_usable counts the records
 * OpenSSL took, so only a probe that got to the handshake has any. */
static struct probe_result
result_of(enum probe_class class, bool dns_usable)
{
	struct probe_result r = {.class = class};
	bool handshake = class != PROBE_UNREACHABLE && class != PROBE_PLAINTEXT;

	r.tlsa_usable = dns_usable && handshake ? 1 : 0;
	return r;
}

static void
test_all_mismatch(void **state)
{
	const struct mismatch_case *c = *state;
	struct probestate *ps = probestate_create(10);

	for (int i = 0; i < 3 && c->addrs[i].address; i++) {
		const struct addr_spec *s = &c->addrs[i];
		struct probe_target t = s->dns_usable ? dane_target("mx.m.test", s->address, 25)
		    : target("mx.m.test", s->address, 25);
		for (int k = 0; k < s->n; k++) {
			struct probe_result r = result_of(s->classes[k], s->dns_usable);
			probestate_record(ps, "m.test", &t, &r, 100 + k);
		}
	}
	assert_int_equal(probestate_all_mismatch(ps, "m.test"), c->want);
	assert_false(probestate_all_mismatch(ps, "unknown.test"));
	probestate_free(ps);
}

/* probestate_all_mismatch_news(): true when it becomes true, once. */
static void
test_all_mismatch_news(void **state)
{
	struct probestate *ps = probestate_create(10);
	struct probe_target a = dane_target("mx1.n.test", "192.0.2.1", 25);
	struct probe_target b = dane_target("mx2.n.test", "192.0.2.2", 25);
	struct probe_result mismatch = {.class = PROBE_DANE_MISMATCH, .tlsa_usable = 1};
	struct probe_result verified = {.class = PROBE_DANE_VERIFIED, .tlsa_usable = 1};
	struct probe_result unreachable = {.class = PROBE_UNREACHABLE};

	assert_false(probestate_all_mismatch_news(ps, "n.test"));	/* unknown */
	probestate_record(ps, "n.test", &a, &mismatch, 100);
	assert_true(probestate_all_mismatch_news(ps, "n.test"));
	assert_false(probestate_all_mismatch_news(ps, "n.test"));	/* told already */
	probestate_record(ps, "n.test", &a, &mismatch, 200);
	assert_false(probestate_all_mismatch_news(ps, "n.test"));
	assert_true(probestate_all_mismatch(ps, "n.test"));
	probestate_record(ps, "n.test", &a, &verified, 300);
	assert_false(probestate_all_mismatch_news(ps, "n.test"));
	probestate_record(ps, "n.test", &a, &mismatch, 400);
	assert_true(probestate_all_mismatch_news(ps, "n.test"));	/* true again: news again */
	probestate_record(ps, "n.test", &b, &unreachable, 500);
	assert_false(probestate_all_mismatch_news(ps, "n.test"));
	assert_false(probestate_all_mismatch(ps, "n.test"));
	probestate_record(ps, "n.test", &b, &mismatch, 600);
	assert_true(probestate_all_mismatch_news(ps, "n.test"));
	probestate_free(ps);
}

/* ---- the history file -------------------------------------------------- */

static void
assert_same_addrs(const struct probestate *x, const struct probestate *y, const char *dest)
{
	struct addr_list lx = {0}, ly = {0};

	probestate_each_addr(x, dest, list_addr, &lx);
	probestate_each_addr(y, dest, list_addr, &ly);
	assert_true(lx.n > 0);
	assert_int_equal(lx.n, ly.n);
	for (size_t i = 0; i < lx.n; i++) {
		const struct probestate_addr *a = &lx.a[i], *b = NULL;
		for (size_t j = 0; j < ly.n; j++)
			if (ly.a[j].port == a->port && memcmp(&ly.a[j].address, &a->address, sizeof(a->address)) == 0)
				b = &ly.a[j];
		assert_non_null(b);
		assert_string_equal(b->host, a->host);
		assert_int_equal(b->has_usable_tlsa, a->has_usable_tlsa);
		assert_int_equal(b->nhistory, a->nhistory);
		for (size_t h = 0; h < a->nhistory; h++) {
			assert_int_equal(b->history[h].unix_s, a->history[h].unix_s);
			assert_int_equal(b->history[h].class, a->history[h].class);
			assert_string_equal(b->history[h].detail, a->history[h].detail);
			assert_string_equal(b->history[h].leaf_spki, a->history[h].leaf_spki);
		}
	}
}

static void
shared(struct probestate *ps, const char *dest, const char *host, const char *address, unsigned port, bool usable,
    int64_t when, enum probe_class class, const char *detail, const char *spki)
{
	struct probestate_record rec = {.unix_s = when, .class = class};
	struct netaddr a;

	assert_int_equal(netaddr_parse(address, &a), 0);
	snprintf(rec.detail, sizeof(rec.detail), "%s", detail);
	snprintf(rec.leaf_spki, sizeof(rec.leaf_spki), "%s", spki);
	probestate_record_shared(ps, dest, host, &a, port, usable, &rec);
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	static char text[65536];
	size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;

	if (f)
		fclose(f);
	text[n] = '\0';
	return f ? text : NULL;
}

static void
spew(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Save, then load into a fresh state: every field comes back. */
static void
test_round_trip(void **state)
{
	const char *path = file_in_tmp("round-trip");
	struct probestate *ps = probestate_create(10), *back = probestate_create(10);
	char longest[200];

	memset(longest, '"', sizeof(longest) - 1);	/* 199 quotes, each escaped */
	longest[sizeof(longest) - 1] = '\0';
	shared(ps, "rt.test", "mx1.rt.test", "198.51.100.7", 25, true, 1000, PROBE_DANE_MISMATCH,
	    "say \"hi\" \\ back\\slash \\x41 = not a field", SPKI_A);
	shared(ps, "rt.test", "mx1.rt.test", "198.51.100.7", 25, true, 1001, PROBE_UNREACHABLE,
	    "line1\nline2\r\ttab\x01\x7f\xc3\xa9 event=forged", "");
	shared(ps, "rt.test", "mx1.rt.test", "198.51.100.7", 25, true, 1002, PROBE_DANE_VERIFIED, "3 1 1 abcdef", SPKI_B);
	shared(ps, "rt.test", "mx2.rt.test", "198.51.100.8", 25, false, 1003, PROBE_UNTRUSTED, longest, SPKI_B);
	shared(ps, "[192.0.2.9]:2525", "192.0.2.9", "2001:db8::25", 2525, false, 1004, PROBE_PLAINTEXT, "", "");
	for (int i = 0; i < 10; i++)
		shared(ps, "many.test", "mx.many.test", "203.0.113.1", 25, false, 2000 + i,
		    (enum probe_class)(i % PROBE_CLASS_COUNT), "", "");
	assert_int_equal(probestate_save(ps, path), 0);
	char err[600];
	assert_int_equal(probestate_load(back, path, 5000, err, sizeof(err)), 3 + 1 + 1 + PROBESTATE_HISTORY);
	assert_same_addrs(ps, back, "rt.test");
	assert_same_addrs(ps, back, "[192.0.2.9]:2525");
	assert_same_addrs(ps, back, "many.test");
	/* The latest per host, address and port comes back too. */
	struct netaddr a;
	bool usable = false;
	netaddr_parse("198.51.100.7", &a);
	const struct probestate_record *rec = probestate_latest(back, "mx1.rt.test", &a, 25, &usable);
	assert_non_null(rec);
	assert_int_equal(rec->unix_s, 1002);
	assert_true(usable);
	/* One line per record and the trailer, no raw control byte in the file. */
	const char *text = slurp(path);
	assert_non_null(text);
	size_t lines = 0;
	for (const char *p = text; *p; p++) {
		lines += *p == '\n';
		assert_true(*p == '\n' || (*p >= 0x20 && *p < 0x7f));
	}
	assert_int_equal(lines, 3 + 1 + 1 + PROBESTATE_HISTORY + 1);
	unlink(path);
	probestate_free(ps);
	probestate_free(back);
}

struct file_case {
	const char *name;
	const char *text;
	int loaded;		/* -1: the file is refused whole */
	bool raw;		/* written as is, not through statefile_write() */
};

static const char *
file_case_name(const void *row)
{
	return ((const struct file_case *)row)->name;
}

#define LINE1 "dest=t.test host=mx.t.test addr=192.0.2.1 port=25 tlsa=usable time=100 class=dane-verified " \
	"detail=\"3 1 1 ab\" spki=" SPKI_A
#define LINE2 "dest=t.test host=mx.t.test addr=192.0.2.1 port=25 tlsa=usable time=200 class=dane-mismatch " \
	"detail=\"no match\" spki=" SPKI_B

static const struct file_case file_cases[] = {
	{"load: two good lines", LINE1 "\n" LINE2 "\n", 2},
	{"load: a missing file is no error", NULL, 0},
	{"load: an empty file", "", 0},
	{"load: a garbage line is skipped", LINE1 "\nthis is not key=value at all\n" LINE2 "\n", 2},
	{"load: binary garbage is skipped", LINE1 "\n\x01\x02\xff\"\\=\n" LINE2 "\n", 2},
	{"load: an empty line is skipped", LINE1 "\n\n" LINE2 "\n", 2},
	{"load: torn inside a quoted value", LINE1 "\ndest=t.test host=mx.t.test addr=192.0.2.1 port=25 tlsa=usable "
	    "time=150 class=untrusted detail=\"self-sig\n" LINE2 "\n", 2},
	{"load: torn inside the class", LINE1 "\ndest=t.test host=mx.t.test addr=192.0.2.1 port=25 tlsa=usable "
	    "time=150 class=dane-mis\n" LINE2 "\n", 2},
	{"load: torn before the class", LINE1 "\ndest=t.test host=mx.t.test addr=192.0.2.1 port=25 tlsa=us\n"
	    LINE2 "\n", 2},
	{"load: the file cut short inside a line: refused", LINE1 "\n" LINE2 "\n"
	    "dest=t.test host=mx.t.test addr=192.0.2.1 port=25 tlsa=usable time=300 class=dane-verified "
	    "detail=\"3 1 1 ab\" spki=0123456789ab", -1, true},
	{"load: no trailer: refused", LINE1 "\n" LINE2 "\n", -1, true},
	{"load: a trailer for other content: refused", LINE1 "\n" LINE2 "\nend 10 0123456789abcdef\n", -1, true},
	{"load: a line after the trailer: refused", "end 0 0000000000000000\n" LINE1 "\n", -1, true},
	{"load: an unknown class", LINE1 "\n" "dest=t.test host=mx.t.test addr=192.0.2.1 port=25 tlsa=usable "
	    "time=150 class=superb\n" LINE2 "\n", 2},
	{"load: a bad address", LINE1 "\n" "dest=t.test host=mx.t.test addr=192.0.2.999 port=25 tlsa=usable "
	    "time=150 class=untrusted\n" LINE2 "\n", 2},
	{"load: no port", LINE1 "\n" "dest=t.test host=mx.t.test addr=192.0.2.1 tlsa=usable "
	    "time=150 class=untrusted\n" LINE2 "\n", 2},
	{"load: no dest", LINE1 "\n" "host=mx.t.test addr=192.0.2.1 port=25 tlsa=usable "
	    "time=150 class=untrusted\n" LINE2 "\n", 2},
	{"load: a time more than a day ahead", LINE1 "\n" "dest=t.test host=mx.t.test addr=192.0.2.1 port=25 "
	    "tlsa=usable time=999999 class=untrusted\n" LINE2 "\n", 2},
	/* Numbers only as the writer writes them: one read back wrongly
	 * would be written out as something else again. */
	{"load: a negative time", LINE1 "\n" "dest=t.test host=mx.t.test addr=192.0.2.1 port=25 "
	    "tlsa=usable time=-150 class=untrusted\n" LINE2 "\n", 2},
	{"load: a port past 65535", LINE1 "\n" "dest=t.test host=mx.t.test addr=192.0.2.1 port=65561 "
	    "tlsa=usable time=150 class=untrusted\n" LINE2 "\n", 2},
	{"load: port 0", LINE1 "\n" "dest=t.test host=mx.t.test addr=192.0.2.1 port=0 "
	    "tlsa=usable time=150 class=untrusted\n" LINE2 "\n", 2},
	{"load: a port with more after it", LINE1 "\n" "dest=t.test host=mx.t.test addr=192.0.2.1 port=25x "
	    "tlsa=usable time=150 class=untrusted\n" LINE2 "\n", 2},
	{"load: a time with a sign", LINE1 "\n" "dest=t.test host=mx.t.test addr=192.0.2.1 port=25 "
	    "tlsa=usable time=+150 class=untrusted\n" LINE2 "\n", 2},
	/* Lines only as the writer writes them (probestate_line_parse), which
	 * the fleet's shared results rely on too. */
	{"load: a key the writer never writes", LINE1 "\n" "dest=t.test host=mx.t.test addr=192.0.2.1 port=25 "
	    "tlsa=usable time=150 class=untrusted color=red\n" LINE2 "\n", 2},
	{"load: a key written twice", LINE1 "\n" "dest=t.test host=mx.t.test addr=192.0.2.1 port=25 "
	    "tlsa=usable time=150 class=untrusted class=verified\n" LINE2 "\n", 2},
	{"load: a tlsa value the writer never writes", LINE1 "\n" "dest=t.test host=mx.t.test addr=192.0.2.1 "
	    "port=25 tlsa=maybe time=150 class=untrusted\n" LINE2 "\n", 2},
	{"load: a detail too long for the record", LINE1 "\n" "dest=t.test host=mx.t.test addr=192.0.2.1 port=25 "
	    "tlsa=usable time=150 class=untrusted detail="
	    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	    "\n" LINE2 "\n", 2},
	{"load: an spki too long", LINE1 "\n" "dest=t.test host=mx.t.test addr=192.0.2.1 port=25 "
	    "tlsa=usable time=150 class=untrusted spki=" SPKI_A "0\n" LINE2 "\n", 2},
};

static void
test_load(void **state)
{
	const struct file_case *c = *state;
	const char *path = file_in_tmp("load");
	struct probestate *ps = probestate_create(10);
	struct addr_list l = {0};
	struct probestate_record latest = {0};
	struct netaddr a;
	bool usable = false;

	char err[600] = "";

	unlink(path);
	if (c->text && c->raw)
		spew(path, c->text);
	else if (c->text)
		assert_int_equal(statefile_write(path, c->text, strlen(c->text)), 0);
	int loaded = probestate_load(ps, path, 1000, err, sizeof(err));
	netaddr_parse("192.0.2.1", &a);
	const struct probestate_record *rec = probestate_latest(ps, "mx.t.test", &a, 25, &usable);
	if (rec)
		latest = *rec;
	probestate_each_addr(ps, "t.test", list_addr, &l);
	unlink(path);
	probestate_free(ps);	/* before any assertion can fail */

	assert_int_equal(loaded, c->loaded);
	if (c->loaded < 0)
		assert_non_null(strstr(err, "is damaged"));
	if (c->loaded == 2) {
		/* The good lines, newest first, whole. */
		assert_int_equal(l.n, 1);
		assert_int_equal(l.a[0].nhistory, 2);
		assert_int_equal(l.a[0].history[0].unix_s, 200);
		assert_string_equal(l.a[0].history[0].detail, "no match");
		assert_string_equal(l.a[0].history[0].leaf_spki, SPKI_B);
		assert_int_equal(l.a[0].history[1].unix_s, 100);
		assert_int_equal(l.a[0].history[1].class, PROBE_DANE_VERIFIED);
		assert_true(l.a[0].has_usable_tlsa);
		assert_int_equal(latest.unix_s, 200);
	} else if (c->loaded <= 0) {
		assert_int_equal(l.n, 0);
		assert_int_equal(latest.unix_s, 0);
	}
}

/* Saving replaces the file whole, and leaves no temporary file. */
static void
test_save_replaces(void **state)
{
	const char *path = file_in_tmp("replaced");
	char tmp[300];
	struct probestate *a = probestate_create(10), *b = probestate_create(10);
	struct stat st;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	for (int i = 0; i < 5; i++)
		shared(a, "a.test", "mx.a.test", "192.0.2.1", 25, false, 100 + i, PROBE_PLAINTEXT, "a long detail for a", "");
	shared(b, "b.test", "mx.b.test", "192.0.2.2", 25, false, 100, PROBE_PLAINTEXT, "", "");
	assert_int_equal(probestate_save(a, path), 0);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(probestate_save(b, path), 0);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_non_null(strstr(slurp(path), "dest=b.test host=mx.b.test addr=192.0.2.2 port=25 tlsa=none time=100 "
	    "class=plaintext\nend "));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0027, 0);	/* not world-readable, nobody else writes */
	/* An empty state saves an empty file. */
	probestate_free(b);
	b = probestate_create(10);
	assert_int_equal(probestate_save(b, path), 0);
	assert_int_equal(strncmp(slurp(path), "end 0 ", 6), 0);
	unlink(path);
	probestate_free(a);
	probestate_free(b);
}

enum save_failure { TMP_IS_DIR, DISK_FULL, PATH_IS_DIR, NO_DIR, READ_ONLY_DIR };

struct save_case {
	const char *name;
	enum save_failure how;
	int err;
};

static const char *
save_case_name(const void *row)
{
	return ((const struct save_case *)row)->name;
}

static const struct save_case save_cases[] = {
	{"failed save: the temporary name taken by a directory", TMP_IS_DIR, EISDIR},
	{"failed save: the disk full", DISK_FULL, ENOSPC},
	{"failed save: the file a directory", PATH_IS_DIR, EISDIR},
	{"failed save: no such directory", NO_DIR, ENOENT},
	{"failed save: a directory not writable", READ_ONLY_DIR, EACCES},
};

static void
test_save_fails(void **state)
{
	const struct save_case *c = *state;
	char dir[200], path[220], tmp[230];
	const char *old = "dest=old.test host=mx.old.test addr=192.0.2.1 port=25 tlsa=none time=1 class=plaintext\n";
	struct probestate *ps = probestate_create(10);

	snprintf(dir, sizeof(dir), "%s/save-%d", tmpdir, (int)c->how);
	snprintf(path, sizeof(path), "%s/probes", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	shared(ps, "new.test", "mx.new.test", "192.0.2.2", 25, false, 100, PROBE_PLAINTEXT, "", "");
	if (c->how != NO_DIR)
		assert_int_equal(mkdir(dir, 0700), 0);
	if (c->how == TMP_IS_DIR || c->how == DISK_FULL || c->how == READ_ONLY_DIR)
		spew(path, old);
	if (c->how == TMP_IS_DIR)
		assert_int_equal(mkdir(tmp, 0700), 0);
	if (c->how == DISK_FULL)
		assert_int_equal(symlink("/dev/full", tmp), 0);
	if (c->how == PATH_IS_DIR)
		assert_int_equal(mkdir(path, 0700), 0);
	if (c->how == READ_ONLY_DIR)
		assert_int_equal(chmod(dir, 0555), 0);
	if (c->how == READ_ONLY_DIR && geteuid() == 0) {
		/* A directory's mode does not stop root: save as nobody. */
		assert_int_equal(chmod(tmpdir, 0711), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			if (setgid(65534) < 0 || setuid(65534) < 0)
				_exit(2);
			errno = 0;
			int rc = probestate_save(ps, path);
			_exit(rc == -1 && errno == c->err ? 0 : 1);
		}
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		chmod(tmpdir, 0700);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);	/* 1: saved anyway, 2: cannot become nobody */
	} else {
		errno = 0;
		assert_int_equal(probestate_save(ps, path), -1);
		assert_int_equal(errno, c->err);
	}
	if (c->how == TMP_IS_DIR || c->how == DISK_FULL || c->how == READ_ONLY_DIR)
		assert_string_equal(slurp(path), old);	/* the old file, whole */
	struct stat st;
	if (c->how != TMP_IS_DIR)
		assert_int_equal(lstat(tmp, &st), -1);	/* nothing left behind */
	chmod(dir, 0700);
	rmdir(tmp);
	unlink(tmp);
	rmdir(path);
	unlink(path);
	rmdir(dir);
	probestate_free(ps);
}

/* Past max_dests, the destination probed longest ago goes. */
static void
test_eviction(void **state)
{
	struct probestate *ps = probestate_create(3);

	plan(ps, "a.test", 1, 1000, HOUR_MS);
	probestate_probed(ps, "a.test", 300);
	plan(ps, "b.test", 1, 1000, HOUR_MS);
	probestate_probed(ps, "b.test", 100);
	plan(ps, "c.test", 1, 1000, HOUR_MS);
	probestate_probed(ps, "c.test", 200);
	plan(ps, "d.test", 1, 1000, HOUR_MS);
	probestate_probed(ps, "d.test", 400);
	assert_false(has_plan(ps, "b.test"));
	assert_true(has_plan(ps, "a.test"));
	assert_true(has_plan(ps, "c.test"));
	assert_true(has_plan(ps, "d.test"));
	/* A result for a new destination makes room the same way. */
	struct probe_target t = target("mx.e.test", "192.0.2.5", 25);
	struct probe_result r = {.class = PROBE_PLAINTEXT};
	assert_non_null(probestate_record(ps, "e.test", &t, &r, 100));
	assert_false(has_plan(ps, "c.test"));
	assert_true(has_plan(ps, "a.test"));
	assert_true(has_plan(ps, "d.test"));
	probestate_free(ps);
}

/* ---- kv ---------------------------------------------------------------- */

struct kv_case {
	const char *name;
	const char *value;
	const char *written;		/* NULL: not checked */
};

static const char *
kv_case_name(const void *row)
{
	return ((const struct kv_case *)row)->name;
}

static const struct kv_case kv_cases[] = {
	{"kv: a plain word stays bare", "plain", "k=plain"},
	{"kv: empty", "", "k=\"\""},
	{"kv: spaces", "with some spaces", "k=\"with some spaces\""},
	{"kv: a quote", "say \"hi\"", "k=\"say \\\"hi\\\"\""},
	{"kv: a lone quote", "\"", "k=\"\\\"\""},
	{"kv: backslashes", "back\\slash\\", "k=\"back\\\\slash\\\\\""},
	{"kv: a literal \\x41", "\\x41", "k=\"\\\\x41\""},
	{"kv: an equals sign", "a=b", "k=\"a=b\""},
	{"kv: only an equals sign", "=", "k=\"=\""},
	{"kv: a forged field", "x other=forged", "k=\"x other=forged\""},
	{"kv: a forged line", "x\nevent=forged", "k=\"x\\x0aevent=forged\""},
	{"kv: control bytes", "\x01\x1f\t\r\x7f", "k=\"\\x01\\x1f\\x09\\x0d\\x7f\""},
	{"kv: high bytes", "caf\xc3\xa9 \xff", "k=\"caf\\xc3\\xa9 \\xff\""},
	{"kv: everything at once", " \"\\=\x01 end\\", NULL},
};

struct fields {
	int n;
	char key[4][16];
	char value[4][256];
};

static void
on_field(void *arg, const char *key, const char *value)
{
	struct fields *f = arg;

	if (f->n < 4) {
		snprintf(f->key[f->n], sizeof(f->key[f->n]), "%s", key);
		snprintf(f->value[f->n], sizeof(f->value[f->n]), "%s", value);
	}
	f->n++;
}

static void
test_kv(void **state)
{
	const struct kv_case *c = *state;
	struct buf b;
	struct fields f = {0};

	buf_init(&b);
	assert_int_equal(kv_str(&b, "k", c->value), 0);
	buf_terminate(&b);
	if (c->written)
		assert_string_equal(buf_ptr(&b), c->written);
	for (size_t i = 0; i < buf_size(&b); i++)
		assert_true(buf_ptr(&b)[i] >= 0x20 && buf_ptr(&b)[i] < 0x7f);
	/* With fields around it, as in a history line. */
	buf_reset(&b);
	kv_str(&b, "before", "x");
	kv_str(&b, "k", c->value);
	kv_str(&b, "after", c->value);
	kv_uint(&b, "n", 7);
	assert_int_equal(kv_parse(buf_ptr(&b), buf_size(&b), on_field, &f), 0);
	assert_int_equal(f.n, 4);
	assert_string_equal(f.key[0], "before");
	assert_string_equal(f.value[0], "x");
	assert_string_equal(f.key[1], "k");
	assert_string_equal(f.value[1], c->value);
	assert_string_equal(f.key[2], "after");
	assert_string_equal(f.value[2], c->value);
	assert_string_equal(f.key[3], "n");
	assert_string_equal(f.value[3], "7");
	buf_free(&b);
}

struct kv_bad_case {
	const char *name;
	const char *line;
	int fields;			/* passed on before the error */
};

static const char *
kv_bad_case_name(const void *row)
{
	return ((const struct kv_bad_case *)row)->name;
}

static const struct kv_bad_case kv_bad_cases[] = {
	{"kv_parse: a word without =", "a=1 word b=2", 1},
	{"kv_parse: no key", "a=1 =2", 1},
	{"kv_parse: no closing quote", "a=1 b=\"open", 1},
	{"kv_parse: garbage first", "garbage", 0},
};

static void
test_kv_bad(void **state)
{
	const struct kv_bad_case *c = *state;
	struct fields f = {0};

	assert_int_equal(kv_parse(c->line, strlen(c->line), on_field, &f), -1);
	assert_int_equal(f.n, c->fields);
}

/* A plan from a resolution: a host without TLSA records (the plan then
 * holds none at all, which once did arithmetic on a NULL pointer) and one
 * with a record, whose targets point at it. */
static void
test_plan_build(void **state)
{
	unsigned char rdata[3 + 32] = {3, 1, 1};
	struct dns_rdata tlsa = {sizeof(rdata), rdata};
	struct resolve_host hosts[2];
	struct resolve_result r;
	struct probeplan plan;
	struct probeplan_settings ps = {.address_limit = PROBEPLAN_DEFAULT_ADDRESS_LIMIT};

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(hosts, 0, sizeof(hosts));
	assert_int_equal(nexthop_parse("d.test", 6, &r.nexthop, &(const char *){NULL}), 0);
	r.nhosts = 1;
	r.hosts = hosts;
	snprintf(hosts[0].name, sizeof(hosts[0].name), "mx0.d.test");
	hosts[0].naddresses = 1;
	assert_int_equal(netaddr_parse("192.0.2.1", &hosts[0].addresses[0]), 0);
	assert_int_equal(probeplan_build(&r, &ps, &plan), 0);
	assert_int_equal(plan.n, 1);
	assert_int_equal(plan.ntlsa, 0);
	assert_null(plan.items[0].target.tlsa);
	assert_non_null(plan.items[0].refused);	/* documentation range */
	probeplan_free(&plan);

	r.nhosts = 2;
	snprintf(hosts[1].name, sizeof(hosts[1].name), "mx1.d.test");
	hosts[1].naddresses = 1;
	assert_int_equal(netaddr_parse("127.0.0.1", &hosts[1].addresses[0]), 0);
	hosts[1].ntlsa = 1;
	hosts[1].tlsa = &tlsa;
	assert_int_equal(probeplan_build(&r, &ps, &plan), 0);
	assert_int_equal(plan.n, 2);
	assert_int_equal(plan.ntlsa, 1);
	assert_null(plan.items[0].target.tlsa);
	assert_int_equal(plan.items[1].target.ntlsa, 1);
	assert_ptr_equal(plan.items[1].target.tlsa, plan.tlsa);
	assert_int_equal(plan.tlsa[0].usage, 3);
	assert_int_equal(plan.tlsa[0].len, 32);
	assert_non_null(plan.items[1].refused);	/* loopback */
	probeplan_free(&plan);
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_history_order),
		cmocka_unit_test(test_latest_and_shared),
		cmocka_unit_test(test_all_mismatch_news),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_save_replaces),
		cmocka_unit_test(test_eviction),
		cmocka_unit_test(test_plan_build),
	};
	struct table t = {0};

	if (!table_tmpdir(tmpdir, sizeof(tmpdir), "test_probestate")) {
		perror("test_probestate: mkdtemp");
		return 1;
	}
	TABLE_ADD(&t, due_cases, due_case, test_due);
	TABLE_ADD(&t, each_cases, each_case, test_each_due);
	TABLE_ADD(&t, detail_cases, detail_case, test_detail);
	TABLE_TESTS(&t, more);
	TABLE_ADD(&t, mismatch_cases, mismatch_case, test_all_mismatch);
	TABLE_ADD(&t, file_cases, file_case, test_load);
	TABLE_ADD(&t, save_cases, save_case, test_save_fails);
	TABLE_ADD(&t, kv_cases, kv_case, test_kv);
	TABLE_ADD(&t, kv_bad_cases, kv_bad_case, test_kv_bad);
	int rc = table_run(&t, "probestate");
	rmdir(tmpdir);
	return rc;
}
