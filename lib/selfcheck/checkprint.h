/*
 * checkprint - a checklist (checklist.h) as `tlspolicy selfcheck` prints
 * it.
 *
 * Text: a heading line per domain, "DOMAIN: STATUS (F failed, W warned,
 * P passed)", then one line per finding, failures first, then warnings,
 * then passes (in the order found within each), each "  SEVERITY CODE
 * HOST[ADDRESS]: DETAIL" and, for a warning or failure, a line
 * "      fix: FIX". An unchecked domain is one line, "DOMAIN: could not
 * check: WHY".
 *
 * JSON: one object per domain on one line (JSON Lines),
 * {"domain":..., "findings":[{"code":..., "severity":"ok|warn|fail",
 * "host":..., "address":..., "detail":..., "fix":...}]}, host, address and
 * fix null where there is none, the findings in the text's order. An
 * unchecked domain has an empty list and "error": WHY besides.
 *
 * Errors: 0, or -1 when out of memory (out may hold part of it).
 */
#ifndef TLSPOLICY_CHECKPRINT_H
#define TLSPOLICY_CHECKPRINT_H

#include "util/buf.h"
#include "selfcheck/checklist.h"

/* "passed", "warned", "failed" or "could not check": checklist_status()
 * in a word. */
const char *checkprint_status_word(int status);

int checkprint_text(const struct checklist *c, struct buf *out);
int checkprint_json(const struct checklist *c, struct buf *out);

#endif
