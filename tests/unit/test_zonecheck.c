/*
 * Unit tests: selfcheck's DNS checks (lib/selfcheck/zonecheck.c) from
 * facts set by hand. One healthy domain (a signed zone, signatures a
 * month from expiry, validated denials, two name servers that agree, NSEC3
 * without extra iterations) gives only ok findings, one per check; each
 * row breaks it in one way and must give exactly its code at its
 * severity, about the host or server it names, with the evidence in the
 * detail.
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
#include <event2/event.h>

#include "dns/dns.h"
#include "dns/rr.h"
#include "selfcheck/checklist.h"
#include "selfcheck/zonecheck.h"
#include "table.h"

#define NOW INT64_C(1796472000)		/* 2026-12-05T12:00:00Z */
#define DAY INT64_C(86400)
#define MX "mx1.example.test"
#define TLSA_NAME "_25._tcp.mx1.example.test"
#define NX_NAME ZONECHECK_NX_LABEL "._tcp.mx1.example.test"
#define RECORD "3 1 1 1111111111111111111111111111111111111111111111111111111111111111"
#define OTHER "3 1 1 2222222222222222222222222222222222222222222222222222222222222222"

struct healthy {
	struct zonecheck_facts f;
	struct zonecheck_server *ns1, *ns2;
};

/* The healthy domain; rows change it through the pointers. */
static void
build(struct healthy *h)
{
	assert_int_equal(zonecheck_facts_init(&h->f, "example.test"), 0);
	assert_int_equal(zonecheck_facts_add_zone(&h->f, "example.test"), 0);
	assert_int_equal(zonecheck_facts_add_rrset(&h->f, "example.test", RR_TYPE_MX, NULL, NOW + 30 * DAY), 0);
	assert_int_equal(zonecheck_facts_add_rrset(&h->f, "example.test", RR_TYPE_DNSKEY, NULL, NOW + 30 * DAY), 0);
	assert_int_equal(zonecheck_facts_add_rrset(&h->f, MX, RR_TYPE_A, MX, NOW + 30 * DAY), 0);
	assert_int_equal(zonecheck_facts_add_rrset(&h->f, TLSA_NAME, RR_TYPE_TLSA, MX, NOW + 30 * DAY), 0);
	assert_int_equal(zonecheck_facts_add_denial(&h->f, "example.test", ZONECHECK_UNUSED_TYPE, NULL, false,
	    DNS_NODATA, DNS_SECURE, NULL), 0);
	assert_int_equal(zonecheck_facts_add_denial(&h->f, MX, ZONECHECK_UNUSED_TYPE, MX, false,
	    DNS_NODATA, DNS_SECURE, NULL), 0);
	assert_int_equal(zonecheck_facts_add_denial(&h->f, NX_NAME, RR_TYPE_TLSA, MX, true,
	    DNS_NXDOMAIN, DNS_SECURE, NULL), 0);
	assert_non_null(h->ns1 = zonecheck_facts_add_server(&h->f, "example.test", "ns1.example.test", "192.0.2.53", NULL));
	assert_non_null(h->ns2 = zonecheck_facts_add_server(&h->f, "example.test", "ns2.example.net", "198.51.100.53", NULL));
	struct zonecheck_server *both[] = {h->ns1, h->ns2};
	for (int i = 0; i < 2; i++) {
		zonecheck_server_set_serial(both[i], 2026120501);
		assert_int_equal(zonecheck_server_add_tlsa(both[i], TLSA_NAME, RECORD, NULL), 0);
		zonecheck_server_set_denial(both[i], true, 0, false);
	}
}

