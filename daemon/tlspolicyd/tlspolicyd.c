/*
 * tlspolicyd - tells Postfix, over its socketmap protocol, which TLS
 * security level each next hop gets: DANE where DNSSEC-signed TLSA records
 * allow it, mandatory TLS where that is all there is, opportunistic TLS
 * otherwise, and TEMP (a deferral) when DNSSEC says something is wrong.
 *
 * This file only wires the modules together: configuration, log, the
 * listening sockets, libunbound, the policy map, the connections, signals
 * and privileges. See tlspolicyd(8).
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "dns/adcheck.h"
#include "watch/alert.h"
#include "util/buf.h"
#include "cachesave.h"
#include "commands.h"
#include "control.h"
#include "config/config.h"
#include "dns/dns_unbound.h"
#include "util/endpoint.h"
#include "exlist.h"
#include "util/kv.h"
#include "util/log.h"
#include "maillog.h"
#include "util/metrics.h"
#include "metrics_http.h"
#include "probe/prober.h"
#include "serve/policymap.h"
#include "common/privdrop.h"
#include "probing.h"
#include "dns/resolve.h"
#include "dns/rr.h"
#include "server.h"
#include "dns/trustcheck.h"

/* In state_directory: the trust anchors libunbound tracks (RFC 5011). */
#define TRUST_TRACKING_FILE "trust-anchor"

struct daemon {
	const char *config_path;
	struct config *cfg;
	struct config *boot_cfg;	/* restart-only settings stay as they were here */
	int report_fd;			/* to the waiting parent while starting in the background */
	bool tell_terminal;		/* before going to the background: errors to stderr too */
	struct log *log;
	struct event_base *base;
	struct dns *dns;
	struct policymap *pm;
	struct server *srv;
	struct probing *probing;
	struct control *control;
	struct commands commands;
	struct metrics_http *metrics;
	struct adcheck *adcheck;		/* in flight */
	struct event *adcheck_timer;
	/* The trust check of the daemon's own resolver (trustcheck.h). */
	enum trustcheck_state trust;
	int trust_id;				/* its lookup in flight, 0 for none */
	bool trust_first;			/* the check at start is under way */
	struct event *trust_timer;
	char trust_refusal[1024];		/* why the check at start refuses the start */
	struct alerter *alerter;
	struct event *sigchld, *reap_timer;
	struct exlist *exlist;
	struct maillog *maillog;
	struct cachesave *cachesave;
	/* Counted here, read by the metrics endpoint. */
	uint64_t lookups[3][5];			/* [enum dns_security][enum dns_outcome] */
	struct metrics_histogram resolution_time;
	struct event *flush;
	struct event *sighup, *sigterm, *sigint;
	bool stopping;
};

static void
notify(const char *state)
{
#ifdef HAVE_SYSTEMD
	sd_notify(0, state);
#else
	(void)state;
#endif
}

/* A reload starts. Under Type=notify-reload systemd takes RELOADING=1 only
 * with the CLOCK_MONOTONIC time it was sent, in microseconds, no earlier
 * than its own SIGHUP (sd_notify(3)); READY=1 ends the reload. */
static void
notify_reloading(void)
{
#ifdef HAVE_SYSTEMD
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL);
#endif
}

/* A start-up failure: logged, and told to the parent that waits for the
 * daemon in the background, which exits with the same status. */
static void
free_event(struct event *ev)
{
	if (ev)
		event_free(ev);
}

/* Everything the daemon holds, in the order that lets each part stop
 * cleanly; also after a start that failed half-way. */
/* stopped: a normal stop, whose state is worth saving; a start that
 * failed has nothing to save and must not overwrite what was. */
static void
release(struct daemon *d, bool stopped)
{
	metrics_http_free(d->metrics);
	adcheck_cancel(d->adcheck);
	free_event(d->adcheck_timer);
	free_event(d->trust_timer);	/* a lookup in flight goes with the dns */
	free_event(d->sigchld);
	free_event(d->reap_timer);
	control_free(d->control);
	server_free(d->srv);
	probing_free(d->probing);
	exlist_free(d->exlist);
	maillog_free(d->maillog);
	cachesave_free(d->cachesave, stopped);
	policymap_free(d->pm);
	dns_free(d->dns);
	free_event(d->sighup);
	free_event(d->sigterm);
	free_event(d->sigint);
	free_event(d->flush);
	if (d->base)
		event_base_free(d->base);
	alerter_free(d->alerter);
	config_unref(d->cfg);
	config_unref(d->boot_cfg);
	log_free(d->log);
	memset(d, 0, sizeof(*d));
	d->report_fd = -1;
}

__attribute__((format(printf, 3, 4)))
static int
start_failed(struct daemon *d, int status, const char *fmt, ...)
{
	char reason[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (d->log)
		log_event(d->log, LOGL_ERROR, "fatal", "reason", reason, NULL);
	if (d->report_fd >= 0) {
		dprintf(d->report_fd, "%c%s", status, reason);
		close(d->report_fd);
		d->report_fd = -1;
	} else if (!d->log || d->tell_terminal) {
		fprintf(stderr, "tlspolicyd: %s\n", reason);
	}
	release(d, false);
	return status;
}

static uint64_t
monotonic_ms(void *arg)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: tlspolicyd [-f] [-c FILE]\n"
	    "  -c FILE  configuration file (default " CONFIG_DEFAULT_PATH ")\n"
	    "  -f       stay in the foreground and log to standard error\n"
	    "  -V       print the version and exit\n"
	    "See tlspolicyd(8) and tlspolicyd.conf(5).\n");
}

