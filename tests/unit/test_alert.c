/* Unit tests: the alerter (lib/watch/alert.h) with what it starts - the
 * alert line, the hourly summary lines, alert_command (argv, environment,
 * hostile names, timeout; alertspawn.h) and mail through sendmail
 * (alertmail.h). Which alerts are held is test_alertlimit's, with tables.
 *
 * Each test gets a temporary directory with small /bin/sh helpers written
 * at run time (the helpers may use a shell; the alerter never does), its
 * own working directory there, and standard error (where the log writes)
 * captured to a file in it. The clock is the test's: now_ms is passed in. */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "watch/alert.h"
#include "util/log.h"
#include "stderrlog.h"
#include "table.h"

#define HOUR 3600000u
#define T0 1000000u
#define WAIT_MS 10000		/* for the helpers, on a slow or loaded machine */

struct fixture {
	const void *row;		/* a table row's test: its row */
	char dir[64];
	char cwd[4096];
	struct log *log;
	struct alerter *a;
	struct alert_settings s;
	char command[512];
	char sendmail[256];
	uint64_t now;
};

static void
path_in(const struct fixture *f, const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", f->dir, name);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static bool
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Waits (really) for the file, reaping meanwhile at the test's clock. */
static void
wait_file(struct fixture *f, const char *name)
{
	char path[256];

	path_in(f, name, path, sizeof(path));
	for (int i = 0; i < WAIT_MS / 10 && !exists(path); i++) {
		alert_reap(f->a, f->now);
		sleep_ms(10);
	}
	if (!exists(path))
		FAIL("%s did not appear", path);
}

static void
wait_failed(struct fixture *f, uint64_t n)
{
	struct alert_stats st;

	for (int i = 0; i < WAIT_MS / 10; i++) {
		alert_reap(f->a, f->now);
		alerter_stats(f->a, &st);
		if (st.commands_failed >= n)
			break;
		sleep_ms(10);
	}
	assert_int_equal(st.commands_failed, n);
}

/* 'R' running or sleeping, 'Z' zombie, 0 when there is no such process. */
static char
proc_state(pid_t pid)
{
	char path[64], *stat, *p;
	char state = 0;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (!(stat = stderrlog_read_all(path, NULL)))
		return 0;
	if ((p = strrchr(stat, ')')) && p[1] == ' ')
		state = p[2] == 'Z' ? 'Z' : 'R';
	free(stat);
	return state;
}

static pid_t
read_pid(struct fixture *f, const char *name)
{
	char path[256], *text;
	long pid;

	path_in(f, name, path, sizeof(path));
	wait_file(f, name);
	assert_non_null(text = stderrlog_read_all(path, NULL));
	pid = strtol(text, NULL, 10);
	free(text);
	assert_true(pid > 1);
	return (pid_t)pid;
}

/* Helpers. "dump": its arguments, environment and descriptors 0, 1, 2 and
 * 200 (NUL-separated) into OUT.args, OUT.env and OUT.fds, each appearing
 * whole (rename). The descriptors are read through /proc before the shell
 * redirects any. */
static const char dump_sh[] =
    "#!/bin/sh\n"
    "out=$1\n"
    "f0=$(readlink /proc/$$/fd/0); f1=$(readlink /proc/$$/fd/1); f2=$(readlink /proc/$$/fd/2)\n"
    "f200=$(readlink /proc/$$/fd/200 || echo none)\n"
    "for a in \"$@\"; do printf '%s\\0' \"$a\"; done > \"$out.args.tmp\"\n"
    "/usr/bin/env -0 > \"$out.env.tmp\"\n"
    "printf '0=%s\\0001=%s\\0002=%s\\000200=%s\\000' \"$f0\" \"$f1\" \"$f2\" \"$f200\" > \"$out.fds.tmp\"\n"
    "mv \"$out.args.tmp\" \"$out.args\"; mv \"$out.fds.tmp\" \"$out.fds\"; mv \"$out.env.tmp\" \"$out.env\"\n";
/* "hang PIDFILE": writes its pid, then becomes sleep. */
static const char hang_sh[] = "#!/bin/sh\necho $$ > \"$1.tmp\"; mv \"$1.tmp\" \"$1\"\nexec sleep 60\n";
/* "family PIDFILE": a shell with a sleeping child of its own. */
static const char family_sh[] =
    "#!/bin/sh\nsleep 60 &\necho $! > \"$1.kid\"\necho $$ > \"$1.tmp\"; mv \"$1.tmp\" \"$1\"\nwait\n";
/* A sendmail that keeps its arguments, environment and input. */
static const char sendmail_sh[] =
    "#!/bin/sh\n"
    "d=$(dirname \"$0\")\n"
    "for a in \"$@\"; do printf '%s\\0' \"$a\"; done > \"$d/mail.args\"\n"
    "/usr/bin/env -0 > \"$d/mail.env\"\n"
    "cat > \"$d/mail.tmp\"; mv \"$d/mail.tmp\" \"$d/mail.msg\"\n";
static const char sendmail_fail_sh[] = "#!/bin/sh\ncat > /dev/null\nexit 75\n";

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[256];

	assert_non_null(f);
	f->row = *state;
	assert_non_null(table_tmpdir(f->dir, sizeof(f->dir), "test_alert"));
	assert_non_null(getcwd(f->cwd, sizeof(f->cwd)));
	assert_int_equal(chdir(f->dir), 0);	/* where a "touch pwned" would land */
	path_in(f, "dump", path, sizeof(path));
	write_file(path, dump_sh, 0755);
	path_in(f, "hang", path, sizeof(path));
	write_file(path, hang_sh, 0755);
	path_in(f, "family", path, sizeof(path));
	write_file(path, family_sh, 0755);
	path_in(f, "sendmail", path, sizeof(path));
	write_file(path, sendmail_sh, 0755);
	path_in(f, "sendmail-fail", path, sizeof(path));
	write_file(path, sendmail_fail_sh, 0755);

	/* The log writes to standard error: into DIR/log for the test. */
	path_in(f, "log", path, sizeof(path));
	stderrlog_start(path);

	assert_non_null(f->log = log_create_stderr(LOGL_INFO));
	f->s.command = "";
	f->s.recipient = "";
	f->s.sendmail = "/usr/sbin/sendmail";
	f->s.interval_ms = 60000;
	f->s.max_per_hour = 0;
	assert_non_null(f->a = alerter_create(f->log, &f->s));
	f->now = T0;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	alerter_free(f->a);
	log_free(f->log);
	stderrlog_stop();
	if (chdir(f->cwd) != 0)
		perror("chdir");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);	/* the test's own directory, its own name */
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", f->dir);
	free(f);
	return 0;
}

