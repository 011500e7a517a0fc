#!/usr/bin/env bash
# The exception list at work, asked through Postfix's own client (postmap
# -q): a copy of the public danefail list with the lab's entries loads;
# exact, subdomain, MX-host and expired entries change (or do not change)
# the answers; a broken reload keeps the old list; a change to the file is
# picked up within seconds; the probes propose exceptions, report fixed
# ones, and exceptions_retire acts on them; exceptions_auto applies a
# proposal only when Postfix's own log corroborates it (4.7.5 deferrals
# over exceptions_auto_evidence), never on probe evidence alone.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"

SAMPLE=$here/../exceptions/danefail-sample.txt
[[ -r $SAMPLE ]] || bail_out "$SAMPLE missing"

lab_start
lab_mail_up || bail_out "mail servers did not start"
lab_sender_up "texthash:/dev/null" || bail_out "sender configuration failed"

list=$LAB_DIR/exceptions
# Written beside the list and renamed over it, as an editor or rsync does.
install_list() {
	cat > "$list.new" && chmod 644 "$list.new" && mv -f "$list.new" "$list"
}
# Waits for the daemon to log its Nth reload line of a kind.
wait_log() {
	local pattern=$1 count=$2 i
	for ((i = 0; i < 100; i++)); do
		(( $(grep -c -- "$pattern" "$DAEMON_LOG") >= count )) && return 0
		sleep 0.1
	done
	return 1
}

{
	cat "$SAMPLE"
	cat <<-'EOF'

		## The lab's entries
		wrongtlsa.test
		good.test encrypt expires=2020-01-01
		.sub.notlsa.test secure match=nexthop
		mx:mx.bogustlsa.test encrypt
		mx:mx.wrongtlsa.test encrypt
		mx:mx.notlsa.test may
	EOF
} | install_list

ok "tlspolicy lint: the list passes" tlsp lint "$list"
like "$(tlsp lint "$list")" "^$list: [0-9]+ entries, no errors" "lint counts the entries"

daemon_conf
daemon_start || bail_out "tlspolicyd did not start"
like "$(cat "$DAEMON_LOG")" "notice: event=exceptions-reload result=ok file=$list entries=[0-9]+ trigger=start" \
	"the list is loaded at start"

# The answers, through Postfix.
is "$(pmq wrongtlsa.test)" "may" "exact entry: wrongtlsa.test gets may instead of dane-only"
like "$(cat "$DAEMON_LOG")" 'dest=wrongtlsa\.test .*rule=exception' "the log line says exception"
is "$(pmq bornholm-bager.dk)" "may" "a danefail entry applies (no DNS needed)"
is "$(pmq xn--mller-tmrer-ggbg.dk)" "may" "an IDN entry applies"
is "$(pmq a.sub.notlsa.test)" "secure match=nexthop" "subdomain entry: a.sub.notlsa.test gets its policy"
isnt "$(pmq sub.notlsa.test)" "secure match=nexthop" "subdomain entry: not the parent itself"
is "$(pmq good.test)" "dane-only" "expired entry: good.test keeps DANE"
like "$(cat "$DAEMON_LOG")" 'event=exception-expired name=good\.test .*expired=2020-01-01' "the expiry is logged"
is "$(pmq bogustlsa.test)" "encrypt" "MX-host entry: bogustlsa.test gets encrypt, not TEMP"
is "$(pmq '[mx.bogustlsa.test]')" "encrypt" "MX-host entry: the [host] next hop too"
is "$(pmq hosted.test)" "encrypt" "MX-host entry: another domain on that provider's host"
# mixed.test's other host, mx1.good.test, has DANE: an entry for one of two
# hosts must not take it away.
is "$(pmq mixed.test)" "dane" "MX-host entry for one of two hosts: dane, not the entry's may"
like "$(tlsp explain mixed.test)" 'Postfix gets OK dane, not the answer above.*names 1 of 2 MX hosts, so dane instead of may' "explain says why the entry did not apply"
like "$(tlsp explain wrongtlsa.test)" "exception: $list line [0-9]+ names wrongtlsa\.test" \
	"tlspolicy explain shows the exception"

