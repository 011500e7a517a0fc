/* json - JSON strings; see json.h. */
#include "autoconfig.h"

#include "util/json.h"

int
json_str(struct buf *b, const char *s)
{
	if (!s)
		return buf_puts(b, "null");
	if (buf_putc(b, '"') < 0)
		return -1;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int rc;
		if (c == '"' || c == '\\')
			rc = buf_printf(b, "\\%c", c);
		else if (c == '\n')
			rc = buf_puts(b, "\\n");
		else if (c < 0x20 || c == 0x7f)
			rc = buf_printf(b, "\\u%04x", c);
		else
			rc = buf_putc(b, (char)c);
		if (rc < 0)
			return -1;
	}
	return buf_putc(b, '"');
}

int
json_key(struct buf *b, const char *key, int first)
{
	if (!first && buf_putc(b, ',') < 0)
		return -1;
	if (json_str(b, key) < 0)
		return -1;
	return buf_putc(b, ':');
}
