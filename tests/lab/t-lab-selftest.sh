#!/bin/bash
# t-lab-selftest.sh - proves the lab itself right before any tlspolicyd test
# relies on it: the DNSSEC status of every DNS case, TLS on the MX hosts,
# real deliveries with a static policy map, and a clean teardown.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lab.sh"

lab_require_root

# The marker of the suite's processes (tests/leftovers.sh): ./dev test sets
# it; a run of this test alone gets one of its own, to check it all the same.
export TLSP_SUITE=${TLSP_SUITE:-selftest$$}
LAB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tlsplab.XXXXXX") || bail_out "mktemp failed"
lab_traps

t0=$(_lab_ms)
lab_up || bail_out "lab_up failed"
diag "lab_up took $(($(_lab_ms) - t0)) ms"
ok 0 "lab_up"

# ---------------------------------------------------------------- DNS
# unbound-host reads the very file the daemon will hand to ub_ctx_config(),
# so these checks prove that file as well as the zones.  It prints one line
# per record, each ending in (secure), (insecure) or (BOGUS (security
# failure)), and exits 0 whatever the status.
uh() {
	lab_exec unbound-host -C "$LAB_DAEMON_UNBOUND_CONF" -v -t "$1" "$2" 2>&1
}

# Digests the zones must carry, recomputed from the certificates here.
spki() { _lab_spki_sha256 "$LAB_DIR/tls/$1.crt" | tr a-f A-F; }
mx1=$(spki mx1.good.test)
ca=$(spki ca)

out=$(uh MX good.test)
is "$out" "good.test mail is handled by 10 mx1.good.test. (secure)" "good.test MX secure"
out=$(uh TLSA _25._tcp.mx1.good.test)
is "$out" "_25._tcp.mx1.good.test has TLSA record 3 1 1 $mx1 (secure)" \
	"mx1.good.test TLSA 3 1 1 secure, matches its certificate"
out=$(uh A mx1.good.test)
is "$out" "mx1.good.test has address 127.0.1.1 (secure)" "mx1.good.test A secure"

out=$(uh MX mixed.test)
like "$out" "10 mx1\.good\.test\. \(secure\)" "mixed.test MX 10 mx1.good.test secure"
like "$out" "20 mx\.notlsa\.test\. \(secure\)" "mixed.test MX 20 mx.notlsa.test secure"

out=$(uh MX notlsa.test)
is "$out" "notlsa.test mail is handled by 10 mx.notlsa.test. (secure)" "notlsa.test MX secure"
out=$(uh TLSA _25._tcp.mx.notlsa.test)
like "$out" "NXDOMAIN.*\(secure\)" "mx.notlsa.test TLSA: secure NXDOMAIN"

out=$(uh MX danemx.insecure.test)
is "$out" "danemx.insecure.test mail is handled by 10 mx1.good.test. (insecure)" \
	"danemx.insecure.test MX insecure"
out=$(uh MX insecure.test)
is "$out" "insecure.test mail is handled by 10 mx.insecure.test. (insecure)" \
	"insecure.test MX insecure"
out=$(uh TLSA _25._tcp.mx.insecure.test)
like "$out" "3 1 1 $(spki mx.insecure.test) \(insecure\)" \
	"mx.insecure.test TLSA present but insecure"
out=$(uh MX unsignedmx.test)
is "$out" "unsignedmx.test mail is handled by 10 mx.insecure.test. (secure)" \
	"unsignedmx.test MX secure"
out=$(uh A mx.insecure.test)
is "$out" "mx.insecure.test has address 127.0.1.4 (insecure)" "mx.insecure.test A insecure"

out=$(uh TLSA _25._tcp.mx.pkix.test)
like "$out" "0 0 1 $(_lab_cert_sha256 "$LAB_DIR/tls/ca.crt" | tr a-f A-F) \(secure\)" \
	"mx.pkix.test TLSA 0 0 1 (CA certificate) secure"
like "$out" "1 1 1 $(spki mx.pkix.test) \(secure\)" "mx.pkix.test TLSA 1 1 1 secure"
unlike "$out" "record [23] " "mx.pkix.test has no DANE-TA/DANE-EE record"

