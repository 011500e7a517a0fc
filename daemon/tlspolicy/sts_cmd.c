/*
 * sts_cmd - `tlspolicy sts`: one domain's MTA-STS checked from here; see
 * sts_cmd.h. The check and its report are lib/sts/stscheck's; this reads
 * the arguments and picks the exit status. explain's MTA-STS part reads
 * the daemon's policies the way the daemon restores them (cachesave.c).
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
#include "util/jsonw.h"
#include "util/statefile.h"
#include "postfix/nexthop.h"
#include "sts/stscache.h"
#include "sts/stscheck.h"
#include "report/stsreport.h"
#include "report/explain.h"
#include "fromhere.h"
#include "sts_cmd.h"

/* Exit codes, documented in tlspolicy(1), as the other commands' are. */
enum {
	STS_EXIT_VALID = 0,	/* a valid policy that senders find */
	STS_EXIT_NO_POLICY = 1,	/* none published, or none usable */
	STS_EXIT_TROUBLE = 2,	/* usage, configuration, resolver */
};

int
cmd_sts(const struct config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	struct nexthop nh;
	bool json = false;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (opt != 'j')
			return STS_EXIT_TROUBLE;
		json = true;
	}
	if (argc - optind != 1) {
		fprintf(stderr, "tlspolicy sts: name one domain\n");
		return STS_EXIT_TROUBLE;
	}
	/* The domain as Postfix would name the next hop: case folded,
	 * trailing dot dropped, U-labels converted. */
	if (fromhere_dest("sts", argv[optind], &nh) < 0)
		return STS_EXIT_TROUBLE;
	if (nh.kind != NEXTHOP_DOMAIN || nh.port != NEXTHOP_DEFAULT_PORT) {
		fprintf(stderr, "tlspolicy sts: '%s' is not a domain: MTA-STS is a recipient domain's (example.org)\n",
		    argv[optind]);
		return STS_EXIT_TROUBLE;
	}
	struct stscheck_result *r = fromhere_sts_check(cfg, "sts", nh.name);
	if (!r)
		return STS_EXIT_TROUBLE;
	struct buf out;
	buf_init(&out);
	if (json) {
		struct jsonw j;
		jsonw_init(&j, &out);
		stsreport_json(r, &j, NULL);
		if (jsonw_done(&j) == 0)
			buf_putc(&out, '\n');
	} else {
		stsreport_text(r, &out);
	}
	int status = r->verdict == STSCHECK_VALID ? STS_EXIT_VALID : STS_EXIT_NO_POLICY;
	if (buf_terminate(&out) != 0) {
		fprintf(stderr, "tlspolicy sts: out of memory\n");
		status = STS_EXIT_TROUBLE;
	} else {
		fputs(buf_ptr(&out), stdout);
	}
	buf_free(&out);
	stscheck_result_free(r);
	return status;
}

/* The daemon's policies from its state file, into a cache of our own;
 * NULL with *why when there is none to read. */
static struct stscache *
daemon_policies(const char *path, int64_t now, const char **why)
{
	struct buf content;
	struct stscache *c = NULL;

	buf_init(&content);
	switch (statefile_read(path, &content, why)) {
	case STATEFILE_OK:
		if (!(c = stscache_create(0)))
			*why = "out of memory";
		else
			/* Lines the daemon would skip are skipped here too. */
			stscache_restore(c, buf_ptr(&content), buf_size(&content), now, NULL);
		break;
	case STATEFILE_MISSING:
		*why = NULL;
		break;
	case STATEFILE_ERROR:
		*why = strerror(errno);
		break;
	default:
		break;
	}
	buf_free(&content);
	return c;
}

void
sts_cmd_explain(const struct config *cfg, const struct nexthop *nh, struct policy_answer answer, bool json,
    struct jsonw *j, struct buf *out)
{
	struct explain_sts s = {
		.domain = nh->name,
		.nexthop = stsprec_nexthop_of(nh),
		.answer = answer,
		.now = (int64_t)time(NULL),
	};
	struct stscache *cache = NULL;
	struct stscheck_result *check = NULL;
	struct buf path;

	buf_init(&path);
	if (s.nexthop == STSPREC_NEXTHOP_DOMAIN || s.nexthop == STSPREC_NEXTHOP_DOMAIN_PORT) {
		if (cfg->state_directory[0] && buf_printf(&path, "%s/sts-policies", cfg->state_directory) == 0) {
			s.state_file = buf_ptr(&path);
			cache = daemon_policies(s.state_file, s.now, &s.state_error);
		}
		s.cached = cache ? stscache_lookup(cache, nh->name, false, s.now) : NULL;
		if (!s.cached || !stscache_in_force(s.cached, s.now))
			s.check = check = fromhere_sts_check(cfg, "explain", nh->name);
	}
	if (json)
		explain_sts_json(&s, j);
	else
		explain_sts_text(&s, out);
	stscheck_result_free(check);
	stscache_free(cache);
	buf_free(&path);
}
