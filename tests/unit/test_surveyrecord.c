/*
 * Unit tests: one line of a survey file read and checked
 * (lib/survey/surveyrecord.h), and the classes (surveyclass.h).
 *
 * - Lines that are not v1 records are refused with a reason naming the
 *   member, in printable ASCII whatever the line holds; valid variants are
 *   accepted. A table row each.
 * - The limits: the line's length, the hosts, the addresses of a host.
 * - What a record holds: names folded, hosts in preference order (ties in
 *   the order of the array), addresses parsed, the domain's class (the
 *   first probed address in that order) and its mismatch. A table row
 *   each.
 * - One record reused for line after line: a short line after a long one,
 *   a good line after a refused one.
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

#include <cmocka.h>

#include "util/buf.h"
#include "survey/surveyclass.h"
#include "survey/surveyrecord.h"
#include "table.h"

/* --- lines refused, lines accepted --- */

#define HEAD "\"domain\":\"a.example\",\"time\":1,\"result\":\"ok\",\"rule\":\"insecure\",\"mx\":\"hosts\"," \
	"\"mx_security\":\"insecure\""
#define REC(hosts) "{" HEAD ",\"hosts\":[" hosts "]}"
#define HOSTF(fields, addrs) "{\"name\":\"mx.a.example\"," fields "\"addresses\":[" addrs "]}"
#define HOST(addrs) HOSTF("\"preference\":10,\"verdict\":\"plain\",", addrs)
#define ADDR "{\"address\":\"192.0.2.1\",\"port\":25,\"class\":\"verified\"}"
#define ADDRF(a, p, c) "{\"address\":" a ",\"port\":" p ",\"class\":" c "}"
#define FACTS(domain, time, result, rule, mx, sec) "{\"domain\":" domain ",\"time\":" time ",\"result\":" result \
	",\"rule\":" rule ",\"mx\":" mx ",\"mx_security\":" sec ",\"hosts\":[]}"
#define F_OK "\"ok\""
#define F_RULE "\"null-mx\""
#define F_MX "\"null\""
#define F_SEC "\"secure\""

struct line_case {
	const char *name;
	const char *line;
	const char *why;		/* a part of the reason; NULL: accepted */
};

static const char *
line_case_name(const void *row)
{
	return ((const struct line_case *)row)->name;
}

