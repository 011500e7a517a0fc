#!/usr/bin/env bash
# t-prefetch.sh - Postfix never waits on DNS for a destination in use (issue
# 15), with every DNS round trip of the daemon's libunbound DELAY_MS late
# (lab_dns_delay_up, tests/lab/dnsdelay.sh):
#   1. a cold DANE decision costs at most 2.2 round trips above a cached
#      answer (median over fresh 1-MX and over fresh 2-MX destinations:
#      MX, then addresses and TLSA at once), a host next hop ([host]) one;
#   2. a client that asks the same destinations round after round over
#      several of their (short) TTLs waits for DNS only in the first
#      round: afterwards no reply takes DELAY_MS (waiting for DNS costs at
#      least one delayed round trip; less is a busy machine's scheduling,
#      up to 120 ms seen with four lab tests at once), the cache misses do
#      not grow, and the log shows the refreshes that kept the answers.
# Latencies are smload's (one connection per key), so no process start-up
# is in them; a round trip is (first lookup - cached lookup) / DELAY_MS.
# The daemon's libunbound resolves without QNAME minimisation, which in
# this flat lab zone would add a round trip per label (lab_dns_delay_up).
# The destinations (coldN.test, pfN.pf.test) are made by dnsdelay.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"

DELAY_MS=200
METRICS_PORT=9673
t_start=$(_lab_ms)
lab_start
lab_dns_delay_up "$DELAY_MS" || bail_out "the delayed DNS server did not start"
# cache_min_ttl = 1s: the answers of pf.test. live as long as their
# LAB_PREFETCH_TTL, not the default 10 s.  No probes: DNS alone decides.
daemon_conf "unbound_config = $LAB_DAEMON_UNBOUND_DELAY_CONF" "log_level = debug" \
	"metrics_listen = inet:127.0.0.1:$METRICS_PORT" "cache_min_ttl = 1s" "probe_enable = no"
daemon_start || bail_out "tlspolicyd did not start"
TARGET=inet:127.0.0.1:$DAEMON_PORT
# test.'s DNSKEY (and the daemon's first lookups) paid once, here.
lab_lookup_us "$TARGET" good.test >/dev/null || bail_out "good.test is not dane-only through the delayed DNS"
diag "lab, delayed DNS and tlspolicyd up in $(($(_lab_ms) - t_start)) ms"

# ---------------------------------------------------------------- premises