/* Logs each "file:line: message" of a configuration error list. */
static void
log_config_errors(struct log *log, int level, const struct buf *errors)
{
	const char *p = buf_ptr(errors), *end = p + buf_size(errors);

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *error = strndup(p, n);
		log_event(log, level, "config-error", "error", error ? error : "out of memory", NULL);
		free(error);
		p += n + 1;
	}
}

static void
on_flush(evutil_socket_t fd, short what, void *arg)
{
	log_flush(arg);
}

static void
wake_flush(void *arg)
{
	event_active(arg, EV_TIMEOUT, 0);
}

/* Enough descriptors for max_connections plus listeners, libunbound and
 * logging; the hard limit is the administrator's (LimitNOFILE=). */
static void
raise_fd_limit(struct log *log, unsigned max_connections)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)max_connections + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
	/* Refused (a seccomp filter): the limit stays as it was. */
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < want)
		log_msg(log, LOGL_WARNING, "event=fd-limit limit=%lu max_connections=%u "
		    "reason=\"descriptor limit below max_connections; raise LimitNOFILE or ulimit -n\"",
		    (unsigned long)rl.rlim_cur, max_connections);
}

static void start_resolver_check(struct daemon *d);
static void start_trust_check(struct daemon *d);

static struct alert_settings
alert_settings(const struct config *cfg)
{
	struct alert_settings s = {
		.command = cfg->alert_command,
		.recipient = cfg->alert_recipient,
		.sendmail = cfg->alert_sendmail,
		.interval_ms = cfg->alert_interval_ms,
		.max_per_hour = cfg->alert_max_per_hour,
	};
	return s;
}

/* Alert commands and sendmail are children: reaped when they exit, and
 * killed when they overstay (the timer also closes the hourly summary). */
static void
on_reap(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	alert_reap(d->alerter, monotonic_ms(NULL));
}

static void
reload(struct daemon *d)
{
	struct buf errors, names;

	notify_reloading();
	buf_init(&errors);
	buf_init(&names);
	struct config *cfg = config_load(d->config_path, &errors);
	if (!cfg) {
		log_config_errors(d->log, LOGL_ERROR, &errors);
		log_event(d->log, LOGL_ERROR, "reload", "result", "rejected", "file", d->config_path,
		    "reason", "configuration has errors; the previous one stays in force", NULL);
	} else {
		/* Against the start-up values: those are the ones still in force. */
		if (config_restart_needed(d->boot_cfg, cfg, &names))
			log_event(d->log, LOGL_WARNING, "reload", "settings", buf_ptr(&names), "reason",
			    "these settings differ from the running ones and take effect only after a restart", NULL);
		raise_fd_limit(d->log, cfg->max_connections);
		bool check_was_off = d->cfg->resolver_check_interval_ms == 0;
		bool trust_changed = strcmp(d->cfg->trust_check_name, cfg->trust_check_name) != 0 ||
		    d->cfg->trust_check_interval_ms != cfg->trust_check_interval_ms;
		server_set_config(d->srv, cfg);
		metrics_http_set_timeout(d->metrics, cfg->request_timeout_ms);
		policymap_set_config(d->pm, cfg);
		cachesave_set_config(d->cachesave, cfg);
		probing_set_config(d->probing, cfg);
		exlist_reload(d->exlist, cfg);
		maillog_reload(d->maillog, cfg);
		struct alert_settings as = alert_settings(cfg);
		alerter_set(d->alerter, &as);
		log_set_level(d->log, cfg->log_level);
		config_unref(d->cfg);
		d->cfg = cfg;
		if (check_was_off && cfg->resolver_check_interval_ms)
			start_resolver_check(d);
		/* The new name is judged at once; the interval counts from it. */
		if (trust_changed)
			start_trust_check(d);
		log_event(d->log, LOGL_NOTICE, "reload", "result", "ok", "file", d->config_path, NULL);
	}
	buf_free(&errors);
	buf_free(&names);
	notify("READY=1");
}

static void
on_drained(void *arg)
{
	struct daemon *d = arg;

	event_base_loopexit(d->base, NULL);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	if (sig == SIGHUP) {
		reload(d);
		return;
	}
	if (d->stopping)
		return;
	d->stopping = true;
	notify("STOPPING=1");
	log_msg(d->log, LOGL_NOTICE, "event=stop signal=%s connections=%zu", sig == SIGTERM ? "TERM" : "INT",
	    server_connections(d->srv));
	/* Answers under way get the longest a resolution can take: four
	 * rounds of lookups (MX, addresses, TLSA at a CNAME target and at the
	 * original name), each up to the time limit in force. */
	server_drain(d->srv, 4 * d->boot_cfg->dns_timeout_ms + 1000, on_drained, d);
}


