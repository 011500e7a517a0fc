/*
 * policy - the RFC 7672 decision (section 2) as a pure function from
 * DNS facts to a TLS policy. No I/O, no allocation, no clock.
 *
 * The caller (resolve.c) gathers what DNS said about a next hop into a
 * struct policy_facts; policy_decide() turns it into a struct
 * policy_answer that names the rule it applied. Which Postfix level each
 * rule yields is configuration (struct policy_levels); the level is not
 * part of the answer, so a cached answer follows a reload of the levels.
 *
 * Invariant: a DNS failure never yields a weaker policy. A failed MX lookup
 * is TEMP; a failed host is excluded, and its mere presence turns any
 * answer for the others that would not make Postfix look up TLSA records
 * itself (encrypt, may) into POLICY_RULE_FAILED_HOST (dane by default), so that
 * Postfix skips the failed host instead of sending to it in the clear;
 * when every host failed the answer is TEMP.
 */
#ifndef TLSPOLICY_POLICY_H
#define TLSPOLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A lookup's outcome as the decision needs it. */
enum policy_dns {
	POLICY_DNS_SECURE,		/* data, DNSSEC-validated */
	POLICY_DNS_INSECURE,		/* data, no DNSSEC (provably unsigned) */
	POLICY_DNS_SECURE_DENIAL,	/* NXDOMAIN or NODATA, validated */
	POLICY_DNS_INSECURE_DENIAL,	/* NXDOMAIN or NODATA, unsigned */
	POLICY_DNS_BOGUS,		/* DNSSEC validation failed */
	POLICY_DNS_SERVFAIL,		/* SERVFAIL, REFUSED, network error */
	POLICY_DNS_TIMEOUT,		/* no answer in time */
};

bool policy_dns_failed(enum policy_dns d);
bool policy_dns_denial(enum policy_dns d);
const char *policy_dns_name(enum policy_dns d);

/* What a host turned out to be (RFC 7672 sections 2.2 and 2.2.2: its
 * addresses, then its TLSA records). */
enum policy_host_verdict {
	POLICY_HOST_DANE,	/* secure, usable TLSA */
	POLICY_HOST_ENCRYPT,	/* secure TLSA, none usable for SMTP */
	POLICY_HOST_PLAIN,	/* insecure address, or no (secure) TLSA */
	POLICY_HOST_FAILED,	/* bogus, SERVFAIL or timeout on its address or TLSA */
	POLICY_HOST_NOADDR,	/* neither A nor AAAA exists: Postfix cannot use it */
};

const char *policy_host_verdict_name(enum policy_host_verdict v);

struct policy_host_facts {
	enum policy_dns a;		/* A lookup */
	enum policy_dns aaaa;		/* AAAA lookup */
	bool tlsa_looked_up;
	enum policy_dns tlsa;		/* the TLSA lookup that counted */
	unsigned tlsa_usable;		/* usable records in a secure TLSA RRset */
	unsigned tlsa_unusable;
	/* When the address records are not signed but came through a CNAME:
	 * the lookup of that CNAME at the host's own name. Signed, it makes
	 * the original name's TLSA records count (a signed MX name aliased
	 * into an unsigned provider zone). */
	bool cname_looked_up;
	enum policy_dns cname;
};

/* Steps 2-3: one host's verdict, and a static reason in *why. */
enum policy_host_verdict policy_host_verdict(const struct policy_host_facts *h, const char **why);

/* Whether the address lookups justify a TLSA lookup (both secure or
 * securely denied, at least one with data). */
bool policy_host_wants_tlsa(enum policy_dns a, enum policy_dns aaaa);
/* Whether the address lookups found addresses, none failed, and yet they
 * do not justify a TLSA lookup: unsigned somewhere. Through a CNAME, its
 * own signature then decides (policy_host_facts.cname). */
bool policy_host_insecure(enum policy_dns a, enum policy_dns aaaa);

enum policy_mx {
	POLICY_MX_HOSTS,	/* MX records naming hosts (or implicit MX on NODATA) */
	POLICY_MX_NULL,	/* RFC 7505 null MX */
	POLICY_MX_NXDOMAIN,
	POLICY_MX_FAILED,	/* bogus, SERVFAIL, timeout, unparsable */
};

#define POLICY_MAX_HOSTS 32

struct policy_facts {
	bool host_nexthop;		/* [host]:port: no MX lookup */
	bool ip_literal;		/* [192.0.2.1]: no DANE possible */
	bool parent_form;		/* .example.org: Postfix's parent lookup */
	enum policy_mx mx;
	enum policy_dns mx_dns;		/* the MX lookup, for its security */
	unsigned nhosts;
	enum policy_host_verdict hosts[POLICY_MAX_HOSTS];
};

