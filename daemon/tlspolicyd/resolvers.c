/* resolvers - the trust check and the AD check; see resolvers.h. */
#include "autoconfig.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "util/clock.h"
#include "dns/adcheck.h"
#include "watch/alert.h"
#include "postfix/nexthop.h"
#include "probe/probe.h"
#include "resolvers.h"
#include "dns/rr.h"
#include "dns/trustcheck.h"

struct resolvers {
	struct event_base *base;
	struct log *log;
	struct dns *dns;
	struct policymap *pm;
	struct alerter *alerter;
	struct config *cfg;
	struct adcheck *adcheck;		/* in flight */
	struct event *adcheck_timer;
	enum trustcheck_state trust;
	int trust_id;				/* its lookup in flight, 0 for none */
	bool trust_first;			/* the check at start is under way */
	struct event *trust_timer;
	char *refusal;				/* the start's, while it runs */
	size_t refusal_size;
};

static void start_resolver_check(struct resolvers *rs);
static void start_trust_check(struct resolvers *rs);

static void
arm(struct event *ev, uint64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	evtimer_add(ev, &tv);
}

/* Postfix trusts its resolver's AD bit: if that resolver does not
 * validate, Postfix's own DANE is off whatever this daemon answers. */
static void
resolver_checked(void *arg, const struct adcheck_result *r)
{
	struct resolvers *rs = arg;
	char detail[200];

	rs->adcheck = NULL;
	if (r->answered && r->rcode == 0 && r->ad) {
		log_event(rs->log, LOGL_INFO, "resolver-check", "result", "validating", "resolv_conf",
		    rs->cfg->resolv_conf, "name", rs->cfg->resolver_check_name, NULL);
		return;
	}
	snprintf(detail, sizeof(detail), "%s", !r->answered || r->rcode ? r->error
	    : "answered without the AD bit: it does not validate DNSSEC");
	const char *fields[] = {
		"resolv_conf", rs->cfg->resolv_conf, "name", rs->cfg->resolver_check_name, "error", detail,
		"reason", "Postfix trusts this resolver's AD bit for DANE: with it, Postfix's own DANE is off", NULL,
	};
	/* Not about one destination: "-" stands for the whole host. */
	alerter_raise(rs->alerter, "resolver-not-validating", "-", fields, clock_monotonic_ms());
}

static void
on_adcheck_timer(evutil_socket_t fd, short what, void *arg)
{
	start_resolver_check(arg);
}

static void
start_resolver_check(struct resolvers *rs)
{
	struct netaddr server;
	char err[300];

	if (rs->cfg->resolver_check_interval_ms)
		arm(rs->adcheck_timer, rs->cfg->resolver_check_interval_ms);
	if (rs->adcheck)
		return;
	if (adcheck_nameserver(rs->cfg->resolv_conf, &server, err, sizeof(err)) < 0) {
		log_event(rs->log, LOGL_WARNING, "resolver-check", "result", "not-done", "error", err, NULL);
		return;
	}
	rs->adcheck = adcheck_start(rs->base, &server, rs->cfg->resolver_check_name, rs->cfg->dns_timeout_ms,
	    resolver_checked, rs);
}

/* The daemon's own resolver: does it validate under its trust anchors? */
static void
trust_checked(void *arg, struct dns_answer *answer)
{
	struct resolvers *rs = arg;
	char name[NEXTHOP_NAME_MAX + 2], detail[400], reason[768];
	bool first = rs->trust_first;
	enum trustcheck_state before = rs->trust;

	rs->trust_id = 0;
	rs->trust_first = false;
	/* The name asked, which a reload may have changed since. */
	snprintf(name, sizeof(name), "%s", answer->qname);
	enum trustcheck_verdict v = trustcheck_verdict(answer, detail, sizeof(detail));
	dns_answer_free(answer);
	struct trustcheck_step step = trustcheck_next(before, first, v, rs->cfg->trust_check_interval_ms);
	rs->trust = step.state;
	switch (trustcheck_trust(&step, v, name, detail, reason, sizeof(reason))) {
	case TRUSTCHECK_TRUST: policymap_set_untrusted(rs->pm, NULL); break;
	case TRUSTCHECK_DISTRUST: policymap_set_untrusted(rs->pm, reason); break;
	case TRUSTCHECK_KEEP: break;
	}
	if (step.action != TRUSTCHECK_RECOVERED)
		log_event(rs->log, v == TRUSTCHECK_SECURE ? LOGL_INFO : LOGL_WARNING, "trust-check",
		    "result", trustcheck_verdict_name(v), "name", name, "detail", detail,
		    "state", trustcheck_state_name(step.state), NULL);
	switch (step.action) {
	case TRUSTCHECK_NONE:
	case TRUSTCHECK_WARN:
		break;
	case TRUSTCHECK_REFUSE_START:
		if (rs->refusal)
			snprintf(rs->refusal, rs->refusal_size, "trust check: DNSKEY %s came back %s: %s", name, detail,
			    trustcheck_advice(v));
		return;	/* the start stops */
	case TRUSTCHECK_ALERT: {
		const char *fields[] = {
			"name", name, "result", trustcheck_verdict_name(v), "detail", detail,
			"reason", trustcheck_advice(v), "action", "fresh resolutions are answered TEMP until a check passes",
			NULL,
		};
		/* Not about one destination: "-" stands for every one. */
		alerter_raise(rs->alerter, "trust-check-failed", "-", fields, clock_monotonic_ms());
		break;
	}
	case TRUSTCHECK_RECOVERED:
		log_event(rs->log, LOGL_NOTICE, "trust-check", "result", "recovered", "name", name, "detail", detail,
		    "previous", trustcheck_state_name(before),
		    "reason", "the resolver validates DNSSEC: fresh resolutions are no longer answered TEMP", NULL);
		break;
	}
	arm(rs->trust_timer, step.next_ms);
}

