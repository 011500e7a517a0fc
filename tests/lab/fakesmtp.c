/*
 * fakesmtp.c - a small misbehaving SMTP server for tlspolicyd's lab.
 *
 * It plays the mail servers that a real Postfix smtpd cannot:
 *
 *   fakesmtp -m silent ADDR:PORT
 *       Accepts every connection and never says a word: no banner, ever.
 *       Whatever the client sends is read and thrown away; the connection
 *       is closed when the client closes it.
 *
 *   fakesmtp -m slow [-d DELAY_MS] [-c CERT.pem -k KEY.pem] ADDR:PORT
 *       A correct (if minimal) ESMTP server whose every reply - the 220
 *       banner, EHLO, STARTTLS, QUIT, ... - is sent DELAY_MS milliseconds
 *       (default 2000) after the command that asked for it.  With a
 *       certificate it offers STARTTLS ("250-STARTTLS" before TLS, not
 *       after), answers "220 2.0.0 Ready to start TLS", then does a real TLS
 *       handshake with OpenSSL and carries on over TLS.  It takes no mail.
 *       CERT.pem may hold the certificate chain (leaf first); KEY.pem may be
 *       the same file when it holds the key too.
 *
 *   fakesmtp -m tlsfail [-d DELAY_MS] ADDR:PORT
 *       The same dialogue (DELAY_MS defaults to 0 here), STARTTLS offered
 *       and answered with 220, but then no TLS: once the client's first
 *       handshake bytes arrive it gets a plaintext SMTP reply instead of a
 *       ServerHello, and the connection is shut down.  No client can
 *       complete a handshake, whatever its TLS versions and ciphers.
 *
 *   fakesmtp -m anon ADDR:PORT
 *       The slow mode's dialogue without the delay, STARTTLS offered, and
 *       TLS with anonymous cipher suites only (TLS 1.2 at most: TLS 1.3 has
 *       none), so the client gets no certificate at all: what Postfix logs
 *       as "Anonymous TLS connection established".
 *
 *   Options for every mode: -n NAME, the host name in the banner and the
 *   EHLO reply (default localhost); -v, a line on stderr per connection
 *   event.
 *
 * One process, one thread: non-blocking sockets and OpenSSL on an epoll
 * loop, so that hundreds of connections (up to RLIMIT_NOFILE, raised to its
 * hard limit) wait for their replies at the same time.  Every reply is
 * due DELAY_MS after it was queued, so the queue of pending replies is kept in
 * order by appending: its head is always the next one due, and no timer
 * structure is needed.  Commands are handled one at a time per connection:
 * a pipelining client gets each reply DELAY_MS after the previous one.
 *
 * SIGTERM or SIGINT ends it, exit status 0.  Usage errors exit 2, other
 * start-up failures 1, with a message on stderr.
 *
 * Built by `make check`; by hand:
 *   cc -std=c11 -O2 -Wall -Wextra tests/lab/fakesmtp.c -lssl -lcrypto
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* accept4, epoll_pwait */
#endif

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define LINE_MAX_LEN 1000       /* longest command line taken, CRLF included */
#define REPLY_MAX 512           /* longest reply we send */
#define ACCEPT_PAUSE_MS 100     /* back-off when out of file descriptors */

enum mode { MODE_SILENT, MODE_SLOW, MODE_TLSFAIL };

enum state {
	ST_DISCARD,             /* say nothing, discard input until EOF */
	ST_REPLY_WAIT,          /* a reply is queued until its due time */
	ST_WRITING,             /* sending a reply that did not fit at once */
	ST_COMMAND,             /* waiting for the next command line */
	ST_HANDSHAKE,           /* TLS handshake after "220 Ready to start TLS" */
	ST_NOT_TLS,             /* tlsfail: waiting for the client's handshake */
};

/* What tlsfail mode sends instead of a ServerHello. */
#define NOT_TLS "454 4.7.0 TLS not available due to local problem\r\n"

struct conn {
	int fd;
	SSL *ssl;               /* NULL until STARTTLS */
	enum state state;
	bool start_tls;         /* the queued reply is the 220 to STARTTLS */
	bool quit;              /* close once the queued reply is sent */
	bool hang_up;           /* once sent, shut down writing and discard */
	bool want_write;        /* the last I/O call waits for EPOLLOUT */
	uint32_t events;        /* what epoll watches for this fd now */
	long long due;          /* ST_REPLY_WAIT: when to send (monotonic ms) */
	char in[LINE_MAX_LEN];  /* received, not yet handled */
	size_t inlen;
	char out[REPLY_MAX];    /* the reply being sent */
	size_t outlen, outoff;
	struct conn *qprev, *qnext;     /* reply queue, oldest first */
	struct conn *prev, *next;       /* every connection */
};

