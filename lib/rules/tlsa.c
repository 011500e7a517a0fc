/* tlsa - TLSA records; see tlsa.h for the contract. */
#include "autoconfig.h"

#include <limits.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "rules/tlsa.h"
#include "util/text.h"

int
tlsa_parse(const unsigned char *rdata, size_t len, struct tlsa_record *out)
{
	if (len < 3)
		return -1;
	out->usage = rdata[0];
	out->selector = rdata[1];
	out->mtype = rdata[2];
	out->data = rdata + 3;
	out->len = len - 3;
	return 0;
}

/* Matching type 0 holds the certificate or key itself: as Postfix and
 * OpenSSL's DANE do, it counts only when it decodes over its whole length
 * (a certificate also needs a public key OpenSSL supports); otherwise no
 * server can ever match it. */
static bool
full_data_parses(const struct tlsa_record *r)
{
	const unsigned char *p = r->data;
	bool ok = false;

	if (r->len > LONG_MAX)
		return false;
	if (r->selector == TLSA_SEL_CERT) {
		X509 *x = d2i_X509(NULL, &p, (long)r->len);
		EVP_PKEY *key = x && p == r->data + r->len ? X509_get0_pubkey(x) : NULL;
		ok = key != NULL;
		X509_free(x);
	} else {
		EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)r->len);
		ok = key && p == r->data + r->len;
		EVP_PKEY_free(key);
	}
	ERR_clear_error();
	return ok;
}

bool
tlsa_usable(const struct tlsa_record *r, const char **why)
{
	if (r->usage == TLSA_PKIX_TA || r->usage == TLSA_PKIX_EE) {
		*why = "PKIX usage (0 or 1) is not usable for SMTP";
		return false;
	}
	if (r->usage != TLSA_DANE_TA && r->usage != TLSA_DANE_EE) {
		*why = "unknown certificate usage";
		return false;
	}
	if (r->selector != TLSA_SEL_CERT && r->selector != TLSA_SEL_SPKI) {
		*why = "unknown selector";
		return false;
	}
	switch (r->mtype) {
	case TLSA_MATCH_FULL:
		if (r->len == 0) {
			*why = "empty association data";
			return false;
		}
		if (!full_data_parses(r)) {
			*why = r->selector == TLSA_SEL_CERT ? "full data is not a certificate with a usable key"
			    : "full data is not a SubjectPublicKeyInfo";
			return false;
		}
		return true;
	case TLSA_MATCH_SHA256:
		if (r->len != 32) {
			*why = "SHA-256 digest is not 32 bytes";
			return false;
		}
		return true;
	case TLSA_MATCH_SHA512:
		if (r->len != 64) {
			*why = "SHA-512 digest is not 64 bytes";
			return false;
		}
		return true;
	}
	*why = "unknown matching type";
	return false;
}

int
tlsa_format(const struct tlsa_record *r, struct buf *out)
{
	if (buf_printf(out, "%u %u %u ", r->usage, r->selector, r->mtype) < 0)
		return -1;
	char *dst = buf_reserve(out, r->len * 2);
	if (!dst)
		return -1;
	text_hex(dst, r->data, r->len);
	buf_commit(out, r->len * 2);
	return 0;
}

int
tlsa_data_for_cert(const unsigned char *der, size_t len, uint8_t selector, uint8_t mtype, struct buf *out)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	unsigned char *data = NULL, md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	int n = -1, rc = -1;

	if (!x || selector > TLSA_SEL_SPKI || mtype > TLSA_MATCH_SHA512)
		goto done;
	n = selector == TLSA_SEL_CERT ? i2d_X509(x, &data) : i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &data);
	if (n <= 0)
		goto done;
	if (mtype == TLSA_MATCH_FULL) {
		rc = buf_append(out, data, (size_t)n);
	} else if (EVP_Digest(data, (size_t)n, md, &mdlen,
	    mtype == TLSA_MATCH_SHA256 ? EVP_sha256() : EVP_sha512(), NULL) == 1) {
		rc = buf_append(out, md, mdlen);
	}
done:
	OPENSSL_free(data);
	X509_free(x);
	return rc;
}