/* At debug level: every lookup behind a fresh answer, as explain shows it. */
static void
log_resolution(struct daemon *d, const struct resolve_result *r)
{
	char dest[NEXTHOP_NAME_MAX + 16];
	struct buf line;

	if (!log_enabled(d->log, LOGL_DEBUG))
		return;
	nexthop_format(&r->nexthop, dest, sizeof(dest));
	buf_init(&line);
	for (size_t i = 0; i < r->nlookups; i++) {
		const struct resolve_lookup *l = &r->lookups[i];
		buf_reset(&line);
		kv_str(&line, "event", "lookup");
		kv_str(&line, "dest", dest);
		kv_str(&line, "name", l->name);
		kv_str(&line, "type", rr_type_name(l->type));
		kv_str(&line, "outcome", dns_outcome_name(l->outcome));
		kv_str(&line, "security", dns_security_name(l->security));
		kv_uint(&line, "ttl", l->ttl);
		kv_uint(&line, "records", l->nrecords);
		if (l->why)
			kv_str(&line, "why", l->why);
		log_line(d->log, LOGL_DEBUG, buf_ptr(&line), buf_size(&line));
	}
	for (unsigned h = 0; h < r->nhosts; h++) {
		buf_reset(&line);
		kv_str(&line, "event", "host");
		kv_str(&line, "dest", dest);
		kv_str(&line, "host", r->hosts[h].name);
		kv_str(&line, "verdict", policy_host_verdict_name(r->hosts[h].verdict));
		kv_str(&line, "why", r->hosts[h].why);
		log_line(d->log, LOGL_DEBUG, buf_ptr(&line), buf_size(&line));
	}
	buf_free(&line);
}

/* Every fresh resolution: logged at debug, counted, handed to the probes. */
static void
on_resolution(void *arg, const struct resolve_result *r, uint64_t elapsed_ms)
{
	struct daemon *d = arg;

	log_resolution(d, r);
	for (size_t i = 0; i < r->nlookups; i++)
		if ((unsigned)r->lookups[i].security < 3 && (unsigned)r->lookups[i].outcome < 5)
			d->lookups[r->lookups[i].security][r->lookups[i].outcome]++;
	metrics_observe(&d->resolution_time, (double)elapsed_ms / 1000.0);
	probing_resolved(d->probing, r);
}

/* Postfix trusts its resolver's AD bit: if that resolver does not
 * validate, Postfix's own DANE is off whatever this daemon answers. */
static void
resolver_checked(void *arg, const struct adcheck_result *r)
{
	struct daemon *d = arg;
	char detail[200];

	d->adcheck = NULL;
	if (r->answered && r->rcode == 0 && r->ad) {
		log_event(d->log, LOGL_INFO, "resolver-check", "result", "validating", "resolv_conf", d->cfg->resolv_conf,
		    "name", d->cfg->resolver_check_name, NULL);
		return;
	}
	snprintf(detail, sizeof(detail), "%s", !r->answered || r->rcode ? r->error
	    : "answered without the AD bit: it does not validate DNSSEC");
	const char *fields[] = {
		"resolv_conf", d->cfg->resolv_conf, "name", d->cfg->resolver_check_name, "error", detail,
		"reason", "Postfix trusts this resolver's AD bit for DANE: with it, Postfix's own DANE is off", NULL,
	};
	/* Not about one destination: "-" stands for the whole host. */
	alerter_raise(d->alerter, "resolver-not-validating", "-", fields, monotonic_ms(NULL));
}

static void
on_adcheck_timer(evutil_socket_t fd, short what, void *arg)
{
	start_resolver_check(arg);
}

static void
start_resolver_check(struct daemon *d)
{
	struct netaddr server;
	char err[300];
	uint64_t every = d->cfg->resolver_check_interval_ms;

	if (every) {
		struct timeval tv = {(time_t)(every / 1000), (suseconds_t)(every % 1000) * 1000};
		evtimer_add(d->adcheck_timer, &tv);
	}
	if (d->adcheck)
		return;
	if (adcheck_nameserver(d->cfg->resolv_conf, &server, err, sizeof(err)) < 0) {
		log_event(d->log, LOGL_WARNING, "resolver-check", "result", "not-done", "error", err, NULL);
		return;
	}
	d->adcheck = adcheck_start(d->base, &server, d->cfg->resolver_check_name, d->cfg->dns_timeout_ms,
	    resolver_checked, d);
}

/* The daemon's own resolver: does it validate under its trust anchors?
 * Unless a check has shown that it does, fresh resolutions are answered
 * TEMP (policymap_set_untrusted). */
