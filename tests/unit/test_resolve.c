/* Unit tests: resolve.c gathering DNS facts through a scripted resolver. */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fake_dns.h"
#include "dns/resolve.h"
#include "dns/rr.h"
#include "table.h"
#include "util/text.h"

#define S DNS_SECURE
#define I DNS_INSECURE
#define B DNS_BOGUS
#define DATA DNS_DATA
#define NODATA DNS_NODATA
#define NX DNS_NXDOMAIN
#define SF DNS_SERVFAIL
#define TO DNS_TIMEOUT
#define TLSA_GOOD "3 1 1 " FAKE_DIGEST32
#define SECURE_HOST(h, ttl) \
	{h, RR_TYPE_A, DATA, S, ttl, NULL, {"192.0.2.1"}, false}, \
	{h, RR_TYPE_AAAA, NODATA, S, ttl, NULL, {NULL}, false}

/* One zone holds every scenario, like the lab does. */
static const struct fake_rr zone[] = {
	/* a signed domain, one host with a usable TLSA */
	{"good.example", RR_TYPE_MX, DATA, S, 3600, NULL, {"10 mx1.good.example"}, false},
	SECURE_HOST("mx1.good.example", 600),
	{"_25._tcp.mx1.good.example", RR_TYPE_TLSA, DATA, S, 300, NULL, {TLSA_GOOD}, false},
	{"_2525._tcp.mx1.good.example", RR_TYPE_TLSA, NX, S, 900, NULL, {NULL}, false},
	/* two hosts, one without TLSA; listed out of preference order, and twice */
	{"mixed.example", RR_TYPE_MX, DATA, S, 3600, NULL,
	    {"20 mx.plain.example", "10 mx1.good.example", "30 mx.plain.example"}, false},
	SECURE_HOST("mx.plain.example", 3600),
	{"_25._tcp.mx.plain.example", RR_TYPE_TLSA, NX, S, 3600, NULL, {NULL}, false},
	/* the MX host is an alias: TLSA at the target */
	{"alias.example", RR_TYPE_MX, DATA, S, 3600, NULL, {"10 mail.alias.example"}, false},
	{"mail.alias.example", RR_TYPE_A, DATA, S, 3600, "mx1.good.example", {"192.0.2.1"}, false},
	{"mail.alias.example", RR_TYPE_AAAA, NODATA, S, 3600, "mx1.good.example", {NULL}, false},
	/* alias whose target has no TLSA: try the original name */
	{"alias2.example", RR_TYPE_MX, DATA, S, 3600, NULL, {"10 mail.alias2.example"}, false},
	{"mail.alias2.example", RR_TYPE_A, DATA, S, 3600, "mx.plain.example", {"192.0.2.2"}, false},
	{"mail.alias2.example", RR_TYPE_AAAA, NODATA, S, 3600, "mx.plain.example", {NULL}, false},
	{"_25._tcp.mail.alias2.example", RR_TYPE_TLSA, DATA, S, 3600, NULL, {TLSA_GOOD}, false},
	/* alias whose target's TLSA answer is not signed: try the original */
	{"alias3.example", RR_TYPE_MX, DATA, S, 3600, NULL, {"10 mail.alias3.example"}, false},
	{"mail.alias3.example", RR_TYPE_A, DATA, S, 3600, "mx.insectlsa.example", {"192.0.2.2"}, false},
	{"mail.alias3.example", RR_TYPE_AAAA, NODATA, S, 3600, "mx.insectlsa.example", {NULL}, false},
	{"_25._tcp.mx.insectlsa.example", RR_TYPE_TLSA, DATA, I, 3600, NULL, {TLSA_GOOD}, false},
	{"_25._tcp.mail.alias3.example", RR_TYPE_TLSA, DATA, S, 3600, NULL, {TLSA_GOOD}, false},
	/* alias whose target's TLSA lookup fails: a failure, no second try */
	{"alias4.example", RR_TYPE_MX, DATA, S, 3600, NULL, {"10 mail.alias4.example"}, false},
	{"mail.alias4.example", RR_TYPE_A, DATA, S, 3600, "mx.bogustlsa.example", {"192.0.2.2"}, false},
	{"mail.alias4.example", RR_TYPE_AAAA, NODATA, S, 3600, "mx.bogustlsa.example", {NULL}, false},
	{"_25._tcp.mail.alias4.example", RR_TYPE_TLSA, DATA, S, 3600, NULL, {TLSA_GOOD}, false},
	/* a signed alias into an unsigned provider zone: its own TLSA records */
	{"alias5.example", RR_TYPE_MX, DATA, S, 3600, NULL, {"10 mail.alias5.example"}, false},
	{"mail.alias5.example", RR_TYPE_A, DATA, I, 3600, "mx.unsigned2.example", {"192.0.2.3"}, false},
	{"mail.alias5.example", RR_TYPE_AAAA, NODATA, I, 3600, "mx.unsigned2.example", {NULL}, false},
	{"mail.alias5.example", RR_TYPE_CNAME, DATA, S, 600, NULL, {"mx.unsigned2.example"}, false},
	{"_25._tcp.mail.alias5.example", RR_TYPE_TLSA, DATA, S, 3600, NULL, {TLSA_GOOD}, false},
	/* an unsigned alias into that zone: nothing to authenticate */
	{"alias6.example", RR_TYPE_MX, DATA, S, 3600, NULL, {"10 mail.alias6.example"}, false},
	{"mail.alias6.example", RR_TYPE_A, DATA, I, 3600, "mx.unsigned2.example", {"192.0.2.3"}, false},
	{"mail.alias6.example", RR_TYPE_AAAA, NODATA, I, 3600, "mx.unsigned2.example", {NULL}, false},
	{"mail.alias6.example", RR_TYPE_CNAME, DATA, I, 600, NULL, {"mx.unsigned2.example"}, false},
	{"_25._tcp.mail.alias6.example", RR_TYPE_TLSA, DATA, I, 3600, NULL, {TLSA_GOOD}, false},
	/* a signed alias whose CNAME lookup is bogus: the host fails */
	{"alias7.example", RR_TYPE_MX, DATA, S, 3600, NULL, {"10 mail.alias7.example", "20 mx.plain.example"}, false},
	{"mail.alias7.example", RR_TYPE_A, DATA, I, 3600, "mx.unsigned2.example", {"192.0.2.3"}, false},
	{"mail.alias7.example", RR_TYPE_AAAA, NODATA, I, 3600, "mx.unsigned2.example", {NULL}, false},
	{"mail.alias7.example", RR_TYPE_CNAME, DATA, B, 600, NULL, {"mx.unsigned2.example"}, false},
	/* implicit MX */
	{"implicit.example", RR_TYPE_MX, NODATA, S, 3600, NULL, {NULL}, false},
	SECURE_HOST("implicit.example", 3600),
	{"_25._tcp.implicit.example", RR_TYPE_TLSA, DATA, S, 3600, NULL, {TLSA_GOOD}, false},
	/* null MX, NXDOMAIN */
	{"nullmx.example", RR_TYPE_MX, DATA, S, 3600, NULL, {"0 ."}, false},
	{"gone.example", RR_TYPE_MX, NX, S, 120, NULL, {NULL}, false},
	/* failures */
	{"bogusmx.example", RR_TYPE_MX, DATA, B, 60, NULL, {"10 mx1.good.example"}, false},
	{"servfail.example", RR_TYPE_MX, SF, I, 0, NULL, {NULL}, false},
	{"slow.example", RR_TYPE_MX, TO, I, 0, NULL, {NULL}, false},
	{"bogustlsa.example", RR_TYPE_MX, DATA, S, 3600, NULL, {"10 mx.bogustlsa.example"}, false},
	SECURE_HOST("mx.bogustlsa.example", 3600),
	{"_25._tcp.mx.bogustlsa.example", RR_TYPE_TLSA, DATA, B, 3600, NULL, {TLSA_GOOD}, false},
	{"onefails.example", RR_TYPE_MX, DATA, S, 3600, NULL,
	    {"10 mx.bogustlsa.example", "20 mx.plain.example"}, false},
	{"addrfail.example", RR_TYPE_MX, DATA, S, 3600, NULL, {"10 mx.addrfail.example"}, false},
	{"mx.addrfail.example", RR_TYPE_A, DATA, S, 3600, NULL, {"192.0.2.9"}, false},
	{"mx.addrfail.example", RR_TYPE_AAAA, SF, I, 0, NULL, {NULL}, false},
	{"nostart.example", RR_TYPE_MX, DATA, S, 3600, NULL, {"10 mx.nostart.example"}, false},
	{"mx.nostart.example", RR_TYPE_A, DATA, S, 3600, NULL, {NULL}, true},
	{"mx.nostart.example", RR_TYPE_AAAA, NODATA, S, 3600, NULL, {NULL}, false},
	/* unusable TLSA only: PKIX usages and a short digest */
	{"pkix.example", RR_TYPE_MX, DATA, S, 3600, NULL, {"10 mx.pkix.example"}, false},
	SECURE_HOST("mx.pkix.example", 3600),
	{"_25._tcp.mx.pkix.example", RR_TYPE_TLSA, DATA, S, 3600, NULL,
	    {"0 0 1 " FAKE_DIGEST32, "1 1 1 " FAKE_DIGEST32, "3 1 1 0123"}, false},
	/* unsigned domain pointing at a signed host */
	{"unsigned.example", RR_TYPE_MX, DATA, I, 3600, NULL, {"10 mx1.good.example"}, false},
	{"unsigned2.example", RR_TYPE_MX, DATA, I, 3600, NULL, {"10 mx.unsigned2.example"}, false},
	{"mx.unsigned2.example", RR_TYPE_A, DATA, I, 3600, NULL, {"192.0.2.3"}, false},
	{"mx.unsigned2.example", RR_TYPE_AAAA, NODATA, I, 3600, NULL, {NULL}, false},
	/* signed MX, unsigned host addresses: whatever its TLSA lookup (asked
	 * early, with them) says must not count, secure data or bogus */
	{"early.example", RR_TYPE_MX, DATA, S, 3600, NULL, {"10 mx.early.example"}, false},
	{"mx.early.example", RR_TYPE_A, DATA, I, 3600, NULL, {"192.0.2.4"}, false},
	{"mx.early.example", RR_TYPE_AAAA, NODATA, I, 3600, NULL, {NULL}, false},
	{"_25._tcp.mx.early.example", RR_TYPE_TLSA, DATA, S, 3600, NULL, {TLSA_GOOD}, false},
	{"early2.example", RR_TYPE_MX, DATA, S, 3600, NULL, {"10 mx.early2.example"}, false},
	{"mx.early2.example", RR_TYPE_A, DATA, I, 3600, NULL, {"192.0.2.5"}, false},
	{"mx.early2.example", RR_TYPE_AAAA, NODATA, I, 3600, NULL, {NULL}, false},
	{"_25._tcp.mx.early2.example", RR_TYPE_TLSA, SF, B, 3600, NULL, {NULL}, false},
	/* hostile MX data */
	{"hostile.example", RR_TYPE_MX, DATA, S, 3600, NULL,
	    {"\\# 000a03 6d78", "\\# 000a 03 6d 2e 78 00", "10 mx1.good.example"}, false},
	{"allbad.example", RR_TYPE_MX, DATA, S, 3600, NULL, {"\\# 00", "\\# 000a07616263"}, false},
	/* host next hop on the submission port */
	{"mx.submit.example", RR_TYPE_A, DATA, S, 3600, NULL, {"192.0.2.8"}, false},
	{"mx.submit.example", RR_TYPE_AAAA, NODATA, S, 3600, NULL, {NULL}, false},
	{"_587._tcp.mx.submit.example", RR_TYPE_TLSA, DATA, S, 3600, NULL, {TLSA_GOOD}, false},
	/* a host without addresses */
	{"noaddr.example", RR_TYPE_MX, DATA, S, 3600, NULL, {"10 mx.noaddr.example"}, false},
	{"mx.noaddr.example", RR_TYPE_A, NX, S, 3600, NULL, {NULL}, false},
	{"mx.noaddr.example", RR_TYPE_AAAA, NX, S, 3600, NULL, {NULL}, false},
	/* control bytes in what the resolver says: a CNAME target, and an
	 * explanation quoting a forger's data */
	{"escapes.example", RR_TYPE_MX, DATA, S, 3600, NULL, {"10 mx.escapes.example"}, false},
	{"mx.escapes.example", RR_TYPE_A, DATA, S, 3600, "evil\x1b[2J\n.example", {"192.0.2.9"}, false},
	{"mx.escapes.example", RR_TYPE_AAAA, SF, B, 3600, NULL, {NULL}, false,
	    "forged\r\nkey=injected \x1b[31m"},
};

