/* surveysum - the summary of a survey's JSON lines; see surveysum.h for
 * the contract.
 *
 * A line is read whole into a record first (surveyrecord.c: checked, hosts
 * in preference order, addresses parsed), so that a bad line leaves the
 * tables alone; then its host names and (host, address, port) triples are
 * interned and the domain's entry written, replacing an earlier one.
 *
 * Four tables, each a vector of entries and an index (surveyindex.h):
 *   domains    name, key facts, class, its host ids and address refs
 *   hosts      distinct MX host names, each with its provider
 *   providers  distinct registrable domains
 *   addresses  distinct (host, address, port) triples
 * Strings and each domain's id lists live in an arena (surveyarena.h),
 * freed only with the summary. An address ref is the triple's number
 * shifted left by 4 with the class in the low 4 bits.
 *
 * surveysum_finish() walks the domains once for every count, marking the
 * hosts, providers and triples the winning lines use, then once more for
 * the per-class counts of the top providers. */
#include "autoconfig.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <libpsl.h>

#include "util/hash.h"
#include "rules/policy.h"
#include "survey/surveyarena.h"
#include "survey/surveyindex.h"
#include "survey/surveyrecord.h"
#include "survey/surveysum.h"

_Static_assert(SURVEYCLASS_COUNT <= 16, "a class fits in the 4 low bits of an address ref");

#define REF_SHIFT 4
#define MAX_ADDRESS_IDS (UINT32_MAX >> REF_SHIFT)

struct domain {
	const char *name;
	int64_t time;
	uint32_t seq;			/* the line's number among the valid lines, from 1 */
	uint32_t nrefs;
	uint32_t *ids;			/* nhosts host ids, then nrefs address refs */
	uint16_t nhosts;
	uint8_t result, mx, mx_dns, rule, cls;
	bool mismatch;
};

struct host {
	const char *name;
	uint32_t provider;
	uint32_t mark;			/* the finish that counted it */
};

struct provider {
	const char *name;
	uint64_t domains;		/* this finish */
	uint32_t last;			/* the last domain (number + 1) counted */
	uint32_t rank;			/* 1 + place in the top, or 0 */
};

struct address {
	uint32_t host;
	uint32_t seq;			/* the latest winning line naming it; 0: none */
	uint16_t port;
	uint8_t family;			/* 4 or 6 */
	uint8_t cls;
	unsigned char addr[16];
};

struct surveysum {
	struct hash_key key;
	const psl_ctx_t *psl;
	psl_ctx_t *psl_own;		/* loaded from the system's file, or NULL */
	struct surveyarena arena;

	struct domain *dom;
	size_t ndom, capdom;
	struct surveyindex domidx;
	struct host *host;
	size_t nhost, caphost;
	struct surveyindex hostidx;
	struct provider *prov;
	size_t nprov, capprov;
	struct surveyindex providx;
	struct address *addr;
	size_t naddr, capaddr;
	struct surveyindex addridx;

	uint64_t lines, rejected;
	uint32_t valid;			/* valid lines so far */
	uint32_t generation;		/* finishes so far */
	bool finished;
	struct surveysum_result res;

	struct surveyrecord rec;	/* the line being read */
};

/* --- life cycle --- */

struct surveysum *
surveysum_create(void)
{
	unsigned char seed[16];
	struct surveysum *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	surveyarena_init(&s->arena);
	surveyrecord_init(&s->rec);
	/* The names are chosen by the domains' owners: a keyed table. */
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		memset(seed, 0x73, sizeof(seed));
	s->key = hash_key_from_bytes(seed);
	if (!(s->psl = psl_builtin()))
		s->psl = s->psl_own = psl_latest(NULL);
	if (!s->psl || surveyindex_init(&s->domidx) < 0 || surveyindex_init(&s->hostidx) < 0 ||
	    surveyindex_init(&s->providx) < 0 || surveyindex_init(&s->addridx) < 0) {
		surveysum_free(s);
		return NULL;
	}
	return s;
}

void
surveysum_free(struct surveysum *s)
{
	if (!s)
		return;
	surveyarena_free(&s->arena);
	free(s->dom);
	free(s->host);
	free(s->prov);
	free(s->addr);
	surveyindex_free(&s->domidx);
	surveyindex_free(&s->hostidx);
	surveyindex_free(&s->providx);
	surveyindex_free(&s->addridx);
	surveyrecord_free(&s->rec);
	psl_free(s->psl_own);
	free(s);
}