static struct {
	enum mode mode;
	long long delay_ms;
	const char *name;
	bool verbose;
	SSL_CTX *ssl_ctx;       /* slow mode with a certificate */
	bool offer_starttls;    /* slow mode with a certificate, tlsfail */
	int epfd, lfd;
	bool accepting;
	long long accept_resume;        /* when accepting is off: resume time */
	struct conn *qhead, *qtail;
	struct conn *all;
	unsigned long nconn;
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

	fputs("fakesmtp: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static void logmsg(const struct conn *c, const char *what)
{
	if (g.verbose)
		fprintf(stderr, "fakesmtp: fd %d: %s (%lu open)\n", c->fd, what, g.nconn);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ connections */

static void set_events(struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (events != c->events) {
		if (epoll_ctl(g.epfd, EPOLL_CTL_MOD, c->fd, &ev) == -1)
			die("epoll_ctl: %s", strerror(errno));
		c->events = events;
	}
}

static void queue_remove(struct conn *c)
{
	if (c->qprev)
		c->qprev->qnext = c->qnext;
	else if (g.qhead == c)
		g.qhead = c->qnext;
	else
		return;         /* not queued */
	if (c->qnext)
		c->qnext->qprev = c->qprev;
	else
		g.qtail = c->qprev;
	c->qprev = c->qnext = NULL;
}

static void conn_close(struct conn *c, const char *why)
{
	g.nconn--;
	logmsg(c, why);
	queue_remove(c);
	if (c->ssl) {
		/* One try at close_notify; a non-blocking peer may not read it. */
		if (c->state != ST_HANDSHAKE)
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	close(c->fd);           /* also removes it from the epoll set */
	if (c->prev)
		c->prev->next = c->next;
	else
		g.all = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
}

/*
 * Queue a reply, due DELAY_MS from now.  Every reply waits the same delay,
 * so appending keeps the queue in order of due time.
 */
static void queue_reply(struct conn *c, const char *text)
{
	size_t n = strlen(text);

	if (n > sizeof c->out)
		n = sizeof c->out;
	memcpy(c->out, text, n);
	c->outlen = n;
	c->outoff = 0;
	c->state = ST_REPLY_WAIT;
	c->due = now_ms() + g.delay_ms;
	c->qnext = NULL;
	c->qprev = g.qtail;
	if (g.qtail)
		g.qtail->qnext = c;
	else
		g.qhead = c;
	g.qtail = c;
}

/* The reply to one command line (CRLF or LF stripped). */
static void handle_command(struct conn *c, char *line)
{
	char reply[REPLY_MAX];
	char *arg = line + strcspn(line, " ");
	size_t verblen = (size_t)(arg - line);

	while (*arg == ' ')
		arg++;
#define VERB(v) (verblen == sizeof(v) - 1 && strncasecmp(line, v, verblen) == 0)
	if (VERB("EHLO")) {
		if (*arg == '\0')
			queue_reply(c, "501 5.5.4 Syntax: EHLO hostname\r\n");
		else if (g.offer_starttls && !c->ssl) {
			snprintf(reply, sizeof reply,
				 "250-%s\r\n250-STARTTLS\r\n250 8BITMIME\r\n", g.name);
			queue_reply(c, reply);
		} else {
			snprintf(reply, sizeof reply, "250-%s\r\n250 8BITMIME\r\n", g.name);
			queue_reply(c, reply);
		}
	} else if (VERB("HELO")) {
		snprintf(reply, sizeof reply, "250 %s\r\n", g.name);
		queue_reply(c, reply);
	} else if (VERB("STARTTLS")) {
		if (c->ssl)
			queue_reply(c, "554 5.5.1 Error: TLS already active\r\n");
		else if (!g.offer_starttls)
			queue_reply(c, "502 5.5.1 Error: command not implemented\r\n");
		else if (*arg != '\0')
			queue_reply(c, "501 5.5.4 Syntax: STARTTLS\r\n");
		else {
			queue_reply(c, "220 2.0.0 Ready to start TLS\r\n");
			c->start_tls = true;
		}
	} else if (VERB("QUIT")) {
		queue_reply(c, "221 2.0.0 Bye\r\n");
		c->quit = true;
	} else if (VERB("NOOP") || VERB("RSET")) {
		queue_reply(c, "250 2.0.0 Ok\r\n");
	} else if (VERB("MAIL") || VERB("RCPT") || VERB("DATA") || VERB("BDAT") ||
		   VERB("VRFY")) {
		queue_reply(c, "502 5.5.1 Error: fakesmtp takes no mail\r\n");
	} else {
		queue_reply(c, "500 5.5.2 Error: command not recognized\r\n");
	}
#undef VERB
}

/*
 * If a whole line is buffered, take it out and handle it.  A line that
 * fills the buffer without an end is refused and ends the connection.
 */
static void next_command(struct conn *c)
{
	char *nl = memchr(c->in, '\n', c->inlen);
	size_t n;

	if (!nl) {
		if (c->inlen == sizeof c->in) {
			queue_reply(c, "500 5.5.0 Error: line too long\r\n");
			c->quit = true;
			c->inlen = 0;
		}
		return;
	}
	n = (size_t)(nl - c->in) + 1;
	*nl = '\0';
	if (nl > c->in && nl[-1] == '\r')
		nl[-1] = '\0';
	handle_command(c, c->in);
	memmove(c->in, c->in + n, c->inlen - n);
	c->inlen -= n;
}

/*
 * Classify the result of an SSL call that returned r <= 0: true when it
 * only has to wait for the socket (want_write says which way), false when
 * the connection is over (error, or the peer closed).
 */
static bool ssl_would_block(struct conn *c, int r)
{
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		c->want_write = false;
		return true;
	case SSL_ERROR_WANT_WRITE:
		c->want_write = true;
		return true;
	default:
		ERR_clear_error();
		return false;
	}
}

/*
 * Read what is available into c->in, or into the void in the states that
 * ignore input.  Returns the number of bytes read, or -1 when the
 * connection is over: EOF, error or TLS alert.
 */
static ssize_t read_input(struct conn *c)
{
	char sink[4096];
	ssize_t total = 0;

	for (;;) {
		char *buf = c->in + c->inlen;
		size_t room = sizeof c->in - c->inlen;
		bool keep = c->state != ST_DISCARD && c->state != ST_NOT_TLS;
		ssize_t r;

		if (!keep) {
			buf = sink;
			room = sizeof sink;
		}
		if (room == 0)
			return total;   /* read again once a line is handled */
		if (c->ssl) {
			int n = SSL_read(c->ssl, buf, (int)room);

			if (n <= 0)
				return ssl_would_block(c, n) ? total : -1;
			r = n;
		} else {
			r = recv(c->fd, buf, room, 0);
			if (r == 0)
				return -1;
			if (r < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
					return total;
				return -1;
			}
			c->want_write = false;
		}
		if (keep)
			c->inlen += (size_t)r;
		total += r;
	}
}

/* Send what is left of the reply.  Returns false on a write error. */
static bool write_output(struct conn *c)
{
	while (c->outoff < c->outlen) {
		size_t left = c->outlen - c->outoff;
		ssize_t w;

		if (c->ssl) {
			int n = SSL_write(c->ssl, c->out + c->outoff, (int)left);

			if (n <= 0)
				return ssl_would_block(c, n);
			w = n;
		} else {
			w = send(c->fd, c->out + c->outoff, left, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
					c->want_write = true;
					return true;
				}
				return false;
			}
		}
		c->outoff += (size_t)w;
	}
	return true;
}

/*
 * Do whatever the connection can do now, then watch for what it waits
 * for.  Called with the epoll events that woke it, or 0 when its reply
 * falls due or it is new.
 */
static void conn_run(struct conn *c, uint32_t ready)
{
	uint32_t events = 0;

	/* A reset, or both directions shut: nothing more to say or hear. */
	if (ready & (EPOLLERR | EPOLLHUP)) {
		conn_close(c, "connection reset or hung up");
		return;
	}
	for (;;) {
		if (c->state == ST_HANDSHAKE) {
			int r = SSL_accept(c->ssl);

			if (r <= 0) {
				if (!ssl_would_block(c, r)) {
					conn_close(c, "TLS handshake failed");
					return;
				}
				break;
			}
			logmsg(c, SSL_get_version(c->ssl));
			c->state = ST_COMMAND;
		}
		if (c->state == ST_WRITING) {
			if (!write_output(c)) {
				conn_close(c, "write error");
				return;
			}
			if (c->outoff < c->outlen)
				break;
			if (c->quit) {
				conn_close(c, "closed after QUIT");
				return;
			}
			c->state = ST_COMMAND;
			if (c->hang_up) {
				/* FIN after our last words, then wait for the
				 * client's: closing with its bytes unread would
				 * reset the connection, and the client might see
				 * the reset rather than what we sent. */
				shutdown(c->fd, SHUT_WR);
				c->hang_up = false;
				c->state = ST_DISCARD;
			} else if (c->start_tls && g.mode == MODE_TLSFAIL) {
				c->start_tls = false;
				c->inlen = 0;
				c->state = ST_NOT_TLS;
			} else if (c->start_tls) {
				/* Anything the client sent before our 220 is dropped
				 * (no STARTTLS command injection, CVE-2011-0411). */
				c->start_tls = false;
				c->inlen = 0;
				c->ssl = SSL_new(g.ssl_ctx);
				if (!c->ssl || !SSL_set_fd(c->ssl, c->fd)) {
					conn_close(c, "SSL_new failed");
					return;
				}
				c->state = ST_HANDSHAKE;
				continue;
			}
		}
		/* Read in every other state, to notice a client that leaves,
		 * except while the 220 to STARTTLS waits: the next bytes are
		 * the TLS handshake, for OpenSSL to read. */
		if (!c->start_tls) {
			ssize_t got = read_input(c);

			if (got < 0) {
				conn_close(c, "closed by client");
				return;
			}
			if (c->state == ST_NOT_TLS && got > 0) {
				/* The ClientHello is in: answer it with text. */
				logmsg(c, "handshake refused");
				memcpy(c->out, NOT_TLS, sizeof NOT_TLS - 1);
				c->outlen = sizeof NOT_TLS - 1;
				c->outoff = 0;
				c->hang_up = true;
				c->state = ST_WRITING;
				continue;
			}
		}
		if (c->state == ST_COMMAND)
			next_command(c);        /* may queue a reply */
		break;
	}

	switch (c->state) {
	case ST_HANDSHAKE:
	case ST_WRITING:
		events = c->want_write ? EPOLLOUT : EPOLLIN;
		break;
	case ST_DISCARD:
	case ST_NOT_TLS:
	case ST_REPLY_WAIT:
	case ST_COMMAND:
		if (c->ssl && c->want_write)
			events = EPOLLOUT;      /* SSL_read waits to write */
		else if (!c->start_tls && c->inlen < sizeof c->in)
			events = EPOLLIN;
		break;
	}
	set_events(c, events);
}

/* The queued reply of c is due: start sending it. */
static void reply_due(struct conn *c)
{
	queue_remove(c);
	c->state = ST_WRITING;
	c->want_write = false;
	conn_run(c, 0);
}

static void accept_all(void)
{
	for (;;) {
		struct epoll_event ev = { .events = 0 };
		struct conn *c;
		int fd = accept4(g.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Out of descriptors: stop accepting for a while
				 * rather than spin on a readable listener. */
				ev.data.ptr = NULL;
				if (epoll_ctl(g.epfd, EPOLL_CTL_MOD, g.lfd, &ev) == -1)
					die("epoll_ctl: %s", strerror(errno));
				g.accepting = false;
				g.accept_resume = now_ms() + ACCEPT_PAUSE_MS;
			}
			return;         /* EAGAIN, or an aborted connection */
		}
		c = calloc(1, sizeof *c);
		if (!c) {
			close(fd);
			return;
		}
		c->fd = fd;
		ev.data.ptr = c;
		if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
			die("epoll_ctl: %s", strerror(errno));
		c->next = g.all;
		if (g.all)
			g.all->prev = c;
		g.all = c;
		g.nconn++;
		logmsg(c, "accepted");
		if (g.mode == MODE_SILENT) {
			c->state = ST_DISCARD;
		} else {
			char banner[REPLY_MAX];

			snprintf(banner, sizeof banner, "220 %s ESMTP fakesmtp\r\n", g.name);
			queue_reply(c, banner);
		}
		conn_run(c, 0);
	}
}

static void resume_accepting(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	if (epoll_ctl(g.epfd, EPOLL_CTL_MOD, g.lfd, &ev) == -1)
		die("epoll_ctl: %s", strerror(errno));
	g.accepting = true;
}

/* ------------------------------------------------------------ start-up */

/* ADDR:PORT, [ADDR]:PORT for IPv6. */
static int listen_on(const char *spec)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints = {
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
		.ai_socktype = SOCK_STREAM,
	};
	struct addrinfo *ai;
	size_t n;
	int fd, on = 1, err;

