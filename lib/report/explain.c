/* explain - resolutions for people and scripts; see explain.h. */
#include "autoconfig.h"

#include <string.h>

#include <time.h>

#include "report/explain.h"
#include "report/stsreport.h"
#include "serve/mapreply.h"
#include "probe/probestate.h"
#include "util/jsonw.h"
#include "dns/rr.h"

static const char *
kind_text(const struct nexthop *nh)
{
	switch (nh->kind) {
	case NEXTHOP_DOMAIN: return "domain next hop: MX lookup";
	case NEXTHOP_HOST: return "host next hop: no MX lookup";
	case NEXTHOP_IP_LITERAL: return "IP literal";
	case NEXTHOP_PARENT: return "parent-domain form";
	}
	return "?";
}

int
explain_reply(const struct resolve_result *r, const struct policy_levels *levels, struct buf *out)
{
	struct policymap_answer a = {.answer = r->answer, .reason = r->reason};
	struct mapreply reply = mapreply_of(levels, &a);

	return mapreply_format(&reply, true, out);
}

static void
text_lookup(const struct resolve_lookup *l, const char *indent, struct buf *out)
{
	buf_printf(out, "%s%s %s: %s, %s, ttl %u", indent, rr_type_name(l->type), l->name,
	    dns_outcome_name(l->outcome), dns_security_name(l->security), l->ttl);
	if (l->canonname)
		buf_printf(out, ", via CNAME to %s", l->canonname);
	if (l->why)
		buf_printf(out, " (%s)", l->why);
	buf_putc(out, '\n');
	for (size_t i = 0; i < l->nrecords; i++) {
		buf_printf(out, "%s    %s", indent, l->records[i]);
		if (l->type == RR_TYPE_TLSA)
			buf_printf(out, "  [%s%s]", l->notes[i] ? "unusable: " : "usable",
			    l->notes[i] ? l->notes[i] : "");
		buf_putc(out, '\n');
	}
}

int
explain_text(const struct resolve_result *r, const struct policy_levels *levels, struct buf *out)
{
	char key[NEXTHOP_NAME_MAX + 16];

	nexthop_format(&r->nexthop, key, sizeof(key));
	buf_printf(out, "destination: %s (%s, port %u)\n", key, kind_text(&r->nexthop), r->nexthop.port);
	for (size_t i = 0; i < r->nlookups; i++)
		if (r->lookups[i].host < 0)
			text_lookup(&r->lookups[i], "", out);
	for (unsigned h = 0; h < r->nhosts; h++) {
		const struct resolve_host *host = &r->hosts[h];
		buf_printf(out, "host %s", host->name);
		if (r->nexthop.kind == NEXTHOP_DOMAIN)
			buf_printf(out, " (MX preference %u)", host->preference);
		buf_puts(out, "\n");
		for (size_t i = 0; i < r->nlookups; i++)
			if (r->lookups[i].host == (int)h)
				text_lookup(&r->lookups[i], "    ", out);
		buf_printf(out, "    verdict: %s (%s)\n", policy_host_verdict_name(host->verdict),
		    host->why ? host->why : "");
	}
	buf_printf(out, "rule: %s: %s\n", policy_rule_name(r->answer.rule), policy_rule_text(r->answer.rule));
	buf_puts(out, "answer: ");
	explain_reply(r, levels, out);
	buf_putc(out, '\n');
	if (r->answer.result != POLICY_TEMP && r->nlookups)
		buf_printf(out, "smallest TTL: %u s\n", r->ttl);
	return buf_terminate(out);
}

