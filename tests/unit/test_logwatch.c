/* Unit tests: the log watcher. The lab's recorded excerpts (tests/logwatch)
 * fed in order give the right counts per destination and the right alerts;
 * hand-made sequences pin down how lines are tied to destinations; and a
 * million generated lines over 100 000 destinations keep memory bounded. */
#include "autoconfig.h"

#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "watch/logwatch.h"
#include "table.h"

/* ---------------------------------------------------------------- helpers */

struct alert_seen {
	char kind[32], dest[256], detail[512];
};

struct alerts {
	size_t n;
	struct alert_seen a[64];
	size_t more;			/* past the array */
};

static void
on_alert(void *arg, const char *kind, const char *dest, const char *detail)
{
	struct alerts *al = arg;

	assert_non_null(kind);
	assert_non_null(dest);
	assert_non_null(detail);
	if (al->n == sizeof(al->a) / sizeof(al->a[0])) {
		al->more++;
		return;
	}
	snprintf(al->a[al->n].kind, sizeof(al->a[0].kind), "%s", kind);
	snprintf(al->a[al->n].dest, sizeof(al->a[0].dest), "%s", dest);
	snprintf(al->a[al->n].detail, sizeof(al->a[0].detail), "%s", detail);
	al->n++;
}

static char dir_path[4096];

static const char *
logwatch_dir(void)
{
	return table_data_dir(dir_path, sizeof(dir_path), "logwatch");
}

/* Feeds a file of tests/logwatch line by line, newline included (as tail
 * hands them over, less the newline: both must work). */
static size_t
feed_file(struct logwatch *lw, const char *file, int64_t *now)
{
	char path[4200];
	char *line = NULL;
	size_t cap = 0, lines = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", logwatch_dir(), file);
	FILE *fp = fopen(path, "r");
	if (!fp)
		fail_msg("cannot open %s (set top_srcdir)", path);
	while ((n = getline(&line, &cap, fp)) >= 0) {
		size_t len = (size_t)n;
		if (lines % 2 && len && line[len - 1] == '\n')
			len--;
		logwatch_line(lw, line, len, (*now)++);
		lines++;
	}
	free(line);
	fclose(fp);
	return lines;
}

struct counts_want {
	uint64_t verified, trusted, untrusted, anonymous;
	uint64_t cert_failed, tlsa_error, non_dnssec;
	uint64_t sent, deferred, deferred_tls;
	int last_verified;
};

static void
assert_counts(const struct logwatch *lw, const char *dest, const struct counts_want *w)
{
	const struct logwatch_counts *c = logwatch_counts(lw, dest);

	if (!c)
		fail_msg("nothing counted for %s", dest);
#define EQ(f)                                                                                           \
	do {                                                                                            \
		if (c->f != w->f)                                                                       \
			fail_msg("%s: " #f " %llu, want %llu", dest, (unsigned long long)c->f,          \
			    (unsigned long long)w->f);                                                  \
	} while (0)
	EQ(verified);
	EQ(trusted);
	EQ(untrusted);
	EQ(anonymous);
	EQ(cert_failed);
	EQ(tlsa_error);
	EQ(non_dnssec);
	EQ(sent);
	EQ(deferred);
	EQ(deferred_tls);
	EQ(last_verified);
#undef EQ
}

struct alert_want {
	const char *kind, *dest, *detail;	/* detail: a part of it */
};

static void
assert_alerts(const struct alerts *al, const struct alert_want *want, size_t max)
{
	size_t nwant = 0;

	while (nwant < max && want[nwant].kind)
		nwant++;
	for (size_t i = 0; i < al->n && i < nwant; i++) {
		if (strcmp(al->a[i].kind, want[i].kind) != 0 || strcmp(al->a[i].dest, want[i].dest) != 0 ||
		    !strstr(al->a[i].detail, want[i].detail))
			fail_msg("alert %zu: %s dest=\"%s\" \"%s\", want %s dest=\"%s\" with \"%s\"", i, al->a[i].kind,
			    al->a[i].dest, al->a[i].detail, want[i].kind, want[i].dest, want[i].detail);
	}
	if (al->n != nwant)
		fail_msg("%zu alerts, want %zu%s%s", al->n, nwant, al->n ? "; the last: " : "",
		    al->n ? al->a[al->n - 1].kind : "");
}

