/* Unit tests: naming the peer of a connection (peer.h). Unix sockets and
 * TCP from this host give the connecting user, whatever loopback address
 * it connects from; addresses from elsewhere are a table. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/peer.h"
#include "table.h"

/* ==== addresses of peers elsewhere ==== */

struct address_case {
	const char *name;
	const char *addr;
	const char *key;
};

static const struct address_case address_cases[] = {
	{"address: IPv4", "192.0.2.1", "addr:192.0.2.1"},
	{"address: IPv6, its /64", "2001:db8:1:2:3:4:5:6", "net:2001:db8:1:2::/64"},
	{"address: IPv6, another of the same /64", "2001:db8:1:2:ffff::1", "net:2001:db8:1:2::/64"},
	{"address: IPv6, another /64", "2001:db8:1:3::1", "net:2001:db8:1:3::/64"},
	{"address: IPv4-mapped IPv6 is the IPv4 address", "::ffff:192.0.2.7", "addr:192.0.2.7"},
};

static const char *
address_case_name(const void *row)
{
	return ((const struct address_case *)row)->name;
}

static void
test_address(void **state)
{
	const struct address_case *c = *state;
	struct sockaddr_storage ss = {0};
	char key[PEER_KEY_MAX];

	if (strchr(c->addr, ':')) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, c->addr, &sin6->sin6_addr), 1);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, c->addr, &sin->sin_addr), 1);
	}
	peer_address_key(&ss, key, sizeof(key));
	assert_string_equal(key, c->key);
}

/* ==== connections on this host ==== */

static void
expect_uid(struct peer_diag *d, int fd, unsigned uid)
{
	struct peer p;
	char want[PEER_KEY_MAX];

	assert_int_equal(peer_identify(d, fd, &p), 0);
	snprintf(want, sizeof(want), "uid:%u", uid);
	assert_string_equal(p.key, want);
	assert_true(p.by_uid);
}

static void
test_unix(void **state)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	expect_uid(NULL, sv[0], (unsigned)geteuid());
	close(sv[0]);
	close(sv[1]);
}

/* A TCP listener on addr, port chosen by the kernel. */
static int
tcp_listener(int family, const char *addr, struct sockaddr_storage *ss, socklen_t *len)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, &sin->sin_addr), 1);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, addr, &sin6->sin6_addr), 1);
		*len = sizeof(*sin6);
	}
	if (bind(fd, (struct sockaddr *)ss, *len) < 0) {
		close(fd);
		return -1;	/* no such address here (IPv6 off) */
	}
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)ss, len), 0);
	return fd;
}

/* Connects to ss from source (NULL: the kernel's choice). */
static int
tcp_connect(const struct sockaddr_storage *ss, socklen_t len, const char *source)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (source) {
		struct sockaddr_in sin = {.sin_family = AF_INET};
		assert_int_equal(inet_pton(AF_INET, source, &sin.sin_addr), 1);
		assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	}
	assert_int_equal(connect(fd, (const struct sockaddr *)ss, len), 0);
	return fd;
}

struct tcp_case {
	const char *name;
	int family;
	const char *listen;
	const char *source;	/* NULL: the kernel's choice */
};

static const struct tcp_case tcp_cases[] = {
	{"tcp: IPv4 loopback: the connecting user", AF_INET, "127.0.0.1", NULL},
	{"tcp: from another loopback address: the same user", AF_INET, "127.0.0.1", "127.0.0.2"},
	{"tcp: to another loopback address: the same user", AF_INET, "127.0.0.3", "127.0.0.4"},
	{"tcp: IPv6 loopback: the connecting user", AF_INET6, "::1", NULL},
};

static const char *
tcp_case_name(const void *row)
{
	return ((const struct tcp_case *)row)->name;
}

static void
test_tcp(void **state)
{
	const struct tcp_case *c = *state;
	struct sockaddr_storage ss;
	socklen_t len;
	struct peer_diag *d = peer_diag_create();
	struct peer p;

	assert_non_null(d);
	int lfd = tcp_listener(c->family, c->listen, &ss, &len);
	if (lfd < 0) {
		peer_diag_free(d);
		skip();
	}
	int cfd = tcp_connect(&ss, len, c->source);
	int afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	assert_int_equal(peer_identify(d, afd, &p), 0);
	const char *why = peer_diag_error(d);
	if (why)
		fail_msg("socket diagnostics unavailable: %s (key %s)", why, p.key);
	expect_uid(d, afd, (unsigned)geteuid());
	/* Without the diagnostics: the address. */
	assert_int_equal(peer_identify(NULL, afd, &p), 0);
	assert_false(p.by_uid);
	assert_int_equal(strncmp(p.key, c->family == AF_INET ? "addr:127." : "net:", c->family == AF_INET ? 9 : 4), 0);
	close(afd);
	close(cfd);
	close(lfd);
	peer_diag_free(d);
}

/* Two users on the loopback are two peers, though their addresses are
 * the same: a child switches to another user and connects. Root only. */
static void
test_tcp_other_user(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int ready[2], stop[2];
	char c;

	if (geteuid() != 0)
		skip();
	struct peer_diag *d = peer_diag_create();
	assert_non_null(d);
	int lfd = tcp_listener(AF_INET, "127.0.0.1", &ss, &len);
	assert_true(lfd >= 0);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(stop), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		close(stop[1]);
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) < 0)
			_exit(3);
		if (write(ready[1], "r", 1) != 1)
			_exit(4);
		/* Holds the connection until the parent has looked. */
		if (read(stop[0], &c, 1) < 0)
			_exit(5);
		_exit(0);
	}
	close(ready[1]);
	close(stop[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	int afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	expect_uid(d, afd, 65534);
	close(stop[1]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(ready[0]);
	close(afd);
	close(lfd);
	peer_diag_free(d);
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_unix),
		cmocka_unit_test(test_tcp_other_user),
	};
	struct table t = {0};

	TABLE_ADD(&t, address_cases, address_case, test_address);
	TABLE_ADD(&t, tcp_cases, tcp_case, test_tcp);
	TABLE_TESTS(&t, more);
	return table_run(&t, "peer");
}