static const struct line_case bad_lines[] = {
	{"refused: not JSON", "{\"domain\":", "not JSON"},
	{"refused: empty line", "", "not JSON"},
	{"refused: a blank line", "  \n", "not JSON"},
	{"refused: text after the object", REC(HOST(ADDR)) " x", "not JSON"},
	{"refused: two objects on a line", REC(HOST(ADDR)) REC(HOST(ADDR)), "not JSON"},
	{"refused: a member twice", "{\"domain\":\"a.example\",\"domain\":\"b.example\"}", "not JSON"},
	{"refused: NUL in a string", FACTS("\"a\\u0000b.example\"", "1", F_OK, F_RULE, F_MX, F_SEC), "not JSON"},
	{"refused: an array", "[1,2]", "not a JSON object"},
	{"refused: a string", "\"a.example\"", "not a JSON object"},
	{"refused: null", "null", "not a JSON object"},
	{"refused: domain missing", "{\"time\":1}", "domain: missing"},
	{"refused: domain a number", FACTS("7", "1", F_OK, F_RULE, F_MX, F_SEC), "domain: not a string"},
	{"refused: domain empty", FACTS("\"\"", "1", F_OK, F_RULE, F_MX, F_SEC), "domain: empty"},
	{"refused: domain a dot", FACTS("\".\"", "1", F_OK, F_RULE, F_MX, F_SEC), "domain: empty"},
	{"refused: domain with a control character", FACTS("\"a\\u0001.example\"", "1", F_OK, F_RULE, F_MX, F_SEC),
	    "domain: a control character"},
	{"refused: domain with DEL", FACTS("\"a\\u007f.example\"", "1", F_OK, F_RULE, F_MX, F_SEC),
	    "domain: a control character"},
	{"refused: domain of 254 bytes",
	    FACTS("\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example\"", "1", F_OK, F_RULE, F_MX, F_SEC),
	    "domain: longer than 253 bytes"},
	{"refused: time missing", "{\"domain\":\"a.example\"}", "time: missing"},
	{"refused: time negative", FACTS("\"a.example\"", "-1", F_OK, F_RULE, F_MX, F_SEC), "time: -1 out of range"},
	{"refused: time a fraction", FACTS("\"a.example\"", "1.5", F_OK, F_RULE, F_MX, F_SEC), "time: not an integer"},
	{"refused: time a string", FACTS("\"a.example\"", "\"1\"", F_OK, F_RULE, F_MX, F_SEC), "time: not an integer"},
	{"refused: result missing", "{\"domain\":\"a.example\",\"time\":1}", "result: missing"},
	{"refused: result unknown", FACTS("\"a.example\"", "1", "\"okay\"", F_RULE, F_MX, F_SEC),
	    "result: unknown word \"okay\""},
	{"refused: result in capitals", FACTS("\"a.example\"", "1", "\"OK\"", F_RULE, F_MX, F_SEC),
	    "result: unknown word \"OK\""},
	{"refused: rule unknown", FACTS("\"a.example\"", "1", F_OK, "\"all-dane\"", F_MX, F_SEC),
	    "rule: unknown word \"all-dane\""},
	{"refused: rule null", FACTS("\"a.example\"", "1", F_OK, "null", F_MX, F_SEC), "rule: not a string"},
	{"refused: mx unknown", FACTS("\"a.example\"", "1", F_OK, F_RULE, "\"none\"", F_SEC), "mx: unknown word \"none\""},
	{"refused: mx_security unknown", FACTS("\"a.example\"", "1", F_OK, F_RULE, F_MX, "\"signed\""),
	    "mx_security: unknown word \"signed\""},
	{"refused: mx_security missing", "{\"domain\":\"a.example\",\"time\":1,\"result\":\"ok\",\"rule\":\"null-mx\","
	    "\"mx\":\"null\",\"hosts\":[]}", "mx_security: missing"},
	{"refused: a long unknown word is cut",
	    FACTS("\"a.example\"", "1", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", F_RULE,
		F_MX, F_SEC), "result: unknown word \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\""},
	{"refused: escape sequences in a reason are not passed on",
	    FACTS("\"a.example\"", "1", "\"\\u001b[2J\\u009b\"", F_RULE, F_MX, F_SEC), "result: unknown word \"?[2J??\""},
	{"refused: level a number", "{" HEAD ",\"level\":1,\"hosts\":[]}", "level: not a string"},
	{"refused: reason a list", "{" HEAD ",\"reason\":[],\"hosts\":[]}", "reason: not a string"},
	{"refused: hosts missing", "{" HEAD "}", "hosts: missing"},
	{"refused: hosts an object", "{" HEAD ",\"hosts\":{}}", "hosts: not an array"},
	{"refused: hosts with a null MX", "{\"domain\":\"a.example\",\"time\":1,\"result\":\"notfound\",\"rule\":"
	    "\"null-mx\",\"mx\":\"null\",\"mx_security\":\"secure\",\"hosts\":[" HOST(ADDR) "]}",
	    "hosts: not empty, but mx is \"null\""},
	{"refused: a host not an object", REC("\"mx.a.example\""), "hosts[0]: not an object"},
	{"refused: host name missing", REC("{\"verdict\":\"plain\",\"addresses\":[]}"), "hosts[0].name: missing"},
	{"refused: host name empty", REC("{\"name\":\"\",\"verdict\":\"plain\",\"addresses\":[]}"), "hosts[0].name: empty"},
	{"refused: verdict missing", REC(HOSTF("", ADDR)), "hosts[0].verdict: missing"},
	{"refused: verdict unknown", REC(HOSTF("\"verdict\":\"good\",", ADDR)), "hosts[0].verdict: unknown word \"good\""},
	{"refused: preference out of range", REC(HOSTF("\"verdict\":\"plain\",\"preference\":65536,", ADDR)),
	    "hosts[0].preference: 65536 out of range 0..65535"},
	{"refused: preference a string", REC(HOSTF("\"verdict\":\"plain\",\"preference\":\"10\",", ADDR)),
	    "hosts[0].preference: not an integer"},
	{"refused: tlsa a string", REC(HOSTF("\"verdict\":\"dane\",\"tlsa\":\"3 1 1 00\",", ADDR)),
	    "hosts[0].tlsa: not an array"},
	{"refused: tlsa of numbers", REC(HOSTF("\"verdict\":\"dane\",\"tlsa\":[\"3 1 1 00\",3],", ADDR)),
	    "hosts[0].tlsa[1]: not a string"},
	{"refused: addresses missing", REC("{\"name\":\"mx.a.example\",\"verdict\":\"plain\"}"),
	    "hosts[0].addresses: missing"},
	{"refused: addresses a string", REC("{\"name\":\"mx.a.example\",\"verdict\":\"plain\",\"addresses\":\"x\"}"),
	    "hosts[0].addresses: not an array"},
	{"refused: the second host's second address", REC(HOST(ADDR) "," HOST(ADDR "," ADDRF("\"192.0.2.1\"", "25",
	    "\"fine\""))), "hosts[1].addresses[1].class: unknown word \"fine\""},
	{"refused: an address not an object", REC(HOST("\"192.0.2.1\"")), "hosts[0].addresses[0]: not an object"},
	{"refused: address a name", REC(HOST(ADDRF("\"mx.a.example\"", "25", "\"verified\""))),
	    "hosts[0].addresses[0].address: not an IP address: \"mx.a.example\""},
	{"refused: address with a port", REC(HOST(ADDRF("\"192.0.2.1:25\"", "25", "\"verified\""))),
	    "hosts[0].addresses[0].address: not an IP address"},
	{"refused: address missing", REC(HOST("{\"port\":25,\"class\":\"verified\"}")),
	    "hosts[0].addresses[0].address: missing"},
	{"refused: port 0", REC(HOST(ADDRF("\"192.0.2.1\"", "0", "\"verified\""))),
	    "hosts[0].addresses[0].port: 0 out of range 1..65535"},
	{"refused: port 65536", REC(HOST(ADDRF("\"192.0.2.1\"", "65536", "\"verified\""))),
	    "hosts[0].addresses[0].port: 65536 out of range"},
	{"refused: port missing", REC(HOST("{\"address\":\"192.0.2.1\",\"class\":\"verified\"}")),
	    "hosts[0].addresses[0].port: missing"},
	{"refused: class missing", REC(HOST("{\"address\":\"192.0.2.1\",\"port\":25}")),
	    "hosts[0].addresses[0].class: missing"},
	{"refused: class Verified (Postfix's word, not the format's)",
	    REC(HOST(ADDRF("\"192.0.2.1\"", "25", "\"Verified\""))), "hosts[0].addresses[0].class: unknown word \"Verified\""},
	{"refused: class none (a domain's, not an address's)", REC(HOST(ADDRF("\"192.0.2.1\"", "25", "\"none\""))),
	    "hosts[0].addresses[0].class: unknown word \"none\""},
	{"refused: detail a number", REC(HOST("{\"address\":\"192.0.2.1\",\"port\":25,\"class\":\"verified\","
	    "\"detail\":1}")), "hosts[0].addresses[0].detail: not a string"},
};

