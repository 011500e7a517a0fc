/*
 * Unit tests: the exception list (lib/rules/exceptions.h).
 *
 * tests/exceptions/danefail-sample.txt is a list in the exact shape of
 * the public danefail list and must load; good-extensions.txt holds every
 * extension, each entry checked here by its line. exceptions_load() must
 * refuse each tests/exceptions/bad-*.txt with the errors its "# expect:"
 * lines name (badfiles.h).
 *
 * Also here: when a proposed exception may apply by itself
 * (lib/rules/exproposal.h), as a table of what Postfix's log shows.
 */
#include "autoconfig.h"

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

#include "util/buf.h"
#include "rules/exceptions.h"
#include "rules/exproposal.h"
#include "postfix/nexthop.h"
#include "badfiles.h"
#include "table.h"

static char dir_path[4096];

/* Failures are reported after freeing, so that valgrind stays quiet even
 * on a failing row. */
static char failure[8192];

static const char *
exc_dir(void)
{
	return table_data_dir(dir_path, sizeof(dir_path), "exceptions");
}

static char *
exc_path(const char *file)
{
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "%s/%s", exc_dir(), file);
	return buf_detach(&b);
}

/* "2027-03-31T23:59:59Z" as Unix time, through the C library: an oracle
 * independent of the module's own date arithmetic. */
static int64_t
utc(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%d-%d-%dT%d:%d:%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
	    &tm.tm_sec) != 6)
		fail_msg("bad time in the test: %s", s);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

/* The midnight after the day "2027-03-31": what expires=2027-03-31 means. */
static int64_t
end_of_day(const char *date)
{
	char t[64];

	snprintf(t, sizeof(t), "%sT00:00:00Z", date);
	return utc(t) + 86400;
}

static struct exceptions *
parse_ok(const char *text, size_t len)
{
	struct buf errors;

	buf_init(&errors);
	struct exceptions *x = exceptions_parse(text, len, "mem", &errors);
	buf_terminate(&errors);
	if (!x) {
		/* Copy before freeing, so that valgrind stays quiet on failure. */
		static char msg[4096];
		snprintf(msg, sizeof(msg), "%s", buf_ptr(&errors));
		buf_free(&errors);
		fail_msg("refused:\n%s", msg);
	}
	assert_int_equal(buf_size(&errors), 0);
	buf_free(&errors);
	return x;
}

static struct exceptions *
load_ok(const char *file)
{
	struct buf errors;
	char *path = exc_path(file);

	buf_init(&errors);
	struct exceptions *x = exceptions_load(path, &errors);
	buf_terminate(&errors);
	if (!x) {
		static char msg[4096];
		snprintf(msg, sizeof(msg), "%s refused:\n%s", path, buf_ptr(&errors));
		buf_free(&errors);
		free(path);
		fail_msg("%s", msg);
	}
	assert_int_equal(buf_size(&errors), 0);
	buf_free(&errors);
	free(path);
	return x;
}

/* The key as the file writes it: "example.org", ".example.org", "mx:host". */
static const char *
key_of(const struct exception_entry *e, char *dst, size_t size)
{
	static const char *const prefix[] = {"", ".", "mx:"};

	if (!e)
		return "(none)";
	snprintf(dst, size, "%s%s", prefix[e->kind], e->name);
	return dst;
}

struct find_line {
	unsigned line;
	const struct exception_entry *found;
	size_t n;
	unsigned last_line;
	bool ordered;
};

static void
find_line_cb(void *arg, const struct exception_entry *e)
{
	struct find_line *f = arg;

	if (e->line == f->line)
		f->found = e;
	if (f->n && e->line <= f->last_line)
		f->ordered = false;
	f->last_line = e->line;
	f->n++;
}

static void
first_cb(void *arg, const struct exception_entry *e)
{
	const struct exception_entry **first = arg;

	if (!*first)
		*first = e;
}

static const struct exception_entry *
first_entry(const struct exceptions *x)
{
	const struct exception_entry *first = NULL;

	exceptions_each(x, first_cb, &first);
	return first;
}

static const struct exception_entry *
entry_at(const struct exceptions *x, unsigned line)
{
	struct find_line f = {line, NULL, 0, 0, true};

	exceptions_each(x, find_line_cb, &f);
	return f.found;
}

/* ---- The danefail sample: its count and some of its lines. ---- */

struct sample_case {
	const char *name;
	unsigned line;
	const char *domain;	/* NULL: no entry at that line */
};

static const struct sample_case sample_cases[] = {
	{"sample: first domain after the evidence", 15, "bornholm-bager.dk"},
	{"sample: trailing space", 17, "glasvaerkstedet.dk"},
	{"sample: IDN", 19, "xn--mller-tmrer-ggbg.dk"},
	{"sample: IDN with two trailing spaces", 20, "xn--smrrebrd-64af.dk"},
	{"sample: '## ' group header is no entry", 23, NULL},
	{"sample: '#' + space is no entry", 8, NULL},
	{"sample: '#:' is no entry", 75, NULL},
	{"sample: blank line is no entry", 22, NULL},
	{"sample: backslash evidence line is no entry", 52, NULL},
	{"sample: domain under a second-level TLD", 116, "victorycity.com.hk"},
	{"sample: starts with a digit", 117, "1cocomo.com"},
	{"sample: IDN, tab and space trailing", 119, "xn--lesund-bt-42ai.no"},
	{"sample: last line", 121, "z0z0.me"},
};

static const char *
sample_case_name(const void *row)
{
	return ((const struct sample_case *)row)->name;
}

#define SAMPLE_FILE "danefail-sample.txt"
#define SAMPLE_COUNT 31	/* 30 domains, then repeated.example, listed twice and kept once */

