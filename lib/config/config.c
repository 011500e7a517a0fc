/* config - the settings table and its snapshots; see config.h. */
#include "autoconfig.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "config/config.h"
#include "util/endpoint.h"
#include "postfix/nexthop.h"

enum type {
	T_STRING,
	T_LIST,
	T_LISTEN,	/* a list of endpoints */
	T_UINT,
	T_DURATION,	/* stored in milliseconds */
	T_LEVEL,
	T_FACILITY,
	T_LOGLEVEL,
	T_BOOL,
	T_CHOICE,	/* one of choices[], stored as its index (an int) */
};

#define RESTART 1u	/* a reload cannot change it: the daemon warns */
#define EMPTY_OK 2u	/* T_LIST: may be empty */
/* T_LEVEL: dane or dane-only only. The rule's hosts include some whose
 * TLSA records Postfix must look up itself: a failed host it must skip, a
 * DANE host beside others it must authenticate. Any other level would
 * let Postfix send to those in the clear or unauthenticated. */
#define DANE_FLOOR 4u
/* A password: config_dump() shows that it is set, not what it is. */
#define SECRET 8u

struct setting {
	const char *name;
	enum type type;
	size_t offset;
	const char *def;
	unsigned flags;
	unsigned long min, max;	/* T_UINT, T_DURATION (ms) */
	const char *const *choices;	/* T_CHOICE, NULL-terminated */
};

static const char *const dane_failure_actions[] = {"accept", "tempfail", "reject", NULL};

#define OFF(field) offsetof(struct config, field)
#define LEVEL(rule) offsetof(struct config, levels) + sizeof(const char *) * (rule)
#define DAY_MS (86400UL * 1000)

/* The one table of settings. Order is the order of `tlspolicy config` and
 * of the documentation. */
