/*
 * Unit tests: the survey summary (lib/survey/surveysum.h) and its three
 * outputs (surveytext.h, surveyjson.h, surveyhtml.h). Which lines are
 * valid, and what a record holds, is test_surveyrecord's.
 *
 * - tests/survey/basic.jsonl, a hand-written survey of 16 domains on 17
 *   lines, covers every definition of the format's summary: null MX,
 *   NXDOMAIN, a failed MX lookup, signed and unsigned MX, DANE on every
 *   host, a TLSA mismatch, MX hosts shared by several domains, a domain
 *   listed twice (the last line wins), refused and skipped addresses, a
 *   provider under a multi-label public suffix (example.co.uk). Each
 *   count is a row, checked in the result and in the JSON object.
 * - Lines that are not v1 records are counted as rejected and leave the
 *   other counts alone.
 * - The rules one at a time: last line wins, the class of an address
 *   named by several domains, ports, the top 20 and its order, the
 *   mismatch list's bound, case folding, registrable domains. (A domain's
 *   class from its hosts in preference order is test_surveyrecord's.)
 * - tests/survey/hostile.jsonl: names made to inject markup come out
 *   escaped in the HTML, intact in the JSON, and the text table holds
 *   printable ASCII only.
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
#include <strings.h>

#include <cmocka.h>
#include <jansson.h>

#include "survey/surveyhtml.h"
#include "survey/surveyjson.h"
#include "survey/surveysum.h"
#include "survey/surveytext.h"
#include "table.h"

static char dir_path[512];

static const char *
fixture(const char *name)
{
	static char path[600];

	snprintf(path, sizeof(path), "%s/%s", table_data_dir(dir_path, sizeof(dir_path), "survey"),
	    name);
	return path;
}

/* Adds every line of a fixture; how many were refused. */
static unsigned
load(struct surveysum *s, const char *name)
{
	FILE *f = fopen(fixture(name), "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned bad = 0;

	if (!f)
		fail_msg("%s: cannot open", fixture(name));
	while ((n = getline(&line, &cap, f)) >= 0) {
		const char *why;
		int rc = surveysum_add_line(s, line, (size_t)n, &why);
		assert_true(rc == 0 || rc == SURVEYSUM_BAD);
		bad += rc != 0;
	}
	free(line);
	fclose(f);
	return bad;
}

static struct surveysum *
loaded(const char *name, unsigned want_bad)
{
	struct surveysum *s = surveysum_create();

	assert_non_null(s);
	assert_int_equal(load(s, name), want_bad);
	return s;
}

static void
add_ok(struct surveysum *s, const char *line)
{
	const char *why = NULL;
	int rc = surveysum_add_line(s, line, strlen(line), &why);

	if (rc != 0)
		fail_msg("refused (%s): %s", why, line);
}

/* --- the fixture's counts --- */

struct count_case {
	const char *name;		/* the JSON member too */
	size_t off;
	uint64_t want;
};

static const char *
count_case_name(const void *row)
{
	return ((const struct count_case *)row)->name;
}

#define C(field, want) {#field, offsetof(struct surveysum_result, field), want}
static const struct count_case count_cases[] = {
	C(lines, 17),
	C(rejected, 0),
	C(domains, 16),		/* nu.example twice */
	C(with_mx, 13),
	C(null_mx, 1),		/* zeta */
	C(nxdomain, 1),		/* eta */
	C(mx_failed, 1),	/* theta */
	C(dns_failures, 1),	/* theta: result temp */
	C(signed_mx, 4),	/* alpha, beta, gamma, xi; nu's signed line lost */
	C(all_dane, 2),		/* alpha, beta; nu's all-hosts-dane line lost */
	C(tlsa_mismatch, 1),	/* beta */
	C(mx_hosts, 15),	/* mx.nu-old.example not counted */
	C(mx_addresses, 16),	/* the shared bigmail and co.uk addresses once */
	C(providers, 10),	/* nu-old.example not counted */
};

static uint64_t
field(const struct surveysum_result *r, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)r + off, sizeof(v));
	return v;
}