/* ------------------------------------------------ the lab's recorded excerpts */

/* The lab's two runs in the order they were logged. */
static const char *const recorded[] = {
	"deliveries.log", "policy-errors.log", "dnssec-off.log",	/* one lab */
	"auth-failing.log", "anonymous.log",				/* another */
};

struct recorded_case {
	const char *name;
	const char *dest;
	struct counts_want want;
};

static const struct recorded_case recorded_cases[] = {
	/* Verified, Verified, then a hostname mismatch deferred with 4.7.5,
	 * then Verified again. */
	{"recorded: good.test, Verified and then failing",
	    "good.test", {.verified = 4, .untrusted = 1, .cert_failed = 1, .sent = 4, .deferred = 1, .deferred_tls = 1,
		.last_verified = 1}},
	/* dane-only: no matching TLSA record, deferred; then sent with may. */
	{"recorded: wrongtlsa.test, deferred on a TLSA mismatch",
	    "wrongtlsa.test", {.untrusted = 2, .cert_failed = 1, .sent = 1, .deferred = 1, .deferred_tls = 1}},
	{"recorded: notlsa.test, Trusted with may", "notlsa.test", {.trusted = 1, .sent = 1}},
	{"recorded: wrongname.test, Trusted with may", "wrongname.test", {.trusted = 1, .sent = 1}},
	{"recorded: selfsigned.test, Untrusted; self-signed under verify",
	    "selfsigned.test", {.untrusted = 3, .cert_failed = 1, .sent = 2, .deferred = 1, .deferred_tls = 1}},
	{"recorded: insecure.test, non DNSSEC destination under dane-only",
	    "insecure.test", {.trusted = 1, .non_dnssec = 1, .sent = 1, .deferred = 1, .deferred_tls = 1}},
	{"recorded: bogustlsa.test, TLSA lookup error, then a TEMP policy",
	    "bogustlsa.test", {.tlsa_error = 1, .deferred = 2, .deferred_tls = 2}},
	{"recorded: unsignedmx.test, no TLSA records under dane-only, then Trusted",
	    "unsignedmx.test", {.trusted = 1, .sent = 1, .deferred = 1, .deferred_tls = 1}},
	{"recorded: anon.example, Anonymous TLS", "anon.example", {.anonymous = 1, .sent = 1}},
};

static const char *
recorded_case_name(const void *row)
{
	return ((const struct recorded_case *)row)->name;
}

static void
test_recorded(void **state)
{
	const struct recorded_case *c = *state;
	struct alerts al = {0};
	struct logwatch *lw = logwatch_create(1000, on_alert, &al);
	int64_t now = 1795459800;
	size_t lines = 0;

	assert_non_null(lw);
	for (size_t i = 0; i < sizeof(recorded) / sizeof(recorded[0]); i++)
		lines += feed_file(lw, recorded[i], &now);
	assert_int_equal(logwatch_lines(lw), lines);
	assert_int_equal(lines, 121);
	assert_counts(lw, c->dest, &c->want);
	assert_int_equal(logwatch_counts(lw, c->dest)->last_seen >= 1795459800, 1);
	logwatch_free(lw);
}

static void
count_dest(void *arg, const char *dest, const struct logwatch_counts *c)
{
	(*(size_t *)arg)++;
}

/* The recorded files, alone or in order: which alerts they raise. */
struct recorded_alert_case {
	const char *name;
	const char *files[6];
	size_t dests;			/* destinations counted */
	struct alert_want alerts[4];
};

