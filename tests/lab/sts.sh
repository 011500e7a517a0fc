# sts.sh - the lab's MTA-STS fixture (RFC 8461).  Sourced by lab.sh.
#
# lab_up always builds the DNS part (a few dozen records: cheap); the HTTPS
# server and the reference resolver run only when a test starts them:
#
#   lab_start
#   lab_https_up            nginx on $LAB_STS_HTTPS_ADDR:443 (127.0.4.1)
#   lab_sts_resolver_up     mta-sts-daemon on 127.0.0.1:8461
#
# The STS domains (_LAB_STS_DOMAINS below is the authoritative table).
# Every one but stsnotxt.test publishes _mta-sts.D TXT "v=STSv1; id=lab1",
# and every one has mta-sts.D A 127.0.4.1, a server block of its own in
# nginx (SNI) and, unless said otherwise, a lab CA certificate for
# mta-sts.D.  Policies have max_age 86400.  mx.stsgood.test (127.0.1.17,
# lab_mail_up) has a lab CA certificate for its name and no TLSA record.
#
#   domain                     MX host            policy served
#   stsgood.test               mx.stsgood.test    enforce, mx: mx.stsgood.test
#   stswrongname.test          mx.wrongname.test  enforce, mx: mx.wrongname.test
#                              (its certificate names other.example: delivery
#                              must be deferred)
#   ststesting.test            mx.stsgood.test    testing, mx: mx.stsgood.test
#   stsnone.test               mx.stsgood.test    none (no mx line)
#   stswild.test               mx.stsgood.test    enforce, mx: *.stsgood.test
#                                                 and mx: mx.stsother.test
#   stschange.test             mx.stsgood.test    enforce, mx: mx.stsgood.test;
#                              a signed child zone of its own whose records
#                              have 1 s TTLs: lab_sts_set changes its TXT id
#                              and its policy at run time
#   stsflaky.test              mx.stsgood.test    enforce, mx: mx.stsgood.test;
#                              lab_sts_break makes its fetch fail (404),
#                              lab_sts_mend serves it again; the TXT stays
#   Fetch failures, TXT present, the policy (where one is served) enforce
#   with mx: mx.stsgood.test, so a client that missed the failure answers
#   "secure match=mx.stsgood.test":
#   stscertname.test           mx.stsgood.test    certificate for mta-sts.other.example
#   stsuntrusted.test          mx.stsgood.test    self-signed certificate
#   stsredirect.test           mx.stsgood.test    301 to https://mta-sts.stsgood.test/
#                                                 .well-known/mta-sts.txt
#   sts404.test                mx.stsgood.test    404 (no file)
#   stsbig.test                mx.stsgood.test    a valid policy padded with
#                                                 extension lines to 70 KiB
#   stsslow.test               mx.stsgood.test    a valid 1 KiB policy sent at
#                                                 LAB_STS_SLOW_RATE bytes/s
#                                                 (100: about 10 s in all)
#   ststype.test               mx.stsgood.test    Content-Type: text/html
#   DANE and DNSSEC beside STS:
#   stsdane.test               mx1.good.test      enforce, mx: mx1.good.test;
#                              the host has a matching TLSA 3 1 1: DANE wins
#   stsbogus.test              mx.stsgood.test    enforce, mx: mx.stsgood.test;
#                              its MX RRset is bogus (signed as "99 ...",
#                              served as "10 ..."), TXT and policy fine:
#                              the answer must be TEMP
#   stsinsecure.insecure.test  mx.stsgood.test    enforce, mx: mx.stsgood.test;
#                              all its records in the unsigned insecure.test.
#   stsnotxt.test              mx.stsgood.test    enforce, mx: mx.stsgood.test,
#                              but no TXT record: must be ignored
#
# The benchmark's population (tests/bench/run.sh), only built when asked
# for, like survey.sh's: LAB_STS_BENCH_DOMAINS=N (default 0) before lab_up
# adds N domains dI.stsbench.test (I = 1 .. N) in the signed child zone
# stsbench.test., each with MX 10 mx.stsgood.test (no TLSA: DNS proves
# DANE absent), _mta-sts TXT "v=STSv1; id=bench1" and mta-sts.dI A
# 127.0.4.1; lab_https_up then serves every mta-sts.dI.stsbench.test the
# same policy (enforce, mx: mx.stsgood.test), so each one's answer is
# "secure match=mx.stsgood.test servername=hostname".  No certificate for
# *.NAME covers mta-sts.dI.stsbench.test for every I, and one of its own
# each would take a fork per name: instead one lab CA certificate and one
# nginx server block per _LAB_STS_BENCH_GROUP (50) names, all in its
# subjectAltName and its server_name (about 2 KB of certificate, an
# ordinary size).  The list, one domain a line in order: $LAB_STS_BENCH_LIST.
#
# Functions (non-zero on failure, explained with diag):
#   lab_https_up            certificates for the mta-sts hosts, the policy
#                           files, nginx (pid recorded for lab_down; one
#                           process, as root); again: restarted, every
#                           policy file as the table has it
#   lab_sts_resolver_up     postfix-mta-sts-resolver's mta-sts-daemon, the
#                           reference: Postfix map socketmap:$LAB_STS_RESOLVER:postfix
#                           (again: restarted, its cache empty)
#   lab_sts_set [--max-age SECONDS] DOMAIN ID MODE [MX...]
#                           stschange.test only: publish "v=STSv1; id=ID"
#                           (ID -: no TXT record at all, as an attacker
#                           who strips it would have it) and serve a
#                           policy of MODE with those mx lines and that
#                           max_age (default LAB_STS_MAX_AGE, or 86400);
#                           returns once the lab's resolver gives the new
#                           TXT (or its secure absence) and every cache's
#                           old copy has expired
#   lab_sts_break DOMAIN    remove DOMAIN's policy file: 404 from now on
#   lab_sts_mend DOMAIN     serve it again, as lab_https_up wrote it
#   lab_sts_domains [dns KIND | serve KIND]  the domains, one a line: all,
#                           or those of that DNS or SERVE kind (the table)
#
# Variables (exported and written to $LAB_DIR/env by lab_up):
#   LAB_STS_HTTPS_ADDR      127.0.4.1, where nginx listens (port 443)
#   LAB_STS_WWW             $LAB_DIR/https/www: DOMAIN/.well-known/mta-sts.txt
#   LAB_STS_ACCESS_LOG      nginx's access log: "SNI-NAME \"REQUEST\" STATUS
#                           BYTES CONTENT-TYPE SECONDS" a line
#   LAB_STS_RESOLVER        inet:127.0.0.1:8461, mta-sts-daemon's socketmap
#   LAB_STS_RESOLVER_LOG    its log (-v debug; -v LAB_STS_RESOLVER_VERBOSITY
#                           when that is set before lab_sts_resolver_up)
#   LAB_STS_BENCH_LIST      $LAB_DIR/stsbench/domains (with LAB_STS_BENCH_DOMAINS)
#
# 127.0.4.1 needs no address of its own in the namespace: lo's 127.0.0.1/8
# makes all of 127.0.0.0/8 local (lab.sh binds 127.0.1.x the same way).
#
# What the reference answers (mta-sts-daemon 1.1.2, cache_grace 1 s, timeout
# 4 s) is recorded in t-sts-lab.sh, which checks it.

