/*
 * control - the administrator's socket: a unix socket that only root and
 * the daemon's group can reach (mode 0660, group of the `user` setting),
 * one request per connection.
 *
 * Protocol: the client sends one netstring "COMMAND [ARGUMENT]"; the daemon
 * answers with one netstring that starts with "OK" or "ERROR", possibly
 * several lines, and closes. A request must be whole within five seconds
 * of the accept (a deadline, which no trickle of bytes extends) and be at
 * most CONTROL_MAX_REQUEST bytes; a longer one gets "ERROR" and the close.
 * Once the request is in, nothing more is read from the connection: what
 * a client sends meanwhile stays in the kernel's buffers, which stop it.
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

#define CONTROL_MAX_REQUEST 4096

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
