#!/usr/bin/env bash
# t-selfcheck.sh - `tlspolicy selfcheck` against lab domains that are each
# broken in one known way (lab.sh, sts.sh): each gives its finding's code,
# with the severity and exit status the man page gives, and no failure of
# another code; JSON and text agree. Short on purpose: one lab, the
# receiving servers and the MTA-STS policies, no daemon.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"

for tool in jq nginx; do
	command -v "$tool" >/dev/null 2>&1 || bail_out "$tool is not installed (./dev test installs it)"
done
lab_start
lab_mail_up || bail_out "mail servers did not start"
lab_https_up || bail_out "lab_https_up failed"
lab_zonecheck_up || bail_out "the DNS checks' name servers did not start"
daemon_conf "probe_timeout = 3s" "sts_ca_file = $LAB_CA" "sts_allow_private = yes" "sts_fetch_timeout = 3s"

# selfcheck DOMAIN: the JSON line on $json, its exit status on $rc.
run_check() {
	json=$(tlsp selfcheck --json "$1" 2>&1)
	rc=$?
}

# "SEVERITY CODE" of every warning and failure, sorted, one line.
problems() {
	jq -r '.findings[] | select(.severity != "ok") | "\(.severity) \(.code)"' <<<"$json" 2>&1 | sort -u | paste -sd' '
}

# domain | exit status | the warnings and failures it must give, exactly
cases=(
	"ta.test|0|"
	"good.test|1|warn rollover-unready"
	"wrongtlsa.test|2|fail tlsa-mismatch"
	"notlsa.test|1|warn no-tlsa"
	# mx1.good.test and mx.notlsa.test: lab certificates made together
	"mixed.test|1|warn no-tlsa warn renewal-unstaggered warn rollover-unready"
	"insecure.test|1|warn host-insecure warn mx-insecure"
	"unsignedmx.test|1|warn host-insecure"
	"pkix.test|1|warn tlsa-unusable"
	# Nothing listens at mx.bogustlsa.test's address.
	"bogustlsa.test|2|fail tlsa-lookup-failed warn unreachable"
	# An RSA and an ECDSA certificate: TLSA for the ECDSA key alone; for
	# both (and the lab CA).
	"dualkey.test|2|fail cert-type-uncovered"
	"dualboth.test|0|"
	"expiring.test|1|warn cert-expiring"
	# TLSA records, and the server offers no STARTTLS
	"starttlsgone.test|2|fail starttls-missing"
	# mx.ta.test and mx.dualboth.test, clean each, renewed the same day
	"sameday.test|1|warn renewal-unstaggered"
	# MTA-STS (sts.sh): its MX host mx.stsgood.test has no TLSA.
	"stsgood.test|1|warn no-tlsa"
	"stsuntrusted.test|1|warn no-tlsa warn sts-mismatch"
	# The enforce policy covers mx.wrongname.test, whose certificate
	# names other.example.
	"stswrongname.test|2|fail sts-mismatch warn no-tlsa"
	# The DNS checks (zonecheck.sh): mail works, one thing in DNS does not.
	"sigexp.test|1|warn rrsig-expiring"
	"nsec3iter.test|1|warn nsec3-iterations"
	"nsstale.test|1|warn ns-inconsistent"
	"nsdrop.test|1|warn ns-inconsistent"
	"denialbroken.test|1|warn denial-broken"
)
# Every domain in one run, as an administrator checks several: one JSON
# line each, the domains checked at once. Each one's status is its worst
# severity, as its exit status alone would be; single runs below check
# that mapping and the exit status of the whole.
declare -A got
domains=()
for c in "${cases[@]}"; do
	domains+=("${c%%|*}")
done
all=$(tlsp selfcheck --json "${domains[@]}" 2>&1)
all_rc=$?
while IFS= read -r line; do
	d=$(jq -r '.domain' <<<"$line" 2>/dev/null) && got[$d]=$line
done <<<"$all"
status_of() {
	jq -r 'if .error then 3 elif any(.findings[]; .severity == "fail") then 2
		elif any(.findings[]; .severity == "warn") then 1 else 0 end' <<<"$1" 2>&1
}
worst=0
for c in "${cases[@]}"; do
	IFS='|' read -r dest want_rc want <<<"$c"
	json=${got[$dest]:-}
	is "$(status_of "$json")" "$want_rc" "$dest: status $want_rc"
	is "$(problems)" "$want" "$dest: ${want:-no warning or failure}"
	((want_rc > worst)) && worst=$want_rc
