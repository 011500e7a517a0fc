# danebench.sh - the lab's DANE benchmark population (tests/bench/cold.sh:
# cold decisions per second, memory per cached destination).  Sourced by
# lab.sh; nothing here runs unless LAB_DANE_BENCH_DOMAINS is set above 0
# before lab_up, so every other test's lab_up stays as fast.
#
#   LAB_DANE_BENCH_DOMAINS=N (default 0) before lab_up adds the signed child
#   zone danebench.test. (DS in test., TTL 3600) with N domains
#   dI.danebench.test (I = 1 .. N):
#
#     odd I    MX 10 mx1.dI.danebench.test
#     even I   MX 10 mx1.dI.danebench.test, MX 20 mx2.dI.danebench.test
#
#   each host a name of its own, with A 127.0.1.1 (the lab's smtpd with
#   mx1.good.test's certificate) and TLSA 3 1 1 of that certificate's key
#   at _25._tcp.HOST: every domain is DANE-secure, each host needs its own
#   A, AAAA (secure NODATA) and TLSA lookups, and a probe would verify.
#
# The list, one domain a line in order: $LAB_DANE_BENCH_LIST
# ($LAB_DIR/danebench/domains; exported and written to $LAB_DIR/env).
#
# Size: about 3.5 names and 4 RRsets a domain, so ldns-signzone makes
# about 8 signatures a domain (each RRset and each NSEC3 record); for
# 100 000 domains the signing takes most of lab_up's time (see
# tests/bench/README.md for the figures).

LAB_DANE_BENCH_DOMAINS=${LAB_DANE_BENCH_DOMAINS:-0}
# Where the hosts' A records point.
_LAB_DANE_BENCH_ADDR=127.0.1.1

_lab_dane_bench_enabled() {
	((${LAB_DANE_BENCH_DOMAINS:-0} > 0))
}

# _lab_dane_bench_zone DIGEST: called by _lab_write_zones with the mx1
# digest; danebench.test.zone (signed by _lab_sign_zones, which puts its DS
# into test.), its delegation, and the list.
_lab_dane_bench_zone() {
	local d=$LAB_DIR/dns
	mkdir -p "$LAB_DIR/danebench" || return 1
	echo "danebench NS ns.test." >>"$d/test.zone"
	{
		cat <<-EOF
			\$ORIGIN danebench.test.
			\$TTL 3600
			@         SOA ns.test. hostmaster.test. 1 3600 600 86400 3600
			@         NS  ns.test.
		EOF
		awk -v n="$LAB_DANE_BENCH_DOMAINS" -v digest="$1" -v addr="$_LAB_DANE_BENCH_ADDR" \
			-v list="$LAB_DIR/danebench/domains" 'BEGIN {
			for (i = 1; i <= n; i++) {
				for (h = 1; h <= 2 - i % 2; h++)
					printf "d%d MX %d mx%d.d%d\nmx%d.d%d A %s\n_25._tcp.mx%d.d%d TLSA 3 1 1 %s\n", \
						i, 10 * h, h, i, h, i, addr, h, i, digest
				print "d" i ".danebench.test" > list
			}
		}'
	} >"$d/danebench.test.zone"
}

# Called by _lab_write_env: the variable, exported and in $LAB_DIR/env.
_lab_dane_bench_env() {
	LAB_DANE_BENCH_LIST=$LAB_DIR/danebench/domains
	export LAB_DANE_BENCH_LIST
	printf 'LAB_DANE_BENCH_LIST=%q\n' "$LAB_DANE_BENCH_LIST" >>"$LAB_DIR/env"
}

# How much longer than usual lab_up waits for NSD to answer, in ms: NSD
# serves nothing before it has read every zone and built its NSEC3 chains,
# about 0.35 ms a domain measured here (35 s for 103 000 on a busy 2-core
# VM); 1 ms a domain leaves room for a slower machine.
_lab_dane_bench_load_ms() {
	echo $((${LAB_DANE_BENCH_DOMAINS:-0} > 0 ? LAB_DANE_BENCH_DOMAINS : 0))
}
