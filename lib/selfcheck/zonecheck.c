/*
 * zonecheck - selfcheck's DNS checks (zonecheck.h): the facts, the pure
 * findings, and the gatherer that asks the resolver and each name server.
 *
 * Severities follow selfcheck.c's rule: fail when senders that do DANE
 * defer or bounce now (a server that gives other TLSA records, TLSA
 * denials that do not validate, no server answering), warn when mail
 * flows but less safely or will stop at the next change (signatures
 * about to expire, a stale secondary, a server that drops some types
 * while others answer, costly NSEC3).
 */
#include "autoconfig.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <ldns/ldns.h>

#include "util/list.h"
#include "util/netaddr.h"
#include "dns/authquery.h"
#include "dns/rr.h"
#include "selfcheck/zonecheck.h"

#define DAY_SECONDS 86400
#define TEXT_MAX 2048
#define TYPE_NS 2
#define TYPE_SOA 6

/* --- facts --- */

/* Room for one more element of an array of count elements. */
static int
grow(void *arrayp, size_t count, size_t size)
{
	void **array = arrayp;
	void *p = realloc(*array, (count + 1) * size);

	if (!p)
		return -1;
	*array = p;
	return 0;
}

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Whether a copy of s failed: s was given and the copy is NULL. */
static bool
lost(const char *s, const char *copy)
{
	return s && !copy;
}

int
zonecheck_facts_init(struct zonecheck_facts *f, const char *domain)
{
	memset(f, 0, sizeof(*f));
	return (f->domain = strdup(domain)) ? 0 : -1;
}

static void
free_server(struct zonecheck_server *s)
{
	free(s->zone);
	free(s->ns);
	free(s->address);
	free(s->not_asked);
	free(s->failed);
	for (size_t i = 0; i < s->ntlsa; i++) {
		free(s->tlsa[i].name);
		free(s->tlsa[i].records);
		free(s->tlsa[i].failed);
	}
	free(s->tlsa);
	free(s);
}

void
zonecheck_facts_free(struct zonecheck_facts *f)
{
	for (size_t i = 0; i < f->nrrsets; i++) {
		free(f->rrsets[i].name);
		free(f->rrsets[i].host);
	}
	for (size_t i = 0; i < f->ndenials; i++) {
		free(f->denials[i].name);
		free(f->denials[i].host);
		free(f->denials[i].why);
	}
	for (size_t i = 0; i < f->nservers; i++)
		free_server(f->servers[i]);
	for (size_t i = 0; i < f->nzones; i++)
		free(f->zones[i]);
	free(f->rrsets);
	free(f->denials);
	free(f->servers);
	free(f->zones);
	free(f->domain);
	free(f->incomplete);
	memset(f, 0, sizeof(*f));
}

int
zonecheck_facts_add_rrset(struct zonecheck_facts *f, const char *name, uint16_t type, const char *host,
    int64_t expires)
{
	struct zonecheck_rrset r = {strdup(name), type, dup_or_null(host), expires};

	if (!r.name || lost(host, r.host) || grow(&f->rrsets, f->nrrsets, sizeof(r)) < 0) {
		free(r.name);
		free(r.host);
		return -1;
	}
	f->rrsets[f->nrrsets++] = r;
	return 0;
}

int
zonecheck_facts_add_denial(struct zonecheck_facts *f, const char *name, uint16_t type, const char *host,
    bool want_nxdomain, enum dns_outcome outcome, enum dns_security security, const char *why)
{
	struct zonecheck_denial d = {strdup(name), type, dup_or_null(host), want_nxdomain, outcome, security,
	    dup_or_null(why)};

	if (!d.name || lost(host, d.host) || lost(why, d.why) || grow(&f->denials, f->ndenials, sizeof(d)) < 0) {
		free(d.name);
		free(d.host);
		free(d.why);
		return -1;
	}
	f->denials[f->ndenials++] = d;
	return 0;
}

struct zonecheck_server *
zonecheck_facts_add_server(struct zonecheck_facts *f, const char *zone, const char *ns, const char *address,
    const char *not_asked)
{
	struct zonecheck_server *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->zone = strdup(zone);
	s->ns = strdup(ns);
	s->address = strdup(address);
	s->not_asked = dup_or_null(not_asked);
	if (!s->zone || !s->ns || !s->address || lost(not_asked, s->not_asked) ||
	    grow(&f->servers, f->nservers, sizeof(*f->servers)) < 0) {
		free_server(s);
		return NULL;
	}
	f->servers[f->nservers++] = s;
	return s;
}

int
zonecheck_server_set_not_asked(struct zonecheck_server *s, const char *why)
{
	char *copy = strdup(why);

	if (!copy)
		return -1;
	free(s->not_asked);
	s->not_asked = copy;
	return 0;
}

int
zonecheck_server_set_serial(struct zonecheck_server *s, uint32_t serial)
{
	s->have_serial = true;
	s->serial = serial;
	return 0;
}

int
zonecheck_server_set_failed(struct zonecheck_server *s, const char *why)
{
	char *copy = strdup(why);

	if (!copy)
		return -1;
	free(s->failed);
	s->failed = copy;
	return 0;
}

int
zonecheck_server_add_tlsa(struct zonecheck_server *s, const char *name, const char *records, const char *failed)
{
	struct zonecheck_tlsa t = {strdup(name), strdup(records ? records : ""), dup_or_null(failed)};

	if (!t.name || !t.records || lost(failed, t.failed) || grow(&s->tlsa, s->ntlsa, sizeof(t)) < 0) {
		free(t.name);
		free(t.records);
		free(t.failed);
		return -1;
	}
	s->tlsa[s->ntlsa++] = t;
	return 0;
}

void
zonecheck_server_set_denial(struct zonecheck_server *s, bool nsec3, unsigned iterations, bool optout)
{
	s->nsec = !nsec3;
	s->nsec3 = nsec3;
	s->iterations = nsec3 ? iterations : 0;
	s->optout = nsec3 && optout;
}

int
zonecheck_facts_note_incomplete(struct zonecheck_facts *f, const char *what)
{
	size_t old = f->incomplete ? strlen(f->incomplete) : 0;

	if (old && strstr(f->incomplete, what))
		return 0;	/* said once is enough */
	char *p = realloc(f->incomplete, old + strlen(what) + 3);

	if (!p)
		return -1;
	if (old)
		memcpy(p + old, "; ", 3);
	else
		p[0] = '\0';
	strcat(p, what);
	f->incomplete = p;
	return 0;
}

