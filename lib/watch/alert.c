/*
 * alert - the alert lines, their deduplication and hourly limit, and the
 * commands and mails they start; see alert.h for the contract.
 *
 * Details the header leaves open:
 *
 * - interval_ms = 0 turns deduplication off; max_per_hour = 0 means no
 *   hourly limit.
 * - Deduplication remembers (kind, destination) pairs in a keyed hash
 *   table, with a list in the order they were last touched. Entries that
 *   no longer hold anything back are forgotten as new ones come in, and
 *   the table never holds more than ALERT_KEYS_MAX: past that the entry
 *   touched longest ago goes (so a pair can at worst be repeated early,
 *   never lost).
 * - The hour starts with the first alert raised and ends an hour later;
 *   alerts over the limit are counted once per (kind, destination) and
 *   the count is logged as "event=alerts-held count=N max_per_hour=M"
 *   (level alert) by the first alerter_raise() or alert_reap() after the
 *   hour is over, or by alerter_free().
 * - alert_command is split on white space (space, tab, newline, CR, FF,
 *   VT) into words and nothing else: no quotes, escapes, variables,
 *   globs, redirections or pipes; the words are the argv as they are. A
 *   first word without '/' is looked for in /usr/sbin, /usr/bin, /sbin
 *   and /bin. The command's environment holds PATH=/usr/sbin:/usr/bin:
 *   /sbin:/bin and the TLSPOLICY_ALERT_* variables and nothing else
 *   (TLSPOLICY_ALERT_DEST only for a valid destination, see alert.h):
 *   field keys upper-cased, every character other than A-Z, 0-9 and _
 *   made _, the first of two equal names kept; values cut at the first
 *   newline or carriage return and at 32 KiB (TLSPOLICY_ALERT_LINE holds
 *   every value whole, quoted as in the log, up to that size).
 * - Children (the command and sendmail) get /dev/null as standard output
 *   and error, so nothing they print can reach the daemon's log; only the
 *   descriptors 0-2; every signal at its default and none blocked; a
 *   process group of their own, which is what is killed (SIGKILL) at the
 *   timeout or by alerter_free(). At most ALERT_CHILDREN_MAX run at once:
 *   a command that would be one more fails (logged and counted).
 * - The mail: From: tlspolicyd (the local part; sendmail adds the
 *   domain), To, Subject: "tlspolicyd alert: KIND for DEST" (printable
 *   ASCII only, anything else '?', so no name can add a header), Date
 *   (UTC), Auto-Submitted: auto-generated, plain US-ASCII text; the body
 *   is the alert line, a blank line, then "key: value" for kind, dest
 *   and each field, values escaped as in the log (\xNN, \\), lines
 *   broken at 900 bytes.
 * - The mail goes to sendmail's input through a socket pair (not a pipe,
 *   so that writing to a sendmail that went away cannot raise SIGPIPE).
 *   It is at most MAIL_MAX bytes and is written at once or within
 *   MAIL_WRITE_TIMEOUT_MS; a sendmail that does not take it in time is
 *   killed, so that no truncated message goes out. Mail failures are
 *   logged; alert_stats has no counter for them (mails counts attempts).
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if !(defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34)))
#include <dirent.h>
#endif

#include "watch/alert.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/kv.h"
#include "postfix/nexthop.h"

#define ALERT_KEYS_MAX 4096
#define ALERT_BUCKETS 1024		/* a power of two */
#define ALERT_CHILDREN_MAX 16
#define ALERT_KINDS_MAX 64		/* kinds are the callers' constants */
#define HOUR_MS 3600000u
#define MAIL_MAX 32768
#define MAIL_WRITE_TIMEOUT_MS 500
#define MAIL_LINE_MAX 900		/* RFC 5322 allows 998 */
#define SUBJECT_PART_MAX 200
#define DEFAULT_SENDMAIL "/usr/sbin/sendmail"
#define SAFE_PATH "/usr/sbin:/usr/bin:/sbin:/bin"
#define ENV_PREFIX "TLSPOLICY_ALERT_"
#define ENV_VALUE_MAX 32768		/* Linux takes up to 128 KiB a string */

