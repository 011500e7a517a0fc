/*
 * peerlimit - connections per peer (peer.h: a local user, or a remote
 * address): how many each holds, whether it may open one more, and when a
 * refusal is worth a log line. The socketmap listeners' limit is
 * max_connections_per_peer; the metrics endpoint has its own.
 *
 * Postfix opens one connection per smtp process, all as one user: such a
 * limit only stops one user, or one remote host, from taking every
 * descriptor. A refusal closes that connection and nothing else. The
 * refusals are counted per peer and reported at most once per
 * PEERLIMIT_REPORT_US for each peer, with how many there were since the
 * last report, so that a peer hammering the limit cannot flood the log.
 *
 * Seams: the time is the caller's (monotonic microseconds).
 *
 * Ownership: keys are copied. A peer's count lives from its first
 * admitted connection until the release of its last: one allocation per
 * peer, none per connection.
 */
#ifndef TLSPOLICY_PEERLIMIT_H
#define TLSPOLICY_PEERLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/peer.h"

#define PEERLIMIT_REPORT_US (60 * 1000000ull)

struct peerlimit;
struct peerlimit_peer;

enum peerlimit_result {
	PEERLIMIT_ADMITTED,
	PEERLIMIT_REFUSED,
	PEERLIMIT_NO_MEMORY,	/* a new peer's count could not be had */
};

/* A refusal worth reporting: the peer, its connections open, and the
 * refusals since the last report (this one included). */
struct peerlimit_report {
	bool due;
	char key[PEER_KEY_MAX];
	unsigned connections;
	uint64_t refused;
};

struct peerlimit *peerlimit_create(void);
void peerlimit_free(struct peerlimit *pl);

/* One more connection for the peer key, if it holds fewer than max:
 * PEERLIMIT_ADMITTED with *peer, its count taken; else *peer NULL, and
 * for PEERLIMIT_REFUSED the report filled in (due or not). */
enum peerlimit_result peerlimit_admit(struct peerlimit *pl, const char *key, unsigned max, uint64_t now_us,
    struct peerlimit_peer **peer, struct peerlimit_report *report);
/* One of the peer's connections closed, or never came to be. */
void peerlimit_release(struct peerlimit *pl, struct peerlimit_peer *peer);
/* The peers holding connections. */
size_t peerlimit_count(const struct peerlimit *pl);

#endif
