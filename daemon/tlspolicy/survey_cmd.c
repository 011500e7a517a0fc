/*
 * survey_cmd - `tlspolicy survey`: the wiring around lib/survey/survey.c. Reads
 * the list as the survey has room, appends each record to --out (or
 * standard output) as one whole line, skips domains that --out already
 * holds, shows progress on a terminal, and stops cleanly on Ctrl-C with
 * every finished record written.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "util/buf.h"
#include "dns/dns_unbound.h"
#include "util/ownaddr.h"
#include "probe/probe.h"
#include "util/text.h"
#include "util/strmap.h"
#include "survey/survey.h"
#include "survey/surveyhtml.h"
#include "survey/surveyjson.h"
#include "survey/surveysum.h"
#include "survey/surveytext.h"
#include "fromhere.h"
#include "survey_cmd.h"

enum { SURVEY_EXIT_DONE = 0, SURVEY_EXIT_TROUBLE = 2, SURVEY_EXIT_INTERRUPTED = 130 };

/* Where a domain in the seen map came from. */
static char from_file, from_list;

/* The command line. */
struct options {
	unsigned jobs, rate, interval_ms;
	bool probe, json;
	const char *summarize;		/* --summarize FILE, or NULL */
	const char *report;		/* --report FILE.html, or NULL */
	const char *out;		/* --out FILE.jsonl, or NULL: standard output */
	const char *list;		/* the list of domains, "-": standard input */
};

struct run {
	const struct config *cfg;
	struct event_base *base;
	struct dns *dns;
	struct probe_env *env;		/* NULL with --no-probe */
	struct netaddr *own;		/* this host's addresses, refused as the daemon refuses them */
	struct survey *sv;
	FILE *list;
	const char *list_name;
	unsigned long list_line;
	bool list_done;
	int out_fd;
	const char *out_name;
	struct strmap *seen;		/* domains done, or started in this run */
	struct surveysum *sum;		/* every record, old and new */
	unsigned long total;		/* domains in the list, 0 when unknown */
	unsigned long skipped;		/* already in --out */
	unsigned long repeats;		/* listed more than once */
	unsigned long bad;		/* lines that are not domains */
	unsigned long written;
	bool interrupted, write_failed;
	bool progress;
	struct timespec started;
	struct event *tick, *sigint, *sigterm;
	struct buf line;
	char *buffer;
	size_t buffer_cap;
};

static double
seconds_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void
maybe_done(struct run *r)
{
	if (r->list_done && survey_pending(r->sv) == 0)
		event_base_loopbreak(r->base);
}

/* Starts domains from the list while the survey has room. */
static void
feed(void *arg)
{
	struct run *r = arg;
	char domain[NEXTHOP_NAME_MAX + 2], err[200];

	while (!r->list_done && !r->interrupted && survey_has_room(r->sv)) {
		ssize_t n = getline(&r->buffer, &r->buffer_cap, r->list);
		if (n < 0) {
			r->list_done = true;
			break;
		}
		r->list_line++;
		int rc = survey_list_domain(r->buffer, (size_t)n, domain, sizeof(domain));
		if (rc == 0)
			continue;
		if (rc < 0) {
			fprintf(stderr, "%s:%lu: not a domain name (too long)\n", r->list_name, r->list_line);
			r->bad++;
			continue;
		}
		const char *seen = strmap_get(r->seen, domain);
		if (seen) {
			if (seen == &from_file)
				r->skipped++;
			else
				r->repeats++;
			continue;
		}
		if (survey_add(r->sv, domain, err, sizeof(err)) < 0) {
			char shown[NEXTHOP_NAME_MAX + 2];
			/* A list is anybody's text: no escape sequences to the terminal. */
			text_printable(shown, sizeof(shown), domain, strlen(domain));
			fprintf(stderr, "%s:%lu: '%s': %s\n", r->list_name, r->list_line, shown, err);
			r->bad++;
			continue;
		}
		strmap_put(r->seen, domain, &from_list);
	}
	maybe_done(r);
}

static void
on_record(void *arg, const char *domain, const char *line, size_t len)
{
	struct run *r = arg;

	buf_reset(&r->line);
	buf_append(&r->line, line, len);
	buf_putc(&r->line, '\n');
	/* One write per record: a record is in the file whole or not at all
	 * (short of a crash inside the write, which a rerun repairs). */
	const char *p = buf_ptr(&r->line);
	size_t left = buf_size(&r->line);
	while (left) {
		ssize_t n = write(r->out_fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!r->write_failed)
				fprintf(stderr, "tlspolicy survey: writing %s: %s\n", r->out_name, strerror(errno));
			r->write_failed = true;
			event_base_loopbreak(r->base);
			return;
		}
		p += n;
		left -= (size_t)n;
	}
	r->written++;
	const char *why;
	surveysum_add_line(r->sum, line, len, &why);	/* our own records are valid */
	maybe_done(r);
}

