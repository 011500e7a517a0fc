/*
 * exceptions - the administrator's exception list: destinations whose DANE
 * is known broken get a weaker policy instead of deferred mail.
 *
 * The format is the public "danefail" list's, read as it is, plus
 * extensions on the same line:
 *
 *   # a comment                    ignored
 *   ## A group header              ignored
 *   (blank line)                   ignored
 *   example.org                    the domain gets "may"
 *   xn--bcher-kva.example          IDNs in their A-label form
 *   example.net   encrypt          any Postfix level, with its attributes
 *                                  ("secure match=nexthop"), checked
 *   example.com   expires=2027-03-31
 *                                  applies to the end of that day (UTC)
 *   .example.org                   every subdomain of example.org (not
 *                                  example.org itself, as in Postfix)
 *   mx:mail.provider.example encrypt
 *                                  every destination one of whose MX hosts
 *                                  is that host: one line for a provider
 *
 * Domains are lower case (upper case is an error, as the danefail list
 * never has it); trailing white space is tolerated; a trailing '#' comment
 * after the entry is allowed. A key may appear again only to say the same
 * (the public list has such repeats); saying something else is an error.
 * Errors are
 * reported as "FILE:LINE: message", all of them; a list with any error
 * yields no snapshot.
 *
 * Matching: a domain next hop matches its exact entry first, then the
 * nearest ".parent" entry; an MX host matches its "mx:" entry exactly.
 * Entries whose expiry has passed (at `now`, Unix seconds) never match.
 *
 * Ownership: snapshots are immutable and reference-counted, like
 * configuration snapshots, so a reload swaps them without disturbing work
 * in flight. Entries returned point into the snapshot.
 */
#ifndef TLSPOLICY_EXCEPTIONS_H
#define TLSPOLICY_EXCEPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "postfix/nexthop.h"

enum exception_kind {
	EXCEPTION_DOMAIN,	/* example.org */
	EXCEPTION_SUBDOMAINS,	/* .example.org */
	EXCEPTION_MX_HOST,	/* mx:mail.provider.example */
};

struct exception_entry {
	enum exception_kind kind;
	char name[NEXTHOP_NAME_MAX + 1];	/* without "." or "mx:" */
	char policy[256];			/* "may" unless given */
	int64_t expires;			/* Unix time it stops applying; 0: never */
	unsigned line;
};

struct exceptions;

/* A snapshot of a file; NULL with every error appended to errors. */
struct exceptions *exceptions_load(const char *path, struct buf *errors);
struct exceptions *exceptions_parse(const char *text, size_t len, const char *name, struct buf *errors);
/* No exceptions at all (exceptions_file empty or missing). */
struct exceptions *exceptions_empty(void);
struct exceptions *exceptions_ref(struct exceptions *x);
void exceptions_unref(struct exceptions *x);

const struct exception_entry *exceptions_match_domain(const struct exceptions *x, const char *domain,
    int64_t now);
const struct exception_entry *exceptions_match_mx(const struct exceptions *x, const char *host, int64_t now);

/* How "mx:" entries apply to a destination whose MX hosts Postfix could
 * use are names[0..n-1] (in MX order; hosts without an address left
 * out): the entry of the first named host replaces the DNS answer only
 * when every host has an entry (even hosts whose lookups failed: such an
 * entry is for a broken provider). When only some have one, the others
 * keep their protection: the answer becomes EXCEPTIONS_PARTIAL_POLICY,
 * under which Postfix checks each host's TLSA records itself and skips
 * just the broken one; a TEMP stays TEMP (the caller's part). find
 * finds a host's entry (whichever lists and retirements the caller
 * keeps). */
#define EXCEPTIONS_PARTIAL_POLICY "dane"
struct exceptions_mx_cover {
	const struct exception_entry *entry;	/* NULL: no host has one */
	const char *host;			/* the host it names (one of names) */
	unsigned named, hosts;			/* hosts with an entry, of n */
	bool all;				/* named == n: entry's policy applies */
};
typedef const struct exception_entry *exceptions_mx_lookup(void *arg, const char *host);
void exceptions_mx_cover(const char *const *names, size_t n, exceptions_mx_lookup *find, void *arg,
    struct exceptions_mx_cover *out);

size_t exceptions_count(const struct exceptions *x);
/* Every entry, in file order. */
void exceptions_each(const struct exceptions *x, void (*fn)(void *arg, const struct exception_entry *e),
    void *arg);

/* An entry as a line of the file ("example.org encrypt expires=2027-03-31"). */
int exceptions_format(const struct exception_entry *e, struct buf *out);

#endif
