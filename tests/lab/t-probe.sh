#!/usr/bin/env bash
# Probes against every kind of lab mail server. Each class the prober gives
# must be the one posttls-finger (Postfix's own prober) reports for the
# same server; probes to special-purpose addresses are refused unless
# allowed; 200 probes against a slow server do not slow the answers.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"
SMLOAD=${top_builddir:-.}/tests/bench/smload

[ -x "$SMLOAD" ] || bail_out "$SMLOAD not built (make check builds it)"
lab_start
lab_mail_up || bail_out "mail servers did not start"
lab_sender_up "texthash:/dev/null" || bail_out "sender configuration failed"
daemon_conf "probe_rate = 1000" "probe_host_interval = 0s" "probe_concurrency = 400" "probe_timeout = 5s" \
	"probe_interval = 3s"
daemon_start || bail_out "tlspolicyd did not start"

finger() {
	lab_exec timeout 60 env MAIL_CONFIG="$LAB_SENDER" posttls-finger "$@" 2>&1
}

# posttls-finger's verdict in the prober's words. With TLSA records it
# runs at level dane; without, twice: at may with the lab CA (does the
# chain verify: Trusted or Untrusted) and at secure (does the name match:
# Verified or not), which is how the prober judges PKIX.
finger_class() {
	local dest=$1 dane=$2 out may secure
	if [ "$dane" = yes ]; then
		out=$(finger -c -l dane "$dest")
		case $out in
		*"Matched DANE"*"Verified TLS connection established"*) echo dane-verified ;;
		*"no matching DANE TLSA records"*) echo dane-mismatch ;;
		*) echo "unknown: $out" ;;
		esac
		return
	fi
	may=$(finger -t 3 -l may -F "$LAB_CA" "$dest")
	case $may in
	*"timeout while reading server greeting"*) echo unreachable; return ;;
	*"SSL_connect error"*) echo tls-failed; return ;;
	*"Anonymous TLS connection established"*) echo anonymous; return ;;
	*"Untrusted TLS connection established"*) echo untrusted; return ;;
	*"Trusted TLS connection established"*) ;;
	*"< 250 "*) [[ $may == *STARTTLS* ]] || { echo plaintext; return; } ;;
	*) echo "unknown: $may"; return ;;
	esac
	secure=$(finger -c -l secure -F "$LAB_CA" "$dest")
	[[ $secure == *"Verified TLS connection established"* ]] && echo verified || echo trusted
}

probe_class() {
	tlsp probe --json "$1" | sed -n 's/.*"class":"\([a-z-]*\)".*/\1/p' | head -n 1
}

# destination | TLSA? | the class the server was built to give
servers=(
	"good.test|yes|dane-verified"
	"ta.test|yes|dane-verified"
	"wrongtlsa.test|yes|dane-mismatch"
	"notlsa.test|no|verified"
	"selfsigned.test|no|untrusted"
	"wrongname.test|no|trusted"
	"nostarttls.test|no|plaintext"
	"tlsfail.test|no|tls-failed"
	"silent.test|no|unreachable"
	"anon.test|no|anonymous"
)
for s in "${servers[@]}"; do
	IFS='|' read -r dest dane want <<<"$s"
	got=$(probe_class "$dest")
	is "$got" "$want" "tlspolicy probe $dest: $want"
	is "$(finger_class "$dest" "$dane")" "$got" "posttls-finger agrees on $dest"
done

tlsp probe good.test >/dev/null
is "$?" 0 "probe exit status: good.test as secure as its DNS promises"
tlsp probe wrongtlsa.test >/dev/null
is "$?" 1 "probe exit status: wrongtlsa.test breaks its TLSA promise"
like "$(tlsp probe good.test)" 'DANE: matched 3 1 1 [0-9a-f]{64} at depth 0' "probe shows the matching record and depth"
like "$(tlsp probe ta.test)" 'DANE: matched 2 1 1 [0-9a-f]{64} at depth 1' "a DANE-TA match is at the CA's depth"

# The TLSA record a server needs is the one DNS has.
published=$(lab_exec dig +short TLSA _25._tcp.mx1.good.test @127.0.0.1 | tr -d ' ' | tr A-F a-f)
made=$(tlsp tlsa --host mx1.good.test | awk '{print $4 $5 $6 $7}')
is "$made" "$published" "tlspolicy tlsa --host gives the published 3 1 1 record"
made=$(tlsp tlsa "$LAB_DIR/tls/mx1.good.test.crt" | tr -d ' ')
is "$made" "$published" "tlspolicy tlsa CERT.pem gives the same"

