/*
 * alert - the alerter: asks alertlimit whether an alert is raised, logs
 * it, and hands it to alertspawn (alert_command) and alertmail
 * (alert_recipient); see alert.h for the contract.
 *
 * Details the header leaves open:
 * - mails counts attempts; their failures are logged, not counted.
 * - Kinds are the callers' constants, counted in a table of
 *   ALERT_KINDS_MAX; past it they count as "other".
 * - An alert waiting for the fleet is one allocation (struct claim: its
 *   fields' pointers and strings after it) on the alerter's list of
 *   claims. Without the memory to copy it, it is raised at once, alone.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/kv.h"
#include "util/list.h"
#include "util/map.h"
#include "watch/alert.h"
#include "watch/alertlimit.h"
#include "watch/alertmail.h"
#include "watch/alertspawn.h"

#define ALERT_KINDS_MAX 64

struct kind_count {
	char *kind;
	uint64_t n;
};

struct settings {
	char *words;			/* alert_command's words, NUL-separated */
	char **argv;			/* into words; NULL when there is no command */
	char *recipient;		/* NULL when there is none */
	char *sendmail;
	unsigned max_per_hour;		/* for the summary line; alertlimit applies it */
};

/* The last alert raised for a destination: one allocation, the kind and
 * the destination after it. */
struct last_alert {
	struct map_node node;		/* in alerter.last, under dest */
	uint64_t at_ms;
	const char *kind, *dest;
};

/* An alert that passed the local limits, while the fleet says who raises it. */
struct claim {
	struct list_node node;		/* in alerter.claims */
	struct alerter *a;
	struct fleet_op *op;
	uint64_t now_ms;		/* given to alerter_raise() */
	const char *kind, *dest;
	const char **fields;		/* key, value, ..., NULL */
};

struct alerter {
	struct log *log;
	struct settings set;
	uint64_t interval_ms;		/* the window of a fleet's claim */
	struct alertlimit *limit;
	struct alertspawn *spawn;
	const struct alert_fleet *fleet;	/* NULL: alone */
	void *fleet_arg;
	struct list claims;		/* struct claim, waiting for the fleet */
	struct kind_count kinds[ALERT_KINDS_MAX];
	size_t nkinds;
	struct alert_stats stats;	/* but commands_failed: alertspawn's */
	struct map last;		/* struct last_alert, ALERT_REMEMBER_MAX */
};

static void
last_free(void *arg, struct map_node *n)
{
	free(MAP_ENTRY(n, struct last_alert, node));
}

/* Without the memory, the previous one stays: only the status page reads it. */
static void
remember(struct alerter *a, const char *kind, const char *dest, uint64_t now_ms)
{
	size_t klen = strlen(kind) + 1, dlen = strlen(dest) + 1;
	struct last_alert *l = malloc(sizeof(*l) + klen + dlen);

	if (!l)
		return;
	char *p = (char *)(l + 1);
	memcpy(p, kind, klen);
	memcpy(p + klen, dest, dlen);
	l->kind = p;
	l->dest = p + klen;
	l->at_ms = now_ms;
	struct map_node *old = map_put_str(&a->last, &l->node, l->dest);
	if (old)
		last_free(NULL, old);
}

/* -- settings -- */

static void
settings_free(struct settings *s)
{
	free(s->words);
	free(s->argv);
	free(s->recipient);
	free(s->sendmail);
	memset(s, 0, sizeof(*s));
}

static int
settings_copy(struct settings *to, const struct alert_settings *s)
{
	memset(to, 0, sizeof(*to));
	to->max_per_hour = s->max_per_hour;
	if (!(to->sendmail = strdup(s->sendmail && *s->sendmail ? s->sendmail : ALERTMAIL_DEFAULT_SENDMAIL)) ||
	    (s->recipient && *s->recipient && !(to->recipient = strdup(s->recipient))) ||
	    alertspawn_words(s->command, &to->words, &to->argv) < 0) {
		settings_free(to);
		return -1;
	}
	return 0;
}

/* -- what was raised, and what was held -- */

static void
count_kind(struct alerter *a, const char *kind)
{
	size_t i;

	for (i = 0; i < a->nkinds; i++)
		if (strcmp(a->kinds[i].kind, kind) == 0)
			break;
	if (i == a->nkinds) {
		const char *name = a->nkinds < ALERT_KINDS_MAX - 1 ? kind : "other";
		for (i = 0; i < a->nkinds; i++)
			if (strcmp(a->kinds[i].kind, name) == 0)
				break;
		if (i == a->nkinds) {
			if (!(a->kinds[i].kind = strdup(name)))
				return;
			a->nkinds++;
		}
	}
	a->kinds[i].n++;
}