static const struct recorded_alert_case recorded_alert_cases[] = {
	{"recorded alerts: deliveries.log raises none (nothing was Verified before it failed)",
	    {"deliveries.log"}, 5, {{0}}},
	{"recorded alerts: policy-errors.log, Postfix's DNSSEC is off",
	    {"policy-errors.log"}, 4,
	    {{"dnssec-off", "", "postfix/smtp[24134]: DNSSEC validation may be unavailable"}}},
	{"recorded alerts: dnssec-off.log (dnssec_probe = ns:insecure.test)",
	    {"dnssec-off.log"}, 4,
	    {{"dnssec-off", "", "postfix/smtp[24363]: DNSSEC validation may be unavailable"}}},
	{"recorded alerts: auth-failing.log, good.test Verified, then not",
	    {"auth-failing.log"}, 2,
	    {{"auth-failing", "good.test",
		"certificate verification failed for mx1.good.test[127.0.1.1]:25: num=62:hostname mismatch"}}},
	{"recorded alerts: anonymous.log raises none", {"anonymous.log"}, 3, {{0}}},
	{"recorded alerts: all five in order",
	    {"deliveries.log", "policy-errors.log", "dnssec-off.log", "auth-failing.log", "anonymous.log"}, 9,
	    {{"dnssec-off", "", "postfix/smtp[24134]"}, {"dnssec-off", "", "postfix/smtp[24363]"},
		{"auth-failing", "good.test", "num=62:hostname mismatch"}}},
};

static const char *
recorded_alert_case_name(const void *row)
{
	return ((const struct recorded_alert_case *)row)->name;
}

static void
test_recorded_alerts(void **state)
{
	const struct recorded_alert_case *c = *state;
	struct alerts al = {0};
	struct logwatch *lw = logwatch_create(1000, on_alert, &al);
	int64_t now = 1795459800;
	size_t dests = 0;

	assert_non_null(lw);
	for (size_t i = 0; i < 6 && c->files[i]; i++)
		feed_file(lw, c->files[i], &now);
	logwatch_each(lw, count_dest, &dests);
	assert_int_equal(dests, c->dests);
	assert_alerts(&al, c->alerts, 4);
	logwatch_free(lw);
}

/* ------------------------------------------------------ hand-made sequences */

#define SMTP(pid) "Nov 24 18:50:09 mail postfix/smtp[" #pid "]: "
#define TLSLINE(pid, trust, host, addr) \
	SMTP(pid) trust " TLS connection established to " host "[" addr "]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384"
#define CERTFAIL(pid, host, addr) \
	SMTP(pid) "server certificate verification failed for " host "[" addr "]:25: num=65:no matching DANE TLSA records"
#define DELIVER(pid, qid, rcpt, host, addr, dsn, status, why) \
	SMTP(pid) qid ": to=<" rcpt ">, relay=" host "[" addr "]:25, delay=0.1, delays=0/0/0/0.1, dsn=" dsn \
	    ", status=" status " (" why ")"
#define SENT(pid, qid, rcpt, host, addr) DELIVER(pid, qid, rcpt, host, addr, "2.0.0", "sent", "250 2.0.0 Ok")
#define NOTVERIFIED(pid, qid, rcpt, host, addr) \
	DELIVER(pid, qid, rcpt, host, addr, "4.7.5", "deferred", "Server certificate not verified")

struct sequence_case {
	const char *name;
	size_t max_dests;
	int64_t gap;			/* seconds between lines (1 when 0) */
	const char *lines[16];
	struct {
		const char *dest;
		struct counts_want want;
	} dests[4];
	const char *absent[3];		/* destinations that must not be counted */
	struct alert_want alerts[4];
};