static const struct line_case good_lines[] = {
	{"accepted: the format's example",
	    "{\"domain\":\"example.org\",\"time\":1764000000,\"result\":\"ok\",\"rule\":\"all-hosts-dane\",\"level\":"
	    "\"dane-only\",\"reason\":\"mx1.example.org dane\",\"mx\":\"hosts\",\"mx_security\":\"secure\",\"hosts\":"
	    "[{\"name\":\"mx1.example.org\",\"preference\":10,\"verdict\":\"dane\",\"tlsa\":[\"3 1 1 5b84...f951\"],"
	    "\"addresses\":[{\"address\":\"192.0.2.1\",\"port\":25,\"class\":\"dane-verified\",\"detail\":"
	    "\"3 1 1 5b84... at depth 0\"},{\"address\":\"2001:db8::1\",\"port\":25,\"class\":\"refused\","
	    "\"detail\":\"documentation\"}]}]}\n", NULL},
	{"accepted: no optional member", REC("{\"name\":\"mx.a.example\",\"verdict\":\"plain\",\"addresses\":[" ADDR "]}"),
	    NULL},
	{"accepted: optional members null", "{" HEAD ",\"level\":null,\"reason\":null,\"hosts\":[{\"name\":"
	    "\"mx.a.example\",\"verdict\":\"plain\",\"tlsa\":null,\"addresses\":[{\"address\":\"192.0.2.1\","
	    "\"port\":25,\"class\":\"verified\",\"detail\":null}]}]}", NULL},
	{"accepted: unknown members are ignored", "{\"future\":{\"x\":[1]}," HEAD ",\"hosts\":[]}", NULL},
	{"accepted: verdict no-address", REC(HOSTF("\"verdict\":\"no-address\",", "")), NULL},
	{"accepted: verdict noaddr, as the format's text spells it", REC(HOSTF("\"verdict\":\"noaddr\",", "")), NULL},
	{"accepted: verdict failed, no addresses", REC(HOSTF("\"verdict\":\"failed\",", "")), NULL},
	{"accepted: an IPv6 address", REC(HOST(ADDRF("\"2001:db8::25\"", "25", "\"plaintext\""))), NULL},
	{"accepted: port 587", REC(HOST(ADDRF("\"192.0.2.1\"", "587", "\"plaintext\""))), NULL},
	{"accepted: class skipped", REC(HOST(ADDRF("\"192.0.2.1\"", "25", "\"skipped\""))), NULL},
	{"accepted: result temp, every host failed", "{\"domain\":\"a.example\",\"time\":1,\"result\":\"temp\",\"rule\":"
	    "\"all-hosts-failed\",\"mx\":\"hosts\",\"mx_security\":\"secure\",\"hosts\":[" HOSTF("\"verdict\":\"failed\",",
	    "") "]}", NULL},
	{"accepted: rule exception", "{\"domain\":\"a.example\",\"time\":1,\"result\":\"ok\",\"rule\":\"exception\","
	    "\"mx\":\"hosts\",\"mx_security\":\"insecure\",\"hosts\":[]}", NULL},
	{"accepted: a name of 253 bytes",
	    FACTS("\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example\"", "1", F_OK, F_RULE, F_MX, F_SEC), NULL},
	{"accepted: a trailing dot", FACTS("\"a.example.\"", "1", F_OK, F_RULE, F_MX, F_SEC), NULL},
	{"accepted: UTF-8 in a name", FACTS("\"\\u00e9t\\u00e9.example\"", "1", F_OK, F_RULE, F_MX, F_SEC), NULL},
	{"accepted: markup in a name", FACTS("\"<script>alert(1)</script>\"", "1", F_OK, F_RULE, F_MX, F_SEC), NULL},
};