static char *
log_text(const struct fixture *f)
{
	char path[256], *text;

	path_in(f, "log", path, sizeof(path));
	assert_non_null(text = stderrlog_read_all(path, NULL));
	return text;
}

static int
count_in(const char *text, const char *what)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

static int
log_count(const struct fixture *f, const char *what)
{
	char *text = log_text(f);
	int n = count_in(text, what);

	free(text);
	return n;
}

static void
reconfigure(struct fixture *f)
{
	alerter_set(f->a, &f->s);
}

/* A NUL-separated list (the helpers' files). */
struct list {
	char *data;
	const char *item[256];
	size_t n;
};

static void
list_read(struct fixture *f, const char *name, struct list *l)
{
	char path[256];
	size_t len = 0;

	path_in(f, name, path, sizeof(path));
	wait_file(f, name);
	assert_non_null(l->data = stderrlog_read_all(path, &len));
	l->n = 0;
	for (size_t i = 0; i < len && l->n < 256; i += strlen(l->data + i) + 1)
		l->item[l->n++] = l->data + i;
}

/* The value of NAME= in an environment list; NULL when absent. */
static const char *
list_env(const struct list *l, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < l->n; i++)
		if (strncmp(l->item[i], name, n) == 0 && l->item[i][n] == '=')
			return l->item[i] + n + 1;
	return NULL;
}

static int
list_count_prefix(const struct list *l, const char *prefix)
{
	int n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += strncmp(l->item[i], prefix, strlen(prefix)) == 0;
	return n;
}

static void
use_dump(struct fixture *f)
{
	snprintf(f->command, sizeof(f->command), "%s/dump %s/out", f->dir, f->dir);
	f->s.command = f->command;
	reconfigure(f);
}

/* ---- raising ---- */

static void
test_raise_logs_one_line(void **state)
{
	struct fixture *f = *state;
	const char *fields[] = {"host", "mx1.example.org", "addr", "192.0.2.25", "error", "no matching records",
	    NULL};
	struct alert_stats st;

	assert_int_equal(alerter_raise(f->a, "dane-mismatch", "example.org", fields, f->now), 1);
	char *text = log_text(f);
	assert_non_null(strstr(text, " alert: event=alert kind=dane-mismatch dest=example.org "
	    "host=mx1.example.org addr=192.0.2.25 error=\"no matching records\"\n"));
	assert_int_equal(count_in(text, "\n"), 1);
	free(text);
	alerter_stats(f->a, &st);
	assert_int_equal(st.raised, 1);
	assert_int_equal(st.held, 0);
	assert_int_equal(st.commands, 0);
	assert_int_equal(st.mails, 0);
}

