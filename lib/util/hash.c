/* hash - SipHash-1-3; see hash.h. */
#include "autoconfig.h"

#include <string.h>
#include <sys/random.h>

#include "util/hash.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND(v0, v1, v2, v3) do { \
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
} while (0)

static uint64_t
load64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* SipHash-1-3 (one compression round, three finalization rounds). */
uint64_t
hash_siphash13(struct hash_key key, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t k0 = key.k0, k1 = key.k1;
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
	size_t end = len & ~(size_t)7;
	uint64_t m;

	for (size_t i = 0; i < end; i += 8) {
		m = load64(p + i);
		v3 ^= m;
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	m = (uint64_t)len << 56;
	for (size_t i = 0; i < (len & 7); i++)
		m |= (uint64_t)p[end + i] << (8 * i);
	v3 ^= m;
	SIPROUND(v0, v1, v2, v3);
	v0 ^= m;
	v2 ^= 0xff;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

struct hash_key
hash_key_from_bytes(const unsigned char seed[16])
{
	struct hash_key key = {load64(seed), load64(seed + 8)};
	return key;
}

void
hash_random_seed(unsigned char seed[16])
{
	if (getrandom(seed, 16, 0) != 16)
		memset(seed, 0x5a, 16);
}
