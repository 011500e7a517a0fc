/*
 * stscache - what the daemon knows about each recipient domain's MTA-STS
 * (RFC 8461): the TXT record's id and until when that answer holds, the
 * policy in force and the id it was fetched under, and the last failed
 * fetch. It decides what to do next (stscache_next); sts.c does it and
 * reports back.
 *
 * The rules it keeps (RFC 8461 sections 3.3 and 5.1):
 * - A policy is applied from its fetch until its max_age runs out, never
 *   past it, and meanwhile whatever happens to the TXT record or the
 *   HTTPS server: a failed lookup or fetch never drops it.
 * - A TXT id that differs from the policy's means fetch now; so does a
 *   policy in use past half its max_age (at most a day old), so that a
 *   domain in use is refreshed long before its policy runs out. Only
 *   lookups make an entry act, so only policies in use are refreshed.
 * - A failed fetch of one id is retried at most every
 *   STSCACHE_RETRY_S seconds.
 * - The TXT answer holds for its TTL (the negative TTL for "no record"),
 *   between STSCACHE_TXT_MIN_S and STSCACHE_TXT_MAX_S.
 *
 * Time is wall-clock Unix seconds, passed in: a policy outlives a
 * restart (stscache_save, stscache_restore), and the tests set the clock.
 * At most max_domains entries; past that the least recently used goes.
 *
 * Ownership: the cache owns its entries and their policies;
 * stscache_fetched() takes the policy it is given. An entry pointer stays
 * valid until the next call that adds or removes entries
 * (stscache_lookup with create, stscache_expire, stscache_restore,
 * stscache_free).
 */
#ifndef TLSPOLICY_STSCACHE_H
#define TLSPOLICY_STSCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "rules/stspolicy.h"

#define STSCACHE_RETRY_S 300
#define STSCACHE_REFRESH_MAX_S 86400
/* The floor only bounds how often a domain in use asks libunbound again,
 * which holds the record for its own TTL: a changed id is seen soon. */
#define STSCACHE_TXT_MIN_S 5
#define STSCACHE_TXT_MAX_S 3600
/* How long a failed TXT lookup (SERVFAIL, bogus, timeout) holds. */
#define STSCACHE_TXT_FAILED_S 60
#define STSCACHE_ID_MAX 32

enum stscache_txt {
	STSCACHE_TXT_UNKNOWN,	/* not looked up yet, or its answer ran out */
	STSCACHE_TXT_ABSENT,	/* no v=STSv1 record */
	STSCACHE_TXT_INVALID,	/* several, or malformed: as absent (RFC 8461 section 3.1) */
	STSCACHE_TXT_FAILED,	/* the lookup failed */
	STSCACHE_TXT_ID,	/* one record, with txt_id */
};

const char *stscache_txt_name(enum stscache_txt t);

/* What a domain that published an MTA-STS TXT id, or whose policy fetch
 * failed, has beside: allocated only then, so that the many domains
 * without MTA-STS take a few dozen bytes each. */
struct stscache_known {
	char txt_id[STSCACHE_ID_MAX + 1];
	struct stspolicy *policy;	/* NULL: none fetched, or it expired */
	/* With a policy that has patterns: Postfix's answer for it in mode
	 * enforce (stspolicy_postfix_answer), made once, for every answer. */
	char *postfix_answer;
	char *reason;			/* ...and the reason given with it */
	char policy_id[STSCACHE_ID_MAX + 1];
	int64_t fetched_at, expires_at;
	char failed_id[STSCACHE_ID_MAX + 1];	/* "": the last fetch did not fail */
	int64_t failed_at;
	char *failure;			/* what went wrong then, or NULL */
};

/* Read-only for callers: change it through the functions below. */
struct stscache_entry {
	enum stscache_txt txt;
	/* For the caller (sts.c): said once that an enforce policy can no
	 * longer be fetched; cleared by the next successful fetch. */
	bool unfetchable_said;
	int64_t txt_until;		/* the TXT answer holds until then */
	int64_t used_at;
	struct stscache_known *known;	/* NULL: nothing; read it with stscache_known() */
	char domain[];
};

/* The entry's id, policy and failure: all empty when it has none. */
const struct stscache_known *stscache_known(const struct stscache_entry *e);

enum stscache_action {
	STSCACHE_NOTHING,
	STSCACHE_LOOKUP_TXT,
	STSCACHE_FETCH,		/* fetch the policy of txt_id */
};

const char *stscache_action_name(enum stscache_action a);

struct stscache;

struct stscache *stscache_create(size_t max_domains);
void stscache_free(struct stscache *c);

/* The domain's entry, used now (LRU, used_at); with create, a new entry
 * (TXT unknown, no policy) when there is none. NULL when absent and not
 * created, or out of memory. */
struct stscache_entry *stscache_lookup(struct stscache *c, const char *domain, bool create, int64_t now);

/* The policy in force now, or NULL (none, or past its max_age). */
const struct stspolicy *stscache_in_force(const struct stscache_entry *e, int64_t now);

enum stscache_action stscache_next(const struct stscache_entry *e, int64_t now);

/* What the TXT lookup found: id only with STSCACHE_TXT_ID; ttl in
 * seconds (for ABSENT the negative TTL; ignored for FAILED). */
void stscache_txt(struct stscache_entry *e, enum stscache_txt txt, const char *id, uint32_t ttl, int64_t now);
/* A policy fetched under id: it replaces the one in force (even one of a
 * mode that says less: the domain's latest word counts). Takes policy. */
void stscache_fetched(struct stscache_entry *e, const char *id, struct stspolicy *policy, int64_t now);
/* A fetch of id failed, why says how; the policy in force stays. */
void stscache_fetch_failed(struct stscache_entry *e, const char *id, const char *why, int64_t now);

/* Frees the policies past their max_age, and the entries left with
 * nothing to remember. */
void stscache_expire(struct stscache *c, int64_t now);
/* Removes the domain's entry when it holds nothing but a TXT answer
 * without an id (no id, no policy, no failed fetch); true if it did. */
bool stscache_forget_if_empty(struct stscache *c, const char *domain);

size_t stscache_count(const struct stscache *c);
/* Policies in force by mode (indexes: enum stspolicy_mode), and the
 * memory the cache holds in its entries and policies. */
void stscache_stats(const struct stscache *c, int64_t now, size_t by_mode[3], size_t *bytes);

/* The policies in force as state-file lines (kv.h), one per domain:
 *   domain=example.org id=2024a fetched=1764000000 body="version: STSv1\x0a..."
 * and back: each line's body is parsed again, so a line is kept only when
 * its policy is valid, its fetch time not in the future (beyond a
 * minute's slack) and its max_age not yet run out; every other line is
 * skipped with a reason appended to errors ("line N: ..."). Returns the
 * number of policies restored. */
void stscache_save(const struct stscache *c, int64_t now, struct buf *out);
size_t stscache_restore(struct stscache *c, const char *text, size_t len, int64_t now, struct buf *errors);

/* For a fleet (fleet.h): the entry's policy in force as one such line
 * (-1: none), and a line another relay shared taken for domain when it is
 * that domain's, valid, not run out, and fetched later than the policy in
 * force: 1 taken, 0 not newer or run out, -1 with why (a line, appended). */
int stscache_share(const struct stscache_entry *e, int64_t now, struct buf *out);
int stscache_adopt(struct stscache *c, const char *domain, const char *line, size_t len, int64_t now,
    struct buf *why);

#endif
