/*
 * Unit tests: the byte buffer (lib/util/buf.h): growth, consumption from
 * the front, formatted text, numbers, and the BUF_MAX limit, past which
 * every append fails and leaves the buffer as it was.
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/buf.h"
#include "table.h"

static void in_child(const char *name);

static void
test_buf_empty(void **state)
{
	struct buf b;

	buf_init(&b);
	assert_string_equal(buf_ptr(&b), "");
	assert_int_equal(buf_size(&b), 0);
	buf_consume(&b, 5);
	buf_reset(&b);
	assert_int_equal(buf_size(&b), 0);
	assert_int_equal(buf_terminate(&b), 0);
	assert_string_equal(buf_ptr(&b), "");
	buf_free(&b);
	buf_free(&b);	/* free leaves it initialised */
	assert_int_equal(buf_size(&b), 0);
	assert_string_equal(buf_ptr(&b), "");
}

/* Appends of every size, checked byte for byte, with the NUL after. */
static void
test_buf_growth(void **state)
{
	struct buf b;
	size_t total = 0;
	char chunk[5000];

	buf_init(&b);
	for (size_t n = 0; total < 1000000; n = (n * 7 + 13) % sizeof(chunk)) {
		for (size_t i = 0; i < n; i++)
			chunk[i] = (char)((total + i) % 251);
		assert_int_equal(buf_append(&b, chunk, n), 0);
		total += n;
		assert_int_equal(buf_size(&b), total);
		assert_int_equal(buf_ptr(&b)[total], '\0');
	}
	for (size_t i = 0; i < total; i++)
		if (buf_ptr(&b)[i] != (char)(i % 251))
			fail_msg("byte %zu", i);
	/* reset keeps the storage but empties. */
	buf_reset(&b);
	assert_int_equal(buf_size(&b), 0);
	assert_string_equal(buf_ptr(&b), "");
	buf_free(&b);
}

static void
test_buf_binary(void **state)
{
	struct buf b;

	buf_init(&b);
	assert_int_equal(buf_append(&b, "a\0b", 3), 0);
	assert_int_equal(buf_putc(&b, '\0'), 0);
	assert_int_equal(buf_size(&b), 4);
	assert_memory_equal(buf_ptr(&b), "a\0b\0", 4);
	buf_free(&b);
}

/* Appending nothing from nowhere is a no-op, with or without room (a
 * child: under --enable-sanitizers a memcpy from NULL aborts). */
static int
append_null_empty(void)
{
	struct buf b;
	int rc = 0;

	buf_init(&b);
	if (buf_append(&b, NULL, 0) != 0 || buf_size(&b) != 0)
		rc = 10;
	buf_puts(&b, "abc");
	if (buf_append(&b, NULL, 0) != 0 || buf_size(&b) != 3 || strcmp(buf_ptr(&b), "abc") != 0)
		rc = 11;
	buf_free(&b);
	return rc;
}

static void
test_buf_append_nothing(void **state)
{
	in_child("append-null-empty");
}

static void
test_buf_consume(void **state)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "hello world");
	buf_consume(&b, 6);
	assert_int_equal(buf_size(&b), 5);
	assert_string_equal(buf_ptr(&b), "world");
	buf_consume(&b, 0);
	assert_string_equal(buf_ptr(&b), "world");
	buf_puts(&b, "!");
	assert_string_equal(buf_ptr(&b), "world!");
	buf_consume(&b, 6);
	assert_int_equal(buf_size(&b), 0);
	assert_string_equal(buf_ptr(&b), "");
	buf_puts(&b, "abc");
	buf_consume(&b, 100);	/* more than there is */
	assert_int_equal(buf_size(&b), 0);
	assert_string_equal(buf_ptr(&b), "");
	buf_free(&b);
}

/* Consuming from the front while appending at the back, as a connection's
 * input buffer does: the data stays right through every compaction. */
