/*
 * selfcheck_cmd - `tlspolicy selfcheck DOMAIN... [--days N] [--json]`
 * (selfcheck_cmd.h). The probes run inside the resolution's callback, the
 * one place where the resolution's records are all there; a domain's
 * checks finish before the next domain starts. Where selfcheck.h asks for
 * them, two more probes per address offer only RSA and only ECDSA
 * (cert-type-uncovered); then the MTA-STS check, against the MX hosts and
 * the probes' certificates (sts-mismatch, stsmatch.h).
 */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "util/netaddr.h"
#include "util/ownaddr.h"
#include "postfix/nexthop.h"
#include "probe/probe.h"
#include "probe/probeplan.h"
#include "selfcheck/checklist.h"
#include "selfcheck/checkprint.h"
#include "selfcheck/selfcheck.h"
#include "selfcheck/stsmatch.h"
#include "sts/stscheck.h"
#include "fromhere.h"
#include "selfcheck_cmd.h"

/* The longest horizon --days takes: ten years. */
#define SELFCHECK_MAX_DAYS 3650

struct selfcheck_run {
	struct probeplan_settings ps;
	struct netaddr *own;
	struct probe_env *env;
	unsigned days;
	struct checklist list;
	bool checked;		/* the callback ran */
	bool failed;		/* out of memory */
	/* For the MTA-STS check. */
	const struct config *cfg;
	const char *domain;
};

/* ---- cert-type-uncovered: the one-type probes ---- */

/* One more probe of target, offering only one key type's signatures;
 * its result, or NULL when it could not be made. */
static const struct probe_result *
typed_probe(struct selfcheck_run *run, const struct probe_target *target, enum probe_key_type type,
    struct probe **keep)
{
	struct probe_target t = *target;

	t.key_type = type;
	if (!(*keep = probe_new(run->env, &t)))
		return NULL;
	return probe_run_blocking(*keep);
}

/* ---- sts-mismatch ---- */

/* The domain's MTA-STS checked now (on an event loop of its own, inside
 * the resolution's callback, where its MX hosts and the probes are),
 * against those. A check that could not run is said on standard error
 * and adds nothing: the DANE checks stand on their own. */
static void
check_sts(struct selfcheck_run *run, const struct resolve_result *res, const struct selfcheck_probe *probes,
    size_t nprobes)
{
	struct stscheck_result *sts = fromhere_sts_check(run->cfg, "selfcheck", run->domain);
	const char **hosts = res->nhosts ? calloc(res->nhosts, sizeof(*hosts)) : NULL;

	if (sts && (hosts || res->nhosts == 0)) {
		for (unsigned h = 0; h < res->nhosts; h++)
			hosts[h] = res->hosts[h].name;
		if (stsmatch_run(sts, hosts, res->nhosts, probes, nprobes, &run->list) < 0)
			run->failed = true;
	} else if (sts) {
		run->failed = true;
	}
	free(hosts);
	stscheck_result_free(sts);
}

/* The resolution is there: probe every address of its plan, check. */
static void
resolved(void *arg, const struct resolve_result *res)
{
	struct selfcheck_run *run = arg;
	struct probeplan plan;
	struct selfcheck_probe *probes = NULL;
	struct probe **running = NULL, **typed = NULL;

	run->checked = true;
	if (probeplan_build(res, &run->ps, &plan) < 0) {
		run->failed = true;
		return;
	}
	if (plan.n && (!(probes = calloc(plan.n, sizeof(*probes))) || !(running = calloc(plan.n, sizeof(*running))) ||
	    !(typed = calloc(2 * plan.n, sizeof(*typed))))) {
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
		/* cert-type-uncovered: the same address, one key type at a time. */
		if (selfcheck_wants_key_types(&probes[i])) {
			probes[i].rsa = typed_probe(run, &it->target, PROBE_KEY_RSA, &typed[2 * i]);
			probes[i].ecdsa = typed_probe(run, &it->target, PROBE_KEY_ECDSA, &typed[2 * i + 1]);
		}
	}
	struct selfcheck_input in = {res, probes, plan.n, (int64_t)time(NULL), run->days};
	if (selfcheck_run(&in, &run->list) < 0)
		run->failed = true;
	else if (!run->list.unchecked)
		check_sts(run, res, probes, plan.n);
done:
	for (size_t i = 0; running && i < plan.n; i++)
		if (running[i])
			probe_free(running[i]);
	for (size_t i = 0; typed && i < 2 * plan.n; i++)
		probe_free(typed[i]);
	free(running);
	free(typed);
	free(probes);
	probeplan_free(&plan);
}

static int
selfcheck_options(int argc, char **argv, bool *json, unsigned *days)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"days", required_argument, NULL, 'd'},
		{NULL, 0, NULL, 0},
	};
	int opt;

	*json = false;
	*days = SELFCHECK_DEFAULT_DAYS;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "jd:", opts, NULL)) != -1) {
		char *end;
		unsigned long n;
		switch (opt) {
		case 'j':
			*json = true;
			break;
		case 'd':
			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || n > SELFCHECK_MAX_DAYS) {
				fprintf(stderr, "tlspolicy selfcheck: --days '%s': a number of days from 0 to %d\n",
				    optarg, SELFCHECK_MAX_DAYS);
				return -1;
			}
			*days = (unsigned)n;
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
	run->cfg = cfg;
	run->domain = nh.name;
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
	if (selfcheck_options(argc, argv, &json, &run.days) < 0)
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
