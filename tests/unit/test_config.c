/*
 * Unit tests: the configuration (lib/config/config.h).
 *
 * tests/conf/good-*.conf are parsed and every value is checked;
 * config_load() must refuse each tests/conf/bad-*.conf with the errors its
 * "# expect:" lines name (badfiles.h).
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <cmocka.h>

#include "util/buf.h"
#include "config/config.h"
#include "badfiles.h"
#include "table.h"

#define NLEVELS (POLICY_RULE_FAILED_HOST + 1)

static char conf_dir_path[4096];

static const char *
conf_dir(void)
{
	return table_data_dir(conf_dir_path, sizeof(conf_dir_path), "conf");
}

static char *
conf_path(const char *file)
{
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "%s/%s", conf_dir(), file);
	return buf_detach(&b);
}

/* The value of one setting as config_dump() writes it (caller frees). */
static char *
dumped_value(const struct config *c, const char *name)
{
	struct buf dump, want;
	char *value = NULL;

	buf_init(&dump);
	buf_init(&want);
	assert_int_equal(config_dump(c, &dump), 0);
	buf_printf(&want, "%s = ", name);
	for (const char *line = buf_ptr(&dump); *line;) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		if (n >= buf_size(&want) && memcmp(line, buf_ptr(&want), buf_size(&want)) == 0) {
			value = strndup(line + buf_size(&want), n - buf_size(&want));
			break;
		}
		line += n + (nl ? 1 : 0);
	}
	buf_free(&dump);
	buf_free(&want);
	if (!value)
		fail_msg("config_dump() has no line for %s", name);
	return value;
}

/* ---- The good files, and the defaults: every value. ---- */

struct good_case {
	const char *name;
	const char *file;	/* NULL: config_defaults() */
	const char *listen[4];
	const char *map_names[4];
	unsigned max_connections;
	unsigned client_timeout_ms;
	const char *trust_anchor_file;
	const char *unbound_config;
	unsigned dns_timeout_ms;
	unsigned cache_max_entries;
	unsigned cache_min_ttl_ms;
	unsigned cache_max_ttl_ms;
	unsigned cache_temp_ttl_ms;
	const char *levels[NLEVELS];
	const char *user;
	int syslog_facility;
	int log_level;
	bool all_changed;	/* every setting differs from its default */
};

#define DEFAULT_LEVELS {"dane-only", "dane", "encrypt", "may", "dane", "may", "dane"}

static const struct good_case good_cases[] = {
	{"defaults", NULL,
	    {"inet:127.0.0.1:7672"}, {"tlspolicy"}, 10000, 30000,
	    "/usr/share/dns/root.key", "", 10000, 100000, 10000, 3600000, 15000,
	    DEFAULT_LEVELS, "tlspolicyd", LOG_MAIL, LOGL_INFO, false},
	{"good-comments-only.conf: the defaults", "good-comments-only.conf",
	    {"inet:127.0.0.1:7672"}, {"tlspolicy"}, 10000, 30000,
	    "/usr/share/dns/root.key", "", 10000, 100000, 10000, 3600000, 15000,
	    DEFAULT_LEVELS, "tlspolicyd", LOG_MAIL, LOGL_INFO, false},
	{"good-full.conf: every setting", "good-full.conf",
	    {"inet:127.0.0.1:10025", "unix:/run/tlspolicyd/socketmap", "inet:[::1]:10025"},
	    {"tlspolicy", "dane_policy"}, 500, 86400000,
	    "/var/lib/unbound/root.key", "/etc/tlspolicyd/unbound.conf", 2500, 5000,
	    2 * 3600000, 7 * 86400000, 45000,
	    {"dane-only protocols=>=TLSv1.3", "dane ciphers=high", "verify match=hostname",
		"encrypt", "dane-only", "none", "dane-only protocols=>=TLSv1.2"},
	    "mailpolicy", LOG_LOCAL5, LOGL_DEBUG, true},
	{"good-crlf.conf: CRLF, continuations, units", "good-crlf.conf",
	    {"unix:/run/tlspolicyd.sock", "inet:127.0.0.1:7672", "unix:/run/tlspolicyd-2.sock"},
	    {"tlspolicy"}, 7, 90000,
	    "/usr/share/dns/root.key", "", 120000, 100000, 0, 3600000, 1500,
	    {"dane-only", "dane", "encrypt", "may protocols=!SSLv2,!SSLv3", "dane", "may", "dane"},
	    "tlspolicyd", LOG_DAEMON, LOGL_WARNING, false},
};

