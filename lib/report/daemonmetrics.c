/* daemonmetrics - the daemon's metrics schema; see daemonmetrics.h. */
#include "autoconfig.h"

#include <stdbool.h>
#include <string.h>

#include "report/daemonmetrics.h"

/* One row of the schema. A family is one sample read from a field of
 * struct daemonmetrics (with label and label_value, one labelled sample),
 * or samples written by a function of its own; a histogram writes its
 * family lines too. */
struct row {
	struct daemonmetrics_family f;
	const char *label_value;
	size_t offset, size;		/* the field; size 0: samples() */
	int (*samples)(const struct daemonmetrics *m, const char *name, const char *help, struct buf *out);
};

#define FIELD(field) offsetof(struct daemonmetrics, field), sizeof(((struct daemonmetrics *)0)->field), NULL
#define SAMPLES(fn) 0, 0, fn

static int
answers(const struct daemonmetrics *m, const char *name, const char *help, struct buf *out)
{
	return metrics_sample(out, name, "result", "OK", m->socketmap.ok) |
	    metrics_sample(out, name, "result", "NOTFOUND", m->socketmap.notfound) |
	    metrics_sample(out, name, "result", "TEMP", m->socketmap.temp) |
	    metrics_sample(out, name, "result", "PERM", m->socketmap.perm);
}

static int
dns_lookups(const struct daemonmetrics *m, const char *name, const char *help, struct buf *out)
{
	int rc = 0;

	for (int sec = 0; sec < DAEMONMETRICS_SECURITIES; sec++) {
		for (int oc = 0; oc < DAEMONMETRICS_OUTCOMES; oc++) {
			rc |= buf_printf(out, "%s{security=\"%s\",outcome=\"%s\"} ", name,
			    dns_security_name((enum dns_security)sec), dns_outcome_name((enum dns_outcome)oc));
			rc |= buf_put_uint(out, m->resolutions ? m->resolutions->lookups[sec][oc] : 0, 1);
			rc |= buf_putc(out, '\n');
		}
	}
	return rc;
}

static int
probes(const struct daemonmetrics *m, const char *name, const char *help, struct buf *out)
{
	int rc = 0;

	for (int c = 0; c < PROBE_CLASS_COUNT; c++)
		rc |= metrics_sample(out, name, "class", probe_class_name((enum probe_class)c), m->probes ? m->probes[c] : 0);
	return rc;
}

static int
maillog_outcomes(const struct daemonmetrics *m, const char *name, const char *help, struct buf *out)
{
	const struct logwatch_counts *c = &m->maillog;
	const struct {
		const char *outcome;
		uint64_t n;
	} outcomes[] = {
		{"verified", c->verified}, {"trusted", c->trusted}, {"untrusted", c->untrusted},
		{"anonymous", c->anonymous}, {"cert_failed", c->cert_failed}, {"tlsa_error", c->tlsa_error},
		{"non_dnssec", c->non_dnssec}, {"sent", c->sent}, {"deferred", c->deferred},
		{"deferred_tls", c->deferred_tls},
	};
	int rc = 0;

	for (size_t i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++)
		rc |= metrics_sample(out, name, "outcome", outcomes[i].outcome, outcomes[i].n);
	return rc;
}

struct alert_samples {
	const char *name;
	struct buf *out;
	int rc;
};

static void
alert_sample(void *arg, const char *kind, uint64_t n)
{
	struct alert_samples *a = arg;

	a->rc |= metrics_sample(a->out, a->name, "kind", kind, n);
}

static int
alerts(const struct daemonmetrics *m, const char *name, const char *help, struct buf *out)
{
	struct alert_samples a = {name, out, 0};

	if (m->alerts)
		m->alerts(m->alerts_arg, alert_sample, &a);
	return a.rc;
}

static void
monitor_sample(void *arg, const char *domain, uint64_t status)
{
	struct alert_samples *a = arg;

	a->rc |= metrics_sample(a->out, a->name, "domain", domain, status);
}

static int
monitor_status(const struct daemonmetrics *m, const char *name, const char *help, struct buf *out)
{
	struct alert_samples a = {name, out, 0};

	if (m->monitor)
		m->monitor(m->monitor_arg, monitor_sample, &a);
	return a.rc;
}

static int
sts_fetches(const struct daemonmetrics *m, const char *name, const char *help, struct buf *out)
{
	int rc = 0;

	for (int o = 0; o < STSFETCH_OUTCOME_COUNT; o++)
		rc |= metrics_sample(out, name, "outcome", stsfetch_outcome_name((enum stsfetch_outcome)o),
		    m->sts.fetches[o] - (o == STSFETCH_OK ? m->sts.invalid : 0));
	return rc | metrics_sample(out, name, "outcome", "invalid-policy", m->sts.invalid);
}