done
is "$all_rc" "$worst" "all at once: the exit status is the worst domain's"
is "$(wc -l <<<"$all")" "${#cases[@]}" "all at once: one line per domain"
is "$(jq -r '.domain' <<<"$all" 2>&1 | paste -sd' ')" "${domains[*]}" "all at once: in the order named"
for d in ta.test good.test wrongtlsa.test; do
	run_check "$d"
	is "$rc" "$(status_of "${got[$d]}")" "$d alone: the exit status is its status"
done

# The key types for real: the RSA chain is the one no record matches,
# and the fix is the record for the RSA certificate's key.
rsa_spki=$(_lab_spki_sha256 "$LAB_DIR/tls/dual.rsa.crt")
json=${got[dualkey.test]}
is "$(jq -r '.findings[] | select(.code == "cert-type-uncovered") | "\(.host) \(.address)"' <<<"$json")" \
	"mx.dualkey.test 127.0.1.18" "dualkey.test: cert-type-uncovered names the host and address"
like "$(jq -r '.findings[] | select(.code == "cert-type-uncovered") | .fix' <<<"$json")" \
	"^publish _25\\._tcp\\.mx\\.dualkey\\.test IN TLSA 3 1 1 $rsa_spki for the RSA key" \
	"dualkey.test: the fix is the TLSA record of the RSA certificate's key"
json=${got[dualboth.test]}
is "$(jq -r '.findings[] | select(.code == "cert-type-uncovered") | .severity' <<<"$json")" ok \
	"dualboth.test: cert-type-uncovered ran (both handshakes made) and passed"
json=${got[expiring.test]}
like "$(jq -r '.findings[] | select(.code == "cert-expiring") | .detail' <<<"$json")" \
	"certificate /CN=mx\\.expiring\\.test expires " "expiring.test: cert-expiring names the certificate"

# MTA-STS: the ok finding where it works; the policy changed so that its
# mx patterns miss the MX host (stschange.test, whose policy can change).
sts_of() { jq -r ".findings[] | select(.code == \"sts-mismatch\") | .$2" <<<"${got[$1]}"; }
is "$(sts_of stsgood.test severity)" ok "stsgood.test: sts-mismatch ok"
is "$(sts_of good.test severity)" "" "good.test (no MTA-STS): no sts-mismatch finding at all"
is "$(sts_of stsuntrusted.test host)" mta-sts.stsuntrusted.test "stsuntrusted.test: sts-mismatch names the mta-sts host"
like "$(sts_of stswrongname.test detail)" "^the certificate /CN=other\\.example that mx\\.wrongname\\.test presents .*: it does not name mx\\.wrongname\\.test;" \
	"stswrongname.test: sts-mismatch says the MX host's certificate names another host"
lab_sts_set stschange.test miss1 enforce mx.elsewhere.test || bail_out "lab_sts_set failed"
run_check stschange.test
is "$rc" 2 "stschange.test, mx: mx.elsewhere.test: exit status 2"
is "$(problems)" "fail sts-mismatch warn no-tlsa" "stschange.test, mx: mx.elsewhere.test: fail sts-mismatch"
like "$(jq -r '.findings[] | select(.code == "sts-mismatch") | .fix' <<<"$json")" '^add "mx: mx\.stsgood\.test"' \
	"stschange.test: the fix names the pattern to add"

# The text: the heading, failures before passes, the fix under each.
out=$(tlsp selfcheck good.test wrongtlsa.test 2>&1)
rc=$?
is "$rc" 2 "two domains: the worst exit status (failed)"
like "$out" $'^good\\.test: warned \\(0 failed, 1 warned, [0-9]+ passed\\)\n  warn rollover-unready mx1\\.good\\.test: ' \
	"text: good.test's heading, then its warning first"
like "$out" $'\n       fix: (publish _25\\._tcp\\.mx1\\.good\\.test IN TLSA 2 1 1 [0-9a-f]{64}|make the next key now)' \
	"text: rollover-unready's fix names the record to publish"