int
zonecheck_facts_add_zone(struct zonecheck_facts *f, const char *zone)
{
	char *copy = strdup(zone);

	if (!copy || grow(&f->zones, f->nzones, sizeof(*f->zones)) < 0) {
		free(copy);
		return -1;
	}
	f->zones[f->nzones++] = copy;
	return 0;
}

/* --- findings --- */

struct out {
	struct checklist *list;
	int failed;
};

static void
add(struct out *o, const char *code, enum checklist_severity sev, const char *host, const char *address,
    const char *fix, const char *fmt, ...)
{
	char detail[TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (checklist_add(o->list, code, sev, host, address, detail, fix) < 0)
		o->failed = -1;
}

static const char *
type_name(uint16_t type, char *buf, size_t size)
{
	switch (type) {
	case TYPE_NS: return "NS";
	case TYPE_SOA: return "SOA";
	}
	const char *n = rr_type_name(type);
	if (strcmp(n, "TYPE?") != 0)
		return n;
	snprintf(buf, size, "TYPE%u", type);
	return buf;
}

static void
utc(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "%lld", (long long)t);
}

/* Whether name is zone or below it. */
static bool
in_zone(const char *name, const char *zone)
{
	size_t n = strlen(name), z = strlen(zone);

	if (n < z || strcasecmp(name + n - z, zone) != 0)
		return false;
	return n == z || name[n - z - 1] == '.';
}

/* The zone of name among the facts' zones (the longest that holds it),
 * or the name itself when none does. */
static const char *
zone_of(const struct zonecheck_facts *f, const char *name)
{
	const char *best = NULL;

	for (size_t i = 0; i < f->nzones; i++)
		if (in_zone(name, f->zones[i]) && (!best || strlen(f->zones[i]) > strlen(best)))
			best = f->zones[i];
	return best ? best : name;
}

static void
rrsig_findings(const struct zonecheck_facts *f, int64_t now, unsigned days, struct out *o)
{
	int64_t horizon = (int64_t)days * DAY_SECONDS, first = 0;
	size_t counted = 0, expiring = 0;
	char when[32], tb[16], fix[TEXT_MAX];

	for (size_t i = 0; i < f->nrrsets; i++) {
		const struct zonecheck_rrset *r = &f->rrsets[i];
		if (r->expires == 0)
			continue;
		counted++;
		if (first == 0 || r->expires < first)
			first = r->expires;
		int64_t left = r->expires - now;
		if (left > horizon)
			continue;
		expiring++;
		utc(r->expires, when, sizeof(when));
		const char *zone = zone_of(f, r->name);
		const char *type = type_name(r->type, tb, sizeof(tb));
		if (left <= 0) {
			snprintf(fix, sizeof(fix), "re-sign the zone %s now: validators reject expired signatures, "
			    "and senders that do DANE defer mail meanwhile", zone);
			add(o, "rrsig-expiring", CHECKLIST_FAIL, r->host, NULL, fix,
			    "the signature over %s %s expired at %s", r->name, type, when);
			continue;
		}
		snprintf(fix, sizeof(fix), "re-sign the zone %s before %s, then find out why the signer did not: "
		    "signatures should be renewed well over %u days before they expire, or senders that do DANE "
		    "defer mail once they have", zone, when, days);
		add(o, "rrsig-expiring", CHECKLIST_WARN, r->host, NULL, fix,
		    "the signature over %s %s expires at %s (in %.1f days)", r->name, type, when,
		    (double)left / DAY_SECONDS);
	}
	if (counted && !expiring) {
		utc(first, when, sizeof(when));
		add(o, "rrsig-expiring", CHECKLIST_OK, NULL, NULL, NULL,
		    "the signatures over %zu validated RRsets last more than %u days (the first expires at %s)",
		    counted, days, when);
	}
}

static const char *
outcome_words(enum dns_outcome o)
{
	switch (o) {
	case DNS_DATA: return "records";
	case DNS_NODATA: return "NODATA";
	case DNS_NXDOMAIN: return "NXDOMAIN";
	case DNS_SERVFAIL: return "SERVFAIL";
	case DNS_TIMEOUT: return "no answer in time";
	}
	return "?";
}

static void
denial_findings(const struct zonecheck_facts *f, struct out *o)
{
	size_t judged = 0, broken = 0;
	char tb[16];

	for (size_t i = 0; i < f->ndenials; i++) {
		const struct zonecheck_denial *d = &f->denials[i];
		bool answered = d->outcome == DNS_DATA || d->outcome == DNS_NODATA || d->outcome == DNS_NXDOMAIN;
		/* An unsigned zone's denials prove nothing and need not:
		 * mx-insecure and host-insecure say so. Records where none
		 * should be are a wildcard's, which is no breakage. */
		if ((answered && d->security == DNS_INSECURE) || (d->outcome == DNS_DATA && d->security != DNS_BOGUS))
			continue;
		judged++;
		enum dns_outcome want = d->want_nxdomain ? DNS_NXDOMAIN : DNS_NODATA;
		if (d->outcome == want && d->security == DNS_SECURE)
			continue;
		broken++;
		const char *zone = zone_of(f, d->name);
		const char *type = type_name(d->type, tb, sizeof(tb));
		char fix[TEXT_MAX];
		enum checklist_severity sev = CHECKLIST_WARN;
		if (d->security == DNS_BOGUS) {
			snprintf(fix, sizeof(fix), "the denial records (NSEC or NSEC3) of the zone %s do not validate: "
			    "re-sign it and make sure that every name server serves the signed zone as a whole", zone);
			sev = d->want_nxdomain ? CHECKLIST_FAIL : CHECKLIST_WARN;
		} else if (!answered) {
			snprintf(fix, sizeof(fix), "make every name server of %s answer questions of every type, at names "
			    "that exist and names that do not (try dig +dnssec @SERVER %s %s): a firewall or DNS filter "
			    "that drops or refuses %s questions breaks DANE", zone, d->name, type,
			    d->want_nxdomain ? "TLSA" : "unknown-type");
			sev = d->want_nxdomain ? CHECKLIST_FAIL : CHECKLIST_WARN;
		} else {
			snprintf(fix, sizeof(fix), "something in %s answers %s where %s belongs (a wildcard, or a server "
			    "that makes up answers): remove it, or make it answer with signed denials", zone,
			    outcome_words(d->outcome), outcome_words(want));
		}
		add(o, "denial-broken", sev, d->host, NULL, fix,
		    "the %s question at %s, a name that %s, gave %s%s%s%s%s; a validated %s was expected",
		    type, d->name, d->want_nxdomain ? "does not exist" : "exists", outcome_words(d->outcome),
		    d->security == DNS_BOGUS ? ", bogus" : answered && d->security == DNS_INSECURE ? ", unsigned" : "",
		    d->why ? " (" : "", d->why ? d->why : "", d->why ? ")" : "", outcome_words(want));
	}
	if (judged && !broken)
		add(o, "denial-broken", CHECKLIST_OK, NULL, NULL, NULL,
		    "%zu questions for names and types that do not exist got validated denials", judged);
}