# Private addresses are refused unless allowed.
noprivate=$LAB_DIR/noprivate.conf
sed 's/^probe_allow_private = yes$/probe_allow_private = no/' "$DAEMON_CONF" > "$noprivate"
out=$(ip netns exec "$LAB_NETNS" "$TLSPOLICY" -c "$noprivate" probe good.test)
is "$?" 3 "probe_allow_private = no: probe of 127.0.1.1 refused, exit 3"
like "$out" 'refused: loopback address' "the refusal names the range"

# This host's own addresses are refused too, public or not.
lab_exec ip addr add "$LAB_OWN_GLOBAL_ADDR/32" dev lo || bail_out "cannot add $LAB_OWN_GLOBAL_ADDR to the lab"
out=$(ip netns exec "$LAB_NETNS" "$TLSPOLICY" -c "$noprivate" probe ownaddr.test)
is "$?" 3 "probe_allow_private = no: an MX host on this host's own global address is refused, exit 3"
like "$out" "mx\.ownaddr\.test\[$LAB_OWN_GLOBAL_ADDR\]:25 refused: address of this host" \
	"the refusal says it is this host's address"
out=$(ip netns exec "$LAB_NETNS" "$TLSPOLICY" -c "$noprivate" probe --json ownaddr.test)
like "$out" "\"refused\":\\[\\{\"host\":\"mx\.ownaddr\.test\",\"address\":\"$LAB_OWN_GLOBAL_ADDR\",\"range\":\"this-host\"\\}\\]" \
	"probe --json: refused with the range this-host"

# No more addresses than Postfix tries (smtp_mx_address_limit, 5): of the
# eight of manyaddrs.test, the first five by MX preference, which are the
# four of mx1 and one of mx2, whatever order the resolver gives each
# RRset in.
probed_hosts() {
	grep -v ' not probed: ' <<<"$1" | grep -o '^== mx[12]\.manyaddrs\.test\[127\.0\.2\.[0-9]\]:25' |
		cut -c4-6 | sort | uniq -c | tr -s ' \n' ' '
}
out=$(tlsp probe manyaddrs.test)
is "$(probed_hosts "$out")" " 4 mx1 1 mx2 " \
	"probe_address_limit 5: five of eight addresses probed, by MX preference"
is "$(grep -c '^== mx2\.manyaddrs\.test\[127\.0\.2\.[5-8]\]:25 not probed: Postfix tries 5 addresses at most (probe_address_limit)$' <<<"$out")" 3 \
	"the other three shown as not probed"
nolimit=$LAB_DIR/nolimit.conf
{ cat "$DAEMON_CONF"; echo "probe_address_limit = 0"; } > "$nolimit"
out=$(ip netns exec "$LAB_NETNS" "$TLSPOLICY" -c "$nolimit" probe manyaddrs.test)
is "$(probed_hosts "$out")" " 4 mx1 4 mx2 " "probe_address_limit = 0: all eight, as Postfix's 0"
# The survey reports the three, not probed.
out=$(echo manyaddrs.test | tlsp survey - 2>/dev/null)
is "$(jq -r '[.hosts[].addresses[] | select(.class == "skipped" and .detail == "past probe_address_limit")] | length' <<<"$out")" 3 \
	"survey: the three past the limit are skipped, and say why"
is "$(jq -r '[.hosts[].addresses[] | select(.class == "unreachable")] | length' <<<"$out")" 5 \
	"survey: five probed (nothing listens there: unreachable)"

# The daemon probed what Postfix asked about, and said so.
for dest in good.test wrongtlsa.test wrongname.test; do
	pmq "$dest" >/dev/null
done
for ((i = 0; i < 100; i++)); do
	grep -q 'event=alert kind=dane-mismatch-all dest=wrongtlsa.test' "$DAEMON_LOG" &&
		grep -q 'event=probe dest=wrongname.test' "$DAEMON_LOG" && break
	sleep 0.1
done
like "$(cat "$DAEMON_LOG")" 'event=probe dest=good\.test host=mx1\.good\.test addr=127\.0\.1\.1 port=25 class=dane-verified' \
	"daemon: one line per probe"
like "$(cat "$DAEMON_LOG")" 'alert: event=alert kind=dane-mismatch dest=wrongtlsa\.test host=mx\.wrongtlsa\.test addr=127\.0\.1\.2 port=25 tlsa="3 1 1 [0-9a-f]{64}" chain_spki_sha256=[0-9a-f]{64} chain_cert_sha256=[0-9a-f]{64}' \
	"daemon: a DANE mismatch is an alert with the evidence"
