/* Unit tests: what the daemon remembers of each domain's MTA-STS and what
 * it does next (lib/sts/stscache.h) - RFC 8461 sections 3.3 and 5.1.
 *
 * Pure: the clock is the table's. A row is a script of steps on one
 * domain's entry: what a TXT lookup or a fetch reported, at which second
 * after T0, and checks of the action that follows and of the policy in
 * force; the row's name says the rule. The state file's round trip and
 * its refusals follow as plain tests. */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sts/stscache.h"
#include "table.h"

#define T0 1764000000
#define DAY 86400
#define WEEK (7 * DAY)
#define MAX_STEPS 16

static const char enforce_week[] = "version: STSv1\nmode: enforce\nmx: mx.example.org\nmax_age: 604800\n";
static const char enforce_10min[] = "version: STSv1\r\nmode: enforce\r\nmx: mx.example.org\r\nmax_age: 600\r\n";
static const char none_week[] = "version: STSv1\nmode: none\nmax_age: 604800\n";

enum op {
	END,
	TXT,		/* the TXT lookup said: txt (id), ttl */
	FETCHED,	/* a fetch of id returned body */
	FAILED,		/* a fetch of id failed */
	NEXT,		/* want: the action */
	IN_FORCE,	/* want: the mode in force, or -1 for none */
};

struct step {
	enum op op;
	int64_t at;			/* seconds after T0 */
	enum stscache_txt txt;		/* TXT */
	const char *id;			/* TXT, FETCHED, FAILED */
	uint32_t ttl;			/* TXT */
	const char *body;		/* FETCHED */
	int want;			/* NEXT, IN_FORCE */
};

struct script_case {
	const char *name;
	struct step steps[MAX_STEPS];
};

static const char *
script_case_name(const void *row)
{
	return ((const struct script_case *)row)->name;
}

#define S_TXT(t, kind, id, ttl) {TXT, t, kind, id, ttl}
#define S_ID(t, id, ttl) {TXT, t, STSCACHE_TXT_ID, id, ttl}
#define S_FETCHED(t, id, body) {FETCHED, t, 0, id, 0, body}
#define S_FAILED(t, id) {FAILED, t, 0, id}
#define S_NEXT(t, action) {NEXT, t, 0, NULL, 0, NULL, action}
#define S_MODE(t, mode) {IN_FORCE, t, 0, NULL, 0, NULL, mode}
#define NO_POLICY (-1)

