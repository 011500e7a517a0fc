/* stspattern - an MTA-STS mx pattern; see stspattern.h for the contract. */
#include "autoconfig.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "rules/stspattern.h"
#include "util/netaddr.h"
#include "postfix/nexthop.h"

#define LABEL_MAX 63

static bool
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 5321 sub-domain: Let-dig [Ldh-str], at most 63 bytes. */
static bool
valid_label(const char *p, size_t len)
{
	if (len == 0 || len > LABEL_MAX || !is_alnum(p[0]) || !is_alnum(p[len - 1]))
		return false;
	for (size_t i = 1; i + 1 < len; i++)
		if (!is_alnum(p[i]) && p[i] != '-')
			return false;
	return true;
}

static bool
looks_like_address(const char *name, size_t len)
{
	char text[STSPATTERN_MAX + 1];
	struct netaddr addr;
	size_t last = len;

	memcpy(text, name, len);
	text[len] = '\0';
	if (netaddr_parse(text, &addr) == 0)
		return true;
	/* A top-level label of digits only is no host name either (RFC
	 * 3696 section 2): "192.0.2" or "1.2.3.4.5". */
	while (last > 0 && name[last - 1] != '.')
		last--;
	if (last == len)
		return false;
	for (size_t i = last; i < len; i++)
		if (name[i] < '0' || name[i] > '9')
			return false;
	return true;
}

const char *
stspattern_normalize(const char *v, size_t len, char out[STSPATTERN_MAX + 1], size_t *outlen)
{
	char alabels[STSPATTERN_MAX + 1];
	bool wild = len >= 2 && v[0] == '*' && v[1] == '.';
	const char *name = wild ? v + 2 : v;
	size_t nlen = wild ? len - 2 : len;
	bool ascii = true;

	if (memchr(name, '*', nlen))
		return "a wildcard that is not the whole first label (\"*.\" then a host name)";
	if (nlen > 0 && (name[0] == '[' || memchr(name, ':', nlen)))
		return "an IP address literal, not a host name";
	for (size_t i = 0; i < nlen; i++)
		if ((unsigned char)name[i] >= 0x80)
			ascii = false;
	if (!ascii) {
		const char *why = nexthop_to_alabels(name, nlen, alabels, &nlen);
		if (why)
			return why;
		name = alabels;
	}
	if (nlen == 0)
		return "an empty host name";
	if (nlen > STSPATTERN_MAX - (wild ? 2 : 0))
		return "longer than 253 bytes";
	size_t n = 0;
	if (wild) {
		out[n++] = '*';
		out[n++] = '.';
	}
	for (size_t i = 0; i < nlen; i++) {
		char c = name[i];
		out[n++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out[n] = '\0';
	*outlen = n;
	const char *host = out + (wild ? 2 : 0);
	if (looks_like_address(host, nlen))
		return "an IP address, not a host name";
	for (size_t start = 0, i = 0; i <= nlen; i++) {
		if (i < nlen && host[i] != '.')
			continue;
		if (i == start)
			return i == nlen ? "ends with a dot (no trailing dot in a policy)" : "an empty label";
		if (i - start > LABEL_MAX)
			return "a label longer than 63 bytes";
		if (!valid_label(host + start, i - start))
			return "not a host name: labels of letters, digits and inner hyphens only";
		start = i + 1;
	}
	return NULL;
}

bool
stspattern_matches(const char *pattern, const char *host)
{
	size_t hlen = strlen(host), plen = strlen(pattern);

	if (hlen > 1 && host[hlen - 1] == '.')
		hlen--;
	if (pattern[0] != '*')
		return hlen > 0 && plen == hlen && strncasecmp(host, pattern, hlen) == 0;
	/* ".example.net" after the host's first label, which is not empty */
	const char *dot = memchr(host, '.', hlen);
	return dot && dot > host && (size_t)(host + hlen - dot) == plen - 1 &&
	    strncasecmp(dot, pattern + 1, plen - 1) == 0;
}
