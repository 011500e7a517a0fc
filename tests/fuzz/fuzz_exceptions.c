/* libFuzzer: exception lists. Whatever the text, a parse either fails with
 * messages or yields a snapshot whose every entry, formatted, parses again
 * to the same entry, and matches itself. */
#include "autoconfig.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rules/exceptions.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct check {
	const struct exceptions *x;
};

static void
first_entry(void *arg, const struct exception_entry *e)
{
	const struct exception_entry **first = arg;

	if (!*first)
		*first = e;
}

static void
check_entry(void *arg, const struct exception_entry *e)
{
	struct check *c = arg;
	struct buf line, errors;

	buf_init(&line);
	buf_init(&errors);
	if (exceptions_format(e, &line) < 0)
		__builtin_trap();
	if (memchr(buf_ptr(&line), '\n', buf_size(&line)))
		__builtin_trap();
	struct exceptions *again = exceptions_parse(buf_ptr(&line), buf_size(&line), "formatted", &errors);
	if (!again || exceptions_count(again) != 1)
		__builtin_trap();
	const struct exception_entry *a = NULL;
	exceptions_each(again, first_entry, &a);
	if (!a || a->kind != e->kind || strcmp(a->name, e->name) != 0 || strcmp(a->policy, e->policy) != 0 ||
	    a->expires != e->expires || a->line != 1)
		__builtin_trap();
	exceptions_unref(again);

	/* Before it expires, an entry is what its own name matches. */
	char sub[NEXTHOP_NAME_MAX + 8];
	switch (e->kind) {
	case EXCEPTION_DOMAIN:
		if (exceptions_match_domain(c->x, e->name, 0) != e)
			__builtin_trap();
		break;
	case EXCEPTION_MX_HOST:
		if (exceptions_match_mx(c->x, e->name, 0) != e)
			__builtin_trap();
		break;
	case EXCEPTION_SUBDOMAINS:
		snprintf(sub, sizeof(sub), "a.%s", e->name);
		if (strlen(sub) <= NEXTHOP_NAME_MAX && !exceptions_match_domain(c->x, sub, 0))
			__builtin_trap();
		break;
	}
	buf_free(&line);
	buf_free(&errors);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf errors;

	buf_init(&errors);
	struct exceptions *x = exceptions_parse((const char *)data, size, "fuzz", &errors);
	if (x) {
		struct check c = {x};
		if (buf_size(&errors) != 0)
			__builtin_trap();
		exceptions_each(x, check_entry, &c);
		exceptions_unref(x);
	} else if (buf_size(&errors) == 0) {
		__builtin_trap();	/* refused without saying why */
	}
	buf_free(&errors);
	return 0;
}
