/* resolve - DNS facts for one next hop; see resolve.h for the contract. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "dns/resolve.h"
#include "dns/rr.h"
#include "util/text.h"
#include "rules/tlsa.h"

/* STEP_EARLY_TLSA: the TLSA lookup at the host's own name, started with
 * its address lookups; its answer counts only once they say it should. */
enum step { STEP_MX, STEP_A, STEP_AAAA, STEP_CNAME, STEP_TLSA, STEP_EARLY_TLSA };

struct pending {
	struct resolve *r;
	int host;
	enum step step;
	int id;			/* dns lookup id while in flight, else 0 */
};

struct host_state {
	struct pending a, aaaa, cname, tlsa, early_tlsa;
	bool a_done, aaaa_done;
	/* The early TLSA lookup: its answer, when it came before the address
	 * lookups decided whether it counts; early_wanted once they did and
	 * it had not come yet. */
	struct dns_answer *early_answer;
	bool early_wanted;
	bool malformed;
	bool tlsa_at_original;	/* TLSA at the host's own name, not its CNAME target */
	char canon[NEXTHOP_NAME_MAX + 1];
	char failure[200];	/* what failed, for the TEMP reason */
};

struct resolve {
	struct dns *dns;
	resolve_callback *cb;
	void *arg;
	struct resolve_result res;
	struct pending mx;
	struct host_state *hs;
	unsigned in_flight;
	bool have_ttl;
	/* The MX answer, unsigned and not through a CNAME, proves the
	 * domain's zone unsigned: hosts named within it are too, and get no
	 * early TLSA lookup. */
	bool mx_zone_unsigned;
	size_t lookups_cap;
};

static enum policy_dns
classify(const struct dns_answer *a)
{
	bool secure = a->security == DNS_SECURE;

	if (a->security == DNS_BOGUS)
		return POLICY_DNS_BOGUS;
	switch (a->outcome) {
	case DNS_DATA:
		return secure ? POLICY_DNS_SECURE : POLICY_DNS_INSECURE;
	case DNS_NODATA:
	case DNS_NXDOMAIN:
		return secure ? POLICY_DNS_SECURE_DENIAL : POLICY_DNS_INSECURE_DENIAL;
	case DNS_SERVFAIL:
		return POLICY_DNS_SERVFAIL;
	case DNS_TIMEOUT:
		return POLICY_DNS_TIMEOUT;
	}
	return POLICY_DNS_SERVFAIL;
}

static void
describe_failure(char *dst, size_t size, const struct dns_answer *a)
{
	const char *how = a->security == DNS_BOGUS ? "failed DNSSEC validation"
	    : a->outcome == DNS_TIMEOUT ? "timed out" : "failed (SERVFAIL)";
	char why[160];

	text_printable(why, sizeof(why), a->why ? a->why : "", a->why ? strlen(a->why) : 0);
	snprintf(dst, size, "%s lookup for %s %s%s%s", rr_type_name(a->qtype), a->qname, how,
	    a->why ? ": " : "", why);
}

static void
note_ttl(struct resolve *r, const struct dns_answer *a)
{
	if (policy_dns_failed(classify(a)))
		return;
	if (!r->have_ttl || a->ttl < r->res.ttl)
		r->res.ttl = a->ttl;
	r->have_ttl = true;
}

static char *
record_text(uint16_t type, const struct dns_rdata *rd)
{
	struct buf b;
	char text[NEXTHOP_NAME_MAX + 8];
	uint16_t pref;
	struct tlsa_record t;

	buf_init(&b);
	switch (type) {
	case RR_TYPE_MX:
		if (rr_mx(rd->data, rd->len, &pref, text) == 0) {
			buf_printf(&b, "%u %s", pref, text);
			return buf_detach(&b);
		}
		break;
	case RR_TYPE_A:
	case RR_TYPE_AAAA:
		if (rr_address(type, rd->data, rd->len, text, sizeof(text)) == 0)
			return strdup(text);
		break;
	case RR_TYPE_CNAME:
		if (rr_name(rd->data, rd->len, text) == (int)rd->len)
			return strdup(text);
		break;
	case RR_TYPE_TLSA:
		if (tlsa_parse(rd->data, rd->len, &t) == 0 && tlsa_format(&t, &b) == 0)
			return buf_detach(&b);
		break;
	}
	buf_reset(&b);
	buf_printf(&b, "\\# %zu ", rd->len);
	for (size_t i = 0; i < rd->len; i++)
		buf_printf(&b, "%02x", rd->data[i]);
	return buf_detach(&b);
}

