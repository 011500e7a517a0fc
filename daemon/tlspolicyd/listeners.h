/*
 * listeners - the daemon's sockets, bound while it is still root: the
 * socketmap listeners of listen and status_listen, and the control
 * socket.
 *
 * A unix socket of listen is mode 0660 for listen_group (empty: 0666, for
 * everyone), handed over before it appears at its path (endpoint.h). The
 * daemon's own sockets (status_listen, control_socket) are mode 0660 for
 * the group of `user` when started as root to become it, else the
 * daemon's own: root and tlspolicy-milter reach them, Postfix has no use
 * for them. Their directories are made when missing (/run/tlspolicyd
 * outside systemd).
 *
 * Ownership: the caller owns the descriptors returned.
 */
#ifndef TLSPOLICYD_LISTENERS_H
#define TLSPOLICYD_LISTENERS_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

/* The socketmap listeners: those of listen, then those of status_listen
 * (flagged in status), at most 2 * CONFIG_MAX_LISTEN. 0 with *n of them,
 * or -1 with err. */
int listeners_open(const struct config *cfg, int *fds, const char **names, bool *status, size_t *n,
    char *err, size_t errlen);
/* The control socket (control_socket, not empty): its descriptor, or -1
 * with err. */
int listeners_open_control(const struct config *cfg, char *err, size_t errlen);

#endif
