/*
 * tlspolicy - the administrator's command line (see tlspolicy(1)):
 *   query    ask the running daemon, as Postfix does
 *   explain  resolve a destination here and show every step of the decision
 *   config   check a configuration file and print the settings in force
 * and the daemon's control commands; probe and tlsa are in probe_cmd.c,
 * survey in survey_cmd.c, sts (and explain's MTA-STS part) in sts_cmd.c,
 * selfcheck in selfcheck_cmd.c.
 */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sysexits.h>
#include <unistd.h>

#include "util/buf.h"
#include "config/config.h"
#include "util/endpoint.h"
#include "rules/exceptions.h"
#include "report/explain.h"
#include "util/jsonw.h"
#include "postfix/mapclient.h"
#include "postfix/nexthop.h"
#include "probe/probestate.h"
#include "dns/resolve.h"
#include "postfix/socketmap.h"
#include "serve/controlproto.h"
#include "serve/status.h"
#include "sts/stsfetch.h"
#include "fromhere.h"
#include "probe_cmd.h"
#include "survey_cmd.h"
#include "selfcheck_cmd.h"
#include "sts_cmd.h"

/* Exit codes, documented in tlspolicy(1). */
enum {
	EXIT_ANSWERED = 0,	/* every answer OK or NOTFOUND */
	EXIT_NOT_ANSWERED = 1,	/* some answer TEMP, TIMEOUT or PERM */
	EXIT_TROUBLE = 2,	/* usage, configuration or connection error */
};

/* Postfix's own limit: it gives up on a socketmap server after 100 s. */
#define QUERY_TIMEOUT_S 100

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: tlspolicy [-c FILE] COMMAND [ARGS]\n"
	    "  query [--server inet:ADDR:PORT|unix:PATH] [--map NAME] DEST...\n"
	    "                     ask the running tlspolicyd, as Postfix does\n"
	    "  explain [--json] DEST\n"
	    "                     resolve DEST here and show every step of the decision\n"
	    "  sts [--json] DOMAIN\n"
	    "                     check DOMAIN's MTA-STS from here: TXT record, policy, problems\n"
	    "  probe [--json] DEST\n"
	    "                     connect to every MX host address of DEST: STARTTLS, chain, DANE\n"
	    "  tlsa [--usage 3 --selector 1 --mtype 1] CERT.pem | --host HOST[:PORT]\n"
	    "                     the TLSA record for a certificate, or for a live server's\n"
	    "  survey [-j N] [--out FILE.jsonl] LIST|-\n"
	    "                     resolve and probe every domain of a list; one JSON line each\n"
	    "  selfcheck [--days N] [--rrsig-days N] [--json] DOMAIN...\n"
	    "                     check domains of your own as senders see them: DNSSEC, TLSA, certificates\n"
	    "  lint FILE          check an exception list as the daemon would\n"
	    "  exceptions --proposed\n"
	    "                     the exceptions the running daemon proposes\n"
	    "  purge DEST | refresh DEST | stats\n"
	    "                     ask the running daemon (control_socket): forget an answer;\n"
	    "                     resolve and probe again now; its counters\n"
	    "  maillog [DEST]     what Postfix's log said about TLS to DEST, or in all\n"
	    "  config [--defaults|--names]\n"
	    "                     check the configuration; print every setting in force\n"
	    "DEST is a Postfix next hop: example.org, example.org:2525, [mx.example.org]:587.\n"
	    "-c FILE defaults to " CONFIG_DEFAULT_PATH " (built-in defaults if it does not exist).\n");
}

static struct config *
load_config(const char *path, bool explicit_path)
{
	struct buf errors;

	if (!explicit_path && access(path, F_OK) < 0 && errno == ENOENT)
		return config_defaults();
	buf_init(&errors);
	struct config *cfg = config_load(path, &errors);
	if (!cfg)
		fprintf(stderr, "tlspolicy: configuration rejected:\n%s", buf_ptr(&errors));
	buf_free(&errors);
	return cfg;
}

