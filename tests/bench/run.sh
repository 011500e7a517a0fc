#!/usr/bin/env bash
# make bench: answers/s and latency of tlspolicyd with a warm cache, beside
# the minimal netstring server (nsmin) on the same machine, at 1, 16 and 100
# connections; server pinned to core 0, load generator to core 1, so that
# neither takes the other's core. Only the project's own tools: the load
# generator tests/bench/smload and the minimal server tests/bench/nsmin.
#
# Then the same daemon at BENCH_STALL_CONNS connections with and without
# 1 000 clients that sent half a request and stall (smload -S): their p99
# must stay within 2x of the unloaded one.
#
# With BENCH_SURVEY=1 (after the rest) or BENCH_SURVEY=only (alone): domains/s
# of `tlspolicy survey` over BENCH_SURVEY_DOMAINS (10 000) lab domains (the
# population of tests/lab/survey.sh: every probe class, null MX, NXDOMAIN,
# unsigned, DNS failures), beside the way to do it without this command
# (and without the mail queue): a loop of posttls-finger, one domain after
# the other, over
# BENCH_SURVEY_SAMPLE (100) of the same domains taken evenly from the
# list, extrapolated. Both get the same timeouts, BENCH_SURVEY_TIMEOUT
# seconds (5): probe_timeout for the survey, -t and -T for posttls-finger.
# BENCH_SURVEY_OPTS: more options for the survey (its defaults otherwise).
#
# MTA-STS (BENCH_STS=1, the default; 0: not; only: nsmin and this alone):
# - cached STS answers: tlspolicyd at 1, 16 and 100 connections as above,
#   on enforce domains whose answers it has cached and MTA-STS replaces
#   (smload -e checks each reply is the "secure match=..." one); the
#   daemon's cache misses and policy fetches over the runs must stay 0;
# - cold STS domains: first lookups per second (smload --once, every
#   answer checked) of BENCH_STS_DOMAINS (3000) fresh lab domains, split
#   into BENCH_RUNS slices, each one a fresh tlspolicyd and a fresh
#   postfix-mta-sts-resolver (the reference, its socketmap, map "postfix")
#   in alternating order, BENCH_STS_CONNS (100) connections, neither
#   pinned (DNS, nginx and the server share the cores); medians;
# - memory: tlspolicyd's resident size grown over each cold slice, and its
#   tlspolicyd_sts_memory_bytes grown, each divided by the slice's domains.
#
# DNS waits and memory (BENCH_DNS=1, the default, after the rest; 0: not;
# only: this alone), from tests/bench/prefetch.sh and tests/bench/cold.sh:
# - a cold DANE decision in DNS round trips, every round trip of the
#   daemon's libunbound made late on purpose (bench_prefetch);
# - the share of lookups answered from the cache in a steady stream over
#   expiring TTLs (bench_prefetch);
# - cold decisions per second beside ubcold, a bare libunbound client
#   making the same lookups in the same run (bench_cold_rate);
# - resident size per cached destination over 100 000 fresh ones
#   (bench_cold_memory).
#
# A fleet sharing through Redis (BENCH_FLEET=1, the default, before the
# DNS part; 0: not; only: this alone), from tests/bench/fleet.sh:
# - cached answers per second of a relay in a fleet (Redis up) beside a
#   relay alone, as the runs above, and the Redis commands it sent over
#   them (target 0);
# - a destination's first lookup on relay B after relay A learned its
#   MTA-STS policy and probe result, beside B alone: time, HTTPS fetches,
#   probes;
# - Redis commands per answered lookup over a mostly cached stream.
#
# Environment: BENCH_SECONDS (default 10), BENCH_WARMUP (2), BENCH_RUNS (3,
# the median is reported), BENCH_CONNS ("1 16 100"), BENCH_STALL_CONNS (16),
# BENCH_STALLERS (1000), BENCH_STS (1), BENCH_STS_DOMAINS (3000),
# BENCH_STS_CONNS (100), BENCH_DNS (1), BENCH_FLEET (1); and those of
# prefetch.sh, cold.sh and fleet.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
source "$top_srcdir/tests/lab/lab.sh"
source "$top_srcdir/tests/lab/daemon.sh"
source "$top_srcdir/tests/bench/prefetch.sh"
source "$top_srcdir/tests/bench/cold.sh"
source "$top_srcdir/tests/lab/fleet.sh"
source "$top_srcdir/tests/bench/fleet.sh"
SMLOAD=$top_builddir/tests/bench/smload
NSMIN=$top_builddir/tests/bench/nsmin
SECONDS_=${BENCH_SECONDS:-10}
WARMUP=${BENCH_WARMUP:-2}
RUNS=${BENCH_RUNS:-3}
CONNS=${BENCH_CONNS:-1 16 100}
STALL_CONNS=${BENCH_STALL_CONNS:-16}
STALLERS=${BENCH_STALLERS:-1000}
SERVER_CPU=0
LOAD_CPU=1
SURVEY=${BENCH_SURVEY:-0}
SURVEY_DOMAINS=${BENCH_SURVEY_DOMAINS:-10000}
SURVEY_SAMPLE=${BENCH_SURVEY_SAMPLE:-100}
SURVEY_TIMEOUT=${BENCH_SURVEY_TIMEOUT:-5}
STS=${BENCH_STS:-1}
DNS=${BENCH_DNS:-1}
FLEET=${BENCH_FLEET:-1}
[[ $SURVEY == only ]] && STS=0 DNS=0 FLEET=0
[[ $DNS == only ]] && STS=0 SURVEY=0 FLEET=0
[[ $FLEET == only ]] && STS=0 SURVEY=0 DNS=0
STS_DOMAINS=${BENCH_STS_DOMAINS:-3000}
STS_CONNS=${BENCH_STS_CONNS:-100}
STS_WARM=$((2 * STS_CONNS))

