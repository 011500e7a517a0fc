/* probeplan - probes for a resolution; see probeplan.h. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "probeplan.h"
#include "tlsa.h"

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

int
probeplan_build(const struct resolve_result *r, bool allow_private, struct probeplan *out)
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
			it->refused = allow_private ? NULL : netaddr_special(&t->address);
		}
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
