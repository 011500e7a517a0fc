/* stspolicy - an MTA-STS policy parsed strictly; see stspolicy.h. */
#include "autoconfig.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "rules/stspattern.h"
#include "rules/stspolicy.h"
#include "util/text.h"

/* Everything in one allocation: the header, the offsets of the patterns
 * then of the lines into the text after them, then the text (each string
 * NUL-terminated). A cache holds thousands of policies: no pointers, no
 * second block. */
struct stspolicy {
	uint32_t size;		/* bytes of the allocation */
	uint32_t max_age;
	uint32_t npatterns;
	uint32_t nlines;
	uint8_t mode;		/* enum stspolicy_mode */
	uint32_t off[];
};

#define EXT_NAME_MAX 32		/* sts-policy-ext-name: 1 + 31 characters */
#define MAX_AGE_DIGITS 10	/* sts-policy-max-age-value = 1*10(DIGIT) */
#define QUOTE_MAX 64		/* how much of a bad value an error shows */

const char *
stspolicy_mode_name(enum stspolicy_mode m)
{
	switch (m) {
	case STSPOLICY_MODE_ENFORCE: return "enforce";
	case STSPOLICY_MODE_TESTING: return "testing";
	case STSPOLICY_MODE_NONE: return "none";
	}
	return "unknown";
}

int
stspolicy_mode_from_name(const char *name)
{
	if (strcmp(name, "enforce") == 0)
		return STSPOLICY_MODE_ENFORCE;
	if (strcmp(name, "testing") == 0)
		return STSPOLICY_MODE_TESTING;
	if (strcmp(name, "none") == 0)
		return STSPOLICY_MODE_NONE;
	return -1;
}

/* What the parse collects before the one allocation. */
struct parse {
	struct buf *errors;
	unsigned nerrors;
	bool oom;
	struct buf pattern_text;	/* NUL-terminated patterns, every mx line's */
	struct buf pattern_off;		/* uint32_t offsets into pattern_text */
	struct buf line_text;
	struct buf line_off;
	bool have_version, have_mode, have_max_age, have_mx;
	enum stspolicy_mode mode;
	uint32_t max_age;
};

static void __attribute__((format(printf, 3, 4)))
problem(struct parse *ps, unsigned line, const char *fmt, ...)
{
	va_list ap;

	if (++ps->nerrors > STSPOLICY_ERRORS_MAX || !ps->errors)
		return;
	if (line)
		buf_printf(ps->errors, "line %u: ", line);
	va_start(ap, fmt);
	buf_vprintf(ps->errors, fmt, ap);
	va_end(ap);
	buf_putc(ps->errors, '\n');
}

/* A value from the policy, safe to show, cut to QUOTE_MAX bytes. */
static const char *
quote(char dst[QUOTE_MAX + 1], const char *p, size_t len)
{
	text_printable(dst, QUOTE_MAX + 1, p, len);
	return dst;
}

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool
is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static bool
valid_ext_name(const char *p, size_t len)
{
	if (len == 0 || len > EXT_NAME_MAX || !is_alnum(p[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!is_alnum(p[i]) && p[i] != '_' && p[i] != '-' && p[i] != '.')
			return false;
	return true;
}

static bool
same(const char *p, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(p, word, len) == 0;
}

/* Appends a string and its offset; false when out of memory. */
static bool
keep(struct parse *ps, struct buf *text, struct buf *offs, const char *p, size_t len)
{
	uint32_t off = (uint32_t)buf_size(text);

	if (buf_append(text, p, len) < 0 || buf_putc(text, '\0') < 0 || buf_append(offs, &off, sizeof(off)) < 0) {
		ps->oom = true;
		return false;
	}
	return true;
}

static void
parse_max_age(struct parse *ps, unsigned line, const char *v, size_t len)
{
	char q[QUOTE_MAX + 1];
	uint64_t value = 0;

	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9') {
			problem(ps, line, "max_age \"%s\" is not a number of seconds (digits only)", quote(q, v, len));
			return;
		}
	}
	if (len == 0) {
		problem(ps, line, "max_age is empty");
		return;
	}
	if (len > MAX_AGE_DIGITS) {
		problem(ps, line, "max_age \"%s\" has more than %d digits", quote(q, v, len), MAX_AGE_DIGITS);
		return;
	}
	for (size_t i = 0; i < len; i++)
		value = value * 10 + (uint64_t)(v[i] - '0');
	if (value > STSPOLICY_MAX_AGE_MAX) {
		problem(ps, line, "max_age %llu is more than %u seconds, the longest RFC 8461 allows",
		    (unsigned long long)value, STSPOLICY_MAX_AGE_MAX);
		return;
	}
	ps->max_age = (uint32_t)value;
	ps->have_max_age = true;
}

