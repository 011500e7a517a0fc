#!/usr/bin/env bash
# The trust check of the daemon's own resolver: the DNSKEY of
# trust_check_name (test.) must resolve secure through libunbound, at
# start and every trust_check_interval. A wrong anchor (bogus), an anchor
# for another zone (insecure) or none at all stops the start with exit
# status 78 (EX_CONFIG); keys that change under the anchor later raise
# kind=trust-check-failed and turn fresh resolutions into TEMP, until a
# check passes again. An outage at start is no verdict: the daemon starts
# and answers TEMP until the check passes. trust_anchor_tracking keeps an
# RFC 5011 copy of the anchor in state_directory, which libunbound
# rewrites after the daemon has dropped root.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"

lab_start
lab_sender_up "texthash:/dev/null" || bail_out "sender configuration failed"
alert_hook

t=$LAB_DIR/trust
mkdir -p "$t" || bail_out "mkdir $t"
# The lab's libunbound configuration without its trust anchor.
grep -v 'trust-anchor' "$LAB_DAEMON_UNBOUND_CONF" >"$t/noanchor.conf"
# The same, with the anchor in a file it includes.
printf 'server:\n    trust-anchor-file: "%s"\n' "$LAB_TA" >"$t/anchor.conf"
{ cat "$t/noanchor.conf"; printf 'include: "%s"\n' "$t/anchor.conf"; } >"$t/included.conf"
# Another key for test. (a stale anchor after a rollover looks like
# this), and a key for a zone that is not the lab's.
wrong=$(cd "$t" && ldns-keygen -a ECDSAP256SHA256 -k test.) &&
	other=$(cd "$t" && ldns-keygen -a ECDSAP256SHA256 -k example.) || bail_out "ldns-keygen failed"
wrong=$t/$wrong.key other=$t/$other.key

# Each start with a state of its own: no answer restored from another.
fresh_state() {
	rm -rf "$LAB_DIR/state"
}

# refused LINES...: start the daemon in the foreground with daemon_conf
# LINES; sets RC and OUT (its standard error). A daemon that does start
# is stopped after 10 s (RC 124).
refused() {
	fresh_state
	daemon_conf "$@"
	OUT=$(ip netns exec "$LAB_NETNS" timeout "$((10 * ${LAB_TIME_FACTOR:-1}))" \
		"$TLSPOLICYD" -f -c "$DAEMON_CONF" 2>&1)
	RC=$?
}

# --- A validating resolver: the daemon starts. ---
fresh_state
daemon_conf
daemon_start || bail_out "tlspolicyd did not start with the lab's anchor"
like "$(cat "$DAEMON_LOG")" 'info: event=trust-check result=secure name=test\. detail="secure, [0-9]+ DNSKEY records" state=validating' \
	"start: the DNSKEY of test. resolves secure"
unlike "$(sed -n '/event=trust-check/,$!p' "$DAEMON_LOG")" 'event=start ' "start: checked before the start is announced"
is "$(pmq good.test)" dane-only "start: answers as before"
daemon_stop

# --- Anchors that do not work: no start. ---
refused "trust_anchor_file = $wrong" "unbound_config = $t/noanchor.conf"
is "$RC" 78 "wrong anchor: exit status 78 (EX_CONFIG)"
like "$OUT" 'event=fatal reason="trust check: DNSKEY test\. came back bogus: validation failure <test\. DNSKEY IN>' \
	"wrong anchor: says which name and what came back"
like "$OUT" 'does not match the keys of the zone.*update trust_anchor_file' "wrong anchor: says what to fix"
unlike "$OUT" 'event=start ' "wrong anchor: never announced as started"

refused "trust_anchor_file = $other" "unbound_config = $t/noanchor.conf"
is "$RC" 78 "anchor for another zone: exit status 78"
like "$OUT" 'reason="trust check: DNSKEY test\. came back insecure.*no trust anchor covers trust_check_name' \
	"anchor for another zone: insecure, and why"

refused "trust_anchor_file =" "unbound_config = $t/noanchor.conf"
is "$RC" 78 "no anchor in unbound_config: exit status 78"
like "$OUT" "no trust anchor: trust_anchor_file is empty and unbound_config $t/noanchor.conf names none" \
	"no anchor in unbound_config: says so"

refused "trust_anchor_file =" "unbound_config ="
is "$RC" 78 "no anchor setting at all: exit status 78"
like "$OUT" 'trust_anchor_file is empty and unbound_config is not set' "no anchor setting at all: a configuration error"
like "$(ip netns exec "$LAB_NETNS" "$TLSPOLICY" -c "$DAEMON_CONF" config 2>&1 || echo "exit $?")" \
	'trust_anchor_file is empty and unbound_config is not set.*exit [1-9]' \
	"no anchor setting at all: tlspolicy config rejects the file too"

# An anchor in a file that unbound_config includes is an anchor.
fresh_state
daemon_conf "trust_anchor_file =" "unbound_config = $t/included.conf"
ok "anchor in an included file: starts" daemon_start
is "$(pmq mixed.test)" dane "anchor in an included file: validates"
daemon_stop