/* Serial arithmetic (RFC 1982): whether a is newer than b. */
static bool
serial_newer(uint32_t a, uint32_t b)
{
	return a != b && (uint32_t)(a - b) < 0x80000000u;
}

static const struct zonecheck_tlsa *
server_tlsa(const struct zonecheck_server *s, const char *name)
{
	for (size_t i = 0; i < s->ntlsa; i++)
		if (strcasecmp(s->tlsa[i].name, name) == 0)
			return &s->tlsa[i];
	return NULL;
}

/* Whether the TLSA name of server si's entry ti is mentioned there
 * first among the zone's servers. */
static bool
first_mention(const struct zonecheck_facts *f, const char *zone, size_t si, size_t ti)
{
	const char *name = f->servers[si]->tlsa[ti].name;

	for (size_t i = 0; i <= si; i++) {
		const struct zonecheck_server *s = f->servers[i];
		if (strcmp(s->zone, zone) != 0)
			continue;
		for (size_t j = 0; j < (i == si ? ti : s->ntlsa); j++)
			if (strcasecmp(s->tlsa[j].name, name) == 0)
				return false;
	}
	return true;
}

/* One TLSA name's RRsets as the zone's servers gave them, against the
 * newest server's (or, when it gave none, another's); the problems found. */
static size_t
tlsa_findings(const struct zonecheck_facts *f, const char *zone, const char *name,
    const struct zonecheck_server *newest, struct out *o)
{
	const struct zonecheck_tlsa *ref = NULL;
	const struct zonecheck_server *refs = NULL;
	char fix[TEXT_MAX];
	size_t problems = 0;

	for (size_t i = 0; i < f->nservers; i++) {
		const struct zonecheck_server *s = f->servers[i];
		const struct zonecheck_tlsa *x;
		if (strcmp(s->zone, zone) != 0 || s->not_asked || !(x = server_tlsa(s, name)) || x->failed)
			continue;
		if (!ref || s == newest) {
			ref = x;
			refs = s;
		}
	}
	if (!ref) {
		add(o, "ns-inconsistent", CHECKLIST_FAIL, NULL, NULL,
		    "let TLSA questions through to every name server of the zone (a firewall or DNS filter "
		    "that drops them, or a server that refuses them, breaks DANE for every sender)",
		    "no name server of %s answered the TLSA question for %s", zone, name);
		return 1;
	}
	for (size_t i = 0; i < f->nservers; i++) {
		const struct zonecheck_server *s = f->servers[i];
		const struct zonecheck_tlsa *x;
		if (strcmp(s->zone, zone) != 0 || s->not_asked || !s->have_serial || !(x = server_tlsa(s, name)))
			continue;
		if (x->failed) {
			snprintf(fix, sizeof(fix), "let TLSA questions through to %s at %s (a firewall or DNS "
			    "filter that drops or refuses them makes resolvers wait for it, and breaks DANE "
			    "once it is the only server they reach)", s->ns, s->address);
			add(o, "ns-inconsistent", CHECKLIST_WARN, s->ns, s->address, fix,
			    "%s does not answer the TLSA question for %s (%s); %s [%s] does", s->ns, name,
			    x->failed, refs->ns, refs->address);
			problems++;
		} else if (strcmp(x->records, ref->records) != 0) {
			snprintf(fix, sizeof(fix), "bring %s up to date with %s's zone (check its zone transfers): "
			    "senders that ask it get TLSA records other than those published", s->ns, zone);
			add(o, "ns-inconsistent", CHECKLIST_FAIL, s->ns, s->address, fix,
			    "%s gives other TLSA records for %s (%s) than %s [%s] (%s)", s->ns, name,
			    *x->records ? x->records : "none", refs->ns, refs->address,
			    *ref->records ? ref->records : "none");
			problems++;
		}
	}
	return problems;
}

/* One zone's servers; returns how many problems it found, and counts the
 * servers asked. */
static size_t
ns_zone_findings(const struct zonecheck_facts *f, const char *zone, struct out *o, size_t *asked_out,
    uint32_t *serial_out)
{
	const struct zonecheck_server *newest = NULL;
	size_t asked = 0, answered = 0, problems = 0;
	char fix[TEXT_MAX];

	for (size_t i = 0; i < f->nservers; i++) {
		const struct zonecheck_server *s = f->servers[i];
		if (strcmp(s->zone, zone) != 0 || s->not_asked)
			continue;
		asked++;
		if (!s->have_serial)
			continue;
		answered++;
		if (!newest || serial_newer(s->serial, newest->serial))
			newest = s;
	}
	*asked_out = asked;
	if (!asked)
		return 0;
	if (!answered) {
		add(o, "ns-inconsistent", CHECKLIST_FAIL, NULL, NULL,
		    "make the zone's name servers answer (or fix the NS records and the parent's delegation to "
		    "name servers that serve the zone)",
		    "none of the %zu name server addresses of the zone %s answered its SOA question", asked, zone);
		return 1;
	}
	*serial_out = newest->serial;
	for (size_t i = 0; i < f->nservers; i++) {
		const struct zonecheck_server *s = f->servers[i];
		if (strcmp(s->zone, zone) != 0 || s->not_asked)
			continue;
		if (!s->have_serial) {
			snprintf(fix, sizeof(fix), "make %s answer for %s at %s, or take it out of the zone's NS records "
			    "and the parent's delegation: resolvers waste time on it, and senders with short "
			    "deadlines defer mail", s->ns, zone, s->address);
			add(o, "ns-inconsistent", CHECKLIST_WARN, s->ns, s->address, fix,
			    "%s did not answer the SOA question for %s: %s", s->ns, zone,
			    s->failed ? s->failed : "no answer");
			problems++;
			continue;
		}
		if (s->serial != newest->serial) {
			snprintf(fix, sizeof(fix), "%s no longer gets the updates of %s: check the zone transfers to "
			    "it (NOTIFY, IXFR/AXFR, the primary's allow list, the secondary's log); once a TLSA record "
			    "changes, senders that ask it get the old records", s->ns, zone);
			add(o, "ns-inconsistent", CHECKLIST_WARN, s->ns, s->address, fix,
			    "%s serves serial %u of %s; %s [%s] serves %u", s->ns, s->serial, zone, newest->ns,
			    newest->address, newest->serial);
			problems++;
		}
	}
	/* The TLSA RRsets, each name once. */
	for (size_t si = 0; si < f->nservers; si++) {
		const struct zonecheck_server *s = f->servers[si];
		for (size_t ti = 0; ti < s->ntlsa; ti++)
			if (strcmp(s->zone, zone) == 0 && first_mention(f, zone, si, ti))
				problems += tlsa_findings(f, zone, s->tlsa[ti].name, newest, o);
	}
	return problems;
}