static int
cmd_query(const struct config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{"server", required_argument, NULL, 's'},
		{"map", required_argument, NULL, 'm'},
		{NULL, 0, NULL, 0},
	};
	const char *server = NULL;
	const char *map = cfg->map_names[0];
	char err[512];
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "s:m:", opts, NULL)) != -1) {
		switch (opt) {
		case 's': server = optarg; break;
		case 'm': map = optarg; break;
		default: return EXIT_TROUBLE;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "tlspolicy query: name at least one destination\n");
		return EXIT_TROUBLE;
	}
	/* The status map is answered on the status listeners only. */
	if (!server)
		server = strcmp(map, STATUS_MAP_NAME) == 0 && cfg->status_listen[0] ? cfg->status_listen[0]
		    : cfg->listen[0];
	struct endpoint ep;
	struct mapclient *mc;
	if (endpoint_parse(server, &ep, err, sizeof(err)) < 0) {
		fprintf(stderr, "tlspolicy query: %s\n", err);
		return EXIT_TROUBLE;
	}
	if (!(mc = mapclient_create(&ep))) {
		fprintf(stderr, "tlspolicy query: out of memory\n");
		return EXIT_TROUBLE;
	}
	struct buf text;
	int status = EXIT_ANSWERED;
	buf_init(&text);
	for (int i = optind; i < argc; i++) {
		enum socketmap_status st;
		if (mapclient_query(mc, map, argv[i], QUERY_TIMEOUT_S * 1000, &st, &text, err, sizeof(err)) !=
		    MAPCLIENT_OK) {
			fprintf(stderr, "tlspolicy query: %s (is tlspolicyd running?)\n", err);
			status = EXIT_TROUBLE;
			break;
		}
		printf("%s\t%s%s%s\n", argv[i], socketmap_status_name(st), buf_size(&text) ? " " : "", buf_ptr(&text));
		if (st != SOCKETMAP_OK && st != SOCKETMAP_NOTFOUND && status == EXIT_ANSWERED)
			status = EXIT_NOT_ANSWERED;
	}
	buf_free(&text);
	mapclient_free(mc);
	return status;
}

struct explain_run {
	const struct config *cfg;
	bool json;
	struct buf out;
	struct jsonw jw;		/* writes out, with json */
	int status;
	char dest[NEXTHOP_NAME_MAX + 16];
	struct nexthop nexthop;		/* resolved */
	struct policy_answer answer;	/* the resolution's, or the exception's */
	size_t nprobes;
	struct exceptions *exceptions;
};

struct explain_mx_lookup {
	const struct exceptions *list;
	int64_t now;
};

static const struct exception_entry *
explain_mx_lookup(void *arg, const char *host)
{
	const struct explain_mx_lookup *l = arg;

	return exceptions_match_mx(l->list, host, l->now);
}

/* The exception that overrides the DNS answer, as the daemon would find it:
 * the destination's entry, else its MX hosts' (exceptions_mx_cover); the
 * policy Postfix gets in *policy. */
static const struct exception_entry *
explain_exception(const struct explain_run *run, const struct resolve_result *res,
    struct exceptions_mx_cover *cover, const char **policy)
{
	struct explain_mx_lookup l = {.list = run->exceptions, .now = (int64_t)time(NULL)};
	const struct exception_entry *e = NULL;
	const char *names[POLICY_MAX_HOSTS];
	size_t n = 0;

	memset(cover, 0, sizeof(*cover));
	if (!run->exceptions)
		return NULL;
	if (res->nexthop.kind == NEXTHOP_DOMAIN)
		e = exceptions_match_domain(run->exceptions, res->nexthop.name, l.now);
	else if (res->nexthop.kind == NEXTHOP_HOST)
		e = exceptions_match_mx(run->exceptions, res->nexthop.name, l.now);
	if (e) {
		*policy = e->policy;
		return e;
	}
	for (unsigned i = 0; i < res->nhosts && n < POLICY_MAX_HOSTS; i++)
		if (res->hosts[i].verdict != POLICY_HOST_NOADDR)
			names[n++] = res->hosts[i].name;
	exceptions_mx_cover(names, n, explain_mx_lookup, &l, cover);
	if (!cover->entry || (!cover->all && res->answer.result != POLICY_OK))
		return NULL;
	*policy = cover->all ? cover->entry->policy : EXCEPTIONS_PARTIAL_POLICY;
	return cover->entry;
}

