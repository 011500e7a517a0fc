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

#include "util/clock.h"
#include "watch/alert.h"
#include "util/buf.h"
#include "cachesave.h"
#include "commands.h"
#include "control.h"
#include "config/config.h"
#include "dns/dns_unbound.h"
#include "fleet/fleet.h"
#include "exlist.h"
#include "util/kv.h"
#include "util/log.h"
#include "listeners.h"
#include "maillog.h"
#include "report/daemonmetrics.h"
#include "metrics_http.h"
#include "probe/prober.h"
#include "serve/policymap.h"
#include "common/privdrop.h"
#include "probing.h"
#include "dns/resolve.h"
#include "resolvers.h"
#include "dns/rr.h"
#include "sts/sts.h"
#include "util/ownaddr.h"
#include "ownwatch.h"
#include "server.h"
#include "statusview.h"

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
	struct sts *sts;		/* NULL: sts_enable = no */
	struct fleet *fleet;		/* NULL: redis_server empty, the relay alone */
	struct server *srv;
	struct probing *probing;
	struct control *control;
	struct commands commands;
	struct metrics_http *metrics;
	struct statusview *status;		/* the page on metrics_listen */
	struct resolvers *resolvers;		/* the trust check and the AD check */
	struct alerter *alerter;
	struct event *sigchld, *reap_timer;
	struct exlist *exlist;
	struct maillog *maillog;
	struct ownwatch *ownwatch;	/* monitor_domains */
	struct cachesave *cachesave;
	struct daemonmetrics_resolutions resolutions;	/* read by the metrics endpoint */
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
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)clock_monotonic_us());
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
	statusview_free(d->status);
	resolvers_free(d->resolvers);
	free_event(d->sigchld);
	free_event(d->reap_timer);
	control_free(d->control);
	server_free(d->srv);
	probing_free(d->probing);
	exlist_free(d->exlist);
	maillog_free(d->maillog);
	ownwatch_free(d->ownwatch);
	cachesave_free(d->cachesave, stopped);
	policymap_free(d->pm);
	sts_free(d->sts);
	dns_free(d->dns);
	/* Before the fleet: it may hold claims for alerts. */
	alerter_free(d->alerter);
	d->alerter = NULL;
	fleet_free(d->fleet);
	free_event(d->sighup);
	free_event(d->sigterm);
	free_event(d->sigint);
	free_event(d->flush);
	if (d->base)
		event_base_free(d->base);
	config_unref(d->cfg);
	config_unref(d->boot_cfg);
	log_free(d->log);
	memset(d, 0, sizeof(*d));
	d->report_fd = -1;
}

/* MTA-STS with the settings in force; this host's addresses are refused
 * as policy hosts as they are as probe targets. */
static struct sts *
sts_start(struct daemon *d, char *err, size_t errlen)
{
	struct netaddr *own = NULL;
	size_t nown = 0;
	struct sts_settings ss = {
		.fetch = stsfetch_settings_from_config(d->cfg),
		.wait_ms = d->cfg->sts_fetch_timeout_ms,
		.max_domains = d->cfg->sts_max_domains,
	};

	if (ownaddr_load(&own, &nown, err, errlen) < 0)
		return NULL;
	ss.fetch.own = own;
	ss.fetch.nown = nown;
	struct sts *sts = sts_create(d->base, d->dns, d->log, &ss, err, errlen);
	free(own);
	return sts;
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
	return clock_monotonic_ms();
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
		server_set_config(d->srv, cfg);
		metrics_http_set_timeout(d->metrics, cfg->request_timeout_ms);
		policymap_set_config(d->pm, cfg);
		cachesave_set_config(d->cachesave, cfg);
		probing_set_config(d->probing, cfg);
		exlist_reload(d->exlist, cfg);
		maillog_reload(d->maillog, cfg);
		ownwatch_reload(d->ownwatch, cfg);
		struct alert_settings as = alert_settings(cfg);
		alerter_set(d->alerter, &as);
		log_set_level(d->log, cfg->log_level);
		config_unref(d->cfg);
		d->cfg = cfg;
		resolvers_set_config(d->resolvers, cfg);
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
	daemonmetrics_resolved(&d->resolutions, r, elapsed_ms);
	probing_resolved(d->probing, r);
}

