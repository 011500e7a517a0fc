/*
 * Unit tests: the status page (lib/report/statuspage.h). Trouble as the
 * header defines it, the rows' order, hostile strings from DNS, servers
 * and logs escaped in the HTML and the JSON, the per-minute ring.
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "report/statuspage.h"
#include "table.h"

#define NOW 1800000000

static struct statuspage_row *
row(struct statuspage *sp, const char *dest, enum policy_result result)
{
	struct statuspage_row *r = statuspage_add_row(sp, dest);

	assert_non_null(r);
	r->answer.result = result;
	r->answer.rule = result == POLICY_TEMP ? POLICY_RULE_MX_FAILED : POLICY_RULE_ALL_DANE;
	return r;
}

/* One row per kind of trouble, and fine ones, added in an order that is
 * not the page's. */
static void
fixture(struct statuspage *sp)
{
	struct statuspage_row *r;

	statuspage_init(sp);
	sp->now = NOW;
	row(sp, "zz-fine.example", POLICY_OK);
	row(sp, "aa-fine.example", POLICY_OK);
	r = row(sp, "excepted.example", POLICY_OK);
	assert_int_equal(statuspage_set(&r->exception, "may"), 0);
	r = row(sp, "proposed.example", POLICY_OK);
	r->proposed = true;
	r = row(sp, "old-alert.example", POLICY_OK);	/* an alert too old to be trouble */
	assert_int_equal(statuspage_set(&r->alert_kind, "dane-mismatch"), 0);
	r->alert_at = NOW - STATUSPAGE_ALERT_RECENT_S;
	r = row(sp, "alert.example", POLICY_OK);
	assert_int_equal(statuspage_set(&r->alert_kind, "dane-mismatch"), 0);
	r->alert_at = NOW - 10;
	row(sp, "temp.example", POLICY_TEMP);
	r = row(sp, "deferred.example", POLICY_OK);
	r->has_log = true;
	r->deferred = r->deferred_tls = r->run_deferred_tls = 3;
	r = row(sp, "once-deferred.example", POLICY_OK);	/* sent since: no trouble */
	r->has_log = true;
	r->deferred = r->deferred_tls = 2;
	r->sent = 1;
	r = row(sp, "mismatch.example", POLICY_OK);
	assert_int_equal(statuspage_add_host(r, "mx1.mismatch.example", "192.0.2.1", 25, PROBE_DANE_VERIFIED,
	    NOW - 5), 0);
	assert_int_equal(statuspage_add_host(r, "mx2.mismatch.example", "192.0.2.2", 25, PROBE_DANE_MISMATCH,
	    NOW - 5), 0);
	r = row(sp, "both.example", POLICY_TEMP);	/* mismatch and temp: above mismatch alone */
	assert_int_equal(statuspage_add_host(r, "mx.both.example", "192.0.2.3", 25, PROBE_DANE_MISMATCH, NOW), 0);
	statuspage_sort(sp);
}

static void
test_order(void **state)
{
	static const char *const want[] = {
		"both.example", "mismatch.example", "deferred.example", "temp.example", "alert.example",
		"proposed.example", "excepted.example",
		"aa-fine.example", "old-alert.example", "once-deferred.example", "zz-fine.example",
	};
	struct statuspage sp;

	fixture(&sp);
	assert_int_equal(sp.nrows, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sp.nrows; i++)
		if (strcmp(sp.rows[i].dest, want[i]) != 0)
			fail_msg("row %zu: %s, want %s", i, sp.rows[i].dest, want[i]);
	assert_int_equal(sp.rows[0].trouble, STATUSPAGE_MISMATCH | STATUSPAGE_TEMP);
	assert_int_equal(sp.rows[4].trouble, STATUSPAGE_ALERT);
	assert_int_equal(sp.rows[8].trouble, 0);
	statuspage_free(&sp);
}

