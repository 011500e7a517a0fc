/* Unit tests: the policy map's cache, TTLs and shared resolutions. */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rules/exceptions.h"
#include "fake_dns.h"
#include "serve/policymap.h"
#include "dns/rr.h"
#include "serve/snapshot.h"

#include <unistd.h>

#include <event2/event.h>

#include "util/clock.h"
#ifdef HAVE_REDIS
#include "fleet/fleet.h"
#include "redislab.h"
#endif

#define S DNS_SECURE

static const struct fake_rr zone[] = {
	{"good.example", RR_TYPE_MX, DNS_DATA, S, 3600, NULL, {"10 mx.good.example"}, false},
	{"mx.good.example", RR_TYPE_A, DNS_DATA, S, 600, NULL, {"192.0.2.1"}, false},
	{"mx.good.example", RR_TYPE_AAAA, DNS_NODATA, S, 600, NULL, {NULL}, false},
	{"_25._tcp.mx.good.example", RR_TYPE_TLSA, DNS_DATA, S, 300, NULL, {"3 1 1 " FAKE_DIGEST32}, false},
	{"short.example", RR_TYPE_MX, DNS_NXDOMAIN, S, 1, NULL, {NULL}, false},
	{"long.example", RR_TYPE_MX, DNS_NXDOMAIN, S, 86400, NULL, {NULL}, false},
	{"broken.example", RR_TYPE_MX, DNS_SERVFAIL, DNS_INSECURE, 0, NULL, {NULL}, false},
	{"sub.example", RR_TYPE_MX, DNS_NXDOMAIN, S, 60, NULL, {NULL}, false},
	{"gone.example", RR_TYPE_MX, DNS_NXDOMAIN, S, 60, NULL, {NULL}, false},
	{"soon.example", RR_TYPE_MX, DNS_NXDOMAIN, S, 60, NULL, {NULL}, false},
	/* A provider whose TLSA lookups fail: mail to its customers defers. */
	{"customer.example", RR_TYPE_MX, DNS_DATA, S, 3600, NULL, {"10 mx.provider.example"}, false},
	{"mx.provider.example", RR_TYPE_A, DNS_DATA, S, 600, NULL, {"192.0.2.7"}, false},
	{"mx.provider.example", RR_TYPE_AAAA, DNS_NODATA, S, 600, NULL, {NULL}, false},
	{"_25._tcp.mx.provider.example", RR_TYPE_TLSA, DNS_SERVFAIL, DNS_BOGUS, 0, NULL, {NULL}, false},
	/* Two hosts: one with DANE, one at that provider. */
	{"partial.example", RR_TYPE_MX, DNS_DATA, S, 3600, NULL, {"10 mx.good.example", "20 mx.provider.example"}, false},
	/* Two hosts at two providers, one without TLSA. */
	{"twoprov.example", RR_TYPE_MX, DNS_DATA, S, 3600, NULL, {"10 mx.provider.example", "20 mx.other.example"}, false},
	{"mx.other.example", RR_TYPE_A, DNS_DATA, S, 600, NULL, {"192.0.2.8"}, false},
	{"mx.other.example", RR_TYPE_AAAA, DNS_NODATA, S, 600, NULL, {NULL}, false},
	{"_25._tcp.mx.other.example", RR_TYPE_TLSA, DNS_NXDOMAIN, S, 600, NULL, {NULL}, false},
};

struct fixture {
	struct fake_dns *fake;
	struct dns *dns;
	struct config *cfg;
	struct policymap *pm;
	uint64_t now;
};

struct answered {
	int calls;
	struct policymap_answer last;
	char reason[512];
};

static uint64_t
fake_clock(void *arg)
{
	return ((struct fixture *)arg)->now;
}

static int
setup(void **state)
{
	static const unsigned char seed[16] = "0123456789abcdef";
	struct fixture *f = calloc(1, sizeof(*f));
	struct buf errors;
	/* Expiry to the millisecond: prefetch, which gives an answer on
	 * while it is refreshed, has tests of its own (outage zone). */
	const char *text = "cache_min_ttl = 10s\ncache_max_ttl = 1h\ncache_temp_ttl = 15s\n"
	    "cache_max_entries = 100\ncache_prefetch_percent = 0\n";

	buf_init(&errors);
	f->cfg = config_parse(text, strlen(text), "test", &errors);
	assert_non_null(f->cfg);
	buf_free(&errors);
	f->dns = fake_dns_create(zone, sizeof(zone) / sizeof(zone[0]), &f->fake);
	f->now = 1000000;
	f->pm = policymap_create(f->dns, f->cfg, seed, fake_clock, f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	policymap_free(f->pm);
	dns_free(f->dns);
	config_unref(f->cfg);
	free(f);
	return 0;
}

static void
on_answer(void *arg, const struct policymap_answer *a)
{
	struct answered *r = arg;

	r->calls++;
	r->last = *a;
	snprintf(r->reason, sizeof(r->reason), "%s", a->reason);
	r->last.reason = r->reason;
}

static int
lookup(struct fixture *f, const char *key, struct policymap_answer *out, struct answered *r,
    struct policymap_waiter **w)
{
	struct nexthop nh;
	const char *why;

	assert_int_equal(nexthop_parse(key, strlen(key), &nh, &why), 0);
	return policymap_lookup(f->pm, &nh, out, on_answer, r, w);
}

static void
test_miss_then_hit(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r = {0};
	struct policymap_waiter *w;

	assert_int_equal(lookup(f, "good.example", &a, &r, &w), POLICYMAP_PENDING);
	assert_int_equal(r.calls, 0);
	fake_dns_run(f->fake);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.last.answer.rule, POLICY_RULE_ALL_DANE);
	assert_false(r.last.cache_hit);
	assert_int_equal(r.last.ttl_s, 300);	/* the TLSA's TTL, the smallest */
	assert_int_equal(lookup(f, "GOOD.example.", &a, &r, &w), POLICYMAP_DONE);
	assert_true(a.cache_hit);
	assert_int_equal(a.answer.rule, POLICY_RULE_ALL_DANE);
	assert_int_equal(fake_dns_total(f->fake), 4);	/* nothing more asked */
}

struct recent_seen {
	char keys[256];
	uint64_t used[4];
	size_t n;
};

static void
on_recent(void *arg, const struct policymap_cached *c)
{
	struct recent_seen *s = arg;
	size_t used = strlen(s->keys);

	snprintf(s->keys + used, sizeof(s->keys) - used, "%s=%s ", c->key, policy_result_name(c->answer.result));
	if (s->n < 4)
		s->used[s->n++] = c->used_ms;
}

/* The status page's walk: the latest asked for, within the bound, least
 * recent first, with when Postfix last asked. */
static void
test_each_recent(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r = {0};
	struct policymap_waiter *w;
	struct recent_seen seen = {""};

	assert_int_equal(policymap_each_recent(f->pm, 10, on_recent, &seen), 0);
	assert_string_equal(seen.keys, "");
	lookup(f, "good.example", &a, &r, &w);
	lookup(f, "broken.example", &a, &r, &w);
	lookup(f, "long.example", &a, &r, &w);
	fake_dns_run(f->fake);
	f->now += 5000;
	assert_int_equal(lookup(f, "good.example", &a, &r, &w), POLICYMAP_DONE);
	assert_int_equal(policymap_each_recent(f->pm, 10, on_recent, &seen), 0);
	assert_string_equal(seen.keys, "broken.example=temp long.example=notfound good.example=ok ");
	assert_int_equal(seen.used[2], f->now);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(policymap_each_recent(f->pm, 2, on_recent, &seen), 1);
	assert_string_equal(seen.keys, "long.example=notfound good.example=ok ");
}

/* Three requests while the resolution runs share it: one set of lookups. */
static void
test_shared_resolution(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r1 = {0}, r2 = {0}, r3 = {0};
	struct policymap_waiter *w1, *w2, *w3;

	assert_int_equal(lookup(f, "good.example", &a, &r1, &w1), POLICYMAP_PENDING);
	assert_int_equal(lookup(f, "good.example", &a, &r2, &w2), POLICYMAP_PENDING);
	assert_int_equal(lookup(f, "good.example", &a, &r3, &w3), POLICYMAP_PENDING);
	fake_dns_run(f->fake);
	assert_int_equal(r1.calls + r2.calls + r3.calls, 3);
	assert_false(r1.last.shared);
	assert_true(r2.last.shared);
	assert_true(r3.last.shared);
	assert_int_equal(fake_dns_count(f->fake, "good.example", RR_TYPE_MX), 1);
	struct policymap_stats st;
	policymap_stats(f->pm, &st);
	assert_int_equal(st.resolutions, 1);
	assert_int_equal(st.shared, 2);
	assert_int_equal(st.in_flight, 0);
}