static json_t *
summary_json(struct surveysum *s)
{
	struct buf out;
	json_error_t err;

	buf_init(&out);
	assert_int_equal(surveyjson_write(surveysum_finish(s), &out), 0);
	assert_true(buf_size(&out) > 0 && buf_ptr(&out)[buf_size(&out) - 1] == '\n');
	assert_null(memchr(buf_ptr(&out), '\n', buf_size(&out) - 1));	/* one line */
	json_t *doc = json_loadb(buf_ptr(&out), buf_size(&out), JSON_REJECT_DUPLICATES, &err);
	if (!doc)
		fail_msg("surveyjson_write: not JSON: %s", err.text);
	buf_free(&out);
	return doc;
}

/* The number at a dotted path ("top_providers.0.domains"), or -1. */
static long long
json_at(json_t *doc, const char *path)
{
	char copy[128], *save = NULL;

	snprintf(copy, sizeof(copy), "%s", path);
	for (char *part = strtok_r(copy, ".", &save); part && doc; part = strtok_r(NULL, ".", &save))
		doc = json_is_array(doc) ? json_array_get(doc, strtoul(part, NULL, 10)) : json_object_get(doc, part);
	return json_is_integer(doc) ? json_integer_value(doc) : -1;
}

static void
test_count(void **state)
{
	const struct count_case *c = *state;
	struct surveysum *s = loaded("basic.jsonl", 0);
	const struct surveysum_result *r = surveysum_finish(s);

	assert_non_null(r);
	assert_int_equal(field(r, c->off), c->want);
	json_t *doc = summary_json(s);
	assert_int_equal(json_at(doc, c->name), c->want);
	json_decref(doc);
	surveysum_free(s);
}

struct class_case {
	const char *name;
	bool by_domain;
	enum surveyclass cls;
	uint64_t want;
};

static const char *
class_case_name(const void *row)
{
	return ((const struct class_case *)row)->name;
}

static const struct class_case class_cases[] = {
	{"by domain: dane-verified (alpha)", true, SURVEYCLASS_DANE_VERIFIED, 1},
	{"by domain: dane-mismatch (beta: its first host's)", true, SURVEYCLASS_DANE_MISMATCH, 1},
	{"by domain: verified (gamma, delta, epsilon)", true, SURVEYCLASS_VERIFIED, 3},
	{"by domain: trusted (rho)", true, SURVEYCLASS_TRUSTED, 1},
	{"by domain: untrusted (iota, kappa)", true, SURVEYCLASS_UNTRUSTED, 2},
	{"by domain: anonymous (pi)", true, SURVEYCLASS_ANONYMOUS, 1},
	{"by domain: plaintext (lambda, behind a refused address)", true, SURVEYCLASS_PLAINTEXT, 1},
	{"by domain: tls-failed (nu's last line)", true, SURVEYCLASS_TLS_FAILED, 1},
	{"by domain: unreachable (xi: its first host has no address)", true, SURVEYCLASS_UNREACHABLE, 1},
	{"by domain: none (zeta, eta, theta; mu: refused and skipped)", true, SURVEYCLASS_NONE, 4},
	{"by domain: never refused", true, SURVEYCLASS_REFUSED, 0},
	{"by domain: never skipped", true, SURVEYCLASS_SKIPPED, 0},
	{"by MX host: dane-verified", false, SURVEYCLASS_DANE_VERIFIED, 3},
	{"by MX host: dane-mismatch", false, SURVEYCLASS_DANE_MISMATCH, 1},
	{"by MX host: verified (two shared by three domains)", false, SURVEYCLASS_VERIFIED, 2},
	{"by MX host: trusted", false, SURVEYCLASS_TRUSTED, 1},
	{"by MX host: untrusted (one shared by two domains)", false, SURVEYCLASS_UNTRUSTED, 2},
	{"by MX host: anonymous", false, SURVEYCLASS_ANONYMOUS, 1},
	{"by MX host: plaintext", false, SURVEYCLASS_PLAINTEXT, 1},
	{"by MX host: tls-failed", false, SURVEYCLASS_TLS_FAILED, 1},
	{"by MX host: unreachable", false, SURVEYCLASS_UNREACHABLE, 1},
	{"by MX host: refused", false, SURVEYCLASS_REFUSED, 2},
	{"by MX host: skipped", false, SURVEYCLASS_SKIPPED, 1},
	{"by MX host: never none", false, SURVEYCLASS_NONE, 0},
};

