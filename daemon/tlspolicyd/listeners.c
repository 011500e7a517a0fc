/* listeners - the daemon's sockets; see listeners.h. */
#include "autoconfig.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "util/endpoint.h"
#include "listeners.h"

/* The directory of the control or a status socket, made if missing
 * (/run/tlspolicyd outside systemd). */
static int
make_socket_directory(const char *setting, const char *path, char *err, size_t errlen)
{
	char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
	int rc = 0;

	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "%s %s: cannot create %s: %s", setting, path, dir, strerror(errno));
			rc = -1;
		}
	}
	free(dir);
	return rc;
}

/* The group of the daemon's own sockets (control, status): the user's,
 * when started as root to become it; otherwise -1, the daemon's own. */
static long
own_socket_group(const struct config *cfg)
{
	struct passwd *pw = geteuid() == 0 && cfg->user[0] ? getpwnam(cfg->user) : NULL;

	return pw ? (long)pw->pw_gid : -1;
}

/* A unix listener is made with mode 0660 and handed to listen_group before
 * it appears at its path (endpoint.h), so there is no moment when another
 * user could connect, and the owner of its directory cannot aim the
 * ownership change elsewhere; an empty listen_group opens it to everyone. */
static int
open_unix_to_group(const struct endpoint *ep, const char *group, char *err, size_t errlen)
{
	struct endpoint_unix_access access = {.mode = 0666, .gid = -1};
	struct group *gr = NULL;

	if (group[0] && !(gr = getgrnam(group))) {
		snprintf(err, errlen, "%s: listen_group %s: no such group", ep->text, group);
		return -1;
	}
	if (gr) {
		access.mode = 0660;
		access.gid = (long)gr->gr_gid;
	}
	int fd = endpoint_listen_unix(ep, SOMAXCONN, &access, err, errlen);
	if (fd < 0 && gr && errno == EPERM) {
		size_t n = strlen(err);
		snprintf(err + n, errlen - n, " (the daemon must start as root or be a member of %s: under "
		    "systemd, SupplementaryGroups=%s)", group, group);
	}
	return fd;
}

/* The socketmap listeners: those of listen, then those of status_listen
 * (flagged in status). A unix status socket is, like the control socket,
 * for root and the daemon's group (tlspolicy-milter runs as the daemon's
 * user), not for listen_group: Postfix has no use for it. */
int
listeners_open(const struct config *cfg, int *fds, const char **names, bool *status, size_t *n,
    char *err, size_t errlen)
{
	*n = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (char *const *spec = pass ? cfg->status_listen : cfg->listen; *spec; spec++) {
			struct endpoint ep;
			int fd;
			if (endpoint_parse(*spec, &ep, err, errlen) < 0)
				return -1;
			if (!ep.is_unix) {
				fd = endpoint_listen(&ep, SOMAXCONN, err, errlen);
			} else if (!pass) {
				fd = open_unix_to_group(&ep, cfg->listen_group, err, errlen);
			} else {
				struct endpoint_unix_access access = {.mode = 0660, .gid = own_socket_group(cfg)};
				fd = make_socket_directory("status_listen", *spec + 5, err, errlen) < 0 ? -1
				    : endpoint_listen_unix(&ep, SOMAXCONN, &access, err, errlen);
			}
			if (fd < 0)
				return -1;
			fds[*n] = fd;
			names[*n] = *spec;
			status[*n] = pass == 1;
			(*n)++;
		}
	}
	return 0;
}

int
listeners_open_control(const struct config *cfg, char *err, size_t errlen)
{
	if (make_socket_directory("control_socket", cfg->control_socket, err, errlen) < 0)
		return -1;
	return control_listen(cfg->control_socket, own_socket_group(cfg), err, errlen);
}
