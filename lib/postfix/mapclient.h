/*
 * mapclient - a socketmap client that never waits past a deadline: how
 * tlspolicy-milter and `tlspolicy query` ask the daemon (and, through
 * mapclient_exchange(), how the tlspolicy command reaches its control
 * socket).
 *
 * One connection, opened on first use and reused by every later query. A
 * query that fails or runs out of time closes it, since a reply that
 * arrives late would otherwise be read as the answer to the next query;
 * the next query connects again. Connecting, sending and reading all count
 * against the query's time.
 *
 * Ownership: mapclient_create() copies the endpoint; mapclient_free()
 * closes the connection. Not thread-safe: one client per thread.
 */
#ifndef TLSPOLICY_MAPCLIENT_H
#define TLSPOLICY_MAPCLIENT_H

#include <stddef.h>

#include "util/buf.h"
#include "util/endpoint.h"
#include "postfix/socketmap.h"

enum { MAPCLIENT_OK = 0, MAPCLIENT_ERROR = -1, MAPCLIENT_TIMEOUT = -2 };

struct mapclient;

struct mapclient *mapclient_create(const struct endpoint *ep);
void mapclient_free(struct mapclient *mc);

/* Asks "<name> <key>" and waits at most timeout_ms in all. MAPCLIENT_OK
 * with *status and the reply's text in text (replaced, NUL-terminated);
 * otherwise MAPCLIENT_ERROR or MAPCLIENT_TIMEOUT with an English reason in
 * err that names the server. */
int mapclient_query(struct mapclient *mc, const char *name, const char *key, unsigned timeout_ms,
    enum socketmap_status *status, struct buf *text, char *err, size_t errlen);

/* The same exchange for another protocol framed in netstrings (the control
 * socket, controlproto.h): sends the request's netstring, and reads one
 * reply netstring of at most max_reply bytes, whose payload it puts in
 * reply (replaced, NUL-terminated). Same results, reasons and deadline. */
int mapclient_exchange(struct mapclient *mc, const char *request, size_t request_len, size_t max_reply,
    unsigned timeout_ms, struct buf *reply, char *err, size_t errlen);

#endif