static void
test_class(void **state)
{
	const struct class_case *c = *state;
	struct surveysum *s = loaded("basic.jsonl", 0);
	const struct surveysum_result *r = surveysum_finish(s);
	char path[64];

	assert_non_null(r);
	assert_int_equal((c->by_domain ? r->by_domain : r->by_address)[c->cls], c->want);
	json_t *doc = summary_json(s);
	snprintf(path, sizeof(path), "%s.%s", c->by_domain ? "by_domain_class" : "by_mx_host_class",
	    surveyclass_name(c->cls));
	/* Classes that cannot occur are not in the JSON object at all. */
	if ((c->by_domain && !surveyclass_for_domain(c->cls)) || (!c->by_domain && !surveyclass_for_address(c->cls)))
		assert_int_equal(json_at(doc, path), -1);
	else
		assert_int_equal(json_at(doc, path), c->want);
	json_decref(doc);
	surveysum_free(s);
}

static void
test_sums(void **state)
{
	struct surveysum *s = loaded("basic.jsonl", 0);
	const struct surveysum_result *r = surveysum_finish(s);
	uint64_t d = 0, a = 0;

	for (int c = 0; c < SURVEYCLASS_COUNT; c++) {
		d += r->by_domain[c];
		a += r->by_address[c];
	}
	assert_int_equal(d, r->domains);
	assert_int_equal(a, r->mx_addresses);
	assert_int_equal(r->with_mx + r->null_mx + r->nxdomain + r->mx_failed, r->domains);
	assert_int_equal(r->time_first, 1764000000);
	assert_int_equal(r->time_last, 1764000020);	/* nu's second line */
	surveysum_free(s);
}

struct provider_case {
	const char *name;
	size_t rank;
	const char *provider;
	uint64_t domains;
	enum surveyclass cls;
	uint64_t in_class;
};

static const char *
provider_case_name(const void *row)
{
	return ((const struct provider_case *)row)->name;
}

static const struct provider_case provider_cases[] = {
	{"provider 1: bigmail.example, 3 domains, Verified", 0, "bigmail.example", 3, SURVEYCLASS_VERIFIED, 3},
	{"provider 2: example.co.uk (under co.uk), 2 domains", 1, "example.co.uk", 2, SURVEYCLASS_UNTRUSTED, 2},
	{"provider 3: ties by name, alpha.example", 2, "alpha.example", 1, SURVEYCLASS_DANE_VERIFIED, 1},
	{"provider 4: beta.example once for two MX hosts", 3, "beta.example", 1, SURVEYCLASS_DANE_MISMATCH, 1},
	{"provider 5: lambda.example", 4, "lambda.example", 1, SURVEYCLASS_PLAINTEXT, 1},
	{"provider 6: mu.example, class none", 5, "mu.example", 1, SURVEYCLASS_NONE, 1},
	{"provider 7: nu.example (last line), not nu-old", 6, "nu.example", 1, SURVEYCLASS_TLS_FAILED, 1},
	{"provider 8: pi.example", 7, "pi.example", 1, SURVEYCLASS_ANONYMOUS, 1},
	{"provider 9: rho.example", 8, "rho.example", 1, SURVEYCLASS_TRUSTED, 1},
	{"provider 10: xi.example", 9, "xi.example", 1, SURVEYCLASS_UNREACHABLE, 1},
};

