/* libFuzzer: hostile DNS answers, end to end. The input is the resolver:
 * each lookup resolve.c starts is answered, in an order the input picks,
 * with an outcome, a DNSSEC status, a TTL, a CNAME target and raw rdata
 * read from the input, as libunbound would hand them over (lib/dns/rr.c
 * decodes them). Whatever the answers:
 * - the callback runs once, unless the input cancels the resolution;
 *   after either, no lookup is left pending, and nothing unfreed (ASan's
 *   leak check);
 * - the answer is one the daemon can give (policy_answer_possible); a
 *   failed or bogus MX lookup of a domain is TEMP; a failed or bogus
 *   address lookup fails its host, and with a failed host an OK answer is
 *   dane or dane-only (Postfix then skips that host): never weaker;
 * - the reason, the socketmap reply and `tlspolicy explain` stay printable
 *   text, and its JSON form parses. */
#include "autoconfig.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config/config.h"
#include "dns/dns.h"
#include "report/explain.h"
#include "dns/resolve.h"
#include "dns/rr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Lookups outstanding at once: a resolution asks for at most a few per
 * MX host, POLICY_MAX_HOSTS hosts. */
#define MAX_PENDING 256

struct pending {
	int id;
	char *name;
	uint16_t type;
	dns_callback *cb;
	void *arg;
};

struct input {
	const uint8_t *p;
	size_t n;
};

struct fuzz_dns {
	struct input *in;
	struct pending queue[MAX_PENDING];
	size_t count;
	int next_id;
};

/* Past the end of the input every byte is 0: the rest of the lookups
 * are answered, in order, as DATA without records. */
static uint8_t
take(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static int
fuzz_lookup(void *impl, const char *name, uint16_t type, dns_callback *cb, void *arg)
{
	struct fuzz_dns *f = impl;

	if (f->count == MAX_PENDING)
		return -1;
	struct pending *q = &f->queue[f->count];
	if (!(q->name = strdup(name)))
		return -1;
	q->id = ++f->next_id;
	q->type = type;
	q->cb = cb;
	q->arg = arg;
	f->count++;
	return q->id;
}

static void
drop(struct fuzz_dns *f, size_t i)
{
	free(f->queue[i].name);
	memmove(&f->queue[i], &f->queue[i + 1], (f->count - i - 1) * sizeof(f->queue[0]));
	f->count--;
}

static void
fuzz_cancel(void *impl, int id)
{
	struct fuzz_dns *f = impl;

	for (size_t i = 0; i < f->count; i++)
		if (f->queue[i].id == id) {
			drop(f, i);
			return;
		}
}

static void
fuzz_free(void *impl)
{
	struct fuzz_dns *f = impl;

	while (f->count)
		drop(f, f->count - 1);
	free(f);
}

static const struct dns_ops fuzz_ops = {fuzz_lookup, fuzz_cancel, fuzz_free};

/* Bytes of the input as a NUL-free string of at most max bytes. */
static char *
take_string(struct input *in, size_t max)
{
	size_t len = take(in) % (max + 1);
	char *s = malloc(len + 1);

	if (!s)
		abort();
	size_t i = 0;
	while (i < len && in->n) {
		uint8_t c = take(in);
		s[i++] = c ? (char)c : '.';
	}
	s[i] = '\0';
	return s;
}

/* One answer, from the input, to the lookup it picks. */
static void
answer_one(struct fuzz_dns *f)
{
	struct input *in = f->in;
	size_t i = take(in) % f->count;
	struct pending q = f->queue[i];

	memmove(&f->queue[i], &f->queue[i + 1], (f->count - i - 1) * sizeof(f->queue[0]));
	f->count--;
	struct dns_answer *a = dns_answer_new(q.name, q.type);
	free(q.name);
	if (!a)
		abort();
	/* The low six bits: outcome and status; the top two: CNAME, why. */
	uint8_t flags = take(in), kind = flags & 0x3f;
	a->outcome = (enum dns_outcome)(kind % 5);
	a->security = (enum dns_security)(kind / 5 % 3);
	a->rcode = a->outcome == DNS_NXDOMAIN ? 3 : a->outcome == DNS_SERVFAIL ? 2 : 0;
	a->ttl = (uint32_t)take(in) << 8 | take(in);
	if (flags & 0x40)
		a->canonname = take_string(in, 300);
	if (flags & 0x80)
		a->why = take_string(in, 80);
	if (a->outcome == DNS_DATA) {
		unsigned records = take(in) % 20;
		for (unsigned r = 0; r < records; r++) {
			size_t len = take(in);
			if (len > in->n)
				len = in->n;
			if (dns_answer_add(a, in->p, len) < 0)
				abort();
			in->p += len;
			in->n -= len;
		}
	}
	q.cb(q.arg, a);
}

struct outcome {
	bool called;
	bool mx_failed;			/* the domain's MX lookup failed or was bogus */
	struct policy_answer answer;
};

static void
check_text(const char *s, size_t len, bool newlines)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && !(newlines && c == '\n')) || c == 0x7f)
			__builtin_trap();
	}
}

