/*
 * stscache - see stscache.h for the contract.
 *
 * The entries live in one map (map.h) keyed by domain, in LRU order and
 * bounded, keyed under a random seed: domains are names strangers choose.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "util/kv.h"
#include "util/map.h"
#include "postfix/nexthop.h"
#include "sts/stscache.h"

/* A restored fetch time may lie this far ahead of the clock (a clock
 * stepped back a little), no further. */
#define RESTORE_SLACK_S 60

struct node {
	struct map_node node;		/* in stscache.domains, under entry.domain */
	struct stscache_entry entry;	/* last: ends in the domain */
};

struct stscache {
	struct map domains;
};

static const char *const txt_names[] = {
	[STSCACHE_TXT_UNKNOWN] = "unknown",
	[STSCACHE_TXT_ABSENT] = "absent",
	[STSCACHE_TXT_INVALID] = "invalid",
	[STSCACHE_TXT_FAILED] = "failed",
	[STSCACHE_TXT_ID] = "id",
};

const char *
stscache_txt_name(enum stscache_txt t)
{
	return (unsigned)t < sizeof(txt_names) / sizeof(txt_names[0]) ? txt_names[t] : "?";
}

const char *
stscache_action_name(enum stscache_action a)
{
	switch (a) {
	case STSCACHE_NOTHING:
		return "nothing";
	case STSCACHE_LOOKUP_TXT:
		return "lookup-txt";
	case STSCACHE_FETCH:
		return "fetch";
	}
	return "?";
}

static const struct stscache_known nothing_known;

const struct stscache_known *
stscache_known(const struct stscache_entry *e)
{
	return e->known ? e->known : &nothing_known;
}

/* The entry's known part, made when first needed; NULL when out of
 * memory. */
static struct stscache_known *
known_for_write(struct stscache_entry *e)
{
	if (!e->known)
		e->known = calloc(1, sizeof(*e->known));
	return e->known;
}

static void
drop_policy(struct stscache_known *k)
{
	stspolicy_free(k->policy);
	k->policy = NULL;
	free(k->postfix_answer);
	k->postfix_answer = NULL;
	free(k->reason);
	k->reason = NULL;
	k->policy_id[0] = '\0';
	k->fetched_at = k->expires_at = 0;
}

static void
free_known(struct stscache_entry *e)
{
	if (!e->known)
		return;
	drop_policy(e->known);
	free(e->known->failure);
	free(e->known);
	e->known = NULL;
}

static void
free_node(void *arg, struct map_node *n)
{
	struct node *nd = MAP_ENTRY(n, struct node, node);

	free_known(&nd->entry);
	free(nd);
}

struct stscache *
stscache_create(size_t max_domains)
{
	struct stscache *c = calloc(1, sizeof(*c));
	unsigned char seed[16];

	if (!c)
		return NULL;
	hash_random_seed(seed);
	map_init(&c->domains, seed);
	map_set_max(&c->domains, max_domains, free_node, NULL);
	return c;
}

void
stscache_free(struct stscache *c)
{
	if (!c)
		return;
	map_clear(&c->domains, free_node, NULL);
	free(c);
}

struct stscache_entry *
stscache_lookup(struct stscache *c, const char *domain, bool create, int64_t now)
{
	struct node *nd = MAP_ENTRY(map_find_str(&c->domains, domain), struct node, node);
	size_t len = strlen(domain);

	if (nd) {
		map_touch(&c->domains, &nd->node);
	} else {
		if (!create || !(nd = calloc(1, sizeof(*nd) + len + 1)))
			return NULL;
		memcpy(nd->entry.domain, domain, len + 1);
		map_put(&c->domains, &nd->node, nd->entry.domain, len);
	}
	nd->entry.used_at = now;
	return &nd->entry;
}

const struct stspolicy *
stscache_in_force(const struct stscache_entry *e, int64_t now)
{
	const struct stscache_known *k = stscache_known(e);

	return k->policy && now < k->expires_at ? k->policy : NULL;
}

/* Past half its max_age, and at most a day old: time to fetch again. */
static bool
refresh_due(const struct stscache_known *k, int64_t now)
{
	int64_t lifetime = k->expires_at - k->fetched_at, after = lifetime / 2;

	if (after > STSCACHE_REFRESH_MAX_S)
		after = STSCACHE_REFRESH_MAX_S;
	return now - k->fetched_at >= after;
}