static void
json_lookup(const struct resolve_lookup *l, struct jsonw *j)
{
	jsonw_object(j, NULL);
	jsonw_string(j, "name", l->name);
	jsonw_string(j, "type", rr_type_name(l->type));
	jsonw_string(j, "outcome", dns_outcome_name(l->outcome));
	jsonw_string(j, "security", dns_security_name(l->security));
	jsonw_uint(j, "ttl", l->ttl);
	jsonw_string(j, "canonname", l->canonname);
	jsonw_string(j, "why", l->why);
	jsonw_array(j, "records");
	for (size_t i = 0; i < l->nrecords; i++) {
		if (l->type == RR_TYPE_TLSA) {
			jsonw_object(j, NULL);
			jsonw_string(j, "data", l->records[i]);
			jsonw_bool(j, "usable", !l->notes[i]);
			jsonw_string(j, "why", l->notes[i]);
			jsonw_object_end(j);
		} else {
			jsonw_string(j, NULL, l->records[i]);
		}
	}
	jsonw_array_end(j);
	jsonw_object_end(j);
}

/* The lookups of one host, or of the next hop itself (host -1). */
static void
json_lookups(const struct resolve_result *r, int host, struct jsonw *j)
{
	jsonw_array(j, "lookups");
	for (size_t i = 0; i < r->nlookups; i++)
		if (r->lookups[i].host == host)
			json_lookup(&r->lookups[i], j);
	jsonw_array_end(j);
}

int
explain_json(const struct resolve_result *r, const struct policy_levels *levels, struct jsonw *j)
{
	char key[NEXTHOP_NAME_MAX + 16];
	struct buf reply;

	nexthop_format(&r->nexthop, key, sizeof(key));
	buf_init(&reply);
	explain_reply(r, levels, &reply);
	buf_terminate(&reply);
	jsonw_string(j, "destination", key);
	jsonw_uint(j, "port", r->nexthop.port);
	jsonw_string(j, "answer", buf_ptr(&reply));
	jsonw_string(j, "rule", policy_rule_name(r->answer.rule));
	jsonw_string(j, "reason", r->reason);
	jsonw_uint(j, "ttl", r->ttl);
	json_lookups(r, -1, j);
	jsonw_array(j, "hosts");
	for (unsigned h = 0; h < r->nhosts; h++) {
		const struct resolve_host *host = &r->hosts[h];
		jsonw_object(j, NULL);
		jsonw_string(j, "name", host->name);
		jsonw_uint(j, "preference", host->preference);
		jsonw_string(j, "verdict", policy_host_verdict_name(host->verdict));
		jsonw_string(j, "why", host->why);
		json_lookups(r, (int)h, j);
		jsonw_object_end(j);
	}
	buf_free(&reply);
	return jsonw_array_end(j);
}

