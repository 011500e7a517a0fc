# survey.sh - the lab's population for `tlspolicy survey` (t-survey.sh).
# Sourced by lab.sh; nothing here runs unless LAB_SURVEY_DOMAINS is set
# above 0 before lab_up, so every other test's lab_up stays as fast.
#
#   LAB_SURVEY_DOMAINS=3000 lab_start     (or lab_survey_start 3000)
#
# builds, from how it made them (never by running the survey):
#
#   $LAB_DIR/survey/list      the domain list, one a line: every distinct
#                             domain once, in a shuffled order, plus a few
#                             repeats in other spellings (upper case,
#                             trailing dot, "rank,domain") that name a
#                             domain already listed
#   $LAB_DIR/survey/expected  the summary the survey must give, "KEY VALUE"
#                             lines (the summary's definitions are those of
#                             the survey's JSONL record, tlspolicy(1)):
#                               domains N, with_mx N, null_mx N, nxdomain N,
#                               dns_failures N, signed_mx N, dane_all N,
#                               tlsa_mismatch N, and what follows from
#                               them: mx_failed N (the DNS failures are all
#                               failed MX lookups), mx_hosts N (distinct
#                               names), mx_addresses N (distinct (host,
#                               address, port)), providers N,
#                               domain_class CLASS N   (by domain)
#                               host_class CLASS N     (by (host, addr, port))
#                               provider NAME N        (domains)
#                               provider_class NAME CLASS N
#                               provider_rank I NAME   (1 = most domains)
#   $LAB_DIR/survey/pairs     "HOST ADDRESS PORT CLASS" for every distinct
#                             (host, address, port) some listed domain uses:
#                             what the survey must probe, once each
#   $LAB_DIR/survey/hosts     the MX host table: NAME ZONE ADDRS TLSA CLASSES
#                             PROVIDER ROLE (see _lab_survey_hosts)
#   $LAB_DIR/survey/domains   "DOMAIN TYPE HOST..." for every domain: what
#                             it was built as (for a test's diagnostics)
#   $LAB_DIR/survey/mismatch  the domains with a TLSA mismatch, sorted
#
# The population, over LAB_SURVEY_HOSTS MX host names (default 36), all on
# port 25 of the lab's existing listeners (lab_mail_up must run):
#
#   address     server                 TLSA (signed zones)  class
#   127.0.1.1   mx1.good.test's cert   3 1 1 of it           dane-verified
#   127.0.1.2   self-signed            3 1 1 of no key       dane-mismatch
#   127.0.1.3   mx.notlsa.test         none                  verified (that name only)
#   127.0.1.4   mx.insecure.test       unsigned, unused      verified (that name only)
#   127.0.1.8   mx.submit.test         none on port 25       verified (that name only)
#   127.0.1.10  self-signed            none                  untrusted
#   127.0.1.11  lab CA, other.example  none                  trusted
#   127.0.1.12  no STARTTLS            none                  plaintext
#   127.0.1.13  fakesmtp tlsfail       none                  tls-failed
#   127.0.1.14  fakesmtp silent        none                  unreachable
#   127.0.1.16  fakesmtp anon          none                  anonymous
#
# Each address gives one class whatever host name points at it (the
# verified ones are reached under their certificate's name only), so the
# expected classes do not depend on how the survey groups its probes.  The
# host names: mx.notlsa.test, mx.submit.test, mx.insecure.test as they are;
# mxJ.providerP.test (P = 1..5, in test., signed; registrable domain
# providerP.test, .test being unknown to the public suffix list), one of
# which has two addresses (127.0.1.10 and .14) and is only ever a second
# MX; and mxJ.insecure.test (unsigned zone).  The domains, LAB_SURVEY_DOMAINS
# in all (a MINSTD generator seeded with LAB_SURVEY_SEED picks each):
#
#   dN.survey.test      signed child zone survey.test. (DS in test.): one
#                       MX host, or two of different classes (preferences
#                       10 and 20)
#   nullN.survey.test   null MX
#   uN.insecure.test    the unsigned zone: one or two MX hosts, signed or not
#   nxN.survey.test, nxN.insecure.test   NXDOMAIN (in the list only)
#   bogusmx.test, expiredmx.test         the lab's bogus MX RRsets: the
#                       survey's DNS failures (result temp)
#
# Host popularity is skewed (the first hosts serve most domains) so the
# providers differ in size.

