/*
 * Unit tests: state files (lib/util/statefile.h). What is written reads back;
 * every prefix of a written file (a write cut short anywhere) and every
 * single-byte change is refused whole; a missing file is not an error;
 * content that is not whole lines is refused at write.
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/statefile.h"
#include "table.h"

static const char content[] = "key=a.test answer=dane-only\nkey=b.test answer=\"may\"\n";

/* Every file the tests make lives here; main() makes and removes it. */
static char test_dir[4096];

struct path {
	char s[sizeof(test_dir) + 32];
};

static struct path
path_for(const char *name)
{
	struct path p;

	snprintf(p.s, sizeof(p.s), "%s/%s", test_dir, name);
	return p;
}

static void
slurp(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "r");
	char chunk[4096];
	size_t n;

	assert_non_null(f);
	buf_reset(out);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(out, chunk, n);
	fclose(f);
}

static void
test_round_trip(void **state)
{
	struct path rt = path_for("rt"), rt_tmp = path_for("rt.tmp");
	const char *path = rt.s;
	struct buf got;
	const char *why = NULL;

	buf_init(&got);
	assert_int_equal(statefile_write(path, content, strlen(content)), 0);
	assert_int_equal(statefile_read(path, &got, &why), STATEFILE_OK);
	assert_int_equal(buf_size(&got), strlen(content));
	assert_memory_equal(buf_ptr(&got), content, strlen(content));
	/* Empty content is a valid state too. */
	assert_int_equal(statefile_write(path, "", 0), 0);
	assert_int_equal(statefile_read(path, &got, &why), STATEFILE_OK);
	assert_int_equal(buf_size(&got), 0);
	assert_int_equal(access(rt_tmp.s, F_OK), -1);
	unlink(path);
	buf_free(&got);
}

static void
test_missing(void **state)
{
	struct buf got;
	const char *why = NULL;

	struct path none = path_for("none");

	buf_init(&got);
	assert_int_equal(statefile_read(none.s, &got, &why), STATEFILE_MISSING);
	buf_free(&got);
}

static void
test_not_lines(void **state)
{
	struct path nl = path_for("nl");

	errno = 0;
	assert_int_equal(statefile_write(nl.s, "no newline", 10), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(access(nl.s, F_OK), -1);
}

/* The bytes statefile_write() puts on disk for content. */
static void
written_file(struct buf *whole)
{
	struct path p = path_for("written");

	assert_int_equal(statefile_write(p.s, content, strlen(content)), 0);
	slurp(p.s, whole);
	unlink(p.s);
}

/* A write cut short anywhere: never read as a state. */
static void
test_every_prefix(void **state)
{
	struct buf whole, cut;
	const char *why;

	buf_init(&whole);
	buf_init(&cut);
	written_file(&whole);
	for (size_t n = 0; n < buf_size(&whole); n++) {
		buf_reset(&cut);
		buf_append(&cut, buf_ptr(&whole), n);
		why = NULL;
		int rc = statefile_unseal(&cut, &why);
		if (rc != STATEFILE_DAMAGED)
			fail_msg("a file cut at %zu of %zu bytes gave %d", n, buf_size(&whole), rc);
		assert_non_null(why);
	}
	buf_free(&whole);
	buf_free(&cut);
}

/* Any one byte changed: refused (the content, its length or its hash). */
static void
test_every_byte_changed(void **state)
{
	struct buf whole, bad;
	const char *why;

	buf_init(&whole);
	buf_init(&bad);
	written_file(&whole);
	for (size_t i = 0; i < buf_size(&whole); i++) {
		const char *p = buf_ptr(&whole);
		buf_reset(&bad);
		buf_append(&bad, p, i);
		buf_putc(&bad, p[i] == 'x' ? 'y' : 'x');
		buf_append(&bad, p + i + 1, buf_size(&whole) - i - 1);
		if (statefile_unseal(&bad, &why) != STATEFILE_DAMAGED)
			fail_msg("byte %zu changed: not refused", i);
	}
	buf_free(&whole);
	buf_free(&bad);
}

/* Lines of one repeated byte, n bytes in all: two versions of a state
 * that a reader must never see mixed. */
static char *
state_of(char c, size_t n)
{
	char *s = malloc(n);

	assert_non_null(s);
	memset(s, c, n);
	for (size_t i = 99; i < n; i += 100)
		s[i] = '\n';
	s[n - 1] = '\n';
	return s;
}

/* SIGKILL at random moments of a writer that rewrites a 4 MB state over
 * and over (the cache snapshot of a busy daemon is that size): after each
 * kill the file reads back whole, as one version or the other. */
static void
test_sigkill_during_writes(void **state)
{
	enum { ROUNDS = 60 };
	const size_t size_a = 4 << 20, size_b = 3 << 20;
	struct path p = path_for("killed"), tmp = path_for("killed.tmp");
	char *a = state_of('a', size_a), *b = state_of('b', size_b);
	struct buf got;
	const char *why = NULL;
	unsigned midwrite = 0;

	buf_init(&got);
	assert_int_equal(statefile_write(p.s, a, size_a), 0);
	srandom((unsigned)getpid());
	for (int round = 0; round < ROUNDS; round++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			for (unsigned i = 0;; i++)
				if (statefile_write(p.s, i & 1 ? b : a, i & 1 ? size_b : size_a) < 0)
					_exit(1);
		usleep((useconds_t)(random() % 30000));
		assert_int_equal(kill(pid, SIGKILL), 0);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status))
			fail_msg("the writer failed before the kill (round %d)", round);
		/* Only a write under way leaves the temporary file. */
		midwrite += access(tmp.s, F_OK) == 0;
		int rc = statefile_read(p.s, &got, &why);
		if (rc != STATEFILE_OK)
			fail_msg("kill %d: read gave %d (%s)", round + 1, rc, why ? why : "-");
		bool is_a = buf_size(&got) == size_a && memcmp(buf_ptr(&got), a, size_a) == 0;
		bool is_b = buf_size(&got) == size_b && memcmp(buf_ptr(&got), b, size_b) == 0;
		if (!is_a && !is_b)
			fail_msg("kill %d: the content is neither version", round + 1);
	}
	printf("# %d SIGKILLs, %u in the middle of a write: every read whole\n", ROUNDS, midwrite);
	unlink(p.s);
	unlink(tmp.s);
	free(a);
	free(b);
	buf_free(&got);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_not_lines),
		cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_sigkill_during_writes),
		cmocka_unit_test(test_every_byte_changed),
	};
	struct table t = {0};
	int failed;

	if (!table_tmpdir(test_dir, sizeof(test_dir), "test_statefile")) {
		perror("test_statefile: mkdtemp");
		return 1;
	}
	table_add_tests(&t, tests, sizeof(tests) / sizeof(tests[0]));
	failed = table_run(&t, "statefile");
	/* Tests that fail stop before their unlink(): empty the directory here. */
	static const char *const names[] = {"rt", "rt.tmp", "none", "nl", "written", "written.tmp", "killed",
	    "killed.tmp"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct path p = path_for(names[i]);
		unlink(p.s);
	}
	if (rmdir(test_dir) != 0)
		perror(test_dir);
	return failed;
}