/* The rows' changes. */
static void nothing(struct healthy *h) { (void)h; }
static void
tlsa_sig_soon(struct healthy *h)
{
	h->f.rrsets[3].expires = NOW + 2 * DAY;
}
static void
mx_sig_expired(struct healthy *h)
{
	h->f.rrsets[0].expires = NOW - 3600;
}
static void
unsigned_rrsets(struct healthy *h)
{
	for (size_t i = 0; i < h->f.nrrsets; i++)
		h->f.rrsets[i].expires = 0;
}
static void
unknown_type_dropped(struct healthy *h)
{
	h->f.denials[1].outcome = DNS_TIMEOUT;
	h->f.denials[1].security = DNS_INSECURE;
}
static void
nx_bogus(struct healthy *h)
{
	h->f.denials[2].security = DNS_BOGUS;
	h->f.denials[2].why = strdup("validation failure <NSEC3 records missing>");
}
static void
nx_servfail(struct healthy *h)
{
	h->f.denials[2].outcome = DNS_SERVFAIL;
	h->f.denials[2].security = DNS_INSECURE;
}
static void
nx_nodata(struct healthy *h)
{
	h->f.denials[2].outcome = DNS_NODATA;
}
static void
unsigned_denials(struct healthy *h)
{
	for (size_t i = 0; i < h->f.ndenials; i++)
		h->f.denials[i].security = DNS_INSECURE;
}
static void
wildcard(struct healthy *h)
{
	h->f.denials[2].outcome = DNS_DATA;
}
static void
stale_secondary(struct healthy *h)
{
	zonecheck_server_set_serial(h->ns2, 2026120400);
}
/* Serial arithmetic: 1 is newer than 4294967295 (RFC 1982). */
static void
wrapped_serial(struct healthy *h)
{
	zonecheck_server_set_serial(h->ns1, 4294967295u);
	zonecheck_server_set_serial(h->ns2, 1);
}
static void
tlsa_dropped(struct healthy *h)
{
	free(h->ns2->tlsa[0].records);
	h->ns2->tlsa[0].records = strdup("");
	h->ns2->tlsa[0].failed = strdup("timeout: no reply before the deadline");
}
static void
tlsa_dropped_everywhere(struct healthy *h)
{
	tlsa_dropped(h);
	h->ns1->tlsa[0].failed = strdup("refused");
}
static void
tlsa_differs(struct healthy *h)
{
	free(h->ns2->tlsa[0].records);
	h->ns2->tlsa[0].records = strdup(OTHER);
}
static void
soa_unanswered(struct healthy *h)
{
	h->ns2->have_serial = false;
	zonecheck_server_set_failed(h->ns2, "timeout: no reply before the deadline");
}
static void
soa_unanswered_everywhere(struct healthy *h)
{
	soa_unanswered(h);
	h->ns1->have_serial = false;
	zonecheck_server_set_failed(h->ns1, "refused");
}
static void
private_not_asked(struct healthy *h)
{
	assert_non_null(zonecheck_facts_add_server(&h->f, "example.test", "ns3.example.test", "10.0.0.53",
	    "a special-purpose address (private; probe_allow_private = no)"));
}
/* An IPv6 server seen from a host without IPv6: said, not judged. */
static void
no_route(struct healthy *h)
{
	h->ns2->have_serial = false;
	zonecheck_server_set_failed(h->ns2, "no route");
	assert_int_equal(zonecheck_server_set_not_asked(h->ns2, "no route from here (cannot send over UDP: "
	    "Network is unreachable)"), 0);
}
static void
iterations(struct healthy *h)
{
	zonecheck_server_set_denial(h->ns2, true, 10, false);
}
static void
optout(struct healthy *h)
{
	zonecheck_server_set_denial(h->ns1, true, 0, true);
	zonecheck_server_set_denial(h->ns2, true, 0, true);
}
static void
nsec(struct healthy *h)
{
	zonecheck_server_set_denial(h->ns1, false, 0, false);
	zonecheck_server_set_denial(h->ns2, false, 0, false);
}

struct zc_case {
	const char *name;
	void (*change)(struct healthy *h);
	unsigned rrsig_days;		/* 0: the default */
	const char *code;		/* the only problem's code; NULL: none */
	enum checklist_severity severity;
	const char *host;		/* where it is about; NULL: the domain */
	const char *address;
	const char *detail;		/* a part of its detail */
	size_t problems;		/* how many such findings; 0: 1 */
	const char *ok_absent;		/* a check without an ok finding */
	const char *ok_detail;		/* a part of an ok finding's detail */
};

static const char *
zc_case_name(const void *row)
{
	return ((const struct zc_case *)row)->name;
}

