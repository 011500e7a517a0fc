/*
 * control - the administrator's socket: a unix socket that only root and
 * the daemon's group can reach (mode 0660, group of the `user` setting),
 * one request per connection.
 *
 * The protocol is controlproto.h's: one netstring "COMMAND [ARGUMENT]",
 * one reply, the close. A request must be whole within
 * CONTROLPROTO_REQUEST_TIMEOUT_S of the accept (a deadline, which no
 * trickle of bytes extends); one that is too long or malformed gets its
 * "ERROR" and the close. Once the request is in, nothing more is read
 * from the connection: what a client sends meanwhile stays in the
 * kernel's buffers, which stop it.
 *
 * The handler may answer at once or later (after a resolution): it gets a
 * struct control_request and calls control_reply() exactly once. If the
 * client goes away first, the reply is dropped quietly.
 *
 * Ownership: control_create() takes the listening descriptor; the server
 * borrows the event base.
 */
#ifndef TLSPOLICYD_CONTROL_H
#define TLSPOLICYD_CONTROL_H

#include <stddef.h>

struct event_base;
struct control;
struct control_request;

typedef void control_handler(void *arg, struct control_request *req, const char *command,
    const char *argument);

/* Binds path as endpoint_listen_unix() does (a stale socket replaced, the
 * directory's owner unable to redirect the hand-over): mode 0660, group
 * gid when >= 0. Returns the descriptor, or -1 with err. */
int control_listen(const char *path, long gid, char *err, size_t errlen);

struct control *control_create(struct event_base *base, int fd, control_handler *handler, void *arg);
void control_reply(struct control_request *req, const char *text);
void control_free(struct control *c);

#endif
