#!/usr/bin/env bash
# t-fleet.sh - a fleet of three relays sharing through a real Redis (issue
# 16), beside r0, a relay alone whose answers are the reference:
#   1. one alert for the fleet where three relays see the same failure
#      (wrongtlsa.test's MX host presents a certificate its TLSA records
#      do not match);
#   2. every shared value replaced by garbage, by a value copied from
#      another key, by one with a later expiry, or written without the
#      key: a relay that never saw the domain ignores it, answers as r0
#      does, and counts the rejection;
#   3. Redis hung (SIGSTOP) and then stopped under load: every answer
#      correct, none later than redis_timeout and a margin, the metric
#      down; back when Redis starts again;
#   4. a read-only relay writes nothing (MONITOR: its connection sends no
#      write);
#   5. a relay with a replica reads from it (INFO commandstats).
# The fixture itself is t-fleet-lab.sh's.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"
source "$here/fleet.sh"

lab_fleet_require nginx
SMLOAD=$(_lab_smload) || bail_out "smload is not built (make check builds it)"

# The MTA-STS domains dI.stsbench.test: each one new to every relay until
# a test asks for it, each answering SECURE.
LAB_STS_BENCH_DOMAINS=40
TIMEOUT_MS=250
# Beyond redis_timeout: a first MTA-STS answer also waits for DNS and a
# fetch, on a machine shared with other tests.
MARGIN_MS=1500
SECURE="secure match=mx.stsgood.test servername=hostname"

t_start=$(_lab_ms)
lab_start
lab_mail_up || bail_out "mail servers did not start"
lab_https_up || bail_out "lab_https_up failed"
mapfile -t bench <"$LAB_STS_BENCH_LIST"
# bench[0] is d1.stsbench.test: "dom I" is dI.
dom() { echo "${bench[$(($1 - 1))]}"; }
# The Redis key of dI's policy.
key() { echo "tlspolicyd:sts:$(dom "$1")"; }
# in_redis NAME KEY: whether Redis NAME has KEY.
in_redis() { [[ $(lab_redis_cli "$1" exists "$2") == 1 ]]; }
alert_hook
lab_redis_up main 6379 || bail_out "Redis main did not start"
lab_redis_up replica 6380 main || bail_out "the Redis replica did not start"
common=("sts_ca_file = $LAB_CA" "sts_allow_private = yes" "redis_timeout = ${TIMEOUT_MS}ms")
lab_relay_start r0 "${common[@]}" || bail_out "r0, the relay alone, did not start"
lab_fleet_up 3 --redis main "${common[@]}" "alert_command = $ALERT_HOOK" || bail_out "the fleet did not start"
up() { [[ $(relay_metric "$1" 'tlspolicyd_fleet_up{role="server"}') == 1 ]]; }
for r in r1 r2 r3; do
	_lab_poll 5000 up "$r" || bail_out "$r does not see Redis up"
done
diag "lab, mail, HTTPS, Redis and four relays in $(($(_lab_ms) - t_start)) ms"

# ---------------------------------------------------------------- 1. one alert
# r1 probes wrongtlsa.test's MX host first and raises both alerts: the
# host's (dane-mismatch) and the destination's (dane-mismatch-all). r2 and
# r3 then see the failure twice each: in r1's probe result, shared (the
# destination's news, their own to tell: its alert claimed, held by r1),
# and in a probe of their own (tlspolicy refresh does not ask the fleet:
# the host's alert claimed, held by r1).
t0=$(_lab_ms)
# logged RELAY ERE: RELAY's log has a line that matches.
logged() { grep -qE -- "$2" "$(relay_log "$1")"; }
# both_logged ERE: r2's and r3's logs have it.
both_logged() { logged r2 "$1" && logged r3 "$1"; }
wait_ms=$((15000 * ${LAB_TIME_FACTOR:-1}))
relay_pmq r1 wrongtlsa.test >/dev/null
ok "r1 probes and raises the host's alert" \
	_lab_poll "$wait_ms" logged r1 'alert: event=alert kind=dane-mismatch dest=wrongtlsa\.test '
