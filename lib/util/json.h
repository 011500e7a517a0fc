/*
 * json - the JSON helpers of the writers that place their own commas
 * (the survey's, until they move to jsonw.h): a string escaped as
 * jsonw_quote() escapes it, and a member's name. New code writes JSON
 * with jsonw.h, which keeps the structure itself.
 */
#ifndef TLSPOLICY_JSON_H
#define TLSPOLICY_JSON_H

#include "util/buf.h"

int json_str(struct buf *b, const char *s);
/* "key": — with a comma before it unless first */
int json_key(struct buf *b, const char *key, int first);

#endif