static void
test_buf_stream(void **state)
{
	struct buf b;
	unsigned long next_in = 0, next_out = 0;
	char chunk[700];

	size_t most = 0;

	buf_init(&b);
	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)(round * 37 % (int)sizeof(chunk));
		for (size_t i = 0; i < n; i++)
			chunk[i] = (char)(next_in++ % 253);
		assert_int_equal(buf_append(&b, chunk, n), 0);
		if (buf_size(&b) > most)
			most = buf_size(&b);
		size_t take = buf_size(&b) * (size_t)(round % 5) / 4;
		for (size_t i = 0; i < take; i++)
			if (buf_ptr(&b)[i] != (char)((next_out + i) % 253))
				fail_msg("round %d byte %zu", round, i);
		next_out += take;
		buf_consume(&b, take);
		assert_int_equal(buf_size(&b), next_in - next_out);
		if (buf_size(&b))
			assert_int_equal(buf_ptr(&b)[buf_size(&b)], '\0');
	}
	/* Compaction reuses the consumed space: the storage never grew past
	 * twice the most data held at once. */
	if (b.cap > 256 && b.cap > 2 * (most + 1))
		fail_msg("capacity %zu for at most %zu bytes of data", b.cap, most);
	buf_free(&b);
}

static void
test_buf_detach(void **state)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "hello world");
	buf_consume(&b, 6);
	char *s = buf_detach(&b);
	assert_non_null(s);
	assert_string_equal(s, "world");
	assert_int_equal(buf_size(&b), 0);
	assert_string_equal(buf_ptr(&b), "");
	free(s);
	/* The buffer is usable again. */
	buf_puts(&b, "again");
	assert_string_equal(buf_ptr(&b), "again");
	buf_free(&b);
	/* Detaching an empty buffer gives an empty string to free. */
	buf_init(&b);
	s = buf_detach(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	buf_free(&b);
	/* Everything consumed. */
	buf_puts(&b, "xyz");
	buf_consume(&b, 3);
	s = buf_detach(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
}

static void
check_printf(size_t pre, size_t n)
{
	struct buf b;
	char *s = malloc(n + 1);

	assert_non_null(s);
	for (size_t j = 0; j < n; j++)
		s[j] = (char)('A' + j % 26);
	s[n] = '\0';
	buf_init(&b);
	for (size_t j = 0; j < pre; j++)
		buf_putc(&b, '.');
	buf_consume(&b, pre / 2);	/* data not at the start of the storage */
	assert_int_equal(buf_printf(&b, "<%s>%zu", s, n), 0);
	size_t kept = pre - pre / 2;
	size_t want_len = kept + n + 2 + (size_t)snprintf(NULL, 0, "%zu", n);
	if (buf_size(&b) != want_len)
		fail_msg("pre %zu, n %zu: %zu bytes, want %zu", pre, n, buf_size(&b), want_len);
	const char *p = buf_ptr(&b) + kept;
	assert_int_equal(p[0], '<');
	if (memcmp(p + 1, s, n) != 0 || p[n + 1] != '>' || strtoul(p + n + 2, NULL, 10) != n)
		fail_msg("pre %zu, n %zu: wrong text", pre, n);
	assert_int_equal(buf_ptr(&b)[buf_size(&b)], '\0');
	buf_free(&b);
	free(s);
}

/* Formatted text of every length around the buffer's first sizes, after
 * data already there: the text is whole, the NUL after it. */
static void
test_buf_printf(void **state)
{
	static const size_t pres[] = {0, 1, 73, 127, 128, 200, 255, 256, 300};
	static const size_t big[] = {1000, 4095, 4096, 4097, 100000};
	struct buf b;

	buf_init(&b);
	assert_int_equal(buf_printf(&b, "%d-%s", 42, "x"), 0);
	assert_string_equal(buf_ptr(&b), "42-x");
	assert_int_equal(buf_printf(&b, "%s", ""), 0);
	assert_string_equal(buf_ptr(&b), "42-x");
	buf_free(&b);
	for (size_t i = 0; i < sizeof(pres) / sizeof(pres[0]); i++) {
		for (size_t n = 0; n < 600; n++)
			check_printf(pres[i], n);
		for (size_t j = 0; j < sizeof(big) / sizeof(big[0]); j++)
			check_printf(pres[i], big[j]);
	}
}

/* Growth past BUF_MAX fails and leaves the buffer as it was. */
static void
test_buf_max(void **state)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "keep");
	assert_null(buf_reserve(&b, BUF_MAX));
	assert_null(buf_reserve(&b, SIZE_MAX));
	assert_null(buf_reserve(&b, BUF_MAX - 4));
	assert_int_equal(buf_append(&b, "x", SIZE_MAX / 2), -1);
	assert_string_equal(buf_ptr(&b), "keep");
	char *p = buf_reserve(&b, BUF_MAX - 5);
	assert_non_null(p);
	memset(p, 'z', BUF_MAX - 5);
	buf_commit(&b, BUF_MAX - 5);
	assert_int_equal(buf_size(&b), BUF_MAX - 1);
	assert_int_equal(buf_putc(&b, 'y'), -1);
	assert_int_equal(buf_printf(&b, "%s", "y"), -1);
	assert_int_equal(buf_size(&b), BUF_MAX - 1);
	assert_memory_equal(buf_ptr(&b), "keepzzz", 7);
	assert_int_equal(buf_ptr(&b)[BUF_MAX - 2], 'z');
	assert_int_equal(buf_ptr(&b)[BUF_MAX - 1], '\0');
	buf_free(&b);
}

