/*
 * Unit tests: proposed, automatic and retired exceptions
 * (lib/rules/exlifecycle.h). Each row is a script against one lifecycle
 * on a fake clock, with a fake Postfix log (the evidence per destination)
 * and the lists in force as the policy map finds entries in them: the
 * administrator's list of the row, then the automatic list the lifecycle
 * itself makes.
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rules/exlifecycle.h"
#include "table.h"

#define NOW0 1700000000
#define HOUR 3600

enum op {
	END,
	AT,		/* n: seconds since NOW0 */
	NO_LOG,		/* Postfix's log is not followed */
	DEFERRED,	/* a: dest; n: deferrals, since first_ago s ago, the latest last_ago s ago */
	MISMATCH,	/* a: dest; n: the proposal expected; verdict */
	REVIEW,		/* a: the destinations applied, space-separated */
	VERIFIED,	/* a: dest; n: flags expected (below); line: the entry's line */
	SET,		/* n: auto_apply; retire in flags; the result expected in verdict (1: changed) */
	AUTOMATIC,	/* a: the automatic list's names, space-separated */
	PROPOSED,	/* a: the proposals' lines */
};

/* VERIFIED: what exlifecycle_verified() says. */
enum { WITHDRAWN = 1, CHANGED = 2, RETIRE = 4 };

struct step {
	enum op op;
	const char *a;
	long n;
	int verdict;
	unsigned flags;
	unsigned line;
	int64_t first_ago, last_ago;
};

struct life_case {
	const char *name;
	const char *list;	/* the administrator's */
	bool auto_apply, retire;
	struct step steps[16];
};

static const char *
life_case_name(const void *row)
{
	return ((const struct life_case *)row)->name;
}

#define IGNORED EXLIFECYCLE_IGNORED
#define WAITING EXLIFECYCLE_WAITING
#define APPLIED EXLIFECYCLE_APPLIED
/* Deferred long enough, often enough, lately: exceptions_auto applies it. */
#define CORROBORATED(d) {DEFERRED, d, 5, .first_ago = 2 * HOUR, .last_ago = 60}