static void
utc(int64_t unix_s, char *dst, size_t size)
{
	time_t t = (time_t)unix_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(dst, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
explain_probes_text(const struct probestate_addr *a, struct buf *out)
{
	char addr[64], when[32];

	netaddr_format(&a->address, addr, sizeof(addr));
	buf_printf(out, "    %s[%s]:%u%s\n", a->host, addr, a->port, a->has_usable_tlsa ? " (usable TLSA)" : "");
	for (size_t i = 0; i < a->nhistory; i++) {
		const struct probestate_record *r = &a->history[i];
		utc(r->unix_s, when, sizeof(when));
		buf_printf(out, "        %s %s%s%s\n", when, probe_class_name(r->class), r->detail[0] ? ": " : "",
		    r->detail);
	}
	return buf_terminate(out);
}

int
explain_probes_json(const struct probestate_addr *a, struct jsonw *j)
{
	char addr[64], when[32];

	netaddr_format(&a->address, addr, sizeof(addr));
	jsonw_object(j, NULL);
	jsonw_string(j, "host", a->host);
	jsonw_string(j, "address", addr);
	jsonw_uint(j, "port", a->port);
	jsonw_bool(j, "usable_tlsa", a->has_usable_tlsa);
	jsonw_array(j, "history");
	for (size_t i = 0; i < a->nhistory; i++) {
		const struct probestate_record *r = &a->history[i];
		utc(r->unix_s, when, sizeof(when));
		jsonw_object(j, NULL);
		jsonw_string(j, "time", when);
		jsonw_string(j, "class", probe_class_name(r->class));
		jsonw_string(j, "detail", r->detail[0] ? r->detail : NULL);
		jsonw_string(j, "leaf_spki_sha256", r->leaf_spki[0] ? r->leaf_spki : NULL);
		jsonw_object_end(j);
	}
	jsonw_array_end(j);
	return jsonw_object_end(j);
}

/* ---- MTA-STS beside the resolution ---- */

/* What stsprecedence.h makes of the policy in force beside the answer. */
struct sts_decision {
	const struct stspolicy *policy;	/* in force, or NULL */
	const char *source;		/* "cache", "check", "none" */
	const char *kind;		/* "sts", "dane-shadows", "unchanged" */
	const char *why;
	struct buf answer;		/* "secure match=...": kind sts only */
};

static void
sts_decide(const struct explain_sts *s, struct sts_decision *d)
{
	memset(d, 0, sizeof(*d));
	buf_init(&d->answer);
	d->source = "none";
	if (s->cached && (d->policy = stscache_in_force(s->cached, s->now)))
		d->source = "cache";
	else if (s->check) {
		d->source = "check";
		d->policy = s->check->verdict == STSCHECK_VALID ? s->check->policy : NULL;
	}
	enum stsprec_sts state = stsprec_sts_of(d->policy);
	struct stsprec_input in = {s->nexthop, s->answer, false, state};
	enum stsprec_choice choice = stsprec_choose(&in, &d->why);
	d->kind = "unchanged";
	if (choice == STSPREC_USE_STS && stspolicy_postfix_answer(d->policy, &d->answer) == 0 &&
	    buf_terminate(&d->answer) == 0)
		d->kind = "sts";
	else if (state == STSPREC_STS_ENFORCE && !stsprec_may_apply(s->nexthop, s->answer, false))
		d->kind = "dane-shadows";
}

static void
text_policy_summary(const struct stspolicy *p, const char *indent, struct buf *out)
{
	buf_printf(out, "%smode %s, max_age %u s", indent, stspolicy_mode_name(stspolicy_mode(p)),
	    stspolicy_max_age(p));
	for (size_t i = 0; i < stspolicy_npatterns(p); i++)
		buf_printf(out, "%s%s", i ? ", " : ", mx: ", stspolicy_pattern(p, i));
	buf_putc(out, '\n');
}

static void
text_check_summary(const struct stscheck_result *c, struct buf *out)
{
	buf_printf(out, "    TXT _mta-sts.%s: %s", c->domain,
	    c->txt_lookup.done ? dns_outcome_name(c->txt_lookup.outcome) : "not looked up");
	if (c->txt_lookup.done)
		buf_printf(out, ", %s", dns_security_name(c->txt_lookup.security));
	if (c->txt.status == STSTXT_FOUND)
		buf_printf(out, ", id %s", c->txt.id);
	else if (c->txt.status == STSTXT_INVALID)
		buf_printf(out, ", unusable: %s", c->txt.why);
	buf_printf(out, "\n    fetch %s: %s", c->url, c->fetched ? stsfetch_outcome_name(c->fetch) : "not made");
	if (c->address[0])
		buf_printf(out, ", address %s", c->address);
	if (c->http_status)
		buf_printf(out, ", HTTP status %ld", c->http_status);
	buf_putc(out, '\n');
	if (c->policy)
		text_policy_summary(c->policy, "    policy: ", out);
	buf_printf(out, "    verdict: %s\n", stscheck_verdict_name(c->verdict));
	for (size_t i = 0; i < c->nproblems; i++)
		buf_printf(out, "    problem: %s\n", c->problems[i]);
	buf_printf(out, "    (tlspolicy sts %s shows every detail)\n", c->domain);
}

int
explain_sts_text(const struct explain_sts *s, struct buf *out)
{
	struct sts_decision d;
	char when[32], until[32];

	sts_decide(s, &d);
	if (!stsprec_domain_nexthop(s->nexthop)) {
		buf_printf(out, "mta-sts: does not apply: %s\n", d.why);
		buf_free(&d.answer);
		return buf_terminate(out);
	}
	if (strcmp(d.source, "cache") == 0) {
		const struct stscache_entry *e = s->cached;
		utc(stscache_known(e)->fetched_at, when, sizeof(when));
		utc(stscache_known(e)->expires_at, until, sizeof(until));
		buf_printf(out, "mta-sts: the daemon's policy (%s): id %s, fetched %s (%lld s ago), in force until %s "
		    "(%lld s from now)\n", s->state_file, stscache_known(e)->policy_id, when, (long long)(s->now - stscache_known(e)->fetched_at), until,
		    (long long)(stscache_known(e)->expires_at - s->now));
		text_policy_summary(d.policy, "    ", out);
	} else {
		buf_puts(out, "mta-sts: no policy cached by the daemon");
		if (s->state_error)
			buf_printf(out, " (%s: %s)", s->state_file ? s->state_file : "state", s->state_error);
		else if (s->state_file)
			buf_printf(out, " (none for %s in %s)", s->domain, s->state_file);
		else
			buf_puts(out, " (no state_directory)");
		if (s->check) {
			buf_puts(out, "; checked from here:\n");
			text_check_summary(s->check, out);
		} else {
			buf_puts(out, "; no check from here either\n");
		}
	}
	if (strcmp(d.kind, "sts") == 0)
		buf_printf(out, "mta-sts decision: the policy replaces the answer: Postfix gets OK %s (%s)\n",
		    buf_ptr(&d.answer), d.why);
	else if (strcmp(d.kind, "dane-shadows") == 0)
		buf_printf(out, "mta-sts decision: DANE shadows the policy in mode enforce: %s\n", d.why);
	else
		buf_printf(out, "mta-sts decision: the answer stands: %s\n", d.why);
	buf_free(&d.answer);
	return buf_terminate(out);
}

int
explain_sts_json(const struct explain_sts *s, struct jsonw *j)
{
	struct sts_decision d;
	char when[32];

	sts_decide(s, &d);
	jsonw_object(j, "sts");
	jsonw_bool(j, "applies_to_nexthop", stsprec_domain_nexthop(s->nexthop));
	jsonw_string(j, "source", stsprec_domain_nexthop(s->nexthop) ? d.source : "none");
	jsonw_string(j, "state_file", s->state_file);
	jsonw_string(j, "state_error", s->state_error);
	if (strcmp(d.source, "cache") == 0 && stsprec_domain_nexthop(s->nexthop)) {
		const struct stscache_entry *e = s->cached;
		jsonw_object(j, "cached");
		jsonw_string(j, "id", stscache_known(e)->policy_id);
		utc(stscache_known(e)->fetched_at, when, sizeof(when));
		jsonw_string(j, "fetched", when);
		jsonw_int(j, "age_s", s->now - stscache_known(e)->fetched_at);
		utc(stscache_known(e)->expires_at, when, sizeof(when));
		jsonw_string(j, "expires", when);
		jsonw_int(j, "expires_in_s", stscache_known(e)->expires_at - s->now);
		jsonw_string(j, "mode", stspolicy_mode_name(stspolicy_mode(d.policy)));
		jsonw_uint(j, "max_age", stspolicy_max_age(d.policy));
		jsonw_array(j, "mx");
		for (size_t i = 0; i < stspolicy_npatterns(d.policy); i++)
			jsonw_string(j, NULL, stspolicy_pattern(d.policy, i));
		jsonw_array_end(j);
		jsonw_object_end(j);
	} else {
		jsonw_null(j, "cached");
	}
	if (s->check && strcmp(d.source, "check") == 0 && stsprec_domain_nexthop(s->nexthop))
		stsreport_json(s->check, j, "check");
	else
		jsonw_null(j, "check");
	jsonw_string(j, "decision", d.kind);
	jsonw_string(j, "why", d.why);
	if (strcmp(d.kind, "sts") == 0) {
		struct buf reply;
		buf_init(&reply);
		buf_printf(&reply, "OK %s", buf_ptr(&d.answer));
		buf_terminate(&reply);
		jsonw_string(j, "answer", buf_ptr(&reply));
		buf_free(&reply);
	} else {
		jsonw_null(j, "answer");
	}
	buf_free(&d.answer);
	return jsonw_object_end(j);
}
