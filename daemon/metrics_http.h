/*
 * metrics_http - the Prometheus endpoint: GET /metrics on metrics_listen
 * (inet:ADDR:PORT; off when empty) answers the text exposition that
 * collect() writes at that moment. Anything else is 404. Served by
 * libevent's own HTTP server on the daemon's loop.
 *
 * Ownership: borrows the event base; collect() runs on the loop.
 */
#ifndef TLSPOLICYD_METRICS_HTTP_H
#define TLSPOLICYD_METRICS_HTTP_H

#include <stddef.h>

#include "buf.h"

struct event_base;
struct metrics_http;

struct metrics_http *metrics_http_create(struct event_base *base, const char *listen,
    void (*collect)(void *arg, struct buf *out), void *arg, char *err, size_t errlen);
void metrics_http_free(struct metrics_http *m);

#endif
