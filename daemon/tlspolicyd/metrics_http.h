/*
 * metrics_http - the Prometheus endpoint: GET (or HEAD) /metrics on
 * metrics_listen (inet:ADDR:PORT; off when empty) answers the text
 * exposition that collect() writes at that moment; with a status()
 * (metrics_http_set_status), "/" answers the status page (HTML) and
 * "/status.json" its data, as status() writes them at that moment. Any
 * other path is 404, any other method 405. A query string is ignored. A small HTTP/1.1 server of its own on the daemon's
 * loop, one request per connection ("Connection: close").
 *
 * Limits, so that a local user cannot hold the daemon's descriptors
 * through it: at most METRICS_MAX_CONNECTIONS connections at once, and
 * METRICS_MAX_PER_PEER of them for one peer (peer.h: a local user, or a
 * remote address); one more is closed at once, unanswered, and counted.
 * A request head is at most METRICS_MAX_REQUEST bytes (431 beyond), and
 * the whole exchange, from the connection to the last byte of the reply,
 * must end within timeout_ms (request_timeout): a deadline, which no
 * trickle of bytes extends.
 *
 * The pages are sent with "Cache-Control: no-store" (they are now's),
 * and the HTML with "X-Content-Type-Options: nosniff" and a
 * Content-Security-Policy that lets it load nothing (statuspage.h).
 *
 * Ownership: borrows the event base; collect() and status() run on the
 * loop.
 */
#ifndef TLSPOLICYD_METRICS_HTTP_H
#define TLSPOLICYD_METRICS_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define METRICS_MAX_CONNECTIONS 8
#define METRICS_MAX_PER_PEER 4
#define METRICS_MAX_REQUEST 8192

struct event_base;
struct metrics_http;

struct metrics_http *metrics_http_create(struct event_base *base, const char *listen, unsigned timeout_ms,
    void (*collect)(void *arg, struct buf *out), void *arg, char *err, size_t errlen);
enum metrics_http_page { METRICS_HTTP_STATUS_HTML, METRICS_HTTP_STATUS_JSON };
/* Serves "/" and "/status.json" from status() (NULL: 404 there). */
void metrics_http_set_status(struct metrics_http *m,
    void (*status)(void *arg, enum metrics_http_page page, struct buf *out), void *arg);
/* For connections accepted from now on (a reload). */
void metrics_http_set_timeout(struct metrics_http *m, unsigned timeout_ms);
/* Connections closed at once: over a limit, or out of memory. */
uint64_t metrics_http_refused(const struct metrics_http *m);
void metrics_http_free(struct metrics_http *m);

#endif
