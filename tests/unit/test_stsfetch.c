/* Unit tests: MTA-STS policy fetches over real TLS to a local HTTPS server,
 * with addresses from a fake resolver. */
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
#include <openssl/ssl.h>

#include "dns/rr.h"
#include "sts/stsfetch.h"
#include "fake_dns.h"
#include "fake_smtp.h"
#include "https_fixture.h"
#include "table.h"

#define POLICY "version: STSv1\r\nmode: enforce\r\nmx: mx.ok.test\r\nmax_age: 86400\r\n"
#define GUARD_MS 30000		/* a test that waits longer has failed */
#define LONG_MS 15000		/* the deadline of the cases that are not slow */
#define SHORT_MS 300		/* the deadline of the slow cases */
#define MAX_CALLS 64

static const struct fake_rr zone[] = {
	{"mta-sts.ok.test", RR_TYPE_A, DNS_DATA, DNS_SECURE, 300, NULL, {"127.0.0.1"}},
	{"mta-sts.ok.test", RR_TYPE_AAAA, DNS_NODATA, DNS_SECURE, 300},
	{"mta-sts.half.test", RR_TYPE_A, DNS_DATA, DNS_INSECURE, 300, NULL, {"127.0.0.1"}},
	{"mta-sts.half.test", RR_TYPE_AAAA, DNS_SERVFAIL, DNS_INSECURE, 0},
	{"mta-sts.bogus.test", RR_TYPE_A, DNS_SERVFAIL, DNS_BOGUS, 0},
	{"mta-sts.bogus.test", RR_TYPE_AAAA, DNS_NODATA, DNS_SECURE, 300},
	{"mta-sts.bogusdata.test", RR_TYPE_A, DNS_DATA, DNS_INSECURE, 300, NULL, {"127.0.0.1"}},
	{"mta-sts.bogusdata.test", RR_TYPE_AAAA, DNS_DATA, DNS_BOGUS, 300, NULL, {"::1"}},
	{"mta-sts.fail.test", RR_TYPE_A, DNS_SERVFAIL, DNS_INSECURE, 0},
	{"mta-sts.fail.test", RR_TYPE_AAAA, DNS_TIMEOUT, DNS_INSECURE, 0},
	{"mta-sts.failnodata.test", RR_TYPE_A, DNS_SERVFAIL, DNS_INSECURE, 0},
	{"mta-sts.failnodata.test", RR_TYPE_AAAA, DNS_NODATA, DNS_INSECURE, 300},
	{"mta-sts.nx.test", RR_TYPE_A, DNS_NXDOMAIN, DNS_SECURE, 300},
	{"mta-sts.nx.test", RR_TYPE_AAAA, DNS_NXDOMAIN, DNS_SECURE, 300},
	{"mta-sts.nodata.test", RR_TYPE_A, DNS_NODATA, DNS_INSECURE, 300},
	{"mta-sts.nodata.test", RR_TYPE_AAAA, DNS_NODATA, DNS_INSECURE, 300},
	{"mta-sts.broken.test", RR_TYPE_A, DNS_DATA, DNS_INSECURE, 300, NULL, {"\\# 0102"}},
	{"mta-sts.broken.test", RR_TYPE_AAAA, DNS_NODATA, DNS_INSECURE, 300},
	{"mta-sts.nostart.test", RR_TYPE_A, .fail_to_start = true},
	{"mta-sts.nostart.test", RR_TYPE_AAAA, .fail_to_start = true},
	{"mta-sts.mixed.test", RR_TYPE_A, DNS_DATA, DNS_INSECURE, 300, NULL, {"10.0.0.1", "127.0.0.1"}},
	{"mta-sts.mixed.test", RR_TYPE_AAAA, DNS_DATA, DNS_INSECURE, 300, NULL, {"fe80::1"}},
	{"mta-sts.own.test", RR_TYPE_A, DNS_DATA, DNS_INSECURE, 300, NULL, {"1.2.3.4"}},
	{"mta-sts.own.test", RR_TYPE_AAAA, DNS_NODATA, DNS_INSECURE, 300},
};

static struct fake_cert ca, leaf, other_name, self_signed;
static char tmpdir[256], ca_pem[300];
static bool in_start;

struct got {
	enum stsfetch_outcome outcome;
	long status;
	size_t body_len;
	char body[256];
	char address[64];
	char detail[STSFETCH_DETAIL_MAX];
	bool from_start;
};

