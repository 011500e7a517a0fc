/*
 * config - the settings of tlspolicyd.conf(5), in Postfix's "name = value"
 * style, parsed from one table into an immutable, reference-counted
 * snapshot.
 *
 * File syntax (as Postfix's main.cf): a logical line starts with non-blank
 * text and continues on following lines that start with white space; blank
 * lines and lines whose first non-blank character is '#' are ignored.
 * Every setting may appear once. Unknown names, bad values and duplicates
 * are errors, each reported as "FILE:LINE: message"; a file with any error
 * yields no snapshot at all.
 *
 * Values: lists are separated by commas and/or white space; booleans are
 * yes/no; durations are a number with an optional unit (ms, s, m, h, d, w;
 * seconds when none); levels are Postfix TLS policy table values.
 *
 * Ownership: config_load()/config_parse() return a snapshot with one
 * reference; config_ref()/config_unref() share it (the daemon swaps in a
 * new snapshot on SIGHUP while work in flight keeps the one it started
 * with). Nothing in a snapshot changes after it is returned.
 */
#ifndef TLSPOLICY_CONFIG_H
#define TLSPOLICY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/endpoint.h"
#include "util/log.h"
#include "rules/policy.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define CONFIG_DEFAULT_PATH SYSCONFDIR "/tlspolicyd/tlspolicyd.conf"
/* More listeners than anybody needs; a bound, so that every program agrees. */
#define CONFIG_MAX_LISTEN 64


enum config_dane_failure_action { CONFIG_DANE_FAILURE_ACCEPT, CONFIG_DANE_FAILURE_TEMPFAIL, CONFIG_DANE_FAILURE_REJECT };

struct config {
	unsigned refs;
	char *path;			/* the file it came from, or "(defaults)" */

	char **listen;			/* socketmap listeners, NULL-terminated */
	char **map_names;		/* NULL-terminated */
	char **status_listen;		/* the listeners that answer the status map too */
	char *listen_group;		/* of unix listeners; "": anyone */
	unsigned max_connections;
	unsigned max_connections_per_peer;	/* one user, or one remote address */
	unsigned client_timeout_ms;
	unsigned request_timeout_ms;	/* from a request's first byte to its last */

	char *trust_anchor_file;
	bool trust_anchor_tracking;	/* RFC 5011, on a copy in state_directory */
	char *unbound_config;
	char *trust_check_name;		/* a signed zone under the anchors */
	unsigned trust_check_interval_ms;
	unsigned dns_timeout_ms;

	unsigned cache_max_entries;
	unsigned cache_min_ttl_ms;
	unsigned cache_max_ttl_ms;
	unsigned cache_temp_ttl_ms;
	/* A hit in the last cache_prefetch_percent of its TTL refreshes the
	 * answer in the background (0: never), at most cache_prefetch_max at
	 * once. */
	unsigned cache_prefetch_percent;
	unsigned cache_prefetch_max;
	unsigned stale_answer_max_age_ms;	/* 0: never serve stale */
	unsigned cache_snapshot_interval_ms;	/* 0: only at stop */

	struct policy_levels levels;

