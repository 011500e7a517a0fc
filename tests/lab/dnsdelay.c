/*
 * dnsdelay.c - a DNS server for tlspolicyd's lab that answers late, or never.
 *
 *   dnsdelay -u UPSTREAM [-d DELAY_MS] [-v] ADDR
 *       A slow server: every UDP query received on ADDR is passed on at once
 *       to the server at UPSTREAM, and the upstream's reply goes back to the
 *       client DELAY_MS milliseconds (default 2000) after the query arrived.
 *       Only the message ID is changed on the way (and changed back), so
 *       that replies to concurrent queries find their client.  A client's
 *       retransmission is a new query and gets a late reply of its own.  A
 *       query the upstream never answers is forgotten after DELAY_MS + 10 s.
 *       UDP only: the zones it fronts have small answers (no TC, no TCP).
 *
 *   dnsdelay -u UPSTREAM [-d DELAY_MS] [-x TYPES] [-n TYPES] [-v] ADDR
 *       The same, for a server that mishandles some types (selfcheck's
 *       DNS checks): queries for the types in the comma-separated list
 *       of numbers after -x are dropped (a firewall that drops TLSA
 *       queries: -x 52); those after -n are answered at once with NOTIMP
 *       (a server or middlebox that refuses unknown types: -n 65280).
 *
 *   dnsdelay [-v] ADDR
 *       A server whose answers are all dropped: it reads every UDP query and
 *       accepts every TCP connection on ADDR, and never sends a byte back.
 *       (No ICMP error either, unlike a closed port or an unrouted address.)
 *
 * ADDR and UPSTREAM are IPv4 ADDRESS[:PORT], port 53 by default.  -v writes
 * a line per query on stderr.  SIGTERM or SIGINT ends it, exit status 0.
 * Usage errors exit 2, other start-up failures 1, with a message on stderr.
 *
 * Built by `make check`; by hand:
 *   cc -std=c11 -O2 -Wall -Wextra -D_GNU_SOURCE -o dnsdelay tests/lab/dnsdelay.c
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* ppoll, accept4 */
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#define SLOTS 4096              /* queries in flight at once; a power of 2 */
#define MAX_MSG 65535
#define FORGET_MS 10000         /* after DELAY_MS, for an upstream that is silent */
#define MAX_TCP 64              /* held connections in silent mode */
#define MAX_TYPES 16            /* in a -x or -n list */

struct slot {
	bool used;
	uint16_t gen;           /* with the index, the ID sent upstream */
	uint16_t client_id;
	struct sockaddr_in client;
	long long due;          /* when to reply (or, unanswered, to forget) */
	unsigned char *reply;   /* the upstream's reply, once it came */
	size_t len;
};

static struct {
	long long delay_ms;
	bool silent, verbose;
	long long start;        /* now_ms() at the start, for the log */
	int ufd;                /* UDP on ADDR */
	int upfd;               /* UDP connected to UPSTREAM */
	int tfd;                /* TCP on ADDR (silent mode) */
	int conns[MAX_TCP];
	int nconns;
	struct slot slot[SLOTS];
	unsigned next;          /* where the search for a free slot starts */
	uint16_t drop[MAX_TYPES], notimp[MAX_TYPES];
	size_t ndrop, nnotimp;
} g;

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("dnsdelay: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage(void) __attribute__((noreturn));

static void usage(void)
{
	fputs("usage: dnsdelay [-u UPSTREAM[:PORT] [-d DELAY_MS] [-x TYPE,...] [-n TYPE,...]] [-v] ADDR[:PORT]\n",
	    stderr);
	exit(2);
}

static long long now_ms(void);

/* "dnsdelay: +MS ...": milliseconds since the start. */
static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logmsg(const char *fmt, ...)
{
	va_list ap;

	if (!g.verbose)
		return;
	fprintf(stderr, "dnsdelay: +%lld ", now_ms() - g.start);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "ADDRESS[:PORT]", IPv4; false if malformed. */
static bool parse_addr(const char *text, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strchr(text, ':');
	size_t hlen = colon ? (size_t)(colon - text) : strlen(text);
	unsigned long port = 53;

	if (hlen == 0 || hlen >= sizeof(host))
		return false;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (colon) {
		char *end;
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (errno || *end || end == colon + 1 || port == 0 || port > 65535)
			return false;
	}
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1;
}

static int open_socket(int type, const struct sockaddr_in *sa, bool bind_it)
{
	int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd == -1)
		die("socket: %s", strerror(errno));
	if (bind_it) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) == -1)
			die("bind %s:%u: %s", inet_ntoa(sa->sin_addr), ntohs(sa->sin_port), strerror(errno));
		if (type == SOCK_STREAM && listen(fd, 64) == -1)
			die("listen: %s", strerror(errno));
	} else if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == -1) {
		die("connect: %s", strerror(errno));
	}
	return fd;
}

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

