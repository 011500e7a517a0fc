#!/usr/bin/env bash
# t-notify.sh - what tlspolicyd tells systemd (sd_notify(3)), read by a
# stand-in for the service manager (tests/lab/notifyrecv) at NOTIFY_SOCKET:
# READY=1 once it serves; on SIGHUP, RELOADING=1 with MONOTONIC_USEC= at
# the start of the reload and READY=1 at its end, as Type=notify-reload
# wants (systemctl reload returns on that READY=1), for a configuration it
# takes and for one it rejects. MONOTONIC_USEC= is the CLOCK_MONOTONIC
# time, in microseconds, no earlier than the signal.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"

NOTIFYRECV=${top_builddir:-.}/tests/lab/notifyrecv
grep -q '^#define HAVE_SYSTEMD 1' "${top_builddir:-.}/autoconfig.h" 2>/dev/null ||
	tap_skip_all "built without libsystemd: the daemon notifies nothing"
[[ -x $NOTIFYRECV ]] || bail_out "$NOTIFYRECV not built (make check builds it)"

lab_start
lab_sender_up "texthash:/dev/null" || bail_out "sender configuration failed"
daemon_conf

NOTES=$LAB_DIR/notify.log
# In the lab's namespace, like everything the lab starts: lab_down stops
# only what runs there.
ip netns exec "$LAB_NETNS" "$NOTIFYRECV" "$LAB_DIR/notify" >"$NOTES" 2>"$LAB_DIR/notifyrecv.err" </dev/null &
lab_record_pid $! notifyrecv
for ((i = 0; i < 100; i++)); do
	[[ -S $LAB_DIR/notify ]] && break
	sleep 0.02
done
[[ -S $LAB_DIR/notify ]] || bail_out "notifyrecv did not bind $LAB_DIR/notify"

# wait_notes N: until there are at least N notes (5 s, times
# LAB_TIME_FACTOR).
wait_notes() {
	local want=$1 i
	for ((i = 0; i < 250 * ${LAB_TIME_FACTOR:-1}; i++)); do
		(($(wc -l <"$NOTES") >= want)) && return 0
		sleep 0.02
	done
	diag "$(cat "$NOTES")"
	return 1
}

# check_reload WHAT BEFORE T0: the checks of one reload, whose notes follow
# the first BEFORE, signalled at CLOCK_MONOTONIC T0.
check_reload() {
	local what=$1 before=$2 t0=$3 lines rel ready mono arrived
	wait_notes $((before + 2))
	ok $? "$what: two notes"
	mapfile -t lines < <(tail -n +$((before + 1)) "$NOTES")
	rel=${lines[0]:-} ready=${lines[1]:-}
	like "$rel" '^[0-9]+ RELOADING=1 MONOTONIC_USEC=[0-9]+$' "$what: RELOADING=1 with MONOTONIC_USEC= first"
	is "${ready#* }" "READY=1" "$what: READY=1 when the reload is done"
	mono=${rel##*MONOTONIC_USEC=} arrived=${rel%% *}
	if [[ $mono =~ ^[0-9]+$ && $arrived =~ ^[0-9]+$ ]]; then
		ok $((mono >= t0 && mono <= arrived ? 0 : 1)) \
			"$what: MONOTONIC_USEC= is CLOCK_MONOTONIC, after the signal ($t0 <= $mono <= $arrived)"
	else
		ok 1 "$what: MONOTONIC_USEC= is CLOCK_MONOTONIC, after the signal"
	fi
}

NOTIFY_SOCKET=$LAB_DIR/notify daemon_start || bail_out "tlspolicyd did not start"
wait_notes 1
ok $? "a note at start"
like "$(head -n 1 "$NOTES")" '^[0-9]+ READY=1' "READY=1 once the daemon answers"

# A reload that takes the file.
n=$(wc -l <"$NOTES")
t0=$("$NOTIFYRECV" --now)
kill -HUP "$DAEMON_PID"
check_reload "a good file" "$n" "$t0"
ok "the reload took the file" lab_wait_log 'event=reload result=ok' 5 "$DAEMON_LOG"

# A reload that rejects the file: the old configuration stays, and the
# reload is over all the same.
cp "$DAEMON_CONF" "$LAB_DIR/tlspolicyd.conf.good"
echo "no_such_setting = 1" >>"$DAEMON_CONF"
n=$(wc -l <"$NOTES")
t0=$("$NOTIFYRECV" --now)
kill -HUP "$DAEMON_PID"
check_reload "a rejected file" "$n" "$t0"
ok "the reload rejected the file" lab_wait_log 'event=reload result=rejected' 5 "$DAEMON_LOG"
cp "$LAB_DIR/tlspolicyd.conf.good" "$DAEMON_CONF"
is "$(pmq good.test)" "dane-only" "the daemon answers on its old configuration"

daemon_stop
tap_done
