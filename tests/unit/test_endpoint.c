/* Unit tests: listener addresses (lib/util/endpoint.h).
 *
 * endpoint_parse(): inet:ADDR:PORT and unix:/PATH as the configuration
 * writes them, each refusal naming what was wrong.
 *
 * endpoint_listen_unix(): the socket appears at its path with its final
 * mode and group; a stale socket is replaced, any other file is left
 * alone; and the owner of the socket's directory (the postfix user, for a
 * socket in a Postfix-owned directory), playing in the window between
 * bind() and the hand-over to the group, cannot turn the daemon's
 * chown/chmod onto another file. Each such move is a row. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/endpoint.h"
#include "table.h"

/* A fixture: a directory of the test's own in $TMPDIR, the socket's path in
 * it, and a file elsewhere in it that an attacker would like to own. */
struct fixture {
	char dir[64];
	char path[128];		/* the socket's */
	char target[128];	/* the file the attacker aims at */
	char lair[128];		/* a directory the attacker fills */
	gid_t target_gid;
	gid_t group;		/* the group the listener is handed to */
	int fd;
	const void *row;	/* a table's row, when the test has one */
};

static void
path_in(const struct fixture *f, const char *name, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s", f->dir, name);
	assert_true(n > 0 && (size_t)n < len);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_non_null(table_tmpdir(f->dir, sizeof(f->dir), "test_endpoint"));
	path_in(f, "socketmap", f->path, sizeof(f->path));
	path_in(f, "target", f->target, sizeof(f->target));
	path_in(f, "lair", f->lair, sizeof(f->lair));
	int fd = open(f->target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0600), 0);
	close(fd);
	f->target_gid = getegid();
	/* Root may hand the socket to any group, and a chown that follows the
	 * attacker's link then shows in the target's group; another user sees
	 * a chmod that follows it in the target's mode. */
	f->group = geteuid() == 0 ? f->target_gid + 4242 : f->target_gid;
	f->fd = -1;
	f->row = *state;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	if (f->fd >= 0)
		close(f->fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);	/* the test's own directory, its own name */
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", f->dir);
	free(f);
	return 0;
}

static int
listen_at(struct fixture *f, const struct endpoint_unix_access *access, char *err, size_t errlen)
{
	struct endpoint ep;
	char spec[160];

	snprintf(spec, sizeof(spec), "unix:%s", f->path);
	assert_int_equal(endpoint_parse(spec, &ep, err, errlen), 0);
	f->fd = endpoint_listen_unix(&ep, 8, access, err, errlen);
	return f->fd;
}

/* The names in the fixture's directory other than the given ones: what
 * the listener left behind. */
static void
assert_only(const struct fixture *f, const char *const *names)
{
	DIR *d = opendir(f->dir);
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d))) {
		bool known = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
		for (size_t i = 0; names[i] && !known; i++)
			known = strcmp(e->d_name, names[i]) == 0;
		if (!known) {
			closedir(d);
			fail_msg("left behind in the directory: %s", e->d_name);
		}
	}
	closedir(d);
}

static void
assert_connects(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		fail_msg("connect %s: %s", path, strerror(errno));
	close(fd);
}

/* The socket is made with its final mode, whatever the umask, and the
 * group; connectable; nothing else is left in the directory; the process'
 * umask is as it was. */
static void
test_mode_and_group(void **state)
{
	struct fixture *f = *state;
	struct endpoint_unix_access access = {.mode = 0660, .gid = (long)f->group};
	char err[512];
	struct stat st;

	mode_t old = umask(022);
	int fd = listen_at(f, &access, err, sizeof(err));
	mode_t after = umask(old);
	if (fd < 0)
		fail_msg("%s", err);
	assert_int_equal(after, 022);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_gid, f->group);
	assert_int_equal(st.st_uid, geteuid());
	assert_connects(f->path);
	assert_only(f, (const char *const[]){"socketmap", "target", NULL});
}

