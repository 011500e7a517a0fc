/*
 * checkprint - a checklist as text or as a JSON line (checkprint.h).
 */
#include "autoconfig.h"

#include <stdbool.h>

#include "util/buf.h"
#include "util/jsonw.h"
#include "selfcheck/checklist.h"
#include "selfcheck/checkprint.h"

/* Worst first: what the operator must act on comes at the top. */
static const enum checklist_severity print_order[] = {CHECKLIST_FAIL, CHECKLIST_WARN, CHECKLIST_OK};

const char *
checkprint_status_word(int status)
{
	switch (status) {
	case CHECKLIST_EXIT_PASSED: return "passed";
	case CHECKLIST_EXIT_WARNED: return "warned";
	case CHECKLIST_EXIT_FAILED: return "failed";
	case CHECKLIST_EXIT_UNCHECKED: return "could not check";
	}
	return "?";
}

static int
text_finding(const struct checklist_finding *f, struct buf *out)
{
	int rc = buf_printf(out, "  %-4s %s", checklist_severity_name(f->severity), f->code);
	if (f->host)
		rc |= buf_printf(out, " %s", f->host);
	if (f->address)
		rc |= buf_printf(out, "[%s]", f->address);
	rc |= buf_printf(out, ": %s\n", f->detail);
	if (f->fix && f->severity != CHECKLIST_OK)
		rc |= buf_printf(out, "       fix: %s\n", f->fix);
	return rc < 0 ? -1 : 0;
}

int
checkprint_text(const struct checklist *c, struct buf *out)
{
	int status = checklist_status(c);

	if (c->unchecked)
		return buf_printf(out, "%s: could not check: %s\n", c->domain, c->unchecked) < 0 ? -1 : 0;
	if (buf_printf(out, "%s: %s (%zu failed, %zu warned, %zu passed)\n", c->domain, checkprint_status_word(status),
	    checklist_count(c, CHECKLIST_FAIL), checklist_count(c, CHECKLIST_WARN), checklist_count(c, CHECKLIST_OK)) < 0)
		return -1;
	for (size_t o = 0; o < sizeof(print_order) / sizeof(print_order[0]); o++)
		for (size_t i = 0; i < c->n; i++)
			if (c->findings[i].severity == print_order[o] && text_finding(&c->findings[i], out) < 0)
				return -1;
	return 0;
}

static void
json_string_or_null(struct jsonw *j, const char *name, const char *s)
{
	if (s)
		jsonw_string(j, name, s);
	else
		jsonw_null(j, name);
}

int
checkprint_json(const struct checklist *c, struct buf *out)
{
	struct jsonw j;

	jsonw_init(&j, out);
	jsonw_object(&j, NULL);
	jsonw_string(&j, "domain", c->domain);
	if (c->unchecked)
		jsonw_string(&j, "error", c->unchecked);
	jsonw_array(&j, "findings");
	for (size_t o = 0; o < sizeof(print_order) / sizeof(print_order[0]); o++) {
		for (size_t i = 0; i < c->n; i++) {
			const struct checklist_finding *f = &c->findings[i];
			if (f->severity != print_order[o])
				continue;
			jsonw_object(&j, NULL);
			jsonw_string(&j, "code", f->code);
			jsonw_string(&j, "severity", checklist_severity_name(f->severity));
			json_string_or_null(&j, "host", f->host);
			json_string_or_null(&j, "address", f->address);
			jsonw_string(&j, "detail", f->detail);
			json_string_or_null(&j, "fix", f->severity == CHECKLIST_OK ? NULL : f->fix);
			jsonw_object_end(&j);
		}
	}
	jsonw_array_end(&j);
	jsonw_object_end(&j);
	if (jsonw_done(&j) < 0 || buf_putc(out, '\n') < 0)
		return -1;
	return 0;
}