static void
test_bad_line(void **state)
{
	const struct line_case *c = *state;
	struct surveyrecord r;

	surveyrecord_init(&r);
	assert_int_equal(surveyrecord_parse(&r, c->line, strlen(c->line)), SURVEYRECORD_BAD);
	if (!strstr(r.why, c->why))
		fail_msg("reason \"%s\" lacks \"%s\"", r.why, c->why);
	for (const char *p = r.why; *p; p++)
		assert_true(*p >= 0x20 && *p < 0x7f);
	surveyrecord_free(&r);
}

static void
test_good_line(void **state)
{
	const struct line_case *c = *state;
	struct surveyrecord r;

	surveyrecord_init(&r);
	if (surveyrecord_parse(&r, c->line, strlen(c->line)) != 0)
		fail_msg("refused (%s): %s", r.why, c->line);
	surveyrecord_free(&r);
}

static void
test_line_too_long(void **state)
{
	size_t n = SURVEYRECORD_LINE_MAX + 1;
	char *line = malloc(n);
	struct surveyrecord r;

	assert_non_null(line);
	surveyrecord_init(&r);
	memset(line, ' ', n);
	memcpy(line, REC(HOST(ADDR)), strlen(REC(HOST(ADDR))));
	assert_int_equal(surveyrecord_parse(&r, line, n), SURVEYRECORD_BAD);
	assert_non_null(strstr(r.why, "longer than"));
	/* One byte less is fine: JSON allows the trailing blanks. */
	assert_int_equal(surveyrecord_parse(&r, line, n - 1), 0);
	free(line);
	surveyrecord_free(&r);
}

