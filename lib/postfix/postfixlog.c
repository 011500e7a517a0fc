/* postfixlog - Postfix's TLS log lines; see postfixlog.h for the contract.
 *
 * Everything works on (pointer, length) spans of the caller's line: no
 * strlen() on it (it may hold NUL bytes), no read past its end. Names
 * (hosts, addresses, queue ids, the recipient domain) that do not fit their
 * field or hold anything but printable ASCII make the whole line POSTFIXLOG_NONE:
 * Postfix never logs such names, so the line is not Postfix's. Free text
 * (the reason, the tls= field) is cut to its field and unprintable bytes
 * become '?'. */
#include "autoconfig.h"

#include <stdbool.h>
#include <string.h>

#include "postfix/postfixlog.h"

struct span {
	const char *p;
	size_t n;
};

static struct span
from(struct span s, size_t at)
{
	struct span r = {s.p + at, s.n - at};

	return r;
}

static bool
starts(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n >= n && memcmp(s.p, lit, n) == 0;
}

static bool
ends(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n >= n && memcmp(s.p + s.n - n, lit, n) == 0;
}

/* The first occurrence of lit in s: its offset, or s.n. */
static size_t
find(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	for (size_t i = 0; n <= s.n && i <= s.n - n; i++)
		if (s.p[i] == lit[0] && memcmp(s.p + i, lit, n) == 0)
			return i;
	return s.n;
}

static bool
printable(unsigned char c)
{
	return c >= 0x20 && c < 0x7f;
}

/* Free text: cut to the field, unprintable bytes shown as '?'. */
static void
copy_text(char *dst, size_t cap, const char *p, size_t n)
{
	if (n > cap - 1)
		n = cap - 1;
	for (size_t i = 0; i < n; i++)
		dst[i] = printable((unsigned char)p[i]) ? p[i] : '?';
	dst[n] = '\0';
}

/* A name: 1 to cap-1 bytes of printable ASCII other than space and the
 * brackets Postfix puts around addresses. */
static bool
copy_name(char *dst, size_t cap, const char *p, size_t n, bool lower)
{
	if (n == 0 || n > cap - 1)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!printable((unsigned char)c) || c == ' ' || c == '[' || c == ']' || c == '<' || c == '>')
			return false;
		if (lower && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		dst[i] = c;
	}
	dst[n] = '\0';
	return true;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Decimal digits at the start of s, 1-65535: how many, or 0. */
static size_t
parse_port(struct span s, unsigned *port)
{
	unsigned v = 0;
	size_t i = 0;

	while (i < s.n && is_digit(s.p[i])) {
		v = v * 10 + (unsigned)(s.p[i] - '0');
		if (++i > 5 || v > 65535)
			return 0;
	}
	if (i == 0 || v == 0)
		return 0;
	*port = v;
	return i;
}

/* HOST[ADDR] with an optional :PORT at the start of s, into out. Returns
 * how many bytes it took, or 0 when s does not start with one. */
static size_t
parse_endpoint(struct span s, struct postfixlog_line *out)
{
	size_t lb = 0, rb;

	while (lb < s.n && s.p[lb] != '[' && s.p[lb] != ' ' && s.p[lb] != ']')
		lb++;
	if (lb == s.n || s.p[lb] != '[' || !copy_name(out->host, sizeof(out->host), s.p, lb, false))
		return 0;
	for (rb = lb + 1; rb < s.n && s.p[rb] != ']' && s.p[rb] != '[' && s.p[rb] != ' '; rb++)
		;
	if (rb == s.n || s.p[rb] != ']' || !copy_name(out->addr, sizeof(out->addr), s.p + lb + 1, rb - lb - 1, false))
		return 0;
	size_t used = rb + 1;
	out->port = 0;
	if (used < s.n && s.p[used] == ':' && used + 1 < s.n && is_digit(s.p[used + 1])) {
		size_t d = parse_port(from(s, used + 1), &out->port);
		if (d == 0 || (used + 1 + d < s.n && is_digit(s.p[used + 1 + d])))
			return 0;
		used += 1 + d;
	}
	return used;
}

/* The syslog tag, "NAME[PID]:", is the first word that ends in a colon:
 * what comes before it is a timestamp (syslog's three words, an ISO one,
 * journalctl's) and a host name. Returns the message's offset, or 0. */
