# cold.sh - cold DANE decisions for make bench (issue 15): sourced by
# tests/bench/run.sh, after lab.sh and daemon.sh.  Set
#
#   LAB_DANE_BENCH_DOMAINS=$(bench_cold_population)
#
# before lab_up (the population of tests/lab/danebench.sh: dI.danebench.test,
# odd I one MX host, even I two, every host DANE-secure with a name of its
# own), and have lab_mail_up run (the daemon probes what it answers, at its
# default rate, as it would in use).  Then:
#
#   bench_cold_rate     cold decisions per second of tlspolicyd beside
#                       ubcold, the bare libunbound client making the same
#                       lookups (tests/bench/ubcold.c), in the same run
#   bench_cold_memory   bytes of resident size per cached destination, over
#                       BENCH_COLD_MEMORY_DOMAINS fresh destinations
#
# each printing its figures on stdout (progress on stderr), and returning
# non-zero if a run failed (an error, a reply that is not the destination's
# answer, a lookup ubcold could not make).
#
# The population's list is cut in this order: BENCH_COLD_WARM domains for
# warming up (the first 2 x BENCH_COLD_CONNS of them before each rate run,
# all of them before the memory run), then the BENCH_COLD_MEMORY_DOMAINS
# of the memory run; the rate runs' 2 x BENCH_RUNS slices of
# BENCH_COLD_DOMAINS each follow the warm-up domains too, overlapping the
# memory run's (every run is a fresh process with empty caches, and NSD
# keeps no state between queries, so the overlap changes nothing).
#
# MTA-STS: the daemon looks up each domain's _mta-sts TXT record beside
# its MX (sts_enable = yes, its default), so ubcold does too (-s), and the
# lookups stay the same; BENCH_COLD_STS=no turns both off.
#
# Environment: BENCH_RUNS (3), BENCH_COLD_CONNS (100), BENCH_COLD_DOMAINS
# (5000 a slice), BENCH_COLD_WARM (3000), BENCH_COLD_MEMORY_DOMAINS
# (100000), BENCH_COLD_TIMEOUT (3000 ms, the lab's dns_timeout: ubcold's
# -t, smload's --timeout is 30 s), BENCH_COLD_STS (yes).

COLD_RUNS=${BENCH_RUNS:-3}
COLD_CONNS=${BENCH_COLD_CONNS:-100}
COLD_DOMAINS=${BENCH_COLD_DOMAINS:-5000}
COLD_WARM=${BENCH_COLD_WARM:-3000}
COLD_MEMORY_DOMAINS=${BENCH_COLD_MEMORY_DOMAINS:-100000}
COLD_TIMEOUT_MS=${BENCH_COLD_TIMEOUT:-3000}
COLD_STS=${BENCH_COLD_STS:-yes}
COLD_METRICS_PORT=${METRICS_PORT:-9101}
UBCOLD=${UBCOLD:-${top_builddir:-.}/tests/bench/ubcold}
# What every destination of the population gets: each MX host is
# DANE-secure (TLSA 3 1 1 in a signed zone).
COLD_REPLY="OK dane-only"

# The population lab_up must build for the runs below.
bench_cold_population() {
	local rate=$((2 * COLD_RUNS * COLD_DOMAINS))
	echo $((COLD_WARM + (rate > COLD_MEMORY_DOMAINS ? rate : COLD_MEMORY_DOMAINS)))
}

# cold_list FROM COUNT [REPLY]: COUNT domains of the population from line
# FROM on, each followed by a tab and REPLY when one is given (smload -e).
cold_list() {
	awk -v from="$1" -v to="$(($1 + $2 - 1))" -v reply="${3:-}" \
		'NR >= from && NR <= to { print reply == "" ? $1 : $1 "\t" reply } NR > to { exit }' \
		"$LAB_DANE_BENCH_LIST"
}