struct scenario {
	const char *name;
	const char *key;
	enum policy_result result;
	enum policy_rule rule;
	const char *hosts;	/* "name=verdict ..." in preference order */
	uint32_t ttl;		/* 0: not checked */
	const char *reason;	/* substring, or NULL */
	const char *tlsa;	/* "name" whose TLSA lookup must have happened, or NULL */
};

static const struct scenario scenarios[] = {
	{"signed MX, usable TLSA", "good.example", POLICY_OK, POLICY_RULE_ALL_DANE,
	    "mx1.good.example=dane", 300, "mx1.good.example dane", "_25._tcp.mx1.good.example"},
	{"mixed hosts, sorted and deduplicated", "mixed.example", POLICY_OK, POLICY_RULE_MIXED,
	    "mx1.good.example=dane mx.plain.example=plain", 300, NULL, NULL},
	{"CNAME'd MX host: TLSA at the target", "alias.example", POLICY_OK, POLICY_RULE_ALL_DANE,
	    "mail.alias.example=dane", 0, NULL, "_25._tcp.mx1.good.example"},
	{"CNAME'd MX host: target denied, original has TLSA", "alias2.example", POLICY_OK, POLICY_RULE_ALL_DANE,
	    "mail.alias2.example=dane", 0, NULL, "_25._tcp.mail.alias2.example"},
	{"CNAME'd MX host: target's TLSA unsigned, original has TLSA", "alias3.example", POLICY_OK, POLICY_RULE_ALL_DANE,
	    "mail.alias3.example=dane", 0, NULL, "_25._tcp.mail.alias3.example"},
	{"CNAME'd MX host: target's TLSA lookup fails, no second try", "alias4.example", POLICY_TEMP,
	    POLICY_RULE_ALL_FAILED, "mail.alias4.example=failed", 0, "TLSA lookup for _25._tcp.mx.bogustlsa.example", NULL},
	{"signed CNAME into an unsigned zone: TLSA at the original name", "alias5.example", POLICY_OK,
	    POLICY_RULE_ALL_DANE, "mail.alias5.example=dane", 0, NULL, "_25._tcp.mail.alias5.example"},
	{"unsigned CNAME into an unsigned zone: plain", "alias6.example", POLICY_OK, POLICY_RULE_NO_TLSA,
	    "mail.alias6.example=plain", 0, NULL, NULL},
	{"bogus CNAME: the host fails, the answer stays dane", "alias7.example", POLICY_OK, POLICY_RULE_FAILED_HOST,
	    "mail.alias7.example=failed mx.plain.example=plain", 0, "CNAME lookup for mail.alias7.example failed", NULL},
	{"implicit MX on NODATA", "implicit.example", POLICY_OK, POLICY_RULE_ALL_DANE,
	    "implicit.example=dane", 0, NULL, "_25._tcp.implicit.example"},
	{"null MX", "nullmx.example", POLICY_NOTFOUND, POLICY_RULE_NULL_MX, "", 3600, "null MX", NULL},
	{"NXDOMAIN", "gone.example", POLICY_NOTFOUND, POLICY_RULE_NXDOMAIN, "", 120, "does not exist", NULL},
	{"bogus MX: TEMP naming the failure", "bogusmx.example", POLICY_TEMP, POLICY_RULE_MX_FAILED, "", 0,
	    "MX lookup for bogusmx.example failed DNSSEC validation", NULL},
	{"SERVFAIL MX: TEMP", "servfail.example", POLICY_TEMP, POLICY_RULE_MX_FAILED, "", 0, "SERVFAIL", NULL},
	{"timeout on MX: TEMP", "slow.example", POLICY_TEMP, POLICY_RULE_MX_FAILED, "", 0, "timed out", NULL},
	{"bogus TLSA on the only host: TEMP", "bogustlsa.example", POLICY_TEMP, POLICY_RULE_ALL_FAILED,
	    "mx.bogustlsa.example=failed", 0, "TLSA lookup for _25._tcp.mx.bogustlsa.example failed", NULL},
	{"one host fails, other plain: dane", "onefails.example", POLICY_OK, POLICY_RULE_FAILED_HOST,
	    "mx.bogustlsa.example=failed mx.plain.example=plain", 0, NULL, NULL},
	{"AAAA SERVFAIL fails the host", "addrfail.example", POLICY_TEMP, POLICY_RULE_ALL_FAILED,
	    "mx.addrfail.example=failed", 0, "AAAA lookup", NULL},
	{"a lookup that cannot start fails the host", "nostart.example", POLICY_TEMP, POLICY_RULE_ALL_FAILED,
	    "mx.nostart.example=failed", 0, "could not start", NULL},
	{"only unusable TLSA: encrypt", "pkix.example", POLICY_OK, POLICY_RULE_ALL_ENCRYPT,
	    "mx.pkix.example=encrypt", 0, NULL, NULL},
	{"insecure MX, signed host with TLSA: dane", "unsigned.example", POLICY_OK, POLICY_RULE_INSECURE_MX_DANE,
	    "mx1.good.example=dane", 0, NULL, NULL},
	{"insecure MX, insecure host: may, no TLSA lookup", "unsigned2.example", POLICY_OK, POLICY_RULE_INSECURE,
	    "mx.unsigned2.example=plain", 0, NULL, NULL},
	{"hostile MX records are skipped", "hostile.example", POLICY_OK, POLICY_RULE_ALL_DANE,
	    "(unreadable MX record)=no-address m?x=no-address mx1.good.example=dane", 0, NULL, NULL},
	{"only hostile MX records: NOTFOUND", "allbad.example", POLICY_NOTFOUND, POLICY_RULE_NO_ADDRESS,
	    "(unreadable MX record)=no-address", 0, NULL, NULL},
	{"host next hop: TLSA at its port", "[mx.submit.example]:587", POLICY_OK, POLICY_RULE_ALL_DANE,
	    "mx.submit.example=dane", 0, NULL, "_587._tcp.mx.submit.example"},
	{"domain on another port: TLSA at that port", "good.example:2525", POLICY_OK, POLICY_RULE_NO_TLSA,
	    "mx1.good.example=plain", 0, NULL, "_2525._tcp.mx1.good.example"},
	{"host without addresses: NOTFOUND", "noaddr.example", POLICY_NOTFOUND, POLICY_RULE_NO_ADDRESS,
	    "mx.noaddr.example=no-address", 0, NULL, NULL},
	{"control bytes from the resolver become '?'", "escapes.example", POLICY_TEMP, POLICY_RULE_ALL_FAILED,
	    "mx.escapes.example=failed", 0, "failed DNSSEC validation: forged??key=injected ?[31m", NULL},
};