struct entry {
	struct entry *chain;		/* next in the bucket */
	struct entry *older, *newer;	/* the list in order of last_ms */
	uint64_t hash;
	uint64_t last_ms;		/* raised or held then */
	uint64_t hour;			/* held: in which hour (hour_seq) */
	bool raised;			/* false: held over the hourly limit */
	size_t size;			/* of key[]: kind NUL dest NUL */
	char key[];
};

struct child {
	pid_t pid;
	uint64_t start_ms;
	bool mail;
	bool killed;			/* and already reported */
	char *kind, *dest, *what;	/* for the failure line */
};

struct kind_count {
	char *kind;
	uint64_t n;
};

struct settings {
	char *command;			/* the words, NUL-separated */
	char **argv;			/* NULL when there is no command */
	char *recipient;		/* NULL when there is none */
	char *sendmail;
	uint64_t interval_ms;
	unsigned max_per_hour;
};

struct alerter {
	struct log *log;
	struct settings set;
	struct hash_key hkey;
	struct entry **buckets;
	struct entry *oldest, *newest;
	size_t nentries;
	bool hour_open;
	uint64_t hour_start_ms, hour_seq;
	unsigned hour_raised;
	uint64_t hour_held;		/* distinct (kind, dest) this hour */
	struct child children[ALERT_CHILDREN_MAX];
	size_t nchildren;
	struct kind_count kinds[ALERT_KINDS_MAX];
	size_t nkinds;
	struct alert_stats stats;
};

