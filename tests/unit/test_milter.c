/*
 * Unit tests: what tlspolicy-milter is made of. The status map's reply
 * (lib/serve/status.h) written and read back; the decision for one recipient
 * (lib/serve/rcptpolicy.h) as a table; envelope addresses, the sender list and
 * the header; the socketmap client (lib/postfix/mapclient.h) against a scripted
 * server on a thread: an answer, a server that never answers (the
 * deadline holds), a server that closed an idle connection (one fresh
 * try), nobody listening.
 */
#include "autoconfig.h"

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "util/endpoint.h"
#include "postfix/mapclient.h"
#include "postfix/netstring.h"
#include "serve/rcptpolicy.h"
#include "serve/status.h"
#include "table.h"

/* ---------------------------------------------------------------- status */

static void
test_status_round_trip(void **state)
{
	struct status in = {.result = POLICY_OK, .failure = STATUS_FAILURE_TLSA_MISMATCH}, out;
	struct buf b;
	const char *why;

	snprintf(in.policy, sizeof(in.policy), "encrypt protocols=>=TLSv1.2");
	snprintf(in.rule, sizeof(in.rule), "all-dane");
	snprintf(in.cache, sizeof(in.cache), "hit");
	snprintf(in.reason, sizeof(in.reason), "a \"quoted\" reason\nwith a newline");
	buf_init(&b);
	assert_int_equal(status_format(&in, &b), 0);
	assert_null(memchr(buf_ptr(&b), '\n', buf_size(&b)));
	assert_int_equal(status_parse(buf_ptr(&b), buf_size(&b), &out, &why), 0);
	assert_int_equal(out.result, POLICY_OK);
	assert_int_equal(out.failure, STATUS_FAILURE_TLSA_MISMATCH);
	assert_string_equal(out.policy, in.policy);
	assert_string_equal(out.rule, "all-dane");
	assert_string_equal(out.cache, "hit");
	assert_string_equal(out.reason, in.reason);
	buf_free(&b);
}

struct parse_case {
	const char *name;
	const char *text;
	int rc;
	const char *why;	/* when rc < 0 */
};

static const struct parse_case parse_cases[] = {
	{"temp, bogus", "result=temp rule=mx-failed failure=dnssec-bogus cache=miss reason=x", 0, NULL},
	{"notfound", "result=notfound rule=nxdomain failure=none cache=none reason=gone", 0, NULL},
	{"unknown keys are ignored", "result=notfound failure=none later=field", 0, NULL},
	{"no result", "failure=none policy=may", -1, "no result"},
	{"unknown result", "result=maybe failure=none", -1, "unknown result"},
	{"unknown failure", "result=ok policy=may failure=sometimes", -1, "unknown failure"},
	{"no failure", "result=ok policy=may", -1, "no failure"},
	{"ok without policy", "result=ok failure=none", -1, "result=ok without a policy"},
	{"not key=value", "dane-only", -1, "not key=value fields"},
	{"empty", "", -1, "no result"},
};

static const char *parse_case_name(const void *row) { return ((const struct parse_case *)row)->name; }

static void
test_parse(void **state)
{
	const struct parse_case *c = *state;
	struct status st;
	const char *why = NULL;

	assert_int_equal(status_parse(c->text, strlen(c->text), &st, &why), c->rc);
	if (c->rc < 0)
		assert_string_equal(why, c->why);
}

/* ------------------------------------------------------------- addresses */

struct domain_case {
	const char *name;
	const char *address;
	const char *domain;	/* NULL: none */
};

static const struct domain_case domain_cases[] = {
	{"angle brackets", "<user@Example.ORG>", "example.org"},
	{"bare", "user@example.org", "example.org"},
	{"trailing dot", "<user@example.org.>", "example.org"},
	{"quoted local part with @", "<\"a@b\"@example.net>", "example.net"},
	{"source route", "<@relay.example:user@example.com>", "example.com"},
	{"address literal", "<user@[192.0.2.1]>", "[192.0.2.1]"},
	{"null sender", "<>", NULL},
	{"local name", "<postmaster>", NULL},
	{"empty domain", "<user@>", NULL},
};

static const char *domain_case_name(const void *row) { return ((const struct domain_case *)row)->name; }

static void
test_domain(void **state)
{
	const struct domain_case *c = *state;
	char domain[256];

	int rc = rcptpolicy_domain(c->address, domain, sizeof(domain));
	if (!c->domain) {
		assert_int_equal(rc, -1);
		return;
	}
	assert_int_equal(rc, 0);
	assert_string_equal(domain, c->domain);
}

