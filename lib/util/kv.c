/* kv - key=value log fields; see kv.h for the contract. */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "util/kv.h"

/* A space between fields, none at the start of a line. */
static int
separator(struct buf *b)
{
	size_t n = buf_size(b);

	return n && buf_ptr(b)[n - 1] != '\n' ? buf_putc(b, ' ') : 0;
}

static int
bare(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '=';
}

static int
key_eq(struct buf *b, const char *key)
{
	if (separator(b) < 0 || buf_puts(b, key) < 0)
		return -1;
	return buf_putc(b, '=');
}

int
kv_strn(struct buf *b, const char *key, const char *value, size_t len)
{
	size_t i;

	if (key_eq(b, key) < 0)
		return -1;
	for (i = 0; i < len && bare((unsigned char)value[i]); i++)
		;
	if (len > 0 && i == len)
		return buf_append(b, value, len);
	if (buf_putc(b, '"') < 0 || buf_append(b, value, i) < 0)
		return -1;
	/* value[0..i) is plain text already written; go on from there. */
	while (i < len) {
		/* Runs of plain text in one copy; escapes one by one. */
		size_t run = i;
		while (run < len && (unsigned char)value[run] >= 0x20 && (unsigned char)value[run] < 0x7f &&
		    value[run] != '"' && value[run] != '\\')
			run++;
		if (run > i && buf_append(b, value + i, run - i) < 0)
			return -1;
		if (run == len)
			break;
		unsigned char c = (unsigned char)value[run];
		int rc = (c == '"' || c == '\\') ? buf_printf(b, "\\%c", c) : buf_printf(b, "\\x%02x", c);
		if (rc < 0)
			return -1;
		i = run + 1;
	}
	return buf_putc(b, '"');
}

int
kv_str(struct buf *b, const char *key, const char *value)
{
	return kv_strn(b, key, value ? value : "", value ? strlen(value) : 0);
}

int
kv_uint(struct buf *b, const char *key, uint64_t value)
{
	if (key_eq(b, key) < 0)
		return -1;
	return buf_put_uint(b, value, 1);
}

int
kv_ms(struct buf *b, const char *key, uint64_t usec)
{
	if (key_eq(b, key) < 0 || buf_put_uint(b, usec / 1000, 1) < 0 || buf_putc(b, '.') < 0)
		return -1;
	return buf_put_uint(b, usec % 1000, 3);
}

int
kv_parse(const char *line, size_t len, void (*field)(void *arg, const char *key, const char *value),
    void *arg)
{
	struct buf key, value;
	size_t i = 0;
	int rc = 0;

	buf_init(&key);
	buf_init(&value);
	while (i < len) {
		while (i < len && line[i] == ' ')
			i++;
		if (i == len)
			break;
		size_t k = i;
		while (i < len && line[i] != '=' && line[i] != ' ')
			i++;
		if (i == len || line[i] != '=' || i == k) {
			rc = -1;
			break;
		}
		buf_reset(&key);
		buf_append(&key, line + k, i - k);
		buf_reset(&value);
		buf_terminate(&value);
		i++;
		if (i < len && line[i] == '"') {
			for (i++; i < len && line[i] != '"'; i++) {
				char c = line[i];
				if (c == '\\' && i + 1 < len && line[i + 1] == 'x' && i + 3 < len) {
					unsigned v;
					char hex[3] = {line[i + 2], line[i + 3], 0};
					if (sscanf(hex, "%2x", &v) != 1)
						break;
					c = (char)v;
					i += 3;
				} else if (c == '\\' && i + 1 < len) {
					c = line[++i];
				}
				buf_putc(&value, c);
			}
			if (i == len) {
				rc = -1;	/* no closing quote */
				break;
			}
			i++;
		} else {
			size_t v = i;
			while (i < len && line[i] != ' ')
				i++;
			buf_append(&value, line + v, i - v);
		}
		buf_terminate(&key);
		buf_terminate(&value);
		field(arg, buf_ptr(&key), buf_ptr(&value));
	}
	buf_free(&key);
	buf_free(&value);
	return rc;
}

bool
kv_number(const char *value, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*value)
		return false;
	for (const char *p = value; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		unsigned digit = (unsigned)(*p - '0');
		if (v > (max - digit) / 10)
			return false;
		v = v * 10 + digit;
	}
	*out = v;
	return true;
}
