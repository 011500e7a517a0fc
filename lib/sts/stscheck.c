/* stscheck - one domain's MTA-STS checked now, for people; see stscheck.h. */
#include "autoconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/text.h"
#include "dns/rr.h"
#include "rules/tlsrpt.h"
#include "sts/stscheck.h"

/* RFC 8461 section 3.2: max_age is "expected ... typically be in the
 * range of weeks or greater"; under a day is worth a word. */
#define SHORT_MAX_AGE_S 86400u

const char *
stscheck_verdict_name(enum stscheck_verdict v)
{
	switch (v) {
	case STSCHECK_VALID: return "valid";
	case STSCHECK_ABSENT: return "absent";
	case STSCHECK_BROKEN: return "broken";
	}
	return "?";
}

static bool
valid_domain(const char *d)
{
	size_t len = strlen(d);

	if (len == 0 || len > STSFETCH_DOMAIN_MAX || d[0] == '.' || d[len - 1] == '.' || strstr(d, ".."))
		return false;
	return strspn(d, "abcdefghijklmnopqrstuvwxyz0123456789-.") == len;
}

struct stscheck_result *
stscheck_result_new(const char *domain)
{
	struct stscheck_result *r;

	if (!valid_domain(domain) || !(r = calloc(1, sizeof(*r))))
		return NULL;
	snprintf(r->domain, sizeof(r->domain), "%s", domain);
	snprintf(r->url, sizeof(r->url), "https://mta-sts.%s/.well-known/mta-sts.txt", domain);
	buf_init(&r->policy_errors);
	r->verdict = STSCHECK_BROKEN;
	return r;
}

static void
clear_derived(struct stscheck_result *r)
{
	free(r->enforce_answer);
	free(r->tlsrpt);
	r->enforce_answer = r->tlsrpt = NULL;
	for (size_t i = 0; i < r->nproblems; i++)
		free(r->problems[i]);
	for (size_t i = 0; i < r->nnotes; i++)
		free(r->notes[i]);
	r->nproblems = r->nnotes = 0;
}

void
stscheck_result_free(struct stscheck_result *r)
{
	if (!r)
		return;
	clear_derived(r);
	free(r->txt_lookup.why);
	free(r->mx_lookup.why);
	for (size_t i = 0; i < r->ntxt; i++)
		free(r->txt_records[i]);
	stspolicy_free(r->policy);
	buf_free(&r->policy_errors);
	free(r);
}

static int
set_lookup(struct stscheck_lookup *l, const struct dns_answer *a)
{
	free(l->why);
	l->why = NULL;
	l->done = true;
	l->outcome = a->outcome;
	l->security = a->security;
	l->ttl = a->ttl;
	if (a->why && !(l->why = text_printable_dup(a->why)))
		return -1;
	return 0;
}

bool
stscheck_lookup_failed(const struct stscheck_lookup *l)
{
	return !l->done || l->security == DNS_BOGUS || l->outcome == DNS_SERVFAIL || l->outcome == DNS_TIMEOUT;
}

