/* stsfetch - an MTA-STS policy body over HTTPS; see stsfetch.h. */
#include "autoconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "util/buf.h"
#include "util/clock.h"
#include "util/list.h"
#include "util/netaddr.h"
#include "util/text.h"
#include "dns/dns.h"
#include "dns/rr.h"
#include "sts/curlevent.h"
#include "sts/stsfetch.h"

#define WELL_KNOWN "/.well-known/mta-sts.txt"
#define HOST_MAX (STSFETCH_DOMAIN_MAX + sizeof("mta-sts."))

struct stsfetch {
	struct event_base *base;
	struct dns *dns;
	struct curlevent *ce;
	char *ca_file;			/* NULL: the system store */
	bool allow_private;
	unsigned timeout_ms, port;
	size_t max_body;
	struct netaddr *own;
	size_t nown;
	struct list jobs;
	unsigned depth;			/* inside our event, DNS or curl callbacks */
	bool dying;			/* freed from a callback: finish on the way out */
};

struct lookup {
	struct stsfetch_job *job;
	int id;				/* > 0 while in flight */
	bool done;
};

struct stsfetch_job {
	struct stsfetch *f;
	struct list_node node;		/* on f->jobs until delivered or cancelled */
	stsfetch_callback *cb;
	void *arg;
	char domain[STSFETCH_DOMAIN_MAX + 1];
	char host[HOST_MAX];
	uint64_t started_ms;
	struct event *timer;		/* the deadline, or a verdict without waiting */
	struct lookup a, aaaa;
	bool dns_failed;
	char dns_why[160];
	struct netaddr allowed[STSFETCH_MAX_ADDRESSES];
	size_t nallowed;
	char refused[INET6_ADDRSTRLEN];	/* one refused address, its range in refused_why */
	const char *refused_why;
	CURL *easy;
	CURLSH *share;			/* a DNS cache of its own, for CURLOPT_RESOLVE */
	struct curl_slist *resolve;
	bool head_checked;
	char location[200];		/* of a redirect, for the detail */
	bool decided;			/* verdict was set before curl finished */
	struct stsfetch_result res;	/* outcome and detail once decided */
	struct buf body;
	char errbuf[CURL_ERROR_SIZE];
};

static const char *const outcome_names[STSFETCH_OUTCOME_COUNT] = {
	[STSFETCH_OK] = "ok",
	[STSFETCH_DNS_FAILED] = "dns-failed",
	[STSFETCH_NO_ADDRESS] = "no-address",
	[STSFETCH_PRIVATE] = "private-address",
	[STSFETCH_CONNECT] = "connect-failed",
	[STSFETCH_CERTIFICATE] = "certificate",
	[STSFETCH_TLS] = "tls-failed",
	[STSFETCH_HTTP] = "http-failed",
	[STSFETCH_STATUS] = "http-status",
	[STSFETCH_REDIRECT] = "redirect",
	[STSFETCH_CONTENT_TYPE] = "content-type",
	[STSFETCH_TOO_LARGE] = "too-large",
	[STSFETCH_TIMEOUT] = "timeout",
	[STSFETCH_INTERNAL] = "internal-error",
};

const char *
stsfetch_outcome_name(enum stsfetch_outcome o)
{
	return (unsigned)o < STSFETCH_OUTCOME_COUNT ? outcome_names[o] : "unknown";
}

int
stsfetch_global_init(char *err, size_t errlen)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);

	if (rc != CURLE_OK) {
		snprintf(err, errlen, "libcurl: cannot initialise: %s", curl_easy_strerror(rc));
		return -1;
	}
	if (!(curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_SSL)) {
		snprintf(err, errlen, "libcurl was built without TLS: install libcurl4-openssl's library");
		curl_global_cleanup();
		return -1;
	}
	return 0;
}

void
stsfetch_global_cleanup(void)
{
	curl_global_cleanup();
}

/* ---- the end of a job ------------------------------------------------- */

