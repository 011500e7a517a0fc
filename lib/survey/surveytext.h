/*
 * surveytext - a survey summary (surveysum.h) as the plain-text table
 * `tlspolicy survey` prints: the key facts with their share of the
 * domains, the domains and the MX hosts by class, the top providers with
 * a column for each class one of them has, and the domains with a TLSA
 * mismatch.
 *
 * For a terminal: every name from the data is shown in printable ASCII
 * only (anything else as '?', so no escape sequence gets through), and
 * cut at SURVEYTEXT_NAME_MAX bytes.
 *
 * Errors: 0, or -1 when out of memory (out may then hold part of it).
 */
#ifndef TLSPOLICY_SURVEYTEXT_H
#define TLSPOLICY_SURVEYTEXT_H

#include "util/buf.h"
#include "survey/surveysum.h"

#define SURVEYTEXT_NAME_MAX 48		/* a provider's column, a listed domain */

int surveytext_write(const struct surveysum_result *r, struct buf *out);

#endif
