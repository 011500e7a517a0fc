/* rr - record data; see rr.h for the contract. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <string.h>

#include "dns/rr.h"

int
rr_name(const unsigned char *p, size_t len, char *dst)
{
	size_t in = 0, out = 0;

	for (;;) {
		if (in >= len)
			return -1;
		unsigned label = p[in++];
		if (label == 0)
			break;
		/* Compression pointers (0xc0) and extended labels never appear in
		 * the uncompressed rdata libunbound returns. */
		if (label > 63 || in + label > len)
			return -1;
		if (out + label + (out ? 1 : 0) > NEXTHOP_NAME_MAX)
			return -1;
		if (out)
			dst[out++] = '.';
		for (unsigned i = 0; i < label; i++) {
			unsigned char c = p[in + i];
			/* A dot or an unprintable byte inside a label has no safe text
			 * form; '?' keeps logs clean and fails every host-name check. */
			if (c == '.' || c < 0x21 || c > 0x7e)
				c = '?';
			dst[out++] = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
		}
		in += label;
	}
	if (out == 0)
		dst[out++] = '.';
	dst[out] = '\0';
	return (int)in;
}

int
rr_mx(const unsigned char *rdata, size_t len, uint16_t *pref, char *exchange)
{
	if (len < 3)
		return -1;
	*pref = (uint16_t)(rdata[0] << 8 | rdata[1]);
	int n = rr_name(rdata + 2, len - 2, exchange);
	if (n < 0 || (size_t)n != len - 2)
		return -1;
	return 0;
}

int
rr_address(uint16_t type, const unsigned char *rdata, size_t len, char *dst, size_t size)
{
	if (type == RR_TYPE_A && len == 4)
		return inet_ntop(AF_INET, rdata, dst, (socklen_t)size) ? 0 : -1;
	if (type == RR_TYPE_AAAA && len == 16)
		return inet_ntop(AF_INET6, rdata, dst, (socklen_t)size) ? 0 : -1;
	return -1;
}

const char *
rr_type_name(uint16_t type)
{
	switch (type) {
	case RR_TYPE_A: return "A";
	case RR_TYPE_CNAME: return "CNAME";
	case RR_TYPE_MX: return "MX";
	case RR_TYPE_TXT: return "TXT";
	case RR_TYPE_AAAA: return "AAAA";
	case RR_TYPE_DNSKEY: return "DNSKEY";
	case RR_TYPE_TLSA: return "TLSA";
	}
	return "TYPE?";
}
