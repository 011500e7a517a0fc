#!/usr/bin/env bash
# t-oracle.sh - Postfix's own DANE is the oracle.  For every DNS scenario of
# the lab, one message goes through two real sending Postfix instances:
#
#   dane    Postfix alone: smtp_tls_security_level = dane, no policy map,
#           smtp_tls_dane_insecure_mx_policy at its default (which Postfix
#           3.7 computes as dane at level dane: postconf -d), DNSSEC through
#           the lab's validating resolver (lab_dane_sender_up);
#   sender  Postfix asking tlspolicyd: smtp_tls_security_level = may,
#           smtp_tls_dane_insecure_mx_policy = dane (as the README says),
#           smtp_tls_policy_maps = the daemon's socketmap (lab_sender_up).
#
# Each recipient's first outcome is read from its instance's log: delivered
# over Verified / Trusted / Untrusted / Anonymous TLS or in plaintext,
# deferred or bounced with a normalized reason.  The two must be the same,
# except where the table `listed` below says otherwise, each row with its
# reason: where the daemon is deliberately stricter, or where the same TLS
# level is in effect but Postfix logs it differently.  A daemon outcome
# weaker than Postfix alone's (delivered where Postfix alone deferred;
# unauthenticated where it authenticated; in the clear where it encrypted)
# is a downgrade and fails as such; so is a may or encrypt answer where
# Postfix alone authenticated, and a may answer where Postfix alone
# demanded TLS because every TLSA record was unusable (it logs those).
#
# What Postfix 3.7 logs is not always what it enforced: at an insecure MX
# with a signed host that has TLSA (level "halfdane") it logs a session
# whose TLSA matched as Trusted, not Verified.  danewrong.insecure.test
# (an insecure MX to a host whose TLSA does not match) shows whether DANE
# was enforced there all the same.
#
# The agreement table is printed as diag lines, then one result per
# scenario.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"

# The DNS fault servers (lab_faults_up) answer slowdns.test 300 ms late:
# slow, but below the first retransmission timeout of libunbound and
# unbound (376 ms), so both the daemon (dns_timeout 3 s in the lab) and
# Postfix's resolver get every answer.  slowerdns.test (above the daemon's
# dns_timeout) is left out: Postfix alone would wait for glibc's resolver
# timeouts, and the daemon's TEMP there is t-dnsfaults.sh's business.
LAB_DNS_SLOW_MS=300
t_start=$(_lab_ms)
step() {
	local t=$(_lab_ms) what=$1
	shift
	"$@" || bail_out "$what failed"
	diag "$what: $(($(_lab_ms) - t)) ms"
}
step lab_start lab_start
daemon_conf
step "tlspolicyd start" daemon_start
step "receiving Postfix" lab_mail_up
step "DNS fault servers" lab_faults_up
step "sending Postfix with tlspolicyd" \
	lab_sender_up "socketmap:inet:127.0.0.1:$DAEMON_PORT:tlspolicy"
step "sending Postfix alone" lab_dane_sender_up
# What "Postfix alone" means, as this Postfix reads its configuration.
pc() { postconf -c "$LAB_DANE_SENDER" -xh "$1"; }
is "$(pc smtp_tls_security_level)|$(pc smtp_tls_policy_maps)" "dane|" \
	"Postfix alone: level dane, no policy map"
is "$(pc smtp_tls_dane_insecure_mx_policy)" dane \
	"Postfix alone: smtp_tls_dane_insecure_mx_policy defaults to dane at level dane"