static void
test_no_fields_and_hostile_line(void **state)
{
	struct fixture *f = *state;
	const char *fields[] = {"detail", "a\nevent=alert kind=forged", NULL};

	assert_int_equal(alerter_raise(f->a, "dnssec-off", "x y\n", NULL, f->now), 1);
	assert_int_equal(alerter_raise(f->a, "auth-failing", "example.org", fields, f->now), 1);
	char *text = log_text(f);
	assert_non_null(strstr(text, "event=alert kind=dnssec-off dest=\"x y\\x0a\"\n"));
	assert_non_null(strstr(text, "detail=\"a\\x0aevent=alert kind=forged\"\n"));
	assert_int_equal(count_in(text, "\n"), 2);
	assert_int_equal(count_in(text, "kind=forged"), 1);
	free(text);
}

struct kinds_seen {
	char text[256];
};

static void
on_kind(void *arg, const char *kind, uint64_t n)
{
	struct kinds_seen *k = arg;
	size_t used = strlen(k->text);

	snprintf(k->text + used, sizeof(k->text) - used, "%s=%llu ", kind, (unsigned long long)n);
}

static void
test_counts_by_kind(void **state)
{
	struct fixture *f = *state;
	struct kinds_seen k = {""};
	struct alert_stats st;

	assert_int_equal(alerter_raise(f->a, "dane-mismatch", "a.example", NULL, f->now), 1);
	assert_int_equal(alerter_raise(f->a, "dane-mismatch", "b.example", NULL, f->now), 1);
	assert_int_equal(alerter_raise(f->a, "dane-mismatch", "b.example", NULL, f->now + 1), 0);
	assert_int_equal(alerter_raise(f->a, "dnssec-off", "", NULL, f->now), 1);
	alerter_each_kind(f->a, on_kind, &k);
	assert_string_equal(k.text, "dane-mismatch=2 dnssec-off=1 ");
	alerter_stats(f->a, &st);
	assert_int_equal(st.raised, 3);
	assert_int_equal(st.held, 1);
}

/* The status page's memory: the last alert raised per destination (not
 * one held back), the least recently alerted forgotten past the bound. */
static void
test_last_alert(void **state)
{
	struct fixture *f = *state;
	uint64_t at = 0;
	char dest[32];

	assert_null(alerter_last(f->a, "a.example", &at));
	assert_int_equal(alerter_raise(f->a, "dane-mismatch", "a.example", NULL, f->now), 1);
	assert_int_equal(alerter_raise(f->a, "dane-mismatch", "a.example", NULL, f->now + 1), 0);
	assert_string_equal(alerter_last(f->a, "a.example", &at), "dane-mismatch");
	assert_int_equal(at, f->now);
	assert_int_equal(alerter_raise(f->a, "tls-deferrals", "a.example", NULL, f->now + 2), 1);
	assert_string_equal(alerter_last(f->a, "a.example", &at), "tls-deferrals");
	assert_int_equal(at, f->now + 2);
	assert_null(alerter_last(f->a, "b.example", &at));
	for (int i = 0; i < ALERT_REMEMBER_MAX; i++) {
		snprintf(dest, sizeof(dest), "d%d.example", i);
		alerter_raise(f->a, "k", dest, NULL, f->now + 3);
	}
	assert_null(alerter_last(f->a, "a.example", &at));
	assert_string_equal(alerter_last(f->a, "d999.example", &at), "k");
}

/* ---- the hourly limit ---- */

static void
raise_n(struct fixture *f, int from, int to, uint64_t at, int expect)
{
	char dest[32];

	for (int i = from; i < to; i++) {
		snprintf(dest, sizeof(dest), "d%d.example", i);
		if (alerter_raise(f->a, "k", dest, NULL, at) != expect)
			FAIL("d%d.example: expected %d", i, expect);
	}
}

static void
test_hourly_limit_summary_by_reap(void **state)
{
	struct fixture *f = *state;
	struct alert_stats st;

	f->s.max_per_hour = 3;
	reconfigure(f);
	raise_n(f, 0, 3, T0, 1);
	raise_n(f, 3, 5, T0 + 10, 0);
	/* The same held pair again is one held alert in the summary. */
	assert_int_equal(alerter_raise(f->a, "k", "d3.example", NULL, T0 + 20), 0);
	alerter_stats(f->a, &st);
	assert_int_equal(st.raised, 3);
	assert_int_equal(st.held, 3);
	assert_int_equal(log_count(f, "event=alert "), 3);
	alert_reap(f->a, T0 + HOUR - 1);
	assert_int_equal(log_count(f, "alerts-held"), 0);
	alert_reap(f->a, T0 + HOUR);
	assert_int_equal(log_count(f, " alert: event=alerts-held count=2 max_per_hour=3\n"), 1);
	alert_reap(f->a, T0 + HOUR + 1);
	alert_reap(f->a, T0 + 3 * HOUR);
	assert_int_equal(log_count(f, "alerts-held"), 1);
	/* A new hour: a pair held last hour was never logged, so it is now,
	 * though its window has not passed since. */
	assert_int_equal(alerter_raise(f->a, "k", "d3.example", NULL, T0 + 3 * HOUR), 1);
}