static const struct sequence_case sequence_cases[] = {
	{"auth-failing: once per fall, again after a Verified delivery", 100, 0,
	    {TLSLINE(1, "Verified", "mx.a.test", "192.0.2.1"), SENT(1, "A1", "u@a.test", "mx.a.test", "192.0.2.1"),
		CERTFAIL(2, "mx.a.test", "192.0.2.1"), TLSLINE(2, "Untrusted", "mx.a.test", "192.0.2.1"),
		NOTVERIFIED(2, "A2", "u@a.test", "mx.a.test", "192.0.2.1"),
		CERTFAIL(3, "mx.a.test", "192.0.2.1"), NOTVERIFIED(3, "A3", "u@a.test", "mx.a.test", "192.0.2.1"),
		TLSLINE(4, "Verified", "mx.a.test", "192.0.2.1"), SENT(4, "A4", "u@a.test", "mx.a.test", "192.0.2.1"),
		NOTVERIFIED(5, "A5", "u@a.test", "mx.a.test", "192.0.2.1")},
	    {{"a.test", {.verified = 2, .untrusted = 1, .cert_failed = 2, .sent = 2, .deferred = 3,
		.deferred_tls = 3}}},
	    {NULL},
	    {{"auth-failing", "a.test", "certificate verification failed for mx.a.test[192.0.2.1]:25: num=65"},
		{"auth-failing", "a.test", "dsn=4.7.5 relay=mx.a.test[192.0.2.1]:25: Server certificate not verified"}}},
	{"auth-failing: a TLSA lookup error after Verified", 100, 0,
	    {TLSLINE(1, "Verified", "mx.b.test", "192.0.2.2"), SENT(1, "B1", "u@b.test", "mx.b.test", "192.0.2.2"),
		SMTP(2) "warning: TLS policy lookup for b.test/mx.b.test: TLSA lookup error for mx.b.test:25",
		SMTP(2) "B2: to=<u@b.test>, relay=none, delay=0.05, delays=0/0/0/0, dsn=4.7.5, status=deferred "
			"(TLSA lookup error for mx.b.test:25)"},
	    {{"b.test", {.verified = 1, .tlsa_error = 1, .sent = 1, .deferred = 1, .deferred_tls = 1}}},
	    {NULL},
	    {{"auth-failing", "b.test", "TLSA lookup error for mx.b.test:25"}}},
	{"no alert for a destination never Verified", 100, 0,
	    {CERTFAIL(1, "mx.c.test", "192.0.2.3"), NOTVERIFIED(1, "C1", "u@c.test", "mx.c.test", "192.0.2.3")},
	    {{"c.test", {.cert_failed = 1, .deferred = 1, .deferred_tls = 1}}}, {NULL}, {{0}}},
	{"MX fallback: the failed first host counts for the destination", 100, 0,
	    {TLSLINE(1, "Verified", "mx1.d.test", "192.0.2.4"), SENT(1, "D1", "u@d.test", "mx1.d.test", "192.0.2.4"),
		CERTFAIL(2, "mx1.d.test", "192.0.2.4"), TLSLINE(2, "Untrusted", "mx1.d.test", "192.0.2.4"),
		TLSLINE(2, "Verified", "mx2.d.test", "192.0.2.5"), SENT(2, "D2", "u@d.test", "mx2.d.test", "192.0.2.5")},
	    {{"d.test", {.verified = 2, .untrusted = 1, .cert_failed = 1, .sent = 2, .last_verified = 1}}},
	    {NULL},
	    {{"auth-failing", "d.test", "mx1.d.test[192.0.2.4]:25"}}},
	{"processes interleaved: each line to its own process's delivery", 100, 0,
	    {TLSLINE(1, "Verified", "mx.e.test", "192.0.2.6"), TLSLINE(2, "Untrusted", "mx.f.test", "192.0.2.7"),
		TLSLINE(3, "Trusted", "mx.g.test", "192.0.2.8"), SENT(2, "F1", "u@f.test", "mx.f.test", "192.0.2.7"),
		SENT(3, "G1", "u@g.test", "mx.g.test", "192.0.2.8"), SENT(1, "E1", "u@e.test", "mx.e.test", "192.0.2.6")},
	    {{"e.test", {.verified = 1, .sent = 1, .last_verified = 1}}, {"f.test", {.untrusted = 1, .sent = 1}},
		{"g.test", {.trusted = 1, .sent = 1}}},
	    {NULL}, {{0}}},
	{"same pid, another program: another process", 100, 0,
	    {TLSLINE(7, "Verified", "mx.h.test", "192.0.2.9"),
		"Nov 24 18:50:09 mail postfix-out/smtp[7]: H1: to=<u@h.test>, relay=mx.h.test[192.0.2.9]:25, "
		"delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (250 ok)"},
	    {{"h.test", {.sent = 1}}}, {NULL}, {{0}}},
	{"several recipients: one TLS connection, one delivery line each", 100, 0,
	    {TLSLINE(1, "Verified", "mx.i.test", "192.0.2.10"), SENT(1, "I1", "a@i.test", "mx.i.test", "192.0.2.10"),
		SENT(1, "I1", "b@i.test", "mx.i.test", "192.0.2.10"), SENT(1, "I1", "c@I.TEST", "mx.i.test", "192.0.2.10")},
	    {{"i.test", {.verified = 1, .sent = 3, .last_verified = 1}}, {"I.Test.", {.verified = 1, .sent = 3,
		.last_verified = 1}}},
	    {NULL}, {{0}}},
	{"stale: a TLS line an hour and more before its delivery is dropped", 100, 3601,
	    {TLSLINE(1, "Verified", "mx.j.test", "192.0.2.11"), SENT(1, "J1", "u@j.test", "mx.j.test", "192.0.2.11")},
	    {{"j.test", {.sent = 1}}}, {NULL}, {{0}}},
	{"not over the network: local, and discard's relay=none, are not counted", 100, 0,
	    {"Nov 24 18:50:15 mail postfix/local[9]: L1: to=<root@k.test>, relay=local, delay=0.01, "
	     "delays=0/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)",
		"Nov 24 18:50:09 mx postfix/discard[10]: L2: to=<user@l.test>, relay=none, delay=0.01, "
		"delays=0.01/0/0/0, dsn=2.0.0, status=sent (accepted by the tlspolicyd lab)"},
	    {{NULL, {0}}}, {"k.test", "l.test"}, {{0}}},
	{"relay=none that failed is counted (DNS, TLS policy)", 100, 0,
	    {"Nov 24 18:50:15 mail postfix/smtp[11]: M1: to=<u@m.test>, relay=none, delay=30, "
	     "delays=0/0/30/0, dsn=4.4.3, status=deferred (Host or domain name not found. Name service error for "
	     "name=m.test type=MX: Host not found, try again)"},
	    {{"m.test", {.deferred = 1}}}, {NULL}, {{0}}},
	{"Postfix 3.11 tls=dane: authenticated without a TLS line", 100, 0,
	    {SMTP(1) "N1: to=<u@n.test>, relay=mx.n.test[192.0.2.12]:25, delay=0.1, delays=0/0/0/0.1, tls=dane, "
		     "dsn=2.0.0, status=sent (250 ok)",
		NOTVERIFIED(2, "N2", "u@n.test", "mx.n.test", "192.0.2.12"),
		SMTP(3) "N3: to=<u@n.test>, relay=mx.n.test[192.0.2.12]:25, delay=0.1, delays=0/0/0/0.1, "
		     "tls=encrypt/(requiretls), dsn=2.0.0, status=sent (250 ok)",
		NOTVERIFIED(4, "N4", "u@n.test", "mx.n.test", "192.0.2.12")},
	    {{"n.test", {.sent = 2, .deferred = 2, .deferred_tls = 2}}}, {NULL},
	    {{"auth-failing", "n.test", "dsn=4.7.5"}}},
	{"eviction: past max_dests the one seen longest ago goes", 2, 0,
	    {SENT(1, "O1", "u@o1.test", "mx.o.test", "192.0.2.13"), SENT(2, "O2", "u@o2.test", "mx.o.test", "192.0.2.13"),
		SENT(3, "O3", "u@o1.test", "mx.o.test", "192.0.2.13"), SENT(4, "O4", "u@o3.test", "mx.o.test", "192.0.2.13")},
	    {{"o1.test", {.sent = 2}}, {"o3.test", {.sent = 1}}}, {"o2.test"}, {{0}}},
	{"pending events stay with their process, whatever comes between", 100, 0,
	    {CERTFAIL(1, "mx.p.test", "192.0.2.14"), "Nov 24 18:50:09 mail postfix/qmgr[5]: P1: removed",
		SENT(2, "Q1", "u@q.test", "mx.q.test", "192.0.2.15"),
		NOTVERIFIED(1, "P1", "u@p.test", "mx.p.test", "192.0.2.14")},
	    {{"p.test", {.cert_failed = 1, .deferred = 1, .deferred_tls = 1}}, {"q.test", {.sent = 1}}}, {NULL},
	    {{0}}},
	{"the SMTP server's certificate failures are about its clients", 100, 0,
	    {"Nov 24 18:50:09 mx postfix/smtpd[20]: certificate verification failed for client.example[192.0.2.50]:"
	     "40000: self-signed certificate",
		"Nov 24 18:50:09 mx postfix/smtpd[20]: R1: to=<u@r.test>, relay=mx.r.test[192.0.2.16]:25, delay=0.1, "
		"delays=0/0/0/0.1, dsn=2.0.0, status=sent (250 ok)"},
	    {{"r.test", {.sent = 1}}}, {NULL}, {{0}}},
	{"dnssec-off: one alert per warning, no destination", 100, 0,
	    {SMTP(1) "warning: DNSSEC validation may be unavailable",
		SMTP(1) "warning: reason: dnssec_probe 'ns:.' received a response that is not DNSSEC validated",
		"2026-11-24T18:50:09+01:00 mail postfix/smtp[2]: warning: DNSSEC validation may be unavailable"},
	    {{NULL, {0}}}, {NULL},
	    {{"dnssec-off", "", "postfix/smtp[1]: DNSSEC validation may be unavailable"},
		{"dnssec-off", "", "postfix/smtp[2]: DNSSEC validation may be unavailable"}}},
};