static void
explained(void *arg, const struct resolve_result *res)
{
	struct explain_run *run = arg;
	struct exceptions_mx_cover cover;
	const char *policy = NULL;
	const struct exception_entry *e = explain_exception(run, res, &cover, &policy);

	if (run->json) {
		/* Left open: explain_probes() adds the probes and closes it. */
		jsonw_object(&run->jw, NULL);
		explain_json(res, &run->cfg->levels, &run->jw);
		if (e) {
			struct buf line;
			buf_init(&line);
			exceptions_format(e, &line);
			buf_terminate(&line);
			jsonw_object(&run->jw, "exception");
			jsonw_uint(&run->jw, "line", e->line);
			jsonw_string(&run->jw, "entry", buf_ptr(&line));
			jsonw_string(&run->jw, "policy", policy);
			jsonw_bool(&run->jw, "names_every_host",
			    e->kind != EXCEPTION_MX_HOST || res->nexthop.kind == NEXTHOP_HOST || cover.all);
			jsonw_object_end(&run->jw);
			buf_free(&line);
		} else {
			jsonw_null(&run->jw, "exception");
		}
	} else {
		explain_text(res, &run->cfg->levels, &run->out);
		if (e)
			buf_printf(&run->out, "exception: %s line %u names %s%s%s: Postfix gets OK %s, not the answer above\n",
			    run->cfg->exceptions_file, e->line, e->kind == EXCEPTION_MX_HOST ? "MX host " : "",
			    e->kind == EXCEPTION_SUBDOMAINS ? "." : "", e->name, policy);
		if (e && cover.entry && !cover.all)
			buf_printf(&run->out, "    the list names %u of %u MX hosts, so " EXCEPTIONS_PARTIAL_POLICY
			    " instead of %s: Postfix checks the others' TLSA records and skips only the broken host\n",
			    cover.named, cover.hosts, e->policy);
	}
	nexthop_format(&res->nexthop, run->dest, sizeof(run->dest));
	run->nexthop = res->nexthop;
	run->answer = e ? (struct policy_answer){.result = POLICY_OK, .rule = POLICY_RULE_EXCEPTION} : res->answer;
	run->status = res->answer.result == POLICY_TEMP && !e ? EXIT_NOT_ANSWERED : EXIT_ANSWERED;
}

static void
explain_probe_addr(void *arg, const struct probestate_addr *a)
{
	struct explain_run *run = arg;

	if (run->json) {
		explain_probes_json(a, &run->jw);
	} else {
		explain_probes_text(a, &run->out);
	}
	run->nprobes++;
}

/* What the daemon's probes found, from its history file. */
static void
explain_probes(struct explain_run *run)
{
	const char *dir = run->cfg->state_directory;
	struct buf path;

	buf_init(&path);
	buf_printf(&path, "%s/probes", dir);
	struct probestate *ps = probestate_create(1000000);
	char err[600];
	int n = dir[0] && ps ? probestate_load(ps, buf_ptr(&path), (int64_t)time(NULL), err, sizeof(err)) : 0;
	if (run->json) {
		jsonw_array(&run->jw, "probes");
	} else if (n < 0) {
		buf_printf(&run->out, "probes: %s\n", err);
	} else {
		buf_printf(&run->out, "probes (the daemon's, from %s):\n", dir[0] ? buf_ptr(&path) : "nowhere");
	}
	if (n > 0)
		probestate_each_addr(ps, run->dest, explain_probe_addr, run);
	if (run->json) {
		jsonw_array_end(&run->jw);
		jsonw_object_end(&run->jw);
		buf_putc(&run->out, '\n');
	} else if (n >= 0 && run->nprobes == 0) {
		buf_puts(&run->out, "    none yet\n");
	}
	probestate_free(ps);
	buf_free(&path);
}