static const struct life_case life_cases[] = {
	{"exceptions_auto off: proposed, never applied", "", false, false, {
		CORROBORATED("a.test"),
		{MISMATCH, "a.test", WAITING, EXPROPOSAL_OFF}, {PROPOSED, "a.test may\n"}, {AUTOMATIC, ""},
		{REVIEW, ""}, {AUTOMATIC, ""},
	}},
	{"proposed once only", "", false, false, {
		{MISMATCH, "a.test", WAITING, EXPROPOSAL_OFF}, {MISMATCH, "a.test", IGNORED}, {PROPOSED, "a.test may\n"},
	}},
	{"only a domain at port 25 is proposed", "", false, false, {
		{MISMATCH, "[mx.a.test]", IGNORED}, {MISMATCH, "a.test:587", IGNORED}, {MISMATCH, "[192.0.2.1]", IGNORED},
		{MISMATCH, "not a name!", IGNORED}, {PROPOSED, ""},
	}},
	{"not proposed when an entry of the list covers it", "listed.test\n.sub.test encrypt\n", false, false, {
		{MISMATCH, "listed.test", IGNORED}, {MISMATCH, "x.sub.test", IGNORED},
		{MISMATCH, "other.test", WAITING, EXPROPOSAL_OFF}, {PROPOSED, "other.test may\n"},
	}},
	{"without Postfix's log: waits for ever", "", true, false, {
		{NO_LOG}, CORROBORATED("a.test"), {MISMATCH, "a.test", WAITING, EXPROPOSAL_NO_LOG},
		{AT, .n = 10 * HOUR}, {REVIEW, ""}, {AUTOMATIC, ""},
	}},
	{"corroborated at once: applied with the proposal", "", true, false, {
		CORROBORATED("a.test"), {MISMATCH, "a.test", APPLIED, EXPROPOSAL_APPLY}, {AUTOMATIC, "a.test"},
		{PROPOSED, "a.test may\n"},
		/* Applied, the automatic list covers it: not proposed again. */
		{MISMATCH, "a.test", IGNORED},
	}},
	{"too soon, then applied at a review as the log moves on", "", true, false, {
		{DEFERRED, "a.test", 5, .first_ago = 10, .last_ago = 5},
		{MISMATCH, "a.test", WAITING, EXPROPOSAL_TOO_SOON}, {AUTOMATIC, ""},
		{AT, .n = HOUR - 11}, {REVIEW, ""},
		{AT, .n = HOUR - 10}, {REVIEW, "a.test"}, {AUTOMATIC, "a.test"}, {REVIEW, ""},
	}},
	{"too few deferrals: waits", "", true, false, {
		{DEFERRED, "a.test", 2, .first_ago = 2 * HOUR, .last_ago = 60},
		{MISMATCH, "a.test", WAITING, EXPROPOSAL_TOO_FEW}, {REVIEW, ""},
		{DEFERRED, "a.test", 3, .first_ago = 2 * HOUR, .last_ago = 1}, {REVIEW, "a.test"},
	}},
	{"no deferrals, or stale ones: waits", "", true, false, {
		{MISMATCH, "a.test", WAITING, EXPROPOSAL_NO_DEFERRALS},
		{DEFERRED, "b.test", 5, .first_ago = 3 * HOUR, .last_ago = HOUR + 1},
		{MISMATCH, "b.test", WAITING, EXPROPOSAL_STALE}, {REVIEW, ""}, {AUTOMATIC, ""},
	}},
	{"exceptions_auto turned off: every application undone", "", true, false, {
		CORROBORATED("a.test"), CORROBORATED("b.test"),
		{MISMATCH, "a.test", APPLIED, EXPROPOSAL_APPLY}, {MISMATCH, "b.test", APPLIED, EXPROPOSAL_APPLY},
		{AUTOMATIC, "a.test b.test"},
		{SET, .n = 0, .verdict = 1}, {AUTOMATIC, ""}, {PROPOSED, "a.test may\nb.test may\n"},
		{SET, .n = 0, .verdict = 0},
		/* On again: the log must corroborate afresh, at a review. */
		{SET, .n = 1, .verdict = 0}, {AUTOMATIC, ""}, {REVIEW, "a.test b.test"}, {AUTOMATIC, "a.test b.test"},
	}},
	{"fixed: a waiting proposal is withdrawn", "", false, false, {
		{MISMATCH, "a.test", WAITING, EXPROPOSAL_OFF},
		{VERIFIED, "a.test", .flags = WITHDRAWN}, {PROPOSED, ""},
		{VERIFIED, "a.test", .flags = 0},
		/* Gone, it may be proposed again. */
		{MISMATCH, "a.test", WAITING, EXPROPOSAL_OFF},
	}},
	{"fixed: an applied proposal is withdrawn, the list changes, no entry reported", "", true, true, {
		CORROBORATED("a.test"), {MISMATCH, "a.test", APPLIED, EXPROPOSAL_APPLY},
		{VERIFIED, "a.test", .flags = WITHDRAWN | CHANGED}, {AUTOMATIC, ""}, {PROPOSED, ""},
	}},
	{"fixed: the administrator's entry is reported", "x.test\nlisted.test encrypt\n", false, false, {
		{VERIFIED, "listed.test", .flags = 0, .line = 2}, {VERIFIED, "other.test", .flags = 0},
	}},
	{"fixed with exceptions_retire: the entry is retired", ".sub.test\n", false, true, {
		{VERIFIED, "a.sub.test", .flags = RETIRE, .line = 1},
	}},
	{"fixed, not a next hop: nothing", "", false, true, {
		{VERIFIED, "not a name!", .flags = 0},
	}},
	{"exceptions_retire set by a reload", "listed.test\n", false, false, {
		{VERIFIED, "listed.test", .flags = 0, .line = 1},
		{SET, .n = 0, .flags = RETIRE, .verdict = 0}, {VERIFIED, "listed.test", .flags = RETIRE, .line = 1},
	}},
};

/* ---- the fake world ---------------------------------------------------- */

struct world {
	int64_t now;
	bool no_log;
	struct {
		char dest[64];
		struct exproposal_evidence ev;
	} log[8];
	size_t nlog;
	struct exceptions *file, *automatic;
	struct buf applied;
};