out=$(uh MX bogusmx.test)
like "$out" "10 mx\.bogusmx\.test\. \(BOGUS \(security failure\)\).*signature verification failed" \
	"bogusmx.test MX bogus"
out=$(uh A mx.bogusmx.test)
is "$out" "mx.bogusmx.test has address 127.0.1.6 (secure)" "mx.bogusmx.test A secure"

out=$(uh MX bogustlsa.test)
is "$out" "bogustlsa.test mail is handled by 10 mx.bogustlsa.test. (secure)" "bogustlsa.test MX secure"
out=$(uh TLSA _25._tcp.mx.bogustlsa.test)
like "$out" "3 1 1 [0-9A-F]{64} \(BOGUS \(security failure\)\)" "mx.bogustlsa.test TLSA bogus"

out=$(uh MX nullmx.test)
is "$out" "nullmx.test mail is handled by 0 . (secure)" "nullmx.test null MX secure"

out=$(uh MX nonexistent.test)
like "$out" "NXDOMAIN.*\(secure\)" "nonexistent.test: secure NXDOMAIN"

out=$(uh A mx.submit.test)
is "$out" "mx.submit.test has address 127.0.1.8 (secure)" "mx.submit.test A secure"
out=$(uh TLSA _587._tcp.mx.submit.test)
is "$out" "_587._tcp.mx.submit.test has TLSA record 3 1 1 $(spki mx.submit.test) (secure)" \
	"mx.submit.test port 587 TLSA secure"
out=$(uh TLSA _25._tcp.mx.submit.test)
like "$out" "NXDOMAIN.*\(secure\)" "mx.submit.test port 25 TLSA: secure NXDOMAIN"

out=$(uh TLSA _25._tcp.mx.wrongtlsa.test)
like "$out" "3 1 1 [0-9A-F]{64} \(secure\)" "mx.wrongtlsa.test TLSA secure"
unlike "$out" "$(spki mx.wrongtlsa.test)|$mx1|$ca" "mx.wrongtlsa.test TLSA matches no lab key"
is "$(openssl x509 -in "$LAB_DIR/tls/mx.wrongtlsa.test.crt" -noout -issuer)" "issuer=CN = mx.wrongtlsa.test" \
	"mx.wrongtlsa.test has a self-signed certificate"
is "$(openssl x509 -in "$LAB_DIR/tls/mx1.good.test.crt" -noout -issuer)" "issuer=CN = tlspolicyd lab CA" \
	"mx1.good.test has a certificate from the lab CA"

out=$(uh MX cnamemx.test)
is "$out" "cnamemx.test mail is handled by 10 alias.cnamemx.test. (secure)" "cnamemx.test MX secure"
out=$(uh A alias.cnamemx.test)
like "$out" "alias for mx1\.good\.test\. \(secure\).*127\.0\.1\.1 \(secure\)" \
	"alias.cnamemx.test CNAME to mx1.good.test secure"

# The oracle's CNAME forms (t-oracle.sh): which names are secure decides
# where Postfix's tls_dane_resolve looks for TLSA.
notlsa=$(spki mx.notlsa.test)
out=$(uh MX cnameorig.test)
is "$out" "cnameorig.test mail is handled by 10 alias.cnameorig.test. (secure)" "cnameorig.test MX secure"
out=$(uh A alias.cnameorig.test)
like "$out" "alias for mx\.notlsa\.test\. \(secure\).*127\.0\.1\.3 \(secure\)" \
	"alias.cnameorig.test: secure CNAME to mx.notlsa.test, address secure"
out=$(uh TLSA _25._tcp.alias.cnameorig.test)
is "$out" "_25._tcp.alias.cnameorig.test has TLSA record 3 1 1 $notlsa (secure)" \
	"alias.cnameorig.test: TLSA at the alias, secure (the target has none)"

out=$(uh A alias.cnameinsectlsa.test)
like "$out" "alias for mx\.insectlsa\.test\. \(secure\).*127\.0\.1\.3 \(secure\)" \
	"alias.cnameinsectlsa.test: secure CNAME to mx.insectlsa.test, address secure"
