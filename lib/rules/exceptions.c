/*
 * exceptions - the administrator's exception list; see exceptions.h for
 * the contract. What the header leaves open is settled here:
 *
 * Limits: a line is at most EXCEPTIONS_LINE_MAX (1000) bytes, its line end
 * not counted; a list has at most EXCEPTIONS_MAX_ENTRIES (200 000, about
 * 100 MB: the public list has a few thousand) entries; a policy is at most 255 bytes; exceptions_load() reads at most
 * EXCEPTIONS_FILE_MAX bytes.
 *
 * Lines end in "\n" or "\r\n"; a UTF-8 byte order mark before the first
 * line is skipped (editors on Windows write one). White space is spaces
 * and tabs. A word that starts with '#' begins a comment that runs to the
 * end of the line. After the key, "expires=YYYY-MM-DD" may stand anywhere;
 * the other words are the policy, joined by one space. One trailing dot on
 * a key is dropped ("example.org." is example.org). A name whose last
 * label is all digits is refused: it is an address, and Postfix never asks
 * for an address as a domain.
 *
 * Errors: every line is checked, one error per line (the first problem on
 * it); a NUL byte, an over-long line and the entry over the limit are
 * reported in place of the line's other problems. When the list has more
 * entries than the limit nothing is stored, so duplicates are then not
 * reported; every other error still is. Names in messages are quoted with
 * bytes outside printable ASCII as \xNN, cut at 80 bytes.
 *
 * Matching takes the name as Postfix or DNS gives it: upper case is
 * folded and one trailing dot dropped, so an MX host name straight from a
 * DNS answer matches. A name that is not a valid host name matches
 * nothing (so ".example.org", Postfix's parent form, matches nothing). An
 * expired entry is as if absent: an expired exact entry lets a ".parent"
 * entry match, an expired nearest parent lets a farther one match.
 *
 * exceptions_format() appends the entry without a line end. It leaves out
 * the policy "may" (the plain danefail form) and writes expires as the
 * date of the day the entry last applies to (the day of the second before
 * `expires`), so a parsed entry formats to a line that parses back to the
 * same kind, name, policy and expiry. It returns 0, or -1 with out
 * unchanged for an entry it cannot write (unknown kind, empty name or
 * policy, negative expiry or one past 9999) or when out is full.
 *
 * Storage: the entries in one array in file order, and beside it their map
 * nodes, linked into one map per kind (map.h) keyed by SipHash of the name
 * with a seed drawn per snapshot: the public danefail list is written by
 * many hands, and nobody should be able to aim its names at one bucket.
 * Each entry is a whole
 * struct exception_entry (about 540 bytes, the two fixed arrays), so a
 * list costs that much per entry: 200 000 entries take about 110 MB.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rules/exceptions.h"
#include "util/map.h"
#include "rules/policy.h"

#define EXCEPTIONS_LINE_MAX 1000
#define EXCEPTIONS_MAX_ENTRIES 200000u
#define EXCEPTIONS_FILE_MAX (256u * 1024u * 1024u)
#define POLICY_MAX (sizeof(((struct exception_entry *)0)->policy) - 1)
#define DAY 86400
/* Dates from 1970-01-01 (so that an expiry is never 0, "never") on. */
#define YEAR_MIN 1970
#define QUOTE_MAX 80

#define KINDS (EXCEPTION_MX_HOST + 1)

struct exceptions {
	unsigned refs;
	size_t count;
	struct exception_entry *entries;	/* count of them, in file order */
	struct map_node *nodes;			/* entries[i]'s is nodes[i] */
	struct map names[KINDS];		/* by enum exception_kind */
};

/* ---- Dates (days since 1970-01-01, proleptic Gregorian). ---- */