static void
show_progress(struct run *r, bool last)
{
	struct survey_stats st;
	double secs = seconds_since(&r->started);

	survey_stats(r->sv, &st);
	double rate = secs > 0 ? (double)r->written / secs : 0;
	unsigned long done = r->written + r->skipped;
	fprintf(stderr, "\r%lu", done);
	if (r->total)
		fprintf(stderr, "/%lu", r->total);
	fprintf(stderr, " domains  %.0f/s", rate);
	if (r->total && rate > 0 && done < r->total) {
		unsigned long eta = (unsigned long)((double)(r->total - done) / rate);
		fprintf(stderr, "  ETA %lu:%02lu:%02lu", eta / 3600, eta / 60 % 60, eta % 60);
	}
	fprintf(stderr, "  probes %llu:", (unsigned long long)st.probes);
	for (int c = 0; c < PROBE_CLASS_COUNT; c++)
		if (st.by_class[c])
			fprintf(stderr, " %s %llu", probe_class_name((enum probe_class)c),
			    (unsigned long long)st.by_class[c]);
	fprintf(stderr, "\033[K%s", last ? "\n" : "");
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	show_progress(arg, false);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct run *r = arg;

	r->interrupted = true;
	event_base_loopbreak(r->base);
}

/* The domains --out holds already; a last line cut short by a crash is
 * cut off, so that appending goes on from a whole line. */
static int
load_done(struct run *r, char *err, size_t errlen)
{
	FILE *f = fopen(r->out_name, "r");
	char domain[NEXTHOP_NAME_MAX + 2];
	off_t whole = 0;
	ssize_t n;

	if (!f)
		return errno == ENOENT ? 0 : (snprintf(err, errlen, "%s: %s", r->out_name, strerror(errno)), -1);
	while ((n = getline(&r->buffer, &r->buffer_cap, f)) > 0) {
		if (r->buffer[n - 1] != '\n')
			break;
		whole += n;
		if (survey_record_domain(r->buffer, (size_t)n - 1, domain, sizeof(domain)) == 0)
			strmap_put(r->seen, domain, &from_file);
		const char *why;
		surveysum_add_line(r->sum, r->buffer, (size_t)n - 1, &why);
	}
	fclose(f);
	struct stat st;
	if (stat(r->out_name, &st) == 0 && st.st_size > whole && truncate(r->out_name, whole) < 0) {
		snprintf(err, errlen, "%s: cannot cut off its torn last line: %s", r->out_name, strerror(errno));
		return -1;
	}
	return 0;
}

static unsigned long
count_list(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, domain[NEXTHOP_NAME_MAX + 2];
	size_t cap = 0;
	ssize_t n;
	unsigned long count = 0;

	if (!f)
		return 0;
	while ((n = getline(&line, &cap, f)) > 0)
		count += survey_list_domain(line, (size_t)n, domain, sizeof(domain)) != 0;
	free(line);
	fclose(f);
	return count;
}

/* The summary table (or JSON), and the HTML report when asked for. */
static int
write_summary(struct surveysum *sum, FILE *out, bool json, const char *report)
{
	const struct surveysum_result *res = surveysum_finish(sum);
	struct buf b;
	int rc = 0;

	buf_init(&b);
	if (!res || (json ? surveyjson_write(res, &b) : surveytext_write(res, &b)) < 0) {
		fprintf(stderr, "tlspolicy survey: out of memory\n");
		rc = -1;
	} else {
		fwrite(buf_ptr(&b), 1, buf_size(&b), out);
		fflush(out);
	}
	if (rc == 0 && report) {
		buf_reset(&b);
		FILE *f = NULL;
		if (surveyhtml_write(res, &b, NULL) < 0 || !(f = fopen(report, "w")) ||
		    fwrite(buf_ptr(&b), 1, buf_size(&b), f) != buf_size(&b) || fclose(f) != 0) {
			fprintf(stderr, "tlspolicy survey: %s: %s\n", report, f ? strerror(errno) : "cannot write it");
			rc = -1;
		}
	}
	buf_free(&b);
	return rc;
}

/* --summarize FILE: the summary of an existing file, its bad lines named. */
static int
summarize(const char *path, bool json, const char *report)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	struct surveysum *sum = surveysum_create();
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned long lineno = 0, bad = 0;
	int status = SURVEY_EXIT_TROUBLE;

	if (!f || !sum) {
		fprintf(stderr, "tlspolicy survey: %s: %s\n", path, f ? "out of memory" : strerror(errno));
		goto done;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		const char *why;
		lineno++;
		size_t len = (size_t)n - (line[n - 1] == '\n');
		if (surveysum_add_line(sum, line, len, &why) != SURVEYSUM_OK && bad++ < 20)
			fprintf(stderr, "%s:%lu: %s\n", path, lineno, why);
	}
	if (bad > 20)
		fprintf(stderr, "%s: %lu lines not records in all\n", path, bad);
	if (write_summary(sum, stdout, json, report) == 0)
		status = SURVEY_EXIT_DONE;