	if (!colon || colon == spec || (n = (size_t)(colon - spec)) >= sizeof host)
		die("bad address %s: ADDR:PORT wanted", spec);
	memcpy(host, spec, n);
	host[n] = '\0';
	if (host[0] == '[' && host[n - 1] == ']') {
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
	}
	err = getaddrinfo(host, colon + 1, &hints, &ai);
	if (err)
		die("bad address %s: %s", spec, gai_strerror(err));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		die("bind %s: %s", spec, strerror(errno));
	if (listen(fd, SOMAXCONN) == -1)
		die("listen %s: %s", spec, strerror(errno));
	freeaddrinfo(ai);
	return fd;
}

static SSL_CTX *tls_server(const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		die("SSL_CTX_new failed");
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		die("cannot load certificate chain %s", cert);
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		die("cannot load private key %s", key);
	if (SSL_CTX_check_private_key(ctx) != 1)
		die("%s does not match %s", key, cert);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return ctx;
}

/* No certificate: only anonymous (EC)DH key exchanges can be agreed. */
static SSL_CTX *tls_anonymous_server(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		die("SSL_CTX_new failed");
	SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_set_cipher_list(ctx, "aNULL") != 1)
		die("this OpenSSL has no anonymous cipher suites");
	SSL_CTX_set_dh_auto(ctx, 1);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return ctx;
}