LAB_STS_HTTPS_ADDR=127.0.4.1
LAB_STS_RESOLVER_PORT=8461
# The policy's id as lab_up publishes it.
_LAB_STS_ID=lab1
# stschange.test's zone: 1 s TTLs (and SOA minimum) so that every cache
# holds an old TXT for at most a second after lab_sts_set.
_LAB_STS_CHANGE_TTL=1

# DOMAIN DNS SERVE MX-HOST MODE [PATTERN...]
#   DNS   signed    records in test. (signed)
#         insecure  records in insecure.test. (unsigned)
#         child     a signed zone of its own (stschange.test only)
#         bogusmx   as signed, the MX RRset made bogus after signing
#         notxt     as signed, without the TXT record
#   SERVE policy | certname | untrusted | redirect | missing | big | slow | html
_LAB_STS_DOMAINS=(
	"stsgood.test               signed   policy    mx.stsgood.test   enforce mx.stsgood.test"
	"stswrongname.test          signed   policy    mx.wrongname.test enforce mx.wrongname.test"
	"ststesting.test            signed   policy    mx.stsgood.test   testing mx.stsgood.test"
	"stsnone.test               signed   policy    mx.stsgood.test   none"
	"stswild.test               signed   policy    mx.stsgood.test   enforce *.stsgood.test mx.stsother.test"
	"stschange.test             child    policy    mx.stsgood.test   enforce mx.stsgood.test"
	"stsflaky.test              signed   policy    mx.stsgood.test   enforce mx.stsgood.test"
	"stscertname.test           signed   certname  mx.stsgood.test   enforce mx.stsgood.test"
	"stsuntrusted.test          signed   untrusted mx.stsgood.test   enforce mx.stsgood.test"
	"stsredirect.test           signed   redirect  mx.stsgood.test   enforce mx.stsgood.test"
	"sts404.test                signed   missing   mx.stsgood.test   enforce mx.stsgood.test"
	"stsbig.test                signed   big       mx.stsgood.test   enforce mx.stsgood.test"
	"stsslow.test               signed   slow      mx.stsgood.test   enforce mx.stsgood.test"
	"ststype.test               signed   html      mx.stsgood.test   enforce mx.stsgood.test"
	"stsdane.test               signed   policy    mx1.good.test     enforce mx1.good.test"
	"stsbogus.test              bogusmx  policy    mx.stsgood.test   enforce mx.stsgood.test"
	"stsinsecure.insecure.test  insecure policy    mx.stsgood.test   enforce mx.stsgood.test"
	"stsnotxt.test              notxt    policy    mx.stsgood.test   enforce mx.stsgood.test"
)

