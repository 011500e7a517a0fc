/* probestate - probe plans and history per destination; see probestate.h. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/kv.h"
#include "util/map.h"
#include "probe/probestate.h"
#include "util/statefile.h"
#include "rules/tlsa.h"

#define DEST_MAX sizeof(((struct probestate_line *)0)->dest)

/* Kept for every destination resolved lately: as small as its name and
 * its packed plan allow. */
struct dest {
	struct map_node node;
	struct probeplan_packed *plan;	/* NULL: none */
	uint64_t probed_ms;		/* 0: never */
	bool all_mismatch;		/* as last reported by probestate_all_mismatch_news() */
	bool all_verified;		/* as last reported by probestate_all_verified_news() */
	size_t naddrs, cap;
	struct probestate_addr *addrs;
	char name[];
};

/* A host, address and port, zero-filled so that it can be compared and
 * hashed as bytes: the fields up to the host's NUL. */
struct target_key {
	struct netaddr address;
	unsigned port;
	char host[NEXTHOP_NAME_MAX + 1];
};

/* The latest result per host, address and port, across destinations. */
struct latest {
	struct map_node node;
	struct target_key key;
	bool usable;
	struct probestate_record rec;
};

struct probestate {
	struct map dests;		/* of struct dest, at most max */
	size_t max;
	struct map latest;		/* of struct latest, at most 4 * max */
};

struct probestate *
probestate_create(size_t max_dests)
{
	struct probestate *ps = calloc(1, sizeof(*ps));
	unsigned char seed[16];

	if (!ps)
		return NULL;
	ps->max = max_dests ? max_dests : 1;
	/* The names are those Postfix asked for, which senders choose. */
	hash_random_seed(seed);
	map_init(&ps->dests, seed);
	map_init(&ps->latest, seed);
	return ps;
}

static void
free_dest(void *arg, struct map_node *n)
{
	struct dest *d = MAP_ENTRY(n, struct dest, node);

	free(d->plan);
	for (size_t i = 0; i < d->naddrs; i++)
		free(d->addrs[i].history);
	free(d->addrs);
	free(d);
}

static void
free_latest(void *arg, struct map_node *n)
{
	free(MAP_ENTRY(n, struct latest, node));
}

void
probestate_free(struct probestate *ps)
{
	if (!ps)
		return;
	map_clear(&ps->dests, free_dest, NULL);
	map_clear(&ps->latest, free_latest, NULL);
	free(ps);
}

/* The key's length: what the host leaves of it unused is not part of it. */
static size_t
target_key(struct target_key *k, const char *host, const struct netaddr *a, unsigned port)
{
	_Static_assert(offsetof(struct target_key, host) == sizeof(struct netaddr) + sizeof(unsigned),
	    "no padding to hash");
	memset(k, 0, sizeof(*k));
	k->address = *a;
	k->port = port;
	snprintf(k->host, sizeof(k->host), "%s", host);
	return offsetof(struct target_key, host) + strlen(k->host);
}

static struct latest *
find_latest(const struct probestate *ps, const char *host, const struct netaddr *a, unsigned port)
{
	struct target_key k;
	size_t len = target_key(&k, host, a, port);

	return MAP_ENTRY(map_find(&ps->latest, &k, len), struct latest, node);
}

static void
note_latest(struct probestate *ps, const char *host, const struct netaddr *a, unsigned port, bool usable,
    const struct probestate_record *rec)
{
	struct latest *l = find_latest(ps, host, a, port);

	if (!l) {
		/* A cache of what is shared, so bounded crudely: start over. */
		if (map_count(&ps->latest) >= 4 * ps->max)
			map_clear(&ps->latest, free_latest, NULL);
		if (!(l = calloc(1, sizeof(*l))))
			return;
		size_t len = target_key(&l->key, host, a, port);
		map_put(&ps->latest, &l->node, &l->key, len);
	}
	l->usable = usable;
	l->rec = *rec;
}