LAB_SURVEY_DOMAINS=${LAB_SURVEY_DOMAINS:-0}
LAB_SURVEY_HOSTS=${LAB_SURVEY_HOSTS:-36}
LAB_SURVEY_SEED=${LAB_SURVEY_SEED:-7}

# lab_survey_start N [HOSTS]: lab_start with the survey population.
lab_survey_start() {
	LAB_SURVEY_DOMAINS=$1
	LAB_SURVEY_HOSTS=${2:-$LAB_SURVEY_HOSTS}
	lab_start
}

_lab_survey_enabled() {
	((${LAB_SURVEY_DOMAINS:-0} > 0))
}

# The MX host table, one line per host:
#   NAME ZONE ADDRS TLSA CLASSES PROVIDER ROLE
# ZONE signed|insecure|existing (records already in the lab's zones);
# ADDRS and CLASSES comma-separated, in the same order; TLSA dane|wrong|none;
# ROLE any|second (only ever a domain's second MX: its address order is
# the resolver's, so it must not decide a domain's class).
_lab_survey_hosts() {
	local total=$1 i j=0 k=0 kind p
	# Signed hosts take providerP.test in turn; every fourth kind is a
	# host of the unsigned zone.
	local kinds=(dane dane mismatch untrusted ins-trusted dane trusted plaintext
		ins-untrusted anonymous dane tlsfail unreachable ins-plaintext mismatch)
	echo "mx.notlsa.test existing 127.0.1.3 none verified notlsa.test any"
	echo "mx.submit.test existing 127.0.1.8 none verified submit.test any"
	echo "mx.insecure.test existing 127.0.1.4 none verified insecure.test any"
	echo "mx0.provider4.test signed 127.0.1.10,127.0.1.14 none untrusted,unreachable provider4.test second"
	for ((i = 0; i < total - 4; i++)); do
		kind=${kinds[i % ${#kinds[@]}]}
		local addr tlsa=none class zone=signed
		case ${kind#ins-} in
		dane) addr=127.0.1.1 tlsa=dane class=dane-verified ;;
		mismatch) addr=127.0.1.2 tlsa=wrong class=dane-mismatch ;;
		untrusted) addr=127.0.1.10 class=untrusted ;;
		trusted) addr=127.0.1.11 class=trusted ;;
		plaintext) addr=127.0.1.12 class=plaintext ;;
		tlsfail) addr=127.0.1.13 class=tls-failed ;;
		unreachable) addr=127.0.1.14 class=unreachable ;;
		anonymous) addr=127.0.1.16 class=anonymous ;;
		esac
		if [[ $kind == ins-* ]]; then
			k=$((k + 1))
			echo "mx$k.insecure.test insecure $addr none $class insecure.test any"
		else
			j=$((j + 1))
			p=$(((j - 1) % 5 + 1))
			echo "mx$j.provider$p.test $zone $addr $tlsa $class provider$p.test any"
		fi
	done
}