/* The trace is for people: when memory runs out it is cut short, and the
 * decision goes on without it. */
static void
record_lookup(struct resolve *r, const struct dns_answer *a, int host)
{
	if (r->res.nlookups == r->lookups_cap) {
		size_t cap = r->lookups_cap ? 2 * r->lookups_cap : 8;
		struct resolve_lookup *l = realloc(r->res.lookups, cap * sizeof(*l));
		if (!l)
			return;
		r->res.lookups = l;
		r->lookups_cap = cap;
	}
	struct resolve_lookup *l = &r->res.lookups[r->res.nlookups];
	memset(l, 0, sizeof(*l));
	if (!(l->name = strdup(a->qname)))
		return;
	r->res.nlookups++;
	l->type = a->qtype;
	l->host = host;
	l->outcome = a->outcome;
	l->security = a->security;
	l->ttl = a->ttl;
	/* The resolver's texts carry names from the answers: shown as they
	 * are, they could end a log line or reach a terminal as escapes. */
	l->canonname = a->canonname ? text_printable_dup(a->canonname) : NULL;
	l->why = a->why ? text_printable_dup(a->why) : NULL;
	if (!a->count)
		return;
	l->records = calloc(a->count, sizeof(char *));
	l->notes = calloc(a->count, sizeof(char *));
	if (!l->records || !l->notes)
		return;
	for (size_t i = 0; i < a->count; i++) {
		struct tlsa_record t;
		const char *why = NULL;
		if (!(l->records[l->nrecords] = record_text(a->qtype, &a->rdata[i])))
			continue;
		if (a->qtype == RR_TYPE_TLSA &&
		    (tlsa_parse(a->rdata[i].data, a->rdata[i].len, &t) < 0 || !tlsa_usable(&t, &why)))
			l->notes[l->nrecords] = why ? why : "shorter than a TLSA record";
		l->nrecords++;
	}
}

static void
free_result(struct resolve_result *res)
{
	for (size_t i = 0; i < res->nlookups; i++) {
		struct resolve_lookup *l = &res->lookups[i];
		for (size_t j = 0; j < l->nrecords; j++)
			free(l->records[j]);
		free(l->records);
		free(l->notes);
		free(l->name);
		free(l->canonname);
		free(l->why);
	}
	free(res->lookups);
	for (unsigned i = 0; res->hosts && i < res->nhosts; i++) {
		for (size_t j = 0; j < res->hosts[i].ntlsa; j++)
			free(res->hosts[i].tlsa[j].data);
		free(res->hosts[i].tlsa);
	}
	free(res->hosts);
}

static int
dup_lookup(struct resolve_lookup *dst, const struct resolve_lookup *src)
{
	*dst = *src;
	dst->name = dst->canonname = dst->why = NULL;
	dst->records = NULL;
	dst->notes = NULL;
	dst->nrecords = 0;
	if (!(dst->name = strdup(src->name)) ||
	    (src->canonname && !(dst->canonname = strdup(src->canonname))) ||
	    (src->why && !(dst->why = strdup(src->why))))
		return -1;
	if (src->nrecords == 0)
		return 0;
	if (!(dst->records = calloc(src->nrecords, sizeof(*dst->records))) ||
	    !(dst->notes = calloc(src->nrecords, sizeof(*dst->notes))))
		return -1;
	for (; dst->nrecords < src->nrecords; dst->nrecords++) {
		if (!(dst->records[dst->nrecords] = strdup(src->records[dst->nrecords])))
			return -1;
		dst->notes[dst->nrecords] = src->notes[dst->nrecords];
	}
	return 0;
}

static int
dup_host(struct resolve_host *dst, const struct resolve_host *src)
{
	*dst = *src;
	dst->tlsa = NULL;
	dst->ntlsa = 0;
	if (src->ntlsa == 0)
		return 0;
	if (!(dst->tlsa = calloc(src->ntlsa, sizeof(*dst->tlsa))))
		return -1;
	for (; dst->ntlsa < src->ntlsa; dst->ntlsa++) {
		const struct dns_rdata *rd = &src->tlsa[dst->ntlsa];
		if (!(dst->tlsa[dst->ntlsa].data = malloc(rd->len ? rd->len : 1)))
			return -1;
		memcpy(dst->tlsa[dst->ntlsa].data, rd->data, rd->len);
		dst->tlsa[dst->ntlsa].len = rd->len;
	}
	return 0;
}

