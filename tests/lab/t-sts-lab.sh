#!/bin/bash
# t-sts-lab.sh - proves the lab's MTA-STS fixture (sts.sh) right before any
# tlspolicyd test relies on it: each STS domain's DNS records and their
# DNSSEC status, what nginx serves each mta-sts host (or why a fetch
# fails), what the reference resolver (postfix-mta-sts-resolver's
# mta-sts-daemon) answers, real deliveries with it as Postfix's policy map,
# lab_sts_set, lab_sts_break and lab_sts_mend, and a clean teardown.
#
# What mta-sts-daemon 1.1.2 answers (postmap -q DOMAIN
# socketmap:$LAB_STS_RESOLVER:postfix, right after lab_https_up and
# lab_sts_resolver_up; "-" = NOTFOUND: postmap prints nothing, exits 1),
# beside what tlspolicyd must answer by SPEC section 9 (not tested here):
#
#   domain                     mta-sts-daemon 1.1.2                          tlspolicyd (SPEC 9)
#   stsgood.test               secure match=mx.stsgood.test servername=hostname      the same
#   stswrongname.test          secure match=mx.wrongname.test servername=hostname    the same
#   ststesting.test            -                                                     may
#   stsnone.test               -                                                     may
#   stswild.test               secure match=.stsgood.test:mx.stsother.test servername=hostname
#                                                                                    the same
#   stschange.test             secure match=mx.stsgood.test servername=hostname      the same
#   stsflaky.test              secure match=mx.stsgood.test servername=hostname      the same
#   stscertname.test           -  (CERTIFICATE_VERIFY_FAILED: hostname mismatch)      may
#   stsuntrusted.test          -  (CERTIFICATE_VERIFY_FAILED: self-signed)            may
#   stsredirect.test           -  (status 301: it never follows redirects)           may
#   sts404.test                -                                                     may
#   stsbig.test                -  (over its 64 KiB limit)                            may
#   stsslow.test               -  after 4 s (its timeout)                            may
#   ststype.test               -  (not text/plain)                                   may
#   stsdane.test               secure match=mx1.good.test servername=hostname        dane-only (DANE first)
#   stsbogus.test              secure match=mx.stsgood.test servername=hostname      TEMP (bogus MX)
#                              (it never looks up the MX)
#   stsinsecure.insecure.test  secure match=mx.stsgood.test servername=hostname      the same
#   stsnotxt.test              -                                                     may
#
# Its match= list is the policy's mx lines with a leading "*" removed, in
# the order of a Python set: lab_sts_resolver_up fixes PYTHONHASHSEED, and
# this test checks the list sorted all the same.  Later:
#   stschange.test after lab_sts_set ... testing: -; after ... enforce again:
#     secure match=... for the new id's mx lines
#   stsflaky.test after lab_sts_break (TXT id unchanged): still secure
#     match=mx.stsgood.test, from its cache (RFC 8461: the policy stands
#     until max_age)
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lab.sh"

lab_require_root
for tool in nginx curl mta-sts-daemon; do
	command -v "$tool" >/dev/null 2>&1 || bail_out "$tool is not installed (./dev test installs it)"
done

export TLSP_SUITE=${TLSP_SUITE:-stslab$$}
LAB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tlsplab.XXXXXX") || bail_out "mktemp failed"
lab_traps

t0=$(_lab_ms)
lab_up || bail_out "lab_up failed"
diag "lab_up took $(($(_lab_ms) - t0)) ms"
t0=$(_lab_ms)
lab_https_up || bail_out "lab_https_up failed"
diag "lab_https_up took $(($(_lab_ms) - t0)) ms"
ok 0 "lab_https_up: nginx listens on $LAB_STS_HTTPS_ADDR:443"
lab_sts_resolver_up || bail_out "lab_sts_resolver_up failed"
ok 0 "lab_sts_resolver_up: mta-sts-daemon listens on ${LAB_STS_RESOLVER#inet:}"
env=$(cat "$LAB_DIR/env")
like "$env" $'(^|\n)LAB_STS_RESOLVER=inet:127\\.0\\.0\\.1:8461\n' "\$LAB_DIR/env names the reference resolver"
like "$env" $'(^|\n)LAB_STS_HTTPS_ADDR=127\\.0\\.4\\.1\n' "\$LAB_DIR/env names the HTTPS address"

out=$(mktemp -d "$LAB_DIR/t.XXXXXX")
POLICY_URL=/.well-known/mta-sts.txt