/* The summary of an hour's alerts held over the limit. */
static void
log_held(struct alerter *a, uint64_t held)
{
	struct buf line;

	if (!held)
		return;
	buf_init(&line);
	kv_str(&line, "event", "alerts-held");
	kv_uint(&line, "count", held);
	kv_uint(&line, "max_per_hour", a->set.max_per_hour);
	log_line(a->log, LOGL_ALERT, buf_ptr(&line), buf_size(&line));
	buf_free(&line);
}

/* Logs the alert and starts its command and mail. */
static void
raise_now(struct alerter *a, const char *kind, const char *dest, const char *const *fields, uint64_t now_ms)
{
	struct buf line;

	a->stats.raised++;
	count_kind(a, kind);
	remember(a, kind, dest ? dest : "", now_ms);

	buf_init(&line);
	kv_str(&line, "event", "alert");
	kv_str(&line, "kind", kind);
	kv_str(&line, "dest", dest);
	for (size_t i = 0; fields && fields[i] && fields[i + 1]; i += 2)
		kv_str(&line, fields[i], fields[i + 1]);
	buf_terminate(&line);
	log_line(a->log, LOGL_ALERT, buf_ptr(&line), buf_size(&line));
	if (a->set.argv) {
		a->stats.commands++;
		alertspawn_command(a->spawn, a->set.argv, kind, dest, fields, &line, now_ms);
	}
	if (a->set.recipient) {
		a->stats.mails++;
		alertmail_send(a->spawn, a->set.sendmail, a->set.recipient, kind, dest, fields, &line, now_ms);
	}
	buf_free(&line);
}

/* -- the fleet -- */

/* A copy of the alert, in one allocation; NULL when out of memory. Pairs
 * are copied as alerter_raise() reads them: up to the first NULL in
 * either place. */
static struct claim *
claim_new(struct alerter *a, const char *kind, const char *dest, const char *const *fields, uint64_t now_ms)
{
	size_t nfields = 0, size, kl = strlen(kind) + 1, dl = strlen(dest) + 1;
	struct claim *c;
	char *p;

	while (fields && fields[nfields] && fields[nfields + 1])
		nfields += 2;
	size = sizeof(*c) + (nfields + 1) * sizeof(char *) + kl + dl;
	for (size_t i = 0; i < nfields; i++)
		size += strlen(fields[i]) + 1;
	if (!(c = calloc(1, size)))
		return NULL;
	c->a = a;
	c->now_ms = now_ms;
	c->fields = (const char **)(c + 1);
	p = (char *)(c->fields + nfields + 1);
	c->kind = memcpy(p, kind, kl);
	p += kl;
	c->dest = memcpy(p, dest, dl);
	p += dl;
	for (size_t i = 0; i < nfields; i++) {
		size_t l = strlen(fields[i]) + 1;
		c->fields[i] = memcpy(p, fields[i], l);
		p += l;
	}
	c->fields[nfields] = NULL;
	return c;
}

static void
log_shared(struct alerter *a, const char *kind, const char *dest, const char *holder)
{
	struct buf line;

	buf_init(&line);
	kv_str(&line, "event", "alert-shared");
	kv_str(&line, "kind", kind);
	kv_str(&line, "dest", dest);
	kv_str(&line, "raised_by", holder && *holder ? holder : "-");
	log_line(a->log, LOGL_INFO, buf_ptr(&line), buf_size(&line));
	buf_free(&line);
}

/* The fleet's answer: raise it, or another relay has. */
static void
on_claimed(void *arg, enum fleet_claim claim, const char *holder)
{
	struct claim *c = arg;
	struct alerter *a = c->a;

	list_remove(&a->claims, &c->node);
	a->stats.fleet_claiming--;
	if (claim == FLEET_CLAIM_HELD) {
		a->stats.fleet_held++;
		log_shared(a, c->kind, c->dest, holder);
	} else {
		raise_now(a, c->kind, c->dest, c->fields, c->now_ms);
	}
	free(c);
}

/* Cancels every claim waiting for the fleet; raise: their alerts are
 * raised, alone. */
static void
drop_claims(struct alerter *a, bool raise)
{
	struct claim *c;

	while ((c = LIST_ENTRY(list_pop_front(&a->claims), struct claim, node))) {
		a->fleet->cancel(c->op);
		a->stats.fleet_claiming--;
		if (raise)
			raise_now(a, c->kind, c->dest, c->fields, c->now_ms);
		free(c);
	}
}

/* Asks the fleet whether this relay raises the alert; false when it
 * cannot (no fleet, no window, Redis not usable, out of memory): raise
 * it now. */
