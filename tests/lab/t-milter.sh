#!/usr/bin/env bash
# tlspolicy-milter behind a real Postfix smtpd, with swaks as the sending
# client: recipients in a DANE-verified domain are accepted (and the header
# says dane-only, the sender's own X-TLS-Policy headers removed); a domain
# whose TLSA does not match its server (probe evidence) is accepted or
# deferred with 4.7.5, never refused with 5xx, while a bogus one is refused
# with 5.7.5 under reject; a sender who must send securely cannot reach a
# "may" or "dane" domain, and is deferred when the daemon cannot say; the
# daemon stopped or hung never blocks other mail; and the milter's question
# warms the daemon's cache for the queue manager.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"
MILTER=${top_builddir:-.}/bin/tlspolicy-milter
MILTER_ADDR=127.0.0.1:8891
SUBMIT_ADDR=127.0.0.1:2525
MILTER_PID=
MILTER_LOG=

[ -x "$MILTER" ] || bail_out "$MILTER not built"
command -v swaks >/dev/null || bail_out "swaks is missing (apt-get install swaks; ./dev test installs it)"
lab_start
lab_mail_up || bail_out "mail servers did not start"
# Submissions are held once accepted: the test reads them with postcat
# instead of delivering them.
lab_sender_up "socketmap:inet:127.0.0.1:$DAEMON_PORT:tlspolicy" \
	"$SUBMIT_ADDR" "smtpd_milters=inet:$MILTER_ADDR" milter_default_action=accept \
	"smtpd_end_of_data_restrictions=check_client_access,static:HOLD" ||
	bail_out "the sender with its smtpd did not start"
daemon_conf
daemon_start || bail_out "tlspolicyd did not start"

# milter_start [NAME = VALUE...]: the daemon's configuration plus these.
milter_start() {
	local conf=$LAB_DIR/milter.conf line
	{
		cat "$DAEMON_CONF"
		echo "milter_listen = inet:$MILTER_ADDR"
		for line in "$@"; do
			echo "$line"
		done
	} >"$conf"
	MILTER_LOG=$LAB_DIR/milter.log
	ip netns exec "$LAB_NETNS" "$MILTER" -f -c "$conf" 2>>"$MILTER_LOG" &
	MILTER_PID=$!
	lab_record_pid "$MILTER_PID" tlspolicy-milter
	_lab_poll 5000 _lab_alive_and "$MILTER_PID" _lab_listening "$MILTER_ADDR" && return 0
	diag "tlspolicy-milter did not start:"
	diag "$(tail -n 20 "$MILTER_LOG")"
	return 1
}

milter_stop() {
	[ -n "$MILTER_PID" ] || return 0
	kill -TERM "$MILTER_PID" 2>/dev/null
	wait "$MILTER_PID" 2>/dev/null
	local rc=$?
	_lab_forget_pid "$MILTER_PID"
	MILTER_PID=
	return $rc
}

# rcpt FROM TO: the server's reply to RCPT TO, its last line ("250 2.1.5 Ok").
rcpt() {
	lab_exec swaks --server "$SUBMIT_ADDR" --from "$1" --to "$2" --quit-after RCPT --timeout 30 2>&1 |
		awk '/^ *-> RCPT TO/ { want = 1; next }
			want && sub(/^<[-*~]* */, "") && /^[245][0-9][0-9][ -]/ { reply = $0; if (/^...[ ]/) exit }
			END { print reply }'
}

# submit FROM TO [SWAKS OPTIONS...]: a whole message; prints its queue id.
submit() {
	local from=$1 to=$2
	shift 2
	lab_exec swaks --server "$SUBMIT_ADDR" --from "$from" --to "$to" --timeout 30 "$@" 2>&1 |
		sed -n 's/^<[-*~]* *250 2\.0\.0 Ok: queued as \([0-9A-Za-z]*\).*/\1/p'
}

milter_start "milter_add_header = yes" || bail_out "tlspolicy-milter did not start"
is "$(ps -o user= -p "$MILTER_PID" | tr -d ' ')" nobody "the milter runs as the configured user"
like "$(cat "$MILTER_LOG")" "event=started .*socketmap=unix:$LAB_DIR/status " \
	"it asks the daemon's status listener (status_listen), not a Postfix one"

