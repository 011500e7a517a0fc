/* logshare - a fleet's view of Postfix's logs; see logshare.h. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/kv.h"
#include "util/list.h"
#include "watch/logshare.h"

struct view {
	struct logshare *ls;
	struct list_node link;		/* in ls->views */
	struct fleet_op *op;
	logshare_viewed *cb;
	void *arg;
	struct logwatch_counts sum;
	size_t relays;
	struct relay_counts *each;	/* one per relay, sorted at the end */
	size_t cap;
};

struct relay_counts {
	char name[FLEET_RELAY_MAX + 1];
	struct logwatch_counts c;
};

struct logshare {
	struct fleet *fleet;
	int64_t published_at;		/* 0: never */
	struct list views;
	struct logshare_stats stats;
	struct buf line;
};

struct logshare *
logshare_create(struct fleet *fleet)
{
	struct logshare *ls = calloc(1, sizeof(*ls));

	if (!ls)
		return NULL;
	ls->fleet = fleet;
	buf_init(&ls->line);
	return ls;
}

static void
free_view(struct view *v)
{
	free(v->each);
	free(v);
}

void
logshare_free(struct logshare *ls)
{
	struct list_node *n;

	if (!ls)
		return;
	while ((n = list_pop_front(&ls->views))) {
		struct view *v = LIST_ENTRY(n, struct view, link);
		fleet_cancel(v->op);
		free_view(v);
	}
	buf_free(&ls->line);
	free(ls);
}

struct publish {
	struct logshare *ls;
	int64_t since, now;
	size_t stored;
};

static void
publish_one(void *arg, const char *dest, const struct logwatch_counts *c)
{
	struct publish *p = arg;
	struct logshare *ls = p->ls;

	if (c->last_seen < p->since)
		return;
	buf_reset(&ls->line);
	logwatch_counts_format(c, &ls->line);
	fleet_put_mine(ls->fleet, FLEET_MAILLOG, dest, p->now + LOGSHARE_LIFE_S, buf_ptr(&ls->line),
	    buf_size(&ls->line));
	p->stored++;
}

size_t
logshare_publish(struct logshare *ls, const struct logwatch *lw, int64_t now)
{
	/* A line read in the second of the last call is stored again: a
	 * count stored twice is better than one left out. */
	struct publish p = {ls, ls->published_at, now, 0};

	logwatch_each(lw, publish_one, &p);
	ls->published_at = now;
	ls->stats.published += p.stored;
	return p.stored;
}

static void
on_relay(void *arg, const char *relay, const char *payload, size_t len, int64_t expires)
{
	struct view *v = arg;
	struct logwatch_counts c;

	if (logwatch_counts_parse(payload, len, &c) < 0) {
		v->ls->stats.rejected++;
		return;
	}
	if (v->relays == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 8;
		struct relay_counts *each = realloc(v->each, cap * sizeof(*each));
		if (!each)
			return;
		v->each = each;
		v->cap = cap;
	}
	struct relay_counts *rc = &v->each[v->relays++];
	snprintf(rc->name, sizeof(rc->name), "%s", relay);
	rc->c = c;
	logwatch_counts_add(&v->sum, &c);
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct relay_counts *)a)->name, ((const struct relay_counts *)b)->name);
}

static void
on_viewed(void *arg, enum fleet_found found)
{
	struct view *v = arg;
	struct logshare *ls = v->ls;
	struct buf out;

	list_remove(&ls->views, &v->link);
	if (found == FLEET_UNREACHABLE) {
		v->cb(v->arg, NULL);
		free_view(v);
		return;
	}
	buf_init(&out);
	kv_uint(&out, "fleet_relays", v->relays);
	logwatch_counts_format(&v->sum, &out);
	buf_putc(&out, '\n');
	if (v->relays)
		qsort(v->each, v->relays, sizeof(v->each[0]), by_name);
	for (size_t i = 0; i < v->relays; i++) {
		kv_str(&out, "relay", v->each[i].name);
		logwatch_counts_format(&v->each[i].c, &out);
		buf_putc(&out, '\n');
	}
	v->cb(v->arg, buf_terminate(&out) == 0 ? buf_ptr(&out) : NULL);
	buf_free(&out);
	free_view(v);
}

int
logshare_view(struct logshare *ls, const char *dest, logshare_viewed *cb, void *arg)
{
	struct view *v = calloc(1, sizeof(*v));

	if (!v)
		return -1;
	v->ls = ls;
	v->cb = cb;
	v->arg = arg;
	if (!(v->op = fleet_get_all(ls->fleet, FLEET_MAILLOG, dest, LOGSHARE_LIFE_S, on_relay, on_viewed, v))) {
		free(v);
		return -1;
	}
	list_push_back(&ls->views, &v->link);
	ls->stats.views++;
	return 0;
}

void
logshare_stats(const struct logshare *ls, struct logshare_stats *out)
{
	*out = ls->stats;
}