out=$(uh TLSA _25._tcp.mx.insectlsa.test)
like "$out" "^_25\._tcp\.mx\.insectlsa\.test has TLSA record 3 1 1 [0-9A-F]{64} \(insecure\)$" \
	"mx.insectlsa.test: TLSA in an unsigned zone, insecure"
unlike "$out" "$notlsa" "mx.insectlsa.test: its insecure TLSA does not match the host's key"
out=$(uh TLSA _25._tcp.alias.cnameinsectlsa.test)
is "$out" "_25._tcp.alias.cnameinsectlsa.test has TLSA record 3 1 1 $notlsa (secure)" \
	"alias.cnameinsectlsa.test: TLSA at the alias, secure"

out=$(uh CNAME alias.cnameunsigned.test)
is "$out" "alias.cnameunsigned.test has CNAME record mx.insecure.test. (secure)" \
	"alias.cnameunsigned.test: the CNAME itself secure"
out=$(uh A alias.cnameunsigned.test)
like "$out" "alias for mx\.insecure\.test\. \(insecure\).*127\.0\.1\.4 \(insecure\)" \
	"alias.cnameunsigned.test: addresses insecure (the target is unsigned)"
out=$(uh TLSA _25._tcp.alias.cnameunsigned.test)
is "$out" "_25._tcp.alias.cnameunsigned.test has TLSA record 3 1 1 $(spki mx.insecure.test) (secure)" \
	"alias.cnameunsigned.test: TLSA at the alias, secure"

out=$(uh MX viaunsignedcname.test)
is "$out" "viaunsignedcname.test mail is handled by 10 alias.insecure.test. (secure)" \
	"viaunsignedcname.test MX secure"
out=$(uh CNAME alias.insecure.test)
is "$out" "alias.insecure.test has CNAME record mx1.good.test. (insecure)" \
	"alias.insecure.test: the CNAME itself insecure"
out=$(uh MX danewrong.insecure.test)
is "$out" "danewrong.insecure.test mail is handled by 10 mx.wrongtlsa.test. (insecure)" \
	"danewrong.insecure.test MX insecure, to a host whose TLSA does not match"

# The oracle's TLSA shapes, all for mx.notlsa.test's certificate.
crt=$LAB_DIR/tls/mx.notlsa.test.crt
for entry in "fullspki|3 1 0 $(_lab_spki_der "$crt")" "fullcert|3 0 0 $(_lab_cert_der "$crt")" \
	"certsha512|3 0 2 $(_lab_cert_sha512 "$crt")" "badfull|3 1 0 00" "badlen|3 1 1 ${notlsa:0:62}"; do
	IFS='|' read -r d rr <<<"$entry"
	out=$(uh A "mx.$d.test")
	is "$out" "mx.$d.test has address 127.0.1.3 (secure)" "mx.$d.test A secure"
	out=$(uh TLSA "_25._tcp.mx.$d.test")
	is "$out" "_25._tcp.mx.$d.test has TLSA record ${rr^^} (secure)" "mx.$d.test: TLSA ${rr:0:40}... secure"
done
out=$(uh TLSA _25._tcp.mx.mixedtlsa.test | sort)
like "$out" "^_25\._tcp\.mx\.mixedtlsa\.test has TLSA record 1 1 1 [0-9A-F]{64} \(secure\)
_25\._tcp\.mx\.mixedtlsa\.test has TLSA record 3 1 1 $notlsa \(secure\)$" \
	"mx.mixedtlsa.test: 1 1 1 beside the matching 3 1 1, secure"

out=$(uh MX implicit.test)
is "$out" "implicit.test has no mail handler record (secure)" "implicit.test: secure NODATA for MX"
out=$(uh A implicit.test)
is "$out" "implicit.test has address 127.0.1.1 (secure)" "implicit.test A secure"
out=$(uh TLSA _25._tcp.implicit.test)
is "$out" "_25._tcp.implicit.test has TLSA record 3 1 1 $mx1 (secure)" "implicit.test TLSA secure"

