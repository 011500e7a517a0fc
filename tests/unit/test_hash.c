/*
 * Unit tests: SipHash-1-3 (lib/util/hash.h) against the reference
 * implementation's outputs (github.com/veorq/SipHash built with one
 * compression and three finalization rounds): messages 00 01 02 ... of
 * each length that exercises another path (empty, a partial word, exactly
 * one word, a word and a byte, the longest tail), under the all-zero key
 * and under the key whose first byte is 1. The second key checks that key
 * bytes load little-endian into k0. Then the random seeds.
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/hash.h"
#include "table.h"

struct vector {
	char name[32];
	unsigned char key0;	/* the key's first byte; the others are 0 */
	size_t len;
	uint64_t hash;
};

static const struct vector vectors[] = {
	{"zero key, empty", 0, 0, 0xd1fba762150c532cULL},
	{"zero key, 1 byte", 0, 1, 0x68a914128e01e473ULL},
	{"zero key, 7 bytes", 0, 7, 0x2f098ab0c751325aULL},
	{"zero key, 8 bytes", 0, 8, 0xead411e67ebe2eeaULL},
	{"zero key, 9 bytes", 0, 9, 0x75927f9d95124362ULL},
	{"zero key, 15 bytes", 0, 15, 0xf30eb725bb91c9eaULL},
	{"zero key, 16 bytes", 0, 16, 0x8972188433a5c5b7ULL},
	{"zero key, 63 bytes", 0, 63, 0x385d3e39e5f37359ULL},
	{"key 01, empty", 1, 0, 0xc44a0ebf4e962581ULL},
	{"key 01, 1 byte", 1, 1, 0xc7f8837cdc05230bULL},
	{"key 01, 8 bytes", 1, 8, 0x51738227823e2309ULL},
	{"key 01, 31 bytes", 1, 31, 0x446a5b127a38bf2eULL},
	{"key 01, 63 bytes", 1, 63, 0xa35bf11b84b78be0ULL},
};

static const char *
vector_name(const void *row)
{
	return ((const struct vector *)row)->name;
}

static void
test_vector(void **state)
{
	const struct vector *v = *state;
	unsigned char seed[16] = {v->key0}, msg[64];

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)i;
	struct hash_key key = hash_key_from_bytes(seed);
	assert_int_equal(key.k0, v->key0);
	assert_int_equal(key.k1, 0);
	uint64_t got = hash_siphash13(key, msg, v->len);
	if (got != v->hash)
		fail_msg("got %016llx, want %016llx", (unsigned long long)got, (unsigned long long)v->hash);
}

/* Both halves of the seed are read, little-endian. */
static void
test_key_bytes(void **state)
{
	static const unsigned char seed[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	struct hash_key key = hash_key_from_bytes(seed);

	assert_int_equal(key.k0, 0x0807060504030201ULL);
	assert_int_equal(key.k1, 0x100f0e0d0c0b0a09ULL);
}

/* Two seeds from the kernel are not the same (a fixed fallback would be). */
static void
test_random_seed(void **state)
{
	unsigned char a[16], b[16];

	hash_random_seed(a);
	hash_random_seed(b);
	assert_memory_not_equal(a, b, sizeof(a));
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_key_bytes),
		cmocka_unit_test(test_random_seed),
	};
	struct table t = {0};

	TABLE_ADD(&t, vectors, vector, test_vector);
	TABLE_TESTS(&t, more);
	return table_run(&t, "hash");
}
