/* stsprecedence - DANE first, then MTA-STS; see stsprecedence.h. */
#include "autoconfig.h"

#include "rules/stsprecedence.h"

/* Why an answer cannot be replaced, or NULL when a policy in mode enforce
 * would replace it. */
static const char *
dane_stands(enum stsprec_nexthop nexthop, struct policy_answer dane, bool stale)
{
	if (dane.rule == POLICY_RULE_EXCEPTION)
		return "the exception list's policy stands";
	if (stale)
		return "DNS failed: the stale secure answer stands (an MTA-STS policy never replaces it)";
	if (dane.result == POLICY_TEMP)
		return "DNS failed: TEMP stands, as RFC 8461 section 2 puts DANE first";
	if (dane.result == POLICY_NOTFOUND)
		return "DNS decided there is no policy to give (NOTFOUND): MTA-STS does not change that";
	switch (nexthop) {
	case STSPREC_NEXTHOP_DOMAIN:
	case STSPREC_NEXTHOP_DOMAIN_PORT:
		break;
	case STSPREC_NEXTHOP_HOST:
		return "a [host] next hop has no MX lookup: MTA-STS applies only to a recipient domain";
	case STSPREC_NEXTHOP_PARENT:
		return "a .parent next hop is not a recipient domain: MTA-STS does not apply";
	case STSPREC_NEXTHOP_IP_LITERAL:
		return "an IP literal next hop: MTA-STS does not apply";
	default:
		return "an unknown kind of next hop: answered as DNS decided";
	}
	switch (dane.rule) {
	case POLICY_RULE_NO_TLSA:
	case POLICY_RULE_INSECURE:
		return NULL;
	case POLICY_RULE_ALL_DANE:
	case POLICY_RULE_MIXED:
	case POLICY_RULE_ALL_ENCRYPT:
	case POLICY_RULE_INSECURE_MX_DANE:
		return "DANE answered: some host has TLSA records, and DANE comes first (RFC 8461 section 2)";
	case POLICY_RULE_FAILED_HOST:
		return "some host's lookups failed: the raised answer stands, DNS has not proved DANE absent";
	default:
		return "DNS decided: MTA-STS replaces only an answer that proves DANE absent";
	}
}

bool
stsprec_may_apply(enum stsprec_nexthop nexthop, struct policy_answer dane, bool stale)
{
	return dane_stands(nexthop, dane, stale) == NULL;
}

enum stsprec_nexthop
stsprec_nexthop_of(const struct nexthop *nh)
{
	switch (nh->kind) {
	case NEXTHOP_DOMAIN:
		return nh->port == NEXTHOP_DEFAULT_PORT ? STSPREC_NEXTHOP_DOMAIN : STSPREC_NEXTHOP_DOMAIN_PORT;
	case NEXTHOP_HOST:
		return STSPREC_NEXTHOP_HOST;
	case NEXTHOP_PARENT:
		return STSPREC_NEXTHOP_PARENT;
	case NEXTHOP_IP_LITERAL:
		break;
	}
	return STSPREC_NEXTHOP_IP_LITERAL;
}

bool
stsprec_domain_nexthop(enum stsprec_nexthop n)
{
	return n == STSPREC_NEXTHOP_DOMAIN || n == STSPREC_NEXTHOP_DOMAIN_PORT;
}

enum stsprec_sts
stsprec_sts_of(const struct stspolicy *p)
{
	if (!p)
		return STSPREC_STS_ABSENT;
	switch (stspolicy_mode(p)) {
	case STSPOLICY_MODE_ENFORCE:
		return STSPREC_STS_ENFORCE;
	case STSPOLICY_MODE_TESTING:
		return STSPREC_STS_TESTING;
	case STSPOLICY_MODE_NONE:
		break;
	}
	return STSPREC_STS_NONE;
}

enum stsprec_choice
stsprec_choose(const struct stsprec_input *in, const char **why)
{
	const char *stands = dane_stands(in->nexthop, in->dane, in->stale);

	if (stands) {
		*why = stands;
		return STSPREC_USE_DANE;
	}
	switch (in->sts) {
	case STSPREC_STS_ENFORCE:
		*why = "DNS proved DANE absent and the MTA-STS policy is in mode enforce";
		return STSPREC_USE_STS;
	case STSPREC_STS_TESTING:
		*why = "mode testing: answered as without MTA-STS";
		return STSPREC_USE_DANE;
	case STSPREC_STS_NONE:
		*why = "mode none: answered as without MTA-STS";
		return STSPREC_USE_DANE;
	case STSPREC_STS_ABSENT:
		*why = "no MTA-STS policy in force: answered as DNS decided";
		return STSPREC_USE_DANE;
	}
	*why = "an unknown MTA-STS state: answered as DNS decided";
	return STSPREC_USE_DANE;
}