ok "and the destination's" _lab_poll "$wait_ms" logged r1 'alert: event=alert kind=dane-mismatch-all dest=wrongtlsa\.test'
relay_pmq r2 wrongtlsa.test >/dev/null
relay_pmq r3 wrongtlsa.test >/dev/null
ok "r2 and r3 take r1's probe result" _lab_poll "$wait_ms" both_logged 'event=probe-shared dest=wrongtlsa\.test'
ok "r2 and r3 see every host fail: the destination's alert, shared" _lab_poll "$wait_ms" both_logged \
	'info: event=alert-shared kind=dane-mismatch-all dest=wrongtlsa\.test raised_by=r1$'
relay_tlsp r2 refresh wrongtlsa.test >/dev/null
relay_tlsp r3 refresh wrongtlsa.test >/dev/null
ok "r2 and r3 probe the host themselves" _lab_poll "$wait_ms" both_logged 'event=probe dest=wrongtlsa\.test .*class=dane-mismatch'
ok "and find the host's alert shared" _lab_poll "$wait_ms" both_logged \
	'info: event=alert-shared kind=dane-mismatch dest=wrongtlsa\.test raised_by=r1$'
sleep 0.5	# the command of the one raising it, and any stray second one
for kind in dane-mismatch dane-mismatch-all; do
	n=0
	for r in r1 r2 r3; do
		relay_settle "$r"
		n=$((n + $(grep -c "alert: event=alert kind=$kind dest=wrongtlsa.test" "$(relay_log "$r")")))
	done
	is "$n" 1 "$kind: one alert line in the fleet"
	is "$(alerts "$kind" | wc -l)" 1 "$kind: alert_command ran once for the fleet"
done
held=0
for r in r2 r3; do
	held=$((held + $(relay_metric "$r" 'tlspolicyd_fleet_claims_total{kind="alert",result="held"}')))
done
is "$held" 4 "r2 and r3 count four alerts held by another relay"
is "$(relay_metric r1 'tlspolicyd_fleet_claims_total{kind="alert",result="ours"}')" 2 "r1 claimed two"
ok "Redis holds the host's alert claim" in_redis main 'tlspolicyd:alert:dane-mismatch|wrongtlsa.test'
diag "alerts: $(($(_lab_ms) - t0)) ms"

# ---------------------------------------------------------------- 2. forged values
t0=$(_lab_ms)
# r1 fetches d1..d5; each policy lands in Redis, sealed.
for i in 1 2 3 4 5; do
	relay_pmq r1 "$(dom "$i")" >/dev/null
done
stored() {
	local i
	for i in 1 2 3 4 5; do
		[[ $(lab_redis_cli main exists "tlspolicyd:sts:$(dom "$i")") == 1 ]] || return 1
	done
}
ok "r1's five policies are in Redis" _lab_poll 3000 stored
lab_redis_tamper main "$(key 1)" garbage >/dev/null
lab_redis_tamper main "$(key 2)" copy "$(key 5)" >/dev/null
lab_redis_tamper main "$(key 3)" expires +600 >/dev/null
lab_redis_tamper main "$(key 4)" mac "$(head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n')" >/dev/null
is "$(lab_redis_cli main get "$(key 1)")" garbage "d1's value is garbage now"
is "$(lab_redis_cli main get "$(key 2)" | sha256sum)" "$(lab_redis_cli main get "$(key 5)" | sha256sum)" \
	"d2's value is d5's now"
ok "d3's value claims a later expiry, with a positive TTL kept" test "$(lab_redis_cli main ttl "$(key 3)")" -gt 0
# r2 never asked for d1..d4: it reads each value, rejects it, and fetches.
fetched_before=$(grep -c 'stsbench' "$LAB_STS_ACCESS_LOG")
for i in 1 2 3 4; do
	d=$(dom "$i")
	is "$(relay_pmq r2 "$d")" "$(relay_pmq r0 "$d")" "r2 answers $d as r0 alone does, whatever Redis holds"
