/* alertspawn - the processes alerts start; see alertspawn.h for the
 * contract. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#if !(defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34)))
#include <dirent.h>
#endif

#include "util/kv.h"
#include "postfix/nexthop.h"
#include "watch/alertspawn.h"

#define ENV_PREFIX "TLSPOLICY_ALERT_"
#define TOO_MANY "too many alert commands still running"

struct child {
	pid_t pid;
	uint64_t start_ms;
	enum alertspawn_role role;
	bool killed;			/* and already reported */
	char *kind, *dest, *what;	/* for the failure line; NULL: "?" */
};

struct alertspawn {
	struct log *log;
	struct child children[ALERTSPAWN_CHILDREN_MAX];
	size_t nchildren;
	uint64_t commands_failed;
};

static uint64_t
elapsed(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

struct alertspawn *
alertspawn_create(struct log *log)
{
	struct alertspawn *sp = calloc(1, sizeof(*sp));

	if (sp)
		sp->log = log;
	return sp;
}

uint64_t
alertspawn_commands_failed(const struct alertspawn *sp)
{
	return sp->commands_failed;
}

bool
alertspawn_full(const struct alertspawn *sp)
{
	return sp->nchildren >= ALERTSPAWN_CHILDREN_MAX;
}

/* -- failures -- */

static void
log_failure(struct alertspawn *sp, enum alertspawn_role role, const char *kind, const char *dest,
    const char *what, const char *error, int status, int sig)
{
	bool mail = role == ALERTSPAWN_MAIL;
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
	log_line(sp->log, LOGL_WARNING, buf_ptr(&line), buf_size(&line));
	buf_free(&line);
	if (!mail)
		sp->commands_failed++;
}

void
alertspawn_failed(struct alertspawn *sp, enum alertspawn_role role, const char *kind, const char *dest,
    const char *what, const char *error)
{
	log_failure(sp, role, kind, dest, what, error, -1, 0);
}

/* -- children -- */

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
child_failed(struct alertspawn *sp, struct child *c, const char *error, int status, int sig)
{
	if (c->killed)
		return;
	log_failure(sp, c->role, c->kind, c->dest, c->what, error, status, sig);
}

static void
add_child(struct alertspawn *sp, pid_t pid, enum alertspawn_role role, const char *kind, const char *dest,
    const char *what, uint64_t now)
{
	struct child *c = &sp->children[sp->nchildren];

	c->pid = pid;
	c->start_ms = now;
	c->role = role;
	c->killed = false;
	c->kind = strdup(kind);
	c->dest = strdup(dest);
	c->what = strdup(what);
	sp->nchildren++;
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

pid_t
alertspawn_start(struct alertspawn *sp, enum alertspawn_role role, const char *path, char *const argv[],
    char *const envp[], int in_fd, const char *kind, const char *dest, const char *what, uint64_t now_ms)
{
	pid_t pid;
	int rc;

	if (alertspawn_full(sp)) {
		log_failure(sp, role, kind, dest, what, TOO_MANY, -1, 0);
		return -1;
	}
	if ((rc = spawn(path, argv, envp, in_fd, &pid)) != 0) {
		log_failure(sp, role, kind, dest, what, strerror(rc), -1, 0);
		return -1;
	}
	add_child(sp, pid, role, kind, dest, what, now_ms);
	return pid;
}

void
alertspawn_abandon(struct alertspawn *sp, pid_t pid, const char *error)
{
	for (size_t i = 0; i < sp->nchildren; i++) {
		struct child *c = &sp->children[i];
		if (c->pid != pid)
			continue;
		child_kill(c);
		child_failed(sp, c, error, -1, 0);
		c->killed = true;
		return;
	}
}

void
alertspawn_reap(struct alertspawn *sp, uint64_t now_ms)
{
	for (size_t i = 0; i < sp->nchildren;) {
		struct child *c = &sp->children[i];
		int status;
		pid_t r = waitpid(c->pid, &status, WNOHANG);

		if (r == c->pid || (r < 0 && errno == ECHILD)) {
			if (r == c->pid && WIFEXITED(status) && WEXITSTATUS(status) != 0)
				child_failed(sp, c, NULL, WEXITSTATUS(status), 0);
			else if (r == c->pid && WIFSIGNALED(status))
				child_failed(sp, c, NULL, -1, WTERMSIG(status));
			child_free(c);
			sp->children[i] = sp->children[--sp->nchildren];
			continue;
		}
		if (r == 0 && !c->killed && elapsed(now_ms, c->start_ms) >= (uint64_t)ALERTSPAWN_TIMEOUT_S * 1000) {
			/* Reaped later, when it is gone: never waited for here. */
			child_kill(c);
			child_failed(sp, c, "timed out", -1, 0);
			c->killed = true;
		}
		i++;
	}
}

void
alertspawn_free(struct alertspawn *sp)
{
	if (!sp)
		return;
	for (size_t i = 0; i < sp->nchildren; i++) {
		struct child *c = &sp->children[i];
		child_kill(c);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
		child_free(c);
	}
	free(sp);
}

/* -- alert_command -- */

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int
alertspawn_words(const char *command, char **words, char ***argv)
{
	const char *cmd = command ? command : "";
	size_t nwords = 0;

	*argv = NULL;
	if (!(*words = strdup(cmd)))
		return -1;
	for (char *p = *words; *p;) {
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
	if (!(*argv = calloc(nwords + 1, sizeof(**argv)))) {
		free(*words);
		*words = NULL;
		return -1;
	}
	/* The words, NUL-separated now, in the command's copy. */
	size_t n = 0, len = strlen(cmd);
	for (size_t i = 0; i < len && n < nwords; i++)
		if ((*words)[i] && (i == 0 || !(*words)[i - 1]))
			(*argv)[n++] = *words + i;
	return 0;
}

/* A first word without '/' is looked for in the safe PATH. */
static const char *
resolve_path(const char *word, char *path, size_t size)
{
	const char *dirs = ALERTSPAWN_SAFE_PATH;

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

struct env {
	char **v;
	size_t n, cap;
	bool failed;
};

/* NAME=value with the name made of prefix and key as described in the
 * header and the value cut at its first line break; a name already there
 * is kept. */
static void
env_add(struct env *e, const char *prefix, const char *key, const char *value)
{
	size_t pl = strlen(prefix), kl = strlen(key), vl = strcspn(value, "\r\n");
	char *s;

	if (vl > ALERTSPAWN_ENV_VALUE_MAX)
		vl = ALERTSPAWN_ENV_VALUE_MAX;

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

/* "-" (no destination), or a next hop as the daemon itself writes one,
 * which nexthop_parse() takes and nexthop_format() gives back unchanged
 * (lower case, no trailing dot, port 25 left out): letters, digits and
 * . - _ [ ] : only, and no label starting with '-' (not a host name, and
 * "-rf" would pass for an option wherever a script puts the value in a
 * command line). Destinations taken from Postfix's log are recipient
 * domains that anyone sending to or through this host chooses, and a
 * script may well use the variable unquoted. */
bool
alertspawn_dest_ok(const char *dest)
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

void
alertspawn_command(struct alertspawn *sp, char *const argv[], const char *kind, const char *dest,
    const char *const *fields, const struct buf *line, uint64_t now_ms)
{
	struct env env = {NULL, 0, 0, false};
	char path[4096];

	if (alertspawn_full(sp)) {
		log_failure(sp, ALERTSPAWN_COMMAND, kind, dest, argv[0], TOO_MANY, -1, 0);
		return;
	}
	env_add(&env, "", "PATH", ALERTSPAWN_SAFE_PATH);
	env_add(&env, ENV_PREFIX, "kind", kind);
	if (alertspawn_dest_ok(dest))
		env_add(&env, ENV_PREFIX, "dest", dest);
	env_add(&env, ENV_PREFIX, "line", buf_ptr(line));
	for (size_t i = 0; fields && fields[i] && fields[i + 1]; i += 2)
		if (*fields[i])
			env_add(&env, ENV_PREFIX, fields[i], fields[i + 1]);
	if (env.failed)
		log_failure(sp, ALERTSPAWN_COMMAND, kind, dest, argv[0], strerror(ENOMEM), -1, 0);
	else
		alertspawn_start(sp, ALERTSPAWN_COMMAND, resolve_path(argv[0], path, sizeof(path)), argv, env.v, -1,
		    kind, dest, argv[0], now_ms);
	env_free(&env);
}
