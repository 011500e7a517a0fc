/*
 * alertmail - the mail to alert_recipient for one alert, through the
 * local sendmail (sendmail -i -- RECIPIENT, the message on its input,
 * PATH its only environment), started by alertspawn.h.
 *
 * The message: From: tlspolicyd (the local part; sendmail adds the
 * domain), To, Subject: "tlspolicyd alert: KIND for DEST" (printable
 * ASCII only, anything else '?', so no name can add a header), Date
 * (UTC), Auto-Submitted: auto-generated, plain US-ASCII text; the body is
 * the alert line, a blank line, then "key: value" for kind, dest and each
 * field, values escaped as in the log (\xNN, \\), lines broken at
 * ALERTMAIL_LINE_MAX bytes. At most ALERTMAIL_MAX bytes: a longer one is
 * cut and says so.
 *
 * The message goes to sendmail's input through a socket pair (not a pipe,
 * so that writing to a sendmail that went away cannot raise SIGPIPE), at
 * once or within ALERTMAIL_WRITE_TIMEOUT_MS; a sendmail that does not
 * take it in time is killed, so that no truncated message goes out.
 * Failures are logged by alertspawn as event=alert-mail-failed.
 */
#ifndef TLSPOLICY_ALERTMAIL_H
#define TLSPOLICY_ALERTMAIL_H

#include <stdint.h>
#include <time.h>

#include "util/buf.h"
#include "watch/alertspawn.h"

#define ALERTMAIL_MAX 32768
#define ALERTMAIL_LINE_MAX 900		/* RFC 5322 allows 998 */
#define ALERTMAIL_WRITE_TIMEOUT_MS 500
#define ALERTMAIL_DEFAULT_SENDMAIL "/usr/sbin/sendmail"

/* The message, dated date, appended to m. fields: key, value, ..., NULL;
 * line: the logged key=value line. Pure. */
void alertmail_compose(const char *recipient, const char *kind, const char *dest, const char *const *fields,
    const struct buf *line, time_t date, struct buf *m);

/* Composes the message and hands it to sendmail. sendmail and recipient
 * are not const: they become sendmail's argv. */
void alertmail_send(struct alertspawn *sp, char *sendmail, char *recipient, const char *kind, const char *dest,
    const char *const *fields, const struct buf *line, uint64_t now_ms);

#endif
