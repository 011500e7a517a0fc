/*
 * surveyfacts - the numbers of a survey summary as its three outputs
 * (surveytext, surveyjson, surveyhtml) present them: each key fact's
 * member in the JSON object (also the HTML's data-key), its label, its
 * meaning for the report's definitions, and whether it is shown as a share
 * of the domains; and the shares and times in words.
 *
 * The table is in the order every output lists the facts. Pure: constants
 * and formatting into the caller's arrays.
 */
#ifndef TLSPOLICY_SURVEYFACTS_H
#define TLSPOLICY_SURVEYFACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "survey/surveysum.h"

struct surveyfacts_fact {
	const char *key;		/* the member of the JSON object, and data-key */
	const char *label;
	const char *meaning;		/* for the report's definitions */
	size_t off;			/* of its uint64_t in struct surveysum_result */
	bool of_domains;		/* shown as a share of the domains */
};

#define SURVEYFACTS_COUNT 12
extern const struct surveyfacts_fact surveyfacts_table[SURVEYFACTS_COUNT];

uint64_t surveyfacts_value(const struct surveysum_result *r, const struct surveyfacts_fact *f);

/* "12.5%", or "-" without a whole. */
const char *surveyfacts_share(char out[16], uint64_t n, uint64_t whole);
/* "2025-11-24 16:00:00 UTC", or the number when it is no time. */
const char *surveyfacts_time(char out[32], int64_t t);

#endif
