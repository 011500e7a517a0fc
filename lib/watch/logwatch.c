/* logwatch - TLS outcomes per destination from Postfix's log; see
 * logwatch.h for the contract.
 *
 * Two bounded tables, each a keyed hash with an LRU list:
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
#include <sys/random.h>

#include "util/hash.h"
#include "watch/logwatch.h"
#include "postfix/postfixlog.h"

#define LOGWATCH_PROCS 1024
#define LOGWATCH_PROC_BUCKETS 2048	/* a power of two */
#define LOGWATCH_PENDING 8
#define LOGWATCH_STALE_S 3600

struct event {
	enum postfixlog_kind kind;
	char trust[12];
	char detail[256];		/* what an alert says about it */
};

struct proc {
	struct proc *chain;
	struct proc *newer, *older;
	uint64_t hash;
	char program[32];
	unsigned long pid;
	int64_t last;
	size_t nevents;
	struct event events[LOGWATCH_PENDING];
};

struct dest {
	struct dest *chain;
	struct dest *newer, *older;
	uint64_t hash;
	struct logwatch_counts c;
	char name[];
};

struct logwatch {
	logwatch_alert *alert;
	void *arg;
	struct hash_key key;
	size_t lines;

	struct dest **buckets;
	size_t nbuckets;		/* a power of two */
	size_t ndests, max_dests;
	struct dest *newest, *oldest;

