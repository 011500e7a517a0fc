/*
 * server - the daemon's socketmap listeners and connections on one
 * libevent loop.
 *
 * Each connection carries any number of sequential requests. Requests are
 * answered in order: a request that must wait for DNS holds back the ones
 * pipelined behind it on the same connection, never those of other
 * connections. A framing error (garbage, an oversize netstring) gets
 * "PERM <reason>" and the connection is closed after the reply is sent; a
 * well-framed request with an unknown map name or an invalid key gets PERM
 * and the connection stays open. A connection silent for client_timeout
 * is closed, and so is one whose request is not complete request_timeout
 * after its first byte (time spent answering earlier requests aside). At
 * max_connections the listeners pause until one closes; a peer (peer.h)
 * with max_connections_per_peer open has any further one closed at once.
 *
 * Besides the map_names, the listeners flagged status (status_listen)
 * answer the status map (status.h) for tlspolicy-milter: the same lookup,
 * with probe evidence added. Elsewhere that name is unknown (PERM): its
 * answers (cache=hit) say which destinations this host mails.
 *
 * Ownership: server_create() takes the listening descriptors (it closes
 * them), borrows the log, the policymap and the event base, and takes a
 * reference to the configuration.
 */
#ifndef TLSPOLICYD_SERVER_H
#define TLSPOLICYD_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "util/log.h"
#include "serve/policymap.h"
#include "report/daemonmetrics.h"

struct event_base;
struct server;

/* fds, names and status: nfds listeners, status[i] for those that answer
 * the status map. */
struct server *server_create(struct event_base *base, struct log *log, struct policymap *pm,
    struct config *cfg, const int *fds, const char *const *names, const bool *status, size_t nfds);
void server_set_config(struct server *srv, struct config *cfg);

/* Stops accepting, closes idle connections, and calls done once the last
 * connection has its answers sent (or after grace_ms, closing the rest). */
void server_drain(struct server *srv, unsigned grace_ms, void (*done)(void *arg), void *arg);
size_t server_connections(const struct server *srv);

/* How the status map learns that probes found every DANE host of a
 * destination (canonical next-hop key) presenting a chain that matches
 * none of its TLSA records. Unset: never. */
void server_set_probe_view(struct server *srv, bool (*all_mismatch)(void *arg, const char *dest), void *arg);

/* The counters the metrics show (daemonmetrics.h). */
void server_stats(const struct server *srv, struct daemonmetrics_socketmap *out);
void server_free(struct server *srv);

#endif