static void
test_sample(void **state)
{
	const struct sample_case *c = *state;
	struct exceptions *x = load_ok(SAMPLE_FILE);
	const struct exception_entry *e = entry_at(x, c->line);

	failure[0] = '\0';
	if (!c->domain && e)
		snprintf(failure, sizeof(failure), "line %u is an entry: %s", c->line, e->name);
	else if (c->domain && !e)
		snprintf(failure, sizeof(failure), "no entry at line %u", c->line);
	else if (c->domain && (strcmp(e->name, c->domain) != 0 || e->kind != EXCEPTION_DOMAIN ||
	    strcmp(e->policy, "may") != 0 || e->expires != 0))
		snprintf(failure, sizeof(failure), "line %u: kind %d name '%s' policy '%s' expires %lld", c->line,
		    (int)e->kind, e->name, e->policy, (long long)e->expires);
	else if (c->domain && exceptions_match_domain(x, c->domain, 0) != e)
		snprintf(failure, sizeof(failure), "%s does not match its own entry", c->domain);
	exceptions_unref(x);
	if (failure[0])
		fail_msg("%s", failure);
}

struct all_may {
	size_t n;
	bool ok;
};

static void
all_may_cb(void *arg, const struct exception_entry *e)
{
	struct all_may *a = arg;

	a->n++;
	if (e->kind != EXCEPTION_DOMAIN || strcmp(e->policy, "may") != 0 || e->expires != 0 ||
	    strchr(e->name, ' ') || strchr(e->name, '\t') || strchr(e->name, '\r'))
		a->ok = false;
}

/* The whole sample: the count, and every entry a plain domain at "may". */
static void
test_sample_count(void **state)
{
	struct exceptions *x = load_ok(SAMPLE_FILE);
	struct all_may a = {0, true};
	struct find_line f = {0, NULL, 0, 0, true};

	assert_int_equal(exceptions_count(x), SAMPLE_COUNT);
	exceptions_each(x, all_may_cb, &a);
	assert_int_equal(a.n, SAMPLE_COUNT);
	assert_true(a.ok);
	exceptions_each(x, find_line_cb, &f);
	assert_true(f.ordered);
	exceptions_unref(x);
}

/* ---- good-extensions.txt: every entry, by line. ---- */

struct extension_case {
	const char *name;
	unsigned line;
	enum exception_kind kind;
	const char *key;
	const char *policy;
	const char *expires;	/* the date, or NULL */
};

#define EXTENSIONS_FILE "good-extensions.txt"

static const struct extension_case extension_cases[] = {
	{"extension: bare domain is may", 6, EXCEPTION_DOMAIN, "plain.example", "may", NULL},
	{"extension: level", 9, EXCEPTION_DOMAIN, "encrypt.example", "encrypt", NULL},
	{"extension: level with attribute", 10, EXCEPTION_DOMAIN, "secure.example", "secure match=nexthop:dot-nexthop", NULL},
	{"extension: tabs, two attributes", 11, EXCEPTION_DOMAIN, "daneonly.example",
	    "dane-only protocols=>=TLSv1.2 ciphers=high", NULL},
	{"extension: fingerprint with upper-case value", 12, EXCEPTION_DOMAIN, "fingerprint.example",
	    "fingerprint match=3D:95:34:51:24:66:33:B9:D2:40:99:C0:C1:17:0B:D1", NULL},
	{"extension: none", 13, EXCEPTION_DOMAIN, "none.example", "none", NULL},
	{"extension: may spelt out", 14, EXCEPTION_DOMAIN, "may.example", "may", NULL},
	{"extension: expires alone", 17, EXCEPTION_DOMAIN, "expires.example", "may", "2027-03-31"},
	{"extension: leap day", 18, EXCEPTION_DOMAIN, "leapday.example", "encrypt", "2028-02-29"},
	{"extension: expires before the level", 19, EXCEPTION_DOMAIN, "before.example", "encrypt", "2026-12-31"},
	{"extension: attribute then expires", 20, EXCEPTION_DOMAIN, "attrs-then-expiry.example",
	    "verify match=hostname", "2030-01-01"},
	{"extension: subdomains", 23, EXCEPTION_SUBDOMAINS, "subdomains.example", "may", NULL},
	{"extension: subdomains, level, expires", 24, EXCEPTION_SUBDOMAINS, "provider.example", "encrypt", "2027-06-30"},
	{"extension: mx host with level", 27, EXCEPTION_MX_HOST, "mail.provider.example", "encrypt", NULL},
	{"extension: mx host bare", 28, EXCEPTION_MX_HOST, "mx1.broken-dane.example", "may", NULL},
	{"extension: mx host, may, expires", 29, EXCEPTION_MX_HOST, "mx2.broken-dane.example", "may", "2026-01-15"},
	{"extension: IDN with level", 32, EXCEPTION_DOMAIN, "xn--bcher-kva.example", "encrypt", NULL},
	{"extension: trailing comment", 35, EXCEPTION_DOMAIN, "commented.example", "encrypt", NULL},
	{"extension: trailing dot dropped", 36, EXCEPTION_DOMAIN, "trailing-dot.example", "may", NULL},
};

#define NEXTENSIONS (sizeof(extension_cases) / sizeof(extension_cases[0]))

static const char *
extension_case_name(const void *row)
{
	return ((const struct extension_case *)row)->name;
}

static void
test_extension(void **state)
{
	const struct extension_case *c = *state;
	struct exceptions *x = load_ok(EXTENSIONS_FILE);
	const struct exception_entry *e = entry_at(x, c->line);
	int64_t want = c->expires ? end_of_day(c->expires) : 0;

	failure[0] = '\0';

	if (!e)
		snprintf(failure, sizeof(failure), "no entry at line %u", c->line);
	else if (e->kind != c->kind || strcmp(e->name, c->key) != 0 || strcmp(e->policy, c->policy) != 0 ||
	    e->expires != want)
		snprintf(failure, sizeof(failure), "line %u: kind %d '%s' '%s' expires %lld; want kind %d '%s' '%s' %lld",
		    c->line, (int)e->kind, e->name, e->policy, (long long)e->expires, (int)c->kind, c->key, c->policy,
		    (long long)want);
	exceptions_unref(x);
	if (failure[0])
		fail_msg("%s", failure);
}

