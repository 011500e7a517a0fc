/* Unit tests: following a log file across appends, partial lines, rotation
 * by rename and by truncation, a file that appears later, long lines; and
 * standard input through a pipe. Each scenario is a row of steps. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/tail.h"
#include "table.h"

/* What the callback got. */
struct got {
	size_t n, cap;
	char **lines;
	size_t *lens;
};

static void
on_line(void *arg, const char *text, size_t len)
{
	struct got *g = arg;

	assert_true(len <= TAIL_MAX_LINE);
	assert_int_equal(text[len], '\0');
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 16;
		g->lines = realloc(g->lines, g->cap * sizeof(*g->lines));
		g->lens = realloc(g->lens, g->cap * sizeof(*g->lens));
		assert_non_null(g->lines);
		assert_non_null(g->lens);
	}
	g->lines[g->n] = malloc(len + 1);
	assert_non_null(g->lines[g->n]);
	memcpy(g->lines[g->n], text, len + 1);
	g->lens[g->n++] = len;
}

static void
got_clear(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->lines[i]);
	free(g->lines);
	free(g->lens);
	memset(g, 0, sizeof(*g));
}

/* The lines joined with '|', for comparing with a row. */
static char *
got_joined(const struct got *g)
{
	size_t total = 1;

	for (size_t i = 0; i < g->n; i++)
		total += g->lens[i] + 1;
	char *s = malloc(total), *p = s;
	assert_non_null(s);
	for (size_t i = 0; i < g->n; i++) {
		if (i)
			*p++ = '|';
		memcpy(p, g->lines[i], g->lens[i]);
		p += g->lens[i];
	}
	*p = '\0';
	return s;
}

/* A scratch directory per test. */
struct dir {
	char path[64];
	char file[96], rotated[96];
};

static void
dir_make(struct dir *d)
{
	assert_non_null(table_tmpdir(d->path, sizeof(d->path), "test_tail"));
	snprintf(d->file, sizeof(d->file), "%s/maillog", d->path);
	snprintf(d->rotated, sizeof(d->rotated), "%s/maillog.1", d->path);
}

static void
dir_remove(struct dir *d)
{
	unlink(d->file);
	unlink(d->rotated);
	rmdir(d->path);
}

static void
put(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		assert_true(w > 0);
		s += w;
		n -= (size_t)w;
	}
}

static int
open_writer(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	return fd;
}

/* ---------------------------------------------------------------- scenarios
 *
 * Steps, each a letter and its text:
 *   W text   the writer appends text (to whatever file it has open)
 *   O text   the previous writer (before the last N) appends text
 *   N        a new writer: creates the file at the path anew
 *   R        renames the file to maillog.1 (logrotate's default)
 *   T        truncates the file through the writer (copytruncate)
 *   D        deletes the file
 *   P lines  a poll, which must hand over exactly these lines, '|'-joined
 *            ("" for none)
 */
struct step {
	char op;
	const char *text;
};

struct scenario_case {
	const char *name;
	bool exists;			/* the file is there before tail_open() */
	const char *before;		/* what it holds then */
	bool from_end;
	struct step steps[16];
};

static const struct scenario_case scenario_cases[] = {
	{"append: two lines, then one", true, "", false,
	    {{'W', "a\nb\n"}, {'P', "a|b"}, {'W', "c\n"}, {'P', "c"}, {'P', ""}}},
	{"from the start: what was there is read", true, "old 1\nold 2\n", false,
	    {{'P', "old 1|old 2"}, {'W', "new\n"}, {'P', "new"}}},
	{"from the end: what was there is skipped", true, "old 1\nold 2\n", true,
	    {{'P', ""}, {'W', "new\n"}, {'P', "new"}}},
	{"empty lines are lines", true, "", false, {{'W', "\n\nx\n"}, {'P', "||x"}}},
	{"partial line across polls", true, "", false,
	    {{'W', "ab"}, {'P', ""}, {'W', "c\nd"}, {'P', "abc"}, {'W', "e\n"}, {'P', "de"}}},
	{"rename: written to the old file after the rename, before the poll", true, "", false,
	    {{'W', "1\n"}, {'P', "1"}, {'W', "2\n"}, {'R', NULL}, {'W', "3\n"}, {'N', NULL}, {'W', "4\n"},
		{'P', "2|3|4"}, {'O', "5\n"}, {'W', "6\n"}, {'P', "5|6"}, {'P', ""}}},
	{"rename: the new file not there yet at the poll", true, "", false,
	    {{'W', "1\n"}, {'P', "1"}, {'R', NULL}, {'W', "2\n"}, {'P', "2"}, {'N', NULL}, {'W', "3\n"},
		{'P', "3"}, {'P', ""}}},
	{"rename: a partial line of the old file completed later", true, "", false,
	    {{'W', "1\npar"}, {'P', "1"}, {'R', NULL}, {'N', NULL}, {'W', "new\n"}, {'P', "new"},
		{'O', "tial\n"}, {'P', "partial"}}},
	{"rename from the end: the new file is read from its start", true, "skipped\n", true,
	    {{'P', ""}, {'W', "1\n"}, {'R', NULL}, {'N', NULL}, {'W', "2\n"}, {'P', "1|2"}}},
	{"truncation: read again from the start", true, "", false,
	    {{'W', "1\n2\n3\n"}, {'P', "1|2|3"}, {'T', NULL}, {'W', "4\n"}, {'P', "4"}, {'W', "5\n"}, {'P', "5"}}},
	{"truncation: the old content's partial line is dropped", true, "", false,
	    {{'W', "1\n22"}, {'P', "1"}, {'T', NULL}, {'W', "3\n"}, {'P', "3"}}},
	{"missing file appears later, read from its start", false, NULL, true,
	    {{'P', ""}, {'P', ""}, {'N', NULL}, {'W', "1\n2\n"}, {'P', "1|2"}, {'W', "3\n"}, {'P', "3"}}},
	{"deleted, then created again", true, "", false,
	    {{'W', "1\n"}, {'P', "1"}, {'D', NULL}, {'W', "2\n"}, {'P', "2"}, {'N', NULL}, {'W', "3\n"},
		{'P', "3"}}},
};