/* The JSON lists the rows in the page's order, with their trouble words. */
static void
test_json_order(void **state)
{
	struct statuspage sp;
	struct buf out;

	fixture(&sp);
	buf_init(&out);
	assert_int_equal(statuspage_json(&sp, &out), 0);
	const char *s = buf_ptr(&out);
	const char *both = strstr(s, "\"dest\":\"both.example\",\"trouble\":[\"mismatch\",\"temp\"]");
	const char *mismatch = strstr(s, "\"dest\":\"mismatch.example\"");
	const char *zz = strstr(s, "\"dest\":\"zz-fine.example\",\"trouble\":[]");
	assert_non_null(both);
	assert_non_null(mismatch);
	assert_non_null(zz);
	assert_true(both < mismatch && mismatch < zz);
	assert_non_null(strstr(s, "\"class\":\"dane-mismatch\""));
	assert_int_equal(s[buf_size(&out) - 1], '\n');
	buf_free(&out);
	statuspage_free(&sp);
}

/* What a hostile server, zone or log line may put in a string. */
static const char hostile[] = "<script>alert(1)</script>\"'&\x1b[31m\n";

static struct statuspage
hostile_page(void)
{
	struct statuspage sp;

	statuspage_init(&sp);
	sp.now = NOW;
	sp.version = "1.0";
	sp.trust = "not-validating";
	sp.trust_reason = hostile;
	sp.exceptions_file = "/etc/tlspolicyd/exceptions";
	sp.exceptions_errors = hostile;
	struct statuspage_row *r = row(&sp, "it's<b>.example", POLICY_TEMP);
	assert_int_equal(statuspage_set(&r->reason, hostile), 0);
	assert_int_equal(statuspage_set(&r->alert_kind, hostile), 0);
	assert_int_equal(statuspage_set(&r->exception, hostile), 0);
	r->alert_at = NOW;
	assert_int_equal(statuspage_add_host(r, hostile, hostile, 25, PROBE_DANE_MISMATCH, NOW), 0);
	statuspage_sort(&sp);
	return sp;
}

static void
test_html_escaped(void **state)
{
	struct statuspage sp = hostile_page();
	struct buf out;

	buf_init(&out);
	assert_int_equal(statuspage_html(&sp, &out), 0);
	buf_terminate(&out);
	const char *s = buf_ptr(&out);
	/* The page's own script is the one <script>; no hostile byte came
	 * through whole. */
	const char *first = strstr(s, "<script>");
	assert_non_null(first);
	assert_null(strstr(first + 1, "<script>"));
	assert_null(strstr(s, "alert(1)</script>"));
	assert_null(strchr(s, '\x1b'));
	assert_null(strstr(s, "<b>"));
	assert_non_null(strstr(s, "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;&#xfffd;[31m&#xfffd;"));
	/* The exceptions' errors, one a line: their newlines stay, the other
	 * control bytes do not. */
	assert_non_null(strstr(s, "&#xfffd;[31m\n</pre>"));
	/* The command to copy stays one shell word. */
	assert_non_null(strstr(s, "tlspolicy explain &#39;it&#39;\\&#39;&#39;s&lt;b&gt;.example&#39;"));
	/* Nothing from elsewhere. */
	assert_null(strstr(s, "src="));
	assert_null(strstr(s, "http://"));
	assert_null(strstr(s, "https://"));
	buf_free(&out);
	statuspage_free(&sp);
}

static void
test_json_escaped(void **state)
{
	struct statuspage sp = hostile_page();
	struct buf out;

	buf_init(&out);
	assert_int_equal(statuspage_json(&sp, &out), 0);
	buf_terminate(&out);
	const char *s = buf_ptr(&out);
	assert_null(strchr(s, '\x1b'));
	assert_non_null(strstr(s, "\"reason\":\"<script>alert(1)</script>\\\"'&\\u001b[31m\\n\""));
	assert_non_null(strstr(s, "\"trust_check\":{\"state\":\"not-validating\",\"reason\":\"<script>"));
	assert_non_null(strstr(s, "\"errors\":\"<script>alert(1)</script>\\\"'&\\u001b[31m\\n\""));
	assert_non_null(strstr(s, "\"exception\":{\"policy\":\"<script>"));
	/* One line: a newline only at its end. */
	assert_ptr_equal(strchr(s, '\n'), s + buf_size(&out) - 1);
	buf_free(&out);
	statuspage_free(&sp);
}

