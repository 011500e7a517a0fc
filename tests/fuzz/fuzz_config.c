/* libFuzzer: configuration files. Whatever the text, a parse either fails
 * with messages or yields a snapshot whose dump parses to the same dump. */
#include "autoconfig.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf errors, dump1, dump2;

	buf_init(&errors);
	buf_init(&dump1);
	buf_init(&dump2);
	struct config *c = config_parse((const char *)data, size, "fuzz", &errors);
	if (c) {
		config_dump(c, &dump1);
		struct config *again = config_parse(buf_ptr(&dump1), buf_size(&dump1), "dump", &errors);
		if (!again)
			__builtin_trap();
		config_dump(again, &dump2);
		if (buf_size(&dump1) != buf_size(&dump2) ||
		    memcmp(buf_ptr(&dump1), buf_ptr(&dump2), buf_size(&dump1)) != 0)
			__builtin_trap();
		config_unref(again);
		config_unref(c);
	} else if (buf_size(&errors) == 0) {
		__builtin_trap();	/* refused without saying why */
	}
	buf_free(&errors);
	buf_free(&dump1);
	buf_free(&dump2);
	return 0;
}