static const char *
scenario_name(const void *row)
{
	return ((const struct scenario *)row)->name;
}

struct outcome {
	bool called;
	struct policy_answer answer;
	char hosts[1024];
	uint32_t ttl;
	char reason[512];
	size_t nlookups;
	size_t ntlsa;		/* TLSA lookups in the trace: those that counted */
	char tlsa_trace[1024];	/* their names, each followed by a space */
};

static void
assert_same_text(const char *a, const char *b)
{
	if (a && b)
		assert_string_equal(a, b);
	else
		assert_ptr_equal(a, b);
}

/* resolve_result_dup() keeps everything, in memory of its own. */
static void
assert_same_result(const struct resolve_result *r, const struct resolve_result *c)
{
	assert_int_equal(c->nhosts, r->nhosts);
	assert_int_equal(c->nlookups, r->nlookups);
	assert_memory_equal(&c->answer, &r->answer, sizeof(r->answer));
	assert_string_equal(c->reason, r->reason);
	for (unsigned i = 0; i < r->nhosts; i++) {
		const struct resolve_host *a = &r->hosts[i], *b = &c->hosts[i];
		assert_ptr_not_equal(a, b);
		assert_string_equal(b->name, a->name);
		assert_string_equal(b->tlsa_name, a->tlsa_name);
		assert_memory_equal(&b->facts, &a->facts, sizeof(a->facts));
		assert_int_equal(b->naddresses, a->naddresses);
		assert_int_equal(b->ntlsa, a->ntlsa);
		for (size_t k = 0; k < a->ntlsa; k++) {
			assert_ptr_not_equal(b->tlsa[k].data, a->tlsa[k].data);
			assert_int_equal(b->tlsa[k].len, a->tlsa[k].len);
			assert_memory_equal(b->tlsa[k].data, a->tlsa[k].data, a->tlsa[k].len);
		}
	}
	for (size_t i = 0; i < r->nlookups; i++) {
		const struct resolve_lookup *a = &r->lookups[i], *b = &c->lookups[i];
		assert_ptr_not_equal(b->name, a->name);
		assert_string_equal(b->name, a->name);
		assert_same_text(b->canonname, a->canonname);
		assert_same_text(b->why, a->why);
		assert_int_equal(b->nrecords, a->nrecords);
		for (size_t k = 0; k < a->nrecords; k++) {
			assert_string_equal(b->records[k], a->records[k]);
			assert_ptr_equal(b->notes[k], a->notes[k]);
		}
	}
}