static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool
leap_year(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

enum date_status { DATE_OK, DATE_FORM, DATE_NO_SUCH_DAY, DATE_TOO_EARLY };

/* "YYYY-MM-DD" to the Unix time of the following midnight UTC. */
static enum date_status
parse_date(const char *s, size_t n, int64_t *expires)
{
	static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned v[3] = {0, 0, 0};
	static const size_t width[3] = {4, 2, 2};
	size_t pos = 0;

	if (n != 10)
		return DATE_FORM;
	for (int f = 0; f < 3; f++) {
		if (f > 0 && s[pos++] != '-')
			return DATE_FORM;
		for (size_t i = 0; i < width[f]; i++, pos++) {
			if (s[pos] < '0' || s[pos] > '9')
				return DATE_FORM;
			v[f] = v[f] * 10 + (unsigned)(s[pos] - '0');
		}
	}
	if (v[1] < 1 || v[1] > 12 || v[2] < 1)
		return DATE_NO_SUCH_DAY;
	if (v[2] > mdays[v[1] - 1] + (v[1] == 2 && leap_year(v[0])))
		return DATE_NO_SUCH_DAY;
	if (v[0] < YEAR_MIN)
		return DATE_TOO_EARLY;
	*expires = (days_from_civil(v[0], v[1], v[2]) + 1) * DAY;
	return DATE_OK;
}

/* ---- Messages. ---- */

static void
add_error(struct buf *errors, const char *name, unsigned line, const char *msg)
{
	if (line)
		buf_printf(errors, "%s:%u: %s\n", name, line, msg);
	else
		buf_printf(errors, "%s: %s\n", name, msg);
}

/* Text from a file for a message: printable ASCII as is, the rest \xNN,
 * at most QUOTE_MAX bytes of it. */
static void
quote(char *dst, size_t size, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < n && i < QUOTE_MAX && o + 5 < size; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	if (n > QUOTE_MAX && o + 4 < size) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

/* ---- The table. ---- */

static const char *
kind_prefix(enum exception_kind k)
{
	switch (k) {
	case EXCEPTION_DOMAIN:
		return "";
	case EXCEPTION_SUBDOMAINS:
		return ".";
	case EXCEPTION_MX_HOST:
		return "mx:";
	}
	return NULL;
}

static const struct exception_entry *
lookup(const struct exceptions *x, enum exception_kind kind, const char *name, size_t len)
{
	const struct map_node *n = map_find(&x->names[kind], name, len);

	return n ? &x->entries[n - x->nodes] : NULL;
}

static void
insert(struct exceptions *x, size_t idx)
{
	const struct exception_entry *e = &x->entries[idx];

	map_put_str(&x->names[e->kind], &x->nodes[idx], e->name);
}

static struct exceptions *
alloc_snapshot(size_t max_entries)
{
	struct exceptions *x = calloc(1, sizeof(*x));
	unsigned char seed[16];

	if (!x)
		return NULL;
	x->refs = 1;
	if (max_entries) {
		x->entries = calloc(max_entries, sizeof(*x->entries));
		x->nodes = calloc(max_entries, sizeof(*x->nodes));
		if (!x->entries || !x->nodes) {
			free(x->entries);
			free(x->nodes);
			free(x);
			return NULL;
		}
	}
	hash_random_seed(seed);
	for (size_t k = 0; k < KINDS; k++)
		map_init(&x->names[k], seed);
	return x;
}

static void
exceptions_free(struct exceptions *x)
{
	for (size_t k = 0; k < KINDS; k++)
		map_clear(&x->names[k], NULL, NULL);
	free(x->entries);
	free(x->nodes);
	free(x);
}

/* ---- The parser. ---- */

struct parser {
	struct exceptions *x;
	const char *name;
	struct buf *errors;
	size_t nerrors;
	bool store;		/* false when the list is over the limit */
	size_t entries_seen;	/* entry lines so far, good or bad */
	struct exception_entry scratch;
};

static void
line_error(struct parser *ps, unsigned line, const char *msg)
{
	add_error(ps->errors, ps->name, line, msg);
	ps->nerrors++;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* The line without its line end and surrounding white space. */
static void
trim(const char **p, size_t *n)
{
	while (*n && is_space(**p)) {
		(*p)++;
		(*n)--;
	}
	while (*n && (is_space((*p)[*n - 1]) || (*p)[*n - 1] == '\r'))
		(*n)--;
}

static bool
is_entry_line(const char *p, size_t n)
{
	trim(&p, &n);
	return n > 0 && p[0] != '#';
}

/* How a line counts: the same for the count and the parse, so that both
 * agree on which line is the one over the limit. */
enum line_class { LINE_IGNORED, LINE_ENTRY, LINE_TOO_LONG, LINE_NUL };

static enum line_class
classify(const char *text, size_t *n)
{
	if (*n > 0 && text[*n - 1] == '\r')
		(*n)--;
	if (*n > EXCEPTIONS_LINE_MAX)
		return LINE_TOO_LONG;
	if (memchr(text, '\0', *n))
		return LINE_NUL;
	return is_entry_line(text, *n) ? LINE_ENTRY : LINE_IGNORED;
}

/* The next word at *p (before end), or false at the end of the line or a
 * comment. */
static bool
next_word(const char **p, const char *end, const char **word, size_t *len)
{
	while (*p < end && is_space(**p))
		(*p)++;
	if (*p == end || **p == '#')
		return false;
	*word = *p;
	while (*p < end && !is_space(**p))
		(*p)++;
	*len = (size_t)(*p - *word);
	return true;
}

/* Why nexthop_valid_hostname() refused a name. */
static const char *
hostname_problem(const char *p, size_t n)
{
	size_t label = 0;

	if (n > NEXTHOP_NAME_MAX)
		return "longer than 253 bytes";
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '.') {
			if (label == 0)
				return "an empty label";
			label = 0;
		} else if (c == '#') {
			return "a comment needs white space before its '#'";
		} else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_')) {
			return "only letters, digits, '-', '_' and dots";
		} else if (++label > 63) {
			return "a label longer than 63 bytes";
		}
	}
	return label ? "not a host name" : "an empty label";
}