static void
ns_findings(const struct zonecheck_facts *f, struct out *o)
{
	char text[TEXT_MAX] = "", notasked[TEXT_MAX] = "";
	size_t problems = 0, asked_all = 0;

	for (size_t z = 0; z < f->nzones; z++) {
		size_t asked = 0;
		uint32_t serial = 0;
		problems += ns_zone_findings(f, f->zones[z], o, &asked, &serial);
		asked_all += asked;
		if (asked) {
			size_t used = strlen(text);
			snprintf(text + used, sizeof(text) - used, "%s%s: %zu server address%s, serial %u",
			    used ? "; " : "", f->zones[z], asked, asked == 1 ? "" : "es", serial);
		}
	}
	for (size_t i = 0; i < f->nservers; i++) {
		const struct zonecheck_server *s = f->servers[i];
		if (!s->not_asked)
			continue;
		size_t used = strlen(notasked);
		snprintf(notasked + used, sizeof(notasked) - used, "%s%s [%s]: %s", used ? ", " : "", s->ns,
		    s->address, s->not_asked);
	}
	if (problems)
		return;
	if (asked_all)
		add(o, "ns-inconsistent", CHECKLIST_OK, NULL, NULL, NULL,
		    "the name servers agree on the serial and the TLSA records (%s)%s%s%s%s", text,
		    *notasked ? "; not asked: " : "", notasked, f->incomplete ? "; left out: " : "",
		    f->incomplete ? f->incomplete : "");
	else if (*notasked)
		add(o, "ns-inconsistent", CHECKLIST_OK, NULL, NULL, NULL,
		    "not checked: no name server could be asked (%s)", notasked);
}

static void
nsec3_findings(const struct zonecheck_facts *f, struct out *o)
{
	char text[TEXT_MAX] = "";
	size_t seen = 0, bad = 0;

	for (size_t z = 0; z < f->nzones; z++) {
		const char *zone = f->zones[z];
		const struct zonecheck_server *worst = NULL, *any = NULL;
		for (size_t i = 0; i < f->nservers; i++) {
			const struct zonecheck_server *s = f->servers[i];
			if (strcmp(s->zone, zone) != 0 || (!s->nsec && !s->nsec3))
				continue;
			if (!any)
				any = s;
			if ((s->iterations > 0 || s->optout) &&
			    (!worst || s->iterations > worst->iterations || (s->optout && !worst->optout)))
				worst = s;
		}
		if (!any)
			continue;
		seen++;
		if (!worst) {
			size_t used = strlen(text);
			snprintf(text + used, sizeof(text) - used, "%s%s: %s", used ? "; " : "", zone,
			    any->nsec3 ? "NSEC3, 0 extra iterations, no opt-out" : "NSEC");
			continue;
		}
		bad++;
		char fix[TEXT_MAX], what[128] = "";
		if (worst->iterations > 0)
			snprintf(what, sizeof(what), "%u extra iterations", worst->iterations);
		if (worst->optout)
			snprintf(what + strlen(what), sizeof(what) - strlen(what), "%sopt-out", *what ? " and " : "");
		snprintf(fix, sizeof(fix), "re-sign %s with NSEC3 parameters 1 0 0 - (no extra iterations, no salt: "
		    "RFC 9276) and without opt-out unless it is a large zone of delegations: iterations only cost "
		    "validators, which treat high counts as insecure or bogus", zone);
		add(o, "nsec3-iterations", CHECKLIST_WARN, NULL, NULL, fix,
		    "the NSEC3 records of %s use %s (seen at %s [%s])", zone, what, worst->ns, worst->address);
	}
	if (seen && !bad)
		add(o, "nsec3-iterations", CHECKLIST_OK, NULL, NULL, NULL, "denial of existence as RFC 9276 "
		    "recommends (%s)", text);
}

int
zonecheck_findings(const struct zonecheck_facts *f, int64_t now, unsigned rrsig_days, struct checklist *out)
{
	struct out o = {out, 0};

	rrsig_findings(f, now, rrsig_days, &o);
	denial_findings(f, &o);
	ns_findings(f, &o);
	nsec3_findings(f, &o);
	return o.failed;
}

/* --- the gatherer --- */

enum op_kind {
	OP_SOA,		/* a candidate zone apex */
	OP_RRSET,	/* rrsig-expiring */
	OP_DENIAL,
	OP_NS,
	OP_NSADDR,
	OP_AQ_SOA,	/* direct questions */
	OP_AQ_TLSA,
	OP_AQ_NX,
};

struct op {
	struct list_node link;		/* on zc->ops */
	struct zonecheck *zc;
	enum op_kind kind;
	int dns_id;
	struct authquery *aq;
	char *name;			/* the question's */
	uint16_t type;
	char *host;			/* OP_RRSET, OP_DENIAL */
	bool want_nxdomain;		/* OP_DENIAL */
	size_t index;			/* OP_SOA: candidate; OP_NS, OP_NSADDR: zone */
	struct zonecheck_server *server;	/* direct questions */
};

struct zc_addr {
	char *ns;
	struct netaddr addr;
};

struct zc_zone {
	char *name;
	size_t ntlsa, nns, naddrs;
	char **tlsa;			/* TLSA names in the zone */
	char **ns;
	struct zc_addr addrs[ZONECHECK_MAX_SERVERS];
};

struct zc_candidate {
	char *name;
	bool apex;			/* a validated (or insecure) SOA answer with data */
};