# _lab_survey_zones MX1_DIGEST WRONG_DIGEST: called by _lab_write_zones.
# Writes the host table, survey.test.zone, the list and the expected
# summary; appends the signed hosts and the delegation to test.zone and
# the unsigned hosts and domains to insecure.test.zone.
_lab_survey_zones() {
	local d=$LAB_DIR/dns s=$LAB_DIR/survey name zone addrs tlsa classes prov role a
	mkdir -p "$s" || return 1
	if ((LAB_SURVEY_HOSTS < 17)); then
		diag "LAB_SURVEY_HOSTS must be at least 17 (every class), not $LAB_SURVEY_HOSTS"
		return 1
	fi
	_lab_survey_hosts "$LAB_SURVEY_HOSTS" >"$s/hosts" || return 1
	{
		echo
		echo "; tlspolicy survey's MX hosts (tests/lab/survey.sh)"
		echo "survey NS ns.test."
		while read -r name zone addrs tlsa classes prov role; do
			[[ $zone == signed ]] || continue
			for a in ${addrs//,/ }; do
				echo "$name. A $a"
			done
			case $tlsa in
			dane) echo "_25._tcp.$name. TLSA 3 1 1 $1" ;;
			wrong) echo "_25._tcp.$name. TLSA 3 1 1 $2" ;;
			esac
		done <"$s/hosts"
	} >>"$d/test.zone"
	{
		echo
		echo "; tlspolicy survey's unsigned hosts (tests/lab/survey.sh)"
		while read -r name zone addrs tlsa classes prov role; do
			[[ $zone == insecure ]] || continue
			for a in ${addrs//,/ }; do
				echo "$name. A $a"
			done
		done <"$s/hosts"
	} >>"$d/insecure.test.zone"
	cat >"$d/survey.test.zone" <<-EOF
		\$ORIGIN survey.test.
		\$TTL 300
		@       SOA ns.test. hostmaster.test. 1 3600 600 86400 300
		@       NS  ns.test.
	EOF
	_lab_survey_generate "$s/hosts" "$d/survey.test.zone" "$d/insecure.test.zone" \
		"$s/list" "$s/expected" "$s/pairs" "$s/domains" "$s/mismatch"
}

