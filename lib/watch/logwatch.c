/* logwatch - TLS outcomes per destination from Postfix's log; see
 * logwatch.h for the contract.
 *
 * Two bounded tables, each a keyed map in LRU order (map.h):
 *   - processes (program, pid) with the TLS events they logged since their
 *     last delivery line, at most LOGWATCH_PROCS of them holding at most
 *     LOGWATCH_PENDING events each; an smtp(8) process handles one
 *     delivery at a time, so what it logged before its next delivery line
 *     belongs to that delivery, whichever of the destination's MX hosts it
 *     was about (a failed first MX host counts for the destination too);
 *   - destinations, at most max_dests, counts only.
 * Events older than LOGWATCH_STALE_S (a process that died between its TLS
 * line and its delivery line) are dropped, never attributed.
 *
 * Counted are deliveries over the network (a relay with an address) and
 * those that never reached a host (relay=none, not sent: DNS or TLS policy
 * failed); local, virtual, pipe and discard deliveries are not. The SMTP
 * server's lines are about its clients and are ignored. auth-failing is
 * raised once per fall: the failure clears last_verified, and only a new
 * Verified connection (or Postfix 3.11's tls= naming an authenticating
 * level on a sent delivery without a TLS line) sets it again. */
#include "autoconfig.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/kv.h"
#include "util/map.h"
#include "watch/logwatch.h"
#include "postfix/postfixlog.h"

#define LOGWATCH_PROCS 1024
#define LOGWATCH_PENDING 8
#define LOGWATCH_STALE_S 3600

struct event {
	enum postfixlog_kind kind;
	char trust[12];
	char detail[256];		/* what an alert says about it */
};

/* A process by what its log lines name it: zero-filled, so that it can be
 * compared and hashed as bytes. */
struct proc_key {
	unsigned long pid;
	char program[32];
};

struct proc {
	struct map_node node;
	struct proc_key key;
	int64_t last;
	size_t nevents;
	struct event events[LOGWATCH_PENDING];
};

struct dest {
	struct map_node node;
	struct logwatch_counts c;
	char name[];
};

struct logwatch {
	logwatch_alert *alert;
	void *arg;
	size_t lines;
	struct map dests;		/* at most max_dests, the one seen longest ago goes */
	struct map procs;		/* at most LOGWATCH_PROCS, the one heard from longest ago goes */
};

/* Alert details are cut to their buffers on purpose. */
static void detail_printf(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
detail_printf(char *dst, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, cap, fmt, ap);
	va_end(ap);
}

/* Evicting is freeing: nothing else points at them. */
static void
free_dest(void *arg, struct map_node *n)
{
	free(MAP_ENTRY(n, struct dest, node));
}

static void
free_proc(void *arg, struct map_node *n)
{
	free(MAP_ENTRY(n, struct proc, node));
}

struct logwatch *
logwatch_create(size_t max_dests, logwatch_alert *alert, void *arg)
{
	unsigned char seed[16];
	struct logwatch *lw = calloc(1, sizeof(*lw));

	if (!lw)
		return NULL;
	lw->alert = alert;
	lw->arg = arg;
	/* Recipient domains are names strangers choose: keyed tables. */
	hash_random_seed(seed);
	map_init(&lw->dests, seed);
	map_set_max(&lw->dests, max_dests ? max_dests : 1, free_dest, NULL);
	map_init(&lw->procs, seed);
	map_set_max(&lw->procs, LOGWATCH_PROCS, free_proc, NULL);
	return lw;
}

void
logwatch_free(struct logwatch *lw)
{
	if (!lw)
		return;
	map_clear(&lw->dests, free_dest, NULL);
	map_clear(&lw->procs, free_proc, NULL);
	free(lw);
}

/* ------------------------------------------------------------ destinations */

/* The destination's entry, made when new (forgetting the one seen longest
 * ago when the table is full), and marked seen now. */