static const struct setting settings[] = {
	{"listen", T_LISTEN, OFF(listen), "inet:127.0.0.1:7672", RESTART, 0, 0, NULL},
	{"map_names", T_LIST, OFF(map_names), "tlspolicy", 0, 0, 0, NULL},
	{"status_listen", T_LISTEN, OFF(status_listen), "unix:/run/tlspolicyd/status", RESTART | EMPTY_OK, 0, 0, NULL},
	{"listen_group", T_STRING, OFF(listen_group), "postfix", RESTART, 0, 0, NULL},
	{"max_connections", T_UINT, OFF(max_connections), "10000", 0, 1, 1000000, NULL},
	{"max_connections_per_peer", T_UINT, OFF(max_connections_per_peer), "1000", 0, 1, 1000000, NULL},
	{"client_timeout", T_DURATION, OFF(client_timeout_ms), "30s", 0, 100, DAY_MS, NULL},
	{"request_timeout", T_DURATION, OFF(request_timeout_ms), "5s", 0, 100, 600000, NULL},
	{"trust_anchor_file", T_STRING, OFF(trust_anchor_file), "/usr/share/dns/root.key", RESTART, 0, 0, NULL},
	{"trust_anchor_tracking", T_BOOL, OFF(trust_anchor_tracking), "no", RESTART, 0, 0, NULL},
	{"unbound_config", T_STRING, OFF(unbound_config), "", RESTART, 0, 0, NULL},
	{"trust_check_name", T_STRING, OFF(trust_check_name), ".", 0, 0, 0, NULL},
	{"trust_check_interval", T_DURATION, OFF(trust_check_interval_ms), "1h", 0, 1000, 7 * DAY_MS, NULL},
	{"dns_timeout", T_DURATION, OFF(dns_timeout_ms), "10s", RESTART, 100, 600000, NULL},
	{"cache_max_entries", T_UINT, OFF(cache_max_entries), "100000", 0, 1, 100000000, NULL},
	{"cache_min_ttl", T_DURATION, OFF(cache_min_ttl_ms), "10s", 0, 0, 7 * DAY_MS, NULL},
	{"cache_max_ttl", T_DURATION, OFF(cache_max_ttl_ms), "1h", 0, 1000, 7 * DAY_MS, NULL},
	{"cache_temp_ttl", T_DURATION, OFF(cache_temp_ttl_ms), "15s", 0, 0, 3600000, NULL},
	{"cache_prefetch_percent", T_UINT, OFF(cache_prefetch_percent), "10", 0, 0, 50, NULL},
	{"cache_prefetch_max", T_UINT, OFF(cache_prefetch_max), "100", 0, 1, 100000, NULL},
	{"stale_answer_max_age", T_DURATION, OFF(stale_answer_max_age_ms), "24h", 0, 0, 7 * DAY_MS, NULL},
	{"cache_snapshot_interval", T_DURATION, OFF(cache_snapshot_interval_ms), "5m", 0, 0, DAY_MS, NULL},
	{"level_all_dane", T_LEVEL, LEVEL(POLICY_RULE_ALL_DANE), "dane-only", 0, 0, 0, NULL},
	{"level_mixed", T_LEVEL, LEVEL(POLICY_RULE_MIXED), "dane", DANE_FLOOR, 0, 0, NULL},
	{"level_all_encrypt", T_LEVEL, LEVEL(POLICY_RULE_ALL_ENCRYPT), "encrypt", 0, 0, 0, NULL},
	{"level_no_tlsa", T_LEVEL, LEVEL(POLICY_RULE_NO_TLSA), "may", 0, 0, 0, NULL},
	{"level_insecure_mx_dane", T_LEVEL, LEVEL(POLICY_RULE_INSECURE_MX_DANE), "dane", 0, 0, 0, NULL},
	{"level_insecure", T_LEVEL, LEVEL(POLICY_RULE_INSECURE), "may", 0, 0, 0, NULL},
	{"level_failed_host", T_LEVEL, LEVEL(POLICY_RULE_FAILED_HOST), "dane", DANE_FLOOR, 0, 0, NULL},
	{"probe_enable", T_BOOL, OFF(probe_enable), "yes", RESTART, 0, 0, NULL},
	{"probe_workers", T_UINT, OFF(probe_workers), "0", RESTART, 0, 256, NULL},
	{"probe_concurrency", T_UINT, OFF(probe_concurrency), "64", 0, 1, 10000, NULL},
	{"probe_queue_max", T_UINT, OFF(probe_queue_max), "1000", 0, 1, 1000000, NULL},
	{"probe_rate", T_UINT, OFF(probe_rate), "10", 0, 1, 100000, NULL},
	{"probe_host_interval", T_DURATION, OFF(probe_host_interval_ms), "1m", 0, 0, DAY_MS, NULL},
	{"probe_interval", T_DURATION, OFF(probe_interval_ms), "1h", 0, 1000, 7 * DAY_MS, NULL},
	{"probe_timeout", T_DURATION, OFF(probe_timeout_ms), "10s", RESTART, 100, 600000, NULL},
	{"probe_ca_file", T_STRING, OFF(probe_ca_file), "", RESTART, 0, 0, NULL},
	{"probe_helo_name", T_STRING, OFF(probe_helo_name), "", RESTART, 0, 0, NULL},
	{"probe_allow_private", T_BOOL, OFF(probe_allow_private), "no", 0, 0, 0, NULL},
	{"probe_address_limit", T_UINT, OFF(probe_address_limit), "5", 0, 0, 1000, NULL},
	{"sts_enable", T_BOOL, OFF(sts_enable), "yes", RESTART, 0, 0, NULL},
	{"sts_ca_file", T_STRING, OFF(sts_ca_file), "", RESTART, 0, 0, NULL},
	{"sts_allow_private", T_BOOL, OFF(sts_allow_private), "no", RESTART, 0, 0, NULL},
	{"sts_fetch_timeout", T_DURATION, OFF(sts_fetch_timeout_ms), "10s", RESTART, 100, 60000, NULL},
	{"sts_max_domains", T_UINT, OFF(sts_max_domains), "100000", RESTART, 1, 100000000, NULL},
	{"tlsrpt_map_names", T_LIST, OFF(tlsrpt_map_names), "tlspolicy-tlsrpt", EMPTY_OK, 0, 0, NULL},
	{"state_directory", T_STRING, OFF(state_directory), "/var/lib/tlspolicyd", RESTART, 0, 0, NULL},
	{"exceptions_file", T_STRING, OFF(exceptions_file), SYSCONFDIR "/tlspolicyd/exceptions", 0, 0, 0, NULL},
	{"exceptions_retire", T_BOOL, OFF(exceptions_retire), "no", 0, 0, 0, NULL},
	{"exceptions_auto", T_BOOL, OFF(exceptions_auto), "no", 0, 0, 0, NULL},
	{"exceptions_auto_evidence", T_DURATION, OFF(exceptions_auto_evidence_ms), "1h", 0, 1000, 7 * DAY_MS, NULL},
	{"exceptions_auto_deferrals", T_UINT, OFF(exceptions_auto_deferrals), "3", 0, 1, 1000000, NULL},
	{"maillog_file", T_STRING, OFF(maillog_file), "", 0, 0, 0, NULL},
	{"control_socket", T_STRING, OFF(control_socket), "/run/tlspolicyd/control", RESTART, 0, 0, NULL},
	{"metrics_listen", T_STRING, OFF(metrics_listen), "", RESTART, 0, 0, NULL},
	{"resolv_conf", T_STRING, OFF(resolv_conf), "/etc/resolv.conf", 0, 0, 0, NULL},
	{"resolver_check_name", T_STRING, OFF(resolver_check_name), ".", 0, 0, 0, NULL},
	{"resolver_check_interval", T_DURATION, OFF(resolver_check_interval_ms), "1h", 0, 0, 7 * DAY_MS, NULL},
	{"alert_command", T_STRING, OFF(alert_command), "", 0, 0, 0, NULL},
	{"alert_recipient", T_STRING, OFF(alert_recipient), "", 0, 0, 0, NULL},
	{"alert_sendmail", T_STRING, OFF(alert_sendmail), "/usr/sbin/sendmail", 0, 0, 0, NULL},
	{"alert_interval", T_DURATION, OFF(alert_interval_ms), "1h", 0, 0, 7 * DAY_MS, NULL},
	{"alert_max_per_hour", T_UINT, OFF(alert_max_per_hour), "60", 0, 0, 100000, NULL},
	{"monitor_domains", T_LIST, OFF(monitor_domains), "", EMPTY_OK, 0, 0, NULL},
	{"monitor_interval", T_DURATION, OFF(monitor_interval_ms), "1h", 0, 1000, 7 * DAY_MS, NULL},
	{"redis_server", T_STRING, OFF(redis_server), "", RESTART, 0, 0, NULL},
	{"redis_replica", T_STRING, OFF(redis_replica), "", RESTART, 0, 0, NULL},
	{"redis_readonly", T_BOOL, OFF(redis_readonly), "no", RESTART, 0, 0, NULL},
	{"redis_password", T_STRING, OFF(redis_password), "", RESTART | SECRET, 0, 0, NULL},
	{"redis_key_file", T_STRING, OFF(redis_key_file), "", RESTART, 0, 0, NULL},
	{"redis_timeout", T_DURATION, OFF(redis_timeout_ms), "250ms", RESTART, 10, 10000, NULL},
	{"redis_prefix", T_STRING, OFF(redis_prefix), "tlspolicyd:", RESTART, 0, 0, NULL},
	{"redis_relay_name", T_STRING, OFF(redis_relay_name), "", RESTART, 0, 0, NULL},
	{"milter_listen", T_STRING, OFF(milter_listen), "inet:127.0.0.1:8891", 0, 0, 0, NULL},
	{"milter_socketmap", T_STRING, OFF(milter_socketmap), "", 0, 0, 0, NULL},
	{"milter_lookup_timeout", T_DURATION, OFF(milter_lookup_timeout_ms), "2s", 0, 10, 60000, NULL},
	{"milter_on_dane_failure", T_CHOICE, OFF(milter_on_dane_failure), "accept", 0, 0, 0,
	    dane_failure_actions},
	{"milter_require_secure_senders", T_LIST, OFF(milter_require_secure_senders), "", EMPTY_OK, 0, 0, NULL},
	{"milter_add_header", T_BOOL, OFF(milter_add_header), "no", 0, 0, 0, NULL},
	{"user", T_STRING, OFF(user), "tlspolicyd", RESTART, 0, 0, NULL},
	{"syslog_facility", T_FACILITY, OFF(syslog_facility), "mail", RESTART, 0, 0, NULL},
	{"log_level", T_LOGLEVEL, OFF(log_level), "info", 0, 0, 0, NULL},
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static const struct {
	const char *name;
	int value;
} facilities[] = {
	{"mail", LOG_MAIL}, {"daemon", LOG_DAEMON}, {"user", LOG_USER},
	{"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
	{"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
	{"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
};

static const char *const log_levels[] = {"error", "warning", "notice", "info", "debug"};

#define FIELD(c, s, t) ((t *)(void *)((char *)(c) + (s)->offset))
#define CFIELD(c, s, t) ((t const *)(const void *)((const char *)(c) + (s)->offset))

static void
free_list(char **list)
{
	for (size_t i = 0; list && list[i]; i++)
		free(list[i]);
	free(list);
}

static void
free_value(struct config *c, const struct setting *s)
{
	switch (s->type) {
	case T_STRING:
		free(*FIELD(c, s, char *));
		*FIELD(c, s, char *) = NULL;
		break;
	case T_LEVEL:
		free(*FIELD(c, s, char *));
		*FIELD(c, s, char *) = NULL;
		break;
	case T_LIST:
	case T_LISTEN:
		free_list(*FIELD(c, s, char **));
		*FIELD(c, s, char **) = NULL;
		break;
	case T_UINT:
	case T_DURATION:
	case T_FACILITY:
	case T_LOGLEVEL:
	case T_BOOL:
	case T_CHOICE:
		break;
	}
}

static void
config_free(struct config *c)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		free_value(c, &settings[i]);
	free(c->path);
	free(c);
}

/* Splits on commas and white space; NULL on allocation failure. */
static char **
split_list(const char *value)
{
	size_t n = 0, cap = 4;
	char **list = calloc(cap + 1, sizeof(char *));
	const char *p = value;

	if (!list)
		return NULL;
	for (;;) {
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		const char *start = p;
		while (*p && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		if (n == cap) {
			char **bigger = realloc(list, (2 * cap + 1) * sizeof(char *));
			if (!bigger)
				goto fail;
			list = bigger;
			cap *= 2;
		}
		if (!(list[n] = strndup(start, (size_t)(p - start))))
			goto fail;
		list[++n] = NULL;
	}
	return list;
fail:
	free_list(list);
	return NULL;
}

static int
parse_duration(const char *v, unsigned long *ms)
{
	static const struct {
		const char *unit;
		unsigned long ms;
	} units[] = {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000},
	    {"d", 86400000}, {"w", 604800000}};
	char *end;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (errno)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			if (n > ULONG_MAX / units[i].ms)
				return -1;
			*ms = n * units[i].ms;
			return 0;
		}
	}
	return -1;
}

static void
format_duration(unsigned long ms, struct buf *out)
{
	if (ms == 0)
		buf_puts(out, "0s");
	else if (ms % 3600000 == 0)
		buf_printf(out, "%luh", ms / 3600000);
	else if (ms % 60000 == 0)
		buf_printf(out, "%lum", ms / 60000);
	else if (ms % 1000 == 0)
		buf_printf(out, "%lus", ms / 1000);
	else
		buf_printf(out, "%lums", ms);
}

/* Parses one value into c; on error writes why (and returns -1). */
static int
set_value(struct config *c, const struct setting *s, const char *value, char *why, size_t wlen)
{
	unsigned long n;
	char *end;
	const char *reason;

	switch (s->type) {
	case T_STRING:
		if (!(*FIELD(c, s, char *) = strdup(value)))
			goto nomem;
		return 0;
	case T_LEVEL:
		if (!policy_level_valid(value, &reason)) {
			snprintf(why, wlen, "%s: '%s': %s", s->name, value, reason);
			return -1;
		}
		if ((s->flags & DANE_FLOOR) && !policy_level_is_dane(value)) {
			snprintf(why, wlen, "%s: '%s': must be dane or dane-only, so that Postfix checks "
			    "the TLSA records of each host itself and never sends to a failed or DANE host "
			    "without them", s->name, value);
			return -1;
		}
		if (!(*FIELD(c, s, char *) = strdup(value)))
			goto nomem;
		return 0;
	case T_LIST:
	case T_LISTEN: {
		char **list = split_list(value);
		if (!list)
			goto nomem;
		*FIELD(c, s, char **) = list;
		if (!list[0] && !(s->flags & EMPTY_OK)) {
			snprintf(why, wlen, "%s: must not be empty", s->name);
			return -1;
		}
		for (size_t i = 0; s->type == T_LISTEN && list[i]; i++) {
			if (i == CONFIG_MAX_LISTEN) {
				snprintf(why, wlen, "%s: more than %d listeners", s->name, CONFIG_MAX_LISTEN);
				return -1;
			}
			struct endpoint ep;
			char err[256];
			if (endpoint_parse(list[i], &ep, err, sizeof(err)) < 0) {
				snprintf(why, wlen, "%s: %s", s->name, err);
				return -1;
			}
		}
		return 0;
	}
	case T_UINT:
		errno = 0;
		n = strtoul(value, &end, 10);
		if (*value < '0' || *value > '9' || *end || errno || n < s->min || n > s->max) {
			snprintf(why, wlen, "%s: '%s' is not a number from %lu to %lu", s->name, value,
			    s->min, s->max);
			return -1;
		}
		*FIELD(c, s, unsigned) = (unsigned)n;
		return 0;
	case T_DURATION:
		if (parse_duration(value, &n) < 0 || n < s->min || n > s->max) {
			struct buf lo, hi;
			buf_init(&lo);
			buf_init(&hi);
			format_duration(s->min, &lo);
			format_duration(s->max, &hi);
			snprintf(why, wlen, "%s: '%s' is not a time from %s to %s (a number with "
			    "unit ms, s, m, h, d or w)", s->name, value, buf_ptr(&lo), buf_ptr(&hi));
			buf_free(&lo);
			buf_free(&hi);
			return -1;
		}
		*FIELD(c, s, unsigned) = (unsigned)n;
		return 0;
	case T_FACILITY:
		for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++) {
			if (strcmp(value, facilities[i].name) == 0) {
				*FIELD(c, s, int) = facilities[i].value;
				return 0;
			}
		}
		snprintf(why, wlen, "%s: '%s' is not a syslog facility (mail, daemon, user, local0-local7)",
		    s->name, value);
		return -1;
	case T_LOGLEVEL:
		for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++) {
			if (strcmp(value, log_levels[i]) == 0) {
				*FIELD(c, s, int) = (int)i;
				return 0;
			}
		}
		snprintf(why, wlen, "%s: '%s' is not a log level (error, warning, notice, info, debug)",
		    s->name, value);
		return -1;
	case T_BOOL:
		/* Postfix's words, and only those. */
		if (strcmp(value, "yes") == 0 || strcmp(value, "no") == 0) {
			*FIELD(c, s, bool) = value[0] == 'y';
			return 0;
		}
		snprintf(why, wlen, "%s: '%s' is not yes or no", s->name, value);
		return -1;
	case T_CHOICE: {
		struct buf words;
		for (size_t i = 0; s->choices[i]; i++) {
			if (strcmp(value, s->choices[i]) == 0) {
				*FIELD(c, s, int) = (int)i;
				return 0;
			}
		}
		buf_init(&words);
		for (size_t i = 0; s->choices[i]; i++)
			buf_printf(&words, "%s%s", i ? ", " : "", s->choices[i]);
		snprintf(why, wlen, "%s: '%s' is not one of %s", s->name, value, buf_ptr(&words));
		buf_free(&words);
		return -1;
	}
	}
	snprintf(why, wlen, "%s: unknown type", s->name);
	return -1;