if [[ $(id -u) != 0 ]]; then
	echo "make bench needs root: tlspolicyd runs against the lab in a namespace" >&2
	exit 1
fi
if (( $(nproc) < 2 )); then
	echo "make bench needs two cores (server and load generator pinned apart)" >&2
	exit 1
fi
LAB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tlsplab.XXXXXX")
lab_traps
if [[ $SURVEY != 0 ]]; then
	# The survey's zone is only built when asked for (tests/lab/survey.sh).
	LAB_SURVEY_DOMAINS=$SURVEY_DOMAINS
fi
if [[ $STS != 0 ]]; then
	# The cold domains' zone and certificates (tests/lab/sts.sh), and
	# STS_WARM more for the warm-ups.
	LAB_STS_BENCH_DOMAINS=$((STS_DOMAINS + STS_WARM))
	# The reference resolver at its default verbosity, as tlspolicyd runs
	# at its default log_level: both log what they do, not every detail.
	LAB_STS_RESOLVER_VERBOSITY=info
fi
if [[ $FLEET != 0 ]]; then
	# The fleet's MTA-STS domains (tests/bench/fleet.sh), after those of
	# the cold runs and their warm-ups.
	FLEET_STS_FIRST=$(( ${LAB_STS_BENCH_DOMAINS:-0} + 1 ))
	LAB_STS_BENCH_DOMAINS=$(( ${LAB_STS_BENCH_DOMAINS:-0} + $(bench_fleet_population) ))
fi
if [[ $DNS != 0 ]]; then
	# The cold DANE population (tests/lab/danebench.sh): lab_up takes a
	# couple of minutes longer to sign and load it.
	LAB_DANE_BENCH_DOMAINS=$(bench_cold_population)
fi
lab_up >/dev/null || { echo "lab_up failed" >&2; exit 1; }
lab_mail_up >/dev/null || { echo "lab_mail_up failed" >&2; exit 1; }
if [[ $STS != 0 || $FLEET != 0 ]]; then
	lab_https_up >/dev/null || { echo "lab_https_up failed" >&2; exit 1; }
fi

