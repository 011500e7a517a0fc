/* netstring - see netstring.h for the contract. */
#include "autoconfig.h"

#include <string.h>

#include "netstring.h"

int
netstring_parse(const char *p, size_t n, size_t max_payload,
    const char **payload, size_t *payload_len, size_t *consumed)
{
	size_t len = 0;
	size_t i = 0;

	for (;; i++) {
		if (i == n)
			return NETSTRING_INCOMPLETE;
		char c = p[i];
		if (c == ':')
			break;
		if (c < '0' || c > '9')
			return NETSTRING_ERR_FORMAT;
		if (i == 1 && p[0] == '0')
			return NETSTRING_ERR_FORMAT;
		len = len * 10 + (size_t)(c - '0');
		if (len > max_payload)
			return NETSTRING_ERR_TOOLONG;
	}
	if (i == 0)
		return NETSTRING_ERR_FORMAT;
	size_t body = i + 1;
	if (n - body < len + 1)
		return NETSTRING_INCOMPLETE;
	if (p[body + len] != ',')
		return NETSTRING_ERR_FORMAT;
	*payload = p + body;
	*payload_len = len;
	*consumed = body + len + 1;
	return NETSTRING_OK;
}

int
netstring_put(struct buf *out, const char *p, size_t n)
{
	if (buf_put_uint(out, n, 1) < 0 || buf_putc(out, ':') < 0)
		return -1;
	char *dst = buf_reserve(out, n + 1);
	if (!dst)
		return -1;
	if (n)
		memcpy(dst, p, n);
	dst[n] = ',';
	buf_commit(out, n + 1);
	return 0;
}

const char *
netstring_strerror(int status)
{
	switch (status) {
	case NETSTRING_OK:
		return "ok";
	case NETSTRING_INCOMPLETE:
		return "incomplete netstring";
	case NETSTRING_ERR_FORMAT:
		return "malformed netstring";
	case NETSTRING_ERR_TOOLONG:
		return "netstring too long";
	}
	return "unknown netstring status";
}
