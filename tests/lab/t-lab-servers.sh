#!/bin/bash
# t-lab-servers.sh - proves every lab mail server is what it claims to be, by
# what posttls-finger (Debian's postfix package) and openssl s_client report
# against it.  The prober's tests (t-probe.sh) map posttls-finger's output to
# their classes; the lines asserted here are the ones that decide:
#
#   server               address        class           decisive posttls-finger output
#   mx1.good.test        127.0.1.1:25   dane-verified   Matched DANE EE certificate at depth 0
#   mx.ta.test           127.0.1.9:25   dane-verified   Matched DANE TA certificate at depth 1
#   mx.wrongtlsa.test    127.0.1.2:25   dane-mismatch   num=65:no matching DANE TLSA records
#   mx.notlsa.test       127.0.1.3:25   verified        (-F lab CA) Verified TLS connection
#   mx.wrongname.test    127.0.1.11:25  trusted         (-l may -F lab CA) Trusted TLS connection
#   mx.selfsigned.test   127.0.1.10:25  untrusted       self-signed certificate / Untrusted
#   mx.nostarttls.test   127.0.1.12:25  plaintext       no 250-STARTTLS in the EHLO reply
#   mx.tlsfail.test      127.0.1.13:25  tls-failed      220 to STARTTLS, then SSL_connect error
#   mx.silent.test       127.0.1.14:25  (timeout)       timeout while reading server greeting
#   mx.slow.test         127.0.1.15:25  verified        as mx.notlsa.test, LAB_SLOW_DELAY_MS late
#
# Each server is asked as [host] and as its domain (through the MX record).
# posttls-finger exits 0 whatever it finds: only its output counts.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lab.sh"

lab_start
t0=$(_lab_ms)
lab_mail_up || bail_out "lab_mail_up failed"
diag "lab_mail_up took $(($(_lab_ms) - t0)) ms"
# The sending instance only provides posttls-finger's MAIL_CONFIG.
: >"$LAB_DIR/tls_policy"
lab_sender_up "texthash:$LAB_DIR/tls_policy" || bail_out "lab_sender_up failed"

delay=${LAB_SLOW_DELAY_MS:-2000}
out=$LAB_DIR/out
mkdir -p "$out"

# finger ARGS...: posttls-finger in the lab; the command and its output also
# go to the test log as diag (fd 3), except in background jobs (bg).
exec 3>&1
quiet=0
finger() {
	local text
	text=$(lab_exec timeout 120 env MAIL_CONFIG="$LAB_SENDER" posttls-finger "$@" 2>&1)
	((quiet)) || diag "\$ posttls-finger $*"$'\n'"$text" >&3
	printf '%s\n' "$text"
}

# s_client ADDR ARGS...: openssl s_client -starttls smtp, nothing to send.
s_client() {
	local addr=$1
	shift
	lab_exec timeout 60 openssl s_client -starttls smtp -connect "$addr:25" "$@" </dev/null 2>&1
}

# has OUTPUT TEXT DESC / hasnt OUTPUT TEXT DESC: TEXT is literal, not a regex.
has() {
	if [[ $1 == *"$2"* ]]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "  wanted: '$2'"$'\n'"  in: $1"
	fi
}
hasnt() {
	if [[ $1 != *"$2"* ]]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "  unwanted: '$2'"$'\n'"  in: $1"
	fi
}

crt() { echo "$LAB_DIR/tls/$1.crt"; }
spki() { _lab_spki_sha256 "$1" | tr a-f A-F; }

# ---------------------------------------------------------------- slow ones
# The servers that take seconds run in the background meanwhile; their
# outputs are judged at the end.  bg NAME CMD... writes $out/NAME and the
# time it took, in ms, to $out/NAME.ms.
bgpids=()
bg() {
	local name=$1
	shift
	(
		quiet=1
		t=$(_lab_ms)
		"$@" >"$out/$name" 2>&1
		echo $(($(_lab_ms) - t)) >"$out/$name.ms"
	) &
	bgpids+=($!)
}

