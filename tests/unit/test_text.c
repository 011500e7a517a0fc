/* Unit tests: text.h's hex digits, both ways. */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "table.h"
#include "util/text.h"

static void
test_hex_round_trip(void **state)
{
	static const unsigned char bytes[] = {0x00, 0x0f, 0x10, 0x9a, 0xff};
	unsigned char back[sizeof(bytes)];
	char digits[2 * sizeof(bytes) + 1] = "";

	text_hex(digits, bytes, sizeof(bytes));
	assert_string_equal(digits, "000f109aff");
	assert_int_equal(text_unhex(back, digits, sizeof(bytes)), 0);
	assert_memory_equal(back, bytes, sizeof(bytes));
	text_hex(digits, bytes, 0);	/* nothing to write */
}

/* Only lower-case digits: what text_hex() writes and nothing else. */
static void
test_unhex_refuses(void **state)
{
	static const char *const bad[] = {"0F", "g0", "0 ", "-1", "\0\0"};
	unsigned char b;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(text_unhex(&b, bad[i], 1), -1);
	assert_int_equal(text_unhex(&b, "7e", 1), 0);
	assert_int_equal(b, 0x7e);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex_round_trip),
		cmocka_unit_test(test_unhex_refuses),
	};
	struct table t = {0};

	TABLE_TESTS(&t, tests);
	return table_run(&t, "text");
}
