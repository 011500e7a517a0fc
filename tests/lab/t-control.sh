#!/usr/bin/env bash
# The control socket: purge, refresh (with probes on demand) and stats,
# reachable by root and the daemon's group only.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"

daemon_lab_start
lab_mail_up || bail_out "mail servers did not start"

is "$(stat -c '%a %G' "$LAB_DIR/control")" "660 $(id -gn nobody)" "socket: mode 0660, the daemon user's group"

is "$(pmq good.test)" "dane-only" "good.test answered"
probes() {
	grep -c "event=probe dest=$1 " "$DAEMON_LOG"
}
for ((i = 0; i < 50; i++)); do (( $(probes good.test) >= 1 )) && break; sleep 0.1; done
is "$(probes good.test)" 1 "probed once after the first answer"

out=$(tlsp refresh good.test)
is "$?" 0 "refresh: exit 0"
like "$out" '^OK resolved: OK dane-only; rule all-hosts-dane' "refresh: the new answer"
# Within probe_interval and probe_host_interval, yet probed again at once.
for ((i = 0; i < 50; i++)); do (( $(probes good.test) >= 2 )) && break; sleep 0.1; done
is "$(probes good.test)" 2 "refresh: probed again on demand"

is "$(tlsp purge good.test)" "OK good.test: cached answer forgotten" "purge: forgets the answer"
is "$(tlsp purge good.test)" "OK good.test: was not cached" "purge: twice, nothing left"
like "$(tlsp stats)" $'^OK\ncache_entries=[0-9]+ cache_hits=[0-9]+ cache_misses=[0-9]+ resolutions=[0-9]+' \
	"stats: cache counters"
like "$(tlsp stats)" 'probes=enabled probes_queued=0 probes_running=0 probes_submitted=[0-9]+' "stats: probe counters"
out=$(tlsp refresh 'not a domain')
is "$?" 1 "refresh of a bad key: exit 1"
like "$out" "^ERROR 'not a domain': not a valid domain name" "refresh of a bad key: says why"

# Another user, not in the group, is turned away by the socket's mode.
# (A unix socket is a file: reached from any namespace.)
out=$(su daemon -s /bin/sh -c "$TLSPOLICY -c $DAEMON_CONF stats" 2>&1)
rc=$?
is "$rc" 2 "a user outside the group cannot connect"
like "$out" 'Permission denied' "and is told why"

daemon_stop
is "$?" 0 "SIGTERM: clean exit"
tap_done
