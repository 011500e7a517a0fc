/* libFuzzer: what the daemon reads back from its state directory at start
 * - the cache snapshot, the probe history, and the trailer that guards
 * both. Any text restores without harm; what it restored, written out and
 * restored again, writes out the same lines (in any order: both stores
 * are hash tables); and a file is accepted only with the trailer its
 * writer gives it. */
#include "autoconfig.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "serve/policymap.h"
#include "probe/probestate.h"
#include "util/statefile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Fixed clocks: the round trip is then exact to the second. */
static const uint64_t monotonic_now_ms = 1000000000000ull;
static const int64_t wall_now_s = 1800000000;

static uint64_t
fixed_monotonic(void *arg)
{
	(void)arg;
	return monotonic_now_ms;
}

static int64_t
fixed_wall(void *arg)
{
	(void)arg;
	return wall_now_s;
}

static int
compare_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The text's lines sorted, as one NUL-separated string in sorted. */
static void
sort_lines(const struct buf *text, struct buf *sorted)
{
	char *copy = malloc(buf_size(text) + 1);
	size_t n = 0, cap = 16;
	char **lines = malloc(cap * sizeof(*lines));

	if (!copy || !lines)
		abort();
	memcpy(copy, buf_ptr(text), buf_size(text));
	copy[buf_size(text)] = '\0';
	for (char *save, *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (n == cap && !(lines = realloc(lines, (cap *= 2) * sizeof(*lines))))
			abort();
		lines[n++] = line;
	}
	qsort(lines, n, sizeof(*lines), compare_lines);
	buf_reset(sorted);
	for (size_t i = 0; i < n; i++)
		buf_append(sorted, lines[i], strlen(lines[i]) + 1);
	free(lines);
	free(copy);
}

static bool
same_lines(const struct buf *a, const struct buf *b)
{
	struct buf sa, sb;
	bool same;

	buf_init(&sa);
	buf_init(&sb);
	sort_lines(a, &sa);
	sort_lines(b, &sb);
	same = buf_size(&sa) == buf_size(&sb) && memcmp(buf_ptr(&sa), buf_ptr(&sb), buf_size(&sa)) == 0;
	buf_free(&sa);
	buf_free(&sb);
	return same;
}

static size_t
count_lines(const struct buf *b)
{
	size_t n = 0;

	for (size_t i = 0; i < buf_size(b); i++)
		n += buf_ptr(b)[i] == '\n';
	return n;
}

static struct policymap *
new_policymap(struct config *cfg)
{
	static const unsigned char seed[16] = "fuzz-state-seed";
	struct policymap *pm = policymap_create(NULL, cfg, seed, fixed_monotonic, NULL);

	if (!pm)
		abort();
	policymap_set_wall_clock(pm, fixed_wall, NULL);
	return pm;
}

static void
cache_snapshot(const char *text, size_t len, struct config *cfg)
{
	struct policymap *first = new_policymap(cfg), *second = new_policymap(cfg);
	struct buf out1, out2;

	buf_init(&out1);
	buf_init(&out2);
	policymap_restore(first, text, len);
	if (policymap_snapshot(first, &out1) < 0)
		abort();
	/* Every line the daemon writes, it takes back. */
	if (policymap_restore(second, buf_ptr(&out1), buf_size(&out1)) != count_lines(&out1))
		__builtin_trap();
	if (policymap_snapshot(second, &out2) < 0 || !same_lines(&out1, &out2))
		__builtin_trap();
	buf_free(&out1);
	buf_free(&out2);
	policymap_free(first);
	policymap_free(second);
}

static void
probe_history(const char *text, size_t len)
{
	struct probestate *first = probestate_create(1000), *second = probestate_create(1000);
	struct buf out1, out2;

	if (!first || !second)
		abort();
	buf_init(&out1);
	buf_init(&out2);
	probestate_restore(first, text, len, wall_now_s);
	probestate_format(first, &out1);
	if (probestate_restore(second, buf_ptr(&out1), buf_size(&out1), wall_now_s) != (int)count_lines(&out1))
		__builtin_trap();
	probestate_format(second, &out2);
	if (!same_lines(&out1, &out2))
		__builtin_trap();
	buf_free(&out1);
	buf_free(&out2);
	probestate_free(first);
	probestate_free(second);
}

static void
trailer(const char *text, size_t len)
{
	struct buf file;
	const char *why = NULL;

	buf_init(&file);
	/* As read from disk: damaged, or content that is a prefix of it. */
	buf_append(&file, text, len);
	int rc = statefile_unseal(&file, &why);
	if (rc == STATEFILE_OK ? buf_size(&file) >= len || memcmp(buf_ptr(&file), text, buf_size(&file)) != 0
	    : rc != STATEFILE_DAMAGED || !why || buf_size(&file) != len)
		__builtin_trap();
	/* As its writer seals it: accepted, and the content comes back whole. */
	const char *nl = memrchr(text, '\n', len);
	size_t lines = nl ? (size_t)(nl - text) + 1 : 0;
	buf_reset(&file);
	buf_append(&file, text, lines);
	if (statefile_seal(&file) < 0 || statefile_unseal(&file, &why) != STATEFILE_OK ||
	    buf_size(&file) != lines || memcmp(buf_ptr(&file), text, lines) != 0)
		__builtin_trap();
	buf_free(&file);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config *cfg;

	if (!cfg && !(cfg = config_defaults()))
		abort();
	cache_snapshot((const char *)data, size, cfg);
	probe_history((const char *)data, size);
	trailer((const char *)data, size);
	return 0;
}