enum stscache_action
stscache_next(const struct stscache_entry *e, int64_t now)
{
	if (e->txt == STSCACHE_TXT_UNKNOWN || now >= e->txt_until)
		return STSCACHE_LOOKUP_TXT;
	/* Without a usable TXT record there is nothing to fetch; a policy in
	 * force stays until it runs out. */
	if (e->txt != STSCACHE_TXT_ID)
		return STSCACHE_NOTHING;
	const struct stscache_known *k = stscache_known(e);
	if (stscache_in_force(e, now) && strcmp(k->policy_id, k->txt_id) == 0 && !refresh_due(k, now))
		return STSCACHE_NOTHING;
	if (strcmp(k->failed_id, k->txt_id) == 0 && now - k->failed_at < STSCACHE_RETRY_S)
		return STSCACHE_NOTHING;
	return STSCACHE_FETCH;
}

static void
copy_id(char dst[STSCACHE_ID_MAX + 1], const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n > STSCACHE_ID_MAX)
		n = STSCACHE_ID_MAX;
	memcpy(dst, id ? id : "", n);
	dst[n] = '\0';
}

void
stscache_txt(struct stscache_entry *e, enum stscache_txt txt, const char *id, uint32_t ttl, int64_t now)
{
	int64_t hold = ttl;

	if (txt == STSCACHE_TXT_FAILED)
		hold = STSCACHE_TXT_FAILED_S;
	else if (hold < STSCACHE_TXT_MIN_S)
		hold = STSCACHE_TXT_MIN_S;
	else if (hold > STSCACHE_TXT_MAX_S)
		hold = STSCACHE_TXT_MAX_S;
	struct stscache_known *k = txt == STSCACHE_TXT_ID || e->known ? known_for_write(e) : NULL;
	if (txt == STSCACHE_TXT_ID && !k) {
		/* No room to remember the id: as a lookup that failed. */
		txt = STSCACHE_TXT_FAILED;
		hold = STSCACHE_TXT_FAILED_S;
	}
	e->txt = txt;
	if (k)
		copy_id(k->txt_id, txt == STSCACHE_TXT_ID ? id : NULL);
	e->txt_until = now + hold;
}

void
stscache_fetched(struct stscache_entry *e, const char *id, struct stspolicy *policy, int64_t now)
{
	struct buf answer;
	struct stscache_known *k = known_for_write(e);

	if (!k) {
		stspolicy_free(policy);	/* nowhere to keep it: as a failed fetch, to retry */
		return;
	}
	drop_policy(k);
	k->policy = policy;
	buf_init(&answer);
	/* Out of memory, there is no answer to give: the policy changes
	 * nothing, as one without patterns. */
	if (stspolicy_postfix_answer(policy, &answer) == 0 && buf_terminate(&answer) == 0)
		k->postfix_answer = buf_detach(&answer);
	buf_reset(&answer);
	/* Made here too, not at each answer: the path every cached answer
	 * takes. */
	if (k->postfix_answer && buf_printf(&answer, "MTA-STS policy %s in mode enforce, where DNS proves DANE absent",
	    id) == 0 && buf_terminate(&answer) == 0)
		k->reason = buf_detach(&answer);
	buf_free(&answer);
	copy_id(k->policy_id, id);
	k->fetched_at = now;
	k->expires_at = now + (int64_t)stspolicy_max_age(policy);
	k->failed_id[0] = '\0';
	k->failed_at = 0;
	free(k->failure);
	k->failure = NULL;
	e->unfetchable_said = false;
}

void
stscache_fetch_failed(struct stscache_entry *e, const char *id, const char *why, int64_t now)
{
	struct stscache_known *k = known_for_write(e);

	if (!k)
		return;
	copy_id(k->failed_id, id);
	k->failed_at = now;
	free(k->failure);
	k->failure = why ? strdup(why) : NULL;
}

void
stscache_expire(struct stscache *c, int64_t now)
{
	struct map_node *n = map_oldest(&c->domains), *next;

	for (; n; n = next) {
		struct node *nd = MAP_ENTRY(n, struct node, node);
		struct stscache_entry *e = &nd->entry;

		next = map_newer(n);
		if (e->known && e->known->policy && !stscache_in_force(e, now))
			drop_policy(e->known);
		const struct stscache_known *k = stscache_known(e);
		/* A TXT answer that ran out and no policy: a later lookup
		 * learns as much again. */
		if (!k->policy && now >= e->txt_until && !(k->failed_id[0] && now - k->failed_at < STSCACHE_RETRY_S)) {
			map_remove(&c->domains, n);
			free_node(NULL, n);
		}
	}
}