/* One test's loop, resolver, fetcher and what the callbacks saw. */
struct run {
	struct event_base *base;
	struct fake_dns *fake;
	struct dns *dns;
	struct stsfetch *f;
	struct event *guard;
	bool guard_fired;
	unsigned ncalls;
	struct got got[MAX_CALLS];
	bool free_in_callback;
};

static void
on_result(void *arg, const struct stsfetch_result *r)
{
	struct run *run = arg;
	struct got *g = &run->got[run->ncalls < MAX_CALLS ? run->ncalls : MAX_CALLS - 1];

	run->ncalls++;
	g->outcome = r->outcome;
	g->status = r->status;
	g->body_len = r->body_len;
	snprintf(g->body, sizeof(g->body), "%s", r->body);
	snprintf(g->address, sizeof(g->address), "%s", r->address);
	snprintf(g->detail, sizeof(g->detail), "%s", r->detail);
	g->from_start = in_start;
	if (run->free_in_callback) {
		stsfetch_free(run->f);
		run->f = NULL;
	}
}

static void
on_guard(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	((struct run *)arg)->guard_fired = true;
}

static void
run_open(struct run *run, unsigned port, bool allow_private, unsigned timeout_ms, const struct netaddr *own)
{
	struct stsfetch_settings s = {.ca_file = ca_pem, .allow_private = allow_private, .timeout_ms = timeout_ms,
	    .port = port, .own = own, .nown = own ? 1 : 0};
	char err[256] = "";

	memset(run, 0, sizeof(*run));
	assert_non_null(run->base = event_base_new());
	assert_non_null(run->dns = fake_dns_create(zone, sizeof(zone) / sizeof(zone[0]), &run->fake));
	run->f = stsfetch_create(run->base, run->dns, &s, err, sizeof(err));
	if (!run->f)
		fail_msg("stsfetch_create: %s", err);
	assert_non_null(run->guard = evtimer_new(run->base, on_guard, run));
}

static void
run_close(struct run *run)
{
	stsfetch_free(run->f);
	event_free(run->guard);
	dns_free(run->dns);
	event_base_free(run->base);
}

static struct stsfetch_job *
start(struct run *run, const char *domain)
{
	in_start = true;
	struct stsfetch_job *job = stsfetch_start(run->f, domain, on_result, run);
	in_start = false;
	return job;
}

/* Runs the loop (answering DNS first) until want callbacks came, or for ms
 * when want is 0. */
static void
run_loop(struct run *run, unsigned want, unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	fake_dns_run(run->fake);
	run->guard_fired = false;
	evtimer_add(run->guard, &tv);
	while (!run->guard_fired && (want == 0 || run->ncalls < want))
		event_base_loop(run->base, EVLOOP_ONCE);
	evtimer_del(run->guard);
	if (want)
		assert_int_equal(run->ncalls, want);
}

#define assert_contains(s, part) \
	do { \
		if (!strstr((s), (part))) \
			fail_msg("\"%s\" does not contain \"%s\"", (s), (part)); \
	} while (0)

/* ---- one fetch against one server ------------------------------------- */

struct fetch_case {
	const char *name;
	struct https_response response;
	unsigned timeout_ms;		/* 0: LONG_MS */
	enum stsfetch_outcome want;
	long status;
	const char *detail;		/* a part of it */
};

static const char *
fetch_case_name(const void *row)
{
	return ((const struct fetch_case *)row)->name;
}

#define HEAD_200 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"