# Sizes of the bodies of the fetch failures: over RFC 8461's 64 KiB for
# stsbig.test; stsslow.test's, at LAB_STS_SLOW_RATE bytes a second, takes
# about 10 s, well past a 5 s deadline (nginx sends the first second's
# worth at once).
_LAB_STS_BIG_BYTES=$((70 * 1024))
_LAB_STS_SLOW_BYTES=1100

LAB_STS_BENCH_DOMAINS=${LAB_STS_BENCH_DOMAINS:-0}
_LAB_STS_BENCH_ID=bench1
_LAB_STS_BENCH_GROUP=50

_lab_sts_bench_enabled() {
	((${LAB_STS_BENCH_DOMAINS:-0} > 0))
}

# The domains, one a line, for tests: all of them, or those whose DNS or
# SERVE column is the one given (lab_sts_domains serve policy).
lab_sts_domains() {
	local entry words
	for entry in "${_LAB_STS_DOMAINS[@]}"; do
		read -ra words <<<"$entry"
		case ${1:-} in
		'') ;;
		dns) [[ ${words[1]} == "$2" ]] || continue ;;
		serve) [[ ${words[2]} == "$2" ]] || continue ;;
		esac
		echo "${words[0]}"
	done
}

# ---------------------------------------------------------------- DNS

# _lab_sts_txt ID: the TXT record's data.
_lab_sts_txt() {
	printf '"v=STSv1; id=%s"' "$1"
}

# Called by _lab_write_zones: the records of each domain in the zone its
# DNS column names, and stschange.test.zone (signed by _lab_sign_zones,
# which also puts its DS into test.).
_lab_sts_zones() {
	local d=$LAB_DIR/dns entry words dom dns host owner zone
	{
		echo
		echo "; MTA-STS domains (tests/lab/sts.sh)"
		echo "mx.stsgood A 127.0.1.17"
	} >>"$d/test.zone"
	echo "; MTA-STS domains (tests/lab/sts.sh)" >>"$d/insecure.test.zone"
	for entry in "${_LAB_STS_DOMAINS[@]}"; do
		read -ra words <<<"$entry"
		dom=${words[0]} dns=${words[1]} host=${words[3]}
		case $dns in
		child)
			_lab_sts_change_zone 1 "$_LAB_STS_ID" || return 1
			echo "stschange NS ns.test." >>"$d/test.zone"
			continue
			;;
		insecure)
			owner=${dom%.insecure.test} zone=$d/insecure.test.zone
			;;
		*)
			owner=${dom%.test} zone=$d/test.zone
			;;
		esac
		{
			# _lab_sts_tamper puts 10 back after signing: a bogus RRset.
			if [[ $dns == bogusmx ]]; then
				echo "$owner MX 99 $host."
			else
				echo "$owner MX 10 $host."
			fi
			[[ $dns == notxt ]] || echo "_mta-sts.$owner TXT $(_lab_sts_txt "$_LAB_STS_ID")"
			echo "mta-sts.$owner A $LAB_STS_HTTPS_ADDR"
		} >>"$zone"
	done
	if _lab_sts_bench_enabled; then
		_lab_sts_bench_zone || return 1
	fi
}

