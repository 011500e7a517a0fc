/*
 * probe_cmd - `tlspolicy probe` and `tlspolicy tlsa`: the MX hosts of a
 * destination, or one host, probed from here as the daemon would probe
 * them (the same plan settings, refusing the same addresses), without
 * asking the daemon. probe reports each address and says whether each
 * host keeps what its DNS promises; tlsa prints the TLSA record that would
 * match a host's certificate, or a certificate file's.
 */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "util/buf.h"
#include "util/jsonw.h"
#include "util/netaddr.h"
#include "util/ownaddr.h"
#include "postfix/nexthop.h"
#include "rules/policy.h"
#include "rules/tlsa.h"
#include "probe/probe.h"
#include "probe/probeplan.h"
#include "probe/probereport.h"
#include "fromhere.h"
#include "probe_cmd.h"

/* Exit codes, documented in tlspolicy(1). */
enum {
	PROBE_EXIT_AS_PROMISED = 0,	/* every probed host as secure as its DNS promises */
	PROBE_EXIT_BROKEN = 1,		/* a host does less than its TLSA records promise */
	PROBE_EXIT_TROUBLE = 2,		/* usage, configuration, resolver */
	PROBE_EXIT_UNKNOWN = 3,		/* DNS failed, or no address could be probed */
};
enum { TLSA_EXIT_PRINTED = 0, TLSA_EXIT_TROUBLE = 2 };

struct probe_run {
	struct probeplan_settings ps;
	struct netaddr *own;		/* what ps.own points to */
	struct probeplan plan;
	struct policy_answer answer;
	char reason[512];
	bool planned;
};

/* The daemon's plan settings; this host's addresses when they are to be
 * refused. -1, said on stderr, when they cannot be listed: a probe must
 * not go blind to them. */
static int
probe_run_init(struct probe_run *run, const struct config *cfg, const char *cmd)
{
	char err[256];

	memset(run, 0, sizeof(*run));
	run->ps.allow_private = cfg->probe_allow_private;
	run->ps.address_limit = cfg->probe_address_limit;
	if (!cfg->probe_allow_private && ownaddr_load(&run->own, &run->ps.nown, err, sizeof(err)) < 0) {
		fprintf(stderr, "tlspolicy %s: %s\n", cmd, err);
		return -1;
	}
	run->ps.own = run->own;
	return 0;
}

static void
probe_run_free(struct probe_run *run)
{
	probeplan_free(&run->plan);
	free(run->own);
	run->own = NULL;
}

static void
planned(void *arg, const struct resolve_result *res)
{
	struct probe_run *run = arg;

	run->answer = res->answer;
	snprintf(run->reason, sizeof(run->reason), "%s", res->reason);
	run->planned = probeplan_build(res, &run->ps, &run->plan) == 0;
}

/* "loopback address", "address of this host", for a refused item. */
static const char *
refused_words(const struct probeplan_item *it, char *buf, size_t size)
{
	if (strcmp(it->refused, PROBEPLAN_THIS_HOST) == 0)
		return "address of this host";
	snprintf(buf, size, "%s address", it->refused);
	return buf;
}

/* Whether a result keeps the promise its DNS made: usable TLSA records
 * promise DANE, unusable ones at least encryption. */
static bool
as_promised(const struct probe_target *t, const struct probe_result *r)
{
	if (r->tlsa_usable)
		return r->class == PROBE_DANE_VERIFIED;
	if (t->ntlsa)
		return r->class != PROBE_PLAINTEXT && r->class != PROBE_TLS_FAILED && r->class != PROBE_UNREACHABLE;
	return true;
}

/* `tlspolicy probe`'s command line: --json, and one destination. -1 when
 * it is not one (said on stderr). */
static int
probe_options(int argc, char **argv, bool *json, const char **dest)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	int opt;

	*json = false;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (opt != 'j')
			return -1;
		*json = true;
	}
	if (argc - optind != 1) {
		fprintf(stderr, "tlspolicy probe: name one destination\n");
		return -1;
	}
	*dest = argv[optind];
	return 0;
}

/* The output of `tlspolicy probe` as it is written: the text goes
 * straight into out; in JSON the results do, and the addresses refused
 * or past the limit go into lists of their own, joined at the end. */
