/* Unit tests: MTA-STS in the policy map's answers (lib/serve/policymap.h
 * with lib/sts/sts.h) - DANE first, STS only where DNS proved DANE
 * absent, a first lookup that waits for the policy and later ones that
 * do not, and the TLSRPT reply.
 *
 * DNS is the fake resolver's; the policies come over real TLS from the
 * in-process HTTPS server (https_fixture.h) on 127.0.0.1, so the fetches
 * are stsfetch's own, on the test's event loop. */
#include "autoconfig.h"

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

#include "dns/rr.h"
#include "serve/mapreply.h"
#include "serve/policymap.h"
#include "sts/sts.h"
#include "fake_dns.h"
#include "fake_smtp.h"
#include "https_fixture.h"
#include "table.h"

#define S DNS_SECURE
#define GUARD_MS 20000
/* "v=STSv1; id=one1" as TXT RDATA. */
#define TXT_ONE1 "\\# 10763d53545376313b2069643d6f6e6531"
#define POLICY "version: STSv1\r\nmode: enforce\r\nmx: mx.sts.test\r\nmx: *.sts.test\r\nmax_age: 86400\r\n"
#define SECURE "secure match=mx.sts.test:.sts.test servername=hostname"

static const struct fake_rr zone[] = {
	/* Signed, no TLSA: DNS proves DANE absent, STS applies. */
	{"sts.test", RR_TYPE_MX, DNS_DATA, S, 3600, NULL, {"10 mx.sts.test"}},
	{"mx.sts.test", RR_TYPE_A, DNS_DATA, S, 600, NULL, {"192.0.2.1"}},
	{"mx.sts.test", RR_TYPE_AAAA, DNS_NODATA, S, 600},
	{"_25._tcp.mx.sts.test", RR_TYPE_TLSA, DNS_NXDOMAIN, S, 600},
	{"_mta-sts.sts.test", RR_TYPE_TXT, DNS_DATA, S, 300, NULL, {TXT_ONE1}},
	{"mta-sts.sts.test", RR_TYPE_A, DNS_DATA, S, 300, NULL, {"127.0.0.1"}},
	{"mta-sts.sts.test", RR_TYPE_AAAA, DNS_NODATA, S, 300},
	/* DANE, and a policy too: DANE wins. */
	{"dane.test", RR_TYPE_MX, DNS_DATA, S, 3600, NULL, {"10 mx.dane.test"}},
	{"mx.dane.test", RR_TYPE_A, DNS_DATA, S, 600, NULL, {"192.0.2.2"}},
	{"mx.dane.test", RR_TYPE_AAAA, DNS_NODATA, S, 600},
	{"_25._tcp.mx.dane.test", RR_TYPE_TLSA, DNS_DATA, S, 300, NULL, {"3 1 1 " FAKE_DIGEST32}},
	{"_mta-sts.dane.test", RR_TYPE_TXT, DNS_DATA, S, 300, NULL, {TXT_ONE1}},
	{"mta-sts.dane.test", RR_TYPE_A, DNS_DATA, S, 300, NULL, {"127.0.0.1"}},
	{"mta-sts.dane.test", RR_TYPE_AAAA, DNS_NODATA, S, 300},
	/* DANE and no STS record: nothing to remember of MTA-STS. */
	{"danenosts.test", RR_TYPE_MX, DNS_DATA, S, 3600, NULL, {"10 mx.dane.test"}},
	{"_mta-sts.danenosts.test", RR_TYPE_TXT, DNS_NXDOMAIN, S, 300},
	/* A DNSSEC failure beside a policy: TEMP, never the policy. */
	{"bogus.test", RR_TYPE_MX, DNS_SERVFAIL, DNS_BOGUS, 0},
	{"_mta-sts.bogus.test", RR_TYPE_TXT, DNS_DATA, S, 300, NULL, {TXT_ONE1}},
	{"mta-sts.bogus.test", RR_TYPE_A, DNS_DATA, S, 300, NULL, {"127.0.0.1"}},
	{"mta-sts.bogus.test", RR_TYPE_AAAA, DNS_NODATA, S, 300},
	/* No STS record at all. */
	{"plain.test", RR_TYPE_MX, DNS_DATA, S, 3600, NULL, {"10 mx.sts.test"}},
	{"_mta-sts.plain.test", RR_TYPE_TXT, DNS_NXDOMAIN, S, 300},
	/* A policy whose server has no address: a failed fetch, never TEMP. */
	{"nohost.test", RR_TYPE_MX, DNS_DATA, S, 3600, NULL, {"10 mx.sts.test"}},
	{"_mta-sts.nohost.test", RR_TYPE_TXT, DNS_DATA, S, 300, NULL, {TXT_ONE1}},
	{"mta-sts.nohost.test", RR_TYPE_A, DNS_NXDOMAIN, S, 300},
	{"mta-sts.nohost.test", RR_TYPE_AAAA, DNS_NXDOMAIN, S, 300},
	/* As sts.test, for a test of its own. */
	{"sts2.test", RR_TYPE_MX, DNS_DATA, S, 3600, NULL, {"10 mx.sts.test"}},
	{"_mta-sts.sts2.test", RR_TYPE_TXT, DNS_DATA, S, 300, NULL, {TXT_ONE1}},
	{"mta-sts.sts2.test", RR_TYPE_A, DNS_DATA, S, 300, NULL, {"127.0.0.1"}},
	{"mta-sts.sts2.test", RR_TYPE_AAAA, DNS_NODATA, S, 300},
};