/* The key: kind and name into e, or a message. */
static int
parse_key(const char *word, size_t len, struct exception_entry *e, char *msg, size_t msize)
{
	char q[QUOTE_MAX * 4 + 8];
	const char *p = word;
	size_t n = len;
	bool upper = false, nonascii = false;

	quote(q, sizeof(q), word, len);
	if (n >= 3 && (p[0] == 'm' || p[0] == 'M') && (p[1] == 'x' || p[1] == 'X') && p[2] == ':') {
		e->kind = EXCEPTION_MX_HOST;
		p += 3;
		n -= 3;
	} else if (n >= 1 && p[0] == '.') {
		if (n >= 2 && p[1] == '.') {
			snprintf(msg, msize, "'%s': two leading dots (the subdomains of example.org are "
			    "'.example.org')", q);
			return -1;
		}
		e->kind = EXCEPTION_SUBDOMAINS;
		p++;
		n--;
	} else {
		e->kind = EXCEPTION_DOMAIN;
	}
	if (n > 1 && p[n - 1] == '.')
		n--;
	if (n == 0 && e->kind == EXCEPTION_MX_HOST) {
		snprintf(msg, msize, "'%s': no host name after 'mx:'", q);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		upper |= word[i] >= 'A' && word[i] <= 'Z';
		nonascii |= (unsigned char)word[i] >= 0x80;
	}
	const char *what = e->kind == EXCEPTION_MX_HOST ? "host" : "domain";
	if (!nexthop_valid_hostname(p, n)) {
		snprintf(msg, msize, "'%s' is not a valid %s name (%s)", q, what,
		    nonascii ? "write IDNs in their A-label form, xn--..." : hostname_problem(p, n));
		return -1;
	}
	bool numeric = true;
	for (size_t i = n; i > 0 && p[i - 1] != '.'; i--)
		numeric &= p[i - 1] >= '0' && p[i - 1] <= '9';
	if (numeric) {
		snprintf(msg, msize, "'%s' is not a valid %s name (an address, or a numeric top-level label)",
		    q, what);
		return -1;
	}
	if (upper) {
		snprintf(msg, msize, "'%s': upper case letters (names in the list are lower case)", q);
		return -1;
	}
	memcpy(e->name, p, n);
	e->name[n] = '\0';
	return 0;
}