static size_t
parse_tag(struct span line, struct postfixlog_line *out)
{
	size_t i = 0;

	for (int word = 0; word < 8; word++) {
		while (i < line.n && line.p[i] == ' ')
			i++;
		size_t start = i;
		while (i < line.n && line.p[i] != ' ')
			i++;
		if (i == start)
			return 0;
		if (line.p[i - 1] != ':')
			continue;
		/* NAME[PID]: then one space and the message. */
		size_t colon = i - 1, lb = colon;
		if (colon - start < 4 || line.p[colon - 1] != ']' || i + 1 >= line.n)
			return 0;
		while (lb > start && line.p[lb] != '[')
			lb--;
		if (lb == start || colon - 1 - lb - 1 == 0 || colon - 1 - lb - 1 > 10)
			return 0;
		unsigned long pid = 0;
		for (size_t d = lb + 1; d < colon - 1; d++) {
			if (!is_digit(line.p[d]))
				return 0;
			pid = pid * 10 + (unsigned long)(line.p[d] - '0');
		}
		/* The name is kept for correlation only: a long one is cut. */
		size_t nlen = lb - start;
		if (nlen > sizeof(out->program) - 1)
			nlen = sizeof(out->program) - 1;
		if (!copy_name(out->program, sizeof(out->program), line.p + start, nlen, false))
			return 0;
		out->pid = pid;
		return i + 1;
	}
	return 0;
}

/* "HOST[ADDR]:PORT" and, after ": ", the rest of the line as text; false
 * when the endpoint is malformed or something else follows it. */
static bool
endpoint_and_text(struct span rest, struct postfixlog_line *out)
{
	size_t used = parse_endpoint(rest, out);

	if (used == 0)
		return false;
	rest = from(rest, used);
	if (rest.n && !starts(rest, ": "))
		return false;
	rest = from(rest, rest.n ? 2 : 0);
	copy_text(out->text, sizeof(out->text), rest.p, rest.n);
	return true;
}

static enum postfixlog_kind
parse_tls(struct span m, struct postfixlog_line *out)
{
	static const char *const trusts[] = {"Verified", "Trusted", "Untrusted", "Anonymous"};
	static const char established[] = " TLS connection established to ";

	for (size_t t = 0; t < sizeof(trusts) / sizeof(trusts[0]); t++) {
		size_t tl = strlen(trusts[t]);
		if (!starts(m, trusts[t]) || !starts(from(m, tl), established))
			continue;
		if (!endpoint_and_text(from(m, tl + strlen(established)), out))
			return POSTFIXLOG_NONE;
		copy_text(out->trust, sizeof(out->trust), trusts[t], tl);
		return POSTFIXLOG_TLS_ESTABLISHED;
	}
	return POSTFIXLOG_NONE;
}

/* "server certificate verification failed for HOST[ADDR]:PORT: REASON";
 * "CA certificate ..." is the same failure found higher in the chain, and
 * a self-signed server certificate is logged without the word:
 * "certificate verification failed for HOST[ADDR]:PORT: self-signed
 * certificate" (Postfix 3.7, seen in the lab). */
static enum postfixlog_kind
parse_cert(struct span m, struct postfixlog_line *out)
{
	static const char failed[] = "certificate verification failed for ";
	struct span rest;

	if (starts(m, "server ") && starts(from(m, 7), failed))
		rest = from(m, 7 + strlen(failed));
	else if (starts(m, "CA ") && starts(from(m, 3), failed))
		rest = from(m, 3 + strlen(failed));
	else if (starts(m, failed))
		rest = from(m, strlen(failed));
	else
		return POSTFIXLOG_NONE;
	return endpoint_and_text(rest, out) ? POSTFIXLOG_CERT_FAILED : POSTFIXLOG_NONE;
}

/* "TLSA lookup error for HOST:PORT", as smtp(8) words it in the warning
 * "TLS policy lookup for DEST/HOST: TLSA lookup error for HOST:PORT". */
static enum postfixlog_kind
parse_tlsa_error(struct span warning, struct postfixlog_line *out)
{
	static const char lit[] = "TLSA lookup error for ";
	size_t at = find(warning, lit);

	if (at == warning.n)
		return POSTFIXLOG_NONE;
	struct span hp = from(warning, at + strlen(lit));
	size_t colon = 0;
	while (colon < hp.n && hp.p[colon] != ':' && hp.p[colon] != ' ')
		colon++;
	if (colon == hp.n || hp.p[colon] != ':' || !copy_name(out->host, sizeof(out->host), hp.p, colon, false))
		return POSTFIXLOG_NONE;
	size_t d = parse_port(from(hp, colon + 1), &out->port);
	if (d == 0 || (colon + 1 + d < hp.n && hp.p[colon + 1 + d] != ' '))
		return POSTFIXLOG_NONE;
	copy_text(out->text, sizeof(out->text), warning.p, warning.n);
	return POSTFIXLOG_TLSA_ERROR;
}

