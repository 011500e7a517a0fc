/* badfiles - files a loader must refuse; see badfiles.h. */
#include "autoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "badfiles.h"
#include "table.h"

#define MAX_EXPECT 16

struct badfile {
	char *name;		/* the TAP name */
	char *path;
	const struct badfiles *set;
};

struct badfiles {
	char dir[4096];
	char suffix[16];
	size_t at_least;
	badfiles_loader load;
	int dir_errno;		/* opendir() failed */
	struct badfile *files;
	size_t n;
	struct badfile found;	/* the row of the count test */
};

struct expect {
	unsigned line;		/* 0: the message names no line */
	char text[512];
};

/* Failures are reported after freeing, so that valgrind stays quiet even
 * on a failing row. */
static char failure[8192];

static const char *
badfile_name(const void *row)
{
	return ((const struct badfile *)row)->name;
}

static int
by_path(const void *a, const void *b)
{
	return strcmp(((const struct badfile *)a)->path, ((const struct badfile *)b)->path);
}

/* buf_detach() of a buf holding what was printed into it. */
static char *
detach(struct buf *s, int rc)
{
	if (rc < 0)
		abort();
	return buf_detach(s);
}

static bool
is_bad_file(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);

	return strncmp(name, "bad-", 4) == 0 && n > 4 + s && strcmp(name + n - s, suffix) == 0;
}

static void
find(struct badfiles *bf)
{
	DIR *d = opendir(bf->dir);
	struct dirent *e;
	size_t cap = 0;

	if (!d) {
		bf->dir_errno = errno ? errno : -1;
		return;
	}
	while ((e = readdir(d))) {
		if (!is_bad_file(e->d_name, bf->suffix))
			continue;
		if (bf->n == cap) {
			cap = cap ? 2 * cap : 32;
			bf->files = realloc(bf->files, cap * sizeof(*bf->files));
			if (!bf->files)
				abort();
		}
		struct badfile *f = &bf->files[bf->n++];
		struct buf s;
		buf_init(&s);
		f->name = detach(&s, buf_printf(&s, "bad file: %s", e->d_name));
		f->path = detach(&s, buf_printf(&s, "%s/%s", bf->dir, e->d_name));
		f->set = bf;
	}
	closedir(d);
	if (bf->n)
		qsort(bf->files, bf->n, sizeof(*bf->files), by_path);
}

/* The leading "# expect: LINE: TEXT" lines of a file; 0 and a message in
 * failure when one is malformed or the file cannot be read. */
static size_t
read_expects(const char *path, struct expect *out)
{
	static const char tag[] = "# expect: ";
	FILE *f = fopen(path, "r");
	char line[1024];
	size_t n = 0;

	if (!f) {
		snprintf(failure, sizeof(failure), "cannot open %s", path);
		return 0;
	}
	while (n < MAX_EXPECT && fgets(line, sizeof(line), f)) {
		if (strncmp(line, tag, sizeof(tag) - 1) != 0)
			break;
		char *p = line + sizeof(tag) - 1;
		char *colon = strstr(p, ": ");
		if (!colon) {
			snprintf(failure, sizeof(failure), "%s: malformed expect line: %s", path, line);
			n = 0;
			break;
		}
		*colon = '\0';
		if (strcmp(p, "-") == 0) {
			out[n].line = 0;
		} else {
			char *end;
			unsigned long l = strtoul(p, &end, 10);
			if (*end || l == 0 || l > 1000000) {
				snprintf(failure, sizeof(failure), "%s: bad line number in expect: %s", path, p);
				n = 0;
				break;
			}
			out[n].line = (unsigned)l;
		}
		char *text = colon + 2;
		text[strcspn(text, "\r\n")] = '\0';
		snprintf(out[n].text, sizeof(out[n].text), "%s", text);
		n++;
	}
	fclose(f);
	return n;
}

size_t
badfiles_count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

bool
badfiles_has_error(const char *errors, const char *prefix, const char *text)
{
	size_t plen = strlen(prefix);

	for (const char *line = errors; *line;) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		if (n >= plen && memcmp(line, prefix, plen) == 0) {
			char *copy = strndup(line, n);
			if (!copy)
				abort();
			bool found = strstr(copy + plen, text) != NULL;
			free(copy);
			if (found)
				return true;
		}
		line += n + (nl ? 1 : 0);
	}
	return false;
}

static void
test_bad_file(void **state)
{
	const struct badfile *b = *state;
	struct expect expects[MAX_EXPECT];
	struct buf errors, prefix;

	failure[0] = '\0';
	size_t n = read_expects(b->path, expects);
	buf_init(&errors);
	buf_init(&prefix);
	bool accepted = b->set->load(b->path, &errors);
	buf_terminate(&errors);
	if (failure[0])
		;
	else if (n == 0)
		snprintf(failure, sizeof(failure), "%s has no '# expect: LINE: TEXT' first line", b->path);
	else if (accepted)
		snprintf(failure, sizeof(failure), "%s was accepted", b->path);
	for (size_t i = 0; i < n && !failure[0]; i++) {
		buf_reset(&prefix);
		if (expects[i].line)
			buf_printf(&prefix, "%s:%u: ", b->path, expects[i].line);
		else
			buf_printf(&prefix, "%s: ", b->path);
		if (!badfiles_has_error(buf_ptr(&errors), buf_ptr(&prefix), expects[i].text))
			snprintf(failure, sizeof(failure), "no error \"%s...%s\" in:\n%s", buf_ptr(&prefix),
			    expects[i].text, buf_ptr(&errors));
	}
	/* Every error is reported, and nothing else. */
	if (!failure[0] && badfiles_count_lines(buf_ptr(&errors)) != n)
		snprintf(failure, sizeof(failure), "%zu errors, want %zu:\n%s", badfiles_count_lines(buf_ptr(&errors)), n,
		    buf_ptr(&errors));
	buf_free(&errors);
	buf_free(&prefix);
	if (failure[0])
		fail_msg("%s", failure);
}

static void
test_found(void **state)
{
	const struct badfile *row = *state;
	const struct badfiles *bf = row->set;

	if (bf->dir_errno)
		fail_msg("cannot open %s: %s (set top_srcdir)", bf->dir, strerror(bf->dir_errno));
	if (bf->n < bf->at_least)
		fail_msg("only %zu bad-*%s files in %s, want at least %zu", bf->n, bf->suffix, bf->dir, bf->at_least);
}

struct badfiles *
badfiles_add(struct table *t, const char *sub, const char *suffix, size_t at_least, badfiles_loader load)
{
	struct badfiles *bf = calloc(1, sizeof(*bf));

	if (!bf)
		abort();
	table_data_dir(bf->dir, sizeof(bf->dir), sub);
	snprintf(bf->suffix, sizeof(bf->suffix), "%s", suffix);
	bf->at_least = at_least;
	bf->load = load;
	find(bf);
	struct buf s;
	buf_init(&s);
	bf->found.name = detach(&s, buf_printf(&s, "bad files: at least %zu in tests/%s", at_least, sub));
	bf->found.set = bf;
	table_add_rows(t, &bf->found, sizeof(bf->found), 1, badfile_name, test_found);
	if (bf->n)
		table_add_rows(t, bf->files, sizeof(bf->files[0]), bf->n, badfile_name, test_bad_file);
	return bf;
}

void
badfiles_free(struct badfiles *bf)
{
	if (!bf)
		return;
	for (size_t i = 0; i < bf->n; i++) {
		free(bf->files[i].name);
		free(bf->files[i].path);
	}
	free(bf->files);
	free(bf->found.name);
	free(bf);
}
