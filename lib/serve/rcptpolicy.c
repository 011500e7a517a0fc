/* rcptpolicy - the milter's decision for one recipient; see rcptpolicy.h. */
#include "autoconfig.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "serve/rcptpolicy.h"

/* Header lines start with the name, "X-TLS-Policy: ". */
#define HEADER_NAME_LEN 14
#define HEADER_LINE_MAX 78

int
rcptpolicy_domain(const char *address, char *domain, size_t size)
{
	const char *p = address, *end = address + strlen(address);

	while (p < end && isspace((unsigned char)*p))
		p++;
	if (p < end && *p == '<')
		p++;
	const char *close = memchr(p, '>', (size_t)(end - p));
	if (close)
		end = close;
	const char *at = NULL;
	for (const char *q = p; q < end; q++)
		if (*q == '@')
			at = q;
	if (!at)
		return -1;
	const char *d = at + 1;
	size_t n = (size_t)(end - d);
	while (n > 0 && (d[n - 1] == '.' || isspace((unsigned char)d[n - 1])))
		n--;
	if (n == 0 || n >= size)
		return -1;
	for (size_t i = 0; i < n; i++)
		domain[i] = (char)tolower((unsigned char)d[i]);
	domain[n] = '\0';
	return 0;
}

bool
rcptpolicy_sender_listed(char *const *list, const char *sender)
{
	char domain[256];
	const char *p = sender;
	size_t n;

	if (!list || !list[0])
		return false;
	/* The address without its angle brackets. */
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '<')
		p++;
	n = strcspn(p, ">");
	bool have_domain = rcptpolicy_domain(sender, domain, sizeof(domain)) == 0;
	for (char *const *e = list; *e; e++) {
		if ((*e)[0] == '@') {
			if (have_domain && strcasecmp(*e + 1, domain) == 0)
				return true;
		} else if (strlen(*e) == n && strncasecmp(*e, p, n) == 0) {
			return true;
		}
	}
	return false;
}

/* Printable ASCII without '%': safe in a reply and in libmilter's format. */
static void
safe_copy(char *dst, size_t size, const char *src)
{
	size_t i = 0;

	for (; src[i] && i + 1 < size; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = c >= 0x20 && c < 0x7f && c != '%' ? (char)c : '?';
	}
	dst[i] = '\0';
}

static void
refuse(struct rcptpolicy_verdict *out, bool temporary, const char *xcode, const char *why)
{
	out->action = temporary ? RCPTPOLICY_TEMPFAIL : RCPTPOLICY_REJECT;
	out->rcode = temporary ? "450" : "550";
	out->xcode = xcode;
	out->why = why;
}

static void
security_word(const struct status *st, char *dst, size_t size)
{
	if (!st)
		snprintf(dst, size, "unknown");
	else if (st->result == POLICY_NOTFOUND)
		snprintf(dst, size, "default");
	else if (st->result == POLICY_TEMP)
		snprintf(dst, size, "deferred");
	else
		policy_level_word(st->policy, dst, size);
}

/* A listed sender, while the destination's security is unknown. */
static void
secure_sender_unknown(struct rcptpolicy_verdict *out, const char *dom, const char *why)
{
	refuse(out, true, "4.7.5", why);
	snprintf(out->text, sizeof(out->text),
	    "Your mail may only leave over authenticated TLS, and whether mail to %s can is not known now; "
	    "try again later", dom);
}

void
rcptpolicy_decide(const struct config *cfg, bool secure_sender, const char *domain,
    const struct status *st, struct rcptpolicy_verdict *out)
{
	char dom[256], level[32];

	memset(out, 0, sizeof(*out));
	out->action = RCPTPOLICY_ACCEPT;
	out->why = "ok";
	safe_copy(dom, sizeof(dom), domain);
	security_word(st, out->security, sizeof(out->security));
	if (!st) {
		if (secure_sender)
			secure_sender_unknown(out, dom, "secure-sender-no-answer");
		else
			out->why = "no-answer";
		return;
	}
	bool bogus = st->result == POLICY_TEMP && st->failure == STATUS_FAILURE_DNSSEC_BOGUS;
	bool mismatch = st->result == POLICY_OK && st->failure == STATUS_FAILURE_TLSA_MISMATCH;
	if (st->result == POLICY_TEMP && !bogus) {
		if (secure_sender)
			secure_sender_unknown(out, dom, "secure-sender-temp");
		else
			out->why = "daemon-temp";
		return;
	}
	if ((bogus || mismatch) && cfg->milter_on_dane_failure != CONFIG_DANE_FAILURE_ACCEPT) {
		/* Probes are evidence, not authority: a 4xx at most on theirs. */
		bool temporary = cfg->milter_on_dane_failure == CONFIG_DANE_FAILURE_TEMPFAIL || mismatch;
		refuse(out, temporary, temporary ? "4.7.5" : "5.7.5", "dane-failure");
		const char *problem = mismatch
		    ? "its mail servers present certificates that match none of the DANE (TLSA) records it publishes"
		    : "its DNSSEC signatures do not validate";
		snprintf(out->text, sizeof(out->text), "Mail to %s cannot be delivered securely now: %s; %s", dom,
		    problem, temporary ? "try again later, or ask its administrators to fix it"
		    : "its administrators must fix this before it can receive mail from us");
		return;
	}
	if (bogus) {
		/* milter_on_dane_failure = accept; still TEMP, so unknown. */
		if (secure_sender)
			secure_sender_unknown(out, dom, "secure-sender-temp");
		else
			out->why = "dane-failure-accepted";
		return;
	}
	policy_level_word(st->result == POLICY_OK ? st->policy : "", level, sizeof(level));
	if (secure_sender && !policy_level_all_authenticated(level)) {
		refuse(out, false, "5.7.1", "secure-sender");
		snprintf(out->text, sizeof(out->text),
		    "Your mail may only leave over authenticated TLS, and mail to %s would not: %s", dom,
		    st->result == POLICY_NOTFOUND ? "its mail servers cannot be authenticated"
		    : strcmp(level, "dane") == 0
		    ? "not all of its mail servers publish usable DANE (TLSA) records, so not all can be authenticated"
		    : "it publishes no DANE (TLSA) records for its mail servers, so they cannot be authenticated");
		return;
	}
	if (mismatch)
		out->why = "dane-failure-accepted";
}

int
rcptpolicy_header_add(struct buf *value, const char *domain, const char *security)
{
	char entry[320];
	const char *v = buf_ptr(value);
	size_t len = buf_size(value);

	snprintf(entry, sizeof(entry), "%s=", domain);
	size_t elen = strlen(entry);
	/* Entries start the value or follow ", " or ",\n\t". */
	for (size_t i = 0; i + elen <= len; i++) {
		bool starts = i == 0 || (i >= 2 && v[i - 2] == ',' && v[i - 1] == ' ') || (i >= 1 && v[i - 1] == '\t');
		if (starts && memcmp(v + i, entry, elen) == 0)
			return 0;
	}
	snprintf(entry, sizeof(entry), "%s=%s", domain, security);
	const char *nl = NULL;
	for (size_t i = len; i > 0; i--)
		if (v[i - 1] == '\n') {
			nl = v + i;
			break;
		}
	size_t line = nl ? (size_t)(v + len - nl) : HEADER_NAME_LEN + len;
	if (len == 0)
		return buf_puts(value, entry);
	/* One more for the comma that ends the line if the next one folds. */
	if (line + 2 + strlen(entry) + 1 > HEADER_LINE_MAX)
		return buf_printf(value, ",\n\t%s", entry);
	return buf_printf(value, ", %s", entry);
}