static const struct fetch_case fetch_cases[] = {
	{"200 text/plain: the policy", {&leaf, HEAD_200, POLICY}, 0, STSFETCH_OK, 200},
	{"200 text/plain; charset=utf-8", {&leaf, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n", POLICY},
	    0, STSFETCH_OK, 200},
	{"200 TEXT/Plain;charset=us-ascii", {&leaf, "HTTP/1.1 200 OK\r\nContent-Type: TEXT/Plain;charset=us-ascii\r\n",
	    POLICY}, 0, STSFETCH_OK, 200},
	{"200 with exactly 64 KiB", {&leaf, HEAD_200, NULL, 65536}, 0, STSFETCH_OK, 200},
	{"200 with exactly 64 KiB, no length", {&leaf, HEAD_200, NULL, 65536, true}, 0, STSFETCH_OK, 200},
	{"404", {&leaf, "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n", "<h1>no</h1>"}, 0, STSFETCH_STATUS,
	    404, "HTTP status 404"},
	{"500 without a body", {&leaf, "HTTP/1.1 500 Oops\r\n", ""}, 0, STSFETCH_STATUS, 500, "500"},
	{"301 with Location: not followed", {&leaf, "HTTP/1.1 301 Moved\r\nLocation: https://elsewhere.test/p\r\n"
	    "Content-Type: text/plain\r\n", "moved"}, 0, STSFETCH_REDIRECT, 301, "https://elsewhere.test/p"},
	{"text/html", {&leaf, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n", POLICY}, 0, STSFETCH_CONTENT_TYPE,
	    200, "\"text/html\""},
	{"text/plainish", {&leaf, "HTTP/1.1 200 OK\r\nContent-Type: text/plainish\r\n", POLICY}, 0,
	    STSFETCH_CONTENT_TYPE, 200, "text/plainish"},
	{"no Content-Type", {&leaf, "HTTP/1.1 200 OK\r\n", POLICY}, 0, STSFETCH_CONTENT_TYPE, 200, "(none)"},
	{"64 KiB + 1 with Content-Length", {&leaf, HEAD_200, NULL, 65537}, 0, STSFETCH_TOO_LARGE, 200, "65536"},
	{"64 KiB + 1 without length", {&leaf, HEAD_200, NULL, 65537, true}, 0, STSFETCH_TOO_LARGE, 200, "65536"},
	{"a body trickled past the deadline", {&leaf, HEAD_200, NULL, 200, .trickle_ms = 10}, SHORT_MS,
	    STSFETCH_TIMEOUT, 200, "300 ms"},
	{"accepts, never answers", {.silent = true}, SHORT_MS, STSFETCH_TIMEOUT, 0, "300 ms"},
	{"certificate for another name", {&other_name, HEAD_200, POLICY}, 0, STSFETCH_CERTIFICATE, 0,
	    "mta-sts.ok.test (127.0.0.1): certificate verify failed: "},
	{"self-signed certificate", {&self_signed, HEAD_200, POLICY}, 0, STSFETCH_CERTIFICATE, 0, "certificate"},
	{"a server of TLS 1.1 at most", {&leaf, HEAD_200, POLICY, .max_version = TLS1_1_VERSION}, 0, STSFETCH_TLS, 0,
	    "mta-sts.ok.test (127.0.0.1): TLS failed: "},
};

static void
test_fetch(void **state)
{
	const struct fetch_case *c = *state;
	struct https_fixture *h = https_fixture_start(&c->response);
	struct run run;
	char log[4096], want[256];

	assert_non_null(h);
	run_open(&run, https_fixture_port(h), true, c->timeout_ms ? c->timeout_ms : LONG_MS, NULL);
	assert_non_null(start(&run, "ok.test"));
	assert_int_equal(run.ncalls, 0);
	run_loop(&run, 1, GUARD_MS);
	struct got *g = &run.got[0];
	if (g->outcome != c->want)
		fail_msg("outcome %s, not %s: %s", stsfetch_outcome_name(g->outcome), stsfetch_outcome_name(c->want),
		    g->detail);
	assert_false(g->from_start);
	assert_int_equal(g->status, c->status);
	assert_int_equal(https_fixture_connections(h), 1);	/* no retry, no redirect followed */
	if (c->detail)
		assert_contains(g->detail, c->detail);
	if (c->want == STSFETCH_OK) {
		size_t len = c->response.body ? strlen(c->response.body) : c->response.body_len;
		assert_int_equal(g->body_len, len);
		assert_string_equal(g->detail, "");
		assert_string_equal(g->address, "127.0.0.1");
		if (c->response.body)
			assert_string_equal(g->body, c->response.body);
		/* SNI and Host name the policy host; the proxy of the environment was not used. */
		snprintf(want, sizeof(want), "sni=mta-sts.ok.test request=GET /.well-known/mta-sts.txt HTTP/1.1 "
		    "host=mta-sts.ok.test:%u", https_fixture_port(h));
		assert_contains(https_fixture_log(h, log, sizeof(log)), want);
	} else {
		assert_int_equal(g->body_len, 0);
		assert_contains(g->detail, "mta-sts.ok.test");
	}
	assert_int_equal(stsfetch_pending(run.f), 0);
	run_close(&run);
	https_fixture_free(h);
}

/* ---- no server needed, or not reached --------------------------------- */

struct dns_case {
	const char *name;
	const char *domain;
	bool allow_private;
	enum stsfetch_outcome want;
	const char *address;
	const char *detail;
};

static const char *
dns_case_name(const void *row)
{
	return ((const struct dns_case *)row)->name;
}

static const struct dns_case dns_cases[] = {
	{"bogus A: DNS failure", "bogus.test", true, STSFETCH_DNS_FAILED, "", "bogus"},
	{"bogus AAAA beside an A: DNS failure", "bogusdata.test", true, STSFETCH_DNS_FAILED, "", "AAAA lookup bogus"},
	{"SERVFAIL and timeout: DNS failure", "fail.test", true, STSFETCH_DNS_FAILED, "", "A servfail, AAAA timeout"},
	{"SERVFAIL and NODATA: DNS failure", "failnodata.test", true, STSFETCH_DNS_FAILED, "", "A servfail"},
	{"NXDOMAIN: no address", "nx.test", true, STSFETCH_NO_ADDRESS, "", "no A or AAAA"},
	{"NODATA: no address", "nodata.test", true, STSFETCH_NO_ADDRESS, "", "no A or AAAA"},
	{"malformed A record: no address", "broken.test", true, STSFETCH_NO_ADDRESS, "", "no A or AAAA"},
	{"lookups cannot start: DNS failure", "nostart.test", true, STSFETCH_DNS_FAILED, "", "A lookup: could not start"},
	{"not in the zone: DNS failure", "missing.test", true, STSFETCH_DNS_FAILED, "", "not in the fake zone"},
	{"loopback refused", "ok.test", false, STSFETCH_PRIVATE, "127.0.0.1", "mta-sts.ok.test (127.0.0.1): refused"},
	{"private, loopback, link-local refused", "mixed.test", false, STSFETCH_PRIVATE, "10.0.0.1", "private"},
	{"this host's address refused", "own.test", false, STSFETCH_PRIVATE, "1.2.3.4", "this host"},
};

static void
test_dns(void **state)
{
	const struct dns_case *c = *state;
	struct https_response r = {&leaf, HEAD_200, POLICY};
	struct https_fixture *h = https_fixture_start(&r);
	struct netaddr own;
	struct run run;

	assert_non_null(h);
	assert_int_equal(netaddr_parse("1.2.3.4", &own), 0);
	run_open(&run, https_fixture_port(h), c->allow_private, LONG_MS, &own);
	assert_non_null(start(&run, c->domain));
	run_loop(&run, 1, GUARD_MS);
	struct got *g = &run.got[0];
	if (g->outcome != c->want)
		fail_msg("outcome %s, not %s: %s", stsfetch_outcome_name(g->outcome), stsfetch_outcome_name(c->want),
		    g->detail);
	assert_false(g->from_start);
	assert_string_equal(g->address, c->address);
	assert_contains(g->detail, c->detail);
	assert_int_equal(https_fixture_connections(h), 0);	/* refused before any connection */
	run_close(&run);
	https_fixture_free(h);
}

/* ---- by hand ---------------------------------------------------------- */

/* One answer failed, the other has the address: the fetch goes on. */
static void
test_one_lookup_failed(void **state)
{
	struct https_response r = {&leaf, HEAD_200, POLICY};
	struct https_fixture *h = https_fixture_start(&r);
	struct run run;

	(void)state;
	assert_non_null(h);
	run_open(&run, https_fixture_port(h), true, LONG_MS, NULL);
	assert_non_null(start(&run, "half.test"));
	run_loop(&run, 1, GUARD_MS);
	/* Served by the certificate for mta-sts.ok.test: the name is checked. */
	assert_int_equal(run.got[0].outcome, STSFETCH_CERTIFICATE);
	assert_contains(run.got[0].detail, "mta-sts.half.test (127.0.0.1)");
	run_close(&run);
	https_fixture_free(h);
}

static void
test_connect_refused(void **state)
{
	int fd;
	unsigned port = fake_closed_port(&fd);
	struct run run;

	(void)state;
	assert_int_not_equal(port, 0);
	run_open(&run, port, true, LONG_MS, NULL);
	assert_non_null(start(&run, "ok.test"));
	run_loop(&run, 1, GUARD_MS);
	assert_int_equal(run.got[0].outcome, STSFETCH_CONNECT);
	assert_contains(run.got[0].detail, "mta-sts.ok.test (127.0.0.1): connect failed: ");
	run_close(&run);
	close(fd);
}

/* A server that does not speak TLS: a TLS failure, not a certificate one. */
static void
test_not_tls(void **state)
{
	static const struct fake_step script[] = {F_SEND("HTTP/1.1 200 OK\r\n\r\nhello\r\n"), F_SILENT(200), F_CLOSE};
	struct fake_smtp *s = fake_smtp_start("127.0.0.1", script);
	struct run run;

	(void)state;
	assert_non_null(s);
	run_open(&run, fake_smtp_port(s), true, LONG_MS, NULL);
	assert_non_null(start(&run, "ok.test"));
	run_loop(&run, 1, GUARD_MS);
	if (run.got[0].outcome != STSFETCH_TLS)
		fail_msg("outcome %s: %s", stsfetch_outcome_name(run.got[0].outcome), run.got[0].detail);
	run_close(&run);
	fake_smtp_free(s);
}

static void
test_cancel_before_answer(void **state)
{
	struct run run;

	(void)state;
	run_open(&run, 1, true, LONG_MS, NULL);
	struct stsfetch_job *job = start(&run, "ok.test");
	assert_non_null(job);
	assert_int_equal(stsfetch_pending(run.f), 1);
	stsfetch_cancel(job);
	assert_int_equal(stsfetch_pending(run.f), 0);
	assert_int_equal(fake_dns_pending(run.fake), 0);	/* the lookups were cancelled */
	run_loop(&run, 0, 100);
	assert_int_equal(run.ncalls, 0);
	run_close(&run);
}

static void
test_cancel_while_connected(void **state)
{
	struct https_response r = {.silent = true};
	struct https_fixture *h = https_fixture_start(&r);
	struct run run;

	(void)state;
	assert_non_null(h);
	run_open(&run, https_fixture_port(h), true, LONG_MS, NULL);
	struct stsfetch_job *job = start(&run, "ok.test");
	assert_non_null(job);
	for (int i = 0; i < 500 && https_fixture_connections(h) == 0; i++)
		run_loop(&run, 0, 20);
	assert_int_equal(https_fixture_connections(h), 1);
	stsfetch_cancel(job);
	run_loop(&run, 0, 100);
	assert_int_equal(run.ncalls, 0);
	run_close(&run);
	https_fixture_free(h);
}

static void
test_many_at_once(void **state)
{
	enum { N = 40 };
	struct https_response r = {&leaf, HEAD_200, POLICY};
	struct https_fixture *h = https_fixture_start(&r);
	struct run run;

	(void)state;
	assert_non_null(h);
	run_open(&run, https_fixture_port(h), true, LONG_MS, NULL);
	for (int i = 0; i < N; i++)
		assert_non_null(start(&run, i % 4 ? "ok.test" : "nx.test"));
	assert_int_equal(stsfetch_pending(run.f), N);
	run_loop(&run, N, GUARD_MS);
	unsigned ok = 0, none = 0;
	for (int i = 0; i < N; i++) {
		ok += run.got[i].outcome == STSFETCH_OK && strcmp(run.got[i].body, POLICY) == 0;
		none += run.got[i].outcome == STSFETCH_NO_ADDRESS;
	}
	assert_int_equal(ok, N * 3 / 4);
	assert_int_equal(none, N / 4);
	assert_int_equal(https_fixture_connections(h), N * 3 / 4);	/* none shared */
	run_close(&run);
	https_fixture_free(h);
}

static void
test_free_in_callback(void **state)
{
	struct https_response r = {&leaf, HEAD_200, POLICY};
	struct https_fixture *h = https_fixture_start(&r);
	struct run run;

	(void)state;
	assert_non_null(h);
	run_open(&run, https_fixture_port(h), true, LONG_MS, NULL);
	for (int i = 0; i < 5; i++)
		assert_non_null(start(&run, "ok.test"));
	assert_non_null(start(&run, "nx.test"));
	run.free_in_callback = true;
	run_loop(&run, 0, 200);
	assert_int_equal(run.ncalls, 1);
	assert_null(run.f);
	run_close(&run);
	https_fixture_free(h);
}

static void
test_bad_domains(void **state)
{
	static const char *const bad[] = {"", ".", "a..test", ".a.test", "a.test.", "-a.test", "a-.test",
	    "A.test", "a_b.test", "a b.test", "xn--\xc3\xa9.test",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test"};
	char longname[STSFETCH_DOMAIN_MAX + 2];
	struct run run;

	(void)state;
	run_open(&run, 1, true, LONG_MS, NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (start(&run, bad[i]))
			fail_msg("\"%s\" accepted", bad[i]);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	for (size_t i = 60; i < sizeof(longname) - 1; i += 61)
		longname[i] = '.';
	assert_null(start(&run, longname));
	longname[sizeof(longname) - 2] = '\0';
	assert_non_null(start(&run, longname));
	assert_non_null(start(&run, "xn--bcher-kva.example"));
	run_close(&run);
	assert_int_equal(run.ncalls, 0);
}

static void
test_bad_ca_file(void **state)
{
	struct stsfetch_settings s = {.ca_file = "/nonexistent/ca.pem"};
	struct event_base *base = event_base_new();
	char err[256] = "";

	(void)state;
	assert_null(stsfetch_create(base, NULL, &s, err, sizeof(err)));
	assert_contains(err, "/nonexistent/ca.pem");
	event_base_free(base);
}

static void
test_outcome_names(void **state)
{
	(void)state;
	for (int i = 0; i < STSFETCH_OUTCOME_COUNT; i++) {
		assert_string_not_equal(stsfetch_outcome_name(i), "unknown");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(stsfetch_outcome_name(i), stsfetch_outcome_name(j));
	}
	assert_string_equal(stsfetch_outcome_name(STSFETCH_OUTCOME_COUNT), "unknown");
}

/* ---- main ------------------------------------------------------------- */

static int
make_certs(void)
{
	const struct fake_cert_spec specs[] = {
		{"STS Test CA", NULL, NULL, true, -1, 3650},
		{"mta-sts.ok.test", "DNS:mta-sts.ok.test", &ca, false, 0, 0},
		{"mta-sts.other.test", "DNS:mta-sts.other.test", &ca, false, 0, 0},
		{"mta-sts.ok.test", "DNS:mta-sts.ok.test", NULL, false, 0, 0},
	};
	struct fake_cert *certs[] = {&ca, &leaf, &other_name, &self_signed};

	for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
		if (fake_cert_make(certs[i], &specs[i]) < 0)
			return -1;
	if (!table_tmpdir(tmpdir, sizeof(tmpdir), "test_stsfetch"))
		return -1;
	snprintf(ca_pem, sizeof(ca_pem), "%s/ca.pem", tmpdir);
	return fake_cert_write_pem(&ca, ca_pem);
}

static void
free_certs(void)
{
	struct fake_cert *certs[] = {&ca, &leaf, &other_name, &self_signed};

	for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
		fake_cert_free(certs[i]);
	unlink(ca_pem);
	rmdir(tmpdir);
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_one_lookup_failed),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_not_tls),
		cmocka_unit_test(test_cancel_before_answer),
		cmocka_unit_test(test_cancel_while_connected),
		cmocka_unit_test(test_many_at_once),
		cmocka_unit_test(test_free_in_callback),
		cmocka_unit_test(test_bad_domains),
		cmocka_unit_test(test_bad_ca_file),
		cmocka_unit_test(test_outcome_names),
	};
	struct table t = {0};
	char err[256];

	/* A proxy in the environment must make no difference. */
	setenv("https_proxy", "http://127.0.0.1:9", 1);
	setenv("HTTPS_PROXY", "http://127.0.0.1:9", 1);
	setenv("ALL_PROXY", "http://127.0.0.1:9", 1);
	if (stsfetch_global_init(err, sizeof(err)) < 0 || make_certs() < 0) {
		fprintf(stderr, "cannot set up: %s\n", err);
		return 1;
	}
	TABLE_ADD(&t, fetch_cases, fetch_case, test_fetch);
	TABLE_ADD(&t, dns_cases, dns_case, test_dns);
	TABLE_TESTS(&t, more);
	int rc = table_run(&t, "stsfetch");
	free_certs();
	stsfetch_global_cleanup();
	return rc;
}