static const char *
good_case_name(const void *row)
{
	return ((const struct good_case *)row)->name;
}

static struct config *
load_good(const struct good_case *c)
{
	struct buf errors;
	struct config *conf;

	if (!c->file)
		return config_defaults();
	char *path = conf_path(c->file);
	buf_init(&errors);
	conf = config_load(path, &errors);
	if (!conf)
		fail_msg("%s refused:\n%s", path, buf_ptr(&errors));
	assert_int_equal(buf_size(&errors), 0);
	assert_string_equal(conf->path, path);
	buf_free(&errors);
	free(path);
	return conf;
}

static void
assert_list(char **got, const char *const *want, const char *what)
{
	size_t i;

	assert_non_null(got);
	for (i = 0; want[i]; i++) {
		if (!got[i])
			fail_msg("%s: %zu items, want more (next: %s)", what, i, want[i]);
		assert_string_equal(got[i], want[i]);
	}
	if (got[i])
		fail_msg("%s: extra item '%s'", what, got[i]);
}

static void
test_good(void **state)
{
	const struct good_case *c = *state;
	struct config *conf = load_good(c);

	assert_non_null(conf);
	assert_int_equal(conf->refs, 1);
	if (!c->file)
		assert_string_equal(conf->path, "(defaults)");
	assert_list(conf->listen, c->listen, "listen");
	assert_list(conf->map_names, c->map_names, "map_names");
	assert_int_equal(conf->max_connections, c->max_connections);
	assert_int_equal(conf->client_timeout_ms, c->client_timeout_ms);
	assert_string_equal(conf->trust_anchor_file, c->trust_anchor_file);
	assert_string_equal(conf->unbound_config, c->unbound_config);
	assert_int_equal(conf->dns_timeout_ms, c->dns_timeout_ms);
	assert_int_equal(conf->cache_max_entries, c->cache_max_entries);
	assert_int_equal(conf->cache_min_ttl_ms, c->cache_min_ttl_ms);
	assert_int_equal(conf->cache_max_ttl_ms, c->cache_max_ttl_ms);
	assert_int_equal(conf->cache_temp_ttl_ms, c->cache_temp_ttl_ms);
	for (int r = 0; r < NLEVELS; r++) {
		assert_non_null(conf->levels.level[r]);
		assert_string_equal(conf->levels.level[r], c->levels[r]);
	}
	assert_string_equal(conf->user, c->user);
	assert_int_equal(conf->syslog_facility, c->syslog_facility);
	assert_int_equal(conf->log_level, c->log_level);
	config_unref(conf);
}

/* good-full.conf sets every setting: each dump line differs from the
 * defaults' line for the same setting. */
static void
test_good_sets_all(void **state)
{
	const struct good_case *c = &good_cases[2];
	struct config *conf = load_good(c);

	assert_true(c->all_changed);
	struct buf names;

	buf_init(&names);
	assert_int_equal(config_names(&names), 0);
	for (const char *name = buf_ptr(&names); *name;) {
		const char *nl = strchr(name, '\n');
		assert_non_null(nl);
		char *n = strndup(name, (size_t)(nl - name));
		char *mine = dumped_value(conf, n);
		char *def = dumped_value(NULL, n);
		if (strcmp(mine, def) == 0)
			fail_msg("%s: %s is still its default '%s'", c->file, n, def);
		free(mine);
		free(def);
		free(n);
		name = nl + 1;
	}
	buf_free(&names);
	config_unref(conf);
}

static const char *
round_trip_name(const void *row)
{
	static char names[sizeof(good_cases) / sizeof(good_cases[0])][128];
	size_t i = (size_t)((const struct good_case *)row - good_cases);

	snprintf(names[i], sizeof(names[i]), "round trip: %s", good_cases[i].name);
	return names[i];
}

