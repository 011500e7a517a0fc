/* nexthop - Postfix next-hop keys; see nexthop.h for the contract. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <idn2.h>

#include "postfix/nexthop.h"

static bool
is_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* NULL for a valid host name, else why not (a static reason). */
static const char *
hostname_problem(const char *name, size_t len)
{
	size_t label = 0;

	if (len == 0)
		return "not a valid domain name: empty";
	if (len > NEXTHOP_NAME_MAX)
		return "not a valid domain name: longer than 253 bytes";
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '.') {
			if (label == 0)
				return "not a valid domain name: an empty label";
			label = 0;
		} else if (!is_host_char(name[i])) {
			return "not a valid domain name: only letters, digits, '-', '_' and dots";
		} else if (++label > 63) {
			return "not a valid domain name: a label longer than 63 bytes";
		}
	}
	return label > 0 ? NULL : "not a valid domain name: an empty label";
}

bool
nexthop_valid_hostname(const char *name, size_t len)
{
	return hostname_problem(name, len) == NULL;
}

static int
parse_port(const char *p, size_t len, unsigned *port)
{
	static const struct {
		const char *name;
		unsigned port;
	} services[] = {
		{"smtp", 25}, {"submission", 587}, {"submissions", 465}, {"smtps", 465},
	};
	unsigned value = 0;

	if (len == 0)
		return -1;
	if (p[0] >= '0' && p[0] <= '9') {
		for (size_t i = 0; i < len; i++) {
			if (p[i] < '0' || p[i] > '9')
				return -1;
			value = value * 10 + (unsigned)(p[i] - '0');
			if (value > 65535)
				return -1;
		}
		if (value == 0)
			return -1;
		*port = value;
		return 0;
	}
	for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
		if (strlen(services[i].name) == len && strncasecmp(p, services[i].name, len) == 0) {
			*port = services[i].port;
			return 0;
		}
	}
	return -1;
}

static bool
is_ip_literal(const char *p, size_t len)
{
	char text[64];
	unsigned char addr[16];

	if (len >= 5 && strncasecmp(p, "ipv6:", 5) == 0) {
		p += 5;
		len -= 5;
	}
	if (len == 0 || len >= sizeof(text))
		return false;
	memcpy(text, p, len);
	text[len] = '\0';
	return inet_pton(AF_INET, text, addr) == 1 || inet_pton(AF_INET6, text, addr) == 1;
}

static void
store_name(struct nexthop *out, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		out->name[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out->name[len] = '\0';
}

static bool
has_non_ascii(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] >= 0x80)
			return true;
	return false;
}

/* Why libidn2 refused a name, in words an administrator can act on. */
static const char *
idn_problem(int rc)
{
	switch (rc) {
	case IDN2_ENCODING_ERROR:
	case IDN2_NFC:
		return "not a valid domain name: not UTF-8";
	case IDN2_TOO_BIG_DOMAIN:
		return "not a valid domain name: longer than 253 bytes as A-labels";
	case IDN2_TOO_BIG_LABEL:
	case IDN2_PUNYCODE_BIG_OUTPUT:
	case IDN2_PUNYCODE_OVERFLOW:
		return "not a valid domain name: a label longer than 63 bytes as an A-label";
	case IDN2_DISALLOWED:
	case IDN2_UNASSIGNED:
	case IDN2_CONTEXTJ:
	case IDN2_CONTEXTJ_NO_RULE:
	case IDN2_CONTEXTO:
	case IDN2_CONTEXTO_NO_RULE:
	case IDN2_INVALID_NONTRANSITIONAL:
	case IDN2_ALABEL_ROUNDTRIP_FAILED:
		return "not a valid domain name: a character IDNA2008 does not allow in a host name";
	case IDN2_HYPHEN_STARTEND:
	case IDN2_2HYPHEN:
		return "not a valid domain name: a hyphen where IDNA2008 does not allow one";
	case IDN2_LEADING_COMBINING:
		return "not a valid domain name: a label that starts with a combining mark";
	case IDN2_BIDI:
		return "not a valid domain name: right-to-left text that IDNA2008 does not allow";
	case IDN2_PUNYCODE_BAD_INPUT:
	case IDN2_INVALID_ALABEL:
	case IDN2_UALABEL_MISMATCH:
		return "not a valid domain name: a broken A-label (xn--)";
	case IDN2_MALLOC:
		return "out of memory";
	}
	return "not a valid internationalized domain name (IDNA2008)";
}

const char *
nexthop_to_alabels(const char *name, size_t len, char alabel[NEXTHOP_NAME_MAX + 1], size_t *alen)
{
	char utf8[NEXTHOP_UTF8_MAX + 1];
	uint8_t *ascii = NULL;

	if (len > NEXTHOP_UTF8_MAX)
		return "not a valid domain name: longer than 253 bytes";
	if (memchr(name, '\0', len))
		return "not a valid domain name: only letters, digits, '-', '_' and dots";
	memcpy(utf8, name, len);
	utf8[len] = '\0';
	int rc = idn2_lookup_u8((const uint8_t *)utf8, &ascii, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK) {
		idn2_free(ascii);
		return idn_problem(rc);
	}
	size_t n = strlen((const char *)ascii);
	/* A trailing full stop other than '.' (U+3002...) becomes one here. */
	if (n > 1 && ascii[n - 1] == '.')
		n--;
	if (n > NEXTHOP_NAME_MAX) {
		idn2_free(ascii);
		return "not a valid domain name: longer than 253 bytes as A-labels";
	}
	memcpy(alabel, ascii, n);
	alabel[n] = '\0';
	*alen = n;
	idn2_free(ascii);
	return NULL;
}