static bool
claim_start(struct alerter *a, const char *kind, const char *dest, const char *const *fields, uint64_t now_ms)
{
	struct buf name;
	struct claim *c;
	/* A window of 1.5 s holds the pair for 2 s: never shorter than here. */
	int64_t life_s = (int64_t)((a->interval_ms + 999) / 1000);

	if (!a->fleet || !a->interval_ms || !(c = claim_new(a, kind, dest, fields, now_ms)))
		return false;
	buf_init(&name);
	if (buf_puts(&name, kind) == 0 && buf_putc(&name, '|') == 0 && buf_puts(&name, dest) == 0 &&
	    buf_terminate(&name) == 0)
		c->op = a->fleet->claim(a->fleet_arg, buf_ptr(&name), life_s, on_claimed, c);
	buf_free(&name);
	if (!c->op) {
		free(c);
		return false;
	}
	list_push_back(&a->claims, &c->node);
	a->stats.fleet_claiming++;
	return true;
}

/* -- the interface -- */

struct alerter *
alerter_create(struct log *log, const struct alert_settings *s)
{
	struct alerter *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->log = log;
	a->interval_ms = s->interval_ms;
	if (settings_copy(&a->set, s) < 0 || !(a->limit = alertlimit_create(s->interval_ms, s->max_per_hour)) ||
	    !(a->spawn = alertspawn_create(log))) {
		alertlimit_free(a->limit);
		settings_free(&a->set);
		free(a);
		return NULL;
	}
	unsigned char seed[16];
	hash_random_seed(seed);		/* destinations are names strangers choose */
	map_init(&a->last, seed);
	map_set_max(&a->last, ALERT_REMEMBER_MAX, last_free, NULL);
	return a;
}

void
alerter_set(struct alerter *a, const struct alert_settings *s)
{
	struct settings n;

	if (settings_copy(&n, s) < 0) {
		log_event(a->log, LOGL_ERROR, "alert-settings", "error", strerror(ENOMEM),
		    "reason", "the previous alert settings stay in force", NULL);
		return;
	}
	settings_free(&a->set);
	a->set = n;
	a->interval_ms = s->interval_ms;
	alertlimit_set(a->limit, s->interval_ms, s->max_per_hour);
}

void
alerter_free(struct alerter *a)
{
	if (!a)
		return;
	drop_claims(a, false);
	log_held(a, alertlimit_flush(a->limit));
	alertspawn_free(a->spawn);
	alertlimit_free(a->limit);
	for (size_t i = 0; i < a->nkinds; i++)
		free(a->kinds[i].kind);
	map_clear(&a->last, last_free, NULL);
	settings_free(&a->set);
	free(a);
}

const char *
alerter_last(const struct alerter *a, const char *dest, uint64_t *at_ms)
{
	struct last_alert *l = MAP_ENTRY(map_find_str(&a->last, dest), struct last_alert, node);

	if (!l)
		return NULL;
	*at_ms = l->at_ms;
	return l->kind;
}

void
alerter_set_fleet_ops(struct alerter *a, const struct alert_fleet *ops, void *arg)
{
	if (a->fleet)
		drop_claims(a, true);
	a->fleet = ops;
	a->fleet_arg = arg;
}

static struct fleet_op *
claim_by_fleet(void *arg, const char *name, int64_t life_s, fleet_claimed *cb, void *cb_arg)
{
	return fleet_claim(arg, FLEET_ALERT, name, life_s, cb, cb_arg);
}

static const struct alert_fleet by_fleet = {claim_by_fleet, fleet_cancel};

void
alerter_set_fleet(struct alerter *a, struct fleet *fleet)
{
	alerter_set_fleet_ops(a, fleet ? &by_fleet : NULL, fleet);
}

int
alerter_raise(struct alerter *a, const char *kind, const char *dest, const char *const *fields, uint64_t now_ms)
{
	kind = kind ? kind : "";
	dest = dest ? dest : "";
	enum alertlimit_verdict v = alertlimit_check(a->limit, kind, dest, now_ms);
	/* The hour before, if this closed it, comes first in the log. */
	log_held(a, alertlimit_roll(a->limit, now_ms));
	if (v != ALERTLIMIT_RAISE) {
		a->stats.held++;
		return ALERTER_HELD;
	}
	if (claim_start(a, kind, dest, fields, now_ms))
		return ALERTER_CLAIMING;
	raise_now(a, kind, dest, fields, now_ms);
	return ALERTER_RAISED;
}

void
alert_reap(struct alerter *a, uint64_t now_ms)
{
	log_held(a, alertlimit_roll(a->limit, now_ms));
	alertspawn_reap(a->spawn, now_ms);
}

void
alerter_stats(const struct alerter *a, struct alert_stats *out)
{
	*out = a->stats;
	out->commands_failed = alertspawn_commands_failed(a->spawn);
}

void
alerter_each_kind(const struct alerter *a, void (*fn)(void *arg, const char *kind, uint64_t n), void *arg)
{
	for (size_t i = 0; i < a->nkinds; i++)
		fn(arg, a->kinds[i].kind, a->kinds[i].n);
}