/* A cancelled waiter is not called; the others are, and the answer is cached. */
static void
test_cancel_waiter(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r1 = {0}, r2 = {0};
	struct policymap_waiter *w1, *w2;

	lookup(f, "good.example", &a, &r1, &w1);
	lookup(f, "good.example", &a, &r2, &w2);
	policymap_waiter_cancel(w1);
	fake_dns_run(f->fake);
	assert_int_equal(r1.calls, 0);
	assert_int_equal(r2.calls, 1);
	assert_int_equal(lookup(f, "good.example", &a, &r1, &w1), POLICYMAP_DONE);
}

/* Every waiter cancelled: the resolution still completes and is cached. */
static void
test_all_cancelled_still_cached(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r = {0};
	struct policymap_waiter *w;

	lookup(f, "good.example", &a, &r, &w);
	policymap_waiter_cancel(w);
	fake_dns_run(f->fake);
	assert_int_equal(r.calls, 0);
	assert_int_equal(lookup(f, "good.example", &a, &r, &w), POLICYMAP_DONE);
}

/* TTLs: expiry at the smallest TTL, clamped to the configured bounds. */
static void
test_ttl_expiry_and_clamps(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r = {0};
	struct policymap_waiter *w;

	lookup(f, "good.example", &a, &r, &w);
	fake_dns_run(f->fake);
	f->now += 299999;
	assert_int_equal(lookup(f, "good.example", &a, &r, &w), POLICYMAP_DONE);
	f->now += 1;
	assert_int_equal(lookup(f, "good.example", &a, &r, &w), POLICYMAP_PENDING);
	fake_dns_run(f->fake);

	lookup(f, "short.example", &a, &r, &w);	/* TTL 1 s, raised to 10 s */
	fake_dns_run(f->fake);
	assert_int_equal(r.last.ttl_s, 10);
	assert_int_equal(r.last.answer.result, POLICY_NOTFOUND);
	lookup(f, "long.example", &a, &r, &w);		/* TTL 1 day, cut to 1 h */
	fake_dns_run(f->fake);
	assert_int_equal(r.last.ttl_s, 3600);
}

/* TEMP is cached for cache_temp_ttl only, so a failure is retried soon. */
static void
test_temp_cached_briefly(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r = {0};
	struct policymap_waiter *w;

	lookup(f, "broken.example", &a, &r, &w);
	fake_dns_run(f->fake);
	assert_int_equal(r.last.answer.result, POLICY_TEMP);
	assert_int_equal(r.last.ttl_s, 15);
	assert_int_equal(lookup(f, "broken.example", &a, &r, &w), POLICYMAP_DONE);
	assert_int_equal(a.answer.result, POLICY_TEMP);
	assert_non_null(strstr(a.reason, "SERVFAIL"));
	f->now += 15000;
	assert_int_equal(lookup(f, "broken.example", &a, &r, &w), POLICYMAP_PENDING);
	fake_dns_run(f->fake);
	assert_int_equal(fake_dns_count(f->fake, "broken.example", RR_TYPE_MX), 2);
}

static void
test_no_dns_needed(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r = {0};
	struct policymap_waiter *w;

	assert_int_equal(lookup(f, "[192.0.2.1]", &a, &r, &w), POLICYMAP_DONE);
	assert_int_equal(a.answer.result, POLICY_NOTFOUND);
	assert_int_equal(a.answer.rule, POLICY_RULE_IP_LITERAL);
	assert_int_equal(lookup(f, ".example", &a, &r, &w), POLICYMAP_DONE);
	assert_int_equal(a.answer.rule, POLICY_RULE_PARENT_FORM);
	assert_int_equal(fake_dns_total(f->fake), 0);
}

static void
test_purge(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r = {0};
	struct policymap_waiter *w;
	struct nexthop nh;
	const char *why;

	lookup(f, "good.example", &a, &r, &w);
	fake_dns_run(f->fake);
	nexthop_parse("good.example", 12, &nh, &why);
	assert_int_equal(policymap_purge(f->pm, &nh), 1);
	assert_int_equal(policymap_purge(f->pm, &nh), 0);
	assert_int_equal(lookup(f, "good.example", &a, &r, &w), POLICYMAP_PENDING);
	fake_dns_run(f->fake);
}

/* A waiter's callback may ask again at once (the next pipelined request):
 * the answer is already cached then. */
struct chain {
	struct fixture *f;
	int nested;
	struct policymap_answer inner;
};

static void
on_answer_ask_again(void *arg, const struct policymap_answer *a)
{
	struct chain *c = arg;
	struct answered r = {0};
	struct policymap_waiter *w;

	c->nested = lookup(c->f, "good.example", &c->inner, &r, &w);
}

static void
test_reentrant_lookup(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct policymap_waiter *w;
	struct nexthop nh;
	const char *why;
	struct chain c = {.f = f, .nested = -1};

	nexthop_parse("good.example", 12, &nh, &why);
	assert_int_equal(policymap_lookup(f->pm, &nh, &a, on_answer_ask_again, &c, &w), POLICYMAP_PENDING);
	fake_dns_run(f->fake);
	assert_int_equal(c.nested, POLICYMAP_DONE);
	assert_true(c.inner.cache_hit);
}

/* Reload: a new snapshot's levels and bounds apply to what follows. */
static void
test_reload_bounds(void **state)
{
	struct fixture *f = *state;
	struct buf errors;
	const char *text = "cache_min_ttl = 30s\ncache_max_ttl = 1h\n";
	struct policymap_answer a;
	struct answered r = {0};
	struct policymap_waiter *w;

	buf_init(&errors);
	struct config *cfg = config_parse(text, strlen(text), "reload", &errors);
	buf_free(&errors);
	policymap_set_config(f->pm, cfg);
	config_unref(cfg);
	lookup(f, "short.example", &a, &r, &w);
	fake_dns_run(f->fake);
	assert_int_equal(r.last.ttl_s, 30);
}

/* Exceptions: 2026-11-24 12:00 UTC on the wall clock. */
#define WALL_NOW 1795521600

static int64_t
fake_wall(void *arg)
{
	return *(int64_t *)arg;
}

static void
count_observed(void *arg, const struct resolve_result *r, uint64_t elapsed_ms)
{
	(*(int *)arg)++;
}

static const char exception_list[] =
    "## Evidence: TLSA mismatch\n"
    "good.example encrypt\n"
    ".sub.example\n"
    "gone.example expires=2026-11-23\n"
    "mx:mx.provider.example secure match=nexthop\n";

static void
set_exceptions(struct fixture *f, const char *text)
{
	struct buf errors;

	buf_init(&errors);
	struct exceptions *x = exceptions_parse(text, strlen(text), "exceptions", &errors);
	assert_non_null(x);
	buf_free(&errors);
	policymap_set_exceptions(f->pm, x, NULL);
	exceptions_unref(x);
}

struct exception_case {
	const char *name;
	const char *key;
	int ret;			/* POLICYMAP_DONE: before DNS */
	enum policy_rule rule;
	const char *policy;		/* NULL: no exception applies */
	const char *reason;		/* a part of the reason */
};

static const struct exception_case exception_cases[] = {
	{"exact: before DNS", "good.example", POLICYMAP_DONE, POLICY_RULE_EXCEPTION, "encrypt",
	    "exception (line 2) for good.example: encrypt"},
	{"subdomain entry: a subdomain", "a.b.sub.example", POLICYMAP_DONE, POLICY_RULE_EXCEPTION, "may",
	    "exception (line 3) for .sub.example: may"},
	{"subdomain entry: not the parent itself", "sub.example", POLICYMAP_PENDING, POLICY_RULE_NXDOMAIN, NULL, NULL},
	{"expired entry: DNS decides", "gone.example", POLICYMAP_PENDING, POLICY_RULE_NXDOMAIN, NULL, NULL},
	{"MX host entry: after the MX lookup", "customer.example", POLICYMAP_PENDING, POLICY_RULE_EXCEPTION,
	    "secure match=nexthop", "for MX host mx.provider.example: secure match=nexthop"},
	{"MX host entry: [host] next hop", "[mx.provider.example]", POLICYMAP_DONE, POLICY_RULE_EXCEPTION,
	    "secure match=nexthop", "exception (line 5)"},
	{"no entry: DNS decides", "long.example", POLICYMAP_PENDING, POLICY_RULE_NXDOMAIN, NULL, NULL},
};