/* The words after the key: policy and expiry into e, or a message. */
static int
parse_rest(const char *p, const char *end, struct exception_entry *e, char *msg, size_t msize)
{
	char q[QUOTE_MAX * 4 + 8];
	const char *word, *reason;
	size_t len, plen = 0;
	bool have_expires = false;

	e->expires = 0;
	e->policy[0] = '\0';
	while (next_word(&p, end, &word, &len)) {
		if (len >= 8 && memcmp(word, "expires=", 8) == 0) {
			quote(q, sizeof(q), word, len);
			if (have_expires) {
				snprintf(msg, msize, "'%s': expires= given twice", q);
				return -1;
			}
			have_expires = true;
			switch (parse_date(word + 8, len - 8, &e->expires)) {
			case DATE_OK:
				continue;
			case DATE_FORM:
				snprintf(msg, msize, "'%s': not a date of the form YYYY-MM-DD", q);
				return -1;
			case DATE_NO_SUCH_DAY:
				snprintf(msg, msize, "'%s': no such date", q);
				return -1;
			case DATE_TOO_EARLY:
				snprintf(msg, msize, "'%s': a date before %d", q, YEAR_MIN);
				return -1;
			}
		}
		if (plen == 0) {
			/* The policy must open with a level: anything else is a
			 * word that does not belong here at all. */
			char level[16];
			if (len >= sizeof(level)) {
				reason = "";
			} else {
				memcpy(level, word, len);
				level[len] = '\0';
			}
			if (len >= sizeof(level) || !policy_level_valid(level, &reason)) {
				quote(q, sizeof(q), word, len);
				snprintf(msg, msize, "unknown word '%s' after the name: neither a Postfix TLS level "
				    "(none, may, encrypt, dane, dane-only, fingerprint, verify, secure) nor "
				    "expires=YYYY-MM-DD", q);
				return -1;
			}
		}
		if (plen + (plen > 0) + len > POLICY_MAX) {
			snprintf(msg, msize, "policy longer than %zu bytes", POLICY_MAX);
			return -1;
		}
		if (plen > 0)
			e->policy[plen++] = ' ';
		memcpy(e->policy + plen, word, len);
		plen += len;
		e->policy[plen] = '\0';
	}
	if (plen == 0) {
		strcpy(e->policy, "may");
		return 0;
	}
	if (!policy_level_valid(e->policy, &reason)) {
		quote(q, sizeof(q), e->policy, plen);
		snprintf(msg, msize, "invalid policy '%s': %s", q, reason);
		return -1;
	}
	return 0;
}

static void
parse_line(struct parser *ps, const char *text, size_t n, unsigned line)
{
	char msg[1024], q[QUOTE_MAX * 4 + 8];
	const char *word;
	size_t len;

	switch (classify(text, &n)) {
	case LINE_IGNORED:
		return;
	case LINE_TOO_LONG:
		snprintf(msg, sizeof(msg), "line longer than %d bytes", EXCEPTIONS_LINE_MAX);
		line_error(ps, line, msg);
		return;
	case LINE_NUL:
		line_error(ps, line, "NUL byte in line");
		return;
	case LINE_ENTRY:
		break;
	}
	if (++ps->entries_seen == EXCEPTIONS_MAX_ENTRIES + 1) {
		snprintf(msg, sizeof(msg), "more than %u entries", EXCEPTIONS_MAX_ENTRIES);
		line_error(ps, line, msg);
		return;
	}
	struct exception_entry *e = ps->store ? &ps->x->entries[ps->x->count] : &ps->scratch;
	const char *p = text, *end = text + n;
	if (!next_word(&p, end, &word, &len))
		return;	/* unreachable: is_entry_line() said there is a word */
	if (parse_key(word, len, e, msg, sizeof(msg)) < 0 || parse_rest(p, end, e, msg, sizeof(msg)) < 0) {
		line_error(ps, line, msg);
		return;
	}
	e->line = line;
	if (!ps->store)
		return;
	const struct exception_entry *first = lookup(ps->x, e->kind, e->name, strlen(e->name));
	/* The public list has repeated a domain now and then; a repeat that
	 * says the same is harmless, one that says something else is not. */
	if (first && strcmp(first->policy, e->policy) == 0 && first->expires == e->expires)
		return;
	if (first) {
		char key[NEXTHOP_NAME_MAX + 8];
		snprintf(key, sizeof(key), "%s%s", kind_prefix(e->kind), e->name);
		quote(q, sizeof(q), key, strlen(key));
		snprintf(msg, sizeof(msg), "'%s' is listed twice, differently (first at line %u)", q, first->line);
		line_error(ps, line, msg);
		return;
	}
	insert(ps->x, ps->x->count++);
}

