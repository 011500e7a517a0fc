/* libFuzzer: TLSA rdata as libunbound hands it over (lib/rules/tlsa.h).
 * - tlsa_parse() refuses exactly the rdata shorter than its 3 fixed bytes,
 *   and otherwise points at the rest of the rdata, not one byte beyond.
 * - tlsa_usable() agrees with RFC 7672 section 3.1 as tlsa.h states it
 *   (written out again here, independently: full data must decode as a
 *   whole certificate or key), and names a reason exactly when it says no.
 * - tlsa_format() appends (what the buffer held stays) a presentation form
 *   of exactly the expected length that a strict reader here ("U S M" in
 *   decimal, single spaces, lower-case hex) reads back to the same usage,
 *   selector, matching type and data; with the data as parsed from the
 *   form, the usability verdict is the same.
 * - The same bytes as a DER certificate: when OpenSSL reads one,
 *   tlsa_data_for_cert() gives, for each selector and matching type, data
 *   whose "3 S M" record is usable (full data: when the certificate's key
 *   is one OpenSSL can use), the digests being those of the full
 *   data; for parameters outside those, and for anything OpenSSL cannot
 *   read, it fails and leaves the buffer as it was. */
#include "autoconfig.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <limits.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "util/text.h"
#include "rules/tlsa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PREFIX "prefix|"

/* Full data counts only as a whole certificate (with a key OpenSSL can
 * use) or a whole SubjectPublicKeyInfo: decoded here through other entry
 * points than tlsa.c's (a BIO, the get1 accessor). */
static bool
full_data_decodes(const struct tlsa_record *r)
{
	BIO *bio = BIO_new_mem_buf(r->data, r->len > INT_MAX ? -1 : (int)r->len);
	bool ok = false;

	if (!bio || r->len == 0 || r->len > INT_MAX) {
		BIO_free(bio);
		return false;
	}
	if (r->selector == 0) {
		X509 *x = d2i_X509_bio(bio, NULL);
		EVP_PKEY *key = x ? X509_get_pubkey(x) : NULL;
		ok = key && BIO_eof(bio);
		EVP_PKEY_free(key);
		X509_free(x);
	} else {
		EVP_PKEY *key = d2i_PUBKEY_bio(bio, NULL);
		ok = key && BIO_eof(bio);
		EVP_PKEY_free(key);
	}
	BIO_free(bio);
	ERR_clear_error();
	return ok;
}

static bool
expected_usable(const struct tlsa_record *r)
{
	if (r->usage != 2 && r->usage != 3)
		return false;
	if (r->selector != 0 && r->selector != 1)
		return false;
	switch (r->mtype) {
	case 0: return full_data_decodes(r);
	case 1: return r->len == 32;
	case 2: return r->len == 64;
	}
	return false;
}

static void
check_usable(const struct tlsa_record *r)
{
	const char *why = NULL;
	bool usable = tlsa_usable(r, &why);

	if (usable != expected_usable(r))
		__builtin_trap();
	if (usable ? why != NULL : (why == NULL || *why == '\0'))
		__builtin_trap();
}

/* "NNN " with 1-3 digits and no leading zero; -1 otherwise. */
static int
read_byte(const char **p, const char *end)
{
	unsigned v = 0;
	const char *s = *p;

	while (s < end && *s >= '0' && *s <= '9' && s - *p < 3)
		v = v * 10 + (unsigned)(*s++ - '0');
	if (s == *p || s == end || *s != ' ' || v > 255 || (**p == '0' && s - *p > 1))
		return -1;
	*p = s + 1;
	return (int)v;
}

/* Reads back what tlsa_format() wrote; the data goes to bytes. */
static int
read_presentation(const char *p, size_t len, struct tlsa_record *r, unsigned char *bytes)
{
	const char *end = p + len;
	int u = read_byte(&p, end), s = u < 0 ? -1 : read_byte(&p, end), m = s < 0 ? -1 : read_byte(&p, end);

	if (m < 0 || (end - p) % 2 != 0)
		return -1;
	/* Lower case only: what tlsa_format() writes. */
	size_t n = (size_t)(end - p) / 2;
	if (text_unhex(bytes, p, n) < 0)
		return -1;
	r->usage = (uint8_t)u;
	r->selector = (uint8_t)s;
	r->mtype = (uint8_t)m;
	r->data = bytes;
	r->len = n;
	return 0;
}

static size_t
decimal_len(unsigned v)
{
	return v >= 100 ? 3 : v >= 10 ? 2 : 1;
}

