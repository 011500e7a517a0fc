/*
 * tlspolicy-milter - the submission server asks, at RCPT TO, what security
 * each recipient's domain will get, through the daemon's status map; it
 * refuses recipients whose delivery would only be deferred on broken DANE
 * (milter_on_dane_failure), and recipients that a sender who must send
 * securely cannot reach securely (milter_require_secure_senders); it can
 * add a header naming the security of every recipient domain, after
 * removing every X-TLS-Policy header the message came with (a sender's
 * own would be taken for ours further on).
 *
 * The question warms the daemon's cache and starts its probes, so the
 * answer is ready when the queue manager delivers. The daemon's trouble
 * (down, slow, TEMP) never blocks mail, except a listed secure sender's:
 * the recipient is accepted and the reason logged. See tlspolicy-milter(8).
 *
 * libmilter calls back on its own threads with no argument of ours, so
 * the settings live in one static structure set before smfi_main(); each
 * thread has its own connection to the daemon.
 */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "util/buf.h"
#include "util/clock.h"
#include "config/config.h"
#include "util/endpoint.h"
#include "util/kv.h"
#include "util/log.h"
#include "postfix/mapclient.h"
#include "common/privdrop.h"
#include "serve/rcptpolicy.h"
#include "serve/status.h"

#define HEADER_NAME "X-TLS-Policy"

static struct {
	struct config *cfg;
	struct log *log;
	pthread_mutex_t log_lock;	/* struct log is not thread-safe */
	struct endpoint daemon;
	pthread_key_t client_key;	/* each thread's struct mapclient */
} milter = {.log_lock = PTHREAD_MUTEX_INITIALIZER};

/* One SMTP session; its message state starts again at each MAIL FROM. */
struct session {
	char sender[512];
	bool secure_sender;
	struct buf header;	/* "domain=security, ..." for this message */
	int forged;		/* X-TLS-Policy headers the message brought */
};

static void
log_buf(int level, struct buf *line)
{
	pthread_mutex_lock(&milter.log_lock);
	log_line(milter.log, level, buf_ptr(line), buf_size(line));
	log_flush(milter.log);
	pthread_mutex_unlock(&milter.log_lock);
}

static void
free_client(void *mc)
{
	mapclient_free(mc);
}

static struct mapclient *
thread_client(void)
{
	struct mapclient *mc = pthread_getspecific(milter.client_key);

	if (!mc && (mc = mapclient_create(&milter.daemon)))
		pthread_setspecific(milter.client_key, mc);
	return mc;
}

/* The daemon's status for a domain: 0 with *st, or -1 with why in err. */
static int
ask_daemon(const char *domain, struct status *st, char *err, size_t errlen)
{
	struct mapclient *mc = thread_client();
	enum socketmap_status sms;
	struct buf text;
	const char *why;
	int rc = -1;

	if (!mc) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	buf_init(&text);
	if (mapclient_query(mc, STATUS_MAP_NAME, domain, milter.cfg->milter_lookup_timeout_ms, &sms, &text,
	    err, errlen) != MAPCLIENT_OK)
		goto out;
	if (sms != SOCKETMAP_OK) {
		snprintf(err, errlen, "%s: %s %s", milter.daemon.text, socketmap_status_name(sms), buf_ptr(&text));
		goto out;
	}
	if (status_parse(buf_ptr(&text), buf_size(&text), st, &why) < 0) {
		snprintf(err, errlen, "%s: unreadable status reply (%s): %.200s", milter.daemon.text, why,
		    buf_ptr(&text));
		goto out;
	}
	rc = 0;
out:
	buf_free(&text);
	return rc;
}

static const char *
action_name(enum rcptpolicy_action a)
{
	return a == RCPTPOLICY_ACCEPT ? "accept" : a == RCPTPOLICY_TEMPFAIL ? "tempfail" : "reject";
}

