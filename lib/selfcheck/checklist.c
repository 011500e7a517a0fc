/*
 * checklist - the findings of one domain (checklist.h).
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "util/text.h"
#include "selfcheck/checklist.h"

const char *
checklist_severity_name(enum checklist_severity s)
{
	switch (s) {
	case CHECKLIST_OK: return "ok";
	case CHECKLIST_WARN: return "warn";
	case CHECKLIST_FAIL: return "fail";
	}
	return "?";
}

int
checklist_init(struct checklist *c, const char *domain)
{
	memset(c, 0, sizeof(*c));
	c->domain = strdup(domain);
	return c->domain ? 0 : -1;
}

static void
finding_free(struct checklist_finding *f)
{
	free(f->host);
	free(f->address);
	free(f->detail);
	free(f->fix);
}

void
checklist_free(struct checklist *c)
{
	for (size_t i = 0; i < c->n; i++)
		finding_free(&c->findings[i]);
	free(c->findings);
	free(c->domain);
	free(c->unchecked);
	memset(c, 0, sizeof(*c));
}

/* A printable copy of s (whatever a server or the DNS put in it, no
 * escape sequence reaches a terminal), or NULL for NULL; *failed set when
 * out of memory. */
static char *
copy_or_null(const char *s, bool *failed)
{
	if (!s)
		return NULL;
	char *copy = text_printable_dup(s);
	if (!copy)
		*failed = true;
	return copy;
}

int
checklist_add(struct checklist *c, const char *code, enum checklist_severity severity,
    const char *host, const char *address, const char *detail, const char *fix)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 8;
		struct checklist_finding *grown = realloc(c->findings, cap * sizeof(*grown));
		if (!grown)
			return -1;
		c->findings = grown;
		c->cap = cap;
	}
	struct checklist_finding f = {code, severity, NULL, NULL, NULL, NULL};
	bool failed = false;
	f.host = copy_or_null(host, &failed);
	f.address = copy_or_null(address, &failed);
	f.detail = copy_or_null(detail ? detail : "", &failed);
	f.fix = copy_or_null(fix, &failed);
	if (failed) {
		finding_free(&f);
		return -1;
	}
	c->findings[c->n++] = f;
	return 0;
}

int
checklist_set_unchecked(struct checklist *c, const char *why)
{
	char *copy = text_printable_dup(why);
	if (!copy)
		return -1;
	free(c->unchecked);
	c->unchecked = copy;
	return 0;
}

bool
checklist_has_problem(const struct checklist *c, const char *code)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->findings[i].severity != CHECKLIST_OK && strcmp(c->findings[i].code, code) == 0)
			return true;
	return false;
}

size_t
checklist_count(const struct checklist *c, enum checklist_severity s)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n; i++)
		n += c->findings[i].severity == s;
	return n;
}

int
checklist_status(const struct checklist *c)
{
	if (c->unchecked)
		return CHECKLIST_EXIT_UNCHECKED;
	if (checklist_count(c, CHECKLIST_FAIL))
		return CHECKLIST_EXIT_FAILED;
	if (checklist_count(c, CHECKLIST_WARN))
		return CHECKLIST_EXIT_WARNED;
	return CHECKLIST_EXIT_PASSED;
}