/* Every entry of the file has its row above. */
static void
test_extensions_all_checked(void **state)
{
	struct exceptions *x = load_ok(EXTENSIONS_FILE);

	assert_int_equal(exceptions_count(x), NEXTENSIONS);
	exceptions_unref(x);
}

/* ---- Round trip: every entry formats to a line that parses to it. ---- */

struct round_trip_case {
	const char *name;
	const char *file;
};

static const struct round_trip_case round_trip_cases[] = {
	{"round trip: " EXTENSIONS_FILE, EXTENSIONS_FILE},
	{"round trip: " SAMPLE_FILE, SAMPLE_FILE},
};

static const char *
round_trip_case_name(const void *row)
{
	return ((const struct round_trip_case *)row)->name;
}

static bool
same_entry(const struct exception_entry *a, const struct exception_entry *b)
{
	return a->kind == b->kind && strcmp(a->name, b->name) == 0 && strcmp(a->policy, b->policy) == 0 &&
	    a->expires == b->expires;
}

struct round_trip {
	size_t n;
	char failure[1024];
};

static void
round_trip_cb(void *arg, const struct exception_entry *e)
{
	struct round_trip *rt = arg;
	struct buf line, errors;

	rt->n++;
	if (rt->failure[0])
		return;
	buf_init(&line);
	buf_init(&errors);
	if (exceptions_format(e, &line) < 0) {
		snprintf(rt->failure, sizeof(rt->failure), "line %u: format failed", e->line);
	} else {
		buf_terminate(&line);
		struct exceptions *again = exceptions_parse(buf_ptr(&line), buf_size(&line), "formatted", &errors);
		buf_terminate(&errors);
		if (!again)
			snprintf(rt->failure, sizeof(rt->failure), "line %u: '%s' does not parse: %s", e->line,
			    buf_ptr(&line), buf_ptr(&errors));
		else if (exceptions_count(again) != 1 || !same_entry(entry_at(again, 1), e))
			snprintf(rt->failure, sizeof(rt->failure), "line %u: '%s' parses to another entry", e->line,
			    buf_ptr(&line));
		else if (strchr(buf_ptr(&line), '\n'))
			snprintf(rt->failure, sizeof(rt->failure), "line %u: a line end in '%s'", e->line, buf_ptr(&line));
		exceptions_unref(again);
	}
	buf_free(&line);
	buf_free(&errors);
}

static void
test_round_trip(void **state)
{
	const struct round_trip_case *c = *state;
	struct exceptions *x = load_ok(c->file);
	struct round_trip rt = {0, ""};

	exceptions_each(x, round_trip_cb, &rt);
	assert_int_equal(rt.n, exceptions_count(x));
	exceptions_unref(x);
	if (rt.failure[0])
		fail_msg("%s", rt.failure);
}

/* What exceptions_format() writes for a line. */
struct format_case {
	const char *name;
	const char *line;
	const char *formatted;
};

static const struct format_case format_cases[] = {
	{"format: bare domain", "example.org", "example.org"},
	{"format: may is left out", "example.org may", "example.org"},
	{"format: white space collapsed", "example.org \t secure\t\tmatch=nexthop   ", "example.org secure match=nexthop"},
	{"format: expires goes last", "example.org expires=2027-03-31 encrypt", "example.org encrypt expires=2027-03-31"},
	{"format: subdomains", ".example.org encrypt", ".example.org encrypt"},
	{"format: mx host without its dot", "mx:mail.example.net. dane-only", "mx:mail.example.net dane-only"},
	{"format: comment dropped", "example.org encrypt # why", "example.org encrypt"},
	{"format: leap day", "example.org expires=2028-02-29", "example.org expires=2028-02-29"},
	{"format: last day of a year", "example.org expires=2026-12-31", "example.org expires=2026-12-31"},
	{"format: first possible date", "example.org expires=1970-01-01", "example.org expires=1970-01-01"},
	{"format: last possible date", "example.org expires=9999-12-31", "example.org expires=9999-12-31"},
	{"format: 2000 is a leap year", "example.org expires=2000-02-29", "example.org expires=2000-02-29"},
};

static const char *
format_case_name(const void *row)
{
	return ((const struct format_case *)row)->name;
}

static void
test_format(void **state)
{
	const struct format_case *c = *state;
	struct exceptions *x = parse_ok(c->line, strlen(c->line));
	struct buf out;

	buf_init(&out);
	assert_int_equal(exceptions_count(x), 1);
	assert_int_equal(exceptions_format(entry_at(x, 1), &out), 0);
	buf_terminate(&out);
	assert_string_equal(buf_ptr(&out), c->formatted);
	buf_free(&out);
	exceptions_unref(x);
}