static void
on_result(void *arg, const struct resolve_result *r)
{
	struct outcome *o = arg;
	static struct config *cfg;
	struct buf out;

	if (o->called)
		__builtin_trap();
	o->called = true;
	o->answer = r->answer;
	if (!policy_answer_possible(r->answer))
		__builtin_trap();
	if (!cfg && !(cfg = config_defaults()))
		abort();
	for (size_t i = 0; i < r->nlookups; i++) {
		const struct resolve_lookup *l = &r->lookups[i];
		bool failed = l->outcome == DNS_SERVFAIL || l->outcome == DNS_TIMEOUT || l->security == DNS_BOGUS;
		if (failed && l->host == -1 && l->type == RR_TYPE_MX)
			o->mx_failed = true;
		if (failed && l->host >= 0 && (l->type == RR_TYPE_A || l->type == RR_TYPE_AAAA) &&
		    ((unsigned)l->host >= r->nhosts || r->hosts[l->host].verdict != POLICY_HOST_FAILED))
			__builtin_trap();
	}
	for (unsigned i = 0; i < r->nhosts && r->answer.result == POLICY_OK; i++) {
		const char *level = policy_level(&cfg->levels, r->answer);
		if (r->hosts[i].verdict == POLICY_HOST_FAILED && r->answer.rule != POLICY_RULE_EXCEPTION &&
		    strcmp(level, "dane") != 0 && strcmp(level, "dane-only") != 0)
			__builtin_trap();
	}
	check_text(r->reason, strlen(r->reason), false);

	buf_init(&out);
	if (explain_reply(r, &cfg->levels, &out) < 0)
		abort();
	check_text(buf_ptr(&out), buf_size(&out), false);
	buf_reset(&out);
	if (explain_text(r, &cfg->levels, &out) < 0)
		abort();
	check_text(buf_ptr(&out), buf_size(&out), true);
	buf_reset(&out);
	struct jsonw jw;
	jsonw_init(&jw, &out);
	jsonw_object(&jw, NULL);
	if (explain_json(r, &cfg->levels, &jw) < 0 || jsonw_object_end(&jw) < 0 || jsonw_done(&jw) < 0)
		abort();
	json_error_t error;
	json_t *json = json_loadb(buf_ptr(&out), buf_size(&out), 0, &error);
	if (!json)
		__builtin_trap();
	json_decref(json);
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Next hops of every kind that needs DNS. */
	static const char *const keys[] = {"fuzz.test", "fuzz.test:587", "[mx.fuzz.test]", "[mx.fuzz.test]:465"};
	struct input in = {data, size};
	struct fuzz_dns *f = calloc(1, sizeof(*f));
	struct outcome o = {0};
	struct nexthop nh;
	const char *why;

	if (!f)
		abort();
	f->in = &in;
	struct dns *dns = dns_create(&fuzz_ops, f);
	if (!dns)
		abort();
	uint8_t first = take(&in);
	const char *key = keys[first % 4];
	if (nexthop_parse(key, strlen(key), &nh, &why) < 0)
		abort();
	/* Sometimes the daemon gives up waiting: cancel after some answers. */
	unsigned cancel_after = first & 0x80 ? (first >> 2) % 16 : ~0u;
	struct resolve *r = resolve_start(dns, &nh, on_result, &o);
	if (!r)
		abort();
	for (unsigned answered = 0; f->count && !o.called; answered++) {
		if (answered == cancel_after) {
			resolve_cancel(r);
			if (f->count)
				__builtin_trap();	/* a cancelled lookup still pending */
			break;
		}
		answer_one(f);
	}
	if (!o.called && cancel_after == ~0u)
		__builtin_trap();	/* every lookup answered, and no result */
	/* A finished resolution frees itself: a lookup of it still pending
	 * would call back into freed memory. */
	if (o.called && f->count)
		__builtin_trap();
	if (o.called && nh.kind == NEXTHOP_DOMAIN && o.mx_failed && o.answer.result != POLICY_TEMP)
		__builtin_trap();
	dns_free(dns);
	return 0;
}
