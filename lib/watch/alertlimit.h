/*
 * alertlimit - which alerts are raised: the same (kind, destination) not
 * again within interval_ms of its last raise, and at most max_per_hour
 * alerts an hour in all. The alerter (alert.h) asks before it logs.
 *
 * Pure: no I/O, no log, no clock of its own. now_ms is the caller's
 * monotonic time in milliseconds; a time earlier than one already seen
 * (a clock going back) counts as no time passed, so that an alert is held
 * rather than repeated.
 *
 * Rules:
 * - interval_ms = 0 turns deduplication off; max_per_hour = 0 means no
 *   hourly limit. alertlimit_set() changes both and keeps what was
 *   raised and held.
 * - The hour starts with the first alert raised and ends ALERTLIMIT_HOUR_MS
 *   later. An alert over the limit is held; the (kind, destination) pairs
 *   held in an hour are counted, each once however often it comes, and
 *   that count is handed out once by alertlimit_roll() after the hour is
 *   over (or by alertlimit_flush() at the end), for the caller to report.
 * - A pair held over the hourly limit was never raised: in a later hour
 *   it is raised at once, whatever interval_ms says.
 *
 * Memory: the pairs live in a keyed hash table (destinations are chosen
 * by strangers), in the order they were last touched. Pairs that no
 * longer hold anything back are forgotten as new ones come, and the table
 * never holds more than ALERTLIMIT_KEYS_MAX: past that the pair touched
 * longest ago goes, so a pair can at worst be raised again early, never
 * lost. Out of memory, a pair is not remembered (it may be raised again).
 *
 * No global state.
 */
#ifndef TLSPOLICY_ALERTLIMIT_H
#define TLSPOLICY_ALERTLIMIT_H

#include <stdint.h>

#define ALERTLIMIT_HOUR_MS 3600000u
#define ALERTLIMIT_KEYS_MAX 4096

enum alertlimit_verdict {
	ALERTLIMIT_RAISE,		/* raise it */
	ALERTLIMIT_REPEAT,		/* held: raised within interval_ms */
	ALERTLIMIT_OVER_HOUR,		/* held: max_per_hour raised this hour */
};

struct alertlimit;

/* NULL when out of memory. */
struct alertlimit *alertlimit_create(uint64_t interval_ms, unsigned max_per_hour);
void alertlimit_set(struct alertlimit *l, uint64_t interval_ms, unsigned max_per_hour);
void alertlimit_free(struct alertlimit *l);

/* Whether (kind, dest) is raised now, remembered either way. */
enum alertlimit_verdict alertlimit_check(struct alertlimit *l, const char *kind, const char *dest, uint64_t now_ms);

/* The pairs held in an hour that is over by now_ms and was not reported
 * yet; 0 when there are none or the hour goes on. */
uint64_t alertlimit_roll(struct alertlimit *l, uint64_t now_ms);
/* The pairs held and not reported yet, the hour under way included: for
 * the report at the end. */
uint64_t alertlimit_flush(struct alertlimit *l);

#endif
