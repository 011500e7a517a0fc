/* policy - the RFC 7672 decision; see policy.h for the contract. */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "rules/policy.h"

bool
policy_dns_failed(enum policy_dns d)
{
	return d == POLICY_DNS_BOGUS || d == POLICY_DNS_SERVFAIL || d == POLICY_DNS_TIMEOUT;
}

bool
policy_dns_denial(enum policy_dns d)
{
	return d == POLICY_DNS_SECURE_DENIAL || d == POLICY_DNS_INSECURE_DENIAL;
}

const char *
policy_dns_name(enum policy_dns d)
{
	switch (d) {
	case POLICY_DNS_SECURE: return "secure";
	case POLICY_DNS_INSECURE: return "insecure";
	case POLICY_DNS_SECURE_DENIAL: return "secure-denial";
	case POLICY_DNS_INSECURE_DENIAL: return "insecure-denial";
	case POLICY_DNS_BOGUS: return "bogus";
	case POLICY_DNS_SERVFAIL: return "servfail";
	case POLICY_DNS_TIMEOUT: return "timeout";
	}
	return "unknown";
}

const char *
policy_host_verdict_name(enum policy_host_verdict v)
{
	switch (v) {
	case POLICY_HOST_DANE: return "dane";
	case POLICY_HOST_ENCRYPT: return "encrypt";
	case POLICY_HOST_PLAIN: return "plain";
	case POLICY_HOST_FAILED: return "failed";
	case POLICY_HOST_NOADDR: return "no-address";
	}
	return "unknown";
}

static bool
is_secure(enum policy_dns d)
{
	return d == POLICY_DNS_SECURE || d == POLICY_DNS_SECURE_DENIAL;
}

bool
policy_host_wants_tlsa(enum policy_dns a, enum policy_dns aaaa)
{
	return is_secure(a) && is_secure(aaaa) && (a == POLICY_DNS_SECURE || aaaa == POLICY_DNS_SECURE);
}

bool
policy_host_insecure(enum policy_dns a, enum policy_dns aaaa)
{
	return !policy_dns_failed(a) && !policy_dns_failed(aaaa) &&
	    !(policy_dns_denial(a) && policy_dns_denial(aaaa)) && !policy_host_wants_tlsa(a, aaaa);
}

enum policy_host_verdict
policy_host_verdict(const struct policy_host_facts *h, const char **why)
{
	if (policy_dns_failed(h->a) || policy_dns_failed(h->aaaa)) {
		*why = "address lookup failed";
		return POLICY_HOST_FAILED;
	}
	if (policy_dns_denial(h->a) && policy_dns_denial(h->aaaa)) {
		*why = "no A or AAAA records";
		return POLICY_HOST_NOADDR;
	}
	if (!policy_host_wants_tlsa(h->a, h->aaaa)) {
		if (!h->cname_looked_up) {
			*why = "address records not DNSSEC-signed";
			return POLICY_HOST_PLAIN;
		}
		/* As Postfix: whether the alias is signed is unknown, so the
		 * TLSA records that might apply cannot be looked up. */
		if (policy_dns_failed(h->cname) || policy_dns_denial(h->cname)) {
			*why = "CNAME lookup failed";
			return POLICY_HOST_FAILED;
		}
		if (h->cname != POLICY_DNS_SECURE) {
			*why = "address records and CNAME not DNSSEC-signed";
			return POLICY_HOST_PLAIN;
		}
	}
	if (!h->tlsa_looked_up) {
		/* Only a caller bug gets here; refusing the host is the safe side. */
		*why = "TLSA not looked up";
		return POLICY_HOST_FAILED;
	}
	switch (h->tlsa) {
	case POLICY_DNS_BOGUS:
	case POLICY_DNS_SERVFAIL:
	case POLICY_DNS_TIMEOUT:
		*why = "TLSA lookup failed";
		return POLICY_HOST_FAILED;
	case POLICY_DNS_SECURE_DENIAL:
		*why = "no TLSA records (secure denial)";
		return POLICY_HOST_PLAIN;
	case POLICY_DNS_INSECURE:
	case POLICY_DNS_INSECURE_DENIAL:
		*why = "TLSA records not DNSSEC-signed";
		return POLICY_HOST_PLAIN;
	case POLICY_DNS_SECURE:
		break;
	}
	if (h->tlsa_usable > 0) {
		*why = "usable TLSA records";
		return POLICY_HOST_DANE;
	}
	*why = "TLSA records, none usable for SMTP";
	return POLICY_HOST_ENCRYPT;
}