/* Everything the job holds but its body and result. */
static void
job_release(struct stsfetch_job *job)
{
	struct stsfetch *f = job->f;

	if (job->a.id > 0)
		dns_cancel(f->dns, job->a.id);
	if (job->aaaa.id > 0)
		dns_cancel(f->dns, job->aaaa.id);
	job->a.id = job->aaaa.id = 0;
	if (job->easy) {
		curlevent_remove(f->ce, job->easy);
		curl_easy_cleanup(job->easy);
		job->easy = NULL;
	}
	if (job->share)
		curl_share_cleanup(job->share);	/* after the handle that used it */
	job->share = NULL;
	curl_slist_free_all(job->resolve);
	job->resolve = NULL;
	if (job->timer)
		event_free(job->timer);
	job->timer = NULL;
}

static void
job_free(struct stsfetch_job *job)
{
	job_release(job);
	buf_free(&job->body);
	free(job);
}

__attribute__((format(printf, 4, 5)))
static void
decide(struct stsfetch_job *job, enum stsfetch_outcome o, const char *address, const char *fmt, ...)
{
	char *d = job->res.detail;
	size_t size = sizeof(job->res.detail), n;
	va_list ap;

	job->decided = true;
	job->res.outcome = o;
	if (address && address != job->res.address)
		snprintf(job->res.address, sizeof(job->res.address), "%s", address);
	if (job->res.address[0])
		snprintf(d, size, "%s (%s): ", job->host, job->res.address);
	else
		snprintf(d, size, "%s: ", job->host);
	n = strlen(d);
	va_start(ap, fmt);
	vsnprintf(d + n, size - n, fmt, ap);
	va_end(ap);
	/* Texts from the server (a Location, a media type) are in it. */
	text_printable(d, size, d, strlen(d));
}

/* Calls back with the decided result, then frees the job. */
static void
deliver(struct stsfetch_job *job)
{
	struct stsfetch *f = job->f;
	struct stsfetch_result *r = &job->res;

	list_remove(&f->jobs, &job->node);
	if (job->easy && !r->status)
		curl_easy_getinfo(job->easy, CURLINFO_RESPONSE_CODE, &r->status);
	job_release(job);
	r->domain = job->domain;
	r->host = job->host;
	r->elapsed_ms = clock_monotonic_ms() - job->started_ms;
	if (r->outcome == STSFETCH_OK && buf_terminate(&job->body) == 0) {
		r->body = buf_ptr(&job->body);
		r->body_len = buf_size(&job->body);
	} else {
		r->body = "";
		r->body_len = 0;
	}
	job->cb(job->arg, r);
	job_free(job);
}

/* Leaving one of our callbacks: the fetcher goes now if it was freed there. */
static void destroy(struct stsfetch *f);

static void
leave(struct stsfetch *f)
{
	if (--f->depth == 0 && f->dying)
		destroy(f);
}

/* ---- what curl found -------------------------------------------------- */

/* "text/plain", any case, alone or followed by parameters. */
static bool
is_text_plain(const char *ct)
{
	static const char want[] = "text/plain";

	ct += strspn(ct, " \t");
	if (strncasecmp(ct, want, sizeof(want) - 1) != 0)
		return false;
	ct += sizeof(want) - 1;
	return *ct == '\0' || *ct == ';' || *ct == ' ' || *ct == '\t';
}

