/* jsonw - a JSON writer that tracks nesting; see jsonw.h. */
#include "autoconfig.h"

#include "util/jsonw.h"

int
jsonw_quote(struct buf *b, const char *s)
{
	if (!s)
		return buf_puts(b, "null");
	if (buf_putc(b, '"') < 0)
		return -1;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int rc;
		if (c == '"' || c == '\\')
			rc = buf_printf(b, "\\%c", c);
		else if (c == '\n')
			rc = buf_puts(b, "\\n");
		else if (c < 0x20 || c == 0x7f)
			rc = buf_printf(b, "\\u%04x", c);
		else
			rc = buf_putc(b, (char)c);
		if (rc < 0)
			return -1;
	}
	return buf_putc(b, '"');
}

void
jsonw_init(struct jsonw *j, struct buf *out)
{
	j->out = out;
	j->depth = 0;
	j->objects = j->nonempty = 0;
	j->failed = false;
}

int
jsonw_done(const struct jsonw *j)
{
	return j->failed || j->depth ? -1 : 0;
}

static int
fail(struct jsonw *j)
{
	j->failed = true;
	return -1;
}

/* -1 (and failed from now on) when the buffer refused rc's write. */
static int
wrote(struct jsonw *j, int rc)
{
	return rc < 0 ? fail(j) : 0;
}

static uint64_t
level_bit(const struct jsonw *j)
{
	return (uint64_t)1 << (j->depth - 1);
}

/* What goes before a value: the comma after the one before it, and its
 * name inside an object. A name must be given exactly there. */
static int
begin_value(struct jsonw *j, const char *name)
{
	if (j->failed)
		return -1;
	if (j->depth == 0)
		return name ? fail(j) : 0;
	bool in_object = (j->objects & level_bit(j)) != 0;
	if (in_object != (name != NULL))
		return fail(j);
	if ((j->nonempty & level_bit(j)) && buf_putc(j->out, ',') < 0)
		return fail(j);
	j->nonempty |= level_bit(j);
	if (name && (jsonw_quote(j->out, name) < 0 || buf_putc(j->out, ':') < 0))
		return fail(j);
	return 0;
}

static int
open_level(struct jsonw *j, const char *name, bool object)
{
	if (begin_value(j, name) < 0)
		return -1;
	if (j->depth == JSONW_DEPTH_MAX)
		return fail(j);
	j->depth++;
	j->nonempty &= ~level_bit(j);
	if (object)
		j->objects |= level_bit(j);
	else
		j->objects &= ~level_bit(j);
	return wrote(j, buf_putc(j->out, object ? '{' : '['));
}

static int
close_level(struct jsonw *j, bool object)
{
	if (j->failed)
		return -1;
	if (j->depth == 0 || ((j->objects & level_bit(j)) != 0) != object)
		return fail(j);
	j->depth--;
	return wrote(j, buf_putc(j->out, object ? '}' : ']'));
}

int
jsonw_object(struct jsonw *j, const char *name)
{
	return open_level(j, name, true);
}

int
jsonw_object_end(struct jsonw *j)
{
	return close_level(j, true);
}

int
jsonw_array(struct jsonw *j, const char *name)
{
	return open_level(j, name, false);
}

int
jsonw_array_end(struct jsonw *j)
{
	return close_level(j, false);
}

int
jsonw_string(struct jsonw *j, const char *name, const char *s)
{
	if (begin_value(j, name) < 0)
		return -1;
	return wrote(j, jsonw_quote(j->out, s));
}

int
jsonw_uint(struct jsonw *j, const char *name, uint64_t v)
{
	if (begin_value(j, name) < 0)
		return -1;
	return wrote(j, buf_put_uint(j->out, v, 1));
}

int
jsonw_int(struct jsonw *j, const char *name, int64_t v)
{
	if (begin_value(j, name) < 0)
		return -1;
	if (v < 0 && buf_putc(j->out, '-') < 0)
		return fail(j);
	/* The magnitude as unsigned: -INT64_MIN does not fit an int64_t. */
	return wrote(j, buf_put_uint(j->out, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, 1));
}

int
jsonw_bool(struct jsonw *j, const char *name, bool v)
{
	if (begin_value(j, name) < 0)
		return -1;
	return wrote(j, buf_puts(j->out, v ? "true" : "false"));
}

int
jsonw_null(struct jsonw *j, const char *name)
{
	if (begin_value(j, name) < 0)
		return -1;
	return wrote(j, buf_puts(j->out, "null"));
}

int
jsonw_raw(struct jsonw *j, const char *name, const char *text, size_t len)
{
	if (begin_value(j, name) < 0)
		return -1;
	return wrote(j, buf_append(j->out, text, len));
}
