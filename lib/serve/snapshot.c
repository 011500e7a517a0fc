/* snapshot - cache entries as state-file lines; see snapshot.h. */
#include "autoconfig.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/kv.h"
#include "serve/snapshot.h"

static const char *const stores[] = {[SNAPSHOT_ANSWERS] = "answers", [SNAPSHOT_SECURE] = "secure"};

int
snapshot_format(struct buf *out, const struct snapshot_entry *e)
{
	char num[24];
	int rc = 0;

	rc |= kv_str(out, "store", stores[e->store]);
	rc |= kv_str(out, "key", e->key);
	rc |= kv_str(out, "result", policy_result_name(e->answer.result));
	rc |= kv_str(out, "rule", policy_rule_name(e->answer.rule));
	rc |= kv_str(out, "bogus", e->answer.bogus ? "yes" : "no");
	if (e->has_policy)
		rc |= kv_str(out, "policy", e->policy);
	rc |= kv_str(out, "reason", e->reason);
	snprintf(num, sizeof(num), "%" PRId64, e->stored);
	rc |= kv_str(out, "stored", num);
	snprintf(num, sizeof(num), "%" PRId64, e->expires);
	rc |= kv_str(out, "expires", num);
	rc |= buf_putc(out, '\n');
	return rc ? -1 : 0;
}

enum { F_STORE = 1, F_KEY = 2, F_RESULT = 4, F_RULE = 8, F_BOGUS = 16, F_STORED = 32, F_EXPIRES = 64 };
#define F_ALL 127

struct parsing {
	struct snapshot_entry *e;
	unsigned seen;
	bool bad;
};

static bool
copy(char *dst, size_t size, const char *value)
{
	return (size_t)snprintf(dst, size, "%s", value) < size;
}

/* The reason, cut to fit (only people read it) and kept to printable
 * ASCII: it goes into TEMP replies, which Postfix logs, and into ours. */
static void
printable(char *dst, size_t size, const char *value)
{
	size_t i = 0;

	for (; value[i] && i + 1 < size; i++)
		dst[i] = (unsigned char)value[i] >= 0x20 && (unsigned char)value[i] < 0x7f ? value[i] : '?';
	dst[i] = '\0';
}

static bool
number(const char *value, int64_t *out)
{
	uint64_t v;

	if (!kv_number(value, INT64_MAX, &v))
		return false;
	*out = (int64_t)v;
	return true;
}

static void
on_field(void *arg, const char *key, const char *value)
{
	struct parsing *p = arg;
	struct snapshot_entry *e = p->e;
	int i;

	if (strcmp(key, "store") == 0) {
		if (strcmp(value, stores[SNAPSHOT_ANSWERS]) == 0)
			e->store = SNAPSHOT_ANSWERS;
		else if (strcmp(value, stores[SNAPSHOT_SECURE]) == 0)
			e->store = SNAPSHOT_SECURE;
		else
			p->bad = true;
		p->seen |= F_STORE;
	} else if (strcmp(key, "key") == 0) {
		p->bad |= !copy(e->key, sizeof(e->key), value) || !*value;
		p->seen |= F_KEY;
	} else if (strcmp(key, "result") == 0) {
		p->bad |= (i = policy_result_from_name(value)) < 0;
		e->answer.result = (enum policy_result)(i < 0 ? 0 : i);
		p->seen |= F_RESULT;
	} else if (strcmp(key, "rule") == 0) {
		p->bad |= (i = policy_rule_from_name(value)) < 0;
		e->answer.rule = (enum policy_rule)(i < 0 ? 0 : i);
		p->seen |= F_RULE;
	} else if (strcmp(key, "bogus") == 0) {
		p->bad |= strcmp(value, "yes") != 0 && strcmp(value, "no") != 0;
		e->answer.bogus = strcmp(value, "yes") == 0;
		p->seen |= F_BOGUS;
	} else if (strcmp(key, "policy") == 0) {
		const char *why;
		/* What Postfix would be answered: only a policy it takes. */
		p->bad |= !copy(e->policy, sizeof(e->policy), value) || !policy_level_valid(e->policy, &why);
		e->has_policy = true;
	} else if (strcmp(key, "reason") == 0) {
		printable(e->reason, sizeof(e->reason), value);
	} else if (strcmp(key, "stored") == 0) {
		p->bad |= !number(value, &e->stored);
		p->seen |= F_STORED;
	} else if (strcmp(key, "expires") == 0) {
		p->bad |= !number(value, &e->expires);
		p->seen |= F_EXPIRES;
	}
	/* Other keys are a newer version's: ignored. */
}

int
snapshot_parse(const char *line, size_t len, struct snapshot_entry *e)
{
	struct parsing p = {.e = e};

	memset(e, 0, sizeof(*e));
	if (kv_parse(line, len, on_field, &p) < 0 || p.bad || p.seen != F_ALL)
		return -1;
	/* Only an exception's answer has a policy, and it always has one. */
	if (e->has_policy != (e->answer.rule == POLICY_RULE_EXCEPTION) || !policy_answer_possible(e->answer))
		return -1;
	return 0;
}
