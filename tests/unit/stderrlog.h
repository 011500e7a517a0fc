/*
 * stderrlog - a test's standard error, where log.h writes, captured into
 * a file of the test's own directory, so that a test can read back what
 * was logged; failure messages still reach the real standard error
 * (FAIL). Also here: a whole file read back. Include after cmocka.h; one
 * capture at a time.
 */
#ifndef TLSPOLICY_TEST_STDERRLOG_H
#define TLSPOLICY_TEST_STDERRLOG_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The real standard error while a capture runs, else -1. */
static int stderrlog_saved = -1;

/* fail_msg() prints to standard error: the real one, not the log file. */
#define FAIL(...) do { \
	if (stderrlog_saved >= 0) \
		dup2(stderrlog_saved, STDERR_FILENO); \
	fail_msg(__VA_ARGS__); \
} while (0)

/* Standard error appends to path from now on. */
static inline void
stderrlog_start(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	fflush(stderr);
	stderrlog_saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	assert_true(stderrlog_saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
}

/* The real standard error back. */
static inline void
stderrlog_stop(void)
{
	if (stderrlog_saved < 0)
		return;
	fflush(stderr);
	dup2(stderrlog_saved, STDERR_FILENO);
	close(stderrlog_saved);
	stderrlog_saved = -1;
}

/* Whole file, NUL-terminated (it may hold NULs of its own); *len its
 * size when len is not NULL. NULL when it cannot be opened. */
static inline char *
stderrlog_read_all(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "r");
	char *data = NULL;
	size_t n = 0, cap = 0, r;

	if (!fp)
		return NULL;
	do {
		if (n + 4096 + 1 > cap) {
			cap = 2 * cap + 8192;
			data = realloc(data, cap);
			assert_non_null(data);
		}
		r = fread(data + n, 1, cap - n - 1, fp);
		n += r;
	} while (r > 0);
	fclose(fp);
	data[n] = '\0';
	if (len)
		*len = n;
	return data;
}

#endif
