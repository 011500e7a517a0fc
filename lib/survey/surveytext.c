/* surveytext - a survey summary as a text table; see surveytext.h. */
#include "autoconfig.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "survey/surveyfacts.h"
#include "survey/surveytext.h"

#define LABEL_WIDTH 36

/* A name from the data for a terminal: printable ASCII only, at most
 * SURVEYTEXT_NAME_MAX bytes shown. */
static const char *
clean(char out[SURVEYTEXT_NAME_MAX + 1], const char *name)
{
	size_t n = 0;

	for (; name[n] && n < SURVEYTEXT_NAME_MAX; n++)
		out[n] = (unsigned char)name[n] >= 0x20 && (unsigned char)name[n] < 0x7f ? name[n] : '?';
	if (name[n])
		memcpy(out + SURVEYTEXT_NAME_MAX - 3, "...", 3);
	out[n] = '\0';
	return out;
}

/* A count, with its share when there is a whole. */
static int
row(struct buf *b, const char *label, uint64_t n, uint64_t whole)
{
	char p[16];

	if (!whole)
		return buf_printf(b, "  %-*s %10" PRIu64 "\n", LABEL_WIDTH, label, n);
	return buf_printf(b, "  %-*s %10" PRIu64 " %11s\n", LABEL_WIDTH, label, n, surveyfacts_share(p, n, whole));
}

static int
write_facts(const struct surveysum_result *r, struct buf *out)
{
	char t1[32], t2[32];
	int rc = 0;

	rc |= buf_printf(out, "DANE/TLS survey: %" PRIu64 " domains from %" PRIu64 " lines (%" PRIu64 " rejected)\n",
	    r->domains, r->lines, r->rejected);
	if (r->domains)
		rc |= buf_printf(out, "records written from %s to %s\n", surveyfacts_time(t1, r->time_first),
		    surveyfacts_time(t2, r->time_last));

	rc |= buf_printf(out, "\n%-*s %10s %11s\n", LABEL_WIDTH + 2, "Domains", "count", "of domains");
	for (size_t i = 0; i < SURVEYFACTS_COUNT; i++)
		if (surveyfacts_table[i].of_domains)
			rc |= row(out, surveyfacts_table[i].label, surveyfacts_value(r, &surveyfacts_table[i]), r->domains);
	rc |= buf_printf(out, "\n%-*s %10s\n", LABEL_WIDTH + 2, "MX hosts", "count");
	for (size_t i = 0; i < SURVEYFACTS_COUNT; i++)
		if (!surveyfacts_table[i].of_domains)
			rc |= row(out, surveyfacts_table[i].label, surveyfacts_value(r, &surveyfacts_table[i]), 0);
	return rc;
}

static int
write_classes(const struct surveysum_result *r, struct buf *out)
{
	int rc = 0;

	rc |= buf_printf(out, "\n%-*s %10s %11s\n", LABEL_WIDTH + 2, "Domains by class", "domains", "of domains");
	for (size_t i = 0; i < SURVEYCLASS_DOMAIN_CLASSES; i++) {
		enum surveyclass c = surveyclass_domain_order[i];
		rc |= row(out, surveyclass_label(c), r->by_domain[c], r->domains);
	}
	rc |= buf_printf(out, "  (the first probed address of the first MX host; none: no such address)\n");

	rc |= buf_printf(out, "\n%-*s %10s %11s\n", LABEL_WIDTH + 2, "MX hosts by class", "hosts", "of hosts");
	for (size_t i = 0; i < SURVEYCLASS_ADDRESS_CLASSES; i++) {
		enum surveyclass c = surveyclass_address_order[i];
		rc |= row(out, surveyclass_label(c), r->by_address[c], r->mx_addresses);
	}
	rc |= buf_printf(out, "  (each MX host name, address and port once)\n");
	return rc;
}

/* The providers: a column for each class some top provider has, as wide
 * as its label or its widest number. */
static int
write_providers(const struct surveysum_result *r, struct buf *out)
{
	char name[SURVEYTEXT_NAME_MAX + 1];
	bool used[SURVEYCLASS_COUNT] = {false};
	int width = 8, colw[SURVEYCLASS_COUNT], rc = 0;

	for (size_t c = 0; c < SURVEYCLASS_COUNT; c++)
		colw[c] = (int)strlen(surveyclass_label((enum surveyclass)c));
	for (size_t k = 0; k < r->ntop; k++) {
		int n = (int)strlen(clean(name, r->top[k].name));
		width = n > width ? n : width;
		for (size_t c = 0; c < SURVEYCLASS_COUNT; c++) {
			char digits[24];
			used[c] |= r->top[k].by_class[c] > 0;
			n = snprintf(digits, sizeof(digits), "%" PRIu64, r->top[k].by_class[c]);
			colw[c] = n > colw[c] ? n : colw[c];
		}
	}
	rc |= buf_printf(out, "\nTop MX providers (%zu of %" PRIu64 ", by the registrable domain of the MX host names)\n",
	    r->ntop, r->providers);
	if (r->ntop) {
		rc |= buf_printf(out, "  %-*s %10s %11s", width, "provider", "domains", "of domains");
		for (size_t i = 0; i < SURVEYCLASS_DOMAIN_CLASSES; i++) {
			enum surveyclass c = surveyclass_domain_order[i];
			if (used[c])
				rc |= buf_printf(out, " %*s", colw[c], surveyclass_label(c));
		}
		rc |= buf_putc(out, '\n');
	}
	for (size_t k = 0; k < r->ntop; k++) {
		char p[16];
		rc |= buf_printf(out, "  %-*s %10" PRIu64 " %11s", width, clean(name, r->top[k].name), r->top[k].domains,
		    surveyfacts_share(p, r->top[k].domains, r->domains));
		for (size_t i = 0; i < SURVEYCLASS_DOMAIN_CLASSES; i++) {
			enum surveyclass c = surveyclass_domain_order[i];
			if (used[c])
				rc |= buf_printf(out, " %*" PRIu64, colw[c], r->top[k].by_class[c]);
		}
		rc |= buf_putc(out, '\n');
	}
	return rc;
}

int
surveytext_write(const struct surveysum_result *r, struct buf *out)
{
	char name[SURVEYTEXT_NAME_MAX + 1];
	int rc = 0;

	/* One after the other: the operands of | have no order. */
	rc |= write_facts(r, out);
	rc |= write_classes(r, out);
	rc |= write_providers(r, out);
	if (r->tlsa_mismatch) {
		rc |= buf_printf(out, "\nDomains with a TLSA mismatch (%" PRIu64 "%s)\n", r->tlsa_mismatch,
		    r->nmismatch_listed < r->tlsa_mismatch ? ", the first listed" : "");
		for (size_t k = 0; k < r->nmismatch_listed; k++)
			rc |= buf_printf(out, "  %s\n", clean(name, r->mismatch[k]));
	}
	return rc < 0 ? -1 : 0;
}