# A broken list is rejected whole; the old one stays in force.
{
	cat "$list"
	printf 'Broken.test\n10.0.0.1\nok.test expires=2026-02-30\n'
} | install_list
ok "broken list: rejected within seconds" wait_log 'event=exceptions-reload result=rejected' 1
like "$(cat "$DAEMON_LOG")" "exceptions-error error=\"$list:[0-9]+: [^\"]*upper case" "the error names file:line"
is "$(grep -c 'event=exceptions-error' "$DAEMON_LOG")" 3 "every error is reported"
like "$(grep 'result=rejected' "$DAEMON_LOG")" 'Z error: event=exceptions-reload result=rejected' \
	"the rejection is logged at level error"
is "$(pmq wrongtlsa.test)" "may" "the old list stays in force"
is "$(pmq a.sub.notlsa.test)" "secure match=nexthop" "all of it"
tlsp lint "$list" >/dev/null 2>&1
is "$?" 1 "tlspolicy lint exits 1 on the same file"

# A fixed list is picked up; wrongtlsa.test goes back to DANE.
printf 'hosted.test encrypt\n' | install_list
ok "fixed list: loaded within seconds" wait_log 'event=exceptions-reload result=ok .*trigger="file changed"' 1
is "$(pmq wrongtlsa.test)" "dane-only" "the removed entry no longer applies"
is "$(pmq hosted.test)" "encrypt" "the new entry applies"
like "$(pmq bogustlsa.test)" '^ERROR: ' "the MX-host entry is gone: TEMP again"

# SIGHUP reloads too.
printf 'hosted.test may\n' > "$list"
kill -HUP "$DAEMON_PID"
ok "SIGHUP: reloaded" wait_log 'event=exceptions-reload result=ok .*trigger=SIGHUP' 1
is "$(pmq hosted.test)" "may" "the list read on SIGHUP applies"
daemon_stop

# Probes: wrongtlsa.test fails DANE on its only host, so an exception is
# proposed. Anyone on the path can make a probe see a wrong certificate:
# without Postfix's log to corroborate it, exceptions_auto applies nothing
# (and says so at start). good.test, listed, passes: it is reported fixed,
# and with exceptions_retire no longer applied.
printf 'good.test encrypt\n' | install_list
daemon_conf "exceptions_auto = yes" "exceptions_retire = yes"
daemon_start || bail_out "tlspolicyd did not start"
like "$(cat "$DAEMON_LOG")" 'warning: event=exceptions-auto applies=never .*needs maillog_file' \
	"exceptions_auto without maillog_file: a warning at start"
is "$(pmq wrongtlsa.test)" "dane-only" "before the probe: DANE"
ok "the probe proposes an exception" wait_log 'event=exception-proposed dest=wrongtlsa\.test' 1
like "$(grep 'event=exception-proposed' "$DAEMON_LOG")" 'line="wrongtlsa\.test may" applied=no waiting=no-maillog' \
	"the log line gives the line to add, not applied: no maillog_file"
is "$(tlsp exceptions --proposed)" "wrongtlsa.test may" "tlspolicy exceptions --proposed lists it"
sleep 3	# the proposals are looked at again every two seconds
is "$(pmq wrongtlsa.test)" "dane-only" "exceptions_auto, probe evidence alone: still DANE"
is "$(grep -c 'event=exception-applied' "$DAEMON_LOG")" 0 "...nothing applied"
is "$(pmq good.test)" "encrypt" "good.test has its exception"
ok "a probe finds good.test fixed" wait_log 'event=alert kind=exception-fixed dest=good\.test' 1
ok "exceptions_retire: it is retired" wait_log 'event=exception-retired dest=good\.test' 1
is "$(pmq good.test)" "dane-only" "and DANE applies again"
daemon_stop
is "$?" 0 "SIGTERM: clean exit"

