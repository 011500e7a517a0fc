/*
 * ubcold - a bare libunbound client: the reference for tlspolicyd's cold
 * decisions.
 *
 * It makes the DNS lookups a cold DANE decision for a domain next hop
 * needs, and nothing else: per domain the MX lookup; then, for each MX
 * host (lowest preference first, at most MAX_HOSTS), the A, AAAA and TLSA
 * (_25._tcp.HOST) lookups, all three at once; with -s, also the
 * domain's _mta-sts TXT record (RFC 8461) beside the MX, as tlspolicyd
 * looks it up when sts_enable is on.  CONCURRENCY domains are in flight
 * at a time; a domain is done when its last lookup is answered, and the
 * next one of the list starts.  No decision, no cache of its own,
 * no logging: what is left is what libunbound costs for those lookups,
 * which is the floor for any daemon that makes them.
 *
 * The context is set up as lib/dns/dns_unbound.c sets up the daemon's:
 * ub_ctx_create, ub_ctx_async(ctx, 1) (libunbound's own thread, not a
 * forked process), the daemon's message and RRset cache sizes,
 * ub_ctx_config(UNBOUND_CONF), and a first query for
 * "invalid." (a built-in local zone) that starts the thread before the
 * clock does.  Results arrive on ub_fd, which the main loop polls, calling
 * ub_process when it is readable.
 *
 * Every answer is counted by its DNSSEC status: secure, insecure, bogus,
 * or failed (a libunbound error, an rcode other than NOERROR and
 * NXDOMAIN, or no answer within TIMEOUT_MS, after which the lookup is
 * cancelled).  An MX answer that is not usable data (failed, bogus,
 * NXDOMAIN, NODATA, null MX) ends the domain: there is no host to look
 * at.  The report is one line of JSON on stdout:
 *
 *   {"domains":N,"seconds":S,"domains_per_second":R,"lookups":L,
 *    "hosts":H,"secure":..,"insecure":..,"bogus":..,"failed":..,
 *    "concurrency":C,"cpu_seconds":T}
 *
 * cpu_seconds is the process's CPU time (user and system, every thread)
 * over the measured part.
 *
 * With -w WARM_FILE, the domains of that file are looked up first, the
 * same way and at the same concurrency, outside the figures: the parent
 * zones' keys are then in libunbound's cache, as they are in a daemon
 * that has been running for a while.
 *
 * Usage: ubcold -C UNBOUND_CONF -c CONCURRENCY -f DOMAIN_LIST
 *               [-s] [-t TIMEOUT_MS] [-w WARM_FILE]
 * Exit status: 0 every lookup answered (whatever its status), 1 some
 * lookup failed, 2 could not start, 64 usage.  See tests/bench/README.md.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <unbound.h>

#include "dns/dns_unbound.h"	/* the daemon's cache sizes */

#define PROG		"ubcold"
#define MAX_HOSTS	32	/* MX hosts looked at per domain, as the daemon */
#define NAME_MAX_TEXT	1024	/* a wire name of 255 bytes, every byte as \DDD */
#define TYPE_A		1
#define TYPE_MX		15
#define TYPE_TXT	16
#define TYPE_AAAA	28
#define TYPE_TLSA	52
#define CLASS_IN	1
#define SMTP_PORT	25
#define ERR_TIMED_OUT	(-1000)	/* ours: no libunbound error has this value */

struct run;

/* One domain in flight; its slot is reused for the next domain. */
struct domain {
	struct run *run;
	char *name;		/* a line of the list, owned by the list */
	unsigned pending;	/* lookups not yet answered */
	bool busy;
};

/* One lookup in flight, on the run's list in the order they started:
 * with one timeout for all, the first is always the next to expire. */
struct lookup {
	struct domain *domain;
	struct lookup *prev, *next;
	int ub_id;
	int type;
	uint64_t deadline_ms;
};

struct counts {
	unsigned long domains, lookups, hosts;
	unsigned long secure, insecure, bogus, failed;
};

struct run {
	struct ub_ctx *ctx;
	char **names;		/* the list being resolved */
	size_t nnames, next_name;
	struct domain *slots;
	unsigned nslots;
	unsigned busy;		/* domains in flight */
	struct lookup *first, *last;
	uint64_t timeout_ms;
	bool sts;		/* the _mta-sts TXT lookup beside the MX */
	struct counts counts;
};