# The benchmark's domains: stsbench.test.zone (signed by _lab_sign_zones,
# which puts its DS into test.), its delegation, and the list.
_lab_sts_bench_zone() {
	local d=$LAB_DIR/dns
	mkdir -p "$LAB_DIR/stsbench" || return 1
	echo "stsbench NS ns.test." >>"$d/test.zone"
	{
		cat <<-EOF
			\$ORIGIN stsbench.test.
			\$TTL 3600
			@         SOA ns.test. hostmaster.test. 1 3600 600 86400 3600
			@         NS  ns.test.
		EOF
		awk -v n="$LAB_STS_BENCH_DOMAINS" -v txt="$(_lab_sts_txt "$_LAB_STS_BENCH_ID")" \
			-v addr="$LAB_STS_HTTPS_ADDR" -v list="$LAB_DIR/stsbench/domains" 'BEGIN {
			for (i = 1; i <= n; i++) {
				printf "d%d MX 10 mx.stsgood.test.\n_mta-sts.d%d TXT %s\nmta-sts.d%d A %s\n", \
					i, i, txt, i, addr
				print "d" i ".stsbench.test" > list
			}
		}'
	} >"$d/stsbench.test.zone"
}

# _lab_sts_change_zone SERIAL ID: stschange.test.zone, unsigned; ID -:
# without the TXT record.
_lab_sts_change_zone() {
	local ttl=$_LAB_STS_CHANGE_TTL txt=
	[[ $2 == - ]] || txt="_mta-sts  TXT $(_lab_sts_txt "$2")"
	cat >"$LAB_DIR/dns/stschange.test.zone" <<-EOF
		\$ORIGIN stschange.test.
		\$TTL $ttl
		@         SOA ns.test. hostmaster.test. $1 3600 600 86400 $ttl
		@         NS  ns.test.
		@         MX  10 mx.stsgood.test.
		$txt
		mta-sts   A   $LAB_STS_HTTPS_ADDR
	EOF
}

# Called by _lab_sign_zones on the signed test. zone (tab-separated, one
# record a line): stsbogus.test's MX back to the data it was not signed with.
_lab_sts_tamper() {
	awk -F'\t' -v OFS='\t' '
		$1 == "stsbogus.test." && $4 == "MX" && $5 == "99 mx.stsgood.test." {
			$5 = "10 mx.stsgood.test."; n++ }
		{ print }
		END { if (n != 1) { print "sts: tampered " n " records, not 1" > "/dev/stderr"; exit 1 } }
	' "$1" >"$1.sts" && mv "$1.sts" "$1"
}

# Called by _lab_write_env: the variables, exported and in $LAB_DIR/env.
_lab_sts_env() {
	local v
	LAB_STS_WWW=$LAB_DIR/https/www
	LAB_STS_ACCESS_LOG=$LAB_DIR/https/access.log
	LAB_STS_RESOLVER=inet:127.0.0.1:$LAB_STS_RESOLVER_PORT
	LAB_STS_RESOLVER_LOG=$LAB_DIR/sts-resolver/daemon.log
	LAB_STS_BENCH_LIST=$LAB_DIR/stsbench/domains
	export LAB_STS_HTTPS_ADDR LAB_STS_WWW LAB_STS_ACCESS_LOG LAB_STS_RESOLVER LAB_STS_RESOLVER_LOG \
		LAB_STS_BENCH_LIST
	for v in LAB_STS_HTTPS_ADDR LAB_STS_WWW LAB_STS_ACCESS_LOG LAB_STS_RESOLVER LAB_STS_RESOLVER_LOG \
		LAB_STS_BENCH_LIST; do
		printf '%s=%q\n' "$v" "${!v}"
	done >>"$LAB_DIR/env"
}