struct zonecheck {
	struct event_base *base;
	struct dns *dns;
	struct zonecheck_settings s;
	zonecheck_callback *cb;
	void *arg;
	struct zonecheck_facts facts;
	size_t nhosts;
	char **host_names, **tlsa_names;
	size_t ncand;
	struct zc_candidate *cand;
	size_t nzones;
	struct zc_zone zones[ZONECHECK_MAX_ZONES];
	struct list ops;
	size_t pending;			/* ops on the list */
	size_t queries;			/* questions asked, for the bound */
	int phase;
	bool failed;			/* out of memory */
	struct event *deadline;
	struct event *kick;		/* runs the next phase from the loop */
};

static void
lower_name(char *s)
{
	size_t n = strlen(s);

	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (n > 1 && s[n - 1] == '.')
		s[n - 1] = '\0';
}

static char *
name_dup(const char *s)
{
	char *c = strdup(s);

	if (c)
		lower_name(c);
	return c;
}

static void
free_op(struct op *op)
{
	free(op->name);
	free(op->host);
	free(op);
}

static void
zc_free(struct zonecheck *zc)
{
	while (zc->ops.first) {
		struct op *op = LIST_ENTRY(zc->ops.first, struct op, link);
		list_remove(&zc->ops, &op->link);
		if (op->aq)
			authquery_cancel(op->aq);
		else if (op->dns_id > 0)
			dns_cancel(zc->dns, op->dns_id);
		free_op(op);
	}
	if (zc->deadline)
		event_free(zc->deadline);
	if (zc->kick)
		event_free(zc->kick);
	for (size_t i = 0; i < zc->nhosts; i++) {
		free(zc->host_names[i]);
		free(zc->tlsa_names[i]);
	}
	free(zc->host_names);
	free(zc->tlsa_names);
	for (size_t i = 0; i < zc->ncand; i++)
		free(zc->cand[i].name);
	free(zc->cand);
	for (size_t z = 0; z < zc->nzones; z++) {
		struct zc_zone *zone = &zc->zones[z];
		free(zone->name);
		for (size_t i = 0; i < zone->ntlsa; i++)
			free(zone->tlsa[i]);
		for (size_t i = 0; i < zone->nns; i++)
			free(zone->ns[i]);
		for (size_t i = 0; i < zone->naddrs; i++)
			free(zone->addrs[i].ns);
		free(zone->tlsa);
		free(zone->ns);
	}
	zonecheck_facts_free(&zc->facts);
	free(zc);
}

static void
finish(struct zonecheck *zc)
{
	zc->cb(zc->arg, &zc->facts);
	zc_free(zc);
}

/* Whether one more question fits the bound; notes it once when not. */
static bool
may_ask(struct zonecheck *zc)
{
	if (zc->queries < ZONECHECK_MAX_QUERIES) {
		zc->queries++;
		return true;
	}
	if (zc->queries++ == ZONECHECK_MAX_QUERIES &&
	    zonecheck_facts_note_incomplete(&zc->facts, "more questions than " 
	    "the check asks at most; some were not asked") < 0)
		zc->failed = true;
	return false;
}

static struct op *
new_op(struct zonecheck *zc, enum op_kind kind, const char *name, uint16_t type)
{
	struct op *op = calloc(1, sizeof(*op));

	if (!op || !(op->name = strdup(name))) {
		free(op);
		zc->failed = true;
		return NULL;
	}
	op->zc = zc;
	op->kind = kind;
	op->type = type;
	return op;
}

static void on_answer(void *arg, struct dns_answer *a);
static void on_direct(void *arg, enum authquery_status st, const ldns_pkt *reply, const char *why);

/* Starts a lookup through the resolver; the op is freed when it cannot. */
static void
lookup(struct zonecheck *zc, struct op *op)
{
	if (!op)
		return;
	if (!may_ask(zc) || (op->dns_id = dns_lookup(zc->dns, op->name, op->type, on_answer, op)) < 0) {
		free_op(op);
		return;
	}
	list_push_front(&zc->ops, &op->link);
	zc->pending++;
}

static void
ask(struct zonecheck *zc, struct op *op, const struct netaddr *addr)
{
	struct authquery_settings as = {zc->s.port, zc->s.query_timeout_ms, true};

	if (!op)
		return;
	if (!may_ask(zc) || !(op->aq = authquery_start(zc->base, addr, &as, op->name, op->type, on_direct, op))) {
		if (op->kind == OP_AQ_SOA && zonecheck_server_set_failed(op->server, "the question could not be sent") < 0)
			zc->failed = true;
		free_op(op);
		return;
	}
	list_push_front(&zc->ops, &op->link);
	zc->pending++;
}

static int
add_candidate(struct zonecheck *zc, const char *name)
{
	for (size_t i = 0; i < zc->ncand; i++)
		if (strcmp(zc->cand[i].name, name) == 0)
			return 0;
	if (grow(&zc->cand, zc->ncand, sizeof(*zc->cand)) < 0)
		return -1;
	zc->cand[zc->ncand].apex = false;
	if (!(zc->cand[zc->ncand].name = strdup(name)))
		return -1;
	zc->ncand++;
	return 0;
}

/* Every ancestor of name, itself included, the root not. */
static int
add_ancestors(struct zonecheck *zc, const char *name)
{
	for (const char *p = name; p && *p; p = strchr(p, '.') ? strchr(p, '.') + 1 : NULL)
		if (add_candidate(zc, p) < 0)
			return -1;
	return 0;
}

static void
rrset(struct zonecheck *zc, const char *name, uint16_t type, const char *host)
{
	struct op *op = new_op(zc, OP_RRSET, name, type);

	if (op && host && !(op->host = strdup(host))) {
		free_op(op);
		zc->failed = true;
		return;
	}
	lookup(zc, op);
}

static void
denial(struct zonecheck *zc, const char *name, uint16_t type, const char *host, bool want_nxdomain)
{
	struct op *op = new_op(zc, OP_DENIAL, name, type);

	if (!op)
		return;
	op->want_nxdomain = want_nxdomain;
	if (host && !(op->host = strdup(host))) {
		free_op(op);
		zc->failed = true;
		return;
	}
	lookup(zc, op);
}