static int
cache_refreshes(const struct daemonmetrics *m, const char *name, const char *help, struct buf *out)
{
	int rc = 0;

	for (int o = 0; o < POLICYMAP_REFRESH_COUNT; o++)
		rc |= metrics_sample(out, name, "outcome", policymap_refresh_name((enum policymap_refresh)o),
		    m->cache.refresh_outcomes[o]);
	return rc;
}

static int
sts_policies(const struct daemonmetrics *m, const char *name, const char *help, struct buf *out)
{
	int rc = 0;

	for (int mode = 0; mode < 3; mode++)
		rc |= metrics_sample(out, name, "mode", stspolicy_mode_name((enum stspolicy_mode)mode), m->sts.by_mode[mode]);
	return rc;
}

/* The fleet's families are written only where there is a fleet: a relay
 * alone has nothing to say about Redis. */
static int
fleet_up_gauge(const struct daemonmetrics *m, const char *name, const char *help, struct buf *out)
{
	if (!m->has_fleet)
		return 0;
	return metrics_sample(out, name, "role", "server", m->fleet.up) |
	    (m->fleet.has_replica ? metrics_sample(out, name, "role", "replica", m->fleet.replica_up) : 0);
}

static int
fleet_by_kind(struct buf *out, const char *name, const uint64_t *counts)
{
	int rc = 0;

	for (int k = 0; k < FLEET_KIND_COUNT; k++)
		rc |= metrics_sample(out, name, "kind", fleet_kind_name((enum fleet_kind)k), counts[k]);
	return rc;
}

static int
fleet_reads(const struct daemonmetrics *m, const char *name, const char *help, struct buf *out)
{
	return m->has_fleet ? fleet_by_kind(out, name, m->fleet.gets) : 0;
}

static int
fleet_hits(const struct daemonmetrics *m, const char *name, const char *help, struct buf *out)
{
	return m->has_fleet ? fleet_by_kind(out, name, m->fleet.hits) : 0;
}

static int
fleet_writes(const struct daemonmetrics *m, const char *name, const char *help, struct buf *out)
{
	return m->has_fleet ? fleet_by_kind(out, name, m->fleet.puts) : 0;
}

/* Two labels: metrics_sample() takes one, so the pair is written whole. */
static int
fleet_pairs(struct buf *out, const char *name, const char *kind, const char *second, const char *value, uint64_t n)
{
	return buf_printf(out, "%s{kind=\"%s\",%s=\"%s\"} %llu\n", name, kind, second, value,
	    (unsigned long long)n) < 0 ? -1 : 0;
}

static int
fleet_claims(const struct daemonmetrics *m, const char *name, const char *help, struct buf *out)
{
	int rc = 0;

	if (!m->has_fleet)
		return 0;
	for (int k = 0; k < FLEET_KIND_COUNT; k++) {
		if (k != FLEET_PROBE_LEASE && k != FLEET_ALERT)
			continue;
		const char *kind = fleet_kind_name((enum fleet_kind)k);
		rc |= fleet_pairs(out, name, kind, "result", "ours", m->fleet.claims_ours[k]);
		rc |= fleet_pairs(out, name, kind, "result", "held", m->fleet.claims_held[k]);
		rc |= fleet_pairs(out, name, kind, "result", "alone", m->fleet.claims_alone[k]);
	}
	return rc;
}

static int
fleet_rejected(const struct daemonmetrics *m, const char *name, const char *help, struct buf *out)
{
	int rc = 0;

	if (!m->has_fleet)
		return 0;
	for (int k = 0; k < FLEET_KIND_COUNT; k++)
		for (int v = 1; v < FLEETVALUE_VERDICT_COUNT; v++)
			rc |= fleet_pairs(out, name, fleet_kind_name((enum fleet_kind)k), "verdict",
			    fleetvalue_verdict_name((enum fleetvalue_verdict)v), m->fleet.rejected[k][v]);
	return rc;
}

static int
fleet_rtt(const struct daemonmetrics *m, const char *name, const char *help, struct buf *out)
{
	static const struct metrics_histogram none;

	return metrics_histogram_write(out, name, help, m->has_fleet ? &m->fleet.rtt : &none);
}

static int
resolution_seconds(const struct daemonmetrics *m, const char *name, const char *help, struct buf *out)
{
	static const struct metrics_histogram none;

	return metrics_histogram_write(out, name, help, m->resolutions ? &m->resolutions->seconds : &none);
}

