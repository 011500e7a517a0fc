#!/usr/bin/env bash
# t-fleet-share.sh - what three relays share through Redis (issue 16), seen
# from outside the relays: the HTTPS server, the mail servers, Redis, the
# tlspolicy command.
#   1. An MTA-STS policy is fetched once for the fleet: r1 fetches it, r2
#      and r3, which never asked, answer the same from Redis, and nginx
#      served it once. A relay from which the TXT record is hidden (removed
#      after r1 fetched, with r2's caches cold) still applies the policy,
#      where r0, alone, does not.
#   2. An MX host is probed once for the fleet within probe_interval: one
#      connection for three relays. A relay killed (SIGKILL) while it
#      holds a probe's lease does not stop the next probe: another relay
#      probes once the lease has run out.
#   3. `tlspolicy maillog DEST` adds up two relays' counts of their own
#      Postfix logs, and lists each relay's.
#   4. An exception one relay proposes is listed by another's
#      `tlspolicy exceptions --proposed`.
# Waits that depend on the daemon's timers (the 6 s lease, the 10 s
# maillog publish) overlap: the maillog lines are written first and read
# back last.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"
source "$here/fleet.sh"

lab_fleet_require nginx

F=${LAB_TIME_FACTOR:-1}
SECURE="secure match=mx.stsgood.test servername=hostname"
# probe_timeout 1s: a lease of 6 s (probefleet_lease_s, at least 5 s).
PROBE_TIMEOUT_S=1
LEASE_S=6

t_start=$(_lab_ms)
lab_start
lab_mail_up || bail_out "mail servers did not start"
lab_https_up || bail_out "lab_https_up failed"
lab_redis_up main 6379 || bail_out "Redis main did not start"
# Postfix's logs of r1 and r2 (part 3): followed from their end, so they
# exist before the relays start; the relays run as nobody.
maillog_r1=$LAB_DIR/maillog-r1
maillog_r2=$LAB_DIR/maillog-r2
: >"$maillog_r1"
: >"$maillog_r2"
chmod 644 "$maillog_r1" "$maillog_r2"
common=("sts_ca_file = $LAB_CA" "sts_allow_private = yes"
	"probe_enable = yes" "probe_allow_private = yes" "probe_timeout = ${PROBE_TIMEOUT_S}s" "probe_interval = 1h")
lab_fleet_up 3 --redis main "${common[@]}" \
	"r1:maillog_file = $maillog_r1" "r2:maillog_file = $maillog_r2" || bail_out "the fleet did not start"
up() { [[ $(relay_metric "$1" 'tlspolicyd_fleet_up{role="server"}') == 1 ]]; }
for r in r1 r2 r3; do
	_lab_poll $((5000 * F)) up "$r" || bail_out "$r does not see Redis up"
done
diag "lab, mail, HTTPS, Redis and three relays in $(($(_lab_ms) - t_start)) ms"

# logged RELAY ERE: RELAY's log has a line that matches.
logged() { grep -qE -- "$2" "$(relay_log "$1")"; }
both_logged() { logged r2 "$1" && logged r3 "$1"; }
# in_redis KEY: whether Redis main has KEY.
in_redis() { [[ $(lab_redis_cli main exists "$1") == 1 ]]; }
# field TEXT NAME: the value of NAME= in TEXT (key=value words).
field() { [[ $1 =~ (^|[[:space:]])$2=([^[:space:]]*) ]] && printf '%s\n' "${BASH_REMATCH[2]}"; }
# stats RELAY: its `tlspolicy stats`.
stats() { relay_tlsp "$1" stats; }
# stats_ge RELAY NAME N: whether that number of its stats is N or more.
stats_ge() { (($(field "$(stats "$1")" "$2") >= $3)); }
# delta NOW THEN NAME: how much NAME grew from stats THEN to stats NOW.
delta() { echo $(($(field "$1" "$3") - $(field "$2" "$3"))); }

