#!/usr/bin/env bash
# leftovers.sh - prove the test suite cleaned up after itself, watching
# only what the suite owns: an unrelated process that writes /tmp, another
# lab on the same machine or another developer's test run is none of its
# business.
#
#   eval "$(tests/leftovers.sh begin)"   before the suite: make the suite's
#                                        own TMPDIR and print the exports
#   tests/leftovers.sh check             after it: one TAP line per kind
#                                        of leftover, "not ok" with the
#                                        leftovers named, then
#                                        "N passed, N failed, 0 skipped"
#
# What the suite owns, as begin sets it up (./dev test evals it, so that
# make check and tests/hardening.sh inherit it):
#   TMPDIR            a directory of its own, /tmp/tlsp-suite.XXXXXX (mode
#                     1777, as /tmp: daemons that dropped their privileges
#                     write there too). Every test makes its files in
#                     TMPDIR (lab.sh's LAB_DIR, the unit tests' table_tmpdir),
#                     so it must be empty at the end.
#   LAB_NETNS_PREFIX  tlsplab-ID-: the name of every network namespace the
#                     lab makes (and of its /etc/netns directory) starts
#                     with it.
#   TLSP_SUITE        ID, in the environment of everything the suite starts
#                     (the lab's Postfix instances import it too): a
#                     process that still has it at the end is one of the
#                     suite's servers left running, whatever its name.
#
# Every lab test promises to stop what it started and remove what it made,
# even when it fails; each test checks that for itself as far as it can,
# and this catches whatever slipped past one of them. check removes the
# suite's TMPDIR when it is empty, and keeps it, for a look, when it is not.
set -uo pipefail

usage() {
	echo "usage: eval \"\$($0 begin)\" | $0 check" >&2
	exit 2
}

begin() {
	local dir id
	dir=$(mktemp -d /tmp/tlsp-suite.XXXXXX) || exit 1
	chmod 1777 "$dir" || exit 1
	id=${dir##*.}
	printf 'export TMPDIR=%q LAB_NETNS_PREFIX=%q TLSP_SUITE=%q\n' "$dir" "tlsplab-$id-" "$id"
}

# The parent of a process, from /proc/PID/stat (after the command name,
# which may hold spaces and parentheses: state, then the parent).
parent() {
	local stat
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	stat=${stat##*) }
	stat=${stat#* }
	echo "${stat%% *}"
}

# The pids of this script and of every process above it: those carry the
# marker (./dev test exported it) and are not leftovers.
ancestors() {
	local pid=$$
	while [[ $pid =~ ^[0-9]+$ ]] && ((pid > 1)); do
		echo "$pid"
		pid=$(parent "$pid") || break
	done
}

# "PID COMMAND LINE" of every process with TLSP_SUITE=$id in its
# environment, but this script, its ancestors and their other children (a
# command this one's output is piped to): a server the suite left running
# outlived the test that started it, so its parent is none of those.
suite_processes() {
	local id=$1 f pid cmd
	declare -A mine=()
	for pid in $(ancestors); do
		mine[$pid]=1
	done
	# grep -z reads NUL-separated entries; the environment of processes of
	# other users is unreadable without root, and none of them is ours.
	grep -lzxF -- "TLSP_SUITE=$id" /proc/[0-9]*/environ 2>/dev/null | while IFS= read -r f; do
		pid=${f#/proc/}
		pid=${pid%/environ}
		[[ -n ${mine[$pid]+set} ]] && continue
		[[ -n ${mine[$(parent "$pid" || echo 0)]+set} ]] && continue
		cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-160)
		[[ -n $cmd ]] || continue	# gone meanwhile, or a zombie
		echo "$pid $cmd"
	done
}

# The lab namespaces of this suite, and their /etc/netns directories.
suite_namespaces() {
	local prefix=$1 ns
	ip netns list 2>/dev/null | awk -v p="$prefix" 'index($1, p) == 1 { print $1 }' | while read -r ns; do
		echo "netns $ns (processes: $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' '))"
	done
	find /etc/netns -mindepth 1 -maxdepth 1 -name "$prefix*" -printf 'etc/netns/%f\n' 2>/dev/null
}

check() {
	local dir=${TMPDIR:-} prefix=${LAB_NETNS_PREFIX:-} id=${LEFTOVERS_SUITE:-} n=0 passed=0 failed=0 kind what new
	# Again without the marker, so that this script's own subshells do not
	# count (a process's environment is the one it was started with).
	if [[ -n ${TLSP_SUITE:-} ]]; then
		exec env -u TLSP_SUITE LEFTOVERS_SUITE="$TLSP_SUITE" "$BASH" "$0" check
	fi
	if [[ -z $id || -z $prefix || $dir != /tmp/tlsp-suite.* ]]; then
		echo "not ok 1 - the suite's TMPDIR, LAB_NETNS_PREFIX and TLSP_SUITE are set (eval \"\$($0 begin)\")"
		echo "0 passed, 1 failed, 0 skipped"
		return 1
	fi
	for kind in tmp netns procs; do
		n=$((n + 1))
		case $kind in
		tmp)
			what="nothing left in the suite's TMPDIR ($dir)"
			new=$(find "$dir" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort)
			;;
		netns)
			what="no network namespace of the suite left ($prefix*)"
			new=$(suite_namespaces "$prefix")
			;;
		procs)
			what="no process of the suite left running"
			new=$(suite_processes "$id")
			;;
		esac
		if [[ -z $new ]]; then
			echo "ok $n - $what"
			passed=$((passed + 1))
		else
			echo "not ok $n - $what; the suite left:"
			sed 's/^/#   /' <<<"$new" | head -n 50
			failed=$((failed + 1))
		fi
	done
	if rmdir "$dir" 2>/dev/null; then
		:
	elif [[ -d $dir ]]; then
		echo "# kept for a look: $dir"
	fi
	echo "$passed passed, $failed failed, 0 skipped"
	((failed == 0))
}

case ${1:-} in
begin) [[ $# == 1 ]] || usage; begin ;;
check) [[ $# == 1 ]] || usage; check ;;
*) usage ;;
esac