static const struct row rows[] = {
	{{"tlspolicyd_answers_total", "counter", "Socketmap replies by status.", "result"}, NULL, SAMPLES(answers)},
	{{"tlspolicyd_connections_total", "counter", "Socketmap connections accepted.", NULL}, NULL,
	    FIELD(socketmap.accepted)},
	{{"tlspolicyd_connections", "gauge", "Socketmap connections open.", NULL}, NULL, FIELD(connections)},
	{{"tlspolicyd_connections_refused_total", "counter", "Socketmap connections closed at once, by reason.",
	    "reason"}, "peer_limit", FIELD(socketmap.refused_peer_limit)},
	{{"tlspolicyd_metrics_refused_total", "counter",
	    "Connections to this endpoint closed at once: over its limits.", NULL}, NULL, FIELD(metrics_refused)},
	{{"tlspolicyd_requests_timed_out_total", "counter",
	    "Socketmap connections closed with a request not complete within request_timeout.", NULL}, NULL,
	    FIELD(socketmap.request_timeouts)},
	{{"tlspolicyd_cache_hits_total", "counter", "Answers served from the cache.", NULL}, NULL, FIELD(cache.hits)},
	{{"tlspolicyd_cache_misses_total", "counter", "Answers that needed a resolution.", NULL}, NULL,
	    FIELD(cache.misses)},
	{{"tlspolicyd_cache_entries", "gauge", "Answers cached.", NULL}, NULL, FIELD(cache.entries)},
	{{"tlspolicyd_cache_refreshes_total", "counter",
	    "Background refreshes of cached answers Postfix asked for near their expiry (cache_prefetch_percent), "
	    "by how they ended.", "outcome"}, NULL, SAMPLES(cache_refreshes)},
	{{"tlspolicyd_cache_refreshes_skipped_total", "counter",
	    "Refreshes not started: cache_prefetch_max were running.", NULL}, NULL, FIELD(cache.refresh_skipped)},
	{{"tlspolicyd_cache_late_answers_total", "counter",
	    "Answers given past their expiry while their refresh ran (at most dns_timeout).", NULL}, NULL,
	    FIELD(cache.late)},
	{{"tlspolicyd_resolutions_shared_total", "counter", "Requests that joined a resolution already under way.", NULL},
	    NULL, FIELD(cache.shared)},
	{{"tlspolicyd_stale_answers_total", "counter",
	    "Resolver outages answered with the last secure answer (stale_answer_max_age).", NULL}, NULL,
	    FIELD(cache.stale)},
	{{"tlspolicyd_dns_lookups_total", "counter", "DNS lookups by DNSSEC status and outcome.", "security,outcome"},
	    NULL, SAMPLES(dns_lookups)},
	{{"tlspolicyd_resolution_seconds", "histogram", "Time to resolve a next hop.", "le"}, NULL,
	    SAMPLES(resolution_seconds)},
	{{"tlspolicyd_probes_total", "counter", "Probes finished, by class.", "class"}, NULL, SAMPLES(probes)},
	{{"tlspolicyd_probes_queued", "gauge", "Probes waiting for their turn.", NULL}, NULL, FIELD(prober.queued)},
	{{"tlspolicyd_probes_running", "gauge", "Probes in flight.", NULL}, NULL, FIELD(prober.running)},
	{{"tlspolicyd_probes_dropped_total", "counter", "Probes dropped: queue full.", NULL}, NULL, FIELD(prober.dropped)},
	{{"tlspolicyd_exceptions", "gauge", "Entries of the exception list in force.", NULL}, NULL, FIELD(exceptions)},
	{{"tlspolicyd_maillog_lines_total", "counter", "Lines of Postfix's log read.", NULL}, NULL, FIELD(maillog_lines)},
	/* A gauge: destinations seen longest ago are forgotten, and their counts with them. */
	{{"tlspolicyd_maillog_outcomes", "gauge",
	    "What Postfix's log said about TLS to the destinations tracked (the latest 10000), by outcome.",
	    "outcome"}, NULL, SAMPLES(maillog_outcomes)},
	{{"tlspolicyd_alerts_total", "counter", "Alerts raised, by kind.", "kind"}, NULL, SAMPLES(alerts)},
	{{"tlspolicyd_monitor_checks_total", "counter", "Checks of monitor_domains run.", NULL}, NULL,
	    FIELD(monitor_checks)},
	{{"tlspolicyd_monitor_status", "gauge",
	    "The last check of each of monitor_domains: 0 passed, 1 warned, 2 failed, 3 could not check.", "domain"},
	    NULL, SAMPLES(monitor_status)},
	{{"tlspolicyd_sts_fetches_total", "counter",
	    "MTA-STS policy fetches by outcome (invalid-policy: fetched, but no valid policy).", "outcome"}, NULL,
	    SAMPLES(sts_fetches)},
	{{"tlspolicyd_sts_policies", "gauge", "MTA-STS policies in force, by mode.", "mode"}, NULL,
	    SAMPLES(sts_policies)},
	{{"tlspolicyd_sts_domains", "gauge", "Domains whose MTA-STS state is remembered.", NULL}, NULL,
	    FIELD(sts.domains)},
	{{"tlspolicyd_sts_memory_bytes", "gauge", "Memory the MTA-STS cache holds in its entries and policies.", NULL},
	    NULL, FIELD(sts.bytes)},
	{{"tlspolicyd_sts_answers_total", "counter", "Answers an MTA-STS policy in mode enforce replaced.", NULL}, NULL,
	    FIELD(cache.sts_applied)},
	{{"tlspolicyd_sts_waits_total", "counter", "First lookups that waited for a domain's MTA-STS policy.", NULL},
	    NULL, FIELD(cache.sts_waits)},
	{{"tlspolicyd_sts_fleet_policies_total", "counter",
	    "MTA-STS policies taken from the fleet: fetched later by another relay.", NULL}, NULL,
	    FIELD(sts.fleet_policies)},
	{{"tlspolicyd_fleet_up", "gauge", "Whether Redis answers, by role (redis_server, redis_replica).", "role"},
	    NULL, SAMPLES(fleet_up_gauge)},
	{{"tlspolicyd_fleet_reads_total", "counter", "Values asked of the fleet, by kind.", "kind"}, NULL,
	    SAMPLES(fleet_reads)},
	{{"tlspolicyd_fleet_shared_hits_total", "counter", "Values another relay shared that counted, by kind.",
	    "kind"}, NULL, SAMPLES(fleet_hits)},
	{{"tlspolicyd_fleet_writes_total", "counter", "Values shared with the fleet, by kind.", "kind"}, NULL,
	    SAMPLES(fleet_writes)},
	{{"tlspolicyd_fleet_claims_total", "counter",
	    "Probe leases and alerts claimed for the fleet: ours, held by another relay, or alone (Redis could "
	    "not say).", "kind,result"}, NULL, SAMPLES(fleet_claims)},
	{{"tlspolicyd_fleet_rejected_total", "counter",
	    "Values in Redis that did not count (malformed, forged, copied, too long a life, expired), by kind "
	    "and verdict.", "kind,verdict"}, NULL, SAMPLES(fleet_rejected)},
	{{"tlspolicyd_fleet_unreachable_total", "counter",
	    "Fleet operations Redis did not answer in time (redis_timeout) or refused: the relay worked alone.",
	    NULL}, NULL, FIELD(fleet.unreachable)},
	{{"tlspolicyd_fleet_skipped_total", "counter",
	    "Fleet operations not started: Redis down, or a write by a read-only relay.", NULL}, NULL,
	    FIELD(fleet.skipped)},
	{{"tlspolicyd_fleet_commands_total", "counter", "Commands sent to Redis.", NULL}, NULL,
	    FIELD(fleet.commands)},
	{{"tlspolicyd_fleet_timeouts_total", "counter", "Redis commands past redis_timeout.", NULL}, NULL,
	    FIELD(fleet.timeouts)},
	{{"tlspolicyd_fleet_outages_total", "counter", "Times a Redis endpoint went down.", NULL}, NULL,
	    FIELD(fleet.outages)},
	{{"tlspolicyd_fleet_rtt_seconds", "histogram", "Round trips of Redis commands.", "le"}, NULL,
	    SAMPLES(fleet_rtt)},
};

