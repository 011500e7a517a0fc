#!/usr/bin/env bash
# tlspolicy survey over the lab's survey population (survey.sh): every
# count of the summary equals what the lab was built to contain, each
# distinct (MX host, address, port) is probed once however many domains
# name it, a rerun with the same --out skips everything already done, and
# an interrupted run leaves whole lines only and its rerun completes it.
#
# SURVEY_DOMAINS (default 3000) and LAB_SURVEY_HOSTS (36) size the
# population.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"

command -v jq >/dev/null || bail_out "jq is not installed (./dev test installs it)"
lab_survey_start "${SURVEY_DOMAINS:-3000}"
lab_mail_up || bail_out "mail servers did not start"
# The silent server's probe ends at probe_timeout (each step's limit): 5 s
# keeps the first run long enough to interrupt and short enough to wait for.
daemon_conf "probe_timeout = 5s"

S=$LAB_DIR/survey
list=$S/list
total=$(awk '$1 == "domains" { print $2 }' "$S/expected")
diag "population: $total domains over $(wc -l <"$S/hosts") MX host names, $(wc -l <"$S/pairs") (host, address, port) in use"
diag "expected: $(grep -v '^provider' "$S/expected" | tr '\n' ' ')"

# Probes of different host names at one address must not wait for each
# other here (the lab has a dozen names on 127.0.1.1).
survey_opts=(--address-interval 0)

# Milliseconds a command took, in ELAPSED; its exit status returned.
timed() {
	local t0 rc
	t0=$(_lab_ms)
	"$@"
	rc=$?
	ELAPSED=$(($(_lab_ms) - t0))
	return $rc
}

# The Postfix listeners' connections so far: one "connect from" each.
postfix_connects() {
	grep -c 'smtpd\[[0-9]*\]: connect from' "$LAB_MX_LOG" 2>/dev/null
}

# The summary tlspolicy(1) defines, computed from a JSONL file with jq rather
# than by the command: the same "KEY VALUE" lines as $S/expected.  Provider
# = the last two labels of the MX host name, which is what libpsl's
# registrable domain is for names under .test (not a public suffix).
jsonl_summary() {
	jq -s -r '
	def dclass: ([.hosts[]?.addresses[]? | .class | select(. != "refused" and . != "skipped")][0]) // "none";
	def reg: split(".") | .[-2:] | join(".");
	(reduce .[] as $r ({}; .[$r.domain] = $r) | [.[]]) as $d
	| ($d | map(select(.mx == "hosts"))) as $withmx
	| ([$d[] | .hosts[]? as $h | $h.addresses[]? | {k: "\($h.name)|\(.address)|\(.port)", c: .class}]
	   | reduce .[] as $p ({}; .[$p.k] = $p.c)) as $pairs
	| ([$withmx[] | {c: dclass, p: ([.hosts[].name | reg] | unique)}]) as $prov
	| ([$prov[] | .p[] as $p | {p: $p, c: .c}]) as $pc
	| ($pc | group_by(.p) | map({p: .[0].p, n: length}) | sort_by(-.n, .p)) as $rank
	| "domains \($d | length)",
	  "with_mx \($withmx | length)",
	  "null_mx \([$d[] | select(.mx == "null")] | length)",
	  "nxdomain \([$d[] | select(.mx == "nxdomain")] | length)",
	  "dns_failures \([$d[] | select(.result == "temp")] | length)",
	  "signed_mx \([$withmx[] | select(.mx_security == "secure")] | length)",
	  "dane_all \([$d[] | select(.rule == "all-hosts-dane")] | length)",
	  "tlsa_mismatch \([$d[] | select([.hosts[]?.addresses[]?.class] | index("dane-mismatch"))] | length)",
	  "mx_failed \([$d[] | select(.mx == "failed")] | length)",
	  "mx_hosts \([$d[] | .hosts[]?.name] | unique | length)",
	  "mx_addresses \($pairs | length)",
	  "providers \($rank | length)",
	  ([$d[] | dclass] | group_by(.)[] | "domain_class \(.[0]) \(length)"),
	  ([$pairs[]] | group_by(.)[] | "host_class \(.[0]) \(length)"),
	  ($rank[] | "provider \(.p) \(.n)"),
	  ($pc | group_by([.p, .c])[] | "provider_class \(.[0].p) \(.[0].c) \(length)"),
	  ($rank[:20] | to_entries[] | "provider_rank \(.key + 1) \(.value.p)")
	' "$1" | LC_ALL=C sort
}