nomem:
	snprintf(why, wlen, "%s: out of memory", s->name);
	return -1;
}

static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[64];

	if (lb >= 64 || la >= 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static const struct setting *
find_setting(const char *name)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (strcmp(settings[i].name, name) == 0)
			return &settings[i];
	return NULL;
}

static const char *
nearest_setting(const char *name)
{
	const char *best = NULL;
	size_t best_d = 3;	/* suggest only near misses */

	for (size_t i = 0; i < NSETTINGS; i++) {
		size_t d = edit_distance(name, settings[i].name);
		if (d < best_d) {
			best_d = d;
			best = settings[i].name;
		}
	}
	return best;
}

static void
add_error(struct buf *errors, const char *name, unsigned line, const char *msg)
{
	if (line)
		buf_printf(errors, "%s:%u: %s\n", name, line, msg);
	else
		buf_printf(errors, "%s: %s\n", name, msg);
}

static bool
valid_name(const char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
			return false;
	return true;
}

static void
trim(const char **p, size_t *n)
{
	while (*n && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*n)--;
	}
	while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t' || (*p)[*n - 1] == '\r'))
		(*n)--;
}

/* One logical line "name = value" (continuations already joined). */
static void
parse_line(struct config *c, unsigned *set_at, bool *bad, const char *text, size_t len,
    const char *name, unsigned line, struct buf *errors)
{
	char msg[600];
	const char *eq = memchr(text, '=', len);

	if (!eq) {
		add_error(errors, name, line, "expected 'name = value'");
		return;
	}
	const char *key = text, *value = eq + 1;
	size_t klen = (size_t)(eq - text), vlen = len - klen - 1;
	trim(&key, &klen);
	trim(&value, &vlen);
	if (!valid_name(key, klen)) {
		snprintf(msg, sizeof(msg), "'%.*s' is not a setting name", (int)(klen > 80 ? 80 : klen), key);
		add_error(errors, name, line, msg);
		return;
	}
	char keybuf[96];
	snprintf(keybuf, sizeof(keybuf), "%.*s", (int)klen, key);
	const struct setting *s = find_setting(keybuf);
	if (!s) {
		const char *near = nearest_setting(keybuf);
		snprintf(msg, sizeof(msg), "unknown setting '%s'%s%s%s", keybuf,
		    near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
		add_error(errors, name, line, msg);
		return;
	}
	size_t idx = (size_t)(s - settings);
	if (set_at[idx]) {
		snprintf(msg, sizeof(msg), "%s is set twice (first at line %u)", s->name, set_at[idx]);
		add_error(errors, name, line, msg);
		return;
	}
	set_at[idx] = line;
	char *v = strndup(value, vlen);
	if (!v) {
		add_error(errors, name, line, "out of memory");
		return;
	}
	if (set_value(c, s, v, msg, sizeof(msg)) < 0) {
		add_error(errors, name, line, msg);
		bad[idx] = true;
	}
	free(v);
}

/* The resolver must have a trust anchor to validate with: without one,
 * libunbound answers everything insecure, which the decision turns into
 * may. Whether unbound_config names one is known only once libunbound has
 * read it (dns_unbound.c checks at start); with neither setting there is
 * none at all. */
static void
check_trust(const struct config *c, const char *name, struct buf *errors)
{
	const char *check = c->trust_check_name;
	size_t n = check ? strlen(check) : 0;

	if (!c->trust_anchor_file || !c->unbound_config || !c->state_directory)
		return;	/* reported already (out of memory) */
	if (!c->trust_anchor_file[0] && !c->unbound_config[0])
		add_error(errors, name, 0, "trust_anchor_file is empty and unbound_config is not set: the "
		    "resolver would have no trust anchor and every answer would be insecure (may); set "
		    "trust_anchor_file, or name the anchors in unbound_config");
	if (c->trust_anchor_tracking && !c->trust_anchor_file[0])
		add_error(errors, name, 0, "trust_anchor_tracking = yes needs trust_anchor_file: the anchor "
		    "that tracking starts from");
	if (c->trust_anchor_tracking && !c->state_directory[0])
		add_error(errors, name, 0, "trust_anchor_tracking = yes needs state_directory: where the "
		    "tracked copy of the anchor is kept");
	if (n > 1 && check[n - 1] == '.')
		n--;
	if (check && strcmp(check, ".") != 0 && !nexthop_valid_hostname(check, n)) {
		char msg[400];
		snprintf(msg, sizeof(msg), "trust_check_name: '%.255s' is not a domain name (. for the root)", check);
		add_error(errors, name, 0, msg);
	}
}

/* A Redis endpoint: "HOST:PORT" (an address or localhost, as endpoint.h
 * takes: a name would be looked up at every reconnect, blocking the event
 * loop) or "unix:/PATH"; "inet:" may be written too. */
int
config_redis_endpoint(const char *spec, struct endpoint *out, char *why, size_t wlen)
{
	char inet[200];

	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "inet:", 5) == 0)
		return endpoint_parse(spec, out, why, wlen);
	if ((size_t)snprintf(inet, sizeof(inet), "inet:%s", spec) >= sizeof(inet)) {
		snprintf(why, wlen, "%.40s...: too long", spec);
		return -1;
	}
	return endpoint_parse(inet, out, why, wlen);
}