static void
test_provider(void **state)
{
	const struct provider_case *c = *state;
	struct surveysum *s = loaded("basic.jsonl", 0);
	const struct surveysum_result *r = surveysum_finish(s);
	uint64_t sum = 0;

	assert_int_equal(r->ntop, 10);
	const struct surveysum_provider *p = &r->top[c->rank];
	assert_string_equal(p->name, c->provider);
	assert_int_equal(p->domains, c->domains);
	assert_int_equal(p->by_class[c->cls], c->in_class);
	for (int k = 0; k < SURVEYCLASS_COUNT; k++)
		sum += p->by_class[k];
	assert_int_equal(sum, p->domains);

	json_t *doc = summary_json(s);
	json_t *top = json_array_get(json_object_get(doc, "top_providers"), c->rank);
	assert_string_equal(json_string_value(json_object_get(top, "name")), c->provider);
	assert_int_equal(json_integer_value(json_object_get(top, "domains")), c->domains);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(top, "by_class"),
	    surveyclass_name(c->cls))), c->in_class);
	json_decref(doc);
	surveysum_free(s);
}

static void
test_mismatch_list(void **state)
{
	struct surveysum *s = loaded("basic.jsonl", 0);
	const struct surveysum_result *r = surveysum_finish(s);

	assert_int_equal(r->nmismatch_listed, 1);
	assert_string_equal(r->mismatch[0], "beta.example");
	json_t *doc = summary_json(s);
	json_t *list = json_object_get(doc, "tlsa_mismatch_domains");
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(json_string_value(json_array_get(list, 0)), "beta.example");
	json_decref(doc);
	surveysum_free(s);
}

/* --- a line refused --- */

/* surveyrecord refuses (test_surveyrecord has every reason); the summary
 * counts the line as read and rejected, and nothing else changes. */
static void
test_bad_line(void **state)
{
	static const char *const lines[] = {
		"{\"domain\":",
		"{\"domain\":\"a.example\",\"time\":1,\"result\":\"ok\",\"rule\":\"insecure\",\"mx\":\"hosts\","
		    "\"mx_security\":\"insecure\",\"hosts\":[{\"name\":\"mx.b.example\",\"verdict\":\"plain\","
		    "\"addresses\":[{\"address\":\"192.0.2.9\",\"port\":25,\"class\":\"fine\"}]}]}",
	};
	struct surveysum *s = surveysum_create();

	assert_non_null(s);
	add_ok(s, "{\"domain\":\"a.example\",\"time\":1,\"result\":\"ok\",\"rule\":\"insecure\",\"mx\":\"hosts\","
	    "\"mx_security\":\"insecure\",\"hosts\":[{\"name\":\"mx.a.example\",\"verdict\":\"plain\","
	    "\"addresses\":[{\"address\":\"192.0.2.1\",\"port\":25,\"class\":\"verified\"}]}]}");
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		const char *why = NULL;
		assert_int_equal(surveysum_add_line(s, lines[i], strlen(lines[i]), &why), SURVEYSUM_BAD);
		assert_non_null(why);
		assert_true(*why);
	}
	const struct surveysum_result *r = surveysum_finish(s);
	assert_int_equal(r->lines, 3);
	assert_int_equal(r->rejected, 2);
	assert_int_equal(r->domains, 1);
	assert_int_equal(r->with_mx, 1);
	assert_int_equal(r->mx_hosts, 1);
	assert_int_equal(r->mx_addresses, 1);
	assert_int_equal(r->providers, 1);
	assert_int_equal(r->by_domain[SURVEYCLASS_VERIFIED], 1);
	surveysum_free(s);
}

/* --- the rules one at a time --- */

#define DOM(name, time, hosts) "{\"domain\":\"" name "\",\"time\":" #time ",\"result\":\"ok\",\"rule\":\"insecure\"," \
	"\"mx\":\"hosts\",\"mx_security\":\"insecure\",\"hosts\":[" hosts "]}"
#define MXH(name, pref, addrs) "{\"name\":\"" name "\",\"preference\":" #pref ",\"verdict\":\"plain\",\"addresses\":[" \
	addrs "]}"
