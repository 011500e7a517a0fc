/* probe - one SMTP/STARTTLS session as a state machine; see probe.h. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/clock.h"
#include "probe/probe.h"
#include "probe/smtpreply.h"
#include "rules/tlsa.h"
#include "util/text.h"

#define TRANSCRIPT_MAX 8192
#define READ_CHUNK 4096

struct probe_env {
	SSL_CTX *ctx;
	X509_STORE *store;		/* for the PKIX verdict, apart from DANE */
	char helo[NEXTHOP_NAME_MAX + 1];
	unsigned step_timeout_ms;
	size_t max_reply;
	bool keep_certs;
};

enum state {
	S_CONNECT, S_BANNER, S_SEND_EHLO, S_EHLO, S_SEND_STARTTLS, S_STARTTLS, S_HANDSHAKE,
	S_QUIT_PLAIN, S_QUIT_TLS, S_DONE
};

struct probe {
	const struct probe_env *env;
	struct probe_target target;
	struct probe_tlsa *tlsa;	/* our copy */
	struct probe_result res;
	enum state state;
	int fd;
	SSL *ssl;
	uint64_t started_ms, deadline_ms;
	struct buf in, out;
	struct smtpreply reply;		/* the latest reply, or how far into it */
	char read_error[200];		/* why read_reply() failed */
};

static const char *const class_names[PROBE_CLASS_COUNT] = {
	[PROBE_PLAINTEXT] = "plaintext",
	[PROBE_TLS_FAILED] = "tls-failed",
	[PROBE_ANONYMOUS] = "anonymous",
	[PROBE_UNTRUSTED] = "untrusted",
	[PROBE_TRUSTED] = "trusted",
	[PROBE_VERIFIED] = "verified",
	[PROBE_DANE_VERIFIED] = "dane-verified",
	[PROBE_DANE_MISMATCH] = "dane-mismatch",
	[PROBE_UNREACHABLE] = "unreachable",
};

const char *
probe_class_name(enum probe_class c)
{
	return (unsigned)c < PROBE_CLASS_COUNT ? class_names[c] : "unknown";
}

const char *
probe_class_postfix_word(enum probe_class c)
{
	switch (c) {
	case PROBE_ANONYMOUS: return "Anonymous";
	case PROBE_UNTRUSTED: return "Untrusted";
	case PROBE_DANE_MISMATCH: return "Untrusted";
	case PROBE_TRUSTED: return "Trusted";
	case PROBE_VERIFIED: return "Verified";
	case PROBE_DANE_VERIFIED: return "Verified";
	default: return NULL;
	}
}

bool
probe_target_same(const struct probe_target *a, const struct probe_target *b)
{
	return a->port == b->port && a->key_type == b->key_type && netaddr_equal(&a->address, &b->address) &&
	    strcmp(a->host, b->host) == 0;
}

const char *
probe_key_type_name(enum probe_key_type k)
{
	switch (k) {
	case PROBE_KEY_ANY: return "any";
	case PROBE_KEY_RSA: return "RSA";
	case PROBE_KEY_ECDSA: return "ECDSA";
	}
	return "unknown";
}

/* One key type's signature algorithms (TLS 1.3 names and TLS 1.2 pairs
 * alike: OpenSSL maps both), SHA-1 and SHA-224 left out as OpenSSL's
 * default security level leaves them out; and, for TLS 1.2, where the
 * cipher suite names the server's key type, the suites that exclude the
 * other type. Anonymous suites go too: they would sidestep the choice. */
static const struct {
	const char *sigalgs;
	const char *tls12_ciphers;
} key_offers[] = {
	[PROBE_KEY_RSA] = {"rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:"
	    "rsa_pss_pss_sha256:rsa_pss_pss_sha384:rsa_pss_pss_sha512:RSA+SHA256:RSA+SHA384:RSA+SHA512",
	    "HIGH:MEDIUM:!aNULL:!aECDSA:!aDSS:@STRENGTH"},
	[PROBE_KEY_ECDSA] = {"ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512",
	    "HIGH:MEDIUM:!aNULL:!aRSA:!aDSS:@STRENGTH"},
};

