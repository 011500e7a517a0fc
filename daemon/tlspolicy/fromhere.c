/* fromhere - DNS and probes from this host, as the daemon's; see fromhere.h. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "util/ownaddr.h"
#include "fromhere.h"

void
fromhere_dns_settings(const struct config *cfg, struct dns_unbound_settings *out)
{
	*out = (struct dns_unbound_settings){
		.trust_anchor_file = cfg->trust_anchor_file,
		.unbound_config = cfg->unbound_config,
		.timeout_ms = cfg->dns_timeout_ms,
	};
}

struct probe_env *
fromhere_probe_env(const struct config *cfg, bool keep_certs, char *err, size_t errlen)
{
	return probe_env_from_config(cfg, keep_certs, err, errlen);
}

struct resolution {
	struct event_base *base;
	void (*done)(void *arg, const struct resolve_result *r);
	void *arg;
};

static void
resolved(void *arg, const struct resolve_result *r)
{
	struct resolution *run = arg;

	run->done(run->arg, r);
	event_base_loopbreak(run->base);
}

int
fromhere_resolve(const struct config *cfg, const char *cmd, const struct nexthop *nh,
    void (*done)(void *arg, const struct resolve_result *r), void *arg)
{
	struct resolve_result direct = {.nexthop = *nh};
	char err[1024];

	if (resolve_without_dns(nh, &direct.answer, direct.reason, sizeof(direct.reason))) {
		done(arg, &direct);
		return 0;
	}
	struct resolution run = {.base = event_base_new(), .done = done, .arg = arg};
	struct dns_unbound_settings s;
	fromhere_dns_settings(cfg, &s);
	struct dns *dns = run.base ? dns_unbound_create(run.base, &s, err, sizeof(err)) : NULL;
	int rc = 0;
	if (!dns) {
		fprintf(stderr, "tlspolicy %s: resolver: %s\n", cmd, run.base ? err : "no event loop");
		rc = -1;
	} else if (!resolve_start(dns, nh, resolved, &run)) {
		fprintf(stderr, "tlspolicy %s: cannot start the lookups\n", cmd);
		rc = -1;
	} else {
		event_base_dispatch(run.base);
	}
	dns_free(dns);
	if (run.base)
		event_base_free(run.base);
	return rc;
}

int
fromhere_dest(const char *cmd, const char *dest, struct nexthop *nh)
{
	const char *why;

	if (nexthop_parse(dest, strlen(dest), nh, &why) < 0) {
		fprintf(stderr, "tlspolicy %s: '%s': %s\n", cmd, dest, why);
		return -1;
	}
	return 0;
}

struct sts_run {
	struct event_base *base;
	struct stscheck_result *result;
};

static void
sts_checked(void *arg, struct stscheck_result *r)
{
	struct sts_run *run = arg;

	run->result = r;
	event_base_loopbreak(run->base);
}

struct stscheck_result *
fromhere_sts_check(const struct config *cfg, const char *cmd, const char *domain)
{
	struct sts_run run = {0};
	struct netaddr *own = NULL;
	char err[1024];
	struct stsfetch_settings fs = stsfetch_settings_from_config(cfg);

	/* This host's addresses are refused as the daemon refuses them. */
	if (ownaddr_load(&own, &fs.nown, err, sizeof(err)) < 0) {
		fprintf(stderr, "tlspolicy %s: this host's addresses: %s\n", cmd, err);
		return NULL;
	}
	fs.own = own;
	struct event_base *base = run.base = event_base_new();
	struct dns_unbound_settings s;
	fromhere_dns_settings(cfg, &s);
	struct dns *dns = base ? dns_unbound_create(base, &s, err, sizeof(err)) : NULL;
	struct stscheck *check = NULL;
	if (!dns)
		fprintf(stderr, "tlspolicy %s: resolver: %s\n", cmd, base ? err : "no event loop");
	else if (!(check = stscheck_start(base, dns, &fs, domain, sts_checked, &run, err, sizeof(err))))
		fprintf(stderr, "tlspolicy %s: %s\n", cmd, err);
	else
		event_base_dispatch(base);
	if (check && !run.result) {
		/* The loop ran dry before the check ended: not expected. */
		fprintf(stderr, "tlspolicy %s: the check of %s did not finish\n", cmd, domain);
		stscheck_cancel(check);
	}
	dns_free(dns);
	if (base)
		event_base_free(base);
	free(own);
	return run.result;
}
