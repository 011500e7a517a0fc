/* probeplan - probes for a resolution; see probeplan.h. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "probe/probeplan.h"
#include "rules/tlsa.h"
#include "util/buf.h"

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

/*
 * The packed form: a header, then the bytes of the destination's name
 * (NUL-terminated), each item, and each TLSA record. An item: its flags,
 * its address family and 4 or 16 address bytes, the port (2 bytes), the
 * first of its host's TLSA records and their count (2 bytes each), and,
 * unless ITEM_SAME_HOST, the host and the TLSA base names, NUL-terminated.
 * A record: usage, selector, matching type, length (2 bytes), data.
 * Multi-byte numbers are in host order: the form never leaves the process.
 */
struct probeplan_packed {
	uint16_t n, ntlsa, nover_limit;
	uint32_t size;			/* of data */
	unsigned char data[];
};

enum {
	ITEM_OVER_LIMIT = 1,
	ITEM_REFUSED = 2,		/* why: netaddr_special(), or ... */
	ITEM_REFUSED_OWN = 4,		/* ... PROBEPLAN_THIS_HOST */
	ITEM_SAME_HOST = 8,		/* names as the item before */
};

static int
put16(struct buf *b, size_t v)
{
	uint16_t x = (uint16_t)v;

	return buf_append(b, &x, sizeof(x));
}

static int
put_name(struct buf *b, const char *name)
{
	return buf_append(b, name, strlen(name) + 1);
}

struct probeplan_packed *
probeplan_pack(const struct probeplan *plan)
{
	struct buf b;
	int rc;

	/* Plans come from resolutions: at most POLICY_MAX_HOSTS hosts of
	 * RESOLVE_MAX_ADDRESSES addresses, and their TLSA RRsets. */
	if (plan->n > UINT16_MAX || plan->ntlsa > UINT16_MAX)
		return NULL;
	buf_init(&b);
	rc = put_name(&b, plan->dest);
	for (size_t i = 0; i < plan->n; i++) {
		const struct probeplan_item *it = &plan->items[i];
		const struct probe_target *t = &it->target;
		const struct probe_target *prev = i ? &plan->items[i - 1].target : NULL;
		bool same = prev && strcmp(prev->host, t->host) == 0 && strcmp(prev->tlsa_base, t->tlsa_base) == 0;
		bool own = it->refused && strcmp(it->refused, PROBEPLAN_THIS_HOST) == 0;
		unsigned char flags = (unsigned char)((it->over_limit ? ITEM_OVER_LIMIT : 0) |
		    (it->refused ? ITEM_REFUSED : 0) | (own ? ITEM_REFUSED_OWN : 0) | (same ? ITEM_SAME_HOST : 0));
		unsigned char family = t->address.family == AF_INET ? 4 : 6;
		rc |= buf_append(&b, &flags, 1);
		rc |= buf_append(&b, &family, 1);
		rc |= buf_append(&b, t->address.bytes, family == 4 ? 4 : 16);
		rc |= put16(&b, t->port);
		rc |= put16(&b, t->ntlsa ? (size_t)(t->tlsa - plan->tlsa) : 0);
		rc |= put16(&b, t->ntlsa);
		if (!same)
			rc |= put_name(&b, t->host) | put_name(&b, t->tlsa_base);
	}
	for (size_t i = 0; i < plan->ntlsa; i++) {
		const struct probe_tlsa *r = &plan->tlsa[i];
		unsigned char head[3] = {r->usage, r->selector, r->mtype};
		rc |= buf_append(&b, head, sizeof(head));
		rc |= put16(&b, r->len);
		rc |= buf_append(&b, r->data, r->len);
	}
	struct probeplan_packed *p = NULL;
	if (rc == 0 && (p = malloc(sizeof(*p) + buf_size(&b)))) {
		p->n = (uint16_t)plan->n;
		p->ntlsa = (uint16_t)plan->ntlsa;
		p->nover_limit = (uint16_t)plan->nover_limit;
		p->size = (uint32_t)buf_size(&b);
		memcpy(p->data, buf_ptr(&b), buf_size(&b));
	}
	buf_free(&b);
	return p;
}

/* Reads the packed bytes in order. */
struct reader {
	const unsigned char *at;
};

static size_t
get16(struct reader *r)
{
	uint16_t x;

	memcpy(&x, r->at, sizeof(x));
	r->at += sizeof(x);
	return x;
}

static const char *
get_name(struct reader *r)
{
	const char *name = (const char *)r->at;

	r->at += strlen(name) + 1;
	return name;
}

int
probeplan_unpack(const struct probeplan_packed *p, struct probeplan *out)
{
	struct reader r = {p->data};
	const char *host = "", *base = "";

	memset(out, 0, sizeof(*out));
	snprintf(out->dest, sizeof(out->dest), "%s", get_name(&r));
	out->items = p->n ? calloc(p->n, sizeof(*out->items)) : NULL;
	out->tlsa = p->ntlsa ? calloc(p->ntlsa, sizeof(*out->tlsa)) : NULL;
	if ((p->n && !out->items) || (p->ntlsa && !out->tlsa))
		goto fail;
	out->nover_limit = p->nover_limit;
	for (size_t i = 0; i < p->n; i++) {
		struct probeplan_item *it = &out->items[i];
		struct probe_target *t = &it->target;
		unsigned char flags = *r.at++, family = *r.at++;
		t->address.family = family == 4 ? AF_INET : AF_INET6;
		memcpy(t->address.bytes, r.at, family == 4 ? 4 : 16);
		r.at += family == 4 ? 4 : 16;
		t->port = (unsigned)get16(&r);
		size_t first = get16(&r);
		t->ntlsa = get16(&r);
		t->tlsa = t->ntlsa ? out->tlsa + first : NULL;	/* filled in below */
		if (!(flags & ITEM_SAME_HOST)) {
			host = get_name(&r);
			base = get_name(&r);
		}
		snprintf(t->host, sizeof(t->host), "%s", host);
		snprintf(t->tlsa_base, sizeof(t->tlsa_base), "%s", base);
		it->over_limit = flags & ITEM_OVER_LIMIT;
		if (flags & ITEM_REFUSED)
			it->refused = flags & ITEM_REFUSED_OWN ? PROBEPLAN_THIS_HOST : netaddr_special(&t->address);
	}
	out->n = p->n;
	for (size_t i = 0; i < p->ntlsa; i++) {
		struct probe_tlsa *t = &out->tlsa[i];
		t->usage = *r.at++;
		t->selector = *r.at++;
		t->mtype = *r.at++;
		t->len = get16(&r);
		if (!(t->data = malloc(t->len ? t->len : 1)))
			goto fail;
		memcpy(t->data, r.at, t->len);
		r.at += t->len;
		out->ntlsa++;
	}
	return 0;
fail:
	probeplan_free(out);
	return -1;
}

size_t
probeplan_packed_items(const struct probeplan_packed *p)
{
	return p->n;
}

const char *
probeplan_refusal(const struct probeplan_item *it)
{
	if (it->refused && strcmp(it->refused, PROBEPLAN_THIS_HOST) == 0)
		return "an address of this host; probe_allow_private = no";
	return "special-purpose address; probe_allow_private = no";
}
