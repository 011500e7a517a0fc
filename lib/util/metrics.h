/*
 * metrics - Prometheus' text exposition format (version 0.0.4): families
 * with HELP and TYPE lines, samples with labels, and a latency histogram
 * with cumulative buckets. Formatting only: the numbers live with their
 * owners and are read at scrape time.
 *
 * Contract: label values are escaped as the format requires (backslash,
 * double quote, newline), so a destination name cannot break a line.
 * Names and label names are the caller's constants.
 */
#ifndef TLSPOLICY_METRICS_H
#define TLSPOLICY_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* "# HELP name help" and "# TYPE name type" (counter, gauge, histogram). */
int metrics_family(struct buf *out, const char *name, const char *type, const char *help);
/* "name{label="value"} v"; label NULL for none. */
int metrics_sample(struct buf *out, const char *name, const char *label, const char *value, uint64_t v);

#define METRICS_BUCKETS 14

/* Seconds, from 1 ms to 30 s, and +Inf: resolutions and probes both fit,
 * and one that ran into a dns_timeout of 10 s is told apart from one that
 * waited on several. */
struct metrics_histogram {
	uint64_t buckets[METRICS_BUCKETS];	/* not cumulative; the last is +Inf */
	uint64_t count;
	double sum;
};

void metrics_observe(struct metrics_histogram *h, double seconds);
int metrics_histogram_write(struct buf *out, const char *name, const char *help,
    const struct metrics_histogram *h);

#endif
