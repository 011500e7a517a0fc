/* exproposal - when a proposed exception may apply; see exproposal.h. */
#include "autoconfig.h"

#include <stddef.h>

#include "rules/exproposal.h"

enum exproposal_verdict
exproposal_decide(const struct exproposal_rules *r, const struct exproposal_evidence *ev, int64_t now)
{
	if (!r->enabled)
		return EXPROPOSAL_OFF;
	if (!r->log_followed)
		return EXPROPOSAL_NO_LOG;
	if (!ev || ev->deferrals == 0)
		return EXPROPOSAL_NO_DEFERRALS;
	/* Unsigned on purpose: a clock that went back (last, first in the
	 * future) counts as no time passed, never as a long failure. */
	uint64_t since_last = now > ev->last ? (uint64_t)(now - ev->last) : 0;
	uint64_t since_first = now > ev->first ? (uint64_t)(now - ev->first) : 0;
	if (since_last > r->window_s)
		return EXPROPOSAL_STALE;
	if (ev->deferrals < r->min_deferrals)
		return EXPROPOSAL_TOO_FEW;
	if (since_first < r->window_s || ev->first <= 0)
		return EXPROPOSAL_TOO_SOON;
	return EXPROPOSAL_APPLY;
}

static const struct {
	const char *name, *text;
} verdicts[] = {
	[EXPROPOSAL_APPLY] = {"apply", "Postfix's own deliveries have been deferred with dsn 4.7.5 long enough "
	    "to corroborate the probes"},
	[EXPROPOSAL_OFF] = {"off", "exceptions_auto = no: a person decides"},
	[EXPROPOSAL_NO_LOG] = {"no-maillog", "no maillog_file: without Postfix's log nothing corroborates the "
	    "probes, which anyone on the path can fool"},
	[EXPROPOSAL_NO_DEFERRALS] = {"no-deferrals", "Postfix's log shows no delivery deferred with dsn 4.7.5 "
	    "since the last one sent"},
	[EXPROPOSAL_STALE] = {"stale", "the latest deferral with dsn 4.7.5 is older than exceptions_auto_evidence"},
	[EXPROPOSAL_TOO_FEW] = {"too-few", "fewer deferrals with dsn 4.7.5 than exceptions_auto_deferrals"},
	[EXPROPOSAL_TOO_SOON] = {"too-soon", "Postfix has been deferring it with dsn 4.7.5 for less than "
	    "exceptions_auto_evidence"},
};

const char *
exproposal_verdict_name(enum exproposal_verdict v)
{
	return (unsigned)v < sizeof(verdicts) / sizeof(verdicts[0]) ? verdicts[v].name : "unknown";
}

const char *
exproposal_verdict_text(enum exproposal_verdict v)
{
	return (unsigned)v < sizeof(verdicts) / sizeof(verdicts[0]) ? verdicts[v].text : "unknown";
}
