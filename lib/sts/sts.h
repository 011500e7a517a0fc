/*
 * sts - MTA-STS (RFC 8461) for the policy map: what is known of a
 * recipient domain's policy, at once, from the cache (stscache.h), while
 * the TXT lookups (through the dns seam) and the HTTPS fetches
 * (stsfetch.h) the cache asks for run in the background on the event
 * loop. One discovery per domain at a time, shared by every request for
 * it; only lookups start one, so only domains in use are refreshed.
 *
 * A first lookup, when nothing is known of the domain yet, may wait:
 * sts_wait() calls back when the discovery ends or wait_ms after it
 * started, whichever comes first. Later lookups never wait: they get what
 * is known, and the refresh runs behind them.
 *
 * The policy fetched is checked by stspolicy_parse(); an invalid one is a
 * failed fetch (the policy in force stays). Logged: each fetch
 * (event=sts-fetch: info when it worked, notice when not), an invalid TXT
 * record (notice), and, once until a fetch works again, an enforce policy
 * still in force that can no longer be fetched (warning,
 * event=sts-unfetchable, with the time it runs out).
 *
 * Ownership: sts_create() borrows the event base, the dns seam and the
 * log, which outlive it (and the fleet, sts_set_fleet), and owns its fetcher and cache. What a view
 * points to is valid until control returns to the event loop (a fetch
 * finishing replaces policies). sts_free() cancels everything: no
 * callback runs after it.
 */
#ifndef TLSPOLICY_STS_H
#define TLSPOLICY_STS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/log.h"
#include "dns/dns.h"
#include "rules/stspolicy.h"
#include "sts/stscache.h"
#include "sts/stsfetch.h"

struct sts_settings {
	struct stsfetch_settings fetch;
	unsigned wait_ms;		/* sts_fetch_timeout: a first lookup's wait */
	size_t max_domains;		/* domains remembered; 0: no bound */
};

/* Unix seconds (default: time()). */
typedef int64_t sts_wall_clock(void *arg);

struct event_base;
struct sts;
struct sts_waiter;

/* NULL with err filled in (the fetcher could not be set up). The program
 * has called stsfetch_global_init(). */
struct sts *sts_create(struct event_base *base, struct dns *dns, struct log *log, const struct sts_settings *s,
    char *err, size_t errlen);
void sts_free(struct sts *s);
void sts_set_wall_clock(struct sts *s, sts_wall_clock *clock, void *arg);
struct fleet;
/* Shares policies with a fleet (fleet.h; NULL: alone), borrowed: a
 * policy this relay fetches is stored there, and a discovery asks it once
 * (where no policy is in force once the TXT answer is in, and before any
 * fetch) for a policy another relay fetched later, which it then applies
 * as its own fetch (event=sts-fetch source=fleet). */
void sts_set_fleet(struct sts *s, struct fleet *fleet);
/* The fetcher, for stsfetch_set_own(). */
struct stsfetch *sts_fetcher(struct sts *s);

struct sts_view {
	bool pending;			/* a first discovery runs: sts_wait() may wait for it */
	const struct stspolicy *policy;	/* in force now, or NULL */
	const char *policy_id;		/* with policy: the id it was fetched under */
	const char *postfix_answer;	/* with policy: Postfix's answer in mode enforce, or NULL */
	const char *reason;		/* with policy: the reason of that answer, or NULL */
	int64_t fetched_at, expires_at;	/* with policy */
	enum stscache_txt txt;		/* what the TXT record said last */
	const char *txt_id;		/* STSCACHE_TXT_ID: its id */
	const char *failure;		/* the last fetch that failed, or NULL */
};

/* What is known of domain (a lower-case A-label name) now, starting what
 * the cache asks for. Out of memory, nothing is known. */
void sts_lookup(struct sts *s, const char *domain, struct sts_view *out);

/* What is known of domain, starting nothing: for answers the policy
 * cannot change, and for `tlspolicy explain`. */
void sts_peek(struct sts *s, const char *domain, struct sts_view *out);

/* DNS proved DANE for domain, so MTA-STS does not apply to it (RFC 8461
 * section 2): what is known of it is forgotten when that is nothing (no
 * TXT id, no policy, no failed fetch) and no discovery runs. A later
 * sts_lookup() asks again; it keeps the many DANE destinations from
 * holding an entry each. */
void sts_forget_unused(struct sts *s, const char *domain);

typedef void sts_callback(void *arg);
/* When sts_lookup() said pending: cb runs once, when the discovery ends
 * or its wait is over, never from inside sts_wait(). NULL when there is
 * nothing to wait for (or no memory): look again. */
struct sts_waiter *sts_wait(struct sts *s, const char *domain, sts_callback *cb, void *arg);
void sts_waiter_cancel(struct sts_waiter *w);

struct sts_stats {
	uint64_t fetches[STSFETCH_OUTCOME_COUNT];	/* by outcome, including... */
	uint64_t invalid;		/* ...those OK whose body was no valid policy */
	uint64_t txt_lookups;
	uint64_t fleet_policies;	/* policies taken from the fleet */
	size_t by_mode[3];		/* policies in force (enum stspolicy_mode) */
	size_t domains, discoveries, bytes;
};

void sts_stats(struct sts *s, struct sts_stats *out);

/* The policies in force as state-file lines, and back (stscache.h). */
void sts_save(struct sts *s, struct buf *out);
size_t sts_restore(struct sts *s, const char *text, size_t len, struct buf *errors);

#endif