# ---------------------------------------------------------------- 3. (the lines)
# r1's Postfix delivered once to fleetlog.test, r2's twice and deferred
# once; the relays read them within a second and publish every 10 s.
# Each file gets its lines in one write, so no relay publishes half of them.
logline() { printf '%s sender postfix/smtp[%s]: %s\n' "$(date '+%b %d %H:%M:%S')" "$1" "$2"; }
verified() {
	logline "$1" "Verified TLS connection established to mx.fleetlog.test[192.0.2.25]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"
}
sent() {
	logline "$1" "$2: to=<user@fleetlog.test>, relay=mx.fleetlog.test[192.0.2.25]:25, delay=0.2, delays=0.01/0.01/0.1/0.08, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as X$2)"
}
lines=$(verified 101; sent 101 A1)
printf '%s\n' "$lines" >>"$maillog_r1"
lines=$(
	verified 201; sent 201 B1
	verified 202; sent 202 B2
	logline 203 "B3: to=<other@fleetlog.test>, relay=none, delay=30, delays=0.01/0/30/0, dsn=4.4.1, status=deferred (connect to mx.fleetlog.test[192.0.2.25]:25: Connection timed out)"
)
printf '%s\n' "$lines" >>"$maillog_r2"
t_maillog=$(_lab_ms)

# ---------------------------------------------------------------- 1. one fetch
t0=$(_lab_ms)
# fetches DOMAIN: requests for DOMAIN's policy that nginx served.
fetches() { grep -c "^mta-sts\\.${1//./\\.} \"GET /\\.well-known/mta-sts\\.txt " "$LAB_STS_ACCESS_LOG"; }
is "$(relay_pmq r1 stsgood.test)" "$SECURE" "r1 fetches stsgood.test's policy"
ok "and shares it (tlspolicyd:sts:stsgood.test in Redis)" _lab_poll $((3000 * F)) in_redis tlspolicyd:sts:stsgood.test
# r1 probes stsgood.test's MX host too: r2 and r3 should take that result,
# not wait for its lease, which would spill into part 2's counts.
_lab_poll $((3000 * F)) logged r1 'event=probe dest=stsgood\.test ' || diag "r1 did not probe mx.stsgood.test"
for r in r2 r3; do
	is "$(relay_pmq "$r" stsgood.test)" "$SECURE" "$r, which never asked, answers r1's policy"
done
is "$(fetches stsgood.test)" 1 "nginx served stsgood.test's policy once for the three"
for r in r2 r3; do
	is "$(relay_metric "$r" tlspolicyd_sts_fleet_policies_total)" 1 "$r took one policy from the fleet"
	is "$(relay_metric_sum "$r" tlspolicyd_sts_fetches_total)" 0 "$r fetched nothing"
	relay_settle "$r"
	ok "$r logs the policy's source: the fleet" \
		logged "$r" 'info: event=sts-fetch domain=stsgood\.test result=ok source=fleet id=lab1 mode=enforce$'
done

# The TXT record hidden: stschange.test's is removed after r1 fetched its
# policy; r2 never asked, so nothing of it is in its cache, and the lab's
# resolver caches it for 1 s at most (lab_sts_set waits that out).
is "$(relay_pmq r1 stschange.test)" "$SECURE" "r1 fetches stschange.test's policy"
ok "and shares it" _lab_poll $((3000 * F)) in_redis tlspolicyd:sts:stschange.test
ok "stschange.test's TXT record removed" lab_sts_set stschange.test - enforce mx.stsgood.test
is "$(lab_exec dig +short TXT _mta-sts.stschange.test)" "" "the lab's resolver gives no TXT record"
lab_relay_start r0 "${common[@]}" || bail_out "r0, a relay alone, did not start"
isnt "$(relay_pmq r0 stschange.test)" "$SECURE" "r0, alone, sees no MTA-STS for stschange.test"
is "$(relay_pmq r2 stschange.test)" "$SECURE" "r2, in the fleet, applies r1's policy all the same"
relay_settle r2
ok "r2 took it from the fleet" logged r2 'event=sts-fetch domain=stschange\.test result=ok source=fleet'
is "$(fetches stschange.test)" 1 "nginx served stschange.test's policy once"
is "$(relay_metric r2 tlspolicyd_sts_fleet_policies_total)" 2 "r2 took two policies from the fleet"
lab_relay_stop r0 || diag "r0 did not exit cleanly"
diag "one fetch: $(($(_lab_ms) - t0)) ms"