static const char *
sequence_case_name(const void *row)
{
	return ((const struct sequence_case *)row)->name;
}

static void
test_sequence(void **state)
{
	const struct sequence_case *c = *state;
	struct alerts al = {0};
	struct logwatch *lw = logwatch_create(c->max_dests, on_alert, &al);
	int64_t now = 1000;
	size_t n = 0;

	assert_non_null(lw);
	for (; n < 16 && c->lines[n]; n++) {
		logwatch_line(lw, c->lines[n], strlen(c->lines[n]), now);
		now += c->gap ? c->gap : 1;
	}
	assert_int_equal(logwatch_lines(lw), n);
	for (size_t i = 0; i < 4 && c->dests[i].dest; i++)
		assert_counts(lw, c->dests[i].dest, &c->dests[i].want);
	for (size_t i = 0; i < 3 && c->absent[i]; i++)
		if (logwatch_counts(lw, c->absent[i]))
			fail_msg("%s was counted", c->absent[i]);
	assert_alerts(&al, c->alerts, 4);
	logwatch_free(lw);
}

/* ------------------------------------------------------------ plain tests */

#define FEED(lw, line, when) logwatch_line((lw), (line), strlen(line), (when))

/* The run of 4.7.5 deferrals that corroborates a probe (exproposal.h):
 * counted from the first to the latest, other deferrals left out, and
 * cleared by a delivery sent. */