/* Entries not from a file: what can be written, and what cannot. */
static void
test_format_built(void **state)
{
	struct exception_entry e;
	struct buf out;

	buf_init(&out);
	memset(&e, 0, sizeof(e));
	e.kind = EXCEPTION_DOMAIN;
	strcpy(e.name, "example.org");
	strcpy(e.policy, "encrypt");
	/* Appends. */
	buf_puts(&out, "exception=");
	assert_int_equal(exceptions_format(&e, &out), 0);
	buf_terminate(&out);
	assert_string_equal(buf_ptr(&out), "exception=example.org encrypt");
	/* An expiry that is not a midnight: the day of its last second. */
	buf_reset(&out);
	e.expires = utc("2027-03-31T12:00:00Z");
	assert_int_equal(exceptions_format(&e, &out), 0);
	buf_terminate(&out);
	assert_string_equal(buf_ptr(&out), "example.org encrypt expires=2027-03-31");
	e.expires = utc("2027-04-01T00:00:00Z");
	buf_reset(&out);
	assert_int_equal(exceptions_format(&e, &out), 0);
	buf_terminate(&out);
	assert_string_equal(buf_ptr(&out), "example.org encrypt expires=2027-03-31");
	/* Cannot be written: out stays as it was. */
	buf_reset(&out);
	buf_puts(&out, "x");
	e.expires = -1;
	assert_int_equal(exceptions_format(&e, &out), -1);
	e.expires = end_of_day("9999-12-31") + 86400;
	assert_int_equal(exceptions_format(&e, &out), -1);
	e.expires = 0;
	e.kind = (enum exception_kind)7;
	assert_int_equal(exceptions_format(&e, &out), -1);
	e.kind = EXCEPTION_MX_HOST;
	e.name[0] = '\0';
	assert_int_equal(exceptions_format(&e, &out), -1);
	strcpy(e.name, "mx.example.org");
	e.policy[0] = '\0';
	assert_int_equal(exceptions_format(&e, &out), -1);
	assert_int_equal(buf_size(&out), 1);
	buf_free(&out);
}

/* ---- Matching. ---- */

static const char match_list[] =
	"example.org encrypt\n"
	".example.org secure match=nexthop\n"
	".sub.example.org dane-only\n"
	"deep.sub.example.org none\n"
	".example.net\n"
	"mx:mail.provider.example encrypt\n"
	"mx:mx2.broken.example expires=2026-01-15\n"
	"expiring.example expires=2027-03-31\n"
	".expiring.example encrypt expires=2027-03-31\n"
	"a.parent.example expires=2020-01-01\n"
	".parent.example encrypt\n"
	".near.far.example expires=2020-01-01\n"
	".far.example verify\n"
	".org.uk.example\n";

enum query { Q_DOMAIN, Q_MX, Q_NEXTHOP };

struct match_case {
	const char *name;
	enum query q;
	const char *query;	/* Q_NEXTHOP: a Postfix key, through nexthop_parse() */
	const char *now;	/* NULL: 2025-06-01 */
	const char *want;	/* the key of the entry, or NULL */
	const char *policy;
};

static const struct match_case match_cases[] = {
	{"match: exact", Q_DOMAIN, "example.org", NULL, "example.org", "encrypt"},
	{"match: subdomain", Q_DOMAIN, "mail.example.org", NULL, ".example.org", "secure match=nexthop"},
	{"match: subdomain, several labels down", Q_DOMAIN, "a.b.c.example.org", NULL, ".example.org", NULL},
	{"match: nearest parent", Q_DOMAIN, "x.sub.example.org", NULL, ".sub.example.org", "dane-only"},
	{"match: nearest parent, two labels down", Q_DOMAIN, "y.x.sub.example.org", NULL, ".sub.example.org", NULL},
	{"match: exact beats parent", Q_DOMAIN, "deep.sub.example.org", NULL, "deep.sub.example.org", "none"},
	{"match: below an exact entry, the parent", Q_DOMAIN, "z.deep.sub.example.org", NULL, ".sub.example.org", NULL},
	{"match: '.sub' is not 'sub' itself", Q_DOMAIN, "sub.example.org", NULL, ".example.org", NULL},
	{"match: '.example.net' does not match example.net", Q_DOMAIN, "example.net", NULL, NULL, NULL},
	{"match: '.example.net' matches its subdomain", Q_DOMAIN, "www.example.net", NULL, ".example.net", "may"},
	{"match: a label boundary, not a suffix", Q_DOMAIN, "notexample.org", NULL, NULL, NULL},
	{"match: suffix without a dot", Q_DOMAIN, "xexample.net", NULL, NULL, NULL},
	{"match: unrelated", Q_DOMAIN, "example.com", NULL, NULL, NULL},
	{"match: the top-level domain alone", Q_DOMAIN, "org", NULL, NULL, NULL},
	{"match: parent entry with inner labels", Q_DOMAIN, "a.org.uk.example", NULL, ".org.uk.example", NULL},
	{"match: domain query does not see mx: entries", Q_DOMAIN, "mail.provider.example", NULL, NULL, NULL},
	{"match: trailing dot", Q_DOMAIN, "example.org.", NULL, "example.org", NULL},
	{"match: upper case folded", Q_DOMAIN, "WWW.Example.NET", NULL, ".example.net", NULL},
	{"match: Postfix key, lower-cased by nexthop_parse", Q_NEXTHOP, "Mail.EXAMPLE.org", NULL, ".example.org", NULL},
	{"match: Postfix key with port", Q_NEXTHOP, "example.org:2525", NULL, "example.org", NULL},
	{"match: parent form matches nothing", Q_DOMAIN, ".example.org", NULL, NULL, NULL},
	{"match: empty label matches nothing", Q_DOMAIN, "a..example.org", NULL, NULL, NULL},
	{"match: empty query", Q_DOMAIN, "", NULL, NULL, NULL},
	{"match: over-long query", Q_DOMAIN,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	    "example.org", NULL, NULL, NULL},
	{"match: mx exact", Q_MX, "mail.provider.example", NULL, "mx:mail.provider.example", "encrypt"},
	{"match: mx, not a subdomain of the host", Q_MX, "x.mail.provider.example", NULL, NULL, NULL},
	{"match: mx, not the parent of the host", Q_MX, "provider.example", NULL, NULL, NULL},
	{"match: mx as DNS writes it, trailing dot", Q_MX, "mail.provider.example.", NULL, "mx:mail.provider.example", NULL},
	{"match: mx upper case folded", Q_MX, "MAIL.Provider.Example", NULL, "mx:mail.provider.example", NULL},
	{"match: mx query does not see domain entries", Q_MX, "example.org", NULL, NULL, NULL},
	{"match: mx query does not see subdomain entries", Q_MX, "www.example.org", NULL, NULL, NULL},
	{"expiry: long before", Q_DOMAIN, "expiring.example", "2020-01-01T00:00:00Z", "expiring.example", NULL},
	{"expiry: the first second of the day", Q_DOMAIN, "expiring.example", "2027-03-31T00:00:00Z", "expiring.example", NULL},
	{"expiry: the last second of the day", Q_DOMAIN, "expiring.example", "2027-03-31T23:59:59Z", "expiring.example", NULL},
	{"expiry: the first second after", Q_DOMAIN, "expiring.example", "2027-04-01T00:00:00Z", NULL, NULL},
	{"expiry: long after", Q_DOMAIN, "expiring.example", "2030-01-01T00:00:00Z", NULL, NULL},
	{"expiry: subdomains, last second", Q_DOMAIN, "mx.expiring.example", "2027-03-31T23:59:59Z", ".expiring.example", NULL},
	{"expiry: subdomains, first second after", Q_DOMAIN, "mx.expiring.example", "2027-04-01T00:00:00Z", NULL, NULL},
	{"expiry: mx, last second", Q_MX, "mx2.broken.example", "2026-01-15T23:59:59Z", "mx:mx2.broken.example", NULL},
	{"expiry: mx, first second after", Q_MX, "mx2.broken.example", "2026-01-16T00:00:00Z", NULL, NULL},
	{"expiry: an expired exact entry lets the parent match", Q_DOMAIN, "a.parent.example", NULL, ".parent.example", "encrypt"},
	{"expiry: an expired nearest parent lets a farther one match", Q_DOMAIN, "x.near.far.example", NULL,
	    ".far.example", "verify"},
	{"expiry: before it expired, the nearest parent", Q_DOMAIN, "x.near.far.example", "2019-12-31T23:59:59Z",
	    ".near.far.example", "may"},
};

