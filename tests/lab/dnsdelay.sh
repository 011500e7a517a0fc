# dnsdelay.sh - DNS round trips of a known length for the lab, the
# destinations that count them and watch answers expire, and the measuring
# both t-prefetch.sh and the benchmark (tests/bench/prefetch.sh) do.
# Sourced by lab.sh; lab_up always builds the records (a few dozen, in
# test. and the small signed child pf.test.: cheap), the delayed server
# runs only when a test starts it:
#
#   lab_start
#   lab_dns_delay_up 200
#   daemon_conf "unbound_config = $LAB_DAEMON_UNBOUND_DELAY_CONF" ...
#
# The delayed server is tests/lab/dnsdelay on $LAB_DELAY_DNS_ADDR
# (127.0.3.6) in front of the lab's NSD; a daemon whose libunbound uses
# $LAB_DAEMON_UNBOUND_DELAY_CONF sends it every query for test. and
# pf.test., so each of its DNS round trips costs the delay, and the number
# of rounds a lookup took is (its time - a cached answer's time) / delay.
# The lab's resolver (127.0.0.1) and daemon-unbound.conf still go to NSD
# directly: every name below resolves without the delayed server too.
#
# The destinations, all DNSSEC-signed, each MX host a name of its own that
# no other destination shares (so that nothing of a first lookup is in any
# cache), every host on 127.0.1.1 (mx1.good.test's listener) with a TLSA
# 3 1 1 record of that server's key at _25._tcp.HOST: the answer is
# dane-only.
#
#   coldN.test     N = 1 .. LAB_COLD_DESTS (12), in test. (300 s TTLs):
#                  odd N one MX host mx1.coldN.test, even N two,
#                  mx1.coldN.test and mx2.coldN.test
#   pfN.pf.test    N = 1 .. LAB_PREFETCH_DESTS (8), the same shape
#                  (mx1.pfN.pf.test, mx2.pfN.pf.test), in the signed child
#                  zone pf.test. (DS in test.) whose every record has the
#                  TTL LAB_PREFETCH_TTL (6 s): $TTL, the SOA's own TTL and
#                  its minimum, so that the negative answers (the hosts'
#                  AAAA NODATA, whose TTL is the smaller of the SOA's TTL
#                  and minimum, and the NSEC3 records, whose TTL
#                  ldns-signzone takes from the minimum) expire as soon as
#                  the positive ones; the zone's DNSKEY too (ldns-signzone
#                  gives it the SOA's TTL), so a lookup after the expiry
#                  may fetch the key again
#
# A child zone rather than short TTLs inside test.: test.'s SOA minimum
# (300 s) would set the TTL of every NODATA answer there.
#
# Functions:
#   lab_dns_delay_up MS     (re)start the delayed server, MS ms late;
#                           writes $LAB_DAEMON_UNBOUND_DELAY_CONF; recorded
#                           for lab_down as dnsdelay-$LAB_DELAY_DNS_ADDR,
#                           its log $LAB_DIR/dnsdelay-$LAB_DELAY_DNS_ADDR.log
#   lab_cold_dests [1mx|2mx|hosts]  one a line: every coldN.test; with
#                           1mx or 2mx those of odd or even N but the last
#                           one of each, which are kept for the host next
#                           hops that hosts gives, [mx1.coldN.test] of
#                           both and [mx2.coldN.test] of the even one (so
#                           that their hosts are fresh too)
#   lab_prefetch_dests      the pfN.pf.test names, one a line
#   lab_lookup_us TARGET KEY [REPLY]  time one lookup of KEY (smload,
#                           one connection): prints its latency in
#                           microseconds; fails if the reply is not REPLY
#                           (default "OK dane-only") or smload saw an error
#   lab_round_trips TARGET DELAY_MS KEY...  for each KEY a first lookup
#                           and three cached ones (lab_lookup_us, every
#                           reply dane-only): prints "KEY COLD_MS
#                           CACHED_MS ROUNDS", CACHED the fastest of the
#                           three, ROUNDS = (COLD - CACHED) / DELAY_MS with
#                           two decimals
#   lab_median              the median of the numbers on stdin (the lower
#                           middle one of an even count)
#   lab_stream TARGET SECONDS FILE  rounds, 100 ms apart, for SECONDS (at
#                           least one), each asking every key of FILE
#                           ("KEY<TAB>REPLY" lines, smload -e) once, all
#                           at once on a connection each: prints "MS
#                           MAX_US" per round (MS since the start, the
#                           round's slowest reply); fails at the first
#                           round with an error or a wrong reply
#   lab_metric PORT NAME    the value of the daemon's metric NAME (its
#                           metrics_listen on 127.0.0.1:PORT in the
#                           namespace), 0 if absent
#
# Variables:
#   LAB_DELAY_DNS_ADDR      127.0.3.6, the delayed server
#   LAB_DAEMON_UNBOUND_DELAY_CONF  $LAB_DIR/daemon-unbound-delay.conf:
#                           daemon-unbound.conf with the stub-zones of
#                           test. and pf.test. at the delayed server, and
#                           qname-minimisation: no (see lab_dns_delay_up)
#                           (exported and in $LAB_DIR/env once
#                           lab_dns_delay_up wrote it)
#   LAB_COLD_DESTS          how many coldN.test (12), read by lab_up
#   LAB_PREFETCH_DESTS      how many pfN.pf.test (8), read by lab_up
#   LAB_PREFETCH_TTL        pf.test.'s TTLs in seconds (6), read by lab_up
#   LAB_SMLOAD              the load generator the measuring runs (default
#                           ${top_builddir:-.}/tests/bench/smload)