static void
log_rcpt(SMFICTX *ctx, const struct session *s, const char *rcpt, const char *domain,
    const struct status *st, const struct rcptpolicy_verdict *v, const char *error, uint64_t usec)
{
	struct buf line;
	const char *queue_id = smfi_getsymval(ctx, "i");

	/* An answer the daemon could not give is worth a warning; a refusal
	 * is news for the administrator; the rest is routine. */
	int level = error ? LOGL_WARNING : v->action != RCPTPOLICY_ACCEPT ? LOGL_NOTICE : LOGL_INFO;
	if (!log_enabled(milter.log, level))
		return;
	buf_init(&line);
	kv_str(&line, "event", "rcpt");
	if (queue_id)
		kv_str(&line, "queue_id", queue_id);
	kv_str(&line, "sender", s->sender);
	kv_str(&line, "rcpt", rcpt);
	kv_str(&line, "dest", domain);
	kv_str(&line, "security", v->security);
	if (st) {
		kv_str(&line, "failure", status_failure_name(st->failure));
		kv_str(&line, "cache", st->cache);
	}
	kv_str(&line, "action", action_name(v->action));
	kv_str(&line, "why", v->why);
	if (error)
		kv_str(&line, "error", error);
	else if (st && st->reason[0])
		kv_str(&line, "reason", st->reason);
	if (v->action != RCPTPOLICY_ACCEPT) {
		char reply[600];
		snprintf(reply, sizeof(reply), "%s %s %s", v->rcode, v->xcode, v->text);
		kv_str(&line, "reply", reply);
	}
	kv_ms(&line, "duration_ms", usec);
	log_buf(level, &line);
	buf_free(&line);
}

static struct session *
session_of(SMFICTX *ctx)
{
	struct session *s = smfi_getpriv(ctx);

	if (!s && (s = calloc(1, sizeof(*s)))) {
		buf_init(&s->header);
		smfi_setpriv(ctx, s);
	}
	return s;
}

static void
message_done(struct session *s)
{
	s->sender[0] = '\0';
	s->secure_sender = false;
	buf_reset(&s->header);
	s->forged = 0;
}

static sfsistat
on_envfrom(SMFICTX *ctx, char **argv)
{
	struct session *s = session_of(ctx);

	if (!s)
		return SMFIS_CONTINUE;	/* no memory: nothing to remember, accept */
	message_done(s);
	snprintf(s->sender, sizeof(s->sender), "%s", argv[0] ? argv[0] : "");
	s->secure_sender = rcptpolicy_sender_listed(milter.cfg->milter_require_secure_senders, s->sender);
	return SMFIS_CONTINUE;
}

static sfsistat
on_envrcpt(SMFICTX *ctx, char **argv)
{
	struct session *s = session_of(ctx);
	const char *rcpt = argv[0] ? argv[0] : "";
	char domain[256], err[600];
	struct status st;
	struct rcptpolicy_verdict v;

	if (!s || rcptpolicy_domain(rcpt, domain, sizeof(domain)) < 0)
		return SMFIS_CONTINUE;	/* a local name: no destination to ask about */
	uint64_t started = clock_monotonic_us();
	bool answered = ask_daemon(domain, &st, err, sizeof(err)) == 0;
	rcptpolicy_decide(milter.cfg, s->secure_sender, domain, answered ? &st : NULL, &v);
	log_rcpt(ctx, s, rcpt, domain, answered ? &st : NULL, &v, answered ? NULL : err, clock_monotonic_us() - started);
	if (v.action != RCPTPOLICY_ACCEPT) {
		char rcode[4], xcode[8];
		snprintf(rcode, sizeof(rcode), "%s", v.rcode);
		snprintf(xcode, sizeof(xcode), "%s", v.xcode);
		smfi_setreply(ctx, rcode, xcode, v.text);
		return v.action == RCPTPOLICY_TEMPFAIL ? SMFIS_TEMPFAIL : SMFIS_REJECT;
	}
	if (milter.cfg->milter_add_header)
		rcptpolicy_header_add(&s->header, domain, v.security);
	return SMFIS_CONTINUE;
}

/* Counts the headers that carry our name: the sender's, to be removed. */
static sfsistat
on_header(SMFICTX *ctx, char *name, char *value)
{
	struct session *s = smfi_getpriv(ctx);

	if (s && name && strcasecmp(name, HEADER_NAME) == 0 && s->forged < INT_MAX)
		s->forged++;
	return SMFIS_CONTINUE;
}