static void
test_exception_row(struct fixture *f, const struct exception_case *c)
{
	struct policymap_answer a = {0};
	struct answered r = {0};
	struct policymap_waiter *w;
	int64_t wall = WALL_NOW;

	policymap_set_wall_clock(f->pm, fake_wall, &wall);
	set_exceptions(f, exception_list);
	int ret = lookup(f, c->key, &a, &r, &w);
	if (ret != c->ret)
		fail_msg("%s: lookup returned %d, want %d", c->name, ret, c->ret);
	fake_dns_run(f->fake);
	const struct policymap_answer *got = ret == POLICYMAP_DONE ? &a : &r.last;
	if (ret == POLICYMAP_PENDING && r.calls != 1)
		fail_msg("%s: %d callbacks", c->name, r.calls);
	if (got->answer.rule != c->rule)
		fail_msg("%s: rule %s, want %s", c->name, policy_rule_name(got->answer.rule),
		    policy_rule_name(c->rule));
	if (!c->policy) {
		if (got->policy)
			fail_msg("%s: policy %s, want none", c->name, got->policy);
		return;
	}
	if (!got->policy || strcmp(got->policy, c->policy) != 0)
		fail_msg("%s: policy %s, want %s", c->name, got->policy ? got->policy : "(none)", c->policy);
	if (!strstr(got->reason, c->reason))
		fail_msg("%s: reason \"%s\" lacks \"%s\"", c->name, got->reason, c->reason);
	/* Asked again: still the exception (a cached MX-host answer, or the entry). */
	assert_int_equal(lookup(f, c->key, &a, &r, &w), POLICYMAP_DONE);
	assert_int_equal(a.answer.rule, POLICY_RULE_EXCEPTION);
	assert_string_equal(a.policy, c->policy);
}

static void
test_exception_cases(void **state)
{
	for (size_t i = 0; i < sizeof(exception_cases) / sizeof(exception_cases[0]); i++) {
		teardown(state);
		setup(state);
		test_exception_row(*state, &exception_cases[i]);
	}
}

/* An excepted destination is still resolved, once, so that its hosts are
 * probed; the answer stays the exception's. */
static void
test_exception_resolves_in_background(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r = {0};
	struct policymap_waiter *w;
	int64_t wall = WALL_NOW;
	int observed = 0;

	policymap_set_wall_clock(f->pm, fake_wall, &wall);
	policymap_set_observer(f->pm, count_observed, &observed);
	set_exceptions(f, exception_list);
	assert_int_equal(lookup(f, "good.example", &a, &r, &w), POLICYMAP_DONE);
	assert_int_equal(lookup(f, "good.example", &a, &r, &w), POLICYMAP_DONE);
	fake_dns_run(f->fake);
	assert_int_equal(observed, 1);
	assert_int_equal(r.calls, 0);
	assert_int_equal(lookup(f, "good.example", &a, &r, &w), POLICYMAP_DONE);
	assert_int_equal(a.answer.rule, POLICY_RULE_EXCEPTION);
	fake_dns_run(f->fake);
	assert_int_equal(observed, 1);	/* cached: not resolved again */
}

/* An entry that expires while its answers are cached stops applying at
 * once; a retired entry stops applying until the list is set again. */
static void
test_exception_expiry_and_retire(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r = {0};
	struct policymap_waiter *w;
	int64_t wall = WALL_NOW;

	policymap_set_wall_clock(f->pm, fake_wall, &wall);
	set_exceptions(f, "soon.example expires=2026-11-24\ngood.example\n");
	assert_int_equal(lookup(f, "soon.example", &a, &r, &w), POLICYMAP_DONE);
	assert_int_equal(a.answer.rule, POLICY_RULE_EXCEPTION);
	wall += 12 * 3600;	/* midnight: the end of the day it names */
	assert_int_equal(lookup(f, "soon.example", &a, &r, &w), POLICYMAP_PENDING);
	fake_dns_run(f->fake);

	assert_int_equal(lookup(f, "good.example", &a, &r, &w), POLICYMAP_DONE);
	fake_dns_run(f->fake);
	policymap_retire(f->pm, "good.example");
	assert_int_equal(lookup(f, "good.example", &a, &r, &w), POLICYMAP_PENDING);
	fake_dns_run(f->fake);
	assert_int_equal(r.last.answer.rule, POLICY_RULE_ALL_DANE);
	assert_null(r.last.policy);
	policymap_unretire_all(f->pm);
	assert_int_equal(lookup(f, "good.example", &a, &r, &w), POLICYMAP_DONE);
	assert_int_equal(a.answer.rule, POLICY_RULE_EXCEPTION);
}

/* A new list empties the cache: an answer given under the old one is not
 * served under the new one. */
/* An answer decided beside a failed host (here dane-only, the failed host
 * skipped) is kept only as long as a TEMP, and never becomes the secure
 * answer served through an outage. */
static void
test_failed_host_kept_briefly(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r = {0};
	struct policymap_waiter *w;
	struct buf snap;

	assert_int_equal(lookup(f, "partial.example", &a, &r, &w), POLICYMAP_PENDING);
	fake_dns_run(f->fake);
	assert_int_equal(r.last.answer.result, POLICY_OK);
	assert_int_equal(r.last.answer.rule, POLICY_RULE_ALL_DANE);
	assert_int_equal(r.last.ttl_s, 15);
	f->now += 14999;
	assert_int_equal(lookup(f, "partial.example", &a, &r, &w), POLICYMAP_DONE);
	f->now += 1;
	assert_int_equal(lookup(f, "partial.example", &a, &r, &w), POLICYMAP_PENDING);
	fake_dns_run(f->fake);
	buf_init(&snap);
	assert_int_equal(policymap_snapshot(f->pm, &snap), 0);
	buf_terminate(&snap);
	assert_non_null(strstr(buf_ptr(&snap), "store=answers key=partial.example"));
	assert_null(strstr(buf_ptr(&snap), "store=secure key=partial.example"));
	buf_free(&snap);
}

/* An "mx:" entry replaces the answer only when it names every host that
 * has an address; naming some leaves dane, so that Postfix checks the
 * others' TLSA records and skips only the listed host. */
static void
test_mx_exception_partial(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r = {0};
	struct policymap_waiter *w;

	set_exceptions(f, "mx:mx.provider.example may\n");
	assert_int_equal(lookup(f, "partial.example", &a, &r, &w), POLICYMAP_PENDING);
	fake_dns_run(f->fake);
	assert_int_equal(r.last.answer.result, POLICY_OK);
	assert_int_equal(r.last.answer.rule, POLICY_RULE_EXCEPTION);
	assert_string_equal(r.last.policy, "dane");
	assert_non_null(strstr(r.last.reason, "exception (line 1) for MX host mx.provider.example: may"));
	assert_non_null(strstr(r.last.reason, "names 1 of 2 MX hosts, so dane"));
	/* The one host it names: the entry decides. */
	assert_int_equal(lookup(f, "customer.example", &a, &r, &w), POLICYMAP_PENDING);
	fake_dns_run(f->fake);
	assert_string_equal(r.last.policy, "may");
	/* One of two hosts, the other without TLSA: still dane, not may. */
	assert_int_equal(lookup(f, "twoprov.example", &a, &r, &w), POLICYMAP_PENDING);
	fake_dns_run(f->fake);
	assert_int_equal(r.last.answer.rule, POLICY_RULE_EXCEPTION);
	assert_string_equal(r.last.policy, "dane");
	/* Entries for both hosts: the first in MX order decides. */
	set_exceptions(f, "mx:mx.provider.example may\nmx:mx.other.example encrypt\n");
	assert_int_equal(lookup(f, "twoprov.example", &a, &r, &w), POLICYMAP_PENDING);
	fake_dns_run(f->fake);
	assert_string_equal(r.last.policy, "may");
}

