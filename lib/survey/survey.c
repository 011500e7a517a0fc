/* survey - resolve and probe a list of domains; see survey.h. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "util/buf.h"
#include "util/jsonw.h"
#include "util/list.h"
#include "util/netaddr.h"
#include "postfix/nexthop.h"
#include "probe/probeplan.h"
#include "dns/resolve.h"
#include "util/strmap.h"
#include "survey/survey.h"
#include "rules/tlsa.h"

/* Domains waiting for probes, at most this many per resolution slot: a
 * slow prober must not let a fast resolver fill the memory. */
#define WAITING_PER_SLOT 16
/* A probe result in words: its error, or what matched. */
#define DETAIL_MAX 300

struct job;

/* One address of one MX host of one domain. */
struct address {
	char text[64];
	unsigned port;
	const char *class;		/* NULL while its probe runs */
	char detail[DETAIL_MAX];
};

struct host {
	char name[NEXTHOP_NAME_MAX + 1];
	unsigned preference;
	const char *verdict;
	struct buf tlsa;		/* the usable records as text, each NUL-terminated */
	size_t naddrs;
	struct address *addrs;
};

struct job {
	struct survey *sv;
	struct list_node node;		/* in survey.jobs */
	char domain[NEXTHOP_NAME_MAX + 1];
	struct resolve *resolve;	/* while resolving */
	struct policy_answer answer;
	char reason[512];
	const char *mx;
	const char *mx_security;
	size_t nhosts;
	struct host *hosts;
	size_t waiting;			/* addresses whose probe runs */
};

/* A (host, address, port) probed or under probe. */
struct waiter {
	struct list_node node;		/* in target.waiters */
	struct job *job;
	struct address *addr;
};

struct target {
	bool done;
	const char *class;
	char detail[DETAIL_MAX];
	struct list waiters;		/* while not done; the newest first */
};

struct survey {
	struct event_base *base;
	struct dns *dns;
	struct survey_settings s;
	struct prober *prober;
	survey_record_fn *record;
	survey_ready_fn *ready;
	void *arg;
	struct event *ready_ev;
	struct strmap *targets;
	struct list jobs;		/* every job not yet recorded */
	size_t resolving;
	struct survey_stats stats;
	struct buf line;
};

static void
signal_ready(struct survey *sv)
{
	if (survey_has_room(sv))
		event_active(sv->ready_ev, 0, 0);
}

static void
on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct survey *sv = arg;

	sv->ready(sv->arg);
}

static void
free_job(struct job *j)
{
	struct survey *sv = j->sv;

	if (j->resolve)
		resolve_cancel(j->resolve);
	for (size_t h = 0; h < j->nhosts; h++) {
		buf_free(&j->hosts[h].tlsa);
		free(j->hosts[h].addrs);
	}
	free(j->hosts);
	list_remove(&sv->jobs, &j->node);
	free(j);
}

/* Out of memory there is no record rather than a broken one: the domain
 * is not in the file, and a rerun does it again. */
static void
write_record(struct job *j)
{
	struct survey *sv = j->sv;
	struct jsonw w;

	buf_reset(&sv->line);
	jsonw_init(&w, &sv->line);
	jsonw_object(&w, NULL);
	jsonw_string(&w, "domain", j->domain);
	jsonw_int(&w, "time", (int64_t)time(NULL));
	jsonw_string(&w, "result", policy_result_name(j->answer.result));
	jsonw_string(&w, "rule", policy_rule_name(j->answer.rule));
	if (j->answer.result == POLICY_OK)
		jsonw_string(&w, "level", policy_level(sv->s.levels, j->answer));
	jsonw_string(&w, "reason", j->reason);
	jsonw_string(&w, "mx", j->mx);
	jsonw_string(&w, "mx_security", j->mx_security);
	jsonw_array(&w, "hosts");
	for (size_t h = 0; h < j->nhosts; h++) {
		const struct host *host = &j->hosts[h];
		const char *t = buf_ptr(&host->tlsa), *end = t + buf_size(&host->tlsa);
		jsonw_object(&w, NULL);
		jsonw_string(&w, "name", host->name);
		jsonw_uint(&w, "preference", host->preference);
		jsonw_string(&w, "verdict", host->verdict);
		jsonw_array(&w, "tlsa");
		for (; t < end; t += strlen(t) + 1)
			jsonw_string(&w, NULL, t);
		jsonw_array_end(&w);
		jsonw_array(&w, "addresses");
		for (size_t a = 0; a < host->naddrs; a++) {
			const struct address *addr = &host->addrs[a];
			jsonw_object(&w, NULL);
			jsonw_string(&w, "address", addr->text);
			jsonw_uint(&w, "port", addr->port);
			jsonw_string(&w, "class", addr->class);
			jsonw_string(&w, "detail", addr->detail);
			jsonw_object_end(&w);
		}
		jsonw_array_end(&w);
		jsonw_object_end(&w);
	}
	jsonw_array_end(&w);
	jsonw_object_end(&w);
	if (jsonw_done(&w) < 0)
		return;
	sv->stats.recorded++;
	sv->record(sv->arg, j->domain, buf_ptr(&sv->line), buf_size(&sv->line));
}