static const struct zc_case cases[] = {
	{"healthy: an ok finding per check", nothing, 0, NULL, 0, NULL, NULL, NULL, 0, NULL,
	    "example.test: 2 server addresses, serial 2026120501"},
	{"a TLSA signature expires in 2 days: warn", tlsa_sig_soon, 0, "rrsig-expiring", CHECKLIST_WARN, MX, NULL,
	    "the signature over " TLSA_NAME " TLSA expires at 2026-12-07T12:00:00Z (in 2.0 days)"},
	{"2 days left, --rrsig-days 1: ok", tlsa_sig_soon, 1, NULL, 0, NULL, NULL, NULL, 0, NULL,
	    "last more than 1 days (the first expires at 2026-12-07T12:00:00Z)"},
	{"the MX signature expired: fail", mx_sig_expired, 0, "rrsig-expiring", CHECKLIST_FAIL, NULL, NULL,
	    "over example.test MX expired at 2026-12-05T11:00:00Z"},
	{"unsigned RRsets: rrsig-expiring does not run", unsigned_rrsets, 0, NULL, 0, NULL, NULL, NULL, 0,
	    "rrsig-expiring"},
	{"an unknown type dropped at the MX host: warn", unknown_type_dropped, 0, "denial-broken", CHECKLIST_WARN,
	    MX, NULL, "the TYPE65280 question at " MX ", a name that exists, gave no answer in time"},
	{"the TLSA denial is bogus: fail", nx_bogus, 0, "denial-broken", CHECKLIST_FAIL, MX, NULL,
	    "gave NXDOMAIN, bogus (validation failure <NSEC3 records missing>); a validated NXDOMAIN was expected"},
	{"the TLSA denial fails: fail", nx_servfail, 0, "denial-broken", CHECKLIST_FAIL, MX, NULL,
	    "gave SERVFAIL; a validated NXDOMAIN was expected"},
	{"NODATA where NXDOMAIN belongs: warn", nx_nodata, 0, "denial-broken", CHECKLIST_WARN, MX, NULL,
	    "a name that does not exist, gave NODATA; a validated NXDOMAIN was expected"},
	{"an unsigned zone's denials are not judged", unsigned_denials, 0, NULL, 0, NULL, NULL, NULL, 0,
	    "denial-broken"},
	{"a wildcard's records are no breakage", wildcard, 0, NULL, 0, NULL, NULL, NULL, 0, NULL,
	    "2 questions for names and types that do not exist got validated denials"},
	{"a secondary with an older serial: warn", stale_secondary, 0, "ns-inconsistent", CHECKLIST_WARN,
	    "ns2.example.net", "198.51.100.53",
	    "ns2.example.net serves serial 2026120400 of example.test; ns1.example.test [192.0.2.53] serves 2026120501"},
	{"serials compared as RFC 1982 says", wrapped_serial, 0, "ns-inconsistent", CHECKLIST_WARN,
	    "ns1.example.test", "192.0.2.53", "serves serial 4294967295 of example.test"},
	{"a server drops TLSA questions: warn", tlsa_dropped, 0, "ns-inconsistent", CHECKLIST_WARN,
	    "ns2.example.net", "198.51.100.53",
	    "does not answer the TLSA question for " TLSA_NAME " (timeout: no reply before the deadline)"},
	{"no server answers TLSA questions: fail", tlsa_dropped_everywhere, 0, "ns-inconsistent", CHECKLIST_FAIL,
	    NULL, NULL, "no name server of example.test answered the TLSA question for " TLSA_NAME},
	{"a server gives other TLSA records: fail", tlsa_differs, 0, "ns-inconsistent", CHECKLIST_FAIL,
	    "ns2.example.net", "198.51.100.53", "gives other TLSA records for " TLSA_NAME " (" OTHER ")"},
	{"a server does not answer SOA: warn", soa_unanswered, 0, "ns-inconsistent", CHECKLIST_WARN,
	    "ns2.example.net", "198.51.100.53", "did not answer the SOA question for example.test: timeout"},
	{"no server answers SOA: fail", soa_unanswered_everywhere, 0, "ns-inconsistent", CHECKLIST_FAIL,
	    NULL, NULL, "none of the 2 name server addresses of the zone example.test answered"},
	{"a special-purpose address is not asked, and said so", private_not_asked, 0, NULL, 0, NULL, NULL, NULL,
	    0, NULL, "not asked: ns3.example.test [10.0.0.53]: a special-purpose address"},
	{"a server this host has no route to is not judged", no_route, 0, NULL, 0, NULL, NULL, NULL, 0, NULL,
	    "(example.test: 1 server address, serial 2026120501); not asked: ns2.example.net [198.51.100.53]: no route"},
	{"NSEC3 with 10 extra iterations: warn", iterations, 0, "nsec3-iterations", CHECKLIST_WARN, NULL, NULL,
	    "the NSEC3 records of example.test use 10 extra iterations (seen at ns2.example.net [198.51.100.53])"},
	{"NSEC3 opt-out: warn", optout, 0, "nsec3-iterations", CHECKLIST_WARN, NULL, NULL,
	    "use opt-out"},
	{"NSEC: ok", nsec, 0, NULL, 0, NULL, NULL, NULL, 0, NULL, "example.test: NSEC"},
};