static void
parse_field(struct parse *ps, unsigned line, const char *key, size_t klen, const char *v, size_t vlen)
{
	char q[QUOTE_MAX + 1], pattern[STSPATTERN_MAX + 1];
	size_t plen;

	if (same(key, klen, "mx")) {
		ps->have_mx = true;
		const char *why = stspattern_normalize(v, vlen, pattern, &plen);
		if (why)
			problem(ps, line, "mx \"%s\": %s", quote(q, v, vlen), why);
		else
			keep(ps, &ps->pattern_text, &ps->pattern_off, pattern, plen);
	} else if (same(key, klen, "version")) {
		if (ps->have_version)
			return;	/* the first wins */
		if (!same(v, vlen, "STSv1"))
			problem(ps, line, "version \"%s\": only STSv1 is known", quote(q, v, vlen));
		ps->have_version = true;
	} else if (same(key, klen, "mode")) {
		if (ps->have_mode)
			return;
		if (same(v, vlen, "enforce"))
			ps->mode = STSPOLICY_MODE_ENFORCE;
		else if (same(v, vlen, "testing"))
			ps->mode = STSPOLICY_MODE_TESTING;
		else if (same(v, vlen, "none"))
			ps->mode = STSPOLICY_MODE_NONE;
		else
			problem(ps, line, "mode \"%s\": not enforce, testing or none", quote(q, v, vlen));
		ps->have_mode = true;
	} else if (same(key, klen, "max_age")) {
		if (!ps->have_max_age)
			parse_max_age(ps, line, v, vlen);
		ps->have_max_age = true;
	} else {
		/* An extension: sts-policy-ext-value is printable text (UTF-8
		 * too), spaces inside but no other control characters. */
		if (vlen == 0)
			problem(ps, line, "the field \"%s\" has no value", quote(q, key, klen));
		for (size_t i = 0; i < vlen; i++) {
			if (is_ctl((unsigned char)v[i]) && v[i] != ' ') {
				problem(ps, line, "the field \"%s\" has a control character in its value",
				    quote(q, key, klen));
				break;
			}
		}
	}
}

static void
parse_line(struct parse *ps, unsigned line, const char *p, size_t len)
{
	char q[QUOTE_MAX + 1];
	size_t end = len;

	while (end > 0 && is_wsp(p[end - 1]))
		end--;
	if (end == 0)
		return;	/* an empty line: tolerated, see stspolicy.h */
	if (memchr(p, '\0', len)) {
		problem(ps, line, "a NUL byte: a policy is text");
		return;
	}
	const char *colon = memchr(p, ':', end);
	if (!colon) {
		problem(ps, line, "\"%s\" is not \"key: value\"", quote(q, p, end));
		return;
	}
	size_t klen = (size_t)(colon - p);
	if (!valid_ext_name(p, klen)) {
		problem(ps, line, "\"%s\" is not a field name (a letter or digit, then up to 31 of "
		    "letters, digits, '_', '-', '.')", quote(q, p, klen));
		return;
	}
	size_t vstart = klen + 1;
	while (vstart < end && is_wsp(p[vstart]))
		vstart++;
	parse_field(ps, line, p, klen, p + vstart, end - vstart);
	keep(ps, &ps->line_text, &ps->line_off, p, len);
}

