/*
 * rr - the resource-record data the decision reads: wire-format domain
 * names, MX and address rdata, as libunbound hands them over
 * (uncompressed rdata, one buffer per record).
 *
 * Contract: pure functions on caller-owned bytes; every length is checked,
 * so hostile rdata yields -1, never a read out of bounds. Names come out in
 * lower case, without the trailing dot ("." for the root).
 */
#ifndef TLSPOLICY_RR_H
#define TLSPOLICY_RR_H

#include <stddef.h>
#include <stdint.h>

#include "postfix/nexthop.h"

#define RR_TYPE_A 1
#define RR_TYPE_CNAME 5
#define RR_TYPE_MX 15
#define RR_TYPE_TXT 16
#define RR_TYPE_AAAA 28
#define RR_TYPE_DNSKEY 48
#define RR_TYPE_TLSA 52

/* Decodes an uncompressed wire name at the start of [p, p + len) into dst
 * (NEXTHOP_NAME_MAX + 1 bytes). Returns the wire length consumed, or -1. */
int rr_name(const unsigned char *p, size_t len, char *dst);

/* MX rdata: 16-bit preference, then the exchange; the whole rdata must be
 * consumed. Returns 0 or -1. */
int rr_mx(const unsigned char *rdata, size_t len, uint16_t *pref, char *exchange);

/* A (4 bytes) or AAAA (16 bytes) rdata to text (INET6_ADDRSTRLEN bytes). */
int rr_address(uint16_t type, const unsigned char *rdata, size_t len, char *dst, size_t size);

const char *rr_type_name(uint16_t type);

#endif