static void
collect(void *arg, const struct resolve_result *r)
{
	struct outcome *o = arg;
	size_t used = 0;
	struct resolve_result *copy = resolve_result_dup(r);

	assert_non_null(copy);
	assert_same_result(r, copy);
	resolve_result_free(copy);

	o->called = true;
	o->answer = r->answer;
	o->ttl = r->ttl;
	o->nlookups = r->nlookups;
	snprintf(o->reason, sizeof(o->reason), "%s", r->reason);
	for (unsigned i = 0; i < r->nhosts; i++)
		used += (size_t)snprintf(o->hosts + used, sizeof(o->hosts) - used, "%s%s=%s", i ? " " : "",
		    r->hosts[i].name, policy_host_verdict_name(r->hosts[i].verdict));
	/* Every lookup is in the trace, with records in presentation form;
	 * every text is printable, whatever the answers held. */
	assert_true(text_is_printable(r->reason, strlen(r->reason)));
	for (size_t i = 0; i < r->nlookups; i++) {
		const struct resolve_lookup *l = &r->lookups[i];
		assert_non_null(l->name);
		assert_true(text_is_printable(l->name, strlen(l->name)));
		assert_true(!l->why || text_is_printable(l->why, strlen(l->why)));
		assert_true(!l->canonname || text_is_printable(l->canonname, strlen(l->canonname)));
		for (size_t k = 0; k < l->nrecords; k++)
			assert_true(text_is_printable(l->records[k], strlen(l->records[k])));
		if (r->lookups[i].outcome == DNS_DATA && r->lookups[i].security != DNS_BOGUS)
			assert_true(r->lookups[i].nrecords > 0);
		if (l->type == RR_TYPE_TLSA) {
			size_t used_t = strlen(o->tlsa_trace);
			snprintf(o->tlsa_trace + used_t, sizeof(o->tlsa_trace) - used_t, "%s ", l->name);
			o->ntlsa++;
		}
	}
}

