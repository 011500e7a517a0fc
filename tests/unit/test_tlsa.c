/*
 * Unit tests: TLSA records (lib/rules/tlsa.h): parsing, presentation form,
 * and which records are usable for SMTP as RFC 7672 section 3.1 says
 * (DANE-TA and DANE-EE only; digests of their algorithm's length; full
 * data only when it decodes as a certificate or a key).
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "util/buf.h"
#include "rules/tlsa.h"
#include "table.h"

struct tlsa_case {
	const char *name;
	uint8_t usage, selector, mtype;
	size_t len;		/* association data bytes */
	bool usable;
	const char *why;	/* a substring of the reason */
};

static const struct tlsa_case tlsa_cases[] = {
	{"tlsa: 3 1 1 usable", 3, 1, 1, 32, true, NULL},
	{"tlsa: 2 0 1 usable", 2, 0, 1, 32, true, NULL},
	{"tlsa: 3 0 2 usable", 3, 0, 2, 64, true, NULL},
	/* Full data is usable only when it decodes: see test_tlsa_full. */
	{"tlsa: 3 1 0 of 300 bytes that are no key", 3, 1, 0, 300, false, "SubjectPublicKeyInfo"},
	{"tlsa: 2 1 0 one byte of full data", 2, 1, 0, 1, false, "SubjectPublicKeyInfo"},
	{"tlsa: 3 0 0 of 300 bytes that are no certificate", 3, 0, 0, 300, false, "certificate"},
	{"tlsa: usage 0 PKIX-TA", 0, 1, 1, 32, false, "PKIX"},
	{"tlsa: usage 1 PKIX-EE", 1, 1, 1, 32, false, "PKIX"},
	{"tlsa: usage 4 unknown", 4, 1, 1, 32, false, "unknown certificate usage"},
	{"tlsa: usage 255 unknown", 255, 1, 1, 32, false, "unknown certificate usage"},
	{"tlsa: selector 2", 3, 2, 1, 32, false, "unknown selector"},
	{"tlsa: selector 255", 3, 255, 1, 32, false, "unknown selector"},
	{"tlsa: matching type 3", 3, 1, 3, 32, false, "unknown matching type"},
	{"tlsa: matching type 255", 3, 1, 255, 32, false, "unknown matching type"},
	{"tlsa: SHA-256 of 31 bytes", 3, 1, 1, 31, false, "SHA-256"},
	{"tlsa: SHA-256 of 33 bytes", 3, 1, 1, 33, false, "SHA-256"},
	{"tlsa: SHA-256 of 64 bytes", 3, 1, 1, 64, false, "SHA-256"},
	{"tlsa: SHA-256 empty", 3, 1, 1, 0, false, "SHA-256"},
	{"tlsa: SHA-512 of 63 bytes", 3, 1, 2, 63, false, "SHA-512"},
	{"tlsa: SHA-512 of 65 bytes", 3, 1, 2, 65, false, "SHA-512"},
	{"tlsa: SHA-512 of 32 bytes", 3, 1, 2, 32, false, "SHA-512"},
	{"tlsa: empty full data", 3, 1, 0, 0, false, "empty"},
	{"tlsa: PKIX wins over a bad digest", 1, 1, 1, 31, false, "PKIX"},
};

static const char *
tlsa_case_name(const void *row)
{
	return ((const struct tlsa_case *)row)->name;
}

static void
test_tlsa(void **state)
{
	const struct tlsa_case *c = *state;
	unsigned char rdata[3 + 512];
	struct tlsa_record r;
	const char *why = "untouched";

	rdata[0] = c->usage;
	rdata[1] = c->selector;
	rdata[2] = c->mtype;
	for (size_t i = 0; i < c->len; i++)
		rdata[3 + i] = (unsigned char)(i * 7 + 1);
	assert_int_equal(tlsa_parse(rdata, 3 + c->len, &r), 0);
	assert_int_equal(r.usage, c->usage);
	assert_int_equal(r.selector, c->selector);
	assert_int_equal(r.mtype, c->mtype);
	assert_ptr_equal(r.data, rdata + 3);
	assert_int_equal(r.len, c->len);
	assert_int_equal(tlsa_usable(&r, &why), c->usable);
	if (c->usable)
		assert_string_equal(why, "untouched");
	else {
		assert_non_null(why);
		if (!strstr(why, c->why))
			fail_msg("reason '%s', want '%s'", why, c->why);
	}
}

static void
test_tlsa_short(void **state)
{
	static const unsigned char rdata[] = {3, 1, 1};
	struct tlsa_record r;

	assert_int_equal(tlsa_parse(rdata, 0, &r), -1);
	assert_int_equal(tlsa_parse(rdata, 1, &r), -1);
	assert_int_equal(tlsa_parse(rdata, 2, &r), -1);
	assert_int_equal(tlsa_parse(rdata, 3, &r), 0);
	assert_int_equal(r.len, 0);
}

