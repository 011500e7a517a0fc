/*
 * Unit tests: Prometheus' text exposition format (lib/util/metrics.h):
 * HELP and TYPE lines, samples with an escaped label value, and the
 * histogram's cumulative buckets from 1 ms to 30 s, +Inf equal to the
 * count, as the format (version 0.0.4) wants them.
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf.h"
#include "util/metrics.h"
#include "table.h"

static void
test_family(void **state)
{
	struct buf b;

	buf_init(&b);
	assert_int_equal(metrics_family(&b, "tlspolicyd_x_total", "counter", "Things counted."), 0);
	assert_string_equal(buf_ptr(&b), "# HELP tlspolicyd_x_total Things counted.\n# TYPE tlspolicyd_x_total counter\n");
	buf_free(&b);
}

struct sample_case {
	const char *name;
	const char *label;	/* NULL: a sample without labels */
	const char *value;
	size_t len;		/* 0: strlen(value) */
	uint64_t v;
	const char *out;
};

static const struct sample_case sample_cases[] = {
	{"sample: no label", NULL, NULL, 0, 42, "m 42\n"},
	{"sample: zero", NULL, NULL, 0, 0, "m 0\n"},
	{"sample: the largest counter", NULL, NULL, 0, UINT64_MAX, "m 18446744073709551615\n"},
	{"sample: plain label value", "class", "dane-verified", 0, 7, "m{class=\"dane-verified\"} 7\n"},
	{"sample: empty label value", "dest", "", 0, 1, "m{dest=\"\"} 1\n"},
	{"sample: backslash escaped", "dest", "a\\b", 0, 1, "m{dest=\"a\\\\b\"} 1\n"},
	{"sample: double quote escaped", "dest", "a\"b", 0, 1, "m{dest=\"a\\\"b\"} 1\n"},
	{"sample: line feed escaped", "dest", "a\nb", 0, 1, "m{dest=\"a\\nb\"} 1\n"},
	{"sample: a forged sample stays in its value", "dest", "x\"} 1\nm{dest=\"y", 0, 2,
	    "m{dest=\"x\\\"} 1\\nm{dest=\\\"y\"} 2\n"},
	{"sample: an escape sequence is escaped again", "dest", "\\n", 0, 3, "m{dest=\"\\\\n\"} 3\n"},
	{"sample: UTF-8 as it is", "dest", "b\xc3\xbc" "cher.example", 0, 1,
	    "m{dest=\"b\xc3\xbc" "cher.example\"} 1\n"},
};

static const char *
sample_case_name(const void *row)
{
	return ((const struct sample_case *)row)->name;
}

static void
test_sample(void **state)
{
	const struct sample_case *c = *state;
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "before\n");
	assert_int_equal(metrics_sample(&b, "m", c->label, c->value, c->v), 0);
	assert_string_equal(buf_ptr(&b) + 7, c->out);
	buf_free(&b);
}

/* Reads the label value of a line "m{k="VALUE"} N\n" back as the format
 * defines it; -1 when the line is not one such sample. */
