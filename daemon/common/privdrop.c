/* privdrop - drop root; see privdrop.h. */
#include "autoconfig.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "privdrop.h"

int
privdrop(const char *user, char *note, size_t notelen, char *err, size_t errlen)
{
	note[0] = '\0';
	if (!user || !*user)
		return 0;
	if (geteuid() != 0) {
		/* Not ours to change: say so, unless we already are that user. */
		struct passwd *self = getpwuid(geteuid());
		if (!self || strcmp(self->pw_name, user) != 0)
			snprintf(note, notelen, "not started as root: running as uid %u; the user setting "
			    "('%s') applies only when started as root", (unsigned)geteuid(), user);
		return 0;
	}
	errno = 0;
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		snprintf(err, errlen, "user '%s' does not exist%s%s: create it (adduser --system --group "
		    "--no-create-home %s) or change the user setting", user, errno ? ": " : "",
		    errno ? strerror(errno) : "", user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "user '%s' is root: choose an unprivileged user", user);
		return -1;
	}
	/* The user's own groups, and no others of root's: membership of adm is
	 * how an administrator lets it read /var/log/mail.log (maillog_file). */
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		snprintf(err, errlen, "cannot become user '%s': %s", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0 || seteuid(0) == 0) {
		snprintf(err, errlen, "could regain root after switching to '%s'", user);
		return -1;
	}
	return 0;
}
