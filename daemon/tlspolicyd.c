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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "buf.h"
#include "config.h"
#include "dns_unbound.h"
#include "endpoint.h"
#include "log.h"
#include "policymap.h"
#include "privdrop.h"
#include "server.h"

struct daemon {
	const char *config_path;
	struct config *cfg;
	struct log *log;
	struct event_base *base;
	struct dns *dns;
	struct policymap *pm;
	struct server *srv;
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
		log_msg(log, level, "event=config-error error=\"%.*s\"", (int)n, p);
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

static void
reload(struct daemon *d)
{
	struct buf errors, names;

	notify("RELOADING=1");
	buf_init(&errors);
	buf_init(&names);
	struct config *cfg = config_load(d->config_path, &errors);
	if (!cfg) {
		log_config_errors(d->log, LOGL_ERROR, &errors);
		log_msg(d->log, LOGL_ERROR, "event=reload result=rejected file=%s "
		    "reason=\"configuration has errors; the previous one stays in force\"", d->config_path);
	} else {
		if (config_restart_needed(d->cfg, cfg, &names))
			log_msg(d->log, LOGL_WARNING, "event=reload settings=\"%s\" "
			    "reason=\"changed settings take effect only after a restart\"", buf_ptr(&names));
		server_set_config(d->srv, cfg);
		policymap_set_config(d->pm, cfg);
		log_set_level(d->log, cfg->log_level);
		config_unref(d->cfg);
		d->cfg = cfg;
		log_msg(d->log, LOGL_NOTICE, "event=reload result=ok file=%s", d->config_path);
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
	/* Answers under way get until the DNS time limit, and a second more. */
	server_drain(d->srv, d->cfg->dns_timeout_ms + 1000, on_drained, d);
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
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < want)
		log_msg(log, LOGL_WARNING, "event=fd-limit limit=%lu max_connections=%u "
		    "reason=\"descriptor limit below max_connections; raise LimitNOFILE or ulimit -n\"",
		    (unsigned long)rl.rlim_cur, max_connections);
}

static int
daemonize(char *err, size_t errlen)
{
	pid_t pid = fork();

	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0)
		_exit(0);
	setsid();
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0) {
		snprintf(err, errlen, "chdir /: %s", strerror(errno));
		return -1;
	}
	int fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return 0;
}

