/* prober - probes on worker threads; see prober.h for the contract. */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "util/clock.h"
#include "util/list.h"
#include "util/map.h"
#include "probe/prober.h"

#define ADDR_SLOTS 4096		/* last start per address; pruned when half full */

struct worker;
struct job;

/* A list one thread hands jobs over on and another takes them from, with
 * an eventfd to wake the taker. */
struct xlist {
	pthread_mutex_t lock;
	struct list jobs;		/* by worker_link */
	int fd;
};

struct job {
	/* On the owner's queue or running list: owner thread only. */
	struct list_node owner_link;
	/* On a worker's inbox, then its live list, then the done list: under
	 * the lock of the xlist it is on, by the worker while live. */
	struct list_node worker_link;
	struct worker *worker;
	struct probe *probe;
	struct event *ev;		/* worker thread only */
	bool urgent;			/* ignores host_interval */
	size_t ndests;			/* owner thread only */
	char **dests;
};

struct worker {
	struct prober *pr;
	pthread_t thread;
	bool started;
	struct event_base *base;
	struct xlist inbox;		/* jobs from the owner */
	struct event *wake_ev;
	_Atomic bool stop;
	unsigned running;		/* owner's count */
	struct list live;		/* jobs this worker runs: worker thread only */
};

/* When a probe of an address last started. */
struct addr_slot {
	struct map_node node;
	unsigned char key[17];		/* the family (4 or 6), then the address */
	uint64_t started_ms;
};

struct prober {
	struct event_base *owner;
	const struct probe_env *env;
	struct prober_settings s;
	prober_callback *cb;
	void *arg;
	struct worker *workers;
	unsigned nworkers;
	struct list queue;		/* waiting, oldest first but the urgent */
	struct list running;		/* started, not yet back */
	struct xlist done;		/* finished jobs, for the owner */
	struct event *done_ev;
	struct event *pump_timer;
	double tokens;
	uint64_t tokens_ms;
	struct map slots;		/* of struct addr_slot, at most ADDR_SLOTS */
	struct prober_stats stats;
};

static int
xlist_init(struct xlist *x)
{
	memset(&x->jobs, 0, sizeof(x->jobs));
	x->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_init(&x->lock, NULL);
	return x->fd < 0 ? -1 : 0;
}

static void
xlist_destroy(struct xlist *x)
{
	if (x->fd >= 0)
		close(x->fd);
	pthread_mutex_destroy(&x->lock);
}

