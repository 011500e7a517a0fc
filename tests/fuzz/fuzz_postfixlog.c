/* libFuzzer: Postfix log lines, the whole input as one line and each of its
 * lines. Parsing must not crash or read past the line, and every field it
 * fills must be NUL-terminated printable text inside its array; a line that
 * is no news leaves every field empty. The lines then go through a log
 * watcher, whose tables must stay within their bounds. */
#include "autoconfig.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "watch/logwatch.h"
#include "postfix/postfixlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_field(const char *field, size_t size, int must_be_empty)
{
	const char *nul = memchr(field, '\0', size);

	if (!nul || (must_be_empty && nul != field))
		__builtin_trap();
	for (const char *p = field; p < nul; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			__builtin_trap();
}

static void
check(const char *line, size_t len)
{
	/* A copy of exactly len bytes, so that ASan sees a read past it. */
	char *copy = malloc(len ? len : 1);
	struct postfixlog_line l;

	if (!copy)
		return;
	if (len)
		memcpy(copy, line, len);
	/* Garbage in the struct: parse must fill every field itself. */
	memset(&l, 0xa5, sizeof(l));
	enum postfixlog_kind k = postfixlog_parse(copy, len, &l);
	free(copy);
	if (k != l.kind || k < POSTFIXLOG_NONE || k > POSTFIXLOG_DELIVERY || !postfixlog_kind_name(k))
		__builtin_trap();
	int none = k == POSTFIXLOG_NONE;
	check_field(l.program, sizeof(l.program), none);
	check_field(l.queue_id, sizeof(l.queue_id), none);
	check_field(l.trust, sizeof(l.trust), none);
	check_field(l.host, sizeof(l.host), none);
	check_field(l.addr, sizeof(l.addr), none);
	check_field(l.rcpt_domain, sizeof(l.rcpt_domain), none);
	check_field(l.dsn, sizeof(l.dsn), none);
	check_field(l.status, sizeof(l.status), none);
	check_field(l.tls, sizeof(l.tls), none);
	check_field(l.text, sizeof(l.text), none);
	if (none && (l.pid || l.port))
		__builtin_trap();
	if (l.port > 65535 || (k == POSTFIXLOG_DELIVERY && (!l.status[0] || !l.queue_id[0])))
		__builtin_trap();
}

static void
count(void *arg, const char *dest, const struct logwatch_counts *c)
{
	(*(size_t *)arg)++;
	if (strlen(dest) > NEXTHOP_NAME_MAX)
		__builtin_trap();
}

static void
alert(void *arg, const char *kind, const char *dest, const char *detail)
{
	if (!kind || !dest || !detail)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct logwatch *lw = logwatch_create(4, alert, NULL);
	size_t dests = 0;

	check(p, size);
	while (size > 0) {
		const char *nl = memchr(p, '\n', size);
		size_t len = nl ? (size_t)(nl - p) : size;
		check(p, len);
		if (lw)
			logwatch_line(lw, p, len, 1000);
		if (!nl)
			break;
		p = nl + 1;
		size -= len + 1;
	}
	if (lw) {
		logwatch_each(lw, count, &dests);
		if (dests > 4)
			__builtin_trap();
		logwatch_free(lw);
	}
	return 0;
}
