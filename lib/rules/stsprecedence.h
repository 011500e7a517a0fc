/*
 * stsprecedence - which answer a destination gets when DNS has decided
 * and an MTA-STS policy may exist: DANE first (RFC 8461 section 2).
 * Pure: no I/O, no allocation, no clock.
 *
 * One rule: an answer from the exception list stands; then any answer
 * DANE produces stands (dane-only, dane, encrypt; TEMP or the stale
 * secure answer for a DNS failure; NOTFOUND); an STS policy in mode
 * enforce replaces the answer only where DNS proved DANE absent
 * (POLICY_RULE_NO_TLSA: secure MX, securely no TLSA; POLICY_RULE_INSECURE:
 * insecure MX or hosts, no DANE host), and only for next hops that are
 * a recipient domain (example.org, example.org:port). Modes testing and
 * none are answered as without STS; so is a next hop [host], .parent or
 * an IP literal.
 */
#ifndef TLSPOLICY_STSPRECEDENCE_H
#define TLSPOLICY_STSPRECEDENCE_H

#include <stdbool.h>

#include "postfix/nexthop.h"
#include "rules/policy.h"
#include "rules/stspolicy.h"

enum stsprec_nexthop {
	STSPREC_NEXTHOP_DOMAIN,		/* example.org */
	STSPREC_NEXTHOP_DOMAIN_PORT,	/* example.org:port: MX lookup, another port */
	STSPREC_NEXTHOP_HOST,		/* [host] or [host]:port: no MX lookup */
	STSPREC_NEXTHOP_PARENT,		/* .example.org: Postfix's parent lookup */
	STSPREC_NEXTHOP_IP_LITERAL,	/* [192.0.2.1] */
};

enum stsprec_sts {
	STSPREC_STS_ABSENT,	/* no policy in force: none published, none fetched yet, or expired */
	STSPREC_STS_ENFORCE,
	STSPREC_STS_TESTING,
	STSPREC_STS_NONE,	/* mode none */
};

struct stsprec_input {
	enum stsprec_nexthop nexthop;
	struct policy_answer dane;	/* the DNS decision's answer, or the exception's */
	bool stale;			/* dane is the stale secure answer given for a DNS failure */
	enum stsprec_sts sts;
};

enum stsprec_choice {
	STSPREC_USE_DANE,	/* answer as DNS (or the exception list) decided */
	STSPREC_USE_STS,	/* answer "secure match=... servername=hostname" */
};

/* How MTA-STS sees a next hop (a domain with another port is still one);
 * whether it is a recipient domain, the only kind a policy can apply to;
 * and the state a policy in force (NULL: none) puts it in. */
enum stsprec_nexthop stsprec_nexthop_of(const struct nexthop *nh);
bool stsprec_domain_nexthop(enum stsprec_nexthop n);
enum stsprec_sts stsprec_sts_of(const struct stspolicy *p);

/* The choice, and in *why a static sentence for logs and `tlspolicy
 * explain` ("DANE answered: secure MX, every usable host dane", "mode
 * testing: answered as without MTA-STS", ...). */
enum stsprec_choice stsprec_choose(const struct stsprec_input *in, const char **why);

/* Whether a policy could change this answer at all: the policy map looks
 * one up (and on a first lookup waits for it) only then. */
bool stsprec_may_apply(enum stsprec_nexthop nexthop, struct policy_answer dane, bool stale);

#endif
