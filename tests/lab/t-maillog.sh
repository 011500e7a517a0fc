#!/usr/bin/env bash
# The daemon follows the sending Postfix's own log (maillog_file) while that
# Postfix delivers through it: Verified and deferred deliveries are counted
# per destination; a destination delivered over Verified TLS that starts
# failing authentication raises auth-failing, once; Postfix's warning that
# DNSSEC validation may be unavailable raises dnssec-off; `postfix
# logrotate` (rotation by rename) loses nothing; and standard input works
# too, with recorded lines and hostile ones.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"

RECORDED=$here/../logwatch
[[ -r $RECORDED/deliveries.log ]] || bail_out "$RECORDED missing"

lab_start
lab_mail_up || bail_out "mail servers did not start"
alert_hook
maillog=$LAB_DIR/sender.log
daemon_conf "maillog_file = $maillog" "alert_command = $ALERT_HOOK" "resolver_check_interval = 0s"
lab_sender_up "socketmap:inet:127.0.0.1:$DAEMON_PORT:tlspolicy" || bail_out "sending Postfix did not start"
ok "the sending Postfix logs to its maillog_file" lab_wait_log 'starting the Postfix mail system' 10
# The daemon runs as nobody: Postfix's log must be readable to it (on a
# real system, through a group such as adm).
chmod 644 "$maillog"
daemon_start || bail_out "tlspolicyd did not start"

# `tlspolicy maillog DEST` prints one key=value line after OK.
field() {
	local line
	line=$(tlsp maillog "$1") || return 1
	[[ $line =~ (^|[[:space:]])$2=([^[:space:]]*) ]] && printf '%s\n' "${BASH_REMATCH[2]}"
}
# Waits until DEST's FIELD reaches at least N.
wait_count() {
	local i n
	for ((i = 0; i < 100; i++)); do
		n=$(field "$1" "$2")
		[[ $n =~ ^[0-9]+$ ]] && ((n >= $3)) && return 0
		sleep 0.1
	done
	diag "$1: $2=$n, want >= $3: $(tlsp maillog "$1")"
	return 1
}
ok "submit to good.test" lab_send user@good.test
ok "submit to wrongtlsa.test" lab_send user@wrongtlsa.test
lab_flush
ok "Postfix: good.test sent" lab_wait_log 'to=<user@good\.test>.*status=sent' 20
ok "Postfix: wrongtlsa.test deferred" lab_wait_log 'to=<user@wrongtlsa\.test>.*status=deferred' 20
ok "good.test: the Verified connection is counted" wait_count good.test verified 1
ok "good.test: the delivery is counted" wait_count good.test sent 1
is "$(field good.test last_verified)" yes "good.test: last delivered over Verified TLS"
is "$(field good.test deferred)" 0 "good.test: nothing deferred"
ok "wrongtlsa.test: the certificate failure is counted" wait_count wrongtlsa.test cert_failed 1
ok "wrongtlsa.test: the 4.7.5 deferral is counted" wait_count wrongtlsa.test deferred_tls 1
is "$(field wrongtlsa.test sent)" 0 "wrongtlsa.test: nothing sent"
is "$(field WrongTLSA.test. deferred)" "$(field wrongtlsa.test deferred)" "the destination is matched in any case"
is "$(field never.test seen)" no "a destination Postfix never logged: seen=no"
like "$(tlsp maillog)" "^OK file=$maillog lines=[1-9][0-9]* verified=[1-9]" "the totals"

# good.test now fails authentication: an exception makes Postfix demand a
# name its certificate does not have.
printf 'good.test secure match=nomatch.example\n' > "$LAB_DIR/exceptions.new"
chmod 644 "$LAB_DIR/exceptions.new"
mv "$LAB_DIR/exceptions.new" "$LAB_DIR/exceptions"
for ((i = 0; i < 50; i++)); do
	[[ $(pmq good.test) == "secure match=nomatch.example" ]] && break
	sleep 0.1
done
ok "second message to good.test" lab_send user@good.test
lab_flush
ok "Postfix: good.test deferred" lab_wait_log 'to=<user@good\.test>.*status=deferred' 20
ok "auth-failing: alert command ran" wait_alert auth-failing
file=$(alerts auth-failing | head -n 1)
like "$(cat "$file")" 'TLSPOLICY_ALERT_DEST=good\.test' "auth-failing names good.test"
like "$(cat "$DAEMON_LOG")" 'alert: event=alert kind=auth-failing dest=good\.test ' "and is logged at level alert"
is "$(field good.test last_verified)" no "good.test: no longer Verified"
lab_flush
for ((i = 0; i < 100; i++)); do
	(($(grep -c 'to=<user@good\.test>.*status=deferred' "$maillog") >= 2)) && break
	sleep 0.1
done
ok "Postfix: good.test deferred again" wait_count good.test deferred 2
is "$(alerts auth-failing | wc -l)" 1 "the failure goes on: no second alert"

# Postfix's own warning, through Postfix's own logger.
lab_exec postlog -c "$LAB_DIR/sender" -t postfix/smtp -p warning 'DNSSEC validation may be unavailable'
ok "dnssec-off: alert command ran" wait_alert dnssec-off
like "$(cat "$(alerts dnssec-off)")" 'TLSPOLICY_ALERT_DETAIL=.*DNSSEC validation may be unavailable' "with the line as detail"