out=$(uh TLSA _25._tcp.mx.ta.test)
is "$out" "_25._tcp.mx.ta.test has TLSA record 2 1 1 $ca (secure)" \
	"mx.ta.test TLSA 2 1 1 (lab CA key) secure"

# The prober's servers (t-lab-servers.sh proves what they do): each domain's
# MX and its host's A secure, no TLSA (secure NXDOMAIN).
for entry in "selfsigned 127.0.1.10" "wrongname 127.0.1.11" "nostarttls 127.0.1.12" \
	"tlsfail 127.0.1.13" "silent 127.0.1.14" "slow 127.0.1.15"; do
	read -r d a <<<"$entry"
	out=$(uh MX "$d.test")
	is "$out" "$d.test mail is handled by 10 mx.$d.test. (secure)" "$d.test MX secure"
	out=$(uh A "mx.$d.test")
	is "$out" "mx.$d.test has address $a (secure)" "mx.$d.test A secure"
	out=$(uh TLSA "_25._tcp.mx.$d.test")
	like "$out" "NXDOMAIN.*\(secure\)" "mx.$d.test TLSA: secure NXDOMAIN"
done

# The resolver Postfix uses, through the namespace's /etc/resolv.conf.
out=$(lab_exec cat /etc/resolv.conf)
is "$out" "nameserver $LAB_RESOLVER_ADDR" "resolv.conf in the namespace points at the lab resolver"
out=$(lab_exec dig +dnssec MX good.test)
like "$out" ";; flags:[a-z ]* ad[ ;]" "resolver: good.test MX has the AD bit"
out=$(lab_exec dig +dnssec MX insecure.test)
like "$out" "status: NOERROR" "resolver: insecure.test MX answered"
unlike "$out" ";; flags:[a-z ]* ad[ ;]" "resolver: insecure.test MX without the AD bit"
out=$(lab_exec dig +dnssec MX bogusmx.test)
like "$out" "status: SERVFAIL" "resolver: bogusmx.test MX SERVFAIL"
out=$(lab_exec dig +cd +short MX bogusmx.test)
like "$out" "^10 mx\.bogusmx\.test\.$" "resolver: bogusmx.test MX data with checking disabled"

# ---------------------------------------------------------------- Postfix
t0=$(_lab_ms)
lab_mail_up
ok $? "lab_mail_up"
diag "lab_mail_up took $(($(_lab_ms) - t0)) ms"
listening=()
for entry in "${LAB_MX_LISTENERS[@]}" "${LAB_FAKE_LISTENERS[@]}"; do
	_lab_listening "${entry%% *}" && listening+=("${entry%% *}")