static uint64_t
elapsed(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

/* -- settings -- */

static void
settings_free(struct settings *s)
{
	free(s->command);
	free(s->argv);
	free(s->recipient);
	free(s->sendmail);
	memset(s, 0, sizeof(*s));
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int
settings_copy(struct settings *to, const struct alert_settings *s)
{
	const char *cmd = s->command ? s->command : "";
	size_t nwords = 0;

	memset(to, 0, sizeof(*to));
	to->interval_ms = s->interval_ms;
	to->max_per_hour = s->max_per_hour;
	if (!(to->sendmail = strdup(s->sendmail && *s->sendmail ? s->sendmail : DEFAULT_SENDMAIL)))
		goto fail;
	if (s->recipient && *s->recipient && !(to->recipient = strdup(s->recipient)))
		goto fail;
	if (!(to->command = strdup(cmd)))
		goto fail;
	for (char *p = to->command; *p;) {
		while (is_space(*p))
			*p++ = '\0';
		if (!*p)
			break;
		nwords++;
		while (*p && !is_space(*p))
			p++;
	}
	if (nwords == 0)
		return 0;
	if (!(to->argv = calloc(nwords + 1, sizeof(*to->argv))))
		goto fail;
	/* The words, NUL-separated now, in the command's copy. */
	size_t n = 0, len = strlen(cmd);
	for (size_t i = 0; i < len && n < nwords; i++)
		if (to->command[i] && (i == 0 || !to->command[i - 1]))
			to->argv[n++] = to->command + i;
	return 0;
fail:
	settings_free(to);
	return -1;
}

/* -- the (kind, dest) table -- */

static uint64_t
key_hash(const struct alerter *a, const char *kind, const char *dest, char *scratch, size_t size)
{
	size_t kl = strlen(kind) + 1;

	memcpy(scratch, kind, kl);
	memcpy(scratch + kl, dest, size - kl);
	return hash_siphash13(a->hkey, scratch, size);
}

static struct entry *
entry_find(const struct alerter *a, uint64_t h, const char *key, size_t size)
{
	for (struct entry *e = a->buckets[h & (ALERT_BUCKETS - 1)]; e; e = e->chain)
		if (e->hash == h && e->size == size && memcmp(e->key, key, size) == 0)
			return e;
	return NULL;
}

static void
list_unlink(struct alerter *a, struct entry *e)
{
	if (e->older)
		e->older->newer = e->newer;
	else
		a->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		a->newest = e->older;
	e->older = e->newer = NULL;
}

static void
list_append(struct alerter *a, struct entry *e)
{
	e->older = a->newest;
	e->newer = NULL;
	if (a->newest)
		a->newest->newer = e;
	else
		a->oldest = e;
	a->newest = e;
}

static void
entry_remove(struct alerter *a, struct entry *e)
{
	struct entry **pp = &a->buckets[e->hash & (ALERT_BUCKETS - 1)];

	while (*pp != e)
		pp = &(*pp)->chain;
	*pp = e->chain;
	list_unlink(a, e);
	free(e);
	a->nentries--;
}

/* Whether the entry still holds anything back. */
static bool
entry_live(const struct alerter *a, const struct entry *e, uint64_t now)
{
	if (e->raised)
		return elapsed(now, e->last_ms) < a->set.interval_ms;
	return a->hour_open && e->hour == a->hour_seq;
}

/* Forgets, oldest first, what no longer holds anything back; the list is
 * in time order, so this stops at the first entry still in force. */
static void
prune(struct alerter *a, uint64_t now)
{
	while (a->oldest && !entry_live(a, a->oldest, now))
		entry_remove(a, a->oldest);
}

/* Records (kind, dest) as raised or held now: found or inserted, last in
 * the list. Out of memory, nothing is remembered (the alert may repeat). */
static void
entry_touch(struct alerter *a, struct entry *e, uint64_t h, const char *key, size_t size, bool raised,
    uint64_t now)
{
	if (e) {
		list_unlink(a, e);
	} else {
		prune(a, now);
		if (a->nentries >= ALERT_KEYS_MAX)
			entry_remove(a, a->oldest);
		if (!(e = malloc(sizeof(*e) + size)))
			return;
		e->hash = h;
		e->size = size;
		memcpy(e->key, key, size);
		e->chain = a->buckets[h & (ALERT_BUCKETS - 1)];
		a->buckets[h & (ALERT_BUCKETS - 1)] = e;
		a->nentries++;
	}
	e->raised = raised;
	e->last_ms = now;
	e->hour = a->hour_seq;
	list_append(a, e);
}

/* -- the hour -- */

static void
log_held(struct alerter *a)
{
	struct buf line;

	if (!a->hour_held)
		return;
	buf_init(&line);
	kv_str(&line, "event", "alerts-held");
	kv_uint(&line, "count", a->hour_held);
	kv_uint(&line, "max_per_hour", a->set.max_per_hour);
	log_line(a->log, LOGL_ALERT, buf_ptr(&line), buf_size(&line));
	buf_free(&line);
	a->hour_held = 0;
}

static void
roll_hour(struct alerter *a, uint64_t now)
{
	if (!a->hour_open || elapsed(now, a->hour_start_ms) < HOUR_MS)
		return;
	log_held(a);
	a->hour_open = false;
	a->hour_raised = 0;
	a->hour_seq++;
}

static void
count_kind(struct alerter *a, const char *kind)
{
	size_t i;

	for (i = 0; i < a->nkinds; i++)
		if (strcmp(a->kinds[i].kind, kind) == 0)
			break;
	if (i == a->nkinds) {
		const char *name = a->nkinds < ALERT_KINDS_MAX - 1 ? kind : "other";
		for (i = 0; i < a->nkinds; i++)
			if (strcmp(a->kinds[i].kind, name) == 0)
				break;
		if (i == a->nkinds) {
			if (!(a->kinds[i].kind = strdup(name)))
				return;
			a->nkinds++;
		}
	}
	a->kinds[i].n++;
}

/* -- children -- */

static void
log_failure(struct alerter *a, bool mail, const char *kind, const char *dest, const char *what,
    const char *error, int status, int sig)
{
	struct buf line;

	buf_init(&line);
	kv_str(&line, "event", mail ? "alert-mail-failed" : "alert-command-failed");
	kv_str(&line, "kind", kind ? kind : "?");
	kv_str(&line, "dest", dest ? dest : "?");
	kv_str(&line, mail ? "recipient" : "command", what ? what : "?");
	if (error)
		kv_str(&line, "error", error);
	if (status >= 0)
		kv_uint(&line, "status", (uint64_t)status);
	if (sig > 0)
		kv_uint(&line, "signal", (uint64_t)sig);
	log_line(a->log, LOGL_WARNING, buf_ptr(&line), buf_size(&line));
	buf_free(&line);
}

static void
child_free(struct child *c)
{
	free(c->kind);
	free(c->dest);
	free(c->what);
}

static void
child_kill(const struct child *c)
{
	kill(-c->pid, SIGKILL);		/* its process group: what it started too */
	kill(c->pid, SIGKILL);
}

/* Only when something has gone wrong: nothing is reported twice. */
static void
child_failed(struct alerter *a, struct child *c, const char *error, int status, int sig)
{
	if (c->killed)
		return;
	log_failure(a, c->mail, c->kind, c->dest, c->what, error, status, sig);
	if (!c->mail)
		a->stats.commands_failed++;
}

static void
add_child(struct alerter *a, pid_t pid, bool mail, const char *kind, const char *dest, const char *what,
    uint64_t now)
{
	struct child *c = &a->children[a->nchildren];

	c->pid = pid;
	c->start_ms = now;
	c->mail = mail;
	c->killed = false;
	c->kind = strdup(kind);
	c->dest = strdup(dest);
	c->what = strdup(what);
	a->nchildren++;
	if (!c->kind || !c->dest || !c->what) {
		/* Cannot report on it later: still tracked, reported as "?". */
		child_free(c);
		c->kind = c->dest = c->what = NULL;
	}
}

#if !(defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34)))
/* Without posix_spawn_file_actions_addclosefrom_np: closes every open
 * descriptor above 2 that would survive exec. */
static int
add_closes(posix_spawn_file_actions_t *fa)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int rc = 0;

	if (!d)
		return 0;	/* CLOEXEC everywhere is all there is */
	while ((de = readdir(d)) && rc == 0) {
		int fd = atoi(de->d_name);
		if (fd > 2 && fd != dirfd(d) && !(fcntl(fd, F_GETFD) & FD_CLOEXEC))
			rc = posix_spawn_file_actions_addclose(fa, fd);
	}
	closedir(d);
	return rc;
}
#endif

/* Starts path with argv and envp, input from in_fd (or /dev/null when
 * -1), output and errors to /dev/null, no other descriptor, default
 * signals, its own process group. Returns 0 or an errno value. */
static int
spawn(const char *path, char *const argv[], char *const envp[], int in_fd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	int rc;

	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		return rc;
	if ((rc = posix_spawnattr_init(&at)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return rc;
	}
	sigemptyset(&none);
	sigfillset(&all);
	if (in_fd >= 0)
		rc = posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO);
	else
		rc = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (rc == 0)
		rc = posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	if (rc == 0)
		rc = posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
#else
	if (rc == 0)
		rc = add_closes(&fa);
#endif
	if (rc == 0)
		rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
		    POSIX_SPAWN_SETSIGDEF);
	if (rc == 0)
		rc = posix_spawnattr_setpgroup(&at, 0);
	if (rc == 0)
		rc = posix_spawnattr_setsigmask(&at, &none);
	if (rc == 0)
		rc = posix_spawnattr_setsigdefault(&at, &all);
	if (rc == 0)
		rc = posix_spawn(pid, path, &fa, &at, argv, envp);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

/* A first word without '/' is looked for in the safe PATH. */
static const char *
resolve(const char *word, char *path, size_t size)
{
	const char *dirs = SAFE_PATH;

	if (strchr(word, '/'))
		return word;
	while (*dirs) {
		size_t n = strcspn(dirs, ":");
		if ((size_t)snprintf(path, size, "%.*s/%s", (int)n, dirs, word) < size && access(path, X_OK) == 0)
			return path;
		dirs += n + (dirs[n] == ':');
	}
	return word;	/* posix_spawn says why it is not there */
}

/* -- the environment -- */

struct env {
	char **v;
	size_t n, cap;
	bool failed;
};

/* NAME=value with the name made of prefix and key as described above and
 * the value cut at its first line break; a name already there is kept. */
static void
env_add(struct env *e, const char *prefix, const char *key, const char *value)
{
	size_t pl = strlen(prefix), kl = strlen(key), vl = strcspn(value, "\r\n");
	char *s;

	if (vl > ENV_VALUE_MAX)
		vl = ENV_VALUE_MAX;

	if (e->failed)
		return;
	if (e->n + 2 > e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 16;
		char **v = realloc(e->v, cap * sizeof(*v));
		if (!v) {
			e->failed = true;
			return;
		}
		e->v = v;
		e->cap = cap;
	}
	if (!(s = malloc(pl + kl + 1 + vl + 1))) {
		e->failed = true;
		return;
	}
	memcpy(s, prefix, pl);
	for (size_t i = 0; i < kl; i++) {
		unsigned char c = (unsigned char)key[i];
		if (c >= 'a' && c <= 'z')
			c = (unsigned char)(c - 'a' + 'A');
		else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			c = '_';
		s[pl + i] = (char)c;
	}
	s[pl + kl] = '=';
	memcpy(s + pl + kl + 1, value, vl);
	s[pl + kl + 1 + vl] = '\0';
	for (size_t i = 0; i < e->n; i++)
		if (strncmp(e->v[i], s, pl + kl + 1) == 0) {
			free(s);
			return;
		}
	e->v[e->n++] = s;
	e->v[e->n] = NULL;
}

static void
env_free(struct env *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
}

/* -- the command -- */

/* Whether dest may be handed to the command: "-" (no destination), or a
 * next hop as the daemon itself writes one, which nexthop_parse() takes
 * and nexthop_format() gives back unchanged (lower case, no trailing dot,
 * port 25 left out): letters, digits and . - _ [ ] : only, and no label
 * starting with '-' (not a host name, and "-rf" would pass for an option
 * wherever a script puts the value in a command line). Destinations taken
 * from Postfix's log are recipient domains that anyone sending to or
 * through this host chooses, and a script may well use the variable
 * unquoted. */
static bool
dest_for_command(const char *dest)
{
	struct nexthop nh;
	const char *why;
	char canonical[NEXTHOP_NAME_MAX + 16];
	size_t len = strlen(dest);

	if (strcmp(dest, "-") == 0)
		return true;
	for (size_t i = 0; i < len; i++)
		if (dest[i] == '-' && (i == 0 || dest[i - 1] == '.' || dest[i - 1] == '['))
			return false;
	if (nexthop_parse(dest, len, &nh, &why) < 0)
		return false;
	int n = nexthop_format(&nh, canonical, sizeof(canonical));
	return n > 0 && (size_t)n == len && memcmp(canonical, dest, len) == 0;
}

static void
run_command(struct alerter *a, const char *kind, const char *dest, const char *const *fields,
    const struct buf *line, uint64_t now)
{
	struct env env = {NULL, 0, 0, false};
	char path[4096];
	const char *prog;
	pid_t pid;
	int rc;

	a->stats.commands++;
	if (a->nchildren >= ALERT_CHILDREN_MAX) {
		log_failure(a, false, kind, dest, a->set.argv[0], "too many alert commands still running", -1, 0);
		a->stats.commands_failed++;
		return;
	}
	env_add(&env, "", "PATH", SAFE_PATH);
	env_add(&env, ENV_PREFIX, "kind", kind);
	if (dest_for_command(dest))
		env_add(&env, ENV_PREFIX, "dest", dest);
	env_add(&env, ENV_PREFIX, "line", buf_ptr(line));
	for (size_t i = 0; fields && fields[i] && fields[i + 1]; i += 2)
		if (*fields[i])
			env_add(&env, ENV_PREFIX, fields[i], fields[i + 1]);
	if (env.failed) {
		rc = ENOMEM;
	} else {
		prog = resolve(a->set.argv[0], path, sizeof(path));
		rc = spawn(prog, a->set.argv, env.v, -1, &pid);
	}
	env_free(&env);
	if (rc != 0) {
		log_failure(a, false, kind, dest, a->set.argv[0], strerror(rc), -1, 0);
		a->stats.commands_failed++;
		return;
	}
	add_child(a, pid, false, kind, dest, a->set.argv[0], now);
}

/* -- the mail -- */

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
 * \\), lines broken at MAIL_LINE_MAX; *col is the current column. */