/* config_dump() re-parses to the same dump. */
static void
test_round_trip(void **state)
{
	const struct good_case *c = *state;
	struct config *conf = load_good(c);
	struct buf first, second, errors;

	buf_init(&first);
	buf_init(&second);
	buf_init(&errors);
	assert_int_equal(config_dump(conf, &first), 0);
	struct config *again = config_parse(buf_ptr(&first), buf_size(&first), "dump", &errors);
	if (!again)
		fail_msg("the dump does not parse:\n%s\n%s", buf_ptr(&errors), buf_ptr(&first));
	assert_int_equal(config_dump(again, &second), 0);
	assert_string_equal(buf_ptr(&first), buf_ptr(&second));
	config_unref(again);
	config_unref(conf);
	buf_free(&first);
	buf_free(&second);
	buf_free(&errors);
}

/* ---- The bad files (badfiles.h). ---- */

static bool
load_config(const char *path, struct buf *errors)
{
	struct config *c = config_load(path, errors);
	bool accepted = c != NULL;

	config_unref(c);
	return accepted;
}

/* Failures are reported after freeing, so that valgrind stays quiet even
 * on a failing row. */
static char failure[8192];

/* ---- Errors from text in memory. ---- */

struct error_case {
	const char *name;
	const char *text;
	size_t len;		/* 0: strlen(text) */
	unsigned line;		/* 0: no line number */
	const char *want;
	const char *unwanted;	/* must not appear */
};