LAB_DELAY_DNS_ADDR=127.0.3.6
LAB_COLD_DESTS=${LAB_COLD_DESTS:-12}
LAB_PREFETCH_DESTS=${LAB_PREFETCH_DESTS:-8}
LAB_PREFETCH_TTL=${LAB_PREFETCH_TTL:-6}

# Called by _lab_write_zones with the TLSA digest of mx1.good.test's key:
# the coldN records into test.zone, pf.test.'s delegation (its DS comes
# from _lab_sign_zones) and pf.test.zone.
_lab_delay_zones() {
	local d=$LAB_DIR/dns digest=$1 ttl=$LAB_PREFETCH_TTL
	{
		echo
		echo "; Round trips and prefetch (tests/lab/dnsdelay.sh)"
		_lab_delay_dests cold "$LAB_COLD_DESTS" "$digest" test.
		echo "pf NS ns.test."
	} >>"$d/test.zone" || return 1
	{
		cat <<-EOF
			\$ORIGIN pf.test.
			\$TTL $ttl
			@       $ttl SOA ns.test. hostmaster.test. 1 3600 600 86400 $ttl
			@       NS  ns.test.
		EOF
		_lab_delay_dests pf "$LAB_PREFETCH_DESTS" "$digest" pf.test.
	} >"$d/pf.test.zone"
}

# _lab_delay_dests PREFIX COUNT DIGEST ORIGIN: PREFIXN's records, owner
# names relative to ORIGIN: one MX host for odd N, two for even N, each
# with its A and TLSA.
_lab_delay_dests() {
	awk -v p="$1" -v n="$2" -v digest="$3" -v origin="$4" 'BEGIN {
		for (i = 1; i <= n; i++) {
			for (h = 1; h <= 2 - i % 2; h++) {
				host = "mx" h "." p i
				printf "%s%d MX %d %s.%s\n", p, i, 10 * h, host, origin
				printf "%s A 127.0.1.1\n", host
				printf "_25._tcp.%s TLSA 3 1 1 %s\n", host, digest
			}
		}
	}'
}