/* A TXT RDATA as text: its character-strings joined, as ststxt reads it. */
static char *
txt_text(const struct dns_rdata *rd)
{
	struct buf b;
	size_t i = 0;

	buf_init(&b);
	while (i < rd->len) {
		size_t n = rd->data[i++];
		if (n > rd->len - i)
			n = rd->len - i;
		char *dst = buf_reserve(&b, n + 1);
		if (!dst) {
			buf_free(&b);
			return NULL;
		}
		buf_commit(&b, text_printable(dst, n + 1, (const char *)rd->data + i, n));
		i += n;
	}
	if (buf_terminate(&b) != 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_detach(&b);
}

int
stscheck_set_txt(struct stscheck_result *r, const struct dns_answer *a)
{
	struct ststxt_rdata records[STSCHECK_RECORDS_MAX];

	for (size_t i = 0; i < r->ntxt; i++)
		free(r->txt_records[i]);
	r->ntxt = 0;
	memset(&r->txt, 0, sizeof(r->txt));
	if (set_lookup(&r->txt_lookup, a) < 0)
		return -1;
	r->txt_count = a->outcome == DNS_DATA ? a->count : 0;
	size_t n = r->txt_count < STSCHECK_RECORDS_MAX ? r->txt_count : STSCHECK_RECORDS_MAX;
	for (size_t i = 0; i < n; i++) {
		if (!(r->txt_records[i] = txt_text(&a->rdata[i])))
			return -1;
		r->ntxt++;
		records[i].data = a->rdata[i].data;
		records[i].len = a->rdata[i].len;
	}
	ststxt_parse(records, n, &r->txt);
	return 0;
}

int
stscheck_set_mx(struct stscheck_result *r, const struct dns_answer *a)
{
	r->nmx = r->mx_count = 0;
	r->mx_implicit = r->mx_null = false;
	if (set_lookup(&r->mx_lookup, a) < 0)
		return -1;
	if (stscheck_lookup_failed(&r->mx_lookup))
		return 0;
	if (a->outcome == DNS_NODATA) {
		/* No MX: mail goes to the domain itself. */
		r->mx_implicit = true;
		r->mx_count = r->nmx = 1;
		snprintf(r->mx[0].name, sizeof(r->mx[0].name), "%s", r->domain);
		return 0;
	}
	if (a->outcome != DNS_DATA)
		return 0;
	for (size_t i = 0; i < a->count; i++) {
		struct stscheck_mx m = {0};
		if (rr_mx(a->rdata[i].data, a->rdata[i].len, &m.preference, m.name) < 0)
			continue;
		if (strcmp(m.name, ".") == 0) {
			r->mx_null = true;	/* RFC 7505: the domain takes no mail */
			continue;
		}
		r->mx_count++;
		if (r->nmx < STSCHECK_RECORDS_MAX)
			r->mx[r->nmx++] = m;
	}
	return 0;
}

int
stscheck_set_fetch(struct stscheck_result *r, const struct stsfetch_result *f)
{
	stspolicy_free(r->policy);
	r->policy = NULL;
	buf_reset(&r->policy_errors);
	r->fetched = true;
	r->fetch = f->outcome;
	r->http_status = f->status;
	r->elapsed_ms = f->elapsed_ms;
	r->body_len = f->outcome == STSFETCH_OK ? f->body_len : 0;
	snprintf(r->address, sizeof(r->address), "%s", f->address);
	snprintf(r->fetch_detail, sizeof(r->fetch_detail), "%s", f->detail);
	if (f->outcome != STSFETCH_OK)
		return 0;
	r->policy = stspolicy_parse(f->body, f->body_len, &r->policy_errors);
	if (!r->policy && buf_size(&r->policy_errors) == 0)
		return -1;
	return buf_terminate(&r->policy_errors);
}

/* ---- the diagnosis ---- */

struct diag {
	struct stscheck_result *r;
	bool failed;			/* out of memory */
	size_t dropped;
};

__attribute__((format(printf, 2, 3)))
static void
problem(struct diag *d, const char *fmt, ...)
{
	struct stscheck_result *r = d->r;
	va_list ap;
	char *s;

	if (r->nproblems == STSCHECK_PROBLEMS_MAX - 1) {
		d->dropped++;
		return;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		d->failed = true;
	else
		r->problems[r->nproblems++] = s;
	va_end(ap);
}

__attribute__((format(printf, 2, 3)))
static void
note(struct diag *d, const char *fmt, ...)
{
	struct stscheck_result *r = d->r;
	va_list ap;
	char *s;

	if (r->nnotes == STSCHECK_NOTES_MAX)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		d->failed = true;
	else
		r->notes[r->nnotes++] = s;
	va_end(ap);
}

/* What a failed fetch means, and what the domain's administrator does
 * about it. */
static void
fetch_problem(struct diag *d)
{
	const struct stscheck_result *r = d->r;
	const char *detail = r->fetch_detail[0] ? r->fetch_detail : stsfetch_outcome_name(r->fetch);

	switch (r->fetch) {
	case STSFETCH_OK:
		return;
	case STSFETCH_DNS_FAILED:
		problem(d, "the addresses of mta-sts.%s could not be looked up (%s): check this host's resolver, then "
		    "the DNS of that name", r->domain,
		    detail);
		return;
	case STSFETCH_NO_ADDRESS:
		problem(d, "mta-sts.%s has no address (%s): publish an A or AAAA record for the policy server", r->domain,
		    detail);
		return;
	case STSFETCH_PRIVATE:
		problem(d, "mta-sts.%s has only addresses that are refused (%s): publish a public address for it, or "
		    "set sts_allow_private = yes where a private network is meant", r->domain, detail);
		return;
	case STSFETCH_CONNECT:
		problem(d, "no connection to mta-sts.%s on port 443 (%s): run an HTTPS server there and let senders "
		    "reach it", r->domain, detail);
		return;
	case STSFETCH_CERTIFICATE:
		problem(d, "the certificate of mta-sts.%s did not verify (%s): serve a certificate from a public "
		    "certification authority that names mta-sts.%s, with its intermediate certificates", r->domain, detail,
		    r->domain);
		return;
	case STSFETCH_TLS:
		problem(d, "TLS with mta-sts.%s failed (%s): the server must offer TLS 1.2 or later", r->domain, detail);
		return;
	case STSFETCH_HTTP:
		problem(d, "mta-sts.%s gave no well-formed HTTP response (%s): serve the policy over HTTP/1.1", r->domain,
		    detail);
		return;
	case STSFETCH_STATUS:
		problem(d, "%s answered HTTP status %ld (%s): serve the policy file there with status 200", r->url,
		    r->http_status, detail);
		return;
	case STSFETCH_REDIRECT:
		problem(d, "%s answered with a redirect (%s): senders do not follow redirects (RFC 8461 section 3.3); "
		    "serve the policy at that URL itself", r->url, detail);
		return;
	case STSFETCH_CONTENT_TYPE:
		problem(d, "%s was served with the wrong type (%s): configure the server to send "
		    "Content-Type: text/plain for it", r->url, detail);
		return;
	case STSFETCH_TOO_LARGE:
		problem(d, "%s is too large (%s): a policy is at most 64 KiB (RFC 8461 section 3.3); shorten it",
		    r->url, detail);
		return;
	case STSFETCH_TIMEOUT:
		problem(d, "fetching %s took too long (%s): senders give up after about a minute or less; make the "
		    "server answer promptly", r->url, detail);
		return;
	case STSFETCH_INTERNAL:
		problem(d, "the fetch of %s could not be made here (%s): this is a local failure, not the domain's",
		    r->url, detail);
		return;
	}
}

static void
txt_problems(struct diag *d, bool served)
{
	const struct stscheck_result *r = d->r;
	const struct stscheck_lookup *l = &r->txt_lookup;

	if (!l->done) {
		problem(d, "_mta-sts.%s was not looked up: the name is too long for DNS", r->domain);
	} else if (l->security == DNS_BOGUS) {
		problem(d, "the TXT answer for _mta-sts.%s failed DNSSEC validation (%s): fix the zone's signatures; "
		    "until then senders that validate cannot see the policy", r->domain, l->why ? l->why : "bogus");
	} else if (l->outcome == DNS_SERVFAIL || l->outcome == DNS_TIMEOUT) {
		problem(d, "the TXT lookup of _mta-sts.%s failed (%s%s%s): check this host's resolver, then that the "
		    "domain's name servers answer it",
		    r->domain, dns_outcome_name(l->outcome), l->why ? ": " : "", l->why ? l->why : "");
	} else if (r->txt.status == STSTXT_INVALID) {
		problem(d, "the TXT record at _mta-sts.%s is unusable (%s): publish exactly one record "
		    "\"v=STSv1; id=<1 to 32 letters or digits>\"", r->domain, r->txt.why);
	} else if (r->txt.status == STSTXT_NONE && served) {
		problem(d, "a policy is served at %s but no TXT record announces it, so senders never fetch it: "
		    "publish _mta-sts.%s TXT \"v=STSv1; id=<1 to 32 letters or digits>\"", r->url, r->domain);
	}
}

static void
mx_problems(struct diag *d)
{
	struct stscheck_result *r = d->r;
	const struct stspolicy *p = r->policy;
	const struct stscheck_lookup *l = &r->mx_lookup;

	if (!p || stspolicy_mode(p) == STSPOLICY_MODE_NONE)
		return;
	if (stscheck_lookup_failed(l)) {
		note(d, "the MX lookup of %s failed (%s%s%s): the policy's mx patterns were not checked against the "
		    "MX hosts", r->domain, l->security == DNS_BOGUS ? "bogus" : dns_outcome_name(l->outcome),
		    l->why ? ": " : "", l->why ? l->why : "");
		return;
	}
	if (l->outcome == DNS_NXDOMAIN) {
		problem(d, "%s does not exist in DNS (NXDOMAIN): no mail can reach it", r->domain);
		return;
	}
	const char *consequence = stspolicy_mode(p) == STSPOLICY_MODE_ENFORCE
	    ? "in mode enforce senders refuse to deliver to it"
	    : "in mode testing senders report a failure for it (and would refuse it in mode enforce)";
	for (size_t i = 0; i < r->nmx; i++) {
		struct stscheck_mx *m = &r->mx[i];
		m->matched = stspolicy_mx_matches(p, m->name);
		if (!m->matched)
			problem(d, "%sMX host %s is matched by no mx line of the policy: %s; add \"mx: %s\" (or a "
			    "wildcard that covers it) to the policy, and change the TXT id", r->mx_implicit ? "implicit " : "",
			    m->name, consequence, m->name);
	}
}

static void
policy_notes(struct diag *d)
{
	const struct stscheck_result *r = d->r;
	const struct stspolicy *p = r->policy;

	switch (stspolicy_mode(p)) {
	case STSPOLICY_MODE_ENFORCE:
		break;
	case STSPOLICY_MODE_TESTING:
		note(d, "mode testing: senders deliver even when TLS fails and only report it (TLSRPT); switch to "
		    "mode enforce once the reports are clean");
		break;
	case STSPOLICY_MODE_NONE:
		note(d, "mode none: the domain withdraws MTA-STS, and senders forget the policy they had cached");
		break;
	}
	if (stspolicy_max_age(p) < SHORT_MAX_AGE_S)
		note(d, "max_age %u s is short: RFC 8461 section 3.2 expects weeks or more, so that a policy "
		    "outlasts an attack at its refresh", stspolicy_max_age(p));
	if (r->enforce_answer && !r->tlsrpt)
		note(d, "the TLSRPT attributes would make Postfix's answer longer than %u bytes: the daemon leaves "
		    "them out", (unsigned)TLSRPT_REPLY_MAX);
	if (r->mx_null)
		note(d, "%s publishes a null MX (RFC 7505): it takes no mail, and needs no MTA-STS", r->domain);
}

/* The answer Postfix gets for the policy in mode enforce, and the TLSRPT
 * attributes after it, as the daemon's map writes them (mapreply.c). */
static int
derive_answer(struct stscheck_result *r)
{
	struct buf b;
	int rc = 0;

	buf_init(&b);
	if (stspolicy_postfix_answer(r->policy, &b) == 0 && buf_terminate(&b) == 0) {
		size_t answer_len = buf_size(&b);
		if (!(r->enforce_answer = strdup(buf_ptr(&b))))
			rc = -1;
		else if (tlsrpt_append_sts(&b, r->domain, r->policy, TLSRPT_REPLY_MAX - strlen("OK ")) &&
		    buf_terminate(&b) == 0 && buf_size(&b) > answer_len &&
		    !(r->tlsrpt = strdup(buf_ptr(&b) + answer_len + 1)))
			rc = -1;
	}
	buf_free(&b);
	return rc;
}

int
stscheck_diagnose(struct stscheck_result *r)
{
	struct diag d = {.r = r};
	bool served = r->fetched && r->fetch == STSFETCH_OK;
	bool txt_usable = !stscheck_lookup_failed(&r->txt_lookup) && r->txt.status == STSTXT_FOUND;

	clear_derived(r);
	for (size_t i = 0; i < r->nmx; i++)
		r->mx[i].matched = false;
	if (r->policy && derive_answer(r) < 0)
		d.failed = true;

	if (txt_usable && r->policy)
		r->verdict = STSCHECK_VALID;
	else if (!served && !stscheck_lookup_failed(&r->txt_lookup) && r->txt.status == STSTXT_NONE)
		r->verdict = STSCHECK_ABSENT;
	else
		r->verdict = STSCHECK_BROKEN;

	if (r->verdict == STSCHECK_ABSENT) {
		problem(&d, "%s does not use MTA-STS: _mta-sts.%s has no v=STSv1 TXT record and no policy is served "
		    "(%s); to use it, serve a policy at %s and publish _mta-sts.%s TXT \"v=STSv1; id=<1 to 32 letters "
		    "or digits>\"", r->domain, r->domain, r->fetched ? stsfetch_outcome_name(r->fetch) : "not fetched",
		    r->url, r->domain);
	} else {
		txt_problems(&d, served);
		if (!r->fetched)
			problem(&d, "%s was not fetched", r->url);
		else
			fetch_problem(&d);
		/* Each of the parser's lines says what is wrong where. */
		const char *e = buf_ptr(&r->policy_errors);
		while (!r->policy && *e) {
			size_t n = strcspn(e, "\n");
			problem(&d, "the policy at %s is invalid: %.*s", r->url, (int)n, e);
			e += n + (e[n] == '\n');
		}
	}
	mx_problems(&d);
	if (r->policy)
		policy_notes(&d);
	if (d.dropped) {
		/* problem() keeps the last slot for this line. */
		char *s;
		if (asprintf(&s, "and %zu more problems", d.dropped) < 0)
			d.failed = true;
		else
			r->problems[r->nproblems++] = s;
	}
	return d.failed ? -1 : 0;
}

/* ---- the run ---- */

struct stscheck {
	struct stsfetch *fetcher;
	struct dns *dns;
	struct stscheck_result *r;
	stscheck_callback *cb;
	void *arg;
	int txt_id, mx_id;		/* > 0 while in flight */
	struct stsfetch_job *job;	/* while in flight */
	bool failed;			/* out of memory on the way */
};

static void
check_free(struct stscheck *c)
{
	if (c->txt_id > 0)
		dns_cancel(c->dns, c->txt_id);
	if (c->mx_id > 0)
		dns_cancel(c->dns, c->mx_id);
	stsfetch_cancel(c->job);
	stsfetch_free(c->fetcher);
	stscheck_result_free(c->r);
	free(c);
}

static void
maybe_done(struct stscheck *c)
{
	if (c->txt_id > 0 || c->mx_id > 0 || c->job)
		return;
	if (stscheck_diagnose(c->r) < 0)
		c->failed = true;
	/* Out of memory on the way: the report says so rather than mislead. */
	if (c->failed && c->r->nproblems < STSCHECK_PROBLEMS_MAX) {
		char *s = strdup("the check ran out of memory: this report is incomplete");
		if (s) {
			c->r->problems[c->r->nproblems++] = s;
			c->r->verdict = c->r->verdict == STSCHECK_VALID ? STSCHECK_BROKEN : c->r->verdict;
		}
	}
	struct stscheck_result *r = c->r;
	c->r = NULL;
	c->cb(c->arg, r);
	check_free(c);
}

static void
on_txt(void *arg, struct dns_answer *a)
{
	struct stscheck *c = arg;

	c->txt_id = 0;
	if (stscheck_set_txt(c->r, a) < 0)
		c->failed = true;
	dns_answer_free(a);
	maybe_done(c);
}

static void
on_mx(void *arg, struct dns_answer *a)
{
	struct stscheck *c = arg;

	c->mx_id = 0;
	if (stscheck_set_mx(c->r, a) < 0)
		c->failed = true;
	dns_answer_free(a);
	maybe_done(c);
}

static void
on_fetch(void *arg, const struct stsfetch_result *f)
{
	struct stscheck *c = arg;

	c->job = NULL;
	if (stscheck_set_fetch(c->r, f) < 0)
		c->failed = true;
	maybe_done(c);
}

struct stscheck *
stscheck_start(struct event_base *base, struct dns *dns, const struct stsfetch_settings *s, const char *domain,
    stscheck_callback *cb, void *arg, char *err, size_t errlen)
{
	struct stscheck *c = calloc(1, sizeof(*c));
	char name[sizeof(STSCHECK_TXT_PREFIX) + STSFETCH_DOMAIN_MAX];

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->dns = dns;
	c->cb = cb;
	c->arg = arg;
	if (!(c->r = stscheck_result_new(domain))) {
		snprintf(err, errlen, "'%.*s' is not a domain name in lower-case A-label form", STSFETCH_DOMAIN_MAX,
		    domain);
		free(c);
		return NULL;
	}
	if (!(c->fetcher = stsfetch_create(base, dns, s, err, errlen))) {
		check_free(c);
		return NULL;
	}
	snprintf(name, sizeof(name), STSCHECK_TXT_PREFIX "%s", domain);
	/* A name too long for DNS is reported, not looked up. */
	if (strlen(name) <= NEXTHOP_NAME_MAX && (c->txt_id = dns_lookup(dns, name, RR_TYPE_TXT, on_txt, c)) < 0) {
		snprintf(err, errlen, "cannot start the TXT lookup of %s", name);
		c->txt_id = 0;
		check_free(c);
		return NULL;
	}
	if ((c->mx_id = dns_lookup(dns, domain, RR_TYPE_MX, on_mx, c)) < 0) {
		snprintf(err, errlen, "cannot start the MX lookup of %s", domain);
		c->mx_id = 0;
		check_free(c);
		return NULL;
	}
	if (!(c->job = stsfetch_start(c->fetcher, domain, on_fetch, c))) {
		snprintf(err, errlen, "cannot start the fetch of %s", c->r->url);
		check_free(c);
		return NULL;
	}
	return c;
}

void
stscheck_cancel(struct stscheck *c)
{
	if (c)
		check_free(c);
}