static const struct script_case script_cases[] = {
	{"a new domain: look up the TXT record first",
	    {S_NEXT(0, STSCACHE_LOOKUP_TXT), S_MODE(0, NO_POLICY)}},
	{"no TXT record: nothing until its negative TTL runs out",
	    {S_TXT(0, STSCACHE_TXT_ABSENT, NULL, 300), S_NEXT(299, STSCACHE_NOTHING),
	        S_NEXT(300, STSCACHE_LOOKUP_TXT)}},
	{"a TXT TTL under the floor holds STSCACHE_TXT_MIN_S",
	    {S_ID(0, "a1", 1), S_FETCHED(0, "a1", enforce_week), S_NEXT(STSCACHE_TXT_MIN_S - 1, STSCACHE_NOTHING),
	        S_NEXT(STSCACHE_TXT_MIN_S, STSCACHE_LOOKUP_TXT)}},
	{"a TXT TTL over the ceiling holds STSCACHE_TXT_MAX_S",
	    {S_ID(0, "a1", DAY), S_FETCHED(0, "a1", enforce_week), S_NEXT(STSCACHE_TXT_MAX_S - 1, STSCACHE_NOTHING),
	        S_NEXT(STSCACHE_TXT_MAX_S, STSCACHE_LOOKUP_TXT)}},
	{"a TXT id without a policy: fetch",
	    {S_ID(0, "a1", 300), S_NEXT(0, STSCACHE_FETCH), S_FETCHED(1, "a1", enforce_week),
	        S_NEXT(2, STSCACHE_NOTHING), S_MODE(2, STSPOLICY_MODE_ENFORCE)}},
	{"a failed fetch of one id is retried after STSCACHE_RETRY_S, not before",
	    {S_ID(0, "a1", 3600), S_FAILED(0, "a1"), S_NEXT(STSCACHE_RETRY_S - 1, STSCACHE_NOTHING),
	        S_NEXT(STSCACHE_RETRY_S, STSCACHE_FETCH), S_MODE(STSCACHE_RETRY_S, NO_POLICY)}},
	{"a changed id means fetch now, even right after a failure of the old one",
	    {S_ID(0, "a1", 60), S_FAILED(0, "a1"), S_ID(60, "b2", 60), S_NEXT(60, STSCACHE_FETCH)}},
	{"a changed id with a policy in force: fetch, and the old policy stays while it fails",
	    {S_ID(0, "a1", 60), S_FETCHED(0, "a1", enforce_week), S_ID(60, "b2", 60), S_NEXT(60, STSCACHE_FETCH),
	        S_FAILED(61, "b2"), S_MODE(62, STSPOLICY_MODE_ENFORCE), S_NEXT(62, STSCACHE_NOTHING),
	        S_ID(400, "b2", 60), S_NEXT(400, STSCACHE_FETCH)}},
	{"the TXT record gone: the cached policy still applies until max_age",
	    {S_ID(0, "a1", 60), S_FETCHED(0, "a1", enforce_week), S_TXT(100, STSCACHE_TXT_ABSENT, NULL, 300),
	        S_NEXT(100, STSCACHE_NOTHING), S_MODE(WEEK - 1, STSPOLICY_MODE_ENFORCE), S_MODE(WEEK, NO_POLICY)}},
	{"a failed TXT lookup keeps the policy and is retried after STSCACHE_TXT_FAILED_S",
	    {S_ID(0, "a1", 60), S_FETCHED(0, "a1", enforce_week), S_TXT(100, STSCACHE_TXT_FAILED, NULL, DAY),
	        S_NEXT(100 + STSCACHE_TXT_FAILED_S - 1, STSCACHE_NOTHING), S_MODE(101, STSPOLICY_MODE_ENFORCE),
	        S_NEXT(100 + STSCACHE_TXT_FAILED_S, STSCACHE_LOOKUP_TXT)}},
	{"an invalid TXT record (several, malformed) is as none: nothing to fetch",
	    {S_TXT(0, STSCACHE_TXT_INVALID, NULL, 300), S_NEXT(1, STSCACHE_NOTHING), S_MODE(1, NO_POLICY)}},
	{"never past max_age: the policy is gone the second it runs out",
	    {S_ID(0, "a1", 3600), S_FETCHED(0, "a1", enforce_10min), S_MODE(599, STSPOLICY_MODE_ENFORCE),
	        S_MODE(600, NO_POLICY)}},
	{"a policy in use is fetched again at half its max_age",
	    {S_ID(0, "a1", 3600), S_FETCHED(0, "a1", enforce_10min), S_ID(299, "a1", 3600),
	        S_NEXT(299, STSCACHE_NOTHING), S_NEXT(300, STSCACHE_FETCH)}},
	{"... and at most a day after its fetch",
	    {S_ID(0, "a1", 3600), S_FETCHED(0, "a1", enforce_week), S_ID(DAY - 1, "a1", 3600),
	        S_NEXT(DAY - 1, STSCACHE_NOTHING), S_NEXT(DAY, STSCACHE_FETCH)}},
	{"a refresh that fails keeps the policy and waits STSCACHE_RETRY_S",
	    {S_ID(0, "a1", 3600), S_FETCHED(0, "a1", enforce_week), S_ID(DAY, "a1", 3600), S_FAILED(DAY, "a1"),
	        S_MODE(DAY + 1, STSPOLICY_MODE_ENFORCE), S_NEXT(DAY + STSCACHE_RETRY_S - 1, STSCACHE_NOTHING),
	        S_NEXT(DAY + STSCACHE_RETRY_S, STSCACHE_FETCH)}},
	{"a newer policy of mode none replaces an enforce one",
	    {S_ID(0, "a1", 60), S_FETCHED(0, "a1", enforce_week), S_ID(60, "b2", 60), S_FETCHED(61, "b2", none_week),
	        S_MODE(62, STSPOLICY_MODE_NONE), S_NEXT(62, STSCACHE_NOTHING)}},
};

