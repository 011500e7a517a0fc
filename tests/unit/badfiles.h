/*
 * badfiles - files a loader must refuse, found at run time: every
 * tests/SUB/bad-*SUFFIX is one test of a table (table.h), named
 * "bad file: NAME". Each such file opens with one or more lines
 *
 *     # expect: LINE: TEXT
 *
 * (LINE is "-" for an error that names no line), and the loader must
 * refuse it with exactly that many errors, one per line of its error
 * buffer, each "PATH:LINE: ..." (or "PATH: ...") and containing TEXT.
 * One more test wants at least AT_LEAST such files in the folder, so that
 * a wrong path cannot pass by finding none.
 *
 *   static bool load(const char *path, struct buf *errors)  // true: accepted
 *   struct badfiles *bf = badfiles_add(&t, "conf", ".conf", 20, load);
 *   int rc = table_run(&t, "config");
 *   badfiles_free(bf);
 *
 * The folder is found as table_data_dir() says. badfiles_add() keeps what
 * the rows point to until badfiles_free(), after table_run().
 */
#ifndef TLSPOLICY_TEST_BADFILES_H
#define TLSPOLICY_TEST_BADFILES_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

struct table;
struct badfiles;

/* Whether the loader accepted the file; its errors, one per line, appended
 * to errors. */
typedef bool (*badfiles_loader)(const char *path, struct buf *errors);

struct badfiles *badfiles_add(struct table *t, const char *sub, const char *suffix, size_t at_least,
    badfiles_loader load);
void badfiles_free(struct badfiles *bf);

/* For tables of texts a parser must refuse, as the bad files are judged:
 * whether errors holds a line starting with prefix that contains text,
 * and how many lines errors holds. */
bool badfiles_has_error(const char *errors, const char *prefix, const char *text);
size_t badfiles_count_lines(const char *errors);

#endif
