#!/usr/bin/env bash
# Case 13: a real Postfix delivers through the daemon. Mail to a domain with
# a correct TLSA record is sent over Verified TLS; mail to a signed domain
# whose TLSA does not match its server's certificate is deferred.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"

lab_start
daemon_conf
daemon_start || bail_out "tlspolicyd did not start"
lab_mail_up || bail_out "receiving Postfix did not start"
lab_sender_up "socketmap:inet:127.0.0.1:$DAEMON_PORT:tlspolicy" || bail_out "sending Postfix did not start"

ok "submit to good.test" lab_send user@good.test
ok "submit to wrongtlsa.test" lab_send user@wrongtlsa.test
lab_flush

ok "good.test: Verified TLS connection established" \
	lab_wait_log 'Verified TLS connection established to mx1\.good\.test\[127\.0\.1\.1\]:25' 20
ok "good.test: status=sent" lab_wait_log 'to=<user@good\.test>.*status=sent' 20
ok "wrongtlsa.test: certificate verification failed on the TLSA records" \
	lab_wait_log 'mx\.wrongtlsa\.test.*(no matching DANE TLSA records|certificate verification failed)' 20
ok "wrongtlsa.test: deferred with dsn=4.7.5 and the reason" \
	lab_wait_log 'to=<user@wrongtlsa\.test>.*dsn=4\.7\.5, status=deferred \(Server certificate not verified\)' 20
is "$(grep -c 'to=<user@wrongtlsa\.test>.*status=sent' "$LAB_SENDER_LOG")" 0 "wrongtlsa.test: never sent"

# Postfix asked the daemon, with the bare next-hop domain.
like "$(cat "$DAEMON_LOG")" 'event=answer dest=good\.test answer="OK dane-only"' "the daemon answered good.test"
like "$(cat "$DAEMON_LOG")" 'event=answer dest=wrongtlsa\.test answer="OK dane-only"' "the daemon answered wrongtlsa.test"

daemon_stop
tap_done