static struct stspolicy *
parse(const char *body)
{
	struct buf errors;

	buf_init(&errors);
	struct stspolicy *p = stspolicy_parse(body, strlen(body), &errors);
	buf_terminate(&errors);
	if (!p)
		fail_msg("test policy refused: %s", buf_ptr(&errors));
	buf_free(&errors);
	return p;
}

static void
test_script(void **state)
{
	const struct script_case *c = *state;
	struct stscache *cache = stscache_create(16);
	struct stscache_entry *e = stscache_lookup(cache, "example.org", true, T0);

	assert_non_null(e);
	for (size_t i = 0; i < MAX_STEPS && c->steps[i].op != END; i++) {
		const struct step *s = &c->steps[i];
		int64_t now = T0 + s->at;
		const struct stspolicy *p;

		switch (s->op) {
		case TXT:
			stscache_txt(e, s->txt, s->id, s->ttl, now);
			break;
		case FETCHED:
			stscache_fetched(e, s->id, parse(s->body), now);
			break;
		case FAILED:
			stscache_fetch_failed(e, s->id, "HTTP 404", now);
			break;
		case NEXT:
			if ((int)stscache_next(e, now) != s->want)
				fail_msg("step %zu (T0+%lld): %s, want %s", i + 1, (long long)s->at,
				    stscache_action_name(stscache_next(e, now)), stscache_action_name(s->want));
			break;
		case IN_FORCE:
			p = stscache_in_force(e, now);
			if ((p ? (int)stspolicy_mode(p) : NO_POLICY) != s->want)
				fail_msg("step %zu (T0+%lld): policy in force %s, want %s", i + 1, (long long)s->at,
				    p ? stspolicy_mode_name(stspolicy_mode(p)) : "none",
				    s->want == NO_POLICY ? "none" : stspolicy_mode_name(s->want));
			break;
		case END:
			break;
		}
	}
	stscache_free(cache);
}

/* ---- The cache as a whole. ---- */

static void
fetch(struct stscache *c, const char *domain, const char *id, const char *body, int64_t now)
{
	struct stscache_entry *e = stscache_lookup(c, domain, true, now);

	assert_non_null(e);
	stscache_txt(e, STSCACHE_TXT_ID, id, 300, now);
	stscache_fetched(e, id, parse(body), now);
}

static void
test_bounded_lru(void **state)
{
	struct stscache *c = stscache_create(2);

	fetch(c, "a.example", "1", enforce_week, T0);
	fetch(c, "b.example", "1", enforce_week, T0 + 1);
	assert_non_null(stscache_lookup(c, "a.example", false, T0 + 2));	/* a: the newest now */
	fetch(c, "c.example", "1", enforce_week, T0 + 3);
	assert_int_equal(stscache_count(c), 2);
	assert_null(stscache_lookup(c, "b.example", false, T0 + 4));
	assert_non_null(stscache_lookup(c, "a.example", false, T0 + 4));
	stscache_free(c);
}

