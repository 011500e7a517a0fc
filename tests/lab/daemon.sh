# daemon.sh - run tlspolicyd and ask it questions inside a lab.  Source it
# after lab.sh, once lab_up has succeeded.
#
#   daemon_lab_start [LINES...]  lab_start, a sender configuration for
#                            postmap, daemon_conf LINES, daemon_start
#   daemon_conf [LINES...]   write $LAB_DIR/tlspolicyd.conf: the lab's
#                            resolver settings (its anchor in
#                            unbound_config, trust_check_name = test.)
#                            plus LINES (name = value)
#   daemon_start [CONF]      start tlspolicyd -f in the lab's namespace and
#                            wait until it answers (5 s times
#                            LAB_TIME_FACTOR); its pid in DAEMON_PID.
#                            DAEMON_EXEC, an array, goes before the
#                            command: (prlimit --nofile=1024:16384 --)
#                            starts it with the systemd unit's hard limit
#   daemon_stop              SIGTERM, and wait for the exit
#   pmq KEY [MAP]            ask through Postfix's own client, postmap -q;
#                            prints the value, "NOTFOUND", or "ERROR: ..."
#                            (postmap's warning, as for TEMP and PERM)
#   tlsp ARGS...             run the tlspolicy command in the namespace
#   daemon_settle            wait until every line the daemon logged is in
#                            $DAEMON_LOG (daemon_start, pmq and tlsp do so
#                            before they return)
#   alert_hook               write $ALERT_HOOK, an alert_command that
#                            records its arguments and the alert's
#                            environment, one file per alert
#   alerts KIND              the files of the alerts of KIND
#   wait_alert KIND          wait up to 10 s for one (times LAB_TIME_FACTOR)
#
# The daemon listens on 127.0.0.1:7672 inside the namespace (every lab has
# its own loopback) and on unix:$LAB_DIR/tlspolicyd.sock, and answers the
# status map (for tlspolicy-milter) on unix:$LAB_DIR/status; it logs to
# $LAB_DIR/tlspolicyd.log, runs as the unprivileged user "nobody", keeps its
# state in $LAB_DIR/state, and probes the lab's mail servers, whose
# loopback addresses it may reach (probe_allow_private) and whose
# certificates come from the lab CA (probe_ca_file).

TLSPOLICYD=${top_builddir:-.}/bin/tlspolicyd
TLSPOLICY=${top_builddir:-.}/bin/tlspolicy
DAEMON_PORT=7672
DAEMON_PID=
DAEMON_LOG=
DAEMON_CONF=
DAEMON_EXEC=()

# _daemon_conf_text [LINES...]: the configuration daemon_conf writes, on
# stdout (fleet.sh writes one per relay).
_daemon_conf_text() {
	local line name defaults=(
		"listen = inet:127.0.0.1:$DAEMON_PORT, unix:$LAB_DIR/tlspolicyd.sock"
		"status_listen = unix:$LAB_DIR/status"
		"trust_anchor_file ="
		"unbound_config = $LAB_DAEMON_UNBOUND_CONF"
		"user = nobody"
		"dns_timeout = 3s"
		"state_directory = $LAB_DIR/state"
		"control_socket = $LAB_DIR/control"
		"exceptions_file = $LAB_DIR/exceptions"
		"resolver_check_name = test."
		"trust_check_name = test."
		"probe_allow_private = yes"
		"probe_ca_file = $LAB_CA"
	)
	# A setting given as an argument replaces the lab's default: the
	# daemon refuses a file that sets anything twice.
	for line in "${defaults[@]}"; do
		name=${line%% =*}
		[[ " ${*%% =*} " == *" $name "* ]] || echo "$line"
	done
	for line in "$@"; do
		echo "$line"
	done
}

daemon_conf() {
	DAEMON_CONF=$LAB_DIR/tlspolicyd.conf
	_daemon_conf_text "$@" > "$DAEMON_CONF"
	# Let the unprivileged daemon reach its socket directory.
	chmod 755 "$LAB_DIR"
}

tlsp() {
	local rc=0
	ip netns exec "$LAB_NETNS" "$TLSPOLICY" -c "$DAEMON_CONF" "$@" || rc=$?
	daemon_settle
	return $rc
}