#define AD(ip, port, cls) "{\"address\":\"" ip "\",\"port\":" #port ",\"class\":\"" cls "\"}"

static void
test_last_line_wins(void **state)
{
	struct surveysum *s = surveysum_create();
	const struct surveysum_result *r;

	add_ok(s, DOM("a.example", 1, MXH("mx.old.example", 10, AD("192.0.2.1", 25, "dane-mismatch"))));
	r = surveysum_finish(s);
	assert_int_equal(r->tlsa_mismatch, 1);
	assert_int_equal(r->providers, 1);
	add_ok(s, DOM("a.example", 2, MXH("mx.new.example", 10, AD("192.0.2.2", 25, "plaintext"))));
	r = surveysum_finish(s);
	assert_int_equal(r->lines, 2);
	assert_int_equal(r->domains, 1);
	assert_int_equal(r->tlsa_mismatch, 0);
	assert_int_equal(r->nmismatch_listed, 0);
	assert_int_equal(r->mx_hosts, 1);
	assert_int_equal(r->mx_addresses, 1);
	assert_int_equal(r->by_address[SURVEYCLASS_DANE_MISMATCH], 0);
	assert_int_equal(r->by_address[SURVEYCLASS_PLAINTEXT], 1);
	assert_int_equal(r->providers, 1);
	assert_string_equal(r->top[0].name, "new.example");
	assert_int_equal(r->time_first, 2);
	/* The name folded: the same domain. */
	add_ok(s, "{\"domain\":\"A.Example.\",\"time\":3,\"result\":\"notfound\",\"rule\":\"null-mx\",\"mx\":\"null\","
	    "\"mx_security\":\"secure\",\"hosts\":[]}");
	r = surveysum_finish(s);
	assert_int_equal(r->domains, 1);
	assert_int_equal(r->null_mx, 1);
	assert_int_equal(r->with_mx, 0);
	assert_int_equal(r->mx_hosts, 0);
	assert_int_equal(r->mx_addresses, 0);
	assert_int_equal(r->providers, 0);
	assert_int_equal(r->ntop, 0);
	assert_int_equal(r->by_domain[SURVEYCLASS_NONE], 1);
	surveysum_free(s);
}

static void
test_shared_address(void **state)
{
	struct surveysum *s = surveysum_create();
	const struct surveysum_result *r;

	/* Two domains name one address with different classes: the later line's. */
	add_ok(s, DOM("a.example", 1, MXH("mx.shared.example", 10, AD("192.0.2.1", 25, "verified"))));
	add_ok(s, DOM("b.example", 2, MXH("mx.shared.example", 10, AD("192.0.2.1", 25, "untrusted"))));
	r = surveysum_finish(s);
	assert_int_equal(r->mx_addresses, 1);
	assert_int_equal(r->by_address[SURVEYCLASS_UNTRUSTED], 1);
	/* The same address under another host name, or on another port, is
	 * another MX host; the same address and port written differently is not. */
	add_ok(s, DOM("c.example", 3, MXH("mx.other.example", 10, AD("192.0.2.1", 25, "untrusted") ","
	    AD("192.0.2.1", 587, "untrusted"))));
	add_ok(s, DOM("d.example", 4, MXH("mx.v6.example", 10, AD("2001:db8::1", 25, "plaintext") ","
	    AD("2001:0db8:0:0::0001", 25, "plaintext"))));
	r = surveysum_finish(s);
	assert_int_equal(r->mx_addresses, 4);
	assert_int_equal(r->mx_hosts, 3);
	/* b.example's line replaced without the address: a.example's class again. */
	add_ok(s, DOM("b.example", 5, MXH("mx.b.example", 10, AD("192.0.2.9", 25, "plaintext"))));
	r = surveysum_finish(s);
	assert_int_equal(r->by_address[SURVEYCLASS_VERIFIED], 1);
	assert_int_equal(r->by_address[SURVEYCLASS_UNTRUSTED], 2);	/* mx.other.example's two */
	assert_int_equal(r->by_address[SURVEYCLASS_PLAINTEXT], 2);
	assert_int_equal(r->mx_addresses, 5);
	surveysum_free(s);
}

