/*
 * probeshare - a probe result as the relays of a fleet share it (issue 16,
 * FLEET_PROBE in fleet.h): its name, and its payload written and read.
 *
 * The name of a target is "HOST|ADDR|PORT": the MX host in lower case, the
 * address as netaddr_format() writes it, the port in decimal.
 *
 * The payload is one line of the probe history file (probestate.h,
 * probestate_line_format) without dest and tlsa: host, addr, port, the
 * Unix time of the probe, the class, the detail and the leaf's SPKI
 * digest, which is all probestate_record() keeps of a result. Whether the
 * host's TLSA records are usable is not shared: each relay takes that
 * from its own resolver.
 *
 * Decoding is strict, whatever the fleet's seal already vouches for: the
 * payload must be exactly one such line, for the very target asked for
 * (host, address and port), of a known class, with a digest of 64
 * lower-case hex digits if any, and probed no later than a minute after
 * the caller's now (clocks of a fleet differ a little; a result from the
 * future would outlive its interval).
 *
 * No I/O, no allocation left to the caller, no global state.
 */
#ifndef TLSPOLICY_PROBESHARE_H
#define TLSPOLICY_PROBESHARE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "probe/probe.h"

/* A name fits in this many bytes, NUL included. */
#define PROBESHARE_NAME_MAX (NEXTHOP_NAME_MAX + 1 + 64 + 1 + 5 + 1)
/* No payload a relay writes is longer: a line with the longest host and
 * a detail all of escaped bytes. */
#define PROBESHARE_PAYLOAD_MAX 2048
/* How far ahead of the reader's clock a probe time may be. */
#define PROBESHARE_CLOCK_SLACK_S 60

/* Writes t's name into out; 0, or -1 when it does not fit in len. */
int probeshare_name(const struct probe_target *t, char *out, size_t len);

/* Appends the payload for result r of target t, probed at unix_s; 0, or
 * -1 out of memory. */
int probeshare_encode(const struct probe_target *t, const struct probe_result *r, int64_t unix_s,
    struct buf *out);

/* Reads a payload shared for target t: 0 with *r filled with what was
 * shared and *unix_s the time of the probe, or -1 with why (a constant
 * string) when it is not one probeshare_encode() wrote for t, now being
 * the caller's Unix time.
 *
 * *r is zeroed first, then gets the class; the detail, whichever field it
 * came from, in error (which probestate_record() keeps first, so the
 * record is the sharer's); the SPKI digest as certs[0].spki_sha256 with
 * ncerts 1 when there is one. Its transcript is empty and owns nothing:
 * *r needs no freeing. */
int probeshare_decode(const char *payload, size_t len, const struct probe_target *t, int64_t now,
    struct probe_result *r, int64_t *unix_s, const char **why);

#endif
