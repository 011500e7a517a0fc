/* stsfetch - an MTA-STS policy body over HTTPS; see stsfetch.h. */
#include "autoconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "util/clock.h"
#include "util/list.h"
#include "util/netaddr.h"
#include "util/text.h"
#include "dns/dns.h"
#include "dns/rr.h"
#include "sts/curlevent.h"
#include "sts/stsfetch.h"
#include "sts/stshttps.h"

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
	struct stshttps *http;		/* once the addresses are known */
	bool decided;			/* res has the outcome */
	struct stsfetch_result res;	/* outcome and detail once decided */
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

struct stsfetch_settings
stsfetch_settings_from_config(const struct config *cfg)
{
	struct stsfetch_settings s = {
		.ca_file = cfg->sts_ca_file,
		.allow_private = cfg->sts_allow_private,
		.timeout_ms = cfg->sts_fetch_timeout_ms,
	};

	return s;
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

/* All but the transfer, whose body the callback may still need. */
static void
job_release(struct stsfetch_job *job)
{
	struct stsfetch *f = job->f;

	if (job->a.id > 0)
		dns_cancel(f->dns, job->a.id);
	if (job->aaaa.id > 0)
		dns_cancel(f->dns, job->aaaa.id);
	job->a.id = job->aaaa.id = 0;
	if (job->timer)
		event_free(job->timer);
	job->timer = NULL;
}

static void
job_free(struct stsfetch_job *job)
{
	job_release(job);
	stshttps_free(job->http);
	free(job);
}

/* "host (a1, a2, a3, ...): " when curl names no address it connected to. */
static void
tried(const struct stsfetch_job *job, char *d, size_t size)
{
	size_t n = (size_t)snprintf(d, size, "%s (", job->host);

	for (size_t i = 0; i < job->nallowed && i < 3 && n + INET6_ADDRSTRLEN + 8 < size; i++) {
		if (i)
			n += (size_t)snprintf(d + n, size - n, ", ");
		netaddr_format(&job->allowed[i], d + n, size - n);
		n += strlen(d + n);
	}
	snprintf(d + n, size - n, "%s): ", job->nallowed > 3 ? ", ..." : "");
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
	else if (job->nallowed)
		tried(job, d, size);
	else
		snprintf(d, size, "%s: ", job->host);
	n = strlen(d);
	va_start(ap, fmt);
	vsnprintf(d + n, size - n, fmt, ap);
	va_end(ap);
	/* Texts from the server (a Location, a media type) are in it. */
	text_printable(d, size, d, strlen(d));
}

/* The transfer's verdict, as the job's result. */
static void
judged(struct stsfetch_job *job, CURLcode rc)
{
	struct stshttps_verdict v;

	stshttps_judge(job->http, rc, &v);
	job->res.status = v.status;
	if (v.outcome == STSFETCH_OK) {
		job->decided = true;
		snprintf(job->res.address, sizeof(job->res.address), "%s", v.address);
	} else {
		decide(job, v.outcome, v.address, "%s", v.what);
	}
}

/* Calls back with the decided result, then frees the job. */
static void
deliver(struct stsfetch_job *job)
{
	struct stsfetch *f = job->f;
	struct stsfetch_result *r = &job->res;

	list_remove(&f->jobs, &job->node);
	job_release(job);
	r->domain = job->domain;
	r->host = job->host;
	r->elapsed_ms = clock_monotonic_ms() - job->started_ms;
	r->body = "";
	r->body_len = 0;
	if (r->outcome == STSFETCH_OK)
		r->body = stshttps_body(job->http, &r->body_len);
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

/* ---- the transfer --------------------------------------------------- */

/* curlevent's done callback. */
static void
on_transfer_done(void *arg, CURL *easy, CURLcode rc)
{
	struct stsfetch *f = arg;
	struct stshttps *t = stshttps_of(easy);
	struct stsfetch_job *job = t ? stshttps_owner(t) : NULL;

	if (!job)
		return;
	f->depth++;
	judged(job, rc);
	deliver(job);
	leave(f);
}

/* The transfer, to the allowed addresses only; 0 or -1. */
static int
start_transfer(struct stsfetch_job *job)
{
	struct stsfetch *f = job->f;
	uint64_t spent = clock_monotonic_ms() - job->started_ms;
	struct stshttps_request rq = {
		.host = job->host,
		.port = f->port,
		.addresses = job->allowed,
		.naddresses = job->nallowed,
		.ca_file = f->ca_file,
		.max_body = f->max_body,
		.timeout_ms = spent < f->timeout_ms ? (unsigned)(f->timeout_ms - spent) : 1,
		.deadline_ms = f->timeout_ms,
		.owner = job,
	};

	return (job->http = stshttps_start(f->ce, &rq)) ? 0 : -1;
}

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
		decide(job, STSFETCH_PRIVATE, job->refused, "refused address (%s): %s are not fetched from unless "
		    "private addresses are allowed", job->refused_why, strcmp(job->refused_why, STSFETCH_THIS_HOST) == 0 ?
		    "this host's own addresses" : "special-purpose addresses");
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
	if (!job->decided && !job->http)
		decide(job, STSFETCH_TIMEOUT, NULL, "no address within %u ms", f->timeout_ms);
	else if (!job->decided)
		judged(job, CURLE_OPERATION_TIMEDOUT);
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
