/*
 * tlsa - TLSA records (RFC 6698) and whether they are usable for SMTP
 * (RFC 7672 section 3.1).
 *
 * Usable: usage 2 (DANE-TA) or 3 (DANE-EE); selector 0 (full certificate)
 * or 1 (SubjectPublicKeyInfo); matching type 0 (full data that decodes,
 * over its whole length, as a certificate with a supported public key or
 * as a SubjectPublicKeyInfo: what OpenSSL's DANE and Postfix accept),
 * 1 (SHA-256, exactly 32 bytes) or 2 (SHA-512, exactly 64 bytes).
 * Usages 0 and 1 (PKIX-TA, PKIX-EE) are not usable for SMTP, and neither is
 * anything malformed: a digest of the wrong length, unknown parameters.
 *
 * Contract: pure functions on caller-owned bytes; struct tlsa_record points
 * into the rdata it was parsed from and lives no longer than it.
 */
#ifndef TLSPOLICY_TLSA_H
#define TLSPOLICY_TLSA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

enum tlsa_usage { TLSA_PKIX_TA = 0, TLSA_PKIX_EE = 1, TLSA_DANE_TA = 2, TLSA_DANE_EE = 3 };
enum tlsa_selector { TLSA_SEL_CERT = 0, TLSA_SEL_SPKI = 1 };
enum tlsa_mtype { TLSA_MATCH_FULL = 0, TLSA_MATCH_SHA256 = 1, TLSA_MATCH_SHA512 = 2 };

struct tlsa_record {
	uint8_t usage;
	uint8_t selector;
	uint8_t mtype;
	const unsigned char *data;
	size_t len;
};

/* Parses TLSA rdata; -1 when shorter than its fixed part. */
int tlsa_parse(const unsigned char *rdata, size_t len, struct tlsa_record *out);

/* Whether a record may be used for SMTP; *why names the reason it may not
 * (a static string), untouched when it may. */
bool tlsa_usable(const struct tlsa_record *r, const char **why);

/* The association data of a TLSA record for a certificate given in DER:
 * selector 0 the whole certificate, 1 its SubjectPublicKeyInfo; matching
 * type 0 the data itself, 1 SHA-256, 2 SHA-512. Appends it to out; -1 for
 * a certificate OpenSSL cannot read or parameters outside those. */
int tlsa_data_for_cert(const unsigned char *der, size_t len, uint8_t selector, uint8_t mtype, struct buf *out);

/* Appends the presentation form "3 1 1 abcd..." (lower-case hex) to out. */
int tlsa_format(const struct tlsa_record *r, struct buf *out);

#endif
