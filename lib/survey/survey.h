/*
 * survey - the DANE and TLS state of a whole list of domains: for each, the
 * daemon's decision from DNS (resolve.c, policy.c) and a probe of every
 * address of its MX hosts, written as one JSON line (the record format is
 * documented in tlspolicy(1), SURVEY).
 *
 * Providers host thousands of domains on the same MX hosts: each (host,
 * address, port) is probed once, whatever number of domains names it; a
 * domain that names a host under probe waits for that probe, and later
 * domains reuse its result. Resolutions run at most `concurrency` at once;
 * probes go through a prober (prober.h) with its rate, per-address interval
 * and concurrency limits. Which addresses: those of the daemon's probe
 * plan (probeplan.h); special-purpose and own ones are "refused", those
 * past the address limit "skipped".
 *
 * The owner feeds domains with survey_add() when the ready callback says
 * there is room, and gets each finished domain's record from the record
 * callback, in the order domains finish.
 *
 * Ownership: survey_create() borrows the event base, the dns and the
 * plan settings' list of own addresses, and
 * takes the probe_env (NULL: no probes, addresses reported "skipped"),
 * which must outlive the survey. survey_free() drops everything under way
 * without records.
 */
#ifndef TLSPOLICY_SURVEY_H
#define TLSPOLICY_SURVEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "dns/dns.h"
#include "probe/probe.h"
#include "probe/probeplan.h"
#include "probe/prober.h"

struct event_base;
struct survey;

struct survey_settings {
	unsigned concurrency;		/* resolutions at once */
	struct probeplan_settings plan;	/* which addresses, as the daemon's probes */
	struct prober_settings prober;
	const struct policy_levels *levels;	/* for the "level" field */
};

/* line: one JSON object, without newline; valid during the call. */
typedef void survey_record_fn(void *arg, const char *domain, const char *line, size_t len);
/* Room for more domains (called from the loop, never from survey_add). */
typedef void survey_ready_fn(void *arg);

struct survey *survey_create(struct event_base *base, struct dns *dns, const struct probe_env *env,
    const struct survey_settings *s, survey_record_fn *record, survey_ready_fn *ready, void *arg,
    char *err, size_t errlen);
void survey_free(struct survey *sv);

/* Starts a domain: 0; -1 with an English reason (not a domain name, out
 * of memory). */
int survey_add(struct survey *sv, const char *domain, char *err, size_t errlen);
/* Domains started and not yet recorded. */
size_t survey_pending(const struct survey *sv);
/* Whether another domain may start now (fewer than concurrency are
 * resolving). */
bool survey_has_room(const struct survey *sv);

/* A line of a domain list as the published top lists have them: "example.org",
 * or "rank,example.org" (the last comma-separated field), with blanks
 * around it; lowercase, without a trailing dot. 1 with the domain in dst;
 * 0 for a line to skip (blank, or a '#' comment); -1 when the field does
 * not fit in size. */
int survey_list_domain(const char *line, size_t len, char *dst, size_t size);
/* The domain of a record line this module wrote ({"domain":"...",...), in
 * dst; -1 when the line is not one (a line cut short by a crash). */
int survey_record_domain(const char *line, size_t len, char *dst, size_t size);

struct survey_stats {
	uint64_t recorded;
	uint64_t probes;		/* probes run (distinct host, address, port) */
	uint64_t reused;		/* addresses answered by an earlier probe */
	uint64_t by_class[PROBE_CLASS_COUNT];	/* probes by class */
};
void survey_stats(const struct survey *sv, struct survey_stats *out);

#endif