struct resolve_result *
resolve_result_dup(const struct resolve_result *r)
{
	struct resolve_result *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	*c = *r;
	c->hosts = NULL;
	c->lookups = NULL;
	c->nhosts = 0;
	c->nlookups = 0;
	if (r->nhosts && !(c->hosts = calloc(r->nhosts, sizeof(*c->hosts))))
		goto fail;
	/* Counted as each is copied, so that a failure frees what is there. */
	for (; c->nhosts < r->nhosts; c->nhosts++)
		if (dup_host(&c->hosts[c->nhosts], &r->hosts[c->nhosts]) < 0) {
			c->nhosts++;
			goto fail;
		}
	if (r->nlookups && !(c->lookups = calloc(r->nlookups, sizeof(*c->lookups))))
		goto fail;
	for (; c->nlookups < r->nlookups; c->nlookups++)
		if (dup_lookup(&c->lookups[c->nlookups], &r->lookups[c->nlookups]) < 0) {
			c->nlookups++;
			goto fail;
		}
	return c;
fail:
	resolve_result_free(c);
	return NULL;
}

void
resolve_result_free(struct resolve_result *r)
{
	if (!r)
		return;
	free_result(r);
	free(r);
}

static void
free_resolve(struct resolve *r)
{
	for (unsigned i = 0; r->hs && i < r->res.nhosts; i++)
		dns_answer_free(r->hs[i].early_answer);
	free_result(&r->res);
	free(r->hs);
	free(r);
}

static void on_answer(void *arg, struct dns_answer *a);
static void count_answer(struct resolve *r, struct pending *p, const struct dns_answer *a);

static bool
start_lookup(struct resolve *r, struct pending *p, const char *name, uint16_t type)
{
	p->r = r;
	p->id = dns_lookup(r->dns, name, type, on_answer, p);
	if (p->id <= 0) {
		p->id = 0;
		return false;
	}
	r->in_flight++;
	return true;
}

/* "mx1.example dane, mx2.example failed (TLSA lookup for ... timed out)" */
static void
summarize_hosts(struct resolve *r)
{
	struct resolve_result *res = &r->res;
	size_t used = 0;

	for (unsigned i = 0; i < res->nhosts; i++) {
		const struct resolve_host *h = &res->hosts[i];
		const char *failure = h->verdict == POLICY_HOST_FAILED ? r->hs[i].failure : "";
		int n = snprintf(res->reason + used, sizeof(res->reason) - used, "%s%s %s%s%s%s",
		    i ? ", " : "", h->name, policy_host_verdict_name(h->verdict),
		    *failure ? " (" : "", failure, *failure ? ")" : "");
		if (n < 0 || (size_t)n >= sizeof(res->reason) - used)
			break;
		used += (size_t)n;
	}
}

/* A TEMP that DNSSEC caused: the MX lookup, or some lookup of every
 * failed host, was bogus. */
static bool
failed_validation(const struct resolve_result *res)
{
	unsigned failed = 0;

	if (res->answer.result != POLICY_TEMP)
		return false;
	if (res->facts.mx == POLICY_MX_FAILED)
		return res->facts.mx_dns == POLICY_DNS_BOGUS;
	for (unsigned i = 0; i < res->nhosts; i++) {
		const struct policy_host_facts *f = &res->hosts[i].facts;
		if (res->hosts[i].verdict != POLICY_HOST_FAILED)
			continue;
		failed++;
		if (f->a != POLICY_DNS_BOGUS && f->aaaa != POLICY_DNS_BOGUS && !(f->cname_looked_up && f->cname == POLICY_DNS_BOGUS) &&
		    !(f->tlsa_looked_up && f->tlsa == POLICY_DNS_BOGUS))
			return false;
	}
	return failed > 0;
}