/* The monitor checks domains: each must be one, as `tlspolicy selfcheck`
 * takes it. */
static void
check_monitor(const struct config *c, const char *name, struct buf *errors)
{
	for (size_t i = 0; c->monitor_domains && c->monitor_domains[i]; i++) {
		const char *d = c->monitor_domains[i], *why;
		struct nexthop nh;
		char msg[400];
		if (nexthop_parse(d, strlen(d), &nh, &why) == 0 && nh.kind == NEXTHOP_DOMAIN)
			continue;
		snprintf(msg, sizeof(msg), "monitor_domains: '%.255s' is not a domain name", d);
		add_error(errors, name, 0, msg);
	}
}

static void
check_redis(const struct config *c, const char *name, struct buf *errors)
{
	struct endpoint ep;
	char why[300], msg[400];
	const char *endpoints[] = {"redis_server", c->redis_server, "redis_replica", c->redis_replica};

	for (size_t i = 0; i < 4; i += 2) {
		if (endpoints[i + 1] && endpoints[i + 1][0] &&
		    config_redis_endpoint(endpoints[i + 1], &ep, why, sizeof(why)) < 0) {
			snprintf(msg, sizeof(msg), "%s: %s (HOST:PORT with an address, or unix:/PATH)", endpoints[i], why);
			add_error(errors, name, 0, msg);
		}
	}
	if (!c->redis_server || !c->redis_server[0]) {
		if (c->redis_replica && c->redis_replica[0])
			add_error(errors, name, 0, "redis_replica is set but redis_server is not: set both, or neither");
		return;
	}
	if (!c->redis_key_file || !c->redis_key_file[0])
		add_error(errors, name, 0, "redis_server is set but redis_key_file is not: every relay of the fleet "
		    "needs the same secret (at least 32 random bytes) to seal what it shares");
	for (const char *p = c->redis_prefix; p && *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			add_error(errors, name, 0, "redis_prefix: no spaces or control characters");
			break;
		}
	if (c->redis_relay_name && strlen(c->redis_relay_name) > 64)
		add_error(errors, name, 0, "redis_relay_name: at most 64 characters");
	for (const char *p = c->redis_relay_name; p && *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '|') {
			add_error(errors, name, 0, "redis_relay_name: no spaces, control characters or '|'");
			break;
		}
}