static void
trust_checked(void *arg, struct dns_answer *answer)
{
	struct daemon *d = arg;
	char name[NEXTHOP_NAME_MAX + 2], detail[400], reason[768];
	bool first = d->trust_first;
	enum trustcheck_state before = d->trust;

	d->trust_id = 0;
	d->trust_first = false;
	/* The name asked, which a reload may have changed since. */
	snprintf(name, sizeof(name), "%s", answer->qname);
	enum trustcheck_verdict v = trustcheck_verdict(answer, detail, sizeof(detail));
	dns_answer_free(answer);
	struct trustcheck_step step = trustcheck_next(before, first, v, d->cfg->trust_check_interval_ms);
	d->trust = step.state;
	if (step.state == TRUSTCHECK_VALIDATING) {
		policymap_set_untrusted(d->pm, NULL);
	} else if (v != TRUSTCHECK_NO_ANSWER) {
		snprintf(reason, sizeof(reason), "trust check: DNSKEY %s came back %s", name, detail);
		policymap_set_untrusted(d->pm, reason);
	} else if (step.state == TRUSTCHECK_UNVERIFIED) {
		snprintf(reason, sizeof(reason), "trust check: none has passed since start (DNSKEY %s: %s)", name, detail);
		policymap_set_untrusted(d->pm, reason);
	}	/* no answer while not validating: the proof from before stands */
	if (step.action != TRUSTCHECK_RECOVERED)
		log_event(d->log, v == TRUSTCHECK_SECURE ? LOGL_INFO : LOGL_WARNING, "trust-check",
		    "result", trustcheck_verdict_name(v), "name", name, "detail", detail,
		    "state", trustcheck_state_name(step.state), NULL);
	switch (step.action) {
	case TRUSTCHECK_NONE:
	case TRUSTCHECK_WARN:
		break;
	case TRUSTCHECK_REFUSE_START:
		snprintf(d->trust_refusal, sizeof(d->trust_refusal), "trust check: DNSKEY %s came back %s: %s",
		    name, detail, trustcheck_advice(v));
		return;	/* main() stops the start */
	case TRUSTCHECK_ALERT: {
		const char *fields[] = {
			"name", name, "result", trustcheck_verdict_name(v), "detail", detail,
			"reason", trustcheck_advice(v), "action", "fresh resolutions are answered TEMP until a check passes",
			NULL,
		};
		/* Not about one destination: "-" stands for every one. */
		alerter_raise(d->alerter, "trust-check-failed", "-", fields, monotonic_ms(NULL));
		break;
	}
	case TRUSTCHECK_RECOVERED:
		log_event(d->log, LOGL_NOTICE, "trust-check", "result", "recovered", "name", name, "detail", detail,
		    "previous", trustcheck_state_name(before),
		    "reason", "the resolver validates DNSSEC: fresh resolutions are no longer answered TEMP", NULL);
		break;
	}
	struct timeval tv = {(time_t)(step.next_ms / 1000), (suseconds_t)(step.next_ms % 1000) * 1000};
	evtimer_add(d->trust_timer, &tv);
}

static void
on_trust_timer(evutil_socket_t fd, short what, void *arg)
{
	start_trust_check(arg);
}

static void
start_trust_check(struct daemon *d)
{
	if (d->trust_id > 0)
		return;	/* its answer schedules the next */
	int id = dns_lookup(d->dns, d->cfg->trust_check_name, RR_TYPE_DNSKEY, trust_checked, d);
	if (id > 0) {
		d->trust_id = id;
		return;
	}
	/* Not even started (out of memory): no answer, and so judged. */
	struct dns_answer *a = dns_answer_new(d->cfg->trust_check_name, RR_TYPE_DNSKEY);
	if (a) {
		a->outcome = DNS_SERVFAIL;
		a->why = strdup("the lookup could not start");
		trust_checked(d, a);
		return;
	}
	d->trust_first = false;
	struct timeval retry = {TRUSTCHECK_RETRY_MS / 1000, 0};
	evtimer_add(d->trust_timer, &retry);
}

/* The check at start, before the first request is read: its verdict
 * decides whether the daemon starts. The lookup is bounded by
 * dns_timeout; meanwhile the listeners have no server, so connections
 * wait in their queues (the control socket answers, TEMP for anything
 * that needs DNS). */
static int
first_trust_check(struct daemon *d)
{
	if (!(d->trust_timer = evtimer_new(d->base, on_trust_timer, d)))
		return -1;
	d->trust = TRUSTCHECK_UNVERIFIED;
	d->trust_first = true;
	policymap_set_untrusted(d->pm, "trust check: not done yet");
	start_trust_check(d);
	while (d->trust_first)
		if (event_base_loop(d->base, EVLOOP_ONCE) < 0)
			return -1;
	return 0;
}

/* The tracked copy of the trust anchors (trust_anchor_tracking): made from
 * trust_anchor_file the first time, and the user's, whose libunbound
 * thread rewrites it. */