static bool
w_evidence(void *arg, const char *dest, struct exproposal_evidence *out)
{
	struct world *w = arg;

	if (w->no_log)
		return false;
	for (size_t i = 0; i < w->nlog; i++)
		if (strcmp(w->log[i].dest, dest) == 0)
			*out = w->log[i].ev;
	return true;
}

/* As the policy map finds an entry: the file first, then the automatic list. */
static const struct exception_entry *
w_covering(void *arg, const struct nexthop *nh, bool *automatic)
{
	struct world *w = arg;
	const struct exception_entry *e = exceptions_match_domain(w->file, nh->name, w->now);

	*automatic = false;
	if (!e && w->automatic) {
		e = exceptions_match_domain(w->automatic, nh->name, w->now);
		*automatic = e != NULL;
	}
	return e;
}

static void
w_applied(void *arg, const char *dest, const struct exproposal_evidence *ev)
{
	struct world *w = arg;

	assert_true(ev->deferrals > 0);
	buf_printf(&w->applied, "%s%s", buf_size(&w->applied) ? " " : "", dest);
}

static void
add_name(void *arg, const struct exception_entry *e)
{
	struct buf *b = arg;

	assert_string_equal(e->policy, "may");
	buf_printf(b, "%s%s", buf_size(b) ? " " : "", e->name);
}

/* The automatic list as the policy map would get it now. */
static void
refresh_automatic(struct world *w, struct exlifecycle *lc)
{
	exceptions_unref(w->automatic);
	w->automatic = exlifecycle_automatic(lc);
}

static void
test_life(void **state)
{
	const struct life_case *c = *state;
	struct world w = {.now = NOW0};
	struct exlifecycle_settings s = {.auto_apply = c->auto_apply, .window_s = HOUR, .min_deferrals = 3,
	    .retire = c->retire};
	struct exlifecycle_ops ops = {.evidence = w_evidence, .covering = w_covering, .arg = &w};
	struct exlifecycle *lc = exlifecycle_create(&s, &ops);
	struct exlifecycle_verdict v;
	struct exlifecycle_fix fix;
	struct buf b, errors;

	buf_init(&b);
	buf_init(&errors);
	buf_init(&w.applied);
	w.file = exceptions_parse(c->list, strlen(c->list), "list", &errors);
	assert_non_null(w.file);
	for (const struct step *st = c->steps; st->op != END; st++) {
		switch (st->op) {
		case END:
			break;
		case AT:
			w.now = NOW0 + st->n;
			break;
		case NO_LOG:
			w.no_log = true;
			break;
		case DEFERRED: {
			size_t i = 0;
			while (i < w.nlog && strcmp(w.log[i].dest, st->a) != 0)
				i++;
			w.nlog += i == w.nlog;
			snprintf(w.log[i].dest, sizeof(w.log[i].dest), "%s", st->a);
			w.log[i].ev.deferrals = (uint64_t)st->n;
			w.log[i].ev.first = w.now - st->first_ago;
			w.log[i].ev.last = w.now - st->last_ago;
			break;
		}
		case MISMATCH:
			assert_int_equal(exlifecycle_mismatch(lc, st->a, w.now, &v), st->n);
			if (st->n != EXLIFECYCLE_IGNORED)
				assert_int_equal(v.verdict, st->verdict);
			if (st->n == EXLIFECYCLE_APPLIED)
				assert_true(v.evidence.deferrals >= 3);
			refresh_automatic(&w, lc);
			break;
		case REVIEW:
			assert_int_equal(exlifecycle_review(lc, w.now, w_applied, &w), st->a[0] != '\0');
			TABLE_EXPECT_TEXT(&w.applied, st->a);
			refresh_automatic(&w, lc);
			break;
		case VERIFIED:
			exlifecycle_verified(lc, st->a, &fix);
			assert_int_equal(fix.withdrawn, (st->flags & WITHDRAWN) != 0);
			assert_int_equal(fix.list_changed, (st->flags & CHANGED) != 0);
			assert_int_equal(fix.retire, (st->flags & RETIRE) != 0);
			if (st->line)
				assert_int_equal(fix.entry ? fix.entry->line : 0, st->line);
			else
				assert_null(fix.entry);
			refresh_automatic(&w, lc);
			break;
		case SET:
			s.auto_apply = st->n != 0;
			s.retire = (st->flags & RETIRE) != 0;
			assert_int_equal(exlifecycle_set(lc, &s), st->verdict);
			refresh_automatic(&w, lc);
			break;
		case AUTOMATIC:
			if (w.automatic)
				exceptions_each(w.automatic, add_name, &b);
			TABLE_EXPECT_TEXT(&b, st->a);
			break;
		case PROPOSED: {
			exlifecycle_proposed(lc, &b);
			/* The status page's question agrees with the list. */
			bool applied;
			buf_terminate(&b);
			for (const char *p = buf_ptr(&b); *p; p = strchr(p, '\n') + 1) {
				char dest[256];
				snprintf(dest, sizeof(dest), "%.*s", (int)strcspn(p, " "), p);
				assert_true(exlifecycle_is_proposed(lc, dest, &applied));
			}
			assert_false(exlifecycle_is_proposed(lc, "never-proposed.test", &applied));
			TABLE_EXPECT_TEXT(&b, st->a);
			break;
		}
		}
	}
	exlifecycle_free(lc);
	exceptions_unref(w.file);
	exceptions_unref(w.automatic);
	buf_free(&b);
	buf_free(&errors);
	buf_free(&w.applied);
}