/* --- the tables --- */

/* Room for one more element; 0, or -1 with the vector unchanged. */
static int
vec_room(void **v, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 64;
	if (ncap > SIZE_MAX / elem)
		return -1;
	void *p = realloc(*v, ncap * elem);
	if (!p)
		return -1;
	*v = p;
	*cap = ncap;
	return 0;
}

static uint32_t
hash32(const struct surveysum *s, const void *p, size_t n)
{
	return (uint32_t)hash_siphash13(s->key, p, n);
}

static bool
domain_eq(const void *ctx, uint32_t id, const void *key)
{
	return strcmp(((const struct surveysum *)ctx)->dom[id].name, key) == 0;
}

static bool
host_eq(const void *ctx, uint32_t id, const void *key)
{
	return strcmp(((const struct surveysum *)ctx)->host[id].name, key) == 0;
}

static bool
provider_eq(const void *ctx, uint32_t id, const void *key)
{
	return strcmp(((const struct surveysum *)ctx)->prov[id].name, key) == 0;
}

static bool
address_eq(const void *ctx, uint32_t id, const void *key)
{
	const struct address *a = &((const struct surveysum *)ctx)->addr[id], *k = key;

	return a->host == k->host && a->port == k->port && a->family == k->family &&
	    memcmp(a->addr, k->addr, sizeof(a->addr)) == 0;
}

static int
intern_provider(struct surveysum *s, const char *name, uint32_t *id)
{
	uint32_t h = hash32(s, name, strlen(name));

	if (surveyindex_find(&s->providx, h, provider_eq, s, name, id))
		return 0;
	if (s->nprov >= UINT32_MAX - 1 || vec_room((void **)&s->prov, &s->capprov, s->nprov, sizeof(*s->prov)) < 0)
		return -1;
	struct provider *p = &s->prov[s->nprov];
	memset(p, 0, sizeof(*p));
	if (!(p->name = surveyarena_strdup(&s->arena, name)) || surveyindex_add(&s->providx, h, (uint32_t)s->nprov) < 0)
		return -1;
	*id = (uint32_t)s->nprov++;
	return 0;
}

static int
intern_host(struct surveysum *s, const char *name, uint32_t *id)
{
	uint32_t h = hash32(s, name, strlen(name));

	if (surveyindex_find(&s->hostidx, h, host_eq, s, name, id))
		return 0;
	if (s->nhost >= UINT32_MAX - 1 || vec_room((void **)&s->host, &s->caphost, s->nhost, sizeof(*s->host)) < 0)
		return -1;
	/* Where libpsl knows no registrable domain (a bare public suffix, a
	 * name without dots), the host name stands for itself. */
	const char *reg = psl_registrable_domain(s->psl, name);
	struct host *e = &s->host[s->nhost];
	memset(e, 0, sizeof(*e));
	if (intern_provider(s, reg ? reg : name, &e->provider) < 0 || !(e->name = surveyarena_strdup(&s->arena, name)) ||
	    surveyindex_add(&s->hostidx, h, (uint32_t)s->nhost) < 0)
		return -1;
	*id = (uint32_t)s->nhost++;
	return 0;
}

static int
intern_address(struct surveysum *s, uint32_t host, const struct surveyrecord_address *ra, uint32_t *id)
{
	struct address key = {.host = host, .port = ra->port, .family = ra->family};
	unsigned char bytes[4 + 2 + 1 + 16];

	memcpy(key.addr, ra->addr, sizeof(key.addr));
	memcpy(bytes, &host, 4);
	memcpy(bytes + 4, &key.port, 2);
	bytes[6] = key.family;
	memcpy(bytes + 7, key.addr, 16);
	uint32_t h = hash32(s, bytes, sizeof(bytes));
	if (surveyindex_find(&s->addridx, h, address_eq, s, &key, id))
		return 0;
	if (s->naddr >= MAX_ADDRESS_IDS || vec_room((void **)&s->addr, &s->capaddr, s->naddr, sizeof(*s->addr)) < 0)
		return -1;
	s->addr[s->naddr] = key;
	if (surveyindex_add(&s->addridx, h, (uint32_t)s->naddr) < 0)
		return -1;
	*id = (uint32_t)s->naddr++;
	return 0;
}

