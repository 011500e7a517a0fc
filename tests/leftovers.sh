#!/usr/bin/env bash
# leftovers.sh - prove the test suite cleaned up after itself.
#
#   tests/leftovers.sh snapshot DIR   record what exists now into DIR
#   tests/leftovers.sh compare DIR    print one TAP line per kind of thing a
#                                     test could leave behind, "not ok" with
#                                     the leftovers named when it did, then
#                                     "N passed, N failed, 0 skipped"
#
# Every lab test promises to stop what it started and remove what it made,
# even when it fails; each test checks that for itself as far as it can, and
# this catches whatever slipped past one of them: files and directories in
# /tmp, network namespaces (and their /etc/netns configuration), and running
# lab servers.
set -uo pipefail

# The programs the tests start. A leftover one keeps ports, namespaces or
# files alive, and the next run on the same machine trips over it.
LAB_PROGRAMS='^(nsd|unbound|master|smtpd|tlspolicyd|tlspolicy-milt|tlspolicy|fakesmtp|dnsdelay|smload|chromium|socat)$'

record() {
	local dir=$1
	# Names only: a file the suite made and removed again does not count.
	find /tmp -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort >"$dir/tmp"
	{ ip netns list 2>/dev/null | awk '{print "netns " $1}'
	  find /etc/netns -mindepth 1 -maxdepth 1 -printf 'etc/netns %f\n' 2>/dev/null
	} | sort >"$dir/netns"
	ps -e -o pid=,comm= | awk -v re="$LAB_PROGRAMS" '$2 ~ re {print $1, $2}' | sort >"$dir/procs"
}

cmd=${1:-} dir=${2:-}
[[ -n $dir ]] || { echo "usage: $0 snapshot|compare DIR" >&2; exit 2; }

case $cmd in
snapshot)
	mkdir -p "$dir" && record "$dir"
	;;
compare)
	after=$(mktemp -d)
	record "$after"
	# The directory of this comparison is not a leftover of the suite.
	sed -i "\|^$(basename "$after")\$|d" "$after/tmp"
	n=0 passed=0 failed=0
	for kind in tmp netns procs; do
		n=$((n + 1))
		case $kind in
		tmp) what="nothing left in /tmp" ;;
		netns) what="no network namespace left" ;;
		procs) what="no lab server left running" ;;
		esac
		new=$(comm -13 "$dir/$kind" "$after/$kind")
		if [[ -z $new ]]; then
			echo "ok $n - $what"
			passed=$((passed + 1))
		else
			echo "not ok $n - $what; the suite left:"
			sed 's/^/#   /' <<<"$new" | head -n 50
			failed=$((failed + 1))
		fi
	done
	rm -rf "$after"
	echo "$passed passed, $failed failed, 0 skipped"
	;;
*)
	echo "usage: $0 snapshot|compare DIR" >&2
	exit 2
	;;
esac
