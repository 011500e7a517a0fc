# lab.sh - a private DNSSEC + SMTP lab for tlspolicyd's tests.  Source it.
#
#   source tests/lab/lab.sh
#   lab_require_root
#   LAB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tlsplab.XXXXXX")
#   trap lab_down EXIT INT TERM
#   lab_up || bail_out "lab_up failed"
#
# (or `lab_traps` instead of the trap line: see there.)
#
# Everything lives in a network namespace of its own plus files under
# $LAB_DIR, so several labs can run at once on one machine and none touches the
# host's resolver, ports or Postfix:
#
#   127.0.0.2:53   NSD, authoritative for test. (signed, NSEC3),
#                  insecure.test. and _tcp.mx.insectlsa.test. (unsigned,
#                  delegated without DS), and the signed children
#                  nods.test. (no DS) and wrongds.test. (a DS of no key),
#                  and the MTA-STS domains (sts.sh lists them), among them
#                  the signed child stschange.test. (1 s TTLs)
#                  With LAB_SURVEY_DOMAINS set before lab_up, also the
#                  signed survey.test. and the MX hosts of tlspolicy
#                  survey's population (survey.sh, which writes the
#                  population's list and expected summary)
#                  With LAB_STS_BENCH_DOMAINS set before lab_up, also the
#                  signed stsbench.test. (sts.sh: the MTA-STS benchmark)
#                  The signed child pf.test. (LAB_PREFETCH_TTL TTLs) and
#                  the coldN.test destinations (dnsdelay.sh)
#                  With LAB_DANE_BENCH_DOMAINS set before lab_up, also the
#                  signed danebench.test. (danebench.sh: cold DANE decisions)
#                  The signed children of selfcheck's DNS cases
#                  (zonecheck.sh): sigexp., nsec3iter., nsstale., nsdrop.
#   127.0.0.1:53   unbound, validating, test. KSK as its only trust anchor;
#                  /etc/netns/NAME/resolv.conf points every program run with
#                  lab_exec (Postfix included) at it
#   127.0.1.x:25   receiving Postfix, one smtpd per MX host (lab_mail_up)
#   127.0.1.13-16:25  fakesmtp: failed TLS, silent, slow, anonymous TLS
#                  (lab_mail_up)
#   127.0.1.17:25  mx.stsgood.test, the MTA-STS domains' MX host (lab_mail_up)
#   127.0.1.18-20:25  selfcheck's certificate cases (lab_mail_up): an RSA
#                  and an ECDSA certificate on .18 (mx.dualkey.test) and
#                  .19 (mx.dualboth.test), one that expires in
#                  LAB_EXPIRING_DAYS on .20 (mx.expiring.test)
#   127.0.4.1:443  nginx serving the MTA-STS policies (lab_https_up, sts.sh)
#   127.0.0.1:8461 mta-sts-daemon, the reference MTA-STS resolver
#                  (lab_sts_resolver_up, sts.sh)
#   127.0.0.1      sending Postfix, smtpd disabled (lab_sender_up) unless
#                  a test asks for one; a second one, "dane", with
#                  Postfix's own DANE and no policy map (lab_dane_sender_up)
#   127.0.3.x:53   DNS fault servers (lab_faults_up, t-dnsfaults.sh): .1 a
#                  second NSD with the signed slowdns.test. and
#                  slowerdns.test., which REFUSES lame.test.; .2 blackholed;
#                  .3 dnsdelay, silent (dropped.test.); .4 and .5 dnsdelay in
#                  front of .1, LAB_DNS_SLOW_MS and LAB_DNS_SLOWER_MS late
#   127.0.6.1-3:53 selfcheck's DNS cases (lab_zonecheck_up, zonecheck.sh):
#                  a third NSD (nsstale.test. at an older serial,
#                  denialbroken.test.); dnsdelay dropping TLSA queries in
#                  front of NSD; dnsdelay answering NOTIMP to type 65280
#                  in front of the third NSD
#   127.0.3.6:53   dnsdelay in front of NSD (127.0.0.2), the delay
#                  lab_dns_delay_up MS sets; daemons with
#                  LAB_DAEMON_UNBOUND_DELAY_CONF ask it (dnsdelay.sh)
#
# Functions (all return non-zero on failure and explain it with diag):
#   lab_start               lab_require_root, a new LAB_DIR, lab_traps, lab_up
#   lab_require_root        skip the whole test unless root; as root, fail
#                           unless namespaces and every tool are there
#   lab_up                  build keys, certificates, zones, configs; start DNS
#   lab_exec CMD...         run CMD inside the lab's namespace
#   lab_record_pid PID NAME have lab_down stop a process the test started
#   lab_nsd_stop            stop the authoritative server
#   lab_nsd_start           start it again (after lab_nsd_stop)
#   lab_faults_up           start the DNS fault servers (127.0.3.1-5)
#   lab_zonecheck_up        start selfcheck's DNS servers (127.0.6.1-3)
#   lab_dns_delay_up MS     (re)start the delayed DNS server (127.0.3.6),
#                           MS late; writes LAB_DAEMON_UNBOUND_DELAY_CONF
#                           (dnsdelay.sh)
#   lab_cold_dests [1mx|2mx], lab_prefetch_dests  the coldN.test and
#                           pfN.pf.test names, one a line (dnsdelay.sh)
#   lab_lookup_us TARGET KEY [REPLY]  one lookup's latency, in us
#                           (smload; dnsdelay.sh)
#   lab_round_trips TARGET DELAY_MS KEY...  "KEY COLD_MS CACHED_MS ROUNDS"
#                           for each KEY's first lookup (dnsdelay.sh)
#   lab_median              the median of the numbers on stdin (dnsdelay.sh)
#   lab_stream TARGET SECONDS FILE  every key of FILE at once, round
#                           after round: "MS MAX_US" per round (dnsdelay.sh)
#   lab_metric PORT NAME    a daemon metric's value (dnsdelay.sh)
#   lab_mail_up             start the receiving Postfix (all MX listeners)
#                           and the fakesmtp servers (LAB_FAKE_LISTENERS)
#   lab_sender_up MAP [ADDR [NAME=VALUE...]]  (re)start the sending
#                           Postfix with MAP as smtp_tls_policy_maps; with
#                           ADDR, also an smtpd there with those -o options
#   lab_dane_sender_up      (re)start the second sending Postfix, "dane":
#                           smtp_tls_security_level = dane, no policy map
#   lab_send RCPT [FROM]    submit a small message through the sender
#   lab_flush               postqueue -f on the sender
#   lab_wait_log ERE [SECONDS [FILE]]  poll a maillog (default: the sender's)
#   lab_https_up            start nginx with the MTA-STS policies (sts.sh)
#   lab_sts_resolver_up     start mta-sts-daemon, the reference (sts.sh)
#   lab_sts_set stschange.test ID MODE [MX...]  change that domain's TXT id
#                           (or remove the record: ID -) and policy at run
#                           time (sts.sh)
#   lab_sts_break DOMAIN, lab_sts_mend DOMAIN  stop / resume serving
#                           DOMAIN's policy (404 meanwhile; sts.sh)
#   lab_sts_domains [dns KIND | serve KIND]  the MTA-STS domains (sts.sh)
#   lab_down                stop everything, delete namespace and $LAB_DIR
#   lab_traps               trap lab_down on EXIT, exit on INT and TERM
#
# If a test was killed with SIGKILL, finish its cleanup by hand:
#   LAB_DIR=$TMPDIR/tlsplab.XXXXXX bash -c '. tests/lab/lab.sh; lab_down'
#
# What the lab makes lies where the test suite looks for leftovers
# (tests/leftovers.sh): LAB_DIR in $TMPDIR, the namespace's name (and its
# /etc/netns directory) starting with LAB_NETNS_PREFIX (default tlsplab-;
# it must start with that), and every process it starts, Postfix's too,
# carrying TLSP_SUITE in its environment when the suite set it.
#
# Files and variables (also written to $LAB_DIR/env for other programs):
#   LAB_NETNS                 namespace name (also in $LAB_DIR/netns)
#   LAB_TA                    the test. KSK .key file: the trust anchor
#   LAB_CA                    lab CA certificate (PEM)
#   LAB_DAEMON_UNBOUND_CONF   $LAB_DIR/daemon-unbound.conf, for ub_ctx_config()
#   LAB_SENDER                sender's config dir (postmap -c, sendmail -C ...)
#   LAB_SENDER_LOG, LAB_MX_LOG  the two instances' maillog files
#   LAB_DANE_SENDER, LAB_DANE_SENDER_LOG  the "dane" sender's config dir
#                             and maillog (lab_dane_sender_up)
#   $LAB_DIR/pids             "PID NAME" of every process the lab started
#   $LAB_DIR/tls/HOST.{key,crt,pem}  per MX host; .pem = key + cert + CA
#                             (LAB_SELF_SIGNED hosts: self-signed, no CA)
#   $LAB_DIR/tls/dual.{ec,rsa}.{key,crt}  the two certificates of the
#                             LAB_DUAL_KEY_HOSTS, whose HOST.pem holds both
#   LAB_EXPIRING_DAYS         how soon mx.expiring.test's certificate
#                             expires (10 days; the others' 30)
#   LAB_FAKESMTP              the fakesmtp binary lab_mail_up runs (default
#                             ${top_builddir:-.}/tests/lab/fakesmtp)
#   LAB_SLOW_DELAY_MS         mx.slow.test's delay before each reply (2000),
#                             read by lab_mail_up
#   LAB_SLOW_DESTS            how many slowN.test destinations (200)
#   LAB_DNSDELAY              the dnsdelay binary lab_faults_up runs (default
#                             ${top_builddir:-.}/tests/lab/dnsdelay)
#   LAB_DNS_SLOW_MS, LAB_DNS_SLOWER_MS  how late the slow DNS servers answer
#                             (1000, 8000), read by lab_faults_up
#   LAB_DAEMON_UNBOUND_DELAY_CONF  $LAB_DIR/daemon-unbound-delay.conf: as
#                             LAB_DAEMON_UNBOUND_CONF, every DNS query to
#                             the delayed server (lab_dns_delay_up writes
#                             it; also in $LAB_DIR/env from then on)
#   LAB_DELAY_DNS_ADDR        the delayed server's address (127.0.3.6)
#   LAB_COLD_DESTS            how many coldN.test destinations (12)
#   LAB_PREFETCH_DESTS        how many pfN.pf.test destinations (8)
#   LAB_PREFETCH_TTL          every TTL in pf.test., seconds (6)
#   LAB_SMLOAD                the smload binary the measuring runs (default
#                             ${top_builddir:-.}/tests/bench/smload)
#   LAB_STS_HTTPS_ADDR, LAB_STS_WWW, LAB_STS_ACCESS_LOG, LAB_STS_RESOLVER,
#   LAB_STS_RESOLVER_LOG      the MTA-STS fixture's (sts.sh): nginx's
#                             address, policy files and access log;
#                             mta-sts-daemon's socketmap (inet:127.0.0.1:8461)
#                             and log
#   $LAB_DIR/tls/mta-sts.D.{key,crt,pem}  each STS domain's HTTPS host
#                             (lab_https_up)
#
# The DNS cases are those of the README ("What the daemon answers" and the
# DNS fault table); the zone text below (_lab_write_zones) is the
# authoritative list.  TTLs are 300 s (but in stschange.test. and pf.test.):
# the resolver and libunbound cache answers that long, so a test that changes
# DNS behaviour (lab_nsd_stop) must ask for names nobody has asked for yet.
#
# Set LAB_KEEP=1 to keep $LAB_DIR (logs, configs, queues) after lab_down.
# LAB_TIME_FACTOR (default 1) multiplies how long the waits for something
# to happen last (lab_wait_log, daemon_start, wait_alert): the sanitizer
# run of tests/hardening.sh sets it, for instrumented programs are slower.
# Test scripts should not use `set -e`; everything here is `set -u` clean.
# $LAB_DIR must not contain white space (it ends up in Postfix -o options).

