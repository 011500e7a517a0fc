# zonecheck.sh - lab domains for selfcheck's DNS checks (issue 17,
# lib/selfcheck/zonecheck.c), each broken in exactly one way while its
# mail works: every MX host is mx.ta.test's server (127.0.1.9), with
# TLSA records it matches, so that no other check warns. Sourced by
# lab.sh; lab_up always writes and signs the zones (five small signed
# children: cheap), the extra servers run only when t-selfcheck.sh
# starts them with lab_zonecheck_up.
#
#   sigexp.test        signed child whose signatures expire in 2 days
#                      (rrsig-expiring: MX and DNSKEY)
#   nsec3iter.test     signed child with NSEC3, 5 extra iterations and
#                      opt-out (nsec3-iterations)
#   nsstale.test       NS ns.test. (serial 2) and ns-stale.test., a third
#                      NSD on $LAB_ZC_NSD_ADDR serving the same zone at
#                      serial 1, signed alike (ns-inconsistent: serial)
#   nsdrop.test        NS ns.test. and ns-droptlsa.test., dnsdelay on
#                      $LAB_ZC_DROPTLSA_ADDR in front of NSD dropping
#                      every TLSA query; its MX host mx.nsdrop.test has
#                      its TLSA records in the zone (ns-inconsistent:
#                      TLSA not answered)
#   denialbroken.test  its only NS ns-notimp.test., dnsdelay on
#                      $LAB_ZC_NOTIMP_ADDR in front of the third NSD,
#                      answering NOTIMP to queries of the unknown type
#                      65280 (denial-broken); not served by NSD itself,
#                      so that resolvers reach it only through the
#                      delegation
#
# Functions:
#   lab_zonecheck_up   start the third NSD and the two dnsdelay servers
#                      (recorded for lab_down)
#   _lab_zonecheck_zones, _lab_zonecheck_sign, _lab_zonecheck_ds,
#   _lab_zonecheck_nsd_zones   lab_up's parts (lab.sh calls them)

LAB_ZC_NSD_ADDR=127.0.6.1
LAB_ZC_DROPTLSA_ADDR=127.0.6.2
LAB_ZC_NOTIMP_ADDR=127.0.6.3
# The signed children, and how long the broken one's signatures last.
_LAB_ZC_CHILDREN=(sigexp nsec3iter nsstale nsdrop denialbroken)
LAB_ZC_SIGEXP_DAYS=2

# _lab_zonecheck_child NAME SERIAL NS... : the zone text of NAME.test,
# MX mx.ta.test.
_lab_zonecheck_child() {
	local name=$1 serial=$2 ns
	shift 2
	# shellcheck disable=SC2016 # the zone file's own $ORIGIN and $TTL
	printf '$ORIGIN %s.test.\n$TTL 300\n@ SOA ns.test. hostmaster.test. %s 3600 600 86400 300\n' "$name" "$serial"
	for ns; do
		printf '@ NS %s\n' "$ns"
	done
	printf '@ MX 10 mx.ta.test.\n'
}

# The parent's delegations and the children's zone files (test.zone is
# being written; DS records come later from _lab_zonecheck_ds).
_lab_zonecheck_zones() {
	local d=$LAB_DIR/dns t=$LAB_DIR/tls ta_key ca_spki
	ta_key=$(_lab_spki_sha256 "$t/mx.ta.test.crt") &&
		ca_spki=$(_lab_spki_sha256 "$t/ca.crt") || return 1
	cat >>"$d/test.zone" <<-EOF
		; selfcheck's DNS checks (zonecheck.sh): signed children, MX mx.ta.test
		sigexp          NS   ns.test.
		nsec3iter       NS   ns.test.
		nsstale         NS   ns.test.
		nsstale         NS   ns-stale.test.
		ns-stale        A    $LAB_ZC_NSD_ADDR
		nsdrop          NS   ns.test.
		nsdrop          NS   ns-droptlsa.test.
		ns-droptlsa     A    $LAB_ZC_DROPTLSA_ADDR
		denialbroken    NS   ns-notimp.test.
		ns-notimp       A    $LAB_ZC_NOTIMP_ADDR
	EOF
	_lab_zonecheck_child sigexp 1 ns.test. >"$d/sigexp.test.zone" &&
		_lab_zonecheck_child nsec3iter 1 ns.test. >"$d/nsec3iter.test.zone" &&
		_lab_zonecheck_child nsstale 2 ns.test. ns-stale.test. >"$d/nsstale.test.zone" &&
		_lab_zonecheck_child nsstale 1 ns.test. ns-stale.test. >"$d/nsstale-old.test.zone" &&
		_lab_zonecheck_child denialbroken 1 ns-notimp.test. >"$d/denialbroken.test.zone" || return 1
	# An MX host of its own, so that its TLSA RRset is in the zone whose
	# second server drops TLSA queries: mx.ta.test's server, matched by
	# its key (3 1 1) and, for rollover-unready, by the lab CA (2 1 1).
	{
		sed 's/^@ MX 10 mx.ta.test.$/@ MX 10 mx.nsdrop.test./' < <(_lab_zonecheck_child nsdrop 1 ns.test. ns-droptlsa.test.)
		printf 'mx A 127.0.1.9\n_25._tcp.mx TLSA 3 1 1 %s\n_25._tcp.mx TLSA 2 1 1 %s\n' "$ta_key" "$ca_spki"
	} >"$d/nsdrop.test.zone"
}