static void
test_registrable_domains(void **state)
{
	struct surveysum *s = surveysum_create();
	const struct surveysum_result *r;

	add_ok(s, DOM("a.example", 1, MXH("mx.shop.example.co.uk", 10, "")));
	add_ok(s, DOM("b.example", 1, MXH("MX2.Example.CO.UK", 10, "")));
	add_ok(s, DOM("c.example", 1, MXH("localhost", 10, "")));
	add_ok(s, DOM("d.example", 1, MXH("co.uk", 10, "")));
	r = surveysum_finish(s);
	assert_int_equal(r->providers, 3);
	assert_int_equal(r->ntop, 3);
	assert_string_equal(r->top[0].name, "example.co.uk");
	assert_int_equal(r->top[0].domains, 2);
	assert_int_equal(r->top[0].by_class[SURVEYCLASS_NONE], 2);
	assert_string_equal(r->top[1].name, "co.uk");		/* no registrable domain: itself */
	assert_string_equal(r->top[2].name, "localhost");
	surveysum_free(s);
}

static void
test_top_twenty(void **state)
{
	struct surveysum *s = surveysum_create();
	char line[512];
	int n = 0;

	/* Provider pNN serves NN + 1 domains (p00..p24); q1 and q2 tie with p19. */
	for (int p = 0; p < 25; p++)
		for (int d = 0; d <= p; d++) {
			snprintf(line, sizeof(line), DOM("d%d.example", 1, MXH("mx.p%02d.example", 10, AD("192.0.2.1", 25,
			    "verified"))), n++, p);
			add_ok(s, line);
		}
	for (int q = 2; q >= 1; q--)
		for (int d = 0; d < 20; d++) {
			snprintf(line, sizeof(line), DOM("d%d.example", 1, MXH("mx.q%d.example", 10, "")), n++, q);
			add_ok(s, line);
		}
	const struct surveysum_result *r = surveysum_finish(s);
	assert_int_equal(r->providers, 27);
	assert_int_equal(r->ntop, SURVEYSUM_TOP);
	assert_string_equal(r->top[0].name, "p24.example");
	assert_int_equal(r->top[0].domains, 25);
	assert_int_equal(r->top[0].by_class[SURVEYCLASS_VERIFIED], 25);
	assert_string_equal(r->top[5].name, "p19.example");
	assert_string_equal(r->top[6].name, "q1.example");
	assert_string_equal(r->top[7].name, "q2.example");
	assert_int_equal(r->top[7].by_class[SURVEYCLASS_NONE], 20);
	assert_string_equal(r->top[19].name, "p07.example");
	for (size_t k = 1; k < r->ntop; k++)
		assert_true(r->top[k - 1].domains >= r->top[k].domains);
	surveysum_free(s);
}

static void
test_mismatch_bound(void **state)
{
	struct surveysum *s = surveysum_create();
	char line[512];

	for (int i = 149; i >= 0; i--) {
		snprintf(line, sizeof(line), DOM("m%03d.example", 1, MXH("mx.m%03d.example", 10, AD("192.0.2.1", 25,
		    "dane-mismatch"))), i, i);
		add_ok(s, line);
	}
	const struct surveysum_result *r = surveysum_finish(s);
	assert_int_equal(r->tlsa_mismatch, 150);
	assert_int_equal(r->nmismatch_listed, SURVEYSUM_MISMATCH_LIST);
	assert_string_equal(r->mismatch[0], "m000.example");
	assert_string_equal(r->mismatch[SURVEYSUM_MISMATCH_LIST - 1], "m099.example");
	surveysum_free(s);
}