static const char *
primary_ip(struct stsfetch_job *job)
{
	char *ip = NULL;

	if (job->easy && curl_easy_getinfo(job->easy, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip && *ip)
		return ip;
	return NULL;
}

/* Decides from the status line and Content-Type, once they came; false
 * when they are what a policy needs (or did not come). */
static bool
judge_head(struct stsfetch_job *job)
{
	long status = 0;
	char *ct = NULL, *location = NULL;

	curl_easy_getinfo(job->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status == 0)
		return false;
	job->res.status = status;
	if (status >= 300 && status < 400) {
		if (!job->location[0])
			curl_easy_getinfo(job->easy, CURLINFO_REDIRECT_URL, &location);
		decide(job, STSFETCH_REDIRECT, primary_ip(job), "HTTP status %ld, a redirect to %.200s, not followed",
		    status, job->location[0] ? job->location : location ? location : "(no Location)");
		return true;
	}
	if (status != 200) {
		decide(job, STSFETCH_STATUS, primary_ip(job), "HTTP status %ld, not 200", status);
		return true;
	}
	curl_easy_getinfo(job->easy, CURLINFO_CONTENT_TYPE, &ct);
	if (!ct || !is_text_plain(ct)) {
		decide(job, STSFETCH_CONTENT_TYPE, primary_ip(job), "Content-Type \"%.100s\", not text/plain",
		    ct ? ct : "(none)");
		return true;
	}
	return false;
}

/* curl's header callback: only the Location, which curl itself makes
 * known only once the transfer is over, after the body was refused. */
static size_t
on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct stsfetch_job *job = arg;
	size_t n = size * nmemb, skip = sizeof("Location:") - 1;

	if (n > skip && strncasecmp(p, "Location:", skip) == 0) {
		while (skip < n && (p[skip] == ' ' || p[skip] == '\t'))
			skip++;
		size_t len = n - skip;
		while (len && (p[skip + len - 1] == '\r' || p[skip + len - 1] == '\n'))
			len--;
		text_printable(job->location, sizeof(job->location), p + skip, len);
	}
	return n;
}

/* curl's write callback: the body, judged before its first byte is kept.
 * Returning less than n makes curl stop with CURLE_WRITE_ERROR. */
static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct stsfetch_job *job = arg;
	size_t n = size * nmemb;

	if (!job->head_checked) {
		job->head_checked = true;
		if (judge_head(job))
			return 0;
	}
	if (buf_size(&job->body) + n > job->f->max_body) {
		decide(job, STSFETCH_TOO_LARGE, primary_ip(job), "policy larger than %zu bytes", job->f->max_body);
		return 0;
	}
	if (buf_append(&job->body, p, n) < 0) {
		decide(job, STSFETCH_INTERNAL, primary_ip(job), "out of memory for the policy");
		return 0;
	}
	return n;
}

static enum stsfetch_outcome
outcome_of(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return STSFETCH_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return STSFETCH_TIMEOUT;
	case CURLE_COULDNT_CONNECT:
		return STSFETCH_CONNECT;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ISSUER_ERROR:
		return STSFETCH_CERTIFICATE;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_USE_SSL_FAILED:
		return STSFETCH_TLS;
	case CURLE_FILESIZE_EXCEEDED:
		return STSFETCH_TOO_LARGE;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_HTTP3:
		return STSFETCH_HTTP;
	default:
		return STSFETCH_INTERNAL;	/* a resolve, a CA file, memory: ours */
	}
}

/* curl is done with the job. */
static void
transfer_done(struct stsfetch_job *job, CURLcode rc)
{
	const char *why = job->errbuf[0] ? job->errbuf : curl_easy_strerror(rc);
	enum stsfetch_outcome o = outcome_of(rc);

	if (job->decided)
		;	/* by the write callback, which stopped the transfer */
	else if (judge_head(job))
		;	/* a bad status or type explains more than what came after */
	else if (o == STSFETCH_OK)
		snprintf(job->res.address, sizeof(job->res.address), "%s", primary_ip(job) ? primary_ip(job) : "");
	else if (o == STSFETCH_TOO_LARGE)
		decide(job, o, primary_ip(job), "policy larger than %zu bytes (%s)", job->f->max_body, why);
	else if (o == STSFETCH_TIMEOUT)
		decide(job, o, primary_ip(job), "not done within %u ms (%s)", job->f->timeout_ms, why);
	else if (o == STSFETCH_INTERNAL && rc == CURLE_SSL_CACERT_BADFILE)
		decide(job, o, primary_ip(job), "cannot use the CA file %s: %s", job->f->ca_file, why);
	else
		decide(job, o, primary_ip(job), "%s", why);
	deliver(job);
}

/* curlevent's done callback. */
static void
on_transfer_done(void *arg, CURL *easy, CURLcode rc)
{
	struct stsfetch *f = arg;
	struct stsfetch_job *job = NULL;

	if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&job) != CURLE_OK || !job)
		return;
	f->depth++;
	transfer_done(job, rc);
	leave(f);
}

/* CURLOPT_OPENSOCKETFUNCTION: defence in depth, should curl ever connect
 * to an address the resolver did not give, or to one refused. */