const char *
probe_stage_name(enum probe_stage s)
{
	static const char *const names[] = {"connect", "banner", "ehlo", "starttls", "handshake", "quit", "done"};
	return (unsigned)s <= PROBE_STAGE_DONE ? names[s] : "unknown";
}

struct probe_env *
probe_env_new(const struct probe_env_settings *s, char *err, size_t errlen)
{
	struct probe_env *env = calloc(1, sizeof(*env));

	if (!env) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (s->helo_name && *s->helo_name)
		snprintf(env->helo, sizeof(env->helo), "%s", s->helo_name);
	else if (gethostname(env->helo, sizeof(env->helo) - 1) < 0 || !env->helo[0])
		snprintf(env->helo, sizeof(env->helo), "localhost");
	env->step_timeout_ms = s->step_timeout_ms;
	env->max_reply = s->max_reply;
	env->keep_certs = s->keep_certs;
	env->ctx = SSL_CTX_new(TLS_client_method());
	env->store = X509_STORE_new();
	if (!env->ctx || !env->store || SSL_CTX_dane_enable(env->ctx) <= 0) {
		snprintf(err, errlen, "cannot set up OpenSSL");
		goto fail;
	}
	/* The handshake must finish whatever the certificate: the verdicts
	 * are read afterwards, and a probe never sends mail. */
	SSL_CTX_set_verify(env->ctx, SSL_VERIFY_NONE, NULL);
	int loaded = s->ca_file && *s->ca_file ? X509_STORE_load_file(env->store, s->ca_file)
	    : X509_STORE_set_default_paths(env->store);
	if (loaded != 1) {
		snprintf(err, errlen, "cannot load the CA certificates%s%s", s->ca_file && *s->ca_file ? " from " : "",
		    s->ca_file && *s->ca_file ? s->ca_file : "");
		goto fail;
	}
	return env;
fail:
	probe_env_free(env);
	return NULL;
}

struct probe_env *
probe_env_from_config(const struct config *cfg, bool keep_certs, char *err, size_t errlen)
{
	struct probe_env_settings s = {
		.ca_file = cfg->probe_ca_file,
		.helo_name = cfg->probe_helo_name,
		.step_timeout_ms = cfg->probe_timeout_ms,
		.max_reply = PROBE_MAX_REPLY,
		.keep_certs = keep_certs,
	};

	return probe_env_new(&s, err, errlen);
}

void
probe_env_free(struct probe_env *env)
{
	if (!env)
		return;
	SSL_CTX_free(env->ctx);
	X509_STORE_free(env->store);
	free(env);
}

struct probe *
probe_new(const struct probe_env *env, const struct probe_target *t)
{
	struct probe *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->env = env;
	p->target = *t;
	p->fd = -1;
	p->res.dane_depth = -1;
	p->res.class = PROBE_UNREACHABLE;
	buf_init(&p->in);
	buf_init(&p->out);
	buf_init(&p->res.transcript);
	smtpreply_init(&p->reply);
	if (!p->target.tlsa_base[0])
		memcpy(p->target.tlsa_base, p->target.host, sizeof(p->target.host));
	if (t->ntlsa) {
		if (!(p->tlsa = calloc(t->ntlsa, sizeof(*p->tlsa))))
			goto fail;
		for (size_t i = 0; i < t->ntlsa; i++) {
			p->tlsa[i] = t->tlsa[i];
			if (!(p->tlsa[i].data = malloc(t->tlsa[i].len ? t->tlsa[i].len : 1)))
				goto fail;
			memcpy(p->tlsa[i].data, t->tlsa[i].data, t->tlsa[i].len);
		}
	}
	p->target.tlsa = p->tlsa;
	return p;
fail:
	probe_free(p);
	return NULL;
}

void
probe_free(struct probe *p)
{
	if (!p)
		return;
	if (p->ssl)
		SSL_free(p->ssl);
	if (p->fd >= 0)
		close(p->fd);
	for (size_t i = 0; p->tlsa && i < p->target.ntlsa; i++)
		free(p->tlsa[i].data);
	free(p->tlsa);
	buf_free(&p->in);
	buf_free(&p->out);
	buf_free(&p->res.transcript);
	for (size_t i = 0; i < p->res.ncerts; i++)
		OPENSSL_free(p->res.certs[i].der);
	free(p);
}

