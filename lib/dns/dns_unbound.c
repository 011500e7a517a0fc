/* dns_unbound - libunbound behind the dns seam; see dns_unbound.h. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>
#include <ldns/ldns.h>
#include <unbound.h>

#include "util/list.h"
#include "dns/dns_unbound.h"
#include "dns/rr.h"

struct query {
	struct resolver *res;
	struct list_node link;		/* on res->queries */
	int id;			/* ours, > 0 */
	int ub_id;		/* libunbound's */
	struct dns_answer *answer;	/* allocated up front: an answer always arrives */
	dns_callback *cb;
	void *arg;
	struct event *timer;
};

struct resolver {
	struct ub_ctx *ctx;
	struct event *readable;
	struct event_base *base;
	struct timeval timeout;
	struct list queries;	/* in flight, for cancel and free */
	int next_id;
};

static void
unlink_query(struct query *q)
{
	list_remove(&q->res->queries, &q->link);
}

static void
free_query(struct query *q)
{
	if (q->timer)
		event_free(q->timer);
	dns_answer_free(q->answer);
	free(q);
}

static bool
same_name(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la && a[la - 1] == '.')
		la--;
	if (lb && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* The earliest expiry of the RRSIGs over the answer's RRset in the reply
 * libunbound validated (it encodes the reply with its DNSSEC records, as
 * to a client that set DO): 0 when there is none or the packet does not
 * parse. The owner is not compared: in a CNAME chain only the target's
 * RRset has the type asked for. */
static int64_t
earliest_signature(const struct ub_result *r, uint16_t qtype)
{
	ldns_pkt *p = NULL;
	int64_t earliest = 0;

	if (!r->answer_packet || r->answer_len <= 0 ||
	    ldns_wire2pkt(&p, r->answer_packet, (size_t)r->answer_len) != LDNS_STATUS_OK)
		return 0;
	const ldns_rr_list *an = ldns_pkt_answer(p);
	for (size_t i = 0; an && i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_RRSIG || ldns_rr_rd_count(rr) < 9 ||
		    ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(rr)) != qtype)
			continue;
		/* A 32-bit count of seconds (RFC 4034 section 3.1.5), read as
		 * unsigned: right until 2106. */
		int64_t t = (int64_t)ldns_rdf2native_int32(ldns_rr_rrsig_expiration(rr));
		if (earliest == 0 || t < earliest)
			earliest = t;
	}
	ldns_pkt_free(p);
	return earliest;
}

/* Fills the query's answer from libunbound's result. */
static void
convert(struct query *q, int err, struct ub_result *r)
{
	struct dns_answer *a = q->answer;

	if (err) {
		a->outcome = DNS_SERVFAIL;
		a->rcode = 2;
		a->why = strdup(ub_strerror(err));
		return;
	}
	a->rcode = r->rcode;
	a->ttl = r->ttl > 0 ? (uint32_t)r->ttl : 0;
	/* libunbound can hand back a bogus answer with rcode 0 and data: the
	 * bogus flag decides, never the rcode alone. */
	a->security = r->bogus ? DNS_BOGUS : r->secure ? DNS_SECURE : DNS_INSECURE;
	if (r->bogus && r->why_bogus)
		a->why = strdup(r->why_bogus);
	if (r->rcode == 3)
		a->outcome = DNS_NXDOMAIN;
	else if (r->rcode != 0)
		a->outcome = DNS_SERVFAIL;
	else
		a->outcome = r->havedata ? DNS_DATA : DNS_NODATA;
	if (r->canonname && !same_name(r->canonname, a->qname)) {
		a->canonname = strdup(r->canonname);
		size_t n = a->canonname ? strlen(a->canonname) : 0;
		if (n > 1 && a->canonname[n - 1] == '.')
			a->canonname[n - 1] = '\0';
	}
	if (r->secure && r->havedata)
		a->sig_expires = earliest_signature(r, a->qtype);
	for (int i = 0; r->havedata && r->data[i]; i++) {
		if (dns_answer_add(a, r->data[i], (size_t)r->len[i]) < 0) {
			/* Out of memory: a partial RRset must not pass for the whole. */
			a->outcome = DNS_SERVFAIL;
			a->why = strdup("out of memory");
			return;
		}
	}
}

static void
deliver(struct query *q)
{
	dns_callback *cb = q->cb;
	void *arg = q->arg;
	struct dns_answer *a = q->answer;

	q->answer = NULL;
	unlink_query(q);
	free_query(q);
	cb(arg, a);
}