static void
put_escaped(struct buf *b, const char *s, size_t *col)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (*col >= MAIL_LINE_MAX) {
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
 * lines of MAIL_LINE_MAX if long. */
static void
put_line_as_is(struct buf *b, const struct buf *line)
{
	const char *p = buf_ptr(line);
	size_t n = buf_size(line);

	while (n > 0) {
		size_t k = n > MAIL_LINE_MAX ? MAIL_LINE_MAX : n;
		buf_append(b, p, k);
		buf_putc(b, '\n');
		p += k;
		n -= k;
	}
}

static void
put_date(struct buf *b)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
	    "Oct", "Nov", "Dec"};
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	buf_printf(b, "Date: %s, %d %s %d %02d:%02d:%02d +0000\n", days[tm.tm_wday % 7], tm.tm_mday,
	    months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void
compose_mail(const struct alerter *a, const char *kind, const char *dest, const char *const *fields,
    const struct buf *line, struct buf *m)
{
	buf_puts(m, "From: tlspolicyd\nTo: ");
	put_header_text(m, a->set.recipient, 500);
	buf_puts(m, "\nSubject: tlspolicyd alert: ");
	put_header_text(m, kind, SUBJECT_PART_MAX);
	buf_puts(m, " for ");
	put_header_text(m, dest, SUBJECT_PART_MAX);
	buf_putc(m, '\n');
	put_date(m);
	buf_puts(m, "Auto-Submitted: auto-generated\nMIME-Version: 1.0\n"
	    "Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n");
	put_line_as_is(m, line);
	buf_putc(m, '\n');
	put_body_line(m, "kind", kind);
	put_body_line(m, "dest", dest);
	for (size_t i = 0; fields && fields[i] && fields[i + 1]; i += 2)
		put_body_line(m, fields[i], fields[i + 1]);
	if (buf_size(m) > MAIL_MAX) {
		m->len = m->start + MAIL_MAX - 32;
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

static void
send_mail(struct alerter *a, const char *kind, const char *dest, const char *const *fields,
    const struct buf *line, uint64_t now)
{
	char opt_i[] = "-i", dashes[] = "--", path_env[] = "PATH=" SAFE_PATH;
	char *argv[] = {a->set.sendmail, opt_i, dashes, a->set.recipient, NULL};
	char *envp[] = {path_env, NULL};
	struct buf m;
	int sv[2], rc;
	pid_t pid;

	a->stats.mails++;
	if (a->nchildren >= ALERT_CHILDREN_MAX) {
		log_failure(a, true, kind, dest, a->set.recipient, "too many alert commands still running", -1, 0);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		log_failure(a, true, kind, dest, a->set.recipient, strerror(errno), -1, 0);
		return;
	}
	shutdown(sv[1], SHUT_WR);	/* sendmail's end reads only */
	rc = spawn(a->set.sendmail, argv, envp, sv[1], &pid);
	close(sv[1]);
	if (rc != 0) {
		close(sv[0]);
		log_failure(a, true, kind, dest, a->set.recipient, strerror(rc), -1, 0);
		return;
	}
	add_child(a, pid, true, kind, dest, a->set.recipient, now);
	buf_init(&m);
	compose_mail(a, kind, dest, fields, line, &m);
	rc = write_within(sv[0], buf_ptr(&m), buf_size(&m), MAIL_WRITE_TIMEOUT_MS);
	buf_free(&m);
	if (rc != 0) {
		/* No half message goes out. */
		struct child *c = &a->children[a->nchildren - 1];
		child_kill(c);
		child_failed(a, c, rc == ETIMEDOUT ? "sendmail did not take the message in time" : strerror(rc),
		    -1, 0);
		c->killed = true;
	}
	close(sv[0]);
}

/* -- the interface -- */

struct alerter *
alerter_create(struct log *log, const struct alert_settings *s)
{
	struct alerter *a = calloc(1, sizeof(*a));
	unsigned char seed[16];

	if (!a)
		return NULL;
	a->log = log;
	if (!(a->buckets = calloc(ALERT_BUCKETS, sizeof(*a->buckets))) || settings_copy(&a->set, s) < 0) {
		free(a->buckets);
		free(a);
		return NULL;
	}
	/* Destinations are names strangers choose: a keyed table. */
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		memset(seed, 0x5a, sizeof(seed));
	a->hkey = hash_key_from_bytes(seed);
	return a;
}

void
alerter_set(struct alerter *a, const struct alert_settings *s)
{
	struct settings n;

	if (settings_copy(&n, s) < 0) {
		log_event(a->log, LOGL_ERROR, "alert-settings", "error", strerror(ENOMEM),
		    "reason", "the previous alert settings stay in force", NULL);
		return;
	}
	settings_free(&a->set);
	a->set = n;
}

void
alerter_free(struct alerter *a)
{
	if (!a)
		return;
	log_held(a);
	for (size_t i = 0; i < a->nchildren; i++) {
		struct child *c = &a->children[i];
		child_kill(c);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
		child_free(c);
	}
	while (a->oldest)
		entry_remove(a, a->oldest);
	for (size_t i = 0; i < a->nkinds; i++)
		free(a->kinds[i].kind);
	free(a->buckets);
	settings_free(&a->set);
	free(a);
}

int
alerter_raise(struct alerter *a, const char *kind, const char *dest, const char *const *fields, uint64_t now_ms)
{
	char stack[512], *key = stack;
	size_t size;
	uint64_t h;
	struct entry *e;
	struct buf line;

	kind = kind ? kind : "";
	dest = dest ? dest : "";
	size = strlen(kind) + 1 + strlen(dest) + 1;
	if (size > sizeof(stack) && !(key = malloc(size)))
		key = NULL;
	roll_hour(a, now_ms);
	h = key ? key_hash(a, kind, dest, key, size) : 0;
	e = key ? entry_find(a, h, key, size) : NULL;
	if (e && e->raised && elapsed(now_ms, e->last_ms) < a->set.interval_ms) {
		a->stats.held++;
		goto held;
	}
	if (a->set.max_per_hour && a->hour_open && a->hour_raised >= a->set.max_per_hour) {
		a->stats.held++;
		/* Counted once for the summary however often it comes. */
		if (!(e && !e->raised && e->hour == a->hour_seq)) {
			a->hour_held++;
			if (key)
				entry_touch(a, e, h, key, size, false, now_ms);
		}
		goto held;
	}
	if (!a->hour_open) {
		a->hour_open = true;
		a->hour_start_ms = now_ms;
	}
	a->hour_raised++;
	a->stats.raised++;
	count_kind(a, kind);
	if (key)
		entry_touch(a, e, h, key, size, true, now_ms);
	if (key != stack)
		free(key);

	buf_init(&line);
	kv_str(&line, "event", "alert");
	kv_str(&line, "kind", kind);
	kv_str(&line, "dest", dest);
	for (size_t i = 0; fields && fields[i] && fields[i + 1]; i += 2)
		kv_str(&line, fields[i], fields[i + 1]);
	buf_terminate(&line);
	log_line(a->log, LOGL_ALERT, buf_ptr(&line), buf_size(&line));
	if (a->set.argv)
		run_command(a, kind, dest, fields, &line, now_ms);
	if (a->set.recipient)
		send_mail(a, kind, dest, fields, &line, now_ms);
	buf_free(&line);
	return 1;
held:
	if (key != stack)
		free(key);
	return 0;
}

void
alert_reap(struct alerter *a, uint64_t now_ms)
{
	roll_hour(a, now_ms);
	for (size_t i = 0; i < a->nchildren;) {
		struct child *c = &a->children[i];
		int status;
		pid_t r = waitpid(c->pid, &status, WNOHANG);

		if (r == c->pid || (r < 0 && errno == ECHILD)) {
			if (r == c->pid && WIFEXITED(status) && WEXITSTATUS(status) != 0)
				child_failed(a, c, NULL, WEXITSTATUS(status), 0);
			else if (r == c->pid && WIFSIGNALED(status))
				child_failed(a, c, NULL, -1, WTERMSIG(status));
			child_free(c);
			a->children[i] = a->children[--a->nchildren];
			continue;
		}
		if (r == 0 && !c->killed && elapsed(now_ms, c->start_ms) >= (uint64_t)ALERT_COMMAND_TIMEOUT_S * 1000) {
			/* Reaped later, when it is gone: never waited for here. */
			child_kill(c);
			child_failed(a, c, "timed out", -1, 0);
			c->killed = true;
		}
		i++;
	}
}

void
alerter_stats(const struct alerter *a, struct alert_stats *out)
{
	*out = a->stats;
}

void
alerter_each_kind(const struct alerter *a, void (*fn)(void *arg, const char *kind, uint64_t n), void *arg)
{
	for (size_t i = 0; i < a->nkinds; i++)
		fn(arg, a->kinds[i].kind, a->kinds[i].n);
}