# tlspolicy survey beside a posttls-finger loop over the same domains.
# Prints its figures on stdout.
bench_survey() {
	local list=$LAB_DIR/survey/list out=$LAB_DIR/survey.jsonl sample=$LAB_DIR/survey/sample
	local t0 survey_ms finger_ms n step d rate finger_rate
	lab_sender_up "texthash:/dev/null" >/dev/null || { echo "lab_sender_up failed" >&2; return 1; }
	daemon_conf "probe_timeout = ${SURVEY_TIMEOUT}s"
	n=$(awk '$1 == "domains" { print $2 }' "$LAB_DIR/survey/expected")
	echo "Surveying $n lab domains with tlspolicy survey ${BENCH_SURVEY_OPTS:-}..." >&2
	t0=$(_lab_ms)
	# shellcheck disable=SC2086
	tlsp survey ${BENCH_SURVEY_OPTS:-} --out "$out" "$list" >"$LAB_DIR/survey.out" 2>"$LAB_DIR/survey.err" || {
		echo "tlspolicy survey failed: $(tail -n 3 "$LAB_DIR/survey.err")" >&2
		return 1
	}
	survey_ms=$(($(_lab_ms) - t0))
	if (($(wc -l <"$out") != n)); then
		echo "tlspolicy survey wrote $(wc -l <"$out") records, not $n" >&2
		return 1
	fi
	# Without this command: posttls-finger on each domain in turn, at level
	# dane (DANE where TLSA is published, else opportunistic TLS), the lab
	# CA trusted, the DNS of the lab's validating resolver; every Nth domain
	# of the (shuffled) list, so the sample has the population's mix.
	step=$((n / SURVEY_SAMPLE > 0 ? n / SURVEY_SAMPLE : 1))
	awk -v step="$step" -v max="$SURVEY_SAMPLE" 'NR % step == 1 && k < max { print; k++ }' \
		<(grep -v '[,A-Z]\|\.$' "$list") >"$sample"
	echo "posttls-finger on $(wc -l <"$sample") of them, one after the other..." >&2
	t0=$(_lab_ms)
	while read -r d; do
		lab_exec env MAIL_CONFIG="$LAB_SENDER" posttls-finger -c -l dane \
			-t "$SURVEY_TIMEOUT" -T "$SURVEY_TIMEOUT" -F "$LAB_CA" "$d" >/dev/null 2>&1 </dev/null
	done <"$sample"
	finger_ms=$(($(_lab_ms) - t0))
	rate=$(awk -v n="$n" -v t="$survey_ms" 'BEGIN { printf "%.1f", n * 1000 / t }')
	finger_rate=$(awk -v n="$(wc -l <"$sample")" -v t="$finger_ms" 'BEGIN { printf "%.2f", n * 1000 / t }')
	echo
	echo "Survey of $n lab domains (probe timeout ${SURVEY_TIMEOUT} s for both):"
	printf '| method | domains | seconds | domains/s |\n|---|---:|---:|---:|\n'
	printf '| tlspolicy survey %s| %d | %.1f | %s |\n' "${BENCH_SURVEY_OPTS:+$BENCH_SURVEY_OPTS }" \
		"$n" "$(awk -v t="$survey_ms" 'BEGIN { print t / 1000 }')" "$rate"
	printf '| posttls-finger loop (sample) | %d | %.1f | %s |\n' "$(wc -l <"$sample")" \
		"$(awk -v t="$finger_ms" 'BEGIN { print t / 1000 }')" "$finger_rate"
	printf 'posttls-finger loop over all %d, extrapolated: %.0f s\n' "$n" \
		"$(awk -v n="$n" -v r="$finger_rate" 'BEGIN { print n / r }')"
	printf 'tlspolicy survey / posttls-finger loop: %.0fx (target >= 50x)\n' \
		"$(awk -v a="$rate" -v b="$finger_rate" 'BEGIN { print (b > 0 ? a / b : 0) }')"
	echo "tlspolicy survey: $(tail -n 1 "$LAB_DIR/survey.err")"
}
if [[ $SURVEY == only ]]; then
	bench_survey
	exit
fi
# Issue 15's figures, each function printing its own.
bench_dns() {
	echo
	bench_prefetch && bench_cold_rate && bench_cold_memory
}

keys=$LAB_DIR/keys
# Lab destinations with every kind of answer, cached after the first round.
printf '%s\n' good.test mixed.test notlsa.test insecure.test danemx.insecure.test \
	unsignedmx.test pkix.test cnamemx.test implicit.test ta.test nullmx.test \
	nonexistent.test '[mx.submit.test]:587' > "$keys"

# The keys smload asks (-k FILE, or -e FILE to check every reply).
load_keys=(-k "$keys")

if [[ $FLEET == only ]]; then
	bench_fleet
	exit
fi

# One measurement: prints "rps p50 p99" (the median run by rps).
measure() {
	local target=$1 conns=$2 i out
	for ((i = 0; i < RUNS; i++)); do
		out=$(ip netns exec "$LAB_NETNS" taskset -c "$LOAD_CPU" "$SMLOAD" --json "${load_keys[@]}" \
			-c "$conns" -d "$SECONDS_" -w "$WARMUP" "$target") || {
			echo "smload reported errors against $target: $out" >&2
			return 1
		}
		sed -n 's/.*"rps":\([0-9.]*\).*"p50":\([0-9.]*\).*"p99":\([0-9.]*\).*/\1 \2 \3/p' <<<"$out"
	done | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"
}