static const char *const codes[] = {"rrsig-expiring", "denial-broken", "ns-inconsistent", "nsec3-iterations"};

static void
test_case(void **state)
{
	const struct zc_case *c = *state;
	struct healthy h;
	struct checklist list;
	size_t found = 0;
	bool ok_detail_seen = c->ok_detail == NULL;

	build(&h);
	c->change(&h);
	assert_int_equal(checklist_init(&list, "example.test"), 0);
	assert_int_equal(zonecheck_findings(&h.f, NOW, c->rrsig_days ? c->rrsig_days : ZONECHECK_DEFAULT_RRSIG_DAYS,
	    &list), 0);
	for (size_t i = 0; i < list.n; i++) {
		const struct checklist_finding *x = &list.findings[i];
		if (x->severity == CHECKLIST_OK) {
			assert_null(x->fix);
			if (c->ok_detail && strstr(x->detail, c->ok_detail))
				ok_detail_seen = true;
			continue;
		}
		/* The row's problem, and no other. */
		assert_non_null(c->code);
		assert_string_equal(x->code, c->code);
		assert_int_equal(x->severity, c->severity);
		if (c->host)
			assert_string_equal(x->host, c->host);
		else
			assert_null(x->host);
		if (c->address)
			assert_string_equal(x->address, c->address);
		else
			assert_null(x->address);
		if (!strstr(x->detail, c->detail))
			fail_msg("detail '%s' lacks '%s'", x->detail, c->detail);
		assert_non_null(x->fix);
		found++;
	}
	assert_int_equal(found, c->code ? (c->problems ? c->problems : 1) : 0);
	if (!ok_detail_seen)
		fail_msg("no ok finding says '%s'", c->ok_detail);
	/* Every other check that ran passed, once. */
	for (size_t k = 0; k < sizeof(codes) / sizeof(codes[0]); k++) {
		size_t oks = 0;
		for (size_t i = 0; i < list.n; i++)
			oks += list.findings[i].severity == CHECKLIST_OK && strcmp(list.findings[i].code, codes[k]) == 0;
		bool absent = (c->code && strcmp(c->code, codes[k]) == 0) ||
		    (c->ok_absent && strcmp(c->ok_absent, codes[k]) == 0);
		if (oks != (absent ? 0u : 1u))
			fail_msg("%zu ok findings for %s", oks, codes[k]);
	}
	checklist_free(&list);
	zonecheck_facts_free(&h.f);
}

/* Two zones: each zone's servers compared among themselves only. */
static void
test_zones_apart(void **state)
{
	struct zonecheck_facts f;
	struct checklist list;

	(void)state;
	assert_int_equal(zonecheck_facts_init(&f, "example.test"), 0);
	assert_int_equal(zonecheck_facts_add_zone(&f, "example.test"), 0);
	assert_int_equal(zonecheck_facts_add_zone(&f, "hoster.test"), 0);
	struct zonecheck_server *a = zonecheck_facts_add_server(&f, "example.test", "ns.example.test", "192.0.2.1", NULL);
	struct zonecheck_server *b = zonecheck_facts_add_server(&f, "hoster.test", "ns.hoster.test", "192.0.2.2", NULL);
	assert_non_null(a);
	assert_non_null(b);
	zonecheck_server_set_serial(a, 7);
	zonecheck_server_set_serial(b, 99);
	assert_int_equal(checklist_init(&list, "example.test"), 0);
	assert_int_equal(zonecheck_findings(&f, NOW, 7, &list), 0);
	assert_int_equal(checklist_count(&list, CHECKLIST_WARN) + checklist_count(&list, CHECKLIST_FAIL), 0);
	assert_int_equal(list.n, 1);
	assert_string_equal(list.findings[0].detail, "the name servers agree on the serial and the TLSA records "
	    "(example.test: 1 server address, serial 7; hoster.test: 1 server address, serial 99)");
	checklist_free(&list);
	zonecheck_facts_free(&f);
}

