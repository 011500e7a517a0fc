/* libFuzzer: a survey file (lib/survey/surveysum.h), each line of the input a
 * line of it, each line handed over in a copy of exactly its bytes.
 * - A line is accepted or refused with a printable one-line reason.
 * - The counts keep the format's definitions: the domains' classes add up
 *   to the domains, the MX hosts' classes to the MX hosts, the kinds of
 *   MX answer to the domains; every subset is within its set (signed MX
 *   within with MX, ...); a domain is never "refused" or "skipped", an
 *   address never "none"; the top providers are sorted, their classes add
 *   up to their domains; the mismatch list is sorted and bounded.
 * - Last line wins, and a finish can come at any time: the input read
 *   twice, with a finish in between, counts the same as read once, except
 *   for the lines read.
 * - The outputs: the text is printable ASCII and newlines; the JSON parses
 *   back to the same numbers; in the HTML every tag is one the report
 *   writes, none with an event handler, and each chart has one bar per
 *   number. */
#include "autoconfig.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "survey/surveyhtml.h"
#include "survey/surveyjson.h"
#include "survey/surveysum.h"
#include "survey/surveytext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static void
feed(struct surveysum *s, const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;

	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *copy = malloc(len ? len : 1);
		const char *why = NULL;
		if (!copy)
			return;
		memcpy(copy, p, len);
		int rc = surveysum_add_line(s, copy, len, &why);
		free(copy);
		CHECK(rc == 0 || rc == SURVEYSUM_BAD);
		if (rc) {
			CHECK(why && *why);
			for (const char *c = why; *c; c++)
				CHECK(*c >= 0x20 && *c < 0x7f);
		}
		p += len + 1;
	}
}

static size_t
nlines(const uint8_t *data, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n';
	return n + (size > 0 && data[size - 1] != '\n');
}

static void
check_counts(const struct surveysum_result *r)
{
	uint64_t d = 0, a = 0;

	for (int c = 0; c < SURVEYCLASS_COUNT; c++) {
		d += r->by_domain[c];
		a += r->by_address[c];
	}
	CHECK(d == r->domains);
	CHECK(a == r->mx_addresses);
	CHECK(r->by_domain[SURVEYCLASS_REFUSED] == 0 && r->by_domain[SURVEYCLASS_SKIPPED] == 0);
	CHECK(r->by_address[SURVEYCLASS_NONE] == 0);
	CHECK(r->rejected <= r->lines && r->domains <= r->lines - r->rejected);
	CHECK(r->with_mx + r->null_mx + r->nxdomain + r->mx_failed == r->domains);
	CHECK(r->signed_mx <= r->with_mx);
	CHECK(r->all_dane <= r->domains && r->dns_failures <= r->domains && r->tlsa_mismatch <= r->domains);
	/* Only a domain with MX hosts has a class other than none. */
	CHECK(r->by_domain[SURVEYCLASS_NONE] >= r->domains - r->with_mx);
	CHECK(r->by_domain[SURVEYCLASS_DANE_MISMATCH] <= r->tlsa_mismatch);
	CHECK(!r->by_address[SURVEYCLASS_DANE_MISMATCH] || r->tlsa_mismatch);
	CHECK(r->providers <= r->mx_hosts && (r->mx_hosts == 0 || r->with_mx > 0));
	CHECK(r->mx_addresses == 0 || r->mx_hosts > 0);
	CHECK(r->time_first <= r->time_last && (r->domains || (r->time_first == 0 && r->time_last == 0)));

	CHECK(r->ntop == (r->providers < SURVEYSUM_TOP ? r->providers : SURVEYSUM_TOP));
	for (size_t k = 0; k < r->ntop; k++) {
		const struct surveysum_provider *p = &r->top[k];
		uint64_t sum = 0;
		for (int c = 0; c < SURVEYCLASS_COUNT; c++)
			sum += p->by_class[c];
		CHECK(sum == p->domains && p->domains >= 1 && p->domains <= r->with_mx);
		CHECK(p->by_class[SURVEYCLASS_REFUSED] == 0 && p->by_class[SURVEYCLASS_SKIPPED] == 0);
		if (k)
			CHECK(r->top[k - 1].domains > p->domains ||
			    (r->top[k - 1].domains == p->domains && strcmp(r->top[k - 1].name, p->name) < 0));
	}
	CHECK(r->nmismatch_listed == (r->tlsa_mismatch < SURVEYSUM_MISMATCH_LIST ? r->tlsa_mismatch :
	    SURVEYSUM_MISMATCH_LIST));
	for (size_t k = 1; k < r->nmismatch_listed; k++)
		CHECK(strcmp(r->mismatch[k - 1], r->mismatch[k]) < 0);
}

