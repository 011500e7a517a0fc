/*
 * json - just enough JSON writing for --json output: strings escaped per
 * RFC 8259 (control characters as \u00XX; bytes above 0x7f passed through,
 * so UTF-8 stays UTF-8). The caller writes the structure.
 */
#ifndef TLSPOLICY_JSON_H
#define TLSPOLICY_JSON_H

#include "util/buf.h"

int json_str(struct buf *b, const char *s);
/* "key": — with a comma before it unless first */
int json_key(struct buf *b, const char *key, int first);

#endif