/* What was left out shows in the ok finding. */
static void
test_incomplete(void **state)
{
	struct healthy h;
	struct checklist list;

	(void)state;
	build(&h);
	assert_int_equal(zonecheck_facts_note_incomplete(&h.f, "zones beyond the first few"), 0);
	assert_int_equal(zonecheck_facts_note_incomplete(&h.f, "what had not come back after 15000 ms"), 0);
	assert_int_equal(zonecheck_facts_note_incomplete(&h.f, "zones beyond the first few"), 0);
	assert_string_equal(h.f.incomplete, "zones beyond the first few; what had not come back after 15000 ms");
	assert_int_equal(checklist_init(&list, "example.test"), 0);
	assert_int_equal(zonecheck_findings(&h.f, NOW, 7, &list), 0);
	bool seen = false;
	for (size_t i = 0; i < list.n; i++)
		seen |= strstr(list.findings[i].detail, "; left out: zones beyond the first few;") != NULL;
	assert_true(seen);
	checklist_free(&list);
	zonecheck_facts_free(&h.f);
}


/* --- the gatherer, through a fake resolver --- */

#define MAX_ASKED 128

/* A fake resolver: answers from a table a turn of the loop later; a
 * question in `hang` is never answered. */
struct fake {
	struct event_base *base;
	const char *hang_name;
	uint16_t hang_type;
	int next_id, cancelled;
	size_t nasked;
	char asked[MAX_ASKED][300];
};

struct pending {
	struct fake *fake;
	struct event *ev;
	struct dns_answer *a;
	dns_callback *cb;
	void *arg;
	int id;
	struct pending *next;
};

static struct pending *in_flight;

/* "ns1.example.test" as a wire name. */
static size_t
wire_name(const char *name, unsigned char *out)
{
	size_t o = 0;

	while (*name) {
		const char *dot = strchr(name, '.');
		size_t n = dot ? (size_t)(dot - name) : strlen(name);
		out[o++] = (unsigned char)n;
		memcpy(out + o, name, n);
		o += n;
		name += n + (dot ? 1 : 0);
	}
	out[o++] = 0;
	return o;
}

/* The zone example.test: MX host mx1.example.test, its TLSA in the zone;
 * name servers at a documentation address and a private one. */
static void
fill(struct dns_answer *a)
{
	const char *n = a->qname;
	unsigned char buf[300];

	a->security = DNS_SECURE;
	a->outcome = DNS_NODATA;
	if (a->qtype == 6 && strcmp(n, "example.test") == 0) {
		a->outcome = DNS_DATA;
		dns_answer_add(a, "soa", 3);
	} else if (a->qtype == RR_TYPE_MX && strcmp(n, "example.test") == 0) {
		a->outcome = DNS_DATA;
		a->sig_expires = NOW + 2 * DAY;
		buf[0] = 0;
		buf[1] = 10;
		dns_answer_add(a, buf, 2 + wire_name(MX, buf + 2));
	} else if (a->qtype == RR_TYPE_TLSA && strcmp(n, TLSA_NAME) == 0) {
		a->outcome = DNS_DATA;
		a->sig_expires = NOW + 30 * DAY;
		dns_answer_add(a, "\3\1\1", 3);
	} else if (a->qtype == 2 && strcmp(n, "example.test") == 0) {
		a->outcome = DNS_DATA;
		dns_answer_add(a, buf, wire_name("ns1.example.test", buf));
		dns_answer_add(a, buf, wire_name("ns.hoster.test", buf));
	} else if (a->qtype == RR_TYPE_A && strcmp(n, "ns1.example.test") == 0) {
		a->outcome = DNS_DATA;
		dns_answer_add(a, "\300\0\2\65", 4);
	} else if (a->qtype == RR_TYPE_A && strcmp(n, "ns.hoster.test") == 0) {
		a->outcome = DNS_DATA;
		dns_answer_add(a, "\12\1\1\1", 4);
	} else if (strncmp(n, ZONECHECK_NX_LABEL ".", strlen(ZONECHECK_NX_LABEL ".")) == 0) {
		a->outcome = DNS_NXDOMAIN;
	} else if (a->qtype == RR_TYPE_A && strcmp(n, MX) == 0) {
		a->outcome = DNS_DATA;
		a->sig_expires = NOW + 30 * DAY;
		dns_answer_add(a, "\300\0\2\31", 4);
	}
}