static void
test_sender_listed(void **state)
{
	char *list[] = {"ceo@Corp.example", "@legal.example", NULL};
	char *empty[] = {NULL};

	assert_true(rcptpolicy_sender_listed(list, "<ceo@corp.example>"));
	assert_true(rcptpolicy_sender_listed(list, "CEO@CORP.EXAMPLE"));
	assert_true(rcptpolicy_sender_listed(list, "<anyone@Legal.Example>"));
	assert_false(rcptpolicy_sender_listed(list, "<ceo2@corp.example>"));
	assert_false(rcptpolicy_sender_listed(list, "<ceo@corp.example.net>"));
	assert_false(rcptpolicy_sender_listed(list, "<x@sub.legal.example>"));
	assert_false(rcptpolicy_sender_listed(list, "<>"));
	assert_false(rcptpolicy_sender_listed(empty, "<ceo@corp.example>"));
	assert_false(rcptpolicy_sender_listed(NULL, "<ceo@corp.example>"));
}

/* --------------------------------------------------------------- decide */

struct decide_case {
	const char *name;
	int on_failure;			/* enum config_dane_failure_action */
	bool secure_sender;
	bool answered;
	enum policy_result result;
	const char *policy;
	enum status_failure failure;
	enum rcptpolicy_action action;
	const char *xcode;
	const char *security;
	const char *text;		/* a piece of the reply */
};

#define OK_ POLICY_OK
#define TEMP_ POLICY_TEMP
#define NF_ POLICY_NOTFOUND
#define NONE_ STATUS_FAILURE_NONE
#define MISMATCH_ STATUS_FAILURE_TLSA_MISMATCH
#define BOGUS_ STATUS_FAILURE_DNSSEC_BOGUS
#define ACC CONFIG_DANE_FAILURE_ACCEPT
#define TMP CONFIG_DANE_FAILURE_TEMPFAIL
#define REJ CONFIG_DANE_FAILURE_REJECT