# many_sessions ADDR N: N connections at once to a slow STARTTLS server,
# every one taken through banner, EHLO and STARTTLS, a step at a time for
# all; prints "ok MS MS MS" (how long each step took for all N).
many_sessions() {
	local addr=$1 n=$2 i fd st line t0 t1 t2 t3 fds=()
	ms() { local t=${EPOCHREALTIME//[!0-9]/}; echo $((t / 1000)); }
	t0=$(ms)
	for ((i = 0; i < n; i++)); do
		exec {fd}<>"/dev/tcp/$addr/25" || { echo "connection $i failed"; return 1; }
		fds+=("$fd")
	done
	for fd in "${fds[@]}"; do
		IFS= read -r -t 60 -u "$fd" line && [[ $line == "220 "* ]] ||
			{ echo "banner on fd $fd: '$line'"; return 1; }
	done
	t1=$(ms)
	for fd in "${fds[@]}"; do printf 'EHLO many.lab.test\r\n' >&"$fd"; done
	for fd in "${fds[@]}"; do
		st=0
		while IFS= read -r -t 60 -u "$fd" line; do
			[[ $line == 250-STARTTLS* ]] && st=1
			[[ $line == "250 "* ]] && break
		done
		((st)) || { echo "EHLO reply on fd $fd: no STARTTLS before '$line'"; return 1; }
	done
	t2=$(ms)
	for fd in "${fds[@]}"; do printf 'STARTTLS\r\n' >&"$fd"; done
	for fd in "${fds[@]}"; do
		IFS= read -r -t 60 -u "$fd" line && [[ $line == "220 "* ]] ||
			{ echo "STARTTLS reply on fd $fd: '$line'"; return 1; }
	done
	t3=$(ms)
	for fd in "${fds[@]}"; do exec {fd}>&-; done
	echo "ok $((t1 - t0)) $((t2 - t1)) $((t3 - t2))"
}

# many_tls ADDR NAME CA N DIR: N s_client TLS sessions at once; prints how
# many verified.
many_tls() {
	local addr=$1 name=$2 ca=$3 n=$4 dir=$5 i
	for ((i = 0; i < n; i++)); do
		timeout 60 openssl s_client -starttls smtp -connect "$addr:25" \
			-servername "$name" -CAfile "$ca" -verify_hostname "$name" \
			</dev/null >"$dir/tls$i" 2>&1 &
	done
	wait
	grep -l "Verify return code: 0 (ok)" "$dir"/tls* | wc -l
}

# Short timeouts for posttls-finger: half the delay, in whole seconds.
short=$((delay / 2000))
bg slow finger -l secure -F "$LAB_CA" "[mx.slow.test]"
bg slow-domain finger -c -l secure -F "$LAB_CA" slow.test
if ((short >= 1)); then
	bg slow-T finger -T "$short" -l may "[mx.slow.test]"
	bg slow-t finger -t "$short" -l may "[mx.slow.test]"
fi
bg silent finger -t 3 -l may "[mx.silent.test]"
bg silent-domain finger -c -t 3 -l may silent.test
bg many lab_exec bash -c "$(declare -f many_sessions); many_sessions 127.0.1.15 300"
mkdir -p "$out/tls"
bg many-tls lab_exec bash -c "$(declare -f many_tls); many_tls 127.0.1.15 mx.slow.test $LAB_CA 30 $out/tls"

# ---------------------------------------------------------------- certificates
is "$(openssl x509 -in "$(crt mx.selfsigned.test)" -noout -subject -issuer -ext subjectAltName)" \
	"subject=CN = mx.selfsigned.test
issuer=CN = mx.selfsigned.test
X509v3 Subject Alternative Name: 
    DNS:mx.selfsigned.test" "mx.selfsigned.test: self-signed, its own name"
is "$(openssl x509 -in "$(crt mx.wrongname.test)" -noout -subject -issuer -ext subjectAltName)" \
	"subject=CN = other.example
issuer=CN = tlspolicyd lab CA
X509v3 Subject Alternative Name: 
    DNS:other.example" "mx.wrongname.test: from the lab CA, for other.example"
is "$(openssl x509 -in "$(crt mx.slow.test)" -noout -subject -issuer -ext subjectAltName)" \
	"subject=CN = mx.slow.test
issuer=CN = tlspolicyd lab CA
X509v3 Subject Alternative Name: 
    DNS:mx.slow.test" "mx.slow.test: from the lab CA, its own name"
verifies() { openssl verify -CAfile "$LAB_CA" "$(crt "$1")" >/dev/null 2>&1; }
ok "mx.selfsigned.test's certificate does not verify with the lab CA" eval '! verifies mx.selfsigned.test'
ok "mx.wrongname.test's certificate verifies with the lab CA" verifies mx.wrongname.test
ok "mx.slow.test's certificate verifies with the lab CA" verifies mx.slow.test

# ---------------------------------------------------------------- DANE
mx1=$(spki "$(crt mx1.good.test)")
ca=$(spki "$LAB_CA")

for dest in "[mx1.good.test]" good.test; do
	o=$(finger -c -l dane "$dest")
	has "$o" "mx1.good.test[127.0.1.1]:25: Matched DANE EE certificate at depth 0: 3 1 1 $mx1" \
		"$dest -l dane: Matched DANE EE certificate at depth 0"
	has "$o" "Verified TLS connection established to mx1.good.test[127.0.1.1]:25: TLSv1.3" \
		"$dest -l dane: Verified TLS connection (dane-verified)"
done

for dest in "[mx.ta.test]" ta.test; do
	o=$(finger -c -l dane "$dest")
	has "$o" "mx.ta.test[127.0.1.9]:25: matched peername: mx.ta.test" \
		"$dest -l dane: DANE-TA checks the name"
	has "$o" "mx.ta.test[127.0.1.9]:25: Matched DANE TA certificate at depth 1: 2 1 1 $ca" \
		"$dest -l dane: Matched DANE TA certificate at depth 1"
	has "$o" "Verified TLS connection established to mx.ta.test[127.0.1.9]:25: TLSv1.3" \
		"$dest -l dane: Verified TLS connection (dane-verified)"
done

for dest in "[mx.wrongtlsa.test]" wrongtlsa.test; do
	o=$(finger -c -l dane "$dest")
	has "$o" "server certificate verification failed for mx.wrongtlsa.test[127.0.1.2]:25: num=65:no matching DANE TLSA records" \
		"$dest -l dane: no matching DANE TLSA records (dane-mismatch)"
	has "$o" "Untrusted TLS connection established to mx.wrongtlsa.test[127.0.1.2]:25: TLSv1.3" \
		"$dest -l dane: the session itself is Untrusted"
	hasnt "$o" "Matched DANE" "$dest -l dane: nothing matched"
done

# OpenSSL's own DANE code (the prober's) on the same servers and records.
tlsa() {
	lab_exec dig +short TLSA "$1" |
		awk '{ u = $1 " " $2 " " $3; $1 = $2 = $3 = ""; gsub(/ /, ""); print u " " $0 }'
}
o=$(s_client 127.0.1.1 -servername mx1.good.test -dane_tlsa_domain mx1.good.test \
	-dane_tlsa_rrdata "$(tlsa _25._tcp.mx1.good.test)")
has "$o" "DANE TLSA 3 1 1 ...$(tr A-F a-f <<<"${mx1: -24}") matched EE certificate at depth 0" \
	"s_client: mx1.good.test matches its 3 1 1"
has "$o" "Verify return code: 0 (ok)" "s_client: mx1.good.test DANE verified"
o=$(s_client 127.0.1.9 -servername mx.ta.test -dane_tlsa_domain mx.ta.test \
	-dane_tlsa_rrdata "$(tlsa _25._tcp.mx.ta.test)")
has "$o" "DANE TLSA 2 1 1 ...$(tr A-F a-f <<<"${ca: -24}") matched TA certificate at depth 1" \
	"s_client: mx.ta.test matches its 2 1 1 at depth 1"
has "$o" "Verify return code: 0 (ok)" "s_client: mx.ta.test DANE verified"
o=$(s_client 127.0.1.2 -servername mx.wrongtlsa.test -dane_tlsa_domain mx.wrongtlsa.test \
	-dane_tlsa_rrdata "$(tlsa _25._tcp.mx.wrongtlsa.test)")
has "$o" "Verify return code: 65 (no matching DANE TLSA records)" \
	"s_client: mx.wrongtlsa.test matches nothing"

# ---------------------------------------------------------------- PKIX
# No TLSA: -l secure against the lab CA (-F).  posttls-finger does not read
# smtp_tls_CAfile from main.cf: without -F the lab CA is unknown.
for dest in "[mx.notlsa.test]" notlsa.test; do
	o=$(finger -c -l secure -F "$LAB_CA" "$dest")
	has "$o" "mx.notlsa.test[127.0.1.3]:25: matched peername: mx.notlsa.test" \
		"$dest -l secure -F CA: name matched"
	has "$o" "Verified TLS connection established to mx.notlsa.test[127.0.1.3]:25: TLSv1.3" \
		"$dest -l secure -F CA: Verified TLS connection (verified)"
done
o=$(finger -c -l dane -F "$LAB_CA" "[mx.notlsa.test]")
has "$o" "Verified TLS connection established to mx.notlsa.test[127.0.1.3]:25" \
	"[mx.notlsa.test] -l dane -F CA: no TLSA, so level secure: Verified"
o=$(finger -c -l secure "[mx.notlsa.test]")
has "$o" "certificate verification failed for mx.notlsa.test[127.0.1.3]:25: untrusted issuer /CN=tlspolicyd lab CA" \
	"[mx.notlsa.test] -l secure, no CA file: untrusted issuer"
has "$o" "Untrusted TLS connection established to mx.notlsa.test[127.0.1.3]:25" \
	"[mx.notlsa.test] -l secure, no CA file: Untrusted TLS connection"
o=$(finger -c -l may -F "$LAB_CA" "[mx.notlsa.test]")
has "$o" "Trusted TLS connection established to mx.notlsa.test[127.0.1.3]:25" \
	"[mx.notlsa.test] -l may -F CA: Trusted (may checks no name)"
o=$(s_client 127.0.1.3 -servername mx.notlsa.test -CAfile "$LAB_CA" -verify_hostname mx.notlsa.test)
has "$o" "Verify return code: 0 (ok)" "s_client: mx.notlsa.test verifies with the lab CA and its name"

# Wrong name: the chain verifies, the name does not.  At -l secure that is
# a verification failure and the session is Untrusted; at -l may or
# encrypt (no name check) it is Trusted, Postfix's word for the class.
for dest in "[mx.wrongname.test]" wrongname.test; do
	o=$(finger -c -l secure -F "$LAB_CA" "$dest")
	has "$o" "server certificate verification failed for mx.wrongname.test[127.0.1.11]:25: num=62:hostname mismatch" \
		"$dest -l secure -F CA: hostname mismatch"
	has "$o" "mx.wrongname.test[127.0.1.11]:25: subject_CN=other.example, issuer_CN=tlspolicyd lab CA," \
		"$dest -l secure -F CA: certificate of other.example from the lab CA"
	has "$o" "Untrusted TLS connection established to mx.wrongname.test[127.0.1.11]:25" \
		"$dest -l secure -F CA: Untrusted TLS connection"
	o=$(finger -c -l may -F "$LAB_CA" "$dest")
	has "$o" "Trusted TLS connection established to mx.wrongname.test[127.0.1.11]:25: TLSv1.3" \
		"$dest -l may -F CA: Trusted TLS connection (trusted)"
done
o=$(finger -c -l encrypt -F "$LAB_CA" "[mx.wrongname.test]")
has "$o" "Trusted TLS connection established to mx.wrongname.test[127.0.1.11]:25" \
	"[mx.wrongname.test] -l encrypt -F CA: Trusted TLS connection"
o=$(finger -c -l may "[mx.wrongname.test]")
has "$o" "Untrusted TLS connection established to mx.wrongname.test[127.0.1.11]:25" \
	"[mx.wrongname.test] -l may, no CA file: Untrusted"
o=$(s_client 127.0.1.11 -servername mx.wrongname.test -CAfile "$LAB_CA" -verify_hostname mx.wrongname.test)
has "$o" "Verify return code: 62 (hostname mismatch)" "s_client: mx.wrongname.test hostname mismatch"
o=$(s_client 127.0.1.11 -servername mx.wrongname.test -CAfile "$LAB_CA")
has "$o" "Verify return code: 0 (ok)" "s_client: mx.wrongname.test chain valid without a name check"

# Self-signed: untrusted with or without the lab CA.
for dest in "[mx.selfsigned.test]" selfsigned.test; do
	o=$(finger -c -l secure -F "$LAB_CA" "$dest")
	has "$o" "certificate verification failed for mx.selfsigned.test[127.0.1.10]:25: self-signed certificate" \
		"$dest -l secure -F CA: self-signed certificate"
	has "$o" "mx.selfsigned.test[127.0.1.10]:25: subject_CN=mx.selfsigned.test, issuer_CN=mx.selfsigned.test," \
		"$dest -l secure -F CA: its own issuer"
	has "$o" "Untrusted TLS connection established to mx.selfsigned.test[127.0.1.10]:25: TLSv1.3" \
		"$dest -l secure -F CA: Untrusted TLS connection (untrusted)"
done
o=$(finger -c -l secure "[mx.selfsigned.test]")
has "$o" "certificate verification failed for mx.selfsigned.test[127.0.1.10]:25: self-signed certificate" \
	"[mx.selfsigned.test] -l secure, no CA file: self-signed certificate"
has "$o" "Untrusted TLS connection established to mx.selfsigned.test[127.0.1.10]:25" \
	"[mx.selfsigned.test] -l secure, no CA file: Untrusted TLS connection"
o=$(finger -c -l may "[mx.selfsigned.test]")
has "$o" "Untrusted TLS connection established to mx.selfsigned.test[127.0.1.10]:25" \
	"[mx.selfsigned.test] -l may: Untrusted TLS connection"
hasnt "$o" "verification failed" "[mx.selfsigned.test] -l may: no verification failure logged"
o=$(s_client 127.0.1.10 -servername mx.selfsigned.test -CAfile "$LAB_CA" -verify_hostname mx.selfsigned.test)
has "$o" "Verify return code: 18 (self-signed certificate)" "s_client: mx.selfsigned.test self-signed"

# ---------------------------------------------------------------- no TLS
# Without -c, to see the EHLO reply.
for dest in "[mx.nostarttls.test]" nostarttls.test; do
	o=$(finger -l secure -F "$LAB_CA" "$dest")
	has "$o" "posttls-finger: < 250-mx.nostarttls.test" "$dest: EHLO answered"
	has "$o" "posttls-finger: < 250 CHUNKING" "$dest: EHLO reply complete"
	hasnt "$o" "STARTTLS" "$dest: no STARTTLS in the EHLO reply, none sent (plaintext)"
	hasnt "$o" "TLS connection established" "$dest: no TLS connection"
	has "$o" "posttls-finger: > QUIT" "$dest: posttls-finger just quits (no error line)"
done
o=$(s_client 127.0.1.12 -servername mx.nostarttls.test)
has "$o" "Didn't find STARTTLS in server response" "s_client: mx.nostarttls.test offers no STARTTLS"

for dest in "[mx.tlsfail.test]" tlsfail.test; do
	o=$(finger -l secure -F "$LAB_CA" "$dest")
	has "$o" "posttls-finger: < 250-STARTTLS" "$dest: STARTTLS offered"
	has "$o" "posttls-finger: < 220 2.0.0 Ready to start TLS" "$dest: STARTTLS answered 220"
	has "$o" "posttls-finger: SSL_connect error to mx.tlsfail.test[127.0.1.13]:25: -1" \
		"$dest: SSL_connect error (tls-failed)"
	has "$o" "posttls-finger: warning: TLS library problem: error:0A00010B:SSL routines::wrong version number:" \
		"$dest: TLS library problem: wrong version number"
	hasnt "$o" "TLS connection established" "$dest: no TLS connection"
done
o=$(finger -c -l may "[mx.tlsfail.test]")
has "$o" "SSL_connect error to mx.tlsfail.test[127.0.1.13]:25" \
	"[mx.tlsfail.test] -l may: fails too (any client, any level)"
o=$(s_client 127.0.1.13 -servername mx.tlsfail.test)
has "$o" "wrong version number" "s_client: mx.tlsfail.test handshake fails (wrong version number)"

# ---------------------------------------------------------------- slow ones
wait "${bgpids[@]}"
took() { cat "$out/$1.ms"; }
# The background posttls-finger runs, for the log.
for f in silent silent-domain slow slow-domain slow-T slow-t; do
	[[ -f $out/$f ]] && diag "--- $f:"$'\n'"$(cat "$out/$f")"
done

o=$(cat "$out/silent")
has "$o" "posttls-finger: Connected to mx.silent.test[127.0.1.14]:25" "[mx.silent.test]: TCP connection accepted"
has "$o" "posttls-finger: timeout while reading server greeting" "[mx.silent.test] -t 3: timeout while reading server greeting"
hasnt "$o" "< 220" "[mx.silent.test]: no banner"
ok "[mx.silent.test] -t 3 gave up after 3 s ($(took silent) ms)" test "$(took silent)" -ge 2900
o=$(cat "$out/silent-domain")
has "$o" "posttls-finger: timeout while reading server greeting" "silent.test -t 3: timeout while reading server greeting"

o=$(cat "$out/slow")
has "$o" "posttls-finger: < 220 mx.slow.test ESMTP fakesmtp" "[mx.slow.test]: banner"
has "$o" "posttls-finger: < 250-STARTTLS" "[mx.slow.test]: STARTTLS offered"
has "$o" "posttls-finger: < 220 2.0.0 Ready to start TLS" "[mx.slow.test]: STARTTLS answered"
has "$o" "mx.slow.test[127.0.1.15]:25: matched peername: mx.slow.test" "[mx.slow.test] -l secure -F CA: name matched"
has "$o" "Verified TLS connection established to mx.slow.test[127.0.1.15]:25: TLSv1.3" \
	"[mx.slow.test] -l secure -F CA: Verified TLS connection"
has "$o" "posttls-finger: < 221 2.0.0 Bye" "[mx.slow.test]: QUIT answered over TLS"
# Banner, EHLO, STARTTLS, EHLO, QUIT: five replies, each delay late.
ms=$(took slow)
ok "[mx.slow.test]: five replies took $ms ms (${delay} ms each)" \
	test "$ms" -ge $((5 * delay - 100)) -a "$ms" -le $((5 * delay + 5000))
o=$(cat "$out/slow-domain")
has "$o" "Verified TLS connection established to mx.slow.test[127.0.1.15]:25" "slow.test -l secure -F CA: Verified"
if ((short >= 1)); then
	o=$(cat "$out/slow-T")
	has "$o" "posttls-finger: timeout while sending EHLO" \
		"[mx.slow.test] -T $short: timeout while sending EHLO (the reply is late)"
	o=$(cat "$out/slow-t")
	has "$o" "posttls-finger: timeout while reading server greeting" \
		"[mx.slow.test] -t $short: timeout while reading server greeting"
else
	skip "LAB_SLOW_DELAY_MS=$delay: too short for posttls-finger's whole-second timeouts" 2
fi

# 300 clients at once, each through three delayed replies: about three
# delays in all, where one connection at a time would take 900.
o=$(cat "$out/many")
like "$o" "^ok [0-9]+ [0-9]+ [0-9]+$" "mx.slow.test: 300 connections at once, banner, EHLO, STARTTLS on each"
read -r _ s1 s2 s3 <<<"$o"
ok "mx.slow.test: each step for all 300 took about ${delay} ms (${s1:-?} ${s2:-?} ${s3:-?})" \
	test "${s1:-0}" -ge $((delay - 100)) -a "${s1:-0}" -le $((delay + 5000)) \
	-a "${s2:-0}" -ge $((delay - 100)) -a "${s2:-0}" -le $((delay + 5000)) \
	-a "${s3:-0}" -ge $((delay - 100)) -a "${s3:-0}" -le $((delay + 5000))
is "$(cat "$out/many-tls")" 30 "mx.slow.test: 30 TLS sessions at once all verified"
ok "mx.slow.test: 30 TLS sessions at once took $(took many-tls) ms" \
	test "$(took many-tls)" -le $((3 * delay + 10000))

# ---------------------------------------------------------------- teardown
mapfile -t fakes < <(awk '$2 ~ /^fakesmtp-/ { print $1 }' "$LAB_DIR/pids")
is "${#fakes[@]}" 4 "four fakesmtp processes recorded"
lab_down
gone=0
for pid in "${fakes[@]}"; do
	[[ -e /proc/$pid && $(cat "/proc/$pid/comm" 2>/dev/null) == fakesmtp ]] && gone=1
done
is "$gone" 0 "lab_down stopped every fakesmtp"

tap_done