declare -A result
bench_server() {
	local name=$1 target=$2 c
	for c in $CONNS; do
		result[$name,$c]=$(measure "$target" "$c") || return 1
		printf '  %-28s %4d conns: %s req/s, p50 %s us, p99 %s us\n' "$name" "$c" \
			$(awk '{printf "%.0f %.0f %.0f", $1, $2, $3}' <<<"${result[$name,$c]}") >&2
	done
}

# Starts a server pinned to SERVER_CPU; its pid in SERVER_PID.
start_pinned() {
	ip netns exec "$LAB_NETNS" taskset -c "$SERVER_CPU" "$@" >/dev/null 2>&1 &
	SERVER_PID=$!
	lab_record_pid "$SERVER_PID" "$(basename "$1")"
}

echo "Measuring ($RUNS runs of ${SECONDS_} s after ${WARMUP} s warm-up each, median by req/s)..." >&2

# The minimal server: the cost of the socket work and the framing alone.
start_pinned "$NSMIN" -q inet:127.0.0.1:9461
sleep 0.3
bench_server "nsmin (the limit)" inet:127.0.0.1:9461 || exit 1
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null

# tlspolicyd pinned to the server core, its cache warm with every key of
# KEYFILE (the first field of each line): start_daemon LEVEL KEYFILE
# [SETTING...].
start_daemon() {
	local i level=$1 warm=$2
	shift 2
	# The load generator is one peer with every connection, and its
	# stallers hold half a request for a whole run (warm-up included).
	daemon_conf "log_level = $level" "listen = inet:127.0.0.1:$DAEMON_PORT" \
		"max_connections_per_peer = 1000000" "request_timeout = 10m" "$@"
	start_pinned "$TLSPOLICYD" -f -c "$DAEMON_CONF"
	DAEMON_PID=$SERVER_PID
	for ((i = 0; i < 100; i++)); do
		tlsp query '[192.0.2.1]' >/dev/null 2>&1 && break
		sleep 0.05
	done
	while read -r k _; do tlsp query "$k" >/dev/null; done < "$warm"
}

# The daemon's metrics (metrics_listen = inet:127.0.0.1:$METRICS_PORT):
# metric NAME prints the value of the sample NAME (with its labels, as
# the exposition writes them), 0 if there is none.
METRICS_PORT=9101
STS_SETTINGS=("sts_ca_file = $LAB_CA" "sts_allow_private = yes"
	"metrics_listen = inet:127.0.0.1:$METRICS_PORT")
metrics() {
	ip netns exec "$LAB_NETNS" curl -sS --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics"
}
metric() {
	awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }'
}
rss_kb() {
	awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"
}

# Cached MTA-STS answers: enforce domains of the fixture and of the cold
# population (tests/lab/sts.sh) whose DNS proves DANE absent, each one's
# reply checked. stschange.test is left out: its 1 s TTLs would send it
# back to DNS during the runs.
sts_keys=$LAB_DIR/sts-keys
bench_sts_cached() {
	local name=$1 m0 m1 out
	{
		printf '%s\tOK secure match=mx.stsgood.test servername=hostname\n' \
			stsgood.test stsflaky.test stsinsecure.insecure.test
		printf '%s\tOK secure match=mx.wrongname.test servername=hostname\n' stswrongname.test
		printf '%s\tOK secure match=.stsgood.test:mx.stsother.test servername=hostname\n' stswild.test
		head -n 11 "$LAB_STS_BENCH_LIST" |
			awk '{ print $1 "\tOK secure match=mx.stsgood.test servername=hostname" }'
	} >"$sts_keys"
	start_daemon info "$sts_keys" "${STS_SETTINGS[@]}"
	m0=$(metrics)
	load_keys=(-e "$sts_keys")
	bench_server "$name" "inet:127.0.0.1:$DAEMON_PORT" || return 1
	load_keys=(-k "$keys")
	m1=$(metrics)
	daemon_stop
	# Every answer from the cache: no resolution, no fetch, while the
	# policies replaced every one (sts_answers_total).
	sts_cache_check=$(awk -v m="$(metric tlspolicyd_cache_misses_total <<<"$m1")" \
		-v m0="$(metric tlspolicyd_cache_misses_total <<<"$m0")" \
		-v h="$(metric tlspolicyd_cache_hits_total <<<"$m1")" \
		-v h0="$(metric tlspolicyd_cache_hits_total <<<"$m0")" \
		-v a="$(metric tlspolicyd_sts_answers_total <<<"$m1")" \
		-v a0="$(metric tlspolicyd_sts_answers_total <<<"$m0")" \
		-v f="$(grep '^tlspolicyd_sts_fetches_total' <<<"$m1" | awk '{ n += $2 } END { print n + 0 }')" \
		-v f0="$(grep '^tlspolicyd_sts_fetches_total' <<<"$m0" | awk '{ n += $2 } END { print n + 0 }')" \
		'BEGIN { printf "%d cache hits, %d misses, %d policy fetches; %d answers MTA-STS replaced", \
			h - h0, m - m0, f - f0, a - a0; exit (m - m0 || f - f0) }') || {
		echo "cached STS runs were not all answered from the cache: $sts_cache_check" >&2
		return 1
	}
}

