/*
 * Unit tests: the intrusive list (lib/util/list.h). Each row is a script
 * of operations on one list of five elements, and the order and count it
 * must leave; then the moves no script covers (splicing, LIST_ENTRY).
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/list.h"
#include "table.h"

struct item {
	char name;
	struct list_node link;
};

/* A script: "b" pushes item b at the back, "^b" at the front, "-b"
 * removes it, ">b" moves it to the back, "<" pops the front. */
struct list_case {
	const char *name;
	const char *ops[12];
	const char *order;	/* the names, first to last */
};

static const struct list_case cases[] = {
	{"empty", {NULL}, ""},
	{"push back keeps order", {"a", "b", "c"}, "abc"},
	{"push front reverses", {"^a", "^b", "^c"}, "cba"},
	{"both ends", {"b", "^a", "c"}, "abc"},
	{"remove the only one", {"a", "-a"}, ""},
	{"remove the first", {"a", "b", "c", "-a"}, "bc"},
	{"remove the middle", {"a", "b", "c", "-b"}, "ac"},
	{"remove the last", {"a", "b", "c", "-c"}, "ab"},
	{"remove all, then reuse", {"a", "b", "-a", "-b", "c", "^d"}, "dc"},
	{"move the first to the back", {"a", "b", "c", ">a"}, "bca"},
	{"move the last to the back", {"a", "b", "c", ">c"}, "abc"},
	{"move the only one", {"a", ">a"}, "a"},
	{"pop the front", {"a", "b", "<"}, "b"},
	{"pop an empty list", {"<"}, ""},
	{"LRU use", {"a", "b", "c", ">b", ">a", "<"}, "ba"},
};

static const char *
list_case_name(const void *row)
{
	return ((const struct list_case *)row)->name;
}

static void
check_order(const struct list *l, const char *want)
{
	char forward[8] = "", backward[8] = "";
	size_t n = 0;

	for (struct list_node *p = l->first; p && n < 7; p = p->next)
		forward[n++] = LIST_ENTRY(p, struct item, link)->name;
	assert_string_equal(forward, want);
	assert_int_equal(l->count, n);
	assert_int_equal(list_empty(l), n == 0);
	/* The back links agree with the forward ones. */
	for (struct list_node *p = l->last; p && n > 0; p = p->prev)
		backward[--n] = LIST_ENTRY(p, struct item, link)->name;
	assert_string_equal(backward, want);
}

static void
test_script(void **state)
{
	const struct list_case *c = *state;
	struct item items[5];
	struct list l = {0};

	for (int i = 0; i < 5; i++)
		items[i] = (struct item){.name = (char)('a' + i)};
	for (size_t i = 0; i < 12 && c->ops[i]; i++) {
		const char *op = c->ops[i];
		/* "<" names no item: no pointer is made for it. */
		struct item *it = op[0] == '<' ? NULL : &items[op[strlen(op) - 1] - 'a'];
		switch (op[0]) {
		case '^':
			list_push_front(&l, &it->link);
			break;
		case '-':
			list_remove(&l, &it->link);
			assert_null(it->link.next);
			assert_null(it->link.prev);
			break;
		case '>':
			list_move_back(&l, &it->link);
			break;
		case '<': {
			struct list_node *first = l.first;
			assert_ptr_equal(list_pop_front(&l), first);
			break;
		}
		default:
			list_push_back(&l, &it->link);
			break;
		}
	}
	check_order(&l, c->order);
}

static void
push(struct list *l, struct item *items, const char *names)
{
	for (; *names; names++)
		list_push_back(l, &items[*names - 'a'].link);
}

static void
test_splice(void **state)
{
	struct item items[5];
	struct list a = {0}, b = {0};

	for (int i = 0; i < 5; i++)
		items[i] = (struct item){.name = (char)('a' + i)};
	list_splice_back(&a, &b);	/* empty into empty */
	check_order(&a, "");
	push(&b, items, "ab");
	list_splice_back(&a, &b);	/* into an empty list */
	check_order(&a, "ab");
	check_order(&b, "");
	push(&b, items, "cde");
	list_splice_back(&a, &b);	/* onto a list */
	check_order(&a, "abcde");
	check_order(&b, "");
	list_splice_back(&a, &b);	/* nothing onto a list */
	check_order(&a, "abcde");
}

/* The element from its node, wherever the node sits in it; none from none. */
static void
test_entry(void **state)
{
	struct outer {
		double pad;
		struct list_node first;
		char more[3];
		struct list_node second;
	} o;

	assert_ptr_equal(LIST_ENTRY(&o.first, struct outer, first), &o);
	assert_ptr_equal(LIST_ENTRY(&o.second, struct outer, second), &o);
	/* The end of a walk, or an empty list's pop, is no element. */
	struct list empty = {0};
	assert_null(LIST_ENTRY(list_pop_front(&empty), struct outer, second));
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_splice),
		cmocka_unit_test(test_entry),
	};
	struct table t = {0};

	TABLE_ADD(&t, cases, list_case, test_script);
	TABLE_TESTS(&t, more);
	return table_run(&t, "list");
}