const struct probestate_record *
probestate_latest(const struct probestate *ps, const char *host, const struct netaddr *a, unsigned port,
    bool *usable)
{
	const struct latest *l = find_latest(ps, host, a, port);

	if (!l)
		return NULL;
	*usable = l->usable;
	return &l->rec;
}

static struct dest *
find(const struct probestate *ps, const char *name)
{
	return MAP_ENTRY(map_find_str(&ps->dests, name), struct dest, node);
}

/* Makes room by forgetting the destination probed longest ago (of those
 * never probed, the one planned first). */
static void
evict_one(struct probestate *ps)
{
	struct dest *oldest = NULL;

	for (struct map_node *n = map_oldest(&ps->dests); n; n = map_newer(n))
		if (!oldest || MAP_ENTRY(n, struct dest, node)->probed_ms < oldest->probed_ms)
			oldest = MAP_ENTRY(n, struct dest, node);
	if (oldest) {
		map_remove(&ps->dests, &oldest->node);
		free_dest(NULL, &oldest->node);
	}
}

static struct dest *
get_dest(struct probestate *ps, const char *name, bool create)
{
	struct dest *d = find(ps, name);

	if (d || !create)
		return d;
	size_t len = strnlen(name, DEST_MAX - 1);
	if (map_count(&ps->dests) >= ps->max)
		evict_one(ps);
	if (!(d = calloc(1, sizeof(*d) + len + 1)))
		return NULL;
	memcpy(d->name, name, len);
	map_put(&ps->dests, &d->node, d->name, len);
	return d;
}

bool
probestate_plan(struct probestate *ps, struct probeplan *plan, uint64_t now_ms, uint64_t interval_ms)
{
	struct dest *d = get_dest(ps, plan->dest, true);
	struct probeplan_packed *packed = d ? probeplan_pack(plan) : NULL;

	probeplan_free(plan);
	if (!packed)
		return false;
	free(d->plan);
	d->plan = packed;
	return d->probed_ms == 0 || now_ms - d->probed_ms >= interval_ms;
}

bool
probestate_get_plan(const struct probestate *ps, const char *dest, struct probeplan *out)
{
	const struct dest *d = find(ps, dest);

	memset(out, 0, sizeof(*out));
	return d && d->plan && probeplan_unpack(d->plan, out) == 0;
}

void
probestate_probed(struct probestate *ps, const char *dest, uint64_t now_ms)
{
	struct dest *d = get_dest(ps, dest, false);

	if (d)
		d->probed_ms = now_ms ? now_ms : 1;
}

void
probestate_each_due(struct probestate *ps, uint64_t now_ms, uint64_t interval_ms,
    void (*due)(void *arg, const char *dest), void *arg)
{
	for (struct map_node *n = map_oldest(&ps->dests); n; n = map_newer(n)) {
		const struct dest *d = MAP_ENTRY(n, struct dest, node);
		if (d->plan && probeplan_packed_items(d->plan) && (d->probed_ms == 0 || now_ms - d->probed_ms >= interval_ms))
			due(arg, d->name);
	}
}

static bool
same_addr(const struct probestate_addr *a, const char *host, const struct netaddr *addr, unsigned port)
{
	return a->port == port && a->address.family == addr->family &&
	    memcmp(a->address.bytes, addr->bytes, sizeof(addr->bytes)) == 0 && strcmp(a->host, host) == 0;
}

static struct probestate_addr *
get_addr(struct dest *d, const char *host, const struct netaddr *addr, unsigned port)
{
	for (size_t i = 0; i < d->naddrs; i++)
		if (same_addr(&d->addrs[i], host, addr, port))
			return &d->addrs[i];
	if (d->naddrs == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 4;
		struct probestate_addr *bigger = realloc(d->addrs, cap * sizeof(*bigger));
		if (!bigger)
			return NULL;
		d->addrs = bigger;
		d->cap = cap;
	}
	struct probestate_addr *a = &d->addrs[d->naddrs++];
	memset(a, 0, sizeof(*a));
	snprintf(a->host, sizeof(a->host), "%s", host);
	a->address = *addr;
	a->port = port;
	return a;
}

