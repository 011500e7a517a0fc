/* explain - resolutions for people and scripts; see explain.h. */
#include "autoconfig.h"

#include <string.h>

#include <time.h>

#include "report/explain.h"
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
	switch (r->answer.result) {
	case POLICY_OK:
		return buf_printf(out, "OK %s", policy_level(levels, r->answer));
	case POLICY_NOTFOUND:
		return buf_puts(out, "NOTFOUND");
	case POLICY_TEMP:
		return buf_printf(out, "TEMP %s", r->reason);
	}
	return -1;
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