like "$(cat "$DAEMON_LOG")" 'event=alert kind=dane-mismatch-all dest=wrongtlsa\.test' \
	"daemon: every host of the destination mismatching is an alert too"
# The history file is written a moment after the results (a few seconds).
for ((i = 0; i < 100; i++)); do
	grep -q 'dest=wrongtlsa.test' "$LAB_DIR/state/probes" 2>/dev/null && break
	sleep 0.1
done
like "$(tlsp explain wrongtlsa.test)" 'mx\.wrongtlsa\.test\[127\.0\.1\.2\]:25 \(usable TLSA\).*dane-mismatch' \
	"explain shows the daemon's probe history"

# The daemon, too, probes five of manyaddrs.test's eight addresses.
manyaddrs_probes() {
	grep -o 'event=probe dest=manyaddrs\.test host=mx[12]' "$DAEMON_LOG" | grep -o 'mx[12]$' | sort | uniq -c | tr -s ' \n' ' '
}
pmq manyaddrs.test >/dev/null
for ((i = 0; i < 100; i++)); do
	[[ $(manyaddrs_probes) == " 4 mx1 1 mx2 " ]] && break
	sleep 0.1
done
sleep 0.5
daemon_settle
is "$(manyaddrs_probes)" " 4 mx1 1 mx2 " "daemon: five probes for a destination with eight addresses, by preference"

# 200 probes against a server that takes 2 s for every reply; the answers
# to Postfix must not notice.
keys=$LAB_DIR/keys
printf '%s\n' good.test notlsa.test mixed.test > "$keys"
load() {
	ip netns exec "$LAB_NETNS" "$SMLOAD" --json -k "$keys" -c 4 -d 2 "inet:127.0.0.1:$DAEMON_PORT"
}
p99() {
	sed -n 's/.*"p99":\([0-9.]*\).*/\1/p' <<<"$1"
}
load >/dev/null
base=$(p99 "$(load)")
for ((i = 1; i <= LAB_SLOW_DESTS; i++)); do
	echo "slow$i.test"
done > "$LAB_DIR/slow"
# Each destination asked once, however long the first lookups take (an
# instrumented daemon, a busy machine): every one must be probed.
ip netns exec "$LAB_NETNS" "$SMLOAD" --once -k "$LAB_DIR/slow" -c 8 -d $((30 * ${LAB_TIME_FACTOR:-1})) \
	"inet:127.0.0.1:$DAEMON_PORT" >/dev/null
running=$(lab_exec ss -tn state established '( dport = :25 and dst 127.0.1.15 )' | grep -c 127.0.1.15)
ok $(( running >= 150 ? 0 : 1 )) "probes to the slow server under way: $running connections"
loaded=$(p99 "$(load)")
limit=$(( ${base%.*} * 5 + 5000 ))
ok $(( ${loaded%.*} <= limit ? 0 : 1 )) \
	"answers as fast while the probes run: p99 ${loaded} us, ${base} us without (limit ${limit})"
for ((i = 0; i < 300; i++)); do
	(( $(grep -c 'event=probe dest=slow[0-9]*\.test' "$DAEMON_LOG") >= LAB_SLOW_DESTS )) && break
	sleep 0.1
done
slow_trusted=$(grep 'event=probe dest=slow[0-9]*\.test .*class=trusted' "$DAEMON_LOG" | grep -o 'dest=slow[0-9]*' | sort -u | wc -l)
is "$slow_trusted" "$LAB_SLOW_DESTS" "every slow probe finished, trusted (a lab CA certificate for another name)"

# The load above kept asking for good.test for several probe_intervals
# (3 s here): it is probed again, not only the first time. mixed.test
# shares its host, and while both are asked for, whichever is due first
# probes the host for both; asking for good.test alone settles it.
good_probes() {
	grep -c 'event=probe dest=good\.test ' "$DAEMON_LOG"
}
for ((i = 0; i < 150 && $(good_probes) < 2; i++)); do
	pmq good.test >/dev/null
	sleep 0.1
done
ok $(( $(good_probes) >= 2 ? 0 : 1 )) \
	"re-probed while Postfix keeps asking: $(good_probes) probes of good.test"

daemon_stop
is "$?" 0 "SIGTERM: clean exit"
tap_done