static int
prepare_tracking_file(struct daemon *d, char *path, size_t size, char *err, size_t errlen)
{
	const char *from = d->cfg->trust_anchor_file;

	if ((size_t)snprintf(path, size, "%s/%s", d->cfg->state_directory, TRUST_TRACKING_FILE) >= size) {
		snprintf(err, errlen, "state_directory %s: name too long", d->cfg->state_directory);
		return -1;
	}
	int rc = dns_unbound_seed_tracking(from, path, err, errlen);
	if (rc < 0)
		return -1;
	struct passwd *pw = geteuid() == 0 && d->cfg->user[0] ? getpwnam(d->cfg->user) : NULL;
	if (rc == 1 && pw && chown(path, pw->pw_uid, pw->pw_gid) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	log_event(d->log, rc == 1 ? LOGL_NOTICE : LOGL_INFO, "trust-anchor", "tracking", "rfc5011", "file", path,
	    "seeded_from", rc == 1 ? from : "-", "reason", rc == 1 ? "a copy of trust_anchor_file, "
	    "kept up to date by libunbound from now on" : "tracked since an earlier start; trust_anchor_file "
	    "is not read (delete the file to seed it again)", NULL);
	return 0;
}

static void
alert_metric(void *arg, const char *kind, uint64_t n)
{
	metrics_sample(arg, "tlspolicyd_alerts_total", "kind", kind, n);
}

/* The Prometheus exposition, read at each scrape. */
static void
collect_metrics(void *arg, struct buf *out)
{
	struct daemon *d = arg;
	struct server_stats ss;
	struct policymap_stats ps;
	struct prober_stats pr = {0};

	/* A scrape while the start waits for the trust check: no server yet. */
	if (d->srv)
		server_stats(d->srv, &ss);
	else
		memset(&ss, 0, sizeof(ss));
	policymap_stats(d->pm, &ps);
	metrics_family(out, "tlspolicyd_answers_total", "counter", "Socketmap replies by status.");
	metrics_sample(out, "tlspolicyd_answers_total", "result", "OK", ss.ok);
	metrics_sample(out, "tlspolicyd_answers_total", "result", "NOTFOUND", ss.notfound);
	metrics_sample(out, "tlspolicyd_answers_total", "result", "TEMP", ss.temp);
	metrics_sample(out, "tlspolicyd_answers_total", "result", "PERM", ss.perm);
	metrics_family(out, "tlspolicyd_connections_total", "counter", "Socketmap connections accepted.");
	metrics_sample(out, "tlspolicyd_connections_total", NULL, NULL, ss.accepted);
	metrics_family(out, "tlspolicyd_connections", "gauge", "Socketmap connections open.");
	metrics_sample(out, "tlspolicyd_connections", NULL, NULL, d->srv ? server_connections(d->srv) : 0);
	metrics_family(out, "tlspolicyd_connections_refused_total", "counter",
	    "Socketmap connections closed at once, by reason.");
	metrics_sample(out, "tlspolicyd_connections_refused_total", "reason", "peer_limit", ss.refused_peer_limit);
	metrics_family(out, "tlspolicyd_metrics_refused_total", "counter",
	    "Connections to this endpoint closed at once: over its limits.");
	metrics_sample(out, "tlspolicyd_metrics_refused_total", NULL, NULL, metrics_http_refused(d->metrics));
	metrics_family(out, "tlspolicyd_requests_timed_out_total", "counter",
	    "Socketmap connections closed with a request not complete within request_timeout.");
	metrics_sample(out, "tlspolicyd_requests_timed_out_total", NULL, NULL, ss.request_timeouts);
	metrics_family(out, "tlspolicyd_cache_hits_total", "counter", "Answers served from the cache.");
	metrics_sample(out, "tlspolicyd_cache_hits_total", NULL, NULL, ps.hits);
	metrics_family(out, "tlspolicyd_cache_misses_total", "counter", "Answers that needed a resolution.");
	metrics_sample(out, "tlspolicyd_cache_misses_total", NULL, NULL, ps.misses);
	metrics_family(out, "tlspolicyd_cache_entries", "gauge", "Answers cached.");
	metrics_sample(out, "tlspolicyd_cache_entries", NULL, NULL, ps.entries);
	metrics_family(out, "tlspolicyd_resolutions_shared_total", "counter",
	    "Requests that joined a resolution already under way.");
	metrics_sample(out, "tlspolicyd_resolutions_shared_total", NULL, NULL, ps.shared);
	metrics_family(out, "tlspolicyd_stale_answers_total", "counter",
	    "Resolver outages answered with the last secure answer (stale_answer_max_age).");
	metrics_sample(out, "tlspolicyd_stale_answers_total", NULL, NULL, ps.stale);
	metrics_family(out, "tlspolicyd_dns_lookups_total", "counter", "DNS lookups by DNSSEC status and outcome.");
	for (int sec = 0; sec < 3; sec++) {
		for (int oc = 0; oc < 5; oc++) {
			buf_printf(out, "tlspolicyd_dns_lookups_total{security=\"%s\",outcome=\"%s\"} ",
			    dns_security_name((enum dns_security)sec), dns_outcome_name((enum dns_outcome)oc));
			buf_put_uint(out, d->lookups[sec][oc], 1);
			buf_putc(out, '\n');
		}
	}
	metrics_histogram_write(out, "tlspolicyd_resolution_seconds", "Time to resolve a next hop.",
	    &d->resolution_time);
	const uint64_t *classes = probing_class_counts(d->probing);
	metrics_family(out, "tlspolicyd_probes_total", "counter", "Probes finished, by class.");
	for (int c = 0; c < PROBE_CLASS_COUNT; c++)
		metrics_sample(out, "tlspolicyd_probes_total", "class", probe_class_name((enum probe_class)c), classes[c]);
	if (probing_prober(d->probing))
		prober_stats(probing_prober(d->probing), &pr);
	metrics_family(out, "tlspolicyd_probes_queued", "gauge", "Probes waiting for their turn.");
	metrics_sample(out, "tlspolicyd_probes_queued", NULL, NULL, pr.queued);
	metrics_family(out, "tlspolicyd_probes_running", "gauge", "Probes in flight.");
	metrics_sample(out, "tlspolicyd_probes_running", NULL, NULL, pr.running);
	metrics_family(out, "tlspolicyd_probes_dropped_total", "counter", "Probes dropped: queue full.");
	metrics_sample(out, "tlspolicyd_probes_dropped_total", NULL, NULL, pr.dropped);
	metrics_family(out, "tlspolicyd_exceptions", "gauge", "Entries of the exception list in force.");
	metrics_sample(out, "tlspolicyd_exceptions", NULL, NULL, exlist_count(d->exlist));
	struct logwatch_counts mc;
	size_t mlines;
	maillog_totals(d->maillog, &mc, &mlines);
	metrics_family(out, "tlspolicyd_maillog_lines_total", "counter", "Lines of Postfix's log read.");
	metrics_sample(out, "tlspolicyd_maillog_lines_total", NULL, NULL, mlines);
	/* A gauge: destinations seen longest ago are forgotten, and their counts with them. */
	metrics_family(out, "tlspolicyd_maillog_outcomes", "gauge",
	    "What Postfix's log said about TLS to the destinations tracked (the latest 10000), by outcome.");
	const struct {
		const char *outcome;
		uint64_t n;
	} outcomes[] = {
		{"verified", mc.verified}, {"trusted", mc.trusted}, {"untrusted", mc.untrusted},
		{"anonymous", mc.anonymous}, {"cert_failed", mc.cert_failed}, {"tlsa_error", mc.tlsa_error},
		{"non_dnssec", mc.non_dnssec}, {"sent", mc.sent}, {"deferred", mc.deferred},
		{"deferred_tls", mc.deferred_tls},
	};
	for (size_t i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++)
		metrics_sample(out, "tlspolicyd_maillog_outcomes", "outcome", outcomes[i].outcome, outcomes[i].n);
	metrics_family(out, "tlspolicyd_alerts_total", "counter", "Alerts raised, by kind.");
	alerter_each_kind(d->alerter, alert_metric, out);
}

/* The state directory belongs to the daemon's user, which creates nothing
 * after dropping root; so it is made here, while still root. */
static void
prepare_state_directory(struct daemon *d)
{
	const char *dir = d->cfg->state_directory;

	if (!dir[0])
		return;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		log_event(d->log, LOGL_WARNING, "state-directory", "dir", dir, "error", strerror(errno),
		    "reason", "cannot create it: the probe history will not be saved", NULL);
		return;
	}
	struct passwd *pw = geteuid() == 0 && d->cfg->user[0] ? getpwnam(d->cfg->user) : NULL;
	if (pw && chown(dir, pw->pw_uid, pw->pw_gid) < 0)
		log_event(d->log, LOGL_WARNING, "state-directory", "dir", dir, "error", strerror(errno), NULL);
}