# Asked of the lab's resolver, which goes to NSD without the delay and
# shares no cache with the daemon: every destination signed, with one
# or two MX hosts, each with an address, a secure NODATA for AAAA and
# mx1.good.test's TLSA record; pf.test.'s answers, the negative ones too
# (the SOA and NSEC3 records of the NODATA), live LAB_PREFETCH_TTL at most.
# premise DEST MAX_TTL HOSTS (run in the namespace, one dig for all the
# destination's questions): nothing when all holds, else what does not.
premise() {
	local dest=$1 max=$2 hosts=$3 args=("$1" MX) h
	for ((h = 1; h <= hosts; h++)); do
		args+=("mx$h.$dest" A "mx$h.$dest" AAAA "_25._tcp.mx$h.$dest" TLSA)
	done
	# shellcheck disable=SC2154 # good_tlsa: set in the namespace's shell, below
	dig +dnssec +noall +comments +answer +authority @"$LAB_RESOLVER_ADDR" "${args[@]}" |
		awk -v max="$max" -v hosts="$hosts" -v tlsa="$good_tlsa" -v q="${args[*]}" '
		BEGIN { gsub(/ /, "", tlsa); split(q, w, " ") }
		/^;; Got answer:/ { b++; next }
		/^;; ->>HEADER<<-/ { status[b] = $6 }
		/^;; flags:/ && / ad[ ;]/ { ad[b] = 1 }
		$1 !~ /^;/ && NF > 4 {
			if ($2 > max) print w[2 * b - 1] " " w[2 * b] ": TTL " $2 " of " $1 " " $4
			if ($4 == w[2 * b]) {
				n[b]++
				if ($4 == "TLSA") { d = ""; for (i = 5; i <= NF; i++) d = d $i; if (d != tlsa) print $1 " TLSA: not mx1.good.test'"'"'s" }
			}
		}
		END {
			if (b != 1 + 3 * hosts) print b " answers to " 1 + 3 * hosts " questions"
			for (i = 1; i <= b; i++) {
				what = w[2 * i - 1] " " w[2 * i]
				if (!ad[i]) print what ": not secure"
				if (status[i] != "NOERROR,") print what ": " status[i]
				want = w[2 * i] == "MX" ? hosts : w[2 * i] == "AAAA" ? 0 : 1
				if (n[i] + 0 != want) print what ": " n[i] + 0 " records, not " want
			}
		}'
}
# One shell in the namespace for them all: "DEST MAX HOSTS|PROBLEMS" lines.
premises=$(
	{
		declare -f premise
		echo "LAB_RESOLVER_ADDR=$LAB_RESOLVER_ADDR"
		echo 'good_tlsa=$(dig +short TLSA _25._tcp.mx1.good.test @"$LAB_RESOLVER_ADDR")'
		for dest in $(lab_cold_dests) $(lab_prefetch_dests); do
			n=${dest%%.*} n=${n#cold} n=${n#pf} max=300
			[[ $dest == *.pf.test ]] && max=$LAB_PREFETCH_TTL
			echo "echo \"$dest $max $((2 - n % 2))|\$(premise $dest $max $((2 - n % 2)) | tr '\\n' ';')\""
		done
	} | lab_exec bash -s
)
while IFS='|' read -r what problems; do
	read -r dest max hosts <<<"$what"
	is "$problems" "" "premise: $dest, $hosts MX host(s), DNSSEC-secure, TLSA 3 1 1, TTLs <= $max s"
done <<<"$premises"
diag "premises checked after $(($(_lab_ms) - t_start)) ms"

# ---------------------------------------------------------------- 1. round trips

mapfile -t one_mx < <(lab_cold_dests 1mx)
mapfile -t two_mx < <(lab_cold_dests 2mx)
mapfile -t hosts < <(lab_cold_dests hosts)

# rounds NAME KEY...: a line per key into $LAB_DIR/rounds.NAME, each
# checked dane-only, first and cached.
rounds() {
	local name=$1 key line q
	shift
	: >"$LAB_DIR/rounds.$name"
	for key in "$@"; do
		line=$(lab_round_trips "$TARGET" "$DELAY_MS" "$key")
		ok $? "$name: $key answered dane-only, first and cached" &&
			echo "$line" >>"$LAB_DIR/rounds.$name"
		# How many queries the delayed server relayed for it.
		q=${key#[}
		q=${q%]}
		diag "$key: $(awk '{ print "first " $2 " ms, cached " $3 " ms: " $4 " round trips" }' <<<"$line");" \
			"$(grep -Ec "[ .]${q//./\\.}\. [0-9]+$" "$LAB_DIR/dnsdelay-$LAB_DELAY_DNS_ADDR.log") queries at or below its name"
	done
}
median_rounds() {
	awk '{ print $4 }' "$LAB_DIR/rounds.$1" | lab_median
}

# ok_below FIGURE LIMIT DESC
ok_below() {
	ok "$(awk -v a="${1:-999}" -v b="$2" 'BEGIN { print (a <= b ? 0 : 1) }')" "$3 ($1, at most $2)"
}

rounds 1mx "${one_mx[@]}"
ok_below "$(median_rounds 1mx)" 2.2 "1-MX DANE destinations: median of the round trips of a first lookup"
rounds 2mx "${two_mx[@]}"
ok_below "$(median_rounds 2mx)" 2.2 "2-MX DANE destinations: median of the round trips of a first lookup"
rounds host "${hosts[@]}"
ok_below "$(median_rounds host)" 1.3 "host next hops: median of the round trips of a first lookup"

# ---------------------------------------------------------------- 2. prefetch

pf=$LAB_DIR/pf.keys
lab_prefetch_dests | awk '{ print $1 "\tOK dane-only" }' >"$pf"
STREAM_S=$((4 * LAB_PREFETCH_TTL))
first=$(lab_stream "$TARGET" 0 "$pf")
ok $? "first round of the pfN.pf.test destinations: every one dane-only"
diag "first round: slowest reply $(awk '{ printf "%.0f", $2 / 1000 }' <<<"$first") ms"
misses0=$(lab_metric "$METRICS_PORT" tlspolicyd_cache_misses_total)
hits0=$(lab_metric "$METRICS_PORT" tlspolicyd_cache_hits_total)
lab_stream "$TARGET" "$STREAM_S" "$pf" >"$LAB_DIR/stream"
ok $? "${STREAM_S} s of rounds over them: every reply dane-only"
misses1=$(lab_metric "$METRICS_PORT" tlspolicyd_cache_misses_total)
hits1=$(lab_metric "$METRICS_PORT" tlspolicyd_cache_hits_total)
n_rounds=$(wc -l <"$LAB_DIR/stream")
limit_us=$((DELAY_MS * 1000))
slow=$(awk -v l="$limit_us" '$2 >= l' "$LAB_DIR/stream")
n_slow=$(awk -v l="$limit_us" '$2 >= l { n++ } END { print n + 0 }' "$LAB_DIR/stream")
diag "$n_rounds rounds; slowest reply of a round: median $(awk '{ print $2 }' "$LAB_DIR/stream" | lab_median) us," \
	"worst $(awk '{ print $2 }' "$LAB_DIR/stream" | sort -g | tail -n 1) us"
ok $((n_rounds >= 4 * LAB_PREFETCH_TTL ? 0 : 1)) "at least a round a second ($n_rounds in ${STREAM_S} s)"
is "$n_slow" 0 \
	"after the first round no reply took $DELAY_MS ms, a round trip (no request waited for DNS)"
[[ -n $slow ]] && diag "rounds with a slower reply (ms since the start, us):" && diag "$slow"
is "$((misses1 - misses0))" 0 "no cache miss after the first round (tlspolicyd_cache_misses_total)"
is "$((hits1 - hits0))" "$((n_rounds * LAB_PREFETCH_DESTS))" "every request after it a cache hit"

daemon_settle
for dest in $(lab_prefetch_dests); do
	n=$(grep -E "event=refresh dest=${dest//./\\.}( |$)" "$DAEMON_LOG" | grep -c 'outcome=')
	ok $((n >= 2 ? 0 : 1)) "$dest refreshed in the background, several times ($n in ${STREAM_S} s)"
done
diag "refresh outcomes: $(grep -o 'event=refresh .*' "$DAEMON_LOG" | grep -o 'outcome=[a-z-]*' | sort | uniq -c | tr '\n' ' ')"

daemon_stop
is "$?" 0 "SIGTERM: clean exit"
diag "t-prefetch took $(($(_lab_ms) - t_start)) ms"
tap_done