# lab_sts_set [--max-age SECONDS] DOMAIN ID MODE [MX...]: a new TXT id and
# policy for stschange.test.  Its zone is re-signed with the key it has (a few
# milliseconds: it holds five records) and NSD, on SIGHUP, reads the zone
# files whose modification time changed.  Its records' 1 s TTL bounds how
# long any cache (unbound, the daemon's libunbound) keeps the old TXT: once
# NSD serves the new one and a second has passed, nobody has the old one.
lab_sts_set() {
	local max_age=${LAB_STS_MAX_AGE:-86400}
	if [[ ${1:-} == --max-age ]]; then
		max_age=${2:-}
		shift 2
		if [[ ! $max_age =~ ^[0-9]+$ ]]; then
			diag "lab_sts_set: --max-age wants a number of seconds, not '$max_age'"
			return 1
		fi
	fi
	local dom=${1:-} id=${2:-} mode=${3:-} d=$LAB_DIR/dns key serial pid name t0
	if [[ $dom != stschange.test || -z $id || -z $mode ]]; then
		diag "lab_sts_set: usage: lab_sts_set [--max-age SECONDS] stschange.test ID MODE [MX...]" \
			"(only stschange.test's TXT can change)"
		return 1
	fi
	shift 3
	key=$(cd "$d" && echo Kstschange.test.+*.private)
	key=${key%.private}
	if [[ ! -f $d/$key.key ]]; then
		diag "lab_sts_set: no key for stschange.test in $d (did lab_up run?)"
		return 1
	fi
	serial=$(($(awk '$2 == "SOA" { print $5 }' "$d/stschange.test.zone") + 1))
	_lab_sts_change_zone "$serial" "$id" || return 1
	if ! (cd "$d" && ldns-signzone -n -t 0 \
		-i "$(date -u -d '1 hour ago' +%Y%m%d%H%M%S)" -e "$(date -u -d '30 days' +%Y%m%d%H%M%S)" \
		-f stschange.test.zone.signed.new stschange.test.zone "$key" 2>>"$d/sts-sign.log"); then
		diag "lab_sts_set: signing stschange.test failed"
		_lab_log_tail "$d/sts-sign.log"
		return 1
	fi
	# NSD compares modification times in whole seconds: a file rewritten
	# within the second of the previous load would look unchanged.  Each
	# version gets a time of its own, one second after the last.
	touch -d "@$(($(stat -c %Y "$d/stschange.test.zone.signed") + 1))" \
		"$d/stschange.test.zone.signed.new" &&
		mv "$d/stschange.test.zone.signed.new" "$d/stschange.test.zone.signed" || return 1
	LAB_STS_MAX_AGE=$max_age _lab_sts_write_policy "$dom" "$mode" "$@" || return 1
	while read -r pid name; do
		[[ $name == nsd ]] && kill -HUP "$pid"
	done <"$LAB_DIR/pids"
	t0=$(_lab_ms)
	if ! _lab_poll 5000 _lab_sts_txt_is "$LAB_NSD_ADDR" +norec "$id"; then
		diag "lab_sts_set: NSD does not serve id=$id for stschange.test"
		_lab_log_tail "$d/nsd.log"
		return 1
	fi
	if ! _lab_poll 5000 _lab_sts_txt_is "$LAB_RESOLVER_ADDR" +dnssec "$id"; then
		diag "lab_sts_set: the resolver does not give id=$id for stschange.test"
		return 1
	fi
	# Whatever a cache fetched before NSD's reload expires 1 s (the TTL)
	# after it at the latest.
	while (($(_lab_ms) < t0 + _LAB_STS_CHANGE_TTL * 1000 + 100)); do
		sleep 0.05
	done
}

# _lab_sts_txt_is SERVER DIG-OPTION ID: SERVER gives stschange.test's TXT
# with that id, or with ID -, says there is none (NXDOMAIN: the name has
# no other record); and, from the resolver, the AD bit.
_lab_sts_txt_is() {
	local out
	out=$(ip netns exec "$LAB_NETNS" dig +tries=1 +time=1 "$2" @"$1" TXT _mta-sts.stschange.test 2>/dev/null)
	if [[ $3 == - ]]; then
		[[ $out == *"status: NXDOMAIN"* && $out == *"ANSWER: 0,"* ]] || return 1
	else
		[[ $out == *"\"v=STSv1; id=$3\""* ]] || return 1
	fi
	[[ $2 != +dnssec || $out =~ $'\n;; flags:'[a-z\ ]*' ad'[\ \;] ]]
}

# ---------------------------------------------------------------- HTTPS

# _lab_sts_policy_text MODE [MX...]: a policy body, CRLF line ends.
_lab_sts_policy_text() {
	local mode=$1 mx
	shift
	printf 'version: STSv1\r\nmode: %s\r\n' "$mode"
	for mx in "$@"; do
		printf 'mx: %s\r\n' "$mx"
	done
	printf 'max_age: %s\r\n' "${LAB_STS_MAX_AGE:-86400}"
}

# _lab_sts_pad BYTES: the body on stdin, then extension lines ("x-pad-N:
# ...", which parsers keep and ignore) until it is at least BYTES long.
_lab_sts_pad() {
	awk -v want="$1" '
		{ print; n += length($0) + 1 }
		END {
			for (i = 1; n < want; i++) {
				line = sprintf("x-pad-%05d: %060d\r", i, 0)
				print line
				n += length(line) + 1
			}
		}'
}

# _lab_sts_write_policy DOMAIN MODE [MX...]: the file nginx serves, and a
# copy lab_sts_mend puts back.
_lab_sts_write_policy() {
	local dom=$1 w=$LAB_DIR/https/www/$1/.well-known
	shift
	# (lab_https_up made them, unless lab_sts_set comes first.)
	[[ -d $w && -d $LAB_DIR/https/policies ]] || mkdir -p "$w" "$LAB_DIR/https/policies" || return 1
	_lab_sts_policy_text "$@" >"$LAB_DIR/https/policies/$dom" || return 1
	_lab_sts_serve "$dom"
}

