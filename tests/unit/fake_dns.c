/* fake_dns - scripted resolver for unit tests; see fake_dns.h. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fake_dns.h"
#include "dns/rr.h"

struct queued {
	int id;
	char *name;
	uint16_t type;
	dns_callback *cb;
	void *arg;
	struct queued *next;
};

struct started {
	char *name;
	uint16_t type;
	struct started *next;
};

struct fake_dns {
	const struct fake_rr *zone;
	size_t n;
	struct queued *queue;
	struct started *log;
	int next_id;
	unsigned cancelled;
};

static size_t
wire_name(const char *name, unsigned char *out)
{
	size_t o = 0;
	const char *p = name;

	if (strcmp(name, ".") == 0) {
		out[0] = 0;
		return 1;
	}
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		out[o++] = (unsigned char)len;
		memcpy(out + o, p, len);
		o += len;
		p += len + (dot ? 1 : 0);
	}
	out[o++] = 0;
	return o;
}

static size_t
hex_bytes(const char *hex, unsigned char *out)
{
	size_t n = 0;

	while (hex[0] && hex[1]) {
		unsigned v;
		if (hex[0] == ' ') {
			hex++;
			continue;
		}
		sscanf(hex, "%2x", &v);
		out[n++] = (unsigned char)v;
		hex += 2;
	}
	return n;
}

/* Presentation form to rdata; returns the length. */
static size_t
encode(uint16_t type, const char *text, unsigned char *out)
{
	unsigned a, b, c, pref;
	char name[300];
	int used;

	if (strncmp(text, "\\# ", 3) == 0)
		return hex_bytes(text + 3, out);
	switch (type) {
	case RR_TYPE_MX:
		sscanf(text, "%u %299s", &pref, name);
		out[0] = (unsigned char)(pref >> 8);
		out[1] = (unsigned char)pref;
		return 2 + wire_name(name, out + 2);
	case RR_TYPE_CNAME:
		return wire_name(text, out);
	case RR_TYPE_A:
		inet_pton(AF_INET, text, out);
		return 4;
	case RR_TYPE_AAAA:
		inet_pton(AF_INET6, text, out);
		return 16;
	case RR_TYPE_TLSA:
		sscanf(text, "%u %u %u %n", &a, &b, &c, &used);
		out[0] = (unsigned char)a;
		out[1] = (unsigned char)b;
		out[2] = (unsigned char)c;
		return 3 + hex_bytes(text + used, out + 3);
	}
	return 0;
}

static const struct fake_rr *
find(const struct fake_dns *f, const char *name, uint16_t type)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->zone[i].type == type && strcasecmp(f->zone[i].name, name) == 0)
			return &f->zone[i];
	return NULL;
}

static struct dns_answer *
answer_for(const struct fake_dns *f, const char *name, uint16_t type)
{
	struct dns_answer *a = dns_answer_new(name, type);
	const struct fake_rr *rr = find(f, name, type);
	unsigned char rdata[1024];

	if (!rr) {
		a->outcome = DNS_SERVFAIL;
		a->rcode = 2;
		a->why = strdup("not in the fake zone");
		return a;
	}
	a->outcome = rr->outcome;
	a->security = rr->security;
	a->ttl = rr->ttl;
	a->rcode = rr->outcome == DNS_NXDOMAIN ? 3 : rr->outcome == DNS_SERVFAIL ? 2 : 0;
	if (rr->canonname)
		a->canonname = strdup(rr->canonname);
	if (rr->why)
		a->why = strdup(rr->why);
	else if (rr->security == DNS_BOGUS)
		a->why = strdup("signature crypto failed (fake)");
	for (size_t i = 0; i < 48 && rr->records[i]; i++)
		dns_answer_add(a, rdata, encode(type, rr->records[i], rdata));
	return a;
}

