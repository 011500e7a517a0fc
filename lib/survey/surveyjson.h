/*
 * surveyjson - a survey summary (surveysum.h) as one JSON object on one
 * line, with its newline: {"format":"tlspolicy-survey-summary",
 * "version":1, "lines", "rejected", each key fact under its name
 * (surveyfacts.h), "time_first", "time_last", "by_domain_class" and
 * "by_mx_host_class" (the classes that can occur, best first),
 * "top_providers" (name, domains, by_class) and "tlsa_mismatch_domains"}.
 * tlspolicy(1), SURVEY, describes it for scripts; the HTML report's
 * data-key attributes are paths into it.
 *
 * Names from the data are JSON strings, escaped, never changed.
 * Errors: 0, or -1 when out of memory (out may then hold part of it).
 */
#ifndef TLSPOLICY_SURVEYJSON_H
#define TLSPOLICY_SURVEYJSON_H

#include "util/buf.h"
#include "survey/surveysum.h"

int surveyjson_write(const struct surveysum_result *r, struct buf *out);

#endif
