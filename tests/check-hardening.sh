#!/usr/bin/env bash
# check-hardening.sh - every program make install installs carries the
# hardening configure asks for, read from the ELF file as checksec does:
#
#   PIE        ELF type DYN with a program interpreter: loaded at a random
#              address, so return addresses and gadgets are not known
#   RELRO      a GNU_RELRO segment: relocated data made read-only
#   BIND_NOW   DT_FLAGS BIND_NOW or DT_FLAGS_1 NOW: every symbol resolved
#              at start, so the whole GOT is read-only (full RELRO)
#   canary     __stack_chk_fail referenced (-fstack-protector-strong)
#   fortify    some __*_chk function referenced (-D_FORTIFY_SOURCE=2)
#
# fortify is skipped, with the reason, only where the build cannot have it:
# a sanitizer build (configure leaves it out, and ASan checks the same
# calls) or one without optimization (configure says so:
# $fortify_skipped). Everything else is required of every build.
#
# Run by `make check` (TAP; hardening_programs and fortify_skipped come
# from the Makefile), or by hand from the source tree after a build:
# tests/check-hardening.sh
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$here/..}
top_builddir=${top_builddir:-$top_srcdir}
source "$top_srcdir/tests/lab/tap.sh"

command -v readelf >/dev/null 2>&1 || tap_skip_all "readelf is not installed (binutils)"
read -r -a programs <<<"${hardening_programs:-bin/tlspolicyd bin/tlspolicy bin/tlspolicy-milter}"

for p in "${programs[@]}"; do
	path=$top_builddir/$p
	if [[ ! -f $path ]]; then
		# Only by hand: make check builds every program it names.
		skip "$p is not built" 5
		continue
	fi
	header=$(readelf -hW "$path" 2>&1)
	segments=$(readelf -lW "$path" 2>&1)
	dynamic=$(readelf -dW "$path" 2>&1)
	symbols=$(readelf --dyn-syms -W "$path" 2>&1)

	type=$(sed -n 's/^ *Type: *\([A-Z]*\).*/\1/p' <<<"$header")
	if [[ $type == DYN && $segments == *" INTERP "* ]]; then
		ok 0 "$p: PIE (ELF type DYN, with a program interpreter)"
	else
		ok 1 "$p: PIE (ELF type DYN, with a program interpreter)"
		diag "ELF type $type; build with -fPIE -pie"
	fi
	like "$segments" $'\n'' *GNU_RELRO ' "$p: RELRO (a GNU_RELRO segment)"
	like "$dynamic" '\(FLAGS\) +([A-Z_]+ )*BIND_NOW|\(FLAGS_1\) +Flags:.* NOW|\(BIND_NOW\)' \
		"$p: BIND_NOW (-z now: full RELRO)"
	like "$symbols" ' __stack_chk_fail(@|$)' "$p: stack canaries (__stack_chk_fail referenced)"
	if [[ -n ${fortify_skipped:-} ]]; then
		skip "$p: fortify: $fortify_skipped"
	elif [[ $symbols =~ \ __asan_(init|report_) ]]; then
		skip "$p: fortify: a sanitizer build (ASan checks those calls itself)"
	else
		like "$symbols" ' __[a-z0-9_]+_chk(@|$| )' "$p: fortify (a __*_chk function referenced)"
	fi
done

tap_done
