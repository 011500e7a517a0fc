#!/usr/bin/env bash
# Alerts: each one runs alert_command with the alert in its environment
# (never as arguments), is not repeated within alert_interval, and the
# daemon's check of Postfix's resolver raises one when it does not
# validate.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"

lab_start
lab_mail_up || bail_out "mail servers did not start"
alert_hook
# Postfix's resolver, as this test has it: NSD, which answers without AD.
echo "nameserver 127.0.0.2" > "$LAB_DIR/nsd-resolv.conf"
lab_sender_up "texthash:/dev/null" || bail_out "sender configuration failed"
daemon_conf "alert_command = $ALERT_HOOK one two" "resolv_conf = $LAB_DIR/nsd-resolv.conf"
daemon_start || bail_out "tlspolicyd did not start"

ok "resolver without AD: alert command ran" wait_alert resolver-not-validating
like "$(cat "$DAEMON_LOG")" 'alert: event=alert kind=resolver-not-validating dest=- .*error="answered without the AD bit' \
	"resolver without AD: alert line"

pmq wrongtlsa.test >/dev/null
ok "DANE mismatch: alert command ran" wait_alert dane-mismatch
file=$(alerts dane-mismatch | head -n 1)
is "$(grep -c '^arg=' "$file")" 2 "the command got its configured arguments only"
like "$(cat "$file")" $'argc=2\narg=one\narg=two\n' "the arguments are the configured words"
like "$(cat "$file")" 'TLSPOLICY_ALERT_DEST=wrongtlsa\.test' "the destination is in the environment"
like "$(cat "$file")" 'TLSPOLICY_ALERT_TLSA=3 1 1 [0-9a-f]{64}' "the evidence is in the environment"
like "$(cat "$file")" 'TLSPOLICY_ALERT_LINE=event=alert kind=dane-mismatch dest=wrongtlsa\.test' "and the whole line"

# The same alert again within alert_interval: logged as held, no new command.
tlsp refresh wrongtlsa.test >/dev/null
for ((i = 0; i < 50; i++)); do
	(( $(grep -c 'event=probe dest=wrongtlsa.test' "$DAEMON_LOG") >= 2 )) && break
	sleep 0.1
done
sleep 0.5
is "$(alerts dane-mismatch | wc -l)" 1 "a repeat within alert_interval runs nothing"
is "$(grep -c 'event=alert kind=dane-mismatch dest=wrongtlsa.test' "$DAEMON_LOG")" 1 "and is not logged again"
like "$(tlsp stats)" '^OK' "the daemon goes on"

daemon_stop
is "$?" 0 "SIGTERM: clean exit"
tap_done