/* Out of memory for a longer history, the oldest result goes; for a
 * first one, the result is not kept. */
static void
push_record(struct probestate_addr *a, const struct probestate_record *rec)
{
	if (a->nhistory == a->history_cap && a->history_cap < PROBESTATE_HISTORY) {
		size_t cap = a->history_cap ? 2 * a->history_cap : 1;
		if (cap > PROBESTATE_HISTORY)
			cap = PROBESTATE_HISTORY;
		struct probestate_record *longer = realloc(a->history, cap * sizeof(*longer));
		if (longer) {
			a->history = longer;
			a->history_cap = cap;
		}
	}
	if (!a->history_cap)
		return;
	size_t keep = a->nhistory < a->history_cap ? a->nhistory : a->history_cap - 1;
	memmove(&a->history[1], &a->history[0], keep * sizeof(a->history[0]));
	a->history[0] = *rec;
	a->nhistory = keep + 1;
}

void
probestate_record_of(const struct probe_result *r, int64_t unix_s, struct probestate_record *out)
{
	const char *detail = r->error[0] ? r->error : r->dane_match[0] ? r->dane_match
	    : r->dane_error[0] ? r->dane_error : r->pkix_error;

	memset(out, 0, sizeof(*out));
	out->unix_s = unix_s;
	out->class = r->class;
	snprintf(out->detail, sizeof(out->detail), "%.199s", detail);
	if (r->ncerts)
		memcpy(out->leaf_spki, r->certs[0].spki_sha256, sizeof(out->leaf_spki));
}

const struct probestate_addr *
probestate_record(struct probestate *ps, const char *dest, const struct probe_target *t,
    const struct probe_result *r, int64_t unix_s)
{
	struct dest *d = get_dest(ps, dest, true);
	struct probestate_addr *a = d ? get_addr(d, t->host, &t->address, t->port) : NULL;
	struct probestate_record rec;

	if (!a)
		return NULL;
	/* What DNS promised, not what the probe got to: a DANE host that
	 * never reached STARTTLS still has usable TLSA records. */
	a->has_usable_tlsa = false;
	for (size_t i = 0; i < t->ntlsa && !a->has_usable_tlsa; i++) {
		struct tlsa_record tr = {t->tlsa[i].usage, t->tlsa[i].selector, t->tlsa[i].mtype,
		    t->tlsa[i].data, t->tlsa[i].len};
		const char *why;
		a->has_usable_tlsa = tlsa_usable(&tr, &why);
	}
	probestate_record_of(r, unix_s, &rec);
	push_record(a, &rec);
	note_latest(ps, t->host, &t->address, t->port, a->has_usable_tlsa, &rec);
	return a;
}

void
probestate_record_shared(struct probestate *ps, const char *dest, const char *host, const struct netaddr *addr,
    unsigned port, bool usable, const struct probestate_record *rec)
{
	struct dest *d = get_dest(ps, dest, true);
	struct probestate_addr *a = d ? get_addr(d, host, addr, port) : NULL;

	if (!a)
		return;
	a->has_usable_tlsa = usable;
	/* The same result twice in a row is one record. */
	if (a->nhistory && a->history[0].unix_s == rec->unix_s && a->history[0].class == rec->class)
		return;
	push_record(a, rec);
}

/* Every address with usable TLSA records has a latest result, all of
 * them of this class, and there is at least one. */
static bool
all_dane(const struct dest *d, enum probe_class class)
{
	size_t n = 0;

	for (size_t i = 0; i < d->naddrs; i++) {
		const struct probestate_addr *a = &d->addrs[i];
		if (!a->has_usable_tlsa)
			continue;
		if (a->nhistory == 0 || a->history[0].class != class)
			return false;
		n++;
	}
	return n > 0;
}

bool
probestate_all_verified_news(struct probestate *ps, const char *dest)
{
	struct dest *d = get_dest(ps, dest, false);

	if (!d)
		return false;
	bool now = all_dane(d, PROBE_DANE_VERIFIED), news = now && !d->all_verified;
	d->all_verified = now;
	return news;
}