static curl_socket_t
on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *sa)
{
	struct stsfetch_job *job = arg;
	struct netaddr a = {.family = sa->family};
	unsigned port = 0;

	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	if (sa->family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&sa->addr;
		memcpy(a.bytes, &sin->sin_addr, 4);
		port = ntohs(sin->sin_port);
	} else if (sa->family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&sa->addr;
		memcpy(a.bytes, &sin6->sin6_addr, 16);
		port = ntohs(sin6->sin6_port);
	} else {
		return CURL_SOCKET_BAD;
	}
	for (size_t i = 0; i < job->nallowed; i++)
		if (port == job->f->port && netaddr_equal(&job->allowed[i], &a))
			return socket(sa->family, sa->socktype | SOCK_CLOEXEC, sa->protocol);
	return CURL_SOCKET_BAD;
}

#define SET(opt, val) ok = ok && curl_easy_setopt(e, (opt), (val)) == CURLE_OK

/* The transfer, to the allowed addresses only; 0 or -1. */
static int
start_transfer(struct stsfetch_job *job)
{
	struct stsfetch *f = job->f;
	struct buf line;
	char url[HOST_MAX + 64], text[INET6_ADDRSTRLEN];
	CURL *e;
	bool ok = true;

	buf_init(&line);
	buf_printf(&line, "%s:%u:", job->host, f->port);
	for (size_t i = 0; i < job->nallowed; i++) {
		netaddr_format(&job->allowed[i], text, sizeof(text));
		buf_printf(&line, job->allowed[i].family == AF_INET6 ? "%s[%s]" : "%s%s", i ? "," : "", text);
	}
	if (buf_terminate(&line) < 0 || !(job->resolve = curl_slist_append(NULL, buf_ptr(&line)))) {
		buf_free(&line);
		return -1;
	}
	buf_free(&line);
	if (f->port == STSFETCH_PORT)
		snprintf(url, sizeof(url), "https://%s" WELL_KNOWN, job->host);
	else
		snprintf(url, sizeof(url), "https://%s:%u" WELL_KNOWN, job->host, f->port);
	if (!(job->share = curl_share_init()) ||
	    curl_share_setopt(job->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
	    !(e = job->easy = curl_easy_init()))
		return -1;
	SET(CURLOPT_PRIVATE, job);
	SET(CURLOPT_ERRORBUFFER, job->errbuf);
	SET(CURLOPT_URL, url);
	SET(CURLOPT_SHARE, job->share);
	SET(CURLOPT_RESOLVE, job->resolve);
	SET(CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	SET(CURLOPT_OPENSOCKETDATA, job);
	SET(CURLOPT_PROTOCOLS_STR, "https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_PROXY, "");
	SET(CURLOPT_NOPROXY, "*");
	SET(CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(CURLOPT_SSL_SESSIONID_CACHE, 0L);
	if (f->ca_file) {
		/* The file replaces the system store, as it does for probes. */
		SET(CURLOPT_CAINFO, f->ca_file);
		SET(CURLOPT_CAPATH, (char *)NULL);
	}
	/* One request a connection: HTTP/2 would bring nothing but parsing. */
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_FRESH_CONNECT, 1L);
	SET(CURLOPT_FORBID_REUSE, 1L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)f->max_body);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, job);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, job);
	uint64_t spent = clock_monotonic_ms() - job->started_ms;
	SET(CURLOPT_TIMEOUT_MS, spent < f->timeout_ms ? (long)(f->timeout_ms - spent) : 1L);
	if (!ok || curlevent_add(f->ce, e) < 0) {
		curl_easy_cleanup(e);
		job->easy = NULL;
		return -1;
	}
	return 0;
}

#undef SET

/* ---- the addresses ---------------------------------------------------- */

static bool
is_own(const struct stsfetch *f, const struct netaddr *a)
{
	for (size_t i = 0; i < f->nown; i++)
		if (netaddr_equal(&f->own[i], a))
			return true;
	return false;
}