/* Checks between settings, skipped for a setting already reported bad:
 * its value is no value. */
static void
cross_check(const struct config *c, const bool *bad, const char *name, struct buf *errors)
{
	size_t min = (size_t)(find_setting("cache_min_ttl") - settings);
	size_t max = (size_t)(find_setting("cache_max_ttl") - settings);

	if (!bad[min] && !bad[max] && c->cache_min_ttl_ms > c->cache_max_ttl_ms)
		add_error(errors, name, 0, "cache_min_ttl is larger than cache_max_ttl");
	struct endpoint ep;
	char why[300], msg[400];
	if (c->metrics_listen && c->metrics_listen[0] &&
	    (endpoint_parse(c->metrics_listen, &ep, why, sizeof(why)) < 0 || ep.is_unix)) {
		snprintf(msg, sizeof(msg), "metrics_listen: %s", ep.is_unix ? "inet:ADDR:PORT only" : why);
		add_error(errors, name, 0, msg);
	}
	check_trust(c, name, errors);
	/* Bound twice, an endpoint would fail (inet) or be taken from the
	 * other list without a word (unix: the second replaces the first). */
	for (char *const *a = c->status_listen; a && *a; a++)
		for (char *const *b = c->listen; b && *b; b++)
			if (strcmp(*a, *b) == 0) {
				snprintf(msg, sizeof(msg), "status_listen: %s is in listen too; the status map's "
				    "listeners must be others", *a);
				add_error(errors, name, 0, msg);
			}
	const char *endpoints[] = {"milter_listen", c->milter_listen, "milter_socketmap", c->milter_socketmap};
	for (size_t i = 0; i < 4; i += 2) {
		if (endpoints[i + 1] && endpoints[i + 1][0] && endpoint_parse(endpoints[i + 1], &ep, why, sizeof(why)) < 0) {
			snprintf(msg, sizeof(msg), "%s: %s", endpoints[i], why);
			add_error(errors, name, 0, msg);
		}
	}
	check_redis(c, name, errors);
	check_monitor(c, name, errors);
}

