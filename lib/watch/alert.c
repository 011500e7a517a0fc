/*
 * alert - the alerter: asks alertlimit whether an alert is raised, logs
 * it, and hands it to alertspawn (alert_command) and alertmail
 * (alert_recipient); see alert.h for the contract.
 *
 * Details the header leaves open:
 * - mails counts attempts; their failures are logged, not counted.
 * - Kinds are the callers' constants, counted in a table of
 *   ALERT_KINDS_MAX; past it they count as "other".
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/kv.h"
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

struct alerter {
	struct log *log;
	struct settings set;
	struct alertlimit *limit;
	struct alertspawn *spawn;
	struct kind_count kinds[ALERT_KINDS_MAX];
	size_t nkinds;
	struct alert_stats stats;	/* but commands_failed: alertspawn's */
};

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

/* -- the interface -- */

struct alerter *
alerter_create(struct log *log, const struct alert_settings *s)
{
	struct alerter *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->log = log;
	if (settings_copy(&a->set, s) < 0 || !(a->limit = alertlimit_create(s->interval_ms, s->max_per_hour)) ||
	    !(a->spawn = alertspawn_create(log))) {
		alertlimit_free(a->limit);
		settings_free(&a->set);
		free(a);
		return NULL;
	}
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
	alertlimit_set(a->limit, s->interval_ms, s->max_per_hour);
}

void
alerter_free(struct alerter *a)
{
	if (!a)
		return;
	log_held(a, alertlimit_flush(a->limit));
	alertspawn_free(a->spawn);
	alertlimit_free(a->limit);
	for (size_t i = 0; i < a->nkinds; i++)
		free(a->kinds[i].kind);
	settings_free(&a->set);
	free(a);
}

int
alerter_raise(struct alerter *a, const char *kind, const char *dest, const char *const *fields, uint64_t now_ms)
{
	struct buf line;

	kind = kind ? kind : "";
	dest = dest ? dest : "";
	enum alertlimit_verdict v = alertlimit_check(a->limit, kind, dest, now_ms);
	/* The hour before, if this closed it, comes first in the log. */
	log_held(a, alertlimit_roll(a->limit, now_ms));
	if (v != ALERTLIMIT_RAISE) {
		a->stats.held++;
		return 0;
	}
	a->stats.raised++;
	count_kind(a, kind);

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
	return 1;
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
