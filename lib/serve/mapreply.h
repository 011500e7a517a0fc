/*
 * mapreply - a policy map answer (policymap.h) as each of its readers gets
 * it: the socketmap reply Postfix reads, the same reply as one line for
 * people (the daemon's answer log line, the control socket's refresh,
 * `tlspolicy explain`), and the status map's reply (status.h) that
 * tlspolicy-milter reads. One function decides what an answer says, so
 * that no two of them can disagree:
 *
 *   OK <level>      the exception's policy when an exception chose the
 *                   answer; "secure match=... servername=hostname" when
 *                   an MTA-STS policy did (policymap.h); else the level
 *                   the levels in force give the answer's rule
 *                   (policy_level)
 *   NOTFOUND        no policy: Postfix's smtp_tls_security_level applies
 *   TEMP <reason>   Postfix defers the mail
 *
 * The status map reports a failure only when delivery would be deferred
 * until the receiver fixes something:
 *
 *   dnssec-bogus    TEMP because DNSSEC validation failed (the answer is
 *                   bogus), not a resolver outage, which passes
 *   tlsa-mismatch   OK at the all-DANE rule, and the probes found every
 *                   DANE host presenting a chain that matches none of its
 *                   TLSA records. Only the decision itself can put a
 *                   destination there: an exception's answer has another
 *                   rule, so an exception overrides the probes. The probes
 *                   are asked (the callback) in that case only.
 *
 * Contract: pure. mapreply_of() copies nothing: the reply's text points
 * into the answer or the levels, and lives as long as they do. The other
 * functions append to the caller's buffer or fill the caller's struct.
 */
#ifndef TLSPOLICY_MAPREPLY_H
#define TLSPOLICY_MAPREPLY_H

#include <stdbool.h>

#include "util/buf.h"
#include "postfix/socketmap.h"
#include "rules/policy.h"
#include "serve/policymap.h"
#include "serve/status.h"

struct mapreply {
	enum socketmap_status status;	/* SOCKETMAP_OK, SOCKETMAP_NOTFOUND or SOCKETMAP_TEMP */
	const char *text;		/* OK: the level; TEMP: the reason; NOTFOUND: NULL */
};

struct mapreply mapreply_of(const struct policy_levels *levels, const struct policymap_answer *a);

/* Appends the reply as the netstring Postfix reads; 0 or -1 (buf.h). */
int mapreply_put(const struct mapreply *r, struct buf *out);

/* The same for a map name in tlsrpt_map_names: an answer an MTA-STS
 * policy chose is followed by the TLSRPT attributes Postfix 3.10 and later
 * forward to their TLSRPT library (tlsrpt.h), when the whole reply stays
 * within Postfix's default socketmap_max_reply_size; without room, the
 * answer goes alone. Every other answer is as mapreply_put() writes it. */
int mapreply_put_tlsrpt(const struct mapreply *r, const struct policymap_answer *a, struct buf *out);

/* Appends the reply as one line without a newline: "OK dane-only",
 * "NOTFOUND", "TEMP <reason>"; without the reason ("TEMP") when
 * with_reason is false, for a log line that has a field of its own for
 * it. Returns 0, or -1 with the buffer as buf.h leaves it. */
int mapreply_format(const struct mapreply *r, bool with_reason, struct buf *out);

/* How the answer came: "none" (from the key alone), "stale", "hit",
 * "shared" or "miss". A static string, for log lines and the status map. */
const char *mapreply_cache_word(const struct policymap_answer *a);

/* Whether the probes found every DANE host of dest (a canonical next-hop
 * key) presenting a chain that matches none of its TLSA records. */
typedef bool mapreply_all_mismatch(void *arg, const char *dest);

/* The status map's reply for the answer to dest. all_mismatch may be
 * NULL: no probes, so never tlsa-mismatch. Texts longer than the
 * struct's fields are cut. */
void mapreply_status(const struct policymap_answer *a, const struct mapreply *r, const char *dest,
    mapreply_all_mismatch *all_mismatch, void *arg, struct status *out);

#endif