# _lab_sts_serve DOMAIN: serve the policy kept for DOMAIN, written beside
# and renamed, so that a fetch sees the old file or the new one.  (nginx
# runs as root: the files need no particular mode.)
_lab_sts_serve() {
	local w=$LAB_DIR/https/www/$1/.well-known
	cat <"$LAB_DIR/https/policies/$1" >"$w/mta-sts.txt.new" &&
		mv -f "$w/mta-sts.txt.new" "$w/mta-sts.txt"
}

lab_sts_break() {
	local f=${LAB_DIR:-}/https/www/${1:-}/.well-known/mta-sts.txt
	if [[ ! -f $f ]]; then
		diag "lab_sts_break: no policy served for '${1:-}' ($f)"
		return 1
	fi
	rm -f "$f"
}

lab_sts_mend() {
	local dom=${1:-}
	if [[ ! -f ${LAB_DIR:-}/https/policies/$dom ]]; then
		diag "lab_sts_mend: lab_https_up wrote no policy for '$dom'"
		return 1
	fi
	_lab_sts_serve "$dom"
}

# _lab_sts_server DOMAIN SERVE: one nginx server block.
_lab_sts_server() {
	local dom=$1 serve=$2 h=$LAB_DIR/https t=$LAB_DIR/tls
	local host=mta-sts.$1
	printf '    server {\n'
	printf '        listen %s:443 ssl;\n' "$LAB_STS_HTTPS_ADDR"
	printf '        server_name %s;\n' "$host"
	printf '        ssl_certificate %s;\n' "$t/$host.pem"
	printf '        ssl_certificate_key %s;\n' "$t/$host.key"
	printf '        root %s;\n' "$h/www/$dom"
	printf '        location / { return 404; }\n'
	printf '        location = /.well-known/mta-sts.txt {\n'
	case $serve in
	redirect)
		printf '            return 301 https://mta-sts.stsgood.test/.well-known/mta-sts.txt;\n' ;;
	html)
		printf '            default_type text/html;\n' ;;
	slow)
		printf '            limit_rate %s;\n' "${LAB_STS_SLOW_RATE:-100}" ;;
	esac
	printf '        }\n'
	printf '    }\n'
}

