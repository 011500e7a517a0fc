/* tail - follows a log file or standard input; see tail.h for the contract.
 *
 * A file is one "stream" (descriptor, identity, offset, partial line).
 * When the path comes to name another file (rotation by rename), the old
 * stream is read to its end and kept as the "old" one for a little while:
 * a writer that has not reopened its log yet still appends to it, and
 * those lines are read at the next polls, before the new file's. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/tail.h"

/* How long a renamed file is still read after the new one appeared. */
#define TAIL_OLD_GRACE_MS 5000

struct stream {
	int fd;
	bool regular;			/* a regular file: offsets and sizes mean something */
	dev_t dev;
	ino_t ino;
	off_t pos;			/* bytes read so far */
	size_t len;			/* partial line held in buf */
	bool skipping;			/* dropping the rest of an over-long line */
	char buf[TAIL_MAX_LINE + 1];
};

struct tail {
	char *path;			/* NULL: standard input */
	bool eof;
	int stdin_flags;		/* to restore at close */
	struct stream cur;
	struct stream old;		/* old.fd >= 0 while a renamed file is drained */
	uint64_t old_since_ms;
};

typedef void line_fn(void *arg, const char *text, size_t len);

static void
stream_reset(struct stream *s)
{
	s->fd = -1;
	s->regular = false;
	s->pos = 0;
	s->len = 0;
	s->skipping = false;
}

static void
stream_close(struct stream *s)
{
	if (s->fd >= 0)
		close(s->fd);
	stream_reset(s);
}

/* Opens path into s; from_end skips what it holds now. 0, or -1 with
 * errno (ENOENT when there is no such file yet). */
static int
stream_open(struct stream *s, const char *path, bool from_end)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		errno = EISDIR;
		return -1;
	}
	stream_reset(s);
	s->fd = fd;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->regular = S_ISREG(st.st_mode);
	if (s->regular && from_end) {
		off_t end = lseek(fd, 0, SEEK_END);
		if (end > 0)
			s->pos = end;
	}
	return 0;
}

/* Splits data into lines; returns how many were handed over. */
static int
feed(struct stream *s, const char *data, size_t n, line_fn *line, void *arg)
{
	int lines = 0;

	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;

		if (s->skipping) {
			/* The rest of a line already cut and handed over. */
			if (nl)
				s->skipping = false;
		} else {
			size_t room = TAIL_MAX_LINE - s->len;
			size_t copy = take < room ? take : room;
			memcpy(s->buf + s->len, data, copy);
			s->len += copy;
			if (take > room) {
				/* Longer than TAIL_MAX_LINE: cut here, drop the rest. */
				s->buf[s->len] = '\0';
				line(arg, s->buf, s->len);
				lines++;
				s->len = 0;
				s->skipping = !nl;
			} else if (nl) {
				s->buf[s->len] = '\0';
				line(arg, s->buf, s->len);
				lines++;
				s->len = 0;
			}
		}
		if (!nl)
			break;
		data = nl + 1;
		n -= take + 1;
	}
	return lines;
}

/* Hands over what is left of a line that will get no newline. */
static int
flush_partial(struct stream *s, line_fn *line, void *arg)
{
	if (s->len == 0)
		return 0;
	s->buf[s->len] = '\0';
	line(arg, s->buf, s->len);
	s->len = 0;
	return 1;
}

/* Reads s to its current end: lines handed over, or -1 with errno. *got
 * says whether any byte came. */
static int
drain(struct stream *s, line_fn *line, void *arg, bool *got, bool *at_eof)
{
	char chunk[16384];
	int lines = 0;

	*got = false;
	*at_eof = false;
	if (s->regular) {
		struct stat st;
		/* Rotation by truncation (copytruncate): the file is shorter
		 * than what was read of it, so it was emptied and is written
		 * again from its start. A partial line was the old content's. */
		if (fstat(s->fd, &st) == 0 && st.st_size < s->pos) {
			s->pos = 0;
			s->len = 0;
			s->skipping = false;
		}
	}
	for (;;) {
		ssize_t n = s->regular ? pread(s->fd, chunk, sizeof(chunk), s->pos) : read(s->fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return lines;
			return -1;
		}
		if (n == 0) {
			*at_eof = true;
			return lines;
		}
		*got = true;
		s->pos += n;
		lines += feed(s, chunk, (size_t)n, line, arg);
	}
}