	struct proc *procs[LOGWATCH_PROC_BUCKETS];
	size_t nprocs;
	struct proc *newest_proc, *oldest_proc;
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

/* The LRU lists: one pair of functions per type, written out. */
static void
dest_unlink(struct logwatch *lw, struct dest *d)
{
	if (d->newer)
		d->newer->older = d->older;
	else
		lw->newest = d->older;
	if (d->older)
		d->older->newer = d->newer;
	else
		lw->oldest = d->newer;
	d->newer = d->older = NULL;
}

static void
dest_push(struct logwatch *lw, struct dest *d)
{
	d->older = lw->newest;
	d->newer = NULL;
	if (lw->newest)
		lw->newest->newer = d;
	lw->newest = d;
	if (!lw->oldest)
		lw->oldest = d;
}

static void
proc_unlink(struct logwatch *lw, struct proc *p)
{
	if (p->newer)
		p->newer->older = p->older;
	else
		lw->newest_proc = p->older;
	if (p->older)
		p->older->newer = p->newer;
	else
		lw->oldest_proc = p->newer;
	p->newer = p->older = NULL;
}

static void
proc_push(struct logwatch *lw, struct proc *p)
{
	p->older = lw->newest_proc;
	p->newer = NULL;
	if (lw->newest_proc)
		lw->newest_proc->newer = p;
	lw->newest_proc = p;
	if (!lw->oldest_proc)
		lw->oldest_proc = p;
}

struct logwatch *
logwatch_create(size_t max_dests, logwatch_alert *alert, void *arg)
{
	unsigned char seed[16];
	struct logwatch *lw = calloc(1, sizeof(*lw));

	if (!lw)
		return NULL;
	lw->nbuckets = 64;
	if (!(lw->buckets = calloc(lw->nbuckets, sizeof(*lw->buckets)))) {
		free(lw);
		return NULL;
	}
	lw->max_dests = max_dests ? max_dests : 1;
	lw->alert = alert;
	lw->arg = arg;
	/* Recipient domains are names strangers choose: a keyed table. */
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		memset(seed, 0x6c, sizeof(seed));
	lw->key = hash_key_from_bytes(seed);
	return lw;
}

void
logwatch_free(struct logwatch *lw)
{
	if (!lw)
		return;
	while (lw->oldest) {
		struct dest *d = lw->oldest;
		dest_unlink(lw, d);
		free(d);
	}
	while (lw->oldest_proc) {
		struct proc *p = lw->oldest_proc;
		proc_unlink(lw, p);
		free(p);
	}
	free(lw->buckets);
	free(lw);
}

/* ------------------------------------------------------------ destinations */

static struct dest **
dest_slot(struct logwatch *lw, const char *name, uint64_t hash)
{
	struct dest **slot = &lw->buckets[hash & (lw->nbuckets - 1)];

	while (*slot && ((*slot)->hash != hash || strcmp((*slot)->name, name) != 0))
		slot = &(*slot)->chain;
	return slot;
}

static void
dest_grow(struct logwatch *lw)
{
	size_t nb = lw->nbuckets * 2;
	struct dest **b = calloc(nb, sizeof(*b));

	if (!b)
		return;	/* longer chains, still correct */
	for (size_t i = 0; i < lw->nbuckets; i++) {
		struct dest *d = lw->buckets[i];
		while (d) {
			struct dest *next = d->chain;
			d->chain = b[d->hash & (nb - 1)];
			b[d->hash & (nb - 1)] = d;
			d = next;
		}
	}
	free(lw->buckets);
	lw->buckets = b;
	lw->nbuckets = nb;
}

static void
dest_evict_oldest(struct logwatch *lw)
{
	struct dest *d = lw->oldest;
	struct dest **slot = dest_slot(lw, d->name, d->hash);

	*slot = d->chain;
	dest_unlink(lw, d);
	free(d);
	lw->ndests--;
}

/* The destination's entry, made when new (forgetting the one seen longest
 * ago when the table is full), and marked seen now. */
static struct dest *
dest_get(struct logwatch *lw, const char *name, int64_t now)
{
	size_t len = strlen(name);
	uint64_t hash = hash_siphash13(lw->key, name, len);
	struct dest *d = *dest_slot(lw, name, hash);

	if (!d) {
		while (lw->ndests >= lw->max_dests)
			dest_evict_oldest(lw);
		if (lw->ndests >= lw->nbuckets)
			dest_grow(lw);
		if (!(d = calloc(1, sizeof(*d) + len + 1)))
			return NULL;
		memcpy(d->name, name, len + 1);
		d->hash = hash;
		struct dest **head = &lw->buckets[hash & (lw->nbuckets - 1)];
		d->chain = *head;
		*head = d;
		lw->ndests++;
	} else {
		dest_unlink(lw, d);
	}
	dest_push(lw, d);
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
	uint64_t hash = hash_siphash13(lw->key, name, len);
	const struct dest *d = lw->buckets[hash & (lw->nbuckets - 1)];

	while (d && (d->hash != hash || strcmp(d->name, name) != 0))
		d = d->chain;
	return d ? &d->c : NULL;
}

void
logwatch_each(const struct logwatch *lw, void (*fn)(void *arg, const char *dest, const struct logwatch_counts *c),
    void *arg)
{
	for (const struct dest *d = lw->newest; d; d = d->older)
		fn(arg, d->name, &d->c);
}

size_t
logwatch_lines(const struct logwatch *lw)
{
	return lw->lines;
}

/* -------------------------------------------------------------- processes */

static uint64_t
proc_hash(const struct logwatch *lw, const char *program, unsigned long pid)
{
	return hash_siphash13(lw->key, program, strlen(program)) ^ ((uint64_t)pid * 0x9e3779b97f4a7c15ULL);
}

static struct proc **
proc_slot(struct logwatch *lw, const char *program, unsigned long pid, uint64_t hash)
{
	struct proc **slot = &lw->procs[hash & (LOGWATCH_PROC_BUCKETS - 1)];

	while (*slot && ((*slot)->hash != hash || (*slot)->pid != pid || strcmp((*slot)->program, program) != 0))
		slot = &(*slot)->chain;
	return slot;
}

static void
proc_drop(struct logwatch *lw, struct proc **slot)
{
	struct proc *p = *slot;

	*slot = p->chain;
	proc_unlink(lw, p);
	free(p);
	lw->nprocs--;
}

/* The process's pending events, made when new (forgetting the process
 * heard from longest ago when the table is full). */
static struct proc *
proc_get(struct logwatch *lw, const char *program, unsigned long pid, int64_t now)
{
	uint64_t hash = proc_hash(lw, program, pid);
	struct proc **slot = proc_slot(lw, program, pid, hash);
	struct proc *p = *slot;

	if (p) {
		if (now - p->last > LOGWATCH_STALE_S)
			p->nevents = 0;
		proc_unlink(lw, p);
	} else {
		if (lw->nprocs >= LOGWATCH_PROCS) {
			struct proc *o = lw->oldest_proc;
			proc_drop(lw, proc_slot(lw, o->program, o->pid, o->hash));
			slot = proc_slot(lw, program, pid, hash);
		}
		if (!(p = malloc(sizeof(*p))))
			return NULL;
		p->hash = hash;
		snprintf(p->program, sizeof(p->program), "%s", program);
		p->pid = pid;
		p->nevents = 0;
		p->chain = *slot;
		*slot = p;
		lw->nprocs++;
	}
	proc_push(lw, p);
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
	uint64_t hash = proc_hash(lw, l->program, l->pid);
	struct proc **slot = proc_slot(lw, l->program, l->pid, hash);
	struct proc *p = *slot;
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
	if (p)
		proc_drop(lw, slot);
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
