# fleet.sh - make bench: a fleet of relays sharing through Redis (issue
# 16).  Sourced by tests/bench/run.sh after lab.sh, daemon.sh and the lab's
# fleet fixture (tests/lab/fleet.sh); uses run.sh's SMLOAD, SECONDS_,
# WARMUP, RUNS, SERVER_CPU, LOAD_CPU and its $keys (the cached DANE
# destinations of its req/s table).  Before lab_up, set
#
#   FLEET_STS_FIRST=LINE        the first line of the MTA-STS population
#                               ($LAB_STS_BENCH_LIST) this part may use
#   LAB_STS_BENCH_DOMAINS=$((FLEET_STS_FIRST - 1 + $(bench_fleet_population)))
#
# and have lab_mail_up and lab_https_up run.  Then bench_fleet prints three
# figures on stdout (progress on stderr) and returns non-zero if a run
# failed (an error, a wrong reply) or a target was missed (Redis commands
# during the cached runs):
#
#   (1) cached answers per second with Redis on and off: the same smload
#       runs as run.sh's (relay pinned to SERVER_CPU, load to LOAD_CPU,
#       BENCH_SECONDS after BENCH_WARMUP, medians of BENCH_RUNS) at each
#       of BENCH_FLEET_CONNS, against r1, in a fleet with Redis up, and r0,
#       alone, on the same warm destinations, the two in alternating order
#       run after run; r1's tlspolicyd_fleet_commands_total over the runs
#       must not move (no Redis on the answers' path);
#   (2) a destination first seen on relay B after relay A learned it: A
#       (r2) looks up BENCH_FLEET_DOMAINS fresh MTA-STS domains, and once
#       their policies and A's probe result of their MX host are in Redis,
#       B (r3, in the fleet) asks each of them for the first time, one at
#       a time, interleaved with B alone (r4, no Redis) asking as many
#       other fresh ones: each first lookup's time (median, p90), the
#       HTTPS fetches each made (nginx's access log), the policies taken
#       from the fleet, and the probes each made itself;
#   (3) Redis commands per answered lookup: a stream of
#       BENCH_FLEET_STREAM lookups, mostly of destinations both relays
#       have cached, with every coldN.test (DANE, fresh MX hosts) and
#       BENCH_FLEET_FRESH fresh MTA-STS domains once each, sent to r5 (the
#       first to see the fresh ones: it resolves, fetches, probes and
#       shares) and then to r6 (which finds them in Redis), Redis emptied
#       before; per relay tlspolicyd_fleet_commands_total grown /
#       tlspolicyd_answers_total grown, and per fresh destination.
#
# A tlspolicyd built without hiredis (no HAVE_REDIS in autoconfig.h) is
# not measured: bench_fleet says so and returns 0.
#
# Every relay: log_level = info (the default), probes on, and
# probe_host_interval = 0s: every lab MX host shares one of a few loopback
# addresses, where in the world they have their own, and the default
# minute between two probes of an address would keep them queued for
# minutes (Redis commands still to come when the figures are read).
#
# Environment: BENCH_FLEET_CONNS ("16 100"), BENCH_FLEET_DOMAINS (100),
# BENCH_FLEET_STREAM (2000), BENCH_FLEET_FRESH (100).

FLEET_CONNS=${BENCH_FLEET_CONNS:-16 100}
FLEET_DOMAINS=${BENCH_FLEET_DOMAINS:-100}
FLEET_STREAM=${BENCH_FLEET_STREAM:-2000}
FLEET_FRESH=${BENCH_FLEET_FRESH:-100}
FLEET_STS_FIRST=${FLEET_STS_FIRST:-1}
# Cached MTA-STS domains beside run.sh's DANE keys, in (1) and (3).
FLEET_STS_WARM=4
FLEET_STREAM_STS_WARM=20
FLEET_SECURE="OK secure match=mx.stsgood.test servername=hostname"
FLEET_REDIS=main
FLEET_REDIS_PORT=6379