/* Calls fn for each line: its text (line end not included) and number. */
static void
each_line(const char *text, size_t len, void (*fn)(void *arg, const char *line, size_t n, unsigned no),
    void *arg)
{
	unsigned no = 1;

	for (size_t pos = 0; pos < len; no++) {
		const char *start = text + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;
		fn(arg, start, n, no);
		pos += n + 1;
	}
}

struct counter {
	size_t entries;
};

static void
count_line(void *arg, const char *line, size_t n, unsigned no)
{
	struct counter *c = arg;

	(void)no;
	if (classify(line, &n) == LINE_ENTRY)
		c->entries++;
}

static void
parse_one(void *arg, const char *line, size_t n, unsigned no)
{
	parse_line(arg, line, n, no);
}

struct exceptions *
exceptions_parse(const char *text, size_t len, const char *name, struct buf *errors)
{
	struct parser ps;
	struct counter c = {0};

	memset(&ps, 0, sizeof(ps));
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		text += 3;
		len -= 3;
	}
	/* First the number of entries, for an array of the right size (the
	 * entries are large) and the limit before anything is stored. */
	each_line(text, len, count_line, &c);
	ps.store = c.entries <= EXCEPTIONS_MAX_ENTRIES;
	if (!(ps.x = alloc_snapshot(ps.store ? c.entries : 0))) {
		add_error(errors, name, 0, "out of memory");
		return NULL;
	}
	ps.name = name;
	ps.errors = errors;
	each_line(text, len, parse_one, &ps);
	if (!ps.store && !ps.nerrors)
		add_error(errors, name, 0, "more entries than the limit");	/* a bug: the passes disagree */
	if (ps.nerrors || !ps.store) {
		exceptions_free(ps.x);
		return NULL;
	}
	return ps.x;
}

struct exceptions *
exceptions_load(const char *path, struct buf *errors)
{
	char msg[512];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(msg, sizeof(msg), "cannot open: %s", strerror(errno));
		add_error(errors, path, 0, msg);
		return NULL;
	}
	size_t cap = 65536, len = 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (uintmax_t)st.st_size < EXCEPTIONS_FILE_MAX)
		cap = (size_t)st.st_size + 1;	/* + 1: EOF in one more read */
	char *text = malloc(cap);
	if (!text)
		goto nomem;
	for (;;) {
		if (len > EXCEPTIONS_FILE_MAX) {
			snprintf(msg, sizeof(msg), "larger than %u MiB", EXCEPTIONS_FILE_MAX >> 20);
			add_error(errors, path, 0, msg);
			goto fail;
		}
		if (len == cap) {
			/* One byte over the limit tells a file of exactly the limit
			 * from a larger one. */
			size_t bigger = cap * 2 > EXCEPTIONS_FILE_MAX + 1 ? EXCEPTIONS_FILE_MAX + 1 : cap * 2;
			char *p = realloc(text, bigger);
			if (!p)
				goto nomem;
			text = p;
			cap = bigger;
		}
		ssize_t r = read(fd, text + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(msg, sizeof(msg), "read error: %s", strerror(errno));
			add_error(errors, path, 0, msg);
			goto fail;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	struct exceptions *x = exceptions_parse(text, len, path, errors);
	free(text);
	return x;
nomem:
	add_error(errors, path, 0, "out of memory");
fail:
	free(text);
	close(fd);
	return NULL;
}

struct exceptions *
exceptions_empty(void)
{
	return alloc_snapshot(0);
}

struct exceptions *
exceptions_ref(struct exceptions *x)
{
	x->refs++;
	return x;
}

void
exceptions_unref(struct exceptions *x)
{
	if (x && --x->refs == 0)
		exceptions_free(x);
}

/* ---- Matching. ---- */

static bool
applies(const struct exception_entry *e, int64_t now)
{
	return e && (e->expires == 0 || now < e->expires);
}

/* The name as a lower-case key without a trailing dot; its length, or 0
 * when it is no host name. */
static size_t
normalize(const char *name, char out[NEXTHOP_NAME_MAX + 1])
{
	size_t n = strnlen(name, NEXTHOP_NAME_MAX + 2);

	if (n > 1 && name[n - 1] == '.')
		n--;
	if (!nexthop_valid_hostname(name, n))
		return 0;
	for (size_t i = 0; i < n; i++)
		out[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] - 'A' + 'a') : name[i];
	out[n] = '\0';
	return n;
}

