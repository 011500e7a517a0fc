/*
 * snapshot - the policy map's caches as lines of a state file: a
 * restarted daemon answers from what it knew instead of sending every
 * destination to the resolver at once, and keeps the last secure answers
 * it may serve through a resolver outage.
 *
 * One key=value line (kv.h) per entry:
 *
 *   store=answers key=example.org result=ok rule=all-hosts-dane bogus=no
 *     policy="encrypt" reason="..." stored=1764000000 expires=1764003600
 *
 * store is "answers" (the cache Postfix is answered from) or "secure" (the
 * last dane or dane-only answers); policy only for an exception's answer,
 * and then a value policy_level_valid() accepts (the daemon writes none:
 * see policymap_restore). The reason is cut to its field and kept to
 * printable ASCII (others become '?').
 * Times are wall-clock Unix seconds: the caches' monotonic clock does not
 * survive a restart.
 *
 * Contract: pure functions on caller-owned memory.
 */
#ifndef TLSPOLICY_SNAPSHOT_H
#define TLSPOLICY_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "postfix/nexthop.h"
#include "rules/policy.h"

enum snapshot_store { SNAPSHOT_ANSWERS, SNAPSHOT_SECURE };

struct snapshot_entry {
	enum snapshot_store store;
	char key[NEXTHOP_NAME_MAX + 16];
	struct policy_answer answer;
	bool has_policy;
	char policy[256];
	char reason[512];	/* cut to fit when longer */
	int64_t stored, expires;
};

/* Appends one line (with its newline). */
int snapshot_format(struct buf *out, const struct snapshot_entry *e);
/* Reads one line (without its newline): 0, or -1 when a field is missing,
 * unknown or too long for its place. */
int snapshot_parse(const char *line, size_t len, struct snapshot_entry *e);

#endif
