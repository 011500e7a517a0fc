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
lab_zonecheck_up || bail_out "the DNS checks' name servers did not start"
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
	# The DNS checks (zonecheck.sh): mail works, one thing in DNS does not.
	"sigexp.test|1|warn rrsig-expiring"
	"nsec3iter.test|1|warn nsec3-iterations"
	"nsstale.test|1|warn ns-inconsistent"
	"nsdrop.test|1|warn ns-inconsistent"
	"denialbroken.test|1|warn denial-broken"
)
declare -A checked	# domain -> its JSON line, for the evidence below
for c in "${cases[@]}"; do
	IFS='|' read -r dest want_rc want <<<"$c"
	run_check "$dest"
	checked[$dest]=$json
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

# The DNS checks' evidence: which signature and when, which server and
# which serial, which question.
detail() {
	jq -r --arg c "$1" '.findings[] | select(.code == $c and .severity != "ok") | "\(.host)[\(.address)] \(.detail)"' <<<"$json" | sort
}
json=${checked[sigexp.test]}
like "$(detail rrsig-expiring)" $'^null\[null\] the signature over sigexp\.test DNSKEY expires at [0-9T:-]+Z \(in (1\.9|2\.0) days\)\n' \
	"sigexp.test: the DNSKEY signature, when it expires"
like "$(detail rrsig-expiring)" $'\nnull\[null\] the signature over sigexp\.test MX expires at ' "sigexp.test: the MX signature too"
tlsp selfcheck --rrsig-days 1 sigexp.test >/dev/null 2>&1
is "$?" 0 "sigexp.test with --rrsig-days 1: passed"
json=${checked[nsstale.test]}
is "$(detail ns-inconsistent)" "ns-stale.test[$LAB_ZC_NSD_ADDR] ns-stale.test serves serial 1 of nsstale.test; ns.test [$LAB_NSD_ADDR] serves 2" \
	"nsstale.test: the stale server and both serials"
json=${checked[nsdrop.test]}
like "$(detail ns-inconsistent)" "^ns-droptlsa\\.test\\[$LAB_ZC_DROPTLSA_ADDR\\] ns-droptlsa\\.test does not answer the TLSA question for _25\\._tcp\\.mx\\.nsdrop\\.test \\(timeout" \
	"nsdrop.test: the server that drops TLSA questions"
json=${checked[denialbroken.test]}
is "$(detail denial-broken)" "null[null] the TYPE65280 question at denialbroken.test, a name that exists, gave SERVFAIL; a validated NODATA was expected" \
	"denialbroken.test: the question that was not denied"
json=${checked[nsec3iter.test]}
is "$(detail nsec3-iterations)" "null[null] the NSEC3 records of nsec3iter.test use 5 extra iterations and opt-out (seen at ns.test [$LAB_NSD_ADDR])" \
	"nsec3iter.test: the iterations and opt-out"
json=${checked[ta.test]}
is "$(jq -r '.findings[] | select(.severity == "ok") | .code' <<<"$json" | grep -cE '^(rrsig-expiring|denial-broken|ns-inconsistent|nsec3-iterations)$')" 4 \
	"ta.test: every DNS check ran and passed"

run_check nullmx.test
is "$rc" 3 "nullmx.test: exit status 3 (could not check: no MX host)"
is "$(jq -r '.error' <<<"$json")" "nullmx.test accepts no mail (null MX)" "nullmx.test: the reason says null MX"

tlsp selfcheck --days x good.test >/dev/null 2>&1
is "$?" 3 "a bad --days: exit status 3"
tlsp selfcheck --rrsig-days -1 good.test >/dev/null 2>&1
is "$?" 3 "a bad --rrsig-days: exit status 3"
tap_done
