/* metrics - Prometheus text exposition; see metrics.h. */
#include "autoconfig.h"

#include "util/metrics.h"

static const double bounds[METRICS_BUCKETS - 1] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 10, 30,
};

int
metrics_family(struct buf *out, const char *name, const char *type, const char *help)
{
	return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int
label_value(struct buf *out, const char *v)
{
	for (; *v; v++) {
		int rc = *v == '\\' ? buf_puts(out, "\\\\") : *v == '"' ? buf_puts(out, "\\\"")
		    : *v == '\n' ? buf_puts(out, "\\n") : buf_putc(out, *v);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int
metrics_sample(struct buf *out, const char *name, const char *label, const char *value, uint64_t v)
{
	buf_puts(out, name);
	if (label) {
		buf_printf(out, "{%s=\"", label);
		label_value(out, value);
		buf_puts(out, "\"}");
	}
	buf_putc(out, ' ');
	buf_put_uint(out, v, 1);
	return buf_putc(out, '\n');
}

void
metrics_observe(struct metrics_histogram *h, double seconds)
{
	size_t i = 0;

	while (i < METRICS_BUCKETS - 1 && seconds > bounds[i])
		i++;
	h->buckets[i]++;
	h->count++;
	h->sum += seconds;
}

int
metrics_histogram_write(struct buf *out, const char *name, const char *help, const struct metrics_histogram *h)
{
	uint64_t cumulative = 0;

	metrics_family(out, name, "histogram", help);
	for (size_t i = 0; i < METRICS_BUCKETS; i++) {
		cumulative += h->buckets[i];
		if (i < METRICS_BUCKETS - 1)
			buf_printf(out, "%s_bucket{le=\"%g\"} ", name, bounds[i]);
		else
			buf_printf(out, "%s_bucket{le=\"+Inf\"} ", name);
		buf_put_uint(out, cumulative, 1);
		buf_putc(out, '\n');
	}
	buf_printf(out, "%s_sum %.6f\n%s_count ", name, h->sum, name);
	buf_put_uint(out, h->count, 1);
	return buf_putc(out, '\n');
}