/* Without an access, the umask decides and the group is the creator's. */
static void
test_umask_decides(void **state)
{
	struct fixture *f = *state;
	char err[512];
	struct stat st;

	mode_t old = umask(077);
	int fd = listen_at(f, NULL, err, sizeof(err));
	umask(old);
	if (fd < 0)
		fail_msg("%s", err);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
}

/* A stale socket of an earlier run is replaced. */
static void
test_stale_socket_replaced(void **state)
{
	struct fixture *f = *state;
	struct endpoint_unix_access access = {.mode = 0600, .gid = -1};
	char err[512];
	struct stat before, after;

	assert_true(listen_at(f, &access, err, sizeof(err)) >= 0);
	close(f->fd);
	f->fd = -1;
	assert_int_equal(lstat(f->path, &before), 0);
	if (listen_at(f, &access, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(lstat(f->path, &after), 0);
	assert_true(S_ISSOCK(after.st_mode));
	assert_true(after.st_ino != before.st_ino);
	assert_connects(f->path);
	assert_only(f, (const char *const[]){"socketmap", "target", NULL});
}

/* Anything but a socket at the path stays, and the listener is refused. */
static void
test_other_file_kept(void **state)
{
	struct fixture *f = *state;
	struct endpoint_unix_access access = {.mode = 0660, .gid = -1};
	char err[512];
	struct stat st;

	assert_int_equal(symlink("target", f->path), 0);
	assert_int_equal(listen_at(f, &access, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a socket"));
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(mkdir(f->path, 0700), 0);
	assert_int_equal(listen_at(f, &access, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a socket"));
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_only(f, (const char *const[]){"socketmap", "target", NULL});
}

/* ==== the directory's owner in the window between bind and hand-over ==== */

struct race_case {
	const char *name;
	void (*move)(struct fixture *f);
};

/* The name of the one entry of dir that is neither of two names. */
static void
other_entry(const char *dir, const char *not1, const char *not2, char *out, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	assert_non_null(d);
	out[0] = '\0';
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    strcmp(e->d_name, not1) == 0 || strcmp(e->d_name, not2) == 0)
			continue;
		snprintf(out, len, "%s", e->d_name);
		break;
	}
	closedir(d);
}

/* The socket's path swapped for a symbolic link to the target. */
static void
move_symlink(struct fixture *f)
{
	unlink(f->path);
	assert_int_equal(symlink(f->target, f->path), 0);
}

/* ...or for a hard link to it (root may link anything). */
static void
move_hardlink(struct fixture *f)
{
	unlink(f->path);
	assert_int_equal(link(f->target, f->path), 0);
}

/* Whatever the listener made in the directory besides its path (a place
 * to bind in private) renamed away, and a symbolic link in its place to a
 * directory where every name the listener might use points at the target. */
static void
move_private_directory(struct fixture *f)
{
	char name[256], from[400], to[400], link[400];
	static const char *const names[] = {"s", "sock", "socket", "socketmap", NULL};

	other_entry(f->dir, "target", "socketmap", name, sizeof(name));
	assert_int_equal(mkdir(f->lair, 0755), 0);
	for (size_t i = 0; names[i]; i++) {
		snprintf(link, sizeof(link), "%s/%s", f->lair, names[i]);
		assert_int_equal(symlink(f->target, link), 0);
	}
	if (!name[0])
		return;	/* the listener binds at its path: nothing to move */
	snprintf(from, sizeof(from), "%s/%s", f->dir, name);
	snprintf(to, sizeof(to), "%s/moved", f->dir);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(symlink(f->lair, from), 0);
}

static const struct race_case race_cases[] = {
	{"race: the path becomes a symbolic link to another file", move_symlink},
	{"race: the path becomes a hard link to another file", move_hardlink},
	{"race: the private directory is swapped for a link", move_private_directory},
};

static const char *
race_case_name(const void *row)
{
	return ((const struct race_case *)row)->name;
}

/* The directory's owner at work: called by the listener between bind()
 * and the hand-over of the socket to its group. */
static void
attack(void *arg, const char *path)
{
	struct fixture *f = arg;

	assert_string_equal(path, f->path);
	((const struct race_case *)f->row)->move(f);
}

static void
test_race(void **state)
{
	struct fixture *f = *state;
	struct endpoint_unix_access access = {.mode = 0660, .gid = (long)f->group, .between = attack, .arg = f};
	char err[512];
	struct stat st;

	int fd = listen_at(f, &access, err, sizeof(err));
	/* The point: the file the attacker aimed at is as it was. */
	assert_int_equal(lstat(f->target, &st), 0);
	if ((st.st_mode & 07777) != 0600 || st.st_gid != f->target_gid)
		fail_msg("the target was changed: mode %04o group %u (was 0600, %u)", (unsigned)(st.st_mode & 07777),
		    (unsigned)st.st_gid, (unsigned)f->target_gid);
	if (fd < 0)
		fail_msg("%s", err);
	/* And what is at the path is the listener's socket, as asked. */
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_gid, f->group);
	assert_connects(f->path);
}

struct endpoint_case {
	const char *name;
	const char *spec;
	int rc;
	int family;		/* AF_INET, AF_INET6, AF_UNIX */
	const char *addr;	/* address text, or the unix path */
	unsigned port;
	const char *err;	/* a substring of the error */
};

static const struct endpoint_case endpoint_cases[] = {
	{"endpoint: IPv4", "inet:127.0.0.1:7672", 0, AF_INET, "127.0.0.1", 7672, NULL},
	{"endpoint: IPv4 any", "inet:0.0.0.0:25", 0, AF_INET, "0.0.0.0", 25, NULL},
	{"endpoint: IPv4 port 65535", "inet:192.0.2.1:65535", 0, AF_INET, "192.0.2.1", 65535, NULL},
	{"endpoint: IPv6 loopback", "inet:[::1]:7672", 0, AF_INET6, "::1", 7672, NULL},
	{"endpoint: IPv6 address", "inet:[2001:db8::25]:10025", 0, AF_INET6, "2001:db8::25", 10025, NULL},
	{"endpoint: unix", "unix:/run/tlspolicyd/socketmap", 0, AF_UNIX, "/run/tlspolicyd/socketmap", 0, NULL},
	{"endpoint: unix root", "unix:/", 0, AF_UNIX, "/", 0, NULL},
	{"endpoint: unix relative", "unix:run/sock", -1, 0, NULL, 0, "absolute path"},
	{"endpoint: unix empty", "unix:", -1, 0, NULL, 0, "absolute path"},
	{"endpoint: unix path too long",
	    "unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    -1, 0, NULL, 0, "longer than 107 bytes"},
	{"endpoint: no port", "inet:127.0.0.1", -1, 0, NULL, 0, "expected inet:ADDR:PORT"},
	{"endpoint: empty port", "inet:127.0.0.1:", -1, 0, NULL, 0, "expected inet:ADDR:PORT"},
	{"endpoint: empty address", "inet::25", -1, 0, NULL, 0, "expected inet:ADDR:PORT"},
	{"endpoint: IPv6 without port", "inet:[::1]", -1, 0, NULL, 0, "port must be a number"},
	{"endpoint: port name", "inet:127.0.0.1:smtp", -1, 0, NULL, 0, "port must be a number"},
	{"endpoint: negative port", "inet:127.0.0.1:-1", -1, 0, NULL, 0, "port must be a number"},
	{"endpoint: port 65536", "inet:127.0.0.1:65536", -1, 0, NULL, 0, "port"},
	{"endpoint: port 70000", "inet:127.0.0.1:70000", -1, 0, NULL, 0, "port"},
	{"endpoint: port of 12 digits", "inet:127.0.0.1:99999999999", -1, 0, NULL, 0, "port"},
	{"endpoint: port 0", "inet:127.0.0.1:0", -1, 0, NULL, 0, "port"},
	{"endpoint: address too long",
	    "inet:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:25",
	    -1, 0, NULL, 0, "address too long"},
	{"endpoint: no scheme", "127.0.0.1:7672", -1, 0, NULL, 0, "expected inet:ADDR:PORT or unix:/PATH"},
	{"endpoint: other scheme", "tcp:127.0.0.1:7672", -1, 0, NULL, 0, "expected inet:ADDR:PORT or unix:/PATH"},
	{"endpoint: upper-case scheme", "INET:127.0.0.1:7672", -1, 0, NULL, 0, "expected inet:ADDR:PORT or unix:/PATH"},
	{"endpoint: empty", "", -1, 0, NULL, 0, "expected inet:ADDR:PORT or unix:/PATH"},
	{"endpoint: garbage", "\x01\xff", -1, 0, NULL, 0, "expected inet:ADDR:PORT or unix:/PATH"},
};

static const char *
endpoint_case_name(const void *row)
{
	return ((const struct endpoint_case *)row)->name;
}

static void
test_parse(void **state)
{
	const struct endpoint_case *c = *state;
	struct endpoint ep;
	char err[512] = "";
	char text[INET6_ADDRSTRLEN];

	int rc = endpoint_parse(c->spec, &ep, err, sizeof(err));
	if (rc != c->rc)
		fail_msg("'%s': %d (%s), want %d", c->spec, rc, rc ? err : "accepted", c->rc);
	if (rc < 0) {
		if (!strstr(err, c->err))
			fail_msg("error '%s', want '%s'", err, c->err);
		/* The error names what was wrong. */
		if (c->spec[0] >= 0x20 && strlen(c->spec) < 100 && !strstr(err, c->spec))
			fail_msg("error '%s' does not quote '%s'", err, c->spec);
		return;
	}
	assert_string_equal(ep.text, c->spec);
	assert_int_equal(ep.addr.ss_family, c->family);
	switch (c->family) {
	case AF_INET: {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&ep.addr;
		assert_false(ep.is_unix);
		assert_int_equal(ep.addrlen, sizeof(*sin));
		assert_int_equal(ntohs(sin->sin_port), c->port);
		assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text)));
		assert_string_equal(text, c->addr);
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ep.addr;
		assert_false(ep.is_unix);
		assert_int_equal(ep.addrlen, sizeof(*sin6));
		assert_int_equal(ntohs(sin6->sin6_port), c->port);
		assert_non_null(inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text)));
		assert_string_equal(text, c->addr);
		break;
	}
	case AF_UNIX: {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)&ep.addr;
		assert_true(ep.is_unix);
		assert_string_equal(sun->sun_path, c->addr);
		break;
	}
	}
}