# Every domain scenario of the lab (lab.sh, _lab_write_zones), with what it
# is.  Host next hops ([mx.submit.test]:587) need a transport: not here.
scenarios=(
	"good.test|signed MX, host with a matching 3 1 1"
	"mixed.test|signed MX, one host with TLSA, one without"
	"notlsa.test|signed MX, no TLSA"
	"danemx.insecure.test|unsigned MX, signed host with TLSA"
	"danewrong.insecure.test|unsigned MX, signed host whose TLSA does not match"
	"insecure.test|unsigned MX and host"
	"unsignedmx.test|signed MX, host in an unsigned child"
	"pkix.test|only PKIX usages (0, 1)"
	"bogusmx.test|bogus MX RRset"
	"bogustlsa.test|the only host's TLSA RRset bogus"
	"nonexistent.test|NXDOMAIN"
	"nullmx.test|null MX"
	"cnamemx.test|signed CNAME'd MX host, TLSA at the target"
	"implicit.test|no MX: the domain is the host"
	"ta.test|DANE-TA 2 1 1"
	"wrongtlsa.test|TLSA matching no certificate"
	"hosted.test|MX host of wrongtlsa.test"
	"selfsigned.test|no TLSA, self-signed certificate"
	"wrongname.test|no TLSA, certificate for another name"
	"nostarttls.test|no TLSA, no STARTTLS"
	"anon.test|no TLSA, anonymous TLS"
	"tlsfail.test|no TLSA, TLS handshake fails"
	"expiredmx.test|MX RRSIG expired"
	"expiredtlsa.test|TLSA RRSIG expired"
	"bigtlsa.test|TLSA RRset over UDP size"
	"nodatatlsa.test|NODATA for TLSA"
	"nods.test|signed child without DS"
	"wrongds.test|signed child with a DS of no key"
	"wrongdshost.test|MX host in that child"
	"loopmx.test|MX host is a CNAME loop"
	"loopmix.test|CNAME loop beside a host without TLSA"
	"dropped.test|the zone's server never answers"
	"droppedhost.test|one MX host there, one without TLSA"
	"slowdns.test|every answer ${LAB_DNS_SLOW_MS} ms late"
	"unrouted.test|the zone's server unreachable"
	"lame.test|lame delegation"
	"cnameorig.test|CNAME target denies TLSA, TLSA at the alias"
	"cnameinsectlsa.test|CNAME target's TLSA insecure, TLSA at the alias"
	"cnameunsigned.test|signed CNAME to an unsigned host, TLSA at the alias"
	"viaunsignedcname.test|unsigned CNAME to a host with TLSA"
	"fullspki.test|3 1 0 whole SPKI"
	"fullcert.test|3 0 0 whole certificate"
	"certsha512.test|3 0 2 SHA-512"
	"badfull.test|3 1 0 00, no SPKI"
	"badlen.test|3 1 1 with a 31-byte digest"
	"mixedtlsa.test|1 1 1 beside a matching 3 1 1"
)

# The listed differences: domain | Postfix alone | with tlspolicyd | the
# daemon's answer | kind | reason.  A row holds only with exactly those
# outcomes and that answer; every other difference fails.  Kinds:
#   stricter    the daemon is deliberately stricter than Postfix alone
#   same-level  the same TLS level in effect, logged differently
listed=(
	"bogustlsa.test|deferred: TLSA lookup error|deferred: policy lookup error (TEMP)|TEMP|stricter|a bogus TLSA RRset: the daemon answers TEMP, Postfix alone defers on its own TLSA lookup error (both 4.7.5)"
	"expiredtlsa.test|deferred: TLSA lookup error|deferred: policy lookup error (TEMP)|TEMP|stricter|an expired TLSA RRSIG: the daemon answers TEMP, Postfix alone defers on its own TLSA lookup error (both 4.7.5)"
	# Postfix 3.7 keeps such records at its TLSA lookup; OpenSSL rejects
	# them at the handshake ("all TLSA records unusable, fallback to
	# unauthenticated TLS"), and the failed name check that follows logs
	# Untrusted.  At the daemon's encrypt Postfix checks no name: Trusted.
	"badfull.test|sent: Untrusted|sent: Trusted|encrypt|same-level|mandatory unauthenticated TLS both: Postfix alone falls back from dane when OpenSSL rejects 3 1 0 00 (logging Untrusted), the daemon answers encrypt (Trusted)"
	"badlen.test|sent: Untrusted|sent: Trusted|encrypt|same-level|mandatory unauthenticated TLS both: Postfix alone falls back from dane when OpenSSL rejects the 31-byte digest (logging Untrusted), the daemon answers encrypt (Trusted)"
)

rcpts=()
for s in "${scenarios[@]}"; do
	rcpts+=("oracle@${s%%|*}")
done

# One message per instance, every recipient on it (the queue manager
# delivers per destination, in parallel), from the null sender: bounces
# go nowhere.
submit() {
	printf 'From: postmaster@%s.lab.test\nSubject: tlspolicyd oracle\n\nThe same message through %s.\n' "$1" "$1" |
		lab_exec sendmail -C "$LAB_DIR/$1" -f '' -- "${rcpts[@]}"
}
t0=$(_lab_ms)
ok "submitted through Postfix alone (dane)" submit dane
ok "submitted through Postfix with tlspolicyd (sender)" submit sender

