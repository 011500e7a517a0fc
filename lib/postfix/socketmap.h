/*
 * socketmap - Postfix's socketmap protocol (socketmap_table(5)) above the
 * netstring framing: requests "<name> <key>", replies "OK <value>",
 * "NOTFOUND ", "TEMP <reason>", "TIMEOUT <reason>", "PERM <reason>".
 *
 * Limits are Postfix's own: it accepts replies of at most
 * SOCKETMAP_MAX_REPLY bytes (socketmap_table(5)) and sends requests of at
 * most SOCKETMAP_MAX_REQUEST bytes; it gives up on a server after 100 s and
 * closes an idle connection after 10 s (its client's fixed settings, which
 * socketmap_table(5) says are not yet configurable).
 *
 * Contract: pure functions on caller-owned bytes. Reply text is made safe
 * for Postfix's one-line logs: bytes outside printable ASCII become '?',
 * and text is cut to fit the reply limit.
 */
#ifndef TLSPOLICY_SOCKETMAP_H
#define TLSPOLICY_SOCKETMAP_H

#include <stddef.h>

#include "util/buf.h"

#define SOCKETMAP_MAX_REQUEST 10000
#define SOCKETMAP_MAX_REPLY 100000

enum socketmap_status {
	SOCKETMAP_OK,
	SOCKETMAP_NOTFOUND,
	SOCKETMAP_TEMP,
	SOCKETMAP_TIMEOUT,
	SOCKETMAP_PERM,
};

/* Splits a request at its first space; -1 when there is no space, the name
 * is empty or the key is empty. */
int socketmap_split(const char *p, size_t n, const char **name, size_t *name_len,
    const char **key, size_t *key_len);

/* Appends one reply netstring. text may be NULL (NOTFOUND has none). */
int socketmap_reply(struct buf *out, enum socketmap_status status, const char *text);

/* Appends one request netstring "<name> <key>". */
int socketmap_request(struct buf *out, const char *name, const char *key);

/* Parses a reply payload: its status and where its text starts. -1 for a
 * status word Postfix would not accept. */
int socketmap_parse_reply(const char *p, size_t n, enum socketmap_status *status,
    const char **text, size_t *text_len);

const char *socketmap_status_name(enum socketmap_status s);

#endif
