/* kv - key=value log fields; see kv.h for the contract. */
#include "autoconfig.h"

#include <inttypes.h>
#include <string.h>

#include "kv.h"

static int
separator(struct buf *b)
{
	return buf_size(b) ? buf_putc(b, ' ') : 0;
}

static int
bare(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '=';
}

int
kv_strn(struct buf *b, const char *key, const char *value, size_t len)
{
	size_t i;

	if (separator(b) < 0 || buf_puts(b, key) < 0 || buf_putc(b, '=') < 0)
		return -1;
	for (i = 0; i < len && bare((unsigned char)value[i]); i++)
		;
	if (len > 0 && i == len)
		return buf_append(b, value, len);
	if (buf_putc(b, '"') < 0)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];
		int rc;
		if (c == '"' || c == '\\')
			rc = buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			rc = buf_printf(b, "\\x%02x", c);
		else
			rc = buf_putc(b, (char)c);
		if (rc < 0)
			return -1;
	}
	return buf_putc(b, '"');
}

int
kv_str(struct buf *b, const char *key, const char *value)
{
	return kv_strn(b, key, value ? value : "", value ? strlen(value) : 0);
}

int
kv_uint(struct buf *b, const char *key, uint64_t value)
{
	if (separator(b) < 0)
		return -1;
	return buf_printf(b, "%s=%" PRIu64, key, value);
}

int
kv_ms(struct buf *b, const char *key, uint64_t usec)
{
	if (separator(b) < 0)
		return -1;
	return buf_printf(b, "%s=%" PRIu64 ".%03" PRIu64, key, usec / 1000, usec % 1000);
}