static void
test_hourly_limit_summary_by_raise(void **state)
{
	struct fixture *f = *state;
	char *text;

	f->s.max_per_hour = 2;
	f->s.interval_ms = 0;
	reconfigure(f);
	raise_n(f, 0, 2, T0, 1);
	raise_n(f, 2, 6, T0 + HOUR / 2, 0);
	assert_int_equal(alerter_raise(f->a, "k", "new.example", NULL, T0 + HOUR + 5), 1);
	text = log_text(f);
	char *summary = strstr(text, "event=alerts-held count=4 max_per_hour=2\n");
	char *alert = strstr(text, "event=alert kind=k dest=new.example\n");
	assert_non_null(summary);
	assert_non_null(alert);
	assert_true(summary < alert);	/* the old hour's summary first */
	free(text);
	/* The new hour started with that alert: one more fits, then none. */
	assert_int_equal(alerter_raise(f->a, "k", "n2.example", NULL, T0 + HOUR + 6), 1);
	assert_int_equal(alerter_raise(f->a, "k", "n3.example", NULL, T0 + HOUR + 7), 0);
	alert_reap(f->a, T0 + 2 * HOUR + 4);
	assert_int_equal(log_count(f, "alerts-held"), 1);
	alert_reap(f->a, T0 + 2 * HOUR + 5);
	assert_int_equal(log_count(f, "event=alerts-held count=1 "), 1);
}

static void
test_summary_at_free(void **state)
{
	struct fixture *f = *state;

	f->s.max_per_hour = 1;
	reconfigure(f);
	raise_n(f, 0, 1, T0, 1);
	raise_n(f, 1, 3, T0, 0);
	alerter_free(f->a);
	f->a = NULL;
	assert_int_equal(log_count(f, "event=alerts-held count=2 "), 1);
}

/* ---- alert_command ---- */

static void
test_command_environment(void **state)
{
	struct fixture *f = *state;
	const char *fields[] = {"host", "mx1.example.org", "chain_spki_sha256", "ab,cd", "x-odd.Key", "v",
	    "dest", "not the destination", "reason", "two words", NULL};
	struct list args, env, fds;
	struct alert_stats st;
	char out[256];
	int leak;

	/* What the daemon has must not reach the command. */
	setenv("TLSPOLICY_TEST_SECRET", "leaked", 1);
	setenv("TLSPOLICY_ALERT_FORGED", "leaked", 1);
	leak = open("/dev/null", O_RDONLY);	/* no CLOEXEC, on purpose */
	assert_int_equal(dup2(leak, 200), 200);
	close(leak);
	use_dump(f);
	assert_int_equal(alerter_raise(f->a, "dane-mismatch", "example.org", fields, f->now), 1);
	close(200);
	unsetenv("TLSPOLICY_TEST_SECRET");
	unsetenv("TLSPOLICY_ALERT_FORGED");

	list_read(f, "out.env", &env);
	list_read(f, "out.args", &args);
	list_read(f, "out.fds", &fds);
	path_in(f, "out", out, sizeof(out));
	assert_int_equal(args.n, 1);	/* $0 is not in "$@": the one argument */
	assert_string_equal(args.item[0], out);

	assert_string_equal(list_env(&env, "PATH"), "/usr/sbin:/usr/bin:/sbin:/bin");
	assert_string_equal(list_env(&env, "TLSPOLICY_ALERT_KIND"), "dane-mismatch");
	assert_string_equal(list_env(&env, "TLSPOLICY_ALERT_DEST"), "example.org");
	assert_string_equal(list_env(&env, "TLSPOLICY_ALERT_LINE"),
	    "event=alert kind=dane-mismatch dest=example.org host=mx1.example.org chain_spki_sha256=ab,cd "
	    "x-odd.Key=v dest=\"not the destination\" reason=\"two words\"");
	assert_string_equal(list_env(&env, "TLSPOLICY_ALERT_HOST"), "mx1.example.org");
	assert_string_equal(list_env(&env, "TLSPOLICY_ALERT_CHAIN_SPKI_SHA256"), "ab,cd");
	assert_string_equal(list_env(&env, "TLSPOLICY_ALERT_X_ODD_KEY"), "v");
	assert_string_equal(list_env(&env, "TLSPOLICY_ALERT_REASON"), "two words");
	assert_int_equal(list_count_prefix(&env, "TLSPOLICY_ALERT_DEST="), 1);
	assert_int_equal(list_count_prefix(&env, "TLSPOLICY_ALERT_"), 7);
	assert_null(list_env(&env, "TLSPOLICY_TEST_SECRET"));
	assert_null(list_env(&env, "TLSPOLICY_ALERT_FORGED"));
	/* Nothing else but what /bin/sh itself adds. */
	for (size_t i = 0; i < env.n; i++)
		if (strncmp(env.item[i], "TLSPOLICY_ALERT_", 16) != 0 && strncmp(env.item[i], "PATH=", 5) != 0 &&
		    strncmp(env.item[i], "PWD=", 4) != 0 && strncmp(env.item[i], "OLDPWD=", 7) != 0 &&
		    strncmp(env.item[i], "SHLVL=", 6) != 0 && strncmp(env.item[i], "_=", 2) != 0)
			FAIL("unexpected variable %s", env.item[i]);

	assert_string_equal(list_env(&fds, "0"), "/dev/null");
	assert_string_equal(list_env(&fds, "1"), "/dev/null");
	assert_string_equal(list_env(&fds, "2"), "/dev/null");
	assert_string_equal(list_env(&fds, "200"), "none");
	free(env.data);
	free(args.data);
	free(fds.data);
	wait_failed(f, 0);
	alerter_stats(f->a, &st);
	assert_int_equal(st.commands, 1);
}