static const char *const rule_names[POLICY_RULE_COUNT] = {
	[POLICY_RULE_ALL_DANE] = "all-hosts-dane",
	[POLICY_RULE_MIXED] = "hosts-mixed",
	[POLICY_RULE_ALL_ENCRYPT] = "all-hosts-encrypt",
	[POLICY_RULE_NO_TLSA] = "no-tlsa",
	[POLICY_RULE_INSECURE_MX_DANE] = "insecure-mx-dane-host",
	[POLICY_RULE_INSECURE] = "insecure",
	[POLICY_RULE_FAILED_HOST] = "failed-host",
	[POLICY_RULE_ALL_FAILED] = "all-hosts-failed",
	[POLICY_RULE_MX_FAILED] = "mx-lookup-failed",
	[POLICY_RULE_NXDOMAIN] = "nxdomain",
	[POLICY_RULE_NULL_MX] = "null-mx",
	[POLICY_RULE_NO_ADDRESS] = "no-address",
	[POLICY_RULE_IP_LITERAL] = "ip-literal",
	[POLICY_RULE_PARENT_FORM] = "parent-domain-form",
	[POLICY_RULE_EXCEPTION] = "exception",
	[POLICY_RULE_TRUST_CHECK] = "trust-check",
};

const char *
policy_rule_name(enum policy_rule r)
{
	return (unsigned)r < POLICY_RULE_COUNT ? rule_names[r] : "unknown";
}

int
policy_rule_from_name(const char *name)
{
	for (int r = 0; r < POLICY_RULE_COUNT; r++)
		if (strcmp(rule_names[r], name) == 0)
			return r;
	return -1;
}

static const char *const result_names[] = {
	[POLICY_OK] = "ok", [POLICY_NOTFOUND] = "notfound", [POLICY_TEMP] = "temp",
};

const char *
policy_result_name(enum policy_result r)
{
	return (unsigned)r < sizeof(result_names) / sizeof(result_names[0]) ? result_names[r] : "unknown";
}

int
policy_result_from_name(const char *name)
{
	for (size_t r = 0; r < sizeof(result_names) / sizeof(result_names[0]); r++)
		if (strcmp(result_names[r], name) == 0)
			return (int)r;
	return -1;
}

static const char *const rule_texts[POLICY_RULE_COUNT] = {
	[POLICY_RULE_ALL_DANE] = "the MX records are DNSSEC-signed and every usable MX host has usable TLSA records",
	[POLICY_RULE_MIXED] = "the MX records are DNSSEC-signed and the MX hosts differ: Postfix enforces DANE per host",
	[POLICY_RULE_ALL_ENCRYPT] = "the MX records are DNSSEC-signed and every usable MX host has TLSA records, none usable for SMTP",
	[POLICY_RULE_NO_TLSA] = "the MX records are DNSSEC-signed but no MX host has TLSA records",
	[POLICY_RULE_INSECURE_MX_DANE] = "the MX records are not signed, but some MX host has signed, usable TLSA records",
	[POLICY_RULE_INSECURE] = "the MX records are not signed and no MX host has signed, usable TLSA records",
	[POLICY_RULE_FAILED_HOST] = "some MX hosts failed DNS lookups: Postfix must look up TLSA itself so that it skips them",
	[POLICY_RULE_ALL_FAILED] = "every MX host failed DNS lookups: defer, never downgrade",
	[POLICY_RULE_MX_FAILED] = "the MX lookup failed: defer, never downgrade",
	[POLICY_RULE_NXDOMAIN] = "the domain does not exist",
	[POLICY_RULE_NULL_MX] = "the domain publishes a null MX (RFC 7505): it accepts no mail",
	[POLICY_RULE_NO_ADDRESS] = "no MX host has an address",
	[POLICY_RULE_IP_LITERAL] = "an IP address needs no DNS and allows no DANE",
	[POLICY_RULE_PARENT_FORM] = "Postfix's parent-domain lookup: subdomains are answered when asked for themselves",
	[POLICY_RULE_EXCEPTION] = "the exception list names this destination, or one of its MX hosts",
	[POLICY_RULE_TRUST_CHECK] = "the daemon's resolver has not shown that it validates DNSSEC (trust_check_name): "
	    "defer, never downgrade",
};