static void
test_expire_and_stats(void **state)
{
	struct stscache *c = stscache_create(0);
	size_t by_mode[3], bytes;

	fetch(c, "week.example", "1", enforce_week, T0);
	fetch(c, "short.example", "1", enforce_10min, T0);
	fetch(c, "none.example", "1", none_week, T0);
	assert_null(stscache_known(stscache_lookup(c, "none.example", false, T0))->postfix_answer);	/* no patterns */
	stscache_stats(c, T0 + 1, by_mode, &bytes);
	assert_int_equal(by_mode[STSPOLICY_MODE_ENFORCE], 2);
	assert_int_equal(by_mode[STSPOLICY_MODE_NONE], 1);
	assert_true(bytes > 3 * sizeof(struct stscache_entry));
	/* Past the short policy's max_age and every TXT answer: the short
	 * one is forgotten, the others kept for their policies. */
	stscache_expire(c, T0 + 600);
	assert_int_equal(stscache_count(c), 2);
	assert_null(stscache_lookup(c, "short.example", false, T0 + 600));
	stscache_stats(c, T0 + 600, by_mode, &bytes);
	assert_int_equal(by_mode[STSPOLICY_MODE_ENFORCE], 1);
	stscache_expire(c, T0 + WEEK);
	assert_int_equal(stscache_count(c), 0);
	stscache_free(c);
}

static void
test_save_restore(void **state)
{
	struct stscache *c = stscache_create(0), *d = stscache_create(0);
	struct buf saved, errors;

	buf_init(&saved);
	buf_init(&errors);
	fetch(c, "example.org", "20260101", enforce_10min, T0);
	fetch(c, "xn--bcher-kva.example", "abc", enforce_week, T0 + 5);
	stscache_lookup(c, "nothing.example", true, T0);	/* no policy: not saved */
	stscache_save(c, T0 + 10, &saved);
	buf_terminate(&saved);
	assert_int_equal(stscache_restore(d, buf_ptr(&saved), buf_size(&saved), T0 + 20, &errors), 2);
	buf_terminate(&errors);
	assert_string_equal(buf_ptr(&errors), "");

	struct stscache_entry *e = stscache_lookup(d, "example.org", false, T0 + 20);
	assert_non_null(e);
	assert_string_equal(stscache_known(e)->policy_id, "20260101");
	assert_int_equal(stscache_known(e)->fetched_at, T0);
	assert_int_equal(stscache_known(e)->expires_at, T0 + 600);
	const struct stspolicy *p = stscache_in_force(e, T0 + 20);
	assert_non_null(p);
	assert_int_equal(stspolicy_mode(p), STSPOLICY_MODE_ENFORCE);
	assert_int_equal(stspolicy_npatterns(p), 1);
	assert_string_equal(stspolicy_pattern(p, 0), "mx.example.org");
	assert_string_equal(stscache_known(e)->postfix_answer, "secure match=mx.example.org servername=hostname");
	/* A restart does not refetch: the same id from DNS is enough. */
	stscache_txt(e, STSCACHE_TXT_ID, "20260101", 300, T0 + 21);
	assert_int_equal(stscache_next(e, T0 + 21), STSCACHE_NOTHING);

	/* Saved again, the text is the same. */
	struct buf again;
	buf_init(&again);
	stscache_save(d, T0 + 10, &again);
	buf_terminate(&again);
	assert_int_equal(buf_size(&again), buf_size(&saved));

	/* After the short policy's max_age only the other comes back, and
	 * that is no error. */
	struct stscache *late = stscache_create(0);
	buf_reset(&errors);
	assert_int_equal(stscache_restore(late, buf_ptr(&saved), buf_size(&saved), T0 + 600, &errors), 1);
	assert_int_equal(buf_size(&errors), 0);
	stscache_free(late);

	buf_free(&again);
	buf_free(&saved);
	buf_free(&errors);
	stscache_free(c);
	stscache_free(d);
}

struct refused_case {
	const char *name;
	const char *line;
	const char *want;	/* in the error */
};

static const char *
refused_case_name(const void *row)
{
	return ((const struct refused_case *)row)->name;
}

#define BODY "body=\"version: STSv1\\x0amode: enforce\\x0amx: mx.example.org\\x0amax_age: 604800\\x0a\""