# Rotation by rename: postfix logrotate moves the file aside and postlogd
# starts a new one. Lines on both sides are counted, none twice.
before=$(field good.test deferred)
ok "postfix logrotate" lab_exec postfix -c "$LAB_DIR/sender" logrotate
rm -f "$LAB_DIR/exceptions"
for ((i = 0; i < 50; i++)); do
	[[ $(pmq good.test) == dane-only ]] && break
	sleep 0.1
done
lab_flush
ok "Postfix: good.test sent after the rotation" lab_wait_log 'to=<user@good\.test>.*status=sent' 20 "$maillog"
chmod 644 "$maillog" 2>/dev/null
ok "after the rotation: the delivery is counted" wait_count good.test sent 2
is "$(field good.test deferred)" "$before" "and nothing was counted twice"
is "$(field good.test last_verified)" yes "good.test: Verified again"
daemon_stop
is "$?" 0 "SIGTERM: clean exit"

# Standard input: recorded excerpts and hostile lines piped in, as from
# journalctl -f.
daemon_conf "maillog_file = -" "alert_command = $ALERT_HOOK" "resolver_check_interval = 0s"
rm -f "$LAB_DIR"/alerts/alert.*
cat "$RECORDED/deliveries.log" "$RECORDED/hostile.log" "$RECORDED/dnssec-off.log" > "$LAB_DIR/piped.log"
# A recipient domain is the sender's to choose: one that is no host name,
# delivered over Verified TLS, then failing.
cat >>"$LAB_DIR/piped.log" <<'EOF'
Nov 24 18:52:01 mail postfix/smtp[901]: Verified TLS connection established to mx1.good.test[127.0.1.1]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
Nov 24 18:52:01 mail postfix/smtp[901]: 4AB12: to=<u@x;touch${IFS}pwned;$(id).test>, relay=mx1.good.test[127.0.1.1]:25, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (250 2.0.0 Ok)
Nov 24 18:52:02 mail postfix/smtp[902]: 4AB13: to=<u@x;touch${IFS}pwned;$(id).test>, relay=mx1.good.test[127.0.1.1]:25, delay=0.1, delays=0/0/0/0.1, dsn=4.7.5, status=deferred (Server certificate not verified)
EOF
DAEMON_LOG=$LAB_DIR/tlspolicyd.log
ip netns exec "$LAB_NETNS" "$TLSPOLICYD" -f -c "$DAEMON_CONF" < "$LAB_DIR/piped.log" 2>>"$DAEMON_LOG" &
DAEMON_PID=$!
lab_record_pid "$DAEMON_PID" tlspolicyd
for ((i = 0; i < 100; i++)); do
	grep -q 'event=maillog-eof' "$DAEMON_LOG" && break
	sleep 0.1
done
ok "standard input: read to its end" grep -q 'event=maillog-eof' "$DAEMON_LOG"
# (hostile.log has good.test lines of its own, so good.test is not counted here.)
is "$(field selfsigned.test untrusted)" 1 "recorded: selfsigned.test Untrusted once"
is "$(field wrongname.test sent)" 1 "recorded: wrongname.test sent once"
is "$(field wrongtlsa.test deferred_tls)" 1 "recorded: wrongtlsa.test deferred with 4.7.5"
is "$(field notlsa.test trusted)" 1 "recorded: notlsa.test Trusted"
ok "recorded: dnssec-off raised" wait_alert dnssec-off
ok "a hostile recipient domain: auth-failing raised" wait_alert auth-failing
file=$(alerts auth-failing | head -n 1)
unlike "$(cat "$file")" 'TLSPOLICY_ALERT_DEST=' "...but its name, no host name, is not handed to alert_command"
# (Lower case, as Postfix's log is read; kv quotes only what could forge a field.)
like "$(cat "$file")" 'TLSPOLICY_ALERT_LINE=event=alert kind=auth-failing dest=x;touch\$\{ifs\}pwned;\$\(id\)\.test ' \
	"...only in the alert's whole line"
like "$(cat "$DAEMON_LOG")" 'alert: event=alert kind=auth-failing dest=x;touch\$\{ifs\}pwned;\$\(id\)\.test ' \
	"and the log has it"
like "$(tlsp stats)" '^OK' "hostile lines did not hurt the daemon"
daemon_stop
is "$?" 0 "SIGTERM: clean exit"

# A file the daemon's user cannot read is refused at start; "-" without -f
# too, since a detaching daemon closes its standard input.
touch "$LAB_DIR/secret.log"
chmod 600 "$LAB_DIR/secret.log"
daemon_conf "maillog_file = $LAB_DIR/secret.log"
out=$(ip netns exec "$LAB_NETNS" "$TLSPOLICYD" -f -c "$DAEMON_CONF" 2>&1)
is "$?" 66 "an unreadable maillog_file: exit 66 (EX_NOINPUT)"
like "$out" "maillog_file $LAB_DIR/secret.log: Permission denied" "saying which file and why"
daemon_conf "maillog_file = -"
out=$(ip netns exec "$LAB_NETNS" "$TLSPOLICYD" -c "$DAEMON_CONF" 2>&1 </dev/null)
is "$?" 78 "maillog_file = - without -f: exit 78"
like "$out" "standard input" "saying why"
tap_done
