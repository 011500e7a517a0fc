/* prober - probes on worker threads; see prober.h for the contract. */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include <event2/event.h>

#include "util/hash.h"
#include "probe/prober.h"

#define ADDR_SLOTS 4096		/* last start per address; pruned when half full */

struct worker;
struct job;

/* A list one thread hands jobs over on and another takes them from, with
 * an eventfd to wake the taker. */
struct xlist {
	pthread_mutex_t lock;
	struct job *head, *tail;
	int fd;
};

struct job {
	/* Owner's lists (queue or running): owner thread only. */
	struct job *prev, *next;
	/* Inbox and done lists: under the lock of the xlist it is on. */
	struct job *xnext;
	/* The worker's list of the jobs it runs: worker thread only. */
	struct job *wnext;
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
	struct job *live;		/* jobs this worker runs, by wnext */
};

struct addr_slot {
	struct netaddr addr;
	uint64_t started_ms;
	bool used;
};

struct prober {
	struct event_base *owner;
	const struct probe_env *env;
	struct prober_settings s;
	prober_callback *cb;
	void *arg;
	struct worker *workers;
	unsigned nworkers;
	struct job *q_head, *q_tail;	/* waiting, oldest first */
	struct job *running;		/* started, not yet back */
	size_t nqueued, nrunning;
	struct xlist done;		/* finished jobs, for the owner */
	struct event *done_ev;
	struct event *pump_timer;
	double tokens;
	uint64_t tokens_ms;
	struct addr_slot *slots;
	size_t slots_used;
	struct hash_key hkey;
	struct prober_stats stats;
};

static int
xlist_init(struct xlist *x)
{
	x->head = x->tail = NULL;
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
	j->xnext = NULL;
	pthread_mutex_lock(&x->lock);
	if (x->tail)
		x->tail->xnext = j;
	else
		x->head = j;
	x->tail = j;
	pthread_mutex_unlock(&x->lock);
	xlist_wake(x);
}