/* Whether the TLSA lookup at name counted (is in the trace). */
static bool
tlsa_counted(const struct outcome *o, const char *name)
{
	char word[300];

	snprintf(word, sizeof(word), "%s ", name);
	for (const char *p = o->tlsa_trace; (p = strstr(p, word)); p++)
		if (p == o->tlsa_trace || p[-1] == ' ')
			return true;
	return false;
}

/* Every lookup that counted is in the trace. Early TLSA lookups (started
 * with the addresses) that the addresses made moot are not: the trace
 * holds every other lookup started, and at most the TLSA ones. */
static void
assert_trace_complete(const struct outcome *o, const struct fake_dns *fake, unsigned not_started)
{
	unsigned tlsa = fake_dns_count_type(fake, RR_TYPE_TLSA);

	assert_int_equal(o->nlookups - o->ntlsa, fake_dns_total(fake) - tlsa - not_started);
	assert_true(o->ntlsa <= tlsa);
}

/* Starts resolving key against the shared zone; the caller frees *dns. */
static struct resolve *
start(const char *key, struct dns **dns, struct fake_dns **fake, struct outcome *o)
{
	struct nexthop nh;
	const char *why;

	*dns = fake_dns_create(zone, sizeof(zone) / sizeof(zone[0]), fake);
	assert_int_equal(nexthop_parse(key, strlen(key), &nh, &why), 0);
	return resolve_start(*dns, &nh, collect, o);
}