# The MTA-STS domains the population must hold from FLEET_STS_FIRST on,
# cut in this order: (2)'s for B in the fleet, (2)'s for B alone, (1)'s
# warm ones, (3)'s warm ones, (3)'s fresh ones.
bench_fleet_population() {
	echo $((2 * FLEET_DOMAINS + FLEET_STS_WARM + FLEET_STREAM_STS_WARM + FLEET_FRESH))
}

# fleet_sts_list FROM COUNT [REPLY]: COUNT domains of the population from
# the fleet's line FROM (1: FLEET_STS_FIRST), each followed by a tab and
# REPLY when one is given.
fleet_sts_list() {
	local first=$((FLEET_STS_FIRST + $1 - 1))
	awk -v from="$first" -v to="$((first + $2 - 1))" -v reply="${3:-}" \
		'NR >= from && NR <= to { print reply == "" ? $1 : $1 "\t" reply } NR > to { exit }' \
		"$LAB_STS_BENCH_LIST"
}
# Where each part's slice starts, in fleet_sts_list's numbering.
FLEET_AT_B=1
FLEET_AT_ALONE=$((1 + FLEET_DOMAINS))
FLEET_AT_WARM=$((1 + 2 * FLEET_DOMAINS))
FLEET_AT_STREAM_WARM=$((FLEET_AT_WARM + FLEET_STS_WARM))
FLEET_AT_FRESH=$((FLEET_AT_STREAM_WARM + FLEET_STREAM_STS_WARM))

fleet_target() {
	echo "inet:127.0.0.1:$(relay_port "$1")"
}

# fm PAGE SAMPLE: one sample's value in a metrics page (0 when absent);
# fm_sum PAGE FAMILY: the sum of the family's samples.
fm() {
	awk -v n="$2" '$1 == n { v = $2 } END { printf "%d\n", v + 0 }' <<<"$1"
}
fm_sum() {
	awk -v f="$2" '{ name = $1; sub(/\{.*/, "", name) } name == f { s += $2 } END { printf "%d\n", s + 0 }' <<<"$1"
}

# fleet_pct P: the P-th percentile of the numbers read (the smallest
# with at least P % of them at or below it).
fleet_pct() {
	sort -g | awk -v p="$1" '{ v[NR] = $1 } END { if (NR) { i = int((NR * p + 99) / 100); print v[i < 1 ? 1 : i] } }'
}

# fleet_ask NAME FILE [SMLOAD-ARGS...]: every key of FILE (smload -k)
# asked once of relay NAME over 4 connections; fails on any error.
fleet_ask() {
	local name=$1 file=$2 out
	shift 2
	out=$(ip netns exec "$LAB_NETNS" "$SMLOAD" --json --once -c 4 -d 120 --timeout 30 "$@" -k "$file" \
		"$(fleet_target "$name")") || {
		echo "smload reported errors against $name: $out" >&2
		return 1
	}
}

# fleet_quiet NAME: true once relay NAME has no probe queued or running
# and sent no Redis command for a second.
fleet_quiet() {
	local page c0
	page=$(relay_metrics "$1")
	(($(fm "$page" tlspolicyd_probes_queued) == 0 && $(fm "$page" tlspolicyd_probes_running) == 0)) || return 1
	c0=$(fm "$page" tlspolicyd_fleet_commands_total)
	sleep 1
	page=$(relay_metrics "$1")
	(($(fm "$page" tlspolicyd_probes_queued) == 0 && $(fm "$page" tlspolicyd_probes_running) == 0 &&
		$(fm "$page" tlspolicyd_fleet_commands_total) == c0))
}

# fleet_settle NAME...: wait (at most 60 s) until every one is quiet:
# what their lookups set going (probes, their results and alerts shared)
# is over before anything is measured or read.
fleet_settle() {
	local name
	for name in "$@"; do
		_lab_poll 60000 fleet_quiet "$name" || {
			echo "relay $name did not settle within 60 s (probes or Redis commands went on)" >&2
			return 1
		}
	done
}

fleet_up() {
	[[ $(relay_metric "$1" 'tlspolicyd_fleet_up{role="server"}') == 1 ]]
}

