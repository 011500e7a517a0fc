/*
 * nsmin - the minimal socketmap server: the baseline tlspolicyd is
 * measured against.
 *
 * It does the protocol work every socketmap server must do and nothing
 * else: one thread, one epoll loop, non-blocking sockets; each request
 * netstring "<len>:<map> <key>," is parsed properly (decimal length
 * without leading zeros, ':', the payload, ','), requests split over
 * several reads and several requests in one read are both handled, the
 * payload is split into map name and key, and every request is answered,
 * in order, with one fixed reply (default "OK may").  A malformed request
 * gets a "PERM" reply and the connection is closed.  No lookup, no
 * logging on the request path, no timers.
 *
 * So a figure for nsmin is the cost of the kernel's socket work plus
 * netstring framing on this machine: the limit no socketmap server can
 * beat with the same client.
 *
 * Usage: nsmin [-r TEXT] [-q] inet:ADDR:PORT | unix:PATH
 * C11 + POSIX + Linux epoll, no other library.  See tests/bench/README.md.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define PROG		"nsmin"
#define MAX_QUERY	10000	/* longest request payload Postfix sends */
#define IN_SMALL	256	/* inline input buffer; grows for long requests */
#define OUT_SMALL	256	/* inline output buffer; grows for pipelining */

static const char perm_reply[] = "32:PERM malformed socketmap request,";

static _Noreturn void fatal(const char *, ...)
    __attribute__((format(printf, 1, 2)));

