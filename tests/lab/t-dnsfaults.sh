#!/usr/bin/env bash
# t-dnsfaults.sh - the DNS fault matrix: for each way DNS can fail, the answer
# Postfix gets through its own socketmap client (postmap -q) is TEMP or the
# secure answer of the README's "What the daemon answers", never a weaker
# one (may, or NOTFOUND, where DANE or TEMP is due).  README.md's "Security" table lists these cases with
# those covered elsewhere:
#   authoritative server stopped   t-outage.sh
#   bogus signature (MX, TLSA)     t-policy.sh rows 8 and 9
#   NSEC3: secure NXDOMAIN, null MX, NODATA for MX  t-policy.sh
# The zones are in lab.sh (_lab_write_zones); lab_faults_up starts the
# servers that misbehave.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"

# dns_timeout = 10s, the shipped default, not the lab's 3 s: a server that
# answers every query 1 s late costs libunbound's first lookup there ~5 s
# (its first tries at a server it does not know yet time out after 376 ms,
# then 752 ms, and are sent again; late answers to them are lost; then the
# zone's DNSKEY), so 3 s would be too short for any slow server.  Each row
# asks for names nobody asked for before: libunbound caches for 300 s.
DNS_TIMEOUT_S=10
LAB_DNS_SLOW_MS=1000
LAB_DNS_SLOWER_MS=$(( (DNS_TIMEOUT_S + 2) * 1000 ))
daemon_lab_start "dns_timeout = ${DNS_TIMEOUT_S}s"
t0=$(_lab_ms)
lab_faults_up || bail_out "the DNS fault servers did not start"
diag "lab_faults_up took $(($(_lab_ms) - t0)) ms"

# How strong an answer is: what Postfix does with it, weakest first.  TEMP
# defers the mail, which is never weaker than any policy.
rank() {
	case $1 in
	NOTFOUND | may) echo 0 ;;
	encrypt) echo 1 ;;
	dane) echo 2 ;;
	dane-only) echo 3 ;;
	TEMP) echo 4 ;;
	*) echo -1 ;;
	esac
}

# The daemon's answer log line for DEST: answer="..." rule=... reason="...".
answer_line() {
	grep "event=answer dest=$1 " "$DAEMON_LOG" | head -n 1
}

# key | answer that table prescribes (TEMP: postmap reports an error) |
# the daemon's log line must match this | fault server | case
cases=(
	# Slow ones first: they run at the same time, in the background.
	"dropped.test|TEMP|answer=TEMP .*reason=\"MX lookup for dropped\.test timed out|silent|2: the zone's server never answers"
	"droppedhost.test|dane|rule=failed-host .*mx\.dropped\.test failed \([A-Z]+ lookup for mx\.dropped\.test timed out|silent|2: one MX host in that zone, the other without TLSA"
	"slowdns.test|dane-only|rule=all-hosts-dane |slow|3: every answer ${LAB_DNS_SLOW_MS} ms late, below dns_timeout"
	"slowerdns.test|TEMP|answer=TEMP .*reason=\"MX lookup for slowerdns\.test timed out|slower|3: every answer ${LAB_DNS_SLOWER_MS} ms late, above dns_timeout"
	"unrouted.test|TEMP|answer=TEMP .*reason=\"MX lookup for unrouted\.test failed \(SERVFAIL\)|-|2: the zone's server is unreachable (blackhole route)"
	"expiredmx.test|TEMP|answer=TEMP .*reason=\"MX lookup for expiredmx\.test failed DNSSEC validation: .*signature expired|-|5: the MX RRSIG expired a week ago"
	"expiredtlsa.test|TEMP|answer=TEMP .*TLSA lookup for _25\._tcp\.mx\.expiredtlsa\.test failed DNSSEC validation: .*signature expired|-|5: the only host's TLSA RRSIG expired"
	"wrongds.test|TEMP|answer=TEMP .*reason=\"MX lookup for wrongds\.test failed DNSSEC validation: .*DS hash mismatches key|-|6: signed child, DS of no key"
	"wrongdshost.test|TEMP|answer=TEMP .*A+ lookup for mx\.wrongds\.test failed DNSSEC validation: |-|6: the only MX host in that child"
	"nods.test|may|rule=insecure .*mx\.nods\.test plain|-|7: signed child without DS: insecure, as unsigned"
	"lame.test|TEMP|answer=TEMP .*reason=\"MX lookup for lame\.test failed \(SERVFAIL\)|-|8: lame delegation (the server refuses)"
	"bigtlsa.test|dane-only|rule=all-hosts-dane |-|9: TLSA RRset too big for UDP (TC, then TCP)"
	"nodatatlsa.test|may|rule=no-tlsa .*mx\.nodatatlsa\.test plain|-|10: NSEC3 NODATA for TLSA"
	"loopmx.test|TEMP|answer=TEMP .*reason=\".*a\.loop\.test failed \([A-Z]+ lookup for a\.loop\.test failed \(SERVFAIL\)|-|11: MX host is a CNAME loop"
	"loopmix.test|dane|rule=failed-host .*a\.loop\.test failed|-|11: CNAME loop beside a host without TLSA"
)

