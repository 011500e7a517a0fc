#!/usr/bin/env bash
# t-selfcheck.sh - `tlspolicy selfcheck` against lab domains that are each
# broken in one known way (lab.sh): each gives its finding's code, with
# the severity and exit status the man page gives, and no failure of
# another code; JSON and text agree. Short on purpose: one lab, the
# receiving servers, no daemon.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"

command -v jq >/dev/null 2>&1 || bail_out "jq is not installed (./dev test installs it)"
lab_start
lab_mail_up || bail_out "mail servers did not start"
daemon_conf "probe_timeout = 3s"

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
)
for c in "${cases[@]}"; do
	IFS='|' read -r dest want_rc want <<<"$c"
	run_check "$dest"
	is "$rc" "$want_rc" "$dest: exit status $want_rc"
	is "$(problems)" "$want" "$dest: ${want:-no warning or failure}"
done

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

run_check nullmx.test
is "$rc" 3 "nullmx.test: exit status 3 (could not check: no MX host)"
is "$(jq -r '.error' <<<"$json")" "nullmx.test accepts no mail (null MX)" "nullmx.test: the reason says null MX"

tlsp selfcheck --days x good.test >/dev/null 2>&1
is "$?" 3 "a bad --days: exit status 3"

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

wait_checks passed 2
ok $? "monitor: ta.test checked and passed, twice"
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
wait_checks failed $((failed_checks + 2))
is "$(alerts selfcheck-failed | wc -w)" 1 "monitor: no second alert while it stays broken"

serve_cert "$LAB_DIR/mx.ta.test.pem.good" || diag "the certificate could not be restored"
wait_alert selfcheck-recovered
recovered=$(alerts selfcheck-recovered)
is "$(field "$recovered" RECOVERED)" "tlsa-mismatch mx.ta.test[127.0.1.9]" "monitor: one recovery message naming it"
passed_checks=$(checks_logged passed)
wait_checks passed $((passed_checks + 2))
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
sleep 2
is "$(grep -c "event=selfcheck " "$DAEMON_LOG")" "$checks" "monitor: no check once monitor_domains is emptied"
daemon_stop
tap_done