# The slow policy and the reference's lookup of it take seconds each: both
# in the background now, judged further down.
lab_exec curl -sS --cacert "$LAB_CA" --max-time 5 -o "$out/slow.body" \
	-w '%{http_code} %{content_type}' "https://mta-sts.stsslow.test$POLICY_URL" \
	>"$out/slow.w" 2>"$out/slow.err" &
slow_curl=$!
t_slow=$(_lab_ms)

# ---------------------------------------------------------------- DNS
# "DOMAIN MX TXT STATUS": MX as dig +short gives it (SERVFAIL: none);
# TXT yes or no; STATUS secure (AD bit on MX and TXT answers), insecure
# (no AD), bogusmx (MX SERVFAIL, the TXT secure).
dns_cases=(
	"stsgood.test 10_mx.stsgood.test. yes secure"
	"stswrongname.test 10_mx.wrongname.test. yes secure"
	"ststesting.test 10_mx.stsgood.test. yes secure"
	"stsnone.test 10_mx.stsgood.test. yes secure"
	"stswild.test 10_mx.stsgood.test. yes secure"
	"stschange.test 10_mx.stsgood.test. yes secure"
	"stsflaky.test 10_mx.stsgood.test. yes secure"
	"stscertname.test 10_mx.stsgood.test. yes secure"
	"stsuntrusted.test 10_mx.stsgood.test. yes secure"
	"stsredirect.test 10_mx.stsgood.test. yes secure"
	"sts404.test 10_mx.stsgood.test. yes secure"
	"stsbig.test 10_mx.stsgood.test. yes secure"
	"stsslow.test 10_mx.stsgood.test. yes secure"
	"ststype.test 10_mx.stsgood.test. yes secure"
	"stsdane.test 10_mx1.good.test. yes secure"
	"stsbogus.test - yes bogusmx"
	"stsinsecure.insecure.test 10_mx.stsgood.test. yes insecure"
	"stsnotxt.test 10_mx.stsgood.test. no secure"
)
listed=$(for c in "${dns_cases[@]}"; do echo "${c%% *}"; done | sort)
is "$listed" "$(lab_sts_domains | sort)" "this test knows every STS domain of sts.sh"

digq() { lab_exec dig +dnssec +tries=1 +time=3 "$@" 2>&1; }
AD=$'\n;; flags:[a-z ]* ad[ ;]'

for c in "${dns_cases[@]}"; do
	read -r d mx txt status <<<"$c"
	o=$(digq TXT "_mta-sts.$d")
	if [[ $txt == yes ]]; then
		like "$o" $'\n_mta-sts\\.'"${d//./\\.}"$'\\.[ \t0-9]+IN[ \t]+TXT[ \t]+"v=STSv1; id=lab1"\n' "$d: TXT v=STSv1; id=lab1"
	else
		like "$o" "status: NXDOMAIN" "$d: no TXT (NXDOMAIN)"
	fi
	if [[ $status == insecure ]]; then
		unlike "$o" "$AD" "$d: TXT answer insecure (no AD)"
	else
		like "$o" "$AD" "$d: TXT answer secure (AD)"
	fi
	o=$(digq MX "$d")
	case $status in
	bogusmx)
		like "$o" "status: SERVFAIL" "$d: MX SERVFAIL (bogus)"
		o=$(lab_exec dig +cd +short MX "$d")
		is "$o" "10 mx.stsgood.test." "$d: MX data with checking disabled"
		;;
	*)
		is "$(lab_exec dig +short MX "$d")" "${mx//_/ }" "$d: MX ${mx//_/ }"
		if [[ $status == secure ]]; then
			like "$o" "$AD" "$d: MX secure (AD)"
		else
			unlike "$o" "$AD" "$d: MX insecure (no AD)"
		fi
		;;
	esac
	is "$(lab_exec dig +short A "mta-sts.$d")" "$LAB_STS_HTTPS_ADDR" "mta-sts.$d A $LAB_STS_HTTPS_ADDR"
done
is "$(lab_exec dig +short A mx.stsgood.test)" 127.0.1.17 "mx.stsgood.test A 127.0.1.17"
o=$(digq TLSA _25._tcp.mx.stsgood.test)
like "$o" "status: NXDOMAIN" "mx.stsgood.test: no TLSA (NXDOMAIN)"
like "$o" "$AD" "mx.stsgood.test: the denial secure"
o=$(digq TLSA _25._tcp.mx1.good.test)
like "$o" "TLSA[[:space:]]+3 1 1 " "stsdane.test's host mx1.good.test has TLSA 3 1 1"
like "$o" "$AD" "stsdane.test's host: its TLSA secure"
o=$(lab_exec dig +norec @"$LAB_NSD_ADDR" TXT _mta-sts.stschange.test)
like "$o" $'\n_mta-sts\\.stschange\\.test\\.[ \t]+1[ \t]+IN[ \t]+TXT' "stschange.test: TXT TTL 1 s at the source"

