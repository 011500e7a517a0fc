/*
 * selfcheck_cmd - `tlspolicy selfcheck DOMAIN... [--days N] [--rrsig-days N] [--json]`
 * (selfcheck_cmd.h). Every domain is checked at once on one event loop
 * (lib/selfcheck/selfrun, MTA-STS included: the program has called
 * stsfetch_global_init()); the results are printed in the order the
 * domains were named, each as soon as those before it are out.
 */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "util/buf.h"
#include "util/ownaddr.h"
#include "dns/dns_unbound.h"
#include "selfcheck/checklist.h"
#include "selfcheck/checkprint.h"
#include "selfcheck/selfcheck.h"
#include "selfcheck/selfrun.h"
#include "selfcheck/zonecheck.h"
#include "fromhere.h"
#include "selfcheck_cmd.h"

/* The longest horizon --days takes: ten years. */
#define SELFCHECK_MAX_DAYS 3650

struct selfcheck_cmd;

/* One domain named on the command line. */
struct named {
	struct selfcheck_cmd *cmd;
	struct buf out;			/* what to print for it */
	int status;
	bool done;
};

struct selfcheck_cmd {
	struct event_base *base;
	struct named *named;
	size_t n, printed;
	bool json;
};

/* Prints every finished domain whose predecessors are out. */
static void
print_ready(struct selfcheck_cmd *cmd)
{
	while (cmd->printed < cmd->n && cmd->named[cmd->printed].done) {
		fputs(buf_ptr(&cmd->named[cmd->printed].out), stdout);
		cmd->printed++;
	}
	fflush(stdout);
	if (cmd->printed == cmd->n)
		event_base_loopbreak(cmd->base);
}

static void
checked(void *arg, const struct checklist *list)
{
	struct named *d = arg;

	if ((d->cmd->json ? checkprint_json(list, &d->out) : checkprint_text(list, &d->out)) < 0)
		fprintf(stderr, "tlspolicy selfcheck: %s: out of memory\n", list->domain);
	d->status = checklist_status(list);
	d->done = true;
	print_ready(d->cmd);
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

/* The runner, as the daemon would probe and resolve; NULL, said. */
static struct selfrun *
runner(const struct config *cfg, struct event_base *base, unsigned days, unsigned rrsig_days, struct dns **dns,
    struct probe_env **env)
{
	struct selfrun_settings s = {.days = days, .rrsig_days = rrsig_days, .zone = zonecheck_default_settings()};
	struct dns_unbound_settings ds;
	struct netaddr *own = NULL;
	struct selfrun *sr = NULL;
	char err[1024];

	s.plan.allow_private = s.zone.allow_private = cfg->probe_allow_private;
	s.check_sts = true;
	s.sts = stsfetch_settings_from_config(cfg);
	if (ownaddr_load(&own, &s.plan.nown, err, sizeof(err)) < 0) {
		fprintf(stderr, "tlspolicy selfcheck: this host's addresses: %s\n", err);
		return NULL;
	}
	s.plan.own = own;
	fromhere_dns_settings(cfg, &ds);
	/* The certificates' DER: rollover-unready matches records of any
	 * matching type against them. */
	if (!(*env = fromhere_probe_env(cfg, true, err, sizeof(err))))
		fprintf(stderr, "tlspolicy selfcheck: %s\n", err);
	else if (!(*dns = dns_unbound_create(base, &ds, err, sizeof(err))))
		fprintf(stderr, "tlspolicy selfcheck: resolver: %s\n", err);
	else if (!(sr = selfrun_create(base, *dns, *env, &s, err, sizeof(err))))
		fprintf(stderr, "tlspolicy selfcheck: %s\n", err);
	free(own);
	return sr;
}

int
cmd_selfcheck(const struct config *cfg, int argc, char **argv)
{
	struct selfcheck_cmd cmd = {0};
	struct dns *dns = NULL;
	struct probe_env *env = NULL;
	struct selfrun *sr = NULL;
	unsigned days, rrsig_days;
	char err[1024];
	int worst = CHECKLIST_EXIT_PASSED;

	if (selfcheck_options(argc, argv, &cmd.json, &days, &rrsig_days) < 0)
		return CHECKLIST_EXIT_UNCHECKED;
	cmd.n = (size_t)(argc - optind);
	if (!(cmd.named = calloc(cmd.n, sizeof(*cmd.named))) || !(cmd.base = event_base_new())) {
		fprintf(stderr, "tlspolicy selfcheck: out of memory\n");
		free(cmd.named);
		return CHECKLIST_EXIT_UNCHECKED;
	}
	for (size_t i = 0; i < cmd.n; i++) {
		cmd.named[i].cmd = &cmd;
		buf_init(&cmd.named[i].out);
	}
	if (!(sr = runner(cfg, cmd.base, days, rrsig_days, &dns, &env))) {
		worst = CHECKLIST_EXIT_UNCHECKED;
		goto done;
	}
	for (size_t i = 0; i < cmd.n; i++) {
		if (selfrun_check(sr, argv[optind + (int)i], checked, &cmd.named[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "tlspolicy selfcheck: %s\n", err);
			cmd.named[i].status = CHECKLIST_EXIT_UNCHECKED;
			cmd.named[i].done = true;
		}
	}
	print_ready(&cmd);
	if (cmd.printed < cmd.n)
		event_base_dispatch(cmd.base);
	if (cmd.printed < cmd.n)
		fprintf(stderr, "tlspolicy selfcheck: %zu checks did not finish\n", cmd.n - cmd.printed);
	for (size_t i = 0; i < cmd.n; i++) {
		int status = i < cmd.printed ? cmd.named[i].status : CHECKLIST_EXIT_UNCHECKED;
		if (status > worst)
			worst = status;
	}
done:
	selfrun_free(sr);
	dns_free(dns);
	probe_env_free(env);
	for (size_t i = 0; i < cmd.n; i++)
		buf_free(&cmd.named[i].out);
	free(cmd.named);
	event_base_free(cmd.base);
	return worst;
}