# Cold MTA-STS domains: slice I of RUNS of the population, first lookups
# of each domain once, against a fresh tlspolicyd (its state directory
# emptied: no policy saved by an earlier run) or a fresh mta-sts-daemon
# (lab_sts_resolver_up restarts it, its cache empty); and tlspolicyd with
# sts_enable = no, whose answers need DNS alone (the resident size it
# gains is that of the DNS and answer caches without any policy). Each
# is warmed first with the STS_WARM domains past the population's, at
# the same load: its start-up, mx.stsgood.test's DNS and the buffers and
# TLS state of as many lookups in flight are then in place, so that what
# the resident size gains over the slice is what the slice's domains
# keep. How busy the server and nginx (one process, serving every
# fetch) were, in % of one core, shows which of them set the pace.
STS_SECURE="OK secure match=mx.stsgood.test servername=hostname"
# sts_cold_expect FROM TO REPLY: lines FROM to TO of the population, each
# with the reply it must get.
sts_cold_expect() {
	awk -v from="$1" -v to="$2" -v reply="$3" 'NR >= from && NR <= to { print $1 "\t" reply }' \
		"$LAB_STS_BENCH_LIST"
}
sts_cold_load() {
	local out
	out=$(ip netns exec "$LAB_NETNS" "$SMLOAD" --json --once -c "$STS_CONNS" -d 300 --timeout 30 "$@") || {
		echo "smload reported errors against ${*: -1}: $out" >&2
		return 1
	}
	sed -n 's/.*"rps":\([0-9.]*\).*/\1/p' <<<"$out"
}
# CPU ticks (user and system) of the lab's process NAME, or of pid N.
ticks() {
	local pid=$1
	[[ $pid == [0-9]* ]] || pid=$(awk -v n="$1" '$2 == n { p = $1 } END { print p }' "$LAB_DIR/pids")
	awk '{ print $14 + $15 }' "/proc/$pid/stat"
}
# sts_cold_timed SERVER SMLOAD-ARGS...: "rps server_percent nginx_percent"
# (SERVER: a pid, or a name in the lab's pid list).
sts_cold_timed() {
	local server=$1 t0 s0 n0 rate
	shift
	t0=$(_lab_ms) s0=$(ticks "$server") n0=$(ticks nginx)
	rate=$(sts_cold_load "$@") || return 1
	awk -v r="$rate" -v s="$(($(ticks "$server") - s0))" -v n="$(($(ticks nginx) - n0))" \
		-v t="$(($(_lab_ms) - t0))" -v hz="$(getconf CLK_TCK)" 'BEGIN {
		t = t > 0 ? t / 1000 : 1
		printf "%s %.0f %.0f\n", r, 100 * s / hz / t, 100 * n / hz / t }'
}
# sts_cold_run WHO SLICE (WHO: tlspolicyd, nosts, reference): prints
# "rps server_percent nginx_percent rss_kb_grown sts_bytes_grown" (0 0
# for the reference).
sts_cold_run() {
	local who=$1 slice=$2 exp=$LAB_DIR/sts-cold warm=$LAB_DIR/sts-warm reply=$STS_SECURE
	local per=$((STS_DOMAINS / RUNS)) out r0 r1 m0 m1
	[[ $who == nosts ]] && reply="OK may"
	sts_cold_expect $((slice * per + 1)) $(((slice + 1) * per)) "$reply" >"$exp"
	sts_cold_expect $((STS_DOMAINS + 1)) $((STS_DOMAINS + STS_WARM)) "$reply" >"$warm"
	if [[ $who == reference ]]; then
		lab_sts_resolver_up >/dev/null || { echo "lab_sts_resolver_up failed" >&2; return 1; }
		sts_cold_load -m postfix -e "$warm" "$LAB_STS_RESOLVER" >/dev/null || return 1
		out=$(sts_cold_timed mta-sts-daemon -m postfix -e "$exp" "$LAB_STS_RESOLVER") || return 1
		_lab_sts_stop mta-sts-daemon
		echo "$out 0 0"
		return
	fi
	rm -rf "${LAB_DIR:?}/state/"*
	daemon_conf "${STS_SETTINGS[@]}" "sts_enable = $([[ $who == nosts ]] && echo no || echo yes)"
	daemon_start "$DAEMON_CONF" >/dev/null || { echo "tlspolicyd did not start" >&2; return 1; }
	sts_cold_load -e "$warm" "inet:127.0.0.1:$DAEMON_PORT" >/dev/null || return 1
	r0=$(rss_kb "$DAEMON_PID") m0=$(metrics | metric tlspolicyd_sts_memory_bytes)
	out=$(sts_cold_timed "$DAEMON_PID" -e "$exp" "inet:127.0.0.1:$DAEMON_PORT") || return 1
	r1=$(rss_kb "$DAEMON_PID") m1=$(metrics | metric tlspolicyd_sts_memory_bytes)
	daemon_stop
	echo "$out $((r1 - r0)) $((m1 - m0))"
}
declare -A sts_cold
STS_WHO=(tlspolicyd reference nosts)
declare -A STS_LABEL=([tlspolicyd]="tlspolicyd" [reference]="postfix-mta-sts-resolver"
	[nosts]="tlspolicyd sts_enable=no")