/* Everything but the lines read and refused. */
static void
check_same(const struct surveysum_result *a, const struct surveysum_result *b)
{
	CHECK(a->domains == b->domains && a->with_mx == b->with_mx && a->null_mx == b->null_mx &&
	    a->nxdomain == b->nxdomain && a->mx_failed == b->mx_failed && a->dns_failures == b->dns_failures &&
	    a->signed_mx == b->signed_mx && a->all_dane == b->all_dane && a->tlsa_mismatch == b->tlsa_mismatch &&
	    a->mx_hosts == b->mx_hosts && a->mx_addresses == b->mx_addresses && a->providers == b->providers &&
	    a->time_first == b->time_first && a->time_last == b->time_last);
	CHECK(memcmp(a->by_domain, b->by_domain, sizeof(a->by_domain)) == 0);
	CHECK(memcmp(a->by_address, b->by_address, sizeof(a->by_address)) == 0);
	CHECK(a->ntop == b->ntop && a->nmismatch_listed == b->nmismatch_listed);
	for (size_t k = 0; k < a->ntop; k++)
		CHECK(strcmp(a->top[k].name, b->top[k].name) == 0 && a->top[k].domains == b->top[k].domains &&
		    memcmp(a->top[k].by_class, b->top[k].by_class, sizeof(a->top[k].by_class)) == 0);
	for (size_t k = 0; k < a->nmismatch_listed; k++)
		CHECK(strcmp(a->mismatch[k], b->mismatch[k]) == 0);
}

static long long
num(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	CHECK(json_is_integer(v));
	return json_integer_value(v);
}

static void
check_json(const struct surveysum_result *r)
{
	struct buf out;
	json_error_t err;

	buf_init(&out);
	CHECK(surveyjson_write(r, &out) == 0);
	json_t *doc = json_loadb(buf_ptr(&out), buf_size(&out), JSON_REJECT_DUPLICATES, &err);
	CHECK(doc);
	CHECK(num(doc, "domains") == (long long)r->domains && num(doc, "with_mx") == (long long)r->with_mx &&
	    num(doc, "mx_addresses") == (long long)r->mx_addresses && num(doc, "lines") == (long long)r->lines);
	json_t *byd = json_object_get(doc, "by_domain_class");
	for (int c = 0; c < SURVEYCLASS_COUNT; c++)
		if (surveyclass_for_domain((enum surveyclass)c))
			CHECK(num(byd, surveyclass_name((enum surveyclass)c)) == (long long)r->by_domain[c]);
	json_t *top = json_object_get(doc, "top_providers");
	CHECK(json_array_size(top) == r->ntop);
	for (size_t k = 0; k < r->ntop; k++)
		CHECK(strcmp(json_string_value(json_object_get(json_array_get(top, k), "name")), r->top[k].name) == 0);
	json_t *mis = json_object_get(doc, "tlsa_mismatch_domains");
	CHECK(json_array_size(mis) == r->nmismatch_listed);
	for (size_t k = 0; k < r->nmismatch_listed; k++)
		CHECK(strcmp(json_string_value(json_array_get(mis, k)), r->mismatch[k]) == 0);
	json_decref(doc);
	buf_free(&out);
}

static const char *const tags[] = {"!DOCTYPE", "html", "head", "meta", "title", "style", "body", "h1", "h2", "p",
	"table", "thead", "tbody", "tr", "th", "td", "svg", "g", "text", "rect", "span", "ul", "li", "em", "dl", "dt",
	"dd", "div"};

static void
check_html(const struct surveysum_result *r, const char *title)
{
	struct buf out;
	size_t bars = 0;

	buf_init(&out);
	CHECK(surveyhtml_write(r, &out, title) == 0);
	const char *h = buf_ptr(&out);
	CHECK(strlen(h) == buf_size(&out));
	for (const char *p = strchr(h, '<'); p; p = strchr(p + 1, '<')) {
		const char *name = p + 1 + (p[1] == '/');
		const char *end = strchr(p, '>');
		bool known = false;
		for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]) && !known; i++) {
			size_t n = strlen(tags[i]);
			known = strncmp(name, tags[i], n) == 0 && (name[n] == ' ' || name[n] == '>');
		}
		CHECK(known && end);
		for (const char *q = p; q < end; q++)
			CHECK(strncasecmp(q, " on", 3) != 0);
		bars += strncmp(p, "<g class=\"bar\"", 14) == 0;
	}
	CHECK(bars == 9 + 10 + 11 + r->ntop);
	buf_free(&out);
}

static void
check_text(const struct surveysum_result *r)
{
	struct buf out;

	buf_init(&out);
	CHECK(surveytext_write(r, &out) == 0);
	for (size_t i = 0; i < buf_size(&out); i++) {
		unsigned char c = (unsigned char)buf_ptr(&out)[i];
		CHECK(c == '\n' || (c >= 0x20 && c < 0x7f));
	}
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct surveysum *once = surveysum_create(), *twice = surveysum_create();

	if (!once || !twice) {
		surveysum_free(once);
		surveysum_free(twice);
		return 0;
	}
	feed(once, data, size);
	const struct surveysum_result *r1 = surveysum_finish(once);
	CHECK(r1);
	CHECK(r1->lines == nlines(data, size));
	check_counts(r1);

	feed(twice, data, size);
	CHECK(surveysum_finish(twice));
	feed(twice, data, size);
	const struct surveysum_result *r2 = surveysum_finish(twice);
	CHECK(r2 && r2->lines == 2 * r1->lines && r2->rejected == 2 * r1->rejected);
	check_counts(r2);
	check_same(r1, r2);

	check_json(r1);
	check_text(r1);
	/* The first line as the title: a caller's string is escaped too. */
	char title[64];
	size_t n = size < sizeof(title) - 1 ? size : sizeof(title) - 1;
	memcpy(title, data, n);
	title[n] = '\0';
	check_html(r1, title);
	surveysum_free(once);
	surveysum_free(twice);
	return 0;
}