static bool
all_mismatch(const struct dest *d)
{
	return all_dane(d, PROBE_DANE_MISMATCH);
}

bool
probestate_all_mismatch(const struct probestate *ps, const char *dest)
{
	const struct dest *d = find(ps, dest);

	return d && all_mismatch(d);
}

bool
probestate_all_mismatch_news(struct probestate *ps, const char *dest)
{
	struct dest *d = get_dest(ps, dest, false);

	if (!d)
		return false;
	bool now = all_mismatch(d), news = now && !d->all_mismatch;
	d->all_mismatch = now;
	return news;
}

void
probestate_each_addr(const struct probestate *ps, const char *dest,
    void (*fn)(void *arg, const struct probestate_addr *a), void *arg)
{
	const struct dest *d = find(ps, dest);

	for (size_t i = 0; d && i < d->naddrs; i++)
		fn(arg, &d->addrs[i]);
}

int
probestate_line_format(const struct probestate_line *l, struct buf *out)
{
	char addr[64];
	size_t before = buf_size(out);
	int rc = 0;

	netaddr_format(&l->address, addr, sizeof(addr));
	if (l->dest[0])
		rc |= kv_str(out, "dest", l->dest);
	rc |= kv_str(out, "host", l->host);
	rc |= kv_str(out, "addr", addr);
	rc |= kv_uint(out, "port", l->port);
	if (l->has_tlsa)
		rc |= kv_str(out, "tlsa", l->usable ? "usable" : "none");
	rc |= kv_uint(out, "time", (uint64_t)l->rec.unix_s);
	rc |= kv_str(out, "class", probe_class_name(l->rec.class));
	if (l->rec.detail[0])
		rc |= kv_str(out, "detail", l->rec.detail);
	if (l->rec.leaf_spki[0])
		rc |= kv_str(out, "spki", l->rec.leaf_spki);
	rc |= buf_putc(out, '\n');
	/* Not a line with a field missing, which would read as another. */
	if (rc < 0)
		buf_truncate(out, before);
	return rc < 0 ? -1 : 0;
}

static void
format_record(const char *dest, const struct probestate_addr *a, const struct probestate_record *rec,
    struct buf *out)
{
	struct probestate_line l = {
		.address = a->address, .port = a->port, .has_tlsa = true, .usable = a->has_usable_tlsa, .rec = *rec,
	};

	snprintf(l.dest, sizeof(l.dest), "%s", dest);
	snprintf(l.host, sizeof(l.host), "%s", a->host);
	probestate_line_format(&l, out);
}

void
probestate_format(const struct probestate *ps, struct buf *out)
{
	for (struct map_node *n = map_oldest(&ps->dests); n; n = map_newer(n)) {
		const struct dest *d = MAP_ENTRY(n, struct dest, node);
		for (size_t a = 0; a < d->naddrs; a++)
			/* Oldest first, so that loading pushes them in order. */
			for (size_t h = d->addrs[a].nhistory; h-- > 0;)
				format_record(d->name, &d->addrs[a], &d->addrs[a].history[h], out);
	}
}

int
probestate_save(const struct probestate *ps, const char *path)
{
	struct buf out;

	buf_init(&out);
	probestate_format(ps, &out);
	int rc = statefile_write(path, buf_ptr(&out), buf_size(&out));
	int saved = errno;
	buf_free(&out);
	errno = saved;
	return rc;
}

/* The fields of a line, each at most once. */
enum line_field {
	LF_DEST, LF_HOST, LF_ADDR, LF_PORT, LF_TLSA, LF_TIME, LF_CLASS, LF_DETAIL, LF_SPKI, LF_COUNT
};

static const char *const line_keys[LF_COUNT] = {
	"dest", "host", "addr", "port", "tlsa", "time", "class", "detail", "spki",
};

struct parsing {
	struct probestate_line *l;
	bool seen[LF_COUNT];
	bool bad;
};

/* Copies value into a field of size bytes; false when it does not fit. */
static bool
copy_value(char *dst, size_t size, const char *value)
{
	size_t len = strlen(value);

	if (len >= size)
		return false;
	memcpy(dst, value, len + 1);
	return true;
}

