/*
 * checklist - what `tlspolicy selfcheck` found about one domain: a list of
 * findings, each a stable code (the check's name, "tlsa-mismatch"), a
 * severity, where (an MX host, one of its addresses, either may be
 * absent), the evidence and the fix in words an operator can act on.
 *
 * Severities: ok (the check passed), warn (mail flows, but less safely
 * than it could or not for long), fail (senders that do DANE defer or
 * bounce mail now). A checklist may also be unchecked: the domain could
 * not be looked at (its MX lookup failed, it has none), with the reason.
 *
 * The exit status of a run is the worst over its checklists
 * (checklist_status): 0 every check passed, 1 something warned and
 * nothing failed, 2 something failed, 3 some domain could not be checked.
 *
 * Ownership: the checklist owns copies of every string given to it, made
 * printable ASCII (other bytes become '?'); checklist_free() releases
 * them. Codes must be static strings.
 */
#ifndef TLSPOLICY_CHECKLIST_H
#define TLSPOLICY_CHECKLIST_H

#include <stdbool.h>
#include <stddef.h>

enum checklist_severity { CHECKLIST_OK, CHECKLIST_WARN, CHECKLIST_FAIL };

enum {
	CHECKLIST_EXIT_PASSED = 0,
	CHECKLIST_EXIT_WARNED = 1,
	CHECKLIST_EXIT_FAILED = 2,
	CHECKLIST_EXIT_UNCHECKED = 3,
};

struct checklist_finding {
	const char *code;		/* static */
	enum checklist_severity severity;
	char *host;			/* NULL: the domain as a whole */
	char *address;			/* NULL: the host as a whole */
	char *detail;
	char *fix;			/* NULL for ok findings */
};

struct checklist {
	char *domain;
	char *unchecked;		/* why it could not be checked, or NULL */
	size_t n, cap;
	struct checklist_finding *findings;	/* in the order found */
};

/* "ok", "warn", "fail". */
const char *checklist_severity_name(enum checklist_severity s);

/* 0, or -1 when out of memory. */
int checklist_init(struct checklist *c, const char *domain);
void checklist_free(struct checklist *c);

/* Adds a finding; host, address and fix may be NULL. 0, or -1 when out of
 * memory (the list is unchanged). */
int checklist_add(struct checklist *c, const char *code, enum checklist_severity severity,
    const char *host, const char *address, const char *detail, const char *fix);
/* Marks the domain as not checked, for the reason given. 0 or -1. */
int checklist_set_unchecked(struct checklist *c, const char *why);

/* Whether a finding with this code and a severity of at least warn is in
 * the list. */
bool checklist_has_problem(const struct checklist *c, const char *code);
/* Findings of a severity. */
size_t checklist_count(const struct checklist *c, enum checklist_severity s);

/* This checklist's exit status (CHECKLIST_EXIT_*); a run exits with the
 * largest over its domains. */
int checklist_status(const struct checklist *c);

#endif