done
is "$(relay_metric r2 'tlspolicyd_fleet_rejected_total{kind="sts",verdict="malformed"}')" 1 \
	"the garbage counted: malformed"
is "$(relay_metric r2 'tlspolicyd_fleet_rejected_total{kind="sts",verdict="bad-mac"}')" 3 \
	"the copied, the extended and the unkeyed value counted: bad-mac"
is "$(relay_metric r2 'tlspolicyd_fleet_shared_hits_total{kind="sts"}')" 0 "none of them was taken"
is "$(grep -c 'event=fleet-value-rejected' "$(relay_log r2)")" 2 "logged once per reason"
ok "r2 (and r0) fetched the policies themselves" \
	test "$(($(grep -c 'stsbench' "$LAB_STS_ACCESS_LOG") - fetched_before))" -ge 4
is "$(relay_pmq r1 "$(dom 1)")" "$SECURE" "r1 goes on answering from what it fetched"
# The control: d5, untouched, is taken from the fleet.
is "$(relay_pmq r3 "$(dom 5)")" "$SECURE" "r3 answers d5 from the fleet's copy"
is "$(relay_metric r3 'tlspolicyd_sts_fleet_policies_total')" 1 "r3 took one policy from the fleet"
diag "forged values: $(($(_lab_ms) - t0)) ms"

# ---------------------------------------------------------------- 3. Redis gone under load
t0=$(_lab_ms)
# load NAME FIRST LAST: smload asks NAME every dI (FIRST..LAST, each new to
# it) and the cached DANE answers, over 4 connections; prints the slowest
# reply in ms, fails on any wrong or missing answer.
load() {
	local r=$1 f i out
	f=$(mktemp "$LAB_DIR/load.XXXXXX")
	for ((i = $2; i <= $3; i++)); do
		printf '%s\tOK %s\n' "$(dom "$i")" "$SECURE"
	done >"$f"
	printf 'good.test\tOK dane-only\nwrongtlsa.test\tOK dane-only\n' >>"$f"
	out=$(ip netns exec "$LAB_NETNS" "$SMLOAD" --json --once -c 4 -d 30 --timeout 10 -e "$f" \
		"inet:127.0.0.1:$(relay_port "$r")")
	local rc=$?
	rm -f "$f"
	if ((rc != 0)); then
		diag "load $r: $out"
		return 1
	fi
	_lab_smload_max <<<"$out" | awk '{ printf "%.0f\n", $1 / 1000 }'
}
relay_pmq r1 good.test >/dev/null	# cached from now on
relay_pmq r2 good.test >/dev/null
redis_pid=$(lab_redis_pid main)
before=$(relay_metric r1 tlspolicyd_fleet_timeouts_total)
kill -STOP "$redis_pid"
slowest=$(load r1 11 20)
ok "Redis hung: r1's answers all correct" test -n "$slowest"
ok "and none later than redis_timeout + ${MARGIN_MS} ms (slowest ${slowest:-?} ms)" \
	test "${slowest:-99999}" -lt $((TIMEOUT_MS + MARGIN_MS))
ok "r1 counts the commands past the deadline" test "$(relay_metric r1 tlspolicyd_fleet_timeouts_total)" -gt "$before"
is "$(relay_metric r1 'tlspolicyd_fleet_up{role="server"}')" 0 "r1 says Redis is down"
kill -CONT "$redis_pid"

lab_redis_stop main
slowest=$(load r2 21 30)
ok "Redis stopped: r2's answers all correct" test -n "$slowest"
ok "and none later than redis_timeout + ${MARGIN_MS} ms (slowest ${slowest:-?} ms)" \
	test "${slowest:-99999}" -lt $((TIMEOUT_MS + MARGIN_MS))
down() { [[ $(relay_metric "$1" 'tlspolicyd_fleet_up{role="server"}') == 0 ]]; }
for r in r1 r2 r3; do
	ok "$r: tlspolicyd_fleet_up says down" _lab_poll 3000 down "$r"