static void
finish(struct resolve *r)
{
	struct resolve_result *res = &r->res;

	for (unsigned i = 0; i < res->nhosts; i++) {
		struct resolve_host *h = &res->hosts[i];
		if (r->hs[i].malformed) {
			h->verdict = POLICY_HOST_NOADDR;
			h->why = "malformed host name in MX record";
		} else {
			h->verdict = policy_host_verdict(&h->facts, &h->why);
		}
		res->facts.hosts[i] = h->verdict;
	}
	res->facts.nhosts = res->nhosts;
	res->answer = policy_decide(&res->facts);
	res->answer.bogus = failed_validation(res);
	if (res->facts.mx == POLICY_MX_HOSTS)
		summarize_hosts(r);
	else if (res->facts.mx == POLICY_MX_NXDOMAIN)
		snprintf(res->reason, sizeof(res->reason), "%s does not exist (%s NXDOMAIN)",
		    res->nexthop.name, policy_dns_name(res->facts.mx_dns));
	else if (res->facts.mx == POLICY_MX_NULL)
		snprintf(res->reason, sizeof(res->reason), "%s accepts no mail (null MX)", res->nexthop.name);
	if (!r->have_ttl)
		res->ttl = 0;
	r->cb(r->arg, res);
	free_resolve(r);
}

static void
tlsa_name(char *dst, size_t size, unsigned port, const char *host)
{
	snprintf(dst, size, "_%u._tcp.%s", port, host);
}

static void
start_tlsa(struct resolve *r, int i, const char *base)
{
	struct resolve_host *h = &r->res.hosts[i];
	struct host_state *hs = &r->hs[i];

	tlsa_name(h->tlsa_name, sizeof(h->tlsa_name), r->res.nexthop.port, base);
	h->facts.tlsa_looked_up = true;
	if (!start_lookup(r, &hs->tlsa, h->tlsa_name, RR_TYPE_TLSA)) {
		h->facts.tlsa = POLICY_DNS_SERVFAIL;
		snprintf(hs->failure, sizeof(hs->failure), "TLSA lookup could not start");
	}
}

static void
cancel_pending(struct resolve *r, struct pending *p)
{
	if (p->id) {
		dns_cancel(r->dns, p->id);
		p->id = 0;
	}
}

/* The host's own name needs no TLSA lookup after all (its addresses are
 * unsigned or failed, or the records at its CNAME target decided): the
 * early lookup is cancelled, or its answer dropped unread. */
static void
drop_early_tlsa(struct resolve *r, struct host_state *hs)
{
	if (hs->early_tlsa.id) {
		cancel_pending(r, &hs->early_tlsa);
		r->in_flight--;
	}
	dns_answer_free(hs->early_answer);
	hs->early_answer = NULL;
	hs->early_wanted = false;
}

/* The TLSA records at the host's own name count: the early lookup's
 * answer if it came, else as soon as it comes; a lookup of its own when
 * the early one could not start. */
static void
tlsa_at_own_name(struct resolve *r, int i)
{
	struct resolve_host *h = &r->res.hosts[i];
	struct host_state *hs = &r->hs[i];

	hs->tlsa_at_original = true;
	if (!hs->early_answer && !hs->early_tlsa.id) {
		start_tlsa(r, i, h->name);
		return;
	}
	tlsa_name(h->tlsa_name, sizeof(h->tlsa_name), r->res.nexthop.port, h->name);
	h->facts.tlsa_looked_up = true;
	if (!hs->early_answer) {
		hs->early_wanted = true;
		return;
	}
	struct dns_answer *a = hs->early_answer;
	hs->early_answer = NULL;
	count_answer(r, &hs->early_tlsa, a);
	dns_answer_free(a);
}

/* Where the TLSA records are looked for, as Postfix's own DANE does
 * (RFC 7672 section 2.2.2): signed addresses, at the CNAME-expanded name
 * first; unsigned addresses reached through a CNAME, at the host's own
 * name if that CNAME is signed, which a CNAME lookup tells. */
static void
host_done_addresses(struct resolve *r, int i)
{
	struct resolve_host *h = &r->res.hosts[i];
	struct host_state *hs = &r->hs[i];

	if (policy_host_wants_tlsa(h->facts.a, h->facts.aaaa)) {
		if (!hs->canon[0]) {
			tlsa_at_own_name(r, i);
			return;
		}
		/* The early lookup waits: it counts if nothing signed is at
		 * the expanded name. */
		hs->tlsa_at_original = false;
		start_tlsa(r, i, hs->canon);
		return;
	}
	if (!hs->canon[0] || !policy_host_insecure(h->facts.a, h->facts.aaaa)) {
		drop_early_tlsa(r, hs);
		return;
	}
	h->facts.cname_looked_up = true;
	if (!start_lookup(r, &hs->cname, h->name, RR_TYPE_CNAME)) {
		h->facts.cname = POLICY_DNS_SERVFAIL;
		snprintf(hs->failure, sizeof(hs->failure), "CNAME lookup could not start");
		drop_early_tlsa(r, hs);
	}
}