static struct dest *
dest_get(struct logwatch *lw, const char *name, int64_t now)
{
	size_t len = strlen(name);
	struct dest *d = MAP_ENTRY(map_find(&lw->dests, name, len), struct dest, node);

	if (d) {
		map_touch(&lw->dests, &d->node);
	} else {
		if (!(d = calloc(1, sizeof(*d) + len + 1)))
			return NULL;
		memcpy(d->name, name, len + 1);
		map_put(&lw->dests, &d->node, d->name, len);
	}
	d->c.last_seen = now;
	return d;
}

const struct logwatch_counts *
logwatch_counts(const struct logwatch *lw, const char *dest)
{
	char name[NEXTHOP_NAME_MAX + 1];
	size_t len = strlen(dest);

	/* Kept as postfixlog gives them: lower case, no trailing dot. */
	if (len > 1 && dest[len - 1] == '.')
		len--;
	if (len > NEXTHOP_NAME_MAX)
		return NULL;
	for (size_t i = 0; i < len; i++)
		name[i] = (dest[i] >= 'A' && dest[i] <= 'Z') ? (char)(dest[i] - 'A' + 'a') : dest[i];
	name[len] = '\0';
	const struct dest *d = MAP_ENTRY(map_find(&lw->dests, name, len), struct dest, node);

	return d ? &d->c : NULL;
}

void
logwatch_each(const struct logwatch *lw, void (*fn)(void *arg, const char *dest, const struct logwatch_counts *c),
    void *arg)
{
	for (struct map_node *n = map_newest(&lw->dests); n; n = map_older(n))
		fn(arg, MAP_ENTRY(n, struct dest, node)->name, &MAP_ENTRY(n, struct dest, node)->c);
}

size_t
logwatch_lines(const struct logwatch *lw)
{
	return lw->lines;
}

/* -------------------------------------------------------------- processes */

static struct proc_key
proc_key(const char *program, unsigned long pid)
{
	struct proc_key k;

	memset(&k, 0, sizeof(k));
	k.pid = pid;
	snprintf(k.program, sizeof(k.program), "%s", program);
	return k;
}

static struct proc *
proc_find(const struct logwatch *lw, const struct proc_key *k)
{
	return MAP_ENTRY(map_find(&lw->procs, k, sizeof(*k)), struct proc, node);
}

/* The process's pending events, made when new (forgetting the process
 * heard from longest ago when the table is full). */
static struct proc *
proc_get(struct logwatch *lw, const char *program, unsigned long pid, int64_t now)
{
	struct proc_key k = proc_key(program, pid);
	struct proc *p = proc_find(lw, &k);

	if (p) {
		if (now - p->last > LOGWATCH_STALE_S)
			p->nevents = 0;
		map_touch(&lw->procs, &p->node);
	} else {
		if (!(p = malloc(sizeof(*p))))
			return NULL;
		p->key = k;
		p->nevents = 0;
		map_put(&lw->procs, &p->node, &p->key, sizeof(p->key));
	}
	p->last = now;
	return p;
}

static void
remember(struct logwatch *lw, const struct postfixlog_line *l, int64_t now)
{
	size_t plen = strlen(l->program);

	/* The SMTP server's certificate failures are about its clients, and
	 * it logs no delivery to tie them to. */
	if (plen >= 5 && strcmp(l->program + plen - 5, "smtpd") == 0)
		return;
	struct proc *p = proc_get(lw, l->program, l->pid, now);
	if (!p)
		return;
	if (p->nevents == LOGWATCH_PENDING) {
		/* A delivery that tried more hosts than this: keep the latest. */
		memmove(&p->events[0], &p->events[1], (LOGWATCH_PENDING - 1) * sizeof(p->events[0]));
		p->nevents--;
	}
	struct event *e = &p->events[p->nevents++];
	e->kind = l->kind;
	memcpy(e->trust, l->trust, sizeof(e->trust));
	switch (l->kind) {
	case POSTFIXLOG_TLS_ESTABLISHED:
	case POSTFIXLOG_CERT_FAILED:
		detail_printf(e->detail, sizeof(e->detail), "%.*s[%s]:%u: %s", 120, l->host, l->addr, l->port, l->text);
		break;
	default:
		snprintf(e->detail, sizeof(e->detail), "%s", l->text);
		break;
	}
}