static void
finish(struct job *j)
{
	struct survey *sv = j->sv;

	write_record(j);
	free_job(j);
	signal_ready(sv);
}

static void
result_detail(const struct probe_result *r, char *dst, size_t size)
{
	if (r->error[0])
		snprintf(dst, size, "%s", r->error);
	else if (r->class == PROBE_DANE_VERIFIED)
		snprintf(dst, size, "matched %s at depth %d", r->dane_match, r->dane_depth);
	else if (r->class == PROBE_DANE_MISMATCH)
		snprintf(dst, size, "%s", r->dane_error[0] ? r->dane_error : "no TLSA record matches");
	else if (r->class == PROBE_UNTRUSTED)
		snprintf(dst, size, "%s", r->pkix_error);
	else if (!r->starttls_offered)
		snprintf(dst, size, "STARTTLS not offered");
	else
		snprintf(dst, size, "%s %s", r->protocol, r->cipher);
}

static void
on_probe(void *arg, const char *const *dests, size_t ndests, const struct probe_target *t,
    const struct probe_result *r)
{
	struct survey *sv = arg;

	for (size_t i = 0; i < ndests; i++) {
		struct target *tg = strmap_get(sv->targets, dests[i]);
		if (!tg || tg->done)
			continue;
		tg->done = true;
		tg->class = probe_class_name(r->class);
		result_detail(r, tg->detail, sizeof(tg->detail));
		sv->stats.by_class[r->class]++;
		/* A job that names the same host twice has two waiters here;
		 * it is recorded (and freed) only with its last one. */
		struct waiter *w;
		while ((w = LIST_ENTRY(list_pop_front(&tg->waiters), struct waiter, node))) {
			w->addr->class = tg->class;
			memcpy(w->addr->detail, tg->detail, sizeof(w->addr->detail));
			if (--w->job->waiting == 0)
				finish(w->job);
			free(w);
		}
	}
}

static void
target_key(const struct probe_target *t, const char *addr, char *key, size_t size)
{
	snprintf(key, size, "%s|%s|%u", t->host, addr, t->port);
}

/* Fills an address from an earlier probe, or waits for one. -1: no memory. */
static int
probe_address(struct job *j, struct address *addr, const struct probe_target *t)
{
	struct survey *sv = j->sv;
	char key[NEXTHOP_NAME_MAX + 80];

	target_key(t, addr->text, key, sizeof(key));
	struct target *tg = strmap_get(sv->targets, key);
	if (tg && tg->done) {
		addr->class = tg->class;
		memcpy(addr->detail, tg->detail, sizeof(addr->detail));
		sv->stats.reused++;
		return 0;
	}
	struct waiter *w = calloc(1, sizeof(*w));
	if (!w)
		return -1;
	if (!tg) {
		if (!(tg = calloc(1, sizeof(*tg))) || strmap_put(sv->targets, key, tg) < 0) {
			free(tg);
			free(w);
			return -1;
		}
		if (prober_submit(sv->prober, key, t) == PROBER_FULL) {
			/* The queue is sized for the whole survey; if it fills,
			 * say so in the record instead of waiting forever. */
			tg->done = true;
			tg->class = "skipped";
			snprintf(tg->detail, sizeof(tg->detail), "probe queue full");
			addr->class = tg->class;
			memcpy(addr->detail, tg->detail, sizeof(addr->detail));
			free(w);
			return 0;
		}
		sv->stats.probes++;
	}
	w->job = j;
	w->addr = addr;
	list_push_front(&tg->waiters, &w->node);
	j->waiting++;
	return 0;
}