# --- RFC 5011 tracking: a copy in state_directory that libunbound keeps. ---
fresh_state
daemon_conf "trust_anchor_file = $LAB_TA" "unbound_config = $t/noanchor.conf" "trust_anchor_tracking = yes"
ok "tracking: starts" daemon_start
tracked=$LAB_DIR/state/trust-anchor
ok "tracking: the copy is made from trust_anchor_file" \
	grep -qF "event=trust-anchor tracking=rfc5011 file=$tracked seeded_from=$LAB_TA " "$DAEMON_LOG"
# Rewritten by libunbound's thread once it saw the keys: after the drop
# to nobody, which owns the file it renamed into place.
is "$(stat -c %U "$tracked" 2>&1)" nobody "tracking: libunbound rewrote the copy as the daemon's user"
like "$(cat "$tracked")" ';;id: test\. 1' "tracking: libunbound's state for test."
like "$(cat "$tracked")" "$(awk '/DNSKEY/ {print $NF}' "$LAB_TA" | sed 's/[+/]/./g').*;;state=2 \[  VALID  \]" \
	"tracking: the lab's key, VALID"
is "$(pmq good.test)" dane-only "tracking: validates"
daemon_stop
# Later starts use the copy, not trust_anchor_file, whatever it holds now.
daemon_conf "trust_anchor_file = $wrong" "unbound_config = $t/noanchor.conf" "trust_anchor_tracking = yes"
ok "tracking: a later start uses the copy" daemon_start
like "$(cat "$DAEMON_LOG")" 'event=trust-anchor tracking=rfc5011 .*seeded_from=- reason="tracked since an earlier start' \
	"tracking: and says so"
daemon_stop

# --- Later: the zone's keys change under the anchor. ---
# libunbound keeps nothing longer than a second here, so the periodic
# check sees the new keys at once, and its bogus answers no longer.
{
	cat "$LAB_DAEMON_UNBOUND_CONF"
	printf 'server:\n    cache-max-ttl: 1\n    val-bogus-ttl: 1\n'
} >"$t/short.conf"
fresh_state
: >"$DAEMON_LOG"
daemon_conf "unbound_config = $t/short.conf" "trust_check_interval = 1s" "cache_min_ttl = 1h" \
	"alert_command = $ALERT_HOOK"
daemon_start || bail_out "tlspolicyd did not start for the periodic check"
is "$(pmq good.test)" dane-only "periodic: a secure answer first"
d=$LAB_DIR/dns
cp "$d/test.zone.signed" "$t/test.zone.signed.orig" &&
	(cd "$t" && ksk=$(ldns-keygen -a ECDSAP256SHA256 -k test.) && zsk=$(ldns-keygen -a ECDSAP256SHA256 test.) &&
		ldns-signzone -n -t 0 -f "$t/test.zone.rekeyed" "$d/test.zone" "$ksk" "$zsk") ||
	bail_out "re-signing test. failed"
lab_nsd_stop && cp "$t/test.zone.rekeyed" "$d/test.zone.signed" && lab_nsd_start || bail_out "NSD did not restart"
ok "periodic: the new keys raise kind=trust-check-failed" wait_alert trust-check-failed
file=$(alerts trust-check-failed | head -n 1)
like "$(cat "$file")" 'TLSPOLICY_ALERT_RESULT=bogus' "periodic: the alert says bogus"
like "$(cat "$file")" 'TLSPOLICY_ALERT_NAME=test\.' "periodic: and names the check"
like "$(pmq notlsa.test)" 'temporary error: trust check: DNSKEY test\. came back bogus' \
	"periodic: a fresh resolution is TEMP, for the trust check"
like "$(cat "$DAEMON_LOG")" 'event=answer dest=notlsa\.test answer=TEMP rule=trust-check cache=miss' \
	"periodic: logged with rule=trust-check"
is "$(pmq good.test)" dane-only "periodic: an answer cached before stands"
lab_nsd_stop && cp "$t/test.zone.signed.orig" "$d/test.zone.signed" && lab_nsd_start || bail_out "NSD did not restart"
ok "periodic: the old keys back: one recovery line" lab_wait_log 'notice: event=trust-check result=recovered name=test\. .*previous=not-validating' 10 "$DAEMON_LOG"
is "$(pmq notlsa.test)" may "periodic: fresh resolutions resume"
daemon_stop

# --- An outage at start proves nothing: start, answer TEMP, recover. ---
fresh_state
: >"$DAEMON_LOG"
lab_nsd_stop || bail_out "NSD did not stop"
daemon_conf "trust_check_interval = 1s" "dns_timeout = 1s"
ok "outage at start: starts" daemon_start
like "$(cat "$DAEMON_LOG")" 'warning: event=trust-check result=no-answer name=test\. .*state=unverified' \
	"outage at start: no verdict"
like "$(pmq good.test)" 'temporary error: trust check: none has passed since start' \
	"outage at start: fresh resolutions are TEMP until a check passes"
lab_nsd_start || bail_out "NSD did not restart"
ok "outage at start: recovers once DNS answers" lab_wait_log 'event=trust-check result=recovered name=test\. .*previous=unverified' 10 "$DAEMON_LOG"
is "$(pmq good.test)" dane-only "outage at start: then answers from DNS"
daemon_stop
is "$?" 0 "SIGTERM: clean exit"
tap_done