/* ---- expiry -------------------------------------------------------------- */

struct expiry_case {
	const char *name;
	int64_t from, to;	/* seconds from midnight UTC, 2027-01-31 */
	const char *want;	/* "name@day" each */
};

static const char *
expiry_case_name(const void *row)
{
	return ((const struct expiry_case *)row)->name;
}

/* Midnight UTC at the end of 2027-01-30: expires=2027-01-30 stops here. */
#define JAN31 1801353600
#define DAY 86400

static const char *const expiry_list =
    "never.test\n"
    "jan30.test expires=2027-01-30\n"
    "jan31.test encrypt expires=2027-01-31\n"
    ".sub.test expires=2027-02-01\n";

static const struct expiry_case expiry_cases[] = {
	{"expiry: at load, everything already past", INT64_MIN, 10, "jan30.test@2027-01-30"},
	{"expiry: the minute its day ends", DAY - 30, DAY + 30, "jan31.test@2027-01-31"},
	{"expiry: the window's end counts, its start does not", DAY, 2 * DAY, "sub.test@2027-02-01"},
	{"expiry: a window with no day's end in it", 10, DAY - 1, ""},
	{"expiry: a long window, in list order", INT64_MIN, 3 * DAY,
	    "jan30.test@2027-01-30 jan31.test@2027-01-31 sub.test@2027-02-01"},
};

static void
add_expired(void *arg, const struct exception_entry *e, const char *day)
{
	struct buf *b = arg;

	buf_printf(b, "%s%s@%s", buf_size(b) ? " " : "", e->name, day);
}

static void
test_expiry(void **state)
{
	const struct expiry_case *c = *state;
	struct buf b, errors;

	buf_init(&b);
	buf_init(&errors);
	struct exceptions *list = exceptions_parse(expiry_list, strlen(expiry_list), "list", &errors);
	assert_non_null(list);
	exlifecycle_each_expired(list, c->from == INT64_MIN ? INT64_MIN : JAN31 + c->from, JAN31 + c->to,
	    add_expired, &b);
	TABLE_EXPECT_TEXT(&b, c->want);
	exlifecycle_each_expired(NULL, INT64_MIN, JAN31 + c->to, add_expired, &b);	/* no list: nothing */
	TABLE_EXPECT_TEXT(&b, "");
	exceptions_unref(list);
	buf_free(&b);
	buf_free(&errors);
}

int
main(void)
{
	struct table t = {0};

	TABLE_ADD(&t, life_cases, life_case, test_life);
	TABLE_ADD(&t, expiry_cases, expiry_case, test_expiry);
	return table_run(&t, "exlifecycle");
}
