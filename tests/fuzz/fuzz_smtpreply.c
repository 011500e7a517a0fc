/* libFuzzer: what an SMTP server sends the probe, read as replies by
 * lib/probe/smtpreply.h (multi-line 220 banners, EHLO replies with STARTTLS,
 * the byte cap per reply). The input is the server's byte stream.
 * - Read all at once, then in pieces of varying sizes as recv() would
 *   hand them over: the replies (code, STARTTLS, last line), the final
 *   state and the lines handed to the callback, each exactly once, are
 *   the same, and the same as a plain line-by-line reading written out
 *   again here from smtpreply.h's rules.
 * - Every reply: a code 200-599 that is its last line's, the last line in
 *   printable ASCII, the bytes used ending with its LF, within the buffer;
 *   every line handed over lies within the buffer and holds no LF.
 * - With a small cap, read as the probe reads (scan, then another chunk):
 *   more is asked for only below the cap, the buffer never grows past the
 *   cap plus one chunk, and the replies read before a cap error are the
 *   first replies of the plain reading. */
#include "autoconfig.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "probe/smtpreply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct reading {
	struct buf events;	/* "D<code> <starttls> <last>", "E<error>", "M" lines */
	struct buf lines;	/* each line handed to the callback, then LF */
	const char *data;	/* the buffer being scanned */
	size_t len;
};

static void
reading_init(struct reading *rd)
{
	memset(rd, 0, sizeof(*rd));
	buf_init(&rd->events);
	buf_init(&rd->lines);
}

static void
reading_free(struct reading *rd)
{
	buf_free(&rd->events);
	buf_free(&rd->lines);
}

static bool
same(const struct buf *a, const struct buf *b)
{
	return buf_size(a) == buf_size(b) && memcmp(buf_ptr(a), buf_ptr(b), buf_size(a)) == 0;
}

static void
on_line(void *arg, const char *line, size_t len)
{
	struct reading *rd = arg;

	if (line < rd->data || line > rd->data + rd->len || len > (size_t)(rd->data + rd->len - line) ||
	    memchr(line, '\n', len))
		__builtin_trap();
	buf_append(&rd->lines, line, len);
	buf_putc(&rd->lines, '\n');
}

static void
check_printable(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	if (n == size)
		__builtin_trap();	/* not terminated */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			__builtin_trap();
}

static void
scanned(struct reading *rd, const struct smtpreply *r, int rc, size_t used)
{
	switch (rc) {
	case SMTPREPLY_DONE:
		check_printable(r->last, sizeof(r->last));
		if (r->code < 200 || r->code > 599 || strlen(r->last) < 3 || r->last[0] != '0' + r->code / 100 ||
		    r->last[1] != '0' + r->code / 10 % 10 || r->last[2] != '0' + r->code % 10 ||
		    used < 4 || used > rd->len || rd->data[used - 1] != '\n')
			__builtin_trap();
		buf_printf(&rd->events, "D%d %d %s\n", r->code, r->starttls, r->last);
		break;
	case SMTPREPLY_ERROR:
		check_printable(r->error, sizeof(r->error));
		buf_printf(&rd->events, "E%s\n", r->error);
		break;
	case SMTPREPLY_MORE:
		buf_puts(&rd->events, "M\n");
		break;
	default:
		__builtin_trap();
	}
}

/* All the bytes in one buffer, replies dropped as they are read. */
static void
read_whole(const char *data, size_t size, struct reading *rd)
{
	struct smtpreply r;
	size_t off = 0;

	smtpreply_init(&r);
	for (;;) {
		size_t used = 0;
		rd->data = data + off;
		rd->len = size - off;
		int rc = smtpreply_scan(&r, rd->data, rd->len, size + 1, &used, on_line, rd);
		scanned(rd, &r, rc, used);
		if (rc != SMTPREPLY_DONE)
			return;
		off += used;
	}
}

/* As the probe reads: scan what is buffered; when more is needed, append
 * the next piece (sizes from a small generator, or a fixed chunk). Returns
 * the last result. */