/* The hosts, each with its usable TLSA records as text. -1 when out of
 * memory, with the hosts copied so far. */
static int
copy_hosts(struct job *j, const struct resolve_result *res)
{
	if (res->nhosts && !(j->hosts = calloc(res->nhosts, sizeof(*j->hosts))))
		return -1;
	for (size_t h = 0; h < res->nhosts; h++) {
		const struct resolve_host *rh = &res->hosts[h];
		struct host *host = &j->hosts[h];
		j->nhosts = h + 1;
		snprintf(host->name, sizeof(host->name), "%s", rh->name);
		host->preference = rh->preference;
		host->verdict = policy_host_verdict_name(rh->verdict);
		buf_init(&host->tlsa);
		for (size_t i = 0; i < rh->ntlsa; i++) {
			struct tlsa_record rec;
			size_t mark = buf_size(&host->tlsa);
			if (tlsa_parse(rh->tlsa[i].data, rh->tlsa[i].len, &rec) < 0)
				continue;
			if (tlsa_format(&rec, &host->tlsa) < 0 || buf_putc(&host->tlsa, '\0') < 0) {
				buf_truncate(&host->tlsa, mark);
				return -1;
			}
		}
	}
	return 0;
}

static struct host *
host_named(struct job *j, const char *name)
{
	for (size_t h = 0; h < j->nhosts; h++)
		if (strcmp(j->hosts[h].name, name) == 0)
			return &j->hosts[h];
	return NULL;
}

static const char *
mx_word(enum policy_mx mx)
{
	switch (mx) {
	case POLICY_MX_HOSTS: return "hosts";
	case POLICY_MX_NULL: return "null";
	case POLICY_MX_NXDOMAIN: return "nxdomain";
	case POLICY_MX_FAILED: return "failed";
	}
	return "failed";
}

static void
on_resolved(void *arg, const struct resolve_result *res)
{
	struct job *j = arg;
	struct survey *sv = j->sv;
	struct probeplan plan;

	j->resolve = NULL;	/* it frees itself */
	sv->resolving--;
	j->answer = res->answer;
	snprintf(j->reason, sizeof(j->reason), "%s", res->reason);
	j->mx = mx_word(res->facts.mx);
	j->mx_security = policy_dns_name(res->facts.mx_dns);
	memset(&plan, 0, sizeof(plan));
	if (copy_hosts(j, res) < 0 || probeplan_build(res, &sv->s.plan, &plan) < 0) {
		snprintf(j->reason, sizeof(j->reason), "out of memory");
		goto done;
	}
	/* Addresses in plan order, which is host order. */
	for (size_t h = 0; h < j->nhosts; h++) {
		size_t n = 0;
		for (size_t i = 0; i < plan.n; i++)
			n += strcmp(plan.items[i].target.host, j->hosts[h].name) == 0;
		if (n && !(j->hosts[h].addrs = calloc(n, sizeof(struct address))))
			goto done;
	}
	for (size_t i = 0; i < plan.n; i++) {
		const struct probeplan_item *it = &plan.items[i];
		struct host *host = host_named(j, it->target.host);
		if (!host)
			continue;
		struct address *addr = &host->addrs[host->naddrs++];
		netaddr_format(&it->target.address, addr->text, sizeof(addr->text));
		addr->port = it->target.port;
		if (it->over_limit) {
			addr->class = "skipped";
			snprintf(addr->detail, sizeof(addr->detail), "past probe_address_limit");
		} else if (it->refused) {
			addr->class = "refused";
			snprintf(addr->detail, sizeof(addr->detail), "%s", it->refused);
		} else if (!sv->prober) {
			addr->class = "skipped";
			snprintf(addr->detail, sizeof(addr->detail), "probes disabled");
		} else if (probe_address(j, addr, &it->target) < 0) {
			addr->class = "skipped";
			snprintf(addr->detail, sizeof(addr->detail), "out of memory");
		}
	}
done:
	probeplan_free(&plan);
	if (j->waiting == 0)
		finish(j);
	else
		signal_ready(sv);
}