static int
fake_lookup(void *impl, const char *name, uint16_t type, dns_callback *cb, void *arg)
{
	struct fake_dns *f = impl;
	const struct fake_rr *rr = find(f, name, type);
	struct started *s = calloc(1, sizeof(*s));

	s->name = strdup(name);
	s->type = type;
	s->next = f->log;
	f->log = s;
	if (rr && rr->fail_to_start)
		return -1;
	struct queued *q = calloc(1, sizeof(*q)), **tail = &f->queue;
	q->id = ++f->next_id;
	q->name = strdup(name);
	q->type = type;
	q->cb = cb;
	q->arg = arg;
	while (*tail)
		tail = &(*tail)->next;
	*tail = q;
	return q->id;
}

static void
fake_cancel(void *impl, int id)
{
	struct fake_dns *f = impl;

	for (struct queued **p = &f->queue; *p; p = &(*p)->next) {
		if ((*p)->id == id) {
			struct queued *q = *p;
			*p = q->next;
			free(q->name);
			free(q);
			f->cancelled++;
			return;
		}
	}
}

static void
fake_free(void *impl)
{
	struct fake_dns *f = impl;

	while (f->queue)
		fake_cancel(f, f->queue->id);
	while (f->log) {
		struct started *s = f->log;
		f->log = s->next;
		free(s->name);
		free(s);
	}
	free(f);
}

static const struct dns_ops fake_ops = {fake_lookup, fake_cancel, fake_free};

struct dns *
fake_dns_create(const struct fake_rr *zone, size_t n, struct fake_dns **fake)
{
	struct fake_dns *f = calloc(1, sizeof(*f));

	f->zone = zone;
	f->n = n;
	*fake = f;
	return dns_create(&fake_ops, f);
}

/* Takes *link's lookup off the queue and answers it. */
static size_t
deliver(struct fake_dns *f, struct queued **link)
{
	struct queued *q = *link;

	if (!q)
		return 0;
	*link = q->next;
	struct dns_answer *a = answer_for(f, q->name, q->type);
	dns_callback *cb = q->cb;
	void *arg = q->arg;
	free(q->name);
	free(q);
	cb(arg, a);
	return 1;
}

size_t
fake_dns_step(struct fake_dns *f)
{
	return deliver(f, &f->queue);
}

size_t
fake_dns_deliver(struct fake_dns *f, const char *name, uint16_t type)
{
	for (struct queued **p = &f->queue; *p; p = &(*p)->next)
		if ((*p)->type == type && strcasecmp((*p)->name, name) == 0)
			return deliver(f, p);
	return 0;
}

size_t
fake_dns_round(struct fake_dns *f)
{
	int last = f->next_id;
	size_t delivered = 0;

	/* The queue is in the order lookups started; a callback may cancel
	 * a lookup of this round, so count what came. */
	while (f->queue && f->queue->id <= last)
		delivered += fake_dns_step(f);
	return delivered;
}

size_t
fake_dns_run(struct fake_dns *f)
{
	size_t delivered = 0;

	while (fake_dns_step(f))
		delivered++;
	return delivered;
}

size_t
fake_dns_pending(const struct fake_dns *f)
{
	size_t n = 0;

	for (const struct queued *q = f->queue; q; q = q->next)
		n++;
	return n;
}

unsigned
fake_dns_count(const struct fake_dns *f, const char *name, uint16_t type)
{
	unsigned n = 0;

	for (const struct started *s = f->log; s; s = s->next)
		n += s->type == type && strcasecmp(s->name, name) == 0;
	return n;
}

unsigned
fake_dns_count_type(const struct fake_dns *f, uint16_t type)
{
	unsigned n = 0;

	for (const struct started *s = f->log; s; s = s->next)
		n += s->type == type;
	return n;
}

unsigned
fake_dns_cancelled(const struct fake_dns *f)
{
	return f->cancelled;
}

unsigned
fake_dns_total(const struct fake_dns *f)
{
	unsigned n = 0;

	for (const struct started *s = f->log; s; s = s->next)
		n++;
	return n;
}

int
fake_dns_add_txt(struct dns_answer *a, const char *text)
{
	unsigned char rd[256];
	size_t n = strlen(text);

	if (n >= sizeof(rd))
		return -1;
	rd[0] = (unsigned char)n;
	memcpy(rd + 1, text, n);
	return dns_answer_add(a, rd, n + 1);
}