/* ------------------------------------------------------------ attribution */

static void
auth_failing(struct logwatch *lw, struct dest *d, const char *detail)
{
	if (!d->c.last_verified)
		return;
	/* Once per fall: the next alert needs a Verified delivery first. */
	d->c.last_verified = 0;
	if (lw->alert)
		lw->alert(lw->arg, "auth-failing", d->name, detail);
}

static void
apply_event(struct logwatch *lw, struct dest *d, const struct event *e)
{
	switch (e->kind) {
	case POSTFIXLOG_TLS_ESTABLISHED:
		if (strcmp(e->trust, "Verified") == 0)
			d->c.verified++;
		else if (strcmp(e->trust, "Trusted") == 0)
			d->c.trusted++;
		else if (strcmp(e->trust, "Untrusted") == 0)
			d->c.untrusted++;
		else
			d->c.anonymous++;
		d->c.last_verified = strcmp(e->trust, "Verified") == 0;
		break;
	case POSTFIXLOG_CERT_FAILED: {
		char detail[300];
		detail_printf(detail, sizeof(detail), "certificate verification failed for %s", e->detail);
		d->c.cert_failed++;
		auth_failing(lw, d, detail);
		break;
	}
	case POSTFIXLOG_TLSA_ERROR:
		d->c.tlsa_error++;
		auth_failing(lw, d, e->detail);
		break;
	case POSTFIXLOG_NON_DNSSEC:
		d->c.non_dnssec++;
		break;
	default:
		break;
	}
}

/* Postfix 3.11's tls= field names the security level the delivery met;
 * these levels authenticate the server. */
static bool
authenticated_level(const char *tls)
{
	static const char *const levels[] = {"dane", "dane-only", "verify", "secure", "fingerprint"};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcmp(tls, levels[i]) == 0)
			return true;
	return false;
}

static void
delivery(struct logwatch *lw, const struct postfixlog_line *l, int64_t now)
{
	struct proc_key k = proc_key(l->program, l->pid);
	struct proc *p = proc_find(lw, &k);
	size_t nevents = p && now - p->last <= LOGWATCH_STALE_S ? p->nevents : 0;

	/* Deliveries over the network, and those that never got to a host
	 * (relay=none: DNS, TLS policy); not local, virtual, pipe or discard. */
	bool network = l->addr[0] || (strcmp(l->host, "none") == 0 && strcmp(l->status, "sent") != 0);
	if (l->rcpt_domain[0] && (network || nevents)) {
		struct dest *d = dest_get(lw, l->rcpt_domain, now);
		if (d) {
			bool tls_line = false;
			for (size_t i = 0; i < nevents; i++) {
				apply_event(lw, d, &p->events[i]);
				tls_line |= p->events[i].kind == POSTFIXLOG_TLS_ESTABLISHED;
			}
			if (strcmp(l->status, "sent") == 0) {
				d->c.sent++;
				d->c.run_deferred_tls = 0;
				d->c.run_first = d->c.run_last = 0;
				if (!tls_line && authenticated_level(l->tls))
					d->c.last_verified = 1;
			} else if (strcmp(l->status, "deferred") == 0) {
				d->c.deferred++;
				if (strcmp(l->dsn, "4.7.5") == 0) {
					char detail[300];
					d->c.deferred_tls++;
					if (d->c.run_deferred_tls++ == 0)
						d->c.run_first = now;
					d->c.run_last = now;
					if (l->addr[0])
						detail_printf(detail, sizeof(detail), "dsn=4.7.5 relay=%.*s[%s]:%u: %s", 120, l->host,
						    l->addr, l->port, l->text);
					else
						detail_printf(detail, sizeof(detail), "dsn=4.7.5 relay=%s: %s", l->host, l->text);
					auth_failing(lw, d, detail);
				}
			}
		}
	}
	/* Its events are spent: the other recipients of the same delivery
	 * follow with no TLS line of their own. */
	if (p) {
		map_remove(&lw->procs, &p->node);
		free(p);
	}
}