/* "TLS policy lookup for DEST/HOST: non DNSSEC destination". */
static enum postfixlog_kind
parse_non_dnssec(struct span warning, struct postfixlog_line *out)
{
	static const char lookup[] = "TLS policy lookup for ";

	if (!ends(warning, "non DNSSEC destination"))
		return POSTFIXLOG_NONE;
	if (starts(warning, lookup)) {
		struct span dh = from(warning, strlen(lookup));
		size_t slash = 0, end;
		while (slash < dh.n && dh.p[slash] != '/' && dh.p[slash] != ' ')
			slash++;
		if (slash == dh.n || dh.p[slash] != '/')
			return POSTFIXLOG_NONE;
		end = find(from(dh, slash + 1), ": ");
		if (!copy_name(out->host, sizeof(out->host), dh.p + slash + 1, end, false))
			return POSTFIXLOG_NONE;
	}
	copy_text(out->text, sizeof(out->text), warning.p, warning.n);
	return POSTFIXLOG_NON_DNSSEC;
}

/* An address in angle brackets at the start of s ("<...>", local parts
 * quoted as RFC 5321 has them): the offset just past '>', or 0. */
static size_t
angle_addr(struct span s, size_t *at_sign)
{
	bool quoted = false;

	if (!starts(s, "<"))
		return 0;
	*at_sign = 0;
	for (size_t i = 1; i < s.n; i++) {
		char c = s.p[i];
		if (quoted) {
			if (c == '\\' && i + 1 < s.n)
				i++;
			else if (c == '"')
				quoted = false;
		} else if (c == '"') {
			quoted = true;
		} else if (c == '@') {
			*at_sign = i;
		} else if (c == '>') {
			return i + 1;
		}
	}
	return 0;
}

/* The recipient's domain, in lower case and without a trailing dot, as
 * next hops are; an address literal ("[192.0.2.1]") as it is. */
static bool
parse_domain(const char *p, size_t n, struct postfixlog_line *out)
{
	if (n >= 2 && p[0] == '[' && p[n - 1] == ']') {
		if (!copy_name(out->rcpt_domain + 1, sizeof(out->rcpt_domain) - 2, p + 1, n - 2, true))
			return false;
		out->rcpt_domain[0] = '[';
		out->rcpt_domain[n - 1] = ']';
		out->rcpt_domain[n] = '\0';
		return true;
	}
	if (n > 1 && p[n - 1] == '.')
		n--;
	return copy_name(out->rcpt_domain, sizeof(out->rcpt_domain), p, n, true);
}

/* One field's value: up to the next ", " (or the end). */
static size_t
field_end(struct span s)
{
	return find(s, ", ");
}