static void
on_cname(struct resolve *r, struct pending *p, const struct dns_answer *a)
{
	struct resolve_host *h = &r->res.hosts[p->host];
	struct host_state *hs = &r->hs[p->host];
	enum policy_dns d = classify(a);

	h->facts.cname = d;
	if (policy_dns_failed(d))
		describe_failure(hs->failure, sizeof(hs->failure), a);
	else if (policy_dns_denial(d))
		snprintf(hs->failure, sizeof(hs->failure), "CNAME lookup: no longer a CNAME");
	if (d != POLICY_DNS_SECURE) {
		drop_early_tlsa(r, hs);
		return;
	}
	tlsa_at_own_name(r, p->host);
}

static void
on_address(struct resolve *r, struct pending *p, const struct dns_answer *a)
{
	struct resolve_host *h = &r->res.hosts[p->host];
	struct host_state *hs = &r->hs[p->host];
	enum policy_dns d = classify(a);

	if (p->step == STEP_A) {
		h->facts.a = d;
		hs->a_done = true;
	} else {
		h->facts.aaaa = d;
		hs->aaaa_done = true;
	}
	if (policy_dns_failed(d) && !hs->failure[0])
		describe_failure(hs->failure, sizeof(hs->failure), a);
	/* Addresses from a failed (bogus) answer may be forged: Postfix skips
	 * the host, and so do probes. */
	for (size_t i = 0; !policy_dns_failed(d) && a->outcome == DNS_DATA && i < a->count &&
	    h->naddresses < RESOLVE_MAX_ADDRESSES; i++) {
		char text[64];
		if (rr_address(a->qtype, a->rdata[i].data, a->rdata[i].len, text, sizeof(text)) == 0 &&
		    netaddr_parse(text, &h->addresses[h->naddresses]) == 0)
			h->naddresses++;
	}
	if (a->canonname && !hs->canon[0] && nexthop_valid_hostname(a->canonname, strlen(a->canonname)))
		snprintf(hs->canon, sizeof(hs->canon), "%s", a->canonname);
	if (hs->a_done && hs->aaaa_done)
		host_done_addresses(r, p->host);
}

static void
count_tlsa(struct policy_host_facts *f, const struct dns_answer *a)
{
	struct tlsa_record t;
	const char *why;

	f->tlsa_usable = f->tlsa_unusable = 0;
	for (size_t i = 0; i < a->count; i++) {
		if (tlsa_parse(a->rdata[i].data, a->rdata[i].len, &t) == 0 && tlsa_usable(&t, &why))
			f->tlsa_usable++;
		else
			f->tlsa_unusable++;
	}
}

/* The validated records, for probes to check the server against. */
static void
keep_tlsa(struct resolve_host *h, const struct dns_answer *a)
{
	if (!a->count || !(h->tlsa = calloc(a->count, sizeof(*h->tlsa))))
		return;
	for (size_t i = 0; i < a->count; i++) {
		if (!(h->tlsa[h->ntlsa].data = malloc(a->rdata[i].len ? a->rdata[i].len : 1)))
			continue;
		memcpy(h->tlsa[h->ntlsa].data, a->rdata[i].data, a->rdata[i].len);
		h->tlsa[h->ntlsa++].len = a->rdata[i].len;
	}
}

static void
on_tlsa(struct resolve *r, struct pending *p, const struct dns_answer *a)
{
	struct resolve_host *h = &r->res.hosts[p->host];
	struct host_state *hs = &r->hs[p->host];
	enum policy_dns d = classify(a);

	/* RFC 7672 2.2.2: nothing (or nothing signed) at the expanded name,
	 * so try the original; a failure there is a failure, as for Postfix. */
	if (!hs->tlsa_at_original) {
		if (policy_dns_denial(d) || d == POLICY_DNS_INSECURE) {
			tlsa_at_own_name(r, p->host);
			return;
		}
		drop_early_tlsa(r, hs);
	}
	h->facts.tlsa = d;
	if (d == POLICY_DNS_SECURE) {
		count_tlsa(&h->facts, a);
		keep_tlsa(h, a);
	}
	if (policy_dns_failed(d))
		describe_failure(hs->failure, sizeof(hs->failure), a);
}