static void
test_too_many_hosts(void **state)
{
	struct surveyrecord r;
	struct buf line;

	surveyrecord_init(&r);
	buf_init(&line);
	buf_puts(&line, "{" HEAD ",\"hosts\":[");
	for (int i = 0; i <= SURVEYRECORD_MAX_HOSTS; i++)
		buf_printf(&line, "%s{\"name\":\"mx%d.a.example\",\"verdict\":\"plain\",\"addresses\":[]}", i ? "," : "", i);
	buf_puts(&line, "]}");
	assert_int_equal(surveyrecord_parse(&r, buf_ptr(&line), buf_size(&line)), SURVEYRECORD_BAD);
	assert_string_equal(r.why, "hosts: more than 256");

	buf_reset(&line);
	buf_puts(&line, "{" HEAD ",\"hosts\":[{\"name\":\"mx.a.example\",\"verdict\":\"plain\",\"addresses\":[");
	for (int i = 0; i <= SURVEYRECORD_MAX_ADDRESSES; i++)
		buf_printf(&line, "%s{\"address\":\"192.0.2.%d\",\"port\":25,\"class\":\"verified\"}", i ? "," : "", i % 256);
	buf_puts(&line, "]}]}");
	assert_int_equal(surveyrecord_parse(&r, buf_ptr(&line), buf_size(&line)), SURVEYRECORD_BAD);
	assert_string_equal(r.why, "hosts[0].addresses: more than 256");
	buf_free(&line);
	surveyrecord_free(&r);
}

/* --- what a record holds --- */

#define DOM(name, hosts) "{\"domain\":\"" name "\",\"time\":7,\"result\":\"ok\",\"rule\":\"insecure\"," \
	"\"mx\":\"hosts\",\"mx_security\":\"insecure\",\"hosts\":[" hosts "]}"
#define MXH(name, pref, addrs) "{\"name\":\"" name "\",\"preference\":" #pref ",\"verdict\":\"plain\",\"addresses\":[" \
	addrs "]}"
#define AD(ip, port, cls) "{\"address\":\"" ip "\",\"port\":" #port ",\"class\":\"" cls "\"}"

struct record_case {
	const char *name;
	const char *line;
	const char *domain;		/* folded */
	const char *hosts;		/* the host names in preference order, space-separated */
	enum surveyclass cls;
	bool mismatch;
};

static const char *
record_case_name(const void *row)
{
	return ((const struct record_case *)row)->name;
}

