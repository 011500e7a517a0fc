#!/usr/bin/env bash
# t-sts.sh - the daemon's MTA-STS (RFC 8461) and TLSRPT attributes (RFC
# 8460) end to end, against the lab's STS domains (sts.sh): the answers
# Postfix's own socketmap client gets, real deliveries with the daemon as
# smtp_tls_policy_maps, a policy that changes, one that can no longer be
# fetched and one that runs out, policies kept across a restart, the
# metrics, and a comparison with the reference resolver
# (postfix-mta-sts-resolver's mta-sts-daemon).
#
# The daemon holds a TXT answer at least TXT_HOLD_S (STSCACHE_TXT_MIN_S),
# so it notices stschange.test's new id that long after it last looked:
# the other checks run while it waits. The order matters:
#   1. first answers of every STS domain (stschange.test: enforce, id lab1)
#   2. TLSRPT attributes; 3. deliveries; 6. the reference, compared
#      (before any change); lab_sts_set stschange.test change2 testing;
#      7. metrics
#   4. (TXT_HOLD_S after 1) the change to testing noticed: may
#      lab_sts_set --max-age MAX_AGE_S stschange.test change3 enforce
#   5. restart: policies restored, no refetch; the restart forgets the TXT
#      answers, so change3 is fetched at once: secure again
#   4. lab_sts_set change4, its policy file broken; TXT_HOLD_S after
#      change3's TXT lookup the fetch of change4 fails: change3 still
#      applies, one sts-unfetchable warning; MAX_AGE_S after change3's
#      fetch (its max_age) the answer drops back to may
# stsslow.test is fetched once by each resolver, in the background
# (nginx takes ~10 s to send it).
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"

for tool in nginx curl mta-sts-daemon setpriv; do
	command -v "$tool" >/dev/null 2>&1 || bail_out "$tool is not installed (./dev test installs it)"
done

# As lib/sts/stscache.h's STSCACHE_TXT_MIN_S: the TXT record's TTL in the
# lab is 1 s, so the daemon holds its answer this long.
TXT_HOLD_S=5
# change3's max_age: it must outlive the TXT hold and the failing fetch
# that follows it, with room for an instrumented daemon.
MAX_AGE_S=$((TXT_HOLD_S + 15))
t_start=$(_lab_ms)
lab_start
lab_https_up || bail_out "lab_https_up failed"
MAP=socketmap:inet:127.0.0.1:$DAEMON_PORT:tlspolicy
RPT=socketmap:inet:127.0.0.1:$DAEMON_PORT:tlspolicy-tlsrpt
REF=socketmap:$LAB_STS_RESOLVER:postfix
lab_sender_up "$MAP" || bail_out "sending Postfix did not start"
out=$(mktemp -d "$LAB_DIR/t.XXXXXX")

# curl reads sts_ca_file at each fetch, as the daemon's user: without it
# every fetch would fail, and every answer below with it.
ok "sts_ca_file, the lab CA: readable by the daemon's user (nobody)" \
	setpriv --reuid=nobody --regid=nogroup --clear-groups test -r "$LAB_CA" ||
	bail_out "nobody cannot read $LAB_CA (sts_ca_file)"

METRICS_PORT=9672
FETCH_TIMEOUT_MS=3000
daemon_conf "sts_ca_file = $LAB_CA" "sts_allow_private = yes" "sts_fetch_timeout = ${FETCH_TIMEOUT_MS}ms" \
	"metrics_listen = inet:127.0.0.1:$METRICS_PORT" "probe_enable = no"
daemon_start || bail_out "tlspolicyd did not start"
diag "the lab, nginx and tlspolicyd started in $(($(_lab_ms) - t_start)) ms"

SECURE="secure match=mx.stsgood.test servername=hostname"

# refq DOMAIN: the reference's answer, "NOTFOUND" when it has none.
refq() {
	local o
	if o=$(lab_exec postmap -c "$LAB_SENDER" -q "$1" "$REF" 2>&1); then
		echo "$o"
	elif [[ -z $o ]]; then
		echo NOTFOUND
	else
		echo "ERROR: $o"
	fi
}

# fetches DOMAIN [STATUS]: how many times nginx served mta-sts.DOMAIN's
# policy (with that status).
fetches() {
	grep -cE "^mta-sts\\.${1//./\\.} \"GET /\\.well-known/mta-sts\\.txt HTTP/1\\.1\" ${2:-[0-9]+} " \
		"$LAB_STS_ACCESS_LOG"
}

