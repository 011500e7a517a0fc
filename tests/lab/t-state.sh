#!/usr/bin/env bash
# What survives: the cache snapshot is restored at start (answers without
# DNS after a restart), SIGKILL in the middle of heavy writes never leaves a
# state file the next start cannot read, and through a resolver outage a
# destination whose last answer was dane-only keeps getting it, marked
# stale, while every other failure stays TEMP.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"
SMLOAD=${top_builddir:-.}/tests/bench/smload

[ -x "$SMLOAD" ] || bail_out "$SMLOAD not built (make check builds it)"
lab_start
lab_sender_up "texthash:/dev/null" || bail_out "sender configuration failed"
daemon_conf "cache_snapshot_interval = 100ms" "cache_min_ttl = 1s" "stale_answer_max_age = 1h" \
	"probe_enable = no"
daemon_start || bail_out "tlspolicyd did not start"
STATE=$LAB_DIR/state

# --- the snapshot across a clean restart
is "$(pmq good.test)" dane-only "good.test answered"
is "$(pmq notlsa.test)" may "notlsa.test answered"
for ((i = 0; i < 50; i++)); do
	grep -q 'key=notlsa.test' "$STATE/cache" 2>/dev/null && break
	sleep 0.1
done
like "$(cat "$STATE/cache")" 'store=answers key=good\.test result=ok rule=all-hosts-dane' \
	"the snapshot holds the answers"
like "$(cat "$STATE/cache")" 'store=secure key=good\.test' "...and the last secure answer"
like "$(tail -n 1 "$STATE/cache")" '^end [0-9]+ [0-9a-f]{16}$' "...and ends with its checksum line"
is "$(stat -c '%U %a' "$STATE/cache")" "nobody 640" "written by the daemon's user, not world-readable"
daemon_stop
like "$(cat "$DAEMON_LOG")" 'event=cache-saved file=[^ ]*/cache entries=[0-9]+' "saved at stop"
: >"$DAEMON_LOG"
daemon_start || bail_out "tlspolicyd did not restart"
like "$(cat "$DAEMON_LOG")" 'event=cache-restored file=[^ ]*/cache entries=[1-9]' "restored at start"
is "$(pmq good.test)" dane-only "after the restart: the same answer"
like "$(grep 'event=answer dest=good.test' "$DAEMON_LOG" | tail -n 1)" 'cache=hit' \
	"...from the restored cache, no DNS"

# --- SIGKILL during heavy writes: the next start reads the state, or the
# previous one, never a torn file. Thousands of cached answers (NXDOMAIN
# names) and a snapshot every 100 ms keep the writer busy; the kill lands
# at a random moment of it.
keys=$LAB_DIR/keys
for ((i = 0; i < 1500; i++)); do echo "nx$i.test"; done >"$keys"
ip netns exec "$LAB_NETNS" "$SMLOAD" -k "$keys" -c 32 -d 4 "inet:127.0.0.1:$DAEMON_PORT" >/dev/null
answers() {
	grep -c '^store=answers key=nx' "$STATE/cache" 2>/dev/null
}
sleep 1	# ten snapshot intervals: the file has every answer of the load
cached=$(answers)
ok $((cached >= 500 ? 0 : 1)) "$cached NXDOMAIN answers in the snapshot before the kills"
damaged=0 restored_min=999999 kills=0 midwrite=0
for ((round = 0; round < 25; round++)); do
	sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
	kill -KILL "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	_lab_forget_pid "$DAEMON_PID"
	kills=$((kills + 1))
	# The temporary file exists only while a snapshot is being written.
	[[ -e $STATE/cache.tmp ]] && midwrite=$((midwrite + 1))
	rm -f "$STATE/cache.tmp"
	: >"$DAEMON_LOG"
	daemon_start || bail_out "tlspolicyd did not start after SIGKILL $kills"
	grep -q 'event=state-read' "$DAEMON_LOG" && damaged=$((damaged + 1))
	n=$(sed -n 's/.*event=cache-restored .*entries=\([0-9]*\).*/\1/p' "$DAEMON_LOG")
	((${n:-0} < restored_min)) && restored_min=${n:-0}
done
is "$damaged" 0 "$kills SIGKILLs ($midwrite in the middle of a write): every restart read its state"
ok $((restored_min >= cached ? 0 : 1)) "...and every one restored the whole cache (at least $restored_min entries)"

# --- a resolver outage: the last secure answer, stale; TEMP for the rest
is "$(pmq shortttl.test)" dane-only "shortttl.test (2 s TTLs): dane-only"
lab_nsd_stop || bail_out "NSD did not stop"
sleep 3	# every cache has forgotten shortttl.test
is "$(pmq shortttl.test)" dane-only "outage: the last secure answer again"
like "$(grep 'event=answer dest=shortttl.test' "$DAEMON_LOG" | tail -n 1)" \
	'cache=stale reason="stale: .*the last secure answer, from [0-9]+ s ago' "...logged as stale, with its age"
like "$(pmq never-asked.test)" '^ERROR' "a destination without a secure answer: TEMP"
like "$(tlsp stats)" 'stale_answers=1' "counted"

daemon_stop
is "$?" 0 "SIGTERM: clean exit"
tap_done