/* The rule that chose the answer: stable names for logs and explain. */
enum policy_rule {
	POLICY_RULE_ALL_DANE,		/* secure MX, every usable host dane */
	POLICY_RULE_MIXED,		/* secure MX, hosts mixed */
	POLICY_RULE_ALL_ENCRYPT,	/* secure MX, every usable host encrypt */
	POLICY_RULE_NO_TLSA,		/* secure MX, no host has TLSA */
	POLICY_RULE_INSECURE_MX_DANE,	/* insecure MX, some host dane */
	POLICY_RULE_INSECURE,		/* insecure MX, no host dane */
	POLICY_RULE_FAILED_HOST,	/* some hosts failed: raised to the failed-host floor */
	POLICY_RULE_ALL_FAILED,	/* TEMP: every host failed */
	POLICY_RULE_MX_FAILED,		/* TEMP: the MX lookup failed */
	POLICY_RULE_NXDOMAIN,		/* NOTFOUND */
	POLICY_RULE_NULL_MX,		/* NOTFOUND */
	POLICY_RULE_NO_ADDRESS,	/* NOTFOUND: no host has an address */
	POLICY_RULE_IP_LITERAL,	/* NOTFOUND */
	POLICY_RULE_PARENT_FORM,	/* NOTFOUND */
	POLICY_RULE_EXCEPTION,		/* OK: the exception list's policy, not a level */
	POLICY_RULE_TRUST_CHECK,	/* TEMP: the resolver is not known to validate (trustcheck.h) */
	POLICY_RULE_COUNT
};

const char *policy_rule_name(enum policy_rule r);
/* The rule of a name policy_rule_name() gives, or -1. */
int policy_rule_from_name(const char *name);
/* One sentence on what the rule means, for `tlspolicy explain`. */
const char *policy_rule_text(enum policy_rule r);

enum policy_result {
	POLICY_OK,
	POLICY_NOTFOUND,
	POLICY_TEMP,
};

/* "ok", "notfound", "temp"; and back (-1 for anything else). */
const char *policy_result_name(enum policy_result r);
int policy_result_from_name(const char *name);

struct policy_answer {
	enum policy_result result;
	enum policy_rule rule;
	/* POLICY_TEMP only: DNSSEC validation failed (the MX lookup, or a
	 * lookup of every failed host was bogus), so retrying will not help
	 * until the receiver fixes its zone. policy_decide() leaves it false;
	 * resolve.c, which sees each lookup, sets it. */
	bool bogus;
};

/* Postfix levels for each rule that yields OK (indexes: enum policy_rule). */
struct policy_levels {
	const char *level[POLICY_RULE_FAILED_HOST + 1];
};

/* The default level of each rule (tlspolicyd.conf(5), level_*), as strings
 * for the configuration table. */
const char *policy_default_level(enum policy_rule r);

struct policy_answer policy_decide(const struct policy_facts *f);
/* Whether some host failed its lookups: an answer decided beside a
 * failure is only as good as the next lookup, and is kept as briefly as
 * a TEMP. */
bool policy_some_host_failed(const struct policy_facts *f);
/* Whether the daemon can give this answer: a result with a rule that
 * yields it (POLICY_RULE_EXCEPTION: OK, with the exception's policy), bogus only
 * on TEMP. What comes back from a state file is checked with it, since an
 * OK answer without a level would have nothing to tell Postfix. A
 * POLICY_RULE_TRUST_CHECK answer is never cached, so never stored: false. */
bool policy_answer_possible(struct policy_answer a);

/* The level a POLICY_OK answer maps to under the given levels. */
const char *policy_level(const struct policy_levels *levels, struct policy_answer a);

/* Checks a Postfix TLS policy table value: a level (none, may, encrypt,
 * dane, dane-only, fingerprint, verify, secure) and attributes known to
 * Postfix (name=value). Returns false with a static reason in *why. */
bool policy_level_valid(const char *value, const char **why);

/* The level of a policy table value: its first word ("dane-only" of
 * "dane-only protocols=>=TLSv1.2"), in dst. */
void policy_level_word(const char *value, char *dst, size_t size);
/* Whether a policy table value makes Postfix look up and enforce TLSA
 * records itself: its level is dane or dane-only. */
bool policy_level_is_dane(const char *value);
/* Levels at which Postfix authenticates every host it delivers to:
 * dane-only, verify, secure, fingerprint. Not dane: there Postfix uses
 * unauthenticated TLS, or none, for hosts without usable TLSA records. */
bool policy_level_all_authenticated(const char *level);

#endif
