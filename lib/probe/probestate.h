/*
 * probestate - what the daemon knows from its probes, per destination: the
 * probe plan of its latest resolution, when it was last probed, and for
 * each address probed the latest result and a short history (newest
 * first). It answers which destinations are due for a probe, and reads and
 * writes the history file in the state directory, one key=value line per
 * result, so that `tlspolicy explain` can show it and a restart keeps it.
 *
 * Destinations are kept up to max_dests; past that the one probed longest
 * ago goes. Times are milliseconds on the caller's clocks: `now_ms`
 * monotonic for scheduling, `unix_s` wall-clock seconds for history.
 *
 * Plans are kept packed (probeplan_pack), a hundred bytes or so each.
 * Ownership: probestate_plan() takes over the plan it is given (the
 * caller's struct is emptied). Strings and results are copied in.
 */
#ifndef TLSPOLICY_PROBESTATE_H
#define TLSPOLICY_PROBESTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "probe/probe.h"
#include "probe/probeplan.h"

#define PROBESTATE_HISTORY 8

struct probestate_record {
	int64_t unix_s;
	enum probe_class class;
	char detail[200];		/* error, DANE match or PKIX error */
	char leaf_spki[65];
};

struct probestate_addr {
	char host[NEXTHOP_NAME_MAX + 1];
	struct netaddr address;
	unsigned port;
	bool has_usable_tlsa;		/* its validated TLSA records include usable ones */
	/* Newest first, at most PROBESTATE_HISTORY; grown as results come,
	 * since most addresses have one or two (history_cap: the state's). */
	size_t nhistory, history_cap;
	struct probestate_record *history;
};

struct probestate;

struct probestate *probestate_create(size_t max_dests);
void probestate_free(struct probestate *ps);

/* Stores the latest plan of a destination; true when it is due for a
 * probe now (never probed, or last probed interval_ms ago or more). */
bool probestate_plan(struct probestate *ps, struct probeplan *plan, uint64_t now_ms, uint64_t interval_ms);
/* The stored plan of a destination, unpacked into *out for the caller to
 * free (probeplan_free); false when there is none, or no memory for it
 * (*out is then empty). */
bool probestate_get_plan(const struct probestate *ps, const char *dest, struct probeplan *out);
/* Marks a destination probed now. */
void probestate_probed(struct probestate *ps, const char *dest, uint64_t now_ms);

/* Calls due() for each destination last probed interval_ms ago or more. */
void probestate_each_due(struct probestate *ps, uint64_t now_ms, uint64_t interval_ms,
    void (*due)(void *arg, const char *dest), void *arg);

/* Records a result; returns the address's entry (owned by the state). */
const struct probestate_addr *probestate_record(struct probestate *ps, const char *dest,
    const struct probe_target *t, const struct probe_result *r, int64_t unix_s);
/* The latest result for a host, address and port, whatever destination it
 * was probed for, with whether it had usable TLSA records; NULL when none
 * is known. Destinations that share an MX host share its probes. */
const struct probestate_record *probestate_latest(const struct probestate *ps, const char *host,
    const struct netaddr *a, unsigned port, bool *usable);
/* Records, for dest, a result found for another destination. */
void probestate_record_shared(struct probestate *ps, const char *dest, const char *host,
    const struct netaddr *a, unsigned port, bool usable, const struct probestate_record *rec);

/* Whether every address of dest that has usable TLSA has a latest result,
 * and every one of those is dane-mismatch (and there is at least one). */
bool probestate_all_mismatch(const struct probestate *ps, const char *dest);
/* The same, true only when it has just become so (it was not at the last
 * call): an alert worth raising once, not at every probe. */
bool probestate_all_mismatch_news(struct probestate *ps, const char *dest);
/* True when every address of dest with usable TLSA records has just
 * become dane-verified (at least one): a destination whose DANE works. */
bool probestate_all_verified_news(struct probestate *ps, const char *dest);
/* Calls fn for each address recorded for dest. */
void probestate_each_addr(const struct probestate *ps, const char *dest,
    void (*fn)(void *arg, const struct probestate_addr *a), void *arg);

/* The record a result makes: its class, what it shows as detail (the
 * error, else the DANE match, the DANE error or the PKIX error, cut to
 * fit) and the leaf's SPKI digest; unix_s is when it was probed. */
void probestate_record_of(const struct probe_result *r, int64_t unix_s, struct probestate_record *out);

/* One record as a line of the history file. The fleet shares results in
 * the same form (probeshare.h), without dest and tlsa: a result holds for
 * every destination, and whether a host's TLSA records are usable is for
 * each relay's own resolver to say. */
struct probestate_line {
	char dest[NEXTHOP_NAME_MAX + 16];	/* "": none */
	char host[NEXTHOP_NAME_MAX + 1];
	struct netaddr address;
	unsigned port;
	bool has_tlsa;				/* tlsa= written or read */
	bool usable;				/* its value: "usable" */
	struct probestate_record rec;
};

/* Appends l as one key=value line, newline included; 0, or -1 out of
 * memory (nothing appended). */
int probestate_line_format(const struct probestate_line *l, struct buf *out);
/* Reads one line (without its newline) into *out: 0, or -1 when it is
 * not one probestate_line_format() could have written: not key=value, a
 * key it never writes or one written twice, a value too long for its
 * field, a number not as it writes them (digits only; a port 1 to 65535),
 * an address or class it cannot read, or no host, addr, port, time or
 * class. dest and tlsa may be missing: the caller says whether it needs
 * them. */
int probestate_line_parse(const char *line, size_t len, struct probestate_line *out);

/* The history file, written as statefile.h says (a crash leaves the old
 * file or the new one); 0 or -1 with errno. */
int probestate_save(const struct probestate *ps, const char *path);
/* Loads it (a missing file is no error, and loads nothing); lines it
 * cannot read are skipped. Returns how many records it loaded, or -1 with
 * an English message in err: unreadable, or damaged (refused whole). */
int probestate_load(struct probestate *ps, const char *path, int64_t unix_now, char *err, size_t errlen);
/* The two halves without the file: the history as its lines (appended to
 * out), and lines put back (those it cannot read, or dated more than a
 * day after unix_now, are skipped); returns how many records it took. */
void probestate_format(const struct probestate *ps, struct buf *out);
int probestate_restore(struct probestate *ps, const char *text, size_t len, int64_t unix_now);

#endif
