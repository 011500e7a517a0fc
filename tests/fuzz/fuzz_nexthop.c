/* libFuzzer: next-hop keys. A key that parses must format to a canonical
 * key that parses to the same next hop. */
#include "autoconfig.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nexthop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nexthop a, b;
	const char *why;
	char key[NEXTHOP_NAME_MAX + 16];

	if (nexthop_parse((const char *)data, size, &a, &why) < 0)
		return 0;
	int n = nexthop_format(&a, key, sizeof(key));
	if (n < 0 || (size_t)n >= sizeof(key))
		__builtin_trap();
	if (nexthop_parse(key, (size_t)n, &b, &why) < 0 || a.kind != b.kind || a.port != b.port ||
	    strcmp(a.name, b.name) != 0)
		__builtin_trap();
	return 0;
}