static const struct error_case error_cases[] = {
	{"error: far miss, no suggestion", "frobnicate = 1\n", 0, 1, "unknown setting 'frobnicate'", "did you mean"},
	{"error: near miss suggests", "map_name = x\n", 0, 1, "unknown setting 'map_name' (did you mean 'map_names'?)", NULL},
	{"error: two edits still suggest", "cache_max_entrys = 5\n", 0, 1, "(did you mean 'cache_max_entries'?)", NULL},
	{"error: upper-case name", "LISTEN = inet:127.0.0.1:1\n", 0, 1, "'LISTEN' is not a setting name", NULL},
	{"error: empty name", "= 5\n", 0, 1, "'' is not a setting name", NULL},
	{"error: name with a space", "max connections = 5\n", 0, 1, "'max connections' is not a setting name", NULL},
	{"error: continued value names its first line", "user = x\nmax_connections = 5\n  0\n", 0, 2,
	    "max_connections: '5 0' is not a number", NULL},
	{"error: blank and comment lines are counted", "\n# c\n\n  # d\nfoo = 1\n", 0, 5, "unknown setting 'foo'", NULL},
	{"error: CRLF lines counted once", "user = a\r\n\r\nlog_level = loud\r\n", 0, 3,
	    "log_level: 'loud' is not a log level", "\r"},
	{"error: NUL in a last line without newline", "user = a\nlog_level = x\0y", 24, 2, "NUL byte in line", NULL},
	{"error: NUL in a continuation line", "user = a\n  b\0c\n", 15, 2, "NUL byte in line", NULL},
	{"error: upper-case duration unit", "client_timeout = 30S\n", 0, 1, "'30S' is not a time", NULL},
	{"error: space before the unit", "client_timeout = 30 s\n", 0, 1, "'30 s' is not a time", NULL},
	{"error: negative duration", "cache_temp_ttl = -5s\n", 0, 1, "'-5s' is not a time from 0s to 1h", NULL},
	{"error: fractional duration", "client_timeout = 1.5s\n", 0, 1, "'1.5s' is not a time", NULL},
	{"error: unit without a number", "client_timeout = s\n", 0, 1, "'s' is not a time", NULL},
	{"error: empty duration", "client_timeout =\n", 0, 1, "client_timeout: '' is not a time", NULL},
	{"error: duration over the limit", "cache_temp_ttl = 61m\n", 0, 1, "'61m' is not a time from 0s to 1h", NULL},
	{"error: duration overflows", "client_timeout = 18446744073709551615w\n", 0, 1, "is not a time", NULL},
	{"error: duration overflows in ms", "client_timeout = 18446744073709552s\n", 0, 1, "is not a time", NULL},
	{"error: duration past strtoul", "client_timeout = 99999999999999999999999s\n", 0, 1, "is not a time", NULL},
	/* A bad cache_max_ttl is one error, not also "min larger than max". */
	{"error: bad cache_max_ttl, no follow-on error", "cache_max_ttl = 169h\n", 0, 1,
	    "'169h' is not a time from 1s to 168h", "larger"},
	{"error: bad cache_max_ttl unit, no follow-on error", "cache_max_ttl = 2x\n", 0, 1,
	    "'2x' is not a time", "larger"},
	{"error: hex number", "max_connections = 0x10\n", 0, 1, "'0x10' is not a number", NULL},
	{"error: plus sign", "max_connections = +5\n", 0, 1, "'+5' is not a number", NULL},
	{"error: empty number", "max_connections =\n", 0, 1, "'' is not a number", NULL},
	{"error: number with a unit", "cache_max_entries = 5k\n", 0, 1, "'5k' is not a number", NULL},
	{"error: number one over", "max_connections = 1000001\n", 0, 1, "from 1 to 1000000", NULL},
	{"error: empty level", "level_no_tlsa =\n", 0, 1, "level_no_tlsa: '': empty policy", NULL},
	{"error: upper-case level", "level_no_tlsa = MAY\n", 0, 1, "unknown TLS security level", NULL},
	{"error: attribute without value", "level_mixed = dane match=\n", 0, 1, "not name=value", NULL},
	{"error: upper-case log level", "log_level = INFO\n", 0, 1, "'INFO' is not a log level", NULL},
	{"error: upper-case facility", "syslog_facility = MAIL\n", 0, 1, "'MAIL' is not a syslog facility", NULL},
	{"error: facility local8", "syslog_facility = local8\n", 0, 1, "'local8' is not a syslog facility", NULL},
	{"error: list of separators", "map_names = , ,\t,\n", 0, 1, "map_names: must not be empty", NULL},
	{"error: listen, unix without path", "listen = unix:\n", 0, 1, "absolute path", NULL},
	{"error: status_listen, unix without path", "status_listen = unix:\n", 0, 1,
	    "status_listen: 'unix:': a unix socket needs an absolute path", NULL},
	{"error: an endpoint in listen and status_listen", "listen = unix:/run/a, inet:127.0.0.1:7672\n"
	    "status_listen = inet:127.0.0.1:7672\n", 0, 0,
	    "status_listen: inet:127.0.0.1:7672 is in listen too", NULL},
	{"error: min TTL over the default max", "cache_min_ttl = 2h\n", 0, 0,
	    "cache_min_ttl is larger than cache_max_ttl", NULL},
	{"error: max TTL under the default min", "cache_max_ttl = 5s\n", 0, 0,
	    "cache_min_ttl is larger than cache_max_ttl", NULL},
	{"error: no trust anchor from either setting", "trust_anchor_file =\n", 0, 0,
	    "trust_anchor_file is empty and unbound_config is not set", NULL},
	{"error: tracking with nothing to start from", "trust_anchor_file =\nunbound_config = /u\n"
	    "trust_anchor_tracking = yes\n", 0, 0, "trust_anchor_tracking = yes needs trust_anchor_file", NULL},
	{"error: tracking with nowhere to keep the copy", "state_directory =\ntrust_anchor_tracking = yes\n", 0, 0,
	    "trust_anchor_tracking = yes needs state_directory", NULL},
	{"error: trust_check_name not a name", "trust_check_name = bad name\n", 0, 0,
	    "trust_check_name: 'bad name' is not a domain name", NULL},
	{"error: monitor_domains with a bracketed host", "monitor_domains = example.org, [mx.example.org]\n", 0, 0,
	    "monitor_domains: '[mx.example.org]' is not a domain name", NULL},
	{"error: monitor_domains with an address", "monitor_domains = 192.0.2.1\n", 0, 0,
	    "monitor_domains: '192.0.2.1' is not a domain name", NULL},
	{"error: trust_check_name empty", "trust_check_name =\n", 0, 0,
	    "trust_check_name: '' is not a domain name", NULL},
	{"error: trust_check_name with an empty label", "trust_check_name = a..b\n", 0, 0,
	    "trust_check_name: 'a..b' is not a domain name", NULL},
	{"error: trust_check_interval 0s: the check cannot be turned off", "trust_check_interval = 0s\n", 0, 1,
	    "trust_check_interval: '0s' is not a time from 1s to 168h", NULL},
	{"error: very long name", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa = 1\n", 0, 1, "unknown setting 'aaaa", NULL},
};

static const char *
error_case_name(const void *row)
{
	return ((const struct error_case *)row)->name;
}

static void
test_error(void **state)
{
	const struct error_case *c = *state;
	size_t len = c->len ? c->len : strlen(c->text);
	struct buf errors, prefix;

	failure[0] = '\0';
	buf_init(&errors);
	buf_init(&prefix);
	struct config *conf = config_parse(c->text, len, "mem", &errors);
	buf_terminate(&errors);
	if (c->line)
		buf_printf(&prefix, "mem:%u: ", c->line);
	else
		buf_puts(&prefix, "mem: ");
	if (conf)
		snprintf(failure, sizeof(failure), "accepted");
	else if (!badfiles_has_error(buf_ptr(&errors), buf_ptr(&prefix), c->want))
		snprintf(failure, sizeof(failure), "no error \"%s...%s\" in:\n%s", buf_ptr(&prefix), c->want,
		    buf_ptr(&errors));
	else if (c->unwanted && strstr(buf_ptr(&errors), c->unwanted))
		snprintf(failure, sizeof(failure), "'%s' in:\n%s", c->unwanted, buf_ptr(&errors));
	else if (badfiles_count_lines(buf_ptr(&errors)) != 1)
		snprintf(failure, sizeof(failure), "want one error:\n%s", buf_ptr(&errors));
	config_unref(conf);
	buf_free(&errors);
	buf_free(&prefix);
	if (failure[0])
		fail_msg("%s", failure);
}

/* ---- Values accepted from text in memory. ---- */

struct value_case {
	const char *name;
	const char *text;
	const char *setting;
	const char *dumped;	/* its value in config_dump() */
};

static const struct value_case value_cases[] = {
	{"value: duration lower bound", "client_timeout = 100ms", "client_timeout", "100ms"},
	{"value: duration in days", "client_timeout = 1d", "client_timeout", "24h"},
	{"value: duration upper bound", "dns_timeout = 10m", "dns_timeout", "10m"},
	{"value: duration in weeks", "cache_max_ttl = 1w", "cache_max_ttl", "168h"},
	{"value: duration zero", "cache_min_ttl = 0", "cache_min_ttl", "0s"},
	{"value: bare number is seconds", "cache_temp_ttl = 3600", "cache_temp_ttl", "1h"},
	{"value: minutes", "cache_temp_ttl = 90s", "cache_temp_ttl", "90s"},
	{"value: milliseconds kept", "client_timeout = 1500ms", "client_timeout", "1500ms"},
	{"value: leading zeros", "client_timeout = 007s", "client_timeout", "7s"},
	{"value: number upper bound", "max_connections = 1000000", "max_connections", "1000000"},
	{"value: number lower bound", "max_connections = 1", "max_connections", "1"},
	{"value: list separators", "map_names = a,b c\td,,e", "map_names", "a, b, c, d, e"},
	{"value: inner spaces kept", "level_mixed = dane   ciphers=high", "level_mixed", "dane   ciphers=high"},
	{"value: continuation joins with one space", "level_mixed = dane\n\t\tciphers=high", "level_mixed",
	    "dane ciphers=high"},
	{"value: comment inside continuation", "map_names = a,\n  # b\n  c\n", "map_names", "a, c"},
	{"value: blank line inside continuation", "map_names = a,\n\n  c\n", "map_names", "a, c"},
	{"value: trailing white space trimmed", "user = bob  \t", "user", "bob"},
	{"value: '#' after a value is part of it", "user = bob # not a comment", "user", "bob # not a comment"},
	{"value: empty string", "unbound_config =", "unbound_config", ""},
	{"value: no spaces around '='", "user=bob", "user", "bob"},
	{"value: '=' inside the value", "level_mixed = dane match=a=b", "level_mixed", "dane match=a=b"},
	{"value: min TTL equal to max", "cache_min_ttl = 1h\ncache_max_ttl = 3600s\n", "cache_min_ttl", "1h"},
	{"value: CR-only blank lines", "\r\n\r\nuser = bob\r\n", "user", "bob"},
	{"value: no final newline", "log_level = error", "log_level", "error"},
	{"value: facility local7", "syslog_facility = local7", "syslog_facility", "local7"},
	{"value: anchors named in unbound_config only", "trust_anchor_file =\nunbound_config = /u\n",
	    "trust_anchor_file", ""},
	{"value: trust_check_name, the root", "trust_check_name = .", "trust_check_name", "."},
	{"value: trust_check_name, a zone with its dot", "trust_check_name = test.", "trust_check_name", "test."},
	{"value: trust_check_name, a zone without", "trust_check_name = example.org", "trust_check_name",
	    "example.org"},
	{"value: trust_check_interval lower bound", "trust_check_interval = 1s", "trust_check_interval", "1s"},
	{"value: tracking with the default anchor", "trust_anchor_tracking = yes", "trust_anchor_tracking", "yes"},
	{"value: IPv6 listener", "listen = inet:[::1]:7672", "listen", "inet:[::1]:7672"},
	{"value: no status listener", "status_listen =", "status_listen", ""},
};

static const char *
value_case_name(const void *row)
{
	return ((const struct value_case *)row)->name;
}

static void
test_value(void **state)
{
	const struct value_case *c = *state;
	struct buf errors;

	buf_init(&errors);
	struct config *conf = config_parse(c->text, strlen(c->text), "mem", &errors);
	if (!conf)
		fail_msg("refused:\n%s", buf_ptr(&errors));
	assert_int_equal(buf_size(&errors), 0);
	char *v = dumped_value(conf, c->setting);
	assert_string_equal(v, c->dumped);
	free(v);
	config_unref(conf);
	buf_free(&errors);
}

/* ---- config_restart_needed() ---- */

struct restart_case {
	const char *name;
	const char *old, *new;
	int count;
	const char *names;
};

static const struct restart_case restart_cases[] = {
	{"restart: nothing changed", "", "", 0, ""},
	{"restart: reloadable settings only",
	    "", "max_connections = 5\nclient_timeout = 1s\ncache_max_entries = 7\nlevel_no_tlsa = encrypt\n"
	    "map_names = a\nlog_level = debug\ncache_temp_ttl = 1s\n", 0, ""},
	{"restart: listen", "", "listen = unix:/run/t.sock", 1, "listen"},
	{"restart: same value spelt differently",
	    "dns_timeout = 10s\nlisten = inet:127.0.0.1:7672", "dns_timeout = 10000ms\nlisten = inet:127.0.0.1:7672,", 0, ""},
	{"restart: user and facility", "", "syslog_facility = local0\nuser = nobody", 2, "user, syslog_facility"},
	{"restart: every restart setting", "",
	    "listen = inet:127.0.0.1:1\ntrust_anchor_file = /k\nunbound_config = /u\ndns_timeout = 1s\n"
	    "user = u\nsyslog_facility = daemon\nmax_connections = 1\n", 6,
	    "listen, trust_anchor_file, unbound_config, dns_timeout, user, syslog_facility"},
	{"restart: back to the defaults", "unbound_config = /u\n", "", 1, "unbound_config"},
};

static const char *
restart_case_name(const void *row)
{
	return ((const struct restart_case *)row)->name;
}

static struct config *
parse_ok(const char *text)
{
	struct buf errors;

	buf_init(&errors);
	struct config *c = config_parse(text, strlen(text), "mem", &errors);
	if (!c)
		fail_msg("refused:\n%s", buf_ptr(&errors));
	buf_free(&errors);
	return c;
}

static void
test_restart(void **state)
{
	const struct restart_case *c = *state;
	struct config *a = parse_ok(c->old), *b = parse_ok(c->new);
	struct buf names;

	buf_init(&names);
	assert_int_equal(config_restart_needed(a, b, &names), c->count);
	buf_terminate(&names);
	assert_string_equal(buf_ptr(&names), c->names);
	/* Symmetric. */
	buf_reset(&names);
	assert_int_equal(config_restart_needed(b, a, &names), c->count);
	buf_terminate(&names);
	assert_string_equal(buf_ptr(&names), c->names);
	buf_free(&names);
	config_unref(a);
	config_unref(b);
}

/* ---- Plain tests. ---- */

/* Each setting once, in the order of config_dump(), every name a valid one,
 * and each name accepted by the parser. */
static void
test_names(void **state)
{
	struct buf names, dump, text, errors;
	size_t n = 0;

	buf_init(&names);
	buf_init(&dump);
	buf_init(&text);
	buf_init(&errors);
	assert_int_equal(config_names(&names), 0);
	assert_int_equal(config_dump(NULL, &dump), 0);
	const char *d = buf_ptr(&dump);
	for (const char *p = buf_ptr(&names); *p; n++) {
		const char *nl = strchr(p, '\n');
		assert_non_null(nl);
		size_t len = (size_t)(nl - p);
		assert_true(len > 0);
		assert_int_equal(strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_"), len);
		/* Once. */
		for (const char *q = nl + 1; *q;) {
			const char *qnl = strchr(q, '\n');
			if ((size_t)(qnl - q) == len && memcmp(p, q, len) == 0)
				fail_msg("%.*s listed twice", (int)len, p);
			q = qnl + 1;
		}
		/* Same order as the dump. */
		if (strncmp(d, p, len) != 0 || strncmp(d + len, " = ", 3) != 0)
			fail_msg("dump line '%.*s' for name '%.*s'", (int)strcspn(d, "\n"), d, (int)len, p);
		d = strchr(d, '\n') + 1;
		/* The parser knows it: an invalid value is blamed on the value. */
		buf_reset(&text);
		buf_reset(&errors);
		buf_printf(&text, "%.*s = \001\n", (int)len, p);
		struct config *c = config_parse(buf_ptr(&text), buf_size(&text), "mem", &errors);
		config_unref(c);
		buf_terminate(&errors);
		if (strstr(buf_ptr(&errors), "unknown setting"))
			fail_msg("%s", buf_ptr(&errors));
		p = nl + 1;
	}
	assert_int_equal(*d, '\0');
	/* Names existing configurations use: they never change. */
	static const char *const fixed[] = {"listen", "map_names", "trust_anchor_file", "unbound_config", "user"};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		buf_reset(&text);
		buf_printf(&text, "%s\n", fixed[i]);
		buf_terminate(&names);
		const char *at = strstr(buf_ptr(&names), buf_ptr(&text));
		if (!at || (at != buf_ptr(&names) && at[-1] != '\n'))
			fail_msg("no setting %s", fixed[i]);
	}
	assert_true(n >= 21);
	buf_free(&names);
	buf_free(&dump);
	buf_free(&text);
	buf_free(&errors);
}

static void
test_dump_null_is_defaults(void **state)
{
	struct config *c = config_defaults();
	struct buf a, b;

	buf_init(&a);
	buf_init(&b);
	assert_int_equal(config_dump(NULL, &a), 0);
	assert_int_equal(config_dump(c, &b), 0);
	assert_string_equal(buf_ptr(&a), buf_ptr(&b));
	assert_non_null(strstr(buf_ptr(&a), "\nmax_connections = 10000\n"));
	assert_non_null(strstr(buf_ptr(&a), "\ncache_max_ttl = 1h\n"));
	assert_non_null(strstr(buf_ptr(&a), "\nunbound_config = \n"));
	/* Appends. */
	buf_reset(&a);
	buf_puts(&a, "before\n");
	assert_int_equal(config_dump(c, &a), 0);
	assert_int_equal(strncmp(buf_ptr(&a), "before\nlisten = ", 16), 0);
	config_unref(c);
	buf_free(&a);
	buf_free(&b);
}

static void
test_refs(void **state)
{
	struct config *c = config_defaults();

	assert_non_null(c);
	assert_int_equal(c->refs, 1);
	assert_ptr_equal(config_ref(c), c);
	assert_ptr_equal(config_ref(c), c);
	assert_int_equal(c->refs, 3);
	config_unref(c);
	config_unref(c);
	assert_int_equal(c->refs, 1);
	/* Still whole. */
	assert_string_equal(c->listen[0], "inet:127.0.0.1:7672");
	assert_string_equal(c->levels.level[POLICY_RULE_ALL_DANE], "dane-only");
	config_unref(c);	/* freed: valgrind checks */
	config_unref(NULL);
}

/* A snapshot outlives the reload that replaces it. */
static void
test_refs_across_reload(void **state)
{
	struct config *current = parse_ok("user = first\n");
	struct config *in_flight = config_ref(current);

	config_unref(current);
	current = parse_ok("user = second\n");
	assert_string_equal(in_flight->user, "first");
	assert_string_equal(current->user, "second");
	config_unref(in_flight);
	config_unref(current);
}

static void
test_errors_appended(void **state)
{
	struct buf errors;
	static const char text[] = "frobnicate = 1\nlog_level = loud\n";

	buf_init(&errors);
	buf_puts(&errors, "earlier\n");
	assert_null(config_parse(text, strlen(text), "mem", &errors));
	assert_string_equal(buf_ptr(&errors),
	    "earlier\n"
	    "mem:1: unknown setting 'frobnicate'\n"
	    "mem:2: log_level: 'loud' is not a log level (error, warning, notice, info, debug)\n");
	/* Success leaves it alone. */
	size_t before = buf_size(&errors);
	struct config *c = config_parse("user = x", 8, "mem", &errors);
	assert_non_null(c);
	assert_int_equal(buf_size(&errors), before);
	config_unref(c);
	buf_free(&errors);
}

static void
test_load_missing(void **state)
{
	struct buf errors;
	char *path = conf_path("no-such-file.conf");
	struct buf want;

	buf_init(&errors);
	buf_init(&want);
	assert_null(config_load(path, &errors));
	buf_printf(&want, "%s: cannot open: ", path);
	assert_int_equal(strncmp(buf_ptr(&errors), buf_ptr(&want), buf_size(&want)), 0);
	assert_int_equal(badfiles_count_lines(buf_ptr(&errors)), 1);
	buf_free(&errors);
	buf_free(&want);
	free(path);
}

static void
test_load_directory(void **state)
{
	struct buf errors;

	buf_init(&errors);
	assert_null(config_load(conf_dir(), &errors));
	assert_int_equal(strncmp(buf_ptr(&errors), conf_dir(), strlen(conf_dir())), 0);
	assert_int_equal(badfiles_count_lines(buf_ptr(&errors)), 1);
	buf_free(&errors);
}

/* config_parse() reads only len bytes: text after them is not seen. */
static void
test_parse_len(void **state)
{
	static const char text[] = "user = abc\nfrobnicate = 1\n";
	struct config *c = parse_ok("");

	config_unref(c);
	struct buf errors;
	buf_init(&errors);
	c = config_parse(text, 11, "mem", &errors);
	assert_non_null(c);
	assert_string_equal(c->user, "abc");
	config_unref(c);
	c = config_parse(text, 8, "mem", &errors);	/* "user = a" */
	assert_non_null(c);
	assert_string_equal(c->user, "a");
	config_unref(c);
	buf_free(&errors);
}

int
main(void)
{
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_good_sets_all),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_dump_null_is_defaults),
		cmocka_unit_test(test_refs),
		cmocka_unit_test(test_refs_across_reload),
		cmocka_unit_test(test_errors_appended),
		cmocka_unit_test(test_load_missing),
		cmocka_unit_test(test_load_directory),
		cmocka_unit_test(test_parse_len),
	};
	struct table t = {0};

	TABLE_ADD(&t, good_cases, good_case, test_good);
	TABLE_ADD(&t, good_cases, round_trip, test_round_trip);
	struct badfiles *bad = badfiles_add(&t, "conf", ".conf", 20, load_config);
	TABLE_ADD(&t, error_cases, error_case, test_error);
	TABLE_ADD(&t, value_cases, value_case, test_value);
	TABLE_ADD(&t, restart_cases, restart_case, test_restart);
	TABLE_TESTS(&t, more);
	int rc = table_run(&t, "config");
	badfiles_free(bad);
	return rc;
}