/* White space splits; nothing else is special. */
static void
test_command_words(void **state)
{
	struct fixture *f = *state;
	struct list args;

	snprintf(f->command, sizeof(f->command), " %s/dump\t%s/out   'two words' \"$HOME\" a\\ b *\n", f->dir,
	    f->dir);
	f->s.command = f->command;
	reconfigure(f);
	assert_int_equal(alerter_raise(f->a, "k", "d.example", NULL, f->now), 1);
	list_read(f, "out.args", &args);
	assert_int_equal(args.n, 7);
	assert_string_equal(args.item[1], "'two");
	assert_string_equal(args.item[2], "words'");
	assert_string_equal(args.item[3], "\"$HOME\"");
	assert_string_equal(args.item[4], "a\\");
	assert_string_equal(args.item[5], "b");
	assert_string_equal(args.item[6], "*");
	free(args.data);
}

/* A destination is never an argument; it reaches TLSPOLICY_ALERT_DEST
 * only when it is "-" or a valid next hop as the daemon writes one (a
 * recipient domain from Postfix's log can be anything printable). The
 * alert is logged either way, the name quoted in the line. */
struct hostile_case {
	const char *name;
	const char *dest;
	const char *env_value;	/* expected TLSPOLICY_ALERT_DEST; NULL: left out */
};

static const char *
hostile_case_name(const void *row)
{
	return ((const struct hostile_case *)row)->name;
}

static const struct hostile_case hostile_cases[] = {
	{"hostile dest: x;rm -rf /", "x;rm -rf /", NULL},
	{"hostile dest: $(touch pwned)", "$(touch pwned)", NULL},
	{"hostile dest: $(id).example", "$(id).example", NULL},
	{"hostile dest: `touch pwned`", "`touch pwned`", NULL},
	{"hostile dest: --help", "--help", NULL},
	{"hostile dest: -rf", "-rf", NULL},
	{"hostile dest: words and *", "a b * c", NULL},
	{"hostile dest: a glob, *.example", "*.example", NULL},
	{"hostile dest: quotes", "'\"x\"' \\", NULL},
	{"hostile dest: a newline", "a.example\nrest", NULL},
	{"hostile dest: a forged variable", "a.example\nTLSPOLICY_ALERT_KIND=forged", NULL},
	{"hostile dest: carriage return", "a.example\r\n; touch pwned", NULL},
	{"hostile dest: ; touch pwned", "; touch pwned", NULL},
	{"hostile dest: | touch pwned", "| touch pwned > pwned", NULL},
	{"hostile dest: non-ASCII", "\xc3\xa9xample.\x01org", NULL},
	{"hostile dest: a path", "../../etc/passwd", NULL},
	{"hostile dest: a label that starts with -", "a.-rf.example", NULL},
	{"hostile dest: [-host]", "[-mx.example]:587", NULL},
	{"not canonical: upper case", "Example.ORG", NULL},
	{"not canonical: port 25 written", "example.org:25", NULL},
	{"valid: a domain", "example.org", "example.org"},
	{"valid: an IDN in its A-label form", "xn--mller-kva.example", "xn--mller-kva.example"},
	{"valid: a domain on another port", "example.org:2525", "example.org:2525"},
	{"valid: a host next hop", "[mx.example.org]:587", "[mx.example.org]:587"},
	{"valid: an address literal", "[192.0.2.1]", "[192.0.2.1]"},
	{"valid: no destination", "-", "-"},
};