static void
check_rdata(const uint8_t *data, size_t size)
{
	struct tlsa_record r, back;
	struct buf out;

	if (tlsa_parse(data, size, &r) < 0) {
		if (size >= 3)
			__builtin_trap();
		return;
	}
	if (size < 3 || r.usage != data[0] || r.selector != data[1] || r.mtype != data[2] ||
	    r.data != data + 3 || r.len != size - 3)
		__builtin_trap();
	check_usable(&r);

	buf_init(&out);
	if (buf_puts(&out, PREFIX) < 0)
		goto done;
	if (tlsa_format(&r, &out) < 0)
		goto done;	/* out of memory: nothing to check */
	const char *text = buf_ptr(&out);
	size_t plen = strlen(PREFIX), tlen = buf_size(&out) - plen;
	if (buf_size(&out) < plen || memcmp(text, PREFIX, plen) != 0)
		__builtin_trap();
	text += plen;
	if (tlen != decimal_len(r.usage) + decimal_len(r.selector) + decimal_len(r.mtype) + 3 + 2 * r.len)
		__builtin_trap();
	if (memchr(text, '\0', tlen))
		__builtin_trap();
	unsigned char *bytes = malloc(r.len + 1);
	if (!bytes)
		goto done;
	if (read_presentation(text, tlen, &back, bytes) < 0 || back.usage != r.usage ||
	    back.selector != r.selector || back.mtype != r.mtype || back.len != r.len ||
	    memcmp(back.data, r.data, r.len) != 0)
		__builtin_trap();
	const char *why1 = NULL, *why2 = NULL;
	if (tlsa_usable(&r, &why1) != tlsa_usable(&back, &why2) ||
	    (why1 != why2 && (!why1 || !why2 || strcmp(why1, why2) != 0)))
		__builtin_trap();
	free(bytes);
done:
	buf_free(&out);
}

/* A failed call leaves the buffer as it was. */
static void
expect_failure(const uint8_t *der, size_t size, uint8_t selector, uint8_t mtype)
{
	struct buf out;

	buf_init(&out);
	buf_puts(&out, PREFIX);
	size_t before = buf_size(&out);
	if (tlsa_data_for_cert(der, size, selector, mtype, &out) != -1 || buf_size(&out) != before ||
	    memcmp(buf_ptr(&out), PREFIX, before) != 0)
		__builtin_trap();
	buf_free(&out);
}

static void
check_cert(const uint8_t *data, size_t size)
{
	const unsigned char *p = data;
	X509 *x = d2i_X509(NULL, &p, (long)size);

	if (!x) {
		expect_failure(data, size, 1, 1);
		return;
	}
	/* Full data is usable only with a key OpenSSL can use. */
	bool key_usable = X509_get0_pubkey(x) != NULL;
	ERR_clear_error();
	X509_free(x);
	expect_failure(data, size, 2, 1);
	expect_failure(data, size, 0, 3);
	for (uint8_t sel = 0; sel <= 1; sel++) {
		struct buf full, digest;
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned mdlen;

		buf_init(&full);
		if (tlsa_data_for_cert(data, size, sel, 0, &full) < 0) {
			/* OpenSSL read it but cannot write it out again (a
			 * certificate it decoded leniently): every matching
			 * type must fail alike. */
			buf_free(&full);
			expect_failure(data, size, sel, 1);
			expect_failure(data, size, sel, 2);
			continue;
		}
		struct tlsa_record r = {3, sel, 0, (const unsigned char *)buf_ptr(&full), buf_size(&full)};
		check_usable(&r);
		if (key_usable && !expected_usable(&r))
			__builtin_trap();
		for (uint8_t mtype = 1; mtype <= 2; mtype++) {
			buf_init(&digest);
			if (tlsa_data_for_cert(data, size, sel, mtype, &digest) < 0 ||
			    EVP_Digest(buf_ptr(&full), buf_size(&full), md, &mdlen,
				mtype == 1 ? EVP_sha256() : EVP_sha512(), NULL) != 1 ||
			    buf_size(&digest) != mdlen || memcmp(buf_ptr(&digest), md, mdlen) != 0)
				__builtin_trap();
			struct tlsa_record d = {3, sel, mtype, (const unsigned char *)buf_ptr(&digest), buf_size(&digest)};
			if (!expected_usable(&d))
				__builtin_trap();
			check_usable(&d);
			buf_free(&digest);
		}
		buf_free(&full);
	}
}

/* libFuzzer's data is a heap copy of exactly size bytes: ASan sees any
 * read past the rdata. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_rdata(data, size);
	check_cert(data, size);
	return 0;
}
