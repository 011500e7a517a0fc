#!/usr/bin/env bash
# t-fleet-lab.sh - proves the lab's fleet fixture (fleet.sh) right before
# t-fleet.sh relies on it: Redis started in the lab (a primary, a replica
# that syncs from it, one that requires a password), stopped and started
# again on its port; three relays with redis_server set that answer DANE
# destinations as a relay without Redis does; and a teardown that leaves
# none of the processes it started.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"
source "$here/fleet.sh"

lab_fleet_require

t0=$(_lab_ms)
lab_start
diag "lab_start: $(($(_lab_ms) - t0)) ms"

# ---------------------------------------------------------------- Redis
lab_redis_up main 6379 || bail_out "lab_redis_up main failed"
is "$(lab_redis_cli main ping)" PONG "Redis main answers on $(lab_redis_endpoint main)"
is "$(lab_redis_cli main config get save | sed -n 2p)" "" "no snapshots (save \"\")"
is "$(lab_redis_cli main config get appendonly | sed -n 2p)" no "no append-only file"
unlike "$(ss -Hltn 2>/dev/null)" "$LAB_REDIS_ADDR:6379" "it listens in the lab's namespace only"

lab_redis_up replica 6380 main || bail_out "lab_redis_up replica failed"
ok "the replica's link to main comes up" _lab_poll 5000 lab_redis_synced replica
lab_redis_cli main set lab:probe synced >/dev/null
got=
for ((i = 0; i < 50; i++)); do
	got=$(lab_redis_cli replica get lab:probe)
	[[ $got == synced ]] && break
	sleep 0.1
done
is "$got" synced "a key written to main is read from the replica"
like "$(lab_redis_cli replica set lab:x 1 2>&1)" READONLY "the replica refuses writes"

lab_redis_up --password 'lab secret' locked 6381 || bail_out "lab_redis_up --password failed"
is "$(lab_redis_cli locked ping)" PONG "with a password: lab_redis_cli authenticates"
like "$(lab_exec redis-cli -h "$LAB_REDIS_ADDR" -p 6381 ping 2>&1)" NOAUTH "without it: refused"
unlike "$(ps -o args= -p "$(lab_redis_pid locked)")" "lab secret" "the password is not on the command line"

lab_redis_stop main
like "$(lab_redis_cli main ping 2>&1)" "refused|Could not connect" "lab_redis_stop: main no longer answers"
is "$(lab_redis_pid main)" "" "and its pid is forgotten"
lab_redis_start main || bail_out "lab_redis_start main failed"
is "$(lab_redis_cli main ping)" PONG "lab_redis_start: main answers again on its port"
is "$(lab_redis_cli main get lab:probe)" "" "its data gone (no persistence)"

# ---------------------------------------------------------------- relays
diag "Redis: $(($(_lab_ms) - t0)) ms"
lab_relay_start r0 || bail_out "the relay without Redis did not start"
lab_fleet_up 3 --redis main "r3:alert_interval = 2h" || bail_out "lab_fleet_up failed"
is "$(lab_relays | tr '\n' ' ')" "r0 r1 r2 r3 " "lab_relays: r0 and the fleet"
is "$(stat -c '%a %s' "$LAB_FLEET_KEY")" "640 48" "the fleet's key: 48 bytes, mode 0640"
for r in r1 r2 r3; do
	conf=$(cat "$(relay_conf "$r")")
	like "$conf" $'(^|\n)redis_server = 127\\.0\\.5\\.1:6379\n' "$r: redis_server is main"
	like "$conf" $'(^|\n)redis_relay_name = '"$r"$'\n' "$r: its relay name"
	like "$conf" $'(^|\n)redis_key_file = '"$LAB_FLEET_KEY"$'\n' "$r: the fleet's key"
done
like "$(cat "$(relay_conf r3)")" $'(^|\n)alert_interval = 2h($|\n)' "a setting for r3 only reaches r3"
unlike "$(cat "$(relay_conf r2)")" "alert_interval" "and not r2"
unlike "$(cat "$(relay_conf r0)")" "redis_" "r0 has no Redis"
up() { [[ $(relay_metric "$1" 'tlspolicyd_fleet_up{role="server"}') == 1 ]]; }
for r in r1 r2 r3; do
	ok "$r connects to Redis (tlspolicyd_fleet_up)" _lab_poll 5000 up "$r"
done
like "$(relay_metrics r0)" "tlspolicyd_answers_total" "r0's metrics are served"
unlike "$(relay_metrics r0)" $'(^|\n)tlspolicyd_fleet_up\\{' "and no sample of the fleet's"

# The answer as Postfix gets it, the map's name (its port) left out of errors.
answer() {
	relay_pmq "$1" "$2" | sed "s/127\.0\.0\.1:$(relay_port "$1")/RELAY/g"
}
for dest in good.test notlsa.test wrongtlsa.test insecure.test bogusmx.test; do
	want=$(answer r0 "$dest")
	same=yes
	for r in r1 r2 r3; do
		got=$(answer "$r" "$dest")
		[[ $got == "$want" ]] || { same=no; diag "$r: $dest: '$got', r0: '$want'"; }
	done
	is "$same" yes "$dest: r1, r2 and r3 answer as r0 does (${want:0:60})"
done
is "$(relay_pmq r2 good.test)" dane-only "good.test is dane-only"
like "$(relay_tlsp r1 query good.test)" $'^good.test\tOK dane-only' "relay_tlsp asks r1"
is "$(relay_metric r1 'tlspolicyd_answers_total{result="OK"}')" \
	"$(relay_metrics r1 | awk '$1 == "tlspolicyd_answers_total{result=\"OK\"}" { print $2 }')" \
	"relay_metric reads one sample"
ok "relay_metric_sum: r1 answered" test "$(relay_metric_sum r1 tlspolicyd_answers_total)" -ge 6

# ---------------------------------------------------------------- teardown
diag "relays: $(($(_lab_ms) - t0)) ms"
pids=()
for r in $(lab_relays); do
	pids+=("$(relay_pid "$r")")
done
for n in main replica locked; do
	pids+=("$(lab_redis_pid "$n")")
done
is "${#pids[@]}" 7 "four relays and three Redis instances recorded"
lab_fleet_down
ok "lab_fleet_down: every relay exited cleanly" test $? -eq 0
left=$(ps -o pid= -p "$(IFS=,; echo "${pids[*]}")" 2>/dev/null | tr -d ' ' | tr '\n' ' ')
is "$left" "" "no process left of those started"
is "$(grep -cE ' (redis-|tlspolicyd-r)' "$LAB_DIR/pids")" 0 "and none left to stop in lab_down's list"
tap_done
