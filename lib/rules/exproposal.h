/*
 * exproposal - whether an exception the probes proposed may apply by
 * itself (exceptions_auto): the decision, kept apart from the daemon's
 * wiring so that every case is tested from a table.
 *
 * Why probes alone never suffice: anyone on the path to the receiver can
 * make a probe see a certificate of their choosing, and so a dane-mismatch
 * on every MX host. Applying the proposal ("may") on that evidence would
 * let such an attacker turn DANE off for the destination: exactly the
 * downgrade DANE exists to prevent. So a proposal applies only when
 * Postfix's own log corroborates it: Postfix's deliveries to that
 * destination have been deferred with dsn 4.7.5 (TLS authentication
 * failed) for at least window_s, at least min_deferrals times, the latest
 * of them within window_s, with no delivery sent since the first. An
 * attacker must then hold the path against the real deliveries for that
 * long, while auth-failing and dane-mismatch alerts tell the administrator
 * (and the daemon still proposes, logs and lists what it would apply).
 * This raises the cost of the attack; it cannot rule it out, which is why
 * exceptions_auto stays off by default.
 *
 * Contract: pure; times are Unix seconds passed in by the caller (the
 * clock seam), never read here.
 */
#ifndef TLSPOLICY_EXPROPOSAL_H
#define TLSPOLICY_EXPROPOSAL_H

#include <stdbool.h>
#include <stdint.h>

/* What Postfix's log says about a destination: its current run of 4.7.5
 * deferrals, the ones since its last delivery sent. */
struct exproposal_evidence {
	uint64_t deferrals;	/* 0: none */
	int64_t first, last;	/* Unix seconds of the first and the latest */
};

struct exproposal_rules {
	bool enabled;		/* exceptions_auto */
	bool log_followed;	/* maillog_file is set: there is a log to ask */
	uint64_t window_s;	/* exceptions_auto_evidence */
	uint64_t min_deferrals;	/* exceptions_auto_deferrals */
};

enum exproposal_verdict {
	EXPROPOSAL_APPLY,
	EXPROPOSAL_OFF,		/* exceptions_auto = no */
	EXPROPOSAL_NO_LOG,	/* no maillog_file: nothing can corroborate */
	EXPROPOSAL_NO_DEFERRALS,	/* no 4.7.5 deferral since the last delivery */
	EXPROPOSAL_STALE,	/* the latest is older than the window */
	EXPROPOSAL_TOO_FEW,	/* fewer than min_deferrals */
	EXPROPOSAL_TOO_SOON,	/* the first is less than the window ago */
};

/* ev NULL is the same as a log that shows nothing for the destination. */
enum exproposal_verdict exproposal_decide(const struct exproposal_rules *r, const struct exproposal_evidence *ev,
    int64_t now);
/* A stable word for the log ("too-soon"), and a sentence for people. */
const char *exproposal_verdict_name(enum exproposal_verdict v);
const char *exproposal_verdict_text(enum exproposal_verdict v);

#endif