static void
test_hostile_dest(void **state)
{
	struct fixture *f = *state;
	const struct hostile_case *c = f->row;
	struct list args, env;
	char path[256];

	use_dump(f);
	assert_int_equal(alerter_raise(f->a, "dane-mismatch", c->dest, NULL, f->now), 1);
	list_read(f, "out.env", &env);
	list_read(f, "out.args", &args);
	assert_int_equal(args.n, 1);
	if (c->env_value)
		assert_string_equal(list_env(&env, "TLSPOLICY_ALERT_DEST"), c->env_value);
	else
		assert_null(list_env(&env, "TLSPOLICY_ALERT_DEST"));
	assert_string_equal(list_env(&env, "TLSPOLICY_ALERT_KIND"), "dane-mismatch");
	assert_int_equal(list_count_prefix(&env, "TLSPOLICY_ALERT_"), c->env_value ? 3 : 2);
	/* Logged all the same, the name quoted. */
	assert_int_equal(log_count(f, "alert: event=alert kind=dane-mismatch dest="), 1);
	/* The whole value, quoted, in the line. */
	assert_null(strchr(list_env(&env, "TLSPOLICY_ALERT_LINE"), '\n'));
	assert_non_null(strstr(list_env(&env, "TLSPOLICY_ALERT_LINE"), "event=alert kind=dane-mismatch dest="));
	path_in(f, "pwned", path, sizeof(path));
	assert_false(exists(path));
	assert_false(exists("/pwned"));
	free(env.data);
	free(args.data);
	wait_failed(f, 0);
}

static void
test_command_missing(void **state)
{
	struct fixture *f = *state;
	struct alert_stats st;

	f->s.command = "/nonexistent/alert-command --flag";
	reconfigure(f);
	assert_int_equal(alerter_raise(f->a, "k", "d.example", NULL, f->now), 1);
	wait_failed(f, 1);	/* at once with glibc; at exit (127) elsewhere */
	alerter_stats(f->a, &st);
	assert_int_equal(st.commands, 1);
	assert_int_equal(log_count(f, " warning: event=alert-command-failed kind=k dest=d.example "
	    "command=/nonexistent/alert-command "), 1);
	/* A bare name is looked for in the safe PATH only. */
	f->s.command = "no-such-alert-command-tlspolicy";
	reconfigure(f);
	assert_int_equal(alerter_raise(f->a, "k", "d2.example", NULL, f->now), 1);
	wait_failed(f, 2);
	assert_int_equal(log_count(f, "event=alert-command-failed"), 2);
}

static void
test_command_exit_status(void **state)
{
	struct fixture *f = *state;
	struct alert_stats st;

	f->s.command = "false";	/* found in the safe PATH */
	reconfigure(f);
	assert_int_equal(alerter_raise(f->a, "k", "d.example", NULL, f->now), 1);
	wait_failed(f, 1);
	assert_int_equal(log_count(f, "event=alert-command-failed kind=k dest=d.example command=false status=1\n"),
	    1);
	f->s.command = "true";
	reconfigure(f);
	assert_int_equal(alerter_raise(f->a, "k", "d2.example", NULL, f->now), 1);
	for (int i = 0; i < 50; i++) {
		alert_reap(f->a, f->now);
		sleep_ms(10);
	}
	alerter_stats(f->a, &st);
	assert_int_equal(st.commands, 2);
	assert_int_equal(st.commands_failed, 1);
	assert_int_equal(log_count(f, "event=alert-command-failed"), 1);
}

static void
test_command_timeout(void **state)
{
	struct fixture *f = *state;
	struct alert_stats st;
	pid_t pid, kid;

	snprintf(f->command, sizeof(f->command), "%s/family %s/pid", f->dir, f->dir);
	f->s.command = f->command;
	reconfigure(f);
	assert_int_equal(alerter_raise(f->a, "k", "d.example", NULL, T0), 1);
	pid = read_pid(f, "pid");
	kid = read_pid(f, "pid.kid");
	alert_reap(f->a, T0 + ALERT_COMMAND_TIMEOUT_S * 1000 - 1);
	sleep_ms(50);
	alert_reap(f->a, T0 + ALERT_COMMAND_TIMEOUT_S * 1000 - 1);
	assert_int_equal(proc_state(pid), 'R');
	alerter_stats(f->a, &st);
	assert_int_equal(st.commands_failed, 0);

	f->now = T0 + ALERT_COMMAND_TIMEOUT_S * 1000;
	alert_reap(f->a, f->now);
	alerter_stats(f->a, &st);
	assert_int_equal(st.commands_failed, 1);
	/* Gone, reaped by alert_reap (not a zombie); its process group too. */
	for (int i = 0; i < WAIT_MS / 10 && (proc_state(pid) || proc_state(kid) == 'R'); i++) {
		alert_reap(f->a, f->now);
		sleep_ms(10);
	}
	assert_int_equal(proc_state(pid), 0);
	assert_true(proc_state(kid) != 'R');
	alerter_stats(f->a, &st);
	assert_int_equal(st.commands_failed, 1);
	assert_int_equal(log_count(f, "event=alert-command-failed kind=k dest=d.example"), 1);
	assert_int_equal(log_count(f, "error=\"timed out\""), 1);
}