struct mx_host {
	unsigned preference;
	char name[NAME_MAX_TEXT];
};

static _Noreturn void fatal(int, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static _Noreturn void
fatal(int status, const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* CPU time of the whole process, libunbound's thread included. */
static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The domain list: one name a line; blank lines and "#" comments skipped. */
static char **
read_list(const char *path, size_t *count)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, **names = NULL;
	size_t cap = 0, n = 0, size = 0;
	ssize_t len;

	if (!f)
		fatal(2, "%s: %s", path, strerror(errno));
	while ((len = getline(&line, &size, f)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
		    line[len - 1] == ' ' || line[len - 1] == '\t'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			if (!(names = realloc(names, cap * sizeof(*names))))
				fatal(2, "out of memory reading %s", path);
		}
		if (!(names[n++] = strdup(line)))
			fatal(2, "out of memory reading %s", path);
	}
	if (ferror(f))
		fatal(2, "%s: %s", path, strerror(errno));
	free(line);
	fclose(f);
	*count = n;
	return names;
}

static void
unlink_lookup(struct run *run, struct lookup *l)
{
	if (l->prev)
		l->prev->next = l->next;
	else
		run->first = l->next;
	if (l->next)
		l->next->prev = l->prev;
	else
		run->last = l->prev;
}

static void on_result(void *, int, struct ub_result *);

static void
start_lookup(struct domain *d, const char *name, int type)
{
	struct run *run = d->run;
	struct lookup *l = calloc(1, sizeof(*l));

	if (!l)
		fatal(1, "out of memory");
	l->domain = d;
	l->type = type;
	l->deadline_ms = now_ms() + run->timeout_ms;
	if (ub_resolve_async(run->ctx, name, type, CLASS_IN, l, on_result, &l->ub_id) != 0) {
		/* Counted as failed; the run goes on, and its status says so. */
		free(l);
		run->counts.lookups++;
		run->counts.failed++;
		return;
	}
	l->prev = run->last;
	if (run->last)
		run->last->next = l;
	else
		run->first = l;
	run->last = l;
	d->pending++;
}

static void
start_next_domain(struct run *run, struct domain *d)
{
	d->name = run->names[run->next_name++];
	d->pending = 0;
	d->busy = true;
	run->busy++;
	start_lookup(d, d->name, TYPE_MX);
	if (run->sts) {
		char txt[NAME_MAX_TEXT + 16];
		snprintf(txt, sizeof(txt), "_mta-sts.%s", d->name);
		start_lookup(d, txt, TYPE_TXT);
	}
	if (d->pending == 0) {
		/* The MX lookup did not even start: the domain is done. */
		d->busy = false;
		run->busy--;
		run->counts.domains++;
	}
}

/* A wire name (uncompressed, as libunbound hands rdata over) to text, with
 * \DDD for anything that is not a letter, digit, '-' or '_'.  Returns the
 * wire length used, or 0 if the name is malformed. */
static size_t
wire_name_to_text(const unsigned char *wire, size_t len, char *out, size_t outsize)
{
	size_t i = 0, o = 0;

	while (i < len) {
		unsigned label = wire[i++];
		if (label == 0) {
			if (o == 0)
				out[o++] = '.';	/* the root: a null MX */
			out[o] = '\0';
			return i;
		}
		if (label > 63 || i + label > len)
			return 0;
		for (unsigned k = 0; k < label; k++) {
			unsigned char c = wire[i++];
			if (o + 5 >= outsize)
				return 0;
			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_')
				out[o++] = (char)c;
			else
				o += (size_t)snprintf(out + o, outsize - o, "\\%03u", c);
		}
		if (o + 2 >= outsize)
			return 0;
		out[o++] = '.';
	}
	return 0;
}

static int
by_preference(const void *a, const void *b)
{
	const struct mx_host *x = a, *y = b;

	return x->preference < y->preference ? -1 : x->preference > y->preference;
}

/* The MX answer's hosts, sorted, at most MAX_HOSTS: their lookups start. */
static void
start_hosts(struct domain *d, const struct ub_result *r)
{
	struct mx_host *hosts;
	size_t n = 0, count = 0;
	char tlsa[NAME_MAX_TEXT + 16];

	while (r->data[count])
		count++;
	if (!(hosts = calloc(count, sizeof(*hosts))))
		fatal(1, "out of memory");
	for (size_t i = 0; i < count; i++) {
		const unsigned char *rd = (const unsigned char *)r->data[i];
		size_t len = (size_t)r->len[i];
		if (len < 3 || !wire_name_to_text(rd + 2, len - 2, hosts[n].name, sizeof(hosts[n].name)))
			continue;
		if (strcmp(hosts[n].name, ".") == 0) {
			n = 0;		/* null MX (RFC 7505): no host to look at */
			break;
		}
		hosts[n].preference = (unsigned)rd[0] << 8 | rd[1];
		n++;
	}
	qsort(hosts, n, sizeof(hosts[0]), by_preference);
	if (n > MAX_HOSTS)
		n = MAX_HOSTS;
	for (size_t i = 0; i < n; i++) {
		d->run->counts.hosts++;
		snprintf(tlsa, sizeof(tlsa), "_%d._tcp.%s", SMTP_PORT, hosts[i].name);
		start_lookup(d, hosts[i].name, TYPE_A);
		start_lookup(d, hosts[i].name, TYPE_AAAA);
		start_lookup(d, tlsa, TYPE_TLSA);
	}
	free(hosts);
}

static void
count_answer(struct counts *c, int err, const struct ub_result *r)
{
	c->lookups++;
	if (err || !r || (r->rcode != 0 && r->rcode != 3))
		c->failed++;
	else if (r->bogus)
		c->bogus++;
	else if (r->secure)
		c->secure++;
	else
		c->insecure++;
}

/* The end of one lookup: its domain's next step, or its end, and then the
 * list's next domain in its slot. */
static void
finish_lookup(struct lookup *l, int err, struct ub_result *r)
{
	struct domain *d = l->domain;
	struct run *run = d->run;

	unlink_lookup(run, l);
	count_answer(&run->counts, err, r);
	if (l->type == TYPE_MX && !err && r && r->rcode == 0 && r->havedata && !r->bogus)
		start_hosts(d, r);
	free(l);
	if (--d->pending > 0)
		return;
	d->busy = false;
	run->busy--;
	run->counts.domains++;
	while (!d->busy && run->next_name < run->nnames)
		start_next_domain(run, d);
}

static void
on_result(void *mydata, int err, struct ub_result *r)
{
	finish_lookup(mydata, err, r);
	if (r)
		ub_resolve_free(r);
}

static void
expire_lookups(struct run *run)
{
	uint64_t now = now_ms();

	while (run->first && run->first->deadline_ms <= now) {
		struct lookup *l = run->first;
		ub_cancel(run->ctx, l->ub_id);
		finish_lookup(l, ERR_TIMED_OUT, NULL);
	}
}

/* Resolves every name of the list, CONCURRENCY at a time; returns the
 * seconds it took. */
static double
resolve_all(struct run *run, char **names, size_t n)
{
	struct pollfd pfd = {.fd = ub_fd(run->ctx), .events = POLLIN};
	double t0 = now_seconds();

	run->names = names;
	run->nnames = n;
	run->next_name = 0;
	for (unsigned i = 0; i < run->nslots && run->next_name < n; i++)
		while (!run->slots[i].busy && run->next_name < n)
			start_next_domain(run, &run->slots[i]);
	while (run->busy > 0) {
		int wait = -1;
		if (run->first) {
			uint64_t now = now_ms();
			wait = run->first->deadline_ms > now ? (int)(run->first->deadline_ms - now) : 0;
		}
		int ready = poll(&pfd, 1, wait);
		if (ready < 0 && errno != EINTR)
			fatal(2, "poll: %s", strerror(errno));
		if (ready > 0) {
			int rc = ub_process(run->ctx);
			if (rc != 0)
				fatal(2, "ub_process: %s", ub_strerror(rc));
		}
		expire_lookups(run);
	}
	return now_seconds() - t0;
}

static void
discard_result(void *mydata, int err, struct ub_result *r)
{
	(void)mydata;
	(void)err;
	if (r)
		ub_resolve_free(r);
}

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: " PROG " -C UNBOUND_CONF -c CONCURRENCY -f DOMAIN_LIST "
	    "[-s] [-t TIMEOUT_MS] [-w WARM_FILE]\n");
	exit(64);
}