static void
test_deferral_run(void **state)
{
	struct logwatch *lw = logwatch_create(10, NULL, NULL);
	const struct logwatch_counts *c;

	assert_non_null(lw);
	FEED(lw, NOTVERIFIED(1, "S1", "u@s.test", "mx.s.test", "192.0.2.20"), 1000);
	FEED(lw, SMTP(2) "S2: to=<u@s.test>, relay=mx.s.test[192.0.2.20]:25, delay=1, delays=0/0/1/0, dsn=4.4.2, "
	    "status=deferred (lost connection with mx.s.test[192.0.2.20] while receiving the initial server greeting)",
	    1500);
	FEED(lw, NOTVERIFIED(3, "S3", "v@s.test", "mx.s.test", "192.0.2.20"), 2000);
	FEED(lw, NOTVERIFIED(4, "S4", "w@S.test", "mx.s.test", "192.0.2.20"), 4600);
	c = logwatch_counts(lw, "s.test");
	assert_non_null(c);
	assert_int_equal(c->deferred, 4);
	assert_int_equal(c->run_deferred_tls, 3);
	assert_int_equal(c->run_first, 1000);
	assert_int_equal(c->run_last, 4600);
	/* A delivery sent ends the run; the totals stay. */
	FEED(lw, SENT(5, "S5", "u@s.test", "mx.s.test", "192.0.2.20"), 5000);
	assert_int_equal(c->run_deferred_tls, 0);
	assert_int_equal(c->run_first, 0);
	assert_int_equal(c->run_last, 0);
	assert_int_equal(c->deferred_tls, 3);
	FEED(lw, NOTVERIFIED(6, "S6", "u@s.test", "mx.s.test", "192.0.2.20"), 6000);
	assert_int_equal(c->run_deferred_tls, 1);
	assert_int_equal(c->run_first, 6000);
	assert_int_equal(c->run_last, 6000);
	logwatch_free(lw);
}