static void
test_scenario(void **state)
{
	const struct scenario *sc = *state;
	struct fake_dns *fake;
	struct dns *dns;
	struct outcome o = {0};

	assert_non_null(start(sc->key, &dns, &fake, &o));
	assert_false(o.called);		/* never from inside resolve_start() */
	fake_dns_run(fake);
	assert_true(o.called);
	assert_int_equal(o.answer.result, sc->result);
	if (o.answer.rule != sc->rule)
		fail_msg("rule %s, want %s (reason: %s)", policy_rule_name(o.answer.rule),
		    policy_rule_name(sc->rule), o.reason);
	assert_string_equal(o.hosts, sc->hosts);
	if (sc->ttl)
		assert_int_equal(o.ttl, sc->ttl);
	if (sc->reason && !strstr(o.reason, sc->reason))
		fail_msg("reason '%s' lacks '%s'", o.reason, sc->reason);
	if (sc->tlsa) {
		assert_int_equal(fake_dns_count(fake, sc->tlsa, RR_TYPE_TLSA), 1);
		if (!tlsa_counted(&o, sc->tlsa))
			fail_msg("the TLSA lookup at %s is not in the trace (%s)", sc->tlsa, o.tlsa_trace);
	}
	assert_trace_complete(&o, fake, sc->result == POLICY_TEMP && strstr(o.reason, "could not start") ? 1 : 0);
	dns_free(dns);
}

/* A host named within a domain whose MX answer is unsigned is unsigned
 * too: it is not even asked for TLSA early. */
static void
test_no_tlsa_lookup_for_insecure_host(void **state)
{
	struct fake_dns *fake;
	struct dns *dns;
	struct outcome o = {0};

	start("unsigned2.example", &dns, &fake, &o);
	fake_dns_run(fake);
	assert_true(o.called);
	assert_int_equal(fake_dns_count(fake, "_25._tcp.mx.unsigned2.example", RR_TYPE_TLSA), 0);
	assert_int_equal(fake_dns_count(fake, "mx.unsigned2.example", RR_TYPE_CNAME), 0);
	dns_free(dns);
}

/* The CNAME of a host is looked up only when its unsigned addresses came
 * through one; an unsigned CNAME stops there, without a TLSA lookup. */
