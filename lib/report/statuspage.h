/*
 * statuspage - the daemon's state at a glance, as the metrics endpoint
 * serves it on "/" (one self-contained HTML page) and "/status.json" (the
 * same data): version, uptime, the resolver trust check, the exceptions
 * file and its errors, the answers of the last hour by result, and the
 * destinations Postfix asked about recently, those in trouble first.
 *
 * The daemon gathers a struct statuspage on its loop when a page is asked
 * for (statuspage_add_row(), statuspage_add_host()), and this module
 * orders and renders it; it reads nothing else.
 *
 * Trouble, per destination (enum statuspage_trouble), most serious first:
 *   MISMATCH   the latest probe of some MX address is dane-mismatch: its
 *              TLSA records do not match what the server presents, and
 *              Postfix defers mail there at the dane levels;
 *   DEFERRED   Postfix's log shows 4.7.5 deferrals (TLS) since the last
 *              delivery sent (logwatch.h's run_deferred_tls);
 *   TEMP       the answer in the cache is TEMP (Postfix defers);
 *   ALERT      an alert was raised for the destination (the last one the
 *              alerter remembers, within the last STATUSPAGE_ALERT_RECENT_S);
 *   PROPOSED   the daemon proposed an exception that is not applied;
 *   EXCEPTION  an exception of the list (the file's or an applied
 *              proposal) answers instead of DNS.
 * Rows are ordered by their trouble as a number whose bits are these in
 * that order (so the most serious trouble decides, then the next), larger
 * first, then by destination (byte order): the order is total, and the
 * page and the JSON list the rows in it.
 *
 * The detail: each row shows the command `tlspolicy explain DEST` rather
 * than a link to the daemon. An explain resolves the destination afresh
 * and may probe it; a page anyone on the host can load must not start
 * lookups and probes on the daemon's loop for names in its URL, nor hold
 * a connection of the small metrics server while they run.
 *
 * The JSON, one object on one line: version, now, uptime_s,
 * trust_check {state, reason}, exceptions {file, entries, errors},
 * answers_last_hour {minutes, ok, notfound, temp, perm}, maillog and
 * probes (whether followed, enabled), more (destinations not shown), and
 * destinations, in the page's order: {dest, trouble [words], result,
 * reply, rule, bogus, reason, age_s, asked_s, probes [{host, address,
 * port, class, probed_at}], maillog {verified, sent, deferred,
 * deferred_tls, deferred_tls_since_sent, last_seen} or null, alert {kind,
 * at} or null, exception {policy, automatic} or null, proposed}. Times are
 * Unix seconds.
 *
 * Escaping: every string may come from DNS, an SMTP server or a log and
 * is escaped where it is written (HTML text and attributes; JSON by
 * jsonw.h). The page loads nothing: its style and its sorting and
 * filtering script are inline, and the data reach the script only through
 * the table the HTML already holds.
 *
 * Ownership: a statuspage owns its rows and hosts and the strings copied
 * into them (statuspage_free()); the top's strings (version and the like)
 * are borrowed and must live until it is rendered or freed.
 */
#ifndef TLSPOLICY_STATUSPAGE_H
#define TLSPOLICY_STATUSPAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "rules/policy.h"
#include "probe/probe.h"

#define STATUSPAGE_MAX_ROWS 1000		/* the destinations shown */
#define STATUSPAGE_MAX_HOSTS 16			/* probed addresses per destination */
#define STATUSPAGE_ALERT_RECENT_S 3600

enum statuspage_trouble {
	STATUSPAGE_EXCEPTION = 1 << 0,
	STATUSPAGE_PROPOSED = 1 << 1,
	STATUSPAGE_ALERT = 1 << 2,
	STATUSPAGE_TEMP = 1 << 3,
	STATUSPAGE_DEFERRED = 1 << 4,
	STATUSPAGE_MISMATCH = 1 << 5,
};
/* The trouble's word: "mismatch", "deferred", "temp", "alert",
 * "proposed", "exception"; one bit only. */
const char *statuspage_trouble_name(unsigned bit);

/* One probed address of a destination's MX hosts: its latest result. */
struct statuspage_host {
	char *host;
	char *address;
	unsigned port;
	enum probe_class class;
	int64_t probed_at;		/* Unix seconds */
};

