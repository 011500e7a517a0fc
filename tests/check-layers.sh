#!/usr/bin/env bash
# check-layers.sh - lib/'s folders are layers: a module includes headers of
# its own folder and of the folders below it, never above. The order is the
# README's Layout:
#
#   util < postfix < rules < config < fleet < dns < sts < serve < probe < watch < report < survey < selfcheck
#
# and daemon/ may use all of lib/, while lib/ never includes a daemon/
# header. One TAP line per folder, naming each include that breaks the rule.
#
# Run by `make check` (TAP, with top_srcdir set), or by hand from the
# source tree: tests/check-layers.sh
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$here/..}
source "$top_srcdir/tests/lab/tap.sh"

LAYERS=(util postfix rules config fleet dns sts serve probe watch report survey selfcheck)
declare -A RANK
for i in "${!LAYERS[@]}"; do
	RANK[${LAYERS[$i]}]=$i
done

# Every folder of lib/ must have its place in the order.
mapfile -t folders < <(cd "$top_srcdir/lib" && find . -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort)
tap_plan $((${#folders[@]} + 1))
for folder in "${folders[@]}"; do
	if [[ -z ${RANK[$folder]+set} ]]; then
		ok 1 "lib/$folder/ has no place in the layer order of tests/check-layers.sh and the README"
		continue
	fi
	bad=()
	for f in "$top_srcdir/lib/$folder"/*.[ch]; do
		while IFS= read -r inc; do
			dep=${inc%%/*}
			if [[ -z ${RANK[$dep]+set} ]]; then
				bad+=("${f#"$top_srcdir/"} includes $inc, which is not in lib/")
			elif ((RANK[$dep] > RANK[$folder])); then
				bad+=("${f#"$top_srcdir/"} includes $inc, a layer above $folder/")
			fi
		done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([a-z_-]*\/[a-z_-]*\.h\)".*/\1/p' "$f")
	done
	for b in "${bad[@]}"; do
		diag "$b"
	done
	ok $((${#bad[@]} > 0)) "lib/$folder/ includes only its own and lower layers"
done
# An include without a folder would find a header by the search path alone.
loose=$(grep -rEn '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[a-z_-]+\.h"' "$top_srcdir/lib" |
	grep -v '"autoconfig\.h"')
[[ -n $loose ]] && diag "$loose"
ok $([[ -z $loose ]]; echo $?) "lib/ names every header it includes by its folder"
tap_done