static const char *
match_case_name(const void *row)
{
	return ((const struct match_case *)row)->name;
}

static void
test_match(void **state)
{
	const struct match_case *c = *state;
	struct exceptions *x = parse_ok(match_list, sizeof(match_list) - 1);
	int64_t now = utc(c->now ? c->now : "2025-06-01T00:00:00Z");
	const struct exception_entry *e = NULL;
	char got[300];

	failure[0] = '\0';

	switch (c->q) {
	case Q_DOMAIN:
		e = exceptions_match_domain(x, c->query, now);
		break;
	case Q_MX:
		e = exceptions_match_mx(x, c->query, now);
		break;
	case Q_NEXTHOP: {
		struct nexthop nh;
		const char *why;
		assert_int_equal(nexthop_parse(c->query, strlen(c->query), &nh, &why), 0);
		/* The daemon passes what nexthop_parse() stored: lower case. */
		for (const char *p = nh.name; *p; p++)
			assert_false(*p >= 'A' && *p <= 'Z');
		e = exceptions_match_domain(x, nh.name, now);
		break;
	}
	}
	key_of(e, got, sizeof(got));
	if (!c->want && e)
		snprintf(failure, sizeof(failure), "matched %s (line %u)", got, e->line);
	else if (c->want && (!e || strcmp(got, c->want) != 0))
		snprintf(failure, sizeof(failure), "matched %s, want %s", got, c->want);
	else if (c->policy && strcmp(e->policy, c->policy) != 0)
		snprintf(failure, sizeof(failure), "policy '%s', want '%s'", e->policy, c->policy);
	exceptions_unref(x);
	if (failure[0])
		fail_msg("%s", failure);
}

/* ---- The bad files (badfiles.h). ---- */

static bool
load_exceptions(const char *path, struct buf *errors)
{
	struct exceptions *x = exceptions_load(path, errors);
	bool accepted = x != NULL;

	exceptions_unref(x);
	return accepted;
}

/* ---- Text in memory: accepted, and refused. ---- */

struct text_case {
	const char *name;
	const char *text;
	size_t len;		/* 0: strlen(text) */
	size_t count;		/* accepted: the entries */
	const char *first;	/* accepted: the first entry, formatted */
	unsigned line;		/* refused: the line named, 0 for none */
	const char *want;	/* refused: in the one error; NULL: accepted */
};