static void
on_trust_timer(evutil_socket_t fd, short what, void *arg)
{
	start_trust_check(arg);
}

static void
start_trust_check(struct resolvers *rs)
{
	if (rs->trust_id > 0)
		return;	/* its answer schedules the next */
	int id = dns_lookup(rs->dns, rs->cfg->trust_check_name, RR_TYPE_DNSKEY, trust_checked, rs);
	if (id > 0) {
		rs->trust_id = id;
		return;
	}
	/* Not even started (out of memory): no answer, and so judged. */
	struct dns_answer *a = dns_answer_new(rs->cfg->trust_check_name, RR_TYPE_DNSKEY);
	if (a) {
		a->outcome = DNS_SERVFAIL;
		a->why = strdup("the lookup could not start");
		trust_checked(rs, a);
		return;
	}
	rs->trust_first = false;
	arm(rs->trust_timer, TRUSTCHECK_RETRY_MS);
}

struct resolvers *
resolvers_create(struct event_base *base, struct log *log, struct dns *dns, struct policymap *pm,
    struct alerter *alerter, struct config *cfg)
{
	struct resolvers *rs = calloc(1, sizeof(*rs));

	if (!rs)
		return NULL;
	rs->base = base;
	rs->log = log;
	rs->dns = dns;
	rs->pm = pm;
	rs->alerter = alerter;
	rs->cfg = config_ref(cfg);
	rs->trust = TRUSTCHECK_UNVERIFIED;
	if (!(rs->trust_timer = evtimer_new(base, on_trust_timer, rs)) ||
	    !(rs->adcheck_timer = evtimer_new(base, on_adcheck_timer, rs))) {
		resolvers_free(rs);
		return NULL;
	}
	return rs;
}

int
resolvers_first_trust_check(struct resolvers *rs, char *refusal, size_t size)
{
	refusal[0] = '\0';
	rs->refusal = refusal;
	rs->refusal_size = size;
	rs->trust = TRUSTCHECK_UNVERIFIED;
	rs->trust_first = true;
	policymap_set_untrusted(rs->pm, "trust check: not done yet");
	start_trust_check(rs);
	int rc = 0;
	while (rs->trust_first && rc == 0)
		if (event_base_loop(rs->base, EVLOOP_ONCE) < 0)
			rc = -1;
	rs->refusal = NULL;
	return rc;
}

void
resolvers_start_ad_check(struct resolvers *rs)
{
	if (rs->cfg->resolver_check_interval_ms)
		start_resolver_check(rs);
}

void
resolvers_set_config(struct resolvers *rs, struct config *cfg)
{
	bool check_was_off = rs->cfg->resolver_check_interval_ms == 0;
	bool trust_changed = strcmp(rs->cfg->trust_check_name, cfg->trust_check_name) != 0 ||
	    rs->cfg->trust_check_interval_ms != cfg->trust_check_interval_ms;

	config_ref(cfg);
	config_unref(rs->cfg);
	rs->cfg = cfg;
	if (check_was_off && cfg->resolver_check_interval_ms)
		start_resolver_check(rs);
	/* The new name is judged at once; the interval counts from it. */
	if (trust_changed)
		start_trust_check(rs);
}

const char *
resolvers_trust_state(const struct resolvers *rs)
{
	switch (rs->trust) {
	case TRUSTCHECK_VALIDATING: return "validating";
	case TRUSTCHECK_NOT_VALIDATING: return "not-validating";
	default: return "unverified";
	}
}

void
resolvers_free(struct resolvers *rs)
{
	if (!rs)
		return;
	adcheck_cancel(rs->adcheck);
	if (rs->trust_id > 0)
		dns_cancel(rs->dns, rs->trust_id);
	if (rs->adcheck_timer)
		event_free(rs->adcheck_timer);
	if (rs->trust_timer)
		event_free(rs->trust_timer);
	config_unref(rs->cfg);
	free(rs);
}