# wait_answer DOMAIN WANT DEADLINE-MS: ask every 200 ms until the answer is
# WANT or the deadline (_lab_ms) passes; prints the last answer.
wait_answer() {
	local got
	while :; do
		got=$(pmq "$1")
		[[ $got == "$2" ]] && break
		(($(_lab_ms) > $3)) && break
		sleep 0.2
	done
	echo "$got"
}

sleep_until() {
	local ms=$(($1 - $(_lab_ms)))
	((ms > 0)) && sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
	return 0
}

scrape() {
	ip netns exec "$LAB_NETNS" timeout 5 bash -c \
		'exec 3<>/dev/tcp/127.0.0.1/$1; printf "GET /metrics HTTP/1.0\r\n\r\n" >&3; cat <&3' _ "$METRICS_PORT" |
		tr -d '\r' | sed '1,/^$/d'
}

# ---------------------------------------------------------------- 1. answers
# The slow policy first, in the background, judged further down.
t_slow=$(_lab_ms)
{
	a=$(pmq stsslow.test)
	echo "$(($(_lab_ms) - t_slow)) $a"
} >"$out/slow.daemon" &
slow_daemon=$!

# DOMAIN|ANSWER|why: each domain's first lookup ("ERROR": TEMP).
cases=(
	"stsgood.test|$SECURE|enforce, DNS proves DANE absent (signed MX, no TLSA)"
	"stsinsecure.insecure.test|$SECURE|enforce, MX in an unsigned zone"
	"stswild.test|secure match=.stsgood.test:mx.stsother.test servername=hostname|enforce, *.stsgood.test written .stsgood.test"
	"stswrongname.test|secure match=mx.wrongname.test servername=hostname|enforce"
	"stschange.test|$SECURE|enforce (id lab1, before any change)"
	"stsflaky.test|$SECURE|enforce"
	"ststesting.test|may|mode testing: as without MTA-STS"
	"stsnone.test|may|mode none: as without MTA-STS"
	"stsnotxt.test|may|no TXT record: the policy served is ignored"
	"stscertname.test|may|fetch fails (certificate name): as without MTA-STS"
	"stsuntrusted.test|may|fetch fails (self-signed): as without MTA-STS"
	"stsredirect.test|may|fetch fails (301, never followed): as without MTA-STS"
	"sts404.test|may|fetch fails (404): as without MTA-STS"
	"stsbig.test|may|fetch fails (over 64 KiB): as without MTA-STS"
	"ststype.test|may|fetch fails (text/html): as without MTA-STS"
	"stsdane.test|dane-only|DANE first (RFC 8461 section 2): the host's TLSA wins over the enforce policy"
	"stsbogus.test|ERROR|bogus MX: TEMP, never secure nor may"
)
declare -A answer
for c in "${cases[@]}"; do
	IFS='|' read -r d want why <<<"$c"
	[[ $d == stschange.test ]] && t_change0=$(_lab_ms)
	got=$(pmq "$d")
	answer[$d]=$got
	if [[ $want == ERROR ]]; then
		like "$got" '^ERROR: ' "first lookup, $d: TEMP ($why)"
	else
		is "$got" "$want" "first lookup, $d: $want ($why)"
	fi
done
like "$(tlsp query stsbogus.test)" $'^stsbogus\\.test\tTEMP .*DNSSEC' "stsbogus.test: TEMP names the DNSSEC failure"
like "$(grep 'event=answer dest=stsgood\.test ' "$DAEMON_LOG" | head -n 1)" \
	'answer="OK secure match=mx\.stsgood\.test servername=hostname".*MTA-STS policy lab1 in mode enforce' \
	"stsgood.test: the answer's log line names the policy"

wait "$slow_daemon"
read -r slow_ms slow_answer <"$out/slow.daemon"
answer[stsslow.test]=$slow_answer
is "$slow_answer" may "first lookup, stsslow.test: may (the fetch outlasts sts_fetch_timeout)"
diag "stsslow.test: answered in $slow_ms ms (sts_fetch_timeout $FETCH_TIMEOUT_MS ms; nginx needs ~10 s)"
slow_slack=$((3000 * ${LAB_TIME_FACTOR:-1}))
ok "stsslow.test: answered within about sts_fetch_timeout ($slow_ms ms <= $((FETCH_TIMEOUT_MS + slow_slack)) ms)" \
	test "$slow_ms" -le $((FETCH_TIMEOUT_MS + slow_slack))
