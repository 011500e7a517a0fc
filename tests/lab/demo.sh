#!/usr/bin/env bash
# make demo: the whole path in a minute, without the internet. Brings up the
# lab (signed zones, a validating resolver, mail servers), starts tlspolicyd
# against it, and asks for each lab destination through Postfix's own client,
# postmap -q, with the rule and reason the daemon logged for its answer.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"

if [[ $(id -u) != 0 ]]; then
	echo "make demo needs root: it creates a network namespace for the lab" >&2
	exit 1
fi
LAB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tlsplab.XXXXXX")
lab_traps
echo "Bringing up the lab: DNSSEC-signed zone test., unsigned child insecure.test,"
echo "a validating resolver and STARTTLS mail servers, in namespace of its own..."
lab_up >/dev/null || { echo "lab_up failed" >&2; exit 1; }
lab_sender_up "texthash:/dev/null" >/dev/null || { echo "Postfix set-up failed" >&2; exit 1; }
daemon_conf
daemon_start >/dev/null || { echo "tlspolicyd did not start; see $DAEMON_LOG" >&2; exit 1; }
echo "tlspolicyd is up (pid $DAEMON_PID, running as nobody). Postfix asks:"
echo
printf '%-24s %-12s %s\n' "destination" "answer" "rule: reason"
printf '%-24s %-12s %s\n' "-----------" "------" "------------"
for key in good.test mixed.test notlsa.test danemx.insecure.test insecure.test \
	unsignedmx.test pkix.test cnamemx.test implicit.test ta.test '[mx.submit.test]:587' \
	bogusmx.test bogustlsa.test wrongtlsa.test nullmx.test nonexistent.test '[192.0.2.1]'; do
	answer=$(pmq "$key")
	[[ $answer == ERROR:* ]] && answer=TEMP
	# The daemon's own log line for this answer: rule and reason.
	line=$(grep -F "event=answer dest=$key " "$DAEMON_LOG" | tail -n 1)
	rule=$(sed -n 's/.* rule=\([^ ]*\).*/\1/p' <<<"$line")
	reason=$(sed -n 's/.* reason=\("[^"]*"\|[^ ]*\).*/\1/p' <<<"$line" | tr -d '"')
	(( ${#reason} > 90 )) && reason="${reason:0:87}..."
	printf '%-24s %-12s %s: %s\n' "$key" "$answer" "$rule" "$reason"
done
echo
echo "Every step of one decision:  tlspolicy explain good.test"
echo
tlsp explain good.test | sed 's/^/    /'
daemon_stop
