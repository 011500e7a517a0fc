/* json - the comma-placing JSON helpers; see json.h. */
#include "autoconfig.h"

#include "util/json.h"
#include "util/jsonw.h"

int
json_str(struct buf *b, const char *s)
{
	return jsonw_quote(b, s);
}

int
json_key(struct buf *b, const char *key, int first)
{
	if (!first && buf_putc(b, ',') < 0)
		return -1;
	if (jsonw_quote(b, key) < 0)
		return -1;
	return buf_putc(b, ':');
}