static const struct decide_case decide_cases[] = {
	{"dane-only: accept", ACC, false, true, OK_, "dane-only", NONE_, RCPTPOLICY_ACCEPT, NULL, "dane-only", NULL},
	{"may: accept", REJ, false, true, OK_, "may", NONE_, RCPTPOLICY_ACCEPT, NULL, "may", NULL},
	{"exception with attributes: its level", ACC, false, true, OK_, "encrypt protocols=>=TLSv1.2", NONE_,
	    RCPTPOLICY_ACCEPT, NULL, "encrypt", NULL},
	{"mismatch, accept", ACC, false, true, OK_, "dane-only", MISMATCH_, RCPTPOLICY_ACCEPT, NULL, "dane-only", NULL},
	{"mismatch, tempfail: 4.7.5", TMP, false, true, OK_, "dane-only", MISMATCH_, RCPTPOLICY_TEMPFAIL, "4.7.5",
	    "dane-only", "Mail to bad.example cannot be delivered securely now: its mail servers present"},
	/* Probe evidence, which anyone on the path can fake: 4xx at most. */
	{"mismatch, reject: 450 4.7.5 only (probe evidence)", REJ, false, true, OK_, "dane-only", MISMATCH_,
	    RCPTPOLICY_TEMPFAIL, "4.7.5", "dane-only", "match none of the DANE (TLSA) records"},
	{"bogus TEMP, reject: 5.7.5", REJ, false, true, TEMP_, NULL, BOGUS_, RCPTPOLICY_REJECT, "5.7.5",
	    "deferred", "DNSSEC signatures do not validate"},
	{"bogus TEMP, accept", ACC, false, true, TEMP_, NULL, BOGUS_, RCPTPOLICY_ACCEPT, NULL, "deferred", NULL},
	{"other TEMP, reject setting: accept", REJ, false, true, TEMP_, NULL, NONE_, RCPTPOLICY_ACCEPT, NULL,
	    "deferred", NULL},
	{"no answer, reject setting: accept", REJ, false, false, OK_, NULL, NONE_, RCPTPOLICY_ACCEPT, NULL,
	    "unknown", NULL},
	{"no answer, secure sender: 450 4.7.5", ACC, true, false, OK_, NULL, NONE_, RCPTPOLICY_TEMPFAIL, "4.7.5",
	    "unknown", "whether mail to bad.example can is not known now"},
	{"secure sender to may: 5.7.1", ACC, true, true, OK_, "may", NONE_, RCPTPOLICY_REJECT, "5.7.1", "may",
	    "Your mail may only leave over authenticated TLS, and mail to bad.example would not"},
	{"secure sender to encrypt: 5.7.1", ACC, true, true, OK_, "encrypt", NONE_, RCPTPOLICY_REJECT, "5.7.1",
	    "encrypt", NULL},
	{"secure sender to no policy: 5.7.1", ACC, true, true, NF_, NULL, NONE_, RCPTPOLICY_REJECT, "5.7.1",
	    "default", "cannot be authenticated"},
	{"secure sender to dane-only: accept", ACC, true, true, OK_, "dane-only", NONE_, RCPTPOLICY_ACCEPT, NULL,
	    "dane-only", NULL},
	{"secure sender to dane (mixed hosts): 5.7.1", ACC, true, true, OK_, "dane", NONE_, RCPTPOLICY_REJECT,
	    "5.7.1", "dane", "not all of its mail servers publish usable DANE"},
	{"secure sender to an exception's secure: accept", ACC, true, true, OK_, "secure match=nexthop", NONE_,
	    RCPTPOLICY_ACCEPT, NULL, "secure", NULL},
	{"secure sender to an exception's verify: accept", ACC, true, true, OK_, "verify", NONE_, RCPTPOLICY_ACCEPT,
	    NULL, "verify", NULL},
	{"secure sender to an exception's fingerprint: accept", ACC, true, true, OK_,
	    "fingerprint match=3b:6d:aa:00", NONE_, RCPTPOLICY_ACCEPT, NULL, "fingerprint", NULL},
	{"secure sender to an exception's dane-only: accept", ACC, true, true, OK_, "dane-only protocols=>=TLSv1.2",
	    NONE_, RCPTPOLICY_ACCEPT, NULL, "dane-only", NULL},
	{"secure sender to none: 5.7.1", ACC, true, true, OK_, "none", NONE_, RCPTPOLICY_REJECT, "5.7.1", "none",
	    NULL},
	{"secure sender, DANE failing, tempfail: 4.7.5", TMP, true, true, OK_, "dane-only", MISMATCH_,
	    RCPTPOLICY_TEMPFAIL, "4.7.5", "dane-only", NULL},
	{"secure sender, DNS TEMP: 450 4.7.5", REJ, true, true, TEMP_, NULL, NONE_, RCPTPOLICY_TEMPFAIL, "4.7.5",
	    "deferred", "try again later"},
	{"secure sender, bogus TEMP, accept setting: 450 4.7.5", ACC, true, true, TEMP_, NULL, BOGUS_,
	    RCPTPOLICY_TEMPFAIL, "4.7.5", "deferred", NULL},
	{"secure sender, bogus TEMP, reject: 550 5.7.5 (own DNSSEC validation)", REJ, true, true, TEMP_, NULL,
	    BOGUS_, RCPTPOLICY_REJECT, "5.7.5", "deferred", "DNSSEC"},
	{"secure sender, mismatch, reject: 450 4.7.5 only", REJ, true, true, OK_, "dane-only", MISMATCH_,
	    RCPTPOLICY_TEMPFAIL, "4.7.5", "dane-only", NULL},
	{"secure sender, mismatch at dane-only, accept setting: accept (Postfix defers)", ACC, true, true, OK_,
	    "dane-only", MISMATCH_, RCPTPOLICY_ACCEPT, NULL, "dane-only", NULL},
};

static const char *decide_case_name(const void *row) { return ((const struct decide_case *)row)->name; }

static void
test_decide(void **state)
{
	const struct decide_case *c = *state;
	struct config cfg = {.milter_on_dane_failure = c->on_failure};
	struct status st = {.result = c->result, .failure = c->failure};
	struct rcptpolicy_verdict v;

	if (c->policy)
		snprintf(st.policy, sizeof(st.policy), "%s", c->policy);
	rcptpolicy_decide(&cfg, c->secure_sender, "bad.example", c->answered ? &st : NULL, &v);
	assert_int_equal(v.action, c->action);
	assert_string_equal(v.security, c->security);
	if (c->action == RCPTPOLICY_ACCEPT) {
		assert_null(v.rcode);
		return;
	}
	assert_string_equal(v.rcode, c->action == RCPTPOLICY_TEMPFAIL ? "450" : "550");
	assert_string_equal(v.xcode, c->xcode);
	assert_non_null(strstr(v.text, "bad.example"));
	if (c->text && !strstr(v.text, c->text))
		fail_msg("reply '%s' lacks '%s'", v.text, c->text);
}