static int
read_label_value(const char *line, char *out, size_t size)
{
	const char *p = line;
	size_t n = 0;

	if (strncmp(p, "m{k=\"", 5) != 0)
		return -1;
	for (p += 5; *p != '"'; p++) {
		if (!*p || *p == '\n' || n + 1 >= size)
			return -1;
		if (*p == '\\') {
			p++;
			if (*p == 'n')
				out[n++] = '\n';
			else if (*p == '\\' || *p == '"')
				out[n++] = *p;
			else
				return -1;
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
	if (strcmp(p, "\"} 9\n") != 0)
		return -1;
	return (int)n;
}

/* Every byte but NUL, alone and between letters: the sample is one line,
 * and its label value reads back as exactly the value given. */
static void
test_label_every_byte(void **state)
{
	char value[4], back[16];
	struct buf b;

	buf_init(&b);
	for (unsigned c = 1; c < 256; c++) {
		for (int framed = 0; framed < 2; framed++) {
			if (framed)
				snprintf(value, sizeof(value), "a%cb", (char)c);
			else
				snprintf(value, sizeof(value), "%c", (char)c);
			buf_reset(&b);
			assert_int_equal(metrics_sample(&b, "m", "k", value, 9), 0);
			const char *nl = strchr(buf_ptr(&b), '\n');
			if (!nl || nl[1] != '\0')
				fail_msg("byte 0x%02x: not one line: %s", c, buf_ptr(&b));
			int n = read_label_value(buf_ptr(&b), back, sizeof(back));
			if (n < 0 || strcmp(back, value) != 0)
				fail_msg("byte 0x%02x: '%s' does not read back", c, buf_ptr(&b));
		}
	}
	buf_free(&b);
}

/* The finite upper bounds, in order, as the format writes them. */
static const char *const bounds[] = {
	"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "5", "10", "30",
};

struct observe_case {
	const char *name;
	double seconds;
	const char *le;		/* the smallest bucket that counts it */
};

static const struct observe_case observe_cases[] = {
	{"observe: zero", 0, "0.001"},
	{"observe: below the first bound", 0.0004, "0.001"},
	{"observe: on a bound, counted in it (le)", 0.001, "0.001"},
	{"observe: just above a bound", 0.0011, "0.0025"},
	{"observe: 37 ms", 0.037, "0.05"},
	{"observe: one second", 1, "1"},
	{"observe: a dns_timeout (10 s)", 10, "10"},
	{"observe: past dns_timeout", 10.5, "30"},
	{"observe: 30 s, the last finite bound", 30, "30"},
	{"observe: a resolution's longest, 4 x 10 s + 1 s", 41, "+Inf"},
	{"observe: an hour", 3600, "+Inf"},
};

static const char *
observe_case_name(const void *row)
{
	return ((const struct observe_case *)row)->name;
}

/* The count of bucket LE in an exposition; -1 when the line is missing. */
static long long
bucket(const char *text, const char *le)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "h_bucket{le=\"%s\"} ", le);
	if (!(p = strstr(text, key)))
		return -1;
	return strtoll(p + strlen(key), NULL, 10);
}

static void
test_observe(void **state)
{
	const struct observe_case *c = *state;
	struct metrics_histogram h = {0};
	struct buf b;
	bool counted = false;

	metrics_observe(&h, c->seconds);
	assert_int_equal(h.count, 1);
	buf_init(&b);
	assert_int_equal(metrics_histogram_write(&b, "h", "help", &h), 0);
	/* Cumulative: 0 below the bucket that counts it, 1 from there on. */
	for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
		counted |= strcmp(bounds[i], c->le) == 0;
		if (bucket(buf_ptr(&b), bounds[i]) != (counted ? 1 : 0))
			fail_msg("%g s: le=\"%s\" is %lld:\n%s", c->seconds, bounds[i], bucket(buf_ptr(&b), bounds[i]),
			    buf_ptr(&b));
	}
	assert_int_equal(bucket(buf_ptr(&b), "+Inf"), 1);
	buf_free(&b);
}

