/*
 * text - bytes from outside (a DNS answer, an SMTP server, a list file)
 * made safe to show: printable ASCII only, every other byte as '?', so no
 * remote party can end a log line early or send an escape sequence to a
 * terminal. And bytes as lower-case hex digits, the form digests and
 * MACs are written in, and back.
 *
 * Contract: no state; the caller owns every buffer.
 */
#ifndef TLSPOLICY_TEXT_H
#define TLSPOLICY_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Copies len bytes of src into dst (size bytes, NUL-terminated, cut to
 * fit), each byte outside 0x20-0x7e as '?'; returns the length written. */
size_t text_printable(char *dst, size_t size, const char *src, size_t len);
/* The same into a new string the caller frees; NULL when out of memory. */
char *text_printable_dup(const char *src);
bool text_is_printable(const char *s, size_t len);

/* Writes the n bytes of src as 2 * n lower-case hex digits to dst (no
 * NUL). */
void text_hex(char *dst, const void *src, size_t n);
/* Reads 2 * n lower-case hex digits of src into n bytes of dst; 0, or -1
 * at any other character (dst is then partly written). */
int text_unhex(void *dst, const char *src, size_t n);

#endif
