/*
 * alertspawn - the processes alerts start: alert_command, and sendmail for
 * alertmail.h. Started without a shell, watched until they exit, killed
 * when they take too long; every failure logged (level warning) as
 * event=alert-command-failed or event=alert-mail-failed with the alert's
 * kind and dest, the command or recipient, and the error, exit status or
 * signal.
 *
 * alert_command:
 * - Split on white space (space, tab, newline, CR, FF, VT) into words and
 *   nothing else: no quotes, escapes, variables, globs, redirections or
 *   pipes; the words are the argv as they are. A first word without '/'
 *   is looked for in /usr/sbin, /usr/bin, /sbin and /bin.
 * - Nothing from the alert ever becomes an argument. Its environment is
 *   PATH=/usr/sbin:/usr/bin:/sbin:/bin and the alert, and nothing else:
 *   TLSPOLICY_ALERT_KIND, TLSPOLICY_ALERT_DEST, TLSPOLICY_ALERT_LINE (the
 *   whole key=value line) and TLSPOLICY_ALERT_<KEY> for each field, keys
 *   upper-cased, every character other than A-Z, 0-9 and _ made _, the
 *   first of two equal names kept; values cut at the first newline or
 *   carriage return and at ALERTSPAWN_ENV_VALUE_MAX (TLSPOLICY_ALERT_LINE
 *   holds every value whole, quoted as in the log, up to that size).
 * - TLSPOLICY_ALERT_DEST is set only for "-" (no destination) or a valid
 *   next hop as the daemon writes one (alertspawn_dest_ok()): a
 *   recipient domain from Postfix's log can hold shell metacharacters,
 *   and a script may use the variable unquoted. For any other dest the
 *   variable is left out.
 *
 * Every child gets /dev/null as standard output and error, so nothing it
 * prints can reach the daemon's log, and as standard input unless it is
 * given one; only the descriptors 0-2; every signal at its default and
 * none blocked; a process group of its own, which is what is killed
 * (SIGKILL) after ALERTSPAWN_TIMEOUT_S or by alertspawn_free(). At most
 * ALERTSPAWN_CHILDREN_MAX run at once: one more fails, logged.
 *
 * Children are reaped by alertspawn_reap(), which the owner calls on
 * SIGCHLD or a timer; it never waits.
 *
 * Ownership: borrows the log; copies what it keeps of an alert.
 */
#ifndef TLSPOLICY_ALERTSPAWN_H
#define TLSPOLICY_ALERTSPAWN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"
#include "util/log.h"

#define ALERTSPAWN_TIMEOUT_S 30
#define ALERTSPAWN_CHILDREN_MAX 16
#define ALERTSPAWN_ENV_VALUE_MAX 32768	/* Linux takes up to 128 KiB a string */
/* The PATH of every child, and where a bare command name is looked for. */
#define ALERTSPAWN_SAFE_PATH "/usr/sbin:/usr/bin:/sbin:/bin"

/* What a child is for: says which failure line it gets, and which
 * failures alertspawn_commands_failed() counts. */
enum alertspawn_role { ALERTSPAWN_COMMAND, ALERTSPAWN_MAIL };

struct alertspawn;

struct alertspawn *alertspawn_create(struct log *log);
/* Kills and reaps what still runs. */
void alertspawn_free(struct alertspawn *sp);

/* alert_command split into words: *argv points into *words, ends with
 * NULL, and is NULL when there are none. The caller frees both. 0, or -1
 * when out of memory. */
int alertspawn_words(const char *command, char **words, char ***argv);
/* Whether dest may go into TLSPOLICY_ALERT_DEST (see above). */
bool alertspawn_dest_ok(const char *dest);

/* Starts alert_command (argv from alertspawn_words()) for one alert:
 * fields are key, value, ..., NULL; line the logged key=value line. A
 * failure to start is logged and counted. */
void alertspawn_command(struct alertspawn *sp, char *const argv[], const char *kind, const char *dest,
    const char *const *fields, const struct buf *line, uint64_t now_ms);

/* For other children (sendmail): whether one more would be too many. */
bool alertspawn_full(const struct alertspawn *sp);
/* Starts path with argv and envp, its input from in_fd (-1: /dev/null).
 * what names it in failure lines. Its pid, or -1 with the failure logged. */
pid_t alertspawn_start(struct alertspawn *sp, enum alertspawn_role role, const char *path, char *const argv[],
    char *const envp[], int in_fd, const char *kind, const char *dest, const char *what, uint64_t now_ms);
/* Kills a child alertspawn_start() just gave, with error as its failure
 * (it is reaped later). */
void alertspawn_abandon(struct alertspawn *sp, pid_t pid, const char *error);
/* Logs a failure that came before there was a child to start. */
void alertspawn_failed(struct alertspawn *sp, enum alertspawn_role role, const char *kind, const char *dest,
    const char *what, const char *error);

/* Reaps children that exited and kills those past their time. */
void alertspawn_reap(struct alertspawn *sp, uint64_t now_ms);
/* alert_command runs that failed: to start, by their exit status or a
 * signal, or by the timeout. */
uint64_t alertspawn_commands_failed(const struct alertspawn *sp);

#endif