static int
read_pieces(const char *data, size_t size, size_t max, size_t chunk, struct reading *rd, bool *over_cap)
{
	struct smtpreply r;
	struct buf in;
	size_t fed = 0;
	uint32_t state = (uint32_t)size * 2654435761u + 1;
	int rc;

	*over_cap = false;
	buf_init(&in);
	smtpreply_init(&r);
	for (;;) {
		size_t used = 0;
		rd->data = buf_ptr(&in);
		rd->len = buf_size(&in);
		if (chunk && rd->len >= max + chunk)
			__builtin_trap();	/* grew past the cap plus one read */
		rc = smtpreply_scan(&r, rd->data, rd->len, max, &used, on_line, rd);
		if (rc == SMTPREPLY_MORE && rd->len >= max)
			__builtin_trap();
		if (rc == SMTPREPLY_ERROR && strncmp(r.error, "reply longer than", 17) == 0) {
			if (rd->len < max)
				__builtin_trap();
			*over_cap = true;
		}
		if (rc == SMTPREPLY_MORE && fed < size) {
			size_t n = chunk;
			if (!n) {
				state = state * 1103515245u + 12345u;
				n = 1 + (state >> 16) % 97;
			}
			if (n > size - fed)
				n = size - fed;
			if (buf_append(&in, data + fed, n) < 0)
				break;
			fed += n;
			continue;
		}
		scanned(rd, &r, rc, used);
		if (rc != SMTPREPLY_DONE)
			break;
		buf_consume(&in, used);
	}
	buf_free(&in);
	return rc;
}

static void
printable_ref(struct buf *out, const char *s, size_t len, size_t max)
{
	for (size_t i = 0; i < len && i < max; i++)
		buf_putc(out, (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?');
}

/* smtpreply.h's rules, line by line over the whole stream. */
static void
read_reference(const char *data, size_t size, struct reading *rd)
{
	size_t pos = 0;
	bool starttls = false;

	for (;;) {
		const char *nl = memchr(data + pos, '\n', size - pos);
		if (!nl) {
			buf_puts(&rd->events, "M\n");
			return;
		}
		const char *l = data + pos;
		size_t n = (size_t)(nl - l);
		if (n > 0 && l[n - 1] == '\r')
			n--;
		buf_append(&rd->lines, l, n);
		buf_putc(&rd->lines, '\n');
		bool code = n >= 3 && l[0] >= '2' && l[0] <= '5' && l[1] >= '0' && l[1] <= '9' && l[2] >= '0' &&
		    l[2] <= '9';
		if (!code || (n > 3 && l[3] != ' ' && l[3] != '-')) {
			buf_puts(&rd->events, "Enot an SMTP reply: ");
			printable_ref(&rd->events, l, n, 60);
			buf_putc(&rd->events, '\n');
			return;
		}
		if (n >= 12 && strncasecmp(l + 4, "starttls", 8) == 0 && (n == 12 || l[12] == ' '))
			starttls = true;
		if (n == 3 || l[3] == ' ') {
			buf_printf(&rd->events, "D%c%c%c %d ", l[0], l[1], l[2], starttls);
			printable_ref(&rd->events, l, n, 255);
			buf_putc(&rd->events, '\n');
			starttls = false;
		}
		pos = (size_t)(nl + 1 - data);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct reading whole, pieces, ref, capped;
	bool over_cap;

	reading_init(&whole);
	reading_init(&pieces);
	reading_init(&ref);
	reading_init(&capped);

	read_whole(text, size, &whole);
	read_pieces(text, size, size + 1, 0, &pieces, &over_cap);
	read_reference(text, size, &ref);
	if (over_cap || !same(&whole.events, &pieces.events) || !same(&whole.lines, &pieces.lines) ||
	    !same(&whole.events, &ref.events) || !same(&whole.lines, &ref.lines))
		__builtin_trap();

	/* A cap of 4 to 131 bytes, read 16 bytes at a time. */
	size_t max = 4 + (size ? data[0] & 0x7f : 0);
	read_pieces(text, size, max, 16, &capped, &over_cap);
	if (over_cap) {
		/* The replies before the error are the reference's first ones. */
		const char *ev = buf_ptr(&capped.events);
		const char *last = ev + buf_size(&capped.events) - 1;
		while (last > ev && last[-1] != '\n')
			last--;
		size_t before = (size_t)(last - ev);
		if (before > buf_size(&ref.events) || memcmp(ev, buf_ptr(&ref.events), before) != 0)
			__builtin_trap();
	} else if (!same(&capped.events, &ref.events)) {
		__builtin_trap();
	}

	reading_free(&whole);
	reading_free(&pieces);
	reading_free(&ref);
	reading_free(&capped);
	return 0;
}
