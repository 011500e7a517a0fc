/* tlsrpt - Postfix's TLSRPT attributes for an MTA-STS answer; see tlsrpt.h. */
#include "autoconfig.h"

#include <string.h>

#include "rules/tlsrpt.h"
#include "postfix/nexthop.h"

bool
tlsrpt_line_usable(const char *line)
{
	for (const unsigned char *s = (const unsigned char *)line; *s; s++)
		if (*s == '{' || *s == '}' || *s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int
append_all(struct buf *out, const char *domain, const struct stspolicy *p)
{
	if (buf_puts(out, " policy_type=sts policy_domain=") < 0 || buf_puts(out, domain) < 0)
		return -1;
	for (size_t i = 0; i < stspolicy_npatterns(p); i++)
		if (buf_puts(out, " mx_host_pattern=") < 0 || buf_puts(out, stspolicy_pattern(p, i)) < 0)
			return -1;
	for (size_t i = 0; i < stspolicy_nlines(p); i++) {
		const char *line = stspolicy_line(p, i);
		if (!tlsrpt_line_usable(line))
			continue;
		if (buf_puts(out, " { policy_string = ") < 0 || buf_puts(out, line) < 0 || buf_puts(out, " }") < 0)
			return -1;
	}
	return 0;
}

bool
tlsrpt_append_sts(struct buf *out, const char *domain, const struct stspolicy *p, size_t limit)
{
	size_t before = buf_size(out);

	if (!nexthop_valid_hostname(domain, strlen(domain)))
		return false;
	/* Written, then measured: a policy is at most 64 KiB, so the
	 * attributes never outgrow what a buffer may hold. */
	if (append_all(out, domain, p) < 0 || buf_size(out) > limit) {
		buf_truncate(out, before);
		return false;
	}
	return true;
}
