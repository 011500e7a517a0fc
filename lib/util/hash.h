/*
 * hash - SipHash-1-3, a keyed hash for tables whose keys strangers choose
 * (recipient domains): without the secret key nobody can aim many keys at
 * one bucket. Pure; the key is the caller's. hash_random_seed() makes one
 * for a table that has no seed of its own.
 */
#ifndef TLSPOLICY_HASH_H
#define TLSPOLICY_HASH_H

#include <stddef.h>
#include <stdint.h>

struct hash_key {
	uint64_t k0, k1;
};

struct hash_key hash_key_from_bytes(const unsigned char seed[16]);
uint64_t hash_siphash13(struct hash_key key, const void *data, size_t len);
/* 16 bytes from the kernel's random source. Without one (a sandbox that
 * forbids getrandom) a fixed seed: the table still works, only its keys can
 * be aimed, which is less than a table that is not there. */
void hash_random_seed(unsigned char seed[16]);

#endif