# --- a DANE-verified domain
like "$(rcpt user@sender.lab.test user@good.test)" '^250 ' "DANE domain: RCPT accepted"
qid=$(submit user@sender.lab.test user@good.test)
like "$qid" '^[0-9A-Za-z]+$' "DANE domain: the message is queued"
headers=$(lab_exec postcat -c "$LAB_SENDER" -hq "$qid" 2>&1)
is "$(grep '^X-TLS-Policy:' <<<"$headers")" "X-TLS-Policy: good.test=dane-only" "the header says dane-only"
qid=$(submit user@sender.lab.test "user@good.test,other@notlsa.test,again@good.test")
headers=$(lab_exec postcat -c "$LAB_SENDER" -hq "$qid" 2>&1)
is "$(grep '^X-TLS-Policy:' <<<"$headers")" "X-TLS-Policy: good.test=dane-only, notlsa.test=may" \
	"two domains, three recipients: one header, each domain once"
# A sender's own X-TLS-Policy headers, in any case, would pass for ours
# further on: each is removed, and only ours is left.
qid=$(submit user@sender.lab.test user@notlsa.test --add-header "X-TLS-Policy: notlsa.test=dane-only" \
	--add-header "x-tls-policy: other.test=dane-only" --add-header "X-TLS-Policy: notlsa.test=verify")
headers=$(lab_exec postcat -c "$LAB_SENDER" -hq "$qid" 2>&1)
is "$(grep -ci '^X-TLS-Policy:' <<<"$headers")" 1 "forged X-TLS-Policy headers: one header left"
is "$(grep -i '^X-TLS-Policy:' <<<"$headers")" "X-TLS-Policy: notlsa.test=may" "...ours, saying may"
like "$headers" 'Subject: ' "...and the rest of the message is there"
like "$(cat "$MILTER_LOG")" 'event=rcpt (queue_id=[0-9A-Za-z]+ )?sender=<user@sender\.lab\.test> rcpt=<user@good\.test> dest=good\.test security=dane-only failure=none cache=[a-z]+ action=accept why=ok' \
	"one log line per recipient"

# --- the milter's question warms the cache the queue manager uses
like "$(rcpt user@sender.lab.test user@ta.test)" '^250 ' "a new domain: RCPT accepted"
like "$(grep 'dest=ta.test' "$DAEMON_LOG" | head -n 1)" 'event=answer map=tlspolicy-status dest=ta\.test answer="OK dane-only" .*cache=miss' \
	"the daemon resolved it for the milter"
is "$(pmq ta.test)" dane-only "postmap -q after the RCPT: dane-only"
like "$(grep 'event=answer dest=ta.test' "$DAEMON_LOG" | tail -n 1)" 'cache=hit' \
	"...answered from the cache the milter warmed"

# --- a domain whose TLSA does not match its server
pmq wrongtlsa.test >/dev/null
for ((i = 0; i < 100; i++)); do
	grep -q 'event=alert kind=dane-mismatch-all dest=wrongtlsa.test' "$DAEMON_LOG" && break
	sleep 0.1
done
like "$(cat "$DAEMON_LOG")" 'kind=dane-mismatch-all dest=wrongtlsa\.test' "probe evidence: every host mismatches"
like "$(tlsp query -m tlspolicy-status wrongtlsa.test)" 'result=ok policy=dane-only rule=all-hosts-dane failure=tlsa-mismatch' \
	"the status map says so"
like "$(rcpt user@sender.lab.test user@wrongtlsa.test)" '^250 ' "TLSA mismatch, on_dane_failure = accept: accepted"
like "$(grep 'rcpt=<user@wrongtlsa.test>' "$MILTER_LOG" | tail -n 1)" 'failure=tlsa-mismatch .*action=accept why=dane-failure-accepted' \
	"...and logged as a known failure"

milter_stop
milter_start "milter_on_dane_failure = tempfail" || bail_out "tlspolicy-milter did not restart"
reply=$(rcpt user@sender.lab.test user@wrongtlsa.test)
like "$reply" '^450 4\.7\.5 ' "on_dane_failure = tempfail: 450 4.7.5"
like "$reply" 'Mail to wrongtlsa\.test cannot be delivered securely now: .*TLSA' "...naming the domain and the reason"
like "$(rcpt user@sender.lab.test user@good.test)" '^250 ' "tempfail leaves working domains alone"

