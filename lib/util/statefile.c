/* statefile - state files written atomically with a trailer; see statefile.h. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/hash.h"
#include "util/statefile.h"

/* A fixed key: the hash detects damage, it does not authenticate. */
static const unsigned char trailer_seed[16] = "tlspolicyd-state";

#define TRAILER_MAX 64

static uint64_t
content_hash(const char *data, size_t len)
{
	return hash_siphash13(hash_key_from_bytes(trailer_seed), data, len);
}

static int
write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The rename is in the directory's data: sync it too. */
static int
sync_directory(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return -1;
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/* The trailer line for data, or -1 (EINVAL) when data is not lines: the
 * trailer must be a line of its own. */
static int
format_trailer(const char *data, size_t len, char trailer[TRAILER_MAX])
{
	if (len && data[len - 1] != '\n') {
		errno = EINVAL;
		return -1;
	}
	return snprintf(trailer, TRAILER_MAX, "end %zu %016" PRIx64 "\n", len, content_hash(data, len));
}

int
statefile_seal(struct buf *content)
{
	char trailer[TRAILER_MAX];
	int tn = format_trailer(buf_ptr(content), buf_size(content), trailer);

	if (tn < 0)
		return -1;
	if (buf_append(content, trailer, (size_t)tn) < 0) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

int
statefile_write(const char *path, const char *data, size_t len)
{
	char trailer[TRAILER_MAX];
	struct buf tmp;
	int saved;

	int tn = format_trailer(data, len, trailer);
	if (tn < 0)
		return -1;
	buf_init(&tmp);
	if (buf_printf(&tmp, "%s.tmp", path) < 0 || buf_terminate(&tmp) < 0) {
		buf_free(&tmp);
		errno = ENOMEM;
		return -1;
	}
	int fd = open(buf_ptr(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		goto fail;
	if (write_all(fd, data, len) < 0 || write_all(fd, trailer, (size_t)tn) < 0 || fsync(fd) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		goto unlink_fail;
	}
	if (close(fd) < 0 || rename(buf_ptr(&tmp), path) < 0)
		goto unlink_fail;
	buf_free(&tmp);
	/* The new content is in place; a failed directory sync only means a
	 * power cut could still bring the old file back. */
	sync_directory(path);
	return 0;
unlink_fail:
	saved = errno;
	unlink(buf_ptr(&tmp));
	errno = saved;
fail:
	saved = errno;
	buf_free(&tmp);
	errno = saved;
	return -1;
}

int
statefile_read(const char *path, struct buf *out, const char **why)
{
	buf_reset(out);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? STATEFILE_MISSING : STATEFILE_ERROR;
	for (;;) {
		char *dst = buf_reserve(out, 65536);
		if (!dst) {
			close(fd);
			errno = ENOMEM;
			return STATEFILE_ERROR;
		}
		ssize_t n = read(fd, dst, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;
			close(fd);
			errno = saved;
			return STATEFILE_ERROR;
		}
		if (n == 0)
			break;
		buf_commit(out, (size_t)n);
	}
	close(fd);
	return statefile_unseal(out, why);
}

int
statefile_unseal(struct buf *file, const char **why)
{
	const char *p = buf_ptr(file);
	size_t size = buf_size(file);

	if (size == 0 || p[size - 1] != '\n') {
		*why = "no trailer: the file ends without its last line";
		return STATEFILE_DAMAGED;
	}
	size_t start = size - 1;
	while (start > 0 && p[start - 1] != '\n')
		start--;
	char line[TRAILER_MAX];
	size_t tlen = size - start;
	size_t content_len;
	uint64_t hash;
	char extra;
	if (tlen >= sizeof(line)) {
		*why = "no trailer: the last line is not one";
		return STATEFILE_DAMAGED;
	}
	memcpy(line, p + start, tlen);
	line[tlen] = '\0';
	if (sscanf(line, "end %zu %" SCNx64 "%c", &content_len, &hash, &extra) != 3 || extra != '\n') {
		*why = "no trailer: the last line is not one";
		return STATEFILE_DAMAGED;
	}
	if (content_len != start || content_hash(p, start) != hash) {
		*why = "the trailer does not match the content";
		return STATEFILE_DAMAGED;
	}
	buf_truncate(file, start);
	return STATEFILE_OK;
}