struct config *
config_parse(const char *text, size_t len, const char *name, struct buf *errors)
{
	struct config *c = calloc(1, sizeof(*c));
	unsigned set_at[NSETTINGS] = {0};
	bool bad[NSETTINGS] = {false};
	size_t before = buf_size(errors);
	struct buf logical;
	unsigned logical_line = 0;
	char msg[600];

	if (!c) {
		add_error(errors, name, 0, "out of memory");
		return NULL;
	}
	c->refs = 1;
	buf_init(&logical);
	for (size_t pos = 0, line = 1; pos <= len; line++) {
		const char *start = text + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;
		pos += n + 1;
		const char *p = start;
		size_t m = n;
		trim(&p, &m);
		if (memchr(start, '\0', n)) {
			add_error(errors, name, (unsigned)line, "NUL byte in line");
			continue;
		}
		if (m == 0 || p[0] == '#')
			continue;
		if (start[0] == ' ' || start[0] == '\t') {
			if (!logical_line) {
				add_error(errors, name, (unsigned)line,
				    "line starts with white space but continues no setting");
				continue;
			}
			buf_putc(&logical, ' ');
			buf_append(&logical, p, m);
			continue;
		}
		if (logical_line)
			parse_line(c, set_at, bad, buf_ptr(&logical), buf_size(&logical), name, logical_line, errors);
		buf_reset(&logical);
		buf_append(&logical, p, m);
		logical_line = (unsigned)line;
		if (!nl)
			break;
	}
	if (logical_line)
		parse_line(c, set_at, bad, buf_ptr(&logical), buf_size(&logical), name, logical_line, errors);
	buf_free(&logical);

	for (size_t i = 0; i < NSETTINGS; i++) {
		if (set_at[i])
			continue;
		if (set_value(c, &settings[i], settings[i].def, msg, sizeof(msg)) < 0)
			add_error(errors, name, 0, msg);	/* a broken default is a bug */
	}
	cross_check(c, bad, name, errors);
	if (!(c->path = strdup(name)))
		add_error(errors, name, 0, "out of memory");
	if (buf_size(errors) != before) {
		config_free(c);
		return NULL;
	}
	return c;
}