/* Writes the record into the tables. On failure the counts are as
 * before: at most some host names and addresses no domain uses remain. */
static int
commit(struct surveysum *s, const struct surveyrecord *rec)
{
	uint32_t *ids = surveyarena_alloc(&s->arena, (rec->nhosts + rec->naddrs) * sizeof(*ids) + 1);
	uint32_t *ref = ids + rec->nhosts;
	uint32_t id;

	if (!ids)
		return -1;
	for (size_t k = 0; k < rec->nhosts; k++) {
		const struct surveyrecord_host *h = surveyrecord_host(rec, k);
		if (intern_host(s, h->name, &ids[k]) < 0)
			return -1;
		for (uint32_t j = 0; j < h->n; j++) {
			const struct surveyrecord_address *a = &rec->addrs[h->first + j];
			if (intern_address(s, ids[k], a, &id) < 0)
				return -1;
			*ref++ = id << REF_SHIFT | a->cls;
		}
	}

	uint32_t h = hash32(s, rec->domain, strlen(rec->domain));
	struct domain *d;
	if (surveyindex_find(&s->domidx, h, domain_eq, s, rec->domain, &id)) {
		d = &s->dom[id];
	} else {
		if (s->ndom >= UINT32_MAX - 1 || vec_room((void **)&s->dom, &s->capdom, s->ndom, sizeof(*s->dom)) < 0)
			return -1;
		d = &s->dom[s->ndom];
		if (!(d->name = surveyarena_strdup(&s->arena, rec->domain)) ||
		    surveyindex_add(&s->domidx, h, (uint32_t)s->ndom) < 0)
			return -1;
		s->ndom++;
	}
	d->time = rec->time;
	d->seq = ++s->valid;
	d->ids = ids;
	d->nhosts = (uint16_t)rec->nhosts;
	d->nrefs = (uint32_t)rec->naddrs;
	d->result = (uint8_t)rec->result;
	d->rule = (uint8_t)rec->rule;
	d->mx = (uint8_t)rec->mx;
	d->mx_dns = (uint8_t)rec->mx_security;
	d->cls = (uint8_t)rec->cls;
	d->mismatch = rec->mismatch;
	return 0;
}

int
surveysum_add_line(struct surveysum *s, const char *line, size_t len, const char **why)
{
	s->lines++;
	s->finished = false;
	/* A line too long is refused whatever the count (surveyrecord_parse). */
	if (len <= SURVEYRECORD_LINE_MAX && s->valid == UINT32_MAX - 1) {
		s->lines--;
		*why = "too many lines";
		return SURVEYSUM_NOMEM;
	}
	int rc = surveyrecord_parse(&s->rec, line, len);
	*why = s->rec.why;
	if (rc == SURVEYRECORD_BAD) {
		s->rejected++;
		return SURVEYSUM_BAD;
	}
	if (rc == 0 && commit(s, &s->rec) < 0) {
		*why = "out of memory";
		rc = SURVEYRECORD_NOMEM;
	}
	if (rc == SURVEYRECORD_NOMEM) {
		s->lines--;
		return SURVEYSUM_NOMEM;
	}
	return SURVEYSUM_OK;
}

/* --- counting --- */