static _Noreturn void
fatal(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
usage(FILE *fp)
{
	fprintf(fp,
"Usage: " PROG " [-r TEXT] [-q] inet:ADDR:PORT | unix:PATH\n"
"\n"
"Minimal socketmap server, the benchmark baseline: one thread, epoll,\n"
"non-blocking.  Parses every request netstring \"<len>:<map> <key>,\"\n"
"(payload up to %d bytes, as Postfix sends) and answers each with one\n"
"fixed reply netstring.  A malformed request gets \"PERM ...\" and the\n"
"connection is closed.\n"
"\n"
"  -r TEXT  reply payload (default \"OK may\")\n"
"  -q       quiet: no start and stop messages\n"
"  -h       this text\n"
"\n"
"Stops on SIGINT or SIGTERM and prints what it answered to stderr.\n",
	    MAX_QUERY);
}

/* ------------------------------------------------------------------ */
/* Connections								*/
/* ------------------------------------------------------------------ */

struct client {
	int fd;
	int blocked;		/* output pending: EPOLLOUT, not EPOLLIN */
	char *in;		/* ismall, or a heap buffer for long requests */
	size_t ilen, icap;
	char *out;		/* osmall, or a heap buffer */
	size_t olen, ooff, ocap;
	char ismall[IN_SMALL];
	char osmall[OUT_SMALL];
};

static int epfd;
static char *reply;		/* the encoded reply netstring */
static size_t reply_len;
static volatile sig_atomic_t stopping;
static unsigned long long n_answered, n_accepted, n_malformed;

static void
client_close(struct client *c)
{
	close(c->fd);			/* leaves the epoll set too */
	if (c->in != c->ismall)
		free(c->in);
	if (c->out != c->osmall)
		free(c->out);
	free(c);
}

/*
 * A malformed request: send the replies to the good requests before it and
 * a PERM (best effort, without waiting), then hang up.
 */
static void
client_reject(struct client *c)
{
	n_malformed++;
	if (c->olen > c->ooff)
		(void)send(c->fd, c->out + c->ooff, c->olen - c->ooff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)send(c->fd, perm_reply, sizeof(perm_reply) - 1,
	    MSG_NOSIGNAL | MSG_DONTWAIT);
	client_close(c);
}

static int
out_reserve(struct client *c, size_t n)
{
	size_t cap;
	char *nb;

	if (c->olen + n <= c->ocap)
		return 0;
	for (cap = c->ocap * 2; cap < c->olen + n; cap *= 2)
		;
	if (c->out == c->osmall) {
		nb = malloc(cap);
		if (nb)
			memcpy(nb, c->out, c->olen);
	} else {
		nb = realloc(c->out, cap);
	}
	if (!nb)
		return -1;
	c->out = nb;
	c->ocap = cap;
	return 0;
}

enum req { REQ_MORE, REQ_DONE, REQ_BAD };

/*
 * The request netstring at the start of b[0..n): REQ_DONE with its
 * payload and total length; REQ_MORE with *total the length it will have
 * (0 while the length digits are still arriving); REQ_BAD.
 */
static enum req
parse_request(const char *b, size_t n, const char **pay, size_t *plen,
    size_t *total)
{
	size_t i, len = 0;

	*total = 0;
	for (i = 0; i < n && b[i] != ':'; i++) {
		if (b[i] < '0' || b[i] > '9' || (i == 1 && b[0] == '0'))
			return REQ_BAD;
		len = len * 10 + (size_t)(b[i] - '0');
		if (len > MAX_QUERY)
			return REQ_BAD;
	}
	if (i == n)
		return REQ_MORE;
	if (i == 0)
		return REQ_BAD;
	*total = i + 1 + len + 1;
	if (n < *total)
		return REQ_MORE;
	if (b[i + 1 + len] != ',')
		return REQ_BAD;
	*pay = b + i + 1;
	*plen = len;
	return REQ_DONE;
}

/*
 * Answers every complete request in the input buffer.  Returns -1 when one
 * is malformed.  Grows the input buffer when an incomplete request will
 * not fit in it.
 */
static int
answer_requests(struct client *c)
{
	size_t pos = 0;

	for (;;) {
		const char *pay = NULL, *sp;
		size_t plen = 0, total;
		enum req r = parse_request(c->in + pos, c->ilen - pos, &pay,
		    &plen, &total);

		if (r == REQ_BAD)
			return -1;
		if (r == REQ_MORE) {
			if (pos) {
				memmove(c->in, c->in + pos, c->ilen - pos);
				c->ilen -= pos;
			}
			if (total > c->icap) {
				char *nb = malloc(total);

				if (!nb)
					return -1;
				memcpy(nb, c->in, c->ilen);
				if (c->in != c->ismall)
					free(c->in);
				c->in = nb;
				c->icap = total;
			}
			return 0;
		}
		/* "<map> <key>": a real server needs the key, so split. */
		sp = memchr(pay, ' ', plen);
		if (!sp || sp == pay || sp + 1 == pay + plen)
			return -1;
		if (out_reserve(c, reply_len) < 0)
			return -1;
		memcpy(c->out + c->olen, reply, reply_len);
		c->olen += reply_len;
		n_answered++;
		pos += total;
	}
}

static void
set_events(struct client *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	(void)epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/*
 * Sends queued output.  While some is left, reading stops (EPOLLOUT
 * instead of EPOLLIN), so a client that does not read cannot make the
 * server buffer without bound.  Returns -1 if c must be closed.
 */
static int
flush_output(struct client *c)
{
	while (c->ooff < c->olen) {
		ssize_t n = send(c->fd, c->out + c->ooff, c->olen - c->ooff,
		    MSG_NOSIGNAL);

		if (n > 0)
			c->ooff += (size_t)n;
		else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		else
			return -1;
	}
	if (c->ooff == c->olen) {
		c->ooff = c->olen = 0;
		if (c->blocked) {
			c->blocked = 0;
			set_events(c, EPOLLIN);
		}
	} else if (!c->blocked) {
		c->blocked = 1;
		set_events(c, EPOLLOUT);
	}
	return 0;
}

static void
client_readable(struct client *c)
{
	ssize_t n = read(c->fd, c->in + c->ilen, c->icap - c->ilen);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);	/* EOF or error */
		return;
	}
	c->ilen += (size_t)n;
	if (answer_requests(c) < 0) {
		client_reject(c);
		return;
	}
	if (c->olen && flush_output(c) < 0)
		client_close(c);
}

/* ------------------------------------------------------------------ */
/* Listening								*/
/* ------------------------------------------------------------------ */

static const char *unix_path;
static int spare_fd = -1;	/* given up to accept-and-close on EMFILE */