static void
log_header_error(const char *reason)
{
	struct buf line;

	buf_init(&line);
	kv_str(&line, "event", "error");
	kv_str(&line, "reason", reason);
	log_buf(LOGL_WARNING, &line);
	buf_free(&line);
}

static sfsistat
on_eom(SMFICTX *ctx)
{
	struct session *s = smfi_getpriv(ctx);
	char name[] = HEADER_NAME;

	if (s && milter.cfg->milter_add_header) {
		/* Whatever the sender wrote under our name goes, even when we
		 * add nothing (no recipient domain): only ours may be read as
		 * ours. Last first, so that no removal renumbers the next. */
		for (int i = s->forged; i > 0; i--)
			if (smfi_chgheader(ctx, name, i, NULL) != MI_SUCCESS) {
				log_header_error("could not remove an " HEADER_NAME " header the sender supplied");
				break;
			}
		char *value = buf_size(&s->header) > 0 ? strndup(buf_ptr(&s->header), buf_size(&s->header)) : NULL;
		if (value && smfi_addheader(ctx, name, value) != MI_SUCCESS)
			log_header_error("could not add the " HEADER_NAME " header");
		free(value);
	}
	if (s)
		message_done(s);
	return SMFIS_CONTINUE;
}

static sfsistat
on_abort(SMFICTX *ctx)
{
	struct session *s = smfi_getpriv(ctx);

	if (s)
		message_done(s);
	return SMFIS_CONTINUE;
}

static sfsistat
on_close(SMFICTX *ctx)
{
	struct session *s = smfi_getpriv(ctx);

	if (s) {
		buf_free(&s->header);
		free(s);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

/* Our endpoint syntax in libmilter's: inet:ADDR:PORT is inet:PORT@ADDR. */
static int
milter_socket_spec(const char *spec, char *out, size_t size, char *err, size_t errlen)
{
	struct endpoint ep;

	if (endpoint_parse(spec, &ep, err, errlen) < 0)
		return -1;
	if (ep.is_unix) {
		snprintf(out, size, "%s", spec);
		return 0;
	}
	const char *colon = strrchr(spec + 5, ':');
	const char *host = spec + 5;
	size_t hlen = (size_t)(colon - host);
	if (hlen >= 2 && host[0] == '[') {
		snprintf(out, size, "inet6:%s@%.*s", colon + 1, (int)(hlen - 2), host + 1);
		return 0;
	}
	if (hlen == 9 && strncmp(host, "localhost", 9) == 0)
		host = "127.0.0.1", hlen = 9;
	snprintf(out, size, "inet:%s@%.*s", colon + 1, (int)hlen, host);
	return 0;
}

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: tlspolicy-milter [-f] [-c FILE]\n"
	    "  -c FILE  configuration file (default " CONFIG_DEFAULT_PATH ")\n"
	    "  -f       stay in the foreground and log to standard error\n"
	    "  -V       print the version and exit\n"
	    "See tlspolicy-milter(8) and tlspolicyd.conf(5).\n");
}

