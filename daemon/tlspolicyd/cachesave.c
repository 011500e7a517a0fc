/* cachesave - the cache snapshot at start, on a timer and at stop; see cachesave.h. */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "util/buf.h"
#include "cachesave.h"
#include "util/kv.h"
#include "util/statefile.h"

struct cachesave {
	struct log *log;
	struct policymap *pm;
	struct sts *sts;		/* NULL: no MTA-STS */
	struct config *cfg;
	struct event *timer;
	char *path;			/* NULL: no state_directory */
	char *sts_path;			/* the MTA-STS policies, beside it */
	/* The write under way, if any: the thread owns content until done. */
	bool writing;
	pthread_t thread;
	struct buf content, sts_content;
	atomic_bool done;
	int write_errno;		/* the thread's result: 0 or errno */
	const char *write_failed;	/* ...and the file it failed on */
	bool failed;			/* a failure was logged */
};

static size_t
count_lines(const struct buf *b)
{
	size_t lines = 0;

	for (const char *p = buf_ptr(b), *end = p + buf_size(b); p < end; p++)
		lines += *p == '\n';
	return lines;
}

static void
log_count(struct cachesave *cs, const char *file, const char *event, size_t n)
{
	struct buf line;

	buf_init(&line);
	kv_str(&line, "event", event);
	kv_str(&line, "file", file);
	kv_uint(&line, "entries", n);
	log_line(cs->log, LOGL_NOTICE, buf_ptr(&line), buf_size(&line));
	buf_free(&line);
}

/* Each line a restore skipped, as a notice: a damaged line is the
 * file's problem, not the daemon's. */
static void
log_skipped(struct cachesave *cs, const char *file, const struct buf *errors)
{
	const char *p = buf_ptr(errors), *end = p + buf_size(errors);
	char reason[512];

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		int n = (int)((nl ? nl : end) - p);
		snprintf(reason, sizeof(reason), "%.*s", n, p);
		log_event(cs->log, LOGL_NOTICE, "state-skipped", "file", file, "reason", reason, NULL);
		p += n + 1;
	}
}

static void
restore(struct cachesave *cs)
{
	struct buf content;
	const char *why = NULL;

	buf_init(&content);
	int rc = statefile_read(cs->path, &content, &why);
	if (rc == STATEFILE_OK)
		log_count(cs, cs->path, "cache-restored", policymap_restore(cs->pm, buf_ptr(&content), buf_size(&content)));
	else if (rc == STATEFILE_ERROR)
		log_event(cs->log, LOGL_WARNING, "state-read", "file", cs->path, "error", strerror(errno),
		    "reason", "the cache starts empty", NULL);
	else if (rc == STATEFILE_DAMAGED)
		log_event(cs->log, LOGL_WARNING, "state-read", "file", cs->path, "error", why,
		    "reason", "the cache starts empty; the file will be rewritten", NULL);
	if (cs->sts) {
		buf_reset(&content);
		rc = statefile_read(cs->sts_path, &content, &why);
		if (rc == STATEFILE_OK) {
			struct buf errors;
			buf_init(&errors);
			log_count(cs, cs->sts_path, "sts-restored", sts_restore(cs->sts, buf_ptr(&content),
			    buf_size(&content), &errors));
			log_skipped(cs, cs->sts_path, &errors);
			buf_free(&errors);
		} else if (rc == STATEFILE_ERROR || rc == STATEFILE_DAMAGED) {
			log_event(cs->log, LOGL_WARNING, "state-read", "file", cs->sts_path, "error",
			    rc == STATEFILE_ERROR ? strerror(errno) : why,
			    "reason", "MTA-STS policies are fetched again as destinations are asked for", NULL);
		}
	}
	buf_free(&content);
}

static void *
write_thread(void *arg)
{
	struct cachesave *cs = arg;

	cs->write_errno = 0;
	if (statefile_write(cs->path, buf_ptr(&cs->content), buf_size(&cs->content)) != 0) {
		cs->write_errno = errno;
		cs->write_failed = cs->path;
	} else if (cs->sts && statefile_write(cs->sts_path, buf_ptr(&cs->sts_content), buf_size(&cs->sts_content)) != 0) {
		cs->write_errno = errno;
		cs->write_failed = cs->sts_path;
	}
	atomic_store(&cs->done, true);
	return NULL;
}

