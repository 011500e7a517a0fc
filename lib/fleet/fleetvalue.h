/*
 * fleetvalue - the values relays of a fleet share through Redis (issue 16),
 * sealed so that the store cannot make any relay weaker: whoever can write
 * to Redis but does not hold the fleet's secret can only delete values,
 * which each relay survives by working alone.
 *
 * A sealed value is text: "tpf1 EXPIRES MAC PAYLOAD", where tpf1 is the
 * format version (a fleet upgrades one relay at a time: a relay ignores
 * versions it does not know), EXPIRES the Unix second the value stops
 * counting, MAC 64 hex digits of HMAC-SHA256 under the fleet's secret over
 * the version, the Redis key the value is stored under, EXPIRES and the
 * payload (so a value copied to another key, or given a longer life, does
 * not verify), and PAYLOAD the bytes the value carries, to the end.
 *
 * fleetvalue_open() accepts a value only when it is well-formed, of a
 * known version, its MAC verifies (compared in constant time), it has not
 * expired, and it claims no longer a life than the caller allows from
 * now: a relay decides how long any value of a kind may count, whatever
 * its writer says.
 *
 * The secret comes from redis_key_file: at least FLEETVALUE_SECRET_MIN
 * bytes (a trailing newline is not part of it), in a file that only its
 * owner and group may read.
 *
 * No I/O but fleetvalue_key_load(); no global state.
 */
#ifndef TLSPOLICY_FLEETVALUE_H
#define TLSPOLICY_FLEETVALUE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define FLEETVALUE_VERSION "tpf1"
#define FLEETVALUE_SECRET_MIN 32
#define FLEETVALUE_SECRET_MAX 1024
/* A value larger than this is not one we wrote: an MTA-STS policy is at
 * most 64 KiB (RFC 8461), with room for what goes with it. */
#define FLEETVALUE_PAYLOAD_MAX (80 * 1024)

struct fleetvalue_key {
	unsigned char secret[FLEETVALUE_SECRET_MAX];
	size_t len;
};

/* Reads the fleet's secret from path; 0, or -1 with what is wrong and
 * what to do in err. */
int fleetvalue_key_load(const char *path, struct fleetvalue_key *out, char *err, size_t errlen);

/* Appends the sealed value for Redis key `name` to out; 0, or -1 when
 * out of memory or the payload is too large. */
int fleetvalue_seal(const struct fleetvalue_key *k, const char *name, int64_t expires, const void *payload,
    size_t len, struct buf *out);

enum fleetvalue_verdict {
	FLEETVALUE_OK,
	FLEETVALUE_MALFORMED,		/* not "VERSION EXPIRES MAC PAYLOAD", or too large */
	FLEETVALUE_VERSION_UNKNOWN,	/* another format: a newer relay's */
	FLEETVALUE_BAD_MAC,		/* forged, copied from another key, or its expiry changed */
	FLEETVALUE_EXPIRED,
	FLEETVALUE_TOO_LONG,		/* claims a longer life than allowed */
	FLEETVALUE_VERDICT_COUNT
};

/* "ok", "malformed", "version-unknown", "bad-mac", "expired", "too-long":
 * stable, for metrics and logs. */
const char *fleetvalue_verdict_name(enum fleetvalue_verdict v);

/* Opens the value read from Redis key `name`: FLEETVALUE_OK with its
 * payload (pointing into value) and expiry, else why it does not count.
 * now and max_life_s are Unix seconds. */
enum fleetvalue_verdict fleetvalue_open(const struct fleetvalue_key *k, const char *name, const char *value,
    size_t len, int64_t now, int64_t max_life_s, const char **payload, size_t *payload_len, int64_t *expires);

#endif