struct config *
config_load(const char *path, struct buf *errors)
{
	FILE *f = fopen(path, "r");
	struct buf text;
	char msg[512];

	if (!f) {
		snprintf(msg, sizeof(msg), "cannot open: %s", strerror(errno));
		add_error(errors, path, 0, msg);
		return NULL;
	}
	buf_init(&text);
	for (;;) {
		char *dst = buf_reserve(&text, 8192);
		if (!dst) {
			add_error(errors, path, 0, "file too large");
			fclose(f);
			buf_free(&text);
			return NULL;
		}
		size_t n = fread(dst, 1, 8192, f);
		buf_commit(&text, n);
		if (n < 8192)
			break;
	}
	if (ferror(f)) {
		snprintf(msg, sizeof(msg), "read error: %s", strerror(errno));
		add_error(errors, path, 0, msg);
		fclose(f);
		buf_free(&text);
		return NULL;
	}
	fclose(f);
	struct config *c = config_parse(buf_ptr(&text), buf_size(&text), path, errors);
	buf_free(&text);
	return c;
}

struct config *
config_defaults(void)
{
	struct buf errors;

	buf_init(&errors);
	struct config *c = config_parse("", 0, "(defaults)", &errors);
	buf_free(&errors);
	return c;
}

struct config *
config_ref(struct config *c)
{
	c->refs++;
	return c;
}