static void
take_addresses(struct stsfetch_job *job, const struct dns_answer *ans)
{
	struct stsfetch *f = job->f;

	for (size_t i = 0; i < ans->count; i++) {
		char text[INET6_ADDRSTRLEN];
		struct netaddr a;
		const char *why = NULL;
		if (rr_address(ans->qtype, ans->rdata[i].data, ans->rdata[i].len, text, sizeof(text)) < 0 ||
		    netaddr_parse(text, &a) < 0)
			continue;
		if (!f->allow_private && !(why = netaddr_special(&a)) && is_own(f, &a))
			why = STSFETCH_THIS_HOST;
		if (why && !job->refused_why) {
			snprintf(job->refused, sizeof(job->refused), "%s", text);
			job->refused_why = why;
		} else if (!why && job->nallowed < STSFETCH_MAX_ADDRESSES) {
			job->allowed[job->nallowed++] = a;
		}
	}
}

/* Both lookups are in: connect, or say why not. */
static void
addresses_known(struct stsfetch_job *job)
{
	if (job->nallowed == 0 && job->refused_why)
		decide(job, STSFETCH_PRIVATE, job->refused, "refused address (%s)%s", job->refused_why,
		    strcmp(job->refused_why, STSFETCH_THIS_HOST) == 0 ? ", an address of this host" : "");
	else if (job->nallowed == 0 && job->dns_failed)
		decide(job, STSFETCH_DNS_FAILED, NULL, "address lookup failed: %s", job->dns_why);
	else if (job->nallowed == 0)
		decide(job, STSFETCH_NO_ADDRESS, NULL, "no A or AAAA record");
	else if (start_transfer(job) < 0)
		decide(job, STSFETCH_INTERNAL, NULL, "cannot set up the HTTPS request (out of memory?)");
	if (job->decided)
		deliver(job);
}

static void
lookup_failed(struct stsfetch_job *job, const char *type, const char *what, const char *why)
{
	size_t n = strlen(job->dns_why);

	job->dns_failed = true;
	snprintf(job->dns_why + n, sizeof(job->dns_why) - n, "%s%s %s%s%.60s", n ? ", " : "", type, what,
	    why ? ": " : "", why ? why : "");
}

static void on_answer(void *arg, struct dns_answer *ans);

static void
start_lookup(struct stsfetch_job *job, struct lookup *l, uint16_t type)
{
	l->job = job;
	l->id = dns_lookup(job->f->dns, job->host, type, on_answer, l);
	if (l->id < 0) {
		l->id = 0;
		l->done = true;
		lookup_failed(job, rr_type_name(type), "lookup", "could not start");
	}
}

static void
on_answer(void *arg, struct dns_answer *ans)
{
	struct lookup *l = arg;
	struct stsfetch_job *job = l->job;
	struct stsfetch *f = job->f;
	const char *type = rr_type_name(ans->qtype);

	f->depth++;
	l->id = 0;
	l->done = true;
	if (ans->security == DNS_BOGUS) {
		decide(job, STSFETCH_DNS_FAILED, NULL, "%s lookup bogus: %.100s", type, ans->why ? ans->why : "DNSSEC");
		dns_answer_free(ans);
		deliver(job);	/* cancels the other lookup */
		leave(f);
		return;
	}
	if (ans->outcome == DNS_DATA)
		take_addresses(job, ans);
	else if (ans->outcome == DNS_SERVFAIL || ans->outcome == DNS_TIMEOUT)
		lookup_failed(job, type, dns_outcome_name(ans->outcome), ans->why);
	dns_answer_free(ans);
	if (job->a.done && job->aaaa.done)
		addresses_known(job);
	leave(f);
}

/* The deadline, or a verdict reached inside stsfetch_start(). */
static void
on_job_timer(evutil_socket_t fd, short what, void *arg)
{
	struct stsfetch_job *job = arg;
	struct stsfetch *f = job->f;

	(void)fd;
	(void)what;
	f->depth++;
	if (!job->decided && !job->easy)
		decide(job, STSFETCH_TIMEOUT, NULL, "no address within %u ms", f->timeout_ms);
	else if (!job->decided)
		decide(job, STSFETCH_TIMEOUT, primary_ip(job), "not done within %u ms (%zu bytes of body)",
		    f->timeout_ms, buf_size(&job->body));
	deliver(job);
	leave(f);
}