done
like "$(cat "$(relay_log r2)")" 'warning: event=redis-down role=server' "r2 logged the outage"
lab_redis_start main || bail_out "Redis main did not start again"
for r in r1 r2 r3; do
	ok "$r rejoins when Redis is back" _lab_poll $((35000 * ${LAB_TIME_FACTOR:-1})) up "$r"
done
relay_pmq r3 "$(dom 31)" >/dev/null
ok "r3 shares with the fleet again (d31 in Redis)" _lab_poll 3000 in_redis main "$(key 31)"
diag "outage: $(($(_lab_ms) - t0)) ms"

# ---------------------------------------------------------------- 4, 5. read-only, replica
t0=$(_lab_ms)
_lab_poll 5000 lab_redis_synced replica || diag "the replica did not sync again"
lab_relay_start r4 --redis main "${common[@]}" "redis_readonly = yes" "alert_command = $ALERT_HOOK" ||
	bail_out "r4, read-only, did not start"
lab_relay_start r5 --redis main "${common[@]}" "redis_replica = $(lab_redis_endpoint replica)" ||
	bail_out "r5, with a replica, did not start"
_lab_poll 5000 up r4
replica_up() { [[ $(relay_metric r5 'tlspolicyd_fleet_up{role="replica"}') == 1 ]]; }
ok "r5 connects to the replica" _lab_poll 5000 replica_up

mapfile -t r4_addrs < <(relay_redis_addrs r4 main)
ok "r4 has a connection to Redis (${r4_addrs[*]})" test "${#r4_addrs[@]}" -ge 1
monitor=$LAB_DIR/monitor.txt
lab_redis_monitor main "$monitor" || bail_out "MONITOR did not start"
# New policies, fetched by r4 alone, one it may read from the fleet, and
# the alert, whose claim it may only read.
for d in "$(dom 32)" "$(dom 33)" "$(dom 31)" wrongtlsa.test; do
	relay_pmq r4 "$d" >/dev/null
done
sleep 0.5
lab_redis_monitor_stop
pat=$(printf '%s\n' "${r4_addrs[@]}" | sed 's/[.]/\\./g' | paste -sd'|')
from_r4=$(grep -E "\\[[0-9]+ ($pat)\\]" "$monitor")
like "$from_r4" '"GET"' "MONITOR: r4 reads"
unlike "$from_r4" '"(SET|SETEX|SETNX|DEL|EXPIRE|PEXPIRE|GETSET|EVAL|EVALSHA|INCR|HSET)"' "MONITOR: r4 writes nothing"
is "$(relay_metric_sum r4 tlspolicyd_fleet_writes_total)" 0 "r4 counts no writes"
is "$(lab_redis_cli main exists "$(key 32)")" 0 "d32, which only r4 fetched, is not in Redis"
is "$(relay_pmq r4 "$(dom 32)")" "$SECURE" "r4 answers it all the same"

lab_redis_cli replica config resetstat >/dev/null
relay_pmq r3 "$(dom 36)" >/dev/null	# r3 fetches and shares it
_lab_poll 3000 in_redis replica "$(key 36)" || diag "d36 did not reach the replica"
is "$(relay_pmq r5 "$(dom 36)")" "$SECURE" "r5 answers d36"
gets=$(lab_redis_cli replica info commandstats | tr -d '\r' | sed -n 's/^cmdstat_get:calls=\([0-9]*\),.*/\1/p')
ok "the replica served reads (GET calls: ${gets:-0})" test "${gets:-0}" -ge 1
is "$(relay_metric r5 'tlspolicyd_sts_fleet_policies_total')" 1 "r5 took d36's policy from the fleet, through the replica"
diag "read-only and replica: $(($(_lab_ms) - t0)) ms"

lab_fleet_down
ok "every relay and Redis stopped cleanly" test $? -eq 0
diag "t-fleet.sh: $(($(_lab_ms) - t_start)) ms"
tap_done