int
survey_add(struct survey *sv, const char *domain, char *err, size_t errlen)
{
	struct nexthop nh;
	const char *why;

	if (nexthop_parse(domain, strlen(domain), &nh, &why) < 0) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	if (nh.kind != NEXTHOP_DOMAIN || nh.port != NEXTHOP_DEFAULT_PORT) {
		snprintf(err, errlen, "not a domain name");
		return -1;
	}
	struct job *j = calloc(1, sizeof(*j));
	if (!j) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	j->sv = sv;
	snprintf(j->domain, sizeof(j->domain), "%s", nh.name);
	list_push_back(&sv->jobs, &j->node);
	sv->resolving++;
	if (!(j->resolve = resolve_start(sv->dns, &nh, on_resolved, j))) {
		sv->resolving--;
		free_job(j);
		snprintf(err, errlen, "cannot start the lookups");
		return -1;
	}
	return 0;
}

struct survey *
survey_create(struct event_base *base, struct dns *dns, const struct probe_env *env,
    const struct survey_settings *s, survey_record_fn *record, survey_ready_fn *ready, void *arg,
    char *err, size_t errlen)
{
	struct survey *sv = calloc(1, sizeof(*sv));

	if (!sv) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sv->base = base;
	sv->dns = dns;
	sv->s = *s;
	if (!sv->s.concurrency)
		sv->s.concurrency = 1;
	sv->record = record;
	sv->ready = ready;
	sv->arg = arg;
	buf_init(&sv->line);
	if (!(sv->targets = strmap_create()) || !(sv->ready_ev = event_new(base, -1, 0, on_ready, sv))) {
		snprintf(err, errlen, "out of memory");
		survey_free(sv);
		return NULL;
	}
	if (env && !(sv->prober = prober_create(base, env, &s->prober, on_probe, sv, err, errlen))) {
		survey_free(sv);
		return NULL;
	}
	return sv;
}

static void
free_target(void *value)
{
	struct target *tg = value;
	struct list_node *n;

	while ((n = list_pop_front(&tg->waiters)))
		free(LIST_ENTRY(n, struct waiter, node));
	free(tg);
}

void
survey_free(struct survey *sv)
{
	if (!sv)
		return;
	/* The prober first: no result may arrive for a freed job. */
	prober_free(sv->prober);
	while (!list_empty(&sv->jobs))
		free_job(LIST_ENTRY(sv->jobs.first, struct job, node));
	strmap_free(sv->targets, free_target);
	if (sv->ready_ev)
		event_free(sv->ready_ev);
	buf_free(&sv->line);
	free(sv);
}

size_t
survey_pending(const struct survey *sv)
{
	return sv->jobs.count;
}

bool
survey_has_room(const struct survey *sv)
{
	return sv->resolving < sv->s.concurrency && sv->jobs.count < (size_t)sv->s.concurrency * WAITING_PER_SLOT;
}

void
survey_stats(const struct survey *sv, struct survey_stats *out)
{
	*out = sv->stats;
}

int
survey_list_domain(const char *line, size_t len, char *dst, size_t size)
{
	const char *p = line, *end = line + len;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p < end && *p == '#')
		return 0;
	for (const char *q = p; q < end; q++)
		if (*q == ',')
			p = q + 1;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		end--;
	if (p == end)
		return 0;
	if (end > p && end[-1] == '.')
		end--;
	size_t n = (size_t)(end - p);
	if (n >= size)
		return -1;
	for (size_t i = 0; i < n; i++)
		dst[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] - 'A' + 'a' : p[i]);
	dst[n] = '\0';
	return 1;
}

int
survey_record_domain(const char *line, size_t len, char *dst, size_t size)
{
	static const char prefix[] = "{\"domain\":\"";
	size_t plen = sizeof(prefix) - 1;

	/* Whole records only: they end with the closing brace. */
	if (len < plen + 2 || memcmp(line, prefix, plen) != 0 || line[len - 1] != '}')
		return -1;
	const char *start = line + plen, *q = memchr(start, '"', len - plen);
	if (!q || (size_t)(q - start) >= size || q == start)
		return -1;
	memcpy(dst, start, (size_t)(q - start));
	dst[q - start] = '\0';
	return 0;
}