bool
stscache_forget_if_empty(struct stscache *c, const char *domain)
{
	struct map_node *n = map_find_str(&c->domains, domain);

	if (!n || MAP_ENTRY(n, struct node, node)->entry.known)
		return false;
	map_remove(&c->domains, n);
	free_node(NULL, n);
	return true;
}

size_t
stscache_count(const struct stscache *c)
{
	return map_count(&c->domains);
}

void
stscache_stats(const struct stscache *c, int64_t now, size_t by_mode[3], size_t *bytes)
{
	size_t total = 0;

	by_mode[0] = by_mode[1] = by_mode[2] = 0;
	for (struct map_node *n = map_oldest(&c->domains); n; n = map_newer(n)) {
		const struct node *nd = MAP_ENTRY(n, struct node, node);
		const struct stscache_entry *e = &nd->entry;
		const struct stspolicy *p = stscache_in_force(e, now);
		const struct stscache_known *k = stscache_known(e);

		total += sizeof(*nd) + strlen(e->domain) + 1;
		if (e->known)
			total += sizeof(*k) + (k->failure ? strlen(k->failure) + 1 : 0) +
			    (k->postfix_answer ? strlen(k->postfix_answer) + 1 : 0) + (k->reason ? strlen(k->reason) + 1 : 0);
		if (k->policy)
			total += stspolicy_memory(k->policy);
		if (p && (unsigned)stspolicy_mode(p) < 3)
			by_mode[stspolicy_mode(p)]++;
	}
	*bytes = total;
}

/* ---- The state file. ---- */

static void
append_body(const struct stspolicy *p, struct buf *body)
{
	for (size_t i = 0; i < stspolicy_nlines(p); i++) {
		buf_puts(body, stspolicy_line(p, i));
		buf_putc(body, '\n');
	}
}

/* The entry's policy in force as one state-file line. */
static void
save_entry(const struct stscache_entry *e, const struct stspolicy *p, struct buf *body, struct buf *out)
{
	buf_reset(body);
	append_body(p, body);
	kv_str(out, "domain", e->domain);
	kv_str(out, "id", stscache_known(e)->policy_id);
	kv_uint(out, "fetched", (uint64_t)stscache_known(e)->fetched_at);
	kv_strn(out, "body", buf_ptr(body), buf_size(body));
	buf_putc(out, '\n');
}

void
stscache_save(const struct stscache *c, int64_t now, struct buf *out)
{
	struct buf body;

	buf_init(&body);
	for (struct map_node *n = map_oldest(&c->domains); n; n = map_newer(n)) {
		const struct stscache_entry *e = &MAP_ENTRY(n, struct node, node)->entry;
		const struct stspolicy *p = stscache_in_force(e, now);

		if (p)
			save_entry(e, p, &body, out);
	}
	buf_free(&body);
}

int
stscache_share(const struct stscache_entry *e, int64_t now, struct buf *out)
{
	const struct stspolicy *p = stscache_in_force(e, now);
	struct buf body;

	if (!p)
		return -1;
	buf_init(&body);
	save_entry(e, p, &body, out);
	buf_free(&body);
	return 0;
}

struct restored {
	char domain[NEXTHOP_NAME_MAX + 1];
	char id[STSCACHE_ID_MAX + 1];
	uint64_t fetched;
	struct buf body;
	bool has_domain, has_id, has_fetched, has_body, bad;
	const char *why;
};

static bool
id_valid(const char *id)
{
	size_t n = 0;

	for (; id[n]; n++)
		if (!((id[n] >= 'a' && id[n] <= 'z') || (id[n] >= 'A' && id[n] <= 'Z') ||
		    (id[n] >= '0' && id[n] <= '9')))
			return false;
	return n >= 1 && n <= STSCACHE_ID_MAX;
}

static void
restore_field(void *arg, const char *key, const char *value)
{
	struct restored *r = arg;
	size_t n = strlen(value);

	if (strcmp(key, "domain") == 0) {
		struct nexthop nh;
		const char *why;
		if (nexthop_parse(value, n, &nh, &why) != 0 || nh.kind != NEXTHOP_DOMAIN ||
		    nh.port != NEXTHOP_DEFAULT_PORT || strcmp(nh.name, value) != 0) {
			r->bad = true;
			r->why = "domain is not a lower-case domain name";
			return;
		}
		memcpy(r->domain, value, n + 1);
		r->has_domain = true;
	} else if (strcmp(key, "id") == 0) {
		if (!id_valid(value)) {
			r->bad = true;
			r->why = "id is not 1 to 32 letters and digits";
			return;
		}
		memcpy(r->id, value, n + 1);
		r->has_id = true;
	} else if (strcmp(key, "fetched") == 0) {
		if (!kv_number(value, INT64_MAX, &r->fetched)) {
			r->bad = true;
			r->why = "fetched is not a time";
			return;
		}
		r->has_fetched = true;
	} else if (strcmp(key, "body") == 0) {
		buf_reset(&r->body);
		buf_append(&r->body, value, n);
		r->has_body = true;
	}
	/* Unknown keys: a later version's, ignored. */
}