static void
phase_names(struct zonecheck *zc)
{
	const char *domain = zc->facts.domain;
	char nx[NEXTHOP_NAME_MAX + 64];

	if (add_ancestors(zc, domain) < 0)
		zc->failed = true;
	for (size_t i = 0; i < zc->nhosts; i++)
		if (add_ancestors(zc, zc->host_names[i]) < 0 || add_ancestors(zc, zc->tlsa_names[i]) < 0)
			zc->failed = true;
	for (size_t i = 0; i < zc->ncand; i++) {
		struct op *op = new_op(zc, OP_SOA, zc->cand[i].name, TYPE_SOA);
		if (op)
			op->index = i;
		lookup(zc, op);
	}
	rrset(zc, domain, RR_TYPE_MX, NULL);
	denial(zc, domain, ZONECHECK_UNUSED_TYPE, NULL, false);
	for (size_t i = 0; i < zc->nhosts; i++) {
		const char *h = zc->host_names[i];
		rrset(zc, h, RR_TYPE_A, h);
		rrset(zc, h, RR_TYPE_AAAA, h);
		rrset(zc, zc->tlsa_names[i], RR_TYPE_TLSA, h);
		denial(zc, h, ZONECHECK_UNUSED_TYPE, h, false);
		if ((size_t)snprintf(nx, sizeof(nx), "%s._tcp.%s", ZONECHECK_NX_LABEL, h) < sizeof(nx))
			denial(zc, nx, RR_TYPE_TLSA, h, true);
	}
}

/* The zone of name: its longest ancestor with an SOA, or NULL. */
static const char *
apex_of(const struct zonecheck *zc, const char *name)
{
	for (const char *p = name; p && *p; p = strchr(p, '.') ? strchr(p, '.') + 1 : NULL)
		for (size_t i = 0; i < zc->ncand; i++)
			if (zc->cand[i].apex && strcmp(zc->cand[i].name, p) == 0)
				return p;
	return NULL;
}

static struct zc_zone *
zone_for(struct zonecheck *zc, const char *name)
{
	const char *apex = apex_of(zc, name);

	if (!apex)
		return NULL;
	for (size_t z = 0; z < zc->nzones; z++)
		if (strcmp(zc->zones[z].name, apex) == 0)
			return &zc->zones[z];
	if (zc->nzones == ZONECHECK_MAX_ZONES) {
		if (zonecheck_facts_note_incomplete(&zc->facts, "zones beyond the first few") < 0)
			zc->failed = true;
		return NULL;
	}
	struct zc_zone *zone = &zc->zones[zc->nzones];
	if (!(zone->name = strdup(apex)) || zonecheck_facts_add_zone(&zc->facts, apex) < 0) {
		free(zone->name);
		zone->name = NULL;
		zc->failed = true;
		return NULL;
	}
	zc->nzones++;
	return zone;
}

static int
add_name(char ***names, size_t *n, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*names)[i], name) == 0)
			return 0;
	if (grow(names, *n, sizeof(**names)) < 0 || !((*names)[*n] = strdup(name)))
		return -1;
	(*n)++;
	return 0;
}

static void
phase_zones(struct zonecheck *zc)
{
	struct zc_zone *zone;

	zone_for(zc, zc->facts.domain);
	for (size_t i = 0; i < zc->nhosts; i++) {
		zone_for(zc, zc->host_names[i]);
		if ((zone = zone_for(zc, zc->tlsa_names[i])) && add_name(&zone->tlsa, &zone->ntlsa, zc->tlsa_names[i]) < 0)
			zc->failed = true;
	}
	for (size_t z = 0; z < zc->nzones; z++) {
		rrset(zc, zc->zones[z].name, RR_TYPE_DNSKEY, NULL);
		struct op *op = new_op(zc, OP_NS, zc->zones[z].name, TYPE_NS);
		if (op)
			op->index = z;
		lookup(zc, op);
	}
}

static void
phase_ns_addresses(struct zonecheck *zc)
{
	for (size_t z = 0; z < zc->nzones; z++)
		for (size_t n = 0; n < zc->zones[z].nns; n++) {
			struct op *a = new_op(zc, OP_NSADDR, zc->zones[z].ns[n], RR_TYPE_A);
			struct op *aaaa = new_op(zc, OP_NSADDR, zc->zones[z].ns[n], RR_TYPE_AAAA);
			if (a)
				a->index = z;
			if (aaaa)
				aaaa->index = z;
			lookup(zc, a);
			lookup(zc, aaaa);
		}
}

static void
phase_servers(struct zonecheck *zc)
{
	char text[INET6_ADDRSTRLEN], nx[NEXTHOP_NAME_MAX + 64];

	for (size_t z = 0; z < zc->nzones; z++) {
		struct zc_zone *zone = &zc->zones[z];
		for (size_t i = 0; i < zone->naddrs; i++) {
			const struct netaddr *addr = &zone->addrs[i].addr;
			const char *special = netaddr_special(addr);
			char why[128] = "";
			netaddr_format(addr, text, sizeof(text));
			if (special && !zc->s.allow_private)
				snprintf(why, sizeof(why), "a special-purpose address (%s; probe_allow_private = no)", special);
			struct zonecheck_server *s = zonecheck_facts_add_server(&zc->facts, zone->name,
			    zone->addrs[i].ns, text, *why ? why : NULL);
			if (!s) {
				zc->failed = true;
				return;
			}
			if (*why)
				continue;
			struct op *op = new_op(zc, OP_AQ_SOA, zone->name, TYPE_SOA);
			if (op)
				op->server = s;
			ask(zc, op, addr);
			for (size_t t = 0; t < zone->ntlsa; t++) {
				if ((op = new_op(zc, OP_AQ_TLSA, zone->tlsa[t], RR_TYPE_TLSA)))
					op->server = s;
				ask(zc, op, addr);
			}
			if ((size_t)snprintf(nx, sizeof(nx), "%s.%s", ZONECHECK_NX_LABEL, zone->name) < sizeof(nx) &&
			    (op = new_op(zc, OP_AQ_NX, nx, RR_TYPE_A)))
				op->server = s;
			else
				op = NULL;
			ask(zc, op, addr);
		}
	}
}

/* Runs phases until one has questions out, or finishes. */
static void
advance(struct zonecheck *zc)
{
	while (zc->pending == 0 && !zc->failed) {
		switch (zc->phase++) {
		case 0:
			phase_names(zc);
			break;
		case 1:
			phase_zones(zc);
			break;
		case 2:
			phase_ns_addresses(zc);
			break;
		case 3:
			phase_servers(zc);
			break;
		default:
			finish(zc);
			return;
		}
	}
	if (zc->failed && zc->pending == 0) {
		if (zonecheck_facts_note_incomplete(&zc->facts, "out of memory") < 0) {
			/* The callback still runs: the facts so far are true. */
		}
		finish(zc);
	}
}

