/*
 * Unit tests: the JSON writer (lib/util/jsonw.h). Strings as they are
 * escaped; documents built by scripts, with the text they must give; and
 * scripts that break the nesting, which must fail, stay failed, and leave
 * jsonw_done() saying so.
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/jsonw.h"
#include "table.h"

struct str_case {
	const char *name;
	const char *in;		/* NULL: null */
	const char *out;
};

static const struct str_case str_cases[] = {
	{"plain", "mx1.example.org", "\"mx1.example.org\""},
	{"empty", "", "\"\""},
	{"NULL is null", NULL, "null"},
	{"quote and backslash", "a\"b\\c", "\"a\\\"b\\\\c\""},
	{"newline", "a\nb", "\"a\\nb\""},
	{"tab and carriage return as \\u", "a\tb\rc", "\"a\\u0009b\\u000dc\""},
	{"other control characters", "\x01\x1f", "\"\\u0001\\u001f\""},
	{"DEL", "a\x7f", "\"a\\u007f\""},
	{"UTF-8 passes", "b\xc3\xbc" "cher", "\"b\xc3\xbc" "cher\""},
	{"bytes that are not UTF-8 pass too", "\xff\xfe", "\"\xff\xfe\""},
	{"slash stays", "a/b", "\"a/b\""},
	{"a name's own quotes", "</script>\"", "\"</script>\\\"\""},
};

static const char *
str_case_name(const void *row)
{
	return ((const struct str_case *)row)->name;
}

static void
test_str(void **state)
{
	const struct str_case *c = *state;
	struct buf b;
	struct jsonw j;

	buf_init(&b);
	assert_int_equal(jsonw_quote(&b, c->in), 0);
	buf_terminate(&b);
	assert_string_equal(buf_ptr(&b), c->out);
	/* The writer escapes the same way, names too. */
	buf_reset(&b);
	jsonw_init(&j, &b);
	assert_int_equal(jsonw_array(&j, NULL), 0);
	assert_int_equal(jsonw_string(&j, NULL, c->in), 0);
	assert_int_equal(jsonw_array_end(&j), 0);
	buf_terminate(&b);
	assert_int_equal(strlen(buf_ptr(&b)), strlen(c->out) + 2);
	assert_memory_equal(buf_ptr(&b) + 1, c->out, strlen(c->out));
	if (c->in) {
		buf_reset(&b);
		jsonw_init(&j, &b);
		jsonw_object(&j, NULL);
		jsonw_null(&j, c->in);
		jsonw_object_end(&j);
		buf_terminate(&b);
		assert_memory_equal(buf_ptr(&b) + 1, c->out, strlen(c->out));
	}
	buf_free(&b);
}

/* A script: each step names its kind, its member name (NULL outside
 * objects) and its argument. */
enum op { END, OBJ, OBJ_END, ARR, ARR_END, STR, UINT, INT, BOOL, NUL, RAW };

struct step {
	enum op op;
	const char *name;
	const char *s;		/* STR, RAW */
	int64_t n;		/* UINT (as unsigned), INT, BOOL */
};

struct doc_case {
	const char *name;
	struct step steps[16];
	const char *out;	/* what was written up to the failure, if any */
	int fails_at;		/* the step that must fail, counted from 1; 0: none */
	bool done;		/* jsonw_done() after the script */
};