# ---------------------------------------------------------------- 2. one probe
t0=$(_lab_ms)
# Part 1's probes of mx.stsgood.test settled.
_lab_poll $((3000 * F)) both_logged 'event=probe-shared dest=stsgood\.test ' ||
	diag "r2 or r3 did not take mx.stsgood.test's result"
# The mx1.good.test listener's connections: its Postfix logs under the
# listener's myhostname, whose first label is "mx1".
connects() { grep -c '^[A-Z][a-z]* [ 0-9]* [0-9:]* mx1 postfix/smtpd\[[0-9]*\]: connect from ' "$LAB_MX_LOG"; }
declare -A before
for r in r1 r2 r3; do
	before[$r]=$(stats "$r")
	before[$r.hits]=$(relay_metric "$r" 'tlspolicyd_fleet_shared_hits_total{kind="probe"}')
done
is "$(connects)" 0 "nothing connected to mx1.good.test yet"
is "$(relay_pmq r1 good.test)" dane-only "r1 answers good.test"
probe_good='event=probe dest=good\.test host=mx1\.good\.test addr=127\.0\.1\.1 port=25 class=dane-verified '
ok "r1 probes mx1.good.test" _lab_poll $((5000 * F)) logged r1 "$probe_good"
ok "and shares the result" _lab_poll $((3000 * F)) in_redis 'tlspolicyd:probe:mx1.good.test|127.0.1.1|25'
for r in r2 r3; do
	is "$(relay_pmq "$r" good.test)" dane-only "$r answers good.test"
done
ok "r2 and r3 take r1's result (event=probe-shared)" _lab_poll $((5000 * F)) both_logged \
	'info: event=probe-shared dest=good\.test host=mx1\.good\.test addr=127\.0\.1\.1 port=25 class=dane-verified probed=[0-9]+$'
# Postfix's log goes through postlogd: give a stray connection time to show.
sleep 0.5
for r in r1 r2 r3; do relay_settle "$r"; done
is "$(connects)" 1 "mx1.good.test:25 got one connection for the three relays"
ok "neither r2 nor r3 probed it" bash -c '! grep -qE -- "$0" "$1" "$2"' "event=probe dest=good\\.test " \
	"$(relay_log r2)" "$(relay_log r3)"
is "$(delta "$(stats r1)" "${before[r1]}" probes_lease_taken)" 1 "r1: probes_lease_taken +1"
for r in r2 r3; do
	now=$(stats "$r")
	is "$(delta "$now" "${before[$r]}" probes_shared_hits)" 1 "$r: probes_shared_hits +1"
	is "$(delta "$now" "${before[$r]}" probes_lease_taken)" 0 "$r: no lease taken"
	is "$(($(relay_metric "$r" 'tlspolicyd_fleet_shared_hits_total{kind="probe"}') - ${before[$r.hits]}))" 1 \
		"$r: tlspolicyd_fleet_shared_hits_total{kind=\"probe\"} +1"
done
diag "one probe: $(($(_lab_ms) - t0)) ms"

# A lease holder killed: r3 takes the lease of mx.silent.test (a server
# that never sends its banner, so a probe lasts probe_timeout) and is
# killed before its probe ends: no result is ever shared. r2 finds the
# lease held, waits until it must have run out (the lease and a second),
# looks again, finds it free, takes it and probes.
t0=$(_lab_ms)
target='mx.silent.test|127.0.1.14|25'
relay_pmq r3 silent.test >/dev/null
ok "r3 takes the lease of $target" _lab_poll $((3000 * F)) in_redis "tlspolicyd:lease:$target"
pid=$(relay_pid r3)
kill -KILL "$pid"
{ wait "$pid"; } 2>/dev/null
is "$?" 137 "r3 killed (SIGKILL) while it holds the lease"
t_kill=$(_lab_ms)
_lab_forget_pid "$pid"
rm -f "$(relay_dir r3)/pid"
is "$(lab_redis_cli main exists "tlspolicyd:probe:$target")" 0 "r3 shared no result"
ttl=$(lab_redis_cli main pttl "tlspolicyd:lease:$target")
ok "its lease lives on in Redis (${ttl} ms left)" test "${ttl:-0}" -gt 0
before[r2]=$(stats r2)
relay_pmq r2 silent.test >/dev/null
ok "r2 finds the lease held (probes_lease_held +1)" _lab_poll $((3000 * F)) stats_ge r2 probes_lease_held \
	$(($(field "${before[r2]}" probes_lease_held) + 1))