/* A throw-away EC key and self-signed certificate, in DER. */
static void
make_der(struct buf *cert, struct buf *spki)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	unsigned char *der = NULL;
	int n;

	assert_non_null(key);
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"mx.example", -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(x)), 1);
	assert_int_equal(X509_set_pubkey(x, key), 1);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	assert_true((n = i2d_X509(x, &der)) > 0);
	buf_append(cert, der, (size_t)n);
	OPENSSL_free(der);
	der = NULL;
	assert_true((n = i2d_PUBKEY(key, &der)) > 0);
	buf_append(spki, der, (size_t)n);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(key);
}

static bool
full_usable(uint8_t selector, const void *data, size_t len, const char **why)
{
	unsigned char rdata[3 + 2048] = {3, selector, 0};
	struct tlsa_record r;

	assert_true(len <= sizeof(rdata) - 3);
	memcpy(rdata + 3, data, len);
	assert_int_equal(tlsa_parse(rdata, 3 + len, &r), 0);
	return tlsa_usable(&r, why);
}

/* Matching type 0: usable only when the data decodes over its whole
 * length, as OpenSSL's DANE requires ("3 1 0 00" matches nothing). */
static void
test_tlsa_full(void **state)
{
	struct buf cert, spki;
	const char *why = NULL;

	buf_init(&cert);
	buf_init(&spki);
	make_der(&cert, &spki);
	const unsigned char *c = (const unsigned char *)buf_ptr(&cert), *k = (const unsigned char *)buf_ptr(&spki);
	size_t clen = buf_size(&cert), klen = buf_size(&spki);
	unsigned char longer[2048], zero = 0;

	assert_true(full_usable(1, k, klen, &why));
	assert_true(full_usable(0, c, clen, &why));
	assert_false(full_usable(1, &zero, 1, &why));
	assert_non_null(strstr(why, "SubjectPublicKeyInfo"));
	assert_false(full_usable(0, &zero, 1, &why));
	assert_non_null(strstr(why, "certificate"));
	/* A key where a certificate belongs, and the other way round. */
	assert_false(full_usable(0, k, klen, &why));
	assert_false(full_usable(1, c, clen, &why));
	/* Cut short by a byte, or a byte too long. */
	assert_false(full_usable(1, k, klen - 1, &why));
	assert_false(full_usable(0, c, clen - 1, &why));
	memcpy(longer, k, klen);
	longer[klen] = 0;
	assert_false(full_usable(1, longer, klen + 1, &why));
	memcpy(longer, c, clen);
	longer[clen] = 0;
	assert_false(full_usable(0, longer, clen + 1, &why));
	buf_free(&cert);
	buf_free(&spki);
}

static void
test_tlsa_format(void **state)
{
	static const unsigned char rdata[] = {3, 1, 1, 0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff};
	static const unsigned char other[] = {2, 0, 0, 0x5a};
	struct tlsa_record r;
	struct buf b;

	buf_init(&b);
	assert_int_equal(tlsa_parse(rdata, sizeof(rdata), &r), 0);
	buf_puts(&b, "record ");
	assert_int_equal(tlsa_format(&r, &b), 0);
	/* Hex is case-insensitive in presentation form. */
	if (strcasecmp(buf_ptr(&b), "record 3 1 1 00017F80ABCDEFFF") != 0)
		fail_msg("got '%s'", buf_ptr(&b));
	assert_int_equal(buf_size(&b), strlen("record 3 1 1 00017F80ABCDEFFF"));
	buf_reset(&b);
	assert_int_equal(tlsa_parse(other, sizeof(other), &r), 0);
	assert_int_equal(tlsa_format(&r, &b), 0);
	if (strcasecmp(buf_ptr(&b), "2 0 0 5A") != 0)
		fail_msg("got '%s'", buf_ptr(&b));
	/* A full SHA-512 record: 128 hex digits. */
	unsigned char big[3 + 64] = {3, 1, 2};
	memset(big + 3, 0xee, 64);
	buf_reset(&b);
	assert_int_equal(tlsa_parse(big, sizeof(big), &r), 0);
	assert_int_equal(tlsa_format(&r, &b), 0);
	assert_int_equal(buf_size(&b), 6 + 128);
	assert_int_equal(strspn(buf_ptr(&b) + 6, "eE"), 128);
	buf_free(&b);
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_tlsa_short),
		cmocka_unit_test(test_tlsa_format),
		cmocka_unit_test(test_tlsa_full),
	};
	struct table t = {0};

	TABLE_ADD(&t, tlsa_cases, tlsa_case, test_tlsa);
	TABLE_TESTS(&t, more);
	return table_run(&t, "tlsa");
}