void
config_unref(struct config *c)
{
	if (c && --c->refs == 0)
		config_free(c);
}

static void
format_value(const struct config *c, const struct setting *s, struct buf *out)
{
	switch (s->type) {
	case T_STRING:
	case T_LEVEL:
		buf_puts(out, *CFIELD(c, s, char *));
		break;
	case T_LIST:
	case T_LISTEN: {
		char *const *list = *CFIELD(c, s, char **);
		for (size_t i = 0; list[i]; i++)
			buf_printf(out, "%s%s", i ? ", " : "", list[i]);
		break;
	}
	case T_UINT:
		buf_printf(out, "%u", *CFIELD(c, s, unsigned));
		break;
	case T_DURATION:
		format_duration(*CFIELD(c, s, unsigned), out);
		break;
	case T_FACILITY:
		for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
			if (facilities[i].value == *CFIELD(c, s, int))
				buf_puts(out, facilities[i].name);
		break;
	case T_LOGLEVEL:
		buf_puts(out, log_levels[*CFIELD(c, s, int)]);
		break;
	case T_BOOL:
		buf_puts(out, *CFIELD(c, s, bool) ? "yes" : "no");
		break;
	case T_CHOICE:
		buf_puts(out, s->choices[*CFIELD(c, s, int)]);
		break;
	}
}

int
config_restart_needed(const struct config *old, const struct config *new, struct buf *names)
{
	int differ = 0;
	struct buf a, b;

	buf_init(&a);
	buf_init(&b);
	for (size_t i = 0; i < NSETTINGS; i++) {
		if (!(settings[i].flags & RESTART))
			continue;
		buf_reset(&a);
		buf_reset(&b);
		format_value(old, &settings[i], &a);
		format_value(new, &settings[i], &b);
		buf_terminate(&a);
		buf_terminate(&b);
		if (strcmp(buf_ptr(&a), buf_ptr(&b)) != 0) {
			buf_printf(names, "%s%s", differ ? ", " : "", settings[i].name);
			differ++;
		}
	}
	buf_free(&a);
	buf_free(&b);
	return differ;
}

int
config_dump(const struct config *c, struct buf *out)
{
	struct config *defaults = NULL;

	if (!c) {
		if (!(defaults = config_defaults()))
			return -1;
		c = defaults;
	}
	for (size_t i = 0; i < NSETTINGS; i++) {
		buf_printf(out, "%s = ", settings[i].name);
		if ((settings[i].flags & SECRET) && (*CFIELD(c, &settings[i], char *))[0])
			buf_puts(out, "(set, not shown)");
		else
			format_value(c, &settings[i], out);
		buf_putc(out, '\n');
	}
	config_unref(defaults);
	return 0;
}

int
config_names(struct buf *out)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (buf_printf(out, "%s\n", settings[i].name) < 0)
			return -1;
	return 0;
}