int
nexthop_parse(const char *key, size_t len, struct nexthop *out, const char **why)
{
	char alabel[NEXTHOP_NAME_MAX + 2];	/* with the parent form's dot */
	const char *name = key;
	size_t name_len;
	const char *rest;

	memset(out, 0, sizeof(*out));
	out->port = NEXTHOP_DEFAULT_PORT;
	if (len == 0) {
		*why = "empty next hop";
		return -1;
	}
	if (key[0] == '[') {
		const char *close = memchr(key, ']', len);
		if (!close) {
			*why = "'[' without ']'";
			return -1;
		}
		name = key + 1;
		name_len = (size_t)(close - name);
		rest = close + 1;
		out->kind = NEXTHOP_HOST;
	} else {
		const char *colon = memchr(key, ':', len);
		name_len = colon ? (size_t)(colon - key) : len;
		rest = key + name_len;
		out->kind = NEXTHOP_DOMAIN;
	}
	size_t rest_len = len - (size_t)(rest - key);
	if (rest_len > 0) {
		if (rest[0] != ':') {
			*why = "unexpected text after ']'";
			return -1;
		}
		if (parse_port(rest + 1, rest_len - 1, &out->port) < 0) {
			*why = "bad port";
			return -1;
		}
	}
	if (name_len > 1 && name[name_len - 1] == '.')
		name_len--;
	/* From here on every name is ASCII, IDNs as their A-labels. */
	if (has_non_ascii(name, name_len)) {
		size_t dot = out->kind == NEXTHOP_DOMAIN && name[0] == '.', alen;
		if ((*why = nexthop_to_alabels(name + dot, name_len - dot, alabel + dot, &alen)))
			return -1;
		if (dot)
			alabel[0] = '.';
		name = alabel;
		name_len = alen + dot;
	}
	/* After the dot is gone: "192.0.2.1." is the address, not a name. */
	if (is_ip_literal(name, name_len)) {
		out->kind = NEXTHOP_IP_LITERAL;
		store_name(out, name, name_len);
		return 0;
	}
	if (out->kind == NEXTHOP_DOMAIN && name_len > 0 && name[0] == '.') {
		out->kind = NEXTHOP_PARENT;
		name++;
		name_len--;
	}
	if ((*why = hostname_problem(name, name_len)))
		return -1;
	store_name(out, name, name_len);
	return 0;
}

int
nexthop_parse_host(const char *spec, size_t len, struct nexthop *out, const char **why)
{
	/* "host" and "host:port" are the domain forms, taken as a host. */
	if (nexthop_parse(spec, len, out, why) < 0)
		return -1;
	switch (out->kind) {
	case NEXTHOP_HOST:
		return 0;
	case NEXTHOP_DOMAIN:
		out->kind = NEXTHOP_HOST;
		return 0;
	case NEXTHOP_IP_LITERAL:
		*why = "an IP address, not a host name: DANE needs a name";
		return -1;
	case NEXTHOP_PARENT:
		*why = "a parent-domain form, not a host name";
		return -1;
	}
	*why = "not a host name";
	return -1;
}

int
nexthop_format(const struct nexthop *nh, char *dst, size_t size)
{
	/* Runs once per request: plain copies instead of snprintf. */
	char text[NEXTHOP_NAME_MAX + 16], port[8];
	size_t n = 0, plen = 0;
	bool brackets = nh->kind == NEXTHOP_HOST || nh->kind == NEXTHOP_IP_LITERAL;

	if (brackets)
		text[n++] = '[';
	else if (nh->kind == NEXTHOP_PARENT)
		text[n++] = '.';
	size_t len = strnlen(nh->name, NEXTHOP_NAME_MAX);
	memcpy(text + n, nh->name, len);
	n += len;
	if (brackets)
		text[n++] = ']';
	if (nh->port != NEXTHOP_DEFAULT_PORT) {
		for (unsigned v = nh->port; v; v /= 10)
			port[plen++] = (char)('0' + v % 10);
		text[n++] = ':';
		while (plen)
			text[n++] = port[--plen];
	}
	if (size) {
		size_t copy = n < size ? n : size - 1;
		memcpy(dst, text, copy);
		dst[copy] = '\0';
	}
	return (int)n;
}

static size_t
without_root_dot(const char *name)
{
	size_t n = strlen(name);

	return n > 1 && name[n - 1] == '.' ? n - 1 : n;
}

bool
nexthop_name_within(const char *name, const char *domain)
{
	size_t n = without_root_dot(name), d = without_root_dot(domain);

	if (d == 0 || n < d || strncasecmp(name + n - d, domain, d) != 0)
		return false;
	return n == d || name[n - d - 1] == '.';
}
