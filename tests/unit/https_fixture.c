/* https_fixture - an HTTPS server for unit tests; see https_fixture.h. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "https_fixture.h"

#define MAX_CONNS 128
#define LOG_MAX 32768
#define IO_TIMEOUT_S 5		/* a client that says nothing at all */

struct conn {
	struct https_fixture *h;
	pthread_t thread;
	int fd;				/* -1 once closed, under h->lock */
};

struct https_fixture {
	const struct https_response *r;
	SSL_CTX *ctx;
	int lfd;
	unsigned port;
	pthread_t acceptor;
	pthread_mutex_t lock;		/* everything below */
	struct conn *conns[MAX_CONNS];
	unsigned nconns;
	bool stopping;
	char log[LOG_MAX];
	size_t loglen;
};

static void
note(struct https_fixture *h, const char *line)
{
	size_t n = strlen(line);

	pthread_mutex_lock(&h->lock);
	if (h->loglen + n + 2 < LOG_MAX) {
		memcpy(h->log + h->loglen, line, n);
		h->loglen += n;
		h->log[h->loglen++] = '\n';
		h->log[h->loglen] = '\0';
	}
	pthread_mutex_unlock(&h->lock);
}

static bool
stopping(struct https_fixture *h)
{
	pthread_mutex_lock(&h->lock);
	bool s = h->stopping;
	pthread_mutex_unlock(&h->lock);
	return s;
}

/* Waits for the client to close (or the fixture to stop). */
static void
wait_for_close(struct conn *c)
{
	char sink[512];

	while (!stopping(c->h)) {
		struct pollfd p = {c->fd, POLLIN, 0};
		if (poll(&p, 1, 50) > 0 && recv(c->fd, sink, sizeof(sink), 0) <= 0)
			return;
	}
}

/* The request's head, up to the blank line; its first line and Host. */
static int
read_request(SSL *ssl, char *line, size_t lsize, char *host, size_t hsize)
{
	char req[8192];
	size_t n = 0;

	while (n + 1 < sizeof(req)) {
		int k = SSL_read(ssl, req + n, (int)(sizeof(req) - 1 - n));
		if (k <= 0)
			return -1;
		n += (size_t)k;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	snprintf(line, lsize, "%.*s", (int)strcspn(req, "\r\n"), req);
	const char *p = strcasestr(req, "\r\nHost:");
	if (p) {
		p += 7;
		p += strspn(p, " ");
		snprintf(host, hsize, "%.*s", (int)strcspn(p, "\r\n"), p);
	}
	return 0;
}

static int
send_body(struct conn *c, SSL *ssl)
{
	const struct https_response *r = c->h->r;
	size_t len = r->body ? (r->body_len ? r->body_len : strlen(r->body)) : r->body_len;
	char chunk[4096];

	for (size_t sent = 0; sent < len;) {
		size_t n = r->trickle_ms ? 1 : len - sent < sizeof(chunk) ? len - sent : sizeof(chunk);
		const char *p = chunk;
		if (r->body)
			p = r->body + sent;
		else
			for (size_t i = 0; i < n; i++)
				chunk[i] = (sent + i) % 64 == 63 ? '\n' : 'x';
		if (SSL_write(ssl, p, (int)n) <= 0)
			return -1;
		sent += n;
		if (r->trickle_ms) {
			struct timespec ts = {r->trickle_ms / 1000, (long)(r->trickle_ms % 1000) * 1000000};
			if (stopping(c->h))
				return -1;
			nanosleep(&ts, NULL);
		}
	}
	return 0;
}

static void
serve(struct conn *c)
{
	struct https_fixture *h = c->h;
	const struct https_response *r = h->r;
	char line[256] = "", host[256] = "", head[1024], note_line[768];
	SSL *ssl;

	if (r->silent) {
		wait_for_close(c);
		return;
	}
	if (!(ssl = SSL_new(h->ctx)) || SSL_set_fd(ssl, c->fd) != 1) {
		note(h, "! tls: cannot set up");
		SSL_free(ssl);
		return;
	}
	ERR_clear_error();
	if (SSL_accept(ssl) != 1) {
		char err[256];
		ERR_error_string_n(ERR_get_error(), err, sizeof(err));
		snprintf(note_line, sizeof(note_line), "! tls: %s", err);
		note(h, note_line);
		SSL_free(ssl);
		return;
	}
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (read_request(ssl, line, sizeof(line), host, sizeof(host)) == 0) {
		snprintf(note_line, sizeof(note_line), "sni=%s request=%s host=%s", sni ? sni : "(none)", line, host);
		note(h, note_line);
		size_t len = r->body ? (r->body_len ? r->body_len : strlen(r->body)) : r->body_len;
		int n = r->no_length ? snprintf(head, sizeof(head), "%sConnection: close\r\n\r\n", r->head) :
		    snprintf(head, sizeof(head), "%sContent-Length: %zu\r\nConnection: close\r\n\r\n", r->head, len);
		if (SSL_write(ssl, head, n) > 0 && send_body(c, ssl) == 0)
			SSL_shutdown(ssl);
	}
	SSL_free(ssl);
}

static void *
conn_main(void *arg)
{
	struct conn *c = arg;

	serve(c);
	pthread_mutex_lock(&c->h->lock);
	close(c->fd);
	c->fd = -1;
	pthread_mutex_unlock(&c->h->lock);
	return NULL;
}

static void *
accept_main(void *arg)
{
	struct https_fixture *h = arg;

	for (;;) {
		int fd = accept4(h->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd < 0)
			return NULL;	/* shut down by https_fixture_free() */
		struct timeval tv = {IO_TIMEOUT_S, 0};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		pthread_mutex_lock(&h->lock);
		struct conn *c = h->stopping || h->nconns == MAX_CONNS ? NULL : calloc(1, sizeof(*c));
		if (c) {
			c->h = h;
			c->fd = fd;
			if (pthread_create(&c->thread, NULL, conn_main, c) == 0) {
				h->conns[h->nconns++] = c;
			} else {
				free(c);
				c = NULL;
			}
		}
		pthread_mutex_unlock(&h->lock);
		if (!c)
			close(fd);
	}
}

static SSL_CTX *
server_ctx(const struct fake_cert *cert, int max_version)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	/* An old version needs the old ciphers and security level too. */
	if (ctx && max_version && (SSL_CTX_set_min_proto_version(ctx, 0) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, max_version) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0") != 1)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (ctx && SSL_CTX_set_num_tickets(ctx, 0) == 1 && SSL_CTX_use_certificate(ctx, cert->x509) == 1 &&
	    SSL_CTX_use_PrivateKey(ctx, cert->key) == 1 &&
	    (!cert->issuer || SSL_CTX_add1_chain_cert(ctx, cert->issuer->x509) == 1))
		return ctx;
	SSL_CTX_free(ctx);
	return NULL;
}