_lab_sts_write_nginx() {
	local h=$LAB_DIR/https entry words
	mkdir -p "$h/tmp" || return 1
	cat >"$h/nginx.conf" <<-EOF
		# nginx for the tlspolicyd lab's MTA-STS policies (tests/lab/sts.sh)
		# One process, in the foreground: lab_https_up records its pid, and
		# with no worker processes to rename, its environment (TLSP_SUITE)
		# stays readable for tests/leftovers.sh.
		daemon off;
		master_process off;
		pid $h/nginx.pid;
		error_log $h/error.log info;
		events {
		    worker_connections 512;
		}
		http {
		    # Every temporary path of its own: no lab touches /var/lib/nginx.
		    client_body_temp_path $h/tmp/body;
		    proxy_temp_path $h/tmp/proxy;
		    fastcgi_temp_path $h/tmp/fastcgi;
		    uwsgi_temp_path $h/tmp/uwsgi;
		    scgi_temp_path $h/tmp/scgi;
		    log_format lab '\$ssl_server_name "\$request" \$status \$body_bytes_sent '
		                   '"\$sent_http_content_type" \$request_time';
		    access_log $h/access.log lab;
		    # No extension-based types: every policy is text/plain unless
		    # its location says otherwise.
		    types { }
		    default_type text/plain;
		    server_tokens off;
		    # The benchmark's thousands of names (LAB_STS_BENCH_DOMAINS) in
		    # one hash; the defaults hold a few hundred.
		    server_names_hash_max_size 16384;
		    server_names_hash_bucket_size 128;
		    # A name nobody configured gets no certificate at all.
		    server {
		        listen $LAB_STS_HTTPS_ADDR:443 ssl default_server;
		        ssl_reject_handshake on;
		    }
	EOF
	for entry in "${_LAB_STS_DOMAINS[@]}"; do
		read -ra words <<<"$entry"
		_lab_sts_server "${words[0]}" "${words[2]}"
	done >>"$h/nginx.conf"
	if _lab_sts_bench_enabled; then
		_lab_sts_bench_servers >>"$h/nginx.conf" || return 1
	fi
	echo "}" >>"$h/nginx.conf"
}

# The benchmark's groups of names, one a line: "GROUP NAME..." (the
# mta-sts host names, _LAB_STS_BENCH_GROUP a group).
_lab_sts_bench_groups() {
	awk -v g="$_LAB_STS_BENCH_GROUP" '
		{ line = line " mta-sts." $1 }
		NR % g == 0 { print int(NR / g) line; line = "" }
		END { if (line != "") print int(NR / g) + 1 line }
	' "$LAB_DIR/stsbench/domains"
}

# The benchmark's server blocks: one per group, its certificate naming
# every host of the group, every host the same policy file.
_lab_sts_bench_servers() {
	local h=$LAB_DIR/https t=$LAB_DIR/tls group names
	while read -r group names; do
		printf '    server {\n'
		printf '        listen %s:443 ssl;\n' "$LAB_STS_HTTPS_ADDR"
		printf '        server_name %s;\n' "$names"
		printf '        ssl_certificate %s;\n' "$t/stsbench-$group.pem"
		printf '        ssl_certificate_key %s;\n' "$t/stsbench-$group.key"
		printf '        root %s;\n' "$h/stsbench"
		printf '        location / { return 404; }\n'
		printf '        location = /.well-known/mta-sts.txt { }\n'
		printf '    }\n'
	done < <(_lab_sts_bench_groups)
}

# _lab_sts_bench_cert GROUP NAME...: $LAB_DIR/tls/stsbench-GROUP.{key,crt,pem},
# a lab CA certificate for every NAME (the first is its subject CN).
_lab_sts_bench_cert() {
	local d=$LAB_DIR/tls group=$1 san
	shift
	san=$(printf 'DNS:%s,' "$@")
	openssl req -x509 -config "$d/openssl.cnf" -extensions ee_ext \
		-addext "subjectAltName=${san%,}" \
		-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/stsbench-$group.key" -out "$d/stsbench-$group.crt" -subj "/CN=$1" \
		-CA "$d/ca.crt" -CAkey "$d/ca.key" -days 30 \
		2>>"$d/openssl.log" || return 1
	(umask 077 && cat "$d/stsbench-$group.key" "$d/stsbench-$group.crt" "$d/ca.crt" \
		>"$d/stsbench-$group.pem")
}

# _lab_sts_stop NAME: stop the processes recorded as NAME (a second
# lab_https_up or lab_sts_resolver_up replaces the first).
_lab_sts_stop() {
	local pid name
	while read -r pid name; do
		[[ $name == "$1" ]] || continue
		_lab_stop_pid "$pid"
		_lab_forget_pid "$pid"
	done < <(cat "$LAB_DIR/pids")
}

# lab_https_up: a certificate per mta-sts host (the failure cases' as their
# SERVE column says), the policy files as sts.sh's table has them, and
# nginx, in the namespace (restarted if it ran).
lab_https_up() {
	local entry words dom serve mode h=$LAB_DIR/https pid dirs=() jobs=() failed=0
	_lab_sts_stop nginx
	for entry in "${_LAB_STS_DOMAINS[@]}"; do
		read -ra words <<<"$entry"
		dirs+=("$h/www/${words[0]}/.well-known")
	done
	mkdir -p "$h/policies" "${dirs[@]}" || return 1
	# The certificates at once: a fork and exec each, which on a busy
	# machine costs more waiting than computing.
	for entry in "${_LAB_STS_DOMAINS[@]}"; do
		read -ra words <<<"$entry"
		dom=${words[0]} serve=${words[2]}
		case $serve in
		certname) _lab_make_cert "mta-sts.$dom" mta-sts.other.example & ;;
		untrusted) _lab_make_cert "mta-sts.$dom" "mta-sts.$dom" self-signed & ;;
		*) _lab_make_cert "mta-sts.$dom" "mta-sts.$dom" & ;;
		esac
		jobs+=($!)
	done
	if _lab_sts_bench_enabled; then
		local group names
		while read -r group names; do
			# shellcheck disable=SC2086 # the names, one word each
			_lab_sts_bench_cert "$group" $names &
			jobs+=($!)
		done < <(_lab_sts_bench_groups)
	fi
	for pid in "${jobs[@]}"; do
		wait "$pid" || failed=1
	done
	if ((failed)); then
		diag "lab_https_up: certificates for the mta-sts hosts failed"
		_lab_log_tail "$LAB_DIR/tls/openssl.log"
		return 1
	fi
	for entry in "${_LAB_STS_DOMAINS[@]}"; do
		read -ra words <<<"$entry"
		dom=${words[0]} serve=${words[2]} mode=${words[4]}
		case $serve in
		missing | redirect) ;;
		big)
			_lab_sts_policy_text "$mode" "${words[@]:5}" | _lab_sts_pad "$_LAB_STS_BIG_BYTES" \
				>"$h/www/$dom/.well-known/mta-sts.txt" || return 1
			;;
		slow)
			_lab_sts_policy_text "$mode" "${words[@]:5}" | _lab_sts_pad "$_LAB_STS_SLOW_BYTES" \
				>"$h/www/$dom/.well-known/mta-sts.txt" || return 1
			;;
		*)
			_lab_sts_write_policy "$dom" "$mode" "${words[@]:5}" || return 1
			;;
		esac
	done
	if _lab_sts_bench_enabled; then
		mkdir -p "$h/stsbench/.well-known" &&
			_lab_sts_policy_text enforce mx.stsgood.test >"$h/stsbench/.well-known/mta-sts.txt" ||
			return 1
	fi
	_lab_sts_write_nginx || return 1
	# Not through lab_exec: $! must be nginx itself (see lab_up).
	ip netns exec "$LAB_NETNS" nginx -p "$h" -c "$h/nginx.conf" -e "$h/error.log" \
		</dev/null >>"$h/nginx.out" 2>&1 &
	pid=$!
	lab_record_pid "$pid" nginx
	if ! _lab_poll 5000 _lab_alive_and "$pid" _lab_listening "$LAB_STS_HTTPS_ADDR:443"; then
		diag "lab_https_up: nginx does not listen on $LAB_STS_HTTPS_ADDR:443 (or died)"
		_lab_log_tail "$h/error.log"
		_lab_log_tail "$h/nginx.out"
		return 1
	fi
}

