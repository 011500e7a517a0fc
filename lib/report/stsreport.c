/* stsreport - a check of a domain's MTA-STS as people and scripts read
 * it; see stsreport.h. */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "report/stsreport.h"

static const char *
mode_with_meaning(enum stspolicy_mode m)
{
	switch (m) {
	case STSPOLICY_MODE_ENFORCE: return "enforce (senders deliver only over verified TLS to matching MX hosts)";
	case STSPOLICY_MODE_TESTING: return "testing (senders deliver anyway, and report failures)";
	case STSPOLICY_MODE_NONE: return "none (MTA-STS withdrawn)";
	}
	return "?";
}

static const char *
verdict_text(enum stscheck_verdict v)
{
	switch (v) {
	case STSCHECK_VALID: return "valid: senders find and apply this policy";
	case STSCHECK_ABSENT: return "absent: the domain does not use MTA-STS";
	case STSCHECK_BROKEN: return "broken: senders find no usable policy";
	}
	return "?";
}

static void
text_lookup(const struct stscheck_lookup *l, const char *type, const char *prefix, const char *name,
    struct buf *out)
{
	buf_printf(out, "%s %s%s: ", type, prefix, name);
	if (!l->done) {
		buf_puts(out, "not looked up\n");
		return;
	}
	buf_printf(out, "%s, %s, ttl %u%s%s%s\n", dns_outcome_name(l->outcome), dns_security_name(l->security),
	    l->ttl, l->why ? " (" : "", l->why ? l->why : "", l->why ? ")" : "");
}

static void
text_fetch(const struct stscheck_result *r, struct buf *out)
{
	buf_printf(out, "policy URL: %s\n", r->url);
	if (!r->fetched) {
		buf_puts(out, "    not fetched\n");
		return;
	}
	buf_printf(out, "    fetch: %s", stsfetch_outcome_name(r->fetch));
	if (r->address[0])
		buf_printf(out, ", address %s", r->address);
	if (r->http_status)
		buf_printf(out, ", HTTP status %ld", r->http_status);
	if (r->fetch == STSFETCH_OK)
		buf_printf(out, ", %zu bytes", r->body_len);
	buf_printf(out, ", %llu ms\n", (unsigned long long)r->elapsed_ms);
	if (r->fetch_detail[0])
		buf_printf(out, "    detail: %s\n", r->fetch_detail);
}

static void
text_policy(const struct stscheck_result *r, struct buf *out)
{
	const struct stspolicy *p = r->policy;

	if (!p) {
		if (buf_size(&r->policy_errors))
			buf_puts(out, "policy: invalid (see the problems)\n");
		return;
	}
	buf_printf(out, "policy: valid\n    mode: %s\n    max_age: %u s\n", mode_with_meaning(stspolicy_mode(p)),
	    stspolicy_max_age(p));
	for (size_t i = 0; i < stspolicy_npatterns(p); i++)
		buf_printf(out, "    mx: %s\n", stspolicy_pattern(p, i));
	buf_puts(out, "    lines:\n");
	for (size_t i = 0; i < stspolicy_nlines(p); i++)
		buf_printf(out, "        %s\n", stspolicy_line(p, i));
	if (r->enforce_answer)
		buf_printf(out, "Postfix answer in mode enforce: %s\n", r->enforce_answer);
	if (r->tlsrpt)
		buf_printf(out, "TLSRPT attributes: %s\n", r->tlsrpt);
}

int
stsreport_text(const struct stscheck_result *r, struct buf *out)
{
	buf_printf(out, "domain: %s\n", r->domain);
	text_lookup(&r->txt_lookup, "TXT", STSCHECK_TXT_PREFIX, r->domain, out);
	for (size_t i = 0; i < r->ntxt; i++)
		buf_printf(out, "    \"%s\"%s\n", r->txt_records[i],
		    strncmp(r->txt_records[i], STSCHECK_RECORD_START, strlen(STSCHECK_RECORD_START)) == 0 ? "" : "  [not MTA-STS]");
	if (r->txt_count > r->ntxt)
		buf_printf(out, "    and %zu more records\n", r->txt_count - r->ntxt);
	if (!stscheck_lookup_failed(&r->txt_lookup)) {
		if (r->txt.status == STSTXT_FOUND)
			buf_printf(out, "    id: %s\n", r->txt.id);
		else if (r->txt.status == STSTXT_INVALID)
			buf_printf(out, "    no usable id: %s\n", r->txt.why);
		else
			buf_puts(out, "    no v=STSv1 record\n");
	}
	text_lookup(&r->mx_lookup, "MX", "", r->domain, out);
	for (size_t i = 0; i < r->nmx; i++) {
		buf_printf(out, "    %u %s%s", r->mx[i].preference, r->mx[i].name, r->mx_implicit ? " (implicit MX)" : "");
		if (r->policy && stspolicy_mode(r->policy) != STSPOLICY_MODE_NONE)
			buf_puts(out, r->mx[i].matched ? "  [matched by the policy]" : "  [NOT matched by the policy]");
		buf_putc(out, '\n');
	}
	if (r->mx_null)
		buf_puts(out, "    0 . (null MX)\n");
	text_fetch(r, out);
	text_policy(r, out);
	buf_printf(out, "verdict: %s\n", verdict_text(r->verdict));
	if (r->nproblems == 0)
		buf_puts(out, "problems: none\n");
	else
		buf_puts(out, "problems:\n");
	for (size_t i = 0; i < r->nproblems; i++)
		buf_printf(out, "  - %s\n", r->problems[i]);
	if (r->nnotes)
		buf_puts(out, "notes:\n");
	for (size_t i = 0; i < r->nnotes; i++)
		buf_printf(out, "  - %s\n", r->notes[i]);
	return buf_terminate(out);
}