static struct fake_cert ca, leaf;
static char tmpdir[256], ca_pem[300];

struct fixture {
	struct event_base *base;
	struct fake_dns *fake;
	struct dns *dns;
	struct config *cfg;
	struct policymap *pm;
	struct sts *sts;
	struct https_fixture *https;
	struct log *log;
	struct event *guard;
	bool guard_fired;
};

struct answered {
	const struct policy_levels *levels;
	int calls;
	struct policymap_answer last;
	char reason[1024];
	char reply[1024];	/* the TLSRPT map's reply, as written */
	char sts_text[256];	/* the answer's sts_text, "" for none */
};

static uint64_t
mono_ms(void *arg)
{
	return 1000000;
}

static const struct https_response response = {&leaf, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n", POLICY};

static int
setup(void **state)
{
	static const unsigned char seed[16] = "0123456789abcdef";
	struct fixture *f = calloc(1, sizeof(*f));
	struct buf errors;
	const char *text = "cache_min_ttl = 10s\ncache_max_ttl = 1h\ncache_temp_ttl = 15s\n";
	char err[256] = "";

	assert_non_null(f);
	buf_init(&errors);
	assert_non_null(f->cfg = config_parse(text, strlen(text), "test", &errors));
	buf_free(&errors);
	assert_non_null(f->base = event_base_new());
	assert_non_null(f->dns = fake_dns_create(zone, sizeof(zone) / sizeof(zone[0]), &f->fake));
	assert_non_null(f->https = https_fixture_start(&response));
	struct sts_settings ss = {
		.fetch = {.ca_file = ca_pem, .allow_private = true, .timeout_ms = 10000,
		    .port = https_fixture_port(f->https)},
		.wait_ms = 10000,
		.max_domains = 100,
	};
	/* Errors only: the fetches that fail on purpose are logged at notice. */
	assert_non_null(f->log = log_create_stderr(LOGL_ERROR));
	if (!(f->sts = sts_create(f->base, f->dns, f->log, &ss, err, sizeof(err))))
		fail_msg("sts_create: %s", err);
	assert_non_null(f->pm = policymap_create(f->dns, f->cfg, seed, mono_ms, NULL));
	policymap_set_sts(f->pm, f->sts);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	policymap_free(f->pm);
	sts_free(f->sts);
	https_fixture_free(f->https);
	dns_free(f->dns);
	if (f->guard)
		event_free(f->guard);
	event_base_free(f->base);
	log_free(f->log);
	config_unref(f->cfg);
	free(f);
	return 0;
}

static void
on_answer(void *arg, const struct policymap_answer *a)
{
	struct answered *r = arg;
	struct mapreply mr = mapreply_of(r->levels, a);
	struct buf out;

	r->calls++;
	r->last = *a;
	snprintf(r->reason, sizeof(r->reason), "%s", a->reason);
	r->last.reason = r->reason;
	buf_init(&out);
	mapreply_put_tlsrpt(&mr, a, &out);
	buf_terminate(&out);
	snprintf(r->reply, sizeof(r->reply), "%s", buf_ptr(&out));
	buf_free(&out);
	/* Only valid during the callback: keep what the checks read. */
	snprintf(r->sts_text, sizeof(r->sts_text), "%s", a->sts_text ? a->sts_text : "");
	r->last.sts_text = a->sts_text ? r->sts_text : NULL;
}

static int
lookup(struct fixture *f, const char *key, struct policymap_answer *out, struct answered *r,
    struct policymap_waiter **w)
{
	struct nexthop nh;
	const char *why;

	assert_int_equal(nexthop_parse(key, strlen(key), &nh, &why), 0);
	r->levels = &f->cfg->levels;
	return policymap_lookup(f->pm, &nh, out, on_answer, r, w);
}

static void
on_guard(evutil_socket_t fd, short what, void *arg)
{
	((struct fixture *)arg)->guard_fired = true;
}

/* Answers DNS, then runs the loop until r has calls answers. */
static void
run_until(struct fixture *f, struct answered *r, int calls)
{
	struct timeval tv = {GUARD_MS / 1000, 0};

	if (f->guard)
		event_free(f->guard);
	assert_non_null(f->guard = evtimer_new(f->base, on_guard, f));
	f->guard_fired = false;
	evtimer_add(f->guard, &tv);
	while (!f->guard_fired && r->calls < calls) {
		fake_dns_run(f->fake);
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		if (r->calls < calls && !fake_dns_pending(f->fake))
			event_base_loop(f->base, EVLOOP_ONCE);
	}
	evtimer_del(f->guard);
	assert_int_equal(r->calls, calls);
}

/* Runs the loop until every discovery has ended. */
static void
settle(struct fixture *f)
{
	struct sts_stats st;
	struct timeval tv = {GUARD_MS / 1000, 0};

	if (f->guard)
		event_free(f->guard);
	assert_non_null(f->guard = evtimer_new(f->base, on_guard, f));
	f->guard_fired = false;
	evtimer_add(f->guard, &tv);
	for (sts_stats(f->sts, &st); !f->guard_fired && (st.discoveries || fake_dns_pending(f->fake));
	    sts_stats(f->sts, &st)) {
		fake_dns_run(f->fake);
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		/* Block only while something is still to come. */
		sts_stats(f->sts, &st);
		if (!fake_dns_pending(f->fake) && st.discoveries)
			event_base_loop(f->base, EVLOOP_ONCE);
	}
	evtimer_del(f->guard);
	assert_false(f->guard_fired);
}

/* The first lookup waits for the policy; the answer is the policy's. The
 * second comes from the cache at once, the policy applied again. */
static void
test_first_waits_then_hit(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r = {0};
	struct policymap_waiter *w;
	struct policymap_stats ps;

	assert_int_equal(lookup(f, "sts.test", &a, &r, &w), POLICYMAP_PENDING);
	run_until(f, &r, 1);
	assert_int_equal(r.last.answer.result, POLICY_OK);
	assert_int_equal(r.last.answer.rule, POLICY_RULE_NO_TLSA);
	assert_non_null(r.last.sts_text);
	assert_string_equal(r.last.sts_text, SECURE);
	assert_non_null(strstr(r.reason, "MTA-STS policy one1"));
	policymap_stats(f->pm, &ps);
	assert_int_equal(ps.sts_waits, 1);
	assert_int_equal(https_fixture_connections(f->https), 1);

	struct answered r2 = {0};
	assert_int_equal(lookup(f, "sts.test", &a, &r2, &w), POLICYMAP_DONE);
	assert_true(a.cache_hit);
	assert_string_equal(a.sts_text, SECURE);
	assert_string_equal(mapreply_of(&f->cfg->levels, &a).text, SECURE);
	assert_string_equal(a.sts_id, "one1");
	/* No second fetch, no second TXT lookup within its TTL. */
	settle(f);
	assert_int_equal(https_fixture_connections(f->https), 1);
	assert_int_equal(fake_dns_count(f->fake, "_mta-sts.sts.test", RR_TYPE_TXT), 1);
	policymap_stats(f->pm, &ps);
	assert_int_equal(ps.sts_applied, 2);
}

/* DANE first: the policy is fetched beside the resolution, and stands
 * behind the DANE answer, which Postfix gets. */
static void
test_dane_wins(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r = {0};
	struct policymap_waiter *w;

	assert_int_equal(lookup(f, "dane.test", &a, &r, &w), POLICYMAP_PENDING);
	run_until(f, &r, 1);
	assert_int_equal(r.last.answer.rule, POLICY_RULE_ALL_DANE);
	assert_null(r.last.sts_text);
	settle(f);
	assert_int_equal(lookup(f, "dane.test", &a, &r, &w), POLICYMAP_DONE);
	assert_null(a.sts_text);
	assert_non_null(a.sts);			/* known, and shadowed */
	assert_non_null(a.sts_why);
	assert_string_equal(mapreply_of(&f->cfg->levels, &a).text, "dane-only");
}

/* A DANE destination without an MTA-STS record keeps no entry in the STS
 * cache once resolved (MTA-STS yields to DANE); one without DANE does,
 * to know the record is absent until its TTL runs out. */
static void
test_dane_forgets_empty_sts(void **state)
{
	struct fixture *f = *state;
	const char *domains[] = {"danenosts.test", "plain.test"};

	for (size_t i = 0; i < 2; i++) {
		struct policymap_answer a;
		struct answered r = {0};
		struct policymap_waiter *w;
		struct sts_view v;
		assert_int_equal(lookup(f, domains[i], &a, &r, &w), POLICYMAP_PENDING);
		run_until(f, &r, 1);
		settle(f);
		sts_peek(f->sts, domains[i], &v);
		assert_int_equal(v.txt, i == 0 ? STSCACHE_TXT_UNKNOWN : STSCACHE_TXT_ABSENT);
	}
	struct sts_stats st;
	sts_stats(f->sts, &st);
	assert_int_equal(st.domains, 1);
}

/* A DNSSEC failure is TEMP whatever the policy says. */
static void
test_bogus_is_temp(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r = {0};
	struct policymap_waiter *w;

	assert_int_equal(lookup(f, "bogus.test", &a, &r, &w), POLICYMAP_PENDING);
	run_until(f, &r, 1);
	assert_int_equal(r.last.answer.result, POLICY_TEMP);
	assert_null(r.last.sts_text);
	settle(f);
	assert_int_equal(lookup(f, "bogus.test", &a, &r, &w), POLICYMAP_DONE);
	assert_int_equal(a.answer.result, POLICY_TEMP);
	assert_null(a.sts_text);
}

/* No STS record, or a policy that cannot be fetched: as without STS,
 * never TEMP. */
static void
test_absent_or_unfetchable(void **state)
{
	struct fixture *f = *state;
	const char *domains[] = {"plain.test", "nohost.test"};

	for (size_t i = 0; i < 2; i++) {
		struct policymap_answer a;
		struct answered r = {0};
		struct policymap_waiter *w;
		assert_int_equal(lookup(f, domains[i], &a, &r, &w), POLICYMAP_PENDING);
		run_until(f, &r, 1);
		assert_int_equal(r.last.answer.result, POLICY_OK);
		assert_int_equal(r.last.answer.rule, POLICY_RULE_NO_TLSA);
		assert_null(r.last.sts_text);
		assert_null(r.last.sts);
	}
	assert_int_equal(https_fixture_connections(f->https), 0);
	struct sts_stats st;
	sts_stats(f->sts, &st);
	assert_int_equal(st.fetches[STSFETCH_NO_ADDRESS], 1);
}

/* A [host] next hop names no recipient domain: no TXT lookup, no STS. */
static void
test_host_nexthop_never(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r = {0};
	struct policymap_waiter *w;

	assert_int_equal(lookup(f, "[sts.test]", &a, &r, &w), POLICYMAP_PENDING);
	run_until(f, &r, 1);
	assert_null(r.last.sts_text);
	assert_int_equal(fake_dns_count(f->fake, "_mta-sts.sts.test", RR_TYPE_TXT), 0);
}

/* The TLSRPT map name: the answer, then the attributes. */
static void
test_tlsrpt_reply(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r = {0};
	struct policymap_waiter *w;

	assert_int_equal(lookup(f, "sts.test", &a, &r, &w), POLICYMAP_PENDING);
	run_until(f, &r, 1);
	const char *want = "OK " SECURE " policy_type=sts policy_domain=sts.test mx_host_pattern=mx.sts.test "
	    "mx_host_pattern=*.sts.test { policy_string = version: STSv1 } { policy_string = mode: enforce } "
	    "{ policy_string = mx: mx.sts.test } { policy_string = mx: *.sts.test } "
	    "{ policy_string = max_age: 86400 },";
	const char *colon = strchr(r.reply, ':');
	assert_non_null(colon);
	assert_string_equal(colon + 1, want);
}

/* An administrator who has Postfix authenticate every host of the rule
 * already keeps that level: the policy could only make it different. */
static void
test_configured_level_stands(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r = {0};
	struct policymap_waiter *w;
	struct buf errors;
	const char *text = "level_no_tlsa = verify\n";

	buf_init(&errors);
	struct config *cfg = config_parse(text, strlen(text), "verify", &errors);
	buf_free(&errors);
	assert_non_null(cfg);
	policymap_set_config(f->pm, cfg);
	config_unref(f->cfg);
	f->cfg = cfg;
	assert_int_equal(lookup(f, "sts.test", &a, &r, &w), POLICYMAP_PENDING);
	run_until(f, &r, 1);
	assert_null(r.last.sts_text);
	assert_non_null(r.last.sts);
	assert_string_equal(mapreply_of(&f->cfg->levels, &r.last).text, "verify");
}

/* A waiter cancelled while it waits for the policy is never called, and
 * a policy map freed with waiters held calls none of them. */
static void
test_cancel_while_held(void **state)
{
	struct fixture *f = *state;
	struct policymap_answer a;
	struct answered r = {0}, r2 = {0};
	struct policymap_waiter *w, *w2;

	assert_int_equal(lookup(f, "sts.test", &a, &r, &w), POLICYMAP_PENDING);
	assert_int_equal(lookup(f, "sts.test", &a, &r2, &w2), POLICYMAP_PENDING);
	fake_dns_run(f->fake);	/* resolved: both held for the policy now */
	assert_int_equal(r.calls + r2.calls, 0);
	policymap_waiter_cancel(w);
	run_until(f, &r2, 1);
	assert_int_equal(r.calls, 0);

	struct answered r3 = {0};
	assert_int_equal(lookup(f, "sts2.test", &a, &r3, &w), POLICYMAP_PENDING);
	fake_dns_run(f->fake);	/* resolved; the fetch still to come */
	assert_int_equal(r3.calls, 0);
	policymap_free(f->pm);
	f->pm = NULL;
	settle(f);
	assert_int_equal(r3.calls, 0);
}

static int
make_certs(void)
{
	const struct fake_cert_spec specs[] = {
		{"STS Test CA", NULL, NULL, true, -1, 3650},
		{"mta-sts.sts.test", "DNS:mta-sts.sts.test,DNS:mta-sts.dane.test,DNS:mta-sts.sts2.test", &ca, false,
		    0, 0},
	};
	struct fake_cert *certs[] = {&ca, &leaf};

	for (size_t i = 0; i < 2; i++)
		if (fake_cert_make(certs[i], &specs[i]) < 0)
			return -1;
	if (!table_tmpdir(tmpdir, sizeof(tmpdir), "test_policymap_sts"))
		return -1;
	snprintf(ca_pem, sizeof(ca_pem), "%s/ca.pem", tmpdir);
	return fake_cert_write_pem(&ca, ca_pem);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_waits_then_hit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dane_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dane_forgets_empty_sts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bogus_is_temp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_absent_or_unfetchable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_nexthop_never, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tlsrpt_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_while_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_configured_level_stands, setup, teardown),
	};
	struct table t = {0};
	char err[256];
	int rc;

	if (stsfetch_global_init(err, sizeof(err)) < 0 || make_certs() < 0) {
		fprintf(stderr, "set-up failed: %s\n", err);
		return 1;
	}
	TABLE_TESTS(&t, tests);
	rc = table_run(&t, "policymap_sts");
	fake_cert_free(&ca);
	fake_cert_free(&leaf);
	unlink(ca_pem);
	rmdir(tmpdir);
	stsfetch_global_cleanup();
	return rc;
}