static const struct text_case text_cases[] = {
	{"text: empty", "", 0, 0, NULL, 0, NULL},
	{"text: only comments and blanks", "# a\n\n## b\n   \n\t# c\n", 0, 0, NULL, 0, NULL},
	{"text: CRLF", "# x\r\nexample.org encrypt\r\n\r\n.example.net\r\n", 0, 2, "example.org encrypt", 0, NULL},
	{"text: no final newline", "a.example\nb.example encrypt", 0, 2, "a.example", 0, NULL},
	{"text: byte order mark", "\xef\xbb\xbf" "example.org\n", 0, 1, "example.org", 0, NULL},
	{"text: leading white space", "   \texample.org  encrypt\n", 0, 1, "example.org encrypt", 0, NULL},
	{"text: comment right after the name", "example.org # may\n", 0, 1, "example.org", 0, NULL},
	{"text: comment without a space before it", "example.org encrypt\t#c\n", 0, 1, "example.org encrypt", 0, NULL},
	{"text: '#' inside an attribute value", "example.org secure match=a#b\n", 0, 1, "example.org secure match=a#b", 0, NULL},
	{"text: underscore in a name", "_tcp.example.org\n", 0, 1, "_tcp.example.org", 0, NULL},
	{"text: digits in the last label's middle", "example.a1\n", 0, 1, "example.a1", 0, NULL},
	{"text: a 253-byte name",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "a.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.ex\n",
	    0, 1, NULL, 0, NULL},
	{"text: domain and its subdomains are two keys", "example.org\n.example.org\nmx:example.org\n", 0, 3, NULL, 0, NULL},
	{"text: CRLF lines counted once", "a.example\r\n\r\nB.example\r\n", 0, 0, NULL, 3, "'B.example': upper case"},
	{"text: lone CR inside a line", "a.example\rb.example\n", 0, 0, NULL, 1, "'a.example\\x0db.example' is not a valid"},
	{"text: NUL in a last line without newline", "a.example\nb.ex\0ample", 20, 0, NULL, 2, "NUL byte in line"},
	{"text: NUL in a comment", "# a\0b\n", 6, 0, NULL, 1, "NUL byte in line"},
	{"text: control character in a name", "a\x01.example\n", 0, 0, NULL, 1, "'a\\x01.example' is not a valid domain name"},
	{"text: control character in a policy", "a.example secure match=a\x7f\n", 0, 0, NULL, 1, "control or non-ASCII"},
	{"text: 'expires=' with upper case is no expiry", "a.example Expires=2027-01-01\n", 0, 0, NULL, 1,
	    "unknown word 'Expires=2027-01-01'"},
	{"text: two levels", "a.example encrypt may\n", 0, 0, NULL, 1, "invalid policy 'encrypt may'"},
	{"text: a numeric last label", "example.123\n", 0, 0, NULL, 1, "(an address, or a numeric top-level label)"},
	{"text: a single dot before mx:", ".mx:host.example\n", 0, 0, NULL, 1, "is not a valid domain name"},
	{"text: 'mx:' with subdomain form", "mx:.host.example\n", 0, 0, NULL, 1, "'mx:.host.example' is not a valid host name"},
	{"text: a quoted name is cut", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\n",
	    0, 0, NULL, 1, "aaaaaaaaaaaaaaaaaaaaaaaa...' is not a valid domain name"},
};

static const char *
text_case_name(const void *row)
{
	return ((const struct text_case *)row)->name;
}

static void
test_text(void **state)
{
	const struct text_case *c = *state;
	size_t len = c->len ? c->len : strlen(c->text);
	struct buf errors, prefix, out;

	failure[0] = '\0';
	buf_init(&errors);
	buf_init(&prefix);
	buf_init(&out);
	struct exceptions *x = exceptions_parse(c->text, len, "mem", &errors);
	buf_terminate(&errors);
	if (!c->want) {
		if (!x)
			snprintf(failure, sizeof(failure), "refused:\n%s", buf_ptr(&errors));
		else if (exceptions_count(x) != c->count)
			snprintf(failure, sizeof(failure), "%zu entries, want %zu", exceptions_count(x), c->count);
		else if (c->first)
			exceptions_format(first_entry(x), &out);
	} else {
		if (c->line)
			buf_printf(&prefix, "mem:%u: ", c->line);
		else
			buf_puts(&prefix, "mem: ");
		if (x)
			snprintf(failure, sizeof(failure), "accepted");
		else if (!badfiles_has_error(buf_ptr(&errors), buf_ptr(&prefix), c->want))
			snprintf(failure, sizeof(failure), "no error \"%s...%s\" in:\n%s", buf_ptr(&prefix), c->want,
			    buf_ptr(&errors));
		else if (badfiles_count_lines(buf_ptr(&errors)) != 1)
			snprintf(failure, sizeof(failure), "want one error:\n%s", buf_ptr(&errors));
	}
	buf_terminate(&out);
	if (!failure[0] && c->first && strcmp(buf_ptr(&out), c->first) != 0)
		snprintf(failure, sizeof(failure), "first entry '%s', want '%s'", buf_ptr(&out), c->first);
	exceptions_unref(x);
	buf_free(&errors);
	buf_free(&prefix);
	buf_free(&out);
	if (failure[0])
		fail_msg("%s", failure);
}

/* Lines of exactly the limit, with and without CR, and one byte over. */
static void
test_line_limit(void **state)
{
	char text[1100];
	struct buf errors;

	/* "a.example" and spaces to 1000 bytes. */
	memset(text, ' ', sizeof(text));
	memcpy(text, "a.example", 9);
	text[1000] = '\n';
	struct exceptions *x = parse_ok(text, 1001);
	assert_int_equal(exceptions_count(x), 1);
	exceptions_unref(x);
	/* The same with CRLF: the CR is part of the line end. */
	text[1000] = '\r';
	text[1001] = '\n';
	x = parse_ok(text, 1002);
	assert_int_equal(exceptions_count(x), 1);
	exceptions_unref(x);
	/* A comment of 1001 bytes. */
	memset(text, '#', 1001);
	text[1001] = '\n';
	buf_init(&errors);
	assert_null(exceptions_parse(text, 1002, "mem", &errors));
	buf_terminate(&errors);
	assert_string_equal(buf_ptr(&errors), "mem:1: line longer than 1000 bytes\n");
	buf_free(&errors);
}

/* One more entry than the limit: one error, at the line of that entry;
 * comments and blank lines do not count. */
static void
test_too_many(void **state)
{
	const size_t max = 200000;
	struct buf text, errors;

	buf_init(&text);
	buf_init(&errors);
	buf_puts(&text, "# the limit\n\n");
	for (size_t i = 0; i < max; i++)
		buf_append(&text, "a.example\n", 10);
	buf_puts(&text, "# still fine\nb.example\nc.example\n");
	assert_null(exceptions_parse(buf_ptr(&text), buf_size(&text), "mem", &errors));
	buf_terminate(&errors);
	assert_string_equal(buf_ptr(&errors), "mem:200004: more than 200000 entries\n");
	buf_free(&text);
	buf_free(&errors);
}

/* ---- Snapshots. ---- */

static void
test_empty(void **state)
{
	struct exceptions *x = exceptions_empty();
	struct find_line f = {0, NULL, 0, 0, true};

	assert_non_null(x);
	assert_int_equal(exceptions_count(x), 0);
	assert_null(exceptions_match_domain(x, "example.org", 0));
	assert_null(exceptions_match_mx(x, "example.org", 0));
	exceptions_each(x, find_line_cb, &f);
	assert_int_equal(f.n, 0);
	exceptions_unref(x);
}