/* At debug level, as the lookups behind a fresh answer are. */
static void
on_refresh(void *arg, const char *key, enum policymap_refresh outcome, uint32_t ttl_s)
{
	struct daemon *d = arg;
	struct buf line;

	if (!log_enabled(d->log, LOGL_DEBUG))
		return;
	buf_init(&line);
	kv_str(&line, "event", "refresh");
	kv_str(&line, "dest", key);
	kv_str(&line, "outcome", policymap_refresh_name(outcome));
	kv_uint(&line, "ttl", ttl_s);
	log_line(d->log, LOGL_DEBUG, buf_ptr(&line), buf_size(&line));
	buf_free(&line);
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
alert_kinds(void *arg, daemonmetrics_alert_count *each, void *each_arg)
{
	alerter_each_kind(arg, each, each_arg);
}

/* The Prometheus exposition, read at each scrape: the counters gathered
 * from their owners, written as daemonmetrics.h says. */
static void
collect_metrics(void *arg, struct buf *out)
{
	struct daemon *d = arg;
	struct daemonmetrics m = {
		.metrics_refused = metrics_http_refused(d->metrics),
		.resolutions = &d->resolutions,
		.probes = probing_class_counts(d->probing),
		.exceptions = exlist_count(d->exlist),
		.alerts = alert_kinds,
		.alerts_arg = d->alerter,
	};

	/* A scrape while the start waits for the trust check: no server yet. */
	if (d->srv) {
		server_stats(d->srv, &m.socketmap);
		m.connections = server_connections(d->srv);
	}
	policymap_stats(d->pm, &m.cache);
	if (d->sts)
		sts_stats(d->sts, &m.sts);
	if (probing_prober(d->probing))
		prober_stats(probing_prober(d->probing), &m.prober);
	maillog_totals(d->maillog, &m.maillog, &m.maillog_lines);
	ownwatch_metrics(d->ownwatch, &m);
	if (d->fleet) {
		fleet_stats(d->fleet, &m.fleet);
		m.has_fleet = true;
	}
	daemonmetrics_write(&m, out);
}

/* The socketmap's replies so far, for the status page's last hour. */
static void
reply_totals(void *arg, uint64_t out[STATUSPAGE_RESULTS])
{
	struct daemon *d = arg;
	struct daemonmetrics_socketmap s = {0};

	if (d->srv)
		server_stats(d->srv, &s);
	out[STATUSPAGE_OK] = s.ok;
	out[STATUSPAGE_NOTFOUND] = s.notfound;
	out[STATUSPAGE_TEMP_REPLIES] = s.temp;
	out[STATUSPAGE_PERM] = s.perm;
}

/* "/" and "/status.json": gathered from the modules now. */
static void
collect_status(void *arg, enum metrics_http_page page, struct buf *out)
{
	struct daemon *d = arg;
	struct statusview_sources src = {
		.cfg = d->cfg, .pm = d->pm, .probing = d->probing, .maillog = d->maillog,
		.exlist = d->exlist, .alerter = d->alerter, .resolvers = d->resolvers,
	};

	statusview_render(d->status, &src, page == METRICS_HTTP_STATUS_JSON, out);
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

/* The control socket, for root and the daemon's group: bound as root. */
static int
open_control(struct daemon *d, char *err, size_t errlen)
{
	const char *path = d->cfg->control_socket;

	if (!path[0])
		return 0;
	int fd = listeners_open_control(d->cfg, err, errlen);
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
	if (listeners_open(d.cfg, fds, names, is_status, &nfds, err, sizeof(err)) < 0)
		return start_failed(&d, EX_UNAVAILABLE, "cannot listen: %s", err);
	/* The fork comes before libunbound starts its thread, which a fork
	 * would lose. From here the waiting parent reports errors. */
	if (background && (d.report_fd = daemonize(err, sizeof(err))) < 0)
		return start_failed(&d, EX_OSERR, "%s", err);
	d.tell_terminal = false;
	raise_fd_limit(d.log, d.cfg->max_connections);
	/* Before any thread: libunbound's, the probes', the state writer's. */
	/* Always: the monitor checks MTA-STS too, and a reload may start it. */
	if (stsfetch_global_init(err, sizeof(err)) < 0)
		return start_failed(&d, EX_OSERR, "MTA-STS: %s", err);

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
	policymap_set_refresh_hook(d.pm, on_refresh, &d);
	/* The secret is read as root: its file need not be the user's. */
	if (!(d.fleet = fleet_from_config(d.base, d.log, d.cfg, err, sizeof(err))) && err[0])
		return start_failed(&d, EX_CONFIG, "fleet: %s", err);
	d.commands.fleet = d.fleet;
	policymap_set_fleet(d.pm, d.fleet);
	if (d.cfg->sts_enable) {
		if (!(d.sts = sts_start(&d, err, sizeof(err))))
			return start_failed(&d, EX_CONFIG, "MTA-STS: %s", err);
		sts_set_fleet(d.sts, d.fleet);
		policymap_set_sts(d.pm, d.sts);
	}
	struct alert_settings as = alert_settings(d.cfg);
	struct timeval reap_every = {2, 0};
	if (!(d.alerter = alerter_create(d.log, &as)) ||
	    !(d.sigchld = evsignal_new(d.base, SIGCHLD, on_reap, &d)) || evsignal_add(d.sigchld, NULL) < 0 ||
	    !(d.reap_timer = event_new(d.base, -1, EV_PERSIST, on_reap, &d)) || event_add(d.reap_timer, &reap_every) < 0)
		return start_failed(&d, EX_OSERR, "cannot set up alerts");
	/* One alert per destination and kind for the fleet (NULL: alone). */
	alerter_set_fleet(d.alerter, d.fleet);
	if (!(d.probing = probing_create(d.base, d.log, d.pm, d.alerter, d.cfg, err, sizeof(err))))
		return start_failed(&d, EX_CONFIG, "probes: %s", err);
	probing_set_fleet(d.probing, d.fleet);
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
	if (exlist_set_fleet(d.exlist, d.fleet) < 0)
		return start_failed(&d, EX_OSERR, "out of memory");
	if (open_control(&d, err, sizeof(err)) < 0)
		return start_failed(&d, EX_UNAVAILABLE, "%s", err);
	if (d.cfg->metrics_listen[0] &&
	    !(d.metrics = metrics_http_create(d.base, d.cfg->metrics_listen, d.cfg->request_timeout_ms,
	    collect_metrics, &d, err, sizeof(err))))
		return start_failed(&d, EX_UNAVAILABLE, "%s", err);
	if (d.metrics) {
		if (!(d.status = statusview_create(d.base, reply_totals, &d)))
			return start_failed(&d, EX_OSERR, "out of memory");
		metrics_http_set_status(d.metrics, collect_status, &d);
	}
	if (privdrop(d.cfg->user, note, sizeof(note), err, sizeof(err)) < 0)
		return start_failed(&d, EX_NOUSER, "%s", err);
	if (note[0])
		log_event(d.log, LOGL_NOTICE, "privileges", "reason", note, NULL);
	/* The state files are the user's: read as the user (root may lack
	 * CAP_DAC_OVERRIDE), before the first request is read. */
	if (!(d.cachesave = cachesave_create(d.base, d.log, d.pm, d.sts, d.cfg)))
		return start_failed(&d, EX_OSERR, "out of memory");
	probing_load_history(d.probing);
	/* As the user that will have to read it again after each rotation. */
	if (!(d.maillog = maillog_create(d.base, d.log, d.alerter, d.cfg, err, sizeof(err))))
		return start_failed(&d, EX_NOINPUT, "%s", err);
	d.commands.maillog = d.maillog;
	if (maillog_set_fleet(d.maillog, d.fleet) < 0)
		return start_failed(&d, EX_OSERR, "out of memory");
	exlist_set_evidence(d.exlist, maillog_evidence, d.maillog);
	/* Probes as the user, like every other. */
	if (!(d.ownwatch = ownwatch_create(d.base, d.log, d.dns, d.alerter, d.cfg, err, sizeof(err))))
		return start_failed(&d, EX_OSERR, "monitor_domains: %s", err);
	/* As the user too: libunbound's first look at the anchor's keys may
	 * rewrite a tracked anchor file (trust_anchor_tracking). */
	char refusal[1024];
	if (!(d.resolvers = resolvers_create(d.base, d.log, d.dns, d.pm, d.alerter, d.cfg)) ||
	    resolvers_first_trust_check(d.resolvers, refusal, sizeof(refusal)) < 0)
		return start_failed(&d, EX_OSERR, "cannot run the trust check");
	if (refusal[0])
		return start_failed(&d, EX_CONFIG, "%s", refusal);
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

	resolvers_start_ad_check(d.resolvers);

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