static bool
parse_field(struct probestate_line *l, enum line_field f, const char *value)
{
	uint64_t n = 0;

	switch (f) {
	case LF_DEST:
		return value[0] && copy_value(l->dest, sizeof(l->dest), value);
	case LF_HOST:
		return value[0] && copy_value(l->host, sizeof(l->host), value);
	case LF_ADDR:
		return netaddr_parse(value, &l->address) == 0;
	case LF_PORT:
		l->port = kv_number(value, 65535, &n) && n > 0 ? (unsigned)n : 0;
		return l->port > 0;
	case LF_TLSA:
		l->has_tlsa = true;
		l->usable = strcmp(value, "usable") == 0;
		return l->usable || strcmp(value, "none") == 0;
	case LF_TIME:
		if (!kv_number(value, INT64_MAX, &n))
			return false;
		l->rec.unix_s = (int64_t)n;
		return true;
	case LF_CLASS:
		for (int c = 0; c < PROBE_CLASS_COUNT; c++) {
			if (strcmp(value, probe_class_name((enum probe_class)c)) == 0) {
				l->rec.class = (enum probe_class)c;
				return true;
			}
		}
		return false;
	case LF_DETAIL:
		return copy_value(l->rec.detail, sizeof(l->rec.detail), value);
	case LF_SPKI:
		return copy_value(l->rec.leaf_spki, sizeof(l->rec.leaf_spki), value);
	case LF_COUNT:
		break;
	}
	return false;
}

static void
on_field(void *arg, const char *key, const char *value)
{
	struct parsing *p = arg;
	enum line_field f = LF_COUNT;

	for (int i = 0; i < LF_COUNT; i++)
		if (strcmp(key, line_keys[i]) == 0)
			f = (enum line_field)i;
	if (f == LF_COUNT || p->seen[f] || !parse_field(p->l, f, value)) {
		p->bad = true;
		return;
	}
	p->seen[f] = true;
}

int
probestate_line_parse(const char *line, size_t len, struct probestate_line *out)
{
	struct parsing p = {.l = out};

	memset(out, 0, sizeof(*out));
	if (kv_parse(line, len, on_field, &p) < 0 || p.bad || !p.seen[LF_HOST] || !p.seen[LF_ADDR] ||
	    !p.seen[LF_PORT] || !p.seen[LF_TIME] || !p.seen[LF_CLASS])
		return -1;
	return 0;
}

int
probestate_restore(struct probestate *ps, const char *text, size_t len, int64_t unix_now)
{
	const char *p = text, *end = text + len;
	int loaded = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		struct probestate_line l;
		const char *line = p;
		p = nl ? nl + 1 : end;
		if (probestate_line_parse(line, n, &l) < 0 || !l.dest[0] || l.rec.unix_s > unix_now + 86400)
			continue;
		struct dest *d = get_dest(ps, l.dest, true);
		struct probestate_addr *a = d ? get_addr(d, l.host, &l.address, l.port) : NULL;
		if (!a)
			continue;
		a->has_usable_tlsa = l.usable;
		push_record(a, &l.rec);
		note_latest(ps, l.host, &l.address, l.port, l.usable, &l.rec);
		loaded++;
	}
	return loaded;
}

int
probestate_load(struct probestate *ps, const char *path, int64_t unix_now, char *err, size_t errlen)
{
	struct buf content;
	const char *why;

	buf_init(&content);
	int rc = statefile_read(path, &content, &why);
	if (rc != STATEFILE_OK) {
		if (rc == STATEFILE_ERROR)
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		else if (rc == STATEFILE_DAMAGED)
			snprintf(err, errlen, "%s is damaged (%s); it is ignored and will be rewritten", path, why);
		buf_free(&content);
		return rc == STATEFILE_MISSING ? 0 : -1;
	}
	int loaded = probestate_restore(ps, buf_ptr(&content), buf_size(&content), unix_now);
	buf_free(&content);
	return loaded;
}