static int
listen_on(const char *spec)
{
	int fd, one = 1;

	if (strncmp(spec, "unix:", 5) == 0 || (strncmp(spec, "inet:", 5) != 0 &&
	    strchr(spec, '/'))) {
		struct sockaddr_un sun;
		struct stat st;

		unix_path = strncmp(spec, "unix:", 5) == 0 ? spec + 5 : spec;
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (*unix_path == '\0' || strlen(unix_path) >= sizeof(sun.sun_path))
			fatal("bad unix socket path \"%s\"", unix_path);
		strcpy(sun.sun_path, unix_path);
		if (lstat(unix_path, &st) == 0 && S_ISSOCK(st.st_mode))
			(void)unlink(unix_path);	/* a stale socket */
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			fatal("socket: %s", strerror(errno));
		if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
			fatal("bind %s: %s", unix_path, strerror(errno));
	} else {
		char host[256];
		const char *port, *end, *t = spec;
		struct addrinfo hints, *ai;
		int rc;

		if (strncmp(t, "inet:", 5) == 0)
			t += 5;
		if (*t == '[') {
			end = strchr(t, ']');
			if (!end || end[1] != ':' || (size_t)(end - t) > sizeof(host))
				fatal("bad address \"%s\": want [ADDR]:PORT", t);
			memcpy(host, t + 1, (size_t)(end - t - 1));
			host[end - t - 1] = '\0';
			port = end + 2;
		} else {
			end = strrchr(t, ':');
			if (!end || (size_t)(end - t) >= sizeof(host))
				fatal("bad address \"%s\": want inet:ADDR:PORT or "
				    "unix:PATH", t);
			memcpy(host, t, (size_t)(end - t));
			host[end - t] = '\0';
			port = end + 1;
		}
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		rc = getaddrinfo(*host ? host : NULL, port, &hints, &ai);
		if (rc)
			fatal("%s: %s", t, gai_strerror(rc));
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd < 0)
			fatal("socket: %s", strerror(errno));
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
			fatal("bind %s: %s", t, strerror(errno));
		freeaddrinfo(ai);
	}
	if (listen(fd, SOMAXCONN) < 0)
		fatal("listen: %s", strerror(errno));
	return fd;
}

static void
accept_all(int lfd, int tcp)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if ((errno == EMFILE || errno == ENFILE) && spare_fd >= 0) {
				/* Take the connection off the queue and drop it. */
				close(spare_fd);
				fd = accept(lfd, NULL, NULL);
				if (fd >= 0)
					close(fd);
				spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
				continue;
			}
			return;			/* EAGAIN, or nothing to do */
		}

		struct client *c = malloc(sizeof(*c));
		struct epoll_event ev = { .events = EPOLLIN };
		int one = 1;

		if (!c) {
			close(fd);
			continue;
		}
		if (tcp)
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
			    sizeof(one));
		c->fd = fd;
		c->blocked = 0;
		c->in = c->ismall;
		c->icap = sizeof(c->ismall);
		c->ilen = 0;
		c->out = c->osmall;
		c->ocap = sizeof(c->osmall);
		c->olen = c->ooff = 0;
		ev.data.ptr = c;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			client_close(c);
			continue;
		}
		n_accepted++;
	}
}

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

int
main(int argc, char **argv)
{
	const char *text = "OK may";
	int ch, quiet = 0, lfd, tcp;
	static int listener_tag;	/* its address marks the listener */

	while ((ch = getopt(argc, argv, "r:qh")) != -1) {
		switch (ch) {
		case 'r':
			text = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, PROG ": see \"" PROG " -h\"\n");
			return 64;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, PROG ": give one address, inet:ADDR:PORT or "
		    "unix:PATH; see \"" PROG " -h\"\n");
		return 64;
	}

	size_t tlen = strlen(text);
	reply = malloc(tlen + 24);
	if (!reply)
		fatal("out of memory");
	reply_len = (size_t)snprintf(reply, 24, "%zu:", tlen);
	memcpy(reply + reply_len, text, tlen);
	reply_len += tlen;
	reply[reply_len++] = ',';

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: epoll_wait returns */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	lfd = listen_on(argv[optind]);
	tcp = unix_path == NULL;
	spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		fatal("epoll_create1: %s", strerror(errno));

	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = &listener_tag };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) < 0)
		fatal("epoll_ctl: %s", strerror(errno));
	if (!quiet)
		fprintf(stderr, PROG ": pid %ld listening on %s, replying \"%s\"\n",
		    (long)getpid(), argv[optind], text);

	struct epoll_event evs[256];

	while (!stopping) {
		int n = epoll_wait(epfd, evs, 256, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal("epoll_wait: %s", strerror(errno));
		}
		for (int i = 0; i < n; i++) {
			struct client *c = evs[i].data.ptr;

			if (evs[i].data.ptr == &listener_tag) {
				accept_all(lfd, tcp);
				continue;
			}
			/*
			 * One event per client per round.  A blocked client
			 * only waits for EPOLLOUT; EPOLLERR/EPOLLHUP are
			 * noticed by the send or read that follows.
			 */
			if (c->blocked) {
				if (flush_output(c) < 0)
					client_close(c);
				continue;
			}
			client_readable(c);
		}
	}
	close(lfd);
	if (unix_path)
		(void)unlink(unix_path);
	if (!quiet)
		fprintf(stderr, PROG ": stopping: %llu requests answered on %llu "
		    "connections, %llu malformed\n", n_answered, n_accepted,
		    n_malformed);
	free(reply);
	return 0;
}
