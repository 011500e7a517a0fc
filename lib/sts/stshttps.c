/* stshttps - one HTTPS GET of an MTA-STS policy; see stshttps.h. */
#include "autoconfig.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "util/buf.h"
#include "util/netaddr.h"
#include "util/text.h"
#include "sts/curlevent.h"
#include "sts/stshttps.h"

#define WELL_KNOWN "/.well-known/mta-sts.txt"

struct stshttps {
	struct curlevent *ce;
	void *owner;
	CURL *easy;
	CURLSH *share;			/* a DNS cache of its own, for CURLOPT_RESOLVE */
	struct curl_slist *resolve;
	struct netaddr addresses[STSFETCH_MAX_ADDRESSES];
	size_t naddresses;
	unsigned port, deadline_ms;
	size_t max_body;
	const char *ca_file;
	bool head_checked;
	bool decided;			/* by a callback, which stopped the transfer */
	struct stshttps_verdict early;
	char location[200];		/* of a redirect, for the verdict */
	struct buf body;
	char errbuf[CURL_ERROR_SIZE];
};

__attribute__((format(printf, 4, 5)))
static void
say(struct stshttps *t, struct stshttps_verdict *v, enum stsfetch_outcome o, const char *fmt, ...)
{
	char *ip = NULL;
	va_list ap;

	v->outcome = o;
	if (curl_easy_getinfo(t->easy, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip)
		snprintf(v->address, sizeof(v->address), "%s", ip);
	va_start(ap, fmt);
	vsnprintf(v->what, sizeof(v->what), fmt, ap);
	va_end(ap);
}

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

/* The verdict on the status line and Content-Type, once they came; false
 * when they are what a policy needs (or did not come). */
static bool
judge_head(struct stshttps *t, struct stshttps_verdict *v)
{
	long status = 0;
	char *ct = NULL, *location = NULL;

	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status == 0)
		return false;
	v->status = status;
	if (status >= 300 && status < 400) {
		if (!t->location[0])
			curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_URL, &location);
		say(t, v, STSFETCH_REDIRECT, "HTTP status %ld, a redirect to %.200s, not followed", status,
		    t->location[0] ? t->location : location ? location : "(no Location)");
		return true;
	}
	if (status != 200) {
		say(t, v, STSFETCH_STATUS, "HTTP status %ld, not 200", status);
		return true;
	}
	curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ct);
	if (!ct || !is_text_plain(ct)) {
		say(t, v, STSFETCH_CONTENT_TYPE, "Content-Type \"%.100s\", not text/plain", ct ? ct : "(none)");
		return true;
	}
	return false;
}

/* curl's header callback: only the Location, which curl itself makes
 * known only once the transfer is over, after the body was refused. */
static size_t
on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct stshttps *t = arg;
	size_t n = size * nmemb, skip = sizeof("Location:") - 1;

	if (n > skip && strncasecmp(p, "Location:", skip) == 0) {
		while (skip < n && (p[skip] == ' ' || p[skip] == '\t'))
			skip++;
		size_t len = n - skip;
		while (len && (p[skip + len - 1] == '\r' || p[skip + len - 1] == '\n'))
			len--;
		text_printable(t->location, sizeof(t->location), p + skip, len);
	}
	return n;
}

/* curl's write callback: the body, judged before its first byte is kept.
 * Returning less than n makes curl stop with CURLE_WRITE_ERROR. */
static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct stshttps *t = arg;
	size_t n = size * nmemb;

	if (!t->head_checked) {
		t->head_checked = true;
		if ((t->decided = judge_head(t, &t->early)))
			return 0;
	}
	if (buf_size(&t->body) + n > t->max_body) {
		say(t, &t->early, STSFETCH_TOO_LARGE, "policy larger than %zu bytes", t->max_body);
		t->decided = true;
		return 0;
	}
	if (buf_append(&t->body, p, n) < 0) {
		say(t, &t->early, STSFETCH_INTERNAL, "out of memory for the policy");
		t->decided = true;
		return 0;
	}
	return n;
}

/* CURLOPT_OPENSOCKETFUNCTION: defence in depth, should curl ever connect
 * to an address it was not given, or to another port. */
static curl_socket_t
on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *sa)
{
	struct stshttps *t = arg;
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
	for (size_t i = 0; i < t->naddresses; i++)
		if (port == t->port && netaddr_equal(&t->addresses[i], &a))
			return socket(sa->family, sa->socktype | SOCK_CLOEXEC, sa->protocol);
	return CURL_SOCKET_BAD;
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
		return STSFETCH_HTTP;
	default:
		return STSFETCH_INTERNAL;	/* a resolve, a CA file, memory: ours */
	}
}