static void
test_refs(void **state)
{
	static const char text[] = "example.org encrypt\n";
	struct exceptions *x = parse_ok(text, strlen(text));

	assert_ptr_equal(exceptions_ref(x), x);
	assert_ptr_equal(exceptions_ref(x), x);
	exceptions_unref(x);
	exceptions_unref(x);
	/* Still whole. */
	const struct exception_entry *e = exceptions_match_domain(x, "example.org", 0);
	assert_non_null(e);
	assert_string_equal(e->policy, "encrypt");
	exceptions_unref(x);	/* freed: valgrind checks */
	exceptions_unref(NULL);
}

/* A snapshot, and the entries taken from it, outlive the reload that
 * replaces it. */
static void
test_refs_across_reload(void **state)
{
	static const char first[] = "example.org encrypt\n", second[] = "example.org dane-only\n";
	struct exceptions *current = parse_ok(first, strlen(first));
	struct exceptions *in_flight = exceptions_ref(current);
	const struct exception_entry *e = exceptions_match_domain(in_flight, "example.org", 0);

	exceptions_unref(current);
	current = parse_ok(second, strlen(second));
	assert_string_equal(e->policy, "encrypt");
	assert_string_equal(exceptions_match_domain(current, "example.org", 0)->policy, "dane-only");
	exceptions_unref(in_flight);
	exceptions_unref(current);
}

static void
test_errors_appended(void **state)
{
	static const char text[] = "Example.org\nexample.net frob\n";
	struct buf errors;

	buf_init(&errors);
	buf_puts(&errors, "earlier\n");
	assert_null(exceptions_parse(text, strlen(text), "mem", &errors));
	buf_terminate(&errors);
	assert_string_equal(buf_ptr(&errors),
	    "earlier\n"
	    "mem:1: 'Example.org': upper case letters (names in the list are lower case)\n"
	    "mem:2: unknown word 'frob' after the name: neither a Postfix TLS level (none, may, encrypt, dane, "
	    "dane-only, fingerprint, verify, secure) nor expires=YYYY-MM-DD\n");
	/* Success leaves it alone. */
	size_t before = buf_size(&errors);
	struct exceptions *x = exceptions_parse("a.example", 9, "mem", &errors);
	assert_non_null(x);
	assert_int_equal(buf_size(&errors), before);
	exceptions_unref(x);
	buf_free(&errors);
}

static void
test_load_missing(void **state)
{
	struct buf errors, want;
	char *path = exc_path("no-such-file.txt");

	buf_init(&errors);
	buf_init(&want);
	assert_null(exceptions_load(path, &errors));
	buf_printf(&want, "%s: cannot open: ", path);
	buf_terminate(&errors);
	assert_int_equal(strncmp(buf_ptr(&errors), buf_ptr(&want), buf_size(&want)), 0);
	assert_int_equal(badfiles_count_lines(buf_ptr(&errors)), 1);
	buf_free(&errors);
	buf_free(&want);
	free(path);
}

static void
test_load_directory(void **state)
{
	struct buf errors;

	buf_init(&errors);
	assert_null(exceptions_load(exc_dir(), &errors));
	buf_terminate(&errors);
	assert_int_equal(strncmp(buf_ptr(&errors), exc_dir(), strlen(exc_dir())), 0);
	assert_int_equal(badfiles_count_lines(buf_ptr(&errors)), 1);
	buf_free(&errors);
}

/* exceptions_parse() reads only len bytes. */
static void
test_parse_len(void **state)
{
	static const char text[] = "a.example encrypt\nB.example\n";
	struct exceptions *x = parse_ok(text, 18);
	struct buf errors;

	assert_int_equal(exceptions_count(x), 1);
	assert_string_equal(first_entry(x)->policy, "encrypt");
	exceptions_unref(x);
	x = parse_ok(text, 9);	/* "a.example" */
	assert_int_equal(exceptions_count(x), 1);
	assert_string_equal(first_entry(x)->policy, "may");
	exceptions_unref(x);
	buf_init(&errors);
	assert_null(exceptions_parse(text, sizeof(text) - 1, "mem", &errors));
	buf_free(&errors);
}

/* ---- Scale: a generated list of 200 000 entries. ---- */

static double
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

#define BIG 200000
#define LOOKUPS 1000000
#define NQUERIES 262144