const char *
policy_rule_text(enum policy_rule r)
{
	return (unsigned)r < POLICY_RULE_COUNT ? rule_texts[r] : "unknown rule";
}

const char *
policy_default_level(enum policy_rule r)
{
	switch (r) {
	case POLICY_RULE_ALL_DANE: return "dane-only";
	case POLICY_RULE_MIXED: return "dane";
	case POLICY_RULE_ALL_ENCRYPT: return "encrypt";
	case POLICY_RULE_NO_TLSA: return "may";
	case POLICY_RULE_INSECURE_MX_DANE: return "dane";
	case POLICY_RULE_INSECURE: return "may";
	case POLICY_RULE_FAILED_HOST: return "dane";
	default: return NULL;
	}
}

static struct policy_answer
answer(enum policy_result result, enum policy_rule rule)
{
	struct policy_answer a = {.result = result, .rule = rule};
	return a;
}

static struct policy_answer
decide_hosts(const struct policy_facts *f)
{
	unsigned dane = 0, encrypt = 0, plain = 0, failed = 0;

	for (unsigned i = 0; i < f->nhosts && i < POLICY_MAX_HOSTS; i++) {
		switch (f->hosts[i]) {
		case POLICY_HOST_DANE: dane++; break;
		case POLICY_HOST_ENCRYPT: encrypt++; break;
		case POLICY_HOST_PLAIN: plain++; break;
		case POLICY_HOST_FAILED: failed++; break;
		case POLICY_HOST_NOADDR: break;
		}
	}
	unsigned usable = dane + encrypt + plain;
	if (usable == 0)
		return failed ? answer(POLICY_TEMP, POLICY_RULE_ALL_FAILED) : answer(POLICY_NOTFOUND, POLICY_RULE_NO_ADDRESS);

	enum policy_rule rule;
	/* A host next hop has no MX RRset: its own records decide. */
	bool secure_mx = f->host_nexthop || f->mx_dns == POLICY_DNS_SECURE || f->mx_dns == POLICY_DNS_SECURE_DENIAL;
	if (secure_mx) {
		if (dane == usable)
			rule = POLICY_RULE_ALL_DANE;
		else if (encrypt == usable)
			rule = POLICY_RULE_ALL_ENCRYPT;
		else if (plain == usable)
			rule = POLICY_RULE_NO_TLSA;
		else
			rule = POLICY_RULE_MIXED;
	} else {
		rule = dane ? POLICY_RULE_INSECURE_MX_DANE : POLICY_RULE_INSECURE;
	}
	if (failed && rule != POLICY_RULE_ALL_DANE && rule != POLICY_RULE_MIXED && rule != POLICY_RULE_INSECURE_MX_DANE)
		rule = POLICY_RULE_FAILED_HOST;
	return answer(POLICY_OK, rule);
}

struct policy_answer
policy_decide(const struct policy_facts *f)
{
	if (f->ip_literal)
		return answer(POLICY_NOTFOUND, POLICY_RULE_IP_LITERAL);
	if (f->parent_form)
		return answer(POLICY_NOTFOUND, POLICY_RULE_PARENT_FORM);
	if (!f->host_nexthop) {
		switch (f->mx) {
		case POLICY_MX_FAILED: return answer(POLICY_TEMP, POLICY_RULE_MX_FAILED);
		case POLICY_MX_NXDOMAIN: return answer(POLICY_NOTFOUND, POLICY_RULE_NXDOMAIN);
		case POLICY_MX_NULL: return answer(POLICY_NOTFOUND, POLICY_RULE_NULL_MX);
		case POLICY_MX_HOSTS: break;
		}
	}
	return decide_hosts(f);
}