# What each domain was built as, from a JSONL file: the lines of
# $S/domains ("DOMAIN TYPE HOST...").
jsonl_domains() {
	jq -r '
	(if .mx == "hosts" then
		(if .mx_security == "secure" then (if (.hosts | length) > 1 then "signed-two" else "signed" end)
		 else "unsigned" end)
	 elif .mx == "null" then "null-mx"
	 elif .mx == "nxdomain" then "nxdomain"
	 elif .result == "temp" then "dns-failure"
	 else "mx=\(.mx)/\(.result)" end) as $type
	| [.domain, $type] + [.hosts[]?.name] | join(" ")' "$1" | LC_ALL=C sort
}

# "HOST ADDRESS PORT CLASS" of every address of every record, once each.
jsonl_pairs() {
	jq -r '.hosts[]? as $h | $h.addresses[]? | "\($h.name) \(.address) \(.port) \(.class)"' "$1" |
		LC_ALL=C sort -u
}

# Every line a whole JSON object with the record's fields.
jsonl_whole() {
	local bad
	[[ ! -s $1 || $(tail -c 1 "$1" | od -An -c | tr -d ' ') == '\n' ]] || {
		diag "$1 does not end with a newline"
		return 1
	}
	bad=$(jq -c 'select((.domain | type) != "string" or (.time | type) != "number"
		or (.result | IN("ok", "notfound", "temp") | not) or (.rule | type) != "string"
		or ((.result == "ok") != (has("level"))) or (.mx | IN("hosts", "null", "nxdomain", "failed") | not)
		or (.mx_security | type) != "string" or (.hosts | type) != "array"
		or ([.hosts[].preference] != ([.hosts[].preference] | sort)))' "$1" 2>&1 | head -n 3)
	[[ -z $bad ]] || {
		diag "records not as specified: $bad"
		return 1
	}
}

# Domains written more than once.
jsonl_repeats() {
	jq -r .domain "$1" | sort | uniq -d | head -n 5 | tr '\n' ' '
}

# The JSON of --summarize --json (lib/survey/surveysum.c): counts by name, the
# classes as objects (zeros included), top_providers ranked.
summary_kv() {
	jq -r '
	(["domains", "with_mx", "null_mx", "nxdomain", "mx_failed", "dns_failures", "signed_mx",
	  "tlsa_mismatch", "mx_hosts", "mx_addresses", "providers"][] as $k | "\($k) \(.[$k])"),
	"dane_all \(.all_dane)",
	(.by_domain_class | to_entries[] | select(.value > 0) | "domain_class \(.key) \(.value)"),
	(.by_mx_host_class | to_entries[] | select(.value > 0) | "host_class \(.key) \(.value)"),
	(.top_providers | to_entries[] | "provider_rank \(.key + 1) \(.value.name)",
		"provider \(.value.name) \(.value.domains)",
		(.value.name as $n | .value.by_class | to_entries[] | select(.value > 0)
		 | "provider_class \($n) \(.key) \(.value)"))
	' | LC_ALL=C sort
}

check_counts() {
	local file=$1 what=$2 got
	got=$(jsonl_summary "$file")
	[[ $got == "$(cat "$S/expected")" ]]
	ok $? "$what: the records' counts (by the summary's definitions) are the population's"
	if [[ $got != "$(cat "$S/expected")" ]]; then
		diag "$(diff <(echo "$got") "$S/expected" | head -n 20)"
		diag "domains built otherwise than recorded (recorded < > built):"
		diag "$(diff <(jsonl_domains "$file") <(LC_ALL=C sort "$S/domains") | head -n 10)"
	fi
}