# fleet_relay NAME [--redis] [SETTING...]: relay NAME, in the fleet with
# --redis, waiting until it sees Redis.
fleet_relay() {
	local name=$1 redis=()
	shift
	if [[ ${1:-} == --redis ]]; then
		redis=(--redis "$FLEET_REDIS")
		shift
	fi
	# The load generator is one peer with every connection.
	lab_relay_start "$name" "${redis[@]}" "log_level = info" "sts_ca_file = $LAB_CA" "sts_allow_private = yes" \
		"probe_host_interval = 0s" "max_connections_per_peer = 1000000" "request_timeout = 10m" "$@" >&2 || {
		echo "relay $name did not start" >&2
		return 1
	}
	if ((${#redis[@]})); then
		_lab_poll 5000 fleet_up "$name" || { echo "relay $name does not see Redis up" >&2; return 1; }
	fi
}

# ---------------------------------------------------------------- (1)

# fleet_ticks PID: its CPU ticks, every thread's (utime + stime), read
# after the command name.
fleet_ticks() {
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# fleet_cached_run NAME CONNS: one pinned smload run against NAME over
# the cached keys: "rps p50 p99 cpu_us", the last the relay's CPU time
# per answer from the end of the warm-up to the end of the run (its
# ticks and its tlspolicyd_answers_total, read at the same moments), less
# noisy than req/s on a shared host.
fleet_cached_run() {
	local out=$LAB_DIR/fleet-cached-run pid rc t0 t1 n0 n1
	pid=$(relay_pid "$1")
	ip netns exec "$LAB_NETNS" taskset -c "$LOAD_CPU" "$SMLOAD" --json -k "$FLEET_CACHED_KEYS" \
		-c "$2" -d "$SECONDS_" -w "$WARMUP" "$(fleet_target "$1")" >"$out" &
	local load=$!
	sleep "$WARMUP"
	t0=$(fleet_ticks "$pid") n0=$(relay_metric_sum "$1" tlspolicyd_answers_total)
	wait "$load"
	rc=$?
	t1=$(fleet_ticks "$pid") n1=$(relay_metric_sum "$1" tlspolicyd_answers_total)
	if ((rc != 0)); then
		echo "smload reported errors against $1: $(cat "$out")" >&2
		return 1
	fi
	sed -n 's/.*"rps":\([0-9.]*\).*"p50":\([0-9.]*\).*"p99":\([0-9.]*\).*/\1 \2 \3/p' "$out" |
		awk -v t=$((t1 - t0)) -v n=$((n1 - n0)) -v hz="$(getconf CLK_TCK)" \
			'{ printf "%s %s %s %.2f\n", $1, $2, $3, (n > 0 ? t * 1e6 / hz / n : 0) }'
}

bench_fleet_cached() {
	local i c who order r m0 m1 a0 a1 commands misses_on misses_off
	local -A runs=() label=([r1]="in a fleet (redis_server, Redis up)" [r0]="alone (no redis_server)")
	FLEET_CACHED_KEYS=$LAB_DIR/fleet-cached-keys
	{
		cat "$keys"
		echo stsgood.test
		fleet_sts_list "$FLEET_AT_WARM" "$FLEET_STS_WARM"
	} >"$FLEET_CACHED_KEYS"
	# Both on the server's core; only one of them is loaded at a time.
	DAEMON_EXEC=(taskset -c "$SERVER_CPU")
	fleet_relay r0 || return 1
	fleet_relay r1 --redis || return 1
	DAEMON_EXEC=()
	# Twice: the first lookups wait for DNS and the policies, the second
	# are answered from the cache.
	for who in r0 r1; do
		fleet_ask "$who" "$FLEET_CACHED_KEYS" && fleet_ask "$who" "$FLEET_CACHED_KEYS" || return 1
	done
	fleet_settle r0 r1 || return 1
	echo "Cached answers, Redis on (r1) and off (r0): $(grep -c . "$FLEET_CACHED_KEYS") destinations," \
		"$RUNS runs of ${SECONDS_} s after ${WARMUP} s at $FLEET_CONNS connections..." >&2
	m0=$(relay_metrics r1) a0=$(relay_metrics r0)
	for ((i = 0; i < RUNS; i++)); do
		order="r1 r0"
		((i % 2)) && order="r0 r1"
		for c in $FLEET_CONNS; do
			for who in $order; do
				r=$(fleet_cached_run "$who" "$c") || return 1
				runs[$who,$c]+="$r"$'\n'
				# shellcheck disable=SC2086 # its four fields
				printf '  %-40s %4d conns: %.0f req/s, p50 %.0f us, p99 %.0f us, %.2f us of CPU an answer\n' \
					"tlspolicyd ${label[$who]}" "$c" $r >&2
			done
		done
	done
	m1=$(relay_metrics r1) a1=$(relay_metrics r0)
	commands=$(($(fm "$m1" tlspolicyd_fleet_commands_total) - $(fm "$m0" tlspolicyd_fleet_commands_total)))
	misses_on=$(($(fm "$m1" tlspolicyd_cache_misses_total) - $(fm "$m0" tlspolicyd_cache_misses_total)))
	misses_off=$(($(fm "$a1" tlspolicyd_cache_misses_total) - $(fm "$a0" tlspolicyd_cache_misses_total)))

	# The median run by req/s, and its latencies; cpu WHO CONNS: the
	# median CPU time per answer, over the runs.
	med() { printf '%s' "${runs[$1,$2]}" | sort -g | sed -n "$(((RUNS + 1) / 2))p" | cut -d' ' -f1-3; }
	cpu() { printf '%s' "${runs[$1,$2]}" | awk '{ print $4 }' | lab_median; }
	echo
	printf 'Cached answers with Redis on and off (%d destinations: run.sh'"'"'s DANE keys and %d MTA-STS; relay on core %d, load on core %d; %d runs of %d s, medians, the two in alternating order):\n' \
		"$(grep -c . "$FLEET_CACHED_KEYS")" $((FLEET_STS_WARM + 1)) "$SERVER_CPU" "$LOAD_CPU" "$RUNS" "$SECONDS_"
	printf '| tlspolicyd |%s\n' \
		"$(for c in $FLEET_CONNS; do printf ' %s conns req/s | p50 us | p99 us | CPU us/answer |' "$c"; done)"
	printf '|---|%s\n' "$(for c in $FLEET_CONNS; do printf -- '---:|---:|---:|---:|'; done)"
	for who in r1 r0; do
		printf '| %s |' "${label[$who]}"
		for c in $FLEET_CONNS; do
			# shellcheck disable=SC2046 # its three fields
			printf ' %.0f | %.0f | %.0f | %.2f |' $(med "$who" "$c") "$(cpu "$who" "$c")"
		done
		echo
	done
	for c in $FLEET_CONNS; do
		# Each pair ran back to back: its ratio is the least disturbed by the host.
		printf 'Redis on / off at %3d connections: req/s %.2f from the medians (per pair %s); CPU per answer %.2f (per pair %s)\n' \
			"$c" \
			"$(awk -v a="$(med r1 "$c" | awk '{ print $1 }')" -v b="$(med r0 "$c" | awk '{ print $1 }')" \
				'BEGIN { print (b > 0 ? a / b : 0) }')" \
			"$(paste -d' ' <(printf '%s' "${runs[r1,$c]}") <(printf '%s' "${runs[r0,$c]}") |
				awk '{ printf "%.2f ", ($5 > 0 ? $1 / $5 : 0) }' | sed 's/ $//')" \
			"$(awk -v a="$(cpu r1 "$c")" -v b="$(cpu r0 "$c")" 'BEGIN { print (b > 0 ? a / b : 0) }')" \
			"$(paste -d' ' <(printf '%s' "${runs[r1,$c]}") <(printf '%s' "${runs[r0,$c]}") |
				awk '{ printf "%.2f ", ($8 > 0 ? $4 / $8 : 0) }' | sed 's/ $//')"
	done
	printf 'Redis commands during the cached runs (r1'"'"'s tlspolicyd_fleet_commands_total): +%d (target 0); cache misses +%d (Redis on), +%d (off)\n' \
		"$commands" "$misses_on" "$misses_off"
	if ((commands != 0)); then
		echo "the fleet relay sent $commands Redis commands while answering from its cache" >&2
		return 1
	fi
	if ((misses_on != 0 || misses_off != 0)); then
		echo "the cached runs were not all answered from the cache ($misses_on, $misses_off misses)" >&2
		return 1
	fi
}

# ---------------------------------------------------------------- (2)

# fleet_in_redis FILE: true once every domain of FILE has its policy in
# Redis, and A's probe result of their MX host is there too.
fleet_in_redis() {
	local names=()
	mapfile -t names < <(sed 's/^/tlspolicyd:sts:/' "$1")
	[[ $(lab_redis_cli "$FLEET_REDIS" exists "${names[@]}") == "${#names[@]}" ]] || return 1
	[[ -n $(lab_redis_cli "$FLEET_REDIS" --scan --pattern 'tlspolicyd:probe:mx.stsgood.test|*') ]]
}

# fleet_fetches FILE FROM: the lines of nginx's access log past line FROM
# whose host is mta-sts.D for a domain D of FILE.
fleet_fetches() {
	awk -v from="$2" 'NR == FNR { want["mta-sts." $1] = 1; next } FNR > from && ($1 in want) { n++ }
		END { print n + 0 }' "$1" "$LAB_STS_ACCESS_LOG"
}

# Connections the lab's Postfix MX hosts accepted: probes, here.
fleet_smtp_connections() {
	grep -c 'smtpd\[[0-9]*\]: connect from' "$LAB_MX_LOG"
}

# fleet_b_probed NAME PAGE0: true once relay NAME has dealt with the MX
# host's probe since PAGE0: probed it, or taken the fleet's result.
fleet_b_probed() {
	local page
	page=$(relay_metrics "$1")
	(($(fm_sum "$page" tlspolicyd_probes_total) + $(fm "$page" 'tlspolicyd_fleet_shared_hits_total{kind="probe"}') > \
		$(fm_sum "$2" tlspolicyd_probes_total) + $(fm "$2" 'tlspolicyd_fleet_shared_hits_total{kind="probe"}')))
}

bench_fleet_first() {
	local dir=$LAB_DIR/fleet-first i t out b0 a0 b1 a1 log0 smtp0 smtp1 warm
	local in_fleet=() alone=() us_fleet=() us_alone=()
	mkdir -p "$dir"
	fleet_sts_list "$FLEET_AT_B" "$FLEET_DOMAINS" >"$dir/fleet"
	fleet_sts_list "$FLEET_AT_ALONE" "$FLEET_DOMAINS" >"$dir/alone"
	mapfile -t in_fleet <"$dir/fleet"
	mapfile -t alone <"$dir/alone"
	fleet_relay r2 --redis || return 1
	fleet_relay r3 --redis || return 1
	fleet_relay r4 || return 1
	echo "A destination first seen on B after A learned it: $FLEET_DOMAINS fresh MTA-STS domains each..." >&2
	# A: the fleet's first lookups, its policies and its probe shared.
	t=$(_lab_ms)
	awk -v r="$FLEET_SECURE" '{ print $1 "\t" r }' "$dir/fleet" >"$dir/fleet.expect"
	out=$(ip netns exec "$LAB_NETNS" "$SMLOAD" --json --once -c 16 -d 120 --timeout 30 -e "$dir/fleet.expect" \
		"$(fleet_target r2)") || { echo "smload reported errors against r2: $out" >&2; return 1; }
	_lab_poll 30000 fleet_in_redis "$dir/fleet" || {
		echo "A's policies and probe result did not all reach Redis within 30 s" >&2
		return 1
	}
	fleet_settle r2 || return 1
	echo "  A (r2) learned them in $(($(_lab_ms) - t)) ms" >&2
	# The zone's keys in B's caches, as a relay at work has them: a name
	# without records in stsbench.test (no MX host: nothing to probe).
	warm=$dir/warm
	echo "nothing.stsbench.test" >"$warm"
	fleet_ask r3 "$warm" && fleet_ask r4 "$warm" || return 1
	b0=$(relay_metrics r3) a0=$(relay_metrics r4)
	log0=$(wc -l <"$LAB_STS_ACCESS_LOG") smtp0=$(fleet_smtp_connections)
	# One first lookup at a time, B in the fleet and B alone in turn.
	for ((i = 0; i < FLEET_DOMAINS; i++)); do
		if ((i % 2)); then
			t=$(lab_lookup_us "$(fleet_target r4)" "${alone[i]}" "$FLEET_SECURE") || return 1
			us_alone+=("$t")
			t=$(lab_lookup_us "$(fleet_target r3)" "${in_fleet[i]}" "$FLEET_SECURE") || return 1
			us_fleet+=("$t")
		else
			t=$(lab_lookup_us "$(fleet_target r3)" "${in_fleet[i]}" "$FLEET_SECURE") || return 1
			us_fleet+=("$t")
			t=$(lab_lookup_us "$(fleet_target r4)" "${alone[i]}" "$FLEET_SECURE") || return 1
			us_alone+=("$t")
		fi
	done
	# Their probes (or the fleet's result) come after the answers.
	_lab_poll 20000 fleet_b_probed r3 "$b0" || echo "B in the fleet neither probed nor took A's result within 20 s" >&2
	_lab_poll 20000 fleet_b_probed r4 "$a0" || echo "B alone did not probe within 20 s" >&2
	fleet_settle r3 r4 || return 1
	b1=$(relay_metrics r3) a1=$(relay_metrics r4)
	smtp1=$(fleet_smtp_connections)
	lab_relay_stop r2
	lab_relay_stop r3
	lab_relay_stop r4

	# row LABEL US... PAGE0 PAGE1 FILE: a row of the table.
	row() {
		local what=$1 p0=$2 p1=$3 file=$4 us
		shift 4
		us=$(printf '%s\n' "$@")
		printf '| %s | %.1f | %.1f | %.1f | %d | %d | %d | %d |\n' "$what" \
			"$(fleet_pct 50 <<<"$us" | awk '{ print $1 / 1000 }')" \
			"$(fleet_pct 90 <<<"$us" | awk '{ print $1 / 1000 }')" \
			"$(sort -g <<<"$us" | tail -n 1 | awk '{ print $1 / 1000 }')" \
			"$(fleet_fetches "$file" "$log0")" \
			$(($(fm "$p1" tlspolicyd_sts_fleet_policies_total) - $(fm "$p0" tlspolicyd_sts_fleet_policies_total))) \
			$(($(fm_sum "$p1" tlspolicyd_probes_total) - $(fm_sum "$p0" tlspolicyd_probes_total))) \
			$(($(fm "$p1" 'tlspolicyd_fleet_shared_hits_total{kind="probe"}') -
				$(fm "$p0" 'tlspolicyd_fleet_shared_hits_total{kind="probe"}')))
	}
	local own_fleet own_alone
	own_fleet=$(($(fm_sum "$b1" tlspolicyd_probes_total) - $(fm_sum "$b0" tlspolicyd_probes_total)))
	own_alone=$(($(fm_sum "$a1" tlspolicyd_probes_total) - $(fm_sum "$a0" tlspolicyd_probes_total)))
	echo
	printf 'A destination first seen on relay B after relay A learned it (%d fresh MTA-STS domains for each B, one first lookup at a time, the two in turn; MX host mx.stsgood.test, probed by A):\n' \
		"$FLEET_DOMAINS"
	printf '| relay B | first lookup p50 ms | p90 ms | max ms | HTTPS fetches | policies from the fleet | probes of its own | probe results from the fleet |\n'
	printf '|---|---:|---:|---:|---:|---:|---:|---:|\n'
	row "in the fleet (A's policies and probe result in Redis)" "$b0" "$b1" "$dir/fleet" "${us_fleet[@]}"
	row "alone (no Redis: fetches over HTTPS)" "$a0" "$a1" "$dir/alone" "${us_alone[@]}"
	printf 'alone / in the fleet: p50 %.2fx, p90 %.2fx\n' \
		"$(awk -v a="$(printf '%s\n' "${us_alone[@]}" | fleet_pct 50)" -v b="$(printf '%s\n' "${us_fleet[@]}" | fleet_pct 50)" \
			'BEGIN { print (b > 0 ? a / b : 0) }')" \
		"$(awk -v a="$(printf '%s\n' "${us_alone[@]}" | fleet_pct 90)" -v b="$(printf '%s\n' "${us_fleet[@]}" | fleet_pct 90)" \
			'BEGIN { print (b > 0 ? a / b : 0) }')"
	printf 'Probes of the host A probed: B in the fleet %s, B alone %d; SMTP connections the lab'"'"'s MX hosts accepted meanwhile: %d (target for B in the fleet: no probe and no HTTPS fetch)\n' \
		"$( ((own_fleet == 0)) && echo "none (took A's result)" || echo "$own_fleet")" "$own_alone" $((smtp1 - smtp0))
}

# ---------------------------------------------------------------- (3)

# Redis's own count of the commands it ran, "COMMAND CALLS" a line.
fleet_redis_calls() {
	lab_redis_cli "$FLEET_REDIS" info commandstats | tr -d '\r' |
		sed -n 's/^cmdstat_\([^:]*\):calls=\([0-9]*\),.*/\1 \2/p'
}

bench_fleet_commands() {
	local dir=$LAB_DIR/fleet-stream who p0 p1 n_fresh n_warm
	local -A page0=() page1=() calls0=() calls1=()
	mkdir -p "$dir"
	{
		cat "$keys"
		fleet_sts_list "$FLEET_AT_STREAM_WARM" "$FLEET_STREAM_STS_WARM"
	} >"$dir/warm"
	{
		lab_cold_dests
		fleet_sts_list "$FLEET_AT_FRESH" "$FLEET_FRESH"
	} >"$dir/fresh"
	n_warm=$(grep -c . "$dir/warm") n_fresh=$(grep -c . "$dir/fresh")
	if ((FLEET_STREAM <= n_fresh)); then
		echo "BENCH_FLEET_STREAM ($FLEET_STREAM) must be more than the $n_fresh fresh destinations" >&2
		return 1
	fi
	# The stream: every fresh destination once, the cached ones in turn
	# for the rest, shuffled (the same order for both relays).
	awk -v n=$((FLEET_STREAM - n_fresh)) 'NR == FNR { w[c++] = $1; next } { print }
		END { for (i = 0; i < n; i++) print w[i % c] }' "$dir/warm" "$dir/fresh" |
		awk 'BEGIN { srand(16) } { printf "%.9f\t%s\n", rand(), $0 }' | sort -k1,1 | cut -f2 >"$dir/stream"
	# An empty Redis: r5 is the first of the fleet to see anything.
	lab_redis_cli "$FLEET_REDIS" flushall >/dev/null
	fleet_relay r5 --redis || return 1
	fleet_relay r6 --redis || return 1
	for who in r5 r6; do
		fleet_ask "$who" "$dir/warm" && fleet_ask "$who" "$dir/warm" || return 1
		fleet_settle "$who" || return 1
	done
	echo "Redis commands per answered lookup: a stream of $FLEET_STREAM lookups," \
		"$n_fresh of them fresh, to r5 and then r6..." >&2
	for who in r5 r6; do
		page0[$who]=$(relay_metrics "$who") calls0[$who]=$(fleet_redis_calls)
		fleet_ask "$who" "$dir/stream" || return 1
		fleet_settle "$who" || return 1
		page1[$who]=$(relay_metrics "$who") calls1[$who]=$(fleet_redis_calls)
	done
	lab_relay_stop r5
	lab_relay_stop r6

	# d WHO SAMPLE / ds WHO FAMILY: growth over the stream and what it set going.
	d() { echo $(($(fm "${page1[$1]}" "$2") - $(fm "${page0[$1]}" "$2"))); }
	ds() { echo $(($(fm_sum "${page1[$1]}" "$2") - $(fm_sum "${page0[$1]}" "$2"))); }
	# by WHO FAMILY: the growth of each kind's sample, "kind N" where not 0.
	by() {
		local k
		for k in sts probe lease alert stale maillog proposal; do
			echo "$k $(($(fm "${page1[$1]}" "$2{kind=\"$k\"}") - $(fm "${page0[$1]}" "$2{kind=\"$k\"}")))"
		done | awk '$2 != 0 { printf "%s%s %d", (n++ ? ", " : ""), $1, $2 } END { if (!n) printf "none" }'
	}
	echo
	printf 'Redis commands per answered lookup (a stream of %d lookups over %d cached destinations and %d fresh ones, %.1f %% fresh: coldN.test, DANE, and %d MTA-STS domains; 4 connections; each relay'"'"'s counters from before the stream until its probes and shares were over):\n' \
		"$FLEET_STREAM" "$n_warm" "$n_fresh" "$(awk -v f="$n_fresh" -v n="$FLEET_STREAM" 'BEGIN { print 100 * f / n }')" \
		"$FLEET_FRESH"
	printf '| relay | answers | cache misses | Redis commands | commands / answer | commands / fresh destination | reads | writes | claims | other |\n'
	printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
	for who in r5 r6; do
		printf '| %s | %d | %d | %d | %.4f | %.2f | %d | %d | %d | %d |\n' \
			"$([[ $who == r5 ]] && echo "r5, the first to see the fresh ones" || echo "r6, after r5")" \
			"$(ds "$who" tlspolicyd_answers_total)" "$(d "$who" tlspolicyd_cache_misses_total)" \
			"$(d "$who" tlspolicyd_fleet_commands_total)" \
			"$(awk -v c="$(d "$who" tlspolicyd_fleet_commands_total)" -v a="$(ds "$who" tlspolicyd_answers_total)" \
				'BEGIN { print (a > 0 ? c / a : 0) }')" \
			"$(awk -v c="$(d "$who" tlspolicyd_fleet_commands_total)" -v f="$n_fresh" 'BEGIN { print c / f }')" \
			"$(ds "$who" tlspolicyd_fleet_reads_total)" "$(ds "$who" tlspolicyd_fleet_writes_total)" \
			"$(ds "$who" tlspolicyd_fleet_claims_total)" \
			$(($(d "$who" tlspolicyd_fleet_commands_total) - $(ds "$who" tlspolicyd_fleet_reads_total) -
				$(ds "$who" tlspolicyd_fleet_writes_total) - $(ds "$who" tlspolicyd_fleet_claims_total)))
	done
	for who in r5 r6; do
		printf '%s by kind: reads %s; writes %s; shared values taken %s\n' "$who" \
			"$(by "$who" tlspolicyd_fleet_reads_total)" "$(by "$who" tlspolicyd_fleet_writes_total)" \
			"$(by "$who" tlspolicyd_fleet_shared_hits_total)"
		# What Redis itself counted meanwhile (INFO commandstats, the
		# other relay idle; the INFO of the reading before included).
		printf '  Redis ran meanwhile: %s\n' "$(awk 'NR == FNR { c0[$1] = $2; next }
			{ n = $2 - c0[$1] } n > 0 { printf "%s%s %d", (k++ ? ", " : ""), toupper($1), n }' \
			<(printf '%s\n' "${calls0[$who]}") <(printf '%s\n' "${calls1[$who]}"))"
	done
}

bench_fleet() {
	local rc=0
	if ! grep -q '^#define HAVE_REDIS 1' "$top_builddir/autoconfig.h"; then
		echo
		echo "A fleet sharing through Redis: not measured, tlspolicyd was built without hiredis (libhiredis-dev)"
		return 0
	fi
	lab_redis_up "$FLEET_REDIS" "$FLEET_REDIS_PORT" >&2 || { echo "Redis did not start" >&2; return 1; }
	bench_fleet_cached || rc=1
	lab_relay_stop r0
	lab_relay_stop r1
	bench_fleet_first || { lab_fleet_down; return 1; }
	bench_fleet_commands || { lab_fleet_down; return 1; }
	lab_fleet_down
	return $rc
}