bool
policy_some_host_failed(const struct policy_facts *f)
{
	for (unsigned i = 0; i < f->nhosts && i < POLICY_MAX_HOSTS; i++)
		if (f->hosts[i] == POLICY_HOST_FAILED)
			return true;
	return false;
}

bool
policy_answer_possible(struct policy_answer a)
{
	if (a.bogus && a.result != POLICY_TEMP)
		return false;
	switch (a.result) {
	case POLICY_OK:
		return (unsigned)a.rule <= POLICY_RULE_FAILED_HOST || a.rule == POLICY_RULE_EXCEPTION;
	case POLICY_TEMP:
		return a.rule == POLICY_RULE_ALL_FAILED || a.rule == POLICY_RULE_MX_FAILED;
	case POLICY_NOTFOUND:
		return a.rule >= POLICY_RULE_NXDOMAIN && a.rule <= POLICY_RULE_PARENT_FORM;
	}
	return false;
}

const char *
policy_level(const struct policy_levels *levels, struct policy_answer a)
{
	if (a.result != POLICY_OK || (unsigned)a.rule > POLICY_RULE_FAILED_HOST)
		return NULL;
	return levels->level[a.rule];
}

/* Postfix's TLS policy table: levels and the attributes it documents. */
static const char *const levels_known[] = {
	"none", "may", "encrypt", "dane", "dane-only", "fingerprint", "verify", "secure",
};
static const char *const attributes_known[] = {
	"ciphers", "protocols", "exclude", "match", "tafile", "connection_reuse",
	"enable_rpk", "servername",
};

static bool
in_list(const char *word, size_t len, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == len && memcmp(word, list[i], len) == 0)
			return true;
	return false;
}

bool
policy_level_valid(const char *value, const char **why)
{
	const char *p = value;
	bool first = true;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		const char *word = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		size_t len = (size_t)(p - word);
		for (size_t i = 0; i < len; i++) {
			/* The socketmap reply is one line of printable text. */
			if ((unsigned char)word[i] < 0x21 || (unsigned char)word[i] > 0x7e) {
				*why = "control or non-ASCII character in policy";
				return false;
			}
		}
		if (first) {
			if (!in_list(word, len, levels_known, sizeof(levels_known) / sizeof(*levels_known))) {
				*why = "unknown TLS security level (none, may, encrypt, dane, dane-only, fingerprint, verify, secure)";
				return false;
			}
			first = false;
			continue;
		}
		const char *eq = memchr(word, '=', len);
		if (!eq || eq == word || eq == word + len - 1) {
			*why = "policy attribute is not name=value";
			return false;
		}
		if (!in_list(word, (size_t)(eq - word), attributes_known,
		    sizeof(attributes_known) / sizeof(*attributes_known))) {
			*why = "unknown policy attribute (ciphers, protocols, exclude, match, tafile, connection_reuse, enable_rpk, servername)";
			return false;
		}
	}
	if (first) {
		*why = "empty policy";
		return false;
	}
	return true;
}

void
policy_level_word(const char *value, char *dst, size_t size)
{
	size_t n = strcspn(value, " \t");

	snprintf(dst, size, "%.*s", (int)n, value);
}

bool
policy_level_is_dane(const char *value)
{
	char level[16];

	policy_level_word(value, level, sizeof(level));
	return strcmp(level, "dane") == 0 || strcmp(level, "dane-only") == 0;
}

bool
policy_level_all_authenticated(const char *level)
{
	static const char *const levels[] = {"dane-only", "verify", "secure", "fingerprint"};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcmp(level, levels[i]) == 0)
			return true;
	return false;
}
