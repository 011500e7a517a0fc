#!/usr/bin/env bash
# Bad clients and many clients: garbage and oversize netstrings get PERM and
# a closed connection, half-sent requests do not delay anybody else, 1 000
# concurrent connections are served, memory stays bounded, and reloads keep
# the daemon answering.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"
SMLOAD=${top_builddir:-.}/tests/bench/smload

[ -x "$SMLOAD" ] || bail_out "$SMLOAD not built (make check builds it)"
# The stallers below hold half a request for a whole run: request_timeout
# must outlast every run (a reload shortens it further down). Every client
# here is root, one peer: 1 000 stallers and 8 more connections are over
# the default max_connections_per_peer.
daemon_lab_start "request_timeout = 20s" "max_connections_per_peer = 2000"

# Raw bytes to the daemon; prints what came back until the daemon closed
# the connection, or until SECONDS (then the exit status is 124).
raw() {
	local seconds=$1 bytes=$2
	ip netns exec "$LAB_NETNS" timeout "$seconds" bash -c \
		'exec 3<>/dev/tcp/127.0.0.1/'"$DAEMON_PORT"'; printf "%b" "$1" >&3; cat <&3' _ "$bytes"
}
rss_kb() {
	awk '/^VmRSS:/ {print $2}' "/proc/$DAEMON_PID/status"
}

got=$(raw 5 'GET / HTTP/1.0\r\n\r\n')
rc=$?
like "$got" '^[0-9]+:PERM malformed netstring' "garbage: PERM"
is "$rc" 0 "garbage: connection closed by the daemon"

got=$(raw 5 '99999:')
rc=$?
like "$got" '^[0-9]+:PERM netstring too long' "oversize length: PERM before any payload"
is "$rc" 0 "oversize: connection closed by the daemon"

big=$(head -c 20000 /dev/zero | tr '\0' a)
got=$(raw 5 "20010:tlspolicy $big,")
like "$got" '^[0-9]+:PERM netstring too long' "oversize request of 20 000 bytes: PERM"

got=$(raw 1 '0:,19:tlspolicy good.test,')
like "$got" '^[0-9]+:PERM malformed request.*,12:OK dane-only,$' \
	"empty request: PERM, and the connection goes on to the next request"

got=$(raw 1 '15:tlspolicy a b c,')
like "$got" '^[0-9]+:PERM invalid next hop' "key with spaces: PERM, not a lookup"

# Pipelined requests on one connection are answered in order.
got=$(raw 1 '19:tlspolicy good.test,21:tlspolicy notlsa.test,19:tlspolicy good.test,')
like "$got" '^12:OK dane-only,6:OK may,12:OK dane-only,' "pipelined requests answered in order"

keys=$LAB_DIR/keys
printf '%s\n' good.test mixed.test notlsa.test insecure.test pkix.test nullmx.test \
	'[mx.submit.test]:587' cnamemx.test implicit.test ta.test > "$keys"
load() {
	ip netns exec "$LAB_NETNS" "$SMLOAD" --json -k "$keys" "$@" "inet:127.0.0.1:$DAEMON_PORT"
}
field() {
	sed -n 's/.*"'"$1"'": *\([0-9.]*\).*/\1/p' <<<"$2"
}
load -c 1 -d 1 >/dev/null	# warm the cache