struct https_fixture *
https_fixture_start(const struct https_response *r)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	struct https_fixture *h = calloc(1, sizeof(*h));

	signal(SIGPIPE, SIG_IGN);	/* SSL_write to a client that left */
	if (!h)
		return NULL;
	h->r = r;
	h->lfd = -1;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((r->cert && !(h->ctx = server_ctx(r->cert, r->max_version))) ||
	    (h->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(h->lfd, (struct sockaddr *)&sin, len) < 0 || listen(h->lfd, 128) < 0 ||
	    getsockname(h->lfd, (struct sockaddr *)&sin, &len) < 0) {
		fprintf(stderr, "https_fixture: cannot listen: %s\n", strerror(errno));
		goto fail;
	}
	h->port = ntohs(sin.sin_port);
	pthread_mutex_init(&h->lock, NULL);
	if (pthread_create(&h->acceptor, NULL, accept_main, h) != 0) {
		pthread_mutex_destroy(&h->lock);
		goto fail;
	}
	return h;
fail:
	if (h->lfd >= 0)
		close(h->lfd);
	SSL_CTX_free(h->ctx);
	free(h);
	return NULL;
}

unsigned
https_fixture_port(const struct https_fixture *h)
{
	return h->port;
}

unsigned
https_fixture_connections(struct https_fixture *h)
{
	pthread_mutex_lock(&h->lock);
	unsigned n = h->nconns;
	pthread_mutex_unlock(&h->lock);
	return n;
}

const char *
https_fixture_log(struct https_fixture *h, char *buf, size_t size)
{
	pthread_mutex_lock(&h->lock);
	snprintf(buf, size, "%s", h->log);
	pthread_mutex_unlock(&h->lock);
	return buf;
}

void
https_fixture_free(struct https_fixture *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	pthread_mutex_unlock(&h->lock);
	shutdown(h->lfd, SHUT_RDWR);	/* wakes accept() */
	pthread_join(h->acceptor, NULL);
	close(h->lfd);
	pthread_mutex_lock(&h->lock);
	for (unsigned i = 0; i < h->nconns; i++)
		if (h->conns[i]->fd >= 0)
			shutdown(h->conns[i]->fd, SHUT_RDWR);
	pthread_mutex_unlock(&h->lock);
	for (unsigned i = 0; i < h->nconns; i++) {
		pthread_join(h->conns[i]->thread, NULL);
		free(h->conns[i]);
	}
	pthread_mutex_destroy(&h->lock);
	SSL_CTX_free(h->ctx);
	free(h);
}