if ! declare -F _tap_result >/dev/null; then
	source "$(dirname "${BASH_SOURCE[0]}")/tap.sh"
fi
# The survey's population (LAB_SURVEY_DOMAINS): only built when asked for.
source "$(dirname "${BASH_SOURCE[0]}")/survey.sh"
# MTA-STS: the domains' records always, the HTTPS server and the reference
# resolver when a test starts them.
source "$(dirname "${BASH_SOURCE[0]}")/sts.sh"
# DNS round trips of a known length: the delayed server when a test starts
# it, the destinations that count them always.
source "$(dirname "${BASH_SOURCE[0]}")/dnsdelay.sh"
# The DANE benchmark's population (LAB_DANE_BENCH_DOMAINS): only when asked for.
source "$(dirname "${BASH_SOURCE[0]}")/danebench.sh"
# selfcheck's DNS cases: zones always, their extra servers when asked for.
source "$(dirname "${BASH_SOURCE[0]}")/zonecheck.sh"

LAB_NSD_ADDR=127.0.0.2
LAB_RESOLVER_ADDR=127.0.0.1
# The DNS fault servers (lab_faults_up), for t-dnsfaults.sh.
LAB_NSD2_ADDR=127.0.3.1
LAB_BLACKHOLE_ADDR=127.0.3.2
LAB_SILENT_DNS_ADDR=127.0.3.3
LAB_SLOW_DNS_ADDR=127.0.3.4
LAB_SLOWER_DNS_ADDR=127.0.3.5
# Not special-purpose, yet the lab host's own once t-probe.sh puts it on
# the namespace's loopback interface: probes must refuse it.
LAB_OWN_GLOBAL_ADDR=192.0.3.25

# Receiving smtpd listeners: "ADDRESS:PORT HOSTNAME".  Each HOSTNAME gets a
# certificate from the lab CA.
LAB_MX_LISTENERS=(
	"127.0.1.1:25 mx1.good.test"
	"127.0.1.2:25 mx.wrongtlsa.test"
	"127.0.1.3:25 mx.notlsa.test"
	"127.0.1.4:25 mx.insecure.test"
	"127.0.1.5:25 mx.pkix.test"
	"127.0.1.8:25 mx.submit.test"
	"127.0.1.8:587 mx.submit.test"
	"127.0.1.9:25 mx.ta.test"
	# The prober's classes (t-lab-servers.sh).  Words after the host name are extra
	# smtpd -o settings, after (so overriding) the common ones.
	"127.0.1.10:25 mx.selfsigned.test"
	"127.0.1.11:25 mx.wrongname.test"
	"127.0.1.12:25 mx.nostarttls.test smtpd_tls_security_level=none"
	# The MTA-STS domains' host (sts.sh): a lab CA certificate, no TLSA.
	"127.0.1.17:25 mx.stsgood.test"
	# selfcheck's certificate cases (t-selfcheck.sh; _lab_selfcheck_zones).
	"127.0.1.18:25 mx.dualkey.test"
	"127.0.1.19:25 mx.dualboth.test"
	"127.0.1.20:25 mx.expiring.test"
	# The benchmark's server (make bench): every address of 127.0.0.0/8,
	# STARTTLS on 2525 for the probe pool, implicit TLS on 4465 for
	# openssl s_time, which has no STARTTLS.
	"0.0.0.0:2525 mx.notlsa.test"
	"0.0.0.0:4465 mx.notlsa.test smtpd_tls_wrappermode=yes"
)
# slow1.test ... slowN.test: MX hosts on mx.slow.test's address.
LAB_SLOW_DESTS=${LAB_SLOW_DESTS:-200}
# Servers a real smtpd cannot play, run by tests/lab/fakesmtp: "ADDRESS:PORT
# HOSTNAME MODE".  mx.tlsfail.test offers STARTTLS, answers 220, then sends
# plaintext instead of a ServerHello.  (An smtpd limited to TLS 1.0 is no
# substitute: posttls-finger -l verify, secure or dane fails with "legacy
# sigalg disallowed or unsupported", but -l may and -l encrypt complete the
# TLS 1.0 handshake: Postfix's client evidently lowers OpenSSL's security
# level when it does not authenticate the server.)  mx.slow.test answers
# after LAB_SLOW_DELAY_MS, with TLS.
LAB_FAKE_LISTENERS=(
	"127.0.1.13:25 mx.tlsfail.test tlsfail"
	"127.0.1.14:25 mx.silent.test silent"
	"127.0.1.15:25 mx.slow.test slow"
	"127.0.1.16:25 mx.anon.test anon"
)
LAB_TLS_HOSTS=(mx1.good.test mx.wrongtlsa.test mx.notlsa.test mx.insecure.test
	mx.pkix.test mx.submit.test mx.ta.test
	mx.selfsigned.test mx.wrongname.test mx.slow.test mx.stsgood.test
	mx.expiring.test)
# Hosts that present an RSA and an ECDSA certificate, both from the lab CA
# and naming all of them (_lab_make_dual_tls): Postfix loads both from
# HOST.pem and OpenSSL picks by what the client offers.  One RSA key for
# all: making it is the slowest step of the certificates.
LAB_DUAL_KEY_HOSTS=(mx.dualkey.test mx.dualboth.test)
# Certificates that expire sooner than the lab's 30 days: "HOST DAYS".
# mx.expiring.test's falls within selfcheck's default 21 days.
LAB_EXPIRING_DAYS=10
LAB_CERT_DAYS=(
	"mx.expiring.test $LAB_EXPIRING_DAYS"
)
# Self-signed rather than from the lab CA: the untrusted case.
LAB_SELF_SIGNED=(mx.wrongtlsa.test mx.selfsigned.test)
# Certificates for another name than the host's: "HOST NAME" (subject CN and
# the one subjectAltName).
LAB_CERT_NAMES=(
	"mx.wrongname.test other.example"
)

# ---------------------------------------------------------------- helpers

