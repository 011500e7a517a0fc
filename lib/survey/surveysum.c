/* surveysum - the summary of a survey's JSON lines; see surveysum.h for
 * the contract.
 *
 * A line is checked whole into a staging area first (hosts in preference
 * order, their addresses parsed), so that a bad line leaves the tables
 * alone; then its host names and (host, address, port) triples are
 * interned and the domain's entry written, replacing an earlier one.
 *
 * Four tables, each a vector of entries and an open-addressing index of
 * 64-bit slots (32 bits of the key's SipHash, 32 bits of entry number + 1;
 * 0 is empty), kept at most half full:
 *   domains    name, key facts, class, its host ids and address refs
 *   hosts      distinct MX host names, each with its provider
 *   providers  distinct registrable domains
 *   addresses  distinct (host, address, port) triples
 * Strings and each domain's id lists live in an arena of large chunks,
 * freed only with the summary. An address ref is the triple's number
 * shifted left by 4 with the class in the low 4 bits.
 *
 * surveysum_finish() walks the domains once for every count, marking the
 * hosts, providers and triples the winning lines use, then once more for
 * the per-class counts of the top providers. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <jansson.h>
#include <libpsl.h>

#include "util/hash.h"
#include "util/json.h"
#include "rules/policy.h"
#include "probe/probe.h"
#include "survey/surveysum.h"

_Static_assert(SURVEYSUM_PLAINTEXT == (int)PROBE_PLAINTEXT && SURVEYSUM_TLS_FAILED == (int)PROBE_TLS_FAILED &&
    SURVEYSUM_ANONYMOUS == (int)PROBE_ANONYMOUS && SURVEYSUM_UNTRUSTED == (int)PROBE_UNTRUSTED &&
    SURVEYSUM_TRUSTED == (int)PROBE_TRUSTED && SURVEYSUM_VERIFIED == (int)PROBE_VERIFIED &&
    SURVEYSUM_DANE_VERIFIED == (int)PROBE_DANE_VERIFIED && SURVEYSUM_DANE_MISMATCH == (int)PROBE_DANE_MISMATCH &&
    SURVEYSUM_UNREACHABLE == (int)PROBE_UNREACHABLE && SURVEYSUM_REFUSED == (int)PROBE_CLASS_COUNT,
    "the first classes of a survey summary are the prober's");
_Static_assert(SURVEYSUM_CLASS_COUNT <= 16, "a class fits in the 4 low bits of an address ref");

#define ARENA_CHUNK (256u * 1024u)
#define REF_SHIFT 4
#define MAX_ADDRESS_IDS (UINT32_MAX >> REF_SHIFT)
#define WHY_MAX 256
#define WORD_SHOWN 40			/* bytes of an unknown word quoted in a reason */
#define TEXT_NAME_MAX 48		/* a provider's column in the text table */
#define DEFAULT_TITLE "DANE/TLS survey"

enum mx_kind { MXK_HOSTS, MXK_NULL, MXK_NXDOMAIN, MXK_FAILED, MXK_COUNT };
static const char *const mx_names[MXK_COUNT] = {"hosts", "null", "nxdomain", "failed"};

struct chunk {
	struct chunk *next;
	size_t size, used;
	unsigned char data[];
};

struct index {
	uint64_t *slot;
	size_t mask;			/* slots - 1, slots a power of two */
	size_t count;
};

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

struct stage_host {
	char name[SURVEYSUM_NAME_MAX + 1];
	uint32_t preference;
	uint32_t first, n;		/* its addresses in the staging area */
};

struct stage_address {
	unsigned char addr[16];
	uint16_t port;
	uint8_t family;
	uint8_t cls;
};

struct surveysum {
	struct hash_key key;
	const psl_ctx_t *psl;
	psl_ctx_t *psl_own;		/* loaded from the system's file, or NULL */
	struct chunk *chunks;

	struct domain *dom;
	size_t ndom, capdom;
	struct index domidx;
	struct host *host;
	size_t nhost, caphost;
	struct index hostidx;
	struct provider *prov;
	size_t nprov, capprov;
	struct index providx;
	struct address *addr;
	size_t naddr, capaddr;
	struct index addridx;

	uint64_t lines, rejected;
	uint32_t valid;			/* valid lines so far */
	uint32_t generation;		/* finishes so far */
	bool finished;
	struct surveysum_result res;

	/* The line being checked. */
	struct stage_host *sh;
	size_t capsh;
	struct stage_address *sa;
	size_t capsa;
	uint16_t order[SURVEYSUM_MAX_HOSTS];
	char why[WHY_MAX];
};

/* --- classes --- */

const char *
surveysum_class_name(enum surveysum_class c)
{
	if ((unsigned)c < PROBE_CLASS_COUNT)
		return probe_class_name((enum probe_class)c);
	switch (c) {
	case SURVEYSUM_REFUSED: return "refused";
	case SURVEYSUM_SKIPPED: return "skipped";
	case SURVEYSUM_NONE: return "none";
	default: return "unknown";
	}
}

const char *
surveysum_class_label(enum surveysum_class c)
{
	switch (c) {
	case SURVEYSUM_ANONYMOUS: return "Anonymous";
	case SURVEYSUM_UNTRUSTED: return "Untrusted";
	case SURVEYSUM_TRUSTED: return "Trusted";
	case SURVEYSUM_VERIFIED: return "Verified";
	default: return surveysum_class_name(c);
	}
}

int
surveysum_class_for_domain(enum surveysum_class c)
{
	return (unsigned)c < SURVEYSUM_CLASS_COUNT && c != SURVEYSUM_REFUSED && c != SURVEYSUM_SKIPPED;
}

int
surveysum_class_for_address(enum surveysum_class c)
{
	return (unsigned)c < SURVEYSUM_CLASS_COUNT && c != SURVEYSUM_NONE;
}

/* --- memory --- */

static void *
arena_alloc(struct surveysum *s, size_t n)
{
	struct chunk *c = s->chunks;

	n = (n + 7) & ~(size_t)7;
	if (!c || c->size - c->used < n) {
		size_t size = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;
		if (!(c = malloc(sizeof(*c) + size)))
			return NULL;
		c->size = size;
		c->used = 0;
		if (size != ARENA_CHUNK && s->chunks) {
			/* A big one is used up at once: keep filling the current one. */
			c->next = s->chunks->next;
			s->chunks->next = c;
		} else {
			c->next = s->chunks;
			s->chunks = c;
		}
	}
	void *p = c->data + c->used;
	c->used += n;
	return p;
}

static const char *
arena_strdup(struct surveysum *s, const char *str)
{
	size_t n = strlen(str) + 1;
	char *p = arena_alloc(s, n);

	if (p)
		memcpy(p, str, n);
	return p;
}

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

/* --- the index --- */

static int
index_init(struct index *ix)
{
	ix->mask = 63;
	ix->count = 0;
	return (ix->slot = calloc(ix->mask + 1, sizeof(*ix->slot))) ? 0 : -1;
}

typedef bool index_eq(const struct surveysum *s, uint32_t id, const void *key);

static uint64_t *
index_find(const struct index *ix, uint32_t h, index_eq *eq, const struct surveysum *s, const void *key)
{
	for (size_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
		uint64_t v = ix->slot[i];
		if (!v || ((uint32_t)(v >> 32) == h && eq(s, (uint32_t)v - 1, key)))
			return &ix->slot[i];
	}
}

/* Room for one more entry at most half full: 1 when the slots moved,
 * 0 when not, -1 when out of memory. */