static const struct doc_case doc_cases[] = {
	{"empty object", {{OBJ}, {OBJ_END}}, "{}", 0, true},
	{"empty array", {{ARR}, {ARR_END}}, "[]", 0, true},
	{"members get commas between", {{OBJ}, {STR, "host", "mx.example"}, {UINT, "port", NULL, 25},
	    {BOOL, "pkix", NULL, 1}, {NUL, "error"}, {OBJ_END}},
	    "{\"host\":\"mx.example\",\"port\":25,\"pkix\":true,\"error\":null}", 0, true},
	{"elements too", {{ARR}, {UINT, NULL, NULL, 1}, {STR, NULL, NULL}, {BOOL, NULL, NULL, 0}, {ARR_END}},
	    "[1,null,false]", 0, true},
	{"nesting", {{OBJ}, {ARR, "hosts"}, {OBJ}, {STR, "name", "a"}, {ARR, "lookups"}, {ARR_END}, {OBJ_END},
	    {OBJ}, {OBJ_END}, {ARR_END}, {UINT, "ttl", NULL, 300}, {OBJ_END}},
	    "{\"hosts\":[{\"name\":\"a\",\"lookups\":[]},{}],\"ttl\":300}", 0, true},
	{"a comma after a closed level", {{ARR}, {ARR}, {ARR_END}, {ARR}, {ARR_END}, {ARR_END}}, "[[],[]]", 0, true},
	{"numbers at their ends", {{ARR}, {UINT, NULL, NULL, -1}, {INT, NULL, NULL, INT64_MIN}, {INT, NULL, NULL, -1},
	    {INT, NULL, NULL, 0}, {ARR_END}},
	    "[18446744073709551615,-9223372036854775808,-1,0]", 0, true},
	{"raw", {{OBJ}, {RAW, "refused", "[{\"a\":1}]"}, {RAW, "x", "[]"}, {OBJ_END}},
	    "{\"refused\":[{\"a\":1}],\"x\":[]}", 0, true},
	{"top-level values one after another", {{OBJ}, {OBJ_END}, {ARR}, {ARR_END}}, "{}[]", 0, true},
	{"an open object is not done", {{OBJ}, {STR, "a", "b"}}, "{\"a\":\"b\"", 0, false},
	{"a member without a name", {{OBJ}, {STR, NULL, "b"}, {OBJ_END}}, "{", 2, false},
	{"an element with a name", {{ARR}, {UINT, "n", NULL, 1}}, "[", 2, false},
	{"a name at the top", {{OBJ, "a"}}, "", 1, false},
	{"an end that closes nothing", {{OBJ_END}}, "", 1, false},
	{"an array closed as an object", {{ARR}, {OBJ_END}}, "[", 2, false},
	{"an object closed as an array", {{OBJ}, {ARR_END}}, "{", 2, false},
	{"nothing after a failure", {{ARR}, {UINT, "n", NULL, 1}, {UINT, NULL, NULL, 2}, {ARR_END}}, "[", 2, false},
};

static const char *
doc_case_name(const void *row)
{
	return ((const struct doc_case *)row)->name;
}

static int
run_step(struct jsonw *j, const struct step *s)
{
	switch (s->op) {
	case OBJ: return jsonw_object(j, s->name);
	case OBJ_END: return jsonw_object_end(j);
	case ARR: return jsonw_array(j, s->name);
	case ARR_END: return jsonw_array_end(j);
	case STR: return jsonw_string(j, s->name, s->s);
	case UINT: return jsonw_uint(j, s->name, (uint64_t)s->n);
	case INT: return jsonw_int(j, s->name, s->n);
	case BOOL: return jsonw_bool(j, s->name, s->n != 0);
	case NUL: return jsonw_null(j, s->name);
	case RAW: return jsonw_raw(j, s->name, s->s, strlen(s->s));
	case END: break;
	}
	return -1;
}

static void
test_doc(void **state)
{
	const struct doc_case *c = *state;
	struct buf b;
	struct jsonw j;
	int failed_at = 0;

	buf_init(&b);
	jsonw_init(&j, &b);
	for (int i = 0; c->steps[i].op != END; i++) {
		int rc = run_step(&j, &c->steps[i]);
		if (rc < 0 && !failed_at)
			failed_at = i + 1;
		if (failed_at)
			assert_int_equal(rc, -1);	/* and every call after it */
	}
	assert_int_equal(failed_at, c->fails_at);
	assert_int_equal(jsonw_done(&j), c->done ? 0 : -1);
	buf_terminate(&b);
	assert_string_equal(buf_ptr(&b), c->out);
	buf_free(&b);
}

/* Deeper than JSONW_DEPTH_MAX fails at the level past it, and nothing
 * more is written. */
static void
test_depth(void **state)
{
	struct buf b;
	struct jsonw j;

	buf_init(&b);
	jsonw_init(&j, &b);
	for (int i = 0; i < JSONW_DEPTH_MAX; i++)
		assert_int_equal(jsonw_array(&j, NULL), 0);
	assert_int_equal(jsonw_array(&j, NULL), -1);
	assert_int_equal(buf_size(&b), JSONW_DEPTH_MAX);
	assert_int_equal(jsonw_done(&j), -1);
	buf_free(&b);
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_depth),
	};
	struct table t = {0};

	TABLE_ADD(&t, str_cases, str_case, test_str);
	TABLE_ADD(&t, doc_cases, doc_case, test_doc);
	TABLE_TESTS(&t, more);
	return table_run(&t, "jsonw");
}