/* Patterns sorted by text, then by where they were published, to find
 * duplicates in O(n log n) even in a hostile 64 KiB policy. */
struct pattern_ref {
	const char *text;
	uint32_t index;
};

static int
compare_patterns(const void *a, const void *b)
{
	const struct pattern_ref *x = a, *y = b;
	int c = strcmp(x->text, y->text);

	return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Marks in keep_it[] the first of each pattern; returns how many. */
static size_t
first_of_each(const struct parse *ps, size_t n, bool *keep_it)
{
	const uint32_t *off = (const uint32_t *)buf_ptr(&ps->pattern_off);
	const char *text = buf_ptr(&ps->pattern_text);
	struct pattern_ref *refs = malloc((n ? n : 1) * sizeof(*refs));
	size_t kept = 0;

	if (!refs)
		return SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		refs[i].text = text + off[i];
		refs[i].index = (uint32_t)i;
		keep_it[i] = false;
	}
	qsort(refs, n, sizeof(*refs), compare_patterns);
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || strcmp(refs[i].text, refs[i - 1].text) != 0) {
			keep_it[refs[i].index] = true;
			kept++;
		}
	}
	free(refs);
	return kept;
}

static struct stspolicy *
build(struct parse *ps)
{
	size_t nall = buf_size(&ps->pattern_off) / sizeof(uint32_t);
	size_t nlines = buf_size(&ps->line_off) / sizeof(uint32_t);
	bool *keep_it = malloc(nall ? nall : 1);
	size_t npatterns = keep_it ? first_of_each(ps, nall, keep_it) : SIZE_MAX;

	if (npatterns == SIZE_MAX) {
		free(keep_it);
		return NULL;
	}
	const uint32_t *poff = (const uint32_t *)buf_ptr(&ps->pattern_off);
	const uint32_t *loff = (const uint32_t *)buf_ptr(&ps->line_off);
	const char *ptext = buf_ptr(&ps->pattern_text), *ltext = buf_ptr(&ps->line_text);
	size_t text = buf_size(&ps->line_text);
	for (size_t i = 0; i < nall; i++)
		if (keep_it[i])
			text += strlen(ptext + poff[i]) + 1;
	size_t size = sizeof(struct stspolicy) + (npatterns + nlines) * sizeof(uint32_t) + text;
	struct stspolicy *p = size <= UINT32_MAX ? malloc(size) : NULL;
	if (!p) {
		free(keep_it);
		return NULL;
	}
	p->size = (uint32_t)size;
	p->max_age = ps->max_age;
	p->mode = (uint8_t)ps->mode;
	p->npatterns = (uint32_t)npatterns;
	p->nlines = (uint32_t)nlines;
	char *dst = (char *)(p->off + npatterns + nlines);
	uint32_t at = 0, k = 0;
	for (size_t i = 0; i < nall; i++) {
		if (!keep_it[i])
			continue;
		size_t n = strlen(ptext + poff[i]) + 1;
		memcpy(dst + at, ptext + poff[i], n);
		p->off[k++] = at;
		at += (uint32_t)n;
	}
	memcpy(dst + at, ltext, buf_size(&ps->line_text));
	for (size_t i = 0; i < nlines; i++)
		p->off[npatterns + i] = at + loff[i];
	free(keep_it);
	return p;
}

static void
check_complete(struct parse *ps)
{
	if (!ps->have_version)
		problem(ps, 0, "no version field (\"version: STSv1\" is required)");
	if (!ps->have_mode)
		problem(ps, 0, "no mode field (enforce, testing or none is required)");
	if (!ps->have_max_age)
		problem(ps, 0, "no max_age field (the policy's lifetime in seconds is required)");
	if (ps->have_mode && ps->mode != STSPOLICY_MODE_NONE && !ps->have_mx)
		problem(ps, 0, "no mx field: mode %s needs at least one", stspolicy_mode_name(ps->mode));
}