static int
index_room(struct index *ix)
{
	size_t size = ix->mask + 1;

	if ((ix->count + 1) * 2 <= size)
		return 0;
	if (size > SIZE_MAX / 2 / sizeof(*ix->slot))
		return -1;
	uint64_t *slot = calloc(size * 2, sizeof(*slot));
	if (!slot)
		return -1;
	for (size_t i = 0; i < size; i++) {
		uint64_t v = ix->slot[i];
		if (!v)
			continue;
		size_t j = (uint32_t)(v >> 32) & (size * 2 - 1);
		while (slot[j])
			j = (j + 1) & (size * 2 - 1);
		slot[j] = v;
	}
	free(ix->slot);
	ix->slot = slot;
	ix->mask = size * 2 - 1;
	return 1;
}

/* Puts id at the empty slot index_find() gave for h, making room first. */
static int
index_put(struct index *ix, uint64_t *slot, uint32_t h, uint32_t id, index_eq *eq, const struct surveysum *s,
    const void *key)
{
	int rc = index_room(ix);

	if (rc < 0)
		return -1;
	if (rc > 0)
		slot = index_find(ix, h, eq, s, key);
	*slot = (uint64_t)h << 32 | (uint64_t)(id + 1);
	ix->count++;
	return 0;
}

static uint32_t
hash32(const struct surveysum *s, const void *p, size_t n)
{
	return (uint32_t)hash_siphash13(s->key, p, n);
}

static bool
domain_eq(const struct surveysum *s, uint32_t id, const void *key)
{
	return strcmp(s->dom[id].name, key) == 0;
}

static bool
host_eq(const struct surveysum *s, uint32_t id, const void *key)
{
	return strcmp(s->host[id].name, key) == 0;
}

static bool
provider_eq(const struct surveysum *s, uint32_t id, const void *key)
{
	return strcmp(s->prov[id].name, key) == 0;
}

static bool
address_eq(const struct surveysum *s, uint32_t id, const void *key)
{
	const struct address *a = &s->addr[id], *k = key;

	return a->host == k->host && a->port == k->port && a->family == k->family &&
	    memcmp(a->addr, k->addr, sizeof(a->addr)) == 0;
}

/* --- life cycle --- */

