/* controlproto - the control socket's protocol; see controlproto.h. */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "util/endpoint.h"
#include "postfix/mapclient.h"
#include "postfix/netstring.h"
#include "serve/controlproto.h"

#define WORDS_(n) #n
#define WORDS(n) WORDS_(n)

static const struct {
	const char *name;
	enum controlproto_argument argument;
} commands[] = {
	{"purge", CONTROLPROTO_DEST},
	{"refresh", CONTROLPROTO_DEST},
	{"stats", CONTROLPROTO_NO_DEST},
	{"proposed", CONTROLPROTO_NO_DEST},
	{"maillog", CONTROLPROTO_MAYBE_DEST},
};

enum controlproto_argument_check
controlproto_check(const char *command, size_t nargs, const char **why)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, command) != 0)
			continue;
		switch (commands[i].argument) {
		case CONTROLPROTO_NO_DEST:
			*why = "takes no argument";
			return nargs == 0 ? CONTROLPROTO_ARGS_OK : CONTROLPROTO_BAD_ARGS;
		case CONTROLPROTO_DEST:
			*why = "name one destination";
			return nargs == 1 ? CONTROLPROTO_ARGS_OK : CONTROLPROTO_BAD_ARGS;
		case CONTROLPROTO_MAYBE_DEST:
			*why = "name at most one destination";
			return nargs <= 1 ? CONTROLPROTO_ARGS_OK : CONTROLPROTO_BAD_ARGS;
		}
	}
	*why = "unknown command: purge DEST, refresh DEST, stats, proposed or maillog [DEST]";
	return CONTROLPROTO_UNKNOWN;
}

/* "COMMAND [ARGUMENT]", the payload of a request. */
static int
request_text(struct buf *text, const char *command, const char *argument)
{
	if (argument && argument[0])
		return buf_printf(text, "%s %s", command, argument);
	return buf_puts(text, command);
}

enum controlproto_parse
controlproto_parse_request(const char *in, size_t len, struct controlproto_request *out, const char **refusal)
{
	const char *payload;
	size_t n, used;
	int rc = netstring_parse(in, len, CONTROLPROTO_MAX_REQUEST, &payload, &n, &used);

	if (rc == NETSTRING_INCOMPLETE && len < CONTROLPROTO_MAX_INPUT)
		return CONTROLPROTO_INCOMPLETE;
	if (rc == NETSTRING_ERR_TOOLONG || rc == NETSTRING_INCOMPLETE) {
		*refusal = "ERROR request too long: at most " WORDS(CONTROLPROTO_MAX_REQUEST) " bytes";
		return CONTROLPROTO_REFUSED;
	}
	if (rc != NETSTRING_OK) {
		*refusal = "ERROR malformed request: send one netstring \"COMMAND [ARGUMENT]\"";
		return CONTROLPROTO_REFUSED;
	}
	/* A NUL in the request ends it, as it would any C string. */
	memcpy(out->text, payload, n);
	out->text[n] = '\0';
	char *space = strchr(out->text, ' ');
	if (space)
		*space++ = '\0';
	out->command = out->text;
	out->argument = space ? space : "";
	return CONTROLPROTO_REQUEST;
}

int
controlproto_put_reply(struct buf *out, const char *text)
{
	return netstring_put(out, text, strlen(text));
}

bool
controlproto_reply_ok(const char *reply, size_t len)
{
	return len >= 2 && memcmp(reply, "OK", 2) == 0;
}

unsigned
controlproto_timeout_ms(unsigned dns_timeout_ms)
{
	return 4 * dns_timeout_ms + 5000;
}

int
controlproto_ask(const char *path, const char *command, const char *argument, unsigned timeout_ms,
    struct buf *reply, char *err, size_t errlen)
{
	struct endpoint ep;
	struct buf spec, request;
	struct mapclient *mc = NULL;
	int rc = -1;

	buf_init(&spec);
	buf_init(&request);
	if (buf_printf(&spec, "unix:%s", path) < 0 || request_text(&request, command, argument) < 0) {
		snprintf(err, errlen, "out of memory");
	} else if (endpoint_parse(buf_ptr(&spec), &ep, err, errlen) == 0) {
		if (!(mc = mapclient_create(&ep)))
			snprintf(err, errlen, "out of memory");
		else if (mapclient_exchange(mc, buf_ptr(&request), buf_size(&request), CONTROLPROTO_MAX_REPLY,
		    timeout_ms, reply, err, errlen) == MAPCLIENT_OK)
			rc = 0;
	}
	mapclient_free(mc);
	buf_free(&spec);
	buf_free(&request);
	return rc;
}