ok "stsslow.test: ...after waiting for the fetch ($slow_ms ms >= $((FETCH_TIMEOUT_MS - 500)) ms)" \
	test "$slow_ms" -ge $((FETCH_TIMEOUT_MS - 500))

# ---------------------------------------------------------------- 2. TLSRPT
is "$(pmq stsgood.test "$RPT")" "$SECURE policy_type=sts policy_domain=stsgood.test mx_host_pattern=mx.stsgood.test\
 { policy_string = version: STSv1 } { policy_string = mode: enforce } { policy_string = mx: mx.stsgood.test }\
 { policy_string = max_age: 86400 }" \
	"tlspolicy-tlsrpt, stsgood.test: the answer, then the TLSRPT attributes, one policy_string a line"
got=$(pmq stswild.test "$RPT")
like "$got" '^secure match=\.stsgood\.test:mx\.stsother\.test servername=hostname policy_type=sts policy_domain=stswild\.test ' \
	"tlspolicy-tlsrpt, stswild.test: the answer, policy_type and policy_domain"
like "$got" ' mx_host_pattern=\*\.stsgood\.test mx_host_pattern=mx\.stsother\.test ' \
	"tlspolicy-tlsrpt, stswild.test: mx_host_pattern keeps the policy's *.stsgood.test"
like "$got" '\{ policy_string = mx: \*\.stsgood\.test \}' "tlspolicy-tlsrpt, stswild.test: ...and so does policy_string"
is "$(pmq stsdane.test "$RPT")" dane-only "tlspolicy-tlsrpt, stsdane.test: dane-only, no attributes (DANE chose)"
is "$(pmq ststesting.test "$RPT")" may "tlspolicy-tlsrpt, ststesting.test: may, no attributes (MTA-STS did not choose)"

# ---------------------------------------------------------------- 3. deliveries
# (The servers that only these checks need start now: the TXT answer
# holds meanwhile.)
lab_mail_up || bail_out "receiving Postfix did not start"
lab_send lab-sts@stsgood.test
ok $? "submitted to lab-sts@stsgood.test"
lab_send lab-sts@stswrongname.test
ok $? "submitted to lab-sts@stswrongname.test"
lab_wait_log 'Verified TLS connection established to mx\.stsgood\.test\[127\.0\.1\.17\]:25' 20
ok $? "delivery to stsgood.test: Verified TLS connection to mx.stsgood.test"
lab_wait_log 'to=<lab-sts@stsgood\.test>, relay=mx\.stsgood\.test\[127\.0\.1\.17\]:25, .*status=sent' 20
ok $? "delivery to stsgood.test: sent"
lab_wait_log 'to=<lab-sts@stswrongname\.test>, .*dsn=4\.7\.5, status=deferred' 20
ok $? "delivery to stswrongname.test: deferred with dsn=4.7.5 (its certificate names other.example)"
is "$(grep -c 'to=<lab-sts@stswrongname\.test>.*status=sent' "$LAB_SENDER_LOG")" 0 "stswrongname.test: never sent"
like "$(grep 'mx\.wrongname\.test' "$LAB_SENDER_LOG")" 'certificate verification failed for mx\.wrongname\.test\[127\.0\.1\.11\]:25: num=62:hostname mismatch' \
	"stswrongname.test: because the certificate's name does not match"