static int
cmp_top(const struct provider *a, const struct provider *b)
{
	if (a->domains != b->domains)
		return a->domains > b->domains ? -1 : 1;
	return strcmp(a->name, b->name);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One winning line's counts; its hosts, providers and triples marked. */
static void
count_domain(struct surveysum *s, struct surveysum_result *r, size_t i)
{
	const struct domain *d = &s->dom[i];

	r->domains++;
	r->with_mx += d->mx == SURVEYRECORD_MX_HOSTS;
	r->null_mx += d->mx == SURVEYRECORD_MX_NULL;
	r->nxdomain += d->mx == SURVEYRECORD_MX_NXDOMAIN;
	r->mx_failed += d->mx == SURVEYRECORD_MX_FAILED;
	r->dns_failures += d->result == POLICY_TEMP;
	r->signed_mx += d->mx == SURVEYRECORD_MX_HOSTS && d->mx_dns == POLICY_DNS_SECURE;
	r->all_dane += d->rule == POLICY_RULE_ALL_DANE;
	r->tlsa_mismatch += d->mismatch;
	r->by_domain[d->cls]++;
	if (r->domains == 1 || d->time < r->time_first)
		r->time_first = d->time;
	if (r->domains == 1 || d->time > r->time_last)
		r->time_last = d->time;
	for (uint16_t k = 0; k < d->nhosts; k++) {
		struct host *h = &s->host[d->ids[k]];
		struct provider *p = &s->prov[h->provider];
		if (h->mark != s->generation) {
			h->mark = s->generation;
			r->mx_hosts++;
		}
		if (p->last != i + 1) {
			p->last = (uint32_t)i + 1;
			r->providers += p->domains++ == 0;
		}
	}
	/* A triple takes the class of the latest winning line naming it. */
	for (uint32_t k = 0; k < d->nrefs; k++) {
		uint32_t ref = d->ids[d->nhosts + k];
		struct address *a = &s->addr[ref >> REF_SHIFT];
		if (d->seq > a->seq) {
			a->seq = d->seq;
			a->cls = ref & ((1u << REF_SHIFT) - 1);
		}
	}
}

/* The top providers: an insertion into a short sorted list. Each gets its
 * rank, for rank_classes(). */
static void
rank_providers(struct surveysum *s, struct surveysum_result *r)
{
	uint32_t top[SURVEYSUM_TOP];
	size_t ntop = 0;

	for (size_t i = 0; i < s->nprov; i++) {
		const struct provider *p = &s->prov[i];
		if (!p->domains || (ntop == SURVEYSUM_TOP && cmp_top(p, &s->prov[top[ntop - 1]]) >= 0))
			continue;
		size_t j = ntop < SURVEYSUM_TOP ? ntop++ : ntop - 1;
		while (j > 0 && cmp_top(p, &s->prov[top[j - 1]]) < 0) {
			top[j] = top[j - 1];
			j--;
		}
		top[j] = (uint32_t)i;
	}
	r->ntop = ntop;
	for (size_t k = 0; k < ntop; k++) {
		struct provider *p = &s->prov[top[k]];
		p->rank = (uint32_t)k + 1;
		p->last = 0;
		r->top[k].name = p->name;
		r->top[k].domains = p->domains;
	}
}

/* The top providers' domains by class, and the sorted list of the domains
 * with a TLSA mismatch: one more walk. -1 when out of memory. */
static int
rank_classes(struct surveysum *s, struct surveysum_result *r)
{
	const char **mis = NULL;
	size_t nmis = 0;

	if (r->tlsa_mismatch && !(mis = malloc(r->tlsa_mismatch * sizeof(*mis))))
		return -1;
	for (size_t i = 0; i < s->ndom; i++) {
		const struct domain *d = &s->dom[i];
		if (d->mismatch)
			mis[nmis++] = d->name;
		if (!r->ntop)
			continue;
		for (uint16_t k = 0; k < d->nhosts; k++) {
			struct provider *p = &s->prov[s->host[d->ids[k]].provider];
			if (p->rank && p->last != i + 1) {
				p->last = (uint32_t)i + 1;
				r->top[p->rank - 1].by_class[d->cls]++;
			}
		}
	}
	if (nmis) {
		qsort(mis, nmis, sizeof(*mis), cmp_names);
		r->nmismatch_listed = nmis < SURVEYSUM_MISMATCH_LIST ? nmis : SURVEYSUM_MISMATCH_LIST;
		memcpy(r->mismatch, mis, r->nmismatch_listed * sizeof(*mis));
	}
	free(mis);
	return 0;
}

const struct surveysum_result *
surveysum_finish(struct surveysum *s)
{
	struct surveysum_result *r = &s->res;

	if (s->finished)
		return r;
	memset(r, 0, sizeof(*r));
	r->lines = s->lines;
	r->rejected = s->rejected;
	s->generation++;
	for (size_t i = 0; i < s->nprov; i++)
		s->prov[i].domains = s->prov[i].last = s->prov[i].rank = 0;
	for (size_t i = 0; i < s->naddr; i++)
		s->addr[i].seq = 0;
	for (size_t i = 0; i < s->ndom; i++)
		count_domain(s, r, i);
	for (size_t i = 0; i < s->naddr; i++) {
		if (s->addr[i].seq) {
			r->mx_addresses++;
			r->by_address[s->addr[i].cls]++;
		}
	}
	rank_providers(s, r);
	if (rank_classes(s, r) < 0)
		return NULL;
	s->finished = true;
	return r;
}