static int
add_host(struct resolve *r, const char *name, uint16_t pref, bool malformed)
{
	struct resolve_result *res = &r->res;

	for (unsigned i = 0; i < res->nhosts; i++)
		if (strcmp(res->hosts[i].name, name) == 0)
			return 0;	/* sorted input: the first has the lowest preference */
	if (res->nhosts == POLICY_MAX_HOSTS)
		return 0;
	struct resolve_host *h = &res->hosts[res->nhosts];
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->preference = pref;
	r->hs[res->nhosts].malformed = malformed;
	res->nhosts++;
	return 0;
}

struct mx_entry {
	uint16_t pref;
	bool malformed;
	char name[NEXTHOP_NAME_MAX + 1];
};

static int
by_preference(const void *x, const void *y)
{
	const struct mx_entry *a = x, *b = y;

	if (a->pref != b->pref)
		return a->pref < b->pref ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* Returns false when the MX RRset cannot be read at all. */
static bool
collect_mx_hosts(struct resolve *r, const struct dns_answer *a)
{
	struct mx_entry *e = calloc(a->count, sizeof(*e));

	if (!e)
		return false;
	for (size_t i = 0; i < a->count; i++) {
		if (rr_mx(a->rdata[i].data, a->rdata[i].len, &e[i].pref, e[i].name) < 0) {
			snprintf(e[i].name, sizeof(e[i].name), "(unreadable MX record)");
			e[i].malformed = true;
		} else if (strcmp(e[i].name, ".") == 0) {
			/* RFC 7505: the domain accepts no mail. */
			r->res.facts.mx = POLICY_MX_NULL;
		} else if (!nexthop_valid_hostname(e[i].name, strlen(e[i].name))) {
			e[i].malformed = true;
		}
	}
	if (r->res.facts.mx != POLICY_MX_NULL) {
		qsort(e, a->count, sizeof(*e), by_preference);
		for (size_t i = 0; i < a->count; i++)
			add_host(r, e[i].name, e[i].pref, e[i].malformed);
	}
	free(e);
	return true;
}

static void
start_hosts(struct resolve *r)
{
	for (unsigned i = 0; i < r->res.nhosts; i++) {
		struct resolve_host *h = &r->res.hosts[i];
		struct host_state *hs = &r->hs[i];
		if (hs->malformed)
			continue;
		hs->a.host = hs->aaaa.host = hs->cname.host = hs->tlsa.host = (int)i;
		hs->a.step = STEP_A;
		hs->aaaa.step = STEP_AAAA;
		hs->cname.step = STEP_CNAME;
		hs->tlsa.step = STEP_TLSA;
		hs->early_tlsa.host = (int)i;
		hs->early_tlsa.step = STEP_EARLY_TLSA;
		if (!start_lookup(r, &hs->a, h->name, RR_TYPE_A)) {
			h->facts.a = POLICY_DNS_SERVFAIL;
			hs->a_done = true;
			snprintf(hs->failure, sizeof(hs->failure), "A lookup could not start");
		}
		if (!start_lookup(r, &hs->aaaa, h->name, RR_TYPE_AAAA)) {
			h->facts.aaaa = POLICY_DNS_SERVFAIL;
			hs->aaaa_done = true;
			snprintf(hs->failure, sizeof(hs->failure), "AAAA lookup could not start");
		}
		/* RFC 7672 wants the TLSA records only once the addresses
		 * prove secure, but asking for them at once saves a round
		 * trip: two instead of three for a fresh destination. */
		if (!hs->a_done || !hs->aaaa_done) {
			char name[sizeof(h->tlsa_name)];
			tlsa_name(name, sizeof(name), r->res.nexthop.port, h->name);
			if (!(r->mx_zone_unsigned && nexthop_name_within(h->name, r->res.nexthop.name)))
				start_lookup(r, &hs->early_tlsa, name, RR_TYPE_TLSA);
		}
		if (hs->a_done && hs->aaaa_done)
			host_done_addresses(r, (int)i);
	}
}

static void
on_mx(struct resolve *r, const struct dns_answer *a)
{
	struct resolve_result *res = &r->res;
	enum policy_dns d = classify(a);

	res->facts.mx_dns = d;
	if (policy_dns_failed(d)) {
		res->facts.mx = POLICY_MX_FAILED;
		describe_failure(res->reason, sizeof(res->reason), a);
		return;
	}
	note_ttl(r, a);
	r->mx_zone_unsigned = (d == POLICY_DNS_INSECURE || d == POLICY_DNS_INSECURE_DENIAL) && !a->canonname;
	if (a->outcome == DNS_NXDOMAIN) {
		res->facts.mx = POLICY_MX_NXDOMAIN;
		return;
	}
	res->facts.mx = POLICY_MX_HOSTS;
	if (a->outcome == DNS_NODATA) {
		add_host(r, res->nexthop.name, 0, false);
	} else if (!collect_mx_hosts(r, a)) {
		res->facts.mx = POLICY_MX_FAILED;
		snprintf(res->reason, sizeof(res->reason), "out of memory reading the MX records");
		return;
	}
	if (res->facts.mx == POLICY_MX_HOSTS)
		start_hosts(r);
}

/* An answer that counts: recorded for explain, and acted on. */
static void
count_answer(struct resolve *r, struct pending *p, const struct dns_answer *a)
{
	record_lookup(r, a, p->step == STEP_MX ? -1 : p->host);
	switch (p->step) {
	case STEP_MX:
		on_mx(r, a);
		break;
	case STEP_A:
	case STEP_AAAA:
		note_ttl(r, a);
		on_address(r, p, a);
		break;
	case STEP_CNAME:
		note_ttl(r, a);
		on_cname(r, p, a);
		break;
	case STEP_TLSA:
	case STEP_EARLY_TLSA:
		note_ttl(r, a);
		on_tlsa(r, p, a);
		break;
	}
}

static void
on_answer(void *arg, struct dns_answer *a)
{
	struct pending *p = arg;
	struct resolve *r = p->r;

	p->id = 0;
	r->in_flight--;
	if (p->step == STEP_EARLY_TLSA && !r->hs[p->host].early_wanted) {
		/* Its addresses have not said yet whether it counts (had they
		 * said no, it would have been cancelled). */
		r->hs[p->host].early_answer = a;
	} else {
		count_answer(r, p, a);
		dns_answer_free(a);
	}
	if (r->in_flight == 0)
		finish(r);
}

struct resolve *
resolve_start(struct dns *dns, const struct nexthop *nh, resolve_callback *cb, void *arg)
{
	struct resolve *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->dns = dns;
	r->cb = cb;
	r->arg = arg;
	r->res.nexthop = *nh;
	r->res.hosts = calloc(POLICY_MAX_HOSTS, sizeof(*r->res.hosts));
	r->hs = calloc(POLICY_MAX_HOSTS, sizeof(*r->hs));
	if (!r->res.hosts || !r->hs)
		goto fail;
	if (nh->kind == NEXTHOP_HOST) {
		r->res.facts.host_nexthop = true;
		r->res.facts.mx = POLICY_MX_HOSTS;
		add_host(r, nh->name, 0, false);
		start_hosts(r);
	} else if (nh->kind == NEXTHOP_DOMAIN) {
		r->mx.step = STEP_MX;
		r->mx.host = -1;
		if (!start_lookup(r, &r->mx, nh->name, RR_TYPE_MX))
			goto fail;
	} else {
		goto fail;	/* resolve_without_dns() answers these */
	}
	if (r->in_flight == 0)
		goto fail;	/* nothing could start: the caller treats it as a failure */
	return r;
fail:
	resolve_cancel(r);
	return NULL;
}

void
resolve_cancel(struct resolve *r)
{
	if (!r)
		return;
	cancel_pending(r, &r->mx);
	for (unsigned i = 0; r->hs && i < r->res.nhosts; i++) {
		cancel_pending(r, &r->hs[i].a);
		cancel_pending(r, &r->hs[i].aaaa);
		cancel_pending(r, &r->hs[i].cname);
		cancel_pending(r, &r->hs[i].tlsa);
		cancel_pending(r, &r->hs[i].early_tlsa);
	}
	free_resolve(r);
}

bool
resolve_without_dns(const struct nexthop *nh, struct policy_answer *out, char *reason, size_t size)
{
	struct policy_facts f = {0};

	if (nh->kind == NEXTHOP_IP_LITERAL) {
		f.ip_literal = true;
		snprintf(reason, size, "IP literal %s: no DNS, so no DANE", nh->name);
	} else if (nh->kind == NEXTHOP_PARENT) {
		f.parent_form = true;
		snprintf(reason, size, "parent-domain lookup: subdomains are answered when asked for themselves");
	} else {
		return false;
	}
	*out = policy_decide(&f);
	return true;
}
