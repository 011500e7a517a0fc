/* netaddr - addresses and special ranges; see netaddr.h. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "util/netaddr.h"

int
netaddr_parse(const char *text, struct netaddr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, out->bytes) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, out->bytes) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return -1;
}

void
netaddr_format(const struct netaddr *a, char *dst, size_t size)
{
	if (!inet_ntop(a->family, a->bytes, dst, (socklen_t)size) && size)
		dst[0] = '\0';
}

socklen_t
netaddr_sockaddr(const struct netaddr *a, unsigned port, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)out;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		memcpy(&sin->sin_addr, a->bytes, 4);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)port);
	memcpy(&sin6->sin6_addr, a->bytes, 16);
	return sizeof(*sin6);
}

static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* The 4 bytes of an IPv4 address, mapped or not; NULL for others. */
static const unsigned char *
v4_bytes(const struct netaddr *a)
{
	if (a->family == AF_INET)
		return a->bytes;
	if (a->family == AF_INET6 && memcmp(a->bytes, v4_mapped, sizeof(v4_mapped)) == 0)
		return a->bytes + 12;
	return NULL;
}

bool
netaddr_equal(const struct netaddr *a, const struct netaddr *b)
{
	const unsigned char *a4 = v4_bytes(a), *b4 = v4_bytes(b);

	if (a4 || b4)
		return a4 && b4 && memcmp(a4, b4, 4) == 0;
	return a->family == b->family && memcmp(a->bytes, b->bytes, 16) == 0;
}

struct range {
	unsigned char prefix[16];
	unsigned bits;
	const char *name;
};

static const struct range v4_ranges[] = {
	{{0}, 8, "unspecified"},			/* 0.0.0.0/8 "this network" */
	{{10}, 8, "private"},
	{{100, 64}, 10, "CGNAT"},
	{{127}, 8, "loopback"},
	{{169, 254}, 16, "link-local"},
	{{172, 16}, 12, "private"},
	{{192, 0, 0}, 24, "reserved"},			/* IETF protocol assignments */
	{{192, 0, 2}, 24, "documentation"},
	{{192, 88, 99}, 24, "reserved"},		/* former 6to4 relay anycast */
	{{192, 168}, 16, "private"},
	{{198, 18}, 15, "benchmarking"},
	{{198, 51, 100}, 24, "documentation"},
	{{203, 0, 113}, 24, "documentation"},
	{{224}, 4, "multicast"},
	{{240}, 4, "reserved"},				/* and 255.255.255.255 */
};

static const struct range v6_ranges[] = {
	{{0}, 128, "unspecified"},
	{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, "loopback"},
	/* ::a.b.c.d, IPv4-compatible (RFC 4291 2.5.5.1), deprecated: no host
	 * has one, and a stack that still maps it reaches the IPv4 address
	 * unchecked. After :: and ::1, which it contains. */
	{{0}, 96, "IPv4-compatible"},
	{{0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0}, 96, "NAT64"},
	{{0, 0x64, 0xff, 0x9b, 0, 1}, 48, "NAT64"},	/* local-use NAT64 */
	{{0x01, 0x00}, 64, "reserved"},			/* discard-only */
	{{0x20, 0x01, 0x00, 0x00}, 32, "reserved"},	/* Teredo */
	{{0x20, 0x01, 0x00, 0x02, 0, 0}, 48, "benchmarking"},
	{{0x20, 0x01, 0x0d, 0xb8}, 32, "documentation"},
	{{0x20, 0x01, 0x00, 0x10}, 28, "reserved"},	/* ORCHID */
	{{0x20, 0x01, 0x00, 0x20}, 28, "reserved"},	/* ORCHIDv2 */
	/* 6to4 (RFC 3056, deprecated by RFC 7526): a relay, wherever it is,
	 * unwraps the embedded IPv4 address, private or not. */
	{{0x20, 0x02}, 16, "6to4"},
	{{0x3f, 0xff}, 20, "documentation"},
	{{0xfc}, 7, "unique-local"},
	{{0xfe, 0x80}, 10, "link-local"},
	{{0xfe, 0xc0}, 10, "reserved"},			/* former site-local */
	{{0xff}, 8, "multicast"},
};

static bool
in_range(const unsigned char *addr, const struct range *r)
{
	unsigned full = r->bits / 8, rest = r->bits % 8;

	if (memcmp(addr, r->prefix, full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (addr[full] & mask) == (r->prefix[full] & mask);
}

static const char *
special_v4(const unsigned char *b)
{
	for (size_t i = 0; i < sizeof(v4_ranges) / sizeof(v4_ranges[0]); i++)
		if (in_range(b, &v4_ranges[i]))
			return v4_ranges[i].name;
	return NULL;
}

const char *
netaddr_special(const struct netaddr *a)
{
	const unsigned char *v4 = v4_bytes(a);

	/* ::ffff:a.b.c.d reaches a.b.c.d: judge it as that. */
	if (v4)
		return special_v4(v4);
	if (a->family != AF_INET6)
		return "unknown family";
	for (size_t i = 0; i < sizeof(v6_ranges) / sizeof(v6_ranges[0]); i++)
		if (in_range(a->bytes, &v6_ranges[i]))
			return v6_ranges[i].name;
	return NULL;
}