struct probe_report {
	bool json;
	struct buf out, refused, over;
	struct jsonw jw, jrefused, jover;	/* writing each of them */
	size_t probed;
};

static void
report_begin(struct probe_report *pr, bool json, const char *dest, const struct probe_run *run)
{
	memset(pr, 0, sizeof(*pr));
	pr->json = json;
	buf_init(&pr->out);
	buf_init(&pr->refused);
	buf_init(&pr->over);
	jsonw_init(&pr->jw, &pr->out);
	jsonw_init(&pr->jrefused, &pr->refused);
	jsonw_init(&pr->jover, &pr->over);
	if (!json) {
		buf_printf(&pr->out, "destination %s: %s%s%s\n", dest, policy_rule_name(run->answer.rule),
		    run->reason[0] ? ": " : "", run->reason);
		return;
	}
	jsonw_object(&pr->jw, NULL);
	jsonw_string(&pr->jw, "destination", dest);
	jsonw_string(&pr->jw, "rule", policy_rule_name(run->answer.rule));
	jsonw_string(&pr->jw, "reason", run->reason);
	jsonw_array(&pr->jw, "results");
	jsonw_array(&pr->jrefused, NULL);
	jsonw_array(&pr->jover, NULL);
}

/* An address Postfix would not try: past probe_address_limit. */
static void
report_over(struct probe_report *pr, const struct probeplan_item *it, const char *addr, unsigned limit)
{
	if (pr->json) {
		jsonw_object(&pr->jover, NULL);
		jsonw_string(&pr->jover, "host", it->target.host);
		jsonw_string(&pr->jover, "address", addr);
		jsonw_object_end(&pr->jover);
	} else {
		buf_printf(&pr->out, "== %s[%s]:%u not probed: Postfix tries %u addresses at most "
		    "(probe_address_limit)\n", it->target.host, addr, it->target.port, limit);
	}
}

/* An address the plan refuses: special-purpose, or this host's own. */
static void
report_refused(struct probe_report *pr, const struct probeplan_item *it, const char *addr)
{
	if (pr->json) {
		jsonw_object(&pr->jrefused, NULL);
		jsonw_string(&pr->jrefused, "host", it->target.host);
		jsonw_string(&pr->jrefused, "address", addr);
		jsonw_string(&pr->jrefused, "range", it->refused);
		jsonw_object_end(&pr->jrefused);
	} else {
		char words[64];
		buf_printf(&pr->out, "== %s[%s]:%u refused: %s (probe_allow_private = no)\n", it->target.host, addr,
		    it->target.port, refused_words(it, words, sizeof(words)));
	}
}

static void
report_result(struct probe_report *pr, const struct probe *p, const struct probe_result *r)
{
	if (pr->json)
		probereport_json(probe_target(p), r, &pr->jw);
	else
		probereport_text(probe_target(p), r, &pr->out);
	pr->probed++;
}

/* DNS gave addresses, but none that may be probed. */
static void
report_nothing(struct probe_report *pr)
{
	if (!pr->json)
		buf_puts(&pr->out, "nothing to probe: no address that may be probed\n");
}

/* Ends the output, writes it to standard output and frees it. */
static void
report_end(struct probe_report *pr)
{
	if (pr->json) {
		jsonw_array_end(&pr->jw);
		jsonw_array_end(&pr->jrefused);
		jsonw_raw(&pr->jw, "refused", buf_ptr(&pr->refused), buf_size(&pr->refused));
		jsonw_array_end(&pr->jover);
		jsonw_raw(&pr->jw, "over_limit", buf_ptr(&pr->over), buf_size(&pr->over));
		jsonw_object_end(&pr->jw);
		buf_putc(&pr->out, '\n');
	}
	fputs(buf_ptr(&pr->out), stdout);
	buf_free(&pr->refused);
	buf_free(&pr->over);
	buf_free(&pr->out);
}

/* Probes every address of the plan that may be probed, one after the
 * other, each reported; the exit status. */
