/* surveyclass - the classes of a survey; see surveyclass.h. */
#include "autoconfig.h"

#include "probe/probe.h"
#include "survey/surveyclass.h"

_Static_assert(SURVEYCLASS_PLAINTEXT == (int)PROBE_PLAINTEXT && SURVEYCLASS_TLS_FAILED == (int)PROBE_TLS_FAILED &&
    SURVEYCLASS_ANONYMOUS == (int)PROBE_ANONYMOUS && SURVEYCLASS_UNTRUSTED == (int)PROBE_UNTRUSTED &&
    SURVEYCLASS_TRUSTED == (int)PROBE_TRUSTED && SURVEYCLASS_VERIFIED == (int)PROBE_VERIFIED &&
    SURVEYCLASS_DANE_VERIFIED == (int)PROBE_DANE_VERIFIED && SURVEYCLASS_DANE_MISMATCH == (int)PROBE_DANE_MISMATCH &&
    SURVEYCLASS_UNREACHABLE == (int)PROBE_UNREACHABLE && SURVEYCLASS_REFUSED == (int)PROBE_CLASS_COUNT,
    "the first classes of a survey are the prober's");

const enum surveyclass surveyclass_domain_order[SURVEYCLASS_DOMAIN_CLASSES] = {
	SURVEYCLASS_DANE_VERIFIED, SURVEYCLASS_VERIFIED, SURVEYCLASS_TRUSTED, SURVEYCLASS_UNTRUSTED,
	SURVEYCLASS_ANONYMOUS, SURVEYCLASS_DANE_MISMATCH, SURVEYCLASS_TLS_FAILED, SURVEYCLASS_PLAINTEXT,
	SURVEYCLASS_UNREACHABLE, SURVEYCLASS_NONE,
};

const enum surveyclass surveyclass_address_order[SURVEYCLASS_ADDRESS_CLASSES] = {
	SURVEYCLASS_DANE_VERIFIED, SURVEYCLASS_VERIFIED, SURVEYCLASS_TRUSTED, SURVEYCLASS_UNTRUSTED,
	SURVEYCLASS_ANONYMOUS, SURVEYCLASS_DANE_MISMATCH, SURVEYCLASS_TLS_FAILED, SURVEYCLASS_PLAINTEXT,
	SURVEYCLASS_UNREACHABLE, SURVEYCLASS_REFUSED, SURVEYCLASS_SKIPPED,
};

const char *
surveyclass_name(enum surveyclass c)
{
	if ((unsigned)c < PROBE_CLASS_COUNT)
		return probe_class_name((enum probe_class)c);
	switch (c) {
	case SURVEYCLASS_REFUSED: return "refused";
	case SURVEYCLASS_SKIPPED: return "skipped";
	case SURVEYCLASS_NONE: return "none";
	default: return "unknown";
	}
}

const char *
surveyclass_label(enum surveyclass c)
{
	switch (c) {
	case SURVEYCLASS_ANONYMOUS: return "Anonymous";
	case SURVEYCLASS_UNTRUSTED: return "Untrusted";
	case SURVEYCLASS_TRUSTED: return "Trusted";
	case SURVEYCLASS_VERIFIED: return "Verified";
	default: return surveyclass_name(c);
	}
}

int
surveyclass_for_domain(enum surveyclass c)
{
	return (unsigned)c < SURVEYCLASS_COUNT && c != SURVEYCLASS_REFUSED && c != SURVEYCLASS_SKIPPED;
}

int
surveyclass_for_address(enum surveyclass c)
{
	return (unsigned)c < SURVEYCLASS_COUNT && c != SURVEYCLASS_NONE;
}
