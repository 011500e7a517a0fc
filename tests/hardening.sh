#!/usr/bin/env bash
# hardening.sh - what ./dev test runs after make check: the libFuzzer
# harnesses for a few seconds each, and the unit and lab tests again under
# AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   tests/hardening.sh [fuzz] [asan]      (default: both)
#
# Each part builds in a tree of its own, so the normal build is untouched:
# _build/fuzz and _build/asan are copies of the working tree (the files git
# tracks or would track, committed or not; without git, those of make
# distdir), configured in place. A re-run copies only the files that
# changed, so make rebuilds only what it must.
#
#   fuzz   CC=clang ./configure --enable-fuzzing; every harness of
#          tests/fuzz (make list-fuzzers) runs FUZZ_SECONDS on a copy of its
#          seed corpus, HARDENING_JOBS at a time. One test per harness; a
#          crash, a failed invariant, a leak or an input slower than
#          FUZZ_UNIT_TIMEOUT fails it, and its input is kept in
#          _build/fuzz/work/NAME/artifacts/.
#   asan   CC=clang ./configure --enable-sanitizers (ASan + UBSan; gcc when
#          there is no clang); make check
#          (unit, lab and documentation tests), each counted as in the
#          normal run, with LAB_TIME_FACTOR for the lab's waits; plus one
#          test that no program wrote a sanitizer report. Reports go to
#          files (log_path), so that one from a daemon a lab test started
#          fails the run even if the test did not notice; they are printed
#          and kept in _build/asan/sanitizer-reports/.
#
# Environment: FUZZ_SECONDS (10), FUZZ_UNIT_TIMEOUT (25 s), HARDENING_JOBS
# (the number of cores: builds and fuzzers; make check runs twice as many
# tests at once, as ./dev test does), LAB_TIME_FACTOR (3), HARDENING_DIR
# (_build).
# Output is TAP-like: "ok N - ...", "not ok N - ...", "# ..." comments; the
# last line is "N passed, N failed, N skipped", counting the make check
# results of the ASan run too. Exit status 0 when nothing failed.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
FUZZ_UNIT_TIMEOUT=${FUZZ_UNIT_TIMEOUT:-25}
JOBS=${HARDENING_JOBS:-$(nproc)}
BUILD=${HARDENING_DIR:-$top/_build}
export LAB_TIME_FACTOR=${LAB_TIME_FACTOR:-3}

N=0 PASSED=0 FAILED=0 SKIPPED=0
REPORTS=
trap '[[ -z $REPORTS ]] || rm -rf "$REPORTS"' EXIT

say() { printf '# %s\n' "$@"; }
diag_file() { sed 's/^/#   /' "$@"; }
result() {	# result STATUS DESC: one test of this script
	N=$((N + 1))
	if [[ $1 == 0 ]]; then
		PASSED=$((PASSED + 1))
		printf 'ok %d - %s\n' "$N" "$2"
	else
		FAILED=$((FAILED + 1))
		printf 'not ok %d - %s\n' "$N" "$2"
	fi
}
skip() {	# skip DESC REASON
	N=$((N + 1)) SKIPPED=$((SKIPPED + 1))
	printf 'ok %d - %s # SKIP %s\n' "$N" "$1" "$2"
}

# The source files, NUL-separated, relative to $1's root: what git tracks
# or would track (new files not ignored), else what make distdir ships.
source_files() {
	if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -C "$top" ls-files -z --cached --others --exclude-standard
	else
		(cd "$1" && find . -type f -printf '%P\0')
	fi
}

# sync_tree DEST: make DEST a copy of the source, touching only what differs.
sync_tree() {
	local dest=$1 src=$top stage= f new old
	mkdir -p "$dest" || return 1
	if ! git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		stage=$BUILD/dist
		rm -rf "$stage"
		make -C "$top" -s --no-print-directory distdir distdir="$stage" >/dev/null || return 1
		src=$stage
	fi
	new=$dest/.hardening-files.new
	old=$dest/.hardening-files
	: > "$new"
	while IFS= read -r -d '' f; do
		[[ -f $src/$f ]] || continue	# deleted, not yet committed
		printf '%s\n' "$f" >> "$new"
		if ! cmp -s "$src/$f" "$dest/$f"; then
			mkdir -p "$dest/$(dirname "$f")" && cp --preserve=mode "$src/$f" "$dest/$f" || return 1
		fi
	done < <(source_files "$src")
	# Files copied last time and gone from the source now.
	if [[ -f $old ]]; then
		sort "$old" | comm -23 - <(sort "$new") | while IFS= read -r f; do rm -f "$dest/$f"; done
	fi
	mv "$new" "$old"
	[[ -z $stage ]] || rm -rf "$stage"
}