static void
deliver(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;

	for (struct pending **pp = &in_flight; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	event_free(p->ev);
	p->cb(p->arg, p->a);
	free(p);
}

static int
fake_lookup(void *impl, const char *name, uint16_t type, dns_callback *cb, void *arg)
{
	struct fake *f = impl;
	struct pending *p = calloc(1, sizeof(*p));
	struct timeval now = {0, 0};

	assert_non_null(p);
	assert_true(f->nasked < MAX_ASKED);
	snprintf(f->asked[f->nasked++], sizeof(f->asked[0]), "%s %u", name, type);
	p->fake = f;
	p->id = ++f->next_id;
	p->cb = cb;
	p->arg = arg;
	assert_non_null(p->a = dns_answer_new(name, type));
	fill(p->a);
	p->ev = evtimer_new(f->base, deliver, p);
	p->next = in_flight;
	in_flight = p;
	if (!(f->hang_name && strcmp(name, f->hang_name) == 0 && type == f->hang_type))
		evtimer_add(p->ev, &now);
	return p->id;
}

static void
fake_cancel(void *impl, int id)
{
	struct fake *f = impl;

	for (struct pending **pp = &in_flight; *pp; pp = &(*pp)->next)
		if ((*pp)->id == id) {
			struct pending *p = *pp;
			*pp = p->next;
			event_free(p->ev);
			dns_answer_free(p->a);
			free(p);
			f->cancelled++;
			return;
		}
}

static void
fake_free(void *impl)
{
	(void)impl;
}

static const struct dns_ops fake_ops = {fake_lookup, fake_cancel, fake_free};

struct gathered {
	int calls;
	size_t nzones, nrrsets, ndenials, nservers;
	char zone[64];
	int64_t mx_expires;
	char servers[2][160];
	char incomplete[160];
};

static void
gathered(void *arg, const struct zonecheck_facts *f)
{
	struct gathered *g = arg;

	g->calls++;
	g->nzones = f->nzones;
	if (f->nzones)
		snprintf(g->zone, sizeof(g->zone), "%s", f->zones[0]);
	g->nrrsets = f->nrrsets;
	g->ndenials = f->ndenials;
	g->nservers = f->nservers;
	for (size_t i = 0; i < f->nrrsets; i++)
		if (f->rrsets[i].type == RR_TYPE_MX)
			g->mx_expires = f->rrsets[i].expires;
	for (size_t i = 0; i < f->nservers && i < 2; i++)
		snprintf(g->servers[i], sizeof(g->servers[i]), "%s %s %s", f->servers[i]->ns, f->servers[i]->address,
		    f->servers[i]->not_asked ? f->servers[i]->not_asked : "asked");
	if (f->incomplete)
		snprintf(g->incomplete, sizeof(g->incomplete), "%s", f->incomplete);
}

static void
run_gatherer(struct fake *fk, unsigned timeout_ms, struct gathered *g)
{
	struct zonecheck_settings s = {timeout_ms, 100, 53, false};
	struct zonecheck_host host = {"MX1.Example.Test.", NULL};
	struct dns *dns = dns_create(&fake_ops, fk);
	struct timeval safety = {5, 0};

	assert_non_null(dns);
	struct zonecheck *zc = zonecheck_start(fk->base, dns, &s, "example.test", &host, 1, gathered, g);
	assert_non_null(zc);
	assert_int_equal(g->calls, 0);
	event_base_loopexit(fk->base, &safety);
	event_base_dispatch(fk->base);
	dns_free(dns);
}

/* The zone found from the SOA answers, every fact gathered, name servers
 * at special-purpose addresses not asked, no question asked twice. */
static void
test_gatherer(void **state)
{
	struct fake fk = {event_base_new()};
	struct gathered g = {0};

	(void)state;
	run_gatherer(&fk, 5000, &g);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.nzones, 1);
	assert_string_equal(g.zone, "example.test");
	/* MX, the host's A and TLSA (AAAA: NODATA), the zone's DNSKEY: NODATA. */
	assert_int_equal(g.nrrsets, 3);
	assert_int_equal(g.mx_expires, NOW + 2 * DAY);
	assert_int_equal(g.ndenials, 3);
	assert_int_equal(g.nservers, 2);
	assert_string_equal(g.servers[0], "ns1.example.test 192.0.2.53 a special-purpose address (documentation; "
	    "probe_allow_private = no)");
	assert_string_equal(g.servers[1], "ns.hoster.test 10.1.1.1 a special-purpose address (private; "
	    "probe_allow_private = no)");
	assert_string_equal(g.incomplete, "");
	for (size_t i = 0; i < fk.nasked; i++)
		for (size_t j = i + 1; j < fk.nasked; j++)
			if (strcmp(fk.asked[i], fk.asked[j]) == 0)
				fail_msg("asked twice: %s", fk.asked[i]);
	/* The SOA at every ancestor, names lower-cased without the dot. */
	bool soa_host = false, soa_tld = false, nx = false;
	for (size_t i = 0; i < fk.nasked; i++) {
		soa_host |= strcmp(fk.asked[i], "mx1.example.test 6") == 0;
		soa_tld |= strcmp(fk.asked[i], "test 6") == 0;
		nx |= strcmp(fk.asked[i], ZONECHECK_NX_LABEL "._tcp.mx1.example.test 52") == 0;
	}
	assert_true(soa_host && soa_tld && nx);
	assert_null(in_flight);
	event_base_free(fk.base);
}

