#!/usr/bin/env bash
# check-leftovers.sh - tests/leftovers.sh itself, on a suite of its own:
# it finds a file left in the suite's TMPDIR, a process that carries the
# suite's marker and a namespace under its prefix (as root), names each,
# and passes when nothing is left; what is not the suite's (a file another
# program writes to /tmp, a process of another suite) never fails it.
#
# Run by `make check` (TAP, with top_srcdir set), or by hand:
# tests/check-leftovers.sh
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$here/..}
source "$top_srcdir/tests/lab/tap.sh"
L=$top_srcdir/tests/leftovers.sh

setup=$("$L" begin) || bail_out "leftovers.sh begin failed"
# Its values only, not exported: this script is not one of the suite's
# processes, and neither are the ones it starts unless it says so.
dir=$(eval "$setup"; echo "$TMPDIR")
prefix=$(eval "$setup"; echo "$LAB_NETNS_PREFIX")
id=$(eval "$setup"; echo "$TLSP_SUITE")
pids=() outside=
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	[[ -z $outside ]] || rm -f "$outside"
	[[ $(id -u) != 0 ]] || ip netns delete "${prefix}selftest" 2>/dev/null
	[[ $dir != /tmp/tlsp-suite.* ]] || rm -rf "$dir"
}
trap cleanup EXIT

check() {	# runs leftovers.sh check for the suite; its output in $out
	out=$(TMPDIR=$dir LAB_NETNS_PREFIX=$prefix TLSP_SUITE=$id "$L" check)
}

like "$dir" '^/tmp/tlsp-suite\.[A-Za-z0-9]+$' "begin makes a TMPDIR of the suite's own"
is "$(stat -c %a "$dir")" 1777 "which anyone may write, as /tmp (daemons drop their privileges)"
is "$prefix" "tlsplab-$id-" "the lab's namespaces of the suite start with tlsplab-ID-"

# Another program writes /tmp meanwhile: none of the suite's business.
outside=$(mktemp /tmp/tlsp-unrelated.XXXXXX)
TLSP_SUITE=not-$id sleep 60 &
pids+=($!)
check
ok $? "nothing of the suite left: check passes (a file in /tmp, another suite's process)"
like "$out" $'\n3 passed, 0 failed, 0 skipped$' "three checks, the summary ./dev test counts"
ok "and removes the TMPDIR, empty" test ! -e "$dir"
mkdir -m 1777 "$dir" || bail_out "cannot make $dir again"

# A file left in the suite's TMPDIR.
mkdir "$dir/tlsplab.left" && touch "$dir/stray"
check
status=$?
isnt "$status" 0 "a file left in TMPDIR fails check"
like "$out" "not ok 1 - nothing left in the suite's TMPDIR[^"$'\n'"]*"$'\n#   stray\n#   tlsplab.left\n' \
	"and names what is left"
like "$out" "# kept for a look: $dir" "the TMPDIR is kept for a look"
rm -rf "${dir:?}/tlsplab.left" "${dir:?}/stray"

# A process the suite started and did not stop, whatever its name: one
# that outlived the shell that started it, as a server a test left does.
left=$( (TLSP_SUITE=$id sleep 61 </dev/null >/dev/null 2>&1 & echo $!) )
pids+=("$left")
check
status=$?
isnt "$status" 0 "a process that carries the suite's marker fails check"
like "$out" "not ok 3 - no process of the suite left running; the suite left:"$'\n'"#   $left sleep 61" \
	"and names it, with its command line"
kill "$left"
for ((i = 0; i < 100; i++)); do	# not our child: wait for it to go
	[[ -n $(tr -d '\0' <"/proc/$left/cmdline" 2>/dev/null) ]] || break
	sleep 0.02
done

# A namespace under the suite's prefix.
if [[ $(id -u) == 0 ]] && ip netns add "${prefix}selftest" 2>/dev/null; then
	check
	isnt $? 0 "a network namespace under the suite's prefix fails check"
	like "$out" "#   netns ${prefix}selftest" "and names it"
	ip netns delete "${prefix}selftest"
else
	skip "network namespaces need root" 2
fi

# A run without begin's variables: a failure, not a pass.
out=$(env -u TLSP_SUITE -u LAB_NETNS_PREFIX TMPDIR=/tmp "$L" check)
isnt $? 0 "check without begin's variables fails"
like "$out" $'\n0 passed, 1 failed, 0 skipped$' "and says so in the summary"

check
ok $? "with everything gone, check passes again"
ok "and removes the TMPDIR" test ! -e "$dir"
tap_done