static int
cmd_explain(const struct config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	struct explain_run run = {.cfg = cfg, .status = EXIT_TROUBLE};
	struct nexthop nh;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (opt != 'j')
			return EXIT_TROUBLE;
		run.json = true;
	}
	if (argc - optind != 1) {
		fprintf(stderr, "tlspolicy explain: name one destination\n");
		return EXIT_TROUBLE;
	}
	if (fromhere_dest("explain", argv[optind], &nh) < 0)
		return EXIT_TROUBLE;
	buf_init(&run.out);
	jsonw_init(&run.jw, &run.out);
	/* The daemon's list, if it reads; a broken one is lint's business. */
	struct buf errors;
	buf_init(&errors);
	if (cfg->exceptions_file[0] && access(cfg->exceptions_file, F_OK) == 0 &&
	    !(run.exceptions = exceptions_load(cfg->exceptions_file, &errors)))
		fprintf(stderr, "tlspolicy explain: %s has errors, ignored here (see tlspolicy lint)\n",
		    cfg->exceptions_file);
	buf_free(&errors);
	if (fromhere_resolve(cfg, "explain", &nh, explained, &run) == 0) {
		sts_cmd_explain(cfg, &run.nexthop, run.answer, run.json, &run.jw, &run.out);
		explain_probes(&run);
		fputs(buf_ptr(&run.out), stdout);
	}
	exceptions_unref(run.exceptions);
	buf_free(&run.out);
	return run.status;
}

/* purge, refresh, stats, proposed, maillog: one request to the daemon's
 * control socket (controlproto.h). */
static int
cmd_control(const struct config *cfg, const char *cmd, int argc, char **argv)
{
	const char *why;
	char err[512];
	struct buf reply;

	if (controlproto_check(cmd, (size_t)argc - 1, &why) != CONTROLPROTO_ARGS_OK) {
		fprintf(stderr, "tlspolicy %s: %s\n", cmd, why);
		return EXIT_TROUBLE;
	}
	if (!cfg->control_socket[0]) {
		fprintf(stderr, "tlspolicy %s: control_socket is empty in the configuration\n", cmd);
		return EXIT_TROUBLE;
	}
	buf_init(&reply);
	if (controlproto_ask(cfg->control_socket, cmd, argc > 1 ? argv[1] : NULL,
	    controlproto_timeout_ms(cfg->dns_timeout_ms), &reply, err, sizeof(err)) < 0) {
		fprintf(stderr, "tlspolicy %s: %s (is tlspolicyd running, and are you root or in its group?)\n", cmd, err);
		buf_free(&reply);
		return EXIT_TROUBLE;
	}
	const char *text = buf_ptr(&reply);
	size_t len = buf_size(&reply);
	int status = controlproto_reply_ok(text, len) ? EXIT_ANSWERED : EXIT_NOT_ANSWERED;
	if (status == EXIT_ANSWERED && strcmp(cmd, "proposed") == 0 && len >= 3)
		/* Lines to append to the exception list as they are. */
		printf("%.*s", (int)(len - 3), text + 3);
	else
		printf("%.*s\n", (int)len, text);
	buf_free(&reply);
	return status;
}

/* lint FILE: the checks the daemon makes before it uses a list. */
static int
cmd_lint(int argc, char **argv)
{
	struct buf errors;

	if (argc != 2) {
		fprintf(stderr, "tlspolicy lint: name one exception list\n");
		return EXIT_TROUBLE;
	}
	buf_init(&errors);
	struct exceptions *x = exceptions_load(argv[1], &errors);
	if (!x) {
		fputs(buf_ptr(&errors), stderr);
		buf_free(&errors);
		return EXIT_NOT_ANSWERED;
	}
	printf("%s: %zu entries, no errors\n", argv[1], exceptions_count(x));
	exceptions_unref(x);
	buf_free(&errors);
	return EXIT_ANSWERED;
}