bench_sts_cold() {
	local i who r
	echo "Cold MTA-STS domains: $STS_DOMAINS in $RUNS slices, $STS_CONNS connections..." >&2
	for ((i = 0; i < RUNS; i++)); do
		# The two resolvers of policies in turn; without MTA-STS last.
		for who in $( ((i % 2)) && echo "reference tlspolicyd" || echo "tlspolicyd reference") nosts; do
			r=$(sts_cold_run "$who" "$i") || return 1
			sts_cold[$who]+="$r"$'\n'
			# shellcheck disable=SC2086 # its five fields
			printf '  %-28s slice %d: %.0f domains/s, busy %d %%, nginx %d %%; RSS +%d kB, sts_memory_bytes +%d\n' \
				"${STS_LABEL[$who]}" "$i" $r >&2
		done
	done
}
# sts_cold_median WHO FIELD
sts_cold_median() {
	printf '%s' "${sts_cold[$1]}" | awk -v f="$2" '{ print $f }' | median
}
# sts_cold_runs WHO FIELD FORMAT: every run's figure.
sts_cold_runs() {
	printf '%s' "${sts_cold[$1]}" | awk -v f="$2" -v fmt="$3" '{ printf fmt " ", $f }' | sed 's/ $//'
}

if [[ $DNS == only ]]; then
	bench_dns
	exit
fi
if [[ $STS != only ]]; then
	# tlspolicyd, logging every answer (the default) and not.
	for mode in info notice; do
		start_daemon "$mode" "$keys"
		bench_server "tlspolicyd log_level=$mode" "inet:127.0.0.1:$DAEMON_PORT" || exit 1
		daemon_stop
	done
fi
STS_ROW="tlspolicyd STS log_level=info"
if [[ $STS != 0 ]]; then
	bench_sts_cached "$STS_ROW" || exit 1
fi