static enum postfixlog_kind
parse_delivery(struct span m, struct postfixlog_line *out)
{
	size_t q = 0;

	while (q < m.n && ((m.p[q] >= '0' && m.p[q] <= '9') || (m.p[q] >= 'A' && m.p[q] <= 'Z') ||
	    (m.p[q] >= 'a' && m.p[q] <= 'z')))
		q++;
	if (q == 0 || q > sizeof(out->queue_id) - 1 || !starts(from(m, q), ": to="))
		return POSTFIXLOG_NONE;
	memcpy(out->queue_id, m.p, q);
	out->queue_id[q] = '\0';

	struct span rest = from(m, q + strlen(": to="));
	size_t at, used = angle_addr(rest, &at);
	if (used == 0)
		return POSTFIXLOG_NONE;
	if (at && at + 1 < used - 1 && !parse_domain(rest.p + at + 1, used - 1 - at - 1, out))
		return POSTFIXLOG_NONE;
	rest = from(rest, used);

	bool relay = false, status = false;
	/* Fields are ", "-separated; the relay may be followed by a bare ","
	 * (seen as "...:25,conn_use=2"). */
	while (!status && starts(rest, ",")) {
		rest = from(rest, starts(rest, ", ") ? 2 : 1);
		if (starts(rest, "orig_to=")) {
			size_t oat;
			used = angle_addr(from(rest, 8), &oat);
			if (used == 0)
				return POSTFIXLOG_NONE;
			rest = from(rest, 8 + used);
		} else if (starts(rest, "relay=")) {
			struct span v = from(rest, 6);
			size_t comma = 0, lb = 0;
			while (comma < v.n && v.p[comma] != ',')
				comma++;
			while (lb < comma && v.p[lb] != '[')
				lb++;
			if (lb < comma) {
				used = parse_endpoint(v, out);
				if (used == 0 || used != comma)
					return POSTFIXLOG_NONE;
			} else {
				/* none, local, virtual, a pipe's name: no address. */
				if (!copy_name(out->host, sizeof(out->host), v.p, comma, false))
					return POSTFIXLOG_NONE;
				used = comma;
			}
			rest = from(v, used);
			relay = true;
		} else if (starts(rest, "tls=")) {
			struct span v = from(rest, 4);
			size_t end = field_end(v);
			copy_text(out->tls, sizeof(out->tls), v.p, end);
			rest = from(v, end);
		} else if (starts(rest, "dsn=")) {
			struct span v = from(rest, 4);
			size_t end = field_end(v);
			if (end == 0 || end > sizeof(out->dsn) - 1)
				return POSTFIXLOG_NONE;
			for (size_t i = 0; i < end; i++)
				if (!is_digit(v.p[i]) && v.p[i] != '.')
					return POSTFIXLOG_NONE;
			memcpy(out->dsn, v.p, end);
			out->dsn[end] = '\0';
			rest = from(v, end);
		} else if (starts(rest, "status=")) {
			struct span v = from(rest, 7);
			size_t w = 0;
			while (w < v.n && v.p[w] >= 'a' && v.p[w] <= 'z')
				w++;
			if (w == 0 || w > sizeof(out->status) - 1 || (w < v.n && v.p[w] != ' '))
				return POSTFIXLOG_NONE;
			memcpy(out->status, v.p, w);
			out->status[w] = '\0';
			struct span why = from(v, w);
			if (starts(why, " ("))
				why = from(why, 2);
			else if (why.n)
				why = from(why, 1);
			if (ends(why, ")"))
				why.n--;
			copy_text(out->text, sizeof(out->text), why.p, why.n);
			status = true;
		} else {
			/* delay=, delays=, conn_use=, and whatever comes later. */
			size_t eq = 0;
			while (eq < rest.n && ((rest.p[eq] >= 'a' && rest.p[eq] <= 'z') || rest.p[eq] == '_'))
				eq++;
			if (eq == 0 || eq == rest.n || rest.p[eq] != '=')
				return POSTFIXLOG_NONE;
			rest = from(rest, eq + 1 + field_end(from(rest, eq + 1)));
		}
	}
	return relay && status ? POSTFIXLOG_DELIVERY : POSTFIXLOG_NONE;
}

enum postfixlog_kind
postfixlog_parse(const char *line, size_t len, struct postfixlog_line *out)
{
	struct span s = {line, len};
	enum postfixlog_kind k = POSTFIXLOG_NONE;

	memset(out, 0, sizeof(*out));
	if (!line)
		return POSTFIXLOG_NONE;
	/* A line handed over with its newline. */
	while (s.n && (s.p[s.n - 1] == '\n' || s.p[s.n - 1] == '\r'))
		s.n--;
	size_t msg = parse_tag(s, out);
	struct span m = from(s, msg);

	if (msg == 0) {
		k = POSTFIXLOG_NONE;
	} else if (starts(m, "warning: ")) {
		struct span w = from(m, 9);
		if (starts(w, "DNSSEC validation may be unavailable")) {
			copy_text(out->text, sizeof(out->text), w.p, w.n);
			k = POSTFIXLOG_DNSSEC_OFF;
		} else if ((k = parse_tlsa_error(w, out)) == POSTFIXLOG_NONE) {
			k = parse_non_dnssec(w, out);
		}
	} else if ((k = parse_tls(m, out)) == POSTFIXLOG_NONE && (k = parse_cert(m, out)) == POSTFIXLOG_NONE) {
		k = parse_delivery(m, out);
	}
	if (k == POSTFIXLOG_NONE) {
		/* Nothing half-filled for the caller to trip on. */
		memset(out, 0, sizeof(*out));
	}
	out->kind = k;
	return k;
}

const char *
postfixlog_kind_name(enum postfixlog_kind k)
{
	switch (k) {
	case POSTFIXLOG_NONE:
		return "none";
	case POSTFIXLOG_TLS_ESTABLISHED:
		return "tls-established";
	case POSTFIXLOG_CERT_FAILED:
		return "cert-failed";
	case POSTFIXLOG_TLSA_ERROR:
		return "tlsa-error";
	case POSTFIXLOG_NON_DNSSEC:
		return "non-dnssec";
	case POSTFIXLOG_DNSSEC_OFF:
		return "dnssec-off";
	case POSTFIXLOG_DELIVERY:
		return "delivery";
	}
	return "unknown";
}