# ---------------------------------------------------------------- resolver

# lab_sts_resolver_up: mta-sts-daemon in the namespace, its config in
# $LAB_DIR/sts-resolver.  It resolves through the namespace's resolv.conf
# (the lab's unbound) and trusts the lab CA alone: Python's ssl module
# takes the default verify paths from SSL_CERT_FILE and SSL_CERT_DIR, which
# replace the system's.  PYTHONHASHSEED fixes the order of its match= list
# (it joins a Python set).  cache_grace 1: it asks for the TXT again on any
# lookup more than a second after the last, so lab_sts_set shows at once;
# shutdown_timeout 1: SIGTERM stops it in about a second (the default
# waits 20 s for clients).
lab_sts_resolver_up() {
	local r=$LAB_DIR/sts-resolver pid
	# Again: a new process, its cache empty.
	_lab_sts_stop mta-sts-daemon
	mkdir -p "$r/certs" || return 1
	cat >"$r/mta-sts-daemon.yml" <<-EOF
		# postfix-mta-sts-resolver for the tlspolicyd lab (tests/lab/sts.sh)
		host: 127.0.0.1
		port: $LAB_STS_RESOLVER_PORT
		# (1.1.2 cannot start with false: "cannot access local variable
		# 'opts'"; each lab has its own namespace anyway)
		reuse_port: true
		shutdown_timeout: 1
		cache_grace: 1
		cache:
		  type: internal
		  options:
		    cache_size: 10000
		default_zone:
		  strict_testing: false
		  timeout: 4
		  require_sni: true
	EOF
	ip netns exec "$LAB_NETNS" env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY \
		-u all_proxy -u ALL_PROXY -u no_proxy -u NO_PROXY \
		SSL_CERT_FILE="$LAB_CA" SSL_CERT_DIR="$r/certs" PYTHONHASHSEED=0 \
		mta-sts-daemon -v "${LAB_STS_RESOLVER_VERBOSITY:-debug}" -c "$r/mta-sts-daemon.yml" \
		-l "$LAB_STS_RESOLVER_LOG" \
		</dev/null >>"$r/daemon.out" 2>&1 &
	pid=$!
	lab_record_pid "$pid" mta-sts-daemon
	if ! _lab_poll 10000 _lab_alive_and "$pid" _lab_listening "127.0.0.1:$LAB_STS_RESOLVER_PORT"; then
		diag "lab_sts_resolver_up: mta-sts-daemon does not listen on 127.0.0.1:$LAB_STS_RESOLVER_PORT (or died)"
		_lab_log_tail "$LAB_STS_RESOLVER_LOG"
		_lab_log_tail "$r/daemon.out"
		return 1
	fi
}
