/*
 * test_monitor - the monitor's comparison of one check with the checks
 * before (monitor_observe): what gets worse is told, what recovers is
 * told once, and a check that could not look neither recovers nor
 * forgets anything. Each row is a series of checks of one domain.
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "selfcheck/checklist.h"
#include "selfcheck/monitor.h"
#include "table.h"

#define MAX_STEPS 5
#define MAX_FINDINGS 4

/* One check: its findings, "SEVERITY CODE [HOST [ADDRESS]]", or
 * "unchecked"; then what the monitor must tell. */
struct step {
	const char *findings[MAX_FINDINGS];
	const char *kind;		/* NULL: nothing got worse */
	const char *worse;
	const char *recovered;		/* "" : nothing */
};

struct series {
	const char *name;
	struct step steps[MAX_STEPS];
};

static const struct series series_cases[] = {
	{"a clean first check tells nothing", {
		{{"ok tlsa-mismatch"}, NULL, "", ""},
		{{"ok tlsa-mismatch"}, NULL, "", ""},
	}},
	{"a domain broken from the start is told at the first check", {
		{{"warn no-tlsa mx.example.org", "ok mx-insecure"}, "selfcheck-warned", "no-tlsa mx.example.org", ""},
		{{"warn no-tlsa mx.example.org"}, NULL, "", ""},
	}},
	{"warn, then fail at the same place: worse again", {
		{{"warn cert-expiring mx.example.org 192.0.2.1"}, "selfcheck-warned",
		    "cert-expiring mx.example.org[192.0.2.1]", ""},
		{{"fail cert-expiring mx.example.org 192.0.2.1"}, "selfcheck-failed",
		    "cert-expiring mx.example.org[192.0.2.1]", ""},
		{{"ok cert-expiring"}, NULL, "", "cert-expiring mx.example.org[192.0.2.1]"},
		{{"ok cert-expiring"}, NULL, "", ""},
	}},
	{"a failure mended beside a lasting warning: that failure recovers", {
		{{"warn no-tlsa mx2.example.org"}, "selfcheck-warned", "no-tlsa mx2.example.org", ""},
		{{"warn no-tlsa mx2.example.org", "fail tlsa-mismatch mx1.example.org 192.0.2.1"}, "selfcheck-failed",
		    "tlsa-mismatch mx1.example.org[192.0.2.1]", ""},
		{{"warn no-tlsa mx2.example.org", "ok tlsa-mismatch"}, NULL, "",
		    "tlsa-mismatch mx1.example.org[192.0.2.1]"},
	}},
	{"better but not mended is not a recovery", {
		{{"ok rollover-unready"}, NULL, "", ""},
		{{"fail tlsa-mismatch mx.example.org 192.0.2.1"}, "selfcheck-failed",
		    "tlsa-mismatch mx.example.org[192.0.2.1]", ""},
		{{"warn tlsa-mismatch mx.example.org 192.0.2.1"}, NULL, "", ""},
		{{"ok tlsa-mismatch"}, NULL, "", "tlsa-mismatch mx.example.org[192.0.2.1]"},
	}},
	{"a problem at another address is another problem", {
		{{"fail tlsa-mismatch mx.example.org 192.0.2.1"}, "selfcheck-failed",
		    "tlsa-mismatch mx.example.org[192.0.2.1]", ""},
		{{"fail tlsa-mismatch mx.example.org 2001:db8::1"}, "selfcheck-failed",
		    "tlsa-mismatch mx.example.org[2001:db8::1]", "tlsa-mismatch mx.example.org[192.0.2.1]"},
	}},
	{"the worst of several findings at one place counts", {
		{{"warn cert-expiring mx.example.org 192.0.2.1", "fail cert-expiring mx.example.org 192.0.2.1"},
		    "selfcheck-failed", "cert-expiring mx.example.org[192.0.2.1]", ""},
		{{"warn cert-expiring mx.example.org 192.0.2.1"}, NULL, "", ""},
	}},
	{"two problems at once: one alert naming both", {
		{{"warn mx-insecure", "warn host-insecure mx.example.org"}, "selfcheck-warned",
		    "mx-insecure,host-insecure mx.example.org", ""},
	}},
	{"could not check: told once, recovers nothing, forgets nothing", {
		{{"fail tlsa-mismatch mx.example.org 192.0.2.1"}, "selfcheck-failed",
		    "tlsa-mismatch mx.example.org[192.0.2.1]", ""},
		{{"unchecked"}, "selfcheck-unchecked", "unchecked", ""},
		{{"unchecked"}, NULL, "", ""},
		{{"fail tlsa-mismatch mx.example.org 192.0.2.1"}, NULL, "", "unchecked"},
		{{"ok tlsa-mismatch"}, NULL, "", "tlsa-mismatch mx.example.org[192.0.2.1]"},
	}},
	{"mended while it could not be checked: recovered at the next look", {
		{{"warn no-tlsa mx.example.org"}, "selfcheck-warned", "no-tlsa mx.example.org", ""},
		{{"unchecked"}, "selfcheck-unchecked", "unchecked", ""},
		{{"ok no-tlsa"}, NULL, "", "no-tlsa mx.example.org,unchecked"},
	}},
};