# At most: the lease, the wait's margin, the probe, and slack.
probe_silent='event=probe dest=silent\.test host=mx\.silent\.test addr=127\.0\.1\.14 port=25 class=unreachable '
ok "r2 probes $target once the lease has run out" \
	_lab_poll $(((LEASE_S + 1 + PROBE_TIMEOUT_S + 4) * 1000 * F)) logged r2 "$probe_silent"
waited=$(($(_lab_ms) - t_kill))
ok "not before the lease ran out (${waited} ms after the kill)" test "$waited" -ge "${ttl:-0}"
now=$(stats r2)
is "$(delta "$now" "${before[r2]}" probes_lease_taken)" 1 "r2 took the lease, free again"
is "$(delta "$now" "${before[r2]}" probes_fleet_alone)" 0 "not as a relay alone (the waits not exhausted)"
ok "r2 shares the result" _lab_poll $((3000 * F)) in_redis "tlspolicyd:probe:$target"
diag "lease holder killed: $(($(_lab_ms) - t0)) ms"

# ---------------------------------------------------------------- 4. proposals
t0=$(_lab_ms)
# wrongtlsa.test's only MX host presents a certificate its TLSA record does
# not match: r1 proposes "wrongtlsa.test may" (not applied: no deferrals in
# its log), and stores the proposal for the fleet.
relay_pmq r1 wrongtlsa.test >/dev/null
ok "r1 proposes an exception for wrongtlsa.test" _lab_poll $((5000 * F)) logged r1 \
	'event=exception-proposed dest=wrongtlsa\.test line="wrongtlsa\.test may" applied=no '
listed() { [[ $(relay_tlsp r2 exceptions --proposed) == *"# proposed by relay r1 "* ]]; }
ok "r2's list shows it" _lab_poll $((3000 * F)) listed
out=$(relay_tlsp r2 exceptions --proposed)
like "$out" $'(^|\n)# proposed by relay r1 at [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z: applied=no' \
	"a comment line names r1, when, and that it is not applied"
like "$out" $'(^|\n)# proposed by relay r1 [^\n]*\n(#[^\n]*\n)*wrongtlsa\\.test may($|\n)' \
	"then, after its comments, the line r1 proposes"
diag "proposals: $(($(_lab_ms) - t0)) ms"

# ---------------------------------------------------------------- 3. maillog
t0=$(_lab_ms)
view() { relay_tlsp r1 maillog fleetlog.test; }
summed() { [[ $(view) == *$'\nfleet_relays=2 '* ]]; }
ok "both relays' counts reach Redis" _lab_poll $((20000 * F)) summed
out=$(view)
fleet=$(grep '^fleet_relays=' <<<"$out")
r1_line=$(grep '^relay=r1 ' <<<"$out")
r2_line=$(grep '^relay=r2 ' <<<"$out")
is "$(field "$fleet" sent) $(field "$fleet" verified) $(field "$fleet" deferred)" "3 3 1" \
	"the fleet's line adds them up: sent=3 verified=3 deferred=1"
is "$(field "$r1_line" sent) $(field "$r1_line" verified) $(field "$r1_line" deferred)" "1 1 0" \
	"relay=r1: sent=1 verified=1 deferred=0"
is "$(field "$r2_line" sent) $(field "$r2_line" verified) $(field "$r2_line" deferred)" "2 2 1" \
	"relay=r2: sent=2 verified=2 deferred=1"
is "$(grep -c '^relay=' <<<"$out")" 2 "one relay= line each, none for r3 (no maillog_file)"
is "$(field "$(head -n 1 <<<"$out")" sent)" 1 "the first line is r1's own log: sent=1"
diag "maillog: $(($(_lab_ms) - t0)) ms more, $(($(_lab_ms) - t_maillog)) ms after the lines were written"

lab_fleet_down
ok "every relay left and Redis stopped cleanly" test $? -eq 0
is "$(grep -cE ' (redis-|tlspolicyd-r)' "$LAB_DIR/pids")" 0 "no process of theirs left to stop"
diag "t-fleet-share.sh: $(($(_lab_ms) - t_start)) ms"
tap_done
