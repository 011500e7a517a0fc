/* fake_smtp - a scripted SMTP server for unit tests; see fake_smtp.h. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "fake_smtp.h"

#define MAX_CONNS 64
#define LOG_MAX 16384
#define READ_TIMEOUT_MS 5000	/* a client that says nothing at all */
#define STOP_WAIT_S 3		/* for connections to end by themselves */

struct conn {
	struct fake_smtp *f;
	pthread_t thread;
	int fd;				/* -1 once closed, under f->lock */
	SSL_CTX *ctx;
	SSL *ssl;			/* after F_TLS */
	char in[8192];			/* read, not yet a line */
	size_t inlen;
};

struct fake_smtp {
	int lfd;
	unsigned port;
	const struct fake_step *script;
	pthread_t acceptor;
	pthread_mutex_t lock;		/* everything below */
	pthread_cond_t idle;		/* a connection ended */
	struct conn *conns[MAX_CONNS];
	unsigned nconns, live, accepted;
	bool stopping, stopped;
	char log[LOG_MAX];
	size_t loglen;
};

/* ---- certificates ---------------------------------------------------- */

static int
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok = e && X509_add_ext(x, e, -1) == 1;

	X509_EXTENSION_free(e);
	return ok ? 0 : -1;
}

int
fake_cert_make(struct fake_cert *c, const struct fake_cert_spec *s)
{
	static long serial = 1;
	int from = s->from_days, to = s->to_days;
	X509V3_CTX v3;

	memset(c, 0, sizeof(*c));
	c->issuer = s->issuer;
	if (!from && !to) {
		from = -1;
		to = 365;
	}
	if (!(c->key = s->rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256")) || !(c->x509 = X509_new()))
		goto fail;
	X509_NAME *name = X509_get_subject_name(c->x509);
	if (X509_set_version(c->x509, 2) != 1 || ASN1_INTEGER_set(X509_get_serialNumber(c->x509), serial++) != 1 ||
	    !X509_gmtime_adj(X509_getm_notBefore(c->x509), (long)from * 86400) ||
	    !X509_gmtime_adj(X509_getm_notAfter(c->x509), (long)to * 86400) ||
	    X509_set_pubkey(c->x509, c->key) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)s->cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(c->x509, s->issuer ? X509_get_subject_name(s->issuer->x509) : name) != 1)
		goto fail;
	X509V3_set_ctx(&v3, s->issuer ? s->issuer->x509 : c->x509, c->x509, NULL, NULL, 0);
	if ((s->ca && add_ext(c->x509, &v3, NID_basic_constraints, "critical,CA:TRUE") < 0) ||
	    (s->san && add_ext(c->x509, &v3, NID_subject_alt_name, s->san) < 0) ||
	    X509_sign(c->x509, s->issuer ? s->issuer->key : c->key, EVP_sha256()) <= 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "fake_cert_make %s: ", s->cn);
	ERR_print_errors_fp(stderr);
	fake_cert_free(c);
	return -1;
}

void
fake_cert_free(struct fake_cert *c)
{
	X509_free(c->x509);
	EVP_PKEY_free(c->key);
	memset(c, 0, sizeof(*c));
}

size_t
fake_cert_tlsa(const struct fake_cert *c, int selector, int mtype, unsigned char *out, size_t size)
{
	unsigned char *der = NULL;
	unsigned int mdlen;
	size_t n = 0;
	/* The SPKI from the key itself, not from the certificate's field. */
	int len = selector == 0 ? i2d_X509(c->x509, &der) : i2d_PUBKEY(c->key, &der);

	if (len > 0 && mtype == 0 && (size_t)len <= size) {
		memcpy(out, der, (size_t)len);
		n = (size_t)len;
	} else if (len > 0 && (mtype == 1 || mtype == 2) && size >= EVP_MAX_MD_SIZE &&
	    EVP_Digest(der, (size_t)len, out, &mdlen, mtype == 1 ? EVP_sha256() : EVP_sha512(), NULL) == 1) {
		n = mdlen;
	}
	OPENSSL_free(der);
	return n;
}

void
fake_cert_sha256_hex(const struct fake_cert *c, int selector, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	size_t n = fake_cert_tlsa(c, selector, 1, md, sizeof(md));

	out[0] = '\0';
	for (size_t i = 0; i < n && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int
fake_cert_write_pem(const struct fake_cert *c, const char *path)
{
	FILE *f = fopen(path, "a");
	int ok = f && PEM_write_X509(f, c->x509) == 1;

	if (f && fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

/* ---- one connection -------------------------------------------------- */

__attribute__((format(printf, 2, 3)))
static void
note(struct fake_smtp *f, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	size_t n = strlen(line);
	pthread_mutex_lock(&f->lock);
	if (f->loglen + n + 2 < LOG_MAX) {
		memcpy(f->log + f->loglen, line, n);
		f->loglen += n;
		f->log[f->loglen++] = '\n';
		f->log[f->loglen] = '\0';
	}
	pthread_mutex_unlock(&f->lock);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
conn_write(struct conn *c, const char *p, size_t n)
{
	while (n) {
		ssize_t k = c->ssl ? SSL_write(c->ssl, p, (int)n) : send(c->fd, p, n, MSG_NOSIGNAL);
		if (k < 0 && !c->ssl && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Bytes read; 0 when the client has gone, -1 on error, -2 after ms
 * without anything to read. */
static ssize_t
conn_read(struct conn *c, char *buf, size_t size, int ms)
{
	ssize_t n;

	if (!c->ssl || SSL_pending(c->ssl) == 0) {
		struct pollfd p = {c->fd, POLLIN, 0};
		int ready;
		while ((ready = poll(&p, 1, ms)) < 0 && errno == EINTR)
			;
		if (ready == 0)
			return -2;
		if (ready < 0)
			return -1;
	}
	if (c->ssl) {
		int k = SSL_read(c->ssl, buf, (int)size);
		if (k > 0)
			return k;
		return SSL_get_error(c->ssl, k) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
	}
	while ((n = recv(c->fd, buf, size, 0)) < 0 && errno == EINTR)
		;
	return n;
}

/* One line without its CR LF; -1 when none came. */
static int
read_line(struct conn *c, char *line, size_t size)
{
	for (;;) {
		char *nl = memchr(c->in, '\n', c->inlen);
		if (nl) {
			size_t len = (size_t)(nl - c->in), used = len + 1;
			if (len && c->in[len - 1] == '\r')
				len--;
			snprintf(line, size, "%.*s", (int)len, c->in);
			memmove(c->in, c->in + used, c->inlen - used);
			c->inlen -= used;
			return 0;
		}
		if (c->inlen == sizeof(c->in))
			return -1;
		ssize_t n = conn_read(c, c->in + c->inlen, sizeof(c->in) - c->inlen, READ_TIMEOUT_MS);
		if (n <= 0)
			return -1;
		c->inlen += (size_t)n;
	}
}

/* Says nothing for ms; drops what comes. -1 when the client went. */
static int
silent(struct conn *c, unsigned ms)
{
	uint64_t end = now_ms() + ms;
	char sink[4096];

	for (uint64_t t; (t = now_ms()) < end;) {
		ssize_t n = conn_read(c, sink, sizeof(sink), (int)(end - t));
		if (n == -2)
			return 0;
		if (n <= 0)
			return -1;
	}
	return 0;
}

static int
flood(struct conn *c, const char *text, size_t total)
{
	char chunk[4096];
	size_t len = strlen(text), n = 0;

	while (len && n + len <= sizeof(chunk)) {
		memcpy(chunk + n, text, len);
		n += len;
	}
	for (size_t sent = 0; n && sent < total; sent += n)
		if (conn_write(c, chunk, n) < 0)
			return -1;
	return 0;
}

/* The server's side of TLS: with cert, or anonymous when it is NULL. */
static SSL_CTX *
server_ctx(const struct fake_cert *cert, bool tls12)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	bool ok = ctx && SSL_CTX_set_num_tickets(ctx, 0) == 1;	/* nothing left unread at the client's close */

	if (ok && !cert)
		ok = SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION) == 1 &&
		    SSL_CTX_set_cipher_list(ctx, "aNULL:@SECLEVEL=0") == 1 && SSL_CTX_set_dh_auto(ctx, 1) == 1;
	else if (ok)
		ok = SSL_CTX_use_certificate(ctx, cert->x509) == 1 && SSL_CTX_use_PrivateKey(ctx, cert->key) == 1 &&
		    (!cert->issuer || SSL_CTX_add1_chain_cert(ctx, cert->issuer->x509) == 1);
	/* OpenSSL keeps one certificate per key type: the second is added. */
	if (ok && cert && cert->also)
		ok = SSL_CTX_use_certificate(ctx, cert->also->x509) == 1 &&
		    SSL_CTX_use_PrivateKey(ctx, cert->also->key) == 1 &&
		    (!cert->also->issuer || SSL_CTX_add1_chain_cert(ctx, cert->also->issuer->x509) == 1);
	if (ok && tls12)
		ok = SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION) == 1;
	if (!ok) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static int
start_tls(struct conn *c, const struct fake_cert *cert, bool tls12)
{
	char err[256];

	c->inlen = 0;	/* what came before is not TLS */
	if (!(c->ctx = server_ctx(cert, tls12)) || !(c->ssl = SSL_new(c->ctx)) || SSL_set_fd(c->ssl, c->fd) != 1) {
		note(c->f, "! tls: cannot set up");
		SSL_free(c->ssl);
		c->ssl = NULL;
		return -1;
	}
	ERR_clear_error();
	if (SSL_accept(c->ssl) != 1) {
		ERR_error_string_n(ERR_get_error(), err, sizeof(err));
		note(c->f, "! tls: %s", err);
		SSL_free(c->ssl);
		c->ssl = NULL;
		return -1;
	}
	const char *sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
	note(c->f, "tls sni=%s", sni ? sni : "(none)");
	return 0;
}

static void *
conn_main(void *arg)
{
	struct conn *c = arg;
	struct fake_smtp *f = c->f;
	char line[1024];
	int rc = 0;

	for (const struct fake_step *s = f->script; rc == 0 && s->op != FAKE_CLOSE; s++) {
		switch (s->op) {
		case FAKE_SEND:
			rc = conn_write(c, s->text, strlen(s->text));
			break;
		case FAKE_EXPECT:
			if ((rc = read_line(c, line, sizeof(line))) < 0) {
				note(f, "! expected \"%s\", the client sent nothing", s->text);
				break;
			}
			note(f, "< %s", line);
			if (strncasecmp(line, s->text, strlen(s->text)) != 0) {
				note(f, "! expected \"%s\"", s->text);
				rc = -1;
			} else if (s->reply) {
				rc = conn_write(c, s->reply, strlen(s->reply));
			}
			break;
		case FAKE_TLS:
			rc = start_tls(c, s->cert, s->tls12);
			break;
		case FAKE_SILENT:
			rc = silent(c, s->ms);
			break;
		case FAKE_FLOOD:
			rc = flood(c, s->text, s->len);
			break;
		case FAKE_CLOSE:
			break;
		}
	}
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	SSL_CTX_free(c->ctx);
	pthread_mutex_lock(&f->lock);
	close(c->fd);
	c->fd = -1;
	f->live--;
	pthread_cond_broadcast(&f->idle);
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

/* ---- the server ------------------------------------------------------ */

static void *
accept_main(void *arg)
{
	struct fake_smtp *f = arg;

	for (;;) {
		int fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd < 0)
			return NULL;	/* shut down by fake_smtp_stop() */
		struct timeval tv = {READ_TIMEOUT_MS / 1000, 0};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));	/* for SSL_accept */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		pthread_mutex_lock(&f->lock);
		struct conn *c = f->stopping || f->nconns == MAX_CONNS ? NULL : calloc(1, sizeof(*c));
		if (c) {
			c->f = f;
			c->fd = fd;
			if (pthread_create(&c->thread, NULL, conn_main, c) == 0) {
				f->conns[f->nconns++] = c;
				f->live++;
				f->accepted++;
			} else {
				free(c);
				c = NULL;
			}
		}
		pthread_mutex_unlock(&f->lock);
		if (!c)
			close(fd);
	}
}

struct fake_smtp *
fake_smtp_start(const char *address, const struct fake_step *script)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	struct fake_smtp *f;
	int e;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, address, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, address, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		len = sizeof(*sin6);
	} else {
		errno = EINVAL;
		return NULL;
	}
	signal(SIGPIPE, SIG_IGN);	/* SSL_write to a client that left */
	if (!(f = calloc(1, sizeof(*f))))
		return NULL;
	f->script = script;
	if ((f->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(f->lfd, (struct sockaddr *)&ss, len) < 0 || listen(f->lfd, 64) < 0 ||
	    getsockname(f->lfd, (struct sockaddr *)&ss, &len) < 0)
		goto fail;
	f->port = ntohs(ss.ss_family == AF_INET ? sin->sin_port : sin6->sin6_port);
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->idle, NULL);
	if ((errno = pthread_create(&f->acceptor, NULL, accept_main, f)) != 0) {
		pthread_cond_destroy(&f->idle);
		pthread_mutex_destroy(&f->lock);
		goto fail;
	}
	return f;
fail:
	e = errno;
	if (f->lfd >= 0)
		close(f->lfd);
	free(f);
	errno = e;
	return NULL;
}

unsigned
fake_smtp_port(const struct fake_smtp *f)
{
	return f->port;
}

unsigned
fake_smtp_connections(struct fake_smtp *f)
{
	pthread_mutex_lock(&f->lock);
	unsigned n = f->accepted;
	pthread_mutex_unlock(&f->lock);
	return n;
}

void
fake_smtp_stop(struct fake_smtp *f)
{
	struct timespec until;

	if (!f || f->stopped)
		return;
	pthread_mutex_lock(&f->lock);
	f->stopping = true;
	pthread_mutex_unlock(&f->lock);
	shutdown(f->lfd, SHUT_RDWR);	/* wakes accept() */
	pthread_join(f->acceptor, NULL);
	close(f->lfd);
	/* Scripts finish on their own once the client is done; then cut. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += STOP_WAIT_S;
	pthread_mutex_lock(&f->lock);
	while (f->live && pthread_cond_timedwait(&f->idle, &f->lock, &until) == 0)
		;
	for (unsigned i = 0; i < f->nconns; i++)
		if (f->conns[i]->fd >= 0)
			shutdown(f->conns[i]->fd, SHUT_RDWR);
	pthread_mutex_unlock(&f->lock);
	for (unsigned i = 0; i < f->nconns; i++) {
		pthread_join(f->conns[i]->thread, NULL);
		free(f->conns[i]);
	}
	f->nconns = 0;
	f->stopped = true;
}

const char *
fake_smtp_log(struct fake_smtp *f)
{
	return f->log;
}

void
fake_smtp_free(struct fake_smtp *f)
{
	if (!f)
		return;
	fake_smtp_stop(f);
	pthread_cond_destroy(&f->idle);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

unsigned
fake_closed_port(int *fd)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};	/* 0.0.0.0, port 0 */
	socklen_t len = sizeof(sin);

	*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*fd < 0 || bind(*fd, (struct sockaddr *)&sin, len) < 0 ||
	    getsockname(*fd, (struct sockaddr *)&sin, &len) < 0) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return 0;
	}
	return ntohs(sin.sin_port);
}