int
probe_result_copy(struct probe_result *dst, const struct probe_result *src)
{
	*dst = *src;
	buf_init(&dst->transcript);
	for (size_t i = 0; i < dst->ncerts; i++)
		dst->certs[i].der = NULL;
	if (buf_append(&dst->transcript, buf_ptr(&src->transcript), buf_size(&src->transcript)) < 0)
		goto fail;
	for (size_t i = 0; i < src->ncerts; i++) {
		if (!src->certs[i].der)
			continue;
		if (!(dst->certs[i].der = OPENSSL_malloc(src->certs[i].der_len)))
			goto fail;
		memcpy(dst->certs[i].der, src->certs[i].der, src->certs[i].der_len);
	}
	return 0;
fail:
	probe_result_release(dst);
	return -1;
}

void
probe_result_release(struct probe_result *r)
{
	buf_free(&r->transcript);
	for (size_t i = 0; i < r->ncerts; i++) {
		OPENSSL_free(r->certs[i].der);
		r->certs[i].der = NULL;
	}
}

int
probe_fd(const struct probe *p)
{
	return p->fd;
}

uint64_t
probe_deadline(const struct probe *p)
{
	return p->deadline_ms;
}

const struct probe_result *
probe_result(const struct probe *p)
{
	return &p->res;
}

const struct probe_target *
probe_target(const struct probe *p)
{
	return &p->target;
}

/* What a server sends reaches reports and terminals only as printable
 * ASCII: no reply can forge a line of a report or an escape sequence. */
static char
printable_char(unsigned char c)
{
	return (c >= 0x20 && c < 0x7f) ? (char)c : '?';
}

static void
transcript(struct probe *p, const char *dir, const char *text, size_t len)
{
	struct buf *t = &p->res.transcript;

	if (buf_size(t) + len + 4 > TRANSCRIPT_MAX)
		return;
	buf_puts(t, dir);
	for (size_t i = 0; i < len; i++)
		buf_putc(t, printable_char((unsigned char)text[i]));
	buf_putc(t, '\n');
}

static enum probe_stage
stage_of(enum state s)
{
	switch (s) {
	case S_CONNECT: return PROBE_STAGE_CONNECT;
	case S_BANNER: return PROBE_STAGE_BANNER;
	case S_SEND_EHLO:
	case S_EHLO: return PROBE_STAGE_EHLO;
	case S_SEND_STARTTLS:
	case S_STARTTLS: return PROBE_STAGE_STARTTLS;
	case S_HANDSHAKE: return PROBE_STAGE_HANDSHAKE;
	case S_QUIT_PLAIN:
	case S_QUIT_TLS: return PROBE_STAGE_QUIT;
	case S_DONE: return PROBE_STAGE_DONE;
	}
	return PROBE_STAGE_DONE;
}

static int
finish(struct probe *p, uint64_t now)
{
	if (p->state != S_QUIT_PLAIN && p->state != S_QUIT_TLS)
		p->res.stage = stage_of(p->state);
	else
		p->res.stage = PROBE_STAGE_DONE;
	p->state = S_DONE;
	p->res.duration_ms = now - p->started_ms;
	if (p->ssl) {
		SSL_shutdown(p->ssl);	/* one try: nothing more is owed */
		SSL_free(p->ssl);
		p->ssl = NULL;
	}
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
	return PROBE_DONE;
}

/* Ends the probe with a class and a reason. */
__attribute__((format(printf, 4, 5)))
static int
fail(struct probe *p, uint64_t now, enum probe_class class, const char *fmt, ...)
{
	va_list ap;

	p->res.class = class;
	va_start(ap, fmt);
	vsnprintf(p->res.error, sizeof(p->res.error), fmt, ap);
	va_end(ap);
	return finish(p, now);
}