/* Beyond the bounds: rows counted, the latest addresses kept. */
static void
test_bounds(void **state)
{
	struct statuspage sp;
	char name[64];

	statuspage_init(&sp);
	for (int i = 0; i < STATUSPAGE_MAX_ROWS + 5; i++) {
		snprintf(name, sizeof(name), "d%d.example", i);
		struct statuspage_row *r = statuspage_add_row(&sp, name);
		if (i < STATUSPAGE_MAX_ROWS)
			assert_non_null(r);
		else
			assert_null(r);
	}
	assert_int_equal(sp.nrows, STATUSPAGE_MAX_ROWS);
	assert_int_equal(sp.more, 5);
	struct statuspage_row *r = &sp.rows[0];
	for (int i = 0; i < STATUSPAGE_MAX_HOSTS + 3; i++)
		assert_int_equal(statuspage_add_host(r, "mx", "192.0.2.1", 25, PROBE_DANE_VERIFIED, 1000 + i), 0);
	assert_int_equal(r->nhosts, STATUSPAGE_MAX_HOSTS);
	for (size_t k = 0; k < r->nhosts; k++)
		assert_true(r->hosts[k].probed_at >= 1003);
	statuspage_free(&sp);
}

static void
test_ring(void **state)
{
	struct statuspage_ring ring = {0};
	uint64_t t[STATUSPAGE_RESULTS] = {0}, out[STATUSPAGE_RESULTS];

	/* No sample: everything so far. */
	t[STATUSPAGE_OK] = 7;
	assert_int_equal(statuspage_ring_hour(&ring, 5, t, out), 0);
	assert_int_equal(out[STATUSPAGE_OK], 7);
	/* A sample a minute from the start. */
	for (uint64_t m = 0; m <= 30; m++) {
		t[STATUSPAGE_OK] = m * 10;
		t[STATUSPAGE_TEMP_REPLIES] = m;
		statuspage_ring_note(&ring, m, t);
	}
	/* Young: from the start. */
	t[STATUSPAGE_OK] = 305;
	assert_int_equal(statuspage_ring_hour(&ring, 30, t, out), 30);
	assert_int_equal(out[STATUSPAGE_OK], 305);
	for (uint64_t m = 31; m <= 100; m++) {
		t[STATUSPAGE_OK] = m * 10;
		t[STATUSPAGE_TEMP_REPLIES] = m;
		statuspage_ring_note(&ring, m, t);
	}
	/* An hour back from minute 100 is minute 40's sample. */
	t[STATUSPAGE_OK] = 1005;
	t[STATUSPAGE_TEMP_REPLIES] = 100;
	assert_int_equal(statuspage_ring_hour(&ring, 100, t, out), 60);
	assert_int_equal(out[STATUSPAGE_OK], 1005 - 400);
	assert_int_equal(out[STATUSPAGE_TEMP_REPLIES], 60);
	/* No sample since minute 100 (the loop was stopped): the oldest one
	 * within the hour, and the minutes it covers. */
	assert_int_equal(statuspage_ring_hour(&ring, 150, t, out), 60);
	assert_int_equal(out[STATUSPAGE_OK], 1005 - 900);
	/* Nothing within the hour: counted from no sample at all. */
	assert_int_equal(statuspage_ring_hour(&ring, 200, t, out), 0);
	assert_int_equal(out[STATUSPAGE_OK], 1005);
}

int
main(void)
{
	struct table t = {0};
	static const struct CMUnitTest extra[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_json_order),
		cmocka_unit_test(test_html_escaped),
		cmocka_unit_test(test_json_escaped),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_ring),
	};

	TABLE_TESTS(&t, extra);
	return table_run(&t, "statuspage");
}