# Wait, bounded, for a first outcome of every recipient in both logs.  The
# queue manager hands each message over at once: no flush needed (it would
# only add second attempts for the deferred).
outcome_count() {
	grep -o ' to=<oracle@[^>]*>, ' "$1" 2>/dev/null | sort -u | wc -l
}
all_done() {
	(($(outcome_count "$LAB_DANE_SENDER_LOG") == ${#rcpts[@]} &&
		$(outcome_count "$LAB_SENDER_LOG") == ${#rcpts[@]}))
}
limit=$((60 * ${LAB_TIME_FACTOR:-1}))
deadline=$(($(_lab_ms) + limit * 1000))
until all_done || (($(_lab_ms) > deadline)); do
	sleep 0.2
done
all_done
ok $? "every recipient has an outcome in both logs within $limit s"
diag "deliveries took $(($(_lab_ms) - t0)) ms"

# outcomes LOG: "RCPT<TAB>STATUS<TAB>TLS<TAB>UNUSABLE<TAB>REASON" for each
# recipient's first status line.  TLS is the class of the last "... TLS
# connection established" line of the same smtp process since its previous
# status line (a process delivers one message at a time), or "plaintext";
# UNUSABLE is 1 when that process warned of unusable TLSA records since.
outcomes() {
	awk '
		{
			pid = ""
			if (match($0, / postfix[^ ]*\/smtp\[[0-9]+\]: /))
				pid = substr($0, RSTART + 1, RLENGTH - 3)
		}
		pid != "" && / warning: .*(unsupported TLSA|unusable TLSA RR|TLSA records unusable)/ {
			unusable[pid] = 1
			next
		}
		pid != "" && / TLS connection established to / {
			for (i = 1; i < NF; i++)
				if ($(i + 1) == "TLS" && $(i + 2) == "connection")
					tls[pid] = $i
			next
		}
		/: to=<[^>]*>, .* status=[a-z]+/ {
			rcpt = $0
			sub(/.*: to=</, "", rcpt)
			sub(/>.*/, "", rcpt)
			status = $0
			sub(/.* status=/, "", status)
			reason = status
			sub(/ .*/, "", status)
			if (!sub(/^[a-z]+ \(/, "", reason) || !sub(/\)$/, "", reason))
				reason = ""
			if (!(rcpt in seen))
				printf "%s\t%s\t%s\t%d\t%s\n", rcpt, status,
					(pid in tls) ? tls[pid] : "plaintext",
					(pid in unusable), reason
			seen[rcpt] = 1
			if (pid != "") {
				delete tls[pid]
				delete unusable[pid]
			}
		}
	' "$1"
}

# A deferral or bounce's reason, normalized to its class.  LOG and the
# domain find how Postfix reported a policy map that answered TEMP.
reason_class() {
	local log=$1 dom=$2 reason=$3
	case $reason in
	*"Server certificate not verified"*) echo "certificate not verified" ;;
	*"TLSA lookup error"*) echo "TLSA lookup error" ;;
	*"client TLS configuration problem"*)
		if grep -q "warning: socketmap:.* lookup error for \"$dom\"" "$log"; then
			echo "policy lookup error (TEMP)"
		else
			echo "TLS configuration problem"
		fi
		;;
	*"TLSA records unusable"*) echo "TLSA records unusable" ;;
	*"non DNSSEC destination"*) echo "non DNSSEC destination" ;;
	*"no TLSA records found"*) echo "no TLSA records found" ;;
	*"does not accept mail (nullMX)"*) echo "null MX" ;;
	*"Host or domain name not found"*"try again"*) echo "DNS lookup failure" ;;
	*"Host or domain name not found"* | *"Host not found"*) echo "host not found" ;;
	*"Cannot start TLS"* | *"handshake fail"*) echo "TLS handshake failed" ;;
	*"TLS is required, but was not offered"*) echo "STARTTLS not offered" ;;
	*" said: "*) echo "rejected by the server" ;;
	*"connect to "*) echo "connection failure" ;;
	*"lost connection"* | *"conversation with"*) echo "SMTP session failure" ;;
	*) echo "other: $reason" ;;
	esac
}

# classify LOG OUTCOMES DOMAIN: "sent: Verified|Trusted|Untrusted|Anonymous|
# plaintext", "deferred: CLASS", "bounced: CLASS" (with ", after TLS" when a
# server rejected the mail over TLS), or "none".  Sets UNUSABLE (0 or 1).
classify() {
	local log=$1 dom=$3 rcpt status tls reason class
	UNUSABLE=0
	IFS=$'\t' read -r rcpt status tls UNUSABLE reason < <(awk -F'\t' -v r="oracle@$dom" '$1 == r' "$2")
	case ${status:-} in
	'') echo none ;;
	sent) echo "sent: $tls" ;;
	*)
		class=$(reason_class "$log" "$dom" "$reason")
		[[ $class == "rejected by the server" ]] && class="$class, after $tls"
		echo "$status: $class"
		;;
	esac
}