like "$out" $'\nwrongtlsa\\.test: failed \\(1 failed, [0-9]+ warned, [0-9]+ passed\\)\n  fail tlsa-mismatch mx\\.wrongtlsa\\.test\\[127\\.0\\.1\\.2\\]: ' \
	"text: wrongtlsa.test's failure names the host and address"
like "$out" $'\n  ok   mx-insecure: the MX RRset is DNSSEC-signed\n' "text: passed checks listed as ok"

# JSON: one line per domain, the issue's fields.
json=$(tlsp selfcheck --json ta.test wrongtlsa.test 2>&1)
is "$(wc -l <<<"$json")" 2 "JSON: one line per domain"
is "$(jq -c 'keys' <<<"$json" | sort -u | paste -sd' ')" '["domain","findings"]' "JSON: domain and findings"
is "$(jq -c '.findings[] | keys' <<<"$json" | sort -u)" '["address","code","detail","fix","host","severity"]' \
	"JSON: every finding has code, severity, host, address, detail, fix"

# The DNS checks' evidence: which signature and when, which server and
# which serial, which question.
detail() {
	jq -r --arg c "$1" '.findings[] | select(.code == $c and .severity != "ok") | "\(.host)[\(.address)] \(.detail)"' <<<"$json" | sort
}
json=${got[sigexp.test]}
like "$(detail rrsig-expiring)" $'^null\[null\] the signature over sigexp\.test DNSKEY expires at [0-9T:-]+Z \(in (1\.9|2\.0) days\)\n' \
	"sigexp.test: the DNSKEY signature, when it expires"
like "$(detail rrsig-expiring)" $'\nnull\[null\] the signature over sigexp\.test MX expires at ' "sigexp.test: the MX signature too"
tlsp selfcheck --rrsig-days 1 sigexp.test >/dev/null 2>&1
is "$?" 0 "sigexp.test with --rrsig-days 1: passed"
json=${got[nsstale.test]}
is "$(detail ns-inconsistent)" "ns-stale.test[$LAB_ZC_NSD_ADDR] ns-stale.test serves serial 1 of nsstale.test; ns.test [$LAB_NSD_ADDR] serves 2" \
	"nsstale.test: the stale server and both serials"
json=${got[nsdrop.test]}
like "$(detail ns-inconsistent)" "^ns-droptlsa\\.test\\[$LAB_ZC_DROPTLSA_ADDR\\] ns-droptlsa\\.test does not answer the TLSA question for _25\\._tcp\\.mx\\.nsdrop\\.test \\(timeout" \
	"nsdrop.test: the server that drops TLSA questions"
json=${got[denialbroken.test]}
is "$(detail denial-broken)" "null[null] the TYPE65280 question at denialbroken.test, a name that exists, gave SERVFAIL; a validated NODATA was expected" \
	"denialbroken.test: the question that was not denied"
json=${got[nsec3iter.test]}
is "$(detail nsec3-iterations)" "null[null] the NSEC3 records of nsec3iter.test use 5 extra iterations and opt-out (seen at ns.test [$LAB_NSD_ADDR])" \
	"nsec3iter.test: the iterations and opt-out"
json=${got[ta.test]}
is "$(jq -r '.findings[] | select(.severity == "ok") | .code' <<<"$json" | grep -cE '^(rrsig-expiring|denial-broken|ns-inconsistent|nsec3-iterations)$')" 4 \
	"ta.test: every DNS check ran and passed"

run_check nullmx.test
is "$rc" 3 "nullmx.test: exit status 3 (could not check: no MX host)"
is "$(jq -r '.error' <<<"$json")" "nullmx.test accepts no mail (null MX)" "nullmx.test: the reason says null MX"

tlsp selfcheck --days x good.test >/dev/null 2>&1
is "$?" 3 "a bad --days: exit status 3"
tlsp selfcheck --rrsig-days -1 good.test >/dev/null 2>&1
is "$?" 3 "a bad --rrsig-days: exit status 3"

