/*
 * Unit tests: the daemon's metrics schema (lib/report/daemonmetrics.h).
 * Each counter lands in its family's sample; every family of the table is
 * written once, in order, named as Prometheus wants and documented in
 * tlspolicyd(8); a resolution's lookups and time are counted.
 */
#include "autoconfig.h"

#include <ctype.h>
#include <regex.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "report/daemonmetrics.h"
#include "table.h"


static void
two_alert_kinds(void *arg, daemonmetrics_alert_count *each, void *each_arg)
{
	each(each_arg, "dane-mismatch", 3);
	each(each_arg, "odd\"kind", 1);	/* escaped, never a broken line */
}

static void
two_domains(void *arg, daemonmetrics_alert_count *each, void *each_arg)
{
	each(each_arg, "example.org", 2);
	each(each_arg, "example.net", 0);
}

/* Every counter a different number, so that each lands where it should. */
static struct daemonmetrics
fixture(struct daemonmetrics_resolutions *res, uint64_t *probes)
{
	struct daemonmetrics m = {
		.socketmap = {.ok = 11, .notfound = 12, .temp = 13, .perm = 14, .accepted = 15, .request_timeouts = 16,
		    .refused_peer_limit = 17},
		.connections = 18,
		.metrics_refused = 19,
		.cache = {.hits = 21, .misses = 22, .shared = 23, .resolutions = 24, .stale = 25, .entries = 26,
		    .sts_applied = 27, .sts_waits = 28},
		.sts = {.fetches = {[STSFETCH_OK] = 71, [STSFETCH_CERTIFICATE] = 72}, .invalid = 3,
		    .by_mode = {[STSPOLICY_MODE_ENFORCE] = 73, [STSPOLICY_MODE_NONE] = 74}, .domains = 75, .bytes = 76},
		.resolutions = res,
		.probes = probes,
		.prober = {.queued = 31, .running = 32, .dropped = 33},
		.exceptions = 34,
		.maillog_lines = 35,
		.maillog = {.verified = 41, .trusted = 42, .untrusted = 43, .anonymous = 44, .cert_failed = 45,
		    .tlsa_error = 46, .non_dnssec = 47, .sent = 48, .deferred = 49, .deferred_tls = 50},
		.alerts = two_alert_kinds,
		.monitor_checks = 36,
		.monitor = two_domains,
	};

	memset(res, 0, sizeof(*res));
	res->lookups[DNS_SECURE][DNS_DATA] = 51;
	res->lookups[DNS_BOGUS][DNS_SERVFAIL] = 52;
	metrics_observe(&res->seconds, 0.002);
	for (int c = 0; c < PROBE_CLASS_COUNT; c++)
		probes[c] = 60 + (uint64_t)c;
	return m;
}

struct sample_case {
	const char *name;
	const char *line;	/* a whole line of the exposition */
};

static const char *
sample_case_name(const void *row)
{
	return ((const struct sample_case *)row)->name;
}