static int
probe_plan(const struct probe_run *run, struct probe_env *env, struct probe_report *pr)
{
	int status = run->answer.result == POLICY_TEMP ? PROBE_EXIT_UNKNOWN : PROBE_EXIT_AS_PROMISED;

	for (size_t i = 0; i < run->plan.n; i++) {
		const struct probeplan_item *it = &run->plan.items[i];
		char addr[64];
		netaddr_format(&it->target.address, addr, sizeof(addr));
		if (it->over_limit) {
			report_over(pr, it, addr, run->ps.address_limit);
			continue;
		}
		if (it->refused) {
			report_refused(pr, it, addr);
			continue;
		}
		struct probe *p = probe_new(env, &it->target);
		if (!p)
			continue;
		const struct probe_result *r = probe_run_blocking(p);
		report_result(pr, p, r);
		if (!as_promised(&it->target, r))
			status = PROBE_EXIT_BROKEN;
		probe_free(p);
	}
	if (pr->probed == 0 && status == PROBE_EXIT_AS_PROMISED) {
		report_nothing(pr);
		status = PROBE_EXIT_UNKNOWN;
	}
	return status;
}

int
cmd_probe(const struct config *cfg, int argc, char **argv)
{
	struct probe_report report;
	struct probe_run run;
	struct nexthop nh;
	const char *dest;
	bool json;
	char err[512];

	if (probe_options(argc, argv, &json, &dest) < 0 || fromhere_dest("probe", dest, &nh) < 0 ||
	    probe_run_init(&run, cfg, "probe") < 0)
		return PROBE_EXIT_TROUBLE;
	if (fromhere_resolve(cfg, "probe", &nh, planned, &run) < 0) {
		probe_run_free(&run);
		return PROBE_EXIT_TROUBLE;
	}
	struct probe_env *env = fromhere_probe_env(cfg, false, err, sizeof(err));
	if (!env) {
		fprintf(stderr, "tlspolicy probe: %s\n", err);
		probe_run_free(&run);
		return PROBE_EXIT_TROUBLE;
	}
	report_begin(&report, json, run.plan.dest[0] ? run.plan.dest : dest, &run);
	int status = probe_plan(&run, env, &report);
	report_end(&report);
	probe_env_free(env);
	probe_run_free(&run);
	return status;
}

/* A TLSA record for a certificate: usage 3 names the first certificate
 * (the server's own), usage 2 the last (the top of the chain given). */
static int
print_tlsa(const char *owner, unsigned usage, unsigned selector, unsigned mtype,
    const unsigned char *der, size_t len)
{
	struct buf data, line;
	struct tlsa_record r = {(uint8_t)usage, (uint8_t)selector, (uint8_t)mtype, NULL, 0};

	buf_init(&data);
	buf_init(&line);
	if (tlsa_data_for_cert(der, len, (uint8_t)selector, (uint8_t)mtype, &data) < 0) {
		fprintf(stderr, "tlspolicy tlsa: cannot read the certificate\n");
		buf_free(&data);
		return TLSA_EXIT_TROUBLE;
	}
	r.data = (const unsigned char *)buf_ptr(&data);
	r.len = buf_size(&data);
	tlsa_format(&r, &line);
	printf("%s%s%s\n", owner ? owner : "", owner ? " IN TLSA " : "", buf_ptr(&line));
	buf_free(&data);
	buf_free(&line);
	return TLSA_EXIT_PRINTED;
}

static int
tlsa_from_file(const char *path, unsigned usage, unsigned selector, unsigned mtype)
{
	FILE *f = fopen(path, "r");
	X509 *x, *chosen = NULL;

	if (!f) {
		fprintf(stderr, "tlspolicy tlsa: %s: %s\n", path, strerror(errno));
		return TLSA_EXIT_TROUBLE;
	}
	while ((x = PEM_read_X509(f, NULL, NULL, NULL))) {
		if (chosen && usage == TLSA_DANE_EE) {
			X509_free(x);
			continue;
		}
		X509_free(chosen);
		chosen = x;
	}
	ERR_clear_error();
	fclose(f);
	if (!chosen) {
		fprintf(stderr, "tlspolicy tlsa: %s: no PEM certificate in it\n", path);
		return TLSA_EXIT_TROUBLE;
	}
	unsigned char *der = NULL;
	int len = i2d_X509(chosen, &der);
	int rc = len > 0 ? print_tlsa(NULL, usage, selector, mtype, der, (size_t)len) : TLSA_EXIT_TROUBLE;
	OPENSSL_free(der);
	X509_free(chosen);
	return rc;
}

