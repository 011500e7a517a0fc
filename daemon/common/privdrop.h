/*
 * privdrop - become the configured unprivileged user after binding.
 *
 * privdrop() does nothing when user is empty. When the process is not
 * root it cannot switch: it says so in *note unless it already runs as
 * that user. As root it sets the user's group and supplementary groups
 * (those /etc/group gives the user, none of root's), sets the user, and
 * verifies that root cannot be regained. Returns 0, or -1 with an English message in err.
 */
#ifndef TLSPOLICYD_PRIVDROP_H
#define TLSPOLICYD_PRIVDROP_H

#include <stddef.h>

int privdrop(const char *user, char *note, size_t notelen, char *err, size_t errlen);

#endif