/* The question of a message, "NAME TYPE", for the log; "?" if unreadable. */
static const char *question(const unsigned char *msg, size_t len, char *out, size_t size)
{
	size_t i = 12, o = 0;

	if (len < 12 || get16(msg + 4) == 0)
		return "?";
	while (i < len && msg[i] != 0) {
		size_t n = msg[i++];
		if (n > 63 || i + n > len || o + n + 2 > size)
			return "?";
		for (size_t k = 0; k < n; k++) {
			unsigned char ch = msg[i + k];
			out[o++] = ch > 0x20 && ch < 0x7f ? (char)ch : '?';
		}
		out[o++] = '.';
		i += n;
	}
	if (i + 3 > len || o + 8 > size)
		return "?";
	if (o == 0)
		out[o++] = '.';
	snprintf(out + o, size - o, " %u", get16(msg + i + 1));
	return out;
}

/* The question's type and where the question ends; false if unreadable. */
static bool question_type(const unsigned char *msg, size_t len, uint16_t *type, size_t *end)
{
	size_t i = 12;

	if (len < 12 || get16(msg + 4) != 1)
		return false;
	while (i < len && msg[i] != 0) {
		if (msg[i] > 63)
			return false;
		i += (size_t)msg[i] + 1;
	}
	if (i + 5 > len)
		return false;
	*type = get16(msg + i + 1);
	*end = i + 5;
	return true;
}

static bool listed(const uint16_t *types, size_t n, uint16_t type)
{
	for (size_t i = 0; i < n; i++)
		if (types[i] == type)
			return true;
	return false;
}

/* "52,65280" into types; false if malformed. */
static bool parse_types(const char *text, uint16_t *types, size_t *n)
{
	char *end;

	*n = 0;
	do {
		errno = 0;
		unsigned long v = strtoul(text, &end, 10);
		if (errno || end == text || v == 0 || v > 65535 || *n == MAX_TYPES || (*end && *end != ','))
			return false;
		types[(*n)++] = (uint16_t)v;
		text = end + 1;
	} while (*end == ',');
	return true;
}

/* The header and question of a query sent back with NOTIMP. */
static void answer_notimp(unsigned char *msg, size_t end, const struct sockaddr_in *to)
{
	msg[2] = (unsigned char)(0x80 | (msg[2] & 0x79));     /* QR, opcode, RD kept */
	msg[3] = 4;                                             /* NOTIMP */
	put16(msg + 6, 0);
	put16(msg + 8, 0);
	put16(msg + 10, 0);
	sendto(g.ufd, msg, end, 0, (const struct sockaddr *)to, sizeof(*to));
}

static void slot_free(struct slot *s)
{
	free(s->reply);
	s->reply = NULL;
	s->used = false;
}

/* A query from a client: remember it, pass it on (silent mode: drop it). */
static void on_query(void)
{
	unsigned char msg[MAX_MSG];
	struct sockaddr_in from;
	socklen_t fromlen = sizeof(from);
	ssize_t n;

	while ((n = recvfrom(g.ufd, msg, sizeof(msg), 0, (struct sockaddr *)&from, &fromlen)) >= 0) {
		fromlen = sizeof(from);
		if (n < 12)
			continue;       /* not even a DNS header */
		char q[300];
		logmsg("query id %u from %s:%u: %s%s", get16(msg), inet_ntoa(from.sin_addr),
		    ntohs(from.sin_port), question(msg, (size_t)n, q, sizeof(q)),
		    g.silent ? ", dropped" : "");
		if (g.silent)
			continue;
		uint16_t type;
		size_t end;
		if (question_type(msg, (size_t)n, &type, &end)) {
			if (listed(g.drop, g.ndrop, type)) {
				logmsg("type %u dropped", type);
				continue;
			}
			if (listed(g.notimp, g.nnotimp, type)) {
				logmsg("type %u answered NOTIMP", type);
				answer_notimp(msg, end, &from);
				continue;
			}
		}
		struct slot *s = NULL;
		unsigned i;
		for (unsigned k = 0; k < SLOTS; k++) {
			i = (g.next + k) & (SLOTS - 1);
			if (!g.slot[i].used) {
				s = &g.slot[i];
				break;
			}
		}
		if (!s)
			continue;       /* full: the client will retransmit */
		g.next = (i + 1) & (SLOTS - 1);
		s->used = true;
		s->gen = (uint16_t)((s->gen + 1) & 0xf);
		s->client_id = get16(msg);
		s->client = from;
		s->due = now_ms() + g.delay_ms + FORGET_MS;
		put16(msg, (uint16_t)(s->gen << 12 | i));
		if (send(g.upfd, msg, (size_t)n, 0) == -1)
			slot_free(s);
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		die("recvfrom: %s", strerror(errno));
}

/* A reply from upstream: hold it until DELAY_MS after its query came. */
static void on_reply(void)
{
	unsigned char msg[MAX_MSG];
	ssize_t n;

	while ((n = recv(g.upfd, msg, sizeof(msg), 0)) >= 0) {
		if (n < 12)
			continue;
		uint16_t id = get16(msg);
		struct slot *s = &g.slot[id & (SLOTS - 1)];
		if (!s->used || s->reply || s->gen != id >> 12)
			continue;       /* late, duplicate or unknown */
		if (!(s->reply = malloc((size_t)n)))
			die("out of memory");
		put16(msg, s->client_id);
		memcpy(s->reply, msg, (size_t)n);
		s->len = (size_t)n;
		s->due -= FORGET_MS;
	}
	/* ECONNREFUSED: the upstream is down; its queries are forgotten later. */
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNREFUSED)
		die("recv: %s", strerror(errno));
}

