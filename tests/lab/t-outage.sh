#!/usr/bin/env bash
# Case 12: the authoritative server is down. Every answer that needs it is
# TEMP within the configured time limit, never a weaker policy; answers
# cached before the outage stay what they were.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"

daemon_lab_start "dns_timeout = 2s"

# Warm the cache for one destination while DNS works.
is "$(pmq good.test)" "dane-only" "before the outage: good.test"

lab_nsd_stop || bail_out "could not stop NSD"

# Each lookup may take dns_timeout; a resolution has at most three rounds
# (MX, addresses, TLSA), so 3 x 2 s bounds it, plus start-up slack.
for key in notlsa.test insecure.test mixed.test '[mx.submit.test]:587' pkix.test; do
	start=$(_lab_ms)
	got=$(pmq "$key")
	took=$(( $(_lab_ms) - start ))
	like "$got" '^ERROR: ' "server down: $key is TEMP, not a policy"
	ok $(( took <= 7000 ? 0 : 1 )) "server down: $key answered in ${took} ms (limit 7000)"
done
got=$(tlsp query notlsa.test)
like "$got" $'\tTEMP .*(timed out|SERVFAIL)' "the TEMP reason says the lookup timed out or failed"

# What was learnt before the outage is still served, as learnt.
is "$(pmq good.test)" "dane-only" "cached answer survives the outage unchanged"
unlike "$(grep 'event=answer' "$DAEMON_LOG")" 'dest=(notlsa|insecure|mixed|pkix)\.test answer="OK' \
	"no OK answer for any destination that needed the dead server"

daemon_stop
tap_done