# ---------------------------------------------------------------- one run

out=$LAB_DIR/survey.jsonl
before=$(postfix_connects)
# With --out, the summary of the whole file goes to standard output.
timed tlsp survey "${survey_opts[@]}" --out "$out" "$list" >"$LAB_DIR/survey.out" 2>"$LAB_DIR/survey.err"
is "$?" 0 "survey: exit 0"
first_ms=$ELAPSED
diag "survey of $total domains: ${first_ms} ms ($(awk -v n="$total" -v t="$first_ms" 'BEGIN { printf "%.0f", n * 1000 / t }') domains/s)"
diag "its stderr: $(tail -n 3 "$LAB_DIR/survey.err")"
ok "every line a whole record" jsonl_whole "$out"
is "$(wc -l <"$out")" "$total" "one line per distinct domain ($total; the list's repeats skipped)"
is "$(jsonl_repeats "$out")" "" "no domain written twice"
check_counts "$out" "first run"
is "$(jsonl_domains "$out")" "$(LC_ALL=C sort "$S/domains")" "every domain: its MX hosts, in preference order, as built"

# Probes: each (host, address, port) once, and every domain naming it
# reports that one result.
pairs=$(jsonl_pairs "$out")
is "$pairs" "$(cat "$S/pairs")" "every (host, address, port) with the class its server was built to give"
is "$(awk '{ print $1, $2, $3 }' <<<"$pairs" | uniq -d | head -n 3)" "" \
	"each (host, address, port) reported with one class in every domain that names it"
details=$(jq -r '.hosts[]? as $h | $h.addresses[]? | "\($h.name) \(.address) \(.port)\t\(.detail)"' "$out" |
	sort -u | cut -f 1 | uniq -d | head -n 3)
is "$details" "" "... and one detail: one probe's result, reused"
# Every address but the fakesmtp ones (127.0.1.13, .14, .16) is a Postfix
# listener: one connection per (host, address, port) probed, no more.
want=$(awk '$2 != "127.0.1.13" && $2 != "127.0.1.14" && $2 != "127.0.1.16"' "$S/pairs" | wc -l)
for ((i = 0; i < 20; i++)); do
	(($(postfix_connects) - before >= want)) && break
	sleep 0.1
done
sleep 0.5
is "$(($(postfix_connects) - before))" "$want" \
	"Postfix saw one connection per (host, address, port) on its listeners ($want), however many domains share them"
like "$(cat "$LAB_DIR/survey.err")" " $(wc -l <"$S/pairs") probes, [0-9]+ addresses answered by an earlier probe" \
	"the closing line counts one probe per (host, address, port)"
like "$(cat "$LAB_DIR/survey.err")" " 0 already there, 3 listed twice," "repeats in the list are not taken for domains already done"

# ---------------------------------------------------------------- summary

json=$(tlsp survey --summarize "$out" --json)
is "$?" 0 "survey --summarize --json: exit 0"
got=$(summary_kv <<<"$json")
[[ $got == "$(cat "$S/expected")" ]]
ok $? "survey --summarize --json: every count as the lab was built"
[[ $got == "$(cat "$S/expected")" ]] || diag "$(diff <(echo "$got") "$S/expected" | head -n 20)"
is "$(jq -r '.tlsa_mismatch_domains[]' <<<"$json" 2>&1)" "$(head -n 100 "$S/mismatch")" \
	"survey --summarize --json: the domains with a TLSA mismatch, the first 100 by name"
is "$(cat "$LAB_DIR/survey.out")" "$(tlsp survey --summarize "$out")" \
	"the survey's own table at the end is the summary of its file"
