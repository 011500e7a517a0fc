/*
 * fleet - what the relays of a fleet share through Redis (issue 16): each
 * kind of value under its own keys, every value sealed (fleetvalue.h) so
 * that a stranger who can write to Redis cannot make any relay weaker
 * than it would be alone, and every command bounded by redis_timeout so
 * that Redis down, slow, full or restarted never delays an answer: the
 * relay then works alone, and rejoins when Redis answers again.
 *
 * Keys: PREFIX KIND ":" NAME, e.g. "tlspolicyd:sts:example.org". A value
 * is bound to its key, so one copied to another key does not open.
 *
 * Reads go to the replica when one is configured and up, else to the
 * server; writes and claims go to the server, never with redis_readonly.
 *
 * - fleet_get(): the value of a key, opened, or why there is none: absent,
 *   rejected (malformed, unknown version, forged, copied, expired or
 *   living longer than the caller allows: counted and logged once per kind
 *   and reason), or unreachable (Redis down, an error, past the deadline).
 * - fleet_put(): stores a sealed value with a Redis expiry at its own;
 *   nothing to wait for, and nothing done when Redis is down or the relay
 *   is read-only.
 * - fleet_claim(): the right to do something once for the fleet (a probe,
 *   an alert) for life_s seconds: SET NX with an expiry, so a relay that
 *   dies holding it blocks nobody past that. Held by another relay only
 *   when the value there opens; a value that does not is replaced (it
 *   cannot make this relay skip its work), and where Redis cannot say, the
 *   relay does the work itself.
 *
 * Callbacks never run from inside the call that started them: a call that
 * cannot start (Redis down, read-only for a claim's write, out of memory)
 * returns NULL and the caller goes on alone at once. A started operation
 * calls back exactly once, within the deadline, unless cancelled first.
 *
 * Ownership: fleet_create() borrows the event base and the log, which
 * outlive the fleet, and copies its settings. Payloads given to callbacks
 * live until the callback returns. fleet_free() cancels every operation:
 * no callback runs after it.
 */
#ifndef TLSPOLICY_FLEET_H
#define TLSPOLICY_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/endpoint.h"
#include "util/log.h"
#include "util/metrics.h"
#include "fleet/fleetvalue.h"

enum fleet_kind {
	FLEET_STS,		/* an MTA-STS policy and its fetch time, per domain */
	FLEET_PROBE,		/* a probe's result, per MX host, address and port */
	FLEET_PROBE_LEASE,	/* the right to probe one of those */
	FLEET_ALERT,		/* the right to raise an alert, per destination and kind */
	FLEET_STALE,		/* the last secure answer, per destination */
	FLEET_MAILLOG,		/* a relay's outcome counts, per destination */
	FLEET_PROPOSAL,		/* a proposed exception and its evidence */
	FLEET_KIND_COUNT
};

/* "sts", "probe", "lease", "alert", "stale", "maillog", "proposal": the
 * key's middle part and the metrics' label. */
const char *fleet_kind_name(enum fleet_kind k);

struct fleet_settings {
	struct endpoint server;		/* writes, claims, and reads without a replica */
	bool has_replica;
	struct endpoint replica;	/* reads, while it answers */
	bool readonly;			/* never write */
	const char *password;		/* AUTH, or "" */
	const struct fleetvalue_key *key;
	unsigned timeout_ms;		/* every command's deadline */
	const char *prefix;		/* of every key */
	const char *relay;		/* this relay's name, in claims */
};

/* Unix seconds (default: time()); values' expiries are wall-clock. */
typedef int64_t fleet_wall_clock(void *arg);

struct event_base;
struct fleet;
struct fleet_op;

/* Starts connecting; NULL with err filled in when it cannot (no memory,
 * or built without Redis). Until the server answers, the relay works
 * alone. */
struct fleet *fleet_create(struct event_base *base, struct log *log, const struct fleet_settings *s, char *err,
    size_t errlen);
void fleet_free(struct fleet *f);

struct config;
/* The fleet the configuration asks for: its redis_* settings, the secret
 * read from redis_key_file, the host's name for an empty
 * redis_relay_name. NULL with err empty when redis_server is empty; NULL
 * with err filled in when it cannot be set up. */
struct fleet *fleet_from_config(struct event_base *base, struct log *log, const struct config *cfg, char *err,
    size_t errlen);
void fleet_set_wall_clock(struct fleet *f, fleet_wall_clock *clock, void *arg);

/* This relay's name in the fleet. */
const char *fleet_relay(const struct fleet *f);