static void
test_exception_list_swap(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r = {0};
	struct policymap_waiter *w;
	int64_t wall = WALL_NOW;

	policymap_set_wall_clock(f->pm, fake_wall, &wall);
	set_exceptions(f, "mx:mx.provider.example encrypt\n");
	lookup(f, "customer.example", &a, &r, &w);
	fake_dns_run(f->fake);
	assert_int_equal(r.last.answer.rule, POLICY_RULE_EXCEPTION);
	set_exceptions(f, "other.example\n");
	assert_int_equal(lookup(f, "customer.example", &a, &r, &w), POLICYMAP_PENDING);
	fake_dns_run(f->fake);
	assert_int_equal(r.last.answer.result, POLICY_TEMP);
	assert_null(r.last.policy);
}

/* --- stale answers and snapshots: a zone each test may change --- */

static struct fake_rr outage_zone[] = {
	{"outage.example", RR_TYPE_MX, DNS_DATA, S, 3600, NULL, {"10 mx.outage.example"}, false},
	{"mx.outage.example", RR_TYPE_A, DNS_DATA, S, 600, NULL, {"192.0.2.9"}, false},
	{"mx.outage.example", RR_TYPE_AAAA, DNS_NODATA, S, 600, NULL, {NULL}, false},
	{"_25._tcp.mx.outage.example", RR_TYPE_TLSA, DNS_DATA, S, 300, NULL, {"3 1 1 " FAKE_DIGEST32}, false},
};
#define OUTAGE_MX 0
#define OUTAGE_TLSA 3

struct outage {
	struct fixture f;
	int64_t wall;
	/* With a fleet: answers may wait for Redis on this loop. */
	struct event_base *loop;
};

static int64_t
outage_wall(void *arg)
{
	return ((struct outage *)arg)->wall;
}

static void
outage_setup(struct outage *o, const char *extra)
{
	static const unsigned char seed[16] = "0123456789abcdef";
	struct buf errors, text;

	/* Every test starts from the working zone. */
	outage_zone[OUTAGE_MX].outcome = DNS_DATA;
	outage_zone[OUTAGE_MX].security = S;
	outage_zone[OUTAGE_TLSA].outcome = DNS_DATA;
	outage_zone[OUTAGE_TLSA].security = S;
	outage_zone[OUTAGE_TLSA].ttl = 300;
	memset(o, 0, sizeof(*o));
	buf_init(&errors);
	buf_init(&text);
	buf_printf(&text, "cache_min_ttl = 10s\ncache_max_ttl = 1h\ncache_temp_ttl = 15s\n%s", extra);
	o->f.cfg = config_parse(buf_ptr(&text), buf_size(&text), "test", &errors);
	assert_non_null(o->f.cfg);
	buf_free(&errors);
	buf_free(&text);
	o->f.dns = fake_dns_create(outage_zone, sizeof(outage_zone) / sizeof(outage_zone[0]), &o->f.fake);
	o->f.now = 1000000;
	o->wall = 1760000000;
	o->f.pm = policymap_create(o->f.dns, o->f.cfg, seed, fake_clock, &o->f);
	policymap_set_wall_clock(o->f.pm, outage_wall, o);
}

static void
outage_teardown(struct outage *o)
{
	policymap_free(o->f.pm);
	dns_free(o->f.dns);
	config_unref(o->f.cfg);
}