	bool probe_enable;
	unsigned probe_workers;		/* 0: one per core */
	unsigned probe_concurrency;	/* probes in flight at once, all workers */
	unsigned probe_queue_max;
	unsigned probe_rate;		/* probes started per second */
	unsigned probe_host_interval_ms;	/* between probes of one address */
	unsigned probe_interval_ms;	/* re-probe a destination still asked for */
	unsigned probe_timeout_ms;	/* each step of a probe */
	char *probe_ca_file;		/* "": the system's CA store */
	char *probe_helo_name;		/* "": the host name */
	bool probe_allow_private;
	unsigned probe_address_limit;	/* per destination, as smtp_mx_address_limit; 0: all */
	bool sts_enable;		/* MTA-STS policies for domains without DANE */
	char *sts_ca_file;		/* "": the system's CA store */
	bool sts_allow_private;		/* fetch from special-purpose addresses too */
	unsigned sts_fetch_timeout_ms;	/* a fetch's deadline, and a first lookup's longest wait */
	unsigned sts_max_domains;
	char **tlsrpt_map_names;	/* answered with TLSRPT attributes; NULL-terminated */
	char *state_directory;		/* probe history */
	char *exceptions_file;
	bool exceptions_retire;		/* stop applying an exception once fixed */
	bool exceptions_auto;		/* apply proposed exceptions */
	unsigned exceptions_auto_evidence_ms;	/* how long Postfix must have deferred with 4.7.5 */
	unsigned exceptions_auto_deferrals;	/* and how often, at least */
	char *maillog_file;		/* Postfix's log: "" none, "-" standard input */
	char *control_socket;		/* unix socket path, "" for none */
	char *metrics_listen;		/* inet:ADDR:PORT, "" for none */
	char *resolv_conf;		/* Postfix's resolver, for the AD-bit check */
	char *resolver_check_name;	/* a DNSSEC-signed name */
	unsigned resolver_check_interval_ms;	/* 0: never */
	char *alert_command;		/* argv, split on white space */
	char *alert_recipient;
	char *alert_sendmail;
	unsigned alert_interval_ms;	/* per (destination, kind) */
	unsigned alert_max_per_hour;
	/* Domains of one's own checked as `tlspolicy selfcheck` does (issue 17). */
	char **monitor_domains;		/* NULL-terminated; empty: no monitor */
	unsigned monitor_interval_ms;
	/* A fleet of relays sharing through Redis (issue 16); "" server: off. */
	char *redis_server;		/* HOST:PORT or unix:/PATH (config_redis_endpoint) */
	char *redis_replica;		/* read endpoint, or "" */
	bool redis_readonly;		/* read, never write */
	char *redis_password;		/* AUTH, or "" */
	char *redis_key_file;		/* the fleet's secret (fleetvalue.h) */
	unsigned redis_timeout_ms;	/* any command's deadline */
	char *redis_prefix;		/* of every key */
	char *redis_relay_name;		/* this relay in the fleet; "": the host's name */

	char *milter_listen;		/* where tlspolicy-milter listens */
	char *milter_socketmap;		/* the daemon it asks; "": status_listen's first */
	unsigned milter_lookup_timeout_ms;
	int milter_on_dane_failure;	/* enum config_dane_failure_action */
	char **milter_require_secure_senders;	/* addresses and @domains, NULL-terminated */
	bool milter_add_header;
	char *user;
	int syslog_facility;		/* LOG_MAIL etc. */
	int log_level;			/* enum log_level_value */
};

/* The snapshot of a file; NULL with every error appended to errors. */
struct config *config_load(const char *path, struct buf *errors);
/* The same from text in memory; name stands for the file in messages. */
struct config *config_parse(const char *text, size_t len, const char *name, struct buf *errors);

/* The built-in defaults, for when the default file does not exist. */
struct config *config_defaults(void);

/* redis_server's and redis_replica's form: "HOST:PORT" (HOST an address,
 * "[IPv6]" or localhost) or "unix:/PATH", "inet:" optional. 0, or -1
 * with why. */
int config_redis_endpoint(const char *spec, struct endpoint *out, char *why, size_t wlen);

struct config *config_ref(struct config *c);
void config_unref(struct config *c);

/* Settings a reload cannot change (listeners, resolver set-up, user):
 * appends their names, comma-separated, for a warning. Returns how many
 * differ between the two snapshots. */
int config_restart_needed(const struct config *old, const struct config *new, struct buf *names);

/* Every setting as "name = value" lines, in table order: the values of c,
 * or the defaults when c is NULL. */
int config_dump(const struct config *c, struct buf *out);

/* The names of every setting, one per line (for the documentation check). */
int config_names(struct buf *out);

#endif