# The daemon writes its info and notice lines in batches, once per turn of
# its event loop, so an answer can reach the client before the line that
# logs it reaches the file. While a batch is pending the loop polls without
# waiting; a main thread asleep in epoll_wait has written everything.
daemon_settle() {
	local i wchan stat
	[[ -n $DAEMON_PID ]] || return 0
	for ((i = 0; i < 200 * ${LAB_TIME_FACTOR:-1}; i++)); do
		# Gone, or exited and not yet reaped: it will log nothing more.
		read -r -a stat 2>/dev/null <"/proc/$DAEMON_PID/stat" || return 0
		[[ ${stat[2]} == [RSD] ]] || return 0
		read -r wchan 2>/dev/null <"/proc/$DAEMON_PID/task/$DAEMON_PID/wchan"
		[[ $wchan == do_epoll_wait || $wchan == ep_poll ]] && return 0
		# A kernel that hides wchan says 0 even when asleep: give a
		# turn of the loop time instead.
		[[ ${stat[2]} == S && $wchan == 0 ]] && { sleep 0.05; return 0; }
		sleep 0.01
	done
}

daemon_start() {
	local conf=${1:-$DAEMON_CONF} i
	DAEMON_LOG=$LAB_DIR/tlspolicyd.log
	# Started directly with & so that $! is the daemon, not a subshell.
	ip netns exec "$LAB_NETNS" "${DAEMON_EXEC[@]}" "$TLSPOLICYD" -f -c "$conf" 2>>"$DAEMON_LOG" &
	DAEMON_PID=$!
	lab_record_pid "$DAEMON_PID" tlspolicyd
	for ((i = 0; i < 100 * ${LAB_TIME_FACTOR:-1}; i++)); do
		if tlsp query '[192.0.2.1]' >/dev/null 2>&1; then
			return 0	# tlsp settled: the start's lines are in the log
		fi
		if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
			diag "tlspolicyd exited at start:"
			diag "$(tail -n 20 "$DAEMON_LOG")"
			return 1
		fi
		sleep 0.05
	done
	diag "tlspolicyd did not answer within $((5 * ${LAB_TIME_FACTOR:-1})) s"
	return 1
}

daemon_stop() {
	[ -n "$DAEMON_PID" ] || return 0
	kill -TERM "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	local rc=$?
	_lab_forget_pid "$DAEMON_PID"
	DAEMON_PID=
	return $rc
}

pmq() {
	local key=$1 map=${2:-socketmap:inet:127.0.0.1:$DAEMON_PORT:tlspolicy} out err rc
	err=$(mktemp)
	out=$(ip netns exec "$LAB_NETNS" postmap -c "$LAB_SENDER" -q "$key" "$map" 2>"$err")
	rc=$?
	if [ $rc -eq 0 ]; then
		printf '%s\n' "$out"
	elif [ -s "$err" ]; then
		printf 'ERROR: %s\n' "$(tr '\n' ' ' < "$err")"
	else
		echo NOTFOUND
	fi
	rm -f "$err"
	daemon_settle
}

daemon_lab_start() {
	lab_start
	lab_sender_up "texthash:/dev/null" || bail_out "sender configuration failed"
	daemon_conf "$@"
	daemon_start || bail_out "tlspolicyd did not start"
}

ALERT_HOOK=

alert_hook() {
	ALERT_HOOK=$LAB_DIR/hook
	mkdir -p -m 777 "$LAB_DIR/alerts"
	cat > "$ALERT_HOOK" <<'HOOK'
#!/bin/sh
out=$(mktemp "${0%/*}/alerts/alert.XXXXXX")
{ printf 'argc=%s\n' "$#"; for a in "$@"; do printf 'arg=%s\n' "$a"; done; env | grep '^TLSPOLICY_ALERT_' | sort; } > "$out"
HOOK
	chmod 755 "$ALERT_HOOK"
}

alerts() {
	grep -l "TLSPOLICY_ALERT_KIND=$1\$" "$LAB_DIR"/alerts/alert.* 2>/dev/null
}

wait_alert() {
	local i
	for ((i = 0; i < 100 * ${LAB_TIME_FACTOR:-1}; i++)); do
		[ -n "$(alerts "$1")" ] && return 0
		sleep 0.1
	done
	return 1
}