# The cases' premises, so that each row tests the fault it names.
out=$(lab_exec dig +norec +dnssec +bufsize=1232 +ignore @"$LAB_NSD_ADDR" TLSA _25._tcp.mx.bigtlsa.test)
like "$out" ';; flags: qr aa tc;' "premise 9: over UDP at 1232 bytes the big TLSA answer is truncated"
out=$(ip -n "$LAB_NETNS" route show table local "$LAB_BLACKHOLE_ADDR")
like "$out" "^blackhole $LAB_BLACKHOLE_ADDR" "premise 2: $LAB_BLACKHOLE_ADDR is blackholed in the lab"
out=$(lab_exec dig +norec +dnssec @"$LAB_NSD_ADDR" MX nods.test)
like "$out" $'\tRRSIG\tMX 13 2 ' "premise 7: nods.test is signed"
# NODATA, and the NSEC3 record matching the name has only NS in its bitmap.
out=$(lab_exec dig +norec +dnssec @"$LAB_NSD_ADDR" DS nods.test | grep -E 'status:|NSEC3 1 0 0 ')
like "$out" $'status: NOERROR.*\n[^\n]* NSEC3 1 0 0 - [0-9A-Z]+ NS$' "premise 7: test. proves that nods.test has no DS"
out=$(lab_exec dig +norec +tries=1 +time=2 @"$LAB_NSD2_ADDR" SOA lame.test)
like "$out" 'status: REFUSED' "premise 8: lame.test's name server refuses it"

# pmq KEY, timed: "MS ANSWER" into $LAB_DIR/q.KEY.
ask() {
	local start got
	start=$(_lab_ms)
	got=$(pmq "$1")
	printf '%s %s\n' "$(($(_lab_ms) - start))" "$got" >"$LAB_DIR/q.$1"
}

# The rows with a slow or silent server at once, the others meanwhile.
# (These shells wait for postmap in the namespace, which lab_down stops.)
t0=$(_lab_ms)
waits=()
for c in "${cases[@]}"; do
	IFS='|' read -r key want re server what <<<"$c"
	[[ $server == - ]] && continue
	ask "$key" &
	waits+=($!)
done
for c in "${cases[@]}"; do
	IFS='|' read -r key want re server what <<<"$c"
	[[ $server == - ]] && ask "$key"
done
wait "${waits[@]}"
diag "all questions answered in $(($(_lab_ms) - t0)) ms"

temp_keys=()
for c in "${cases[@]}"; do
	IFS='|' read -r key want re server what <<<"$c"
	read -r took got <"$LAB_DIR/q.$key" || took=999999 got="(no answer recorded)"
	if [[ $want == TEMP ]]; then
		temp_keys+=("${key//./\\.}")
		like "$got" '^ERROR: ' "$what: $key is TEMP (postmap reports a lookup error)"
		[[ $got == ERROR:* ]] && got=TEMP
	else
		is "$got" "$want" "$what: $key"
	fi
	ok $(($(rank "$got") >= $(rank "$want") ? 0 : 1)) "$what: $key never weaker than $want (got $got)"
	like "$(answer_line "$key")" "$re" "$what: $key, the reason in the log"
	# A lookup ends within dns_timeout; MX, addresses and TLSA are at most
	# three rounds.  Rows without a slow server wait for no time limit
	# (postmap itself takes a second over a TEMP).
	[[ $server == - ]] && limit=$((DNS_TIMEOUT_S * 1000)) || limit=$((3 * DNS_TIMEOUT_S * 1000))
	ok $((took <= limit ? 0 : 1)) "$what: $key answered in $took ms (limit $limit)"
done

# The slow rows went through their servers, and took as long as they should.
read -r took _ <"$LAB_DIR/q.slowdns.test"
ok $((took >= 3 * LAB_DNS_SLOW_MS ? 0 : 1)) \
	"3: slowdns.test took $took ms: MX, addresses, TLSA each at least ${LAB_DNS_SLOW_MS} ms"
like "$(grep -c ' reply id ' "$LAB_DIR/dnsdelay-$LAB_SLOW_DNS_ADDR.log")" '^[1-9]' \
	"3: the slow server relayed answers"
for key in slowerdns.test dropped.test; do
	read -r took _ <"$LAB_DIR/q.$key" || took=0
	ok $((took >= DNS_TIMEOUT_S * 1000 - 500 ? 0 : 1)) \
		"$key: the daemon waited for dns_timeout (TEMP after $took ms)"
done
like "$(grep -c ' dropped$' "$LAB_DIR/dnsdelay-$LAB_SILENT_DNS_ADDR.log")" '^[1-9]' \
	"2: the silent server got queries, and answered none"

# Nothing that was due TEMP got an answer, not even once (a retry, a cache).
ors=$(IFS='|'; echo "${temp_keys[*]}")
unlike "$(grep 'event=answer' "$DAEMON_LOG")" "dest=($ors) answer=\"?(OK|NOTFOUND)" \
	"no OK or NOTFOUND answer for a destination whose lookups failed"

daemon_stop
is "$?" 0 "SIGTERM: clean exit"
tap_done
