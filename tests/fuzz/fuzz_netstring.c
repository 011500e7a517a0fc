/* libFuzzer: the socketmap request path, netstring framing and request
 * split, on whatever bytes a client sends. */
#include "autoconfig.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "postfix/netstring.h"
#include "postfix/nexthop.h"
#include "postfix/socketmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;

	while (size > 0) {
		const char *payload, *name, *key, *why;
		size_t len, used, nlen, klen;
		int rc = netstring_parse(p, size, SOCKETMAP_MAX_REQUEST, &payload, &len, &used);
		if (rc != NETSTRING_OK)
			break;
		if (used > size || payload < p || payload + len > p + size)
			__builtin_trap();
		if (socketmap_split(payload, len, &name, &nlen, &key, &klen) == 0) {
			struct nexthop nh;
			nexthop_parse(key, klen, &nh, &why);
		}
		p += used;
		size -= used;
	}
	return 0;
}
