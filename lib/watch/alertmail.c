/* alertmail - the mail of an alert; see alertmail.h for the contract. */
#include "autoconfig.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "watch/alertmail.h"

#define SUBJECT_PART_MAX 200
#define RECIPIENT_SHOWN_MAX 500

/* Printable ASCII only (others become '?'), at most max bytes: for headers. */
static void
put_header_text(struct buf *b, const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		buf_putc(b, c >= 0x20 && c < 0x7f ? (char)c : '?');
	}
	if (s[i])
		buf_puts(b, "...");
}

/* Body text: non-printable bytes and '\' escaped as in the log (\xNN,
 * \\), lines broken at ALERTMAIL_LINE_MAX; *col is the current column. */
static void
put_escaped(struct buf *b, const char *s, size_t *col)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (*col >= ALERTMAIL_LINE_MAX) {
			buf_putc(b, '\n');
			*col = 0;
		}
		if (c == '\\') {
			buf_puts(b, "\\\\");
			*col += 2;
		} else if (c >= 0x20 && c < 0x7f) {
			buf_putc(b, (char)c);
			(*col)++;
		} else {
			buf_printf(b, "\\x%02x", c);
			*col += 4;
		}
	}
}

/* "key: value", one line (or more if long). */
static void
put_body_line(struct buf *b, const char *key, const char *value)
{
	size_t col = 0;

	put_escaped(b, key, &col);
	buf_puts(b, ": ");
	col += 2;
	put_escaped(b, value, &col);
	buf_putc(b, '\n');
}

/* The alert line as logged (kv.h: printable ASCII already), broken into
 * lines of ALERTMAIL_LINE_MAX if long. */
static void
put_line_as_is(struct buf *b, const struct buf *line)
{
	const char *p = buf_ptr(line);
	size_t n = buf_size(line);

	while (n > 0) {
		size_t k = n > ALERTMAIL_LINE_MAX ? ALERTMAIL_LINE_MAX : n;
		buf_append(b, p, k);
		buf_putc(b, '\n');
		p += k;
		n -= k;
	}
}

static void
put_date(struct buf *b, time_t t)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
	    "Oct", "Nov", "Dec"};
	struct tm tm;

	gmtime_r(&t, &tm);
	buf_printf(b, "Date: %s, %d %s %d %02d:%02d:%02d +0000\n", days[tm.tm_wday % 7], tm.tm_mday,
	    months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void
alertmail_compose(const char *recipient, const char *kind, const char *dest, const char *const *fields,
    const struct buf *line, time_t date, struct buf *m)
{
	size_t start = buf_size(m);

	buf_puts(m, "From: tlspolicyd\nTo: ");
	put_header_text(m, recipient, RECIPIENT_SHOWN_MAX);
	buf_puts(m, "\nSubject: tlspolicyd alert: ");
	put_header_text(m, kind, SUBJECT_PART_MAX);
	buf_puts(m, " for ");
	put_header_text(m, dest, SUBJECT_PART_MAX);
	buf_putc(m, '\n');
	put_date(m, date);
	buf_puts(m, "Auto-Submitted: auto-generated\nMIME-Version: 1.0\n"
	    "Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n");
	put_line_as_is(m, line);
	buf_putc(m, '\n');
	put_body_line(m, "kind", kind);
	put_body_line(m, "dest", dest);
	for (size_t i = 0; fields && fields[i] && fields[i + 1]; i += 2)
		put_body_line(m, fields[i], fields[i + 1]);
	if (buf_size(m) - start > ALERTMAIL_MAX) {
		buf_truncate(m, start + ALERTMAIL_MAX - 32);
		buf_puts(m, "\n[message truncated]\n");
	}
}

/* Writes all of [p, p+n) within the timeout. Returns 0 or an errno value. */
static int
write_within(int fd, const char *p, size_t n, int timeout_ms)
{
	struct timespec start, t;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return errno;
		clock_gettime(CLOCK_MONOTONIC, &t);
		long spent = (t.tv_sec - start.tv_sec) * 1000 + (t.tv_nsec - start.tv_nsec) / 1000000;
		if (spent >= timeout_ms)
			return ETIMEDOUT;
		struct pollfd pfd = {fd, POLLOUT, 0};
		if (poll(&pfd, 1, (int)(timeout_ms - spent)) < 0 && errno != EINTR)
			return errno;
	}
	return 0;
}

void
alertmail_send(struct alertspawn *sp, char *sendmail, char *recipient, const char *kind, const char *dest,
    const char *const *fields, const struct buf *line, uint64_t now_ms)
{
	char opt_i[] = "-i", dashes[] = "--", path_env[] = "PATH=" ALERTSPAWN_SAFE_PATH;
	char *argv[] = {sendmail, opt_i, dashes, recipient, NULL};
	char *envp[] = {path_env, NULL};
	struct buf m;
	int sv[2], rc;

	if (alertspawn_full(sp)) {
		alertspawn_failed(sp, ALERTSPAWN_MAIL, kind, dest, recipient, "too many alert commands still running");
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		alertspawn_failed(sp, ALERTSPAWN_MAIL, kind, dest, recipient, strerror(errno));
		return;
	}
	shutdown(sv[1], SHUT_WR);	/* sendmail's end reads only */
	pid_t pid = alertspawn_start(sp, ALERTSPAWN_MAIL, sendmail, argv, envp, sv[1], kind, dest, recipient, now_ms);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return;
	}
	buf_init(&m);
	alertmail_compose(recipient, kind, dest, fields, line, time(NULL), &m);
	rc = write_within(sv[0], buf_ptr(&m), buf_size(&m), ALERTMAIL_WRITE_TIMEOUT_MS);
	buf_free(&m);
	if (rc != 0)	/* No half message goes out. */
		alertspawn_abandon(sp, pid, rc == ETIMEDOUT ? "sendmail did not take the message in time" : strerror(rc));
	close(sv[0]);
}