static void
xlist_wake(struct xlist *x)
{
	uint64_t one = 1;

	while (write(x->fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

static void
xlist_push(struct xlist *x, struct job *j)
{
	pthread_mutex_lock(&x->lock);
	list_push_back(&x->jobs, &j->worker_link);
	pthread_mutex_unlock(&x->lock);
	xlist_wake(x);
}

/* Moves everything handed over so far to the end of to, oldest first. */
static void
xlist_take(struct xlist *x, struct list *to)
{
	uint64_t n;

	while (read(x->fd, &n, sizeof(n)) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&x->lock);
	list_splice_back(to, &x->jobs);
	pthread_mutex_unlock(&x->lock);
}

static void
free_job(struct job *j)
{
	if (j->ev)
		event_free(j->ev);
	probe_free(j->probe);
	for (size_t i = 0; i < j->ndests; i++)
		free(j->dests[i]);
	free(j->dests);
	free(j);
}

/* 0, or -1 when out of memory. */
static int
add_dest(struct job *j, const char *dest)
{
	for (size_t i = 0; i < j->ndests; i++)
		if (strcmp(j->dests[i], dest) == 0)
			return 0;
	char **more = realloc(j->dests, (j->ndests + 1) * sizeof(*more));
	if (!more)
		return -1;
	j->dests = more;
	if (!(j->dests[j->ndests] = strdup(dest)))
		return -1;
	j->ndests++;
	return 0;
}

/* ---- worker side ---------------------------------------------------- */

static void
post_result(struct worker *w, struct job *j)
{
	struct prober *pr = w->pr;

	if (j->ev) {
		event_free(j->ev);
		j->ev = NULL;
	}
	list_remove(&w->live, &j->worker_link);
	xlist_push(&pr->done, j);
}

static void on_probe_io(evutil_socket_t fd, short what, void *arg);

/* Waits for what the probe wants, or posts it when it is done. */
static void
wait_for(struct worker *w, struct job *j, int want)
{
	if (j->ev) {
		event_free(j->ev);
		j->ev = NULL;
	}
	if (want == PROBE_DONE) {
		post_result(w, j);
		return;
	}
	uint64_t now = clock_monotonic_ms(), deadline = probe_deadline(j->probe);
	uint64_t ms = deadline > now ? deadline - now : 0;
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	j->ev = event_new(w->base, probe_fd(j->probe), want == PROBE_WANT_READ ? EV_READ : EV_WRITE,
	    on_probe_io, j);
	if (!j->ev || event_add(j->ev, &tv) < 0) {
		probe_expire(j->probe, now);	/* no memory to wait: give up on it */
		post_result(w, j);
	}
}

static void
on_probe_io(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	struct worker *w = j->worker;
	uint64_t now = clock_monotonic_ms();

	if (what & EV_TIMEOUT) {
		probe_expire(j->probe, now);
		wait_for(w, j, PROBE_DONE);
		return;
	}
	wait_for(w, j, probe_run(j->probe, now));
}

static void
on_worker_wake(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	struct list jobs = {0};
	struct job *j;

	xlist_take(&w->inbox, &jobs);
	if (w->stop) {
		/* What was handed over but not started is freed with the rest. */
		list_splice_back(&w->live, &jobs);
		event_base_loopbreak(w->base);
		return;
	}
	while ((j = LIST_ENTRY(list_pop_front(&jobs), struct job, worker_link))) {
		list_push_back(&w->live, &j->worker_link);
		wait_for(w, j, probe_start(j->probe, clock_monotonic_ms()));
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	event_base_dispatch(w->base);
	/* Stopping: what runs here is dropped without a result. */
	struct job *j;
	while ((j = LIST_ENTRY(list_pop_front(&w->live), struct job, worker_link)))
		free_job(j);
	return NULL;
}

/* ---- owner side ----------------------------------------------------- */

static void
free_slot(void *arg, struct map_node *n)
{
	free(MAP_ENTRY(n, struct addr_slot, node));
}

/* The address's slot, made when new; NULL when all ADDR_SLOTS are taken
 * (or memory is): such an address is not held back by host_interval. */
static struct addr_slot *
addr_slot(struct prober *pr, const struct netaddr *a)
{
	unsigned char key[17];
	size_t len = a->family == AF_INET ? 4 : 16;

	key[0] = a->family == AF_INET ? 4 : 6;
	memcpy(key + 1, a->bytes, len);
	struct addr_slot *s = MAP_ENTRY(map_find(&pr->slots, key, len + 1), struct addr_slot, node);
	if (s || map_count(&pr->slots) >= ADDR_SLOTS || !(s = calloc(1, sizeof(*s))))
		return s;
	memcpy(s->key, key, len + 1);
	map_put(&pr->slots, &s->node, s->key, len + 1);
	return s;
}

/* Forgets addresses last probed longer than host_interval ago: they are
 * free to probe anyway. */
static void
prune_slots(struct prober *pr, uint64_t now)
{
	for (struct map_node *n = map_oldest(&pr->slots), *next; n; n = next) {
		struct addr_slot *s = MAP_ENTRY(n, struct addr_slot, node);
		next = map_newer(n);
		if (now - s->started_ms >= pr->s.host_interval_ms) {
			map_remove(&pr->slots, n);
			free(s);
		}
	}
}

static void
dispatch(struct prober *pr, struct job *j)
{
	struct worker *w = &pr->workers[0];

	for (unsigned i = 1; i < pr->nworkers; i++)
		if (pr->workers[i].running < w->running)
			w = &pr->workers[i];
	j->worker = w;
	w->running++;
	list_push_front(&pr->running, &j->owner_link);
	pr->stats.started++;
	xlist_push(&w->inbox, j);
}

/* Starts what the limits allow; sets a timer for when more will be. */
static void
pump(struct prober *pr)
{
	uint64_t now = clock_monotonic_ms(), wake_at = UINT64_MAX;

	pr->tokens += (double)(now - pr->tokens_ms) * pr->s.rate / 1000.0;
	if (pr->tokens > pr->s.rate)
		pr->tokens = pr->s.rate;	/* a burst of one second at most */
	pr->tokens_ms = now;
	if (map_count(&pr->slots) > ADDR_SLOTS / 2)
		prune_slots(pr, now);
	for (struct list_node *l = pr->queue.first, *next; l && pr->running.count < pr->s.concurrency; l = next) {
		struct job *j = LIST_ENTRY(l, struct job, owner_link);
		next = l->next;
		if (pr->tokens < 1) {
			wake_at = now + (uint64_t)((1 - pr->tokens) * 1000 / pr->s.rate) + 1;
			break;
		}
		const struct netaddr *a = &probe_target(j->probe)->address;
		struct addr_slot *slot = addr_slot(pr, a);
		if (!j->urgent && slot && slot->started_ms && now - slot->started_ms < pr->s.host_interval_ms) {
			if (slot->started_ms + pr->s.host_interval_ms < wake_at)
				wake_at = slot->started_ms + pr->s.host_interval_ms;
			continue;	/* the next job may be for another address */
		}
		if (slot)
			slot->started_ms = now;
		list_remove(&pr->queue, &j->owner_link);
		pr->tokens -= 1;
		dispatch(pr, j);
	}
	if (pr->queue.count && pr->running.count < pr->s.concurrency && wake_at != UINT64_MAX) {
		uint64_t ms = wake_at > now ? wake_at - now : 1;
		struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
		evtimer_add(pr->pump_timer, &tv);
	}
}

static void
on_pump_timer(evutil_socket_t fd, short what, void *arg)
{
	pump(arg);
}

static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct prober *pr = arg;

	struct list done = {0};
	struct job *j;

	xlist_take(&pr->done, &done);
	while ((j = LIST_ENTRY(list_pop_front(&done), struct job, worker_link))) {
		list_remove(&pr->running, &j->owner_link);
		j->worker->running--;
		pr->stats.finished++;
		pr->cb(pr->arg, (const char *const *)j->dests, j->ndests, probe_target(j->probe),
		    probe_result(j->probe));
		free_job(j);
	}
	pump(pr);
}

static bool
same_target(const struct job *j, const struct probe_target *t)
{
	return probe_target_same(probe_target(j->probe), t);
}

/* Adds dest to a probe of the same target in jobs: PROBER_JOINED, or
 * PROBER_QUEUED when there is none (or PROBER_FULL out of memory). An
 * urgent submission makes a queued probe urgent. */
static int
join(struct prober *pr, struct list *jobs, const char *dest, const struct probe_target *t, bool urgent)
{
	for (struct list_node *l = jobs->first; l; l = l->next) {
		struct job *j = LIST_ENTRY(l, struct job, owner_link);
		if (!same_target(j, t))
			continue;
		if (add_dest(j, dest) < 0)
			return PROBER_FULL;
		if (urgent && !j->urgent && jobs == &pr->queue) {
			j->urgent = true;
			list_remove(&pr->queue, &j->owner_link);
			list_push_front(&pr->queue, &j->owner_link);
			pump(pr);
		}
		return PROBER_JOINED;
	}
	return PROBER_QUEUED;
}

static int
submit(struct prober *pr, const char *dest, const struct probe_target *t, bool urgent)
{
	int rc;

	if ((rc = join(pr, &pr->queue, dest, t, urgent)) != PROBER_QUEUED ||
	    (rc = join(pr, &pr->running, dest, t, false)) != PROBER_QUEUED)
		return rc;
	if (pr->queue.count >= pr->s.queue_max) {
		pr->stats.dropped++;
		return PROBER_FULL;
	}
	struct job *j = calloc(1, sizeof(*j));
	if (!j || !(j->probe = probe_new(pr->env, t)) || add_dest(j, dest) < 0) {
		if (j)
			free_job(j);
		pr->stats.dropped++;
		return PROBER_FULL;
	}
	j->urgent = urgent;
	if (urgent)
		list_push_front(&pr->queue, &j->owner_link);
	else
		list_push_back(&pr->queue, &j->owner_link);
	pr->stats.submitted++;
	pump(pr);
	return PROBER_QUEUED;
}

int
prober_submit(struct prober *pr, const char *dest, const struct probe_target *t)
{
	return submit(pr, dest, t, false);
}

int
prober_submit_urgent(struct prober *pr, const char *dest, const struct probe_target *t)
{
	return submit(pr, dest, t, true);
}

static void
apply_limits(struct prober *pr, const struct prober_settings *s)
{
	pr->s.concurrency = s->concurrency ? s->concurrency : 1;
	pr->s.queue_max = s->queue_max ? s->queue_max : 1;
	pr->s.rate = s->rate ? s->rate : 1;
	pr->s.host_interval_ms = s->host_interval_ms;
}

void
prober_set_limits(struct prober *pr, const struct prober_settings *s)
{
	apply_limits(pr, s);
	pump(pr);
}

void
prober_stats(const struct prober *pr, struct prober_stats *out)
{
	*out = pr->stats;
	out->queued = pr->queue.count;
	out->running = pr->running.count;
}

struct prober *
prober_create(struct event_base *owner, const struct probe_env *env, const struct prober_settings *s,
    prober_callback *cb, void *arg, char *err, size_t errlen)
{
	struct prober *pr = calloc(1, sizeof(*pr));
	unsigned char seed[16];

	if (!pr) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pr->owner = owner;
	pr->env = env;
	pr->cb = cb;
	pr->arg = arg;
	pr->done.fd = -1;
	apply_limits(pr, s);
	pr->tokens = 1;
	pr->tokens_ms = clock_monotonic_ms();
	/* The addresses come from MX records strangers write: keyed, so that
	 * they cannot aim them all at one slot. */
	hash_random_seed(seed);
	map_init(&pr->slots, seed);
	pr->nworkers = s->workers ? s->workers : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	if (pr->nworkers == 0)
		pr->nworkers = 1;
	if (!(pr->workers = calloc(pr->nworkers, sizeof(*pr->workers))) ||
	    xlist_init(&pr->done) < 0 ||
	    !(pr->done_ev = event_new(owner, pr->done.fd, EV_READ | EV_PERSIST, on_done, pr)) ||
	    event_add(pr->done_ev, NULL) < 0 ||
	    !(pr->pump_timer = evtimer_new(owner, on_pump_timer, pr))) {
		snprintf(err, errlen, "cannot set up the probe pool: %s", strerror(errno ? errno : ENOMEM));
		goto fail;
	}
	for (unsigned i = 0; i < pr->nworkers; i++)
		pr->workers[i].inbox.fd = -1;	/* prober_free() must not close fd 0 */
	for (unsigned i = 0; i < pr->nworkers; i++) {
		struct worker *w = &pr->workers[i];
		w->pr = pr;
		if (xlist_init(&w->inbox) < 0 || !(w->base = event_base_new()) ||
		    !(w->wake_ev = event_new(w->base, w->inbox.fd, EV_READ | EV_PERSIST, on_worker_wake, w)) ||
		    event_add(w->wake_ev, NULL) < 0) {
			snprintf(err, errlen, "cannot set up a probe worker");
			goto fail;
		}
		int rc = pthread_create(&w->thread, NULL, worker_main, w);
		if (rc) {
			snprintf(err, errlen, "cannot start a probe worker: %s", strerror(rc));
			goto fail;
		}
		w->started = true;
	}
	return pr;
fail:
	prober_free(pr);
	return NULL;
}

void
prober_free(struct prober *pr)
{
	struct job *j;

	if (!pr)
		return;
	for (unsigned i = 0; pr->workers && i < pr->nworkers; i++) {
		struct worker *w = &pr->workers[i];
		if (w->started) {
			w->stop = true;
			xlist_wake(&w->inbox);
			pthread_join(w->thread, NULL);
		}
		/* Jobs handed over after the worker last looked. */
		while ((j = LIST_ENTRY(list_pop_front(&w->inbox.jobs), struct job, worker_link)))
			free_job(j);
		if (w->wake_ev)
			event_free(w->wake_ev);
		if (w->base)
			event_base_free(w->base);
		xlist_destroy(&w->inbox);
	}
	while ((j = LIST_ENTRY(list_pop_front(&pr->queue), struct job, owner_link)))
		free_job(j);
	/* Finished but not yet taken by the owner. */
	while ((j = LIST_ENTRY(list_pop_front(&pr->done.jobs), struct job, worker_link)))
		free_job(j);
	free(pr->workers);
	map_clear(&pr->slots, free_slot, NULL);
	if (pr->done_ev)
		event_free(pr->done_ev);
	if (pr->pump_timer)
		event_free(pr->pump_timer);
	xlist_destroy(&pr->done);
	free(pr);
}