# cold_median: the median of the numbers read, one a line (blank lines
# skipped).
cold_median() {
	awk 'NF { print $1 }' | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

# cold_smload FILE: every destination of FILE (smload -e) asked once at
# COLD_CONNS connections of the fresh daemon; prints smload's JSON line.
cold_smload() {
	local out
	out=$(ip netns exec "$LAB_NETNS" "$SMLOAD" --json --once -c "$COLD_CONNS" -d 600 --timeout 30 \
		-e "$1" "inet:127.0.0.1:$DAEMON_PORT") || {
		echo "smload reported errors against tlspolicyd: $out" >&2
		return 1
	}
	echo "$out"
}

# cold_daemon_start [SETTING...]: a fresh tlspolicyd (its state directory
# emptied: no cache snapshot of an earlier run), as run.sh starts the one
# of the cold MTA-STS runs: not pinned, default log_level and probes, its
# metrics on COLD_METRICS_PORT.
cold_daemon_start() {
	rm -rf "${LAB_DIR:?}/state/"*
	daemon_conf "metrics_listen = inet:127.0.0.1:$COLD_METRICS_PORT" "sts_enable = $COLD_STS" "$@"
	daemon_start "$DAEMON_CONF" >/dev/null || { echo "tlspolicyd did not start" >&2; return 1; }
}

cold_metric() {
	ip netns exec "$LAB_NETNS" curl -sS --max-time 5 "http://127.0.0.1:$COLD_METRICS_PORT/metrics" |
		awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }'
}

cold_rss_kb() {
	awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"
}

# cold_ticks PID: its CPU ticks (utime + stime), read after the command
# name, which may have spaces ("nsd: server 1").
cold_ticks() {
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# The lab's NSD, every process of it (it forks its server and xfrd): the
# other busy party of a run, which could set the pace instead.
cold_nsd_ticks() {
	local todo n=0 p
	todo=$(awk '$2 == "nsd" { p = $1 } END { print p }' "$LAB_DIR/pids")
	# NSD's processes are its children's children: the whole tree.
	while [[ -n $todo ]]; do
		read -r p todo <<<"$todo"
		n=$((n + $(cold_ticks "$p" 2>/dev/null || echo 0)))
		todo="$todo $(cat "/proc/$p/task/$p/children" 2>/dev/null)"
		todo=${todo# }
		todo=${todo% }
	done
	echo "$n"
}

# cold_busy TICKS MS: TICKS of CPU over MS of wall time, in % of one core.
cold_busy() {
	awk -v s="$1" -v t="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", (t > 0 ? 100 * s / hz / (t / 1000) : 0) }'
}

# cold_rate_run WHO SLICE (WHO: tlspolicyd or ubcold): prints "rate busy
# nsd_busy main_busy", the process's, NSD's and the daemon's main thread's
# CPU (0 for ubcold) in % of one core over the measured part.  The rest of
# the daemon's is nearly all libunbound's thread (validation), its probe
# workers' a little.
cold_rate_run() {
	local who=$1 from=$((COLD_WARM + 1 + $2 * COLD_DOMAINS)) dir=$LAB_DIR/cold
	local out t0 s0 n0 m0 rate
	mkdir -p "$dir"
	if [[ $who == ubcold ]]; then
		cold_list 1 $((2 * COLD_CONNS)) >"$dir/warm"
		cold_list "$from" "$COLD_DOMAINS" >"$dir/slice"
		# NSD's share over the whole of ubcold's run, warm-up included:
		# close enough, the warm-up being a 25th of it.
		t0=$(_lab_ms) n0=$(cold_nsd_ticks)
		local sts=()
		[[ $COLD_STS == yes ]] && sts=(-s)
		out=$(ip netns exec "$LAB_NETNS" "$UBCOLD" -C "$LAB_DAEMON_UNBOUND_CONF" -c "$COLD_CONNS" \
			"${sts[@]}" -t "$COLD_TIMEOUT_MS" -w "$dir/warm" -f "$dir/slice") || {
			echo "ubcold failed: $out" >&2
			return 1
		}
		n0=$(cold_busy $(($(cold_nsd_ticks) - n0)) $(($(_lab_ms) - t0)))
		# Every answer secure: the same lookups as the daemon's, answered.
		awk -v n="$COLD_DOMAINS" -v nsd="$n0" '{
			d = $0; sub(/.*"domains":/, "", d); sub(/,.*/, "", d)
			s = $0; sub(/.*"secure":/, "", s); sub(/,.*/, "", s)
			l = $0; sub(/.*"lookups":/, "", l); sub(/,.*/, "", l)
			r = $0; sub(/.*"domains_per_second":/, "", r); sub(/,.*/, "", r)
			c = $0; sub(/.*"cpu_seconds":/, "", c); sub(/[,}].*/, "", c)
			t = $0; sub(/.*"seconds":/, "", t); sub(/,.*/, "", t)
			if (d != n || s != l) { print "ubcold: not every lookup secure: " $0 > "/dev/stderr"; exit 1 }
			printf "%s %.0f %s 0\n", r, (t > 0 ? 100 * c / t : 0), nsd
		}' <<<"$out"
		return
	fi
	cold_list 1 $((2 * COLD_CONNS)) "$COLD_REPLY" >"$dir/warm"
	cold_list "$from" "$COLD_DOMAINS" "$COLD_REPLY" >"$dir/slice"
	cold_daemon_start || return 1
	cold_smload "$dir/warm" >/dev/null || { daemon_stop; return 1; }
	t0=$(_lab_ms) s0=$(cold_ticks "$DAEMON_PID") n0=$(cold_nsd_ticks)
	m0=$(cold_ticks "$DAEMON_PID/task/$DAEMON_PID")
	out=$(cold_smload "$dir/slice") || { daemon_stop; return 1; }
	rate=$(sed -n 's/.*"rps":\([0-9.]*\).*/\1/p' <<<"$out")
	t0=$(($(_lab_ms) - t0))
	echo "$rate $(cold_busy $(($(cold_ticks "$DAEMON_PID") - s0)) "$t0")" \
		"$(cold_busy $(($(cold_nsd_ticks) - n0)) "$t0")" \
		"$(cold_busy $(($(cold_ticks "$DAEMON_PID/task/$DAEMON_PID") - m0)) "$t0")"
	daemon_stop
}

