/*
 * selfcheck_cmd - `tlspolicy selfcheck DOMAIN... [--days N] [--rrsig-days N] [--json]`
 * (selfcheck_cmd.h). The probes run inside the resolution's callback, the
 * one place where the resolution's records are all there, and so do the
 * DNS checks (the marked zonecheck block); a domain's checks finish
 * before the next domain starts.
 */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "util/buf.h"
#include "util/netaddr.h"
#include "util/ownaddr.h"
#include "postfix/nexthop.h"
#include "probe/probe.h"
#include "probe/probeplan.h"
#include "selfcheck/checklist.h"
#include "selfcheck/checkprint.h"
#include "selfcheck/selfcheck.h"
#include "selfcheck/zonecheck.h"
#include "fromhere.h"
#include "selfcheck_cmd.h"

/* The longest horizon --days takes: ten years. */
#define SELFCHECK_MAX_DAYS 3650

struct selfcheck_run {
	struct probeplan_settings ps;
	struct netaddr *own;
	struct probe_env *env;
	unsigned days;
	unsigned rrsig_days;
	const struct config *cfg;
	struct checklist list;
	bool checked;		/* the callback ran */
	bool failed;		/* out of memory */
};

/* ---- zonecheck (issue 17's DNS checks): begin ----
 * Runs the gatherer to its end on a loop of its own, then adds its
 * findings. To move into the asynchronous runner (selfrun). */
struct zone_run {
	struct selfcheck_run *run;
	struct event_base *base;
	bool done;
};

static void
zone_checked(void *arg, const struct zonecheck_facts *facts)
{
	struct zone_run *zr = arg;

	zr->done = true;
	/* libunbound's descriptor stays watched: the loop never runs dry. */
	event_base_loopbreak(zr->base);
	if (zonecheck_findings(facts, (int64_t)time(NULL), zr->run->rrsig_days, &zr->run->list) < 0)
		zr->run->failed = true;
}

static void
zone_checks(struct selfcheck_run *run, const struct resolve_result *res)
{
	struct zonecheck_settings zs = {ZONECHECK_DEFAULT_TIMEOUT_MS, ZONECHECK_DEFAULT_QUERY_TIMEOUT_MS, 53,
	    run->cfg->probe_allow_private};
	struct zonecheck_host hosts[POLICY_MAX_HOSTS];
	struct dns_unbound_settings ds;
	struct event_base *base = event_base_new();
	struct zone_run zr = {run, base, false};
	struct dns *dns = NULL;
	char err[512];
	size_t n = 0;

	for (unsigned i = 0; i < res->nhosts && n < POLICY_MAX_HOSTS; i++, n++) {
		hosts[n].name = res->hosts[i].name;
		hosts[n].tlsa_name = res->hosts[i].tlsa_name;
	}
	fromhere_dns_settings(run->cfg, &ds);
	if (base && (dns = dns_unbound_create(base, &ds, err, sizeof(err))) &&
	    zonecheck_start(base, dns, &zs, res->nexthop.name, hosts, n, zone_checked, &zr))
		event_base_dispatch(base);
	if (!zr.done)
		fprintf(stderr, "tlspolicy selfcheck: %s: the DNS checks could not run%s%s\n", res->nexthop.name,
		    dns ? "" : ": ", dns ? "" : base ? err : "no event loop");
	dns_free(dns);
	if (base)
		event_base_free(base);
}
/* ---- zonecheck: end ---- */

/* The resolution is there: probe every address of its plan, check. */
static void
resolved(void *arg, const struct resolve_result *res)
{
	struct selfcheck_run *run = arg;
	struct probeplan plan;
	struct selfcheck_probe *probes = NULL;
	struct probe **running = NULL;

	run->checked = true;
	if (probeplan_build(res, &run->ps, &plan) < 0) {
		run->failed = true;
		return;
	}
	if (plan.n && (!(probes = calloc(plan.n, sizeof(*probes))) || !(running = calloc(plan.n, sizeof(*running))))) {
		run->failed = true;
		goto done;
	}
	for (size_t i = 0; i < plan.n; i++) {
		const struct probeplan_item *it = &plan.items[i];
		probes[i].target = &it->target;
		if (it->refused) {
			probes[i].not_probed = strcmp(it->refused, PROBEPLAN_THIS_HOST) == 0 ?
			    "an address of this host (probe_allow_private = no)" :
			    "a special-purpose address (probe_allow_private = no)";
			continue;
		}
		if (!(running[i] = probe_new(run->env, &it->target))) {
			probes[i].not_probed = "out of memory";
			continue;
		}
		probes[i].result = probe_run_blocking(running[i]);
	}
	struct selfcheck_input in = {res, probes, plan.n, (int64_t)time(NULL), run->days};
	if (selfcheck_run(&in, &run->list) < 0)
		run->failed = true;
	zone_checks(run, res);	/* zonecheck */
done:
	for (size_t i = 0; running && i < plan.n; i++)
		if (running[i])
			probe_free(running[i]);
	free(running);
	free(probes);
	probeplan_free(&plan);
}

