/* status - the status map's reply; see status.h. */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "util/kv.h"
#include "serve/status.h"

static const char *const failures[] = {
	[STATUS_FAILURE_NONE] = "none",
	[STATUS_FAILURE_TLSA_MISMATCH] = "tlsa-mismatch",
	[STATUS_FAILURE_DNSSEC_BOGUS] = "dnssec-bogus",
};

const char *
status_failure_name(enum status_failure f)
{
	return (unsigned)f < sizeof(failures) / sizeof(failures[0]) ? failures[f] : "none";
}

int
status_format(const struct status *s, struct buf *out)
{
	int rc = kv_str(out, "result", policy_result_name(s->result));

	if (s->result == POLICY_OK)
		rc |= kv_str(out, "policy", s->policy);
	rc |= kv_str(out, "rule", s->rule);
	rc |= kv_str(out, "failure", status_failure_name(s->failure));
	rc |= kv_str(out, "cache", s->cache);
	rc |= kv_str(out, "reason", s->reason);
	return rc ? -1 : 0;
}

struct parsing {
	struct status *out;
	bool have_result, have_policy, have_failure;
	const char *why;
};

static int
lookup(const char *const *names, size_t n, const char *value)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], value) == 0)
			return (int)i;
	return -1;
}

static void
copy(char *dst, size_t size, const char *value)
{
	snprintf(dst, size, "%s", value);
}

static void
on_field(void *arg, const char *key, const char *value)
{
	struct parsing *p = arg;
	int i;

	if (strcmp(key, "result") == 0) {
		if ((i = policy_result_from_name(value)) < 0)
			p->why = "unknown result";
		else
			p->out->result = (enum policy_result)i, p->have_result = true;
	} else if (strcmp(key, "failure") == 0) {
		if ((i = lookup(failures, sizeof(failures) / sizeof(failures[0]), value)) < 0)
			p->why = "unknown failure";
		else
			p->out->failure = (enum status_failure)i, p->have_failure = true;
	} else if (strcmp(key, "policy") == 0) {
		copy(p->out->policy, sizeof(p->out->policy), value);
		p->have_policy = value[0] != '\0';
	} else if (strcmp(key, "rule") == 0) {
		copy(p->out->rule, sizeof(p->out->rule), value);
	} else if (strcmp(key, "cache") == 0) {
		copy(p->out->cache, sizeof(p->out->cache), value);
	} else if (strcmp(key, "reason") == 0) {
		copy(p->out->reason, sizeof(p->out->reason), value);
	}
}

int
status_parse(const char *text, size_t len, struct status *out, const char **why)
{
	struct parsing p = {.out = out};

	memset(out, 0, sizeof(*out));
	if (kv_parse(text, len, on_field, &p) < 0)
		p.why = p.why ? p.why : "not key=value fields";
	if (!p.why && !p.have_result)
		p.why = "no result";
	if (!p.why && !p.have_failure)
		p.why = "no failure";
	if (!p.why && out->result == POLICY_OK && !p.have_policy)
		p.why = "result=ok without a policy";
	if (p.why) {
		*why = p.why;
		return -1;
	}
	if (out->result != POLICY_OK)
		out->policy[0] = '\0';	/* only an OK answer has one */
	return 0;
}