struct uint_case {
	const char *name;
	uint64_t v;
	unsigned min_digits;
	const char *out;
};

static const struct uint_case uint_cases[] = {
	{"buf_put_uint: zero", 0, 1, "0"},
	{"buf_put_uint: zero, no minimum", 0, 0, "0"},
	{"buf_put_uint: zero padded", 0, 3, "000"},
	{"buf_put_uint: padded", 5, 3, "005"},
	{"buf_put_uint: padding not needed", 1234, 3, "1234"},
	{"buf_put_uint: exactly the minimum", 999, 3, "999"},
	{"buf_put_uint: powers of ten", 1000000, 1, "1000000"},
	{"buf_put_uint: largest", UINT64_MAX, 1, "18446744073709551615"},
	{"buf_put_uint: largest padded", UINT64_MAX, 22, "0018446744073709551615"},
};

static const char *
uint_case_name(const void *row)
{
	return ((const struct uint_case *)row)->name;
}

static void
test_put_uint(void **state)
{
	const struct uint_case *c = *state;
	struct buf b;

	buf_init(&b);
	assert_int_equal(buf_put_uint(&b, c->v, c->min_digits), 0);
	assert_string_equal(buf_ptr(&b), c->out);
	/* After other data, and across the first growth. */
	buf_reset(&b);
	for (int i = 0; i < 250; i++)
		buf_putc(&b, '.');
	assert_int_equal(buf_put_uint(&b, c->v, c->min_digits), 0);
	assert_string_equal(buf_ptr(&b) + 250, c->out);
	assert_int_equal(buf_size(&b), 250 + strlen(c->out));
	buf_free(&b);
}

/* Some checks run in a child process (this program again, with --child
 * NAME), so that a crash is a failed test, not a dead test program, and a
 * child under valgrind exits cleanly. */
static const char *self_path;
extern char **environ;

static void
in_child(const char *name)
{
	char *argv[] = {(char *)(uintptr_t)self_path, (char *)(uintptr_t)"--child", (char *)(uintptr_t)name, NULL};
	pid_t pid;
	int status;

	fflush(NULL);
	if (posix_spawn(&pid, self_path, NULL, NULL, argv, environ) != 0)
		fail_msg("cannot run %s", self_path);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("%s: killed by signal %d", name, WTERMSIG(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("%s: exit %d", name, WEXITSTATUS(status));
}

static int
absurd_append(void)
{
	static const size_t lens[] = {SIZE_MAX, SIZE_MAX - 4, SIZE_MAX - 100, SIZE_MAX / 2, BUF_MAX};
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "keep");
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		if (buf_append(&b, "x", lens[i]) != -1 || buf_size(&b) != 4 || strcmp(buf_ptr(&b), "keep") != 0)
			return 10 + (int)i;
	buf_free(&b);
	return 0;
}

/* A length no buffer can hold is refused, whatever the room there is. */
static void
test_buf_absurd_length(void **state)
{
	in_child("absurd-append");
}

int
main(int argc, char **argv)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_buf_empty),
		cmocka_unit_test(test_buf_growth),
		cmocka_unit_test(test_buf_binary),
		cmocka_unit_test(test_buf_append_nothing),
		cmocka_unit_test(test_buf_consume),
		cmocka_unit_test(test_buf_stream),
		cmocka_unit_test(test_buf_detach),
		cmocka_unit_test(test_buf_printf),
		cmocka_unit_test(test_buf_max),
		cmocka_unit_test(test_buf_absurd_length),
	};
	struct table t = {0};

	self_path = argv[0];
	if (argc == 3 && strcmp(argv[1], "--child") == 0) {
		if (strcmp(argv[2], "absurd-append") == 0)
			return absurd_append();
		if (strcmp(argv[2], "append-null-empty") == 0)
			return append_null_empty();
		return 2;
	}
	TABLE_ADD(&t, uint_cases, uint_case, test_put_uint);
	TABLE_TESTS(&t, more);
	return table_run(&t, "buf");
}
