#!/usr/bin/env bash
# The RFC 7672 decision (the README's "What the daemon answers") against
# real signed zones, asked through Postfix's own socketmap client
# (postmap -q), over TCP and a unix socket.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"

daemon_lab_start

# key | expected postmap answer | what the case is
cases=(
	"good.test|dane-only|1: signed MX, host with a correct 3 1 1 TLSA"
	"mixed.test|dane|2: signed MX, one host with TLSA, one securely without"
	"notlsa.test|may|3: signed MX, no TLSA anywhere (secure denial)"
	"danemx.insecure.test|dane|4: unsigned zone, MX to a signed host with TLSA"
	"insecure.test|may|5: unsigned zone, unsigned MX host"
	"unsignedmx.test|may|6: signed zone, MX host in an unsigned child with unsigned TLSA"
	"pkix.test|encrypt|7: signed MX, only usage 0/1 TLSA"
	"bogusmx.test|ERROR|8: MX RRset with a broken signature"
	"bogustlsa.test|ERROR|9: the only host's TLSA RRset is bogus"
	"nonexistent.test|NOTFOUND|10: NXDOMAIN"
	"nullmx.test|NOTFOUND|10: null MX"
	"[192.0.2.1]|NOTFOUND|10: IP literal"
	"[mx.submit.test]:587|dane-only|11: host next hop, TLSA at _587._tcp"
	"cnamemx.test|dane-only|CNAME'd MX host, TLSA at the target"
	"cnameorig.test|dane-only|CNAME'd MX host, target without TLSA: TLSA at the original name"
	"cnameinsectlsa.test|dane-only|CNAME'd MX host, target's TLSA unsigned: TLSA at the original name"
	"cnameunsigned.test|dane-only|signed CNAME into an unsigned zone: TLSA at the original name"
	"viaunsignedcname.test|may|unsigned CNAME to a signed host: nothing to authenticate"
	"[alias.cnameorig.test]|dane-only|host next hop that is a CNAME: the same rules"
	"danewrong.insecure.test|dane|unsigned MX, signed host with (wrong) TLSA: Postfix enforces it"
	"fullspki.test|dane-only|3 1 0 with a whole SubjectPublicKeyInfo"
	"fullcert.test|dane-only|3 0 0 with a whole certificate"
	"certsha512.test|dane-only|3 0 2: SHA-512 of the certificate"
	"badfull.test|encrypt|3 1 0 00: full data that is no key is unusable"
	"badlen.test|encrypt|3 1 1 with a 31-byte digest is unusable"
	"mixedtlsa.test|dane-only|one unusable record beside a usable one"
	"implicit.test|dane-only|implicit MX (no MX records)"
	"ta.test|dane-only|DANE-TA 2 1 1 record"
	"GOOD.Test.|dane-only|key case and trailing dot folded"
	".test|NOTFOUND|Postfix's parent-domain form"
)

for c in "${cases[@]}"; do
	IFS='|' read -r key want what <<<"$c"
	got=$(pmq "$key")
	if [ "$want" = ERROR ]; then
		like "$got" '^ERROR: ' "$what: $key gives TEMP (postmap reports a lookup error)"
	else
		is "$got" "$want" "$what: $key"
	fi
done

# TEMP carries the reason to Postfix, and it is never a weaker policy.
got=$(tlsp query bogusmx.test)
like "$got" $'^bogusmx.test\tTEMP MX lookup for bogusmx.test failed DNSSEC validation' \
	"bogus MX: TEMP names the DNSSEC failure"
got=$(tlsp query bogustlsa.test)
like "$got" 'TEMP .*TLSA lookup for _25\._tcp\.mx\.bogustlsa\.test failed DNSSEC validation' \
	"bogus TLSA: TEMP names the host and the lookup"

# The same over the unix socket, which only root and the postfix group reach.
is "$(stat -c '%a %G' "$LAB_DIR/tlspolicyd.sock")" "660 postfix" "the unix socket: mode 660, group postfix"
is "$(pmq good.test "socketmap:unix:$LAB_DIR/tlspolicyd.sock:tlspolicy")" "dane-only" \
	"over a unix socket: good.test"
is "$(pmq notlsa.test "socketmap:unix:$LAB_DIR/tlspolicyd.sock:tlspolicy")" "may" \
	"over a unix socket: notlsa.test"

# A map name that is not configured is refused, not answered.
like "$(pmq good.test "socketmap:inet:127.0.0.1:$DAEMON_PORT:othermap")" '^ERROR: ' \
	"unknown map name gets PERM"

# One key=value line per answer: destination, answer, reason, cache, duration.
line=$(grep 'event=answer dest=good.test ' "$DAEMON_LOG" | head -n 1)
like "$line" 'answer="OK dane-only" rule=all-hosts-dane cache=miss reason="mx1.good.test dane" duration_ms=[0-9]+\.[0-9]{3}$' \
	"answer log line has every field"
like "$(grep -c 'event=answer dest=good.test .*cache=hit' "$DAEMON_LOG")" '^[1-9]' \
	"repeated question is a cache hit"

# The daemon runs unprivileged.
uid=$(awk '/^Uid:/ {print $2}' "/proc/$DAEMON_PID/status")
is "$uid" "$(id -u nobody)" "daemon runs as the configured user"

# explain shows every lookup with its DNSSEC status and the rule.
out=$(tlsp explain good.test)
like "$out" 'MX good\.test: data, secure, ttl [0-9]+' "explain: MX lookup with status and TTL"
like "$out" 'TLSA _25\._tcp\.mx1\.good\.test: data, secure' "explain: TLSA lookup"
like "$out" '3 1 1 [0-9a-f]{64}  \[usable\]' "explain: the record and its usability"
like "$out" 'verdict: dane' "explain: the host's verdict"
like "$out" 'rule: all-hosts-dane' "explain: the rule"
like "$out" 'answer: OK dane-only' "explain: the answer"
out=$(tlsp explain pkix.test)
like "$out" '\[unusable: PKIX usage \(0 or 1\) is not usable for SMTP\]' "explain: why a TLSA record is unusable"
out=$(tlsp explain --json bogusmx.test)
like "$out" '"security":"bogus"' "explain --json: bogus status"
like "$out" '"answer":"TEMP MX lookup for bogusmx.test' "explain --json: the answer"
tlsp explain bogusmx.test >/dev/null
is "$?" 1 "explain exits 1 for a TEMP answer"

daemon_stop
is "$?" 0 "SIGTERM: clean exit"
tap_done