static void
on_result(void *mydata, int err, struct ub_result *r)
{
	struct query *q = mydata;

	convert(q, err, r);
	if (r)
		ub_resolve_free(r);
	deliver(q);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct query *q = arg;

	ub_cancel(q->res->ctx, q->ub_id);
	q->answer->outcome = DNS_TIMEOUT;
	q->answer->why = strdup("no answer within dns_timeout");
	deliver(q);
}

static void
on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct resolver *res = arg;

	ub_process(res->ctx);
}

static int
ub_lookup(void *impl, const char *name, uint16_t type, dns_callback *cb, void *arg)
{
	struct resolver *res = impl;
	struct query *q = calloc(1, sizeof(*q));

	if (!q)
		return -1;
	q->res = res;
	q->cb = cb;
	q->arg = arg;
	if (!(q->answer = dns_answer_new(name, type)) ||
	    !(q->timer = evtimer_new(res->base, on_timeout, q)) ||
	    ub_resolve_async(res->ctx, name, type, 1, q, on_result, &q->ub_id) != 0) {
		free_query(q);
		return -1;
	}
	if (++res->next_id <= 0)
		res->next_id = 1;
	q->id = res->next_id;
	evtimer_add(q->timer, &res->timeout);
	list_push_front(&res->queries, &q->link);
	return q->id;
}

static void
ub_cancel_lookup(void *impl, int id)
{
	struct resolver *res = impl;

	for (struct list_node *l = res->queries.first; l; l = l->next) {
		struct query *q = LIST_ENTRY(l, struct query, link);
		if (q->id == id) {
			ub_cancel(res->ctx, q->ub_id);
			unlink_query(q);
			free_query(q);
			return;
		}
	}
}

static void
ub_free(void *impl)
{
	struct resolver *res = impl;

	while (res->queries.first) {
		struct query *q = LIST_ENTRY(res->queries.first, struct query, link);
		ub_cancel(res->ctx, q->ub_id);
		unlink_query(q);
		free_query(q);
	}
	if (res->readable)
		event_free(res->readable);
	if (res->ctx)
		ub_ctx_delete(res->ctx);
	free(res);
}

static const struct dns_ops unbound_ops = {
	.lookup = ub_lookup,
	.cancel = ub_cancel_lookup,
	.free = ub_free,
};

static void
discard_result(void *mydata, int err, struct ub_result *r)
{
	if (r)
		ub_resolve_free(r);
}

static int
check_readable(const char *what, const char *path, char *err, size_t errlen)
{
	if (access(path, R_OK) == 0)
		return 0;
	snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
	return -1;
}

/* Whether libunbound has any trust anchor, from any source: asked of
 * libunbound itself, which has followed unbound_config's include: lines. */
static bool
has_trust_anchor(struct ub_ctx *ctx)
{
	static const char *const options[] = {
		"trust-anchor-file", "trust-anchor", "auto-trust-anchor-file", "trusted-keys-file",
	};

	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		char *value = NULL;
		bool set = ub_ctx_get_option(ctx, options[i], &value) == 0 && value && value[0];
		free(value);
		if (set)
			return true;
	}
	return false;
}

/* The anchors: tracked (RFC 5011) in a file libunbound rewrites, or read
 * as they are; then there must be one from somewhere. */
static int
add_trust_anchors(struct ub_ctx *ctx, const struct dns_unbound_settings *s, char *err, size_t errlen)
{
	int rc;

	if (s->tracking_file && *s->tracking_file) {
		if (check_readable("trust anchor tracking file", s->tracking_file, err, errlen) < 0)
			return -1;
		if ((rc = ub_ctx_add_ta_autr(ctx, s->tracking_file)) != 0) {
			snprintf(err, errlen, "trust anchor tracking file %s: %s", s->tracking_file, ub_strerror(rc));
			return -1;
		}
	} else if (s->trust_anchor_file && *s->trust_anchor_file) {
		if (check_readable("trust_anchor_file", s->trust_anchor_file, err, errlen) < 0)
			return -1;
		if ((rc = ub_ctx_add_ta_file(ctx, s->trust_anchor_file)) != 0) {
			snprintf(err, errlen, "trust_anchor_file %s: %s", s->trust_anchor_file, ub_strerror(rc));
			return -1;
		}
	}
	if (has_trust_anchor(ctx))
		return 0;
	if (s->unbound_config && *s->unbound_config)
		snprintf(err, errlen, "no trust anchor: trust_anchor_file is empty and unbound_config %s names "
		    "none (no trust-anchor-file:, trust-anchor:, auto-trust-anchor-file: or trusted-keys-file:, "
		    "in it or in the files it includes): every answer would be insecure, and every destination "
		    "would get may", s->unbound_config);
	else
		snprintf(err, errlen, "no trust anchor: trust_anchor_file and unbound_config are both empty: "
		    "every answer would be insecure, and every destination would get may");
	return -1;
}