static void
test_hostile_domain_in_reply(void **state)
{
	struct config cfg = {.milter_on_dane_failure = CONFIG_DANE_FAILURE_REJECT};
	struct status st = {.result = POLICY_OK, .failure = STATUS_FAILURE_TLSA_MISMATCH};
	struct rcptpolicy_verdict v;

	snprintf(st.policy, sizeof(st.policy), "dane-only");
	rcptpolicy_decide(&cfg, false, "%s%n.example\r\n250 ok", &st, &v);
	assert_null(strchr(v.text, '%'));
	assert_null(strchr(v.text, '\r'));
	assert_null(strchr(v.text, '\n'));
}

/* ---------------------------------------------------------------- header */

static void
test_header(void **state)
{
	struct buf h;
	char name[64];

	buf_init(&h);
	rcptpolicy_header_add(&h, "good.example", "dane-only");
	rcptpolicy_header_add(&h, "other.example", "may");
	rcptpolicy_header_add(&h, "good.example", "dane-only");	/* a second recipient there */
	buf_terminate(&h);
	assert_string_equal(buf_ptr(&h), "good.example=dane-only, other.example=may");
	/* A domain that ends another domain's name is not taken for it. */
	rcptpolicy_header_add(&h, "example", "encrypt");
	buf_terminate(&h);
	assert_string_equal(buf_ptr(&h), "good.example=dane-only, other.example=may, example=encrypt");

	/* Many domains: folded lines, none longer than 78 with the name. */
	buf_reset(&h);
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "domain%d.example", i);
		rcptpolicy_header_add(&h, name, "dane");
	}
	buf_terminate(&h);
	const char *p = buf_ptr(&h);
	size_t line = 14, lines = 1;	/* "X-TLS-Policy: " */
	for (; *p; p++) {
		if (*p == '\n') {
			assert_true(p[1] == '\t');
			assert_true(p > buf_ptr(&h) && p[-1] == ',');
			lines++;
			line = 0;
			continue;
		}
		assert_true(++line <= 78);
	}
	assert_true(lines > 5);
	assert_non_null(strstr(buf_ptr(&h), "domain39.example=dane"));
	buf_free(&h);
}

/* ------------------------------------------------------------- mapclient */

enum script { ANSWER, SILENT, CLOSE_AFTER_ONE };

struct fake_server {
	int listen_fd;
	enum script script;
	pthread_t thread;
	char path[108];
	int requests;	/* seen, all connections */
};

/* Serves connections one after the other until the listener is shut. */
static void *
serve(void *arg)
{
	struct fake_server *fs = arg;
	int fd;

	while ((fd = accept(fs->listen_fd, NULL, NULL)) >= 0) {
		char in[4096];
		size_t have = 0;
		for (;;) {
			ssize_t n = read(fd, in + have, sizeof(in) - have);
			if (n <= 0)
				break;
			have += (size_t)n;
			const char *payload;
			size_t len, used;
			if (netstring_parse(in, have, sizeof(in), &payload, &len, &used) != NETSTRING_OK)
				continue;
			fs->requests++;
			if (fs->script == ANSWER || fs->script == CLOSE_AFTER_ONE) {
				char reply[256];
				int m = snprintf(reply, sizeof(reply), "OK got %.*s", (int)len, payload);
				struct buf b;
				buf_init(&b);
				netstring_put(&b, reply, (size_t)m);
				assert_int_equal(write(fd, buf_ptr(&b), buf_size(&b)), (ssize_t)buf_size(&b));
				buf_free(&b);
			}
			memmove(in, in + used, have - used);
			have -= used;
			if (fs->script == CLOSE_AFTER_ONE)
				break;
		}
		close(fd);
	}
	return NULL;
}

static void
fake_start(struct fake_server *fs, enum script script, struct endpoint *ep)
{
	char err[256], spec[160];

	memset(fs, 0, sizeof(*fs));
	fs->script = script;
	int n = snprintf(fs->path, sizeof(fs->path), "%s/tlsp-mapclient-%d-%d", table_tmp(), (int)getpid(), (int)script);
	assert_true(n > 0 && (size_t)n < sizeof(fs->path));
	snprintf(spec, sizeof(spec), "unix:%s", fs->path);
	assert_int_equal(endpoint_parse(spec, ep, err, sizeof(err)), 0);
	fs->listen_fd = endpoint_listen(ep, 8, err, sizeof(err));
	assert_true(fs->listen_fd >= 0);
	/* endpoint_listen makes it non-blocking; the thread wants to wait. */
	int flags = fcntl(fs->listen_fd, F_GETFL);
	fcntl(fs->listen_fd, F_SETFL, flags & ~O_NONBLOCK);
	assert_int_equal(pthread_create(&fs->thread, NULL, serve, fs), 0);
}