struct tail *
tail_open(const char *path, bool from_end)
{
	struct tail *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	stream_reset(&t->cur);
	stream_reset(&t->old);
	if (strcmp(path, "-") == 0) {
		int flags = fcntl(STDIN_FILENO, F_GETFL);
		if (flags < 0 || fcntl(STDIN_FILENO, F_SETFL, flags | O_NONBLOCK) < 0) {
			free(t);
			return NULL;
		}
		t->stdin_flags = flags;
		t->cur.fd = STDIN_FILENO;
		return t;
	}
	if (!(t->path = strdup(path))) {
		free(t);
		return NULL;
	}
	if (stream_open(&t->cur, path, from_end) < 0 && errno != ENOENT) {
		int saved = errno;
		free(t->path);
		free(t);
		errno = saved;
		return NULL;
	}
	/* ENOENT: looked for again at every poll, and read from its start
	 * when it appears (all of it is news then). */
	return t;
}

void
tail_close(struct tail *t)
{
	if (!t)
		return;
	if (!t->path) {
		fcntl(STDIN_FILENO, F_SETFL, t->stdin_flags);
	} else {
		stream_close(&t->cur);
		stream_close(&t->old);
	}
	free(t->path);
	free(t);
}

int
tail_fd(const struct tail *t)
{
	return t->path ? -1 : t->cur.fd;
}

bool
tail_eof(const struct tail *t)
{
	return t->eof;
}

static int
poll_stdin(struct tail *t, line_fn *line, void *arg)
{
	bool got, at_eof;
	int lines;

	if (t->eof)
		return 0;
	lines = drain(&t->cur, line, arg, &got, &at_eof);
	if (lines < 0)
		return -1;
	if (at_eof) {
		/* Nothing more will come: the last line is as complete as it
		 * gets. */
		lines += flush_partial(&t->cur, line, arg);
		t->eof = true;
	}
	return lines;
}

int
tail_poll(struct tail *t, void (*line)(void *arg, const char *text, size_t len), void *arg)
{
	bool got, at_eof;
	int lines = 0, n, err = 0;

	if (!t->path)
		return poll_stdin(t, line, arg);

	/* A file renamed away earlier: what its writer still appends. */
	if (t->old.fd >= 0) {
		n = drain(&t->old, line, arg, &got, &at_eof);
		if (n < 0)
			err = errno;
		else
			lines += n;
		if (n < 0 || (!got && clock_monotonic_ms() - t->old_since_ms >= TAIL_OLD_GRACE_MS)) {
			lines += flush_partial(&t->old, line, arg);
			stream_close(&t->old);
		}
	}

	if (t->cur.fd < 0 && stream_open(&t->cur, t->path, false) < 0) {
		if (errno == ENOENT)
			return lines;
		err = errno;
	}
	if (t->cur.fd >= 0) {
		/* All of the current file first, rotated or not: lines written
		 * to it after a rename and before this poll are read here. */
		n = drain(&t->cur, line, arg, &got, &at_eof);
		if (n < 0)
			err = errno;
		else
			lines += n;

		struct stat st;
		if (stat(t->path, &st) == 0 && (st.st_dev != t->cur.dev || st.st_ino != t->cur.ino)) {
			/* Renamed away, and a new file in its place: read that one
			 * from its start, keep draining the old one a while. */
			struct stream fresh;
			if (stream_open(&fresh, t->path, false) == 0) {
				if (t->old.fd >= 0) {
					lines += flush_partial(&t->old, line, arg);
					stream_close(&t->old);
				}
				t->old = t->cur;
				t->old_since_ms = clock_monotonic_ms();
				t->cur = fresh;
				n = drain(&t->cur, line, arg, &got, &at_eof);
				if (n < 0)
					err = errno;
				else
					lines += n;
			}
		}
		/* Gone and not replaced yet: keep reading the descriptor. */
	}
	if (err) {
		errno = err;
		return -1;
	}
	return lines;
}
