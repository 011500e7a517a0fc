/* dns - resolver seam; see dns.h for the contract. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"

struct dns {
	const struct dns_ops *ops;
	void *impl;
};

struct dns *
dns_create(const struct dns_ops *ops, void *impl)
{
	struct dns *dns = calloc(1, sizeof(*dns));

	if (!dns)
		return NULL;
	dns->ops = ops;
	dns->impl = impl;
	return dns;
}

void
dns_free(struct dns *dns)
{
	if (!dns)
		return;
	dns->ops->free(dns->impl);
	free(dns);
}

int
dns_lookup(struct dns *dns, const char *name, uint16_t type, dns_callback *cb, void *arg)
{
	return dns->ops->lookup(dns->impl, name, type, cb, arg);
}

void
dns_cancel(struct dns *dns, int id)
{
	dns->ops->cancel(dns->impl, id);
}

struct dns_answer *
dns_answer_new(const char *qname, uint16_t qtype)
{
	struct dns_answer *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	if (!(a->qname = strdup(qname))) {
		free(a);
		return NULL;
	}
	a->qtype = qtype;
	return a;
}

int
dns_answer_add(struct dns_answer *a, const void *data, size_t len)
{
	struct dns_rdata *rdata = realloc(a->rdata, (a->count + 1) * sizeof(*rdata));

	if (!rdata)
		return -1;
	a->rdata = rdata;
	unsigned char *copy = malloc(len ? len : 1);
	if (!copy)
		return -1;
	if (len)
		memcpy(copy, data, len);
	rdata[a->count].data = copy;
	rdata[a->count].len = len;
	a->count++;
	return 0;
}

void
dns_answer_free(struct dns_answer *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->count; i++)
		free(a->rdata[i].data);
	free(a->rdata);
	free(a->qname);
	free(a->canonname);
	free(a->why);
	free(a);
}

const char *
dns_outcome_name(enum dns_outcome o)
{
	switch (o) {
	case DNS_DATA: return "data";
	case DNS_NODATA: return "nodata";
	case DNS_NXDOMAIN: return "nxdomain";
	case DNS_SERVFAIL: return "servfail";
	case DNS_TIMEOUT: return "timeout";
	}
	return "unknown";
}

const char *
dns_security_name(enum dns_security s)
{
	switch (s) {
	case DNS_INSECURE: return "insecure";
	case DNS_SECURE: return "secure";
	case DNS_BOGUS: return "bogus";
	}
	return "unknown";
}