done:
	free(line);
	surveysum_free(sum);
	if (f && f != stdin)
		fclose(f);
	return status;
}

static void
survey_usage(FILE *out)
{
	fprintf(out, "usage: tlspolicy [-c FILE] survey [-j N] [--rate N] [--address-interval MS] [--no-probe]\n"
	    "                 [--out FILE.jsonl] [--report FILE.html] [--json] LIST|-\n"
	    "       tlspolicy survey --summarize FILE.jsonl [--report FILE.html] [--json]\n");
}

/* -1, said on stderr, when the command line is not one. */
static int
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{"jobs", required_argument, NULL, 'j'},
		{"out", required_argument, NULL, 'o'},
		{"rate", required_argument, NULL, 'r'},
		{"address-interval", required_argument, NULL, 'i'},
		{"no-probe", no_argument, NULL, 'n'},
		{"summarize", required_argument, NULL, 's'},
		{"report", required_argument, NULL, 'R'},
		{"json", no_argument, NULL, 'J'},
		{NULL, 0, NULL, 0},
	};
	int opt;

	*o = (struct options){.jobs = 64, .rate = 200, .interval_ms = 1000, .probe = true};
	optind = 1;
	while ((opt = getopt_long(argc, argv, "j:o:", opts, NULL)) != -1) {
		char *end;
		unsigned long v = 0;
		if (opt == 'j' || opt == 'r' || opt == 'i') {
			v = strtoul(optarg, &end, 10);
			if (*end || !*optarg || v > 100000 || (v == 0 && opt != 'i')) {
				fprintf(stderr, "tlspolicy survey: '%s' is not a number from %d to 100000\n", optarg,
				    opt == 'i' ? 0 : 1);
				return -1;
			}
		}
		switch (opt) {
		case 'j': o->jobs = (unsigned)v; break;
		case 'r': o->rate = (unsigned)v; break;
		case 'i': o->interval_ms = (unsigned)v; break;
		case 'n': o->probe = false; break;
		case 'o': o->out = optarg; break;
		case 's': o->summarize = optarg; break;
		case 'R': o->report = optarg; break;
		case 'J': o->json = true; break;
		default: survey_usage(stderr); return -1;
		}
	}
	/* --summarize takes no list; a survey takes exactly one. */
	if (argc - optind != (o->summarize ? 0 : 1)) {
		survey_usage(stderr);
		return -1;
	}
	o->list = o->summarize ? NULL : argv[optind];
	return 0;
}

/* The list opened and counted, and --out read (what it holds is done)
 * and opened for appending. -1, said on stderr, on trouble. */