# The daemon's first answer for DEST, its first word for OK answers
# dropped: dane-only, may, TEMP, NOTFOUND...; "-" if never asked.
answer_of() {
	local line a
	line=$(grep -F -m 1 " event=answer dest=$1 " "$DAEMON_LOG")
	[[ -n $line ]] || { echo -; return; }
	if [[ $line =~ \ answer=\"([^\"]*)\" ]]; then
		a=${BASH_REMATCH[1]}
	elif [[ $line =~ \ answer=([^ ]*) ]]; then
		a=${BASH_REMATCH[1]}
	fi
	a=${a#OK }
	echo "${a%% *}"
}

# How strong an outcome is: what reaches the receiver, and how.
strength() {
	case $1 in
	"sent: plaintext") echo 0 ;;
	"sent: Anonymous" | "sent: Untrusted" | "sent: Trusted") echo 1 ;;
	"sent: Verified") echo 2 ;;
	deferred:* | bounced:*) echo 3 ;;
	*) echo -1 ;;
	esac
}

daemon_settle
outcomes "$LAB_DANE_SENDER_LOG" >"$LAB_DIR/oracle.dane"
outcomes "$LAB_SENDER_LOG" >"$LAB_DIR/oracle.sender"
rows=() verdicts=() notes=()
for s in "${scenarios[@]}"; do
	IFS='|' read -r dom what <<<"$s"
	classify "$LAB_DANE_SENDER_LOG" "$LAB_DIR/oracle.dane" "$dom" >"$LAB_DIR/oracle.out"
	alone=$(<"$LAB_DIR/oracle.out") alone_unusable=$UNUSABLE
	with=$(classify "$LAB_SENDER_LOG" "$LAB_DIR/oracle.sender" "$dom")
	answer=$(answer_of "$dom")
	verdict=DISAGREE note=
	if [[ $alone == none || $with == none ]]; then
		verdict="NO OUTCOME"
	elif (($(strength "$with") < $(strength "$alone"))); then
		verdict=DOWNGRADE
		note="with tlspolicyd weaker than Postfix alone"
	elif [[ $alone == "sent: Verified" && ! $answer =~ ^(dane|dane-only|TEMP)$ ]]; then
		verdict=DOWNGRADE
		note="answer $answer where Postfix alone authenticated"
	elif [[ $alone == sent:* && $alone != "sent: Verified" && $alone_unusable == 1 &&
		! $answer =~ ^(encrypt|dane|dane-only|TEMP)$ ]]; then
		verdict=DOWNGRADE
		note="answer $answer where Postfix alone demanded TLS (every TLSA record unusable)"
	elif [[ $alone == "$with" ]]; then
		verdict=agree
	else
		for x in "${listed[@]}"; do
			IFS='|' read -r xdom xalone xwith xanswer xkind xwhy <<<"$x"
			if [[ $xdom == "$dom" && $xalone == "$alone" && $xwith == "$with" &&
				$xanswer == "$answer" ]]; then
				verdict="$xkind (listed)" note=$xwhy
			fi
		done
	fi
	rows+=("$dom|$alone|$with|$answer|$verdict")
	verdicts+=("$verdict")
	notes+=("$note")
done

# The agreement table.
w=(8 13 15 6)
for r in "${rows[@]}"; do
	IFS='|' read -r a b c d e <<<"$r"
	((${#a} > w[0])) && w[0]=${#a}
	((${#b} > w[1])) && w[1]=${#b}
	((${#c} > w[2])) && w[2]=${#c}
	((${#d} > w[3])) && w[3]=${#d}
done
fmt="%-${w[0]}s | %-${w[1]}s | %-${w[2]}s | %-${w[3]}s | %s"
diag "$(printf "$fmt" scenario "Postfix alone" "with tlspolicyd" answer verdict)"
for r in "${rows[@]}"; do
	IFS='|' read -r a b c d e <<<"$r"
	diag "$(printf "$fmt" "$a" "$b" "$c" "$d" "$e")"
done

for i in "${!scenarios[@]}"; do
	IFS='|' read -r dom what <<<"${scenarios[i]}"
	IFS='|' read -r _ alone with answer verdict <<<"${rows[i]}"
	case ${verdicts[i]} in
	agree) ok 0 "$dom ($what): agree, $alone" ;;
	"stricter (listed)") ok 0 "$dom ($what): deliberately stricter: ${notes[i]}" ;;
	"same-level (listed)") ok 0 "$dom ($what): same TLS level, logged differently: ${notes[i]}" ;;
	DOWNGRADE) ok 1 "$dom ($what): downgrade: ${notes[i]} (Postfix alone: $alone; with tlspolicyd, answer $answer: $with)" ;;
	*) ok 1 "$dom ($what): ${verdicts[i]}: Postfix alone: $alone; with tlspolicyd, answer $answer: $with" ;;
	esac
done

daemon_stop
is "$?" 0 "tlspolicyd: clean exit on SIGTERM"
diag "t-oracle.sh took $(($(_lab_ms) - t_start)) ms"
tap_done