struct statuspage_row {
	char *dest;			/* the next hop as Postfix asked (canonical key) */
	struct policy_answer answer;
	char *reply;			/* the level or policy Postfix was told; NULL: none */
	char *reason;
	uint64_t age_s;			/* since the answer was cached */
	uint64_t asked_s;		/* since Postfix last asked */
	struct statuspage_host *hosts;
	size_t nhosts;
	/* Postfix's log (has_log: the log watcher saw the destination). */
	bool has_log;
	uint64_t verified, sent, deferred, deferred_tls;
	uint64_t run_deferred_tls;	/* 4.7.5 deferrals since the last sent */
	int64_t log_last_seen;
	/* The last alert remembered, or NULL. */
	char *alert_kind;
	int64_t alert_at;		/* Unix seconds */
	/* The exception in force: its policy, or NULL; and whether it is an
	 * applied proposal (exceptions_auto) rather than the file's. */
	char *exception;
	bool exception_auto;
	bool proposed;			/* a proposal waiting */
	unsigned trouble;		/* enum statuspage_trouble bits; statuspage_sort() sets it */
};

struct statuspage {
	const char *version;
	int64_t now;			/* Unix seconds */
	uint64_t uptime_s;
	const char *trust;		/* the trust check: "validating", "not-validating", "unverified" */
	const char *trust_reason;	/* why not trusted, or NULL */
	const char *exceptions_file;	/* "" for none */
	size_t exceptions;		/* entries in force */
	const char *exceptions_errors;	/* the last load's errors, one per line, or NULL */
	/* Replies by result over the last hour_minutes minutes (at most 60). */
	uint64_t hour_ok, hour_notfound, hour_temp, hour_perm;
	unsigned hour_minutes;
	bool maillog;			/* a log is followed */
	bool probes;			/* probe_enable */
	size_t more;			/* destinations cached beyond the rows */
	struct statuspage_row *rows;
	size_t nrows, cap;
};

void statuspage_init(struct statuspage *sp);
void statuspage_free(struct statuspage *sp);
/* A row for dest (copied), zeroed but for dest; NULL when out of memory
 * or when STATUSPAGE_MAX_ROWS are there already (counted in more). The
 * row's strings are set with statuspage_set(). */
struct statuspage_row *statuspage_add_row(struct statuspage *sp, const char *dest);
/* Replaces *field with a copy of s (NULL: none); -1 when out of memory. */
int statuspage_set(char **field, const char *s);
/* One more address; beyond STATUSPAGE_MAX_HOSTS the latest probed replace
 * the oldest. -1 when out of memory. */
int statuspage_add_host(struct statuspage_row *row, const char *host, const char *address, unsigned port,
    enum probe_class class, int64_t probed_at);

/* The trouble of a row as defined above; sp->now for the alert's age. */
unsigned statuspage_trouble(const struct statuspage *sp, const struct statuspage_row *row);
/* Sets every row's trouble and orders the rows. */
void statuspage_sort(struct statuspage *sp);

/* Render a sorted statuspage. 0, or -1 when out of memory. */
int statuspage_json(const struct statuspage *sp, struct buf *out);
int statuspage_html(const struct statuspage *sp, struct buf *out);

/* The answers of the last hour from cumulative counters: the daemon notes
 * its reply totals once a minute and at start, and asks for the
 * difference between now and the sample an hour ago (or the oldest one
 * kept, when the daemon is younger). */
enum { STATUSPAGE_OK, STATUSPAGE_NOTFOUND, STATUSPAGE_TEMP_REPLIES, STATUSPAGE_PERM, STATUSPAGE_RESULTS };
#define STATUSPAGE_RING 61
struct statuspage_ring {
	struct {
		bool used;
		uint64_t minute;	/* monotonic minutes */
		uint64_t totals[STATUSPAGE_RESULTS];
	} at[STATUSPAGE_RING];
};
void statuspage_ring_note(struct statuspage_ring *r, uint64_t minute, const uint64_t totals[STATUSPAGE_RESULTS]);
/* out = totals now less the sample of minute - 60 or the oldest later
 * one; returns the minutes covered (0 with no sample: out = totals). */
unsigned statuspage_ring_hour(const struct statuspage_ring *r, uint64_t minute,
    const uint64_t totals[STATUSPAGE_RESULTS], uint64_t out[STATUSPAGE_RESULTS]);

#endif