# ---------------------------------------------------------------- HTTPS
# curl in the namespace, trusting the lab CA: "STATUS TYPE SIZE" and
# curl's exit status.
fetch() {
	local d=$1
	shift
	lab_exec curl -sS --cacert "$LAB_CA" --max-time 5 -o "$out/$d.body" \
		-w '%{http_code} %{content_type} %{size_download}' "$@" "https://mta-sts.$d$POLICY_URL" \
		2>"$out/$d.err"
}
for d in $(lab_sts_domains serve policy); do
	w=$(fetch "$d")
	ok $? "https://mta-sts.$d: fetched, the lab CA trusted"
	like "$w" "^200 text/plain [0-9]+$" "mta-sts.$d: 200 text/plain"
done
# The bodies are the policies of sts.sh's table.
while read -r d mode rest; do
	read -ra mx <<<"$rest"
	want=$(_lab_sts_policy_text "$mode" "${mx[@]}" | od -c)
	is "$(od -c <"$out/$d.body")" "$want" "mta-sts.$d: the policy ($mode${rest:+, mx $rest}), CRLF line ends"
done <<-'EOF'
	stsgood.test enforce mx.stsgood.test
	stswrongname.test enforce mx.wrongname.test
	ststesting.test testing mx.stsgood.test
	stsnone.test none
	stswild.test enforce *.stsgood.test mx.stsother.test
	stsdane.test enforce mx1.good.test
	stsinsecure.insecure.test enforce mx.stsgood.test
	stsnotxt.test enforce mx.stsgood.test
EOF

w=$(fetch stscertname.test)
is "$?" 60 "stscertname.test: curl refuses the certificate (exit 60)"
like "$(cat "$out/stscertname.test.err")" "subject name|does not match" "stscertname.test: because of its name"
o=$(lab_exec openssl s_client -connect "$LAB_STS_HTTPS_ADDR:443" -servername mta-sts.stscertname.test \
	-CAfile "$LAB_CA" </dev/null 2>&1)
like "$o" "subject=CN ?= ?mta-sts\.other\.example" "stscertname.test: certificate for mta-sts.other.example"
like "$o" "Verify return code: 0 \(ok\)" "stscertname.test: the certificate itself from the lab CA"
w=$(fetch stsuntrusted.test)
is "$?" 60 "stsuntrusted.test: curl refuses the certificate (exit 60)"
like "$(cat "$out/stsuntrusted.test.err")" "self.signed" "stsuntrusted.test: because it is self-signed"
w=$(fetch stsuntrusted.test -k)
like "$w" "^200 text/plain " "stsuntrusted.test: a policy behind it all the same (curl -k)"

w=$(lab_exec curl -sS --cacert "$LAB_CA" --max-time 5 -o /dev/null -w '%{http_code} %{redirect_url}' \
	"https://mta-sts.stsredirect.test$POLICY_URL")
is "$w" "301 https://mta-sts.stsgood.test$POLICY_URL" "stsredirect.test: 301 to mta-sts.stsgood.test's policy"
w=$(fetch sts404.test)
like "$w" "^404 " "sts404.test: 404"
w=$(fetch stsbig.test)
read -r code type size <<<"$w"
is "$code $type" "200 text/plain" "stsbig.test: 200 text/plain"
ok "stsbig.test: body of $size bytes, at least 70 KiB" test "$size" -ge $((70 * 1024))
like "$(head -c 200 "$out/stsbig.test.body")" "^version: STSv1"$'\r\n'"mode: enforce" "stsbig.test: a policy, padded"
w=$(fetch ststype.test)
like "$w" "^200 text/html [0-9]+$" "ststype.test: 200 text/html"
# A name nginx does not serve gets no certificate at all.
lab_exec curl -sS --cacert "$LAB_CA" --max-time 5 --resolve "mta-sts.nosuch.test:443:$LAB_STS_HTTPS_ADDR" \
	-o /dev/null "https://mta-sts.nosuch.test$POLICY_URL" 2>/dev/null
isnt "$?" 0 "an unknown SNI name: handshake refused"

wait "$slow_curl"
is "$?" 28 "stsslow.test: curl times out after 5 s (exit 28)"
like "$(cat "$out/slow.w")" "^200 text/plain$" "stsslow.test: 200 text/plain, the headers in time"
size=$(stat -c %s "$out/slow.body")
ok "stsslow.test: $size bytes in 5 s, less than the body's $_LAB_STS_SLOW_BYTES" \
	test "$size" -lt "$_LAB_STS_SLOW_BYTES"

