#!/usr/bin/env bash
# check-cli.sh - the tlspolicy command on arguments that never reach DNS or
# the network: names too long for DNS, in every form an administrator may
# write them, are refused with a reason, never cut short or written past a
# buffer (a 277-byte `tlsa --host` once overflowed one on the stack; the
# sanitizer run of tests/hardening.sh would report that as well).
#
# Run by `make check` (TAP, with top_srcdir and top_builddir set), or by hand
# from the source tree after a build: tests/check-cli.sh
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$here/..}
top_builddir=${top_builddir:-$top_srcdir}
source "$top_srcdir/tests/lab/tap.sh"

TLSPOLICY=$top_builddir/bin/tlspolicy
[[ -x $TLSPOLICY ]] || bail_out "$TLSPOLICY not built"

# name LEN LABEL: a name of LEN bytes, labels of LABEL bytes between dots.
name() {
	local len=$1 label=$2 out= i
	for ((i = 0; i < len; i++)); do
		if ((i % (label + 1) == label && i != len - 1)); then
			out+=.
		else
			out+=a
		fi
	done
	printf '%s' "$out"
}

# run ARGS...: tlspolicy on the built-in defaults; its exit status in RC,
# its standard error in ERR.
RC=0 ERR=
run() {
	local f
	f=$(mktemp) || bail_out "mktemp failed"
	RC=0
	"$TLSPOLICY" -c /dev/null "$@" >/dev/null 2>"$f" || RC=$?
	ERR=$(<"$f")
	rm -f "$f"
}

# spec form | name length | label length | part of the reason
cases=(
	"%s|254|63|longer than 253 bytes"
	"%s|255|63|longer than 253 bytes"
	"%s|277|63|longer than 253 bytes"
	"%s:25|277|63|longer than 253 bytes"
	"[%s]|277|63|longer than 253 bytes"
	"[%s]:25|277|63|longer than 253 bytes"
	"%s:65535|300|63|longer than 253 bytes"
	"%s|4000|63|longer than 253 bytes"
	"%s|100|64|a label longer than 63 bytes"
	"[%s]:587|100|64|a label longer than 63 bytes"
)
for c in "${cases[@]}"; do
	IFS='|' read -r form len label want <<<"$c"
	# shellcheck disable=SC2059
	printf -v spec "$form" "$(name "$len" "$label")"
	what="tlsa --host ${form//%s/<$len bytes, labels of $label>}"
	run tlsa --host "$spec"
	is "$RC" 2 "$what: exit 2"
	like "$ERR" "^tlspolicy tlsa: --host '.*': not a valid domain name: $want \\(" "$what: says why"
	unlike "$ERR" 'Sanitizer|overflow' "$what: no memory error"
done

# The same name as the destination of the commands that resolve it here.
spec=$(name 277 63)
for cmd in explain probe; do
	run "$cmd" "$spec"
	is "$RC" 2 "$cmd <277 bytes>: exit 2"
	like "$ERR" "^tlspolicy $cmd: '.*': not a valid domain name: longer than 253 bytes$" "$cmd <277 bytes>: says why"
done

# selfcheck says the same, with its own "could not check" status.
run selfcheck "$spec"
is "$RC" 3 "selfcheck <277 bytes>: exit 3"
like "$ERR" "^tlspolicy selfcheck: '.*': not a valid domain name: longer than 253 bytes$" "selfcheck <277 bytes>: says why"
run selfcheck '[mx.example.org]'
is "$RC" 3 "selfcheck of a host next hop: exit 3"
like "$ERR" "not a domain" "selfcheck of a host next hop: says why"

# What is not a host at all.
run tlsa --host '[192.0.2.1]:25'
is "$RC" 2 "tlsa --host of an IP literal: exit 2"
like "$ERR" "an IP address, not a host name" "tlsa --host of an IP literal: says why"
run tlsa --host '.example.org'
like "$ERR" "a parent-domain form, not a host name" "tlsa --host of a parent form: says why"

tap_done
