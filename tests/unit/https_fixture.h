/*
 * https_fixture - an HTTPS server for unit tests, in-process: a thread
 * listens on an ephemeral port of 127.0.0.1 and serves every connection
 * the same response, on a thread of its own, with real TLS (OpenSSL) and
 * a certificate made by fake_cert_make() (fake_smtp.h).
 *
 * A response is what one test needs:
 *   {.cert = &leaf, .head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n",
 *    .body = "version: STSv1\r\n..."}
 * The fixture ends the head with Content-Length (unless no_length: the
 * body then ends with the connection), "Connection: close" and the blank
 * line. body NULL sends body_len bytes of filler text. trickle_ms sends
 * the body one byte at a time, that many ms apart. silent accepts and
 * never says anything, not even the TLS handshake. max_version caps the
 * TLS versions the server offers.
 *
 * What the server saw goes into a log, one line per connection:
 * "sni=mta-sts.ok.test request=GET /.well-known/mta-sts.txt HTTP/1.1
 * host=mta-sts.ok.test:4711", or "! tls: ..." when the handshake failed.
 *
 * Ownership: the response and its certificate must outlive the fixture;
 * https_fixture_free() cuts the connections still open and joins every
 * thread.
 */
#ifndef TLSPOLICY_HTTPS_FIXTURE_H
#define TLSPOLICY_HTTPS_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "fake_smtp.h"

struct https_response {
	const struct fake_cert *cert;	/* sent with its issuer */
	const char *head;		/* status line and headers, each ending in CR LF */
	const char *body;		/* NULL: body_len bytes of filler */
	size_t body_len;		/* with a body: 0 for strlen(body) */
	bool no_length;			/* no Content-Length: the close ends the body */
	unsigned trickle_ms;		/* a byte of the body every trickle_ms */
	bool silent;			/* accept, then never answer */
	int max_version;		/* TLS1_1_VERSION...; 0: OpenSSL's default */
};

struct https_fixture;

/* NULL with a message on stderr when it cannot listen. */
struct https_fixture *https_fixture_start(const struct https_response *r);
unsigned https_fixture_port(const struct https_fixture *h);
/* Connections accepted so far. */
unsigned https_fixture_connections(struct https_fixture *h);
/* A copy of the log into buf; returns buf. */
const char *https_fixture_log(struct https_fixture *h, char *buf, size_t size);
void https_fixture_free(struct https_fixture *h);

#endif
