/*
 * surveyhtml - a survey summary (surveysum.h) as one self-contained HTML
 * page: the key facts, the domains and the MX hosts by class, the top
 * providers (their domains by class as stacked bars), the domains with a
 * TLSA mismatch, and the definitions of every number.
 *
 * Safe with hostile names: every string from the data, and the title, is
 * escaped as HTML entities, so a name cannot add markup or attributes; the
 * page has no scripts and no external resources, and its
 * Content-Security-Policy forbids both, so that even injected markup could
 * do nothing.
 *
 * For tests and scripts: the charts are <svg class="chart" id="..."> with
 * ids "domain-facts", "by-domain-class", "by-mx-host-class" and
 * "top-providers", each bar a <g class="bar" data-key="..."
 * data-count="N">, and each table cell with a number a <td
 * data-key="..." data-count="N">, where data-key is the path of the same
 * number in the JSON object of surveyjson.h ("by_domain_class.verified",
 * "top_providers.0.domains").
 *
 * Errors: 0, or -1 when out of memory (out may then hold part of it).
 */
#ifndef TLSPOLICY_SURVEYHTML_H
#define TLSPOLICY_SURVEYHTML_H

#include "util/buf.h"
#include "survey/surveysum.h"

#define SURVEYHTML_DEFAULT_TITLE "DANE/TLS survey"

/* title: NULL or "" for the default. */
int surveyhtml_write(const struct surveysum_result *r, struct buf *out, const char *title);

#endif
