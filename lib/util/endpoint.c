/* endpoint - socket addresses; see endpoint.h for the contract. */
#include "autoconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <limits.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/endpoint.h"

int
endpoint_parse(const char *spec, struct endpoint *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->text, sizeof(out->text), "%s", spec);
	if (strncmp(spec, "unix:", 5) == 0) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&out->addr;
		const char *path = spec + 5;
		if (path[0] != '/') {
			snprintf(err, errlen, "'%s': a unix socket needs an absolute path", spec);
			return -1;
		}
		if (strlen(path) >= sizeof(sun->sun_path)) {
			snprintf(err, errlen, "'%s': socket path longer than %zu bytes", spec,
			    sizeof(sun->sun_path) - 1);
			return -1;
		}
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, path);
		out->is_unix = true;
		out->addrlen = (socklen_t)sizeof(*sun);
		return 0;
	}
	if (strncmp(spec, "inet:", 5) != 0) {
		snprintf(err, errlen, "'%s': expected inet:ADDR:PORT or unix:/PATH", spec);
		return -1;
	}
	const char *host = spec + 5;
	const char *colon = strrchr(host, ':');
	if (!colon || colon == host || colon[1] == '\0') {
		snprintf(err, errlen, "'%s': expected inet:ADDR:PORT", spec);
		return -1;
	}
	char name[128];
	size_t hlen = (size_t)(colon - host);
	if (host[0] == '[' && hlen >= 2 && host[hlen - 1] == ']') {
		host++;
		hlen -= 2;
	}
	if (hlen >= sizeof(name)) {
		snprintf(err, errlen, "'%s': address too long", spec);
		return -1;
	}
	memcpy(name, host, hlen);
	name[hlen] = '\0';
	/* getaddrinfo() would cut a port to 16 bits without a word. */
	unsigned long port = 0;
	for (const char *p = colon + 1; *p && port <= 65535; p++)
		port = (*p >= '0' && *p <= '9') ? port * 10 + (unsigned long)(*p - '0') : 65536;
	if (port == 0 || port > 65535) {
		snprintf(err, errlen, "'%s': the port must be a number from 1 to 65535", spec);
		return -1;
	}
	/* Addresses only: a configuration check must not wait on DNS. */
	if (strcmp(name, "localhost") == 0)
		strcpy(name, "127.0.0.1");
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_NUMERICSERV | AI_NUMERICHOST}, *res;
	int rc = getaddrinfo(name, colon + 1, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "'%s': %s is not an IP address (write [IPv6] in brackets)", spec, name);
		return -1;
	}
	memcpy(&out->addr, res->ai_addr, res->ai_addrlen);
	out->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int
