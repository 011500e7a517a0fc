/* libFuzzer: what tlspolicy-milter reads from the daemon and from smtpd.
 * A socketmap reply that parses points inside the input, and written out
 * again (netstring and all) parses back to the same status and text, made
 * printable; a status reply that parses must write out and parse back the
 * same; the input as an envelope address must give a domain that fits,
 * and the reply built for it must stay printable ASCII without '%'. */
#include "autoconfig.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "postfix/netstring.h"
#include "serve/rcptpolicy.h"
#include "postfix/socketmap.h"
#include "serve/status.h"
#include "util/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
socketmap_round_trip(const char *p, size_t n)
{
	enum socketmap_status status, again;
	const char *text, *payload;
	size_t text_len, len, used;
	struct buf out;

	if (socketmap_parse_reply(p, n, &status, &text, &text_len) < 0)
		return;
	if (text < p || text + text_len > p + n)
		__builtin_trap();
	char *copy = strndup(text, text_len);	/* to its first NUL, as C text */
	if (!copy)
		abort();
	buf_init(&out);
	if (socketmap_reply(&out, status, copy) < 0 ||
	    netstring_parse(buf_ptr(&out), buf_size(&out), SOCKETMAP_MAX_REPLY, &payload, &len, &used) != NETSTRING_OK ||
	    used != buf_size(&out) || socketmap_parse_reply(payload, len, &again, &text, &text_len) < 0 ||
	    again != status || !text_is_printable(text, text_len) || text_len > strlen(copy) ||
	    (strlen(copy) < 1000 && text_len != strlen(copy)))
		__builtin_trap();
	buf_free(&out);
	free(copy);
}

static void
check_reply(const char *text)
{
	for (const char *p = text; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f || *p == '%')
			__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct status a, b;
	const char *why;
	struct buf out;
	char domain[256];

	socketmap_round_trip((const char *)data, size);
	if (status_parse((const char *)data, size, &a, &why) == 0) {
		buf_init(&out);
		if (status_format(&a, &out) < 0 || status_parse(buf_ptr(&out), buf_size(&out), &b, &why) < 0 ||
		    a.result != b.result || a.failure != b.failure || strcmp(a.policy, b.policy) != 0 ||
		    strcmp(a.reason, b.reason) != 0 || strcmp(a.rule, b.rule) != 0)
			__builtin_trap();
		buf_free(&out);
	}

	char *address = malloc(size + 1);
	if (!address)
		return 0;
	memcpy(address, data, size);
	address[size] = '\0';
	if (rcptpolicy_domain(address, domain, sizeof(domain)) == 0) {
		struct config cfg = {.milter_on_dane_failure = CONFIG_DANE_FAILURE_REJECT};
		struct status st = {.result = POLICY_OK, .failure = STATUS_FAILURE_TLSA_MISMATCH};
		struct rcptpolicy_verdict v;
		strcpy(st.policy, "dane-only");
		if (strlen(domain) >= sizeof(domain))
			__builtin_trap();
		rcptpolicy_decide(&cfg, false, domain, &st, &v);
		check_reply(v.text);
		st.failure = STATUS_FAILURE_NONE;
		strcpy(st.policy, "may");
		rcptpolicy_decide(&cfg, true, domain, &st, &v);
		check_reply(v.text);
	}
	free(address);
	return 0;
}