static void
test_cname_lookup_only_when_needed(void **state)
{
	static const struct {
		const char *key, *host;
		unsigned cname, tlsa_at_host;
	} cases[] = {
		{"good.example", "mx1.good.example", 0, 1},
		{"alias.example", "mail.alias.example", 0, 0},
		{"alias2.example", "mail.alias2.example", 0, 1},
		{"alias5.example", "mail.alias5.example", 1, 1},
		{"alias6.example", "mail.alias6.example", 1, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake_dns *fake;
		struct dns *dns;
		struct outcome o = {0};
		char tlsa[300];

		start(cases[i].key, &dns, &fake, &o);
		fake_dns_run(fake);
		assert_true(o.called);
		snprintf(tlsa, sizeof(tlsa), "_25._tcp.%s", cases[i].host);
		if (fake_dns_count(fake, cases[i].host, RR_TYPE_CNAME) != cases[i].cname ||
		    tlsa_counted(&o, tlsa) != cases[i].tlsa_at_host)
			fail_msg("%s: %u CNAME lookups, TLSA at %s %s, want %u and %s", cases[i].key,
			    fake_dns_count(fake, cases[i].host, RR_TYPE_CNAME), cases[i].host,
			    tlsa_counted(&o, tlsa) ? "counted" : "not counted", cases[i].cname,
			    cases[i].tlsa_at_host ? "counted" : "not");
		/* Never a second lookup at the same name: the early one serves. */
		assert_true(fake_dns_count(fake, tlsa, RR_TYPE_TLSA) <= 1);
		dns_free(dns);
	}
}

/* Hosts are looked up in parallel: the MX answer queues every host's
 * address lookups and its TLSA lookup at once, before any of them is
 * answered. */
static void
test_hosts_in_parallel(void **state)
{
	struct fake_dns *fake;
	struct dns *dns;
	struct outcome o = {0};

	start("mixed.example", &dns, &fake, &o);
	assert_int_equal(fake_dns_pending(fake), 1);	/* MX */
	assert_int_equal(fake_dns_step(fake), 1);
	assert_int_equal(fake_dns_pending(fake), 6);	/* A, AAAA and TLSA of two hosts */
	assert_int_equal(fake_dns_count_type(fake, RR_TYPE_TLSA), 2);
	fake_dns_run(fake);
	assert_true(o.called);
	dns_free(dns);
}

/* The TLSA lookup asked early, with the addresses, counts only when they
 * say it should: not for a host whose addresses are unsigned (its answer,
 * secure or bogus, is dropped), not at a CNAME'd host's own name while
 * the expanded name's records decide. Whether it comes before the
 * addresses or after, the verdict is the same. */
static void
test_early_tlsa_counts_only_when_due(void **state)
{
	static const struct {
		const char *key, *host, *hosts;
		enum policy_rule rule;
		bool counted;
	} cases[] = {
		{"early.example", "mx.early.example", "mx.early.example=plain", POLICY_RULE_NO_TLSA, false},
		{"early2.example", "mx.early2.example", "mx.early2.example=plain", POLICY_RULE_NO_TLSA, false},
		{"alias.example", "mail.alias.example", "mail.alias.example=dane", POLICY_RULE_ALL_DANE, false},
		{"alias2.example", "mail.alias2.example", "mail.alias2.example=dane", POLICY_RULE_ALL_DANE, true},
		{"alias5.example", "mail.alias5.example", "mail.alias5.example=dane", POLICY_RULE_ALL_DANE, true},
		{"alias6.example", "mail.alias6.example", "mail.alias6.example=plain", POLICY_RULE_NO_TLSA, false},
		{"good.example", "mx1.good.example", "mx1.good.example=dane", POLICY_RULE_ALL_DANE, true},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int tlsa_first = 0; tlsa_first < 2; tlsa_first++) {
			struct fake_dns *fake;
			struct dns *dns;
			struct outcome o = {0};
			char tlsa[300];

			snprintf(tlsa, sizeof(tlsa), "_25._tcp.%s", cases[i].host);
			start(cases[i].key, &dns, &fake, &o);
			fake_dns_step(fake);	/* the MX */
			if (tlsa_first)
				assert_int_equal(fake_dns_deliver(fake, tlsa, RR_TYPE_TLSA), 1);
			fake_dns_run(fake);
			assert_true(o.called);
			if (o.answer.rule != cases[i].rule || strcmp(o.hosts, cases[i].hosts) != 0 ||
			    tlsa_counted(&o, tlsa) != cases[i].counted)
				fail_msg("%s (TLSA %s): %s, %s, TLSA at %s %s", cases[i].key,
				    tlsa_first ? "first" : "last", policy_rule_name(o.answer.rule), o.hosts, tlsa,
				    tlsa_counted(&o, tlsa) ? "counted" : "not counted");
			assert_int_equal(fake_dns_count(fake, tlsa, RR_TYPE_TLSA), 1);
			/* Answered last and not due: cancelled before it came. */
			if (!tlsa_first && !cases[i].counted && strncmp(cases[i].key, "early", 5) == 0)
				assert_int_equal(fake_dns_cancelled(fake), 1);
			assert_trace_complete(&o, fake, 0);
			dns_free(dns);
		}
	}
}

/* Cancelling a resolution while an early TLSA answer waits for its
 * addresses: nothing leaks, nothing is called (the sanitizers check). */
static void
test_cancel_with_early_answer(void **state)
{
	struct fake_dns *fake;
	struct dns *dns;
	struct outcome o = {0};
	struct resolve *r = start("good.example", &dns, &fake, &o);

	fake_dns_step(fake);
	assert_int_equal(fake_dns_deliver(fake, "_25._tcp.mx1.good.example", RR_TYPE_TLSA), 1);
	resolve_cancel(r);
	assert_int_equal(fake_dns_pending(fake), 0);
	assert_false(o.called);
	dns_free(dns);
}

/* Round trips of a fresh decision: the MX, then each host's addresses and
 * TLSA records together; one fewer for a host next hop. A CNAME'd host
 * needs the expanded name's TLSA lookup after its addresses: three. */
