/* text - text safe to show; see text.h. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "util/text.h"

static bool
printable(unsigned char c)
{
	return c >= 0x20 && c < 0x7f;
}

size_t
text_printable(char *dst, size_t size, const char *src, size_t len)
{
	size_t n = 0;

	if (size == 0)
		return 0;
	for (size_t i = 0; i < len && n + 1 < size; i++)
		dst[n++] = printable((unsigned char)src[i]) ? src[i] : '?';
	dst[n] = '\0';
	return n;
}

char *
text_printable_dup(const char *src)
{
	size_t len = strlen(src);
	char *dst = malloc(len + 1);

	if (dst)
		text_printable(dst, len + 1, src, len);
	return dst;
}

bool
text_is_printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!printable((unsigned char)s[i]))
			return false;
	return true;
}

static const char hex_digits[] = "0123456789abcdef";

void
text_hex(char *dst, const void *src, size_t n)
{
	const unsigned char *in = src;

	for (size_t i = 0; i < n; i++) {
		dst[2 * i] = hex_digits[in[i] >> 4];
		dst[2 * i + 1] = hex_digits[in[i] & 15];
	}
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
text_unhex(void *dst, const char *src, size_t n)
{
	unsigned char *out = dst;

	for (size_t i = 0; i < n; i++) {
		int hi = hex_value(src[2 * i]), lo = hex_value(src[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}