static void
op_done(struct op *op)
{
	struct zonecheck *zc = op->zc;

	list_remove(&zc->ops, &op->link);
	zc->pending--;
	free_op(op);
	advance(zc);
}

static void
take_ns(struct zonecheck *zc, struct op *op, const struct dns_answer *a)
{
	struct zc_zone *zone = &zc->zones[op->index];
	char name[NEXTHOP_NAME_MAX + 1];

	if (a->outcome != DNS_DATA || a->security == DNS_BOGUS)
		return;
	for (size_t i = 0; i < a->count; i++) {
		if (zone->nns == ZONECHECK_MAX_SERVERS) {
			if (zonecheck_facts_note_incomplete(&zc->facts, "name servers beyond the first few") < 0)
				zc->failed = true;
			return;
		}
		if (rr_name(a->rdata[i].data, a->rdata[i].len, name) > 0 && add_name(&zone->ns, &zone->nns, name) < 0)
			zc->failed = true;
	}
}

static void
take_address(struct zonecheck *zc, struct op *op, const struct dns_answer *a)
{
	struct zc_zone *zone = &zc->zones[op->index];
	char text[INET6_ADDRSTRLEN];
	struct netaddr addr;

	if (a->outcome != DNS_DATA || a->security == DNS_BOGUS)
		return;
	for (size_t i = 0; i < a->count; i++) {
		if (rr_address(op->type, a->rdata[i].data, a->rdata[i].len, text, sizeof(text)) < 0 ||
		    netaddr_parse(text, &addr) < 0)
			continue;
		bool known = false;
		for (size_t j = 0; j < zone->naddrs && !known; j++)
			known = netaddr_equal(&zone->addrs[j].addr, &addr);
		if (known)
			continue;
		if (zone->naddrs == ZONECHECK_MAX_SERVERS) {
			if (zonecheck_facts_note_incomplete(&zc->facts, "name server addresses beyond the first few") < 0)
				zc->failed = true;
			return;
		}
		if (!(zone->addrs[zone->naddrs].ns = strdup(op->name))) {
			zc->failed = true;
			return;
		}
		zone->addrs[zone->naddrs++].addr = addr;
	}
}

static void
on_answer(void *arg, struct dns_answer *a)
{
	struct op *op = arg;
	struct zonecheck *zc = op->zc;

	op->dns_id = 0;
	switch (op->kind) {
	case OP_SOA:
		/* An alias is no apex, whatever its target is. */
		zc->cand[op->index].apex = a->outcome == DNS_DATA && a->security != DNS_BOGUS && !a->canonname;
		break;
	case OP_RRSET:
		if (a->outcome == DNS_DATA && zonecheck_facts_add_rrset(&zc->facts, op->name, op->type, op->host,
		    a->security == DNS_SECURE ? a->sig_expires : 0) < 0)
			zc->failed = true;
		break;
	case OP_DENIAL:
		if (zonecheck_facts_add_denial(&zc->facts, op->name, op->type, op->host, op->want_nxdomain,
		    a->outcome, a->security, a->why) < 0)
			zc->failed = true;
		break;
	case OP_NS:
		take_ns(zc, op, a);
		break;
	case OP_NSADDR:
		take_address(zc, op, a);
		break;
	default:
		break;
	}
	dns_answer_free(a);
	op_done(op);
}

/* A TLSA RRset from a direct reply: each record's fields, the records
 * sorted; NULL out of memory. */
static int
cmp_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
tlsa_text(const ldns_pkt *p, const char *name)
{
	const ldns_rr_list *an = ldns_pkt_answer(p);
	ldns_rdf *owner = NULL;
	size_t n = 0, len = 1;
	char **recs = NULL, *out = NULL;

	if (ldns_str2rdf_dname(&owner, name) != LDNS_STATUS_OK)
		return NULL;
	for (size_t i = 0; an && i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_TLSA || ldns_dname_compare(ldns_rr_owner(rr), owner) != 0)
			continue;
		ldns_buffer *b = ldns_buffer_new(256);
		if (!b)
			goto done;
		for (size_t k = 0; k < ldns_rr_rd_count(rr); k++) {
			if (k)
				ldns_buffer_printf(b, " ");
			ldns_rdf2buffer_str(b, ldns_rr_rdf(rr, k));
		}
		char *s = ldns_buffer_export2str(b);
		ldns_buffer_free(b);
		if (!s || grow(&recs, n, sizeof(*recs)) < 0) {
			free(s);
			goto done;
		}
		recs[n++] = s;
		len += strlen(s) + 2;
	}
	if (n)
		qsort(recs, n, sizeof(*recs), cmp_strings);
	if ((out = malloc(len))) {
		out[0] = '\0';
		for (size_t i = 0; i < n; i++) {
			if (i)
				strcat(out, "; ");
			strcat(out, recs[i]);
		}
	}
done:
	for (size_t i = 0; i < n; i++)
		free(recs[i]);
	free(recs);
	ldns_rdf_deep_free(owner);
	return out;
}

static void
direct_soa(struct zonecheck *zc, struct op *op, const ldns_pkt *p)
{
	const ldns_rr_list *an = ldns_pkt_answer(p);
	ldns_rdf *owner = NULL;
	char why[128];

	if (ldns_pkt_get_rcode(p) != LDNS_RCODE_NOERROR || !ldns_pkt_aa(p)) {
		ldns_lookup_table *rc = ldns_lookup_by_id(ldns_rcodes, ldns_pkt_get_rcode(p));
		snprintf(why, sizeof(why), "%s%s", rc ? rc->name : "an unknown rcode",
		    ldns_pkt_aa(p) ? "" : " without the AA flag: it does not serve the zone");
		if (zonecheck_server_set_failed(op->server, why) < 0)
			zc->failed = true;
		return;
	}
	if (ldns_str2rdf_dname(&owner, op->name) != LDNS_STATUS_OK) {
		zc->failed = true;
		return;
	}
	for (size_t i = 0; an && i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && ldns_rr_rd_count(rr) >= 3 &&
		    ldns_dname_compare(ldns_rr_owner(rr), owner) == 0) {
			zonecheck_server_set_serial(op->server, ldns_rdf2native_int32(ldns_rr_rdf(rr, 2)));
			ldns_rdf_deep_free(owner);
			return;
		}
	}
	ldns_rdf_deep_free(owner);
	if (zonecheck_server_set_failed(op->server, "an answer without the zone's SOA record") < 0)
		zc->failed = true;
}

