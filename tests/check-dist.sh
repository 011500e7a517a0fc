#!/usr/bin/env bash
# check-dist.sh - the release tarball (make dist) holds every file of the
# source tree: EXTRA_DIST names files one by one, so a test data file added
# to a folder and not to Makefile.am would be missing from it, and the test
# that reads the folder would quietly run fewer cases from a tarball.
#
# The files are those git tracks; the tarball's are make's DISTFILES, which
# make check passes in $dist_files. Files that only a git checkout needs are
# listed below, with the reason. Skipped outside a git checkout (a tarball
# has nothing to compare with).
#
# Run by `make check` (TAP, with top_srcdir and dist_files set).
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$here/..}
source "$top_srcdir/tests/lab/tap.sh"

# In git, not in the tarball: the tarball has configure, not what makes it.
NOT_DISTRIBUTED=(
	.gitignore	# git's own
	.ci/run		# CI runs ./dev test on a clone
	bootstrap	# autoreconf for a clone; the tarball has configure
	dev		# installs the packages and builds a clone
)

command -v git >/dev/null 2>&1 || tap_skip_all "git is not installed"
git -C "$top_srcdir" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
	tap_skip_all "not a git checkout: nothing to compare the tarball with"
[[ -n ${dist_files:-} ]] || bail_out "dist_files is not set (make check sets it)"

declare -A in_dist
for f in $dist_files; do
	f=${f#./}
	in_dist[$f]=1
done
declare -A exempt
for f in "${NOT_DISTRIBUTED[@]}"; do
	exempt[$f]=1
done

missing=() stale=()
while IFS= read -r -d '' f; do
	[[ -e $top_srcdir/$f ]] || continue	# deleted, not yet committed
	if [[ -n ${exempt[$f]+set} ]]; then
		[[ -z ${in_dist[$f]+set} ]] || stale+=("$f")
	elif [[ -z ${in_dist[$f]+set} ]]; then
		missing+=("$f")
	fi
done < <(git -C "$top_srcdir" ls-files -z)

((${#missing[@]} == 0))
ok $? "every file git tracks is in make dist's list (EXTRA_DIST, _SOURCES, dist_*)"
((${#missing[@]} == 0)) || diag "not distributed: ${missing[*]}"
((${#stale[@]} == 0))
ok $? "the files tests/check-dist.sh exempts are indeed left out"
((${#stale[@]} == 0)) || diag "distributed after all: ${stale[*]}"
tap_done
