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