static void
test_round_trips(void **state)
{
	static const struct {
		const char *key;
		unsigned rounds;
		enum policy_rule rule;
	} cases[] = {
		{"good.example", 2, POLICY_RULE_ALL_DANE},
		{"mixed.example", 2, POLICY_RULE_MIXED},
		{"implicit.example", 2, POLICY_RULE_ALL_DANE},
		{"[mx1.good.example]", 1, POLICY_RULE_ALL_DANE},
		{"[mx.submit.example]:587", 1, POLICY_RULE_ALL_DANE},
		{"unsigned.example", 2, POLICY_RULE_INSECURE_MX_DANE},
		{"unsigned2.example", 2, POLICY_RULE_INSECURE},
		{"alias.example", 3, POLICY_RULE_ALL_DANE},
		{"alias2.example", 3, POLICY_RULE_ALL_DANE},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake_dns *fake;
		struct dns *dns;
		struct outcome o = {0};
		unsigned rounds = 0;

		start(cases[i].key, &dns, &fake, &o);
		while (fake_dns_round(fake))
			rounds++;
		assert_true(o.called);
		if (rounds != cases[i].rounds || o.answer.rule != cases[i].rule)
			fail_msg("%s: %u round trips and %s, want %u and %s", cases[i].key, rounds,
			    policy_rule_name(o.answer.rule), cases[i].rounds, policy_rule_name(cases[i].rule));
		dns_free(dns);
	}
}

/* Cancelling before any answer: no callback, nothing left queued. */
static void
test_cancel(void **state)
{
	struct fake_dns *fake;
	struct dns *dns;
	struct outcome o = {0};

	resolve_cancel(start("mixed.example", &dns, &fake, &o));
	assert_int_equal(fake_dns_pending(fake), 0);
	assert_int_equal(fake_dns_run(fake), 0);
	assert_false(o.called);
	dns_free(dns);
}

/* Cancelling half-way, with host lookups in flight: the same. */
static void
test_cancel_midway(void **state)
{
	struct fake_dns *fake;
	struct dns *dns;
	struct outcome o = {0};
	struct resolve *r = start("mixed.example", &dns, &fake, &o);

	fake_dns_step(fake);
	resolve_cancel(r);
	assert_int_equal(fake_dns_pending(fake), 0);
	assert_false(o.called);
	dns_free(dns);
}

/* More MX hosts than POLICY_MAX_HOSTS: sorted by preference, the lowest
 * kept. Postfix itself tries only the first few. */
static void
test_host_limit(void **state)
{
	static char names[40][32], mx[40][48];
	static struct fake_rr big[1 + 2 * 40];
	struct fake_dns *fake;
	struct outcome o = {0};
	struct nexthop nh;
	const char *why;

	big[0] = (struct fake_rr){"many.example", RR_TYPE_MX, DATA, S, 3600, NULL, {NULL}, false};
	for (int i = 0; i < 40; i++) {
		snprintf(names[i], sizeof(names[i]), "h%02d.many.example", i);
		snprintf(mx[i], sizeof(mx[i]), "%d %s", 100 - i, names[i]);
		big[0].records[i] = mx[i];
		big[1 + 2 * i] = (struct fake_rr){names[i], RR_TYPE_A, DATA, I, 3600, NULL, {"192.0.2.1"}, false};
		big[2 + 2 * i] = (struct fake_rr){names[i], RR_TYPE_AAAA, NODATA, I, 3600, NULL, {NULL}, false};
	}
	struct dns *dns = fake_dns_create(big, sizeof(big) / sizeof(big[0]), &fake);
	nexthop_parse("many.example", 12, &nh, &why);
	resolve_start(dns, &nh, collect, &o);
	fake_dns_run(fake);
	assert_true(o.called);
	assert_int_equal(o.answer.rule, POLICY_RULE_NO_TLSA);
	/* Preference 61 (h39) first ... preference 92 (h08) is the 32nd. */
	assert_true(strncmp(o.hosts, "h39.many.example=plain", 22) == 0);
	assert_non_null(strstr(o.hosts, "h08.many.example=plain"));
	assert_null(strstr(o.hosts, "h07.many.example"));
	assert_int_equal(fake_dns_count(fake, "h07.many.example", RR_TYPE_A), 0);
	dns_free(dns);
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_no_tlsa_lookup_for_insecure_host),
		cmocka_unit_test(test_cname_lookup_only_when_needed),
		cmocka_unit_test(test_hosts_in_parallel),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_early_tlsa_counts_only_when_due),
		cmocka_unit_test(test_cancel_with_early_answer),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_cancel_midway),
		cmocka_unit_test(test_host_limit),
	};
	struct table t = {0};

	TABLE_ADD(&t, scenarios, scenario, test_scenario);
	TABLE_TESTS(&t, more);
	return table_run(&t, "resolve");
}