struct surveysum *
surveysum_create(void)
{
	unsigned char seed[16];
	struct surveysum *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	/* The names are chosen by the domains' owners: a keyed table. */
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		memset(seed, 0x73, sizeof(seed));
	s->key = hash_key_from_bytes(seed);
	if (!(s->psl = psl_builtin()))
		s->psl = s->psl_own = psl_latest(NULL);
	if (!s->psl || index_init(&s->domidx) < 0 || index_init(&s->hostidx) < 0 || index_init(&s->providx) < 0 ||
	    index_init(&s->addridx) < 0) {
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
	while (s->chunks) {
		struct chunk *next = s->chunks->next;
		free(s->chunks);
		s->chunks = next;
	}
	free(s->dom);
	free(s->host);
	free(s->prov);
	free(s->addr);
	free(s->domidx.slot);
	free(s->hostidx.slot);
	free(s->providx.slot);
	free(s->addridx.slot);
	free(s->sh);
	free(s->sa);
	psl_free(s->psl_own);
	free(s);
}

/* --- reading a line --- */

/* Sets the reason, printable ASCII only; returns code. */
static int __attribute__((format(printf, 3, 4)))
fail(struct surveysum *s, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
	for (char *p = s->why; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return code;
}

/* A word from the data, cut short, for a reason (fail() cleans it). */
static const char *
shown(const char *word, char out[WORD_SHOWN + 4])
{
	size_t n = strlen(word);

	if (n <= WORD_SHOWN)
		return word;
	memcpy(out, word, WORD_SHOWN);
	memcpy(out + WORD_SHOWN, "...", 4);
	return out;
}

static int
word_index(const char *word, const char *(*name)(int), int count)
{
	for (int i = 0; i < count; i++)
		if (strcmp(name(i), word) == 0)
			return i;
	return -1;
}

static const char *
mx_name(int i)
{
	return mx_names[i];
}

static const char *
result_name(int i)
{
	return policy_result_name((enum policy_result)i);
}

static const char *
dns_name(int i)
{
	return policy_dns_name((enum policy_dns)i);
}

static const char *
verdict_name(int i)
{
	return policy_host_verdict_name((enum policy_host_verdict)i);
}

static const char *
address_class_name(int i)
{
	return surveysum_class_name((enum surveysum_class)i);
}

/* A string member: NULL (with the reason set) when missing or not one. */
static const char *
get_string(struct surveysum *s, json_t *obj, const char *key, const char *path, bool optional, bool *bad)
{
	json_t *v = json_object_get(obj, key);

	if (!v || (optional && json_is_null(v))) {
		if (!v && !optional) {
			fail(s, SURVEYSUM_BAD, "%s%s: missing", path, key);
			*bad = true;
		}
		return NULL;
	}
	if (!json_is_string(v)) {
		fail(s, SURVEYSUM_BAD, "%s%s: not a string", path, key);
		*bad = true;
		return NULL;
	}
	return json_string_value(v);
}

/* One of the words name(0..count-1) gives: its index, or -1 with the
 * reason set. */
static int
get_word(struct surveysum *s, json_t *obj, const char *key, const char *path, const char *(*name)(int),
    int count)
{
	bool bad = false;
	const char *word = get_string(s, obj, key, path, false, &bad);
	char cut[WORD_SHOWN + 4];

	if (!word)
		return -1;
	int i = word_index(word, name, count);
	if (i < 0)
		fail(s, SURVEYSUM_BAD, "%s%s: unknown word \"%s\"", path, key, shown(word, cut));
	return i;
}

/* An integer member in [min, max]; -1 with the reason set. */
static int
get_int(struct surveysum *s, json_t *obj, const char *key, const char *path, bool optional, json_int_t min,
    json_int_t max, json_int_t *out)
{
	json_t *v = json_object_get(obj, key);

	if (!v) {
		if (optional)
			return 0;
		return fail(s, -1, "%s%s: missing", path, key);
	}
	if (!json_is_integer(v))
		return fail(s, -1, "%s%s: not an integer", path, key);
	*out = json_integer_value(v);
	if (*out < min || *out > max)
		return fail(s, -1, "%s%s: %lld out of range %lld..%lld", path, key, (long long)*out, (long long)min,
		    (long long)max);
	return 0;
}

/* A domain or host name, folded to lower case without a trailing dot. */
static int
get_name(struct surveysum *s, json_t *obj, const char *key, const char *path, char out[SURVEYSUM_NAME_MAX + 1])
{
	bool bad = false;
	const char *name = get_string(s, obj, key, path, false, &bad);

	if (!name)
		return -1;
	size_t n = strlen(name);
	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0)
		return fail(s, -1, "%s%s: empty", path, key);
	if (n > SURVEYSUM_NAME_MAX)
		return fail(s, -1, "%s%s: longer than %u bytes", path, key, SURVEYSUM_NAME_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f)
			return fail(s, -1, "%s%s: a control character", path, key);
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	out[n] = '\0';
	return 0;
}

static int
stage_address(struct surveysum *s, json_t *a, const char *path, struct stage_address *out)
{
	bool bad = false;
	json_int_t port;
	char cut[WORD_SHOWN + 4];

	if (!json_is_object(a))
		return fail(s, -1, "%.*s: not an object", (int)strlen(path) - 1, path);
	const char *text = get_string(s, a, "address", path, false, &bad);
	if (!text)
		return -1;
	memset(out->addr, 0, sizeof(out->addr));
	if (inet_pton(AF_INET, text, out->addr) == 1)
		out->family = 4;
	else if (inet_pton(AF_INET6, text, out->addr) == 1)
		out->family = 6;
	else
		return fail(s, -1, "%saddress: not an IP address: \"%s\"", path, shown(text, cut));
	if (get_int(s, a, "port", path, false, 1, 65535, &port) < 0)
		return -1;
	out->port = (uint16_t)port;
	int cls = get_word(s, a, "class", path, address_class_name, SURVEYSUM_NONE);
	if (cls < 0)
		return -1;
	out->cls = (uint8_t)cls;
	get_string(s, a, "detail", path, true, &bad);
	return bad ? -1 : 0;
}

static int
stage_host(struct surveysum *s, json_t *h, size_t i, struct stage_host *out, struct stage_address *dst)
{
	char path[64], apath[96];
	char cut[WORD_SHOWN + 4];
	json_int_t pref = 0;
	bool bad = false;

	snprintf(path, sizeof(path), "hosts[%zu].", i);
	if (!json_is_object(h))
		return fail(s, -1, "hosts[%zu]: not an object", i);
	if (get_name(s, h, "name", path, out->name) < 0)
		return -1;
	if (get_int(s, h, "preference", path, true, 0, 65535, &pref) < 0)
		return -1;
	out->preference = (uint32_t)pref;
	const char *verdict = get_string(s, h, "verdict", path, false, &bad);
	if (!verdict)
		return -1;
	/* "noaddr" is how the format's description spells no-address. */
	if (word_index(verdict, verdict_name, POLICY_HOST_NOADDR + 1) < 0 && strcmp(verdict, "noaddr") != 0)
		return fail(s, -1, "%sverdict: unknown word \"%s\"", path, shown(verdict, cut));
	json_t *tlsa = json_object_get(h, "tlsa");
	if (tlsa && !json_is_null(tlsa)) {
		if (!json_is_array(tlsa))
			return fail(s, -1, "%stlsa: not an array", path);
		for (size_t j = 0; j < json_array_size(tlsa); j++)
			if (!json_is_string(json_array_get(tlsa, j)))
				return fail(s, -1, "%stlsa[%zu]: not a string", path, j);
	}
	json_t *addrs = json_object_get(h, "addresses");
	if (!addrs)
		return fail(s, -1, "%saddresses: missing", path);
	if (!json_is_array(addrs))
		return fail(s, -1, "%saddresses: not an array", path);
	size_t n = json_array_size(addrs);
	if (n > SURVEYSUM_MAX_ADDRESSES)
		return fail(s, -1, "%saddresses: more than %u", path, SURVEYSUM_MAX_ADDRESSES);
	out->n = (uint32_t)n;
	for (size_t j = 0; j < n; j++) {
		snprintf(apath, sizeof(apath), "%saddresses[%zu].", path, j);
		if (stage_address(s, json_array_get(addrs, j), apath, &dst[j]) < 0)
			return -1;
	}
	return 0;
}

/* The domain's facts, checked; the hosts and addresses in s->sh, s->sa. */
struct staged {
	char name[SURVEYSUM_NAME_MAX + 1];
	int64_t time;
	int result, rule, mx, mx_dns;
	size_t nhosts, naddrs;
	enum surveysum_class cls;
	bool mismatch;
};

static int
stage(struct surveysum *s, json_t *rec, struct staged *st)
{
	json_int_t t;
	bool bad = false;
	char cut[WORD_SHOWN + 4];

	if (!json_is_object(rec))
		return fail(s, -1, "not a JSON object");
	if (get_name(s, rec, "domain", "", st->name) < 0 ||
	    get_int(s, rec, "time", "", false, 0, INT64_MAX, &t) < 0 ||
	    (st->result = get_word(s, rec, "result", "", result_name, POLICY_TEMP + 1)) < 0)
		return -1;
	st->time = t;
	const char *rule = get_string(s, rec, "rule", "", false, &bad);
	if (!rule)
		return -1;
	if ((st->rule = policy_rule_from_name(rule)) < 0)
		return fail(s, -1, "rule: unknown word \"%s\"", shown(rule, cut));
	if ((st->mx = get_word(s, rec, "mx", "", mx_name, MXK_COUNT)) < 0 ||
	    (st->mx_dns = get_word(s, rec, "mx_security", "", dns_name, POLICY_DNS_TIMEOUT + 1)) < 0)
		return -1;
	get_string(s, rec, "level", "", true, &bad);
	get_string(s, rec, "reason", "", true, &bad);
	if (bad)
		return -1;

	json_t *hosts = json_object_get(rec, "hosts");
	if (!hosts)
		return fail(s, -1, "hosts: missing");
	if (!json_is_array(hosts))
		return fail(s, -1, "hosts: not an array");
	size_t nh = json_array_size(hosts);
	if (nh > SURVEYSUM_MAX_HOSTS)
		return fail(s, -1, "hosts: more than %u", SURVEYSUM_MAX_HOSTS);
	if (nh > 0 && st->mx != MXK_HOSTS)
		return fail(s, -1, "hosts: not empty, but mx is \"%s\"", mx_names[st->mx]);
	if (nh > s->capsh) {
		struct stage_host *p = realloc(s->sh, nh * sizeof(*p));
		if (!p)
			return fail(s, SURVEYSUM_NOMEM, "out of memory");
		s->sh = p;
		s->capsh = nh;
	}
	/* Each host's addresses follow the previous hosts' in s->sa. */
	size_t total = 0;
	for (size_t i = 0; i < nh; i++) {
		json_t *h = json_array_get(hosts, i);
		json_t *addrs = json_is_object(h) ? json_object_get(h, "addresses") : NULL;
		size_t n = json_is_array(addrs) ? json_array_size(addrs) : 0;
		if (n > SURVEYSUM_MAX_ADDRESSES)
			n = 0;	/* refused by stage_host() before it writes */
		if (!s->sa || total + n > s->capsa) {
			size_t cap = total + n + 64;
			struct stage_address *p = realloc(s->sa, cap * sizeof(*p));
			if (!p)
				return fail(s, SURVEYSUM_NOMEM, "out of memory");
			s->sa = p;
			s->capsa = cap;
		}
		if (stage_host(s, h, i, &s->sh[i], s->sa + total) < 0)
			return -1;
		s->sh[i].first = (uint32_t)total;
		total += s->sh[i].n;
	}
	st->nhosts = nh;
	st->naddrs = total;

	/* Preference order, stable: hosts are few, an insertion sort. */
	for (size_t i = 0; i < nh; i++) {
		size_t j = i;
		while (j > 0 && s->sh[s->order[j - 1]].preference > s->sh[i].preference) {
			s->order[j] = s->order[j - 1];
			j--;
		}
		s->order[j] = (uint16_t)i;
	}
	st->cls = SURVEYSUM_NONE;
	st->mismatch = false;
	for (size_t k = 0; k < nh; k++) {
		const struct stage_host *h = &s->sh[s->order[k]];
		for (uint32_t j = 0; j < h->n; j++) {
			uint8_t c = s->sa[h->first + j].cls;
			if (st->cls == SURVEYSUM_NONE && c != SURVEYSUM_REFUSED && c != SURVEYSUM_SKIPPED)
				st->cls = (enum surveysum_class)c;
			if (c == SURVEYSUM_DANE_MISMATCH)
				st->mismatch = true;
		}
	}
	return 0;
}

static int
intern_provider(struct surveysum *s, const char *name, uint32_t *id)
{
	uint32_t h = hash32(s, name, strlen(name));
	uint64_t *slot = index_find(&s->providx, h, provider_eq, s, name);

	if (*slot) {
		*id = (uint32_t)*slot - 1;
		return 0;
	}
	if (s->nprov >= UINT32_MAX - 1 || vec_room((void **)&s->prov, &s->capprov, s->nprov, sizeof(*s->prov)) < 0)
		return -1;
	struct provider *p = &s->prov[s->nprov];
	memset(p, 0, sizeof(*p));
	if (!(p->name = arena_strdup(s, name)) || index_put(&s->providx, slot, h, (uint32_t)s->nprov, provider_eq, s, name) < 0)
		return -1;
	*id = (uint32_t)s->nprov++;
	return 0;
}

static int
intern_host(struct surveysum *s, const char *name, uint32_t *id)
{
	uint32_t h = hash32(s, name, strlen(name));
	uint64_t *slot = index_find(&s->hostidx, h, host_eq, s, name);

	if (*slot) {
		*id = (uint32_t)*slot - 1;
		return 0;
	}
	if (s->nhost >= UINT32_MAX - 1 || vec_room((void **)&s->host, &s->caphost, s->nhost, sizeof(*s->host)) < 0)
		return -1;
	/* Where libpsl knows no registrable domain (a bare public suffix, a
	 * name without dots), the host name stands for itself. */
	const char *reg = psl_registrable_domain(s->psl, name);
	struct host *e = &s->host[s->nhost];
	memset(e, 0, sizeof(*e));
	if (intern_provider(s, reg ? reg : name, &e->provider) < 0 || !(e->name = arena_strdup(s, name)) ||
	    index_put(&s->hostidx, slot, h, (uint32_t)s->nhost, host_eq, s, name) < 0)
		return -1;
	*id = (uint32_t)s->nhost++;
	return 0;
}

static int
intern_address(struct surveysum *s, uint32_t host, const struct stage_address *sa, uint32_t *id)
{
	struct address key = {.host = host, .port = sa->port, .family = sa->family};
	unsigned char bytes[4 + 2 + 1 + 16];

	memcpy(key.addr, sa->addr, sizeof(key.addr));
	memcpy(bytes, &host, 4);
	memcpy(bytes + 4, &key.port, 2);
	bytes[6] = key.family;
	memcpy(bytes + 7, key.addr, 16);
	uint32_t h = hash32(s, bytes, sizeof(bytes));
	uint64_t *slot = index_find(&s->addridx, h, address_eq, s, &key);
	if (*slot) {
		*id = (uint32_t)*slot - 1;
		return 0;
	}
	if (s->naddr >= MAX_ADDRESS_IDS || vec_room((void **)&s->addr, &s->capaddr, s->naddr, sizeof(*s->addr)) < 0)
		return -1;
	s->addr[s->naddr] = key;
	if (index_put(&s->addridx, slot, h, (uint32_t)s->naddr, address_eq, s, &key) < 0)
		return -1;
	*id = (uint32_t)s->naddr++;
	return 0;
}

/* Writes the staged line into the tables. On failure the counts are as
 * before: at most some host names and addresses no domain uses remain. */
static int
commit(struct surveysum *s, const struct staged *st)
{
	uint32_t *ids = arena_alloc(s, (st->nhosts + st->naddrs) * sizeof(*ids) + 1);
	uint32_t *ref = ids + st->nhosts;

	if (!ids)
		return -1;
	for (size_t k = 0; k < st->nhosts; k++) {
		const struct stage_host *h = &s->sh[s->order[k]];
		if (intern_host(s, h->name, &ids[k]) < 0)
			return -1;
		for (uint32_t j = 0; j < h->n; j++) {
			const struct stage_address *a = &s->sa[h->first + j];
			uint32_t id;
			if (intern_address(s, ids[k], a, &id) < 0)
				return -1;
			*ref++ = id << REF_SHIFT | a->cls;
		}
	}

	uint32_t h = hash32(s, st->name, strlen(st->name));
	uint64_t *slot = index_find(&s->domidx, h, domain_eq, s, st->name);
	struct domain *d;
	if (*slot) {
		d = &s->dom[(uint32_t)*slot - 1];
	} else {
		if (s->ndom >= UINT32_MAX - 1 || vec_room((void **)&s->dom, &s->capdom, s->ndom, sizeof(*s->dom)) < 0)
			return -1;
		d = &s->dom[s->ndom];
		if (!(d->name = arena_strdup(s, st->name)) ||
		    index_put(&s->domidx, slot, h, (uint32_t)s->ndom, domain_eq, s, st->name) < 0)
			return -1;
		s->ndom++;
	}
	d->time = st->time;
	d->seq = ++s->valid;
	d->ids = ids;
	d->nhosts = (uint16_t)st->nhosts;
	d->nrefs = (uint32_t)st->naddrs;
	d->result = (uint8_t)st->result;
	d->rule = (uint8_t)st->rule;
	d->mx = (uint8_t)st->mx;
	d->mx_dns = (uint8_t)st->mx_dns;
	d->cls = (uint8_t)st->cls;
	d->mismatch = st->mismatch;
	return 0;
}

int
surveysum_add_line(struct surveysum *s, const char *line, size_t len, const char **why)
{
	json_error_t err;
	struct staged st;
	int rc;

	s->lines++;
	s->finished = false;
	*why = s->why;
	if (len > SURVEYSUM_LINE_MAX) {
		s->rejected++;
		return fail(s, SURVEYSUM_BAD, "longer than %u bytes", SURVEYSUM_LINE_MAX);
	}
	if (s->valid == UINT32_MAX - 1) {
		s->lines--;
		return fail(s, SURVEYSUM_NOMEM, "too many lines");
	}
	/* Any value, so that a scalar is "not a JSON object", not "not JSON". */
	json_t *rec = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
	if (!rec) {
		s->rejected++;
		return fail(s, SURVEYSUM_BAD, "not JSON: %s at byte %d", err.text, err.position);
	}
	rc = stage(s, rec, &st);
	if (rc == 0 && commit(s, &st) < 0)
		rc = fail(s, SURVEYSUM_NOMEM, "out of memory");
	json_decref(rec);
	if (rc == SURVEYSUM_NOMEM)
		s->lines--;
	else if (rc < 0) {
		rc = SURVEYSUM_BAD;
		s->rejected++;
	}
	return rc;
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

const struct surveysum_result *
surveysum_finish(struct surveysum *s)
{
	struct surveysum_result *r = &s->res;
	uint32_t top[SURVEYSUM_TOP];
	size_t ntop = 0, nmis = 0;
	const char **mis = NULL;

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

	for (size_t i = 0; i < s->ndom; i++) {
		const struct domain *d = &s->dom[i];
		r->domains++;
		r->with_mx += d->mx == MXK_HOSTS;
		r->null_mx += d->mx == MXK_NULL;
		r->nxdomain += d->mx == MXK_NXDOMAIN;
		r->mx_failed += d->mx == MXK_FAILED;
		r->dns_failures += d->result == POLICY_TEMP;
		r->signed_mx += d->mx == MXK_HOSTS && d->mx_dns == POLICY_DNS_SECURE;
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
		for (uint32_t k = 0; k < d->nrefs; k++) {
			uint32_t ref = d->ids[d->nhosts + k];
			struct address *a = &s->addr[ref >> REF_SHIFT];
			if (d->seq > a->seq) {
				a->seq = d->seq;
				a->cls = ref & ((1u << REF_SHIFT) - 1);
			}
		}
	}
	for (size_t i = 0; i < s->naddr; i++) {
		if (s->addr[i].seq) {
			r->mx_addresses++;
			r->by_address[s->addr[i].cls]++;
		}
	}

	/* The top providers: an insertion into a short sorted list. */
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
	if (r->tlsa_mismatch && !(mis = malloc(r->tlsa_mismatch * sizeof(*mis))))
		return NULL;
	for (size_t i = 0; i < s->ndom; i++) {
		const struct domain *d = &s->dom[i];
		if (d->mismatch)
			mis[nmis++] = d->name;
		if (!ntop)
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
	s->finished = true;
	return r;
}

/* --- writing --- */

struct fact {
	const char *key;		/* in the JSON object, and data-key */
	const char *label;
	const char *meaning;		/* for the report's definitions */
	size_t off;
	bool of_domains;		/* shown as a share of the domains */
};

#define FACT(field, label, meaning, share) {#field, label, meaning, offsetof(struct surveysum_result, field), share}
static const struct fact facts[] = {
	FACT(domains, "domains", "distinct domains; a domain listed more than once counts with its last line", true),
	FACT(with_mx, "with MX hosts", "MX records naming hosts, or an implicit MX", true),
	FACT(null_mx, "null MX", "a null MX record (RFC 7505): the domain accepts no mail", true),
	FACT(nxdomain, "NXDOMAIN", "the domain does not exist", true),
	FACT(mx_failed, "MX lookup failed", "the MX lookup failed (bogus, SERVFAIL, timeout)", true),
	FACT(dns_failures, "DNS failures (TEMP)", "the daemon's answer is TEMP: Postfix would defer the mail", true),
	FACT(signed_mx, "signed MX", "MX records naming hosts, validated by DNSSEC", true),
	FACT(all_dane, "DANE on every MX host", "rule all-hosts-dane: signed MX, every usable MX host with usable TLSA records", true),
	FACT(tlsa_mismatch, "TLSA mismatches", "some MX address's certificate matched none of its usable TLSA records", true),
	FACT(mx_hosts, "MX host names", "distinct MX host names", false),
	FACT(mx_addresses, "MX hosts (host, address, port)", "distinct (MX host name, address, port)", false),
	FACT(providers, "MX providers", "distinct registrable domains of the MX host names (Public Suffix List)", false),
};
#define NFACTS (sizeof(facts) / sizeof(facts[0]))

static uint64_t
fact_value(const struct surveysum_result *r, const struct fact *f)
{
	uint64_t v;

	memcpy(&v, (const char *)r + f->off, sizeof(v));
	return v;
}

/* Best first; the JSON objects keep this order too. */
static const enum surveysum_class domain_classes[] = {
	SURVEYSUM_DANE_VERIFIED, SURVEYSUM_VERIFIED, SURVEYSUM_TRUSTED, SURVEYSUM_UNTRUSTED, SURVEYSUM_ANONYMOUS,
	SURVEYSUM_DANE_MISMATCH, SURVEYSUM_TLS_FAILED, SURVEYSUM_PLAINTEXT, SURVEYSUM_UNREACHABLE, SURVEYSUM_NONE,
};
static const enum surveysum_class address_classes[] = {
	SURVEYSUM_DANE_VERIFIED, SURVEYSUM_VERIFIED, SURVEYSUM_TRUSTED, SURVEYSUM_UNTRUSTED, SURVEYSUM_ANONYMOUS,
	SURVEYSUM_DANE_MISMATCH, SURVEYSUM_TLS_FAILED, SURVEYSUM_PLAINTEXT, SURVEYSUM_UNREACHABLE, SURVEYSUM_REFUSED,
	SURVEYSUM_SKIPPED,
};
#define NDOMAIN_CLASSES (sizeof(domain_classes) / sizeof(domain_classes[0]))
#define NADDRESS_CLASSES (sizeof(address_classes) / sizeof(address_classes[0]))

static const char *const class_colors[SURVEYSUM_CLASS_COUNT] = {
	[SURVEYSUM_PLAINTEXT] = "#b71c1c", [SURVEYSUM_TLS_FAILED] = "#e53935", [SURVEYSUM_ANONYMOUS] = "#fb8c00",
	[SURVEYSUM_UNTRUSTED] = "#fdd835", [SURVEYSUM_TRUSTED] = "#9ccc65", [SURVEYSUM_VERIFIED] = "#43a047",
	[SURVEYSUM_DANE_VERIFIED] = "#1b5e20", [SURVEYSUM_DANE_MISMATCH] = "#8e24aa",
	[SURVEYSUM_UNREACHABLE] = "#616161", [SURVEYSUM_REFUSED] = "#bdbdbd", [SURVEYSUM_SKIPPED] = "#e0e0e0",
	[SURVEYSUM_NONE] = "#9e9e9e",
};

static const char *
class_color(enum surveysum_class c)
{
	return (unsigned)c < SURVEYSUM_CLASS_COUNT ? class_colors[c] : "#9e9e9e";
}

#define FACT_COLOR "#1565c0"
#define PROVIDER_COLOR "#1565c0"

/* "12.5%", or "-" without a whole. */
static const char *
pct(char out[16], uint64_t n, uint64_t whole)
{
	if (!whole)
		snprintf(out, 16, "-");
	else
		snprintf(out, 16, "%.1f%%", 100.0 * (double)n / (double)whole);
	return out;
}

static const char *
utc(char out[32], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(out, 32, "%" PRId64, t);
	return out;
}

/* A name from the data for a terminal: printable ASCII only, at most
 * TEXT_NAME_MAX bytes shown. */
static const char *
text_clean(char out[TEXT_NAME_MAX + 1], const char *name)
{
	size_t n = 0;

	for (; name[n] && n < TEXT_NAME_MAX; n++)
		out[n] = (unsigned char)name[n] >= 0x20 && (unsigned char)name[n] < 0x7f ? name[n] : '?';
	if (name[n])
		memcpy(out + TEXT_NAME_MAX - 3, "...", 3);
	out[n] = '\0';
	return out;
}

#define TEXT_LABEL 36

static int
text_row(struct buf *b, const char *label, uint64_t n, uint64_t whole)
{
	char p[16];

	if (!whole)
		return buf_printf(b, "  %-*s %10" PRIu64 "\n", TEXT_LABEL, label, n);
	return buf_printf(b, "  %-*s %10" PRIu64 " %11s\n", TEXT_LABEL, label, n, pct(p, n, whole));
}

int
surveysum_text(struct surveysum *s, struct buf *out)
{
	const struct surveysum_result *r = surveysum_finish(s);
	char t1[32], t2[32], name[TEXT_NAME_MAX + 1];
	bool used[SURVEYSUM_CLASS_COUNT] = {false};
	int rc = 0;

	if (!r)
		return SURVEYSUM_NOMEM;
	rc |= buf_printf(out, "DANE/TLS survey: %" PRIu64 " domains from %" PRIu64 " lines (%" PRIu64 " rejected)\n",
	    r->domains, r->lines, r->rejected);
	if (r->domains)
		rc |= buf_printf(out, "records written from %s to %s\n", utc(t1, r->time_first), utc(t2, r->time_last));

	rc |= buf_printf(out, "\n%-*s %10s %11s\n", TEXT_LABEL + 2, "Domains", "count", "of domains");
	for (size_t i = 0; i < NFACTS; i++)
		if (facts[i].of_domains)
			rc |= text_row(out, facts[i].label, fact_value(r, &facts[i]), r->domains);
	rc |= buf_printf(out, "\n%-*s %10s\n", TEXT_LABEL + 2, "MX hosts", "count");
	for (size_t i = 0; i < NFACTS; i++)
		if (!facts[i].of_domains)
			rc |= text_row(out, facts[i].label, fact_value(r, &facts[i]), 0);

	rc |= buf_printf(out, "\n%-*s %10s %11s\n", TEXT_LABEL + 2, "Domains by class", "domains", "of domains");
	for (size_t i = 0; i < NDOMAIN_CLASSES; i++)
		rc |= text_row(out, surveysum_class_label(domain_classes[i]), r->by_domain[domain_classes[i]], r->domains);
	rc |= buf_printf(out, "  (the first probed address of the first MX host; none: no such address)\n");

	rc |= buf_printf(out, "\n%-*s %10s %11s\n", TEXT_LABEL + 2, "MX hosts by class", "hosts", "of hosts");
	for (size_t i = 0; i < NADDRESS_CLASSES; i++)
		rc |= text_row(out, surveysum_class_label(address_classes[i]), r->by_address[address_classes[i]],
		    r->mx_addresses);
	rc |= buf_printf(out, "  (each MX host name, address and port once)\n");

	/* The providers: a column for each class some top provider has, as
	 * wide as its label or its widest number. */
	int width = 8, colw[SURVEYSUM_CLASS_COUNT];
	for (size_t c = 0; c < SURVEYSUM_CLASS_COUNT; c++)
		colw[c] = (int)strlen(surveysum_class_label((enum surveysum_class)c));
	for (size_t k = 0; k < r->ntop; k++) {
		int n = (int)strlen(text_clean(name, r->top[k].name));
		width = n > width ? n : width;
		for (size_t c = 0; c < SURVEYSUM_CLASS_COUNT; c++) {
			char digits[24];
			used[c] |= r->top[k].by_class[c] > 0;
			n = snprintf(digits, sizeof(digits), "%" PRIu64, r->top[k].by_class[c]);
			colw[c] = n > colw[c] ? n : colw[c];
		}
	}
	rc |= buf_printf(out, "\nTop MX providers (%zu of %" PRIu64 ", by the registrable domain of the MX host names)\n",
	    r->ntop, r->providers);
	if (r->ntop) {
		rc |= buf_printf(out, "  %-*s %10s %11s", width, "provider", "domains", "of domains");
		for (size_t i = 0; i < NDOMAIN_CLASSES; i++)
			if (used[domain_classes[i]])
				rc |= buf_printf(out, " %*s", colw[domain_classes[i]], surveysum_class_label(domain_classes[i]));
		rc |= buf_putc(out, '\n');
	}
	for (size_t k = 0; k < r->ntop; k++) {
		char p[16];
		rc |= buf_printf(out, "  %-*s %10" PRIu64 " %11s", width, text_clean(name, r->top[k].name),
		    r->top[k].domains, pct(p, r->top[k].domains, r->domains));
		for (size_t i = 0; i < NDOMAIN_CLASSES; i++)
			if (used[domain_classes[i]])
				rc |= buf_printf(out, " %*" PRIu64, colw[domain_classes[i]], r->top[k].by_class[domain_classes[i]]);
		rc |= buf_putc(out, '\n');
	}

	if (r->tlsa_mismatch) {
		rc |= buf_printf(out, "\nDomains with a TLSA mismatch (%" PRIu64 "%s)\n", r->tlsa_mismatch,
		    r->nmismatch_listed < r->tlsa_mismatch ? ", the first listed" : "");
		for (size_t k = 0; k < r->nmismatch_listed; k++)
			rc |= buf_printf(out, "  %s\n", text_clean(name, r->mismatch[k]));
	}
	return rc < 0 ? SURVEYSUM_NOMEM : 0;
}

static int
json_classes(struct buf *b, const char *key, const uint64_t *counts, const enum surveysum_class *cls, size_t n)
{
	int rc = json_key(b, key, 0) | buf_putc(b, '{');

	for (size_t i = 0; i < n; i++)
		rc |= json_key(b, surveysum_class_name(cls[i]), i == 0) | buf_printf(b, "%" PRIu64, counts[cls[i]]);
	return rc | buf_putc(b, '}');
}

int
surveysum_json(struct surveysum *s, struct buf *out)
{
	const struct surveysum_result *r = surveysum_finish(s);
	int rc = 0;

	if (!r)
		return SURVEYSUM_NOMEM;
	rc |= buf_printf(out, "{\"format\":\"tlspolicy-survey-summary\",\"version\":1,\"lines\":%" PRIu64
	    ",\"rejected\":%" PRIu64, r->lines, r->rejected);
	for (size_t i = 0; i < NFACTS; i++)
		rc |= json_key(out, facts[i].key, 0) | buf_printf(out, "%" PRIu64, fact_value(r, &facts[i]));
	rc |= buf_printf(out, ",\"time_first\":%" PRId64 ",\"time_last\":%" PRId64, r->time_first, r->time_last);
	rc |= json_classes(out, "by_domain_class", r->by_domain, domain_classes, NDOMAIN_CLASSES);
	rc |= json_classes(out, "by_mx_host_class", r->by_address, address_classes, NADDRESS_CLASSES);
	rc |= json_key(out, "top_providers", 0) | buf_putc(out, '[');
	for (size_t k = 0; k < r->ntop; k++) {
		rc |= buf_puts(out, k ? ",{" : "{") | json_key(out, "name", 1) | json_str(out, r->top[k].name);
		rc |= buf_printf(out, ",\"domains\":%" PRIu64, r->top[k].domains);
		rc |= json_classes(out, "by_class", r->top[k].by_class, domain_classes, NDOMAIN_CLASSES);
		rc |= buf_putc(out, '}');
	}
	rc |= buf_putc(out, ']') | json_key(out, "tlsa_mismatch_domains", 0) | buf_putc(out, '[');
	for (size_t k = 0; k < r->nmismatch_listed; k++)
		rc |= (k ? buf_putc(out, ',') : 0) | json_str(out, r->mismatch[k]);
	rc |= buf_puts(out, "]}\n");
	return rc < 0 ? SURVEYSUM_NOMEM : 0;
}

/* --- the HTML report --- */

/* Text or an attribute value: every character that could end either, or
 * start markup, as an entity. max: bytes shown (0: all), cut at a
 * character boundary with an ellipsis. */
static int
html_esc(struct buf *b, const char *str, size_t max)
{
	size_t n = strlen(str);
	bool cut = max && n > max;
	int rc = 0;

	if (cut) {
		n = max;
		while (n > 0 && ((unsigned char)str[n] & 0xc0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++) {
		switch (str[i]) {
		case '&': rc |= buf_puts(b, "&amp;"); break;
		case '<': rc |= buf_puts(b, "&lt;"); break;
		case '>': rc |= buf_puts(b, "&gt;"); break;
		case '"': rc |= buf_puts(b, "&quot;"); break;
		case '\'': rc |= buf_puts(b, "&#39;"); break;
		default: rc |= buf_putc(b, str[i]); break;
		}
	}
	if (cut)
		rc |= buf_puts(b, "\xe2\x80\xa6");
	return rc;
}

#define SVG_WIDTH 760
#define SVG_LABEL_X 232			/* labels end here */
#define SVG_BAR_X 240
#define SVG_BAR_W 380
#define SVG_ROW 24
#define SVG_BAR_H 16
#define SVG_PAD 8
#define SVG_NAME_MAX 30			/* bytes of a name shown as a label */

struct bar {
	char key[80];			/* the number's path in the JSON object */
	const char *label;		/* from the data or ours: escaped */
	const char *cls;		/* data-class, or NULL */
	const char *color;
	uint64_t count;
	const uint64_t *by_class;	/* stacked by domain class, or NULL */
};

static int
svg_chart(struct buf *b, const char *id, const char *title, const struct bar *bars, size_t n, uint64_t whole)
{
	size_t height = (n ? n : 1) * SVG_ROW + 2 * SVG_PAD;
	uint64_t max = 0;
	int rc = 0;
	char p[16];

	for (size_t i = 0; i < n; i++)
		max = bars[i].count > max ? bars[i].count : max;
	rc |= buf_printf(b, "<svg class=\"chart\" id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	    "height=\"%zu\" viewBox=\"0 0 %d %zu\" role=\"img\" aria-label=\"", id, SVG_WIDTH, height, SVG_WIDTH, height);
	rc |= html_esc(b, title, 0) | buf_puts(b, "\">\n<title>") | html_esc(b, title, 0) | buf_puts(b, "</title>\n");
	if (!n)
		rc |= buf_printf(b, "<text class=\"empty\" x=\"%d\" y=\"%d\">none</text>\n", SVG_BAR_X,
		    SVG_PAD + SVG_ROW / 2 + 5);
	for (size_t i = 0; i < n; i++) {
		const struct bar *bar = &bars[i];
		size_t y = SVG_PAD + i * SVG_ROW;
		unsigned w = max ? (unsigned)((double)bar->count * SVG_BAR_W / (double)max + 0.5) : 0;
		if (bar->count && !w)
			w = 1;
		rc |= buf_printf(b, "<g class=\"bar\" data-key=\"%s\" data-count=\"%" PRIu64 "\"", bar->key, bar->count);
		if (bar->cls)
			rc |= buf_printf(b, " data-class=\"%s\"", bar->cls);
		rc |= buf_printf(b, "><text class=\"label\" x=\"%d\" y=\"%zu\" text-anchor=\"end\">", SVG_LABEL_X,
		    y + SVG_BAR_H - 3);
		rc |= html_esc(b, bar->label, SVG_NAME_MAX) | buf_puts(b, "</text>");
		if (bar->by_class) {
			/* Segments from the running sum, so that they add up to w. */
			uint64_t sum = 0;
			unsigned x0 = 0;
			for (size_t k = 0; k < NDOMAIN_CLASSES; k++) {
				enum surveysum_class c = domain_classes[k];
				if (!bar->by_class[c])
					continue;
				sum += bar->by_class[c];
				unsigned x1 = bar->count ? (unsigned)((double)sum * w / (double)bar->count + 0.5) : 0;
				rc |= buf_printf(b, "<rect class=\"seg\" data-class=\"%s\" data-count=\"%" PRIu64 "\" x=\"%u\" "
				    "y=\"%zu\" width=\"%u\" height=\"%d\" fill=\"%s\"><title>%s: %" PRIu64 "</title></rect>",
				    surveysum_class_name(c), bar->by_class[c], SVG_BAR_X + x0, y, x1 - x0, SVG_BAR_H,
				    class_color(c), surveysum_class_label(c), bar->by_class[c]);
				x0 = x1;
			}
		} else {
			rc |= buf_printf(b, "<rect x=\"%d\" y=\"%zu\" width=\"%u\" height=\"%d\" fill=\"%s\"/>", SVG_BAR_X, y,
			    w, SVG_BAR_H, bar->color);
		}
		rc |= buf_printf(b, "<text class=\"value\" x=\"%u\" y=\"%zu\">%" PRIu64 " (%s)</text></g>\n",
		    SVG_BAR_X + w + 6, y + SVG_BAR_H - 3, bar->count, pct(p, bar->count, whole));
	}
	return rc | buf_puts(b, "</svg>\n");
}

static int
html_cell(struct buf *b, const char *key, uint64_t n)
{
	return buf_printf(b, "<td class=\"num\" data-key=\"%s\" data-count=\"%" PRIu64 "\">%" PRIu64 "</td>", key, n, n);
}

static int
html_swatch(struct buf *b, enum surveysum_class c)
{
	return buf_printf(b, "<span class=\"swatch\" style=\"background:%s\"></span>", class_color(c));
}

/* A table and a chart of counts by class. */
static int
html_classes(struct buf *b, const char *id, const char *key, const char *title, const char *unit,
    const uint64_t *counts, const enum surveysum_class *cls, size_t n, uint64_t whole)
{
	struct bar bars[SURVEYSUM_CLASS_COUNT];
	int rc = 0;
	char p[16];

	rc |= buf_printf(b, "<table class=\"counts\" id=\"%s-table\"><thead><tr><th>class</th><th>%s</th>"
	    "<th>share</th></tr></thead><tbody>\n", id, unit);
	for (size_t i = 0; i < n; i++) {
		struct bar *bar = &bars[i];
		snprintf(bar->key, sizeof(bar->key), "%s.%s", key, surveysum_class_name(cls[i]));
		bar->label = surveysum_class_label(cls[i]);
		bar->cls = surveysum_class_name(cls[i]);
		bar->color = class_color(cls[i]);
		bar->count = counts[cls[i]];
		bar->by_class = NULL;
		rc |= buf_puts(b, "<tr><th scope=\"row\">") | html_swatch(b, cls[i]) | buf_puts(b, bar->label);
		rc |= buf_puts(b, "</th>") | html_cell(b, bar->key, bar->count);
		rc |= buf_printf(b, "<td class=\"pct\">%s</td></tr>\n", pct(p, bar->count, whole));
	}
	rc |= buf_puts(b, "</tbody></table>\n");
	return rc | svg_chart(b, id, title, bars, n, whole);
}

static const char html_head[] =
	"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	/* No scripts, no fetches: even injected markup could do nothing. */
	"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	"<meta name=\"generator\" content=\"" PACKAGE_NAME " " PACKAGE_VERSION "\">\n";

static const char html_style[] =
	"<style>\n"
	"body{font-family:system-ui,sans-serif;color:#212121;margin:2em auto;max-width:62em;padding:0 1em}\n"
	"h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #e0e0e0}\n"
	"table{border-collapse:collapse;margin:.5em 0 1em}\n"
	"th,td{padding:.2em .8em;border-bottom:1px solid #eee;text-align:left}\n"
	"td.num,td.pct{text-align:right;font-variant-numeric:tabular-nums}\n"
	"thead th{border-bottom:2px solid #bdbdbd;white-space:nowrap;vertical-align:bottom}\n"
	".wide{overflow-x:auto}\n"
	".meta,.note{color:#616161}\n"
	".swatch{display:inline-block;width:.8em;height:.8em;margin-right:.4em;vertical-align:baseline}\n"
	"svg.chart{display:block;max-width:100%;height:auto;margin:.5em 0 1.5em}\n"
	"svg.chart text{font:13px system-ui,sans-serif;fill:#212121}\n"
	"dt{font-weight:600;margin-top:.4em}dd{margin-left:1.5em}\n"
	"</style>\n</head>\n<body>\n";

int
surveysum_html(struct surveysum *s, struct buf *out, const char *title)
{
	const struct surveysum_result *r = surveysum_finish(s);
	struct bar bars[NFACTS > SURVEYSUM_TOP ? NFACTS : SURVEYSUM_TOP];
	bool used[SURVEYSUM_CLASS_COUNT] = {false};
	char t1[32], t2[32], p[16], key[80];
	size_t n = 0;
	int rc = 0;

	if (!r)
		return SURVEYSUM_NOMEM;
	if (!title || !*title)
		title = DEFAULT_TITLE;
	rc |= buf_puts(out, html_head) | buf_puts(out, "<title>") | html_esc(out, title, 0) | buf_puts(out, "</title>\n");
	rc |= buf_puts(out, html_style) | buf_puts(out, "<h1>") | html_esc(out, title, 0) | buf_puts(out, "</h1>\n");
	rc |= buf_printf(out, "<p class=\"meta\">%" PRIu64 " domains from %" PRIu64 " lines (%" PRIu64
	    " rejected).", r->domains, r->lines, r->rejected);
	if (r->domains)
		rc |= buf_printf(out, " Records written from %s to %s.", utc(t1, r->time_first), utc(t2, r->time_last));
	rc |= buf_puts(out, "</p>\n");

	/* The domains' key facts. */
	rc |= buf_puts(out, "<h2 id=\"domains\">Domains</h2>\n<table class=\"counts\" id=\"facts-table\"><thead><tr>"
	    "<th></th><th>count</th><th>of domains</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < NFACTS; i++) {
		uint64_t v = fact_value(r, &facts[i]);
		rc |= buf_printf(out, "<tr><th scope=\"row\">%s</th>", facts[i].label) | html_cell(out, facts[i].key, v);
		rc |= buf_printf(out, "<td class=\"pct\">%s</td></tr>\n", facts[i].of_domains ? pct(p, v, r->domains) : "");
		if (facts[i].of_domains) {
			struct bar *bar = &bars[n++];
			snprintf(bar->key, sizeof(bar->key), "%s", facts[i].key);
			bar->label = facts[i].label;
			bar->cls = NULL;
			bar->color = FACT_COLOR;
			bar->count = v;
			bar->by_class = NULL;
		}
	}
	rc |= buf_puts(out, "</tbody></table>\n") | svg_chart(out, "domain-facts", "Domains", bars, n, r->domains);

	rc |= buf_puts(out, "<h2 id=\"domain-classes\">Domains by class</h2>\n<p class=\"note\">Each domain counts "
	    "once, with the class of the first address of its first MX host (in preference order) that was probed: "
	    "refused and skipped addresses do not count; <em>none</em> when there is no such address.</p>\n");
	rc |= html_classes(out, "by-domain-class", "by_domain_class", "Domains by class", "domains", r->by_domain,
	    domain_classes, NDOMAIN_CLASSES, r->domains);
	rc |= buf_printf(out, "<h2 id=\"mx-host-classes\">MX hosts by class</h2>\n<p class=\"note\">Each MX host name, "
	    "address and port counts once: %" PRIu64 " of them, for %" PRIu64 " host names.</p>\n", r->mx_addresses,
	    r->mx_hosts);
	rc |= html_classes(out, "by-mx-host-class", "by_mx_host_class", "MX hosts by class", "hosts", r->by_address,
	    address_classes, NADDRESS_CLASSES, r->mx_addresses);

	/* The providers, their domains by class as stacked bars. */
	rc |= buf_printf(out, "<h2 id=\"providers\">Top MX providers</h2>\n<p class=\"note\">The %zu of %" PRIu64
	    " registrable domains of MX host names (by the Public Suffix List) that serve the most domains; each "
	    "domain counts once per provider, with its class.</p>\n", r->ntop, r->providers);
	for (size_t k = 0; k < r->ntop; k++)
		for (size_t c = 0; c < SURVEYSUM_CLASS_COUNT; c++)
			used[c] |= r->top[k].by_class[c] > 0;
	rc |= buf_puts(out, "<div class=\"wide\"><table class=\"counts\" id=\"top-providers-table\"><thead><tr><th>#</th><th>provider</th>"
	    "<th>domains</th><th>of domains</th>");
	for (size_t i = 0; i < NDOMAIN_CLASSES; i++)
		if (used[domain_classes[i]])
			rc |= buf_printf(out, "<th>%s</th>", surveysum_class_label(domain_classes[i]));
	rc |= buf_puts(out, "</tr></thead><tbody>\n");
	for (size_t k = 0; k < r->ntop; k++) {
		const struct surveysum_provider *pv = &r->top[k];
		struct bar *bar = &bars[k];
		snprintf(bar->key, sizeof(bar->key), "top_providers.%zu.domains", k);
		bar->label = pv->name;
		bar->cls = NULL;
		bar->color = PROVIDER_COLOR;
		bar->count = pv->domains;
		bar->by_class = pv->by_class;
		rc |= buf_printf(out, "<tr><td class=\"num\">%zu</td><th scope=\"row\" data-key=\"top_providers.%zu.name\">",
		    k + 1, k);
		rc |= html_esc(out, pv->name, 0) | buf_puts(out, "</th>") | html_cell(out, bar->key, pv->domains);
		rc |= buf_printf(out, "<td class=\"pct\">%s</td>", pct(p, pv->domains, r->domains));
		for (size_t i = 0; i < NDOMAIN_CLASSES; i++) {
			if (!used[domain_classes[i]])
				continue;
			snprintf(key, sizeof(key), "top_providers.%zu.by_class.%s", k, surveysum_class_name(domain_classes[i]));
			rc |= html_cell(out, key, pv->by_class[domain_classes[i]]);
		}
		rc |= buf_puts(out, "</tr>\n");
	}
	rc |= buf_puts(out, "</tbody></table></div>\n<p class=\"legend\">");
	for (size_t i = 0; i < NDOMAIN_CLASSES; i++)
		if (used[domain_classes[i]])
			rc |= html_swatch(out, domain_classes[i]) | buf_printf(out, "%s ", surveysum_class_label(domain_classes[i]));
	rc |= buf_puts(out, "</p>\n") | svg_chart(out, "top-providers", "Top MX providers by domains", bars, r->ntop,
	    r->domains);

	rc |= buf_printf(out, "<h2 id=\"mismatch\">Domains with a TLSA mismatch</h2>\n<p class=\"note\">%" PRIu64
	    " domain%s%s: mail to %s fails where the sender enforces DANE.</p>\n<ul id=\"tlsa-mismatch-domains\">\n",
	    r->tlsa_mismatch, r->tlsa_mismatch == 1 ? "" : "s",
	    r->nmismatch_listed < r->tlsa_mismatch ? ", the first listed" : "", r->tlsa_mismatch == 1 ? "it" : "them");
	for (size_t k = 0; k < r->nmismatch_listed; k++)
		rc |= buf_puts(out, "<li>") | html_esc(out, r->mismatch[k], 0) | buf_puts(out, "</li>\n");
	rc |= buf_puts(out, "</ul>\n<h2 id=\"definitions\">Definitions</h2>\n<dl>\n");
	for (size_t i = 0; i < NFACTS; i++)
		rc |= buf_printf(out, "<dt>%s</dt><dd>%s</dd>\n", facts[i].label, facts[i].meaning);
	rc |= buf_puts(out, "<dt>classes</dt><dd>Verified, Trusted, Untrusted, Anonymous: as Postfix logs a TLS "
	    "connection; dane-verified: a usable TLSA record matched; dane-mismatch: usable TLSA records, none "
	    "matched; tls-failed: STARTTLS offered, the handshake failed; plaintext: no STARTTLS; unreachable: no "
	    "SMTP session; refused: a special-purpose address or one of the surveying host's own, not probed; "
	    "skipped: probes disabled, or past the address limit Postfix would stop at.</dd>\n</dl>\n");
	rc |= buf_puts(out, "</body>\n</html>\n");
	return rc < 0 ? SURVEYSUM_NOMEM : 0;
}