/* ---- the API ---------------------------------------------------------- */

static bool
valid_domain(const char *d)
{
	size_t len = strlen(d), label = 0;

	if (len == 0 || len > STSFETCH_DOMAIN_MAX)
		return false;
	for (const char *p = d; *p; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return false;
			label = 0;
		} else if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || (*p == '-' && label > 0)) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0 && d[len - 1] != '-';
}

struct stsfetch_job *
stsfetch_start(struct stsfetch *f, const char *domain, stsfetch_callback *cb, void *arg)
{
	struct stsfetch_job *job;
	struct timeval tv = {f->timeout_ms / 1000, (f->timeout_ms % 1000) * 1000};

	if (f->dying || !valid_domain(domain) || !(job = calloc(1, sizeof(*job))))
		return NULL;
	job->f = f;
	job->cb = cb;
	job->arg = arg;
	job->started_ms = clock_monotonic_ms();
	snprintf(job->domain, sizeof(job->domain), "%s", domain);
	snprintf(job->host, sizeof(job->host), "mta-sts.%s", domain);
	buf_init(&job->body);
	if (!(job->timer = evtimer_new(f->base, on_job_timer, job)) || evtimer_add(job->timer, &tv) < 0) {
		job_free(job);
		return NULL;
	}
	list_push_back(&f->jobs, &job->node);
	start_lookup(job, &job->a, RR_TYPE_A);
	start_lookup(job, &job->aaaa, RR_TYPE_AAAA);
	if (job->a.done && job->aaaa.done) {
		/* No callback from in here: the verdict waits for the loop. */
		struct timeval now = {0, 0};
		decide(job, STSFETCH_DNS_FAILED, NULL, "address lookup failed: %s", job->dns_why);
		evtimer_add(job->timer, &now);
	}
	return job;
}

void
stsfetch_cancel(struct stsfetch_job *job)
{
	if (!job)
		return;
	list_remove(&job->f->jobs, &job->node);
	job_free(job);
}

size_t
stsfetch_pending(const struct stsfetch *f)
{
	return f->jobs.count;
}

int
stsfetch_set_own(struct stsfetch *f, const struct netaddr *own, size_t nown)
{
	struct netaddr *copy = NULL;

	if (nown && !(copy = calloc(nown, sizeof(*copy))))
		return -1;
	if (nown)
		memcpy(copy, own, nown * sizeof(*copy));
	free(f->own);
	f->own = copy;
	f->nown = nown;
	return 0;
}

struct stsfetch *
stsfetch_create(struct event_base *base, struct dns *dns, const struct stsfetch_settings *s, char *err, size_t errlen)
{
	struct stsfetch *f = calloc(1, sizeof(*f));

	if (!f) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	f->base = base;
	f->dns = dns;
	f->allow_private = s->allow_private;
	f->timeout_ms = s->timeout_ms ? s->timeout_ms : STSFETCH_DEFAULT_TIMEOUT_MS;
	f->max_body = s->max_body ? s->max_body : STSFETCH_DEFAULT_MAX_BODY;
	f->port = s->port ? s->port : STSFETCH_PORT;
	if (s->ca_file && *s->ca_file && access(s->ca_file, R_OK) < 0) {
		snprintf(err, errlen, "MTA-STS CA file %s: %s", s->ca_file, strerror(errno));
		goto fail;
	}
	if ((s->ca_file && *s->ca_file && !(f->ca_file = strdup(s->ca_file))) ||
	    stsfetch_set_own(f, s->own, s->nown) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (!(f->ce = curlevent_create(base, on_transfer_done, f, err, errlen)))
		goto fail;
	return f;
fail:
	destroy(f);
	return NULL;
}

static void
destroy(struct stsfetch *f)
{
	curlevent_free(f->ce);
	free(f->ca_file);
	free(f->own);
	free(f);
}

void
stsfetch_free(struct stsfetch *f)
{
	struct list_node *n;

	if (!f || f->dying)
		return;
	while ((n = f->jobs.first))
		stsfetch_cancel(LIST_ENTRY(n, struct stsfetch_job, node));
	f->dying = true;
	if (f->depth == 0)
		destroy(f);
}