# Milliseconds since the epoch.  EPOCHREALTIME uses the locale's decimal
# separator, so strip whatever it is rather than assume '.'.
_lab_ms() {
	local t=${EPOCHREALTIME//[!0-9]/}
	echo $((t / 1000))
}

lab_record_pid() {
	printf '%s %s\n' "$1" "${2:-process}" >>"$LAB_DIR/pids"
}

# Forget a pid once its process is gone, so that lab_down cannot signal an
# unrelated process that reused the number.
_lab_forget_pid() {
	local f=$LAB_DIR/pids
	[[ -f $f ]] || return 0
	grep -v "^$1 " "$f" >"$f.new"
	mv "$f.new" "$f"
}

# The namespace name, from the variable or (in a fresh shell) from the file.
_lab_ns() {
	if [[ -n ${LAB_NETNS:-} ]]; then
		echo "$LAB_NETNS"
	elif [[ -n ${LAB_DIR:-} && -s $LAB_DIR/netns ]]; then
		cat "$LAB_DIR/netns"
	else
		return 1
	fi
}

lab_exec() {
	local ns
	ns=$(_lab_ns) || { diag "lab_exec: no lab namespace"; return 1; }
	ip netns exec "$ns" "$@"
}

# Device:inode of the namespace, to tell whether a pid belongs to this lab.
# A pid alone is not proof: after a process exits, its pid may be reused by
# anything, including a process of another lab.
_lab_ns_id() {
	stat -L -c %d:%i "/run/netns/$1" 2>/dev/null
}

_lab_pid_in_ns() {
	local pid=$1 nsid=$2
	[[ -n $nsid && $(stat -L -c %d:%i "/proc/$pid/ns/net" 2>/dev/null) == "$nsid" ]]
}

# Poll until none of the given pids is alive in the namespace, or MS passed.
_lab_wait_gone() {
	local nsid=$1 ms=$2 deadline pid alive
	shift 2
	deadline=$(($(_lab_ms) + ms))
	while :; do
		alive=0
		for pid in "$@"; do
			_lab_pid_in_ns "$pid" "$nsid" && alive=1 && break
		done
		((alive)) || return 0
		(($(_lab_ms) > deadline)) && return 1
		sleep 0.02
	done
}

# Stop one process of this lab: TERM, up to 3 s, then KILL.
_lab_stop_pid() {
	local pid=$1 nsid
	nsid=$(_lab_ns_id "$(_lab_ns)") || return 0
	_lab_pid_in_ns "$pid" "$nsid" || return 0
	kill -TERM "$pid" 2>/dev/null
	if ! _lab_wait_gone "$nsid" 3000 "$pid"; then
		kill -KILL "$pid" 2>/dev/null
		_lab_wait_gone "$nsid" 2000 "$pid"
	fi
	# Reap it if it is our child, so no zombie lingers; quietly, or bash
	# reports "Terminated" on stderr.
	{ wait "$pid"; } 2>/dev/null
	return 0
}

_lab_ns_empty() {
	[[ -z $(ip netns pids "$1" 2>/dev/null) ]]
}

# Signal every process in the namespace: TERM, up to 2 s, then KILL.
_lab_sweep() {
	local ns=$1 sig pid pids
	for sig in TERM KILL; do
		mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null)
		((${#pids[@]})) || return 0
		kill "-$sig" "${pids[@]}" 2>/dev/null
		if _lab_poll 2000 _lab_ns_empty "$ns"; then
			# Reap those that were our children (wait fails on others).
			for pid in "${pids[@]}"; do
				{ wait "$pid"; } 2>/dev/null
			done
			return 0
		fi
	done
	diag "lab_down: processes left in $ns: $(ip netns pids "$ns" | tr '\n' ' ')"
	return 1
}

# Poll a command until it succeeds (0), fails with status 2 (2), or MS
# milliseconds have passed (1).
_lab_poll() {
	local ms=$1 deadline status
	shift
	deadline=$(($(_lab_ms) + ms))
	while :; do
		"$@" && return 0
		status=$?
		((status == 2)) && return 2
		(($(_lab_ms) > deadline)) && return 1
		sleep 0.02
	done
}

# _lab_alive_and PID CMD...: CMD's status while PID lives, 2 once it is gone,
# so that a daemon that dies at start fails lab_up at once, not after a
# timeout.
_lab_alive_and() {
	local pid=$1
	shift
	kill -0 "$pid" 2>/dev/null || return 2
	"$@" && return 0
	kill -0 "$pid" 2>/dev/null || return 2
	return 1
}

_lab_log_tail() {
	[[ -s $1 ]] || return 0
	diag "--- last lines of $1:"
	diag "$(tail -n "${2:-15}" "$1" 2>&1)"
}

# ---------------------------------------------------------------- checks

# The usual opening of a lab test: skip unless root, a fresh $LAB_DIR,
# lab_down on exit, lab_up; bails out when the lab cannot start.
lab_start() {
	lab_require_root
	LAB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tlsplab.XXXXXX")
	lab_traps
	lab_up || bail_out "lab_up failed"
}

lab_require_root() {
	local tool
	if [[ $(id -u) != 0 ]]; then
		tap_skip_all "lab tests need root (network namespaces, port 25)"
	fi
	# As root the lab must run: the test command installs every tool, so a
	# missing one or unusable namespaces are failures, never a skip.
	# (`ip netns add` needs mount and network namespace rights, which a
	# container may withhold even from root; unshare -n asks for the same.)
	if ! ip netns list >/dev/null 2>&1 || ! unshare -n true 2>/dev/null; then
		bail_out "network namespaces are not usable here, even as root"
	fi
	for tool in nsd unbound unbound-host ldns-keygen ldns-signzone dig openssl \
		postfix postconf postmap postqueue sendmail posttls-finger; do
		command -v "$tool" >/dev/null 2>&1 ||
			bail_out "$tool is not installed (./dev test installs it)"
	done
}

# ---------------------------------------------------------------- lab_up

# Lab CA and one key + certificate per MX host.  EC P-256 keys: generating
# them costs a few milliseconds, RSA would dominate lab_up.
_lab_make_tls() {
	local d=$LAB_DIR/tls host
	mkdir -p "$d" || return 1
	# Our own minimal config: `req -x509` with the system openssl.cnf would
	# mark every leaf CA:TRUE (its v3_ca section).
	cat >"$d/openssl.cnf" <<-'EOF'
		[req]
		distinguished_name = dn
		[dn]
		[ca_ext]
		basicConstraints = critical,CA:true
		keyUsage = critical,keyCertSign,cRLSign
		subjectKeyIdentifier = hash
		[ee_ext]
		basicConstraints = critical,CA:false
		keyUsage = critical,digitalSignature
		extendedKeyUsage = serverAuth
		subjectKeyIdentifier = hash
		authorityKeyIdentifier = keyid
	EOF
	openssl req -x509 -config "$d/openssl.cnf" -extensions ca_ext \
		-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/ca.key" -out "$d/ca.crt" -subj "/CN=tlspolicyd lab CA" \
		-days 30 2>>"$d/openssl.log" || return 1
	local name entry self dual
	# The RSA key is the slowest to make: meanwhile, the others.
	_lab_make_dual_tls &
	dual=$!
	for host in "${LAB_TLS_HOSTS[@]}"; do
		name=$host
		for entry in "${LAB_CERT_NAMES[@]}"; do
			[[ ${entry%% *} == "$host" ]] && name=${entry#* }
		done
		# Most hosts have a certificate from the lab CA; those listed in
		# LAB_SELF_SIGNED are their own issuer.
		self=
		[[ " ${LAB_SELF_SIGNED[*]} " == *" $host "* ]] && self=self-signed
		_lab_make_cert "$host" "$name" $self || { wait "$dual"; return 1; }
	done
	wait "$dual"
}

# The RSA and ECDSA certificates of LAB_DUAL_KEY_HOSTS: dual.{ec,rsa}.{key,crt}
# from the lab CA, each naming every such host; HOST.pem holds both keys,
# each followed by its chain, as smtpd_tls_chain_files reads them.
_lab_make_dual_tls() {
	local d=$LAB_DIR/tls host san='' type
	for host in "${LAB_DUAL_KEY_HOSTS[@]}"; do
		san+=${san:+,}DNS:$host
	done
	for type in ec rsa; do
		local newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
		[[ $type == rsa ]] && newkey=(-newkey rsa:2048)
		openssl req -x509 -config "$d/openssl.cnf" -extensions ee_ext \
			-addext "subjectAltName=$san" "${newkey[@]}" -nodes \
			-keyout "$d/dual.$type.key" -out "$d/dual.$type.crt" \
			-subj "/CN=${LAB_DUAL_KEY_HOSTS[0]} ($type)" \
			-CA "$d/ca.crt" -CAkey "$d/ca.key" -days 30 \
			2>>"$d/openssl.log" || return 1
	done
	for host in "${LAB_DUAL_KEY_HOSTS[@]}"; do
		(umask 077 && cat "$d/dual.ec.key" "$d/dual.ec.crt" "$d/ca.crt" \
			"$d/dual.rsa.key" "$d/dual.rsa.crt" "$d/ca.crt" >"$d/$host.pem") || return 1
	done
}

# _lab_make_cert HOST NAME [self-signed]: $LAB_DIR/tls/HOST.{key,crt,pem},
# a certificate for NAME (subject CN and the one subjectAltName) from the
# lab CA (_lab_make_tls made it), or its own issuer.  HOST.pem is key,
# certificate and (from the CA) the CA certificate.
_lab_make_cert() {
	local d=$LAB_DIR/tls host=$1 name=$2 issuer chain days=30 entry
	for entry in "${LAB_CERT_DAYS[@]}"; do
		[[ ${entry%% *} == "$host" ]] && days=${entry#* }
	done
	issuer=(-CA "$d/ca.crt" -CAkey "$d/ca.key")
	chain=$d/ca.crt
	if [[ ${3:-} == self-signed ]]; then
		issuer=()
		chain=
	fi
	openssl req -x509 -config "$d/openssl.cnf" -extensions ee_ext \
		-addext "subjectAltName=DNS:$name" \
		-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/$host.key" -out "$d/$host.crt" -subj "/CN=$name" \
		"${issuer[@]}" -days "$days" \
		2>>"$d/openssl.log" || return 1
	# The chain file smtpd loads carries the CA too: DANE-TA(2) with
	# selector 1 and PKIX-TA(0) can only match an issuer the server
	# actually sends.
	# smtpd loads it as root, before dropping privileges.
	(umask 077 && cat "$d/$host.key" "$d/$host.crt" $chain >"$d/$host.pem")
}

# TLSA association data, as lowercase hex.
# 3 1 1 / 2 1 1: SHA-256 of the DER SubjectPublicKeyInfo.  A certificate
# the lab made has its key beside it: one openssl run from the key instead
# of two from the certificate (lab_up computes a dozen), kept in
# CERT.spki-sha256 for the next caller.
_lab_spki_sha256() {
	local out key=${1%.crt}.key cache=$1.spki-sha256
	if [[ $1 == "$LAB_DIR/tls/"*.crt && -s $cache ]]; then
		cat "$cache"
		return
	fi
	if [[ $1 == "$LAB_DIR/tls/"*.crt && -f $key ]]; then
		out=$(openssl pkey -in "$key" -pubout -outform DER | sha256sum) || return 1
		echo "${out%% *}" >"$cache"
	else
		out=$(openssl x509 -in "$1" -noout -pubkey |
			openssl pkey -pubin -outform DER | sha256sum) || return 1
	fi
	echo "${out%% *}"
}
_lab_cert_sha256() {   # x 0 1: SHA-256 of the whole DER certificate
	local out
	out=$(openssl x509 -in "$1" -outform DER | sha256sum) || return 1
	echo "${out%% *}"
}
_lab_cert_sha512() {   # x 0 2: SHA-512 of the whole DER certificate
	local out
	out=$(openssl x509 -in "$1" -outform DER | sha512sum) || return 1
	echo "${out%% *}"
}
# x 1 0 / x 0 0: the DER SubjectPublicKeyInfo or certificate itself, in hex.
_lab_spki_der() {
	local out
	out=$(openssl x509 -in "$1" -noout -pubkey |
		openssl pkey -pubin -outform DER | od -An -v -tx1) || return 1
	out=${out//[[:space:]]/}
	[[ -n $out ]] && echo "$out"
}
_lab_cert_der() {
	local out
	out=$(openssl x509 -in "$1" -outform DER | od -An -v -tx1) || return 1
	out=${out//[[:space:]]/}
	[[ -n $out ]] && echo "$out"
}

_lab_write_zones() {
	local d=$LAB_DIR/dns t=$LAB_DIR/tls
	local mx1 insec pkix_ee ca_cert ca_spki submit wrong
	local notlsa notlsa_spki notlsa_cert notlsa_512
	mx1=$(_lab_spki_sha256 "$t/mx1.good.test.crt") &&
		insec=$(_lab_spki_sha256 "$t/mx.insecure.test.crt") &&
		notlsa=$(_lab_spki_sha256 "$t/mx.notlsa.test.crt") &&
		notlsa_spki=$(_lab_spki_der "$t/mx.notlsa.test.crt") &&
		notlsa_cert=$(_lab_cert_der "$t/mx.notlsa.test.crt") &&
		notlsa_512=$(_lab_cert_sha512 "$t/mx.notlsa.test.crt") &&
		pkix_ee=$(_lab_spki_sha256 "$t/mx.pkix.test.crt") &&
		submit=$(_lab_spki_sha256 "$t/mx.submit.test.crt") &&
		ca_spki=$(_lab_spki_sha256 "$t/ca.crt") &&
		ca_cert=$(_lab_cert_sha256 "$t/ca.crt") || return 1
	# A well-formed digest of no key at all.
	wrong=$(printf 'tlspolicyd lab: matches no certificate' | sha256sum)
	wrong=${wrong%% *}

	# Two records are signed with one value and changed to the value shown in
	# the comment after signing (_lab_sign_zones), which makes them bogus.
	cat >"$d/test.zone" <<-EOF
		\$ORIGIN test.
		\$TTL 300
		@       SOA ns.test. hostmaster.test. 1 3600 600 86400 300
		@       NS  ns.test.
		ns      A   $LAB_NSD_ADDR

		good                    MX   10 mx1.good.test.
		mx1.good                A    127.0.1.1
		_25._tcp.mx1.good       TLSA 3 1 1 $mx1

		mixed                   MX   10 mx1.good.test.
		mixed                   MX   20 mx.notlsa.test.

		notlsa                  MX   10 mx.notlsa.test.
		mx.notlsa               A    127.0.1.3

		; unsigned child: a delegation without DS
		insecure                NS   ns.test.
		unsignedmx              MX   10 mx.insecure.test.

		pkix                    MX   10 mx.pkix.test.
		mx.pkix                 A    127.0.1.5
		_25._tcp.mx.pkix        TLSA 0 0 1 $ca_cert
		_25._tcp.mx.pkix        TLSA 1 1 1 $pkix_ee

		bogusmx                 MX   99 mx.bogusmx.test.   ; -> 10 mx.bogusmx.test.
		mx.bogusmx              A    127.0.1.6

		bogustlsa               MX   10 mx.bogustlsa.test.
		mx.bogustlsa            A    127.0.1.7
		_25._tcp.mx.bogustlsa   TLSA 3 1 1 $wrong   ; -> the mx1 digest

		nullmx                  MX   0 .

		mx.submit               A    127.0.1.8
		_587._tcp.mx.submit     TLSA 3 1 1 $submit

		wrongtlsa               MX   10 mx.wrongtlsa.test.
		mx.wrongtlsa            A    127.0.1.2
		_25._tcp.mx.wrongtlsa   TLSA 3 1 1 $wrong
		hosted                  MX   10 mx.wrongtlsa.test.

		cnamemx                 MX   10 alias.cnamemx.test.
		alias.cnamemx           CNAME mx1.good.test.

		; no MX: the domain is its own (implicit) MX host
		implicit                A    127.0.1.1
		_25._tcp.implicit       TLSA 3 1 1 $mx1

		ta                      MX   10 mx.ta.test.
		mx.ta                   A    127.0.1.9
		_25._tcp.mx.ta          TLSA 2 1 1 $ca_spki

		; The oracle's cases (t-oracle.sh), each judged by Postfix's own DANE.
		; CNAME'd MX hosts, as Postfix's tls_dane_resolve looks them up:
		; TLSA at the target first, at the alias when the target's TLSA is
		; denied or insecure; at the alias alone when the addresses are
		; insecure but the alias's own CNAME is signed.
		; target securely without TLSA, TLSA at the alias
		cnameorig               MX   10 alias.cnameorig.test.
		alias.cnameorig         CNAME mx.notlsa.test.
		_25._tcp.alias.cnameorig TLSA 3 1 1 $notlsa
		; target's TLSA in an unsigned zone (a wrong digest), TLSA at the alias
		cnameinsectlsa          MX   10 alias.cnameinsectlsa.test.
		alias.cnameinsectlsa    CNAME mx.insectlsa.test.
		mx.insectlsa            A    127.0.1.3
		_tcp.mx.insectlsa       NS   ns.test.
		_25._tcp.alias.cnameinsectlsa TLSA 3 1 1 $notlsa
		; a signed CNAME into the unsigned child insecure.test, TLSA at the alias
		cnameunsigned           MX   10 alias.cnameunsigned.test.
		alias.cnameunsigned     CNAME mx.insecure.test.
		_25._tcp.alias.cnameunsigned TLSA 3 1 1 $insec
		; an unsigned CNAME (in insecure.test) to a host with TLSA: no DANE
		viaunsignedcname        MX   10 alias.insecure.test.
		; TLSA shapes, all for mx.notlsa.test's certificate on 127.0.1.3:
		; the whole SPKI, the whole certificate, a SHA-512 of it
		fullspki                MX   10 mx.fullspki.test.
		mx.fullspki             A    127.0.1.3
		_25._tcp.mx.fullspki    TLSA 3 1 0 $notlsa_spki
		fullcert                MX   10 mx.fullcert.test.
		mx.fullcert             A    127.0.1.3
		_25._tcp.mx.fullcert    TLSA 3 0 0 $notlsa_cert
		certsha512              MX   10 mx.certsha512.test.
		mx.certsha512           A    127.0.1.3
		_25._tcp.mx.certsha512  TLSA 3 0 2 $notlsa_512
		; unusable: "full" data that is no SPKI; a 31-byte SHA-256 digest
		badfull                 MX   10 mx.badfull.test.
		mx.badfull              A    127.0.1.3
		_25._tcp.mx.badfull     TLSA 3 1 0 00
		badlen                  MX   10 mx.badlen.test.
		mx.badlen               A    127.0.1.3
		_25._tcp.mx.badlen      TLSA 3 1 1 ${notlsa:0:62}
		; a PKIX-EE record (unusable for SMTP) beside a usable DANE-EE one
		mixedtlsa               MX   10 mx.mixedtlsa.test.
		mx.mixedtlsa            A    127.0.1.3
		_25._tcp.mx.mixedtlsa   TLSA 1 1 1 $wrong
		_25._tcp.mx.mixedtlsa   TLSA 3 1 1 $notlsa

		; The prober's classes (t-lab-servers.sh): none has TLSA, all secure denial.
		; self-signed certificate, its own issuer, correct name
		selfsigned              MX   10 mx.selfsigned.test.
		mx.selfsigned           A    127.0.1.10
		; lab CA certificate for other.example
		wrongname               MX   10 mx.wrongname.test.
		mx.wrongname            A    127.0.1.11
		; no STARTTLS in the EHLO reply
		nostarttls              MX   10 mx.nostarttls.test.
		mx.nostarttls           A    127.0.1.12
		; STARTTLS, 220, then a failed handshake (fakesmtp)
		tlsfail                 MX   10 mx.tlsfail.test.
		mx.tlsfail              A    127.0.1.13
		; accepts connections, never sends a banner (fakesmtp)
		silent                  MX   10 mx.silent.test.
		mx.silent               A    127.0.1.14
		; every reply LAB_SLOW_DELAY_MS late, correct TLS (fakesmtp)
		slow                    MX   10 mx.slow.test.
		mx.slow                 A    127.0.1.15
		; anonymous TLS: no certificate at all (fakesmtp)
		anon                    MX   10 mx.anon.test.
		mx.anon                 A    127.0.1.16

		; good.test again with 2 s TTLs: expired in every cache soon after
		; it was asked, so a test can ask again once NSD is stopped
		; (t-state.sh: stale answers through an outage).
		shortttl              2 MX   10 mx.shortttl.test.
		mx.shortttl           2 A    127.0.1.1
		_25._tcp.mx.shortttl  2 TLSA 3 1 1 $mx1

		; DNS faults (t-dnsfaults.sh).  Every child zone below has the same
		; content as _lab_child_zone writes: MX 10 mx.CHILD, mx A 127.0.1.1
		; and its TLSA 3 1 1 (the mx1 digest).  The DS records of the signed
		; children are added by _lab_sign_zones, which makes their keys.
		; A signed child without DS: insecure, not bogus.
		nods                    NS   ns.test.
		; A signed child whose DS matches none of its keys: bogus.  A
		; domain of the signed parent whose only MX host is in it.
		wrongds                 NS   ns.test.
		wrongdshost             MX   10 mx.wrongds.test.
		; Signatures expired a week ago (_lab_sign_zones): on the MX RRset,
		; and on the only host's TLSA RRset.
		expiredmx               MX   10 mx.expiredmx.test.
		mx.expiredmx            A    127.0.1.1
		_25._tcp.mx.expiredmx   TLSA 3 1 1 $mx1
		expiredtlsa             MX   10 mx.expiredtlsa.test.
		mx.expiredtlsa          A    127.0.1.1
		_25._tcp.mx.expiredtlsa TLSA 3 1 1 $mx1
		; A TLSA RRset too big for a 1232-byte UDP answer: TC, then TCP.
		bigtlsa                 MX   10 mx.bigtlsa.test.
		mx.bigtlsa              A    127.0.1.1
		_25._tcp.mx.bigtlsa     TLSA 3 1 1 $mx1
		; A secure NODATA for TLSA: the TLSA name exists, with a TXT record.
		nodatatlsa              MX   10 mx.nodatatlsa.test.
		mx.nodatatlsa           A    127.0.1.3
		_25._tcp.mx.nodatatlsa  TXT  "no TLSA here"
		; An MX host whose name is a CNAME loop; alone, and beside a host
		; without TLSA.
		loopmx                  MX   10 a.loop.test.
		loopmix                 MX   10 a.loop.test.
		loopmix                 MX   20 mx.notlsa.test.
		a.loop                  CNAME b.loop.test.
		b.loop                  CNAME a.loop.test.
		; Delegations to the fault servers of lab_faults_up.  The name
		; servers' addresses are in this (signed) zone: only the child's
		; own answers go through the fault.
		; the second NSD, which does not serve lame.test: REFUSED
		lame                    NS   ns-lame.test.
		ns-lame                 A    $LAB_NSD2_ADDR
		; a blackhole route: nothing reaches the server, sending fails at once
		unrouted                NS   ns-unrouted.test.
		ns-unrouted             A    $LAB_BLACKHOLE_ADDR
		; a server that reads every query and never answers
		dropped                 NS   ns-dropped.test.
		ns-dropped              A    $LAB_SILENT_DNS_ADDR
		droppedhost             MX   10 mx.dropped.test.
		droppedhost             MX   20 mx.notlsa.test.
		; signed children served by the second NSD behind dnsdelay: their
		; answers LAB_DNS_SLOW_MS and LAB_DNS_SLOWER_MS late
		slowdns                 NS   ns-slowdns.test.
		ns-slowdns              A    $LAB_SLOW_DNS_ADDR
		slowerdns               NS   ns-slowerdns.test.
		ns-slowerdns            A    $LAB_SLOWER_DNS_ADDR
	EOF
	# The big TLSA RRset: beside the one that matches, 40 well-formed
	# digests of no key (every byte the record's number): ~2 KB in all.
	local i hex
	for ((i = 1; i <= 40; i++)); do
		printf -v hex '%02x' "$i"
		hex=$hex$hex hex=$hex$hex hex=$hex$hex hex=$hex$hex hex=$hex$hex
		printf '_25._tcp.mx.bigtlsa TLSA 3 1 1 %s\n' "$hex"
	done >>"$d/test.zone"
	# LAB_SLOW_DESTS destinations, slowN.test, each with an MX host of its
	# own on mx.slow.test's address: that many distinct probes at once
	# against one slow server (t-probe.sh).
	for ((i = 1; i <= LAB_SLOW_DESTS; i++)); do
		printf 'slow%d MX 10 mx%d.slow.test.\nmx%d.slow A 127.0.1.15\n' "$i" "$i" "$i"
	done >>"$d/test.zone"
	# Which addresses probes take (t-probe.sh): more than
	# Postfix's smtp_mx_address_limit (5) over two hosts, none listening
	# (nothing serves port 25 on 127.0.2.0/24); and a global address that
	# t-probe.sh gives the lab's own loopback interface.
	cat >>"$d/test.zone" <<-EOF
		manyaddrs               MX   10 mx1.manyaddrs.test.
		manyaddrs               MX   20 mx2.manyaddrs.test.
		mx1.manyaddrs           A    127.0.2.1
		mx1.manyaddrs           A    127.0.2.2
		mx1.manyaddrs           A    127.0.2.3
		mx1.manyaddrs           A    127.0.2.4
		mx2.manyaddrs           A    127.0.2.5
		mx2.manyaddrs           A    127.0.2.6
		mx2.manyaddrs           A    127.0.2.7
		mx2.manyaddrs           A    127.0.2.8
		ownaddr                 MX   10 mx.ownaddr.test.
		mx.ownaddr              A    $LAB_OWN_GLOBAL_ADDR
	EOF
	# IDN destinations (t-idn.sh), in their A-label form as DNS
	# has them: bücher.test, MX to mx1.good.test; its MX host
	# mx.bücher.test, a host next hop with TLSA of its own; faß.test,
	# which only non-transitional processing (Postfix's) spells xn--fa-hia
	# (transitional would look up fass.test, which does not exist);
	# münchen.test, which t-idn.sh lists as an exception by its A-label.
	cat >>"$d/test.zone" <<-EOF
		xn--bcher-kva           MX   10 mx1.good.test.
		mx.xn--bcher-kva        A    127.0.1.1
		_25._tcp.mx.xn--bcher-kva TLSA 3 1 1 $mx1
		xn--fa-hia              MX   10 mx.xn--bcher-kva.test.
		xn--mnchen-3ya          MX   10 mx1.good.test.
	EOF

	cat >"$d/insecure.test.zone" <<-EOF
		\$ORIGIN insecure.test.
		\$TTL 300
		@       SOA ns.test. hostmaster.test. 1 3600 600 86400 300
		@       NS  ns.test.
		@       MX  10 mx.insecure.test.
		mx      A   127.0.1.4
		_25._tcp.mx  TLSA 3 1 1 $insec
		; an unsigned domain whose MX host has DANE
		danemx  MX  10 mx1.good.test.
		; an unsigned alias of a host with DANE (viaunsignedcname.test)
		alias   CNAME mx1.good.test.
		; an unsigned domain whose MX host's DANE fails (t-oracle.sh)
		danewrong  MX  10 mx.wrongtlsa.test.
	EOF
	# An unsigned zone (delegated without DS) under a signed MX host,
	# holding that host's TLSA records: cnameinsectlsa.test.
	cat >"$d/_tcp.mx.insectlsa.test.zone" <<-EOF
		\$ORIGIN _tcp.mx.insectlsa.test.
		\$TTL 300
		@       SOA ns.test. hostmaster.test. 1 3600 600 86400 300
		@       NS  ns.test.
		_25     TLSA 3 1 1 $wrong
	EOF
	if _lab_survey_enabled; then
		_lab_survey_zones "$mx1" "$wrong" || return 1
	fi
	# selfcheck's certificate cases (t-selfcheck.sh).
	_lab_selfcheck_zones "$ca_spki" || return 1
	# The MTA-STS domains (sts.sh): records in test. and insecure.test.,
	# and the zone of its signed child stschange.test.
	_lab_sts_zones || return 1
	# coldN.test and the signed child pf.test. (dnsdelay.sh).
	_lab_delay_zones "$mx1" || return 1
	if _lab_dane_bench_enabled; then
		_lab_dane_bench_zone "$mx1" || return 1
	fi
	# selfcheck's DNS cases (zonecheck.sh): delegations and children.
	_lab_zonecheck_zones || return 1
	# The signed children (_lab_sign_zones signs them): served by NSD
	# itself, or by the second NSD, whose address only dnsdelay knows.
	_lab_child_zone nods ns.test. "$mx1" &&
		_lab_child_zone wrongds ns.test. "$mx1" &&
		_lab_child_zone slowdns ns-slowdns.test. "$mx1" &&
		_lab_child_zone slowerdns ns-slowerdns.test. "$mx1" || return 1
	# Kept for _lab_sign_zones.
	_LAB_MX1_DIGEST=$mx1 _LAB_WRONG_DIGEST=$wrong
}

# _lab_selfcheck_zones CA-SPKI-DIGEST: the domains of selfcheck's
# certificate cases, in test.: each broken in one way (t-selfcheck.sh has
# what selfcheck must find), with a 2 1 1 record for the lab CA beside the
# 3 1 1 ones so that rollover-unready has nothing to say.
_lab_selfcheck_zones() {
	local t=$LAB_DIR/tls ec rsa expiring
	ec=$(_lab_spki_sha256 "$t/dual.ec.crt") &&
		rsa=$(_lab_spki_sha256 "$t/dual.rsa.crt") &&
		expiring=$(_lab_spki_sha256 "$t/mx.expiring.test.crt") || return 1
	cat >>"$LAB_DIR/dns/test.zone" <<-EOF

		; selfcheck's certificate cases (lab.sh, t-selfcheck.sh)
		; an RSA and an ECDSA certificate, TLSA for the ECDSA key alone
		dualkey                 MX   10 mx.dualkey.test.
		mx.dualkey              A    127.0.1.18
		_25._tcp.mx.dualkey     TLSA 3 1 1 $ec
		; the same two, TLSA for both keys
		dualboth                MX   10 mx.dualboth.test.
		mx.dualboth             A    127.0.1.19
		_25._tcp.mx.dualboth    TLSA 3 1 1 $ec
		_25._tcp.mx.dualboth    TLSA 3 1 1 $rsa
		_25._tcp.mx.dualboth    TLSA 2 1 1 $1
		; two MX hosts whose certificates (made at lab_up) expire the same
		; day, and nothing else wrong: mx.ta.test's 2 1 1 record has no
		; current key to outlive
		sameday                 MX   10 mx.ta.test.
		sameday                 MX   20 mx.dualboth.test.
		; a certificate that expires in LAB_EXPIRING_DAYS
		expiring                MX   10 mx.expiring.test.
		mx.expiring             A    127.0.1.20
		_25._tcp.mx.expiring    TLSA 3 1 1 $expiring
		_25._tcp.mx.expiring    TLSA 2 1 1 $1
		; TLSA records for a server that offers no STARTTLS
		; (mx.nostarttls.test's address)
		starttlsgone            MX   10 mx.starttlsgone.test.
		mx.starttlsgone         A    127.0.1.12
		_25._tcp.mx.starttlsgone TLSA 2 1 1 $1
	EOF
}

# _lab_child_zone NAME NS DIGEST: $LAB_DIR/dns/NAME.test.zone, a child of
# test. with one MX host that has a TLSA 3 1 1 record with DIGEST.
_lab_child_zone() {
	cat >"$LAB_DIR/dns/$1.test.zone" <<-EOF
		\$ORIGIN $1.test.
		\$TTL 300
		@       SOA ns.test. hostmaster.test. 1 3600 600 86400 300
		@       NS  $2
		@       MX  10 mx.$1.test.
		mx      A   127.0.1.1
		_25._tcp.mx  TLSA 3 1 1 $3
	EOF
}

_lab_sign_zones() {
	local d=$LAB_DIR/dns ksk zsk inception expiration child pid ds failed=0
	local children=(nods wrongds slowdns slowerdns stschange pf) pids=()
	# survey.test: the survey's domains (survey.sh), DS in test.
	_lab_survey_enabled && children+=(survey)
	# stsbench.test: the MTA-STS benchmark's domains (sts.sh).
	_lab_sts_bench_enabled && children+=(stsbench)
	# danebench.test: the cold DANE benchmark's domains (danebench.sh).
	_lab_dane_bench_enabled && children+=(danebench)
	# Inception an hour back tolerates a little clock skew between the
	# signer and whoever validates.
	inception=$(date -u -d '1 hour ago' +%Y%m%d%H%M%S)
	expiration=$(date -u -d '30 days' +%Y%m%d%H%M%S)

	# The signed children (t-dnsfaults.sh), one key each that signs
	# everything, in the background while test.'s keys are made: keys and
	# signing are the bulk of lab_up's DNS set-up.
	for child in "${children[@]}"; do
		(
			cd "$d" && key=$(ldns-keygen -a ECDSAP256SHA256 -k "$child.test.") &&
				ldns-signzone -n -t 0 -i "$inception" -e "$expiration" \
					-f "$child.test.zone.signed" "$child.test.zone" "$key" &&
				mv "$key.ds" "$child.test.ds"
		) &
		pids+=($!)
	done
	# selfcheck's DNS cases, each signed its own way (zonecheck.sh).
	_lab_zonecheck_sign &
	pids+=($!)
	# ldns-keygen writes K<name>+<alg>+<id>.{key,private,ds} into the
	# current directory and prints the base name.
	ksk=$(cd "$d" && ldns-keygen -a ECDSAP256SHA256 -k test.) &&
		zsk=$(cd "$d" && ldns-keygen -a ECDSAP256SHA256 test.) || failed=1
	for pid in "${pids[@]}"; do
		wait "$pid" || failed=1
	done
	((failed == 0)) || return 1
	LAB_TA=$d/$ksk.key

	# The children's DS records into the parent: wrongds.test's with a
	# digest of no key; none for nods.test.
	for child in "${children[@]}"; do
		read -r ds <"$d/$child.test.ds" || return 1
		case $child in
		nods) ;;
		wrongds) echo "${ds% *} $_LAB_WRONG_DIGEST" ;;
		*) echo "$ds" ;;
		esac
	done >>"$d/test.zone"
	_lab_zonecheck_ds >>"$d/test.zone" || return 1

	# Expired signatures: the same RRsets signed with the same keys, valid
	# from 37 to 7 days ago (validators allow at most a day of skew), in
	# the background; the tampering below puts their RRSIGs in place of the
	# good ones.
	awk '$1 ~ /^(@|\$)/ || /^(expiredmx|_25\._tcp\.mx\.expiredtlsa)[ \t]/' \
		"$d/test.zone" >"$d/expired.zone" || return 1
	(cd "$d" && ldns-signzone -n -t 0 \
		-i "$(date -u -d '37 days ago' +%Y%m%d%H%M%S)" \
		-e "$(date -u -d '7 days ago' +%Y%m%d%H%M%S)" \
		-f expired.zone.signed expired.zone "$ksk" "$zsk") &
	pid=$!
	# NSEC3 with 0 extra iterations and no salt (RFC 9276): -t 0, no -s.
	(cd "$d" && ldns-signzone -n -t 0 -i "$inception" -e "$expiration" \
		-f test.zone.signed test.zone "$ksk" "$zsk") || failed=1
	wait "$pid" || failed=1
	((failed == 0)) || return 1

	# Tamper after signing: the RRSIGs now cover other data, so validators
	# report these RRsets bogus ("signature verification failed") while the
	# rest of the zone stays secure.  ldns-signzone writes one record per
	# line, fields separated by tabs: owner TTL class type rdata.  The
	# expired RRSIGs replace the good ones in the same pass.
	awk -F'\t' -v OFS='\t' -v good="$_LAB_MX1_DIGEST" -v wrong="$_LAB_WRONG_DIGEST" '
		function expired() {
			return $4 == "RRSIG" && ($1 == "expiredmx.test." && $5 ~ /^MX / ||
				$1 == "_25._tcp.mx.expiredtlsa.test." && $5 ~ /^TLSA /)
		}
		FNR == NR { if (expired()) old[++e] = $0; next }
		expired() { next }
		$1 == "bogusmx.test." && $4 == "MX" && $5 == "99 mx.bogusmx.test." {
			$5 = "10 mx.bogusmx.test."; n++ }
		$1 == "_25._tcp.mx.bogustlsa.test." && $4 == "TLSA" && $5 == "3 1 1 " wrong {
			$5 = "3 1 1 " good; n++ }
		{ print }
		END {
			for (i = 1; i <= e; i++) print old[i]
			if (n != 2) { print "tampered " n " records, not 2" > "/dev/stderr"; exit 1 }
			if (e != 2) { print "found " e " expired RRSIGs, not 2" > "/dev/stderr"; exit 1 }
		}
	' "$d/expired.zone.signed" "$d/test.zone.signed" >"$d/test.zone.tampered" || return 1
	mv "$d/test.zone.tampered" "$d/test.zone.signed" &&
		_lab_sts_tamper "$d/test.zone.signed"
}

# _lab_nsd_server_conf ADDR ZONESDIR STATEDIR: the server part of an NSD
# configuration, listening on ADDR:53, its zones in ZONESDIR and its own
# state in STATEDIR.  NSD 4.6: every path it would otherwise take from
# /var/lib/nsd or /run is set, so labs do not share state.  database "" =
# no nsd.db.
_lab_nsd_server_conf() {
	cat <<-EOF
		server:
		    ip-address: $1@53
		    zonesdir: "$2"
		    database: ""
		    zonelistfile: "$3/zone.list"
		    xfrdfile: "$3/xfrd.state"
		    xfrdir: "$3"
		    pidfile: "$3/nsd.pid"
		    logfile: "$3/nsd.log"
		    username: ""
		    chroot: ""
		    server-count: 1
		    verbosity: 1
		    # Response rate limiting (200 answers/s per client by default)
		    # would make load tests measure NSD, not the daemon.
		    rrl-ratelimit: 0
		remote-control:
		    control-enable: no
	EOF
}

_lab_write_dns_configs() {
	local d=$LAB_DIR/dns u=$LAB_DIR/unbound
	mkdir -p "$u" || return 1

	_lab_nsd_server_conf "$LAB_NSD_ADDR" "$d" "$d" >"$d/nsd.conf" || return 1
	cat >>"$d/nsd.conf" <<-EOF
		zone:
		    name: "test."
		    zonefile: "test.zone.signed"
		zone:
		    name: "insecure.test."
		    zonefile: "insecure.test.zone"
		zone:
		    name: "_tcp.mx.insectlsa.test."
		    zonefile: "_tcp.mx.insectlsa.test.zone"
		zone:
		    name: "nods.test."
		    zonefile: "nods.test.zone.signed"
		zone:
		    name: "wrongds.test."
		    zonefile: "wrongds.test.zone.signed"
		zone:
		    name: "stschange.test."
		    zonefile: "stschange.test.zone.signed"
		zone:
		    name: "pf.test."
		    zonefile: "pf.test.zone.signed"
	EOF
	_lab_zonecheck_nsd_zones >>"$d/nsd.conf"
	if _lab_survey_enabled; then
		printf 'zone:\n    name: "survey.test."\n    zonefile: "survey.test.zone.signed"\n' >>"$d/nsd.conf"
	fi
	if _lab_sts_bench_enabled; then
		printf 'zone:\n    name: "stsbench.test."\n    zonefile: "stsbench.test.zone.signed"\n' >>"$d/nsd.conf"
	fi
	if _lab_dane_bench_enabled; then
		printf 'zone:\n    name: "danebench.test."\n    zonefile: "danebench.test.zone.signed"\n' >>"$d/nsd.conf"
	fi

	# The second NSD (lab_faults_up): the children that must be reached
	# only through their delegation, so not through NSD above, which
	# would answer for them itself.  State files of its own in dns2.
	mkdir -p "$LAB_DIR/dns2" || return 1
	_lab_nsd_server_conf "$LAB_NSD2_ADDR" "$d" "$LAB_DIR/dns2" >"$LAB_DIR/dns2/nsd.conf" || return 1
	cat >>"$LAB_DIR/dns2/nsd.conf" <<-EOF
		zone:
		    name: "slowdns.test."
		    zonefile: "slowdns.test.zone.signed"
		zone:
		    name: "slowerdns.test."
		    zonefile: "slowerdns.test.zone.signed"
	EOF

	# What a validator needs to resolve the lab (shared by both configs):
	# - unbound serves test. as an empty local zone by default (RFC 6761
	#   names); without nodefault every answer is an instant NXDOMAIN.
	# - it also refuses to query 127.0.0.0/8 by default.
	# Note: libunbound 1.17 silently ignores "test. nodefault" set through
	# ub_ctx_set_option("local-zone:"), but honours it in a ub_ctx_config()
	# file like this one.
	local common
	common=$(
		cat <<-EOF
			    do-not-query-localhost: no
			    local-zone: "test." nodefault
			    trust-anchor-file: "$LAB_TA"
		EOF
	)
	local stub
	stub=$(
		cat <<-EOF
			stub-zone:
			    name: "test."
			    stub-addr: $LAB_NSD_ADDR@53
		EOF
	)

	cat >"$LAB_DIR/daemon-unbound.conf" <<-EOF
		# libunbound configuration for tlspolicyd inside the lab namespace
		# (ub_ctx_config()); written by tests/lab/lab.sh.
		server:
		$common
		$stub
	EOF

	cat >"$u/unbound.conf" <<-EOF
		server:
		    interface: $LAB_RESOLVER_ADDR@53
		    access-control: 127.0.0.0/8 allow
		    do-ip6: no
		    username: ""
		    chroot: ""
		    directory: "$u"
		    pidfile: "$u/unbound.pid"
		    logfile: "$u/unbound.log"
		    use-syslog: no
		    num-threads: 1
		    verbosity: 1
		    # log why an answer is bogus
		    val-log-level: 2
		$common
		remote-control:
		    control-enable: no
		$stub
	EOF
}

# The namespace name: unique per $LAB_DIR (its base name, plus a CRC of the
# whole path in case two labs use directories with the same base name).
_lab_ns_name() {
	local base crc prefix=${LAB_NETNS_PREFIX:-tlsplab-}
	# lab_down removes /etc/netns/NAME only for names of this form.
	[[ $prefix == tlsplab-* && $prefix != */* ]] || prefix=tlsplab-
	base=$(basename "$LAB_DIR")
	base=${base#tlsplab.}
	base=${base//[^A-Za-z0-9_-]/_}
	crc=$(printf '%s' "$LAB_DIR" | cksum)
	printf '%s%s-%x\n' "$prefix" "$base" "${crc%% *}"
}

_lab_nsd_answers() {
	ip netns exec "$LAB_NETNS" dig +norec +tries=1 +time=1 \
		@"$LAB_NSD_ADDR" SOA test. 2>/dev/null | grep -q 'status: NOERROR'
}

# The resolver is ready when it validates: the AD bit on the test. SOA.
_lab_resolver_validates() {
	ip netns exec "$LAB_NETNS" dig +dnssec +tries=1 +time=1 \
		@"$LAB_RESOLVER_ADDR" SOA test. 2>/dev/null |
		grep -Eq '^;; flags:[a-z ]* ad[ ;]'
}

_lab_write_env() {
	local v
	LAB_CA=$LAB_DIR/tls/ca.crt
	LAB_DAEMON_UNBOUND_CONF=$LAB_DIR/daemon-unbound.conf
	LAB_SENDER=$LAB_DIR/sender
	LAB_SENDER_LOG=$LAB_DIR/sender.log
	LAB_DANE_SENDER=$LAB_DIR/dane
	LAB_DANE_SENDER_LOG=$LAB_DIR/dane.log
	LAB_MX_LOG=$LAB_DIR/mx.log
	export LAB_DIR LAB_NETNS LAB_TA LAB_CA LAB_DAEMON_UNBOUND_CONF \
		LAB_SENDER LAB_SENDER_LOG LAB_DANE_SENDER LAB_DANE_SENDER_LOG LAB_MX_LOG
	for v in LAB_DIR LAB_NETNS LAB_TA LAB_CA LAB_DAEMON_UNBOUND_CONF \
		LAB_SENDER LAB_SENDER_LOG LAB_DANE_SENDER LAB_DANE_SENDER_LOG LAB_MX_LOG; do
		printf '%s=%q\n' "$v" "${!v}"
	done >"$LAB_DIR/env"
	_lab_sts_env
	_lab_dane_bench_env
}

lab_up() {
	if [[ -z ${LAB_DIR:-} || ! -d $LAB_DIR ]]; then
		diag "lab_up: LAB_DIR must name an existing directory"
		return 1
	fi
	LAB_DIR=$(cd "$LAB_DIR" && pwd -P)
	_LAB_DOWN_DONE=0
	if [[ $LAB_DIR =~ [[:space:]] ]]; then
		diag "lab_up: LAB_DIR must not contain white space: '$LAB_DIR'"
		return 1
	fi
	# mktemp -d makes the directory 0700; Postfix daemons run as user
	# postfix and must reach their queue and the policy files below it.
	chmod 755 "$LAB_DIR"
	: >>"$LAB_DIR/pids"
	mkdir -p "$LAB_DIR/dns" || return 1

	_lab_make_tls || { diag "lab_up: certificates failed"; _lab_log_tail "$LAB_DIR/tls/openssl.log"; return 1; }
	_lab_write_zones || { diag "lab_up: zone files failed"; return 1; }
	_lab_sign_zones || { diag "lab_up: signing failed"; return 1; }
	_lab_write_dns_configs || return 1

	# Record the name before creating the namespace, so that lab_down finds
	# it whatever happens next; forget it again if the name was taken.
	LAB_NETNS=$(_lab_ns_name)
	echo "$LAB_NETNS" >"$LAB_DIR/netns"
	_lab_write_env
	if ! ip netns add "$LAB_NETNS"; then
		diag "lab_up: ip netns add $LAB_NETNS failed"
		rm -f "$LAB_DIR/netns"
		LAB_NETNS=''
		return 1
	fi
	# ip netns exec bind-mounts every file of /etc/netns/NAME over /etc.
	mkdir -p "/etc/netns/$LAB_NETNS" &&
		echo "nameserver $LAB_RESOLVER_ADDR" >"/etc/netns/$LAB_NETNS/resolv.conf" || return 1
	# All of 127.0.0.0/8 is routed to lo, so 127.0.0.2 and 127.0.1.x need no
	# addresses of their own.
	ip -n "$LAB_NETNS" link set lo up || return 1

	# Daemons run in the foreground, started with & directly: `ip netns exec`
	# execs the command, so $! is the daemon itself.  (Through a subshell or
	# a backgrounded function, $! would be the subshell, and killing it would
	# leave the daemon running.)  Output goes to files: a daemon holding the
	# test's stdout would keep the TAP reader waiting after the test ends.
	# Bash starts background commands with SIGINT ignored, but NSD and
	# unbound install their own SIGINT handlers: a Ctrl-C on the test's
	# process group kills them, whatever the test's traps do.
	ip netns exec "$LAB_NETNS" nsd -d -c "$LAB_DIR/dns/nsd.conf" \
		</dev/null >>"$LAB_DIR/dns/nsd.out" 2>&1 &
	lab_record_pid $! nsd
	# NSD first, unbound once NSD answers: unbound would otherwise note the
	# stub address as unreachable and back off before retrying it.
	# NSD answers once it has loaded every zone: the DANE benchmark's
	# population takes it a while (danebench.sh).
	if ! _lab_poll $((5000 + $(_lab_dane_bench_load_ms))) _lab_alive_and $! _lab_nsd_answers; then
		diag "lab_up: NSD does not answer on $LAB_NSD_ADDR (or died)"
		_lab_log_tail "$LAB_DIR/dns/nsd.log"
		_lab_log_tail "$LAB_DIR/dns/nsd.out"
		return 1
	fi
	ip netns exec "$LAB_NETNS" unbound -d -c "$LAB_DIR/unbound/unbound.conf" \
		</dev/null >>"$LAB_DIR/unbound/unbound.out" 2>&1 &
	lab_record_pid $! unbound
	if ! _lab_poll 5000 _lab_alive_and $! _lab_resolver_validates; then
		diag "lab_up: the resolver on $LAB_RESOLVER_ADDR does not validate test. (or died)"
		_lab_log_tail "$LAB_DIR/unbound/unbound.log"
		_lab_log_tail "$LAB_DIR/unbound/unbound.out"
		return 1
	fi
	return 0
}

# lab_nsd_stop: the authoritative server goes away, its port closed.  Measured
# with unbound 1.17 defaults: a fresh libunbound context (unbound-host with
# daemon-unbound.conf) needs ~17 s to give SERVFAIL for an uncached name, and
# the resolver does not answer at all within 30 s (so Postfix's own lookups
# time out: "Host not found, try again").  Tests of this case must rely on
# the daemon's own lookup deadline and on names nobody asked for before.
lab_nsd_stop() {
	local pid name
	while read -r pid name; do
		[[ $name == nsd ]] || continue
		_lab_stop_pid "$pid"
		_lab_forget_pid "$pid"
	done < <(cat "$LAB_DIR/pids")
	if _lab_nsd_answers; then
		diag "lab_nsd_stop: NSD still answers"
		return 1
	fi
}

# lab_nsd_start: the authoritative server back, as lab_up started it (with
# the zone files as they are now).
lab_nsd_start() {
	local pid
	ip netns exec "$LAB_NETNS" nsd -d -c "$LAB_DIR/dns/nsd.conf" \
		</dev/null >>"$LAB_DIR/dns/nsd.out" 2>&1 &
	pid=$!
	lab_record_pid "$pid" nsd
	if ! _lab_poll 5000 _lab_alive_and "$pid" _lab_nsd_answers; then
		diag "lab_nsd_start: NSD does not answer on $LAB_NSD_ADDR (or died)"
		_lab_log_tail "$LAB_DIR/dns/nsd.log"
		return 1
	fi
}

# lab_faults_up: the DNS fault servers of t-dnsfaults.sh, all recorded for
# lab_down: the second NSD, a blackhole route to $LAB_BLACKHOLE_ADDR, and
# three dnsdelay servers (silent; LAB_DNS_SLOW_MS and LAB_DNS_SLOWER_MS late
# in front of the second NSD).  See the zone text for what they serve.
lab_faults_up() {
	local bin entry addr delay pid args
	bin=${LAB_DNSDELAY:-${top_builddir:-.}/tests/lab/dnsdelay}
	if [[ ! -f $bin || ! -x $bin ]]; then
		diag "lab_faults_up: $bin is missing: build it with 'make check'" \
			"(or cc -std=c11 -O2 -Wall -D_GNU_SOURCE -o tests/lab/dnsdelay" \
			"tests/lab/dnsdelay.c), or set LAB_DNSDELAY"
		return 1
	fi
	bin=$(cd "$(dirname "$bin")" && pwd -P)/$(basename "$bin")
	# In the lab's own routing table: it goes with the namespace.  A
	# blackhole route in table local beats 127.0.0.0/8 there (longest
	# prefix); the sender gets EINVAL at once, nothing is ever sent.
	ip -n "$LAB_NETNS" route add blackhole "$LAB_BLACKHOLE_ADDR/32" table local || return 1

	ip netns exec "$LAB_NETNS" nsd -d -c "$LAB_DIR/dns2/nsd.conf" \
		</dev/null >>"$LAB_DIR/dns2/nsd.out" 2>&1 &
	pid=$!
	lab_record_pid "$pid" nsd2
	if ! _lab_poll 5000 _lab_alive_and "$pid" _lab_answers "$LAB_NSD2_ADDR" slowdns.test.; then
		diag "lab_faults_up: the second NSD does not answer on $LAB_NSD2_ADDR (or died)"
		_lab_log_tail "$LAB_DIR/dns2/nsd.log"
		_lab_log_tail "$LAB_DIR/dns2/nsd.out"
		return 1
	fi
	for entry in "$LAB_SILENT_DNS_ADDR" \
		"$LAB_SLOW_DNS_ADDR ${LAB_DNS_SLOW_MS:-1000}" \
		"$LAB_SLOWER_DNS_ADDR ${LAB_DNS_SLOWER_MS:-8000}"; do
		read -r addr delay <<<"$entry"
		args=()
		[[ -n $delay ]] && args=(-u "$LAB_NSD2_ADDR" -d "$delay")
		ip netns exec "$LAB_NETNS" "$bin" -v "${args[@]}" "$addr" \
			</dev/null >>"$LAB_DIR/dnsdelay-$addr.log" 2>&1 &
		pid=$!
		lab_record_pid "$pid" "dnsdelay-$addr"
		if ! _lab_poll 5000 _lab_alive_and "$pid" _lab_udp_bound "$addr:53"; then
			diag "lab_faults_up: dnsdelay does not listen on $addr (or died)"
			_lab_log_tail "$LAB_DIR/dnsdelay-$addr.log"
			return 1
		fi
	done
}

_lab_answers() {
	ip netns exec "$LAB_NETNS" dig +norec +tries=1 +time=1 \
		@"$1" SOA "$2" 2>/dev/null | grep -q 'status: NOERROR'
}

_lab_udp_bound() {
	[[ -n $(ip netns exec "$LAB_NETNS" ss -Hlun src "$1" 2>/dev/null) ]]
}

# ---------------------------------------------------------------- Postfix

# _lab_postfix_instance NAME: config dir $LAB_DIR/NAME with a master.cf copied
# from the system one, every chroot column set to n (a chroot would need copies
# of resolv.conf, certificates, maps...), and without its inet services (each
# instance declares its own listeners).  Queue and data directories beside it,
# not inside: Postfix wants queue_directory outside config_directory.
_lab_postfix_instance() {
	local name=$1 cf=$LAB_DIR/$1
	mkdir -p "$cf" "$LAB_DIR/$name-queue" "$LAB_DIR/$name-data" || return 1
	# data_directory must be owned by mail_owner.
	chown postfix "$LAB_DIR/$name-data" || return 1
	awk '
		/^[ \t]/ { if (!skip) print; next }      # continuation lines
		/^#/ || NF < 8 { skip = 0; print; next }
		$2 == "inet" { skip = 1; next }
		{ skip = 0; $5 = "n"; if ($1 == "postlog") have_postlog = 1; print }
		# maillog_file needs the postlogd service.
		END { if (!have_postlog) print "postlog unix-dgram n - n - 1 postlogd" }
	' /etc/postfix/master.cf >"$cf/master.cf" || return 1

	# Settings both instances share.
	cat >"$cf/main.cf" <<-EOF
		# Postfix instance "$name" of the tlspolicyd lab (tests/lab/lab.sh)
		compatibility_level = 3.6
		queue_directory = $LAB_DIR/$name-queue
		data_directory = $LAB_DIR/$name-data
		# Postfix >= 3.4 logs without syslog; the file must start with one of
		# maillog_file_prefixes, or "postfix start" exits 1 without a word.
		maillog_file = $LAB_DIR/$name.log
		maillog_file_prefixes = $LAB_DIR
		inet_protocols = ipv4
		inet_interfaces = loopback-only
		mydestination =
		local_recipient_maps =
		alias_maps =
		alias_database =
		biff = no
	EOF
	# Postfix passes on only the variables import_environment names: with
	# TLSP_SUITE among them, tests/leftovers.sh finds a Postfix process
	# that outlived its test as it finds any other.
	echo "import_environment = $(postconf -dh import_environment) TLSP_SUITE" >>"$cf/main.cf" || return 1
}

# Postfix re-reads a main.cf younger than about a second until it stops
# changing: every command run on a freshly written file
# stalls up to ~1.5 s.  Backdating the files avoids that.
_lab_postfix_backdate() {
	touch -d "@$(($(date +%s) - 10))" "$1/main.cf" "$1/master.cf"
}

_lab_postfix_start() {
	local name=$1 cf=$LAB_DIR/$1 pidfile pid
	pidfile=$LAB_DIR/$name-queue/pid/master.pid
	_lab_postfix_backdate "$cf"
	# `postfix start` returns once master is ready (master -w), listeners
	# bound; master detaches, so record its pid from its pid file.
	if ! lab_exec postfix -c "$cf" start </dev/null >>"$LAB_DIR/$name.start.log" 2>&1; then
		diag "postfix instance $name did not start"
		_lab_log_tail "$LAB_DIR/$name.start.log"
		_lab_log_tail "$LAB_DIR/$name.log"
		return 1
	fi
	read -r pid <"$pidfile" && lab_record_pid "$pid" "postfix-$name"
}

# SIGTERM to master stops the instance (master takes its children along).
_lab_postfix_stop() {
	local name=$1 pidfile pid
	pidfile=$LAB_DIR/$name-queue/pid/master.pid
	[[ -s $pidfile ]] && read -r pid <"$pidfile" || return 0
	_lab_stop_pid "$pid"
	_lab_forget_pid "$pid"
	rm -f "$pidfile"
}

# The fakesmtp binary that lab_mail_up runs.
_lab_fakesmtp() {
	echo "${LAB_FAKESMTP:-${top_builddir:-.}/tests/lab/fakesmtp}"
}

# Is something listening on ADDRESS:PORT in the namespace?
_lab_listening() {
	[[ -n $(ip netns exec "$LAB_NETNS" ss -Hltn src "$1" 2>/dev/null) ]]
}

_lab_fakes_stop() {
	local pid name
	while read -r pid name; do
		[[ $name == fakesmtp-* ]] || continue
		_lab_stop_pid "$pid"
		_lab_forget_pid "$pid"
	done < <(cat "$LAB_DIR/pids")
}

# One fakesmtp per LAB_FAKE_LISTENERS entry, in the foreground with & like the
# DNS servers, each recorded as "fakesmtp-HOST"; ready once it listens.
_lab_fakes_start() {
	local bin entry addr host mode pid args
	bin=$(_lab_fakesmtp)
	if [[ ! -f $bin || ! -x $bin ]]; then
		diag "lab_mail_up: $bin is missing: build it with 'make check'" \
			"(or cc -std=c11 -O2 -Wall -Wextra -D_GNU_SOURCE -o tests/lab/fakesmtp" \
			"tests/lab/fakesmtp.c -lssl -lcrypto), or set LAB_FAKESMTP"
		return 1
	fi
	# Absolute, in case the test changes directory later.
	bin=$(cd "$(dirname "$bin")" && pwd -P)/$(basename "$bin")
	for entry in "${LAB_FAKE_LISTENERS[@]}"; do
		read -r addr host mode <<<"$entry"
		args=(-m "$mode" -n "$host")
		if [[ $mode == slow ]]; then
			args+=(-d "${LAB_SLOW_DELAY_MS:-2000}"
				-c "$LAB_DIR/tls/$host.pem" -k "$LAB_DIR/tls/$host.pem")
		fi
		ip netns exec "$LAB_NETNS" "$bin" "${args[@]}" "$addr" \
			</dev/null >>"$LAB_DIR/fakesmtp-$host.log" 2>&1 &
		pid=$!
		lab_record_pid "$pid" "fakesmtp-$host"
		if ! _lab_poll 5000 _lab_alive_and "$pid" _lab_listening "$addr"; then
			diag "lab_mail_up: fakesmtp for $host does not listen on $addr (or died)"
			_lab_log_tail "$LAB_DIR/fakesmtp-$host.log"
			return 1
		fi
	done
}

lab_mail_up() {
	local cf=$LAB_DIR/mx entry addr host opt words
	_lab_fakes_stop
	_lab_postfix_stop mx
	_lab_postfix_instance mx || return 1
	cat >>"$cf/main.cf" <<-EOF
		myhostname = receiver.lab.test
		# Accept mail for any domain under test. and throw it away.  ".test"
		# spells out the subdomains rather than rely on the default of
		# parent_domain_matches_subdomains.
		relay_domains = test, .test
		relay_transport = discard:accepted by the tlspolicyd lab
		default_transport = discard:accepted by the tlspolicyd lab
		smtpd_tls_loglevel = 1
	EOF
	for entry in "${LAB_MX_LISTENERS[@]}"; do
		read -ra words <<<"$entry"
		addr=${words[0]} host=${words[1]}
		{
			printf '%s inet n - n - - smtpd\n' "$addr"
			printf '  -o %s\n' "myhostname=$host"
			# A host without certificate (mx.nostarttls.test) offers no TLS.
			if [[ " ${LAB_TLS_HOSTS[*]} ${LAB_DUAL_KEY_HOSTS[*]} " == *" $host "* ]]; then
				printf '  -o %s\n' "smtpd_tls_chain_files=$LAB_DIR/tls/$host.pem"
			fi
			printf '  -o %s\n' smtpd_tls_security_level=may
			for opt in "${words[@]:2}"; do
				printf '  -o %s\n' "$opt"
			done
		} >>"$cf/master.cf"
	done
	_lab_postfix_start mx || return 1
	_lab_fakes_start
}

# _lab_sender_instance NAME: a sending instance's configuration, without its
# TLS level and policy.
_lab_sender_instance() {
	_lab_postfix_instance "$1" || return 1
	cat >>"$LAB_DIR/$1/main.cf" <<-EOF
		myhostname = $1.lab.test
		# Postfix trusts the AD bit of the resolver in /etc/resolv.conf (the
		# lab's unbound, through /etc/netns).  The default DNSSEC probe asks
		# for the real root's NS, which the lab cannot resolve.
		smtp_dns_support_level = dnssec
		dnssec_probe = ns:test.
		smtp_tls_CAfile = $LAB_DIR/tls/ca.crt
		smtp_tls_loglevel = 1
	EOF
}

lab_sender_up() {
	local map=${1:-} smtpd=${2:-} cf=$LAB_DIR/sender opt
	if [[ -z $map ]]; then
		diag "lab_sender_up: a policy map is required"
		return 1
	fi
	shift $(($# < 2 ? $# : 2))
	# A second call replaces the instance: stop, rewrite, start (~0.3 s).
	# The queue stays: mail deferred before is still there.
	_lab_postfix_stop sender
	_lab_sender_instance sender || return 1
	cat >>"$cf/main.cf" <<-EOF
		smtp_tls_security_level = may
		smtp_tls_dane_insecure_mx_policy = dane
		smtp_tls_policy_maps = $map
	EOF
	# Postfix reads a file loaded whole (main.cf, texthash:, ...) again and
	# again, 300 ms apart, while its mtime is within a second of now ("pausing
	# to let FILE cool down"): a policy file written just before this call
	# would slow the first delivery by ~1 s.  Backdate it like main.cf.
	local file=${map#*:}
	if [[ -f $file ]]; then
		touch -d "@$(($(date +%s) - 10))" "$file"
	fi
	if [[ -n $smtpd ]]; then
		{
			printf '%s inet n - n - - smtpd\n' "$smtpd"
			for opt in "$@"; do
				printf '  -o %s\n' "$opt"
			done
		} >>"$cf/master.cf"
	fi
	_lab_postfix_start sender || return 1
	if [[ -n $smtpd ]] && ! _lab_poll 5000 _lab_listening "$smtpd"; then
		diag "lab_sender_up: no smtpd listens on $smtpd"
		return 1
	fi
}

# lab_dane_sender_up: (re)start the instance "dane", Postfix's own DANE
# without any policy map (smtp_tls_security_level = dane, everything else as
# the sender's; smtp_tls_dane_insecure_mx_policy at its default, which is
# dane at that level).  Config $LAB_DANE_SENDER, log $LAB_DANE_SENDER_LOG.
lab_dane_sender_up() {
	_lab_postfix_stop dane
	_lab_sender_instance dane || return 1
	echo "smtp_tls_security_level = dane" >>"$LAB_DIR/dane/main.cf"
	_lab_postfix_start dane
}

lab_send() {
	local rcpt=$1 from=${2:-sender@sender.lab.test}
	printf 'From: <%s>\nTo: <%s>\nSubject: tlspolicyd lab\n\nA lab message.\n' \
		"$from" "$rcpt" |
		lab_exec sendmail -C "$LAB_DIR/sender" -f "$from" -- "$rcpt"
}

lab_flush() {
	lab_exec postqueue -c "$LAB_DIR/sender" -f
}

# lab_wait_log ERE [SECONDS [FILE]]: poll FILE (default: the sender's maillog)
# until a line matches ERE.  Earlier deliveries stay in the log, so match on
# something unique to the message awaited (e.g. its recipient).
lab_wait_log() {
	local re=$1 secs=$((${2:-10} * ${LAB_TIME_FACTOR:-1})) log=${3:-$LAB_DIR/sender.log} deadline
	deadline=$(($(_lab_ms) + secs * 1000))
	until grep -Eq -- "$re" "$log" 2>/dev/null; do
		# After lab_down (a trap that did not exit) nothing will come.
		if [[ ${_LAB_DOWN_DONE:-0} == 1 ]]; then
			diag "lab_wait_log /$re/: the lab is down"
			return 1
		fi
		if (($(_lab_ms) > deadline)); then
			diag "no /$re/ in $log after ${secs}s"
			_lab_log_tail "$log" 20
			return 1
		fi
		sleep 0.1
	done
}

# ---------------------------------------------------------------- lab_down

# lab_traps: lab_down on exit, and exit on INT/TERM (status 130/143).  With a
# bare `trap lab_down EXIT INT TERM` a signal tears the lab down and the
# script then carries on, every lab call failing fast, until it ends.
lab_traps() {
	trap lab_down EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# Safe at any point, any number of times: everything is looked up again and
# only processes that are still in this lab's namespace are signalled.
lab_down() {
	local dir=${LAB_DIR:-} ns pid name
	[[ ${_LAB_DOWN_DONE:-0} == 1 ]] && return 0
	[[ -n $dir && -d $dir ]] || return 0
	_LAB_DOWN_DONE=1
	ns=$(_lab_ns 2>/dev/null) || ns=''

	if [[ -n $ns ]] && _lab_ns_id "$ns" >/dev/null; then
		_lab_postfix_stop sender
		_lab_postfix_stop dane
		_lab_postfix_stop mx
		if [[ -f $dir/pids ]]; then
			while read -r pid name; do
				[[ -n $pid ]] && _lab_stop_pid "$pid"
			done <"$dir/pids"
		fi
		# Whatever else still runs in the namespace (a test's daemon,
		# Postfix children in mid-exit): TERM, then KILL.  Namespace
		# membership, not a process name, decides what is ours.
		_lab_sweep "$ns"
		ip netns delete "$ns" 2>/dev/null
	fi
	if [[ -n $ns && $ns == tlsplab-* ]]; then
		rm -rf "/etc/netns/$ns"
	fi
	LAB_NETNS=''
	if [[ ${LAB_KEEP:-0} == 1 ]]; then
		diag "lab kept in $dir"
		return 0
	fi
	# Never remove / or a top-level directory, whatever LAB_DIR says.
	if [[ $(cd "$dir" && pwd -P) =~ ^/[^/]+/. ]]; then
		rm -rf "$dir"
	fi
	return 0
}
