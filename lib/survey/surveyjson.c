/* surveyjson - a survey summary as a JSON object; see surveyjson.h. */
#include "autoconfig.h"

#include "util/jsonw.h"
#include "survey/surveyfacts.h"
#include "survey/surveyjson.h"

static void
write_classes(struct jsonw *w, const char *name, const uint64_t *counts, const enum surveyclass *cls, size_t n)
{
	jsonw_object(w, name);
	for (size_t i = 0; i < n; i++)
		jsonw_uint(w, surveyclass_name(cls[i]), counts[cls[i]]);
	jsonw_object_end(w);
}

int
surveyjson_write(const struct surveysum_result *r, struct buf *out)
{
	struct jsonw w;

	jsonw_init(&w, out);
	jsonw_object(&w, NULL);
	jsonw_string(&w, "format", "tlspolicy-survey-summary");
	jsonw_uint(&w, "version", 1);
	jsonw_uint(&w, "lines", r->lines);
	jsonw_uint(&w, "rejected", r->rejected);
	for (size_t i = 0; i < SURVEYFACTS_COUNT; i++)
		jsonw_uint(&w, surveyfacts_table[i].key, surveyfacts_value(r, &surveyfacts_table[i]));
	jsonw_int(&w, "time_first", r->time_first);
	jsonw_int(&w, "time_last", r->time_last);
	write_classes(&w, "by_domain_class", r->by_domain, surveyclass_domain_order, SURVEYCLASS_DOMAIN_CLASSES);
	write_classes(&w, "by_mx_host_class", r->by_address, surveyclass_address_order, SURVEYCLASS_ADDRESS_CLASSES);
	jsonw_array(&w, "top_providers");
	for (size_t k = 0; k < r->ntop; k++) {
		jsonw_object(&w, NULL);
		jsonw_string(&w, "name", r->top[k].name);
		jsonw_uint(&w, "domains", r->top[k].domains);
		write_classes(&w, "by_class", r->top[k].by_class, surveyclass_domain_order, SURVEYCLASS_DOMAIN_CLASSES);
		jsonw_object_end(&w);
	}
	jsonw_array_end(&w);
	jsonw_array(&w, "tlsa_mismatch_domains");
	for (size_t k = 0; k < r->nmismatch_listed; k++)
		jsonw_string(&w, NULL, r->mismatch[k]);
	jsonw_array_end(&w);
	jsonw_object_end(&w);
	return jsonw_done(&w) < 0 || buf_putc(out, '\n') < 0 ? -1 : 0;
}