static int
fatal(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fatal(int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (milter.log) {
		log_event(milter.log, LOGL_ERROR, "start-failed", "reason", msg, NULL);
		log_free(milter.log);
	}
	fprintf(stderr, "tlspolicy-milter: %s\n", msg);
	if (milter.cfg)
		config_unref(milter.cfg);
	return status;
}

int
main(int argc, char **argv)
{
	const char *config_path = CONFIG_DEFAULT_PATH;
	bool foreground = false, explicit_config = false;
	char err[1024], note[256], spec[300];
	struct buf errors;
	int opt;

	while ((opt = getopt(argc, argv, "c:fhV")) != -1) {
		switch (opt) {
		case 'c': config_path = optarg; explicit_config = true; break;
		case 'f': foreground = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("tlspolicy-milter %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}
	buf_init(&errors);
	bool defaults = !explicit_config && access(config_path, F_OK) < 0 && errno == ENOENT;
	milter.cfg = defaults ? config_defaults() : config_load(config_path, &errors);
	if (!milter.cfg) {
		fprintf(stderr, "tlspolicy-milter: configuration rejected:\n%s", buf_ptr(&errors));
		buf_free(&errors);
		return EX_CONFIG;
	}
	buf_free(&errors);
	milter.log = foreground ? log_create_stderr(milter.cfg->log_level)
	    : log_create_syslog("tlspolicy-milter", milter.cfg->syslog_facility, milter.cfg->log_level);
	if (!milter.log)
		return fatal(EX_OSERR, "out of memory");

	/* The status map is answered only on the daemon's status listeners. */
	const char *daemon_spec = milter.cfg->milter_socketmap[0] ? milter.cfg->milter_socketmap
	    : milter.cfg->status_listen[0];
	if (!daemon_spec)
		return fatal(EX_CONFIG, "milter_socketmap is empty and so is status_listen: no listener of the "
		    "daemon answers the status map the milter asks");
	if (endpoint_parse(daemon_spec, &milter.daemon, err, sizeof(err)) < 0)
		return fatal(EX_CONFIG, "milter_socketmap: %s", err);
	if (pthread_key_create(&milter.client_key, free_client) != 0)
		return fatal(EX_OSERR, "pthread_key_create failed");
	if (milter_socket_spec(milter.cfg->milter_listen, spec, sizeof(spec), err, sizeof(err)) < 0)
		return fatal(EX_CONFIG, "milter_listen: %s", err);

	struct smfiDesc desc = {
		.xxfi_name = "tlspolicy-milter",
		.xxfi_version = SMFI_VERSION,
		.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS,
		.xxfi_envfrom = on_envfrom,
		.xxfi_envrcpt = on_envrcpt,
		.xxfi_header = on_header,
		.xxfi_eom = on_eom,
		.xxfi_abort = on_abort,
		.xxfi_close = on_close,
	};
	signal(SIGPIPE, SIG_IGN);
	if (smfi_setconn(spec) != MI_SUCCESS || smfi_register(desc) != MI_SUCCESS)
		return fatal(EX_SOFTWARE, "libmilter refused the set-up for %s", milter.cfg->milter_listen);
	/* The socket's mode follows the umask: Postfix's group may connect. */
	umask(007);
	if (smfi_opensocket(true) != MI_SUCCESS)
		return fatal(EX_UNAVAILABLE, "cannot listen on %s (in use, or no permission)",
		    milter.cfg->milter_listen);
	if (privdrop(milter.cfg->user, note, sizeof(note), err, sizeof(err)) < 0)
		return fatal(EX_NOUSER, "%s", err);
	if (note[0])
		log_event(milter.log, LOGL_NOTICE, "privileges", "note", note, NULL);
	/* Under systemd this process is the service; otherwise detach. */
	if (!foreground && !getenv("NOTIFY_SOCKET") && daemon(0, 0) < 0)
		return fatal(EX_OSERR, "daemon: %s", strerror(errno));
	log_event(milter.log, LOGL_NOTICE, "started", "listen", milter.cfg->milter_listen, "socketmap",
	    milter.daemon.text, "on_dane_failure",
	    milter.cfg->milter_on_dane_failure == CONFIG_DANE_FAILURE_ACCEPT ? "accept"
	    : milter.cfg->milter_on_dane_failure == CONFIG_DANE_FAILURE_TEMPFAIL ? "tempfail" : "reject",
	    "add_header", milter.cfg->milter_add_header ? "yes" : "no", NULL);
	log_flush(milter.log);
#ifdef HAVE_SYSTEMD
	sd_notify(0, "READY=1");
#endif
	int rc = smfi_main();
	pthread_mutex_lock(&milter.log_lock);
	log_event(milter.log, LOGL_NOTICE, "stopped", NULL);
	log_free(milter.log);
	milter.log = NULL;
	pthread_mutex_unlock(&milter.log_lock);
	config_unref(milter.cfg);
	return rc == MI_SUCCESS ? 0 : EX_SOFTWARE;
}