# The population itself and its expected summary, in one pass.
_lab_survey_generate() {
	awk -v n="$LAB_SURVEY_DOMAINS" -v seed="$LAB_SURVEY_SEED" \
		-v signedzone="$2" -v inszone="$3" -v listfile="$4" -v expfile="$5" \
		-v pairfile="$6" -v domfile="$7" -v mismfile="$8" '
	function rnd(m) {       # MINSTD: exact in doubles; 0 .. m-1
		state = (state * 48271) % 2147483647
		return state % m
	}
	# A host index, skewed: weight nh - i for host i (0-based).
	function pick(   r, i, acc) {
		r = rnd(wsum)
		acc = 0
		for (i = 0; i < nh; i++) {
			acc += nh - i
			if (r < acc)
				return i
		}
		return nh - 1
	}
	function pick_first(   h) {
		do h = pick(); while (role[h] == "second")
		return h
	}
	function first_class(h) {
		split(cls[h], c, ",")
		return c[1]
	}
	# A domain with MX hosts: the counts that follow from its hosts.
	# secure: its MX RRset is signed.
	function domain_with_hosts(dom, type, secure, h1, h2,   list, nlist, i, h, k, dane, mism, p, seenp, c, a, cl) {
		nlist = 1; list[1] = h1
		if (h2 != "") { nlist = 2; list[2] = h2 }
		with_mx++
		if (secure) signed_mx++
		dane = secure
		mism = 0
		split("", seenp)
		line = dom " " type
		for (i = 1; i <= nlist; i++) {
			h = list[i]
			line = line " " name[h]
			used[h] = 1
			# Host verdict dane: signed host with TLSA (any digest).
			if (!(zone[h] != "insecure" && tlsa[h] != "none")) dane = 0
			split(cls[h], cl, ",")
			for (k in cl) if (cl[k] == "dane-mismatch") mism = 1
			p = prov[h]
			if (!(p in seenp)) { seenp[p] = 1; provider[p]++; pc[p, first_class(list[1])]++ }
		}
		if (dane) dane_all++
		if (mism) { tlsa_mismatch++; print dom > mismfile }
		domain_class[first_class(list[1])]++
		print line > domfile
	}
	function no_hosts(dom, type) {
		domain_class["none"]++
		print dom " " type > domfile
	}
	BEGIN {
		state = seed % 2147483647
		if (state <= 0) state = 1
		nh = 0
	}
	{
		name[nh] = $1; zone[nh] = $2; addrs[nh] = $3; tlsa[nh] = $4
		cls[nh] = $5; prov[nh] = $6; role[nh] = $7
		nh++
	}
	END {
		wsum = nh * (nh + 1) / 2
		print "" >> signedzone
		print "; domains of the survey (tests/lab/survey.sh)" >> inszone
		# The DNS failures of the lab zone count among the n domains.
		nd = 0
		dom_list[++nd] = "bogusmx.test"; no_hosts("bogusmx.test", "dns-failure"); dns_failures++
		dom_list[++nd] = "expiredmx.test"; no_hosts("expiredmx.test", "dns-failure"); dns_failures++
		for (i = 1; nd < n; i++) {
			r = rnd(100)
			if (r < 3) {
				dom = "null" i ".survey.test"
				print "null" i " MX 0 ." >> signedzone
				null_mx++
				no_hosts(dom, "null-mx")
			} else if (r < 7) {
				dom = "nx" i (r % 2 ? ".survey.test" : ".insecure.test")
				nxdomain++
				no_hosts(dom, "nxdomain")
			} else if (r < 22) {
				dom = "u" i ".insecure.test"
				h1 = pick_first()
				h2 = ""
				if (rnd(10) < 3) {
					do h2 = pick(); while (first_class(h2) == first_class(h1))
				}
				print "u" i " MX 10 " name[h1] "." >> inszone
				if (h2 != "") print "u" i " MX 20 " name[h2] "." >> inszone
				domain_with_hosts(dom, "unsigned", 0, h1, h2)
			} else {
				dom = "d" i ".survey.test"
				h1 = pick_first()
				h2 = ""
				if (r < 40) {
					do h2 = pick(); while (first_class(h2) == first_class(h1))
				}
				print "d" i " MX 10 " name[h1] "." >> signedzone
				if (h2 != "") print "d" i " MX 20 " name[h2] "." >> signedzone
				domain_with_hosts(dom, h2 == "" ? "signed" : "signed-two", 1, h1, h2)
			}
			dom_list[++nd] = dom
		}
		# Shuffled (Fisher-Yates), so no kind of domain comes in a run.
		for (i = nd; i > 1; i--) {
			j = rnd(i) + 1
			t = dom_list[i]; dom_list[i] = dom_list[j]; dom_list[j] = t
		}
		for (i = 1; i <= nd; i++) {
			print dom_list[i] > listfile
			# A few repeats in other spellings, none of them new.
			if (i == 10) print toupper(dom_list[3]) "." > listfile
			if (i == 20) print "  42," dom_list[5] > listfile
			if (i == 30) print dom_list[7] > listfile
		}
		for (h = 0; h < nh; h++) {
			if (!(h in used)) continue
			mx_hosts++
			na = split(addrs[h], a, ",")
			split(cls[h], c, ",")
			for (k = 1; k <= na; k++) {
				print name[h], a[k], 25, c[k] > pairfile
				host_class[c[k]]++
				mx_addresses++
			}
		}
		printf "domains %d\nwith_mx %d\nnull_mx %d\nnxdomain %d\ndns_failures %d\n", \
			nd, with_mx, null_mx, nxdomain, dns_failures > expfile
		printf "signed_mx %d\ndane_all %d\ntlsa_mismatch %d\n", signed_mx, dane_all, tlsa_mismatch > expfile
		# Not among the counts of the summary, but what follows from them.
		printf "mx_failed %d\nmx_hosts %d\nmx_addresses %d\n", dns_failures, mx_hosts, mx_addresses > expfile
		for (c1 in domain_class) print "domain_class", c1, domain_class[c1] > expfile
		for (c1 in host_class) print "host_class", c1, host_class[c1] > expfile
		for (p in provider) {
			print "provider", p, provider[p] > expfile
			np++; pname[np] = p
		}
		print "providers", np > expfile
		for (k in pc) {
			split(k, kk, SUBSEP)
			print "provider_class", kk[1], kk[2], pc[k] > expfile
		}
		# Ranked by domains, descending, then by name (insertion sort).
		for (i = 2; i <= np; i++) {
			t = pname[i]
			for (j = i - 1; j >= 1 && (provider[pname[j]] < provider[t] || \
			    (provider[pname[j]] == provider[t] && pname[j] > t)); j--)
				pname[j + 1] = pname[j]
			pname[j + 1] = t
		}
		for (i = 1; i <= np && i <= 20; i++)
			print "provider_rank", i, pname[i] > expfile
	}' "$1" || return 1
	# Stable order for diff.
	touch "$8" && LC_ALL=C sort -o "$5" "$5" && LC_ALL=C sort -o "$6" "$6" && LC_ALL=C sort -o "$8" "$8"
}