static void
test_unknown_dest(void **state)
{
	struct logwatch *lw = logwatch_create(10, NULL, NULL);
	char long_name[400];

	assert_non_null(lw);
	assert_null(logwatch_counts(lw, "nothing.test"));
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_null(logwatch_counts(lw, long_name));
	/* No alert callback: alerts are dropped, counts still kept. */
	logwatch_line(lw, SMTP(1) "warning: DNSSEC validation may be unavailable",
	    strlen(SMTP(1) "warning: DNSSEC validation may be unavailable"), 1);
	logwatch_line(lw, TLSLINE(1, "Verified", "mx.a.test", "192.0.2.1"),
	    strlen(TLSLINE(1, "Verified", "mx.a.test", "192.0.2.1")), 2);
	logwatch_line(lw, SENT(1, "A1", "u@a.test", "mx.a.test", "192.0.2.1"),
	    strlen(SENT(1, "A1", "u@a.test", "mx.a.test", "192.0.2.1")), 3);
	logwatch_line(lw, NOTVERIFIED(2, "A2", "u@a.test", "mx.a.test", "192.0.2.1"),
	    strlen(NOTVERIFIED(2, "A2", "u@a.test", "mx.a.test", "192.0.2.1")), 4);
	assert_int_equal(logwatch_counts(lw, "a.test")->deferred_tls, 1);
	assert_int_equal(logwatch_counts(lw, "a.test")->last_seen, 4);
	logwatch_free(lw);
	logwatch_free(NULL);
}

/* Heap bytes in use, as glibc counts them (0 under valgrind, whose own
 * allocator glibc does not see). */
static size_t
heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static long
status_kb(const char *field)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, strlen(field)) == 0)
			kb = strtol(line + strlen(field) + 1, NULL, 10);
	fclose(f);
	return kb;
}

static double
seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Line i of the load: deliveries to 100 000 destinations round robin, each
 * a TLS line and a delivery line from one of 300 smtp processes; every
 * tenth a DANE failure deferred with 4.7.5; every hundredth line the TLS
 * line of a process that died before its delivery line (a new pid each
 * time: the process table fills and stays full), and every 50 000th a
 * DNSSEC warning. */
#define LOAD_LINES 1000000
#define LOAD_DESTS 100000
#define LOAD_MAX_DESTS 10000

static size_t
load_line(size_t i, char *buf, size_t cap)
{
	size_t k = i / 2, dest = k % LOAD_DESTS;
	unsigned pid = 1000 + (unsigned)(k % 300), octet = (unsigned)(dest % 250) + 1;
	bool fails = k % 10 == 3;

	if (i % 50000 == 49999)
		return (size_t)snprintf(buf, cap, "Nov 24 18:50:09 mail postfix/smtp[%u]: warning: DNSSEC validation may "
		    "be unavailable", pid);
	if (i % 100 == 99)
		return (size_t)snprintf(buf, cap, "Nov 24 18:50:09 mail postfix/smtp[%zu]: Verified TLS connection "
		    "established to mx.orphan%zu.example[198.51.100.1]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384",
		    100000 + i, i);
	if (i % 2 == 0 && fails)
		return (size_t)snprintf(buf, cap, "Nov 24 18:50:09 mail postfix/smtp[%u]: server certificate "
		    "verification failed for mx.d%zu.example[192.0.2.%u]:25: num=65:no matching DANE TLSA records",
		    pid, dest, octet);
	if (i % 2 == 0)
		return (size_t)snprintf(buf, cap, "Nov 24 18:50:09 mail postfix/smtp[%u]: Verified TLS connection "
		    "established to mx.d%zu.example[192.0.2.%u]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 "
		    "(256/256 bits)", pid, dest, octet);
	return (size_t)snprintf(buf, cap, "Nov 24 18:50:09 mail postfix/smtp[%u]: %08zX: to=<user@d%zu.example>, "
	    "relay=mx.d%zu.example[192.0.2.%u]:25, delay=0.1, delays=0/0/0.05/0.05, dsn=%s, status=%s (%s)", pid, k,
	    dest, dest, octet, fails ? "4.7.5" : "2.0.0", fails ? "deferred" : "sent",
	    fails ? "Server certificate not verified" : "250 2.0.0 Ok: queued as 4Xy1Zc0aBCz9sX");
}