# Cold decisions per second: 2 x COLD_RUNS fresh slices of the population,
# tlspolicyd and ubcold in turn (the order alternating from pair to pair,
# so that a slow spell of the shared host hits both), each a fresh process
# warmed first with the same 2 x COLD_CONNS domains at the same load (the
# parent zones' keys cached, buffers in place), then asked every domain
# of its slice once at COLD_CONNS at a time.  Neither is pinned: NSD and
# the process share both cores.  Medians, and their ratio (issue 15's
# target: tlspolicyd at >= 0.9 of ubcold).
bench_cold_rate() {
	local i who r slice=0 order
	local -A runs=()
	echo "Cold DANE decisions: $COLD_RUNS x 2 slices of $COLD_DOMAINS fresh domains," \
		"$COLD_CONNS at a time..." >&2
	for ((i = 0; i < COLD_RUNS; i++)); do
		order="tlspolicyd ubcold"
		((i % 2)) && order="ubcold tlspolicyd"
		for who in $order; do
			r=$(cold_rate_run "$who" "$slice") || return 1
			slice=$((slice + 1))
			runs[$who]+="$r"$'\n'
			# shellcheck disable=SC2086 # its four fields
			printf '  %-10s slice %d: %.0f domains/s, busy %d %% of a core, NSD %d %%, main thread %d %%\n' \
				"$who" "$slice" $r >&2
		done
	done
	local t u
	t=$(awk '{ print $1 }' <<<"${runs[tlspolicyd]}" | cold_median)
	u=$(awk '{ print $1 }' <<<"${runs[ubcold]}" | cold_median)
	echo
	printf 'Cold DANE decisions (%d fresh domains a run, half of them with 2 MX hosts; %d at a time; medians of %d runs):\n' \
		"$COLD_DOMAINS" "$COLD_CONNS" "$COLD_RUNS"
	printf '| client | domains/s | runs | busy, %% of a core | main thread | NSD busy |\n'
	printf '|---|---:|---|---:|---:|---:|\n'
	for who in tlspolicyd ubcold; do
		printf '| %s | %.0f | %s | %.0f | %s | %.0f |\n' \
			"$(if [[ $who == tlspolicyd ]]; then echo "tlspolicyd (decisions)"
			elif [[ $COLD_STS == yes ]]; then echo "ubcold (bare libunbound: MX, TXT; A, AAAA, TLSA)"
			else echo "ubcold (bare libunbound: MX; A, AAAA, TLSA)"; fi)" \
			"$(awk '{ print $1 }' <<<"${runs[$who]}" | cold_median)" \
			"$(awk 'NF { printf "%.0f ", $1 }' <<<"${runs[$who]}" | sed 's/ $//')" \
			"$(awk '{ print $2 }' <<<"${runs[$who]}" | cold_median)" \
			"$(if [[ $who == ubcold ]]; then echo -; else awk '{ print $4 }' <<<"${runs[$who]}" | cold_median; fi)" \
			"$(awk '{ print $3 }' <<<"${runs[$who]}" | cold_median)"
	done
	printf 'tlspolicyd / ubcold: %.2f (target >= 0.9)\n' \
		"$(awk -v a="$t" -v b="$u" 'BEGIN { print (b > 0 ? a / b : 0) }')"
}