/* The whole exposition of a histogram, line for line. */
static void
test_histogram_text(void **state)
{
	struct metrics_histogram h = {0};
	struct buf b;

	metrics_observe(&h, 0.002);
	metrics_observe(&h, 0.002);
	metrics_observe(&h, 0.3);
	metrics_observe(&h, 12);
	metrics_observe(&h, 100);
	buf_init(&b);
	buf_puts(&b, "x 1\n");
	assert_int_equal(metrics_histogram_write(&b, "tlspolicyd_resolution_seconds", "Time to resolve a next hop.", &h),
	    0);
	assert_string_equal(buf_ptr(&b),
	    "x 1\n"
	    "# HELP tlspolicyd_resolution_seconds Time to resolve a next hop.\n"
	    "# TYPE tlspolicyd_resolution_seconds histogram\n"
	    "tlspolicyd_resolution_seconds_bucket{le=\"0.001\"} 0\n"
	    "tlspolicyd_resolution_seconds_bucket{le=\"0.0025\"} 2\n"
	    "tlspolicyd_resolution_seconds_bucket{le=\"0.005\"} 2\n"
	    "tlspolicyd_resolution_seconds_bucket{le=\"0.01\"} 2\n"
	    "tlspolicyd_resolution_seconds_bucket{le=\"0.025\"} 2\n"
	    "tlspolicyd_resolution_seconds_bucket{le=\"0.05\"} 2\n"
	    "tlspolicyd_resolution_seconds_bucket{le=\"0.1\"} 2\n"
	    "tlspolicyd_resolution_seconds_bucket{le=\"0.25\"} 2\n"
	    "tlspolicyd_resolution_seconds_bucket{le=\"0.5\"} 3\n"
	    "tlspolicyd_resolution_seconds_bucket{le=\"1\"} 3\n"
	    "tlspolicyd_resolution_seconds_bucket{le=\"5\"} 3\n"
	    "tlspolicyd_resolution_seconds_bucket{le=\"10\"} 3\n"
	    "tlspolicyd_resolution_seconds_bucket{le=\"30\"} 4\n"
	    "tlspolicyd_resolution_seconds_bucket{le=\"+Inf\"} 5\n"
	    "tlspolicyd_resolution_seconds_sum 112.304000\n"
	    "tlspolicyd_resolution_seconds_count 5\n");
	buf_free(&b);
}

/* Nothing observed: every bucket, the sum and the count are zero. */
static void
test_histogram_empty(void **state)
{
	struct metrics_histogram h = {0};
	struct buf b;

	buf_init(&b);
	assert_int_equal(metrics_histogram_write(&b, "h", "help", &h), 0);
	for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++)
		assert_int_equal(bucket(buf_ptr(&b), bounds[i]), 0);
	assert_int_equal(bucket(buf_ptr(&b), "+Inf"), 0);
	assert_non_null(strstr(buf_ptr(&b), "\nh_sum 0.000000\nh_count 0\n"));
	buf_free(&b);
}

/* Many observations: the buckets never decrease, +Inf is the count, and
 * the sum is the sum. */
static void
test_histogram_many(void **state)
{
	struct metrics_histogram h = {0};
	struct buf b;
	double sum = 0;
	uint32_t x = 2024;

	for (int i = 0; i < 100000; i++) {
		x = x * 1103515245u + 12345u;
		double s = (double)(x >> 8) / (double)(1u << 24) * 60.0;	/* 0 to 60 s */
		metrics_observe(&h, s);
		sum += s;
	}
	assert_int_equal(h.count, 100000);
	buf_init(&b);
	assert_int_equal(metrics_histogram_write(&b, "h", "help", &h), 0);
	long long last = 0;
	for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
		long long n = bucket(buf_ptr(&b), bounds[i]);
		if (n < last)
			fail_msg("le=\"%s\" %lld after %lld", bounds[i], n, last);
		last = n;
	}
	assert_true(bucket(buf_ptr(&b), "+Inf") >= last);
	assert_int_equal(bucket(buf_ptr(&b), "+Inf"), 100000);
	const char *p = strstr(buf_ptr(&b), "\nh_sum ");
	assert_non_null(p);
	double written = strtod(p + 7, NULL);
	if (written < sum - 0.001 || written > sum + 0.001)
		fail_msg("sum %f, want %f", written, sum);
	buf_free(&b);
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_family),
		cmocka_unit_test(test_label_every_byte),
		cmocka_unit_test(test_histogram_text),
		cmocka_unit_test(test_histogram_empty),
		cmocka_unit_test(test_histogram_many),
	};
	struct table t = {0};

	TABLE_ADD(&t, sample_cases, sample_case, test_sample);
	TABLE_ADD(&t, observe_cases, observe_case, test_observe);
	TABLE_TESTS(&t, more);
	return table_run(&t, "metrics");
}
