/* probeplan - probes for a resolution; see probeplan.h. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "probe/probeplan.h"
#include "rules/tlsa.h"

/* "_25._tcp.mx.example" -> "mx.example" */
static const char *
tlsa_base(const char *tlsa_name)
{
	const char *p = tlsa_name;

	for (int labels = 0; labels < 2 && p; labels++) {
		p = strchr(p, '.');
		if (p)
			p++;
	}
	return p ? p : "";
}

static bool
is_own(const struct probeplan_settings *s, const struct netaddr *a)
{
	for (size_t i = 0; i < s->nown; i++)
		if (netaddr_equal(&s->own[i], a))
			return true;
	return false;
}

/* How many IPv4 and IPv6 addresses Postfix keeps of v4 and v6 under limit
 * (smtp_balance_inet_proto; see probeplan.h); first_v4: the first address
 * in the list is IPv4. */
static void
balance(size_t v4, size_t v6, size_t limit, bool first_v4, size_t *keep_v4, size_t *keep_v6)
{
	*keep_v4 = v4;
	*keep_v6 = v6;
	if (v4 == 0 || v6 == 0 || v4 + v6 <= limit)
		return;
	if (v6 <= limit / 2) {
		*keep_v4 = limit - v6;
	} else if (v4 <= limit / 2) {
		*keep_v6 = limit - v4;
	} else {
		*keep_v4 = (limit + first_v4) / 2;
		*keep_v6 = limit - *keep_v4;
	}
}

/* Marks the items past the limit, Postfix's way. */
static void
apply_limit(struct probeplan *plan, unsigned limit)
{
	size_t v4 = 0, v6 = 0, keep_v4, keep_v6;

	if (limit == 0 || plan->n <= limit)
		return;
	for (size_t i = 0; i < plan->n; i++) {
		if (plan->items[i].target.address.family == AF_INET)
			v4++;
		else
			v6++;
	}
	balance(v4, v6, limit, plan->items[0].target.address.family == AF_INET, &keep_v4, &keep_v6);
	/* Balanced or not, the list is then cut at the limit. */
	size_t kept = 0;
	for (size_t i = 0; i < plan->n; i++) {
		struct probeplan_item *it = &plan->items[i];
		size_t *keep = it->target.address.family == AF_INET ? &keep_v4 : &keep_v6;
		if (*keep > 0 && kept < limit) {
			(*keep)--;
			kept++;
		} else {
			it->over_limit = true;
			plan->nover_limit++;
		}
	}
}

int
probeplan_build(const struct resolve_result *r, const struct probeplan_settings *s, struct probeplan *out)
{
	size_t nitems = 0, ntlsa = 0;

	memset(out, 0, sizeof(*out));
	nexthop_format(&r->nexthop, out->dest, sizeof(out->dest));
	for (unsigned h = 0; h < r->nhosts; h++) {
		nitems += r->hosts[h].naddresses;
		ntlsa += r->hosts[h].ntlsa;
	}
	if (nitems == 0)
		return 0;
	out->items = calloc(nitems, sizeof(*out->items));
	out->tlsa = ntlsa ? calloc(ntlsa, sizeof(*out->tlsa)) : NULL;
	if (!out->items || (ntlsa && !out->tlsa))
		goto fail;
	for (unsigned h = 0; h < r->nhosts; h++) {
		const struct resolve_host *host = &r->hosts[h];
		/* No TLSA at all: out->tlsa is NULL, and NULL + 0 is undefined. */
		struct probe_tlsa *first = out->tlsa ? out->tlsa + out->ntlsa : NULL;
		size_t count = 0;
		for (size_t i = 0; i < host->ntlsa; i++) {
			struct tlsa_record rec;
			if (tlsa_parse(host->tlsa[i].data, host->tlsa[i].len, &rec) < 0)
				continue;
			struct probe_tlsa *t = &out->tlsa[out->ntlsa];
			if (!(t->data = malloc(rec.len ? rec.len : 1)))
				goto fail;
			memcpy(t->data, rec.data, rec.len);
			t->len = rec.len;
			t->usage = rec.usage;
			t->selector = rec.selector;
			t->mtype = rec.mtype;
			out->ntlsa++;
			count++;
		}
		for (size_t a = 0; a < host->naddresses; a++) {
			struct probeplan_item *it = &out->items[out->n++];
			struct probe_target *t = &it->target;
			memcpy(t->host, host->name, sizeof(t->host));
			if (host->tlsa_name[0])
				strncpy(t->tlsa_base, tlsa_base(host->tlsa_name), sizeof(t->tlsa_base) - 1);
			t->address = host->addresses[a];
			t->port = r->nexthop.port;
			t->ntlsa = count;
			t->tlsa = count ? first : NULL;
		}
	}
	apply_limit(out, s->address_limit);
	for (size_t i = 0; i < out->n && !s->allow_private; i++) {
		struct probeplan_item *it = &out->items[i];
		if (it->over_limit)
			continue;
		it->refused = netaddr_special(&it->target.address);
		if (!it->refused && is_own(s, &it->target.address))
			it->refused = PROBEPLAN_THIS_HOST;
	}
	return 0;
fail:
	probeplan_free(out);
	return -1;
}

void
probeplan_free(struct probeplan *plan)
{
	for (size_t i = 0; i < plan->ntlsa; i++)
		free(plan->tlsa[i].data);
	free(plan->tlsa);
	free(plan->items);
	memset(plan, 0, sizeof(*plan));
}

const char *
probeplan_refusal(const struct probeplan_item *it)
{
	if (it->refused && strcmp(it->refused, PROBEPLAN_THIS_HOST) == 0)
		return "an address of this host; probe_allow_private = no";
	return "special-purpose address; probe_allow_private = no";
}
