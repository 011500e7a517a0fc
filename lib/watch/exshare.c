/* exshare - proposed exceptions shared by a fleet; see exshare.h. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "util/kv.h"
#include "util/list.h"
#include "postfix/nexthop.h"
#include "watch/exshare.h"

/* The one hash's name: every relay's proposals. */
#define ALL "all"

struct listing {
	struct exshare *es;
	struct list_node link;		/* in es->listings */
	struct fleet_op *op;
	exshare_listed *cb;
	void *arg;
	struct buf out;
};

struct exshare {
	struct fleet *fleet;
	char relay[FLEET_RELAY_MAX + 1];
	struct list listings;		/* in flight */
	uint64_t rejected;
};

struct exshare *
exshare_create(struct fleet *fleet)
{
	struct exshare *es = calloc(1, sizeof(*es));

	if (!es)
		return NULL;
	es->fleet = fleet;
	snprintf(es->relay, sizeof(es->relay), "%s", fleet_relay(fleet));
	return es;
}

static void
free_listing(struct listing *l)
{
	buf_free(&l->out);
	free(l);
}

void
exshare_free(struct exshare *es)
{
	if (!es)
		return;
	struct list_node *n;
	while ((n = list_pop_front(&es->listings))) {
		struct listing *l = LIST_ENTRY(n, struct listing, link);
		fleet_cancel(l->op);
		free_listing(l);
	}
	free(es);
}

static void
field_of(char *out, size_t len, const char *dest, const char *relay)
{
	snprintf(out, len, "%s|%s", dest, relay);
}

void
exshare_propose(struct exshare *es, const char *dest, bool applied, const struct exproposal_evidence *ev,
    int64_t now)
{
	char field[FLEET_FIELD_MAX + 1];
	struct buf payload;

	buf_init(&payload);
	kv_str(&payload, "dest", dest);
	kv_str(&payload, "relay", es->relay);
	kv_uint(&payload, "proposed", (uint64_t)now);
	kv_str(&payload, "applied", applied ? "yes" : "no");
	kv_uint(&payload, "deferrals", ev->deferrals);
	kv_uint(&payload, "first", (uint64_t)(ev->first > 0 ? ev->first : 0));
	kv_uint(&payload, "last", (uint64_t)(ev->last > 0 ? ev->last : 0));
	field_of(field, sizeof(field), dest, es->relay);
	fleet_put_field(es->fleet, FLEET_PROPOSAL, ALL, field, now + EXSHARE_LIFE_S, buf_ptr(&payload),
	    buf_size(&payload));
	buf_free(&payload);
}

void
exshare_withdraw(struct exshare *es, const char *dest)
{
	char field[FLEET_FIELD_MAX + 1];

	field_of(field, sizeof(field), dest, es->relay);
	fleet_del_field(es->fleet, FLEET_PROPOSAL, ALL, field);
}

struct proposal {
	char dest[NEXTHOP_NAME_MAX + 1];
	char relay[FLEET_RELAY_MAX + 1];
	char applied[4];
	uint64_t proposed, deferrals, first, last;
	unsigned seen;
	bool bad;
};

static void
read_field(void *arg, const char *key, const char *value)
{
	struct proposal *p = arg;
	static const char *const numbers[] = {"proposed", "deferrals", "first", "last"};
	uint64_t *slots[] = {&p->proposed, &p->deferrals, &p->first, &p->last};

	if (strcmp(key, "dest") == 0) {
		p->bad |= snprintf(p->dest, sizeof(p->dest), "%s", value) >= (int)sizeof(p->dest);
		p->seen |= 1;
	} else if (strcmp(key, "relay") == 0) {
		p->bad |= snprintf(p->relay, sizeof(p->relay), "%s", value) >= (int)sizeof(p->relay);
		/* Printed in a comment line: one line, nothing to hide. */
		for (const char *c = value; *c; c++)
			p->bad |= (unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f;
		p->seen |= 2;
	} else if (strcmp(key, "applied") == 0) {
		p->bad |= strcmp(value, "yes") != 0 && strcmp(value, "no") != 0;
		snprintf(p->applied, sizeof(p->applied), "%s", value);
		p->seen |= 4;
	}
	for (size_t i = 0; i < 4; i++)
		if (strcmp(key, numbers[i]) == 0)
			p->bad |= !kv_number(value, INT64_MAX, slots[i]);
}

/* A proposal as another relay shared it: its fields, a destination that
 * is a domain name, and the same destination and relay as its field. */
static bool
read_proposal(const char *field, const char *payload, size_t len, struct proposal *p)
{
	struct nexthop nh;
	const char *why;
	char want[FLEET_FIELD_MAX + 1];

	memset(p, 0, sizeof(*p));
	if (kv_parse(payload, len, read_field, p) != 0 || p->bad || p->seen != 7)
		return false;
	if (nexthop_parse(p->dest, strlen(p->dest), &nh, &why) != 0 || nh.kind != NEXTHOP_DOMAIN ||
	    nh.port != NEXTHOP_DEFAULT_PORT || strcmp(nh.name, p->dest) != 0)
		return false;
	field_of(want, sizeof(want), p->dest, p->relay);
	return strcmp(want, field) == 0;
}

static void
on_proposal(void *arg, const char *field, const char *payload, size_t len, int64_t expires)
{
	struct listing *l = arg;
	struct proposal p;
	char when[32];
	time_t t;
	struct tm tm;

	if (!read_proposal(field, payload, len, &p)) {
		l->es->rejected++;
		return;
	}
	if (strcmp(p.relay, l->es->relay) == 0)
		return;		/* this relay's own are listed already */
	t = (time_t)p.proposed;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	buf_printf(&l->out, "# proposed by relay %s at %s: applied=%s deferrals=%llu first=%llu last=%llu\n",
	    p.relay, when, p.applied, (unsigned long long)p.deferrals, (unsigned long long)p.first,
	    (unsigned long long)p.last);
	buf_printf(&l->out, "%s may\n", p.dest);
}

static void
on_listed(void *arg, enum fleet_found found)
{
	struct listing *l = arg;

	list_remove(&l->es->listings, &l->link);
	l->cb(l->arg, found == FLEET_UNREACHABLE || buf_terminate(&l->out) < 0 ? NULL : buf_ptr(&l->out));
	free_listing(l);
}

int
exshare_list(struct exshare *es, exshare_listed *cb, void *arg)
{
	struct listing *l;

	if (!(l = calloc(1, sizeof(*l))))
		return -1;
	l->es = es;
	l->cb = cb;
	l->arg = arg;
	buf_init(&l->out);
	buf_terminate(&l->out);
	if (!(l->op = fleet_get_all(es->fleet, FLEET_PROPOSAL, ALL, EXSHARE_LIFE_S, on_proposal, on_listed, l))) {
		free_listing(l);
		return -1;
	}
	list_push_back(&es->listings, &l->link);
	return 0;
}

uint64_t
exshare_rejected(const struct exshare *es)
{
	return es->rejected;
}