static void
test_empty(void **state)
{
	struct surveysum *s = surveysum_create();
	struct buf out;

	buf_init(&out);
	const struct surveysum_result *r = surveysum_finish(s);
	assert_int_equal(r->domains, 0);
	assert_int_equal(r->time_first, 0);
	assert_int_equal(surveytext_write(surveysum_finish(s), &out), 0);
	assert_non_null(strstr(buf_ptr(&out), "0 domains from 0 lines"));
	buf_reset(&out);
	assert_int_equal(surveyhtml_write(surveysum_finish(s), &out, NULL), 0);
	assert_non_null(strstr(buf_ptr(&out), "<svg class=\"chart\" id=\"top-providers\""));
	assert_non_null(strstr(buf_ptr(&out), "<title>DANE/TLS survey</title>"));
	buf_free(&out);
	json_t *doc = summary_json(s);
	assert_int_equal(json_at(doc, "domains"), 0);
	assert_int_equal(json_array_size(json_object_get(doc, "top_providers")), 0);
	json_decref(doc);
	surveysum_free(s);
}

/* --- the three outputs --- */

static void
test_text(void **state)
{
	struct surveysum *s = loaded("basic.jsonl", 0);
	struct buf out;

	buf_init(&out);
	assert_int_equal(surveytext_write(surveysum_finish(s), &out), 0);
	const char *t = buf_ptr(&out);
	assert_non_null(strstr(t, "16 domains from 17 lines (0 rejected)"));
	assert_non_null(strstr(t, "\n  with MX hosts                                13       81.2%\n"));
	assert_non_null(strstr(t, "\n  Verified                                      3       18.8%\n"));
	assert_non_null(strstr(t, "\n  refused                                       2       12.5%\n"));
	assert_non_null(strstr(t, "\n  example.co.uk            2       12.5%"));
	assert_non_null(strstr(t, "\n  beta.example\n"));
	/* Postfix's words where it has them. */
	assert_null(strstr(t, " verified "));
	buf_free(&out);
	surveysum_free(s);
}

static void
test_hostile_html(void **state)
{
	struct surveysum *s = loaded("hostile.jsonl", 1);	/* the line with control characters */
	struct buf out;

	buf_init(&out);
	assert_int_equal(surveyhtml_write(surveysum_finish(s), &out, "</title><script>alert(6)</script> & co"), 0);
	const char *h = buf_ptr(&out);
	/* No markup from the data: every '<' of the page is ours. */
	assert_null(strcasestr(h, "<script"));
	assert_null(strcasestr(h, "<svg onload"));
	assert_null(strcasestr(h, "<b>"));
	assert_null(strcasestr(h, "<img"));
	assert_non_null(strstr(h, "<title>&lt;/title&gt;&lt;script&gt;alert(6)&lt;/script&gt; &amp; co</title>"));
	assert_non_null(strstr(h, "<li>&lt;script&gt;alert(1)&lt;/script&gt;</li>"));
	assert_non_null(strstr(h, "<li>&quot;&gt;&lt;svg onload=alert(2)&gt;.example</li>"));
	assert_non_null(strstr(h, "<li>a&amp;amp;b&#39;c.example</li>"));
	/* Provider names, in the table and in the chart. */
	assert_non_null(strstr(h, ">&quot;&gt;&lt;svg onload=alert(1)&gt;</th>"));
	assert_non_null(strstr(h, ">&quot;&gt;&lt;svg onload=alert(1)&gt;</text>"));
	assert_non_null(strstr(h, ">&lt;b&gt;x&lt;/b&gt;.example</th>"));
	/* A long label is cut between characters, not inside one. */
	assert_non_null(strstr(h, "\xc3\xa9\xe2\x80\xa6</text>"));
	/* Every tag the page opens is one of ours. */
	static const char *const tags[] = {"!DOCTYPE", "html", "head", "meta", "title", "style", "body", "h1", "h2", "p",
	    "table", "thead", "tbody", "tr", "th", "td", "svg", "g", "text", "rect", "span", "ul", "li", "em", "dl", "dt",
	    "dd", "div"};
	for (const char *p = strchr(h, '<'); p; p = strchr(p + 1, '<')) {
		const char *name = p + 1 + (p[1] == '/');
		bool known = false;
		for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]) && !known; i++) {
			size_t n = strlen(tags[i]);
			known = strncmp(name, tags[i], n) == 0 && (name[n] == ' ' || name[n] == '>');
		}
		if (!known)
			fail_msg("an unexpected tag: %.40s", p);
		/* ... and has no attribute from the data. */
		const char *end = strchr(p, '>');
		assert_non_null(end);
		for (const char *q = p; q < end; q++)
			if (strncasecmp(q, " on", 3) == 0)
				fail_msg("an event handler: %.*s", (int)(end - p + 1), p);
	}
	buf_free(&out);

	/* The JSON keeps the names as they were. */
	json_t *doc = summary_json(s);
	json_t *list = json_object_get(doc, "tlsa_mismatch_domains");
	assert_int_equal(json_array_size(list), 4);
	assert_string_equal(json_string_value(json_array_get(list, 0)), "\"><svg onload=alert(2)>.example");
	assert_string_equal(json_string_value(json_array_get(list, 1)), "<script>alert(1)</script>");
	json_decref(doc);

	/* The text: printable ASCII and newlines only. */
	buf_init(&out);
	assert_int_equal(surveytext_write(surveysum_finish(s), &out), 0);
	for (size_t i = 0; i < buf_size(&out); i++) {
		unsigned char c = (unsigned char)buf_ptr(&out)[i];
		assert_true(c == '\n' || (c >= 0x20 && c < 0x7f));
	}
	assert_non_null(strstr(buf_ptr(&out), "  ??2j.example"));
	buf_free(&out);
	surveysum_free(s);
}

