/* surveyjson - a survey summary as a JSON object; see surveyjson.h.
 *
 * Each write is a statement of its own: the operands of | are evaluated in
 * no fixed order, and these all append to the same buffer. */
#include "autoconfig.h"

#include <inttypes.h>

#include "util/json.h"
#include "survey/surveyfacts.h"
#include "survey/surveyjson.h"

static int
json_classes(struct buf *b, const char *key, const uint64_t *counts, const enum surveyclass *cls, size_t n)
{
	int rc = json_key(b, key, 0);

	rc |= buf_putc(b, '{');
	for (size_t i = 0; i < n; i++) {
		rc |= json_key(b, surveyclass_name(cls[i]), i == 0);
		rc |= buf_printf(b, "%" PRIu64, counts[cls[i]]);
	}
	rc |= buf_putc(b, '}');
	return rc;
}

int
surveyjson_write(const struct surveysum_result *r, struct buf *out)
{
	int rc = 0;

	rc |= buf_printf(out, "{\"format\":\"tlspolicy-survey-summary\",\"version\":1,\"lines\":%" PRIu64
	    ",\"rejected\":%" PRIu64, r->lines, r->rejected);
	for (size_t i = 0; i < SURVEYFACTS_COUNT; i++) {
		rc |= json_key(out, surveyfacts_table[i].key, 0);
		rc |= buf_printf(out, "%" PRIu64, surveyfacts_value(r, &surveyfacts_table[i]));
	}
	rc |= buf_printf(out, ",\"time_first\":%" PRId64 ",\"time_last\":%" PRId64, r->time_first, r->time_last);
	rc |= json_classes(out, "by_domain_class", r->by_domain, surveyclass_domain_order, SURVEYCLASS_DOMAIN_CLASSES);
	rc |= json_classes(out, "by_mx_host_class", r->by_address, surveyclass_address_order,
	    SURVEYCLASS_ADDRESS_CLASSES);
	rc |= json_key(out, "top_providers", 0);
	rc |= buf_putc(out, '[');
	for (size_t k = 0; k < r->ntop; k++) {
		rc |= buf_puts(out, k ? ",{" : "{");
		rc |= json_key(out, "name", 1);
		rc |= json_str(out, r->top[k].name);
		rc |= buf_printf(out, ",\"domains\":%" PRIu64, r->top[k].domains);
		rc |= json_classes(out, "by_class", r->top[k].by_class, surveyclass_domain_order,
		    SURVEYCLASS_DOMAIN_CLASSES);
		rc |= buf_putc(out, '}');
	}
	rc |= buf_putc(out, ']');
	rc |= json_key(out, "tlsa_mismatch_domains", 0);
	rc |= buf_putc(out, '[');
	for (size_t k = 0; k < r->nmismatch_listed; k++) {
		if (k)
			rc |= buf_putc(out, ',');
		rc |= json_str(out, r->mismatch[k]);
	}
	rc |= buf_puts(out, "]}\n");
	return rc < 0 ? -1 : 0;
}
