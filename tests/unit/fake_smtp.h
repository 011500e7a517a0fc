/*
 * fake_smtp - a scripted SMTP server for unit tests, in-process: a thread
 * listens on an ephemeral port of 127.0.0.1 (or ::1) and each connection
 * it accepts plays the same script, on a thread of its own, one step after
 * the other:
 *
 *   F_SEND("220 mx.test ESMTP\r\n")        send these bytes
 *   F_EXPECT("EHLO ", "250 mx.test\r\n")    read a line; it must start with
 *                                           "EHLO " (any case); answer
 *   F_TLS(&cert)                            TLS handshake as the server;
 *                                           F_TLS(NULL): anonymous (TLS 1.2,
 *                                           aNULL ciphers, no certificate)
 *   F_TLS12(&cert)                          the same, TLS 1.2 at most
 *   F_SILENT(500)                           say nothing for 500 ms (what
 *                                           comes is read and dropped; the
 *                                           client closing ends it early)
 *   F_FLOOD("250-x\r\n", 1 << 20)           send the text again and again,
 *                                           that many bytes in all
 *   F_CLOSE                                 close (also the end of a script)
 *
 * After F_TLS, sends and reads go through TLS. A step that fails (a line
 * that does not match, the client gone) ends the connection. What the
 * server saw goes into a log, one line per event: "< EHLO probe.test"
 * for a line read, "tls sni=mx.test" for a handshake, "! ..." for a step
 * that failed.
 *
 * Certificates are made in memory: EC P-256 (or RSA 2048), with a subject
 * alternative name, self-signed or signed by another fake_cert. A
 * certificate may name another of a different key type that the server
 * holds beside it (also), as servers with an RSA and an ECDSA certificate
 * do; OpenSSL then picks one by what the client offers.
 *
 * Ownership: the script must outlive the server; fake_smtp_stop() waits
 * (up to 3 s) for the connections to end, then cuts them and joins every
 * thread; the log stays readable until fake_smtp_free().
 */
#ifndef TLSPOLICY_FAKE_SMTP_H
#define TLSPOLICY_FAKE_SMTP_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct fake_cert {
	X509 *x509;
	EVP_PKEY *key;
	const struct fake_cert *issuer;	/* sent after the leaf; NULL: self-signed */
	const struct fake_cert *also;	/* another key type's, served beside; set by hand */
};

struct fake_cert_spec {
	const char *cn;			/* subject common name */
	const char *san;		/* "DNS:mx.test" or NULL */
	const struct fake_cert *issuer;	/* NULL: self-signed */
	bool ca;			/* basicConstraints CA:TRUE */
	int from_days, to_days;		/* validity, relative to now; 0, 0: -1, 365 */
	bool rsa;			/* an RSA 2048 key instead of EC P-256 */
};

/* 0, or -1 with a message on stderr. */
int fake_cert_make(struct fake_cert *c, const struct fake_cert_spec *s);
void fake_cert_free(struct fake_cert *c);
/* TLSA association data (RFC 6698): selector 0 the certificate, 1 its
 * SubjectPublicKeyInfo; mtype 0 the DER itself, 1 SHA-256, 2 SHA-512.
 * Returns its length (at most size), 0 on error. */
size_t fake_cert_tlsa(const struct fake_cert *c, int selector, int mtype, unsigned char *out, size_t size);
/* Lower-case hex of the SHA-256 of the SPKI (selector 1) or certificate (0). */
void fake_cert_sha256_hex(const struct fake_cert *c, int selector, char out[65]);
/* Appends the certificate in PEM to path; 0 or -1. */
int fake_cert_write_pem(const struct fake_cert *c, const char *path);

enum fake_op { FAKE_CLOSE = 0, FAKE_SEND, FAKE_EXPECT, FAKE_TLS, FAKE_SILENT, FAKE_FLOOD };

struct fake_step {
	enum fake_op op;
	const char *text;		/* SEND, FLOOD: bytes; EXPECT: the line's start */
	const char *reply;		/* EXPECT: the answer, or NULL */
	const struct fake_cert *cert;	/* TLS */
	unsigned ms;			/* SILENT */
	bool tls12;			/* TLS: at most TLS 1.2 */
	size_t len;			/* FLOOD: bytes in all */
};

#define F_SEND(t) {FAKE_SEND, .text = (t)}
#define F_EXPECT(t, r) {FAKE_EXPECT, .text = (t), .reply = (r)}
#define F_TLS(c) {FAKE_TLS, .cert = (c)}
#define F_TLS12(c) {FAKE_TLS, .cert = (c), .tls12 = true}
#define F_SILENT(n) {FAKE_SILENT, .ms = (n)}
#define F_FLOOD(t, n) {FAKE_FLOOD, .text = (t), .len = (n)}
#define F_CLOSE {FAKE_CLOSE}

struct fake_smtp;

/* Listens on address ("127.0.0.1", "::1"), port chosen by the kernel;
 * script ends with F_CLOSE. NULL with errno when it cannot listen. */
struct fake_smtp *fake_smtp_start(const char *address, const struct fake_step *script);
unsigned fake_smtp_port(const struct fake_smtp *f);
/* Connections accepted so far. */
unsigned fake_smtp_connections(struct fake_smtp *f);
void fake_smtp_stop(struct fake_smtp *f);
/* What the server saw; valid until fake_smtp_free(). */
const char *fake_smtp_log(struct fake_smtp *f);
void fake_smtp_free(struct fake_smtp *f);

/* A port on which nothing listens, on every IPv4 address: a TCP socket
 * bound to 0.0.0.0 and never listening, so that connects are refused. Returns the
 * port; *fd is the socket to close when done. 0 on error. */
unsigned fake_closed_port(int *fd);

#endif