static const struct sample_case sample_cases[] = {
	{"answers: OK", "tlspolicyd_answers_total{result=\"OK\"} 11"},
	{"answers: NOTFOUND", "tlspolicyd_answers_total{result=\"NOTFOUND\"} 12"},
	{"answers: TEMP", "tlspolicyd_answers_total{result=\"TEMP\"} 13"},
	{"answers: PERM", "tlspolicyd_answers_total{result=\"PERM\"} 14"},
	{"connections accepted", "tlspolicyd_connections_total 15"},
	{"connections open", "tlspolicyd_connections 18"},
	{"refused at the peer limit", "tlspolicyd_connections_refused_total{reason=\"peer_limit\"} 17"},
	{"the endpoint's own refusals", "tlspolicyd_metrics_refused_total 19"},
	{"requests timed out", "tlspolicyd_requests_timed_out_total 16"},
	{"cache hits", "tlspolicyd_cache_hits_total 21"},
	{"cache misses", "tlspolicyd_cache_misses_total 22"},
	{"cache entries", "tlspolicyd_cache_entries 26"},
	{"sts: fetches that worked, without the invalid policies", "tlspolicyd_sts_fetches_total{outcome=\"ok\"} 68"},
	{"sts: fetches with a bad certificate", "tlspolicyd_sts_fetches_total{outcome=\"certificate\"} 72"},
	{"sts: fetches of an invalid policy", "tlspolicyd_sts_fetches_total{outcome=\"invalid-policy\"} 3"},
	{"sts: an outcome that never happened", "tlspolicyd_sts_fetches_total{outcome=\"timeout\"} 0"},
	{"sts: policies in mode enforce", "tlspolicyd_sts_policies{mode=\"enforce\"} 73"},
	{"sts: policies in mode none", "tlspolicyd_sts_policies{mode=\"none\"} 74"},
	{"sts: domains", "tlspolicyd_sts_domains 75"},
	{"sts: memory", "tlspolicyd_sts_memory_bytes 76"},
	{"sts: answers replaced", "tlspolicyd_sts_answers_total 27"},
	{"sts: first lookups that waited", "tlspolicyd_sts_waits_total 28"},
	{"shared resolutions", "tlspolicyd_resolutions_shared_total 23"},
	{"stale answers", "tlspolicyd_stale_answers_total 25"},
	{"lookups: secure data", "tlspolicyd_dns_lookups_total{security=\"secure\",outcome=\"data\"} 51"},
	{"lookups: bogus servfail", "tlspolicyd_dns_lookups_total{security=\"bogus\",outcome=\"servfail\"} 52"},
	{"lookups: none of a kind", "tlspolicyd_dns_lookups_total{security=\"insecure\",outcome=\"timeout\"} 0"},
	{"resolution time: its bucket", "tlspolicyd_resolution_seconds_bucket{le=\"0.0025\"} 1"},
	{"resolution time: below it", "tlspolicyd_resolution_seconds_bucket{le=\"0.001\"} 0"},
	{"resolution time: count", "tlspolicyd_resolution_seconds_count 1"},
	{"probes: the first class", "tlspolicyd_probes_total{class=\"plaintext\"} 60"},
	{"probes queued", "tlspolicyd_probes_queued 31"},
	{"probes running", "tlspolicyd_probes_running 32"},
	{"probes dropped", "tlspolicyd_probes_dropped_total 33"},
	{"exceptions in force", "tlspolicyd_exceptions 34"},
	{"maillog lines", "tlspolicyd_maillog_lines_total 35"},
	{"maillog: verified", "tlspolicyd_maillog_outcomes{outcome=\"verified\"} 41"},
	{"maillog: non_dnssec", "tlspolicyd_maillog_outcomes{outcome=\"non_dnssec\"} 47"},
	{"maillog: deferred_tls", "tlspolicyd_maillog_outcomes{outcome=\"deferred_tls\"} 50"},
	{"alerts by kind", "tlspolicyd_alerts_total{kind=\"dane-mismatch\"} 3"},
	{"an alert kind escaped", "tlspolicyd_alerts_total{kind=\"odd\\\"kind\"} 1"},
	{"monitor: checks", "tlspolicyd_monitor_checks_total 36"},
	{"monitor: a failed domain", "tlspolicyd_monitor_status{domain=\"example.org\"} 2"},
	{"monitor: a passed domain", "tlspolicyd_monitor_status{domain=\"example.net\"} 0"},
	{"help and type", "# HELP tlspolicyd_cache_entries Answers cached.\n# TYPE tlspolicyd_cache_entries gauge"},
};

static void
test_sample(void **state)
{
	const struct sample_case *c = *state;
	struct daemonmetrics_resolutions res;
	uint64_t probes[PROBE_CLASS_COUNT];
	struct daemonmetrics m = fixture(&res, probes);
	struct buf out, want;

	buf_init(&out);
	buf_init(&want);
	buf_putc(&out, '\n');
	assert_int_equal(daemonmetrics_write(&m, &out), 0);
	buf_printf(&want, "\n%s\n", c->line);
	if (!strstr(buf_ptr(&out), buf_ptr(&want)))
		fail_msg("no line \"%s\" in:%s", c->line, buf_ptr(&out));
	buf_free(&out);
	buf_free(&want);
}

/* Each family once, in the table's order, with its HELP and TYPE lines;
 * its name as Prometheus wants it; counters, and only they, in _total. */
