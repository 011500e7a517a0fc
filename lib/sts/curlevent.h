/*
 * curlevent - libcurl's multi interface driven by a libevent loop: curl's
 * sockets and its one timer become events on the caller's event_base
 * (CURLMOPT_SOCKETFUNCTION, CURLMOPT_TIMERFUNCTION,
 * curl_multi_socket_action), so transfers run beside everything else the
 * loop does, without threads and without blocking.
 *
 * The owner adds easy handles it has set up; when curl is done with one,
 * the done callback gets the handle and curl's result code (the owner
 * finds its own state through CURLOPT_PRIVATE). The handle is still in
 * the multi handle then: the owner removes it with curlevent_remove(),
 * from the callback or later.
 *
 * Ownership: curlevent_create() borrows the event base, which outlives
 * it. Easy handles stay the owner's: curlevent_remove() and
 * curlevent_free() never clean them up. The done callback may add and
 * remove handles and may call curlevent_free(), which then finishes when
 * the callback returns; no callback comes after curlevent_free().
 */
#ifndef TLSPOLICY_CURLEVENT_H
#define TLSPOLICY_CURLEVENT_H

#include <stddef.h>

#include <curl/curl.h>

struct event_base;
struct curlevent;

typedef void curlevent_done(void *arg, CURL *easy, CURLcode rc);

/* NULL with err filled in (curl_global_init() not called, memory). */
struct curlevent *curlevent_create(struct event_base *base, curlevent_done *cb, void *arg, char *err, size_t errlen);
/* 0, or -1 when curl refuses the handle. */
int curlevent_add(struct curlevent *ce, CURL *easy);
/* Stops a transfer (or forgets a finished one); no callback for it. */
void curlevent_remove(struct curlevent *ce, CURL *easy);
void curlevent_free(struct curlevent *ce);

#endif