int
dns_unbound_seed_tracking(const char *from, const char *to, char *err, size_t errlen)
{
	char tmp[PATH_MAX], buf[8192];
	int in = -1, out = -1;
	ssize_t n;

	if (access(to, F_OK) == 0)
		return 0;
	if (errno != ENOENT) {
		snprintf(err, errlen, "trust anchor tracking file %s: %s", to, strerror(errno));
		return -1;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", to) >= sizeof(tmp)) {
		snprintf(err, errlen, "trust anchor tracking file %s: name too long", to);
		return -1;
	}
	if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "trust_anchor_file %s: %s", from, strerror(errno));
		return -1;
	}
	/* The anchors are public keys: readable by anyone the umask allows. */
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		goto fail;
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "trust_anchor_file %s: %s", from, strerror(errno));
			goto fail_quiet;
		}
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(out, buf + done, (size_t)(n - done));
			if (w < 0 && errno != EINTR)
				goto fail;
			done += w > 0 ? w : 0;
		}
	}
	if (fsync(out) < 0)
		goto fail;
	int closed = close(out);
	out = -1;
	if (closed < 0 || rename(tmp, to) < 0)
		goto fail;
	close(in);
	return 1;
fail:
	snprintf(err, errlen, "trust anchor tracking file %s: %s", tmp, strerror(errno));
fail_quiet:
	if (out >= 0)
		close(out);
	close(in);
	unlink(tmp);
	return -1;
}

struct dns *
dns_unbound_create(struct event_base *base, const struct dns_unbound_settings *s,
    char *err, size_t errlen)
{
	struct resolver *res = calloc(1, sizeof(*res));
	struct dns *dns = NULL;
	int rc;

	if (!res) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	res->base = base;
	res->timeout.tv_sec = s->timeout_ms / 1000;
	res->timeout.tv_usec = (s->timeout_ms % 1000) * 1000;
	if (!(res->ctx = ub_ctx_create())) {
		snprintf(err, errlen, "cannot create a libunbound context");
		goto fail;
	}
	/* A thread, not the default forked process: it shares our memory
	 * limits and stops with us. */
	if ((rc = ub_ctx_async(res->ctx, 1)) != 0) {
		snprintf(err, errlen, "libunbound: %s", ub_strerror(rc));
		goto fail;
	}
	/* The daemon caches its answers for the records' TTL itself, so
	 * libunbound's message and RRset caches only serve the lookups of
	 * one resolution and the records destinations share (a provider's
	 * MX hosts): a quarter and a half of libunbound's defaults do, and
	 * leave room for more destinations. unbound_config may set others. */
	if ((rc = ub_ctx_set_option(res->ctx, "msg-cache-size:", DNS_UNBOUND_MSG_CACHE)) != 0 ||
	    (rc = ub_ctx_set_option(res->ctx, "rrset-cache-size:", DNS_UNBOUND_RRSET_CACHE)) != 0) {
		snprintf(err, errlen, "libunbound cache sizes: %s", ub_strerror(rc));
		goto fail;
	}
	if (s->unbound_config && *s->unbound_config) {
		if (check_readable("unbound_config", s->unbound_config, err, errlen) < 0)
			goto fail;
		if ((rc = ub_ctx_config(res->ctx, s->unbound_config)) != 0) {
			snprintf(err, errlen, "unbound_config %s: %s (check it with unbound-checkconf)",
			    s->unbound_config, ub_strerror(rc));
			goto fail;
		}
	}
	if (add_trust_anchors(res->ctx, s, err, errlen) < 0)
		goto fail;
	/* libunbound reads its trust anchors and starts its thread at the first
	 * asynchronous query. "invalid." is one of its built-in local zones
	 * (RFC 6761), so this first query is answered without any network
	 * traffic; it makes every set-up error show now, while the daemon can
	 * still read root-only files and report to the administrator. */
	int warmup_id;
	if ((rc = ub_resolve_async(res->ctx, "invalid.", RR_TYPE_A, 1, NULL, discard_result, &warmup_id)) != 0) {
		snprintf(err, errlen, "starting libunbound (trust anchors, unbound_config): %s",
		    ub_strerror(rc));
		goto fail;
	}
	res->readable = event_new(base, ub_fd(res->ctx), EV_READ | EV_PERSIST, on_readable, res);
	if (!res->readable || event_add(res->readable, NULL) < 0) {
		snprintf(err, errlen, "cannot watch libunbound's descriptor");
		goto fail;
	}
	if (!(dns = dns_create(&unbound_ops, res))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return dns;
fail:
	ub_free(res);
	return NULL;
}