static int
cmd_config(const struct config *cfg, int argc, char **argv)
{
	struct buf out;
	int rc;

	buf_init(&out);
	if (argc > 1 && strcmp(argv[1], "--names") == 0)
		rc = config_names(&out);
	else if (argc > 1 && strcmp(argv[1], "--defaults") == 0)
		rc = config_dump(NULL, &out);
	else if (argc > 1) {
		fprintf(stderr, "tlspolicy config: unknown option %s\n", argv[1]);
		rc = -1;
	} else
		rc = config_dump(cfg, &out);
	if (rc == 0)
		fputs(buf_ptr(&out), stdout);
	buf_free(&out);
	return rc == 0 ? EXIT_ANSWERED : EXIT_TROUBLE;
}

int
main(int argc, char **argv)
{
	const char *path = CONFIG_DEFAULT_PATH;
	bool explicit_path = false;
	int opt;

	/* Options before the command only; the command parses its own. */
	while ((opt = getopt(argc, argv, "+c:hV")) != -1) {
		switch (opt) {
		case 'c': path = optarg; explicit_path = true; break;
		case 'h': usage(stdout); return EXIT_ANSWERED;
		case 'V': printf("tlspolicy %s\n", PACKAGE_VERSION); return EXIT_ANSWERED;
		default: usage(stderr); return EXIT_TROUBLE;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return EXIT_TROUBLE;
	}
	const char *cmd = argv[optind];
	argc -= optind;
	argv += optind;
	if (strcmp(cmd, "lint") == 0)
		return cmd_lint(argc, argv);
	/* These describe the program, not a configuration: a broken file
	 * must not stand in their way. */
	if (strcmp(cmd, "config") == 0 && argc > 1 &&
	    (strcmp(argv[1], "--defaults") == 0 || strcmp(argv[1], "--names") == 0))
		return cmd_config(NULL, argc, argv);
	struct config *cfg = load_config(path, explicit_path);
	if (!cfg)
		return EXIT_TROUBLE;
	char err[256];
	/* Before anything could start a thread; only these fetch. */
	bool fetches = strcmp(cmd, "sts") == 0 || strcmp(cmd, "explain") == 0 || strcmp(cmd, "selfcheck") == 0;
	if (fetches && stsfetch_global_init(err, sizeof(err)) < 0) {
		fprintf(stderr, "tlspolicy %s: %s\n", cmd, err);
		config_unref(cfg);
		return EXIT_TROUBLE;
	}
	int rc;
	if (strcmp(cmd, "query") == 0)
		rc = cmd_query(cfg, argc, argv);
	else if (strcmp(cmd, "explain") == 0)
		rc = cmd_explain(cfg, argc, argv);
	else if (strcmp(cmd, "sts") == 0)
		rc = cmd_sts(cfg, argc, argv);
	else if (strcmp(cmd, "probe") == 0)
		rc = cmd_probe(cfg, argc, argv);
	else if (strcmp(cmd, "tlsa") == 0)
		rc = cmd_tlsa(cfg, argc, argv);
	else if (strcmp(cmd, "survey") == 0)
		rc = cmd_survey(cfg, argc, argv);
	else if (strcmp(cmd, "selfcheck") == 0)
		rc = cmd_selfcheck(cfg, argc, argv);
	else if (strcmp(cmd, "purge") == 0 || strcmp(cmd, "refresh") == 0 || strcmp(cmd, "stats") == 0 ||
	    strcmp(cmd, "maillog") == 0)
		rc = cmd_control(cfg, cmd, argc, argv);
	else if (strcmp(cmd, "exceptions") == 0 && argc == 2 && strcmp(argv[1], "--proposed") == 0)
		rc = cmd_control(cfg, "proposed", 1, argv);
	else if (strcmp(cmd, "config") == 0)
		rc = cmd_config(cfg, argc, argv);
	else {
		fprintf(stderr, "tlspolicy: unknown command '%s'\n", cmd);
		usage(stderr);
		rc = EXIT_TROUBLE;
	}
	if (fetches)
		stsfetch_global_cleanup();
	config_unref(cfg);
	return rc;
}