static int
tlsa_from_host(const struct config *cfg, const char *spec, unsigned usage, unsigned selector, unsigned mtype)
{
	struct probe_run run;
	struct nexthop nh;
	const char *why;
	char key[NEXTHOP_NAME_MAX + 16], err[512], owner[NEXTHOP_NAME_MAX + 32];

	/* "host", "host:port" and "[host]:port" all name one host. No copy
	 * of the argument: it may be of any length. */
	if (nexthop_parse_host(spec, strlen(spec), &nh, &why) < 0) {
		fprintf(stderr, "tlspolicy tlsa: --host '%s': %s (a host name, as host, host:port or [host]:port)\n",
		    spec, why);
		return TLSA_EXIT_TROUBLE;
	}
	nexthop_format(&nh, key, sizeof(key));
	if (probe_run_init(&run, cfg, "tlsa") < 0)
		return TLSA_EXIT_TROUBLE;
	if (fromhere_resolve(cfg, "tlsa", &nh, planned, &run) < 0) {
		probe_run_free(&run);
		return TLSA_EXIT_TROUBLE;
	}
	const struct probeplan_item *item = NULL;
	for (size_t i = 0; i < run.plan.n && !item; i++)
		if (!run.plan.items[i].refused && !run.plan.items[i].over_limit)
			item = &run.plan.items[i];
	if (!item) {
		fprintf(stderr, "tlspolicy tlsa: %s: no address that may be probed%s\n", key,
		    run.plan.n ? " (probe_allow_private = no)" : "");
		probe_run_free(&run);
		return TLSA_EXIT_TROUBLE;
	}
	struct probe_env *env = fromhere_probe_env(cfg, true, err, sizeof(err));
	struct probe *p = env ? probe_new(env, &item->target) : NULL;
	int rc = TLSA_EXIT_TROUBLE;
	if (!p) {
		fprintf(stderr, "tlspolicy tlsa: %s\n", env ? "out of memory" : err);
	} else {
		const struct probe_result *r = probe_run_blocking(p);
		if (r->ncerts == 0 || !r->certs[0].der) {
			fprintf(stderr, "tlspolicy tlsa: %s: no certificate (%s%s%s)\n", key, probe_class_name(r->class),
			    r->error[0] ? ": " : "", r->error);
		} else {
			const struct probe_cert *c = usage == TLSA_DANE_EE ? &r->certs[0] : &r->certs[r->ncerts - 1];
			snprintf(owner, sizeof(owner), "_%u._tcp.%s.", nh.port, nh.name);
			rc = print_tlsa(owner, usage, selector, mtype, c->der, c->der_len);
		}
	}
	probe_free(p);
	probe_env_free(env);
	probe_run_free(&run);
	return rc;
}

int
cmd_tlsa(const struct config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{"usage", required_argument, NULL, 'u'},
		{"selector", required_argument, NULL, 's'},
		{"mtype", required_argument, NULL, 'm'},
		{"host", required_argument, NULL, 'H'},
		{NULL, 0, NULL, 0},
	};
	unsigned usage = TLSA_DANE_EE, selector = TLSA_SEL_SPKI, mtype = TLSA_MATCH_SHA256;
	const char *host = NULL;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "u:s:m:H:", opts, NULL)) != -1) {
		switch (opt) {
		case 'u': usage = (unsigned)atoi(optarg); break;
		case 's': selector = (unsigned)atoi(optarg); break;
		case 'm': mtype = (unsigned)atoi(optarg); break;
		case 'H': host = optarg; break;
		default: return TLSA_EXIT_TROUBLE;
		}
	}
	if ((usage != TLSA_DANE_TA && usage != TLSA_DANE_EE) || selector > 1 || mtype > 2) {
		fprintf(stderr, "tlspolicy tlsa: usage 2 or 3, selector 0 or 1, mtype 0, 1 or 2: "
		    "the records SMTP can use (RFC 7672)\n");
		return TLSA_EXIT_TROUBLE;
	}
	if (host && optind == argc)
		return tlsa_from_host(cfg, host, usage, selector, mtype);
	if (!host && argc - optind == 1)
		return tlsa_from_file(argv[optind], usage, selector, mtype);
	fprintf(stderr, "tlspolicy tlsa: name a certificate file, or --host HOST[:PORT]\n");
	return TLSA_EXIT_TROUBLE;
}
