/*
 * controlproto - the control socket's protocol (control_socket), both
 * ends: the daemon's parsing of a request and framing of its reply, and
 * the client that the tlspolicy command asks it with.
 *
 * One request per connection. The client sends one netstring
 * "COMMAND [ARGUMENT]" of at most CONTROLPROTO_MAX_REQUEST bytes; the
 * daemon answers with one netstring that starts with "OK" or "ERROR
 * <why>", possibly several lines, and closes. A request must be whole
 * within CONTROLPROTO_REQUEST_TIMEOUT_S of the accept (the daemon's
 * deadline); nothing after the first netstring is read.
 *
 * The commands, and what each takes:
 *
 *   purge DEST      forget the cached answer for DEST
 *   refresh DEST    resolve DEST again, and probe its MX hosts now
 *   stats           the counters
 *   proposed        the exceptions the daemon proposes, one line each
 *   maillog [DEST]  what Postfix's log said about TLS: DEST's, or in all
 *
 * Contract: controlproto_parse_request(), controlproto_put_reply() and the
 * checks are pure, on the caller's bytes and buffers. controlproto_ask() is the
 * blocking client: it connects, asks and reads within its time limit
 * (mapclient.h), and holds nothing once it returns.
 */
#ifndef TLSPOLICY_CONTROLPROTO_H
#define TLSPOLICY_CONTROLPROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

#define CONTROLPROTO_MAX_REQUEST 4096
/* Bytes the daemon reads for one request, framing included: beyond, an error. */
#define CONTROLPROTO_MAX_INPUT (CONTROLPROTO_MAX_REQUEST + 16)
#define CONTROLPROTO_REQUEST_TIMEOUT_S 5
/* The longest reply the client reads: the proposals, up to 10 000 lines. */
#define CONTROLPROTO_MAX_REPLY (4u * 1024u * 1024u)

enum controlproto_argument {
	CONTROLPROTO_NO_DEST,		/* stats, proposed */
	CONTROLPROTO_DEST,		/* purge, refresh */
	CONTROLPROTO_MAYBE_DEST,	/* maillog */
};

enum controlproto_argument_check { CONTROLPROTO_ARGS_OK, CONTROLPROTO_UNKNOWN, CONTROLPROTO_BAD_ARGS };
/* Whether a command exists and takes nargs arguments (0 or 1 for a DEST);
 * with a static reason in *why when not ("name one destination"). */
enum controlproto_argument_check controlproto_check(const char *command, size_t nargs, const char **why);

/* What the bytes read so far hold (the daemon's end). */
enum controlproto_parse {
	CONTROLPROTO_INCOMPLETE,	/* read on, up to CONTROLPROTO_MAX_INPUT */
	CONTROLPROTO_REQUEST,		/* a request: command and argument are set */
	CONTROLPROTO_REFUSED,		/* answer *refusal (an ERROR reply) and close */
};

struct controlproto_request {
	const char *command;		/* into text */
	const char *argument;		/* into text; "" for none */
	char text[CONTROLPROTO_MAX_REQUEST + 1];
};

enum controlproto_parse controlproto_parse_request(const char *in, size_t len, struct controlproto_request *out,
    const char **refusal);

/* Appends the reply's netstring. 0 or -1. */
int controlproto_put_reply(struct buf *out, const char *text);

/* Whether a reply says OK (else it says ERROR <why>). */
bool controlproto_reply_ok(const char *reply, size_t len);

/* How long the client waits for a reply: a refresh waits for a resolution,
 * up to four rounds of lookups of dns_timeout each, and a margin. */
unsigned controlproto_timeout_ms(unsigned dns_timeout_ms);

/* The client: asks the daemon on the unix socket at path (argument NULL
 * or "" for none) and waits at
 * most timeout_ms in all. 0 with the reply's text in reply (replaced,
 * NUL-terminated), whatever it says; -1 with an English reason in err
 * that names the socket when no reply came (no daemon, no permission,
 * out of time, a reply that is no netstring). */
int controlproto_ask(const char *path, const char *command, const char *argument, unsigned timeout_ms,
    struct buf *reply, char *err, size_t errlen);

#endif