void
stshttps_judge(struct stshttps *t, CURLcode rc, struct stshttps_verdict *v)
{
	const char *why = t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc);
	enum stsfetch_outcome o = outcome_of(rc);

	memset(v, 0, sizeof(*v));
	if (t->decided)
		*v = t->early;
	else if (judge_head(t, v))
		;	/* a bad status or type explains more than what came after */
	else if (o == STSFETCH_OK)
		say(t, v, o, "%s", "");
	else if (o == STSFETCH_TOO_LARGE)
		say(t, v, o, "policy larger than %zu bytes (%s)", t->max_body, why);
	else if (o == STSFETCH_TIMEOUT)
		say(t, v, o, "not done within %u ms (%s; %zu bytes of body)", t->deadline_ms, why, buf_size(&t->body));
	else if (rc == CURLE_SSL_CACERT_BADFILE)
		say(t, v, o, "cannot use the CA file %s: %s", t->ca_file ? t->ca_file : "(system)", why);
	else
		say(t, v, o, "%s: %s", o == STSFETCH_CERTIFICATE ? "certificate verify failed" :
		    o == STSFETCH_TLS ? "TLS failed" : o == STSFETCH_CONNECT ? "connect failed" :
		    o == STSFETCH_HTTP ? "HTTP failed" : "internal error", why);
	if (!v->status)
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &v->status);
}

#define SET(opt, val) ok = ok && curl_easy_setopt(e, (opt), (val)) == CURLE_OK

static bool
set_up(struct stshttps *t, CURL *e, const struct stshttps_request *rq)
{
	char url[STSFETCH_DOMAIN_MAX + 64];
	bool ok = true;

	if (rq->port == STSFETCH_PORT)
		snprintf(url, sizeof(url), "https://%s" WELL_KNOWN, rq->host);
	else
		snprintf(url, sizeof(url), "https://%s:%u" WELL_KNOWN, rq->host, rq->port);
	SET(CURLOPT_PRIVATE, t);
	SET(CURLOPT_ERRORBUFFER, t->errbuf);
	SET(CURLOPT_URL, url);
	SET(CURLOPT_SHARE, t->share);
	SET(CURLOPT_RESOLVE, t->resolve);
	SET(CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	SET(CURLOPT_OPENSOCKETDATA, t);
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
	if (rq->ca_file) {
		/* The file replaces the system store, as it does for probes. */
		SET(CURLOPT_CAINFO, rq->ca_file);
		SET(CURLOPT_CAPATH, (char *)NULL);
	}
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_FRESH_CONNECT, 1L);
	SET(CURLOPT_FORBID_REUSE, 1L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)rq->max_body);
	SET(CURLOPT_TIMEOUT_MS, (long)(rq->timeout_ms ? rq->timeout_ms : 1));
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, t);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, t);
	return ok;
}

#undef SET

/* "host:port:addr,[v6addr]" for CURLOPT_RESOLVE; -1 when out of memory. */
static int
resolve_line(struct stshttps *t, const char *host)
{
	struct buf line;
	char text[INET6_ADDRSTRLEN];

	buf_init(&line);
	buf_printf(&line, "%s:%u:", host, t->port);
	for (size_t i = 0; i < t->naddresses; i++) {
		netaddr_format(&t->addresses[i], text, sizeof(text));
		buf_printf(&line, t->addresses[i].family == AF_INET6 ? "%s[%s]" : "%s%s", i ? "," : "", text);
	}
	if (buf_terminate(&line) == 0)
		t->resolve = curl_slist_append(NULL, buf_ptr(&line));
	buf_free(&line);
	return t->resolve ? 0 : -1;
}

struct stshttps *
stshttps_start(struct curlevent *ce, const struct stshttps_request *rq)
{
	struct stshttps *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ce = ce;
	t->owner = rq->owner;
	t->port = rq->port;
	t->deadline_ms = rq->deadline_ms;
	t->max_body = rq->max_body;
	t->ca_file = rq->ca_file;
	t->naddresses = rq->naddresses < STSFETCH_MAX_ADDRESSES ? rq->naddresses : STSFETCH_MAX_ADDRESSES;
	memcpy(t->addresses, rq->addresses, t->naddresses * sizeof(t->addresses[0]));
	buf_init(&t->body);
	if (resolve_line(t, rq->host) < 0 || !(t->share = curl_share_init()) ||
	    curl_share_setopt(t->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
	    !(t->easy = curl_easy_init()) || !set_up(t, t->easy, rq) || curlevent_add(ce, t->easy) < 0) {
		curl_easy_cleanup(t->easy);
		t->easy = NULL;
		stshttps_free(t);
		return NULL;
	}
	return t;
}

struct stshttps *
stshttps_of(CURL *easy)
{
	struct stshttps *t = NULL;

	return curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t) == CURLE_OK ? t : NULL;
}

void *
stshttps_owner(const struct stshttps *t)
{
	return t->owner;
}

const char *
stshttps_body(struct stshttps *t, size_t *len)
{
	*len = buf_terminate(&t->body) == 0 ? buf_size(&t->body) : 0;
	return *len ? buf_ptr(&t->body) : "";
}

void
stshttps_free(struct stshttps *t)
{
	if (!t)
		return;
	if (t->easy) {
		curlevent_remove(t->ce, t->easy);
		curl_easy_cleanup(t->easy);
	}
	if (t->share)
		curl_share_cleanup(t->share);	/* after the handle that used it */
	curl_slist_free_all(t->resolve);
	buf_free(&t->body);
	free(t);
}