static void
test_large(void **state)
{
	struct buf text;
	struct timespec t0;

	failure[0] = '\0';
	buf_init(&text);
	buf_puts(&text, "## A generated list\n");
	for (unsigned i = 0; i < BIG; i++) {
		switch (i % 4) {
		case 0:
			buf_printf(&text, "d%07u.example\n", i);
			break;
		case 1:
			buf_printf(&text, ".s%07u.example encrypt\n", i);
			break;
		case 2:
			buf_printf(&text, "mx:mx%07u.provider.example dane-only expires=2030-01-01\n", i);
			break;
		default:
			buf_printf(&text, "xn--d%07u-kva.example secure match=nexthop # n %u\n", i, i);
			break;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct exceptions *x = parse_ok(buf_ptr(&text), buf_size(&text));
	double parse_ms = ms_since(&t0);
	assert_int_equal(exceptions_count(x), BIG);

	/* The queries made first, so that only the matching is timed: a
	 * quarter million, each asked four times; half of them miss. */
	struct query {
		char name[40];
		bool mx, hit;
	} *q = calloc(NQUERIES, sizeof(*q));
	assert_non_null(q);
	for (unsigned i = 0; i < NQUERIES; i++) {
		unsigned k = (unsigned)(((uint64_t)i * 7919u) % (BIG * 2));
		switch (k % 4) {
		case 0:
			snprintf(q[i].name, sizeof(q[i].name), "d%07u.example", k);
			break;
		case 1:
			snprintf(q[i].name, sizeof(q[i].name), "mail.in.s%07u.example", k);
			break;
		case 2:
			snprintf(q[i].name, sizeof(q[i].name), "mx%07u.provider.example", k);
			break;
		default:
			snprintf(q[i].name, sizeof(q[i].name), "xn--d%07u-kva.example", k);
			break;
		}
		q[i].mx = k % 4 == 2;
		q[i].hit = k < BIG;
	}
	size_t hits = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < LOOKUPS; i++) {
		const struct query *qq = &q[i % NQUERIES];
		const struct exception_entry *e = qq->mx ? exceptions_match_mx(x, qq->name, 0) :
		    exceptions_match_domain(x, qq->name, 0);
		if ((e != NULL) != qq->hit) {
			snprintf(failure, sizeof(failure), "%s: %s", qq->name, e ? "matched" : "no match");
			break;
		}
		hits += e != NULL;
	}
	double match_ms = ms_since(&t0);
	/* The times are for people; a timed assertion would fail on a busy
	 * or instrumented build without saying anything about the code. */
	printf("# %u entries (%zu bytes of text): parsed in %.1f ms; %u matches (%zu hits) in %.1f ms, "
	    "%.0f ns each\n", BIG, buf_size(&text), parse_ms, LOOKUPS, hits, match_ms, match_ms * 1e6 / LOOKUPS);
	fflush(stdout);
	exceptions_unref(x);
	buf_free(&text);
	free(q);
	if (failure[0])
		fail_msg("%s", failure);
}

/* ---------------------------------------------------------- exproposal */

/* Probe evidence alone never applies a proposal: Postfix's log must show
 * 4.7.5 deferrals over the window (1 h here, at least 3 of them). */
struct proposal_case {
	const char *name;
	bool enabled, log;
	uint64_t deferrals;
	int64_t first_ago, last_ago;	/* seconds before now */
	enum exproposal_verdict want;
};

#define H 3600
static const struct proposal_case proposal_cases[] = {
	{"auto off: never, whatever the log says", false, true, 50, 2 * H, 1, EXPROPOSAL_OFF},
	{"no maillog_file: never (probes alone)", true, false, 0, 0, 0, EXPROPOSAL_NO_LOG},
	{"no maillog_file, even with counts passed", true, false, 50, 2 * H, 1, EXPROPOSAL_NO_LOG},
	{"log shows no 4.7.5 deferral: wait", true, true, 0, 0, 0, EXPROPOSAL_NO_DEFERRALS},
	{"deferred for an hour, 3 times, the latest now: apply", true, true, 3, H, 0, EXPROPOSAL_APPLY},
	{"deferred for a day, latest a minute ago: apply", true, true, 40, 24 * H, 60, EXPROPOSAL_APPLY},
	{"deferred for 59 min: too soon", true, true, 10, H - 60, 0, EXPROPOSAL_TOO_SOON},
	{"many recipients in one burst: too soon", true, true, 500, 0, 0, EXPROPOSAL_TOO_SOON},
	{"2 deferrals over 2 h: too few", true, true, 2, 2 * H, 10, EXPROPOSAL_TOO_FEW},
	{"latest deferral 61 min ago: stale", true, true, 20, 5 * H, H + 60, EXPROPOSAL_STALE},
	{"a week-old run: stale", true, true, 20, 7 * 24 * H, 7 * 24 * H - 10, EXPROPOSAL_STALE},
	{"clock went back (first in the future): too soon", true, true, 5, -2 * H, -2 * H, EXPROPOSAL_TOO_SOON},
};
#undef H

static const char *proposal_case_name(const void *row) { return ((const struct proposal_case *)row)->name; }

static void
test_proposal(void **state)
{
	const struct proposal_case *c = *state;
	const int64_t now = 1800000000;
	struct exproposal_rules r = {.enabled = c->enabled, .log_followed = c->log, .window_s = 3600,
	    .min_deferrals = 3};
	struct exproposal_evidence ev = {c->deferrals, c->deferrals ? now - c->first_ago : 0,
	    c->deferrals ? now - c->last_ago : 0};

	enum exproposal_verdict v = exproposal_decide(&r, &ev, now);
	if (v != c->want)
		fail_msg("verdict %s, want %s", exproposal_verdict_name(v), exproposal_verdict_name(c->want));
	assert_non_null(exproposal_verdict_text(v));
	/* No evidence at all is never more than a log without deferrals. */
	if (!c->deferrals)
		assert_int_equal(exproposal_decide(&r, NULL, now), v);
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_sample_count),
		cmocka_unit_test(test_extensions_all_checked),
		cmocka_unit_test(test_format_built),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_refs),
		cmocka_unit_test(test_refs_across_reload),
		cmocka_unit_test(test_errors_appended),
		cmocka_unit_test(test_load_missing),
		cmocka_unit_test(test_load_directory),
		cmocka_unit_test(test_parse_len),
		cmocka_unit_test(test_large),
	};
	struct table t = {0};

	TABLE_ADD(&t, sample_cases, sample_case, test_sample);
	TABLE_ADD(&t, extension_cases, extension_case, test_extension);
	TABLE_ADD(&t, round_trip_cases, round_trip_case, test_round_trip);
	TABLE_ADD(&t, format_cases, format_case, test_format);
	TABLE_ADD(&t, match_cases, match_case, test_match);
	struct badfiles *bad = badfiles_add(&t, "exceptions", ".txt", 30, load_exceptions);
	TABLE_ADD(&t, text_cases, text_case, test_text);
	TABLE_ADD(&t, proposal_cases, proposal_case, test_proposal);
	TABLE_TESTS(&t, more);
	int rc = table_run(&t, "exceptions");
	badfiles_free(bad);
	return rc;
}