# ---------------------------------------------------------------- 6. the reference
lab_sts_resolver_up || bail_out "lab_sts_resolver_up failed"
# Its lookup of the slow policy takes 4 s (its timeout): in the background.
refq stsslow.test >"$out/slow.ref" &
slow_ref=$!
# Before any change, while the reference's cache and the daemon's agree on
# every policy.  An answer compared by its STS part: "secure" and the
# match patterns as a set; "no STS" for may (tlspolicyd) and NOTFOUND (the
# reference): with smtp_tls_security_level = may both leave Postfix at may.
sts_part() {
	local a=$1 m
	case $a in
	secure\ *)
		[[ $a =~ match=([^ ]*) ]] && m=${BASH_REMATCH[1]}
		echo "secure {$(tr ':' '\n' <<<"$m" | sort | paste -sd,)}"
		;;
	may | NOTFOUND) echo "no STS" ;;
	ERROR:*) echo TEMP ;;
	*) echo "$a" ;;
	esac
}
# The differences, each with its reason: tlspolicyd's part, the
# reference's, why.
declare -A differs=(
	[stsdane.test]="dane-only|secure {mx1.good.test}|DANE first (RFC 8461 section 2): mx1.good.test has a TLSA record"
	[stsbogus.test]="TEMP|secure {mx.stsgood.test}|the MX RRset fails DNSSEC validation: TEMP (the reference never looks up the MX)"
)
wait "$slow_ref"
table=$(printf '%-27s %-30s %-30s %s' domain tlspolicyd mta-sts-daemon verdict)
for d in $(lab_sts_domains); do
	if [[ $d == stsslow.test ]]; then
		ref=$(cat "$out/slow.ref")
	else
		ref=$(refq "$d")
	fi
	mine=$(sts_part "${answer[$d]}") theirs=$(sts_part "$ref")
	if [[ -n ${differs[$d]:-} ]]; then
		IFS='|' read -r want_mine want_theirs why <<<"${differs[$d]}"
		is "$mine / $theirs" "$want_mine / $want_theirs" "reference, $d: differs as listed ($why)"
		verdict="differs: $why"
	else
		is "$mine" "$theirs" "reference, $d: the same STS outcome ($mine)"
		verdict=same
		[[ $mine != "$theirs" ]] && verdict=DIFFERENT
	fi
	shown=${answer[$d]%% servername=*}
	[[ $shown == ERROR:* ]] && shown=TEMP
	table+=$'\n'$(printf '%-27s %-30s %-30s %s' "$d" "$shown" "${ref%% servername=*}" "$verdict")
done
diag "$table"
diag "(NOTFOUND from the reference and may from tlspolicyd are the same outcome for a Postfix at smtp_tls_security_level = may)"

# ---------------------------------------------------------------- 4. a change
lab_sts_set stschange.test change2 testing mx.stsgood.test || bail_out "lab_sts_set change2 failed"

# ---------------------------------------------------------------- 7. metrics
# (Before the restart, which starts the counters again.)
metrics=$(scrape)
metric() {
	awk -v n="$1" '$1 == n { print $2 }' <<<"$metrics"
}
m=$(metric 'tlspolicyd_sts_fetches_total{outcome="ok"}')
ok "metrics: fetches that worked: ${m:-none} (more than 0)" test "${m:-0}" -gt 0
for o in certificate:2 redirect:1 http-status:1 content-type:1 too-large:1 timeout:1; do
	m=$(metric "tlspolicyd_sts_fetches_total{outcome=\"${o%%:*}\"}")
	is "${m:-none}" "${o#*:}" "metrics: fetches that failed with outcome ${o%%:*}: ${o#*:}"
done
# In force: enforce stsgood, stswrongname, stswild, stschange, stsflaky,
# stsdane and stsbogus (fetched beside the DNS resolution, before DNS decided),
# stsinsecure (8); testing ststesting; none stsnone. stsnotxt.test's
# policy is never fetched.
is "$(metric 'tlspolicyd_sts_policies{mode="enforce"}')" 8 "metrics: policies in mode enforce: 8"
is "$(metric 'tlspolicyd_sts_policies{mode="testing"}')" 1 "metrics: policies in mode testing: 1 (ststesting.test)"
is "$(metric 'tlspolicyd_sts_policies{mode="none"}')" 1 "metrics: policies in mode none: 1 (stsnone.test)"
m=$(metric tlspolicyd_sts_waits_total)
ok "metrics: first lookups that waited for their policy: ${m:-none} (more than 0)" test "${m:-0}" -gt 0

# ---------------------------------------------------------------- 4. noticed
# The daemon looked at stschange.test's TXT at t_change0 and holds that
# answer TXT_HOLD_S; the first lookup after that starts the fetch of change2.
n=$(fetches stschange.test)
hold_ms=$((TXT_HOLD_S * 1000 + 500))
diag "waiting $((t_change0 + hold_ms - $(_lab_ms))) ms for stschange.test's TXT answer to run out"
sleep_until $((t_change0 + hold_ms))
got=$(wait_answer stschange.test may $(($(_lab_ms) + 10000)))
is "$got" may "stschange.test, id change2 mode testing: may"
is "$(fetches stschange.test 200)" $((n + 1)) "stschange.test: ...after fetching its policy again"
like "$(grep 'event=sts-fetch domain=stschange\.test ' "$DAEMON_LOG" | tail -n 1)" 'result=ok id=change2 mode=testing' \
	"stschange.test: the fetch logged, with the new id and mode"