static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void usage(void)
{
	fputs("usage: fakesmtp -m silent|slow|tlsfail|anon [-d DELAY_MS] [-c CERT.pem -k KEY.pem]\n"
	      "                [-n NAME] [-v] ADDR:PORT\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *mode = NULL, *cert = NULL, *key = NULL;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, unblocked;
	int opt;

	g.delay_ms = -1;        /* default: by mode */
	g.name = "localhost";
	while ((opt = getopt(argc, argv, "m:d:c:k:n:v")) != -1) {
		char *end;

		switch (opt) {
		case 'm':
			mode = optarg;
			break;
		case 'd':
			errno = 0;
			g.delay_ms = strtoll(optarg, &end, 10);
			if (errno || *end || end == optarg || g.delay_ms < 0)
				usage();
			break;
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'n':
			g.name = optarg;
			break;
		case 'v':
			g.verbose = true;
			break;
		default:
			usage();
		}
	}
	if (!mode || optind != argc - 1 || (!cert != !key))
		usage();
	if (strcmp(mode, "silent") == 0)
		g.mode = MODE_SILENT;
	else if (strcmp(mode, "slow") == 0)
		g.mode = MODE_SLOW;
	else if (strcmp(mode, "tlsfail") == 0)
		g.mode = MODE_TLSFAIL;
	else if (strcmp(mode, "anon") == 0)
		g.mode = MODE_SLOW;	/* the same dialogue, anonymous TLS */
	else
		usage();
	bool anonymous = strcmp(mode, "anon") == 0;
	if (g.delay_ms == -1)
		g.delay_ms = g.mode == MODE_SLOW && !anonymous ? 2000 : 0;

	if (anonymous)
		g.ssl_ctx = tls_anonymous_server();
	else if (cert && g.mode == MODE_SLOW)
		g.ssl_ctx = tls_server(cert, key);
	g.offer_starttls = g.ssl_ctx || g.mode == MODE_TLSFAIL;
	raise_fd_limit();
	g.lfd = listen_on(argv[optind]);
	g.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (g.epfd == -1)
		die("epoll_create1: %s", strerror(errno));
	if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, g.lfd, &ev) == -1)
		die("epoll_ctl: %s", strerror(errno));
	g.accepting = true;

	/* SIGTERM and SIGINT are only delivered inside epoll_pwait, so none
	 * is lost between the check of `stop` and the wait. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &unblocked);
	sigdelset(&unblocked, SIGTERM);
	sigdelset(&unblocked, SIGINT);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	while (!stop) {
		struct epoll_event evs[256];
		long long now = now_ms(), next = -1;
		int n, i, timeout = -1;

		if (g.qhead)
			next = g.qhead->due;
		if (!g.accepting && (next == -1 || g.accept_resume < next))
			next = g.accept_resume;
		if (next != -1)
			timeout = next > now ? (int)(next - now) : 0;
		n = epoll_pwait(g.epfd, evs, 256, timeout, &unblocked);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			die("epoll_wait: %s", strerror(errno));
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL)
				accept_all();
			else
				conn_run(evs[i].data.ptr, evs[i].events);
		}
		now = now_ms();
		while (g.qhead && g.qhead->due <= now)
			reply_due(g.qhead);
		if (!g.accepting && g.accept_resume <= now)
			resume_accepting();
	}

	while (g.all)
		conn_close(g.all, "shutting down");
	close(g.lfd);
	close(g.epfd);
	SSL_CTX_free(g.ssl_ctx);
	return 0;
}
