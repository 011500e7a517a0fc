/* ststxt - the _mta-sts TXT record; see ststxt.h for the contract. */
#include "autoconfig.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "rules/ststxt.h"

#define VERSION_PREFIX "v=STSv1;"
#define EXT_NAME_MAX 32

const char *
ststxt_status_name(enum ststxt_status s)
{
	switch (s) {
	case STSTXT_FOUND: return "found";
	case STSTXT_NONE: return "none";
	case STSTXT_INVALID: return "invalid";
	}
	return "unknown";
}

/* Reads the concatenated character-strings of one well-formed RDATA a
 * byte at a time, so that a field split across two strings reads as one
 * without a copy. */
struct cursor {
	const unsigned char *p, *end;
	size_t left;	/* bytes left in the current character-string */
};

static bool
well_formed(const struct ststxt_rdata *r)
{
	size_t at = 0;

	while (at < r->len)
		at += 1 + (size_t)r->data[at];
	return at == r->len;
}

static void
cursor_init(struct cursor *c, const struct ststxt_rdata *r)
{
	c->p = r->data;
	c->end = r->data + r->len;
	c->left = 0;
}

/* The next byte, or -1 at the end of the record. */
static int
peek(struct cursor *c)
{
	while (c->left == 0 && c->p < c->end)
		c->left = *c->p++;
	return c->left ? *c->p : -1;
}

static void
advance(struct cursor *c)
{
	if (peek(c) >= 0) {
		c->p++;
		c->left--;
	}
}

static bool
begins_sts(const struct ststxt_rdata *r)
{
	struct cursor c;
	const char *prefix = VERSION_PREFIX;

	cursor_init(&c, r);
	for (; *prefix; prefix++, advance(&c))
		if (peek(&c) != (unsigned char)*prefix)
			return false;
	return true;
}

static bool
is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* sts-ext-value: visible ASCII but ';' and '='. */
static bool
is_value_char(int c)
{
	return c >= 0x21 && c <= 0x7e && c != ';' && c != '=';
}

static enum ststxt_status __attribute__((format(printf, 2, 3)))
invalid(struct ststxt_result *out, const char *fmt, ...)
{
	va_list ap;

	out->status = STSTXT_INVALID;
	out->id[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(out->why, sizeof(out->why), fmt, ap);
	va_end(ap);
	return out->status;
}

/* One sts-field at the cursor; a field named "id" fills out->id. */
static enum ststxt_status
read_field(struct cursor *c, struct ststxt_result *out, bool *have_id)
{
	char name[EXT_NAME_MAX + 1], value[STSTXT_ID_MAX + 2];
	size_t nlen = 0, vlen = 0;
	bool id_ok = true;
	int ch = peek(c);

	if (!is_alnum(ch))
		return invalid(out, "the _mta-sts record has a field that does not start with a letter or digit");
	while ((ch = peek(c)) >= 0 && (is_alnum(ch) || ch == '_' || ch == '-' || ch == '.')) {
		if (nlen == EXT_NAME_MAX)
			return invalid(out, "the _mta-sts record has a field name longer than %d characters",
			    EXT_NAME_MAX);
		name[nlen++] = (char)ch;
		advance(c);
	}
	name[nlen] = '\0';
	if (ch != '=')
		return invalid(out, "the _mta-sts record's field \"%s\" has no '=' after its name", name);
	advance(c);
	bool is_id = strcmp(name, "id") == 0;
	while ((ch = peek(c)) >= 0 && is_value_char(ch)) {
		if (!is_alnum(ch))
			id_ok = false;
		if (vlen <= STSTXT_ID_MAX)
			value[vlen] = (char)ch;
		vlen++;
		advance(c);
	}
	if (vlen == 0)
		return invalid(out, "the _mta-sts record's field \"%s\" has no value", name);
	if (!is_id)
		return STSTXT_FOUND;
	if (*have_id)
		return invalid(out, "the _mta-sts record has two id fields");
	if (vlen > STSTXT_ID_MAX)
		return invalid(out, "the _mta-sts record's id is longer than %d characters", STSTXT_ID_MAX);
	if (!id_ok)
		return invalid(out, "the _mta-sts record's id has a character other than a letter or a digit");
	memcpy(out->id, value, vlen);
	out->id[vlen] = '\0';
	*have_id = true;
	return STSTXT_FOUND;
}

/* The one record that begins with "v=STSv1;", by the ABNF. */
static enum ststxt_status
read_record(const struct ststxt_rdata *r, struct ststxt_result *out)
{
	struct cursor c;
	bool have_id = false;

	cursor_init(&c, r);
	for (size_t i = 0; i < strlen("v=STSv1"); i++)
		advance(&c);
	for (;;) {
		/* sts-field-delim, or the end */
		while (is_wsp(peek(&c)))
			advance(&c);
		int ch = peek(&c);
		if (ch < 0)
			return invalid(out, "the _mta-sts record ends with white space");
		if (ch != ';')
			return invalid(out, "the _mta-sts record has '%c' where ';' should end a field",
			    ch >= 0x21 && ch < 0x7f ? ch : '?');
		advance(&c);
		while (is_wsp(peek(&c)))
			advance(&c);
		if (peek(&c) < 0)
			break;	/* the optional last delimiter */
		if (read_field(&c, out, &have_id) != STSTXT_FOUND)
			return out->status;
		if (peek(&c) < 0)
			break;
	}
	if (!have_id)
		return invalid(out, "the _mta-sts record has no id field (\"id=\" then 1 to 32 letters or digits)");
	out->status = STSTXT_FOUND;
	return out->status;
}

enum ststxt_status
ststxt_parse(const struct ststxt_rdata *records, size_t n, struct ststxt_result *out)
{
	const struct ststxt_rdata *sts = NULL;
	size_t nsts = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		if (!well_formed(&records[i]))
			return invalid(out, "a TXT record at _mta-sts whose character-strings run past its data");
		if (begins_sts(&records[i])) {
			sts = &records[i];
			nsts++;
		}
	}
	if (nsts == 0) {
		out->status = STSTXT_NONE;
		return out->status;
	}
	if (nsts > 1)
		return invalid(out, "%zu TXT records at _mta-sts begin with \"v=STSv1;\": RFC 8461 section 3.1 "
		    "wants exactly one", nsts);
	return read_record(sts, out);
}