static void
direct_tlsa(struct zonecheck *zc, struct op *op, const ldns_pkt *p)
{
	ldns_pkt_rcode rc = ldns_pkt_get_rcode(p);
	char *text = NULL;
	int r;

	if (rc != LDNS_RCODE_NOERROR && rc != LDNS_RCODE_NXDOMAIN) {
		ldns_lookup_table *t = ldns_lookup_by_id(ldns_rcodes, rc);
		r = zonecheck_server_add_tlsa(op->server, op->name, NULL, t ? t->name : "an unknown rcode");
	} else if (!(text = tlsa_text(p, op->name))) {
		r = -1;
	} else {
		r = zonecheck_server_add_tlsa(op->server, op->name, text, NULL);
	}
	free(text);
	if (r < 0)
		zc->failed = true;
}

static void
direct_nx(struct op *op, const ldns_pkt *p)
{
	const ldns_rr_list *ns = ldns_pkt_authority(p);

	for (size_t i = 0; ns && i < ldns_rr_list_rr_count(ns); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(ns, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_NSEC3 && ldns_rr_rd_count(rr) >= 4) {
			zonecheck_server_set_denial(op->server, true, ldns_nsec3_iterations(rr), ldns_nsec3_optout(rr));
			return;
		}
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_NSEC)
			zonecheck_server_set_denial(op->server, false, 0, false);
	}
}

static void
on_direct(void *arg, enum authquery_status st, const ldns_pkt *reply, const char *why)
{
	struct op *op = arg;
	struct zonecheck *zc = op->zc;
	char text[256];

	op->aq = NULL;
	if (st == AUTHQUERY_NO_ROUTE && op->kind == OP_AQ_SOA) {
		/* No fault of the server's: an IPv6 address from a host
		 * without IPv6. Said, not judged. */
		snprintf(text, sizeof(text), "no route from here (%s)", why ? why : "unreachable");
		if (zonecheck_server_set_not_asked(op->server, text) < 0)
			zc->failed = true;
	} else if (st != AUTHQUERY_OK) {
		snprintf(text, sizeof(text), "%s%s%s", authquery_status_name(st),
		    why && strcmp(why, "REFUSED") != 0 ? ": " : "", why && strcmp(why, "REFUSED") != 0 ? why : "");
		if ((op->kind == OP_AQ_SOA && zonecheck_server_set_failed(op->server, text) < 0) ||
		    (op->kind == OP_AQ_TLSA && zonecheck_server_add_tlsa(op->server, op->name, NULL, text) < 0))
			zc->failed = true;
	} else if (op->kind == OP_AQ_SOA) {
		direct_soa(zc, op, reply);
	} else if (op->kind == OP_AQ_TLSA) {
		direct_tlsa(zc, op, reply);
	} else {
		direct_nx(op, reply);
	}
	op_done(op);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct zonecheck *zc = arg;
	const char *late = "no reply within the check's deadline";

	for (struct list_node *l = zc->ops.first; l; l = l->next) {
		struct op *op = LIST_ENTRY(l, struct op, link);
		if ((op->kind == OP_AQ_SOA && zonecheck_server_set_failed(op->server, late) < 0) ||
		    (op->kind == OP_AQ_TLSA && zonecheck_server_add_tlsa(op->server, op->name, NULL, late) < 0))
			zc->failed = true;
	}
	char note[96];
	snprintf(note, sizeof(note), "what had not come back after %u ms", zc->s.timeout_ms);
	if (zonecheck_facts_note_incomplete(&zc->facts, note) < 0)
		zc->failed = true;
	finish(zc);
}

static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
	advance(arg);
}

struct zonecheck_settings
zonecheck_default_settings(void)
{
	struct zonecheck_settings s = {ZONECHECK_DEFAULT_TIMEOUT_MS, ZONECHECK_DEFAULT_QUERY_TIMEOUT_MS, 53, false};

	return s;
}

struct zonecheck *
zonecheck_start(struct event_base *base, struct dns *dns, const struct zonecheck_settings *s,
    const char *domain, const struct zonecheck_host *hosts, size_t nhosts, zonecheck_callback *cb, void *arg)
{
	struct zonecheck *zc = calloc(1, sizeof(*zc));
	struct timeval tv = {s->timeout_ms / 1000, (s->timeout_ms % 1000) * 1000}, now = {0, 0};
	char tlsa[NEXTHOP_NAME_MAX + 16];

	if (!zc)
		return NULL;
	zc->base = base;
	zc->dns = dns;
	zc->s = *s;
	zc->cb = cb;
	zc->arg = arg;
	if (zonecheck_facts_init(&zc->facts, domain) < 0)
		goto fail;
	lower_name(zc->facts.domain);
	if (nhosts > ZONECHECK_MAX_HOSTS) {
		char note[64];
		snprintf(note, sizeof(note), "MX hosts beyond the first %d", ZONECHECK_MAX_HOSTS);
		if (zonecheck_facts_note_incomplete(&zc->facts, note) < 0)
			goto fail;
		nhosts = ZONECHECK_MAX_HOSTS;
	}
	if (nhosts && (!(zc->host_names = calloc(nhosts, sizeof(char *))) ||
	    !(zc->tlsa_names = calloc(nhosts, sizeof(char *)))))
		goto fail;
	zc->nhosts = nhosts;
	for (size_t i = 0; i < nhosts; i++) {
		const char *t = hosts[i].tlsa_name;
		if (!t || !*t) {
			snprintf(tlsa, sizeof(tlsa), "_25._tcp.%s", hosts[i].name);
			t = tlsa;
		}
		if (!(zc->host_names[i] = name_dup(hosts[i].name)) || !(zc->tlsa_names[i] = name_dup(t)))
			goto fail;
	}
	/* The first phase starts from the loop, so that the callback never
	 * runs inside zonecheck_start() whatever the back end does. */
	if (!(zc->deadline = evtimer_new(base, on_deadline, zc)) || !(zc->kick = evtimer_new(base, on_kick, zc)) ||
	    evtimer_add(zc->deadline, &tv) < 0 || evtimer_add(zc->kick, &now) < 0)
		goto fail;
	return zc;
fail:
	zc_free(zc);
	return NULL;
}

void
zonecheck_cancel(struct zonecheck *zc)
{
	if (zc)
		zc_free(zc);
}