o=$(grep -c '^mta-sts\.stsgood\.test "GET /\.well-known/mta-sts\.txt HTTP/1\.1" 200 ' "$LAB_STS_ACCESS_LOG")
is "$o" 1 "the access log has the SNI name, request and status"

# ---------------------------------------------------------------- reference
lab_mail_up || bail_out "lab_mail_up failed"
ok "mx.stsgood.test listens on 127.0.1.17:25" _lab_listening 127.0.1.17:25
MAP=socketmap:$LAB_STS_RESOLVER:postfix
lab_sender_up "$MAP" || bail_out "lab_sender_up failed"

# query DOMAIN: "RC ANSWER" with the match= list sorted.
query() {
	local o rc m
	o=$(lab_exec postmap -c "$LAB_SENDER" -q "$1" "$MAP" 2>&1)
	rc=$?
	if [[ $o =~ match=([^ ]*) ]]; then
		m=$(tr ':' '\n' <<<"${BASH_REMATCH[1]}" | sort | paste -sd:)
		o=${o/match=${BASH_REMATCH[1]}/match=$m}
	fi
	echo "$rc $o"
}
query stsslow.test >"$out/slow.ref" &
slow_ref=$!
t_slow=$(_lab_ms)

# "DOMAIN ANSWER" ("-": NOTFOUND), match= lists sorted: the table above.
ref_cases=(
	"stsgood.test secure match=mx.stsgood.test servername=hostname"
	"stswrongname.test secure match=mx.wrongname.test servername=hostname"
	"ststesting.test -"
	"stsnone.test -"
	"stswild.test secure match=.stsgood.test:mx.stsother.test servername=hostname"
	"stschange.test secure match=mx.stsgood.test servername=hostname"
	"stsflaky.test secure match=mx.stsgood.test servername=hostname"
	"stscertname.test -"
	"stsuntrusted.test -"
	"stsredirect.test -"
	"sts404.test -"
	"stsbig.test -"
	"ststype.test -"
	"stsdane.test secure match=mx1.good.test servername=hostname"
	"stsbogus.test secure match=mx.stsgood.test servername=hostname"
	"stsinsecure.insecure.test secure match=mx.stsgood.test servername=hostname"
	"stsnotxt.test -"
)
for c in "${ref_cases[@]}"; do
	d=${c%% *} want=${c#* }
	if [[ $want == - ]]; then
		is "$(query "$d")" "1 " "mta-sts-daemon: $d NOTFOUND"
	else
		is "$(query "$d")" "0 $want" "mta-sts-daemon: $d $want"
	fi
done
wait "$slow_ref"
is "$(cat "$out/slow.ref")" "1 " "mta-sts-daemon: stsslow.test NOTFOUND"
diag "mta-sts-daemon: stsslow.test took $(($(_lab_ms) - t_slow)) ms"
o=$(grep "STS policy fetch for domain 'stscertname.test' failed" "$LAB_STS_RESOLVER_LOG")
like "$o" "CERTIFICATE_VERIFY_FAILED" "mta-sts-daemon: stscertname.test refused for its certificate"
o=$(grep "STS policy fetch for domain 'stsuntrusted.test' failed" "$LAB_STS_RESOLVER_LOG")
like "$o" "CERTIFICATE_VERIFY_FAILED" "mta-sts-daemon: stsuntrusted.test refused for its certificate"

# Real deliveries with the reference as the policy map: the certificate of
# mx.stsgood.test matches, mx.wrongname.test's names other.example.
lab_send lab-sts@stsgood.test
lab_send lab-sts@stswrongname.test
lab_wait_log 'Verified TLS connection established to mx\.stsgood\.test\[127\.0\.1\.17\]:25' 30
ok $? "delivery to stsgood.test: Verified TLS connection to mx.stsgood.test"
lab_wait_log 'to=<lab-sts@stsgood\.test>, relay=mx\.stsgood\.test\[127\.0\.1\.17\]:25, .*status=sent' 30
ok $? "delivery to stsgood.test: sent"
lab_wait_log 'to=<lab-sts@stswrongname\.test>, .*dsn=4\.7\.5, status=deferred' 30
ok $? "delivery to stswrongname.test: deferred with dsn=4.7.5 (certificate names other.example)"

# ---------------------------------------------------------------- changes
lab_sts_set stsgood.test x enforce mx.stsgood.test 2>/dev/null >&2
isnt "$?" 0 "lab_sts_set refuses a domain whose TXT cannot change"

t0=$(_lab_ms)
lab_sts_set stschange.test change2 testing mx.stsgood.test
ok $? "lab_sts_set stschange.test change2 testing"
diag "lab_sts_set took $(($(_lab_ms) - t0)) ms"
o=$(digq TXT _mta-sts.stschange.test)
like "$o" '"v=STSv1; id=change2"' "stschange.test: the resolver gives id=change2"
like "$o" "$AD" "stschange.test: the new TXT secure"
w=$(fetch stschange.test)
is "$(od -c <"$out/stschange.test.body")" "$(_lab_sts_policy_text testing mx.stsgood.test | od -c)" \
	"stschange.test: the policy now in mode testing"
is "$(query stschange.test)" "1 " "mta-sts-daemon: stschange.test NOTFOUND (testing)"
lab_sts_set stschange.test change3 enforce mx.stsgood.test '*.good.test'
ok $? "lab_sts_set stschange.test change3 enforce"
is "$(query stschange.test)" "0 secure match=.good.test:mx.stsgood.test servername=hostname" \
	"mta-sts-daemon: stschange.test enforce again, both mx lines"

lab_sts_break stsflaky.test
ok $? "lab_sts_break stsflaky.test"
w=$(fetch stsflaky.test)
like "$w" "^404 " "stsflaky.test: 404 once broken"
# Past mta-sts-daemon's cache_grace (1 s) it looks at the TXT again, finds
# the id it has, and keeps the policy without fetching.
lookups() { grep -c 'Lookup PERFORMED: domain = stsflaky.test$' "$LAB_STS_RESOLVER_LOG"; }
n=$(lookups)
sleep 1.1
is "$(query stsflaky.test)" "0 secure match=mx.stsgood.test servername=hostname" \
	"mta-sts-daemon: stsflaky.test keeps its cached policy (same id)"
is "$(lookups)" $((n + 1)) "mta-sts-daemon: ... after looking at stsflaky.test's TXT again"
lab_sts_mend stsflaky.test
ok $? "lab_sts_mend stsflaky.test"
w=$(fetch stsflaky.test)
like "$w" "^200 text/plain " "stsflaky.test: served again"

# Started again: one process, recorded once, answering.
lab_sts_resolver_up
ok $? "lab_sts_resolver_up again"
is "$(awk '$2 == "mta-sts-daemon"' "$LAB_DIR/pids" | wc -l)" 1 "one mta-sts-daemon recorded"
is "$(query stsgood.test)" "0 secure match=mx.stsgood.test servername=hostname" \
	"mta-sts-daemon, restarted: stsgood.test answered"

# ---------------------------------------------------------------- teardown
# nginx runs as one process (no workers to rename themselves), so every
# process of the lab carries the suite's marker.
unmarked=()
for pid in $(ip netns pids "$LAB_NETNS"); do
	grep -qzxF "TLSP_SUITE=$TLSP_SUITE" "/proc/$pid/environ" 2>/dev/null && continue
	read -r stat 2>/dev/null <"/proc/$pid/stat" || continue
	state=${stat##*) } state=${state%% *}
	[[ $state == Z ]] || unmarked+=("$pid $(cat "/proc/$pid/comm" 2>/dev/null)")
done
is "${unmarked[*]}" "" "every process of the lab carries TLSP_SUITE (nginx and mta-sts-daemon too)"

ns=$LAB_NETNS dir=$LAB_DIR
read -ra sts_pids < <(awk '$2 == "nginx" || $2 == "mta-sts-daemon" { printf "%s ", $1 }' "$LAB_DIR/pids")
read -ra pids < <(ip netns pids "$ns" | tr '\n' ' ')
running=0
for pid in "${sts_pids[@]}"; do
	[[ " ${pids[*]} " == *" $pid "* ]] && running=$((running + 1))
done
is "$running" 2 "nginx and mta-sts-daemon run in the namespace"
lab_down

gone() {
	local pid stat state
	for pid in "$@"; do
		read -r stat 2>/dev/null <"/proc/$pid/stat" || continue
		state=${stat##*) } state=${state%% *}
		[[ $state == Z ]] || { diag "pid $pid still there: $(ps -o pid=,stat=,comm= -p "$pid")"; return 1; }
	done
}
ok "lab_down: nginx and mta-sts-daemon are gone" gone "${sts_pids[@]}"
ok "lab_down: all ${#pids[@]} processes of the lab are gone" gone "${pids[@]}"
is "$(ip netns list | awk -v ns="$ns" '$1 == ns')" "" "lab_down: namespace deleted"
if [[ ${LAB_KEEP:-0} == 1 ]]; then
	skip "LAB_KEEP=1"
else
	ok "lab_down: LAB_DIR removed" test ! -e "$dir"
fi

tap_done