lab_cold_dests() {
	local i last_odd=$(((LAB_COLD_DESTS - 1) / 2 * 2 + 1)) last_even=$((LAB_COLD_DESTS / 2 * 2))
	case ${1:-} in
	1mx)
		for ((i = 1; i < last_odd; i += 2)); do echo "cold$i.test"; done ;;
	2mx)
		for ((i = 2; i < last_even; i += 2)); do echo "cold$i.test"; done ;;
	hosts)
		printf '[%s]\n' "mx1.cold$last_odd.test" "mx1.cold$last_even.test" "mx2.cold$last_even.test" ;;
	*)
		for ((i = 1; i <= LAB_COLD_DESTS; i++)); do echo "cold$i.test"; done ;;
	esac
}

lab_prefetch_dests() {
	local i
	for ((i = 1; i <= LAB_PREFETCH_DESTS; i++)); do
		echo "pf$i.pf.test"
	done
}

# The binary, absolute (tests may change directory).
_lab_smload() {
	local bin=${LAB_SMLOAD:-${top_builddir:-.}/tests/bench/smload}
	if [[ ! -f $bin || ! -x $bin ]]; then
		diag "$bin is missing: build it with 'make check' (or make tests/bench/smload), or set LAB_SMLOAD"
		return 1
	fi
	echo "$(cd "$(dirname "$bin")" && pwd -P)/$(basename "$bin")"
}

lab_dns_delay_up() {
	local ms=${1:-} bin pid name conf=$LAB_DIR/daemon-unbound-delay.conf
	local addr=$LAB_DELAY_DNS_ADDR log=$LAB_DIR/dnsdelay-$LAB_DELAY_DNS_ADDR.log
	if [[ ! $ms =~ ^[0-9]+$ ]]; then
		diag "lab_dns_delay_up: the delay in milliseconds, not '$ms'"
		return 1
	fi
	bin=${LAB_DNSDELAY:-${top_builddir:-.}/tests/lab/dnsdelay}
	if [[ ! -f $bin || ! -x $bin ]]; then
		diag "lab_dns_delay_up: $bin is missing: build it with 'make check'" \
			"(or cc -std=c11 -O2 -Wall -D_GNU_SOURCE -o tests/lab/dnsdelay" \
			"tests/lab/dnsdelay.c), or set LAB_DNSDELAY"
		return 1
	fi
	bin=$(cd "$(dirname "$bin")" && pwd -P)/$(basename "$bin")
	# Again: the one running goes first, its port with it.
	while read -r pid name; do
		[[ $name == "dnsdelay-$addr" ]] || continue
		_lab_stop_pid "$pid"
		_lab_forget_pid "$pid"
	done < <(cat "$LAB_DIR/pids")
	echo "dnsdelay: --- $ms ms from here on" >>"$log"
	ip netns exec "$LAB_NETNS" "$bin" -v -u "$LAB_NSD_ADDR" -d "$ms" "$addr" \
		</dev/null >>"$log" 2>&1 &
	pid=$!
	lab_record_pid "$pid" "dnsdelay-$addr"
	if ! _lab_poll 5000 _lab_alive_and "$pid" _lab_udp_bound "$addr:53"; then
		diag "lab_dns_delay_up: dnsdelay does not listen on $addr (or died)"
		_lab_log_tail "$log"
		return 1
	fi
	# daemon-unbound.conf with every stub-addr on the delayed server, and
	# a stub for pf.test. too: NSD serves both zones and answers for
	# pf.test. itself, but a resolver that learnt pf.test.'s NS records
	# (ns.test., NSD's own address) would otherwise go round the delay.
	# Without QNAME minimisation (RFC 9156): libunbound's (on by default)
	# asks for every label below the zone it knows on its own first, an A
	# query and a round trip each (cold1.test: A, then MX; the TLSA of
	# mx1.cold1.test: A at _tcp.mx1.cold1.test, at _25._tcp..., then
	# TLSA).  In this lab, where every name is in test. and no step is a
	# referral, that made a cold decision 8 round trips (measured), not
	# the 3 of the daemon's own order of lookups, which is what the
	# figures taken with this file are about.  (In the real DNS most steps
	# are referrals anyway, but _tcp and _25._tcp still cost two.)
	sed -e "s/^\([[:space:]]*stub-addr:\).*/\1 $addr@53/" \
		-e 's/^server:$/&\n    qname-minimisation: no/' "$LAB_DIR/daemon-unbound.conf" >"$conf.new" &&
		printf 'stub-zone:\n    name: "pf.test."\n    stub-addr: %s@53\n' "$addr" >>"$conf.new" &&
		mv "$conf.new" "$conf" || return 1
	if ! grep -q "stub-addr: $addr@53" "$conf"; then
		diag "lab_dns_delay_up: no stub-addr in $LAB_DIR/daemon-unbound.conf to point at $addr"
		return 1
	fi
	LAB_DAEMON_UNBOUND_DELAY_CONF=$conf
	export LAB_DAEMON_UNBOUND_DELAY_CONF
	grep -q '^LAB_DAEMON_UNBOUND_DELAY_CONF=' "$LAB_DIR/env" 2>/dev/null ||
		printf 'LAB_DAEMON_UNBOUND_DELAY_CONF=%q\n' "$conf" >>"$LAB_DIR/env"
}