static int
open_listeners(const struct config *cfg, int *fds, const char **names, size_t *n, char *err, size_t errlen)
{
	*n = 0;
	for (char *const *spec = cfg->listen; *spec; spec++) {
		struct endpoint ep;
		if (endpoint_parse(*spec, &ep, err, errlen) < 0)
			return -1;
		int fd = endpoint_listen(&ep, SOMAXCONN, err, errlen);
		if (fd < 0)
			return -1;
		/* Postfix's smtp processes run as another user; issue #6 narrows
		 * this to the postfix group. */
		if (ep.is_unix)
			chmod(*spec + 5, 0666);
		fds[*n] = fd;
		names[*n] = *spec;
		(*n)++;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct daemon d = {.config_path = CONFIG_DEFAULT_PATH};
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
		return EX_CONFIG;
	}
	buf_free(&errors);
	d.log = foreground ? log_create_stderr(d.cfg->log_level)
	    : log_create_syslog("tlspolicyd", d.cfg->syslog_facility, d.cfg->log_level);
	if (!d.log) {
		fprintf(stderr, "tlspolicyd: out of memory\n");
		return EX_OSERR;
	}
	signal(SIGPIPE, SIG_IGN);

	int fds[64];
	const char *names[64];
	size_t nfds;
	size_t nlisten = 0;
	while (d.cfg->listen[nlisten])
		nlisten++;
	if (nlisten > 64) {
		log_msg(d.log, LOGL_ERROR, "event=fatal reason=\"more than 64 listeners\"");
		return EX_CONFIG;
	}
	if (open_listeners(d.cfg, fds, names, &nfds, err, sizeof(err)) < 0) {
		log_msg(d.log, LOGL_ERROR, "event=fatal reason=\"cannot listen: %s\"", err);
		if (!foreground)
			fprintf(stderr, "tlspolicyd: cannot listen: %s\n", err);
		return EX_UNAVAILABLE;
	}
	/* Under systemd (Type=notify) the service's process is this one. */
	if (!foreground && !getenv("NOTIFY_SOCKET") && daemonize(err, sizeof(err)) < 0) {
		log_msg(d.log, LOGL_ERROR, "event=fatal reason=\"%s\"", err);
		return EX_OSERR;
	}
	raise_fd_limit(d.log, d.cfg->max_connections);

	struct event_config *ecfg = event_config_new();
	d.base = ecfg ? event_base_new_with_config(ecfg) : NULL;
	event_config_free(ecfg);
	if (!d.base || event_base_priority_init(d.base, 3) < 0) {
		log_msg(d.log, LOGL_ERROR, "event=fatal reason=\"cannot create the event loop\"");
		return EX_OSERR;
	}
	/* Log batches go out after everything else ready in a loop turn. */
	d.flush = event_new(d.base, -1, 0, on_flush, d.log);
	event_priority_set(d.flush, 2);
	log_set_wakeup(d.log, wake_flush, d.flush);

	struct dns_unbound_settings dns_settings = {
		.trust_anchor_file = d.cfg->trust_anchor_file,
		.unbound_config = d.cfg->unbound_config,
		.timeout_ms = d.cfg->dns_timeout_ms,
	};
	if (!(d.dns = dns_unbound_create(d.base, &dns_settings, err, sizeof(err)))) {
		log_msg(d.log, LOGL_ERROR, "event=fatal reason=\"resolver: %s\"", err);
		return EX_CONFIG;
	}
	unsigned char seed[16];
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
		log_msg(d.log, LOGL_ERROR, "event=fatal reason=\"getrandom: %s\"", strerror(errno));
		return EX_OSERR;
	}
	d.pm = policymap_create(d.dns, d.cfg, seed, monotonic_ms, NULL);
	d.srv = d.pm ? server_create(d.base, d.log, d.pm, d.cfg, fds, names, nfds) : NULL;
	if (!d.srv) {
		log_msg(d.log, LOGL_ERROR, "event=fatal reason=\"out of memory\"");
		return EX_OSERR;
	}
	if (privdrop(d.cfg->user, note, sizeof(note), err, sizeof(err)) < 0) {
		log_msg(d.log, LOGL_ERROR, "event=fatal reason=\"%s\"", err);
		return EX_NOUSER;
	}
	if (note[0])
		log_msg(d.log, LOGL_NOTICE, "event=privileges reason=\"%s\"", note);

	d.sighup = evsignal_new(d.base, SIGHUP, on_signal, &d);
	d.sigterm = evsignal_new(d.base, SIGTERM, on_signal, &d);
	d.sigint = evsignal_new(d.base, SIGINT, on_signal, &d);
	if (!d.sighup || !d.sigterm || !d.sigint || evsignal_add(d.sighup, NULL) < 0 ||
	    evsignal_add(d.sigterm, NULL) < 0 || evsignal_add(d.sigint, NULL) < 0) {
		log_msg(d.log, LOGL_ERROR, "event=fatal reason=\"cannot handle signals\"");
		return EX_OSERR;
	}

	struct buf listening;
	buf_init(&listening);
	for (size_t i = 0; i < nfds; i++)
		buf_printf(&listening, "%s%s", i ? "," : "", names[i]);
	log_msg(d.log, LOGL_NOTICE, "event=start version=%s config=%s listen=%s user=%s", PACKAGE_VERSION,
	    defaults ? "(built-in defaults)" : d.config_path, buf_ptr(&listening), d.cfg->user[0] ? d.cfg->user : "(unchanged)");
	buf_free(&listening);
	notify("READY=1");

	event_base_dispatch(d.base);

	log_msg(d.log, LOGL_NOTICE, "event=stopped");
	server_free(d.srv);
	policymap_free(d.pm);
	dns_free(d.dns);
	event_free(d.sighup);
	event_free(d.sigterm);
	event_free(d.sigint);
	event_free(d.flush);
	event_base_free(d.base);
	config_unref(d.cfg);
	log_free(d.log);
	return 0;
}