/* The directory of the control or a status socket, made if missing
 * (/run/tlspolicyd outside systemd). */
static int
make_socket_directory(const char *setting, const char *path, char *err, size_t errlen)
{
	char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
	int rc = 0;

	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "%s %s: cannot create %s: %s", setting, path, dir, strerror(errno));
			rc = -1;
		}
	}
	free(dir);
	return rc;
}

/* The group of the daemon's own sockets (control, status): the user's,
 * when started as root to become it; otherwise -1, the daemon's own. */
static long
own_socket_group(const struct config *cfg)
{
	struct passwd *pw = geteuid() == 0 && cfg->user[0] ? getpwnam(cfg->user) : NULL;

	return pw ? (long)pw->pw_gid : -1;
}

/* The control socket, for root and the daemon's group: bound as root. */
static int
open_control(struct daemon *d, char *err, size_t errlen)
{
	const char *path = d->cfg->control_socket;

	if (!path[0])
		return 0;
	if (make_socket_directory("control_socket", path, err, errlen) < 0)
		return -1;
	int fd = control_listen(path, own_socket_group(d->cfg), err, errlen);
	if (fd < 0)
		return -1;
	d->commands.pm = d->pm;
	d->commands.probing = d->probing;
	d->commands.exlist = d->exlist;
	d->commands.cfg = (const struct config *const *)&d->cfg;
	if (!(d->control = control_create(d->base, fd, commands_handle, &d->commands))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Forks into the background. The process that was started waits for the
 * daemon to report over a pipe that it is ready, or why it failed, and
 * exits with that status: a start-up error is never hidden behind exit 0.
 * Returns the pipe's write end for the daemon, or -1 with err. */
static int
daemonize(char *err, size_t errlen)
{
	int report[2];
	pid_t pid;

	if (pipe2(report, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		snprintf(err, errlen, "cannot start in the background: %s", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		char msg[1025];
		close(report[1]);
		ssize_t n = read(report[0], msg, sizeof(msg) - 1);
		if (n <= 0) {
			fprintf(stderr, "tlspolicyd: the daemon died while starting; see the mail log\n");
			_exit(EX_SOFTWARE);
		}
		msg[n] = '\0';
		if (msg[0] != 0)
			fprintf(stderr, "tlspolicyd: %s\n", msg + 1);
		_exit((unsigned char)msg[0]);
	}
	close(report[0]);
	setsid();
	if ((pid = fork()) < 0)
		_exit(EX_OSERR);	/* the waiting parent reports it */
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0) {
		dprintf(report[1], "%cchdir /: %s", EX_OSERR, strerror(errno));
		_exit(EX_OSERR);
	}
	int fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return report[1];
}

/* A unix listener is made with mode 0660 and handed to listen_group before
 * it appears at its path (endpoint.h), so there is no moment when another
 * user could connect, and the owner of its directory cannot aim the
 * ownership change elsewhere; an empty listen_group opens it to everyone. */
static int
open_unix_to_group(const struct endpoint *ep, const char *group, char *err, size_t errlen)
{
	struct endpoint_unix_access access = {.mode = 0666, .gid = -1};
	struct group *gr = NULL;

	if (group[0] && !(gr = getgrnam(group))) {
		snprintf(err, errlen, "%s: listen_group %s: no such group", ep->text, group);
		return -1;
	}
	if (gr) {
		access.mode = 0660;
		access.gid = (long)gr->gr_gid;
	}
	int fd = endpoint_listen_unix(ep, SOMAXCONN, &access, err, errlen);
	if (fd < 0 && gr && errno == EPERM) {
		size_t n = strlen(err);
		snprintf(err + n, errlen - n, " (the daemon must start as root or be a member of %s: under "
		    "systemd, SupplementaryGroups=%s)", group, group);
	}
	return fd;
}

/* The socketmap listeners: those of listen, then those of status_listen
 * (flagged in status). A unix status socket is, like the control socket,
 * for root and the daemon's group (tlspolicy-milter runs as the daemon's
 * user), not for listen_group: Postfix has no use for it. */
static int
open_listeners(const struct config *cfg, int *fds, const char **names, bool *status, size_t *n,
    char *err, size_t errlen)
{
	*n = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (char *const *spec = pass ? cfg->status_listen : cfg->listen; *spec; spec++) {
			struct endpoint ep;
			int fd;
			if (endpoint_parse(*spec, &ep, err, errlen) < 0)
				return -1;
			if (!ep.is_unix) {
				fd = endpoint_listen(&ep, SOMAXCONN, err, errlen);
			} else if (!pass) {
				fd = open_unix_to_group(&ep, cfg->listen_group, err, errlen);
			} else {
				struct endpoint_unix_access access = {.mode = 0660, .gid = own_socket_group(cfg)};
				fd = make_socket_directory("status_listen", *spec + 5, err, errlen) < 0 ? -1
				    : endpoint_listen_unix(&ep, SOMAXCONN, &access, err, errlen);
			}
			if (fd < 0)
				return -1;
			fds[*n] = fd;
			names[*n] = *spec;
			status[*n] = pass == 1;
			(*n)++;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct daemon d = {.config_path = CONFIG_DEFAULT_PATH, .report_fd = -1};
	bool foreground = false, explicit_config = false;
	char err[1024], note[256];
	struct buf errors;
	int opt;

	while ((opt = getopt(argc, argv, "c:fhV")) != -1) {
		switch (opt) {
		case 'c': d.config_path = optarg; explicit_config = true; break;
		case 'f': foreground = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("tlspolicyd %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}
	buf_init(&errors);
	bool defaults = !explicit_config && access(d.config_path, F_OK) < 0 && errno == ENOENT;
	d.cfg = defaults ? config_defaults() : config_load(d.config_path, &errors);
	if (!d.cfg) {
		fprintf(stderr, "tlspolicyd: configuration rejected:\n%s", buf_ptr(&errors));
		buf_free(&errors);
		return EX_CONFIG;
	}
	buf_free(&errors);
	d.boot_cfg = config_ref(d.cfg);
	d.log = foreground ? log_create_stderr(d.cfg->log_level)
	    : log_create_syslog("tlspolicyd", d.cfg->syslog_facility, d.cfg->log_level);
	if (!d.log)
		return start_failed(&d, EX_OSERR, "out of memory");
	signal(SIGPIPE, SIG_IGN);

	int fds[2 * CONFIG_MAX_LISTEN];		/* listen and status_listen */
	const char *names[2 * CONFIG_MAX_LISTEN];
	bool is_status[2 * CONFIG_MAX_LISTEN];
	size_t nfds;
	/* Under systemd the service's process is this one: no fork, and its
	 * standard error is the journal, which has the syslog lines already. */
	bool background = !foreground && !getenv("NOTIFY_SOCKET");
	d.tell_terminal = background;
	if (background && strcmp(d.cfg->maillog_file, "-") == 0)
		return start_failed(&d, EX_CONFIG, "maillog_file = - reads standard input, which a daemon that "
		    "detaches closes: run tlspolicyd -f with Postfix's log piped in");
	if (open_listeners(d.cfg, fds, names, is_status, &nfds, err, sizeof(err)) < 0)
		return start_failed(&d, EX_UNAVAILABLE, "cannot listen: %s", err);
	/* The fork comes before libunbound starts its thread, which a fork
	 * would lose. From here the waiting parent reports errors. */
	if (background && (d.report_fd = daemonize(err, sizeof(err))) < 0)
		return start_failed(&d, EX_OSERR, "%s", err);
	d.tell_terminal = false;
	raise_fd_limit(d.log, d.cfg->max_connections);

	struct event_config *ecfg = event_config_new();
	d.base = ecfg ? event_base_new_with_config(ecfg) : NULL;
	event_config_free(ecfg);
	if (!d.base || event_base_priority_init(d.base, 3) < 0)
		return start_failed(&d, EX_OSERR, "cannot create the event loop");
	/* Log batches go out after everything else ready in a loop turn. */
	d.flush = event_new(d.base, -1, 0, on_flush, d.log);
	if (!d.flush)
		return start_failed(&d, EX_OSERR, "out of memory");
	event_priority_set(d.flush, 2);
	log_set_wakeup(d.log, wake_flush, d.flush);

	prepare_state_directory(&d);
	char tracking[PATH_MAX] = "";
	if (d.cfg->trust_anchor_tracking && prepare_tracking_file(&d, tracking, sizeof(tracking), err, sizeof(err)) < 0)
		return start_failed(&d, EX_CONFIG, "trust_anchor_tracking: %s", err);
	struct dns_unbound_settings dns_settings = {
		.trust_anchor_file = d.cfg->trust_anchor_file,
		.tracking_file = tracking,
		.unbound_config = d.cfg->unbound_config,
		.timeout_ms = d.cfg->dns_timeout_ms,
	};
	if (!(d.dns = dns_unbound_create(d.base, &dns_settings, err, sizeof(err))))
		return start_failed(&d, EX_CONFIG, "resolver: %s", err);
	unsigned char seed[16];
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		return start_failed(&d, EX_OSERR, "getrandom: %s", strerror(errno));
	if (!(d.pm = policymap_create(d.dns, d.cfg, seed, monotonic_ms, NULL)))
		return start_failed(&d, EX_OSERR, "out of memory");
	policymap_set_observer(d.pm, on_resolution, &d);
	struct alert_settings as = alert_settings(d.cfg);
	struct timeval reap_every = {2, 0};
	if (!(d.alerter = alerter_create(d.log, &as)) ||
	    !(d.sigchld = evsignal_new(d.base, SIGCHLD, on_reap, &d)) || evsignal_add(d.sigchld, NULL) < 0 ||
	    !(d.reap_timer = event_new(d.base, -1, EV_PERSIST, on_reap, &d)) || event_add(d.reap_timer, &reap_every) < 0)
		return start_failed(&d, EX_OSERR, "cannot set up alerts");
	if (!(d.probing = probing_create(d.base, d.log, d.pm, d.alerter, d.cfg, err, sizeof(err))))
		return start_failed(&d, EX_CONFIG, "probes: %s", err);
	buf_init(&errors);
	if (!(d.exlist = exlist_create(d.base, d.log, d.pm, d.alerter, d.cfg, &errors))) {
		log_config_errors(d.log, LOGL_ERROR, &errors);
		int status = start_failed(&d, EX_CONFIG, "exceptions_file %s has errors (each logged)",
		    d.cfg->exceptions_file);
		buf_free(&errors);
		return status;
	}
	buf_free(&errors);
	probing_set_news(d.probing, exlist_news, d.exlist);
	if (open_control(&d, err, sizeof(err)) < 0)
		return start_failed(&d, EX_UNAVAILABLE, "%s", err);
	if (d.cfg->metrics_listen[0] &&
	    !(d.metrics = metrics_http_create(d.base, d.cfg->metrics_listen, d.cfg->request_timeout_ms,
	    collect_metrics, &d, err, sizeof(err))))
		return start_failed(&d, EX_UNAVAILABLE, "%s", err);
	if (privdrop(d.cfg->user, note, sizeof(note), err, sizeof(err)) < 0)
		return start_failed(&d, EX_NOUSER, "%s", err);
	if (note[0])
		log_event(d.log, LOGL_NOTICE, "privileges", "reason", note, NULL);
	/* The state files are the user's: read as the user (root may lack
	 * CAP_DAC_OVERRIDE), before the first request is read. */
	if (!(d.cachesave = cachesave_create(d.base, d.log, d.pm, d.cfg)))
		return start_failed(&d, EX_OSERR, "out of memory");
	probing_load_history(d.probing);
	/* As the user that will have to read it again after each rotation. */
	if (!(d.maillog = maillog_create(d.base, d.log, d.alerter, d.cfg, err, sizeof(err))))
		return start_failed(&d, EX_NOINPUT, "%s", err);
	d.commands.maillog = d.maillog;
	exlist_set_evidence(d.exlist, maillog_evidence, d.maillog);
	/* As the user too: libunbound's first look at the anchor's keys may
	 * rewrite a tracked anchor file (trust_anchor_tracking). */
	if (first_trust_check(&d) < 0)
		return start_failed(&d, EX_OSERR, "cannot run the trust check");
	if (d.trust_refusal[0])
		return start_failed(&d, EX_CONFIG, "%s", d.trust_refusal);
	/* Only now are requests read: none was answered before the resolver
	 * was judged. */
	if (!(d.srv = server_create(d.base, d.log, d.pm, d.cfg, fds, names, is_status, nfds)))
		return start_failed(&d, EX_OSERR, "out of memory");
	server_set_probe_view(d.srv, probing_all_mismatch, d.probing);
	const char *running_as = !d.cfg->user[0] ? "(unchanged)" : note[0] ? "(unchanged: not root)" : d.cfg->user;

	d.sighup = evsignal_new(d.base, SIGHUP, on_signal, &d);
	d.sigterm = evsignal_new(d.base, SIGTERM, on_signal, &d);
	d.sigint = evsignal_new(d.base, SIGINT, on_signal, &d);
	if (!d.sighup || !d.sigterm || !d.sigint || evsignal_add(d.sighup, NULL) < 0 ||
	    evsignal_add(d.sigterm, NULL) < 0 || evsignal_add(d.sigint, NULL) < 0)
		return start_failed(&d, EX_OSERR, "cannot handle signals");

	if (!(d.adcheck_timer = evtimer_new(d.base, on_adcheck_timer, &d)))
		return start_failed(&d, EX_OSERR, "out of memory");
	if (d.cfg->resolver_check_interval_ms)
		start_resolver_check(&d);

	struct buf listening, status_listening;
	buf_init(&listening);
	buf_init(&status_listening);
	for (size_t i = 0; i < nfds; i++) {
		struct buf *b = is_status[i] ? &status_listening : &listening;
		buf_printf(b, "%s%s", buf_size(b) ? "," : "", names[i]);
	}
	log_event(d.log, LOGL_NOTICE, "start", "version", PACKAGE_VERSION,
	    "config", defaults ? "(built-in defaults)" : d.config_path, "listen", buf_ptr(&listening),
	    "status_listen", buf_ptr(&status_listening), "user", running_as, NULL);
	buf_free(&listening);
	buf_free(&status_listening);
	if (d.report_fd >= 0) {
		dprintf(d.report_fd, "%c", 0);
		close(d.report_fd);
		d.report_fd = -1;
	}
	notify("READY=1");

	event_base_dispatch(d.base);

	log_msg(d.log, LOGL_NOTICE, "event=stopped");
	release(&d, true);
	return 0;
}