static void
test_free_kills_children(void **state)
{
	struct fixture *f = *state;
	pid_t pid, kid;

	snprintf(f->command, sizeof(f->command), "%s/family %s/pid", f->dir, f->dir);
	f->s.command = f->command;
	reconfigure(f);
	assert_int_equal(alerter_raise(f->a, "k", "d.example", NULL, f->now), 1);
	pid = read_pid(f, "pid");
	kid = read_pid(f, "pid.kid");
	assert_int_equal(proc_state(pid), 'R');
	alerter_free(f->a);
	f->a = NULL;
	assert_int_equal(proc_state(pid), 0);	/* killed and reaped: no zombie */
	for (int i = 0; i < WAIT_MS / 10 && proc_state(kid) == 'R'; i++)
		sleep_ms(10);
	assert_true(proc_state(kid) != 'R');
}

/* ---- mail ---- */

static void
use_sendmail(struct fixture *f, const char *script)
{
	path_in(f, script, f->sendmail, sizeof(f->sendmail));
	f->s.sendmail = f->sendmail;
	f->s.recipient = "postmaster@example.net";
	reconfigure(f);
}

static char *
wait_mail(struct fixture *f)
{
	char path[256];

	wait_file(f, "mail.msg");
	path_in(f, "mail.msg", path, sizeof(path));
	return stderrlog_read_all(path, NULL);
}

static void
test_mail(void **state)
{
	struct fixture *f = *state;
	const char *fields[] = {"host", "mx1.example.org", "reason", "no match\\here", NULL};
	struct list args, env;
	struct alert_stats st;
	char *msg, *body;

	use_sendmail(f, "sendmail");
	assert_int_equal(alerter_raise(f->a, "dane-mismatch", "example.org", fields, f->now), 1);
	msg = wait_mail(f);
	list_read(f, "mail.args", &args);
	assert_int_equal(args.n, 3);
	assert_string_equal(args.item[0], "-i");
	assert_string_equal(args.item[1], "--");
	assert_string_equal(args.item[2], "postmaster@example.net");
	list_read(f, "mail.env", &env);
	assert_string_equal(list_env(&env, "PATH"), "/usr/sbin:/usr/bin:/sbin:/bin");
	assert_int_equal(list_count_prefix(&env, "TLSPOLICY_"), 0);

	assert_non_null(body = strstr(msg, "\n\n"));
	*body = '\0';
	body += 2;
	assert_true(strncmp(msg, "From: tlspolicyd\nTo: postmaster@example.net\n"
	    "Subject: tlspolicyd alert: dane-mismatch for example.org\nDate: ", 92) == 0);
	/* Date: Tue, 24 Nov 2026 16:18:05 +0000 */
	char *date = strstr(msg, "\nDate: ") + 7;
	char day[4], mon[4], zone[6];
	int mday, year, hh, mm, ss;
	assert_int_equal(sscanf(date, "%3s, %d %3s %d %d:%d:%d %5s", day, &mday, mon, &year, &hh, &mm, &ss, zone),
	    8);
	assert_int_equal(day[3], '\0');
	assert_true(year >= 2024);
	assert_string_equal(zone, "+0000");
	assert_non_null(strstr(msg, "\nAuto-Submitted: auto-generated\n"));
	assert_string_equal(body,
	    "event=alert kind=dane-mismatch dest=example.org host=mx1.example.org "
	    "reason=\"no match\\\\here\"\n"
	    "\n"
	    "kind: dane-mismatch\n"
	    "dest: example.org\n"
	    "host: mx1.example.org\n"
	    "reason: no match\\\\here\n");
	for (char *p = msg; *p; p++)
		assert_true(*p == '\n' || (*p >= 0x20 && *p < 0x7f));
	free(msg);
	free(args.data);
	free(env.data);
	alerter_stats(f->a, &st);
	assert_int_equal(st.mails, 1);
	assert_int_equal(st.commands, 0);
	/* Both: the command and the mail. */
	use_dump(f);
	assert_int_equal(alerter_raise(f->a, "dane-mismatch", "two.example", NULL, f->now), 1);
	list_read(f, "out.env", &env);
	free(env.data);
	wait_file(f, "mail.msg");
	alerter_stats(f->a, &st);
	assert_int_equal(st.mails, 2);
	assert_int_equal(st.commands, 1);
}

