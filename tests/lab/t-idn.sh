#!/usr/bin/env bash
# IDN next hops. Postfix with smtputf8_enable = yes asks for the
# next hop of SMTPUTF8 mail to an IDN domain in UTF-8 ("bücher.test",
# "[mx.bücher.test]"); the daemon answers for its A-label form
# (xn--bcher-kva.test) as DNS, its cache, the exception list and its logs
# know it, and keeps PERM for keys that are no name at all. A real SMTPUTF8
# delivery goes out over DANE-verified TLS instead of waiting in the queue.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"

lab_start
# münchen.test by its A-label, as the public danefail list writes IDNs.
printf 'xn--mnchen-3ya.test may\n' > "$LAB_DIR/exceptions"
daemon_conf
daemon_start || bail_out "tlspolicyd did not start"
lab_mail_up || bail_out "receiving Postfix did not start"
lab_sender_up "socketmap:inet:127.0.0.1:$DAEMON_PORT:tlspolicy" || bail_out "sending Postfix did not start"

# key | expected postmap answer | what the case is
cases=(
	"bücher.test|dane-only|IDN domain, MX to a host with TLSA"
	"BÜCHER.test|dane-only|IDN domain in upper case"
	"bücher.test.|dane-only|IDN domain with a trailing dot"
	"[mx.bücher.test]|dane-only|IDN host next hop, TLSA at its A-label name"
	"[mx.bücher.test]:25|dane-only|IDN host next hop with port"
	"faß.test|dane-only|ß kept, as non-transitional IDNA2008 (Postfix) keeps it: xn--fa-hia"
	"münchen.test|may|an exception listed by its A-label applies to the UTF-8 key"
	"xn--bcher-kva.test|dane-only|the A-label form itself, as before"
)
for c in "${cases[@]}"; do
	IFS='|' read -r key want what <<<"$c"
	is "$(pmq "$key")" "$want" "$what: $key"
done

# The A-label form is the one name: in the log, and as the cache key.
like "$(grep 'event=answer dest=xn--bcher-kva\.test ' "$DAEMON_LOG" | head -n 1)" \
	'answer="OK dane-only" rule=all-hosts-dane cache=miss ' "the answer is logged for the A-label form"
unlike "$(cat "$DAEMON_LOG")" 'dest="?b(ü|\\xc3)' "no UTF-8 destination in the log"
is "$(grep -c 'event=answer dest=xn--bcher-kva\.test .*cache=miss' "$DAEMON_LOG")" 1 \
	"one resolution for bücher.test, BÜCHER.test, bücher.test. and xn--bcher-kva.test: one cache entry"
like "$(grep 'event=answer dest=xn--mnchen-3ya\.test ' "$DAEMON_LOG" | head -n 1)" 'answer="OK may" rule=exception' \
	"münchen.test: the exception is named as the rule"

# Garbage is still PERM, with a reason (sent as is by tlspolicy query, for
# postmap refuses to send malformed UTF-8 at all).
like "$(tlsp query $'b\xfccher.test')" $'\tPERM invalid next hop: not a valid domain name: not UTF-8$' \
	"Latin-1, not UTF-8: PERM"
like "$(tlsp query $'\xe2\x98\x83.test')" $'\tPERM invalid next hop: not a valid domain name: a character IDNA2008 does not allow' \
	"a snowman (DISALLOWED in IDNA2008): PERM"
like "$(tlsp query $'\xc3\xbc-.test')" $'\tPERM invalid next hop: not a valid domain name: a hyphen' \
	"a label ending in a hyphen: PERM"

# The administrator's commands take the UTF-8 form too.
like "$(tlsp explain bücher.test)" 'MX xn--bcher-kva\.test: data, secure' "explain bücher.test looks up the A-label form"

# A real delivery: SMTPUTF8 mail to user@bücher.test (Postfix's sendmail
# flags it SMTPUTF8 itself: smtputf8_autodetect_classes = sendmail). Postfix
# asks the daemon for bücher.test, gets dane-only, and verifies the TLSA
# record.
msg() {
	printf 'From: <sender@sender.lab.test>\nTo: <user@bücher.test>\nSubject: IDN\n\nA lab message.\n'
}
msg | lab_exec sendmail -C "$LAB_DIR/sender" -f sender@sender.lab.test -- 'user@bücher.test'
ok $? "submit SMTPUTF8 mail to user@bücher.test"
lab_flush
ok "bücher.test: Verified TLS connection established (DANE)" \
	lab_wait_log 'Verified TLS connection established to mx1\.good\.test\[127\.0\.1\.1\]:25' 20
ok "bücher.test: status=sent" lab_wait_log 'to=<user@bücher\.test>.*status=sent' 20
like "$(grep -c 'event=answer dest=xn--bcher-kva\.test ' "$DAEMON_LOG")" '^[1-9]' \
	"the daemon answered Postfix's own lookup"

daemon_stop
is "$?" 0 "SIGTERM: clean exit"
tap_done