/* Whether the server (writes) answers now. */
bool fleet_up(const struct fleet *f);

enum fleet_found {
	FLEET_FOUND,		/* payload, len, expires */
	FLEET_ABSENT,
	FLEET_REJECTED,		/* a value is there but does not count */
	FLEET_UNREACHABLE,	/* Redis could not say in time */
};

typedef void fleet_got(void *arg, enum fleet_found found, const char *payload, size_t len, int64_t expires);

/* The value of kind/name, which may count for at most max_life_s from
 * now. NULL: Redis is not usable now, no callback. */
struct fleet_op *fleet_get(struct fleet *f, enum fleet_kind kind, const char *name, int64_t max_life_s,
    fleet_got *cb, void *arg);

/* Stores payload under kind/name until expires (Unix seconds). */
void fleet_put(struct fleet *f, enum fleet_kind kind, const char *name, int64_t expires, const void *payload,
    size_t len);

/* Values under one name, a field each (FLEET_MAILLOG: a field per relay;
 * FLEET_PROPOSAL: per destination and relay): a Redis hash, each field's
 * value sealed for the key and the field. fleet_put_field() stores one,
 * fleet_put_mine() this relay's (the field is its name); the hash lives
 * as long as the value last stored. fleet_del_field() removes one.
 * fleet_get_all() calls each() for every field whose value opens (at most
 * FLEET_FIELDS_MAX), then done() once: FLEET_FOUND when there was a hash,
 * else FLEET_ABSENT or FLEET_UNREACHABLE. A field is at most
 * FLEET_FIELD_MAX bytes; longer ones are rejected. */
#define FLEET_FIELDS_MAX 1000
#define FLEET_FIELD_MAX 320
#define FLEET_RELAY_MAX 64

void fleet_put_field(struct fleet *f, enum fleet_kind kind, const char *name, const char *field, int64_t expires,
    const void *payload, size_t len);
void fleet_put_mine(struct fleet *f, enum fleet_kind kind, const char *name, int64_t expires, const void *payload,
    size_t len);
void fleet_del_field(struct fleet *f, enum fleet_kind kind, const char *name, const char *field);

typedef void fleet_each(void *arg, const char *field, const char *payload, size_t len, int64_t expires);
typedef void fleet_done(void *arg, enum fleet_found found);

/* NULL: Redis is not usable now, no callback. */
struct fleet_op *fleet_get_all(struct fleet *f, enum fleet_kind kind, const char *name, int64_t max_life_s,
    fleet_each *each, fleet_done *done, void *arg);

enum fleet_claim {
	FLEET_CLAIM_OURS,	/* this relay does it, for the fleet */
	FLEET_CLAIM_HELD,	/* another relay does: holder names it */
	FLEET_CLAIM_ALONE,	/* Redis could not say: do it, for this relay only */
};

typedef void fleet_claimed(void *arg, enum fleet_claim claim, const char *holder);

/* Claims kind/name for life_s seconds. NULL: Redis is not usable now (or
 * the relay is read-only and nobody holds it validly: do it alone), no
 * callback. */
struct fleet_op *fleet_claim(struct fleet *f, enum fleet_kind kind, const char *name, int64_t life_s,
    fleet_claimed *cb, void *arg);

/* Its callback will not run. */
void fleet_cancel(struct fleet_op *op);

struct fleet_stats {
	bool up, has_replica, replica_up;
	uint64_t gets[FLEET_KIND_COUNT];	/* asked */
	uint64_t hits[FLEET_KIND_COUNT];	/* found a value that counts */
	uint64_t puts[FLEET_KIND_COUNT];
	uint64_t claims_ours[FLEET_KIND_COUNT], claims_held[FLEET_KIND_COUNT], claims_alone[FLEET_KIND_COUNT];
	uint64_t rejected[FLEET_KIND_COUNT][FLEETVALUE_VERDICT_COUNT];
	uint64_t unreachable;		/* operations Redis could not answer in time */
	uint64_t skipped;		/* operations not started: Redis down or read-only */
	uint64_t commands;		/* sent to Redis, both endpoints */
	uint64_t timeouts;		/* commands past the deadline */
	uint64_t outages;		/* times an endpoint went down */
	struct metrics_histogram rtt;	/* replies' round trips */
};

void fleet_stats(const struct fleet *f, struct fleet_stats *out);
/* A line of `tlspolicy stats` (kv.h), without its newline:
 * "fleet=up|down|off ..." and the counts summed over kinds; f NULL:
 * "fleet=off". */
void fleet_format_stats(const struct fleet *f, struct buf *out);

#endif
