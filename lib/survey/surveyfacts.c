/* surveyfacts - the summary's numbers in words; see surveyfacts.h. */
#include "autoconfig.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "survey/surveyfacts.h"

#define FACT(field, label, meaning, share) {#field, label, meaning, offsetof(struct surveysum_result, field), share}
const struct surveyfacts_fact surveyfacts_table[SURVEYFACTS_COUNT] = {
	FACT(domains, "domains", "distinct domains; a domain listed more than once counts with its last line", true),
	FACT(with_mx, "with MX hosts", "MX records naming hosts, or an implicit MX", true),
	FACT(null_mx, "null MX", "a null MX record (RFC 7505): the domain accepts no mail", true),
	FACT(nxdomain, "NXDOMAIN", "the domain does not exist", true),
	FACT(mx_failed, "MX lookup failed", "the MX lookup failed (bogus, SERVFAIL, timeout)", true),
	FACT(dns_failures, "DNS failures (TEMP)", "the daemon's answer is TEMP: Postfix would defer the mail", true),
	FACT(signed_mx, "signed MX", "MX records naming hosts, validated by DNSSEC", true),
	FACT(all_dane, "DANE on every MX host",
	    "rule all-hosts-dane: signed MX, every usable MX host with usable TLSA records", true),
	FACT(tlsa_mismatch, "TLSA mismatches", "some MX address's certificate matched none of its usable TLSA records", true),
	FACT(mx_hosts, "MX host names", "distinct MX host names", false),
	FACT(mx_addresses, "MX hosts (host, address, port)", "distinct (MX host name, address, port)", false),
	FACT(providers, "MX providers", "distinct registrable domains of the MX host names (Public Suffix List)", false),
};

uint64_t
surveyfacts_value(const struct surveysum_result *r, const struct surveyfacts_fact *f)
{
	uint64_t v;

	memcpy(&v, (const char *)r + f->off, sizeof(v));
	return v;
}

const char *
surveyfacts_share(char out[16], uint64_t n, uint64_t whole)
{
	if (!whole)
		snprintf(out, 16, "-");
	else
		snprintf(out, 16, "%.1f%%", 100.0 * (double)n / (double)whole);
	return out;
}

const char *
surveyfacts_time(char out[32], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(out, 32, "%" PRId64, t);
	return out;
}