# The report of the real survey (t-report.sh renders one in Chromium and
# checks every number): its charts, with the number of domains.
tlsp survey --summarize "$out" --report "$LAB_DIR/report.html" >/dev/null
like "$(cat "$LAB_DIR/report.html")" '<svg class="chart" id="by-domain-class"' "--report: the charts are in the page"
like "$(grep -o 'data-key="domains" data-count="[0-9]*"' "$LAB_DIR/report.html" | head -n 1)" "data-count=\"$total\"" \
	"--report: the number of domains is this survey's"

# ---------------------------------------------------------------- rerun

lines=$(wc -l <"$out")
before=$(postfix_connects)
timed tlsp survey "${survey_opts[@]}" --out "$out" "$list" >"$LAB_DIR/rerun.out" 2>"$LAB_DIR/rerun.err"
is "$?" 0 "rerun with the same --out: exit 0"
is "$(wc -l <"$out")" "$lines" "rerun: no new line"
ok $((ELAPSED < 5000 ? 0 : 1)) "rerun: fast (${ELAPSED} ms, first run ${first_ms} ms; limit 5000)"
is "$(($(postfix_connects) - before))" 0 "rerun: no probe"
diag "its stderr: $(tail -n 3 "$LAB_DIR/rerun.err")"

# ---------------------------------------------------------------- interrupted

part=$LAB_DIR/part.jsonl
ip netns exec "$LAB_NETNS" "$TLSPOLICY" -c "$DAEMON_CONF" survey "${survey_opts[@]}" --out "$part" "$list" \
	>"$LAB_DIR/part.out" 2>"$LAB_DIR/part.err" &
pid=$!
lab_record_pid "$pid" survey
# A second after the first record, while the silent server's probes (5 s)
# still hold back the domains that name it.
for ((i = 0; i < 300; i++)); do
	[[ -s $part ]] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
sleep 1
kill -INT "$pid"
wait "$pid"
rc=$?
_lab_forget_pid "$pid"
is "$rc" 130 "SIGINT: the survey stops, exit 130"
diag "its stderr: $(tail -n 3 "$LAB_DIR/part.err")"
done_lines=$(wc -l <"$part")
ok $((done_lines > 0 && done_lines < total ? 0 : 1)) "interrupted: $done_lines of $total domains written"
ok "interrupted: every line a whole record" jsonl_whole "$part"
is "$(jsonl_repeats "$part")" "" "interrupted: no domain written twice"
timed tlsp survey "${survey_opts[@]}" --out "$part" "$list" >"$LAB_DIR/resume.out" 2>"$LAB_DIR/resume.err"
is "$?" 0 "rerun after the interruption: exit 0"
diag "rerun after the interruption: ${ELAPSED} ms; $(tail -n 1 "$LAB_DIR/resume.err")"
is "$(wc -l <"$part")" "$total" "rerun: the rest written, $((total - done_lines)) domains"
is "$(jsonl_repeats "$part")" "" "rerun: no domain written twice"
ok "rerun: every line a whole record" jsonl_whole "$part"
check_counts "$part" "interrupted and resumed"

# ---------------------------------------------------------------- terminal
# On a terminal (script(1) gives it one) a progress line: done/total, the
# rate, the time left, the probes by class; elsewhere (above) none.
printf '%s\n' good.test wrongtlsa.test notlsa.test >"$LAB_DIR/tty-list"
tty_out=$(ip netns exec "$LAB_NETNS" script -qec "$TLSPOLICY -c $DAEMON_CONF survey ${survey_opts[*]} \
	--out $LAB_DIR/tty.jsonl $LAB_DIR/tty-list" /dev/null | tr '\r' '\n')
like "$tty_out" '3/3 domains +[0-9]+/s +probes 3: .*dane-verified 1 dane-mismatch 1' \
	"on a terminal: the progress line (done/total, rate, probes by class)"
unlike "$(cat "$LAB_DIR/survey.err")" 'domains +[0-9]+/s' "elsewhere: no progress line"
tap_done