done
is "${#listening[@]}" $((${#LAB_MX_LISTENERS[@]} + ${#LAB_FAKE_LISTENERS[@]})) \
	"every smtpd and fakesmtp listener listens (${listening[*]})"

policy=$LAB_DIR/tls_policy
printf '%s\n' 'good.test dane-only' 'wrongtlsa.test dane-only' >"$policy"
t0=$(_lab_ms)
lab_sender_up "texthash:$policy"
ok $? "lab_sender_up"
diag "lab_sender_up took $(($(_lab_ms) - t0)) ms"

# What the lab made is where tests/leftovers.sh looks: its directory in
# TMPDIR, its namespace under the suite's prefix, and every process in the
# namespace (NSD, unbound, fakesmtp, each Postfix process) marked.
like "$LAB_DIR" "^$(cd "${TMPDIR:-/tmp}" && pwd -P)/tlsplab\.[^/]+\$" "LAB_DIR is in TMPDIR"
like "$LAB_NETNS" "^${LAB_NETNS_PREFIX:-tlsplab-}" "the namespace's name starts with LAB_NETNS_PREFIX"
unmarked=()
for pid in $(ip netns pids "$LAB_NETNS"); do
	grep -qzxF "TLSP_SUITE=$TLSP_SUITE" "/proc/$pid/environ" 2>/dev/null && continue
	# Gone meanwhile, or a zombie (whose environment reads empty).
	read -r stat 2>/dev/null <"/proc/$pid/stat" || continue
	state=${stat##*) } state=${state%% *}
	[[ $state == Z ]] || unmarked+=("$pid $(cat "/proc/$pid/comm" 2>/dev/null)")
done
is "${unmarked[*]}" "" "every process of the lab carries TLSP_SUITE (Postfix's through import_environment)"

out=$(lab_exec postmap -c "$LAB_SENDER" -q good.test "texthash:$policy")
is "$out" "dane-only" "postmap -c \$LAB_SENDER works in the namespace"

# posttls-finger exits 0 whatever it finds: judge its output.
finger() { lab_exec env MAIL_CONFIG="$LAB_SENDER" posttls-finger -c -l dane "$1" 2>&1; }
out=$(finger "[mx1.good.test]")
like "$out" "Matched DANE EE certificate at depth 0: 3 1 1 " \
	"posttls-finger: mx1.good.test matches its DANE-EE record"
like "$out" "Verified TLS connection established to mx1\.good\.test\[127\.0\.1\.1\]:25" \
	"posttls-finger: mx1.good.test verified at level dane"
out=$(finger "[mx.ta.test]")
like "$out" "Verified TLS connection established to mx\.ta\.test\[127\.0\.1\.9\]:25" \
	"posttls-finger: mx.ta.test verified through its DANE-TA record"
out=$(finger "[mx.submit.test]:587")
like "$out" "Verified TLS connection established to mx\.submit\.test\[127\.0\.1\.8\]:587" \
	"posttls-finger: mx.submit.test:587 verified"
out=$(finger "[mx.wrongtlsa.test]")
like "$out" "no matching DANE TLSA records" "posttls-finger: mx.wrongtlsa.test does not match"

lab_send lab-good@good.test
ok $? "submit to good.test"
lab_send lab-wrong@wrongtlsa.test
ok $? "submit to wrongtlsa.test"
lab_wait_log 'Verified TLS connection established to mx1\.good\.test\[127\.0\.1\.1\]:25' 30
ok $? "delivery to good.test: Verified TLS connection"
lab_wait_log 'to=<lab-good@good\.test>, relay=mx1\.good\.test\[127\.0\.1\.1\]:25, .*status=sent' 30
ok $? "delivery to good.test: sent"
lab_wait_log 'to=<lab-good@good\.test>, .*status=sent \(accepted by the tlspolicyd lab\)' 10 "$LAB_MX_LOG"
ok $? "receiver accepted and discarded it"
lab_wait_log 'num=65:no matching DANE TLSA records' 30
ok $? "delivery to wrongtlsa.test: no matching TLSA"
lab_wait_log 'to=<lab-wrong@wrongtlsa\.test>, .*dsn=4\.7\.5, status=deferred' 30
ok $? "delivery to wrongtlsa.test: deferred with dsn=4.7.5"

# ---------------------------------------------------------------- teardown
ns=$LAB_NETNS dir=$LAB_DIR
read -ra pids < <(ip netns pids "$ns" | tr '\n' ' ')
lab_down

# Gone, or a zombie about to be reaped by whoever inherited it.
gone() {
	local pid stat state
	for pid in "$@"; do
		read -r stat 2>/dev/null <"/proc/$pid/stat" || continue
		# The state follows the command name, which may contain spaces.
		state=${stat##*) } state=${state%% *}
		[[ $state == Z ]] || { diag "pid $pid still there: $(ps -o pid=,stat=,comm= -p "$pid")"; return 1; }
	done
}
ok "lab_down: all ${#pids[@]} processes of the lab are gone" gone "${pids[@]}"
out=$(ip netns list | awk -v ns="$ns" '$1 == ns')
is "$out" "" "lab_down: namespace deleted"
ok "lab_down: /etc/netns/$ns removed" test ! -e "/etc/netns/$ns"
if [[ ${LAB_KEEP:-0} == 1 ]]; then
	skip "LAB_KEEP=1"
else
	ok "lab_down: LAB_DIR removed" test ! -e "$dir"
fi

tap_done
