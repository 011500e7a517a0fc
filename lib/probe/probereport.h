/*
 * probereport - a probe's result for people (the dialogue, the chain, the
 * verdicts, as posttls-finger shows them), for scripts (JSON) and for the
 * log (one key=value line).
 *
 * Contract: pure formatting into the caller's buffer.
 */
#ifndef TLSPOLICY_PROBEREPORT_H
#define TLSPOLICY_PROBEREPORT_H

#include "util/buf.h"
#include "util/jsonw.h"
#include "probe/probe.h"

int probereport_text(const struct probe_target *t, const struct probe_result *r, struct buf *out);
/* One object, where j expects an unnamed value (in an array, or at the
 * top); -1 when j has failed (jsonw.h). */
int probereport_json(const struct probe_target *t, const struct probe_result *r, struct jsonw *j);
/* "event=probe dest=... host=... addr=... port=... class=..." */
int probereport_kv(const char *dest, const struct probe_target *t, const struct probe_result *r,
    struct buf *out);
/* The target's TLSA records in presentation form, comma-separated. */
int probereport_tlsa_list(const struct probe_target *t, struct buf *out);

#endif