static const struct record_case record_cases[] = {
	{"record: the lower preference first", DOM("a.example", MXH("mx2.a.example", 20, AD("192.0.2.2", 25,
	    "plaintext")) "," MXH("mx1.a.example", 10, AD("192.0.2.1", 25, "verified"))), "a.example",
	    "mx1.a.example mx2.a.example", SURVEYCLASS_VERIFIED, false},
	{"record: equal preferences in the order of the array", DOM("b.example", MXH("mx1.b.example", 10,
	    AD("192.0.2.3", 25, "trusted")) "," MXH("mx2.b.example", 10, AD("192.0.2.4", 25, "plaintext"))),
	    "b.example", "mx1.b.example mx2.b.example", SURVEYCLASS_TRUSTED, false},
	{"record: refused and skipped addresses are passed over", DOM("c.example", MXH("mx1.c.example", 0,
	    AD("10.0.0.1", 25, "refused") "," AD("192.0.2.5", 25, "skipped")) "," MXH("mx2.c.example", 5,
	    AD("192.0.2.6", 25, "anonymous"))), "c.example", "mx1.c.example mx2.c.example", SURVEYCLASS_ANONYMOUS,
	    false},
	{"record: a host without addresses is passed over", DOM("d.example", MXH("mx1.d.example", 0, "") ","
	    MXH("mx2.d.example", 5, AD("2001:db8::1", 587, "unreachable"))), "d.example",
	    "mx1.d.example mx2.d.example", SURVEYCLASS_UNREACHABLE, false},
	{"record: nothing probed is class none", DOM("e.example", MXH("mx.e.example", 0, AD("10.0.0.1", 25,
	    "refused"))), "e.example", "mx.e.example", SURVEYCLASS_NONE, false},
	{"record: a mismatch anywhere, not only first", DOM("f.example", MXH("mx1.f.example", 0, AD("192.0.2.7", 25,
	    "dane-verified")) "," MXH("mx2.f.example", 9, AD("192.0.2.8", 25, "dane-mismatch"))), "f.example",
	    "mx1.f.example mx2.f.example", SURVEYCLASS_DANE_VERIFIED, true},
	{"record: names folded, one trailing dot dropped", DOM("G.Example.", MXH("MX.G.EXAMPLE.", 0, "")),
	    "g.example", "mx.g.example", SURVEYCLASS_NONE, false},
	{"record: no hosts", "{\"domain\":\"h.example\",\"time\":7,\"result\":\"notfound\",\"rule\":\"null-mx\","
	    "\"mx\":\"null\",\"mx_security\":\"secure\",\"hosts\":[]}", "h.example", "", SURVEYCLASS_NONE, false},
};

static void
test_record(void **state)
{
	const struct record_case *c = *state;
	struct surveyrecord r;
	struct buf hosts;

	surveyrecord_init(&r);
	buf_init(&hosts);
	if (surveyrecord_parse(&r, c->line, strlen(c->line)) != 0)
		fail_msg("refused (%s): %s", r.why, c->line);
	assert_string_equal(r.domain, c->domain);
	assert_int_equal(r.time, 7);
	for (size_t k = 0; k < r.nhosts; k++)
		buf_printf(&hosts, "%s%s", k ? " " : "", surveyrecord_host(&r, k)->name);
	assert_string_equal(buf_ptr(&hosts), c->hosts);
	assert_int_equal(r.cls, c->cls);
	assert_int_equal(r.mismatch, c->mismatch);
	buf_free(&hosts);
	surveyrecord_free(&r);
}

/* Addresses as bytes, in the order of their host's array, after the
 * addresses of the hosts before it in the array. */
static void
test_addresses(void **state)
{
	static const unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x01};
	static const unsigned char v4[16] = {192, 0, 2, 9};
	struct surveyrecord r;
	const char *line = DOM("a.example", MXH("mx2.a.example", 20, AD("192.0.2.9", 2525, "verified")) ","
	    MXH("mx1.a.example", 10, AD("2001:0db8::0001", 25, "plaintext") "," AD("192.0.2.9", 25, "skipped")));

	surveyrecord_init(&r);
	assert_int_equal(surveyrecord_parse(&r, line, strlen(line)), 0);
	assert_int_equal(r.nhosts, 2);
	assert_int_equal(r.naddrs, 3);
	const struct surveyrecord_host *first = surveyrecord_host(&r, 0), *second = surveyrecord_host(&r, 1);
	assert_string_equal(first->name, "mx1.a.example");
	assert_int_equal(first->preference, 10);
	assert_int_equal(first->first, 1);
	assert_int_equal(first->n, 2);
	assert_int_equal(second->first, 0);
	assert_int_equal(second->n, 1);
	assert_int_equal(r.addrs[0].family, 4);
	assert_int_equal(r.addrs[0].port, 2525);
	assert_memory_equal(r.addrs[0].addr, v4, 16);
	assert_int_equal(r.addrs[0].cls, SURVEYCLASS_VERIFIED);
	assert_int_equal(r.addrs[1].family, 6);
	assert_memory_equal(r.addrs[1].addr, v6, 16);
	assert_int_equal(r.addrs[1].cls, SURVEYCLASS_PLAINTEXT);
	assert_int_equal(r.addrs[2].cls, SURVEYCLASS_SKIPPED);
	assert_int_equal(r.cls, SURVEYCLASS_PLAINTEXT);
	surveyrecord_free(&r);
}