static void
test_families(void **state)
{
	struct daemonmetrics_resolutions res;
	uint64_t probes[PROBE_CLASS_COUNT];
	struct daemonmetrics m = fixture(&res, probes);
	struct buf out, help;
	const struct daemonmetrics_family *f;
	const char *at;
	regex_t name;
	size_t i;

	assert_int_equal(regcomp(&name, "^tlspolicyd_[a-z_]+$", REG_EXTENDED | REG_NOSUB), 0);
	buf_init(&out);
	buf_init(&help);
	daemonmetrics_write(&m, &out);
	at = buf_ptr(&out);
	for (i = 0; (f = daemonmetrics_family(i)); i++) {
		assert_int_equal(regexec(&name, f->name, 0, NULL, 0), 0);
		size_t n = strlen(f->name);
		bool total = n > 6 && strcmp(f->name + n - 6, "_total") == 0;
		assert_int_equal(total, strcmp(f->type, "counter") == 0);
		buf_reset(&help);
		buf_printf(&help, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
		const char *found = strstr(at, buf_ptr(&help));
		if (!found)
			fail_msg("family %s missing, or out of order", f->name);
		at = found + buf_size(&help);
		assert_null(strstr(at, buf_ptr(&help)));	/* once */
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(daemonmetrics_family(j)->name, f->name);
	}
	assert_int_equal(i, 45);
	/* Nothing but families of the table. */
	size_t families = 0;
	for (at = buf_ptr(&out); (at = strstr(at, "# TYPE ")); at++)
		families++;
	assert_int_equal(families, i);
	regfree(&name);
	buf_free(&out);
	buf_free(&help);
}

/* Before anything is gathered (a scrape during the start): every family,
 * with zeros. */
static void
test_empty(void **state)
{
	struct daemonmetrics m;
	struct buf out;

	memset(&m, 0, sizeof(m));
	buf_init(&out);
	assert_int_equal(daemonmetrics_write(&m, &out), 0);
	buf_terminate(&out);
	assert_non_null(strstr(buf_ptr(&out), "\ntlspolicyd_probes_total{class=\"unreachable\"} 0\n"));
	assert_non_null(strstr(buf_ptr(&out), "\ntlspolicyd_resolution_seconds_count 0\n"));
	assert_non_null(strstr(buf_ptr(&out), "# TYPE tlspolicyd_alerts_total counter\n"));
	assert_null(strstr(buf_ptr(&out), "tlspolicyd_alerts_total{"));
	buf_free(&out);
}

/* tlspolicyd(8) names every family, as it names every setting. */
static void
test_documented(void **state)
{
	static char dir[512];
	char path[600];
	struct buf page;
	const struct daemonmetrics_family *f;

	snprintf(path, sizeof(path), "%s/tlspolicyd.8",
	    table_data_dir(dir, sizeof(dir), "../doc"));
	FILE *fp = fopen(path, "r");
	if (!fp)
		fail_msg("%s: cannot read it", path);
	buf_init(&page);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_append(&page, chunk, n);
	fclose(fp);
	buf_terminate(&page);
	for (size_t i = 0; (f = daemonmetrics_family(i)); i++)
		if (!strstr(buf_ptr(&page), f->name))
			fail_msg("tlspolicyd(8) does not name %s", f->name);
	buf_free(&page);
}

struct resolved_case {
	const char *name;
	/* lookups: security, outcome, as numbers; -1 ends */
	int lookups[6][2];
	uint64_t elapsed_ms;
	uint64_t secure_data, insecure_nxdomain, bogus_timeout, counted;
	size_t bucket;		/* where the time lands */
};

static const char *
resolved_case_name(const void *row)
{
	return ((const struct resolved_case *)row)->name;
}

static const struct resolved_case resolved_cases[] = {
	{"resolved: no lookup at all, timed", {{-1}}, 0, 0, 0, 0, 0, 0},
	{"resolved: each lookup counted", {{DNS_SECURE, DNS_DATA}, {DNS_SECURE, DNS_DATA}, {DNS_INSECURE, DNS_NXDOMAIN},
	    {DNS_BOGUS, DNS_TIMEOUT}, {-1}}, 3, 2, 1, 1, 4, 2},
	{"resolved: out of range, not counted", {{7, DNS_DATA}, {DNS_SECURE, 9}, {DNS_SECURE, DNS_DATA}, {-1}}, 40,
	    1, 0, 0, 1, 5},
	{"resolved: a slow one, past every bound", {{DNS_BOGUS, DNS_TIMEOUT}, {-1}}, 31000, 0, 0, 1, 1,
	    METRICS_BUCKETS - 1},
};

static void
test_resolved(void **state)
{
	const struct resolved_case *c = *state;
	struct daemonmetrics_resolutions res;
	struct resolve_lookup lookups[6];
	struct resolve_result r;
	uint64_t counted = 0;

	memset(&res, 0, sizeof(res));
	memset(&r, 0, sizeof(r));
	memset(lookups, 0, sizeof(lookups));
	r.lookups = lookups;
	for (; r.nlookups < 6 && c->lookups[r.nlookups][0] >= 0; r.nlookups++) {
		lookups[r.nlookups].security = (enum dns_security)c->lookups[r.nlookups][0];
		lookups[r.nlookups].outcome = (enum dns_outcome)c->lookups[r.nlookups][1];
	}
	daemonmetrics_resolved(&res, &r, c->elapsed_ms);
	assert_int_equal(res.lookups[DNS_SECURE][DNS_DATA], c->secure_data);
	assert_int_equal(res.lookups[DNS_INSECURE][DNS_NXDOMAIN], c->insecure_nxdomain);
	assert_int_equal(res.lookups[DNS_BOGUS][DNS_TIMEOUT], c->bogus_timeout);
	for (int s = 0; s < DAEMONMETRICS_SECURITIES; s++)
		for (int o = 0; o < DAEMONMETRICS_OUTCOMES; o++)
			counted += res.lookups[s][o];
	assert_int_equal(counted, c->counted);
	assert_int_equal(res.seconds.count, 1);
	assert_int_equal(res.seconds.buckets[c->bucket], 1);
	assert_true(res.seconds.sum > (double)c->elapsed_ms / 1000.0 - 1e-9);
}

/* The family a name in a query means: itself, or for a histogram one of
 * its series (_bucket, _sum, _count); NULL when the daemon exports no
 * such thing. */
static const struct daemonmetrics_family *
family_of(const char *name, size_t len)
{
	static const char *const series[] = {"_bucket", "_sum", "_count"};
	const struct daemonmetrics_family *f;

	for (size_t i = 0; (f = daemonmetrics_family(i)); i++) {
		size_t flen = strlen(f->name);
		if (len == flen && memcmp(name, f->name, len) == 0)
			return f;
		if (strcmp(f->type, "histogram") != 0 || len <= flen || memcmp(name, f->name, flen) != 0)
			continue;
		for (size_t k = 0; k < 3; k++)
			if (len - flen == strlen(series[k]) && memcmp(name + flen, series[k], len - flen) == 0)
				return f;
	}
	return NULL;
}

static bool
label_of(const struct daemonmetrics_family *f, const char *label, size_t len)
{
	const char *p = f->label;

	if (strcmp(f->type, "histogram") == 0 && len == 2 && memcmp(label, "le", 2) == 0)
		return true;
	while (p && *p) {
		size_t n = strcspn(p, ",");
		if (n == len && memcmp(p, label, len) == 0)
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

/* contrib/grafana/tlspolicyd.json queries only what the daemon exports:
 * every tlspolicyd_ name is a family (or a histogram's series), and each
 * query groups only by labels one of its families has (or the ones
 * Prometheus adds: instance, job). */
static void
test_grafana(void **state)
{
	static char dir[512];
	char path[600];
	struct buf dash;
	size_t names = 0;

	snprintf(path, sizeof(path), "%s/tlspolicyd.json", table_data_dir(dir, sizeof(dir), "../contrib/grafana"));
	FILE *fp = fopen(path, "r");
	if (!fp)
		fail_msg("%s: cannot read it", path);
	buf_init(&dash);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_append(&dash, chunk, n);
	fclose(fp);
	buf_terminate(&dash);
	for (const char *e = buf_ptr(&dash); (e = strstr(e, "\"expr\": \"")); ) {
		e += strlen("\"expr\": \"");
		size_t elen = strcspn(e, "\"");
		const struct daemonmetrics_family *used[16];
		size_t nused = 0;
		for (const char *p = e; p < e + elen; p++) {
			if (strncmp(p, "tlspolicyd_", 11) != 0 || (p > e && (isalnum((unsigned char)p[-1]) || p[-1] == '_')))
				continue;
			size_t len = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
			const struct daemonmetrics_family *f = family_of(p, len);
			if (!f)
				fail_msg("%s: %.*s is not a metric tlspolicyd exports", path, (int)len, p);
			if (nused < 16)
				used[nused++] = f;
			names++;
			p += len - 1;
		}
		for (const char *p = e; (p = strstr(p, "by (")) && p < e + elen; ) {
			p += 4;
			while (*p && *p != ')') {
				p += strspn(p, ", ");
				size_t len = strcspn(p, ", )");
				bool known = (len == 8 && memcmp(p, "instance", 8) == 0) || (len == 3 && memcmp(p, "job", 3) == 0);
				for (size_t k = 0; k < nused && !known; k++)
					known = label_of(used[k], p, len);
				if (!known)
					fail_msg("%s: a query groups by %.*s, which its metrics do not have: %.*s", path, (int)len, p,
					    (int)elen, e);
				p += len;
			}
		}
		e += elen;
	}
	assert_true(names >= 20);
	buf_free(&dash);
}

int
main(void)
{
	struct table t = {0};
	static const struct CMUnitTest extra[] = {
		cmocka_unit_test(test_families),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_documented),
		cmocka_unit_test(test_grafana),
	};

	TABLE_ADD(&t, sample_cases, sample_case, test_sample);
	TABLE_ADD(&t, resolved_cases, resolved_case, test_resolved);
	TABLE_TESTS(&t, extra);
	return table_run(&t, "daemonmetrics");
}