static const struct refused_case refused_cases[] = {
	{"restore refuses: a fetch time in the future", "domain=example.org id=1 fetched=1764999999 " BODY,
	    "line 1: fetched lies in the future"},
	{"restore refuses: an id with other characters", "domain=example.org id=a-b fetched=1764000000 " BODY,
	    "id is not"},
	{"restore refuses: an id of 33 characters",
	    "domain=example.org id=123456789012345678901234567890123 fetched=1764000000 " BODY, "id is not"},
	{"restore refuses: upper case in the domain", "domain=Example.org id=1 fetched=1764000000 " BODY,
	    "domain is not"},
	{"restore refuses: a host next hop", "domain=[example.org] id=1 fetched=1764000000 " BODY, "domain is not"},
	{"restore refuses: a domain with a port", "domain=example.org:26 id=1 fetched=1764000000 " BODY,
	    "domain is not"},
	{"restore refuses: a body that is no valid policy",
	    "domain=example.org id=1 fetched=1764000000 body=\"version: STSv1\\x0amode: enforce\\x0a\"",
	    "example.org: the policy is not valid"},
	{"restore refuses: a missing field", "domain=example.org id=1 " BODY, "is missing"},
	{"restore refuses: a line that is no key=value", "domain=example.org id=1 fetched", "not key=value"},
	{"restore refuses: a negative time", "domain=example.org id=1 fetched=-5 " BODY, "fetched is not a time"},
};

static void
test_refused(void **state)
{
	const struct refused_case *c = *state;
	struct stscache *cache = stscache_create(0);
	struct buf errors;

	buf_init(&errors);
	assert_int_equal(stscache_restore(cache, c->line, strlen(c->line), T0 + 100, &errors), 0);
	buf_terminate(&errors);
	if (!strstr(buf_ptr(&errors), c->want))
		fail_msg("no \"%s\" in: %s", c->want, buf_ptr(&errors));
	assert_int_equal(stscache_count(cache), 0);
	buf_free(&errors);
	stscache_free(cache);
}

/* A good line after bad ones still counts, and the errors name lines. */
static void
test_restore_mixed(void **state)
{
	static const char text[] = "garbage\n\ndomain=example.org id=1 fetched=1764000000 " BODY "\n"
	    "domain=example.net id=1 fetched=1764000000 body=\"\"\n";
	struct stscache *cache = stscache_create(0);
	struct buf errors;

	buf_init(&errors);
	assert_int_equal(stscache_restore(cache, text, sizeof(text) - 1, T0 + 100, &errors), 1);
	buf_terminate(&errors);
	assert_non_null(strstr(buf_ptr(&errors), "line 1: "));
	assert_non_null(strstr(buf_ptr(&errors), "line 4: example.net"));
	assert_non_null(stscache_in_force(stscache_lookup(cache, "example.org", false, T0 + 100), T0 + 100));
	buf_free(&errors);
	stscache_free(cache);
}

/* A policy shared by another relay of a fleet: taken when it is the
 * domain's, valid and fetched later than the one in force; and what a
 * relay shares reads back as the same policy. */