static const char *
scenario_case_name(const void *row)
{
	return ((const struct scenario_case *)row)->name;
}

static void
test_scenario(void **state)
{
	const struct scenario_case *c = *state;
	struct dir d;
	int writer = -1, old = -1;

	dir_make(&d);
	if (c->exists) {
		writer = open_writer(d.file);
		put(writer, c->before, strlen(c->before));
	}
	struct tail *t = tail_open(d.file, c->from_end);
	assert_non_null(t);
	assert_int_equal(tail_fd(t), -1);
	for (size_t i = 0; i < sizeof(c->steps) / sizeof(c->steps[0]) && c->steps[i].op; i++) {
		const struct step *s = &c->steps[i];
		switch (s->op) {
		case 'W':
			put(writer, s->text, strlen(s->text));
			break;
		case 'O':
			put(old, s->text, strlen(s->text));
			break;
		case 'N':
			if (old >= 0)
				close(old);
			old = writer;
			writer = open_writer(d.file);
			break;
		case 'R':
			assert_int_equal(rename(d.file, d.rotated), 0);
			break;
		case 'T':
			assert_int_equal(ftruncate(writer, 0), 0);
			break;
		case 'D':
			assert_int_equal(unlink(d.file), 0);
			break;
		case 'P': {
			struct got g = {0};
			int n = tail_poll(t, on_line, &g);
			char *joined = got_joined(&g);
			if (strcmp(joined, s->text) != 0)
				fail_msg("step %zu: got \"%s\", want \"%s\"", i, joined, s->text);
			assert_int_equal(n, (int)g.n);
			free(joined);
			got_clear(&g);
			break;
		}
		default:
			fail_msg("bad step '%c'", s->op);
		}
	}
	assert_false(tail_eof(t));
	tail_close(t);
	if (writer >= 0)
		close(writer);
	if (old >= 0)
		close(old);
	dir_remove(&d);
}

/* ---------------------------------------------------------------- long lines */

struct long_case {
	const char *name;
	size_t sizes[4];		/* bytes of 'x' written, then a newline, one poll each; 0 ends */
	bool newline[4];		/* whether that write ends with a newline */
	size_t want[4];			/* lengths of the lines handed over, in all */
	size_t nwant;
};

static const struct long_case long_cases[] = {
	{"long line: exactly TAIL_MAX_LINE is whole", {TAIL_MAX_LINE}, {true}, {TAIL_MAX_LINE}, 1},
	{"long line: one byte more is cut", {TAIL_MAX_LINE + 1}, {true}, {TAIL_MAX_LINE}, 1},
	{"long line: 20000 bytes cut, the next line whole", {20000, 5}, {true, true}, {TAIL_MAX_LINE, 5}, 2},
	{"long line: cut across polls, the rest dropped", {5000, 5000, 5000, 3}, {false, false, true, true},
	    {TAIL_MAX_LINE, 3}, 2},
	{"long line: a megabyte in one write", {1 << 20, 7}, {true, true}, {TAIL_MAX_LINE, 7}, 2},
};

static const char *
long_case_name(const void *row)
{
	return ((const struct long_case *)row)->name;
}

static void
test_long(void **state)
{
	const struct long_case *c = *state;
	struct dir d;
	struct got g = {0};

	dir_make(&d);
	int writer = open_writer(d.file);
	struct tail *t = tail_open(d.file, false);
	assert_non_null(t);
	for (size_t i = 0; i < 4 && c->sizes[i]; i++) {
		char *x = malloc(c->sizes[i] + 1);
		assert_non_null(x);
		memset(x, 'x', c->sizes[i]);
		x[c->sizes[i]] = '\n';
		put(writer, x, c->sizes[i] + (c->newline[i] ? 1 : 0));
		free(x);
		assert_true(tail_poll(t, on_line, &g) >= 0);
	}
	assert_int_equal(g.n, c->nwant);
	for (size_t i = 0; i < g.n; i++) {
		assert_int_equal(g.lens[i], c->want[i]);
		for (size_t j = 0; j < g.lens[i]; j++)
			assert_int_equal(g.lines[i][j], 'x');
	}
	got_clear(&g);
	tail_close(t);
	close(writer);
	dir_remove(&d);
}

