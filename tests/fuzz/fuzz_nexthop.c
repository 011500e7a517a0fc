/* libFuzzer: next-hop keys, and the host specs of tlspolicy tlsa --host.
 * A key that parses must format to a canonical key that parses to the
 * same next hop; a host spec that parses is a host next hop whose
 * canonical key does the same. Inputs of any length: a spec is never
 * copied into a buffer of its own. */
#include "autoconfig.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "postfix/nexthop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
round_trip(const struct nexthop *a)
{
	struct nexthop b;
	const char *why;
	char key[NEXTHOP_NAME_MAX + 16];

	int n = nexthop_format(a, key, sizeof(key));
	if (n < 0 || (size_t)n >= sizeof(key))
		__builtin_trap();
	if (nexthop_parse(key, (size_t)n, &b, &why) < 0 || a->kind != b.kind || a->port != b.port ||
	    strcmp(a->name, b.name) != 0)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nexthop a;
	const char *why;

	if (nexthop_parse((const char *)data, size, &a, &why) == 0)
		round_trip(&a);
	if (nexthop_parse_host((const char *)data, size, &a, &why) == 0) {
		if (a.kind != NEXTHOP_HOST || strlen(a.name) > NEXTHOP_NAME_MAX)
			__builtin_trap();
		round_trip(&a);
	}
	return 0;
}
