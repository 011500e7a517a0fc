#!/usr/bin/env bash
# t-sts-cmd.sh - `tlspolicy sts` and the MTA-STS part of `tlspolicy
# explain` against the lab's STS domains (sts.sh): for each kind of
# domain the exit status, the verdict and the fetch outcome, and the
# problem that tells the administrator what to fix; then explain's
# decision, from a check made here and from the policy the daemon cached.
#
# The commands run in the lab's namespace with the daemon's configuration
# (daemon.sh), trusting the lab CA for policy servers, allowing the lab's
# loopback addresses, and with a fetch deadline of 3 s so that
# stsslow.test (about 10 s) times out.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"

command -v jq >/dev/null 2>&1 || bail_out "jq is not installed (./dev test installs it)"
lab_start
lab_https_up || bail_out "lab_https_up failed"
daemon_conf "sts_ca_file = $LAB_CA" "sts_allow_private = yes" "sts_fetch_timeout = 3s"

# sts DOMAIN: text on $out, JSON on $json, exit statuses on $rc, $jrc.
run_sts() {
	out=$(tlsp sts "$1" 2>&1)
	rc=$?
	json=$(tlsp sts --json "$1" 2>&1)
	jrc=$?
}

# jq FILTER against $json, printing its result.
jqv() {
	jq -r "$1" <<<"$json" 2>&1
}

# ------------------------------------------------------------ valid policies
run_sts stsgood.test
is "$rc $jrc" "0 0" "stsgood.test: exit 0 (a valid policy), text and JSON"
like "$out" $'\nTXT _mta-sts\\.stsgood\\.test: data, secure, ttl [0-9]+\n    "v=STSv1; id=lab1"\n    id: lab1\n' \
	"stsgood.test: the TXT record, its DNSSEC status and the id"
like "$out" $'\n    10 mx\\.stsgood\\.test  \\[matched by the policy\\]\n' "stsgood.test: the MX host, matched"
like "$out" $'\n    fetch: ok, address 127\\.0\\.4\\.1, HTTP status 200, [0-9]+ bytes' \
	"stsgood.test: fetched from the lab's HTTPS address with status 200"
like "$out" $'\n    mode: enforce .*\n    max_age: 86400 s\n    mx: mx\\.stsgood\\.test\n    lines:\n        version: STSv1\n' \
	"stsgood.test: mode, max_age, pattern and the lines"
like "$out" $'\nPostfix answer in mode enforce: secure match=mx\\.stsgood\\.test servername=hostname\n' \
	"stsgood.test: the answer an enforce policy gives"
like "$out" $'\nTLSRPT attributes: policy_type=sts policy_domain=stsgood\\.test mx_host_pattern=mx\\.stsgood\\.test \\{ policy_string = version: STSv1 \\}' \
	"stsgood.test: the TLSRPT attributes"
like "$out" $'\nverdict: valid: .*\nproblems: none$' "stsgood.test: valid, no problems"
is "$(jqv '[.verdict, .txt.id, .txt.security, .fetch.outcome, .fetch.http_status, .fetch.address] | join(" ")')" \
	"valid lab1 secure ok 200 127.0.4.1" "stsgood.test --json: verdict, id, DNSSEC, fetch"
is "$(jqv '[.policy.mode, .policy.max_age, (.policy.mx | join(",")), (.mx.hosts[0].matched | tostring)] | join(" ")')" \
	"enforce 86400 mx.stsgood.test true" "stsgood.test --json: the policy and the MX host matched"
is "$(jqv '.enforce_answer')" "secure match=mx.stsgood.test servername=hostname" "stsgood.test --json: enforce_answer"
like "$(jqv '.tlsrpt')" '^policy_type=sts policy_domain=stsgood\.test ' "stsgood.test --json: tlsrpt"
is "$(jqv '.problems | length')" 0 "stsgood.test --json: no problems"

run_sts stswild.test
is "$rc $jrc" "0 0" "stswild.test: exit 0"
is "$(jqv '.policy.mx | join(",")')" "*.stsgood.test,mx.stsother.test" "stswild.test: the wildcard kept as published"
is "$(jqv '.enforce_answer')" "secure match=.stsgood.test:mx.stsother.test servername=hostname" \
	"stswild.test: match= writes the wildcard as .stsgood.test"
is "$(jqv '.mx.hosts[0].matched')" true "stswild.test: mx.stsgood.test matched by the wildcard"

run_sts ststesting.test
is "$rc $jrc" "0 0" "ststesting.test: exit 0 (mode testing is a valid policy)"
is "$(jqv '.policy.mode')" testing "ststesting.test: mode testing"
like "$out" $'\nnotes:\n  - mode testing: senders deliver even when TLS fails' "ststesting.test: a note on mode testing"

run_sts stsnone.test
is "$rc $jrc" "0 0" "stsnone.test: exit 0 (mode none is a valid policy)"
is "$(jqv '[.policy.mode, (.policy.mx | length), .enforce_answer] | map(tostring) | join(" ")')" "none 0 null" \
	"stsnone.test: mode none, no patterns, no enforce answer"
like "$out" 'mode none: the domain withdraws MTA-STS' "stsnone.test: a note on mode none"

# ------------------------------------------------------------ nothing usable
run_sts stsnotxt.test
is "$rc $jrc" "1 1" "stsnotxt.test: exit 1 (served, not announced)"
is "$(jqv '[.verdict, .txt.outcome, .txt.status, .fetch.outcome] | join(" ")')" "broken nxdomain none ok" \
	"stsnotxt.test: no TXT, yet the policy is served"