static void
fake_stop(struct fake_server *fs)
{
	shutdown(fs->listen_fd, SHUT_RDWR);
	pthread_join(fs->thread, NULL);
	close(fs->listen_fd);
	unlink(fs->path);
}

static int64_t
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
test_client_answers(void **state)
{
	struct fake_server fs;
	struct endpoint ep;
	enum socketmap_status st;
	struct buf text;
	char err[256];

	fake_start(&fs, ANSWER, &ep);
	struct mapclient *mc = mapclient_create(&ep);
	buf_init(&text);
	assert_int_equal(mapclient_query(mc, STATUS_MAP_NAME, "a.example", 1000, &st, &text, err, sizeof(err)),
	    MAPCLIENT_OK);
	assert_int_equal(st, SOCKETMAP_OK);
	assert_string_equal(buf_ptr(&text), "got tlspolicy-status a.example");
	assert_int_equal(mapclient_query(mc, "tlspolicy", "b.example", 1000, &st, &text, err, sizeof(err)),
	    MAPCLIENT_OK);
	assert_string_equal(buf_ptr(&text), "got tlspolicy b.example");
	mapclient_free(mc);
	buf_free(&text);
	fake_stop(&fs);
}

static void
test_client_deadline(void **state)
{
	struct fake_server fs;
	struct endpoint ep;
	enum socketmap_status st;
	struct buf text;
	char err[256];

	fake_start(&fs, SILENT, &ep);
	struct mapclient *mc = mapclient_create(&ep);
	buf_init(&text);
	int64_t t0 = ms_now();
	assert_int_equal(mapclient_query(mc, STATUS_MAP_NAME, "slow.example", 200, &st, &text, err, sizeof(err)),
	    MAPCLIENT_TIMEOUT);
	int64_t took = ms_now() - t0;
	assert_true(took >= 190 && took < 1000);
	assert_non_null(strstr(err, "no answer in time"));
	assert_non_null(strstr(err, fs.path));
	mapclient_free(mc);
	buf_free(&text);
	fake_stop(&fs);
}

static void
test_client_reconnects(void **state)
{
	struct fake_server fs;
	struct endpoint ep;
	enum socketmap_status st;
	struct buf text;
	char err[256];

	fake_start(&fs, CLOSE_AFTER_ONE, &ep);
	struct mapclient *mc = mapclient_create(&ep);
	buf_init(&text);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(mapclient_query(mc, STATUS_MAP_NAME, "a.example", 1000, &st, &text, err, sizeof(err)),
		    MAPCLIENT_OK);
		assert_string_equal(buf_ptr(&text), "got tlspolicy-status a.example");
		usleep(20000);	/* the server closes meanwhile */
	}
	assert_int_equal(fs.requests, 3);
	mapclient_free(mc);
	buf_free(&text);
	fake_stop(&fs);
}

static void
test_client_nobody_listens(void **state)
{
	struct endpoint ep;
	enum socketmap_status st;
	struct buf text;
	char err[256], spec[160];

	/* A path nothing is bound to. */
	snprintf(spec, sizeof(spec), "unix:%s/tlsp-mapclient-nobody-%d", table_tmp(), (int)getpid());
	assert_int_equal(endpoint_parse(spec, &ep, err, sizeof(err)), 0);
	unlink(spec + 5);
	struct mapclient *mc = mapclient_create(&ep);
	buf_init(&text);
	assert_int_equal(mapclient_query(mc, STATUS_MAP_NAME, "a.example", 1000, &st, &text, err, sizeof(err)),
	    MAPCLIENT_ERROR);
	assert_non_null(strstr(err, "connect"));
	mapclient_free(mc);
	buf_free(&text);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_round_trip),
		cmocka_unit_test(test_sender_listed),
		cmocka_unit_test(test_hostile_domain_in_reply),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_client_answers),
		cmocka_unit_test(test_client_deadline),
		cmocka_unit_test(test_client_reconnects),
		cmocka_unit_test(test_client_nobody_listens),
	};
	struct table t = {0};

	TABLE_ADD(&t, parse_cases, parse_case, test_parse);
	TABLE_ADD(&t, domain_cases, domain_case, test_domain);
	TABLE_ADD(&t, decide_cases, decide_case, test_decide);
	table_add_tests(&t, tests, sizeof(tests) / sizeof(tests[0]));
	return table_run(&t, "milter");
}
