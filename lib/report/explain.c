/* explain - resolutions for people and scripts; see explain.h. */
#include "autoconfig.h"

#include <string.h>

#include <time.h>

#include "report/explain.h"
#include "probe/probestate.h"
#include "util/json.h"
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
json_lookup(const struct resolve_lookup *l, struct buf *out)
{
	buf_putc(out, '{');
	json_key(out, "name", 1);
	json_str(out, l->name);
	json_key(out, "type", 0);
	json_str(out, rr_type_name(l->type));
	json_key(out, "outcome", 0);
	json_str(out, dns_outcome_name(l->outcome));
	json_key(out, "security", 0);
	json_str(out, dns_security_name(l->security));
	json_key(out, "ttl", 0);
	buf_printf(out, "%u", l->ttl);
	json_key(out, "canonname", 0);
	json_str(out, l->canonname);
	json_key(out, "why", 0);
	json_str(out, l->why);
	json_key(out, "records", 0);
	buf_putc(out, '[');
	for (size_t i = 0; i < l->nrecords; i++) {
		if (i)
			buf_putc(out, ',');
		if (l->type == RR_TYPE_TLSA) {
			buf_putc(out, '{');
			json_key(out, "data", 1);
			json_str(out, l->records[i]);
			json_key(out, "usable", 0);
			buf_puts(out, l->notes[i] ? "false" : "true");
			json_key(out, "why", 0);
			json_str(out, l->notes[i]);
			buf_putc(out, '}');
		} else {
			json_str(out, l->records[i]);
		}
	}
	buf_puts(out, "]}");
}

int
explain_json(const struct resolve_result *r, const struct policy_levels *levels, struct buf *out)
{
	char key[NEXTHOP_NAME_MAX + 16];
	struct buf reply;

	nexthop_format(&r->nexthop, key, sizeof(key));
	buf_init(&reply);
	explain_reply(r, levels, &reply);
	buf_terminate(&reply);
	buf_putc(out, '{');
	json_key(out, "destination", 1);
	json_str(out, key);
	json_key(out, "port", 0);
	buf_printf(out, "%u", r->nexthop.port);
	json_key(out, "answer", 0);
	json_str(out, buf_ptr(&reply));
	json_key(out, "rule", 0);
	json_str(out, policy_rule_name(r->answer.rule));
	json_key(out, "reason", 0);
	json_str(out, r->reason);
	json_key(out, "ttl", 0);
	buf_printf(out, "%u", r->ttl);
	json_key(out, "lookups", 0);
	buf_putc(out, '[');
	int first = 1;
	for (size_t i = 0; i < r->nlookups; i++) {
		if (r->lookups[i].host >= 0)
			continue;
		if (!first)
			buf_putc(out, ',');
		json_lookup(&r->lookups[i], out);
		first = 0;
	}
	buf_puts(out, "],");
	json_key(out, "hosts", 1);
	buf_putc(out, '[');
	for (unsigned h = 0; h < r->nhosts; h++) {
		const struct resolve_host *host = &r->hosts[h];
		if (h)
			buf_putc(out, ',');
		buf_putc(out, '{');
		json_key(out, "name", 1);
		json_str(out, host->name);
		json_key(out, "preference", 0);
		buf_printf(out, "%u", host->preference);
		json_key(out, "verdict", 0);
		json_str(out, policy_host_verdict_name(host->verdict));
		json_key(out, "why", 0);
		json_str(out, host->why);
		json_key(out, "lookups", 0);
		buf_putc(out, '[');
		first = 1;
		for (size_t i = 0; i < r->nlookups; i++) {
			if (r->lookups[i].host != (int)h)
				continue;
			if (!first)
				buf_putc(out, ',');
			json_lookup(&r->lookups[i], out);
			first = 0;
		}
		buf_puts(out, "]}");
	}
	buf_puts(out, "]");
	buf_free(&reply);
	return buf_terminate(out);
}

int
explain_json_close(struct buf *out)
{
	return buf_puts(out, "}\n");
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
explain_probes_json(const struct probestate_addr *a, struct buf *out)
{
	char addr[64], when[32];

	netaddr_format(&a->address, addr, sizeof(addr));
	buf_putc(out, '{');
	json_key(out, "host", 1);
	json_str(out, a->host);
	json_key(out, "address", 0);
	json_str(out, addr);
	json_key(out, "port", 0);
	buf_printf(out, "%u", a->port);
	json_key(out, "usable_tlsa", 0);
	buf_puts(out, a->has_usable_tlsa ? "true" : "false");
	json_key(out, "history", 0);
	buf_putc(out, '[');
	for (size_t i = 0; i < a->nhistory; i++) {
		const struct probestate_record *r = &a->history[i];
		utc(r->unix_s, when, sizeof(when));
		buf_puts(out, i ? ",{" : "{");
		json_key(out, "time", 1);
		json_str(out, when);
		json_key(out, "class", 0);
		json_str(out, probe_class_name(r->class));
		json_key(out, "detail", 0);
		json_str(out, r->detail[0] ? r->detail : NULL);
		json_key(out, "leaf_spki_sha256", 0);
		json_str(out, r->leaf_spki[0] ? r->leaf_spki : NULL);
		buf_putc(out, '}');
	}
	return buf_puts(out, "]}");
}