static int
selfcheck_options(int argc, char **argv, bool *json, unsigned *days, unsigned *rrsig_days)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"days", required_argument, NULL, 'd'},
		{"rrsig-days", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	int opt;

	*json = false;
	*days = SELFCHECK_DEFAULT_DAYS;
	*rrsig_days = ZONECHECK_DEFAULT_RRSIG_DAYS;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "jd:r:", opts, NULL)) != -1) {
		char *end;
		unsigned long n;
		switch (opt) {
		case 'j':
			*json = true;
			break;
		case 'd':
		case 'r':
			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || n > SELFCHECK_MAX_DAYS) {
				fprintf(stderr, "tlspolicy selfcheck: --%s '%s': a number of days from 0 to %d\n",
				    opt == 'd' ? "days" : "rrsig-days", optarg, SELFCHECK_MAX_DAYS);
				return -1;
			}
			*(opt == 'd' ? days : rrsig_days) = (unsigned)n;
			break;
		default:
			return -1;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "tlspolicy selfcheck: name at least one domain\n");
		return -1;
	}
	return 0;
}

/* One domain checked and printed; its exit status. */
static int
selfcheck_domain(const struct config *cfg, struct selfcheck_run *run, const char *domain, bool json)
{
	struct nexthop nh;
	const char *why;
	int status;

	if (nexthop_parse(domain, strlen(domain), &nh, &why) < 0) {
		fprintf(stderr, "tlspolicy selfcheck: '%s': %s\n", domain, why);
		return CHECKLIST_EXIT_UNCHECKED;
	}
	if (nh.kind != NEXTHOP_DOMAIN) {
		fprintf(stderr, "tlspolicy selfcheck: '%s': not a domain (name the domain, without brackets)\n", domain);
		return CHECKLIST_EXIT_UNCHECKED;
	}
	if (checklist_init(&run->list, domain) < 0) {
		fprintf(stderr, "tlspolicy selfcheck: out of memory\n");
		return CHECKLIST_EXIT_UNCHECKED;
	}
	run->checked = run->failed = false;
	if (fromhere_resolve(cfg, "selfcheck", &nh, resolved, run) < 0)
		checklist_set_unchecked(&run->list, "the resolver could not be set up");
	else if (!run->checked)
		checklist_set_unchecked(&run->list, "the lookups did not finish");
	else if (run->failed)
		checklist_set_unchecked(&run->list, "out of memory");
	struct buf out;
	buf_init(&out);
	if ((json ? checkprint_json(&run->list, &out) : checkprint_text(&run->list, &out)) < 0)
		fprintf(stderr, "tlspolicy selfcheck: out of memory\n");
	fputs(buf_ptr(&out), stdout);
	fflush(stdout);
	buf_free(&out);
	status = checklist_status(&run->list);
	checklist_free(&run->list);
	return status;
}

int
cmd_selfcheck(const struct config *cfg, int argc, char **argv)
{
	struct selfcheck_run run;
	bool json;
	char err[512];
	int worst = CHECKLIST_EXIT_PASSED;

	memset(&run, 0, sizeof(run));
	run.cfg = cfg;
	if (selfcheck_options(argc, argv, &json, &run.days, &run.rrsig_days) < 0)
		return CHECKLIST_EXIT_UNCHECKED;
	/* Every address, not only those Postfix would try: each one must
	 * keep what the DNS promises. */
	run.ps.allow_private = cfg->probe_allow_private;
	run.ps.address_limit = 0;
	if (!cfg->probe_allow_private && ownaddr_load(&run.own, &run.ps.nown, err, sizeof(err)) < 0) {
		fprintf(stderr, "tlspolicy selfcheck: %s\n", err);
		return CHECKLIST_EXIT_UNCHECKED;
	}
	run.ps.own = run.own;
	/* The certificates' DER: rollover-unready matches records of any
	 * matching type against them. */
	if (!(run.env = fromhere_probe_env(cfg, true, err, sizeof(err)))) {
		fprintf(stderr, "tlspolicy selfcheck: %s\n", err);
		free(run.own);
		return CHECKLIST_EXIT_UNCHECKED;
	}
	for (int i = optind; i < argc; i++) {
		int status = selfcheck_domain(cfg, &run, argv[i], json);
		if (status > worst)
			worst = status;
	}
	probe_env_free(run.env);
	free(run.own);
	return worst;
}
