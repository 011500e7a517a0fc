# tap.sh - minimal TAP producer for bash test scripts.  Source it.
#
# Output follows TAP 13 as automake's tap-driver.sh reads it:
#   ok N - desc / not ok N - desc / ok N # SKIP reason / 1..N / 1..0 # SKIP why
#   # comment lines (diag) / Bail out! reason
#
#   tap_plan N            print the plan first (or call tap_done at the end)
#   ok STATUS "desc"      pass when STATUS (an exit status) is 0: `cmd; ok $? "desc"`
#   ok "desc" CMD...      run CMD, pass when it exits 0
#   is GOT WANT "desc"    string equality; prints got/want on failure
#   isnt GOT UNWANTED "desc"
#   like GOT ERE "desc"   bash [[ =~ ]] match; prints got/regex on failure
#   unlike GOT ERE "desc"
#   skip "reason" [N]     N (default 1) skipped tests
#   diag MSG...           "# MSG" on stdout, one line per input line
#   tap_skip_all "why"    "1..0 # SKIP why", exit 0 (only before any test)
#   bail_out "why"        "Bail out! why", exit 1
#   tap_done              print the plan if none was given; return 1 if any
#                         test failed or the count differs from the plan
#
# Do not use `set -e` in test scripts: a failing check must be reported, not
# end the script.  Everything here is `set -u` clean.

TAP_N=0          # tests run so far
TAP_FAILED=0     # tests failed so far
TAP_PLANNED=''   # the plan, once printed

tap_plan() {
	TAP_PLANNED=$1
	printf '1..%s\n' "$1"
}

diag() {
	local line
	# One "# " per line, so multi-line output (a log tail) stays TAP.
	while IFS= read -r line || [[ -n $line ]]; do
		printf '# %s\n' "$line"
	done <<<"$*"
}

# _tap_result STATUS DESC: the one place that numbers and prints a result.
_tap_result() {
	local status=$1 desc=$2
	TAP_N=$((TAP_N + 1))
	# A '#' in a description would start a TAP directive; escape it.
	desc=${desc//#/\\#}
	if [[ $status == 0 ]]; then
		printf 'ok %d - %s\n' "$TAP_N" "$desc"
		return 0
	fi
	TAP_FAILED=$((TAP_FAILED + 1))
	printf 'not ok %d - %s\n' "$TAP_N" "$desc"
	return 1
}

ok() {
	if [[ $# -eq 2 && $1 =~ ^[0-9]+$ ]]; then
		_tap_result "$1" "$2"
		return
	fi
	local desc=$1 status=0
	shift
	"$@" || status=$?
	_tap_result "$status" "$desc"
}

is() {
	local got=$1 want=$2 desc=${3:-}
	if [[ $got == "$want" ]]; then
		_tap_result 0 "$desc"
		return 0
	fi
	_tap_result 1 "$desc"
	diag "     got: '$got'"
	diag "    want: '$want'"
	return 1
}

isnt() {
	local got=$1 unwanted=$2 desc=${3:-}
	if [[ $got != "$unwanted" ]]; then
		_tap_result 0 "$desc"
		return 0
	fi
	_tap_result 1 "$desc"
	diag "     got: '$got'"
	diag "expected anything else"
	return 1
}

like() {
	local got=$1 re=$2 desc=${3:-}
	if [[ $got =~ $re ]]; then
		_tap_result 0 "$desc"
		return 0
	fi
	_tap_result 1 "$desc"
	diag "     got: '$got'"
	diag "   regex: /$re/"
	return 1
}

unlike() {
	local got=$1 re=$2 desc=${3:-}
	if ! [[ $got =~ $re ]]; then
		_tap_result 0 "$desc"
		return 0
	fi
	_tap_result 1 "$desc"
	diag "     got: '$got'"
	diag " matches: /$re/"
	return 1
}

skip() {
	local reason=$1 n=${2:-1} i
	for ((i = 0; i < n; i++)); do
		TAP_N=$((TAP_N + 1))
		printf 'ok %d # SKIP %s\n' "$TAP_N" "$reason"
	done
}

tap_skip_all() {
	printf '1..0 # SKIP %s\n' "$1"
	exit 0
}

bail_out() {
	printf 'Bail out! %s\n' "$1"
	exit 1
}

tap_done() {
	if [[ -z $TAP_PLANNED ]]; then
		printf '1..%d\n' "$TAP_N"
	elif [[ $TAP_PLANNED != "$TAP_N" ]]; then
		diag "planned $TAP_PLANNED tests but ran $TAP_N"
		return 1
	fi
	if ((TAP_FAILED > 0)); then
		diag "failed $TAP_FAILED of $TAP_N tests"
		return 1
	fi
	return 0
}