const struct exception_entry *
exceptions_match_domain(const struct exceptions *x, const char *domain, int64_t now)
{
	char name[NEXTHOP_NAME_MAX + 1];
	size_t n;

	if (!x || x->count == 0 || !(n = normalize(domain, name)))
		return NULL;
	const struct exception_entry *e = lookup(x, EXCEPTION_DOMAIN, name, n);
	if (applies(e, now))
		return e;
	/* The nearest parent first. */
	for (size_t i = 0; i < n; i++) {
		if (name[i] != '.')
			continue;
		e = lookup(x, EXCEPTION_SUBDOMAINS, name + i + 1, n - i - 1);
		if (applies(e, now))
			return e;
	}
	return NULL;
}

const struct exception_entry *
exceptions_match_mx(const struct exceptions *x, const char *host, int64_t now)
{
	char name[NEXTHOP_NAME_MAX + 1];
	size_t n;

	if (!x || x->count == 0 || !(n = normalize(host, name)))
		return NULL;
	const struct exception_entry *e = lookup(x, EXCEPTION_MX_HOST, name, n);
	return applies(e, now) ? e : NULL;
}

size_t
exceptions_count(const struct exceptions *x)
{
	return x ? x->count : 0;
}

void
exceptions_each(const struct exceptions *x, void (*fn)(void *arg, const struct exception_entry *e), void *arg)
{
	for (size_t i = 0; x && i < x->count; i++)
		fn(arg, &x->entries[i]);
}

int
exceptions_format(const struct exception_entry *e, struct buf *out)
{
	/* Written whole into line first, so that out gets all or nothing. */
	char line[sizeof(e->name) + sizeof(e->policy) + 32], date[32] = "";
	const char *prefix = kind_prefix(e->kind);

	if (!prefix || !e->name[0] || !e->policy[0] || e->expires < 0 ||
	    !memchr(e->name, '\0', sizeof(e->name)) || !memchr(e->policy, '\0', sizeof(e->policy)))
		return -1;
	if (e->expires) {
		int64_t y;
		unsigned m, d;
		civil_from_days((e->expires - 1) / DAY, &y, &m, &d);
		if (y > 9999)
			return -1;
		snprintf(date, sizeof(date), " expires=%04d-%02u-%02u", (int)y, m, d);
	}
	bool may = strcmp(e->policy, "may") == 0;
	int n = snprintf(line, sizeof(line), "%s%s%s%s%s", prefix, e->name, may ? "" : " ", may ? "" : e->policy,
	    date);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	return buf_append(out, line, (size_t)n);
}

void
exceptions_mx_cover(const char *const *names, size_t n, exceptions_mx_lookup *find, void *arg,
    struct exceptions_mx_cover *out)
{
	memset(out, 0, sizeof(*out));
	out->hosts = (unsigned)n;
	for (size_t i = 0; i < n; i++) {
		const struct exception_entry *e = find(arg, names[i]);
		if (!e)
			continue;
		out->named++;
		if (!out->entry) {
			out->entry = e;
			out->host = names[i];
		}
	}
	out->all = out->entry && out->named == n;
}