# The monitor: the daemon checks ta.test every second. Its MX host's
# certificate is swapped for a self-signed one, as a renewal that forgot
# the TLSA records would; then the right one comes back.
factor=${LAB_TIME_FACTOR:-1}
alert_hook
daemon_conf "probe_timeout = 3s" "monitor_domains = ta.test" "monitor_interval = 1s" \
	"alert_command = $ALERT_HOOK" "alert_interval = 0s"
daemon_start || bail_out "tlspolicyd did not start"

# checks_logged STATUS: how many checks of ta.test ended so.
checks_logged() {
	grep -c "event=selfcheck domain=ta.test status=$1 " "$DAEMON_LOG"
}
# wait_checks STATUS N: until N checks of ta.test ended so (30 s at most).
wait_checks() {
	local i
	for ((i = 0; i < 300 * factor; i++)); do
		(($(checks_logged "$1") >= $2)) && return 0
		sleep 0.1
	done
	return 1
}
# serve_cert PEM: mx.ta.test presents PEM from its next connection on.
serve_cert() {
	cp "$1" "$LAB_DIR/tls/mx.ta.test.pem" && lab_exec postfix -c "$LAB_DIR/mx" reload >/dev/null 2>&1
}
field() {
	sed -n "s/^TLSPOLICY_ALERT_$2=//p" "$1"
}

wait_checks passed 1
ok $? "monitor: ta.test checked and passed"
is "$(ls "$LAB_DIR"/alerts 2>/dev/null | wc -l)" 0 "monitor: no alert while it passes"

cp "$LAB_DIR/tls/mx.ta.test.pem" "$LAB_DIR/mx.ta.test.pem.good"
serve_cert "$LAB_DIR/tls/mx.wrongtlsa.test.pem" || diag "the certificate could not be swapped"
wait_alert selfcheck-failed
failed=$(alerts selfcheck-failed)
is "$(wc -w <<<"$failed")" 1 "monitor: one alert when the certificate no longer matches"
is "$(field "$failed" DEST)" ta.test "monitor: the alert names the domain"
is "$(field "$failed" PROBLEMS)" "tlsa-mismatch mx.ta.test[127.0.1.9]" "monitor: the alert names the problem and where"
like "$(field "$failed" FIX)" "TLSA" "monitor: the alert carries the fix"
failed_checks=$(checks_logged failed)
wait_checks failed $((failed_checks + 1))
is "$(alerts selfcheck-failed | wc -w)" 1 "monitor: no second alert while it stays broken"

serve_cert "$LAB_DIR/mx.ta.test.pem.good" || diag "the certificate could not be restored"
wait_alert selfcheck-recovered
recovered=$(alerts selfcheck-recovered)
is "$(field "$recovered" RECOVERED)" "tlsa-mismatch mx.ta.test[127.0.1.9]" "monitor: one recovery message naming it"
passed_checks=$(checks_logged passed)
wait_checks passed $((passed_checks + 1))
is "$(alerts selfcheck-recovered | wc -w)" 1 "monitor: the recovery is told once"
is "$(alerts selfcheck-failed | wc -w)" 1 "monitor: and nothing worse since"

# A reload that keeps ta.test keeps what its checks found: no alert anew.
# One without monitor_domains stops the checks.
reloads=$(grep -c "event=reload result=ok" "$DAEMON_LOG")
kill -HUP "$DAEMON_PID"
passed_checks=$(checks_logged passed)
wait_checks passed $((passed_checks + 2))
is "$(grep -c "event=reload result=ok" "$DAEMON_LOG")" $((reloads + 1)) "monitor: reloaded"
is "$(ls "$LAB_DIR"/alerts | wc -l)" 2 "monitor: a reload keeping the domain raises nothing anew"
daemon_conf "probe_timeout = 3s" "alert_command = $ALERT_HOOK"
kill -HUP "$DAEMON_PID"
for ((i = 0; i < 50 * factor; i++)); do
	(($(grep -c "event=reload result=ok" "$DAEMON_LOG") > reloads + 1)) && break
	sleep 0.1
done
sleep 0.5
checks=$(grep -c "event=selfcheck " "$DAEMON_LOG")
sleep 1.5
is "$(grep -c "event=selfcheck " "$DAEMON_LOG")" "$checks" "monitor: no check once monitor_domains is emptied"
daemon_stop
tap_done