static uint64_t
field(const struct daemonmetrics *m, size_t offset, size_t size)
{
	const char *p = (const char *)m + offset;
	uint64_t v64;
	uint32_t v32;

	if (size == sizeof(v32)) {
		memcpy(&v32, p, sizeof(v32));
		return v32;
	}
	memcpy(&v64, p, sizeof(v64));
	return v64;
}

int
daemonmetrics_write(const struct daemonmetrics *m, struct buf *out)
{
	int rc = 0;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		bool histogram = strcmp(r->f.type, "histogram") == 0;
		if (!histogram)
			rc |= metrics_family(out, r->f.name, r->f.type, r->f.help);
		if (r->samples)
			rc |= r->samples(m, r->f.name, r->f.help, out);
		else
			rc |= metrics_sample(out, r->f.name, r->f.label, r->label_value, field(m, r->offset, r->size));
	}
	return rc ? -1 : 0;
}

const struct daemonmetrics_family *
daemonmetrics_family(size_t i)
{
	return i < sizeof(rows) / sizeof(rows[0]) ? &rows[i].f : NULL;
}

void
daemonmetrics_resolved(struct daemonmetrics_resolutions *res, const struct resolve_result *r, uint64_t elapsed_ms)
{
	for (size_t i = 0; i < r->nlookups; i++)
		if ((unsigned)r->lookups[i].security < DAEMONMETRICS_SECURITIES &&
		    (unsigned)r->lookups[i].outcome < DAEMONMETRICS_OUTCOMES)
			res->lookups[r->lookups[i].security][r->lookups[i].outcome]++;
	metrics_observe(&res->seconds, (double)elapsed_ms / 1000.0);
}