static void
test_html_charts(void **state)
{
	struct surveysum *s = loaded("basic.jsonl", 0);
	struct buf out;

	buf_init(&out);
	assert_int_equal(surveyhtml_write(surveysum_finish(s), &out, NULL), 0);
	const char *h = buf_ptr(&out);
	assert_non_null(strstr(h, "<svg class=\"chart\" id=\"domain-facts\""));
	assert_non_null(strstr(h, "<svg class=\"chart\" id=\"by-domain-class\""));
	assert_non_null(strstr(h, "<svg class=\"chart\" id=\"by-mx-host-class\""));
	assert_non_null(strstr(h, "<svg class=\"chart\" id=\"top-providers\""));
	assert_non_null(strstr(h, "<g class=\"bar\" data-key=\"by_domain_class.verified\" data-count=\"3\" "
	    "data-class=\"verified\"><text class=\"label\""));
	assert_non_null(strstr(h, ">Verified</text>"));
	assert_non_null(strstr(h, ">3 (18.8%)</text></g>"));
	assert_non_null(strstr(h, "<g class=\"bar\" data-key=\"top_providers.0.domains\" data-count=\"3\">"));
	assert_non_null(strstr(h, "<g class=\"bar\" data-key=\"with_mx\" data-count=\"13\">"));
	assert_non_null(strstr(h, "<td class=\"num\" data-key=\"top_providers.1.by_class.untrusted\" data-count=\"2\">2</td>"));
	/* Self-contained: nothing fetched, nothing run. */
	assert_null(strstr(h, "src="));
	assert_null(strstr(h, "href="));
	assert_null(strstr(h, "<script"));
	assert_null(strstr(h, "url("));
	buf_free(&out);
	surveysum_free(s);
}

int
main(void)
{
	struct table t = {0};
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sums),
		cmocka_unit_test(test_mismatch_list),
		cmocka_unit_test(test_bad_line),
		cmocka_unit_test(test_last_line_wins),
		cmocka_unit_test(test_shared_address),
		cmocka_unit_test(test_registrable_domains),
		cmocka_unit_test(test_top_twenty),
		cmocka_unit_test(test_mismatch_bound),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_html_charts),
		cmocka_unit_test(test_hostile_html),
	};

	TABLE_ADD(&t, count_cases, count_case, test_count);
	TABLE_ADD(&t, class_cases, class_case, test_class);
	TABLE_ADD(&t, provider_cases, provider_case, test_provider);
	TABLE_TESTS(&t, tests);
	return table_run(&t, "surveysum");
}