/* One state-file line read back: 1 when its policy was taken, 0 when it
 * was skipped without a fault (run out, or not newer), -1 with why. With
 * domain, the line must be that domain's; with only_newer, its fetch must
 * be later than that of the policy in force. */
static int
restore_line(struct stscache *c, const char *line, size_t n, int64_t now, const char *domain, bool only_newer,
    struct restored *r, struct buf *why)
{
	buf_reset(&r->body);
	r->has_domain = r->has_id = r->has_fetched = r->has_body = r->bad = false;
	r->why = NULL;
	if (kv_parse(line, n, restore_field, r) != 0 && !r->bad) {
		r->bad = true;
		r->why = "not key=value fields";
	}
	if (!r->bad && !(r->has_domain && r->has_id && r->has_fetched && r->has_body)) {
		r->bad = true;
		r->why = "a field of domain, id, fetched and body is missing";
	}
	if (!r->bad && (int64_t)r->fetched > now + RESTORE_SLACK_S) {
		r->bad = true;
		r->why = "fetched lies in the future";
	}
	if (!r->bad && domain && strcmp(domain, r->domain) != 0) {
		r->bad = true;
		r->why = "the policy is another domain's";
	}
	if (r->bad) {
		buf_printf(why, "%s\n", r->why);
		return -1;
	}
	struct buf perrors;
	buf_init(&perrors);
	struct stspolicy *policy = stspolicy_parse(buf_ptr(&r->body), buf_size(&r->body), &perrors);
	buf_terminate(&perrors);
	if (!policy) {
		buf_printf(why, "%s: the policy is not valid: %s", r->domain, buf_size(&perrors) ? buf_ptr(&perrors) : "?\n");
		buf_free(&perrors);
		return -1;
	}
	buf_free(&perrors);
	/* A clock stepped back counts the policy as fetched now, never
	 * as living longer than its max_age from the real fetch. */
	int64_t fetched = (int64_t)r->fetched > now ? now : (int64_t)r->fetched;
	if (fetched + (int64_t)stspolicy_max_age(policy) <= now) {
		stspolicy_free(policy);
		return 0;	/* run out: not an error */
	}
	struct stscache_entry *e = stscache_lookup(c, r->domain, true, now);
	if (!e) {
		stspolicy_free(policy);
		buf_printf(why, "%s: out of memory\n", r->domain);
		return -1;
	}
	if (only_newer && stscache_in_force(e, now) && stscache_known(e)->fetched_at >= fetched) {
		stspolicy_free(policy);
		return 0;
	}
	stscache_fetched(e, r->id, policy, fetched);
	return 1;
}

size_t
stscache_restore(struct stscache *c, const char *text, size_t len, int64_t now, struct buf *errors)
{
	const char *p = text, *end = text + len;
	size_t restored = 0;
	unsigned line = 0;
	struct restored r;
	struct buf why;

	buf_init(&r.body);
	buf_init(&why);
	for (; p < end; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *start = p;

		p += n + (nl != NULL);
		if (n == 0)
			continue;
		buf_reset(&why);
		int rc = restore_line(c, start, n, now, NULL, false, &r, &why);
		if (rc > 0)
			restored++;
		else if (rc < 0)
			buf_printf(errors, "line %u: %.*s", line + 1, (int)buf_size(&why), buf_ptr(&why));
	}
	buf_free(&r.body);
	buf_free(&why);
	return restored;
}

int
stscache_adopt(struct stscache *c, const char *domain, const char *line, size_t len, int64_t now, struct buf *why)
{
	struct restored r;

	if (len && line[len - 1] == '\n')
		len--;
	if (memchr(line, '\n', len)) {
		buf_puts(why, "more than one line\n");
		return -1;
	}
	buf_init(&r.body);
	int rc = restore_line(c, line, len, now, domain, true, &r, why);
	buf_free(&r.body);
	return rc;
}