like "$out" 'problems:'$'\n''  - a policy is served at https://mta-sts\.stsnotxt\.test/\.well-known/mta-sts\.txt but no TXT record announces it.*publish _mta-sts\.stsnotxt\.test TXT' \
	"stsnotxt.test: the problem says to publish the TXT record"

run_sts good.test
is "$rc $jrc" "1 1" "good.test (no MTA-STS at all): exit 1"
is "$(jqv '.verdict')" absent "good.test: verdict absent"
like "$out" 'verdict: absent: the domain does not use MTA-STS' "good.test: the text says so"

# DOMAIN | fetch outcome | HTTP status | what the problem must say
failures=(
	"stscertname.test|certificate|0|the certificate of mta-sts\.stscertname\.test did not verify .*names mta-sts\.stscertname\.test"
	"stsuntrusted.test|certificate|0|the certificate of mta-sts\.stsuntrusted\.test did not verify .*certification authority"
	"stsredirect.test|redirect|301|answered with a redirect .*senders do not follow redirects"
	"sts404.test|http-status|404|answered HTTP status 404 .*serve the policy file there with status 200"
	"stsbig.test|too-large|200|is too large .*at most 64 KiB"
	"stsslow.test|timeout|200|took too long"
	"ststype.test|content-type|200|wrong type .*text/html.*Content-Type: text/plain"
)
for f in "${failures[@]}"; do
	IFS='|' read -r d outcome status want <<<"$f"
	run_sts "$d"
	is "$rc $jrc" "1 1" "$d: exit 1"
	is "$(jqv '[.verdict, .txt.id, .fetch.outcome, .fetch.http_status, (.policy | tostring)] | join(" ")')" \
		"broken lab1 $outcome $status null" "$d: TXT id found, fetch $outcome, no policy"
	like "$(jqv '.problems[0]')" "$want" "$d: the problem says what to fix"
	like "$out" $'\nverdict: broken: .*\nproblems:\n  - ' "$d: text: verdict broken and the problems"
done

# Trouble: not a domain; usage.
tlsp sts '[mx.stsgood.test]' >/dev/null 2>&1
is "$?" 2 "sts '[host]': exit 2 (MTA-STS is a domain's)"
tlsp sts >/dev/null 2>&1
is "$?" 2 "sts without a domain: exit 2"

# ------------------------------------------------------------ explain
# Nothing cached yet (no daemon ran): a check from here.
out=$(tlsp explain stsgood.test 2>&1)
is "$?" 0 "explain stsgood.test: exit 0"
like "$out" $'\nanswer: OK may\n' "explain stsgood.test: DNS alone gives may (no TLSA)"
like "$out" $'\nmta-sts: no policy cached by the daemon .*; checked from here:\n    TXT _mta-sts\\.stsgood\\.test: data, secure, id lab1\n' \
	"explain stsgood.test: nothing cached, checked from here"
like "$out" $'\nmta-sts decision: the policy replaces the answer: Postfix gets OK secure match=mx\\.stsgood\\.test servername=hostname \\(DNS proved DANE absent' \
	"explain stsgood.test: STS replaces may"
json=$(tlsp explain --json stsgood.test 2>&1)
is "$(jqv '[.sts.source, .sts.decision, .sts.answer, .sts.check.verdict] | join("|")')" \
	"check|sts|OK secure match=mx.stsgood.test servername=hostname|valid" "explain --json stsgood.test: the sts member"

out=$(tlsp explain stsdane.test 2>&1)
like "$out" $'\nanswer: OK dane-only\n' "explain stsdane.test: DANE answers dane-only"
like "$out" $'\nmta-sts decision: DANE shadows the policy in mode enforce: DANE answered' \
	"explain stsdane.test: DANE shadows the enforce policy"
json=$(tlsp explain --json stsdane.test 2>&1)
is "$(jqv '[.answer, .sts.decision, (.sts.answer | tostring)] | join("|")')" "OK dane-only|dane-shadows|null" \
	"explain --json stsdane.test: dane-shadows, no STS answer"

out=$(tlsp explain '[mx.stsgood.test]' 2>&1)
like "$out" $'\nmta-sts: does not apply: a \\[host\\] next hop' "explain [host]: MTA-STS does not apply"

# The daemon's own policy: it fetches stsgood.test on a lookup and saves it
# at stop; explain then shows that one, with its id and age.
lab_sender_up "texthash:/dev/null" || bail_out "sender configuration failed"
daemon_start || bail_out "tlspolicyd did not start"
is "$(pmq stsgood.test)" "secure match=mx.stsgood.test servername=hostname" "the daemon answers stsgood.test with its policy"
daemon_stop
is "$?" 0 "the daemon stops cleanly (and saves its policies)"
out=$(tlsp explain stsgood.test 2>&1)
like "$out" $'\nmta-sts: the daemon\'s policy \\('"${LAB_DIR//./\\.}"$'/state/sts-policies\\): id lab1, fetched [-0-9T:]+Z \\([0-9]+ s ago\\), in force until [-0-9T:]+Z' \
	"explain stsgood.test: the daemon's cached policy, its id, fetch time and expiry"
like "$out" $'\nmta-sts decision: the policy replaces the answer: Postfix gets OK secure match=mx\\.stsgood\\.test' \
	"explain stsgood.test: the cached policy replaces may"
json=$(tlsp explain --json stsgood.test 2>&1)
is "$(jqv '[.sts.source, .sts.cached.id, .sts.cached.mode, (.sts.check | tostring), .sts.decision] | join(" ")')" \
	"cache lab1 enforce null sts" "explain --json: the cached policy, no check"
like "$(jqv '.sts.cached.expires_in_s')" '^(86400|86[0-3][0-9]{2}|8[0-5][0-9]{3})$' "explain --json: expires within max_age"

tap_done