static unsigned long
number(const char *opt, const char *s, unsigned long min, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max || s[0] == '-') {
		fprintf(stderr, PROG ": %s: a number from %lu to %lu, not \"%s\"\n", opt, min, max, s);
		usage();
	}
	return v;
}

int
main(int argc, char **argv)
{
	const char *conf = NULL, *list = NULL, *warm = NULL;
	unsigned long concurrency = 0, timeout_ms = 5000;
	struct run run = {0};
	char **names, **warm_names = NULL;
	size_t n, nwarm = 0;
	int opt, rc, warmup_id;

	while ((opt = getopt(argc, argv, "C:c:f:st:w:")) != -1) {
		switch (opt) {
		case 'C': conf = optarg; break;
		case 'c': concurrency = number("-c", optarg, 1, 100000); break;
		case 'f': list = optarg; break;
		case 's': run.sts = true; break;
		case 't': timeout_ms = number("-t", optarg, 1, 3600000); break;
		case 'w': warm = optarg; break;
		default: usage();
		}
	}
	if (optind != argc || !conf || !list || !concurrency)
		usage();
	names = read_list(list, &n);
	if (n == 0)
		fatal(2, "%s: no domain in it", list);
	if (warm)
		warm_names = read_list(warm, &nwarm);

	/* libunbound calls a file it cannot open a syntax error. */
	if (access(conf, R_OK) < 0)
		fatal(2, "%s: %s", conf, strerror(errno));
	if (!(run.ctx = ub_ctx_create()))
		fatal(2, "cannot create a libunbound context");
	if ((rc = ub_ctx_async(run.ctx, 1)) != 0)
		fatal(2, "ub_ctx_async: %s", ub_strerror(rc));
	if ((rc = ub_ctx_set_option(run.ctx, "msg-cache-size:", DNS_UNBOUND_MSG_CACHE)) != 0 ||
	    (rc = ub_ctx_set_option(run.ctx, "rrset-cache-size:", DNS_UNBOUND_RRSET_CACHE)) != 0)
		fatal(2, "ub_ctx_set_option: %s", ub_strerror(rc));
	if ((rc = ub_ctx_config(run.ctx, conf)) != 0)
		fatal(2, "%s: %s (check it with unbound-checkconf)", conf, ub_strerror(rc));
	/* Starts libunbound's thread and reads the trust anchors, as the
	 * daemon does at start-up; answered from a built-in local zone. */
	if ((rc = ub_resolve_async(run.ctx, "invalid.", TYPE_A, CLASS_IN, NULL, discard_result, &warmup_id)) != 0)
		fatal(2, "starting libunbound (%s): %s", conf, ub_strerror(rc));
	run.nslots = (unsigned)concurrency;
	if (!(run.slots = calloc(run.nslots, sizeof(*run.slots))))
		fatal(2, "out of memory");
	for (unsigned i = 0; i < run.nslots; i++)
		run.slots[i].run = &run;
	run.timeout_ms = timeout_ms;

	if (nwarm > 0) {
		resolve_all(&run, warm_names, nwarm);
		if (run.counts.failed)
			fprintf(stderr, PROG ": warning: %lu of %lu warm-up lookups failed\n",
			    run.counts.failed, run.counts.lookups);
		memset(&run.counts, 0, sizeof(run.counts));
	}
	double cpu = cpu_seconds();
	double seconds = resolve_all(&run, names, n);
	cpu = cpu_seconds() - cpu;
	struct counts *c = &run.counts;
	printf("{\"domains\":%lu,\"seconds\":%.3f,\"domains_per_second\":%.1f,\"lookups\":%lu,"
	    "\"hosts\":%lu,\"secure\":%lu,\"insecure\":%lu,\"bogus\":%lu,\"failed\":%lu,"
	    "\"concurrency\":%lu,\"cpu_seconds\":%.2f}\n",
	    c->domains, seconds, seconds > 0 ? (double)c->domains / seconds : 0.0, c->lookups,
	    c->hosts, c->secure, c->insecure, c->bogus, c->failed, concurrency, cpu);
	fflush(stdout);
	ub_ctx_delete(run.ctx);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	for (size_t i = 0; i < nwarm; i++)
		free(warm_names[i]);
	free(warm_names);
	free(run.slots);
	return c->failed ? 1 : 0;
}