/* Collects a finished write: true when none is under way any more. */
static bool
collect(struct cachesave *cs, bool wait)
{
	if (!cs->writing)
		return true;
	if (!wait && !atomic_load(&cs->done))
		return false;
	pthread_join(cs->thread, NULL);
	cs->writing = false;
	if (cs->write_errno && !cs->failed)
		log_event(cs->log, LOGL_WARNING, "state-write", "file", cs->write_failed, "error", strerror(cs->write_errno),
		    "reason", "cache snapshot not saved; check state_directory and its owner", NULL);
	cs->failed = cs->write_errno != 0;
	return true;
}

static void
save(struct cachesave *cs)
{
	if (!collect(cs, false))
		return;	/* the disk is slower than the interval: skip a turn */
	buf_reset(&cs->content);
	if (policymap_snapshot(cs->pm, &cs->content) < 0)
		return;
	buf_reset(&cs->sts_content);
	if (cs->sts)
		sts_save(cs->sts, &cs->sts_content);
	atomic_store(&cs->done, false);
	if (pthread_create(&cs->thread, NULL, write_thread, cs) == 0)
		cs->writing = true;
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	save(arg);
}

static void
arm(struct cachesave *cs)
{
	unsigned ms = cs->cfg->cache_snapshot_interval_ms;
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	event_del(cs->timer);
	if (ms)
		event_add(cs->timer, &tv);
}

struct cachesave *
cachesave_create(struct event_base *base, struct log *log, struct policymap *pm, struct sts *sts, struct config *cfg)
{
	struct cachesave *cs = calloc(1, sizeof(*cs));

	if (!cs)
		return NULL;
	cs->log = log;
	cs->pm = pm;
	cs->sts = sts;
	cs->cfg = config_ref(cfg);
	buf_init(&cs->content);
	buf_init(&cs->sts_content);
	atomic_init(&cs->done, false);
	if (!cfg->state_directory[0])
		return cs;
	struct buf path;
	buf_init(&path);
	buf_printf(&path, "%s/cache", cfg->state_directory);
	cs->path = buf_detach(&path);
	buf_printf(&path, "%s/sts-policies", cfg->state_directory);
	cs->sts_path = buf_detach(&path);
	if (!cs->path || !cs->sts_path ||
	    !(cs->timer = event_new(base, -1, EV_PERSIST, on_timer, cs))) {
		cachesave_free(cs, false);
		return NULL;
	}
	restore(cs);
	arm(cs);
	return cs;
}

void
cachesave_set_config(struct cachesave *cs, struct config *cfg)
{
	bool changed = cfg->cache_snapshot_interval_ms != cs->cfg->cache_snapshot_interval_ms;

	config_ref(cfg);
	config_unref(cs->cfg);
	cs->cfg = cfg;
	if (changed && cs->timer)
		arm(cs);
}

void
cachesave_free(struct cachesave *cs, bool final)
{
	if (!cs)
		return;
	collect(cs, true);
	if (final && cs->path) {
		buf_reset(&cs->content);
		if (policymap_snapshot(cs->pm, &cs->content) == 0) {
			size_t lines = count_lines(&cs->content);
			if (statefile_write(cs->path, buf_ptr(&cs->content), buf_size(&cs->content)) == 0)
				log_count(cs, cs->path, "cache-saved", lines);
			else
				log_event(cs->log, LOGL_WARNING, "state-write", "file", cs->path, "error", strerror(errno),
				    "reason", "cache snapshot not saved at stop", NULL);
		}
		buf_reset(&cs->sts_content);
		if (cs->sts) {
			sts_save(cs->sts, &cs->sts_content);
			if (statefile_write(cs->sts_path, buf_ptr(&cs->sts_content), buf_size(&cs->sts_content)) == 0)
				log_count(cs, cs->sts_path, "sts-saved", count_lines(&cs->sts_content));
			else
				log_event(cs->log, LOGL_WARNING, "state-write", "file", cs->sts_path, "error", strerror(errno),
				    "reason", "MTA-STS policies not saved at stop", NULL);
		}
	}
	if (cs->timer)
		event_free(cs->timer);
	buf_free(&cs->content);
	buf_free(&cs->sts_content);
	free(cs->path);
	free(cs->sts_path);
	config_unref(cs->cfg);
	free(cs);
}