/* The arrays stay from line to line: what a line leaves must not show in
 * the next. */
static void
test_reused(void **state)
{
	struct surveyrecord r;
	const char *big = DOM("a.example", MXH("mx1.a.example", 1, AD("192.0.2.1", 25, "dane-mismatch") ","
	    AD("192.0.2.2", 25, "verified")) "," MXH("mx2.a.example", 2, AD("192.0.2.3", 25, "verified")));
	const char *small = DOM("b.example", MXH("mx.b.example", 1, AD("192.0.2.4", 25, "trusted")));
	const char *bad = DOM("c.example", MXH("mx.c.example", 1, AD("192.0.2.5", 25, "fine")));

	surveyrecord_init(&r);
	assert_int_equal(surveyrecord_parse(&r, big, strlen(big)), 0);
	assert_true(r.mismatch);
	assert_int_equal(surveyrecord_parse(&r, small, strlen(small)), 0);
	assert_string_equal(r.domain, "b.example");
	assert_int_equal(r.nhosts, 1);
	assert_int_equal(r.naddrs, 1);
	assert_false(r.mismatch);
	assert_int_equal(r.cls, SURVEYCLASS_TRUSTED);
	assert_int_equal(surveyrecord_parse(&r, bad, strlen(bad)), SURVEYRECORD_BAD);
	assert_int_equal(surveyrecord_parse(&r, small, strlen(small)), 0);
	assert_string_equal(r.why, "");
	assert_string_equal(surveyrecord_host(&r, 0)->name, "mx.b.example");
	surveyrecord_free(&r);
}

/* --- the classes --- */

static void
test_class_words(void **state)
{
	static const char *const names[SURVEYCLASS_COUNT] = {"plaintext", "tls-failed", "anonymous", "untrusted",
	    "trusted", "verified", "dane-verified", "dane-mismatch", "unreachable", "refused", "skipped", "none"};
	static const char *const labels[SURVEYCLASS_COUNT] = {"plaintext", "tls-failed", "Anonymous", "Untrusted",
	    "Trusted", "Verified", "dane-verified", "dane-mismatch", "unreachable", "refused", "skipped", "none"};

	for (int c = 0; c < SURVEYCLASS_COUNT; c++) {
		assert_string_equal(surveyclass_name((enum surveyclass)c), names[c]);
		assert_string_equal(surveyclass_label((enum surveyclass)c), labels[c]);
	}
	assert_false(surveyclass_for_domain(SURVEYCLASS_REFUSED));
	assert_false(surveyclass_for_address(SURVEYCLASS_NONE));
	assert_true(surveyclass_for_domain(SURVEYCLASS_NONE));
}

static void
test_mx_words(void **state)
{
	assert_string_equal(surveyrecord_mx_name(SURVEYRECORD_MX_HOSTS), "hosts");
	assert_string_equal(surveyrecord_mx_name(SURVEYRECORD_MX_NULL), "null");
	assert_string_equal(surveyrecord_mx_name(SURVEYRECORD_MX_NXDOMAIN), "nxdomain");
	assert_string_equal(surveyrecord_mx_name(SURVEYRECORD_MX_FAILED), "failed");
}

int
main(void)
{
	struct table t = {0};
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_too_many_hosts),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_reused),
		cmocka_unit_test(test_class_words),
		cmocka_unit_test(test_mx_words),
	};

	TABLE_ADD(&t, bad_lines, line_case, test_bad_line);
	TABLE_ADD(&t, good_lines, line_case, test_good_line);
	TABLE_ADD(&t, record_cases, record_case, test_record);
	TABLE_TESTS(&t, tests);
	return table_run(&t, "surveyrecord");
}