/* Sends what is due, forgets what expired; returns the next due time or -1. */
static long long run_due(void)
{
	long long now = now_ms(), next = -1;

	for (unsigned i = 0; i < SLOTS; i++) {
		struct slot *s = &g.slot[i];
		if (!s->used)
			continue;
		if (s->due <= now) {
			if (s->reply) {
				logmsg("reply id %u to %s:%u", s->client_id, inet_ntoa(s->client.sin_addr),
				    ntohs(s->client.sin_port));
				sendto(g.ufd, s->reply, s->len, 0, (struct sockaddr *)&s->client, sizeof(s->client));
			}
			slot_free(s);
		} else if (next == -1 || s->due < next) {
			next = s->due;
		}
	}
	return next;
}

/* Silent mode: take connections, read and discard, never answer. */
static void on_accept(void)
{
	int fd;

	while ((fd = accept4(g.tfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (g.nconns == MAX_TCP) {
			close(fd);
			continue;
		}
		logmsg("TCP connection held");
		g.conns[g.nconns++] = fd;
	}
}

static void on_conn(int k)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(g.conns[k], buf, sizeof(buf))) > 0)
		;
	if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		close(g.conns[k]);
		g.conns[k] = g.conns[--g.nconns];
	}
}

int main(int argc, char **argv)
{
	const char *upstream = NULL;
	struct sockaddr_in addr, up;
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, unblocked;
	int opt;

	g.delay_ms = 2000;
	g.start = now_ms();
	while ((opt = getopt(argc, argv, "u:d:x:n:v")) != -1) {
		char *end;

		switch (opt) {
		case 'u':
			upstream = optarg;
			break;
		case 'd':
			errno = 0;
			g.delay_ms = strtoll(optarg, &end, 10);
			if (errno || *end || end == optarg || g.delay_ms < 0 || g.delay_ms > 3600000)
				usage();
			break;
		case 'x':
			if (!parse_types(optarg, g.drop, &g.ndrop))
				usage();
			break;
		case 'n':
			if (!parse_types(optarg, g.notimp, &g.nnotimp))
				usage();
			break;
		case 'v':
			g.verbose = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || !parse_addr(argv[optind], &addr) ||
	    (upstream && !parse_addr(upstream, &up)) || (!upstream && (g.ndrop || g.nnotimp)))
		usage();
	g.silent = !upstream;
	g.ufd = open_socket(SOCK_DGRAM, &addr, true);
	g.upfd = g.tfd = -1;
	if (g.silent)
		g.tfd = open_socket(SOCK_STREAM, &addr, true);
	else
		g.upfd = open_socket(SOCK_DGRAM, &up, false);

	/* SIGTERM and SIGINT are only delivered inside ppoll, so none is lost
	 * between the check of `stop` and the wait. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &unblocked);
	sigdelset(&unblocked, SIGTERM);
	sigdelset(&unblocked, SIGINT);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	while (!stop) {
		struct pollfd pfd[2 + MAX_TCP];
		long long next = run_due(), now = now_ms();
		struct timespec ts, *tp = NULL;
		int n = 0;

		pfd[n++] = (struct pollfd){ .fd = g.ufd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = g.silent ? g.tfd : g.upfd, .events = POLLIN };
		for (int k = 0; k < g.nconns; k++)
			pfd[n++] = (struct pollfd){ .fd = g.conns[k], .events = POLLIN };
		if (next != -1) {
			long long wait = next > now ? next - now : 0;
			ts.tv_sec = wait / 1000;
			ts.tv_nsec = (wait % 1000) * 1000000;
			tp = &ts;
		}
		if (ppoll(pfd, (nfds_t)n, tp, &unblocked) == -1) {
			if (errno == EINTR)
				continue;
			die("ppoll: %s", strerror(errno));
		}
		if (pfd[0].revents)
			on_query();
		if (pfd[1].revents)
			g.silent ? on_accept() : on_reply();
		/* Backwards: on_conn may move the last connection into slot k. */
		for (int k = n - 3; k >= 0; k--)
			if (pfd[2 + k].revents)
				on_conn(k);
	}
	for (unsigned i = 0; i < SLOTS; i++)
		slot_free(&g.slot[i]);
	for (int k = 0; k < g.nconns; k++)
		close(g.conns[k]);
	close(g.ufd);
	if (g.upfd != -1)
		close(g.upfd);
	if (g.tfd != -1)
		close(g.tfd);
	return 0;
}
