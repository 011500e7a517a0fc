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
	struct config *cfg;
	struct event *timer;
	char *path;			/* NULL: no state_directory */
	/* The write under way, if any: the thread owns content until done. */
	bool writing;
	pthread_t thread;
	struct buf content;
	atomic_bool done;
	int write_errno;		/* the thread's result: 0 or errno */
	bool failed;			/* a failure was logged */
};

static void
log_count(struct cachesave *cs, const char *event, size_t n)
{
	struct buf line;

	buf_init(&line);
	kv_str(&line, "event", event);
	kv_str(&line, "file", cs->path);
	kv_uint(&line, "entries", n);
	log_line(cs->log, LOGL_NOTICE, buf_ptr(&line), buf_size(&line));
	buf_free(&line);
}

static void
restore(struct cachesave *cs)
{
	struct buf content;
	const char *why = NULL;

	buf_init(&content);
	int rc = statefile_read(cs->path, &content, &why);
	if (rc == STATEFILE_OK)
		log_count(cs, "cache-restored", policymap_restore(cs->pm, buf_ptr(&content), buf_size(&content)));
	else if (rc == STATEFILE_ERROR)
		log_event(cs->log, LOGL_WARNING, "state-read", "file", cs->path, "error", strerror(errno),
		    "reason", "the cache starts empty", NULL);
	else if (rc == STATEFILE_DAMAGED)
		log_event(cs->log, LOGL_WARNING, "state-read", "file", cs->path, "error", why,
		    "reason", "the cache starts empty; the file will be rewritten", NULL);
	buf_free(&content);
}

static void *
write_thread(void *arg)
{
	struct cachesave *cs = arg;

	cs->write_errno = statefile_write(cs->path, buf_ptr(&cs->content), buf_size(&cs->content)) == 0 ? 0 : errno;
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
		log_event(cs->log, LOGL_WARNING, "state-write", "file", cs->path, "error", strerror(cs->write_errno),
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
cachesave_create(struct event_base *base, struct log *log, struct policymap *pm, struct config *cfg)
{
	struct cachesave *cs = calloc(1, sizeof(*cs));

	if (!cs)
		return NULL;
	cs->log = log;
	cs->pm = pm;
	cs->cfg = config_ref(cfg);
	buf_init(&cs->content);
	atomic_init(&cs->done, false);
	if (!cfg->state_directory[0])
		return cs;
	struct buf path;
	buf_init(&path);
	buf_printf(&path, "%s/cache", cfg->state_directory);
	if (!(cs->path = buf_detach(&path)) ||
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
			size_t lines = 0;
			for (const char *p = buf_ptr(&cs->content), *end = p + buf_size(&cs->content); p < end; p++)
				lines += *p == '\n';
			if (statefile_write(cs->path, buf_ptr(&cs->content), buf_size(&cs->content)) == 0)
				log_count(cs, "cache-saved", lines);
			else
				log_event(cs->log, LOGL_WARNING, "state-write", "file", cs->path, "error", strerror(errno),
				    "reason", "cache snapshot not saved at stop", NULL);
		}
	}
	if (cs->timer)
		event_free(cs->timer);
	buf_free(&cs->content);
	free(cs->path);
	config_unref(cs->cfg);
	free(cs);
}