/* The longest unix path that fits, and the text kept for messages. */
static void
test_parse_unix_limit(void **state)
{
	struct endpoint ep;
	char spec[200], err[256];
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;

	strcpy(spec, "unix:/");
	memset(spec + 6, 'p', max - 1);
	spec[5 + max] = '\0';
	assert_int_equal(strlen(spec + 5), max);
	assert_int_equal(endpoint_parse(spec, &ep, err, sizeof(err)), 0);
	assert_true(ep.is_unix);
	assert_string_equal(((struct sockaddr_un *)&ep.addr)->sun_path, spec + 5);
	strcat(spec, "p");
	assert_int_equal(endpoint_parse(spec, &ep, err, sizeof(err)), -1);
	/* A small err buffer is never overrun. */
	char tiny[8];
	memset(tiny, 'X', sizeof(tiny));
	assert_int_equal(endpoint_parse("bogus", &ep, tiny, 4), -1);
	assert_int_equal(tiny[3], '\0');
	assert_int_equal(tiny[4], 'X');
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test_setup_teardown(test_mode_and_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_umask_decides, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_socket_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_file_kept, setup, teardown),
		cmocka_unit_test(test_parse_unix_limit),
	};
	struct table t = {0};

	TABLE_ADD(&t, endpoint_cases, endpoint_case, test_parse);
	TABLE_TESTS(&t, more);
	size_t first = t.n;
	TABLE_ADD(&t, race_cases, race_case, test_race);
	for (size_t i = first; i < t.n; i++) {
		t.tests[i].setup_func = setup;
		t.tests[i].teardown_func = teardown;
	}
	return table_run(&t, "endpoint");
}
