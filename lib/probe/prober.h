/*
 * prober - the pool that runs probes on worker threads, so that no TLS
 * handshake ever delays an answer to Postfix.
 *
 * The owner (the daemon's event loop) submits jobs: a probe target and the
 * destination it was planned for. Jobs wait in a bounded queue; the
 * owner's loop starts them at most `rate` per second, never two on the
 * same address closer together than host_interval_ms, and at most
 * `concurrency` at once, on the least busy of `workers` threads. Each
 * worker runs its probes on a libevent loop of its own (a probe mostly
 * waits for the other side, so one thread carries many). A finished probe
 * comes back to the owner's loop, where the callback gets its result. One
 * probe serves every destination submitted for the same host, address
 * and port while it waits or runs.
 *
 * Threads meet only at two mutex-guarded lists, each with an eventfd to
 * wake the other side: jobs to a worker, results to the owner. Nothing
 * else is shared but the read-only probe_env.
 *
 * Ownership: prober_create() borrows the owner's event base and the
 * probe_env (both must outlive the prober). Results passed to the
 * callback live until it returns. prober_free() stops the workers and
 * drops what is queued or running, without callbacks.
 */
#ifndef TLSPOLICY_PROBER_H
#define TLSPOLICY_PROBER_H

#include <stddef.h>
#include <stdint.h>

#include "probe/probe.h"

struct event_base;

struct prober_settings {
	unsigned workers;		/* threads; 0: one per core */
	unsigned concurrency;		/* probes in flight at once */
	unsigned queue_max;		/* jobs waiting at most */
	unsigned rate;			/* starts per second */
	unsigned host_interval_ms;	/* between probes of one address */
};

/* dests: every destination the probe was submitted for while it waited
 * or ran (an MX host serves many), first submitter first. */
typedef void prober_callback(void *arg, const char *const *dests, size_t ndests,
    const struct probe_target *t, const struct probe_result *r);

struct prober_stats {
	size_t queued, running;
	uint64_t submitted, started, finished, dropped;
};

enum { PROBER_QUEUED = 0, PROBER_JOINED = 1, PROBER_FULL = -1 };

struct prober;

struct prober *prober_create(struct event_base *owner, const struct probe_env *env,
    const struct prober_settings *s, prober_callback *cb, void *arg, char *err, size_t errlen);
/* New limits from a reload; the number of workers stays. */
void prober_set_limits(struct prober *pr, const struct prober_settings *s);
/* PROBER_QUEUED; PROBER_JOINED when a probe of the same host, address and
 * port is queued or running already (dest is added to those it reports
 * to); PROBER_FULL when the queue is full. */
int prober_submit(struct prober *pr, const char *dest, const struct probe_target *t);
/* The same for a probe an administrator asked for: it goes to the front
 * of the queue and does not wait for host_interval (the global rate and
 * concurrency still apply). */
int prober_submit_urgent(struct prober *pr, const char *dest, const struct probe_target *t);
void prober_stats(const struct prober *pr, struct prober_stats *out);
void prober_free(struct prober *pr);

#endif
