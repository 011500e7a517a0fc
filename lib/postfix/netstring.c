/* netstring - see netstring.h for the contract. */
#include "autoconfig.h"

#include <string.h>

#include "postfix/netstring.h"

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
	char head[24];
	size_t hn = 0;

	/* All or nothing: one reservation for the whole netstring, so a
	 * reader never gets a header without its payload. */
	for (size_t v = n; hn == 0 || v; v /= 10)
		head[sizeof(head) - ++hn] = (char)('0' + v % 10);
	char *dst = buf_reserve(out, hn + 1 + n + 1);
	if (!dst)
		return -1;
	memcpy(dst, head + sizeof(head) - hn, hn);
	dst[hn] = ':';
	if (n)
		memcpy(dst + hn + 1, p, n);
	dst[hn + 1 + n] = ',';
	buf_commit(out, hn + 1 + n + 1);
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
