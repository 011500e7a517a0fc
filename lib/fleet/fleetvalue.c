/* fleetvalue - sealed values for the fleet's shared store; see fleetvalue.h. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "fleet/fleetvalue.h"
#include "util/text.h"

#define MAC_LEN 32
#define MAC_HEX (2 * MAC_LEN)

int
fleetvalue_key_load(const char *path, struct fleetvalue_key *out, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	memset(out, 0, sizeof(*out));
	if (fd < 0) {
		snprintf(err, errlen, "redis_key_file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "redis_key_file %s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_mode & S_IROTH) {
		snprintf(err, errlen, "redis_key_file %s: readable by everyone; the fleet's secret must not be "
		    "(chmod o-r %s)", path, path);
		close(fd);
		return -1;
	}
	n = read(fd, out->secret, sizeof(out->secret));
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "redis_key_file %s: %s", path, strerror(errno));
		return -1;
	}
	if ((size_t)n == sizeof(out->secret)) {
		snprintf(err, errlen, "redis_key_file %s: longer than %d bytes", path, FLEETVALUE_SECRET_MAX - 1);
		return -1;
	}
	while (n > 0 && (out->secret[n - 1] == '\n' || out->secret[n - 1] == '\r'))
		n--;
	if (n < FLEETVALUE_SECRET_MIN) {
		snprintf(err, errlen, "redis_key_file %s: %zd bytes of secret, fewer than %d; make one with "
		    "`openssl rand -hex 32 > %s` and give every relay of the fleet the same file", path, n,
		    FLEETVALUE_SECRET_MIN, path);
		return -1;
	}
	out->len = (size_t)n;
	return 0;
}

/* HMAC-SHA256 over the version, the key, the expiry and the payload, each
 * but the payload ended by a NUL, so that no two (key, expiry, payload)
 * give the same bytes. */
static int
mac(const struct fleetvalue_key *k, const char *version, size_t vlen, const char *name, int64_t expires,
    const void *payload, size_t len, unsigned char out[MAC_LEN])
{
	char when[32];
	int wlen = snprintf(when, sizeof(when), "%lld", (long long)expires);
	int ok = 0;
	EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = m ? EVP_MAC_CTX_new(m) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("digest", (char *)(uintptr_t)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	size_t got = 0;

	if (ctx && EVP_MAC_init(ctx, k->secret, k->len, params) &&
	    EVP_MAC_update(ctx, (const unsigned char *)version, vlen) && EVP_MAC_update(ctx, (const unsigned char *)"", 1) &&
	    EVP_MAC_update(ctx, (const unsigned char *)name, strlen(name) + 1) &&
	    EVP_MAC_update(ctx, (const unsigned char *)when, (size_t)wlen + 1) &&
	    EVP_MAC_update(ctx, payload, len) && EVP_MAC_final(ctx, out, &got, MAC_LEN) && got == MAC_LEN)
		ok = 1;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(m);
	return ok ? 0 : -1;
}

int
fleetvalue_seal(const struct fleetvalue_key *k, const char *name, int64_t expires, const void *payload,
    size_t len, struct buf *out)
{
	unsigned char m[MAC_LEN];
	char mhex[MAC_HEX];

	if (len > FLEETVALUE_PAYLOAD_MAX || expires < 0 ||
	    mac(k, FLEETVALUE_VERSION, strlen(FLEETVALUE_VERSION), name, expires, payload, len, m) < 0)
		return -1;
	text_hex(mhex, m, MAC_LEN);
	int rc = buf_printf(out, "%s %lld ", FLEETVALUE_VERSION, (long long)expires);
	rc |= buf_append(out, mhex, sizeof(mhex));
	rc |= buf_putc(out, ' ');
	rc |= buf_append(out, payload, len);
	return rc ? -1 : 0;
}

const char *
fleetvalue_verdict_name(enum fleetvalue_verdict v)
{
	static const char *const names[] = {"ok", "malformed", "version-unknown", "bad-mac", "expired", "too-long"};

	return (unsigned)v < FLEETVALUE_VERDICT_COUNT ? names[v] : "?";
}

/* The next field ended by a space: its length, or -1 when there is none. */
static long
field(const char *p, const char *end)
{
	const char *sp = memchr(p, ' ', (size_t)(end - p));

	return sp ? (long)(sp - p) : -1;
}

/* "tpf" and a number: a format version, ours or another's. */
static bool
is_version(const char *v, size_t len)
{
	if (len < 4 || len > 8 || memcmp(v, "tpf", 3) != 0)
		return false;
	for (size_t i = 3; i < len; i++)
		if (v[i] < '0' || v[i] > '9')
			return false;
	return true;
}

enum fleetvalue_verdict
fleetvalue_open(const struct fleetvalue_key *k, const char *name, const char *value, size_t len, int64_t now,
    int64_t max_life_s, const char **payload, size_t *payload_len, int64_t *expires)
{
	const char *p = value, *end = value + len;
	unsigned char want[MAC_LEN], got[MAC_LEN];
	long n;
	int64_t when = 0;

	if (len > FLEETVALUE_PAYLOAD_MAX + 128 || (n = field(p, end)) <= 0)
		return FLEETVALUE_MALFORMED;
	const char *version = p;
	size_t vlen = (size_t)n;
	/* Another relay's format may be laid out otherwise: only the
	 * version is read of it. */
	if (vlen != strlen(FLEETVALUE_VERSION) || memcmp(version, FLEETVALUE_VERSION, vlen) != 0)
		return is_version(version, vlen) ? FLEETVALUE_VERSION_UNKNOWN : FLEETVALUE_MALFORMED;
	p += n + 1;
	if ((n = field(p, end)) <= 0 || n > 18)
		return FLEETVALUE_MALFORMED;
	for (long i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9' || (i == 0 && p[i] == '0' && n > 1))
			return FLEETVALUE_MALFORMED;
		when = 10 * when + (p[i] - '0');
	}
	p += n + 1;
	if ((n = field(p, end)) != MAC_HEX || text_unhex(got, p, MAC_LEN) < 0)
		return FLEETVALUE_MALFORMED;
	p += MAC_HEX + 1;
	if (mac(k, version, vlen, name, when, p, (size_t)(end - p), want) < 0 ||
	    CRYPTO_memcmp(want, got, MAC_LEN) != 0)
		return FLEETVALUE_BAD_MAC;
	if (when <= now)
		return FLEETVALUE_EXPIRED;
	if (when - now > max_life_s)
		return FLEETVALUE_TOO_LONG;
	*payload = p;
	*payload_len = (size_t)(end - p);
	*expires = when;
	return FLEETVALUE_OK;
}