/* ---------------------------------------------------------------- plain tests */

/* Standard input through a pipe: never blocks, the last line without a
 * newline is handed over at the end, and the end is reported. */
static void
test_stdin_pipe(void **state)
{
	int p[2], saved = dup(STDIN_FILENO);
	struct got g = {0};

	assert_true(saved >= 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(dup2(p[0], STDIN_FILENO), STDIN_FILENO);
	close(p[0]);
	struct tail *t = tail_open("-", false);
	assert_non_null(t);
	assert_int_equal(tail_fd(t), STDIN_FILENO);
	assert_true(fcntl(STDIN_FILENO, F_GETFL) & O_NONBLOCK);

	assert_int_equal(tail_poll(t, on_line, &g), 0);	/* nothing yet: returns at once */
	put(p[1], "a\nb", 3);
	assert_int_equal(tail_poll(t, on_line, &g), 1);
	assert_int_equal(tail_poll(t, on_line, &g), 0);
	assert_false(tail_eof(t));
	put(p[1], "c\nd", 3);
	close(p[1]);
	assert_int_equal(tail_poll(t, on_line, &g), 2);
	assert_true(tail_eof(t));
	assert_int_equal(tail_poll(t, on_line, &g), 0);
	assert_true(tail_eof(t));
	char *joined = got_joined(&g);
	assert_string_equal(joined, "a|bc|d");
	free(joined);
	got_clear(&g);

	tail_close(t);
	assert_false(fcntl(STDIN_FILENO, F_GETFL) & O_NONBLOCK);
	assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	close(saved);
}

static void
test_open_errors(void **state)
{
	struct dir d;

	dir_make(&d);
	errno = 0;
	assert_null(tail_open(d.path, false));
	assert_int_equal(errno, EISDIR);
	/* A file under a file: not a file that may appear later. */
	char under[128];
	int fd = open_writer(d.file);
	close(fd);
	snprintf(under, sizeof(under), "%s/x", d.file);
	errno = 0;
	assert_null(tail_open(under, false));
	assert_int_equal(errno, ENOTDIR);
	/* A missing directory is no error: the file may appear later. */
	snprintf(under, sizeof(under), "%s/later/maillog", d.path);
	struct tail *t = tail_open(under, true);
	assert_non_null(t);
	struct got g = {0};
	assert_int_equal(tail_poll(t, on_line, &g), 0);
	tail_close(t);
	dir_remove(&d);
}

/* 200 000 numbered lines written in uneven chunks, rotated by rename every
 * 50 000 lines, polled between chunks: all of them, in order, once. */
static void
test_many_lines_with_rotation(void **state)
{
	struct dir d;
	struct got g = {0};
	char chunk[8192];
	size_t next = 0, total = 200000, polls = 0;

	dir_make(&d);
	int writer = open_writer(d.file), old = -1;
	struct tail *t = tail_open(d.file, false);
	assert_non_null(t);
	srand(7);
	while (next < total) {
		size_t len = 0, want = 1 + (size_t)rand() % 300;
		while (want-- && next < total) {
			len += (size_t)snprintf(chunk + len, sizeof(chunk) - len, "line %zu\n", next);
			next++;
			if (next % 50000 == 0) {
				put(writer, chunk, len);
				len = 0;
				unlink(d.rotated);
				assert_int_equal(rename(d.file, d.rotated), 0);
				if (old >= 0)
					close(old);
				old = writer;
				writer = open_writer(d.file);
			}
		}
		/* Some of it cut mid-line: the rest comes with the next chunk. */
		size_t cut = len ? (size_t)rand() % len : 0;
		put(writer, chunk, cut);
		assert_true(tail_poll(t, on_line, &g) >= 0);
		put(writer, chunk + cut, len - cut);
		polls++;
	}
	assert_true(tail_poll(t, on_line, &g) >= 0);
	assert_int_equal(g.n, total);
	for (size_t i = 0; i < g.n; i++) {
		char want[32];
		snprintf(want, sizeof(want), "line %zu", i);
		if (strcmp(g.lines[i], want) != 0)
			fail_msg("line %zu: \"%s\", want \"%s\"", i, g.lines[i], want);
	}
	print_message("# %zu lines over %zu polls and 4 rotations\n", total, polls);
	got_clear(&g);
	tail_close(t);
	close(writer);
	if (old >= 0)
		close(old);
	dir_remove(&d);
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_stdin_pipe),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_many_lines_with_rotation),
	};
	struct table t = {0};

	TABLE_ADD(&t, scenario_cases, scenario_case, test_scenario);
	TABLE_ADD(&t, long_cases, long_case, test_long);
	TABLE_TESTS(&t, more);
	return table_run(&t, "tail");
}