# Stalled clients must not slow the others.  Runs with and without them
# alternate (A B B A ...), so that a slow spell of the shared host hits
# both; the medians of p99 are compared.  Each run opens its stallers
# before its warm-up and holds them to its end, well within client_timeout
# and request_timeout.
stall_run() {
	local out
	out=$(ip netns exec "$LAB_NETNS" taskset -c "$LOAD_CPU" "$SMLOAD" --json -k "$keys" \
		-c "$STALL_CONNS" -d "$SECONDS_" -w "$WARMUP" "$@" "inet:127.0.0.1:$DAEMON_PORT") || {
		echo "smload reported errors against tlspolicyd: $out" >&2
		return 1
	}
	sed -n 's/.*"rps":\([0-9.]*\).*"p99":\([0-9.]*\).*/\1 \2/p' <<<"$out"
}
median() { sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"; }
if [[ $STS != only ]]; then
	start_daemon info "$keys"
	stall_plain=() stall_loaded=()
	for ((i = 0; i < RUNS; i++)); do
		if (( i % 2 )); then order="loaded plain"; else order="plain loaded"; fi
		for kind in $order; do
			if [[ $kind == plain ]]; then
				r=$(stall_run) || exit 1
				stall_plain+=("$r")
			else
				r=$(stall_run -S "$STALLERS") || exit 1
				stall_loaded+=("$r")
			fi
			printf '  %-28s %4d conns: %s req/s, p99 %s us\n' \
				"tlspolicyd $([[ $kind == plain ]] && echo unloaded || echo "+ $STALLERS stalled")" \
				"$STALL_CONNS" $(awk '{printf "%.0f %.0f", $1, $2}' <<<"$r") >&2
		done
	done
	daemon_stop
	p99_plain=$(printf '%s\n' "${stall_plain[@]}" | awk '{print $2}' | median)
	p99_loaded=$(printf '%s\n' "${stall_loaded[@]}" | awk '{print $2}' | median)
	rps_plain=$(printf '%s\n' "${stall_plain[@]}" | awk '{print $1}' | median)
	rps_loaded=$(printf '%s\n' "${stall_loaded[@]}" | awk '{print $1}' | median)
	# Each pair ran back to back: its ratio is the least disturbed by the host.
	stall_ratios=$(for ((i = 0; i < RUNS; i++)); do
		awk -v a="${stall_loaded[i]#* }" -v b="${stall_plain[i]#* }" 'BEGIN {printf "%.2f\n", (b > 0 ? a / b : 0)}'
	done)

	# Probe throughput: the pool's whole SMTP sessions (banner, EHLO, STARTTLS,
	# handshake, checks, QUIT) beside openssl s_time's bare TLS handshakes,
	# against the same Postfix smtpd and certificate (STARTTLS on 2525,
	# implicit TLS on 4465 for s_time, which has no STARTTLS). Neither is
	# pinned: both share the machine with the server, as in real use.
	PROBEBENCH=$top_builddir/tests/bench/probebench
	probes=$(ip netns exec "$LAB_NETNS" "$PROBEBENCH" -n $(( SECONDS_ * 300 )) -c 64 -C "$LAB_CA" \
		mx.notlsa.test 127.0.2.1 2525)
	probe_rate=$(sed -n 's/.* rate \([0-9.]*\)\/s.*/\1/p' <<<"$probes")
	stime=$(ip netns exec "$LAB_NETNS" openssl s_time -connect 127.0.0.7:4465 -new -time "$SECONDS_" 2>&1 |
		sed -n 's/^\([0-9]*\) connections in \([0-9]*\) real seconds.*/\1 \2/p')
	stime_rate=$(awk '{ if ($2 > 0) printf "%.1f", $1 / $2 }' <<<"$stime")
fi

if [[ $STS != 0 ]]; then
	bench_sts_cold || exit 1
fi

# The table.
rps() { awk '{printf "%.0f", $1}' <<<"${result[$1,$2]}"; }
p() { awk -v f="$3" '{printf "%.0f", $f}' <<<"${result[$1,$2]}"; }
echo
printf '| server | %s |\n' "$(for c in $CONNS; do printf '%s conns req/s | p50 us | p99 us | ' "$c"; done | sed 's/ | $//')"
printf '|---|%s\n' "$(for c in $CONNS; do printf -- '---:|---:|---:|'; done)"
rows=("nsmin (the limit)")
[[ $STS == only ]] || rows+=("tlspolicyd log_level=info" "tlspolicyd log_level=notice")
[[ $STS == 0 ]] || rows+=("$STS_ROW")
for name in "${rows[@]}"; do
	printf '| %s |' "$name"
	for c in $CONNS; do printf ' %s | %s | %s |' "$(rps "$name" "$c")" "$(p "$name" "$c" 2)" "$(p "$name" "$c" 3)"; done
	echo
done
echo
share() {
	awk -v a="$(rps "$1" "$2")" -v b="$(rps "nsmin (the limit)" "$2")" 'BEGIN {print 100 * a / b}'
}
if [[ $STS != only ]]; then
	for mode in info notice; do
		for c in $CONNS; do
			printf 'tlspolicyd (log_level=%s) at %3d connections: %5.1f %% of nsmin\n' "$mode" "$c" \
				"$(share "tlspolicyd log_level=$mode" "$c")"
		done
	done
fi
if [[ $STS != 0 ]]; then
	for c in $CONNS; do
		printf 'tlspolicyd, cached MTA-STS answers (log_level=info) at %3d connections: %5.1f %% of nsmin\n' \
			"$c" "$(share "$STS_ROW" "$c")"
	done
	echo "Cached MTA-STS runs: $sts_cache_check (target >= 90 % of nsmin)."
fi
echo
if [[ $STS != only ]]; then
	printf 'Stalled clients (tlspolicyd log_level=info, %d connections, medians of %d interleaved runs):\n' \
		"$STALL_CONNS" "$RUNS"
	printf '| load | req/s | p99 us |\n|---|---:|---:|\n'
	printf '| unloaded | %.0f | %.0f |\n' "$rps_plain" "$p99_plain"
	printf '| + %d clients stalled on half a request | %.0f | %.0f |\n' "$STALLERS" "$rps_loaded" "$p99_loaded"
	printf 'p99 with %d stalled / unloaded: %.2f from the medians; per pair %s, median %.2f (target <= 2)\n' \
		"$STALLERS" "$(awk -v a="$p99_loaded" -v b="$p99_plain" 'BEGIN {print (b > 0 ? a / b : 0)}')" \
		"$(tr '\n' ' ' <<<"$stall_ratios" | sed 's/ $//')" "$(median <<<"$stall_ratios")"
	echo
	echo "Probe pool (probebench: -c 64 in flight, workers = cores): $probes"
	echo "openssl s_time -new against the same server: ${stime_rate:-?} handshakes/s"
	if [[ -n $probe_rate && -n $stime_rate ]]; then
		printf 'Probe pool at %.0f %% of s_time (target >= 80 %%)\n' \
			"$(awk -v a="$probe_rate" -v b="$stime_rate" 'BEGIN {print 100 * a / b}')"
fi
echo
echo "Target: >= 70 % of nsmin at 16 and 100 connections."
fi
if [[ $STS != 0 ]]; then
	per=$((STS_DOMAINS / RUNS))
	echo
	printf 'Cold MTA-STS domains (%d fresh lab domains a run, each asked once; %d connections; medians of %d runs):\n' \
		"$per" "$STS_CONNS" "$RUNS"
	printf '| resolver | first lookups/s | runs | busy, %% of a core | nginx busy |\n|---|---:|---|---:|---:|\n'
	for who in "${STS_WHO[@]}"; do
		case $who in
		tlspolicyd) what="MX, TLSA, TXT, policy fetch" ;;
		reference) what="TXT, policy fetch" ;;
		nosts) what="MX, TLSA: no policy" ;;
		esac
		printf '| %s (%s) | %.0f | %s | %.0f | %.0f |\n' "${STS_LABEL[$who]}" "$what" \
			"$(sts_cold_median "$who" 1)" "$(sts_cold_runs "$who" 1 %.0f)" \
			"$(sts_cold_median "$who" 2)" "$(sts_cold_median "$who" 3)"
	done
	printf 'tlspolicyd / postfix-mta-sts-resolver: %.2fx\n' \
		"$(awk -v a="$(sts_cold_median tlspolicyd 1)" -v b="$(sts_cold_median reference 1)" \
			'BEGIN { print (b > 0 ? a / b : 0) }')"
	echo
	printf 'Memory per cached MTA-STS domain (tlspolicyd, over %d domains a run, medians of %d runs):\n' \
		"$per" "$RUNS"
	per_domain() { awk -v k="$1" -v n="$per" -v m="$2" 'BEGIN { printf "%6.0f", k * m / n }'; }
	printf '  resident size grown / domains:          %s bytes (runs: %s kB)\n' \
		"$(per_domain "$(sts_cold_median tlspolicyd 4)" 1024)" "$(sts_cold_runs tlspolicyd 4 +%d)"
	printf '  the same with sts_enable = no:          %s bytes (runs: %s kB; the DNS and answer caches)\n' \
		"$(per_domain "$(sts_cold_median nosts 4)" 1024)" "$(sts_cold_runs nosts 4 +%d)"
	printf '  tlspolicyd_sts_memory_bytes / domains:  %s bytes (the STS cache'"'"'s own count)\n' \
		"$(per_domain "$(sts_cold_median tlspolicyd 5)" 1)"
fi
if [[ $SURVEY != 0 ]]; then
	bench_survey || exit 1
fi
if [[ $FLEET != 0 ]]; then
	bench_fleet || exit 1
fi
if [[ $DNS != 0 ]]; then
	bench_dns || exit 1
fi