static void
test_share_adopt(void **state)
{
	static const char line[] = "domain=example.org id=2 fetched=1764000100 " BODY "\n";
	static const char older[] = "domain=example.org id=1 fetched=1764000050 " BODY;
	static const char other[] = "domain=example.net id=1 fetched=1764000100 " BODY;
	static const char two[] = "domain=example.org id=3 fetched=1764000200 " BODY "\n"
	    "domain=example.org id=4 fetched=1764000300 " BODY "\n";
	static const char future[] = "domain=example.org id=5 fetched=1764099999 " BODY;
	static const char invalid[] = "domain=example.org id=6 fetched=1764000400 body=\"version: STSv1\\x0a\"";
	struct stscache *c = stscache_create(16);
	struct buf why, shared;

	buf_init(&why);
	buf_init(&shared);
	assert_int_equal(stscache_adopt(c, "example.org", line, sizeof(line) - 1, T0 + 200, &why), 1);
	struct stscache_entry *e = stscache_lookup(c, "example.org", false, T0 + 200);
	assert_non_null(stscache_in_force(e, T0 + 200));
	assert_string_equal(stscache_known(e)->policy_id, "2");
	assert_int_equal(stscache_known(e)->fetched_at, T0 + 100);
	assert_int_equal(stscache_known(e)->expires_at, T0 + 100 + 604800);
	/* Not newer than the one in force, or another domain's. */
	assert_int_equal(stscache_adopt(c, "example.org", older, sizeof(older) - 1, T0 + 200, &why), 0);
	assert_string_equal(stscache_known(e)->policy_id, "2");
	assert_int_equal(stscache_adopt(c, "example.org", other, sizeof(other) - 1, T0 + 200, &why), -1);
	assert_int_equal(stscache_adopt(c, "example.org", two, sizeof(two) - 1, T0 + 400, &why), -1);
	assert_int_equal(stscache_adopt(c, "example.org", future, sizeof(future) - 1, T0 + 400, &why), -1);
	assert_int_equal(stscache_adopt(c, "example.org", invalid, sizeof(invalid) - 1, T0 + 400, &why), -1);
	buf_terminate(&why);
	assert_non_null(strstr(buf_ptr(&why), "another domain's"));
	assert_non_null(strstr(buf_ptr(&why), "more than one line"));
	assert_non_null(strstr(buf_ptr(&why), "in the future"));
	assert_non_null(strstr(buf_ptr(&why), "is not valid"));
	assert_string_equal(stscache_known(e)->policy_id, "2");
	/* Shared, and taken by a relay that knew nothing. */
	assert_int_equal(stscache_share(e, T0 + 200, &shared), 0);
	struct stscache *c2 = stscache_create(16);
	assert_int_equal(stscache_adopt(c2, "example.org", buf_ptr(&shared), buf_size(&shared), T0 + 300, &why), 1);
	struct stscache_entry *e2 = stscache_lookup(c2, "example.org", false, T0 + 300);
	assert_int_equal(stscache_known(e2)->fetched_at, T0 + 100);
	assert_int_equal(stspolicy_mode(stscache_in_force(e2, T0 + 300)), STSPOLICY_MODE_ENFORCE);
	/* Nothing in force, nothing to share. */
	buf_reset(&shared);
	assert_int_equal(stscache_share(e2, T0 + 100 + 604800, &shared), -1);
	buf_free(&why);
	buf_free(&shared);
	stscache_free(c);
	stscache_free(c2);
}

/* Only an entry that holds nothing but a TXT answer without an id is
 * forgotten: an id, a policy or a failed fetch keeps it. */
static void
test_forget_if_empty(void **state)
{
	struct stscache *c = stscache_create(16);

	stscache_txt(stscache_lookup(c, "absent.example", true, T0), STSCACHE_TXT_ABSENT, NULL, 300, T0);
	stscache_txt(stscache_lookup(c, "id.example", true, T0), STSCACHE_TXT_ID, "abc", 300, T0);
	stscache_fetch_failed(stscache_lookup(c, "failed.example", true, T0), "abc", "timed out", T0);
	assert_true(stscache_forget_if_empty(c, "absent.example"));
	assert_null(stscache_lookup(c, "absent.example", false, T0));
	assert_false(stscache_forget_if_empty(c, "id.example"));
	assert_false(stscache_forget_if_empty(c, "failed.example"));
	assert_false(stscache_forget_if_empty(c, "never.example"));
	assert_int_equal(stscache_count(c), 2);
	stscache_free(c);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounded_lru),
		cmocka_unit_test(test_forget_if_empty),
		cmocka_unit_test(test_expire_and_stats),
		cmocka_unit_test(test_save_restore),
		cmocka_unit_test(test_restore_mixed),
		cmocka_unit_test(test_share_adopt),
	};
	struct table t = {0};

	TABLE_ADD(&t, script_cases, script_case, test_script);
	TABLE_ADD(&t, refused_cases, refused_case, test_refused);
	TABLE_TESTS(&t, tests);
	return table_run(&t, "stscache");
}