lab_sts_set --max-age "$MAX_AGE_S" stschange.test change3 enforce mx.stsgood.test '*.good.test' ||
	bail_out "lab_sts_set change3 failed"

# ---------------------------------------------------------------- 5. restart
enforced=(stsgood.test stsinsecure.insecure.test stswild.test stswrongname.test stsflaky.test)
declare -A before
for d in "${enforced[@]}"; do
	before[$d]=$(fetches "$d")
done
daemon_stop
is "$?" 0 "SIGTERM: clean exit"
like "$(cat "$DAEMON_LOG")" 'event=sts-saved file=[^ ]*/sts-policies entries=[0-9]+' "the policies saved at stop"
policies=$(cat "$LAB_DIR/state/sts-policies" 2>/dev/null)
like "$policies" '(^|'$'\n'')domain=stsgood\.test id=lab1 fetched=[0-9]+ body=' "sts-policies: stsgood.test's policy, with its id"
: >"$DAEMON_LOG"
daemon_start || bail_out "tlspolicyd did not start again"
like "$(cat "$DAEMON_LOG")" 'event=sts-restored file=[^ ]*/sts-policies entries=[1-9]' "the policies restored at start"
for c in "${cases[@]:0:4}" "stsflaky.test|$SECURE|"; do
	IFS='|' read -r d want why <<<"$c"
	is "$(pmq "$d")" "$want" "after the restart, $d: $want at once"
done

# The restart forgot the TXT answers: stschange.test's change3 is fetched
# at the first lookup (which still gets the restored change2: may).
t_change3=$(_lab_ms)
# Patterns in the policy's order.
want="secure match=mx.stsgood.test:.good.test servername=hostname"
got=$(wait_answer stschange.test "$want" $((t_change3 + 10000)))
is "$got" "$want" "stschange.test, id change3 mode enforce: secure again, the new mx lines"
# Fetched after the others' discoveries began: theirs are over.
for d in "${enforced[@]}"; do
	is "$(fetches "$d")" "${before[$d]}" "after the restart, $d: not fetched again (the same id)"
done

# ---------------------------------------------------------------- 4. failing
# change4 published, its policy file gone: once the daemon looks at the
# TXT again (TXT_HOLD_S after change3's lookup) the fetch fails, and
# change3 (max_age MAX_AGE_S) still applies until it runs out.
lab_sts_set stschange.test change4 enforce mx.stsgood.test || bail_out "lab_sts_set change4 failed"
lab_sts_break stschange.test || bail_out "lab_sts_break failed"
n404=$(fetches stschange.test 404)
sleep_until $((t_change3 + hold_ms))
deadline=$(($(_lab_ms) + 8000))
while ! grep -q 'event=sts-fetch domain=stschange\.test .*id=change4' "$DAEMON_LOG" && (($(_lab_ms) < deadline)); do
	pmq stschange.test >/dev/null
	sleep 0.2
done
like "$(grep 'event=sts-fetch domain=stschange\.test .*id=change4' "$DAEMON_LOG")" 'result=http-status' \
	"stschange.test, id change4: the fetch fails (404)"
is "$(fetches stschange.test 404)" $((n404 + 1)) "stschange.test: ...once, as the access log shows"
for i in 1 2 3; do
	is "$(pmq stschange.test)" "$want" "stschange.test, change4 unfetchable: change3's policy still applies ($i)"
done
warnings=$(grep 'event=sts-unfetchable domain=stschange\.test ' "$DAEMON_LOG")
is "$(grep -c . <<<"$warnings")" 1 "stschange.test: one sts-unfetchable warning, not one per lookup"
like "$warnings" ' warning: event=sts-unfetchable domain=stschange\.test id=change3 ' \
	"...at level warning, naming the policy that still applies (change3)"
expires=$(sed -n 's/.* expires=\([0-9]*\).*/\1/p' <<<"$warnings")
like "${expires:-}" '^[0-9]+$' "...with the time change3's policy runs out"

# ---------------------------------------------------------------- 5. max_age
got=$(wait_answer stschange.test may $((t_change3 + MAX_AGE_S * 1000 + 10000)))
now=$(date +%s)
is "$got" may "stschange.test: may once change3's max_age ($MAX_AGE_S s) has run out"
ok "stschange.test: ...not before (now $now, expired ${expires:-?})" test "$now" -ge "${expires:-0}"

daemon_stop
is "$?" 0 "SIGTERM: clean exit"
diag "t-sts took $(($(_lab_ms) - t_start)) ms"
tap_done