void
logwatch_line(struct logwatch *lw, const char *line, size_t len, int64_t now)
{
	struct postfixlog_line l;

	lw->lines++;
	switch (postfixlog_parse(line, len, &l)) {
	case POSTFIXLOG_NONE:
		break;
	case POSTFIXLOG_DNSSEC_OFF:
		if (lw->alert) {
			char detail[300];
			detail_printf(detail, sizeof(detail), "%s[%lu]: %s", l.program, l.pid, l.text);
			lw->alert(lw->arg, "dnssec-off", "", detail);
		}
		break;
	case POSTFIXLOG_TLS_ESTABLISHED:
	case POSTFIXLOG_CERT_FAILED:
	case POSTFIXLOG_TLSA_ERROR:
	case POSTFIXLOG_NON_DNSSEC:
		remember(lw, &l, now);
		break;
	case POSTFIXLOG_DELIVERY:
		delivery(lw, &l, now);
		break;
	}
}

/* The counts a relay shares, by name: one table for the three below. */
static const struct {
	const char *name;
	size_t offset;
} count_fields[] = {
	{"verified", offsetof(struct logwatch_counts, verified)},
	{"trusted", offsetof(struct logwatch_counts, trusted)},
	{"untrusted", offsetof(struct logwatch_counts, untrusted)},
	{"anonymous", offsetof(struct logwatch_counts, anonymous)},
	{"cert_failed", offsetof(struct logwatch_counts, cert_failed)},
	{"tlsa_error", offsetof(struct logwatch_counts, tlsa_error)},
	{"non_dnssec", offsetof(struct logwatch_counts, non_dnssec)},
	{"sent", offsetof(struct logwatch_counts, sent)},
	{"deferred", offsetof(struct logwatch_counts, deferred)},
	{"deferred_tls", offsetof(struct logwatch_counts, deferred_tls)},
};
#define NCOUNT_FIELDS (sizeof(count_fields) / sizeof(count_fields[0]))

static uint64_t *
count_at(struct logwatch_counts *c, size_t i)
{
	return (uint64_t *)(void *)((char *)c + count_fields[i].offset);
}

static uint64_t
count_of(const struct logwatch_counts *c, size_t i)
{
	uint64_t v;

	memcpy(&v, (const char *)c + count_fields[i].offset, sizeof(v));
	return v;
}

void
logwatch_counts_format(const struct logwatch_counts *c, struct buf *out)
{
	for (size_t i = 0; i < NCOUNT_FIELDS; i++)
		kv_uint(out, count_fields[i].name, count_of(c, i));
	kv_uint(out, "last_seen", (uint64_t)(c->last_seen > 0 ? c->last_seen : 0));
}

struct counts_read {
	struct logwatch_counts *c;
	unsigned seen;		/* a bit per count field */
	bool bad;
};

static void
read_count(void *arg, const char *key, const char *value)
{
	struct counts_read *r = arg;
	uint64_t v;

	for (size_t i = 0; i < NCOUNT_FIELDS; i++) {
		if (strcmp(key, count_fields[i].name) != 0)
			continue;
		if (!kv_number(value, UINT64_MAX / 2, &v) || (r->seen & (1u << i))) {
			r->bad = true;
			return;
		}
		*count_at(r->c, i) = v;
		r->seen |= 1u << i;
		return;
	}
	if (strcmp(key, "last_seen") == 0) {
		if (!kv_number(value, INT64_MAX, &v))
			r->bad = true;
		else
			r->c->last_seen = (int64_t)v;
	}
}

int
logwatch_counts_parse(const char *text, size_t len, struct logwatch_counts *out)
{
	struct counts_read r = {out, 0, false};

	memset(out, 0, sizeof(*out));
	if (kv_parse(text, len, read_count, &r) != 0 || r.bad || r.seen != (1u << NCOUNT_FIELDS) - 1)
		return -1;
	return 0;
}

void
logwatch_counts_add(struct logwatch_counts *sum, const struct logwatch_counts *c)
{
	for (size_t i = 0; i < NCOUNT_FIELDS; i++)
		*count_at(sum, i) += count_of(c, i);
	if (c->last_seen > sum->last_seen)
		sum->last_seen = c->last_seen;
}