static void
enter(struct probe *p, enum state s, uint64_t now)
{
	p->state = s;
	p->deadline_ms = now + p->env->step_timeout_ms;
}

int
probe_start(struct probe *p, uint64_t now)
{
	struct sockaddr_storage sa;
	socklen_t len = netaddr_sockaddr(&p->target.address, p->target.port, &sa);

	p->started_ms = now;
	enter(p, S_CONNECT, now);
	p->fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		return fail(p, now, PROBE_UNREACHABLE, "socket: %s", strerror(errno));
	int on = 1;
	setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (connect(p->fd, (struct sockaddr *)&sa, len) < 0 && errno != EINPROGRESS)
		return fail(p, now, PROBE_UNREACHABLE, "connect: %s", strerror(errno));
	return PROBE_WANT_WRITE;
}

static void
queue_command(struct probe *p, const char *cmd)
{
	transcript(p, "> ", cmd, strlen(cmd));
	buf_puts(&p->out, cmd);
	buf_puts(&p->out, "\r\n");
}

/* Writes what is queued: 1 when all is sent, 0 to wait, -1 on error. */
static int
send_plain(struct probe *p)
{
	while (buf_size(&p->out)) {
		ssize_t n = send(p->fd, buf_ptr(&p->out), buf_size(&p->out), MSG_NOSIGNAL);
		if (n > 0) {
			buf_consume(&p->out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
	}
	return 1;
}

/* Each line of a reply goes to the transcript once, as it is checked. */
static void
transcript_line(void *arg, const char *line, size_t len)
{
	transcript(arg, "< ", line, len);
}

/* Reads one complete SMTP reply ("250-..." lines up to "250 ...", see
 * smtpreply.h). Returns 1 with p->reply set, 0 to wait for more, -1 with
 * p->read_error. */
static int
read_reply(struct probe *p)
{
	for (;;) {
		size_t used;
		int rc = smtpreply_scan(&p->reply, buf_ptr(&p->in), buf_size(&p->in), p->env->max_reply, &used,
		    transcript_line, p);
		if (rc == SMTPREPLY_DONE) {
			buf_consume(&p->in, used);
			return 1;
		}
		if (rc == SMTPREPLY_ERROR) {
			snprintf(p->read_error, sizeof(p->read_error), "%s", p->reply.error);
			return -1;
		}
		char *dst = buf_reserve(&p->in, READ_CHUNK);
		if (!dst) {
			snprintf(p->read_error, sizeof(p->read_error), "out of memory");
			return -1;
		}
		ssize_t n = recv(p->fd, dst, READ_CHUNK, 0);
		if (n > 0) {
			buf_commit(&p->in, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		snprintf(p->read_error, sizeof(p->read_error), "%s", n == 0 ? "connection closed" : strerror(errno));
		return -1;
	}
}

static void
hex(const unsigned char *in, size_t n, char *out)
{
	text_hex(out, in, n);
	out[2 * n] = '\0';
}

static void
asn1_time_text(const ASN1_TIME *t, char *out, size_t size)
{
	struct tm tm;

	if (t && ASN1_TIME_to_tm(t, &tm) == 1)
		strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		snprintf(out, size, "?");
}

static void
describe_cert(X509 *x, struct probe_cert *c, bool keep)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	unsigned char *der = NULL;

	X509_NAME_oneline(X509_get_subject_name(x), c->subject, sizeof(c->subject));
	X509_NAME_oneline(X509_get_issuer_name(x), c->issuer, sizeof(c->issuer));
	asn1_time_text(X509_get0_notBefore(x), c->not_before, sizeof(c->not_before));
	asn1_time_text(X509_get0_notAfter(x), c->not_after, sizeof(c->not_after));
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	if (len > 0 && EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) == 1)
		hex(md, mdlen, c->spki_sha256);
	OPENSSL_free(der);
	if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1)
		hex(md, mdlen, c->cert_sha256);
	if (keep) {
		unsigned char *copy = NULL;
		int n = i2d_X509(x, &copy);
		if (n > 0) {
			c->der = copy;
			c->der_len = (size_t)n;
		}
	}
}

/* Only DANE-TA(2) and DANE-EE(3) records count for SMTP (RFC 7672 3.1):
 * OpenSSL would happily use PKIX-TA/EE ones too, so they never reach it. */
static void
add_tlsa(struct probe *p)
{
	bool enabled = false;

	for (size_t i = 0; i < p->target.ntlsa; i++) {
		const struct probe_tlsa *t = &p->tlsa[i];
		struct tlsa_record r = {t->usage, t->selector, t->mtype, t->data, t->len};
		const char *why;
		if (!tlsa_usable(&r, &why))
			continue;
		if (!enabled) {
			if (SSL_dane_enable(p->ssl, p->target.tlsa_base) <= 0)
				return;
			/* DANE-EE matches ignore names (and, in OpenSSL, dates). */
			SSL_dane_set_flags(p->ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
			if (strcmp(p->target.host, p->target.tlsa_base) != 0)
				SSL_add1_host(p->ssl, p->target.host);
			enabled = true;
		}
		if (SSL_dane_tlsa_add(p->ssl, t->usage, t->selector, t->mtype, t->data, t->len) > 0)
			p->res.tlsa_usable++;
	}
}

static int
start_tls(struct probe *p, uint64_t now)
{
	/* Anything the server sent after its 220 came before TLS: it must not
	 * be read as if it came through TLS (STARTTLS command injection). */
	buf_reset(&p->in);
	smtpreply_init(&p->reply);
	if (!(p->ssl = SSL_new(p->env->ctx)) || SSL_set_fd(p->ssl, p->fd) != 1)
		return fail(p, now, PROBE_TLS_FAILED, "cannot set up TLS");
	SSL_set_tlsext_host_name(p->ssl, p->target.host);
	/* Postfix offers TLS 1.0 and up (smtp_tls_protocols), and where it
	 * does not authenticate the server (levels may and encrypt) it also
	 * takes any key size and its medium cipher list, anonymous ciphers
	 * included. The probe does the same, so that its class is what
	 * Postfix would log; DANE keeps OpenSSL's default security level, as
	 * Postfix's dane level does. */
	SSL_set_min_proto_version(p->ssl, TLS1_VERSION);
	add_tlsa(p);
	if (p->res.tlsa_usable == 0) {
		SSL_set_security_level(p->ssl, 0);
		SSL_set_cipher_list(p->ssl, "aNULL:-aNULL:HIGH:MEDIUM:@STRENGTH");
	}
	if (p->target.key_type == PROBE_KEY_RSA || p->target.key_type == PROBE_KEY_ECDSA) {
		if (SSL_set1_sigalgs_list(p->ssl, key_offers[p->target.key_type].sigalgs) != 1 ||
		    SSL_set_cipher_list(p->ssl, key_offers[p->target.key_type].tls12_ciphers) != 1)
			return fail(p, now, PROBE_TLS_FAILED, "cannot restrict the handshake to %s keys",
			    probe_key_type_name(p->target.key_type));
	}
	enter(p, S_HANDSHAKE, now);
	return 0;
}

static enum probe_class
evaluate(struct probe *p)
{
	struct probe_result *r = &p->res;
	X509 *leaf = SSL_get1_peer_certificate(p->ssl);

	snprintf(r->protocol, sizeof(r->protocol), "%s", SSL_get_version(p->ssl));
	snprintf(r->cipher, sizeof(r->cipher), "%s", SSL_get_cipher_name(p->ssl));
	if (!leaf)
		return PROBE_ANONYMOUS;
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(p->ssl);
	for (int i = 0; chain && i < sk_X509_num(chain) && r->ncerts < PROBE_MAX_CERTS; i++)
		describe_cert(sk_X509_value(chain, i), &r->certs[r->ncerts++], p->env->keep_certs);
	if (r->ncerts == 0)
		describe_cert(leaf, &r->certs[r->ncerts++], p->env->keep_certs);

	/* PKIX, on its own: the handshake's verdict is DANE's when DANE is on. */
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	if (ctx && X509_STORE_CTX_init(ctx, p->env->store, leaf, chain) == 1) {
		X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
		r->pkix_ok = X509_verify_cert(ctx) == 1;
		if (!r->pkix_ok)
			snprintf(r->pkix_error, sizeof(r->pkix_error), "%s",
			    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	} else {
		snprintf(r->pkix_error, sizeof(r->pkix_error), "cannot verify: out of memory");
	}
	X509_STORE_CTX_free(ctx);
	r->name_ok = X509_check_host(leaf, p->target.host, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
	X509_free(leaf);

	if (r->tlsa_usable) {
		long verify = SSL_get_verify_result(p->ssl);
		r->dane_depth = SSL_get0_dane_authority(p->ssl, NULL, NULL);
		uint8_t usage, selector, mtype;
		const unsigned char *data;
		size_t dlen;
		if (verify == X509_V_OK && r->dane_depth >= 0 &&
		    SSL_get0_dane_tlsa(p->ssl, &usage, &selector, &mtype, &data, &dlen) >= 0) {
			char digest[65];
			hex(data, dlen > 32 ? 32 : dlen, digest);
			snprintf(r->dane_match, sizeof(r->dane_match), "%u %u %u %s%s", usage, selector, mtype,
			    digest, dlen > 32 ? "..." : "");
			return PROBE_DANE_VERIFIED;
		}
		r->dane_depth = -1;
		snprintf(r->dane_error, sizeof(r->dane_error), "%s", X509_verify_cert_error_string(verify));
		return PROBE_DANE_MISMATCH;
	}
	if (!r->pkix_ok)
		return PROBE_UNTRUSTED;
	return r->name_ok ? PROBE_VERIFIED : PROBE_TRUSTED;
}

static void
openssl_error(char *out, size_t size)
{
	unsigned long e = ERR_get_error();

	if (e)
		ERR_error_string_n(e, out, size);
	else
		snprintf(out, size, "%s", errno ? strerror(errno) : "connection closed");
	ERR_clear_error();
}

/* One turn of the state machine; returns what to wait for, or PROBE_DONE. */
int
probe_run(struct probe *p, uint64_t now)
{
	int rc, err;
	socklen_t errlen = sizeof(err);
	char why[NEXTHOP_NAME_MAX + 16];

	for (;;) {
		switch (p->state) {
		case S_CONNECT:
			if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0)
				err = errno;
			if (err == EINPROGRESS)
				return PROBE_WANT_WRITE;
			if (err)
				return fail(p, now, PROBE_UNREACHABLE, "connect: %s", strerror(err));
			enter(p, S_BANNER, now);
			break;
		case S_BANNER:
			if ((rc = read_reply(p)) <= 0)
				return rc == 0 ? PROBE_WANT_READ
				    : fail(p, now, PROBE_UNREACHABLE, "banner: %s", p->read_error);
			snprintf(p->res.banner, sizeof(p->res.banner), "%s", p->reply.last);
			if (p->reply.code != 220)
				return fail(p, now, PROBE_UNREACHABLE, "the server refused the session: %.200s", p->reply.last);
			snprintf(why, sizeof(why), "EHLO %s", p->env->helo);
			queue_command(p, why);
			enter(p, S_SEND_EHLO, now);
			break;
		case S_SEND_EHLO:
		case S_SEND_STARTTLS:
			if ((rc = send_plain(p)) <= 0)
				return rc == 0 ? PROBE_WANT_WRITE
				    : fail(p, now, PROBE_UNREACHABLE, "%s: %s", p->state == S_SEND_EHLO ? "EHLO" : "STARTTLS",
					strerror(errno));
			enter(p, p->state == S_SEND_EHLO ? S_EHLO : S_STARTTLS, now);
			break;
		case S_EHLO:
			if ((rc = read_reply(p)) <= 0)
				return rc == 0 ? PROBE_WANT_READ : fail(p, now, PROBE_UNREACHABLE, "EHLO: %s", p->read_error);
			p->res.starttls_offered = p->reply.code == 250 && p->reply.starttls;
			if (!p->res.starttls_offered) {
				p->res.class = PROBE_PLAINTEXT;
				if (p->reply.code != 250)
					snprintf(p->res.error, sizeof(p->res.error), "EHLO refused: %.200s", p->reply.last);
				queue_command(p, "QUIT");
				enter(p, S_QUIT_PLAIN, now);
				break;
			}
			queue_command(p, "STARTTLS");
			enter(p, S_SEND_STARTTLS, now);
			break;
		case S_STARTTLS:
			if ((rc = read_reply(p)) <= 0)
				return rc == 0 ? PROBE_WANT_READ : fail(p, now, PROBE_TLS_FAILED, "STARTTLS: %s", p->read_error);
			if (p->reply.code != 220)
				return fail(p, now, PROBE_TLS_FAILED, "STARTTLS refused: %.200s", p->reply.last);
			if (start_tls(p, now) != 0)
				return PROBE_DONE;
			break;
		case S_HANDSHAKE:
			ERR_clear_error();
			errno = 0;
			rc = SSL_connect(p->ssl);
			if (rc != 1) {
				int e = SSL_get_error(p->ssl, rc);
				if (e == SSL_ERROR_WANT_READ)
					return PROBE_WANT_READ;
				if (e == SSL_ERROR_WANT_WRITE)
					return PROBE_WANT_WRITE;
				openssl_error(why, sizeof(why));
				return fail(p, now, PROBE_TLS_FAILED, "TLS handshake: %s", why);
			}
			p->res.class = evaluate(p);
			transcript(p, "> ", "QUIT", 4);
			enter(p, S_QUIT_TLS, now);
			break;
		case S_QUIT_PLAIN:
			/* The verdict is in; QUIT is courtesy, its reply not awaited. */
			send_plain(p);
			return finish(p, now);
		case S_QUIT_TLS:
			ERR_clear_error();
			rc = SSL_write(p->ssl, "QUIT\r\n", 6);
			if (rc <= 0) {
				int e = SSL_get_error(p->ssl, rc);
				if (e == SSL_ERROR_WANT_READ)
					return PROBE_WANT_READ;
				if (e == SSL_ERROR_WANT_WRITE)
					return PROBE_WANT_WRITE;
			}
			return finish(p, now);
		case S_DONE:
			return PROBE_DONE;
		}
	}
}

void
probe_expire(struct probe *p, uint64_t now)
{
	static const char *const waiting[] = {
		[S_CONNECT] = "connecting", [S_BANNER] = "the banner", [S_SEND_EHLO] = "sending EHLO",
		[S_EHLO] = "the EHLO reply", [S_SEND_STARTTLS] = "sending STARTTLS",
		[S_STARTTLS] = "the STARTTLS reply", [S_HANDSHAKE] = "the TLS handshake",
		[S_QUIT_PLAIN] = "QUIT", [S_QUIT_TLS] = "QUIT", [S_DONE] = "nothing",
	};
	enum state s = p->state;

	if (s == S_DONE)
		return;
	if (s == S_QUIT_PLAIN || s == S_QUIT_TLS) {
		finish(p, now);	/* the class is known already */
		return;
	}
	fail(p, now, s >= S_SEND_STARTTLS ? PROBE_TLS_FAILED : PROBE_UNREACHABLE,
	    "timed out after %u ms waiting for %s", p->env->step_timeout_ms, waiting[s]);
}

const struct probe_result *
probe_run_blocking(struct probe *p)
{
	uint64_t now = clock_monotonic_ms();
	int want = probe_start(p, now);

	while (want != PROBE_DONE) {
		struct pollfd pfd = {probe_fd(p), want == PROBE_WANT_READ ? POLLIN : POLLOUT, 0};
		now = clock_monotonic_ms();
		int wait = probe_deadline(p) > now ? (int)(probe_deadline(p) - now) : 0;
		int n = poll(&pfd, 1, wait);
		now = clock_monotonic_ms();
		if (n == 0) {
			probe_expire(p, now);
			break;
		}
		if (n < 0 && errno != EINTR) {
			fail(p, now, PROBE_UNREACHABLE, "poll: %s", strerror(errno));
			break;
		}
		want = probe_run(p, now);
	}
	return probe_result(p);
}
