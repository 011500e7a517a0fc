/*
 * probefleet - probes shared by the relays of a fleet (issue 16): each
 * target (MX host, address, port) probed once per probe_interval for the
 * whole fleet. It sits between the scheduler's decision to probe
 * (probesched.h) and the probe pool, and asks the fleet (fleet.h) first.
 *
 * For a target the scheduler would probe (probefleet_submit):
 * 1. The result another relay shared (FLEET_PROBE, named and read as
 *    probeshare.h says), when it decodes for this very target and was
 *    probed less than interval_ms ago: recorded for the destinations
 *    (the record seam), and no probe. A result that opens but does not
 *    decode is counted, reported once per target (rejected seam) and
 *    goes as none.
 * 2. Else the lease, the right to probe it for the fleet
 *    (FLEET_PROBE_LEASE, lease_s): ours, or Redis cannot say (alone):
 *    probed here. Held by another relay: this relay waits until that
 *    lease must have run out and starts again at 1, which finds the
 *    holder's result or, when the holder died, the lease free again. A
 *    target waits at most PROBEFLEET_MAX_WAITS times; then it is probed
 *    here whoever holds the lease, so that no relay that claims and never
 *    shares can keep the others from probing.
 * 3. The fleet not usable now (a get or claim that does not start):
 *    probed here at once, as a relay alone would.
 * A result this relay's pool got (probefleet_result) is shared for
 * interval_ms, whatever made it probe (demands included), and settles a
 * target still in hand: its destinations get that result.
 *
 * One operation per target: destinations that ask for a target already in
 * hand join it; once it is being probed here they go to the pool, which
 * joins them to the probe. At most max_pending targets are in hand
 * (waiting for Redis, for another relay, or for the pool); past that a
 * target is probed at once. Without a fleet every submission goes
 * straight to the pool.
 *
 * Nothing a shared value says makes this relay weaker: a result only
 * feeds history, alerts and proposals, whether TLSA records are usable is
 * this relay's own resolver's word (the record seam gets the target as
 * planned here), and where anything is in doubt the relay probes.
 *
 * Seams: the fleet client's calls (struct probefleet_client, fleet.h's
 * functions in the daemon, a fake in tests), both clocks, the pool, the
 * record, and one timer: wake_in() asks for probefleet_wake() after a
 * delay (a later request replaces an earlier one; a spurious or early
 * wake is harmless). Nothing here logs or reads a clock.
 *
 * Ownership: probefleet_create() copies the ops and settings;
 * probefleet_set_fleet() borrows the fleet, which must outlive its use
 * here (set another, or NULL, or free this first). Targets and names are
 * copied in. probefleet_free() and a change of fleet cancel every fleet
 * operation in hand: no fleet callback reaches this module after them.
 */
#ifndef TLSPOLICY_PROBEFLEET_H
#define TLSPOLICY_PROBEFLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleet/fleet.h"
#include "probe/probe.h"

/* A lease lasts at least this long. A probe cannot outlast its six
 * steps at probe_timeout each; the floor only keeps a lease from running
 * out between Redis's clock and ours. */
#define PROBEFLEET_LEASE_MIN_S 5
/* Times a target waits for leases other relays hold before it is probed
 * here anyway. */
#define PROBEFLEET_MAX_WAITS 3
/* A wait ends this long after the lease it waits for must have run out:
 * Redis expires keys on its own clock. */
#define PROBEFLEET_WAIT_MARGIN_MS 1000

/* fleet.h's calls, so that tests can put a fake fleet behind them. */
struct probefleet_client {
	struct fleet_op *(*get)(struct fleet *f, enum fleet_kind kind, const char *name, int64_t max_life_s,
	    fleet_got *cb, void *arg);
	void (*put)(struct fleet *f, enum fleet_kind kind, const char *name, int64_t expires, const void *payload,
	    size_t len);
	struct fleet_op *(*claim)(struct fleet *f, enum fleet_kind kind, const char *name, int64_t life_s,
	    fleet_claimed *cb, void *arg);
	void (*cancel)(struct fleet_op *op);
};

struct probefleet_ops {
	uint64_t (*now_ms)(void *arg);		/* monotonic: waits */
	int64_t (*unix_s)(void *arg);		/* wall clock: results' ages, expiries */
	/* Probe t for dest in the pool; false when the pool would not take
	 * it (full: the caller says so). */
	bool (*submit)(void *arg, const char *dest, const struct probe_target *t);
	/* A result this relay did not probe for these destinations (shared
	 * by another relay, or probed here for others): record it as
	 * probed at unix_s. t is the target as planned here. */
	void (*record)(void *arg, const char *const *dests, size_t ndests, const struct probe_target *t,
	    const struct probe_result *r, int64_t unix_s);
	/* A shared result opened but is not one a relay writes for t (why:
	 * a constant string). May be NULL. */
	void (*rejected)(void *arg, const char *name, const char *why);
	/* Call probefleet_wake() in delay_ms. */
	void (*wake_in)(void *arg, uint64_t delay_ms);
	void *arg;
};

struct probefleet_settings {
	uint64_t interval_ms;		/* probe_interval */
	unsigned lease_s;		/* probefleet_lease_s(probe_timeout) */
	size_t max_pending;		/* targets in hand; probe_queue_max */
};

/* Stable names: probing_stats() writes them as probes_NAME. */
struct probefleet_stats {
	uint64_t shared_hits;		/* targets not probed: a relay shared their result */
	uint64_t shared_rejected;	/* shared results that opened but did not decode */
	uint64_t lease_taken;		/* leases claimed: probes made for the fleet */
	uint64_t lease_held;		/* waits for another relay's lease */
	uint64_t fleet_alone;		/* probed here without the fleet's word: Redis unusable,
					 * unable to say, too many waits, or too many in hand */
	size_t pending;			/* targets in hand now */
};

struct probefleet;

/* NULL when out of memory. Starts without a fleet. */
struct probefleet *probefleet_create(const struct probefleet_ops *ops, const struct probefleet_settings *s);
void probefleet_set(struct probefleet *pf, const struct probefleet_settings *s);
/* The fleet to share with and its client (copied); f NULL: alone. A
 * change sends the targets waiting for the old fleet to the pool. */
void probefleet_set_fleet(struct probefleet *pf, struct fleet *f, const struct probefleet_client *client);
void probefleet_free(struct probefleet *pf);

/* The lease for a probe of this step timeout: every step of a probe
 * (connect, greeting, EHLO, STARTTLS, handshake, QUIT) at its limit, and
 * at least PROBEFLEET_LEASE_MIN_S. */
unsigned probefleet_lease_s(unsigned probe_timeout_ms);

/* Probes t for dest, unless the fleet has its result or another relay is
 * probing it (see above). */
void probefleet_submit(struct probefleet *pf, const char *dest, const struct probe_target *t);
/* The pool's result for dests (the prober callback's), probed at unix_s:
 * shared, and the target's other destinations in hand get it too. */
void probefleet_result(struct probefleet *pf, const char *const *dests, size_t ndests,
    const struct probe_target *t, const struct probe_result *r, int64_t unix_s);
/* The timer wake_in() asked for: looks again at the targets whose wait is
 * over. */
void probefleet_wake(struct probefleet *pf);
void probefleet_stats(const struct probefleet *pf, struct probefleet_stats *out);

#endif
