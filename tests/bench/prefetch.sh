# prefetch.sh - make bench: how long Postfix waits on DNS (issue 15), with
# every DNS round trip of the daemon's libunbound BENCH_PREFETCH_DELAY_MS
# (100) late.  Sourced by tests/bench/run.sh, after the lab is up; uses its
# start_daemon, metrics and metric, and the lab's delayed DNS server and
# measuring (tests/lab/dnsdelay.sh, which t-prefetch.sh uses too).
#
#   bench_prefetch    prints, on stdout:
#     (a) a cold DANE decision in DNS round trips above a cached answer,
#         (first lookup - cached lookup) / delay, medians over the fresh
#         1-MX and 2-MX coldN.test destinations and over fresh host next
#         hops ([mx1.coldN.test]); target <= 2.2 for 1 and 2 MX hosts;
#     (b) the share of lookups answered from the cache in a steady stream
#         over expiring TTLs: every pfN.pf.test (TTL LAB_PREFETCH_TTL) at
#         once, round after round 100 ms apart, for BENCH_PREFETCH_TTLS (5)
#         TTLs after a first round, from the daemon's cache hit and miss
#         counters (target 100 %), and the slowest reply of those rounds.
#     Progress on stderr, as the rest of make bench.
#
# The daemon: log_level = info, cache_min_ttl = 1s (pf.test.'s answers live
# their TTL, not the default 10 s), no probes, the delayed DNS
# (LAB_DAEMON_UNBOUND_DELAY_CONF: without QNAME minimisation, see
# lab_dns_delay_up).  Each destination is first looked up here: a lab that
# ran this once has none fresh left.

bench_prefetch() {
	local delay=${BENCH_PREFETCH_DELAY_MS:-100} ttls=${BENCH_PREFETCH_TTLS:-5}
	local target=inet:127.0.0.1:$DAEMON_PORT warm=$LAB_DIR/prefetch-warm rounds=$LAB_DIR/prefetch-rounds
	local pf=$LAB_DIR/prefetch-keys kind dests m0 m1 hits misses share n_rounds worst
	local -A label=([1mx]="1 MX host" [2mx]="2 MX hosts" [hosts]="host next hop [host]")
	lab_dns_delay_up "$delay" >/dev/null || { echo "lab_dns_delay_up failed" >&2; return 1; }
	# test.'s DNSKEY paid before anything is measured.
	echo good.test >"$warm"
	start_daemon info "$warm" "unbound_config = $LAB_DAEMON_UNBOUND_DELAY_CONF" \
		"metrics_listen = inet:127.0.0.1:$METRICS_PORT" "cache_min_ttl = 1s" "probe_enable = no"

	echo "Cold DANE decisions, each DNS round trip $delay ms late..." >&2
	for kind in 1mx 2mx hosts; do
		# An array: "[host]" unquoted would be a glob.
		mapfile -t dests < <(lab_cold_dests "$kind")
		lab_round_trips "$target" "$delay" "${dests[@]}" >"$rounds.$kind" || {
			echo "a cold lookup failed or was not dane-only (${label[$kind]})" >&2
			daemon_stop
			return 1
		}
		awk '{ printf "  %-28s first %7.1f ms, cached %5.1f ms: %s round trips\n", $1, $2, $3, $4 }' \
			"$rounds.$kind" >&2
	done

	echo "A steady stream over expiring TTLs: $(lab_prefetch_dests | wc -l) destinations," \
		"TTL $LAB_PREFETCH_TTL s, $((ttls * LAB_PREFETCH_TTL)) s after a first round..." >&2
	lab_prefetch_dests | awk '{ print $1 "\tOK dane-only" }' >"$pf"
	lab_stream "$target" 0 "$pf" >/dev/null || { daemon_stop; return 1; }
	m0=$(metrics)
	lab_stream "$target" $((ttls * LAB_PREFETCH_TTL)) "$pf" >"$rounds.stream" || { daemon_stop; return 1; }
	m1=$(metrics)
	daemon_stop
	hits=$(($(metric tlspolicyd_cache_hits_total <<<"$m1") - $(metric tlspolicyd_cache_hits_total <<<"$m0")))
	misses=$(($(metric tlspolicyd_cache_misses_total <<<"$m1") - $(metric tlspolicyd_cache_misses_total <<<"$m0")))
	share=$(awk -v h="$hits" -v m="$misses" 'BEGIN { printf "%.1f", h + m ? 100 * h / (h + m) : 0 }')
	n_rounds=$(wc -l <"$rounds.stream")
	worst=$(awk '{ print $2 }' "$rounds.stream" | sort -g | tail -n 1)

	echo
	printf 'Cold DANE decision in DNS round trips above a cached answer (each round trip %d ms late; fresh destinations):\n' "$delay"
	printf '| destinations | median round trips | each |\n|---|---:|---|\n'
	for kind in 1mx 2mx hosts; do
		printf '| %s | %s | %s |\n' "${label[$kind]}" \
			"$(awk '{ print $4 }' "$rounds.$kind" | lab_median)" \
			"$(awk '{ printf "%s ", $4 }' "$rounds.$kind" | sed 's/ $//')"
	done
	echo "Target: <= 2.2 for 1 and 2 MX hosts (MX, then addresses and TLSA at once); a host next hop 1."
	echo
	printf 'Steady stream over expiring TTLs (%d destinations, TTL %d s, %d rounds over %d s after the first):\n' \
		"$(lab_prefetch_dests | wc -l)" "$LAB_PREFETCH_TTL" "$n_rounds" "$((ttls * LAB_PREFETCH_TTL))"
	printf '  answered from the cache: %s %% (%d hits, %d misses; target 100 %%)\n' "$share" "$hits" "$misses"
	printf '  slowest reply of a round: %.1f ms (a wait for DNS costs %d ms a round trip)\n' \
		"$(awk -v w="$worst" 'BEGIN { print w / 1000 }')" "$delay"
}