# Bytes per cached destination: a fresh tlspolicyd whose cache holds more
# than the population, warmed with the COLD_WARM first domains at
# COLD_CONNS (start-up, the parent zones' keys, buffers for as many
# lookups in flight), then asked COLD_MEMORY_DOMAINS fresh destinations
# once each at the same load: its resident size (VmRSS, everything the
# process keeps: answers, libunbound's bounded caches, probe bookkeeping,
# allocator overhead) after minus before, per destination.  Its
# tlspolicyd_cache_entries shows every one of them cached.
bench_cold_memory() {
	local dir=$LAB_DIR/cold out r0 r1 e0 e1 s0 s1 rate
	mkdir -p "$dir"
	echo "Memory per cached destination: $COLD_MEMORY_DOMAINS fresh domains after $COLD_WARM," \
		"$COLD_CONNS at a time..." >&2
	cold_list 1 "$COLD_WARM" "$COLD_REPLY" >"$dir/memory-warm"
	cold_list $((COLD_WARM + 1)) "$COLD_MEMORY_DOMAINS" "$COLD_REPLY" >"$dir/memory"
	if (($(wc -l <"$dir/memory") != COLD_MEMORY_DOMAINS)); then
		echo "the population has too few domains: LAB_DANE_BENCH_DOMAINS=\$(bench_cold_population) before lab_up" >&2
		return 1
	fi
	cold_daemon_start "cache_max_entries = $((2 * (COLD_WARM + COLD_MEMORY_DOMAINS)))" || return 1
	cold_smload "$dir/memory-warm" >/dev/null || { daemon_stop; return 1; }
	daemon_settle
	r0=$(cold_rss_kb "$DAEMON_PID") e0=$(cold_metric tlspolicyd_cache_entries)
	s0=$(cold_metric tlspolicyd_sts_memory_bytes)
	out=$(cold_smload "$dir/memory") || { daemon_stop; return 1; }
	daemon_settle
	r1=$(cold_rss_kb "$DAEMON_PID") e1=$(cold_metric tlspolicyd_cache_entries)
	s1=$(cold_metric tlspolicyd_sts_memory_bytes)
	rate=$(sed -n 's/.*"rps":\([0-9.]*\).*/\1/p' <<<"$out")
	daemon_stop
	echo
	printf 'Memory per cached destination (tlspolicyd, %d fresh domains, half of them with 2 MX hosts):\n' \
		"$COLD_MEMORY_DOMAINS"
	printf '  resident size %d kB after %d warm-up domains, %d kB after %d more (%.0f domains/s)\n' \
		"$r0" "$COLD_WARM" "$r1" "$COLD_MEMORY_DOMAINS" "$rate"
	printf '  tlspolicyd_cache_entries: %d, then %d (+%d)\n' "$e0" "$e1" $((e1 - e0))
	printf '  resident size grown / destinations: %.0f bytes (target <= 512)\n' \
		"$(awk -v k=$((r1 - r0)) -v n="$COLD_MEMORY_DOMAINS" 'BEGIN { print k * 1024 / n }')"
	printf '  of which MTA-STS (tlspolicyd_sts_memory_bytes grown / destinations): %.0f bytes\n' \
		"$(awk -v k=$((s1 - s0)) -v n="$COLD_MEMORY_DOMAINS" 'BEGIN { print k / n }')"
	if ((e1 - e0 < COLD_MEMORY_DOMAINS)); then
		echo "not every destination was cached: tlspolicyd_cache_entries grew by $((e1 - e0))" >&2
		return 1
	fi
}
