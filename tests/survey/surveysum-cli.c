/*
 * surveysum-cli - the survey summary (lib/survey/surveysum.h) on a file, for
 * tests/survey/t-report.sh until `tlspolicy survey --summarize` exists:
 *
 *   surveysum-cli [--title T] [--html OUT] [--json OUT] [--text OUT] FILE.jsonl
 *       reads FILE ("-": standard input), reports each rejected line as
 *       "FILE:LINE: why" on standard error and writes what it is asked
 *       for ("-": standard output). Exit 0, or 1 when out of memory or on
 *       an I/O error, 2 on a usage error.
 *   surveysum-cli --flatten FILE.json
 *       prints every number and string of a JSON document, one a line, as
 *       "path<TAB>value" (path: members and indexes joined with '.', as
 *       the report's data-key attributes name them), so that a shell test
 *       can compare without a JSON tool.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/buf.h"
#include "survey/surveyhtml.h"
#include "survey/surveyjson.h"
#include "survey/surveysum.h"
#include "survey/surveytext.h"

static void
usage(void)
{
	fprintf(stderr, "usage: surveysum-cli [--title T] [--html OUT] [--json OUT] [--text OUT] FILE.jsonl\n"
	    "       surveysum-cli --flatten FILE.json\n");
	exit(2);
}

static void
flatten(json_t *v, struct buf *path)
{
	size_t len = buf_size(path);

	if (json_is_object(v)) {
		const char *key;
		json_t *member;
		json_object_foreach(v, key, member) {
			buf_truncate(path, len);
			if (len)
				buf_putc(path, '.');
			buf_puts(path, key);
			flatten(member, path);
		}
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++) {
			buf_truncate(path, len);
			buf_printf(path, "%s%zu", len ? "." : "", i);
			flatten(json_array_get(v, i), path);
		}
	} else if (json_is_integer(v)) {
		printf("%s\t%lld\n", buf_ptr(path), (long long)json_integer_value(v));
	} else if (json_is_string(v)) {
		printf("%s\t%s\n", buf_ptr(path), json_string_value(v));
	}
	buf_truncate(path, len);
}

static int
write_out(const char *name, const struct buf *b)
{
	FILE *f = strcmp(name, "-") == 0 ? stdout : fopen(name, "w");

	if (!f || fwrite(buf_ptr(b), 1, buf_size(b), f) != buf_size(b) || (f != stdout ? fclose(f) : fflush(f)) != 0) {
		fprintf(stderr, "surveysum-cli: %s: %s\n", name, strerror(errno));
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *title = NULL, *html = NULL, *json = NULL, *text = NULL, *flat = NULL;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--title") == 0)
			title = argv[++i];
		else if (strcmp(argv[i], "--html") == 0)
			html = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			json = argv[++i];
		else if (strcmp(argv[i], "--text") == 0)
			text = argv[++i];
		else if (strcmp(argv[i], "--flatten") == 0)
			flat = argv[++i];
		else
			usage();
	}
	if (flat) {
		json_error_t err;
		struct buf path;
		json_t *doc = json_load_file(flat, 0, &err);
		if (i != argc)
			usage();
		if (!doc) {
			fprintf(stderr, "surveysum-cli: %s:%d: %s\n", flat, err.line, err.text);
			return 1;
		}
		buf_init(&path);
		flatten(doc, &path);
		buf_free(&path);
		json_decref(doc);
		return 0;
	}
	if (i != argc - 1)
		usage();

	const char *name = argv[i];
	FILE *in = strcmp(name, "-") == 0 ? stdin : fopen(name, "r");
	if (!in) {
		fprintf(stderr, "surveysum-cli: %s: %s\n", name, strerror(errno));
		return 1;
	}
	struct surveysum *s = surveysum_create();
	if (!s) {
		fprintf(stderr, "surveysum-cli: out of memory, or libpsl has no Public Suffix List\n");
		return 1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned long lineno = 0;
	int status = 0;
	while ((n = getline(&line, &cap, in)) >= 0) {
		const char *why;
		lineno++;
		int rc = surveysum_add_line(s, line, (size_t)n, &why);
		if (rc == SURVEYSUM_BAD)
			fprintf(stderr, "%s:%lu: %s\n", name, lineno, why);
		else if (rc < 0) {
			fprintf(stderr, "%s:%lu: %s\n", name, lineno, why);
			status = 1;
			break;
		}
	}
	if (ferror(in)) {
		fprintf(stderr, "surveysum-cli: %s: %s\n", name, strerror(errno));
		status = 1;
	}
	free(line);
	if (in != stdin)
		fclose(in);

	const struct surveysum_result *r = status ? NULL : surveysum_finish(s);
	if (!status && !r) {
		fprintf(stderr, "surveysum-cli: out of memory\n");
		status = 1;
	}
	struct buf out;
	buf_init(&out);
	if (!status && html && (surveyhtml_write(r, &out, title) < 0 || write_out(html, &out) < 0))
		status = 1;
	buf_reset(&out);
	if (!status && json && (surveyjson_write(r, &out) < 0 || write_out(json, &out) < 0))
		status = 1;
	buf_reset(&out);
	if (!status && text && (surveytext_write(r, &out) < 0 || write_out(text, &out) < 0))
		status = 1;
	buf_free(&out);
	surveysum_free(s);
	return status;
}