/* Resolves (the cache having expired) and returns the answer. */
static struct policymap_answer
resolve_now(struct outage *o, struct answered *r)
{
	struct policymap_answer a;
	struct policymap_waiter *w;

	memset(r, 0, sizeof(*r));
	int rc = lookup(&o->f, "outage.example", &a, r, &w);
	if (rc == POLICYMAP_DONE)
		return a;
	assert_int_equal(rc, POLICYMAP_PENDING);
	fake_dns_run(o->f.fake);
	for (uint64_t end = clock_monotonic_ms() + 3000; o->loop && r->calls == 0 && clock_monotonic_ms() < end;) {
		event_base_loop(o->loop, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(1000);
	}
	assert_int_equal(r->calls, 1);
	return r->last;
}

static void
advance(struct outage *o, uint64_t seconds)
{
	o->f.now += seconds * 1000;
	o->wall += (int64_t)seconds;
}

/* An outage after a dane-only answer: that answer, marked stale, until
 * stale_answer_max_age; then TEMP. */
static void
test_stale_through_outage(void **state)
{
	struct outage o;
	struct answered r;

	outage_setup(&o, "stale_answer_max_age = 1h\n");
	struct policymap_answer a = resolve_now(&o, &r);
	assert_int_equal(a.answer.rule, POLICY_RULE_ALL_DANE);
	assert_false(a.stale);
	advance(&o, 301);		/* past the TLSA's TTL */
	outage_zone[OUTAGE_MX].outcome = DNS_SERVFAIL;
	outage_zone[OUTAGE_MX].security = DNS_INSECURE;
	a = resolve_now(&o, &r);
	assert_int_equal(a.answer.result, POLICY_OK);
	assert_int_equal(a.answer.rule, POLICY_RULE_ALL_DANE);
	assert_true(a.stale);
	assert_int_equal(a.ttl_s, 15);	/* retried as soon as a TEMP would be */
	assert_non_null(strstr(a.reason, "stale: MX lookup for outage.example"));
	assert_non_null(strstr(a.reason, "from 301 s ago"));
	/* Within the short TTL: from the cache. */
	a = resolve_now(&o, &r);
	assert_true(a.cache_hit);
	assert_int_equal(a.answer.rule, POLICY_RULE_ALL_DANE);
	struct policymap_stats st;
	policymap_stats(o.f.pm, &st);
	assert_int_equal(st.stale, 1);
	/* An hour after the secure answer: TEMP. */
	advance(&o, 3600 - 301);
	a = resolve_now(&o, &r);
	assert_int_equal(a.answer.result, POLICY_TEMP);
	assert_false(a.stale);
	outage_teardown(&o);
}

#ifdef HAVE_REDIS
/* --- the fleet's last secure answers, through a real redis-server --- */

static struct fleet *
fleet_on(const char *relay, int64_t (*wall)(void *), void *wall_arg)
{
	return redislab_fleet(&rl.redis, rl.base, rl.log, &rl.key, relay, wall, wall_arg);
}

static void
wait_for_key(const char *key)
{
	char *v = NULL;

	for (int i = 0; i < 3000 && !(v = redislab_get(&rl.redis, key)); i++) {
		event_base_loop(rl.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(1000);
	}
	assert_non_null(v);
	free(v);
}

/* Relay A resolved a DANE destination; relay B, which never did, meets an
 * outage for it: B serves A's last secure answer, stale, and keeps it as
 * its own. A forged or another key's value changes nothing: TEMP. */
static void
test_fleet_stale(void **state)
{
	struct outage a, b;
	struct answered r;

	if (redislab_missing())
		return;
	assert_true(redislab_init(&rl.redis, "pmfleet"));
	redislab_start(&rl.redis, NULL);
	rl.base = event_base_new();
	rl.log = log_create_stderr(LOGL_WARNING);
	memset(rl.key.secret, 's', 40);
	rl.key.len = 40;

	outage_setup(&a, "stale_answer_max_age = 1h\n");
	outage_setup(&b, "stale_answer_max_age = 1h\n");
	a.loop = b.loop = rl.base;
	struct fleet *fa = fleet_on("a", outage_wall, &a), *fb = fleet_on("b", outage_wall, &b);
	policymap_set_fleet(a.f.pm, fa);
	policymap_set_fleet(b.f.pm, fb);

	struct policymap_answer ans = resolve_now(&a, &r);
	assert_int_equal(ans.answer.rule, POLICY_RULE_ALL_DANE);
	wait_for_key("t:stale:outage.example");

	outage_zone[OUTAGE_MX].outcome = DNS_SERVFAIL;
	outage_zone[OUTAGE_MX].security = DNS_INSECURE;
	advance(&b, 60);
	ans = resolve_now(&b, &r);
	assert_int_equal(ans.answer.result, POLICY_OK);
	assert_int_equal(ans.answer.rule, POLICY_RULE_ALL_DANE);
	assert_true(ans.stale);
	assert_non_null(strstr(ans.reason, "from 60 s ago"));
	struct policymap_stats st;
	policymap_stats(b.f.pm, &st);
	assert_int_equal(st.stale_fleet, 1);

	/* Kept as B's own: the next outage needs no fleet. */
	policymap_set_fleet(b.f.pm, NULL);
	advance(&b, 16);
	ans = resolve_now(&b, &r);
	assert_true(ans.stale);
	policymap_set_fleet(b.f.pm, fb);

	/* A third relay, whose store holds a forged value, another key's, or
	 * none: TEMP. */
	static const char *const forged[] = {
		"garbage",
		"tpf1 1760003600 0000000000000000000000000000000000000000000000000000000000000000 x",
		NULL,	/* another key's: written below */
	};
	char *real = redislab_get(&rl.redis, "t:stale:outage.example");
	assert_non_null(real);
	for (size_t i = 0; i < 3; i++) {
		struct outage c;
		outage_setup(&c, "stale_answer_max_age = 1h\n");
		c.loop = rl.base;
		outage_zone[OUTAGE_MX].outcome = DNS_SERVFAIL;
		outage_zone[OUTAGE_MX].security = DNS_INSECURE;
		struct fleet *fc = fleet_on("c", outage_wall, &c);
		policymap_set_fleet(c.f.pm, fc);
		if (forged[i]) {
			redislab_set(&rl.redis, "t:stale:outage.example", forged[i]);
		} else {
			/* The real payload, sealed for another key. */
			const char *payload = real;
			for (int sp = 0; sp < 3; sp++)
				payload = strchr(payload, ' ') + 1;
			struct buf copied;
			buf_init(&copied);
			assert_int_equal(fleetvalue_seal(&rl.key, "t:stale:other.example", b.wall + 600, payload,
			    strlen(payload), &copied), 0);
			buf_terminate(&copied);
			redislab_set(&rl.redis, "t:stale:outage.example", buf_ptr(&copied));
			buf_free(&copied);
		}
		ans = resolve_now(&c, &r);
		assert_int_equal(ans.answer.result, POLICY_TEMP);
		assert_false(ans.stale);
		struct fleet_stats fs;
		fleet_stats(fc, &fs);
		assert_int_equal(fs.rejected[FLEET_STALE][i == 0 ? FLEETVALUE_MALFORMED : FLEETVALUE_BAD_MAC], 1);
		outage_teardown(&c);
		fleet_free(fc);
	}
	free(real);

	/* Redis gone: TEMP at once, nothing waits. */
	redislab_stop(&rl.redis);
	struct outage d;
	outage_setup(&d, "stale_answer_max_age = 1h\n");
	d.loop = rl.base;
	outage_zone[OUTAGE_MX].outcome = DNS_SERVFAIL;
	outage_zone[OUTAGE_MX].security = DNS_INSECURE;
	policymap_set_fleet(d.f.pm, fa);
	for (int i = 0; i < 200 && fleet_up(fa); i++) {
		event_base_loop(rl.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(1000);
	}
	ans = resolve_now(&d, &r);
	assert_int_equal(ans.answer.result, POLICY_TEMP);
	outage_teardown(&d);

	outage_teardown(&a);
	outage_teardown(&b);
	fleet_free(fa);
	fleet_free(fb);
	event_base_free(rl.base);
	log_free(rl.log);
}
#endif

/* --- prefetch: the outage zone's answer lives 300 s (its TLSA's TTL) --- */

static struct policymap_stats
stats_of(const struct outage *o)
{
	struct policymap_stats st;

	policymap_stats(o->f.pm, &st);
	return st;
}

/* A hit answered at once, from the cache, whatever it started. */
static struct policymap_answer
hit(struct outage *o)
{
	struct policymap_answer a;
	struct answered r = {0};
	struct policymap_waiter *w;

	assert_int_equal(lookup(&o->f, "outage.example", &a, &r, &w), POLICYMAP_DONE);
	assert_true(a.cache_hit);
	return a;
}

/* Only a hit in the last 10 % of the answer's life (30 s of 300) starts a
 * refresh, and only one per answer; its answer then lives 300 s again. */
static void
test_prefetch_in_window_once(void **state)
{
	struct outage o;
	struct answered r;

	outage_setup(&o, "");
	resolve_now(&o, &r);
	unsigned asked = fake_dns_total(o.f.fake);
	advance(&o, 269);
	hit(&o);			/* 31 s left: outside */
	assert_int_equal(fake_dns_pending(o.f.fake), 0);
	advance(&o, 1);
	struct policymap_answer a = hit(&o);	/* 30 s left: inside */
	assert_int_equal(a.answer.rule, POLICY_RULE_ALL_DANE);
	assert_int_equal(a.ttl_s, 30);
	assert_int_equal(fake_dns_pending(o.f.fake), 1);	/* the MX, of the refresh */
	advance(&o, 5);
	hit(&o);
	fake_dns_run(o.f.fake);
	assert_int_equal(fake_dns_total(o.f.fake), 2 * asked);	/* one refresh, not two */
	struct policymap_stats st = stats_of(&o);
	assert_int_equal(st.refreshes, 1);
	assert_int_equal(st.refresh_outcomes[POLICYMAP_REFRESH_RENEWED], 1);
	assert_int_equal(st.misses, 1);
	a = hit(&o);
	assert_int_equal(a.ttl_s, 300);
	outage_teardown(&o);
}

/* Nobody asks: nothing is refreshed, and the answer expires as before. */
static void
test_prefetch_not_unasked(void **state)
{
	struct outage o;
	struct answered r;

	outage_setup(&o, "");
	resolve_now(&o, &r);
	advance(&o, 295);
	assert_int_equal(fake_dns_pending(o.f.fake), 0);
	advance(&o, 10);
	struct policymap_answer a;
	struct policymap_waiter *w;
	assert_int_equal(lookup(&o.f, "outage.example", &a, &r, &w), POLICYMAP_PENDING);
	fake_dns_run(o.f.fake);
	assert_int_equal(stats_of(&o).refreshes, 0);
	assert_int_equal(stats_of(&o).misses, 2);
	outage_teardown(&o);
}

/* A refresh that fails changes nothing: the answer stands, no shorter,
 * until it expires; then a failure's rules apply (here TEMP: the TLSA
 * lookup is bogus, which the stale answer does not cover). The same for
 * a resolver outage, where the stale secure answer follows. */
static void
test_prefetch_failure_keeps_answer(void **state)
{
	for (int bogus = 0; bogus < 2; bogus++) {
		struct outage o;
		struct answered r;

		outage_setup(&o, "stale_answer_max_age = 1h\n");
		resolve_now(&o, &r);
		advance(&o, 280);
		hit(&o);
		outage_zone[OUTAGE_TLSA].outcome = DNS_SERVFAIL;
		outage_zone[OUTAGE_TLSA].security = bogus ? DNS_BOGUS : DNS_INSECURE;
		fake_dns_run(o.f.fake);
		assert_int_equal(stats_of(&o).refresh_outcomes[POLICYMAP_REFRESH_KEPT], 1);
		advance(&o, 10);
		struct policymap_answer a = hit(&o);
		assert_int_equal(a.answer.rule, POLICY_RULE_ALL_DANE);
		assert_int_equal(a.ttl_s, 10);	/* not shortened */
		assert_int_equal(fake_dns_pending(o.f.fake), 0);	/* and not refreshed again */
		advance(&o, 10);	/* expired */
		a = resolve_now(&o, &r);
		assert_false(a.cache_hit);
		if (bogus) {
			assert_int_equal(a.answer.result, POLICY_TEMP);
		} else {
			assert_true(a.stale);
			assert_int_equal(a.answer.rule, POLICY_RULE_ALL_DANE);
		}
		outage_teardown(&o);
	}
}

/* The resolver gives back the records it had cached, expiring with the
 * answer: the answer is then given past its expiry while a refresh that
 * started after it runs (one), for at most dns_timeout (10 s by default);
 * past that a request waits for it as for any resolution. */
static void
test_prefetch_late_while_refreshing(void **state)
{
	struct outage o;
	struct answered r;

	outage_setup(&o, "");
	resolve_now(&o, &r);
	advance(&o, 280);
	hit(&o);
	outage_zone[OUTAGE_TLSA].ttl = 20;	/* what was left of the cached 300 s */
	fake_dns_run(o.f.fake);
	assert_int_equal(stats_of(&o).refresh_outcomes[POLICYMAP_REFRESH_UNCHANGED], 1);
	advance(&o, 15);
	hit(&o);
	assert_int_equal(fake_dns_pending(o.f.fake), 0);	/* no second refresh inside its life */
	advance(&o, 6);		/* 1 s past its expiry */
	struct policymap_answer a = hit(&o);
	assert_int_equal(a.answer.rule, POLICY_RULE_ALL_DANE);
	assert_int_equal(a.ttl_s, 0);
	assert_int_equal(fake_dns_pending(o.f.fake), 1);	/* the refresh, started now */
	advance(&o, 2);
	hit(&o);
	assert_int_equal(stats_of(&o).refreshes, 2);
	assert_int_equal(stats_of(&o).late, 2);
	advance(&o, 8);		/* 11 s past: past dns_timeout, the request waits */
	struct policymap_waiter *w;
	memset(&r, 0, sizeof(r));
	assert_int_equal(lookup(&o.f, "outage.example", &a, &r, &w), POLICYMAP_PENDING);
	outage_zone[OUTAGE_TLSA].ttl = 300;	/* the resolver's copy expired: fresh records */
	fake_dns_run(o.f.fake);
	assert_int_equal(r.calls, 1);
	assert_true(r.last.shared);	/* joined the refresh */
	assert_int_equal(r.last.ttl_s, 300);
	assert_int_equal(stats_of(&o).refreshes, 2);
	outage_teardown(&o);
}

/* A short-lived answer (here 10 s, cache_min_ttl) has a window of at
 * least 2 s, not a tenth of its life: time for a request to fall in. */
static void
test_prefetch_short_life(void **state)
{
	struct outage o;
	struct answered r;

	outage_setup(&o, "");
	outage_zone[OUTAGE_TLSA].ttl = 1;
	struct policymap_answer a = resolve_now(&o, &r);
	assert_int_equal(a.ttl_s, 10);
	o.f.now += 7900;
	hit(&o);
	assert_int_equal(fake_dns_pending(o.f.fake), 0);
	o.f.now += 100;		/* 2 s left */
	hit(&o);
	assert_int_equal(fake_dns_pending(o.f.fake), 1);
	outage_teardown(&o);
}

/* A refresh still under way when the answer expires: the answer is given
 * on until it ends (no second refresh), at most dns_timeout past. */
static void
test_prefetch_slow_refresh(void **state)
{
	struct outage o;
	struct answered r;

	outage_setup(&o, "");
	resolve_now(&o, &r);
	advance(&o, 290);
	hit(&o);
	advance(&o, 15);	/* 5 s past its expiry, the refresh not answered */
	struct policymap_answer a = hit(&o);
	assert_int_equal(a.answer.rule, POLICY_RULE_ALL_DANE);
	assert_int_equal(stats_of(&o).refreshes, 1);
	assert_int_equal(stats_of(&o).late, 1);
	fake_dns_run(o.f.fake);
	assert_int_equal(stats_of(&o).refresh_outcomes[POLICYMAP_REFRESH_RENEWED], 1);
	a = hit(&o);
	assert_int_equal(a.ttl_s, 300);
	outage_teardown(&o);
}

/* At most cache_prefetch_max at once; none at all when off. */
static void
test_prefetch_limit_and_off(void **state)
{
	struct outage o;
	struct answered r;

	outage_setup(&o, "cache_prefetch_max = 1\n");
	resolve_now(&o, &r);
	struct policymap_answer a;
	struct policymap_waiter *w;
	struct answered r2 = {0};
	assert_int_equal(lookup(&o.f, "[mx.outage.example]", &a, &r2, &w), POLICYMAP_PENDING);
	fake_dns_run(o.f.fake);
	advance(&o, 290);
	hit(&o);
	assert_int_equal(lookup(&o.f, "[mx.outage.example]", &a, &r2, &w), POLICYMAP_DONE);
	assert_int_equal(stats_of(&o).refreshes, 1);
	assert_int_equal(stats_of(&o).refresh_skipped, 1);
	fake_dns_run(o.f.fake);
	assert_int_equal(lookup(&o.f, "[mx.outage.example]", &a, &r2, &w), POLICYMAP_DONE);
	assert_int_equal(stats_of(&o).refreshes, 2);	/* a later hit in the window */
	outage_teardown(&o);

	outage_setup(&o, "cache_prefetch_percent = 0\n");
	resolve_now(&o, &r);
	advance(&o, 299);
	hit(&o);
	assert_int_equal(fake_dns_pending(o.f.fake), 0);
	outage_teardown(&o);
}

/* A DNSSEC failure is no outage: TEMP, whatever was answered before. */
static void
test_no_stale_for_bogus(void **state)
{
	struct outage o;
	struct answered r;

	outage_setup(&o, "");
	assert_int_equal(resolve_now(&o, &r).answer.rule, POLICY_RULE_ALL_DANE);
	advance(&o, 301);
	outage_zone[OUTAGE_MX].outcome = DNS_SERVFAIL;
	outage_zone[OUTAGE_MX].security = DNS_BOGUS;
	struct policymap_answer a = resolve_now(&o, &r);
	assert_int_equal(a.answer.result, POLICY_TEMP);
	assert_true(a.answer.bogus);
	assert_false(a.stale);
	outage_teardown(&o);
}

/* A destination that gave up DANE is never answered dane from memory;
 * nor is anything when stale answers are off. */
static void
test_no_stale_after_may_or_when_off(void **state)
{
	struct outage o;
	struct answered r;

	outage_setup(&o, "");
	assert_int_equal(resolve_now(&o, &r).answer.rule, POLICY_RULE_ALL_DANE);
	advance(&o, 301);
	outage_zone[OUTAGE_TLSA].outcome = DNS_NODATA;
	assert_int_equal(resolve_now(&o, &r).answer.rule, POLICY_RULE_NO_TLSA);
	advance(&o, 3601);
	outage_zone[OUTAGE_MX].outcome = DNS_SERVFAIL;
	outage_zone[OUTAGE_MX].security = DNS_INSECURE;
	assert_int_equal(resolve_now(&o, &r).answer.result, POLICY_TEMP);
	outage_teardown(&o);

	outage_setup(&o, "stale_answer_max_age = 0\n");
	assert_int_equal(resolve_now(&o, &r).answer.rule, POLICY_RULE_ALL_DANE);
	advance(&o, 301);
	outage_zone[OUTAGE_MX].outcome = DNS_SERVFAIL;
	outage_zone[OUTAGE_MX].security = DNS_INSECURE;
	assert_int_equal(resolve_now(&o, &r).answer.result, POLICY_TEMP);
	outage_teardown(&o);
}

/* A snapshot restores into a fresh map: the answer without DNS, and the
 * secure answer for an outage; expired entries and bad lines do not. */
static void
test_snapshot_restore(void **state)
{
	struct outage o, back;
	struct answered r;
	struct buf snap;

	outage_setup(&o, "");
	assert_int_equal(resolve_now(&o, &r).answer.rule, POLICY_RULE_ALL_DANE);
	buf_init(&snap);
	assert_int_equal(policymap_snapshot(o.f.pm, &snap), 0);
	buf_terminate(&snap);
	assert_non_null(strstr(buf_ptr(&snap), "store=answers key=outage.example result=ok rule=all-hosts-dane"));
	assert_non_null(strstr(buf_ptr(&snap), "store=secure key=outage.example"));
	outage_teardown(&o);

	/* A restart 100 s later: the answer is there, with 200 s left. */
	outage_setup(&back, "");
	back.wall += 100;
	const char *junk = "this is not a snapshot line\n"
	    "store=answers key=Outage.Example. result=ok rule=all-hosts-dane bogus=no reason=x stored=1 expires=9999999999\n"
	    "store=answers key=x.example result=ok rule=exception bogus=no reason=x stored=1 expires=9999999999\n"
	    /* Answers the daemon never gives: OK without a level to serve,
	     * an exception that is not OK, bogus on an answer that is not
	     * TEMP (they once crashed the restore, or the first lookup). */
	    "store=answers key=nx.example result=ok rule=nxdomain bogus=no reason=x stored=1 expires=9999999999\n"
	    "store=answers key=temp.example result=temp rule=exception bogus=no policy=encrypt reason=x "
	    "stored=1 expires=9999999999\n"
	    "store=secure key=nf.example result=notfound rule=all-hosts-dane bogus=no reason=x stored=1 "
	    "expires=9999999999\n"
	    "store=answers key=b.example result=ok rule=all-hosts-dane bogus=yes reason=x stored=1 "
	    "expires=9999999999\n";
	buf_puts(&snap, junk);
	assert_int_equal(policymap_restore(back.f.pm, buf_ptr(&snap), buf_size(&snap)), 2);
	struct policymap_answer a = resolve_now(&back, &r);
	assert_true(a.cache_hit);
	assert_int_equal(a.answer.rule, POLICY_RULE_ALL_DANE);
	assert_true(a.ttl_s <= 200 && a.ttl_s >= 199);
	assert_int_equal(fake_dns_total(back.f.fake), 0);
	/* And an outage after it: the restored secure answer, stale. */
	advance(&back, 201);
	outage_zone[OUTAGE_MX].outcome = DNS_SERVFAIL;
	outage_zone[OUTAGE_MX].security = DNS_INSECURE;
	a = resolve_now(&back, &r);
	assert_true(a.stale);
	assert_int_equal(a.answer.rule, POLICY_RULE_ALL_DANE);
	outage_teardown(&back);

	/* A day later everything has expired: nothing restored. */
	outage_setup(&back, "");
	back.wall += 86400 + 1;
	assert_int_equal(policymap_restore(back.f.pm, buf_ptr(&snap), buf_size(&snap)), 0);
	outage_teardown(&back);
	buf_free(&snap);
}

/* --- the resolver not known to validate (the daemon's trust check) --- */

#define UNTRUSTED "trust check: DNSKEY test. came back insecure"

/* Every request that misses the cache: TEMP for the trust check's reason,
 * without a lookup and without caching, so that the answers change the
 * moment a check passes. Without DNS, no change. */
static void
test_untrusted_answers_temp(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r = {0};
	struct policymap_waiter *w;

	policymap_set_untrusted(f->pm, UNTRUSTED);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(lookup(f, "good.example", &a, &r, &w), POLICYMAP_DONE);
		assert_int_equal(a.answer.result, POLICY_TEMP);
		assert_int_equal(a.answer.rule, POLICY_RULE_TRUST_CHECK);
		assert_false(a.answer.bogus);	/* the destination's DNS is not known bad */
		assert_false(a.cache_hit);
		assert_false(a.stale);
		assert_string_equal(a.reason, UNTRUSTED);
	}
	assert_int_equal(lookup(f, "[192.0.2.1]", &a, &r, &w), POLICYMAP_DONE);
	assert_int_equal(a.answer.result, POLICY_NOTFOUND);
	assert_int_equal(fake_dns_total(f->fake), 0);
	assert_int_equal(fake_dns_pending(f->fake), 0);
	assert_int_equal(r.calls, 0);

	policymap_set_untrusted(f->pm, NULL);
	assert_int_equal(lookup(f, "good.example", &a, &r, &w), POLICYMAP_PENDING);
	fake_dns_run(f->fake);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.last.answer.rule, POLICY_RULE_ALL_DANE);
}

/* Answers cached before, validated, stand until they expire. */
static void
test_untrusted_keeps_cached(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r = {0};
	struct policymap_waiter *w;

	lookup(f, "good.example", &a, &r, &w);
	lookup(f, "short.example", &a, &r, &w);
	fake_dns_run(f->fake);
	policymap_set_untrusted(f->pm, UNTRUSTED);
	assert_int_equal(lookup(f, "good.example", &a, &r, &w), POLICYMAP_DONE);
	assert_true(a.cache_hit);
	assert_int_equal(a.answer.rule, POLICY_RULE_ALL_DANE);
	assert_int_equal(lookup(f, "short.example", &a, &r, &w), POLICYMAP_DONE);
	assert_true(a.cache_hit);
	assert_int_equal(a.answer.rule, POLICY_RULE_NXDOMAIN);
	f->now += 301 * 1000;	/* past both TTLs */
	assert_int_equal(lookup(f, "short.example", &a, &r, &w), POLICYMAP_DONE);
	assert_int_equal(a.answer.rule, POLICY_RULE_TRUST_CHECK);
	/* The dane-only one: its last secure answer, as through an outage. */
	assert_int_equal(lookup(f, "good.example", &a, &r, &w), POLICYMAP_DONE);
	assert_int_equal(a.answer.rule, POLICY_RULE_ALL_DANE);
	assert_true(a.stale);
	assert_int_equal(fake_dns_total(f->fake), 5);	/* only the first resolutions */
}

/* A resolution under way when the check fails answers its waiters, but
 * is not kept: it came from the resolver now known not to validate. */
static void
test_untrusted_resolution_not_kept(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r = {0};
	struct policymap_waiter *w;

	assert_int_equal(lookup(f, "good.example", &a, &r, &w), POLICYMAP_PENDING);
	policymap_set_untrusted(f->pm, UNTRUSTED);
	fake_dns_run(f->fake);
	assert_int_equal(r.calls, 1);
	assert_int_equal(lookup(f, "good.example", &a, &r, &w), POLICYMAP_DONE);
	assert_false(a.cache_hit);
	assert_int_equal(a.answer.rule, POLICY_RULE_TRUST_CHECK);
	policymap_set_untrusted(f->pm, NULL);
	assert_int_equal(lookup(f, "good.example", &a, &r, &w), POLICYMAP_PENDING);
	fake_dns_run(f->fake);
}

/* The administrator's exceptions need no DNS: still answered; their
 * background resolutions wait for a resolver that validates. */
static void
test_untrusted_exceptions(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r = {0};
	struct policymap_waiter *w;
	int64_t wall = WALL_NOW;
	int observed = 0;

	policymap_set_wall_clock(f->pm, fake_wall, &wall);
	policymap_set_observer(f->pm, count_observed, &observed);
	set_exceptions(f, exception_list);
	policymap_set_untrusted(f->pm, UNTRUSTED);
	assert_int_equal(lookup(f, "good.example", &a, &r, &w), POLICYMAP_DONE);
	assert_int_equal(a.answer.rule, POLICY_RULE_EXCEPTION);
	assert_string_equal(a.policy, "encrypt");
	fake_dns_run(f->fake);
	assert_int_equal(fake_dns_total(f->fake), 0);
	assert_int_equal(observed, 0);
	policymap_set_untrusted(f->pm, NULL);
	assert_int_equal(lookup(f, "good.example", &a, &r, &w), POLICYMAP_DONE);
	fake_dns_run(f->fake);
	assert_int_equal(observed, 1);
}

/* The last dane-only answer serves as through an outage (Postfix checks
 * the TLSA records itself at that level); after stale_answer_max_age,
 * TEMP. */
static void
test_untrusted_stale(void **state)
{
	struct outage o;
	struct answered r;

	outage_setup(&o, "stale_answer_max_age = 1h\n");
	assert_int_equal(resolve_now(&o, &r).answer.rule, POLICY_RULE_ALL_DANE);
	advance(&o, 301);
	policymap_set_untrusted(o.f.pm, UNTRUSTED);
	struct policymap_answer a = resolve_now(&o, &r);
	assert_int_equal(a.answer.result, POLICY_OK);
	assert_int_equal(a.answer.rule, POLICY_RULE_ALL_DANE);
	assert_true(a.stale);
	assert_non_null(strstr(a.reason, "stale: " UNTRUSTED "; the last secure answer, from 301 s ago"));
	assert_int_equal(a.ttl_s, 0);	/* not cached */
	advance(&o, 3600);
	a = resolve_now(&o, &r);
	assert_int_equal(a.answer.rule, POLICY_RULE_TRUST_CHECK);
	assert_false(a.stale);
	assert_int_equal(fake_dns_total(o.f.fake), 4);
	outage_teardown(&o);
}

/* A state file restores only what the daemon would give now: never an
 * exception's answer, only policy text Postfix takes, printable reasons,
 * and no entry for longer than the settings in force keep one from when
 * it was stored (stale_answer_max_age = 2h here, cache_max_ttl = 1h,
 * cache_temp_ttl = 15s). Each line alone into a fresh map, then written
 * out again to see what was kept. */
struct restore_case {
	const char *name;
	const char *fields;	/* store= to policy=, as the file has them */
	const char *reason;	/* the reason field, kv-encoded */
	int64_t stored_ago, expires_in;	/* seconds from now */
	bool restored;
	int64_t want_expires_in;	/* when restored */
	const char *want_reason;
};

static const struct restore_case restore_cases[] = {
	{"a plain answer: as it was", "store=answers key=outage.example result=ok rule=all-hosts-dane bogus=no",
	    "x", 100, 200, true, 200, "x"},
	{"an exception's answer: never (the list in force gives those)",
	    "store=answers key=outage.example result=ok rule=exception bogus=no policy=may", "x", 10, 100, false},
	{"an exception's answer with attributes: never",
	    "store=answers key=x.example result=ok rule=exception bogus=no policy=\"encrypt protocols=>=TLSv1.2\"",
	    "x", 10, 100, false},
	{"an answer for a year: cut to stored + cache_max_ttl",
	    "store=answers key=outage.example result=ok rule=all-hosts-dane bogus=no", "x", 600, 31536000, true,
	    3000, "x"},
	{"stored over cache_max_ttl ago: nothing left",
	    "store=answers key=outage.example result=ok rule=all-hosts-dane bogus=no", "x", 3601, 31536000, false},
	{"TEMP for a day: cut to stored + cache_temp_ttl",
	    "store=answers key=outage.example result=temp rule=mx-lookup-failed bogus=no", "x", 5, 86400, true, 10, "x"},
	{"a secure answer for a year: cut to stored + stale_answer_max_age",
	    "store=secure key=outage.example result=ok rule=all-hosts-dane bogus=no", "x", 1000, 31536000, true,
	    6200, "x"},
	{"a secure answer stored over stale_answer_max_age ago: nothing left",
	    "store=secure key=outage.example result=ok rule=all-hosts-dane bogus=no", "x", 7201, 31536000, false},
	{"a level Postfix does not know: never",
	    "store=answers key=x.example result=ok rule=exception bogus=no policy=maybe", "x", 10, 100, false},
	{"a policy with a line break: never",
	    "store=answers key=x.example result=ok rule=exception bogus=no policy=\"may\\x0aX: y\"", "x", 10, 100,
	    false},
	{"a policy with an unknown attribute: never",
	    "store=answers key=x.example result=ok rule=exception bogus=no policy=\"dane-only evil=1\"", "x", 10, 100,
	    false},
	{"control characters in the reason: made '?'",
	    "store=answers key=outage.example result=temp rule=mx-lookup-failed bogus=no",
	    "\"SERVFAIL\\x0d\\x0aevent=alert\\x1b[31m\\xff\"", 1, 10, true, 10, "SERVFAIL??event=alert?[31m?"},
};

static void
test_restore_only_what_daemon_gives(void **state)
{
	for (size_t i = 0; i < sizeof(restore_cases) / sizeof(restore_cases[0]); i++) {
		const struct restore_case *c = &restore_cases[i];
		struct outage o;
		struct buf line, out;
		struct snapshot_entry e;

		outage_setup(&o, "stale_answer_max_age = 2h\n");
		buf_init(&line);
		buf_init(&out);
		buf_printf(&line, "%s reason=%s stored=%lld expires=%lld\n", c->fields, c->reason,
		    (long long)(o.wall - c->stored_ago), (long long)(o.wall + c->expires_in));
		size_t n = policymap_restore(o.f.pm, buf_ptr(&line), buf_size(&line));
		if (n != (c->restored ? 1u : 0u))
			fail_msg("%s: restored %zu", c->name, n);
		assert_int_equal(policymap_snapshot(o.f.pm, &out), 0);
		if (!c->restored) {
			if (buf_size(&out))
				fail_msg("%s: written out again: %.*s", c->name, (int)buf_size(&out), buf_ptr(&out));
		} else {
			assert_true(buf_size(&out) > 0);
			if (snapshot_parse(buf_ptr(&out), buf_size(&out) - 1, &e) < 0)
				fail_msg("%s: cannot read back %.*s", c->name, (int)buf_size(&out), buf_ptr(&out));
			if (e.expires != o.wall + c->want_expires_in)
				fail_msg("%s: expires in %lld s, want %lld", c->name, (long long)(e.expires - o.wall),
				    (long long)c->want_expires_in);
			assert_int_equal(e.stored, o.wall - c->stored_ago);
			assert_string_equal(e.reason, c->want_reason);
		}
		buf_free(&line);
		buf_free(&out);
		outage_teardown(&o);
	}
}

/* The parser itself takes only policy text Postfix would take. */
static void
test_snapshot_parse_policy(void **state)
{
	static const char *const lines[] = {
		"store=answers key=x.example result=ok rule=exception bogus=no policy=\"encrypt protocols=>=TLSv1.2\" "
		"reason=x stored=1 expires=2",
		"store=answers key=x.example result=ok rule=exception bogus=no policy=maybe reason=x stored=1 expires=2",
		"store=answers key=x.example result=ok rule=exception bogus=no policy=\"may\\x0aX: y\" reason=x "
		"stored=1 expires=2",
		"store=answers key=x.example result=ok rule=exception bogus=no policy=\"dane-only evil=1\" reason=x "
		"stored=1 expires=2",
	};
	struct snapshot_entry e;

	assert_int_equal(snapshot_parse(lines[0], strlen(lines[0]), &e), 0);
	assert_string_equal(e.policy, "encrypt protocols=>=TLSv1.2");
	for (size_t i = 1; i < sizeof(lines) / sizeof(lines[0]); i++)
		if (snapshot_parse(lines[i], strlen(lines[i]), &e) == 0)
			fail_msg("accepted: %s", lines[i]);
}

/* An exception's answer in a state file does not outlive the list: with
 * the list empty, the destination is resolved, not answered from it. */
static void
test_restore_no_exception(void **state)
{
	struct outage o;
	struct answered r;
	struct buf line;

	outage_setup(&o, "");
	buf_init(&line);
	buf_printf(&line, "store=answers key=outage.example result=ok rule=exception bogus=no policy=may "
	    "reason=\"exception (line 1) for outage.example: may\" stored=%lld expires=%lld\n",
	    (long long)(o.wall - 1), (long long)(o.wall + 3000));
	assert_int_equal(policymap_restore(o.f.pm, buf_ptr(&line), buf_size(&line)), 0);
	struct policymap_answer a = resolve_now(&o, &r);
	assert_false(a.cache_hit);
	assert_int_equal(a.answer.rule, POLICY_RULE_ALL_DANE);
	assert_null(a.policy);
	buf_free(&line);
	outage_teardown(&o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_miss_then_hit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_each_recent, setup, teardown),
		cmocka_unit_test(test_prefetch_in_window_once),
		cmocka_unit_test(test_prefetch_not_unasked),
		cmocka_unit_test(test_prefetch_failure_keeps_answer),
		cmocka_unit_test(test_prefetch_late_while_refreshing),
		cmocka_unit_test(test_prefetch_short_life),
		cmocka_unit_test(test_prefetch_slow_refresh),
		cmocka_unit_test(test_prefetch_limit_and_off),
		cmocka_unit_test(test_stale_through_outage),
#ifdef HAVE_REDIS
		cmocka_unit_test_teardown(test_fleet_stale, redislab_teardown),
#endif
		cmocka_unit_test(test_no_stale_for_bogus),
		cmocka_unit_test(test_no_stale_after_may_or_when_off),
		cmocka_unit_test(test_snapshot_restore),
		cmocka_unit_test(test_restore_only_what_daemon_gives),
		cmocka_unit_test(test_restore_no_exception),
		cmocka_unit_test(test_snapshot_parse_policy),
		cmocka_unit_test_setup_teardown(test_shared_resolution, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_waiter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_cancelled_still_cached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ttl_expiry_and_clamps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_temp_cached_briefly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_dns_needed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reentrant_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exception_cases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exception_resolves_in_background, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exception_expiry_and_retire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exception_list_swap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_host_kept_briefly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mx_exception_partial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_answers_temp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_keeps_cached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_resolution_not_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_exceptions, setup, teardown),
		cmocka_unit_test(test_untrusted_stale),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("policymap", tests, NULL, NULL);
}