/* Everything handed over so far, oldest first (linked by xnext). */
static struct job *
xlist_take(struct xlist *x)
{
	uint64_t n;

	while (read(x->fd, &n, sizeof(n)) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&x->lock);
	struct job *all = x->head;
	x->head = x->tail = NULL;
	pthread_mutex_unlock(&x->lock);
	return all;
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
	/* Off the worker's live list. */
	for (struct job **p = &w->live; *p; p = &(*p)->wnext) {
		if (*p == j) {
			*p = j->wnext;
			break;
		}
	}
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
	uint64_t now = probe_now_ms(), deadline = probe_deadline(j->probe);
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
	uint64_t now = probe_now_ms();

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

	struct job *jobs = xlist_take(&w->inbox);
	if (w->stop) {
		/* What was handed over but not started is freed with the rest. */
		while (jobs) {
			struct job *next = jobs->xnext;
			jobs->wnext = w->live;
			w->live = jobs;
			jobs = next;
		}
		event_base_loopbreak(w->base);
		return;
	}
	while (jobs) {
		struct job *j = jobs;
		jobs = j->xnext;
		j->wnext = w->live;
		w->live = j;
		wait_for(w, j, probe_start(j->probe, probe_now_ms()));
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	event_base_dispatch(w->base);
	/* Stopping: what runs here is dropped without a result. */
	while (w->live) {
		struct job *j = w->live;
		w->live = j->wnext;
		free_job(j);
	}
	return NULL;
}

/* ---- owner side ----------------------------------------------------- */

static struct addr_slot *
addr_slot(struct prober *pr, const struct netaddr *a, bool create)
{
	size_t len = a->family == AF_INET ? 4 : 16;
	uint64_t h = hash_siphash13(pr->hkey, a->bytes, len) ^ (uint64_t)a->family;

	for (size_t i = 0; i < ADDR_SLOTS; i++) {
		struct addr_slot *s = &pr->slots[(h + i) % ADDR_SLOTS];
		if (!s->used) {
			if (!create)
				return NULL;
			s->used = true;
			s->addr = *a;
			s->started_ms = 0;
			pr->slots_used++;
			return s;
		}
		if (s->addr.family == a->family && memcmp(s->addr.bytes, a->bytes, len) == 0)
			return s;
	}
	return NULL;
}

/* Forgets addresses last probed longer than host_interval ago: they are
 * free to probe anyway. Rebuilds the table, which has no tombstones. */
static void
prune_slots(struct prober *pr, uint64_t now)
{
	struct addr_slot *old = pr->slots;
	struct addr_slot *fresh = calloc(ADDR_SLOTS, sizeof(*fresh));

	if (!fresh)
		return;
	pr->slots = fresh;
	pr->slots_used = 0;
	for (size_t i = 0; i < ADDR_SLOTS; i++) {
		if (old[i].used && now - old[i].started_ms < pr->s.host_interval_ms) {
			struct addr_slot *s = addr_slot(pr, &old[i].addr, true);
			if (s)
				s->started_ms = old[i].started_ms;
		}
	}
	free(old);
}

static void
list_remove(struct job **head, struct job **tail, struct job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		*head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else if (tail)
		*tail = j->prev;
	j->prev = j->next = NULL;
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
	j->next = pr->running;
	if (pr->running)
		pr->running->prev = j;
	pr->running = j;
	pr->nrunning++;
	pr->stats.started++;
	xlist_push(&w->inbox, j);
}

/* Starts what the limits allow; sets a timer for when more will be. */
static void
pump(struct prober *pr)
{
	uint64_t now = probe_now_ms(), wake_at = UINT64_MAX;

	pr->tokens += (double)(now - pr->tokens_ms) * pr->s.rate / 1000.0;
	if (pr->tokens > pr->s.rate)
		pr->tokens = pr->s.rate;	/* a burst of one second at most */
	pr->tokens_ms = now;
	if (pr->slots_used > ADDR_SLOTS / 2)
		prune_slots(pr, now);
	for (struct job *j = pr->q_head, *next; j && pr->nrunning < pr->s.concurrency; j = next) {
		next = j->next;
		if (pr->tokens < 1) {
			wake_at = now + (uint64_t)((1 - pr->tokens) * 1000 / pr->s.rate) + 1;
			break;
		}
		const struct netaddr *a = &probe_target(j->probe)->address;
		struct addr_slot *slot = addr_slot(pr, a, true);
		if (!j->urgent && slot && slot->started_ms && now - slot->started_ms < pr->s.host_interval_ms) {
			if (slot->started_ms + pr->s.host_interval_ms < wake_at)
				wake_at = slot->started_ms + pr->s.host_interval_ms;
			continue;	/* the next job may be for another address */
		}
		if (slot)
			slot->started_ms = now;
		list_remove(&pr->q_head, &pr->q_tail, j);
		pr->nqueued--;
		pr->tokens -= 1;
		dispatch(pr, j);
	}
	if (pr->nqueued && pr->nrunning < pr->s.concurrency && wake_at != UINT64_MAX) {
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

	struct job *done = xlist_take(&pr->done);
	while (done) {
		struct job *j = done;
		done = j->xnext;
		list_remove(&pr->running, NULL, j);
		pr->nrunning--;
		j->worker->running--;
		pr->stats.finished++;
		pr->cb(pr->arg, (const char *const *)j->dests, j->ndests, probe_target(j->probe),
		    probe_result(j->probe));
		free_job(j);
	}
	pump(pr);
}

/* The TLSA records are those of the host and port, so the same host,
 * address and port is the same probe whoever asks. */
static bool
same_target(const struct job *j, const struct probe_target *t)
{
	const struct probe_target *o = probe_target(j->probe);

	return o->port == t->port && o->address.family == t->address.family &&
	    memcmp(o->address.bytes, t->address.bytes, sizeof(t->address.bytes)) == 0 &&
	    strcmp(o->host, t->host) == 0;
}

/* Adds dest to a probe of the same target in list: PROBER_JOINED, or
 * PROBER_QUEUED when there is none (or PROBER_FULL out of memory). An
 * urgent submission makes a queued probe urgent. */
static int
join(struct prober *pr, struct job *list, const char *dest, const struct probe_target *t, bool urgent)
{
	for (struct job *j = list; j; j = j->next) {
		if (!same_target(j, t))
			continue;
		if (add_dest(j, dest) < 0)
			return PROBER_FULL;
		if (urgent && !j->urgent && list == pr->q_head) {
			j->urgent = true;
			list_remove(&pr->q_head, &pr->q_tail, j);
			j->next = pr->q_head;
			if (pr->q_head)
				pr->q_head->prev = j;
			else
				pr->q_tail = j;
			pr->q_head = j;
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

	if ((rc = join(pr, pr->q_head, dest, t, urgent)) != PROBER_QUEUED ||
	    (rc = join(pr, pr->running, dest, t, false)) != PROBER_QUEUED)
		return rc;
	if (pr->nqueued >= pr->s.queue_max) {
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
	if (urgent) {
		j->next = pr->q_head;
		if (pr->q_head)
			pr->q_head->prev = j;
		else
			pr->q_tail = j;
		pr->q_head = j;
	} else {
		j->prev = pr->q_tail;
		if (pr->q_tail)
			pr->q_tail->next = j;
		else
			pr->q_head = j;
		pr->q_tail = j;
	}
	pr->nqueued++;
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
	out->queued = pr->nqueued;
	out->running = pr->nrunning;
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
	pr->tokens_ms = probe_now_ms();
	/* The addresses come from MX records strangers write: keyed, so that
	 * they cannot aim them all at one slot. */
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		memset(seed, 0x5a, sizeof(seed));
	pr->hkey = hash_key_from_bytes(seed);
	pr->nworkers = s->workers ? s->workers : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	if (pr->nworkers == 0)
		pr->nworkers = 1;
	if (!(pr->slots = calloc(ADDR_SLOTS, sizeof(*pr->slots))) ||
	    !(pr->workers = calloc(pr->nworkers, sizeof(*pr->workers))) ||
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
		while (w->inbox.head) {
			struct job *j = w->inbox.head;
			w->inbox.head = j->xnext;
			free_job(j);
		}
		if (w->wake_ev)
			event_free(w->wake_ev);
		if (w->base)
			event_base_free(w->base);
		xlist_destroy(&w->inbox);
	}
	while (pr->q_head) {
		struct job *j = pr->q_head;
		pr->q_head = j->next;
		free_job(j);
	}
	/* Finished but not yet taken by the owner. */
	while (pr->done.head) {
		struct job *j = pr->done.head;
		pr->done.head = j->xnext;
		free_job(j);
	}
	free(pr->workers);
	free(pr->slots);
	if (pr->done_ev)
		event_free(pr->done_ev);
	if (pr->pump_timer)
		event_free(pr->pump_timer);
	xlist_destroy(&pr->done);
	free(pr);
}