/* A question that never comes back: the deadline ends the check with
 * what there is, and the question is cancelled. */
static void
test_gatherer_deadline(void **state)
{
	struct fake fk = {event_base_new(), "example.test", 2};
	struct gathered g = {0};

	(void)state;
	run_gatherer(&fk, 100, &g);
	assert_int_equal(g.calls, 1);
	assert_string_equal(g.incomplete, "what had not come back after 100 ms");
	assert_int_equal(g.nservers, 0);
	assert_int_equal(fk.cancelled, 1);
	assert_null(in_flight);
	event_base_free(fk.base);
}

/* Cancelled: never a callback, nothing left behind. */
static void
test_gatherer_cancel(void **state)
{
	struct fake fk = {event_base_new()};
	struct zonecheck_settings s = {5000, 100, 53, false};
	struct zonecheck_host host = {MX, TLSA_NAME};
	struct gathered g = {0};
	struct dns *dns = dns_create(&fake_ops, &fk);
	struct timeval soon = {0, 20000};

	(void)state;
	struct zonecheck *zc = zonecheck_start(fk.base, dns, &s, "example.test", &host, 1, gathered, &g);
	assert_non_null(zc);
	/* One turn: the first questions are out. */
	event_base_loop(fk.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	zonecheck_cancel(zc);
	event_base_loopexit(fk.base, &soon);
	event_base_dispatch(fk.base);
	assert_int_equal(g.calls, 0);
	assert_null(in_flight);
	dns_free(dns);
	event_base_free(fk.base);
}

int
main(void)
{
	struct table t = {0};
	const struct CMUnitTest more[] = {
		cmocka_unit_test(test_zones_apart),
		cmocka_unit_test(test_incomplete),
		cmocka_unit_test(test_gatherer),
		cmocka_unit_test(test_gatherer_deadline),
		cmocka_unit_test(test_gatherer_cancel),
	};

	TABLE_ADD(&t, cases, zc_case, test_case);
	TABLE_TESTS(&t, more);
	return table_run(&t, "zonecheck");
}