# A load in the background, the daemon's peak RSS and descriptors sampled
# meanwhile (in WATCH_RSS, WATCH_FDS) with shell builtins only, so that the
# watching costs the same little in every run it is used for; the output
# in WATCH_OUT, the exit status returned.
watched_load() {
	local pid k v _ fds
	load "$@" > "$LAB_DIR/watched.json" &
	pid=$!
	WATCH_RSS=0 WATCH_FDS=0
	while kill -0 "$pid" 2>/dev/null; do
		while read -r k v _; do
			[[ $k == VmRSS: ]] && (( v > WATCH_RSS )) && WATCH_RSS=$v
		done < "/proc/$DAEMON_PID/status"
		fds=("/proc/$DAEMON_PID/fd/"*)
		(( ${#fds[@]} > WATCH_FDS )) && WATCH_FDS=${#fds[@]}
		sleep 0.2
	done
	wait "$pid"
	local rc=$?
	WATCH_OUT=$(cat "$LAB_DIR/watched.json")
	return $rc
}

# Stalled clients must not slow the others.  Three runs with them and three
# without, alternated (A B B A A B) so that a slow spell of this shared
# machine hits both kinds; each kind's best p99 is compared, which a
# passing burst of other work cannot spoil but a cost of the stallers
# (they are there in every run of theirs) would still show.
rss_before=$(rss_kb)
base_p99s=() stall_p99s=() base_fail=0 stall_fail=0 held=0 rss_stall=0 fds_stall=0
for kind in base stall stall base base stall; do
	if [[ $kind == base ]]; then
		watched_load -c 8 -d 2 || base_fail=1
		base_p99s+=("$(field p99 "$WATCH_OUT")")
		continue
	fi
	watched_load -c 8 -d 2 -S 1000 || stall_fail=1
	stall_p99s+=("$(field p99 "$WATCH_OUT")")
	[[ $WATCH_OUT == *'"stallers_at_end":{"open":1000,"closed":0,"reset":0,"answered":0}'* ]] &&
		held=$((held + 1))
	(( WATCH_RSS > rss_stall )) && rss_stall=$WATCH_RSS
	(( WATCH_FDS > fds_stall )) && fds_stall=$WATCH_FDS
done
is "$base_fail" 0 "baseline loads: no errors"
is "$stall_fail" 0 "with 1 000 stalled half-requests: no errors for the others"
is "$held" 3 "the 1 000 stallers were held to the end of every run, neither answered nor dropped"
ok $(( fds_stall >= 1008 ? 0 : 1 )) "the daemon held them all at once: ${fds_stall} descriptors open"
# Measured: ~1 MB more than at rest (a connection's struct, its events
# and the half request it sent); 8 MB catches a read-sized buffer each.
ok $(( rss_stall - rss_before < 8192 ? 0 : 1 )) \
	"memory bounded while 1 000 clients stall: RSS ${rss_stall} kB, $(( rss_stall - rss_before )) kB above ${rss_before} kB (< 8 MB)"
best() { printf '%s\n' "$@" | sort -g | head -n 1; }
base_p99=$(best "${base_p99s[@]}") stalled_p99=$(best "${stall_p99s[@]}")
diag "p99 us without stallers: ${base_p99s[*]}; with 1 000: ${stall_p99s[*]}"
# Generous: this machine is shared; the benchmark measures the real ratio.
limit=$(( ${base_p99%.*} * 5 + 2000 ))
ok $(( ${stalled_p99%.*} <= limit ? 0 : 1 )) \
	"stalled clients do not slow the others: best p99 ${stalled_p99} us vs ${base_p99} us unloaded (limit ${limit} us)"

many=$(load -c 1000 -t 2 -d 3)
is "$?" 0 "1 000 concurrent connections: every reply well-formed"
ok $(( $(field requests "$many") >= 10000 ? 0 : 1 )) "1 000 concurrent connections: $(field requests "$many") answers"
rss_after1=$(rss_kb)
load -c 1000 -t 2 -d 3 >/dev/null
load -c 8 -d 2 -S 1000 >/dev/null
rss_after2=$(rss_kb)
diag "RSS: ${rss_before} kB before, ${rss_after1} kB after the first 1 000-connection run, ${rss_after2} kB after more"
ok $(( rss_after2 - rss_after1 < 4096 ? 0 : 1 )) "memory bounded: a second round grows RSS by $(( rss_after2 - rss_after1 )) kB (< 4 MB)"
ok $(( rss_after1 < 65536 ? 0 : 1 )) "memory bounded: ${rss_after1} kB after 1 000 connections (< 64 MB)"

# Reload: a new level applies at once, even to cached answers; a broken
# file keeps the old configuration, and says where it is wrong.
daemon_conf "client_timeout = 2s" "level_no_tlsa = encrypt" "request_timeout = 3s"
kill -HUP "$DAEMON_PID"
for ((i = 0; i < 50; i++)); do
	grep -q 'event=reload result=ok' "$DAEMON_LOG" && break
	sleep 0.1
done
is "$(pmq notlsa.test)" "encrypt" "SIGHUP: the new level applies to a cached answer"

start=$(_lab_ms)
got=$(raw 5 '19:tlspolicy good')
took=$(( $(_lab_ms) - start ))
is "$got" "" "half a request: no reply"
ok $(( took >= 1500 && took < 4500 ? 0 : 1 )) "SIGHUP: new client_timeout; half a request closed after it (${took} ms, 2 s)"

# A request trickled in one byte a second: each byte would restart an
# idle timer, so only a deadline from the first byte closes it (3 s here),
# long before the 23 bytes are in.
trickle() {
	local seconds=$1 request=$2
	ip netns exec "$LAB_NETNS" timeout "$seconds" bash -c '
		exec 3<>/dev/tcp/127.0.0.1/'"$DAEMON_PORT"'
		{ for ((i = 0; i < ${#1}; i++)); do printf %s "${1:i:1}" >&3 || exit; sleep 1; done; } &
		cat <&3
		kill $! 2>/dev/null' _ "$request"
}
start=$(_lab_ms)
got=$(trickle 10 '19:tlspolicy good.test,')
rc=$?
took=$(( $(_lab_ms) - start ))
is "$rc" 0 "a request trickled one byte a second: the daemon closes the connection"
is "$got" "" "...without a reply"
ok $(( took >= 2500 && took < 6000 ? 0 : 1 )) "...request_timeout after its first byte (${took} ms, 3 s)"
daemon_settle
like "$(cat "$DAEMON_LOG")" 'event=bad-request reason="request not complete within request_timeout \(3000 ms\)" bytes=[1-9][0-9]* action=closed' \
	"...and logs it"
is "$(pmq good.test)" "dane-only" "answers as before meanwhile"

echo "level_no_tlsa = bogus-level" >> "$DAEMON_CONF"
kill -HUP "$DAEMON_PID"
for ((i = 0; i < 50; i++)); do
	grep -q 'event=reload result=rejected' "$DAEMON_LOG" && break
	sleep 0.1
done
like "$(cat "$DAEMON_LOG")" "event=config-error error=\"$DAEMON_CONF:[0-9]+: level_no_tlsa is set twice" \
	"SIGHUP with a bad file: the error names file and line"
is "$(pmq notlsa.test)" "encrypt" "SIGHUP with a bad file: the previous configuration stays"
ok "still alive after everything" kill -0 "$DAEMON_PID"
is "$(pmq good.test)" "dane-only" "still answering after everything"

daemon_stop
is "$?" 0 "SIGTERM: clean exit"
tap_done