static void
test_million_lines_bounded(void **state)
{
	struct alerts al = {0};
	struct logwatch *lw = logwatch_create(LOAD_MAX_DESTS, on_alert, &al);
	char buf[512];
	size_t warm = 0, peak = 0, dests = 0;
	long rss_warm = 0;
	double t0 = seconds();

	assert_non_null(lw);
	for (size_t i = 0; i < LOAD_LINES; i++) {
		size_t len = load_line(i, buf, sizeof(buf));
		assert_true(len < sizeof(buf));
		logwatch_line(lw, buf, len, (int64_t)(1795459800 + i / 1000));
		if (i == 2 * LOAD_DESTS - 1) {
			/* Every table is full by now: from here on, nothing may grow. */
			warm = heap_in_use();
			rss_warm = status_kb("VmRSS:");
		} else if (i > 2 * LOAD_DESTS && i % 10000 == 0) {
			size_t h = heap_in_use();
			if (h > peak)
				peak = h;
		}
	}
	double elapsed = seconds() - t0;
	size_t end = heap_in_use();
	if (end > peak)
		peak = end;

	assert_int_equal(logwatch_lines(lw), LOAD_LINES);
	logwatch_each(lw, count_dest, &dests);
	assert_int_equal(dests, LOAD_MAX_DESTS);
	/* A destination of the last round, known since it came back into
	 * the table then: one Verified delivery. */
	struct counts_want last = {.verified = 1, .sent = 1, .last_verified = 1};
	assert_counts(lw, "d99998.example", &last);
	assert_null(logwatch_counts(lw, "d1.example"));	/* long forgotten */
	/* 20 DNSSEC warnings; no destination was Verified before it failed
	 * (each is forgotten before it comes round again). */
	assert_int_equal(al.n + al.more, LOAD_LINES / 50000);
	print_message("# %d lines, %d destinations (at most %d kept): %.2f s, %.0f lines/s\n", LOAD_LINES,
	    LOAD_DESTS, LOAD_MAX_DESTS, elapsed, LOAD_LINES / elapsed);
	print_message("# heap in use: %zu bytes when warm (after %d lines), %zu at most after, %zu at the end; "
	    "VmRSS %ld kB warm, %ld kB at the end, VmHWM %ld kB\n", warm, 2 * LOAD_DESTS, peak, end, rss_warm,
	    status_kb("VmRSS:"), status_kb("VmHWM:"));
	/* Bounded: no more than a little fragmentation after warming up. */
	if (warm && peak > warm + 64 * 1024)
		fail_msg("heap grew from %zu to %zu bytes", warm, peak);
	logwatch_free(lw);
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_unknown_dest),
		cmocka_unit_test(test_deferral_run),
		cmocka_unit_test(test_million_lines_bounded),
	};
	struct table t = {0};

	TABLE_ADD(&t, recorded_cases, recorded_case, test_recorded);
	TABLE_ADD(&t, recorded_alert_cases, recorded_alert_case, test_recorded_alerts);
	TABLE_ADD(&t, sequence_cases, sequence_case, test_sequence);
	TABLE_TESTS(&t, more);
	return table_run(&t, "logwatch");
}