static void
json_lookup(const struct stscheck_lookup *l, struct jsonw *j)
{
	if (!l->done) {
		jsonw_null(j, "outcome");
		jsonw_null(j, "security");
		return;
	}
	jsonw_string(j, "outcome", dns_outcome_name(l->outcome));
	jsonw_string(j, "security", dns_security_name(l->security));
	jsonw_uint(j, "ttl", l->ttl);
	jsonw_string(j, "why", l->why);
}

static void
json_policy(const struct stscheck_result *r, struct jsonw *j)
{
	const struct stspolicy *p = r->policy;

	if (!p) {
		jsonw_null(j, "policy");
		return;
	}
	jsonw_object(j, "policy");
	jsonw_string(j, "mode", stspolicy_mode_name(stspolicy_mode(p)));
	jsonw_uint(j, "max_age", stspolicy_max_age(p));
	jsonw_array(j, "mx");
	for (size_t i = 0; i < stspolicy_npatterns(p); i++)
		jsonw_string(j, NULL, stspolicy_pattern(p, i));
	jsonw_array_end(j);
	jsonw_array(j, "lines");
	for (size_t i = 0; i < stspolicy_nlines(p); i++)
		jsonw_string(j, NULL, stspolicy_line(p, i));
	jsonw_array_end(j);
	jsonw_object_end(j);
}

int
stsreport_json(const struct stscheck_result *r, struct jsonw *j, const char *name)
{
	char txt_name[sizeof(STSCHECK_TXT_PREFIX) + STSFETCH_DOMAIN_MAX];

	snprintf(txt_name, sizeof(txt_name), STSCHECK_TXT_PREFIX "%s", r->domain);
	jsonw_object(j, name);
	jsonw_string(j, "domain", r->domain);
	jsonw_string(j, "verdict", stscheck_verdict_name(r->verdict));

	jsonw_object(j, "txt");
	jsonw_string(j, "name", txt_name);
	json_lookup(&r->txt_lookup, j);
	jsonw_array(j, "records");
	for (size_t i = 0; i < r->ntxt; i++)
		jsonw_string(j, NULL, r->txt_records[i]);
	jsonw_array_end(j);
	jsonw_uint(j, "count", r->txt_count);
	jsonw_string(j, "status", r->txt_lookup.done ? ststxt_status_name(r->txt.status) : NULL);
	jsonw_string(j, "id", r->txt.status == STSTXT_FOUND ? r->txt.id : NULL);
	jsonw_string(j, "invalid_why", r->txt.status == STSTXT_INVALID ? r->txt.why : NULL);
	jsonw_object_end(j);

	jsonw_object(j, "mx");
	json_lookup(&r->mx_lookup, j);
	jsonw_bool(j, "implicit", r->mx_implicit);
	jsonw_bool(j, "null_mx", r->mx_null);
	jsonw_array(j, "hosts");
	for (size_t i = 0; i < r->nmx; i++) {
		jsonw_object(j, NULL);
		jsonw_string(j, "name", r->mx[i].name);
		jsonw_uint(j, "preference", r->mx[i].preference);
		if (r->policy && stspolicy_mode(r->policy) != STSPOLICY_MODE_NONE)
			jsonw_bool(j, "matched", r->mx[i].matched);
		else
			jsonw_null(j, "matched");
		jsonw_object_end(j);
	}
	jsonw_array_end(j);
	jsonw_object_end(j);

	jsonw_object(j, "fetch");
	jsonw_string(j, "url", r->url);
	jsonw_string(j, "outcome", r->fetched ? stsfetch_outcome_name(r->fetch) : NULL);
	jsonw_string(j, "address", r->address[0] ? r->address : NULL);
	jsonw_uint(j, "http_status", (uint64_t)(r->http_status > 0 ? r->http_status : 0));
	jsonw_uint(j, "bytes", r->body_len);
	jsonw_uint(j, "elapsed_ms", r->elapsed_ms);
	jsonw_string(j, "detail", r->fetch_detail[0] ? r->fetch_detail : NULL);
	jsonw_object_end(j);

	json_policy(r, j);
	jsonw_array(j, "policy_errors");
	for (const char *e = buf_ptr(&r->policy_errors); !r->policy && *e;) {
		size_t n = strcspn(e, "\n");
		char line[512];
		snprintf(line, sizeof(line), "%.*s", (int)n, e);
		jsonw_string(j, NULL, line);
		e += n + (e[n] == '\n');
	}
	jsonw_array_end(j);
	jsonw_string(j, "enforce_answer", r->enforce_answer);
	jsonw_string(j, "tlsrpt", r->tlsrpt);
	jsonw_array(j, "problems");
	for (size_t i = 0; i < r->nproblems; i++)
		jsonw_string(j, NULL, r->problems[i]);
	jsonw_array_end(j);
	jsonw_array(j, "notes");
	for (size_t i = 0; i < r->nnotes; i++)
		jsonw_string(j, NULL, r->notes[i]);
	jsonw_array_end(j);
	return jsonw_object_end(j);
}