# Signs the children, each with one key of its own, in parallel; the DS
# of each in NAME.test.ds.
_lab_zonecheck_sign() {
	local d=$LAB_DIR/dns child inception expiration pids=() pid failed=0
	inception=$(date -u -d '1 hour ago' +%Y%m%d%H%M%S)
	expiration=$(date -u -d '30 days' +%Y%m%d%H%M%S)
	for child in "${_LAB_ZC_CHILDREN[@]}"; do
		(
			local args=(-n -t 0 -i "$inception" -e "$expiration") key
			case $child in
			sigexp) args=(-n -t 0 -i "$inception" -e "$(date -u -d "$LAB_ZC_SIGEXP_DAYS days" +%Y%m%d%H%M%S)") ;;
			nsec3iter) args=(-n -t 5 -p -i "$inception" -e "$expiration") ;;
			esac
			cd "$d" && key=$(ldns-keygen -a ECDSAP256SHA256 -k "$child.test.") &&
				ldns-signzone "${args[@]}" -f "$child.test.zone.signed" "$child.test.zone" "$key" &&
				if [[ $child == nsstale ]]; then
					ldns-signzone "${args[@]}" -f nsstale-old.test.zone.signed nsstale-old.test.zone "$key"
				fi &&
				mv "$key.ds" "$child.test.ds"
		) &
		pids+=($!)
	done
	for pid in "${pids[@]}"; do
		wait "$pid" || failed=1
	done
	return $failed
}

# The children's DS records, for test.zone.
_lab_zonecheck_ds() {
	local child ds
	for child in "${_LAB_ZC_CHILDREN[@]}"; do
		read -r ds <"$LAB_DIR/dns/$child.test.ds" || return 1
		echo "$ds"
	done
}

# nsd.conf zone entries for the children NSD serves itself.
_lab_zonecheck_nsd_zones() {
	local child
	for child in sigexp nsec3iter nsstale nsdrop; do
		printf 'zone:\n    name: "%s.test."\n    zonefile: "%s.test.zone.signed"\n' "$child" "$child"
	done
}

# lab_zonecheck_up: the third NSD (nsstale.test at serial 1,
# denialbroken.test) and the two dnsdelay servers.
lab_zonecheck_up() {
	local bin d=$LAB_DIR/dns3 pid entry addr up args
	bin=${LAB_DNSDELAY:-${top_builddir:-.}/tests/lab/dnsdelay}
	if [[ ! -x $bin ]]; then
		diag "lab_zonecheck_up: $bin is missing: build it with 'make check', or set LAB_DNSDELAY"
		return 1
	fi
	bin=$(cd "$(dirname "$bin")" && pwd -P)/$(basename "$bin")
	mkdir -p "$d" || return 1
	_lab_nsd_server_conf "$LAB_ZC_NSD_ADDR" "$LAB_DIR/dns" "$d" >"$d/nsd.conf" || return 1
	cat >>"$d/nsd.conf" <<-EOF
		zone:
		    name: "nsstale.test."
		    zonefile: "nsstale-old.test.zone.signed"
		zone:
		    name: "denialbroken.test."
		    zonefile: "denialbroken.test.zone.signed"
	EOF
	ip netns exec "$LAB_NETNS" nsd -d -c "$d/nsd.conf" </dev/null >>"$d/nsd.out" 2>&1 &
	pid=$!
	lab_record_pid "$pid" nsd3
	if ! _lab_poll 5000 _lab_alive_and "$pid" _lab_answers "$LAB_ZC_NSD_ADDR" nsstale.test.; then
		diag "lab_zonecheck_up: the third NSD does not answer on $LAB_ZC_NSD_ADDR (or died)"
		_lab_log_tail "$d/nsd.log"
		_lab_log_tail "$d/nsd.out"
		return 1
	fi
	for entry in "$LAB_ZC_DROPTLSA_ADDR $LAB_NSD_ADDR -x 52" "$LAB_ZC_NOTIMP_ADDR $LAB_ZC_NSD_ADDR -n 65280"; do
		read -r addr up args <<<"$entry"
		# shellcheck disable=SC2086 # the options are words
		ip netns exec "$LAB_NETNS" "$bin" -v -u "$up" -d 0 $args "$addr" \
			</dev/null >>"$LAB_DIR/dnsdelay-$addr.log" 2>&1 &
		pid=$!
		lab_record_pid "$pid" "dnsdelay-$addr"
		if ! _lab_poll 5000 _lab_alive_and "$pid" _lab_udp_bound "$addr:53"; then
			diag "lab_zonecheck_up: dnsdelay does not listen on $addr (or died)"
			_lab_log_tail "$LAB_DIR/dnsdelay-$addr.log"
			return 1
		fi
	done
}
