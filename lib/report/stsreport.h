/*
 * stsreport - one domain's MTA-STS check (stscheck.h) as `tlspolicy sts`
 * and `tlspolicy explain` show it: for a person, what was found (the TXT
 * record, the fetch, the policy, the answer Postfix gets for it) and then
 * the problems and notes, each on its own line; for a script, the same as
 * one JSON object.
 *
 * Contract: pure formatting of a result into the caller's buffer or
 * writer.
 */
#ifndef TLSPOLICY_STSREPORT_H
#define TLSPOLICY_STSREPORT_H

#include "util/buf.h"
#include "util/jsonw.h"
#include "sts/stscheck.h"

/* Returns buf_terminate()'s result. */
int stsreport_text(const struct stscheck_result *r, struct buf *out);
/* The result as one object named name (NULL at the top or in an array);
 * -1 when j has failed (jsonw.h). */
int stsreport_json(const struct stscheck_result *r, struct jsonw *j, const char *name);

#endif