milter_stop
milter_start "milter_on_dane_failure = reject" || bail_out "tlspolicy-milter did not restart"
# A probe's mismatch is evidence anyone on the path can fake: a 4xx at most.
reply=$(rcpt user@sender.lab.test user@wrongtlsa.test)
like "$reply" '^450 4\.7\.5 ' "on_dane_failure = reject, TLSA mismatch found by probes: 450 4.7.5, never 5xx"
like "$reply" 'wrongtlsa\.test' "...naming the domain"
reply=$(rcpt user@sender.lab.test user@bogustlsa.test)
like "$reply" '^550 5\.7\.5 .*bogustlsa\.test.*DNSSEC' "a bogus TLSA RRset: 550 5.7.5, DNSSEC named"
like "$(rcpt user@sender.lab.test user@notlsa.test)" '^250 ' "reject leaves may domains alone"

# An exception overrides the probes: the domain is not refused.
echo "wrongtlsa.test" >"$LAB_DIR/exceptions"
for ((i = 0; i < 50; i++)); do
	grep -q 'event=exceptions-reload.*entries=1' "$DAEMON_LOG" && break
	sleep 0.1
done
like "$(rcpt user@sender.lab.test user@wrongtlsa.test)" '^250 ' "an exception for it: accepted"
: >"$LAB_DIR/exceptions"

# --- senders who must send securely
milter_stop
milter_start "milter_require_secure_senders = boss@sender.lab.test, @legal.lab.test" \
	"milter_add_header = yes" || bail_out "tlspolicy-milter did not restart"
reply=$(rcpt boss@sender.lab.test user@notlsa.test)
like "$reply" '^550 5\.7\.1 .*notlsa\.test' "secure sender to a may domain: 550 5.7.1 naming it"
like "$reply" 'authenticated TLS' "...saying why"
like "$(rcpt counsel@Legal.lab.test user@notlsa.test)" '^550 5\.7\.1 ' "a listed @domain, any case: refused"
like "$(rcpt boss@sender.lab.test user@good.test)" '^250 ' "secure sender to a DANE domain: accepted"
is "$(pmq mixed.test)" dane "mixed.test: one MX host with TLSA, one without: dane"
reply=$(rcpt boss@sender.lab.test user@mixed.test)
like "$reply" '^550 5\.7\.1 .*mixed\.test' "secure sender to a dane (mixed hosts) domain: 550 5.7.1"
like "$(rcpt other@sender.lab.test user@notlsa.test)" '^250 ' "another sender to the may domain: accepted"

# --- the daemon hung: the milter waits milter_lookup_timeout, no more
milter_stop
milter_start "milter_lookup_timeout = 500ms" "milter_on_dane_failure = reject" \
	"milter_require_secure_senders = boss@sender.lab.test" ||
	bail_out "tlspolicy-milter did not restart"
kill -STOP "$DAEMON_PID"
t0=$(_lab_ms)
reply=$(rcpt user@sender.lab.test user@wrongtlsa.test)
took=$(($(_lab_ms) - t0))
secure_reply=$(rcpt boss@sender.lab.test user@good.test)
kill -CONT "$DAEMON_PID"
like "$reply" '^250 ' "daemon not answering: accepted"
ok $((took < 5000 ? 0 : 1)) "...within the lookup timeout (the whole SMTP dialogue took ${took} ms)"
like "$(grep 'rcpt=<user@wrongtlsa.test>' "$MILTER_LOG" | tail -n 1)" "action=accept why=no-answer error=\"unix:$LAB_DIR/status: reply: no answer in time\"" \
	"...and the log says why"
like "$secure_reply" '^450 4\.7\.5 .*good\.test' "...but a secure sender's recipient: 450 4.7.5, not accepted unchecked"
like "$(rcpt user@sender.lab.test user@bogustlsa.test)" '^550 5\.7\.5 ' "the daemon back: the milter reconnects"

# --- the daemon stopped
daemon_stop
like "$(rcpt user@sender.lab.test user@wrongtlsa.test)" '^250 ' "daemon stopped: accepted"
like "$(grep 'rcpt=<user@wrongtlsa.test>' "$MILTER_LOG" | tail -n 1)" "security=unknown .*action=accept why=no-answer error=\"unix:$LAB_DIR/status: connect: Connection refused\"" \
	"...and the log says why"
like "$(rcpt boss@sender.lab.test user@good.test)" '^450 4\.7\.5 ' "daemon stopped, secure sender: 450 4.7.5"
like "$(grep 'rcpt=<user@good.test>' "$MILTER_LOG" | tail -n 1)" 'sender=<boss@sender\.lab\.test> .*action=tempfail why=secure-sender-no-answer' \
	"...logged as such"

milter_stop
is "$?" 0 "SIGTERM: the milter exits cleanly"
tap_done