lab_lookup_us() {
	local target=$1 key=$2 reply=${3:-OK dane-only} smload f out
	smload=$(_lab_smload) || return 1
	f=$(mktemp "$LAB_DIR/lookup.XXXXXX") || return 1
	printf '%s\t%s\n' "$key" "$reply" >"$f"
	# --timeout 30: a slow first lookup is a figure, not an error.
	out=$(ip netns exec "$LAB_NETNS" "$smload" --json --once -c 1 -d 60 --timeout 30 -e "$f" "$target")
	local rc=$?
	rm -f "$f"
	if ((rc != 0)); then
		diag "lab_lookup_us: $key: smload found an error (the reply is not '$reply'?): $out"
		return 1
	fi
	# One reply: its latency is the maximum (exact, not a histogram bucket's).
	_lab_smload_max <<<"$out" | awk '{ printf "%.0f\n", $1 }'
}

lab_round_trips() {
	local target=$1 delay=$2 key cold cached c i
	shift 2
	for key in "$@"; do
		cold=$(lab_lookup_us "$target" "$key") || return 1
		# The fastest of three: on a shared machine one cached lookup
		# now and then takes tens of ms, which would pass for a
		# fraction of a round trip saved.
		cached=
		for ((i = 0; i < 3; i++)); do
			c=$(lab_lookup_us "$target" "$key") || return 1
			[[ -z $cached ]] || ((c < cached)) && cached=$c
		done
		awk -v k="$key" -v c="$cold" -v w="$cached" -v d="$delay" \
			'BEGIN { printf "%s %.1f %.1f %.2f\n", k, c / 1000, w / 1000, (c - w) / 1000 / d }'
	done
}

# smload's JSON: the slowest reply, in microseconds.
_lab_smload_max() {
	sed -n 's/.*"latency_us":{[^}]*"max":\([0-9.]*\).*/\1/p'
}

lab_median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

lab_stream() {
	local target=$1 secs=$2 file=$3 smload t0 t out n
	smload=$(_lab_smload) || return 1
	n=$(grep -c . "$file")
	t0=$(_lab_ms)
	while :; do
		t=$(($(_lab_ms) - t0))
		out=$(ip netns exec "$LAB_NETNS" "$smload" --json --once -c "$n" -d 60 --timeout 30 -e "$file" "$target") || {
			diag "lab_stream: smload found an error after $t ms: $out"
			return 1
		}
		_lab_smload_max <<<"$out" | awk -v t="$t" '{ printf "%d %.0f\n", t, $1 }'
		(($(_lab_ms) - t0 >= secs * 1000)) && return 0
		sleep 0.1
	done
}

# Plain HTTP over bash's /dev/tcp inside the namespace: no curl needed.
lab_metric() {
	ip netns exec "$LAB_NETNS" bash -c \
		'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 && cat <&3' _ "$1" |
		tr -d '\r' | awk -v n="$2" '$1 == n { v = $2 } END { print v + 0 }'
}