static const char *
series_case_name(const void *row)
{
	return ((const struct series *)row)->name;
}

static void
fill(struct checklist *list, const struct step *s)
{
	for (size_t i = 0; i < MAX_FINDINGS && s->findings[i]; i++) {
		char sev[8], code[40], host[64] = "", address[64] = "";
		if (strcmp(s->findings[i], "unchecked") == 0) {
			assert_int_equal(checklist_set_unchecked(list, "the MX lookup times out"), 0);
			continue;
		}
		int n = sscanf(s->findings[i], "%7s %39s %63s %63s", sev, code, host, address);
		assert_true(n >= 2);
		enum checklist_severity severity = strcmp(sev, "ok") == 0 ? CHECKLIST_OK :
		    strcmp(sev, "warn") == 0 ? CHECKLIST_WARN : CHECKLIST_FAIL;
		/* Codes must be static: the monitor keeps the pointer. */
		static const char *const codes[] = {"tlsa-mismatch", "no-tlsa", "mx-insecure", "host-insecure",
			"cert-expiring", "rollover-unready", NULL};
		const char *stable = NULL;
		for (size_t k = 0; codes[k] && !stable; k++)
			if (strcmp(codes[k], code) == 0)
				stable = codes[k];
		assert_non_null(stable);
		assert_int_equal(checklist_add(list, stable, severity, host[0] ? host : NULL, address[0] ? address : NULL,
		    "evidence", severity == CHECKLIST_OK ? NULL : "the fix"), 0);
	}
}

static void
test_series(void **state)
{
	const struct series *c = *state;
	struct monitor_memory memory = {0};

	for (size_t i = 0; i < MAX_STEPS && c->steps[i].findings[0]; i++) {
		const struct step *s = &c->steps[i];
		struct checklist list;
		struct monitor_news news;
		assert_int_equal(checklist_init(&list, "example.org"), 0);
		fill(&list, s);
		monitor_news_init(&news);
		assert_int_equal(monitor_observe(&memory, &list, &news), 0);
		if (s->kind)
			assert_string_equal(news.kind ? news.kind : "(none)", s->kind);
		else
			assert_null(news.kind);
		assert_string_equal(buf_ptr(&news.worse), s->worse);
		assert_string_equal(buf_ptr(&news.recovered), s->recovered);
		assert_int_equal(news.nworse > 0, s->worse[0] != '\0');
		assert_int_equal(news.nrecovered > 0, s->recovered[0] != '\0');
		/* The alert shows the worst of what got worse, with its fix. */
		if (news.first)
			assert_string_equal(news.first->fix, "the fix");
		monitor_news_free(&news);
		checklist_free(&list);
	}
	monitor_memory_free(&memory);
}

int
main(void)
{
	struct table t = {0};

	TABLE_ADD(&t, series_cases, series_case, test_series);
	return table_run(&t, "monitor");
}