# With Postfix's log: the proposal waits until Postfix's own deliveries
# to wrongtlsa.test have been deferred with 4.7.5 for
# exceptions_auto_evidence, at least exceptions_auto_deferrals times.
rm -f "$list"
lab_sender_up "socketmap:inet:127.0.0.1:$DAEMON_PORT:tlspolicy" || bail_out "sending Postfix did not start"
maillog=$LAB_DIR/sender.log
ok "the sending Postfix logs to its maillog_file" lab_wait_log 'starting the Postfix mail system' 10
chmod 644 "$maillog"
: >"$DAEMON_LOG"
daemon_conf "exceptions_auto = yes" "maillog_file = $maillog" "exceptions_auto_evidence = 4s" \
	"exceptions_auto_deferrals = 2"
daemon_start || bail_out "tlspolicyd did not start"
is "$(grep -c 'event=exceptions-auto' "$DAEMON_LOG")" 0 "with maillog_file: no warning"
is "$(pmq wrongtlsa.test)" "dane-only" "before the probe: DANE"
ok "proposed" wait_log 'event=exception-proposed dest=wrongtlsa\.test' 1
like "$(grep 'event=exception-proposed' "$DAEMON_LOG")" 'applied=no waiting=no-deferrals' \
	"not applied: Postfix has deferred nothing yet"
ok "submit to wrongtlsa.test" lab_send user@wrongtlsa.test
lab_flush
ok "Postfix: wrongtlsa.test deferred with 4.7.5" lab_wait_log 'to=<user@wrongtlsa\.test>.*dsn=4\.7\.5, status=deferred' 20
sleep 2
is "$(pmq wrongtlsa.test)" "dane-only" "one deferral, just now: still DANE"
# Postfix retries (flushed here every second instead of its backoff); once
# the first deferral is 4 s old and another is recent, the proposal applies.
applied=1
for ((i = 0; i < 30; i++)); do
	grep -q 'event=exception-applied' "$DAEMON_LOG" && { applied=0; break; }
	lab_flush
	sleep 1
done
ok "corroborated by Postfix's log: applied" test $applied -eq 0
like "$(grep 'event=exception-applied' "$DAEMON_LOG")" 'dest=wrongtlsa\.test line="wrongtlsa\.test may" deferrals=([2-9]|[1-9][0-9]+) failing_since=[1-9]' \
	"the log line says on what evidence"
like "$(cat "$DAEMON_LOG")" 'alert: event=alert kind=exception-applied dest=wrongtlsa\.test' "and raises an alert"
is "$(pmq wrongtlsa.test)" "may" "exceptions_auto: the proposal applies"
lab_flush
ok "Postfix delivers it now" lab_wait_log 'to=<user@wrongtlsa\.test>.*status=sent' 30
daemon_stop
is "$?" 0 "SIGTERM: clean exit"
lab_sender_up "texthash:/dev/null" || bail_out "sender configuration failed"

# Without exceptions_auto the proposal is only a proposal; a daemon with
# a broken list does not start.
daemon_conf
printf 'good.test maybe\n' | install_list
ip netns exec "$LAB_NETNS" "$TLSPOLICYD" -f -c "$DAEMON_CONF" 2>"$LAB_DIR/start.err"
is "$?" 78 "a broken list at start: exit 78 (EX_CONFIG)"
like "$(cat "$LAB_DIR/start.err")" "$list:1: " "naming the line"
rm -f "$list"
: >"$DAEMON_LOG"
daemon_start || bail_out "tlspolicyd did not start"
# Its answer is in the restored cache: resolve and probe it now.
tlsp refresh wrongtlsa.test >/dev/null
ok "proposed again" wait_log 'event=exception-proposed dest=wrongtlsa\.test .*applied=no waiting=off' 1
is "$(pmq wrongtlsa.test)" "dane-only" "without exceptions_auto it does not apply"
daemon_stop
tap_done