# configure_tree DIR ARGS...: bootstrap and configure DIR when needed.
configure_tree() {
	local dir=$1
	shift
	(
		cd "$dir" || exit 1
		if [[ ! -x configure || configure.ac -nt configure || Makefile.am -nt configure ]]; then
			if [[ -x bootstrap ]]; then ./bootstrap; else autoreconf --install --force; fi >bootstrap.log 2>&1 ||
				{ cat bootstrap.log; exit 1; }
		fi
		if [[ ! -f Makefile || configure -nt Makefile || "$*" != "$(cat .hardening-configure 2>/dev/null)" ]]; then
			# Other options (another compiler) change no source: the
			# objects must go by hand.
			if [[ -f Makefile && "$*" != "$(cat .hardening-configure 2>/dev/null)" ]]; then
				make -s clean >/dev/null 2>&1
			fi
			./configure -q "$@" || exit 1
			printf '%s' "$*" > .hardening-configure
		fi
	)
}

run_fuzzer() {	# run_fuzzer DIR PROGRAM: runs it in DIR/work/NAME
	local dir=$1 prog=$2 name work
	name=${prog##*/fuzz_}
	work=$dir/work/$name
	rm -rf "$work"
	mkdir -p "$work/corpus" "$work/artifacts"
	cp "$dir/tests/fuzz/corpus/$name"/* "$work/corpus/" 2>/dev/null
	ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"$dir/$prog" -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_UNIT_TIMEOUT" -print_final_stats=1 \
		-artifact_prefix="$work/artifacts/" "$work/corpus" > "$work/log" 2>&1
	echo $? > "$work/status"
}

fuzz() {
	local dir=$BUILD/fuzz prog name work status runs cov fuzzers=() running=0 t0
	t0=$SECONDS
	if ! command -v clang >/dev/null; then
		for prog in tests/fuzz/fuzz_*.c; do
			prog=${prog%.c}
			skip "fuzz: ${prog##*/}" "clang is not installed"
		done
		return
	fi
	say "fuzz: building the harnesses in ${dir#"$top"/}"
	if ! sync_tree "$dir" || ! configure_tree "$dir" CC=clang --enable-fuzzing ||
	    ! make -C "$dir" -s --no-print-directory -j"$JOBS" fuzzers > "$dir/build.log" 2>&1; then
		[[ -f $dir/build.log ]] && tail -n 30 "$dir/build.log" | diag_file
		result 1 "fuzz: build the harnesses (CC=clang ./configure --enable-fuzzing)"
		return
	fi
	read -r -a fuzzers < <(make -C "$dir" -s --no-print-directory list-fuzzers)
	say "fuzz: ${#fuzzers[@]} harnesses, $FUZZ_SECONDS s each, $JOBS at a time"
	for prog in "${fuzzers[@]}"; do
		if ((running >= JOBS)); then
			wait -n
			running=$((running - 1))
		fi
		run_fuzzer "$dir" "$prog" &
		running=$((running + 1))
	done
	wait
	for prog in "${fuzzers[@]}"; do
		name=${prog##*/}
		work=$dir/work/${name#fuzz_}
		status=$(cat "$work/status" 2>/dev/null || echo 1)
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
		cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -n 1)
		if [[ $status == 0 && -n $runs ]]; then
			result 0 "fuzz: $name, $runs runs in $FUZZ_SECONDS s, ${cov:-cov: ?}"
		else
			result 1 "fuzz: $name (exit $status)"
			grep -E 'ERROR|SUMMARY|Test unit written|^ *#[0-9]+ 0x' "$work/log" | head -n 40 | diag_file
			say "  the whole log: ${work#"$top"/}/log"
		fi
	done
	say "fuzz: $((SECONDS - t0)) s"
}

asan() {
	local dir=$BUILD/asan reports log status p f e s t0 found pattern cc=()
	t0=$SECONDS
	# clang's UBSan honours log_path; gcc's writes its reports to stderr,
	# where a daemon's may go unseen (the test logs are searched as well).
	command -v clang >/dev/null && cc=(CC=clang)
	say "asan: building in ${dir#"$top"/}${cc:+ with clang}"
	if ! sync_tree "$dir" ||
	    ! configure_tree "$dir" "${cc[@]}" --prefix=/usr --sysconfdir=/etc --localstatedir=/var --enable-sanitizers ||
	    ! make -C "$dir" -s --no-print-directory -j"$JOBS" > "$dir/build.log" 2>&1; then
		[[ -f $dir/build.log ]] && tail -n 30 "$dir/build.log" | diag_file
		result 1 "asan: build (./configure --enable-sanitizers)"
		return
	fi
	# Written by every instrumented program, root or not: the daemons drop
	# to an unprivileged user.
	reports=$(mktemp -d "${TMPDIR:-/tmp}/tlspolicyd-sanitizers.XXXXXX")
	REPORTS=$reports
	chmod 1777 "$reports"
	log=$dir/check.log
	say "asan: make check (LAB_TIME_FACTOR=$LAB_TIME_FACTOR)"
	status=0
	# LAB_SANITIZED: memory figures there are ASan's (shadow memory, the
	# quarantine of freed blocks), not the daemon's; the tests that bound
	# RSS say so and leave it to the normal run.
	LAB_SANITIZED=1 \
	ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:log_path=$reports/report" \
	UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/report" \
		make -C "$dir" -s --no-print-directory -j"$((2 * JOBS))" check > "$log" 2>&1 || status=$?
	p=$(sed -n 's/^# PASS: *//p' "$log" | tail -n 1)
	f=$(sed -n 's/^# FAIL: *//p' "$log" | tail -n 1)
	e=$(sed -n 's/^# ERROR: *//p' "$log" | tail -n 1)
	s=$(sed -n 's/^# SKIP: *//p' "$log" | tail -n 1)
	if [[ -z $p ]]; then
		tail -n 30 "$log" | diag_file
		result 1 "asan: make check did not finish (exit $status)"
	else
		f=$(( ${f:-0} + ${e:-0} ))
		((status != 0 && f == 0)) && f=1
		PASSED=$((PASSED + p)) FAILED=$((FAILED + f)) SKIPPED=$((SKIPPED + ${s:-0}))
		say "asan: make check: $p passed, $f failed, ${s:-0} skipped"
		grep -E '^(FAIL|ERROR):' "$log" | head -n 50 | diag_file
		((f == 0)) || say "  the whole log: ${log#"$top"/} and each test's .log in ${dir#"$top"/}/tests"
	fi
	rm -rf "$dir/sanitizer-reports"
	# Reports that went to a test's output instead (gcc's UBSan, a
	# program run with its own environment).
	pattern='(runtime error: |==[0-9]+==ERROR: [A-Za-z]+Sanitizer)'
	grep -lE "$pattern" -r "$dir/tests" --include='*.log' 2>/dev/null | while IFS= read -r f; do
		grep -E -A 25 "$pattern" "$f" > "$reports/${f##*/}"
	done
	found=$(find "$reports" -type f | wc -l)
	if ((found)); then
		mv "$reports" "$dir/sanitizer-reports"
		for f in "$dir"/sanitizer-reports/*; do
			say "  $f:"
			head -n 60 "$f" | diag_file
		done
	else
		rm -rf "$reports"
	fi
	result $((found != 0)) "asan: no sanitizer report ($found written)"
	say "asan: $((SECONDS - t0)) s"
}

parts=("$@")
((${#parts[@]})) || parts=(fuzz asan)
for part in "${parts[@]}"; do
	case $part in
	fuzz|asan) "$part" ;;
	*) echo "usage: tests/hardening.sh [fuzz] [asan]" >&2; exit 2 ;;
	esac
done
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
((FAILED == 0))