endpoint_listen(const struct endpoint *ep, int backlog, char *err, size_t errlen)
{
	if (ep->is_unix)
		return endpoint_listen_unix(ep, backlog, NULL, err, errlen);

	int fd = socket(ep->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int on = 1;

	if (fd < 0) {
		snprintf(err, errlen, "%s: socket: %s", ep->text, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (ep->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, (const struct sockaddr *)&ep->addr, ep->addrlen) < 0 || listen(fd, backlog) < 0) {
		int saved = errno;
		snprintf(err, errlen, "%s: %s", ep->text, strerror(errno));
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/*
 * A unix listener is bound in a directory of its own, made next to its
 * path (so on the same file system), mode 0700, reached only through a
 * descriptor; given its group there; then renamed onto its path. Whoever
 * owns the path's directory (the postfix user, for a socket in a Postfix
 * directory) can swap names in it at any moment, but never one inside the
 * private directory: no chown or chmod of ours can be aimed at another
 * file, and the socket appears at its path complete, with its final mode
 * and group, replacing a stale one in one step.
 */

/* The socket's name inside the private directory: short, so that the
 * /proc path below always fits in sun_path. */
#define PRIVATE_NAME "s"

struct unix_listen {
	const struct endpoint *ep;
	char *err;
	size_t errlen;
	int dfd;		/* the path's directory */
	int pfd;		/* the private directory */
	char pname[NAME_MAX + 1];	/* ...its name in dfd */
	struct stat pst;	/* ...its identity */
	bool bound;		/* PRIVATE_NAME exists in it */
};

__attribute__((format(printf, 2, 3)))
static int
unix_fail(struct unix_listen *u, const char *fmt, ...)
{
	int saved = errno;
	char why[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(u->err, u->errlen, "%s: %s", u->ep->text, why);
	errno = saved;
	return -1;
}

/* Makes and opens the private directory. Its name is random only to avoid
 * collisions: what makes it private is that it is verified, through the
 * descriptor, to be a directory of ours that nobody else may enter. */
static int
private_directory(struct unix_listen *u, const char *base)
{
	for (int attempt = 0; attempt < 16; attempt++) {
		unsigned char r[6];
		if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
			uint64_t x = (uint64_t)getpid() * 0x9e3779b97f4a7c15u + (uint64_t)attempt;
			memcpy(r, &x, sizeof(r));
		}
		snprintf(u->pname, sizeof(u->pname), ".%.64s.%02x%02x%02x%02x%02x%02x", base,
		    r[0], r[1], r[2], r[3], r[4], r[5]);
		if (mkdirat(u->dfd, u->pname, 0700) < 0) {
			if (errno == EEXIST)
				continue;
			return unix_fail(u, "cannot make a directory beside it: %s", strerror(errno));
		}
		u->pfd = openat(u->dfd, u->pname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (u->pfd < 0 || fstat(u->pfd, &u->pst) < 0)
			return unix_fail(u, "the directory made beside it vanished: %s", strerror(errno));
		if (u->pst.st_uid != geteuid() || (u->pst.st_mode & 077)) {
			close(u->pfd);
			u->pfd = -1;
			errno = EBUSY;
			return unix_fail(u, "the directory made beside it was replaced: its directory is "
			    "writable by someone else, who is interfering");
		}
		return 0;
	}
	errno = EEXIST;
	return unix_fail(u, "cannot make a directory beside it: every name tried is taken");
}

static void
unix_cleanup(struct unix_listen *u)
{
	struct stat st;

	if (u->pfd >= 0) {
		if (u->bound)
			unlinkat(u->pfd, PRIVATE_NAME, 0);
		/* Only the directory made here, should its name now be another's. */
		if (fstatat(u->dfd, u->pname, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == u->pst.st_dev &&
		    st.st_ino == u->pst.st_ino)
			unlinkat(u->dfd, u->pname, AT_REMOVEDIR);
		close(u->pfd);
	}
	if (u->dfd >= 0)
		close(u->dfd);
}

static int
unix_listen(struct unix_listen *u, int fd, int backlog, const struct endpoint_unix_access *access)
{
	const char *path = ((const struct sockaddr_un *)&u->ep->addr)->sun_path;
	const char *slash = strrchr(path, '/');
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *base = slash + 1;
	struct stat st, made;

	if (!slash || !*base) {
		errno = EISDIR;
		return unix_fail(u, "names a directory, not a socket");
	}
	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	if ((u->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return unix_fail(u, "%s: %s", dir, strerror(errno));
	if (fstatat(u->dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return unix_fail(u, "exists and is not a socket; not replacing it");
	}
	if (private_directory(u, base) < 0)
		return -1;

	/* bind() has no *at() form: the kernel resolves /proc/self/fd/N to
	 * the directory held open, whatever has become of its name. */
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof(sun.sun_path), "/proc/self/fd/%d/" PRIVATE_NAME, u->pfd);
	/* Made with its final mode: there is never a chmod to aim elsewhere. */
	mode_t old = access ? umask(~access->mode & 0777) : 0;
	int rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	int saved = errno;
	if (access)
		umask(old);
	errno = saved;
	if (rc < 0)
		return unix_fail(u, "bind: %s%s", strerror(errno), errno == ENOENT ? " (is /proc mounted?)" : "");
	u->bound = true;
	if (fstatat(u->pfd, PRIVATE_NAME, &made, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISSOCK(made.st_mode))
		return unix_fail(u, "the socket just bound is not there");
	if (access && access->between)
		access->between(access->arg, path);
	/* Inside the private directory nothing can have moved: the umask is
	 * process-wide, so a thread could have changed it meanwhile. */
	if (access && (made.st_mode & 07777) != access->mode && fchmodat(u->pfd, PRIVATE_NAME, access->mode, 0) < 0)
		return unix_fail(u, "chmod: %s", strerror(errno));
	if (access && access->gid >= 0 &&
	    fchownat(u->pfd, PRIVATE_NAME, (uid_t)-1, (gid_t)access->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return unix_fail(u, "cannot hand it to group %ld: %s", access->gid, strerror(errno));
	if (listen(fd, backlog) < 0)
		return unix_fail(u, "listen: %s", strerror(errno));
	if (renameat(u->pfd, PRIVATE_NAME, u->dfd, base) < 0)
		return unix_fail(u, "%s", errno == EISDIR || errno == ENOTEMPTY ?
		    "exists and is not a socket; not replacing it" : strerror(errno));
	u->bound = false;
	/* What the path names now is the socket made above. */
	if (fstatat(u->dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != made.st_dev ||
	    st.st_ino != made.st_ino) {
		errno = EBUSY;
		return unix_fail(u, "replaced as soon as it was made: its directory is writable by someone "
		    "else, who is interfering");
	}
	return 0;
}

int
endpoint_listen_unix(const struct endpoint *ep, int backlog, const struct endpoint_unix_access *access,
    char *err, size_t errlen)
{
	struct unix_listen u = {.ep = ep, .err = err, .errlen = errlen, .dfd = -1, .pfd = -1};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		snprintf(err, errlen, "%s: socket: %s", ep->text, strerror(errno));
		return -1;
	}
	int rc = unix_listen(&u, fd, backlog, access);
	int saved = errno;
	unix_cleanup(&u);
	if (rc < 0) {
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
endpoint_connect(const struct endpoint *ep, char *err, size_t errlen)
{
	int fd = socket(ep->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int on = 1;

	if (fd < 0) {
		snprintf(err, errlen, "%s: socket: %s", ep->text, strerror(errno));
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&ep->addr, ep->addrlen) < 0) {
		snprintf(err, errlen, "%s: %s", ep->text, strerror(errno));
		close(fd);
		return -1;
	}
	if (!ep->is_unix)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	return fd;
}