struct stspolicy *
stspolicy_parse(const char *body, size_t len, struct buf *errors)
{
	struct parse ps;
	struct stspolicy *p = NULL;

	memset(&ps, 0, sizeof(ps));
	ps.errors = errors;
	if (len > STSPOLICY_BODY_MAX) {
		problem(&ps, 0, "the policy is %zu bytes, more than the %u that RFC 8461 section 3.3 allows",
		    len, (unsigned)STSPOLICY_BODY_MAX);
		return NULL;
	}
	buf_init(&ps.pattern_text);
	buf_init(&ps.pattern_off);
	buf_init(&ps.line_text);
	buf_init(&ps.line_off);
	unsigned line = 1;
	for (size_t at = 0; at < len; line++) {
		const char *nl = memchr(body + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - body) : len, next = nl ? end + 1 : len;
		/* CRLF or LF (sts-policy-term); a lone CR is no line end. */
		if (nl && end > at && body[end - 1] == '\r')
			end--;
		parse_line(&ps, line, body + at, end - at);
		at = next;
	}
	check_complete(&ps);
	if (ps.nerrors > STSPOLICY_ERRORS_MAX && errors)
		buf_printf(errors, "%u more problems not shown\n", ps.nerrors - STSPOLICY_ERRORS_MAX);
	if (ps.nerrors == 0 && !ps.oom)
		p = build(&ps);
	buf_free(&ps.pattern_text);
	buf_free(&ps.pattern_off);
	buf_free(&ps.line_text);
	buf_free(&ps.line_off);
	return p;
}

void
stspolicy_free(struct stspolicy *p)
{
	free(p);
}

enum stspolicy_mode
stspolicy_mode(const struct stspolicy *p)
{
	return (enum stspolicy_mode)p->mode;
}

uint32_t
stspolicy_max_age(const struct stspolicy *p)
{
	return p->max_age;
}

static const char *
text_at(const struct stspolicy *p, size_t slot)
{
	return (const char *)(p->off + p->npatterns + p->nlines) + p->off[slot];
}

size_t
stspolicy_npatterns(const struct stspolicy *p)
{
	return p->npatterns;
}

const char *
stspolicy_pattern(const struct stspolicy *p, size_t i)
{
	return i < p->npatterns ? text_at(p, i) : NULL;
}

size_t
stspolicy_nlines(const struct stspolicy *p)
{
	return p->nlines;
}

const char *
stspolicy_line(const struct stspolicy *p, size_t i)
{
	return i < p->nlines ? text_at(p, p->npatterns + i) : NULL;
}

bool
stspolicy_mx_matches(const struct stspolicy *p, const char *host)
{
	for (size_t i = 0; i < p->npatterns; i++)
		if (stspattern_matches(text_at(p, i), host))
			return true;
	return false;
}

/* Postfix's secure level matches a certificate name against ".example.net"
 * at any depth below example.net, a little wider than RFC 8461's one
 * label: Postfix has no closer form (postconf(5), smtp_tls_secure_cert_match). */
static int
append_match(const struct stspolicy *p, struct buf *out)
{
	for (size_t i = 0; i < p->npatterns; i++) {
		const char *pat = text_at(p, i);
		if ((i > 0 && buf_putc(out, ':') < 0) || buf_puts(out, pat[0] == '*' ? pat + 1 : pat) < 0)
			return -1;
	}
	return 0;
}

void
stspolicy_postfix_match(const struct stspolicy *p, struct buf *out)
{
	size_t before = buf_size(out);

	if (append_match(p, out) < 0)
		buf_truncate(out, before);
}

int
stspolicy_postfix_answer(const struct stspolicy *p, struct buf *out)
{
	size_t before = buf_size(out);

	if (p->npatterns == 0)
		return -1;
	if (buf_puts(out, "secure match=") < 0 || append_match(p, out) < 0 ||
	    buf_puts(out, " servername=hostname") < 0) {
		buf_truncate(out, before);
		return -1;
	}
	return 0;
}

size_t
stspolicy_memory(const struct stspolicy *p)
{
	return p->size;
}