static void
test_mail_hostile_dest(void **state)
{
	struct fixture *f = *state;
	const char *fields[] = {"detail", "x\n.\nBcc: victim@example.com", NULL};
	char *msg, *body;

	use_sendmail(f, "sendmail");
	assert_int_equal(alerter_raise(f->a, "auth-failing", "evil.example\r\nBcc: victim@example.com", fields,
	    f->now), 1);
	msg = wait_mail(f);
	assert_non_null(body = strstr(msg, "\n\n"));
	*body = '\0';
	assert_non_null(strstr(msg, "\nSubject: tlspolicyd alert: auth-failing for "
	    "evil.example??Bcc: victim@example.com\n"));
	assert_null(strstr(msg, "\nBcc:"));
	assert_null(strstr(body + 1, "\nBcc:"));
	assert_null(strstr(body + 1, "\n.\n"));
	assert_non_null(strstr(body + 1, "\ndest: evil.example\\x0d\\x0aBcc: victim@example.com\n"));
	assert_non_null(strstr(body + 1, "\ndetail: x\\x0a.\\x0aBcc: victim@example.com\n"));
	free(msg);
}

static void
test_mail_long_lines(void **state)
{
	struct fixture *f = *state;
	char *big = malloc(100001), *msg;
	const char *fields[] = {"chain", big, NULL};
	size_t n = 0;

	memset(big, 'a', 100000);
	big[100000] = '\0';
	use_sendmail(f, "sendmail");
	assert_int_equal(alerter_raise(f->a, "k", "d.example", fields, f->now), 1);
	msg = wait_mail(f);
	assert_true(strlen(msg) <= 32768);
	assert_non_null(strstr(msg, "\n[message truncated]\n"));
	for (char *p = msg; *p; p++) {
		n = *p == '\n' ? 0 : n + 1;
		assert_true(n <= 998);
	}
	free(msg);
	free(big);
}

static void
test_mail_failures(void **state)
{
	struct fixture *f = *state;
	struct alert_stats st;

	use_sendmail(f, "sendmail-fail");
	assert_int_equal(alerter_raise(f->a, "k", "d.example", NULL, f->now), 1);
	for (int i = 0; i < WAIT_MS / 10 && !log_count(f, "alert-mail-failed"); i++) {
		alert_reap(f->a, f->now);
		sleep_ms(10);
	}
	assert_int_equal(log_count(f, " warning: event=alert-mail-failed kind=k dest=d.example "
	    "recipient=postmaster@example.net status=75\n"), 1);
	f->s.sendmail = "/nonexistent/sendmail";
	reconfigure(f);
	assert_int_equal(alerter_raise(f->a, "k", "d2.example", NULL, f->now), 1);
	for (int i = 0; i < WAIT_MS / 10 && log_count(f, "alert-mail-failed") < 2; i++) {
		alert_reap(f->a, f->now);
		sleep_ms(10);
	}
	assert_int_equal(log_count(f, "event=alert-mail-failed kind=k dest=d2.example"), 1);
	alerter_stats(f->a, &st);
	assert_int_equal(st.mails, 2);
	assert_int_equal(st.commands_failed, 0);
}

/* A new configuration keeps what was raised: a repeat stays held. */
static void
test_set_keeps_state(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(alerter_raise(f->a, "k", "d.example", NULL, f->now), 1);
	f->s.command = "";
	f->s.interval_ms = 120000;
	reconfigure(f);
	assert_int_equal(alerter_raise(f->a, "k", "d.example", NULL, f->now + 90000), 0);
	assert_int_equal(alerter_raise(f->a, "k", "d.example", NULL, f->now + 120000), 1);
}

int
main(void)
{
	struct table t = {0};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_raise_logs_one_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_fields_and_hostile_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counts_by_kind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_alert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hourly_limit_summary_by_reap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hourly_limit_summary_by_raise, setup, teardown),
		cmocka_unit_test_setup_teardown(test_summary_at_free, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_environment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_words, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_exit_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_kills_children, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mail_hostile_dest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mail_long_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mail_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_keeps_state, setup, teardown),
	};

	TABLE_ADD(&t, hostile_cases, hostile_case, test_hostile_dest);
	/* The rows get the fixture too, with their row in it. */
	for (size_t i = 0; i < t.n; i++) {
		t.tests[i].setup_func = setup;
		t.tests[i].teardown_func = teardown;
	}
	TABLE_TESTS(&t, tests);
	return table_run(&t, "alert");
}
