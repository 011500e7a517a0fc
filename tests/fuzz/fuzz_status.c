/* libFuzzer: what tlspolicy-milter reads from the daemon and from smtpd.
 * A status reply that parses must write out and parse back the same; the
 * input as an envelope address must give a domain that fits, and the reply
 * built for it must stay printable ASCII without '%'. */
#include "autoconfig.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rcptpolicy.h"
#include "status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