static int
run_open(struct run *r, const struct options *o)
{
	char err[1024] = "";
	bool from_stdin = strcmp(o->list, "-") == 0;

	r->list_name = from_stdin ? "(standard input)" : o->list;
	if (!(r->list = from_stdin ? stdin : fopen(o->list, "r"))) {
		fprintf(stderr, "tlspolicy survey: %s: %s\n", o->list, strerror(errno));
		return -1;
	}
	if (!(r->seen = strmap_create()) || !(r->sum = surveysum_create())) {
		fprintf(stderr, "tlspolicy survey: out of memory\n");
		return -1;
	}
	if (o->out) {
		r->out_name = o->out;
		if (load_done(r, err, sizeof(err)) < 0) {
			fprintf(stderr, "tlspolicy survey: %s\n", err);
			return -1;
		}
		if ((r->out_fd = open(r->out_name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0) {
			fprintf(stderr, "tlspolicy survey: %s: %s\n", r->out_name, strerror(errno));
			return -1;
		}
	} else {
		r->out_name = "standard output";
	}
	r->total = from_stdin ? 0 : count_list(o->list);
	r->progress = isatty(STDERR_FILENO);
	return 0;
}

/* The resolver and the prober as the daemon's settings make them, the
 * survey, and the loop's signals and progress timer. -1, said on stderr,
 * on trouble. */
static int
run_start(struct run *r, const struct options *o)
{
	const struct config *cfg = r->cfg;
	char err[1024] = "";
	struct dns_unbound_settings ds;
	struct survey_settings ss = {
		.concurrency = o->jobs,
		.plan = {.allow_private = cfg->probe_allow_private, .address_limit = cfg->probe_address_limit},
		.prober = {.workers = cfg->probe_workers, .concurrency = o->jobs, .queue_max = 1000000,
		    .rate = o->rate, .host_interval_ms = o->interval_ms},
		.levels = &cfg->levels,
	};

	fromhere_dns_settings(cfg, &ds);
	if (o->probe && !cfg->probe_allow_private && ownaddr_load(&r->own, &ss.plan.nown, err, sizeof(err)) < 0) {
		fprintf(stderr, "tlspolicy survey: %s\n", err);
		return -1;
	}
	ss.plan.own = r->own;
	if (!(r->base = event_base_new()) || !(r->dns = dns_unbound_create(r->base, &ds, err, sizeof(err))) ||
	    (o->probe && !(r->env = fromhere_probe_env(cfg, false, err, sizeof(err)))) ||
	    !(r->sv = survey_create(r->base, r->dns, r->env, &ss, on_record, feed, r, err, sizeof(err)))) {
		fprintf(stderr, "tlspolicy survey: %s\n", r->base ? err : "no event loop");
		return -1;
	}
	struct timeval half = {0, 500000};
	if (!(r->sigint = evsignal_new(r->base, SIGINT, on_signal, r)) || evsignal_add(r->sigint, NULL) < 0 ||
	    !(r->sigterm = evsignal_new(r->base, SIGTERM, on_signal, r)) || evsignal_add(r->sigterm, NULL) < 0 ||
	    (r->progress && (!(r->tick = event_new(r->base, -1, EV_PERSIST, on_tick, r)) ||
	    event_add(r->tick, &half) < 0))) {
		fprintf(stderr, "tlspolicy survey: cannot set up the event loop\n");
		return -1;
	}
	return 0;
}

/* Feeds the list until every domain is recorded, or a signal or a failed
 * write stops it. */
static void
run_loop(struct run *r)
{
	clock_gettime(CLOCK_MONOTONIC, &r->started);
	feed(r);
	if (!r->list_done || survey_pending(r->sv))
		event_base_dispatch(r->base);
	if (r->progress)
		show_progress(r, true);
}

/* How it ended, then the table of everything --out holds (on standard
 * error when the records themselves go to standard output). The exit
 * status. */
static int
run_report(struct run *r, const struct options *o)
{
	int status = SURVEY_EXIT_TROUBLE;

	if (r->interrupted) {
		fprintf(stderr, "tlspolicy survey: interrupted: %lu domains written, %zu under way dropped; "
		    "run it again with the same --out to go on\n", r->written, survey_pending(r->sv));
		status = SURVEY_EXIT_INTERRUPTED;
	} else if (!r->write_failed) {
		struct survey_stats st;
		survey_stats(r->sv, &st);
		fprintf(stderr, "tlspolicy survey: %lu domains written, %lu already there, %lu listed twice, "
		    "%lu bad lines; %llu probes, %llu addresses answered by an earlier probe; in %.1f s\n",
		    r->written, r->skipped, r->repeats, r->bad, (unsigned long long)st.probes,
		    (unsigned long long)st.reused, seconds_since(&r->started));
		status = SURVEY_EXIT_DONE;
	}
	if (!r->write_failed && write_summary(r->sum, r->out_fd == STDOUT_FILENO ? stderr : stdout, o->json,
	    o->report) < 0 && status == SURVEY_EXIT_DONE)
		status = SURVEY_EXIT_TROUBLE;
	return status;
}

static void
run_free(struct run *r)
{
	survey_free(r->sv);
	if (r->tick)
		event_free(r->tick);
	if (r->sigint)
		event_free(r->sigint);
	if (r->sigterm)
		event_free(r->sigterm);
	dns_free(r->dns);
	probe_env_free(r->env);
	free(r->own);
	if (r->base)
		event_base_free(r->base);
	if (r->out_fd >= 0 && r->out_fd != STDOUT_FILENO)
		close(r->out_fd);
	if (r->list && r->list != stdin)
		fclose(r->list);
	strmap_free(r->seen, NULL);
	surveysum_free(r->sum);
	buf_free(&r->line);
	free(r->buffer);
}

int
cmd_survey(const struct config *cfg, int argc, char **argv)
{
	struct run r = {.cfg = cfg, .out_fd = STDOUT_FILENO};
	struct options o;
	int status = SURVEY_EXIT_TROUBLE;

	if (parse_options(argc, argv, &o) < 0)
		return SURVEY_EXIT_TROUBLE;
	if (o.summarize)
		return summarize(o.summarize, o.json, o.report);
	buf_init(&r.line);
	if (run_open(&r, &o) == 0 && run_start(&r, &o) == 0) {
		run_loop(&r);
		status = run_report(&r, &o);
	}
	run_free(&r);
	return status;
}
