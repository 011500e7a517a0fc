#!/usr/bin/env bash
# check-units.sh - the systemd units make generated (systemd/*.service):
#
#   - systemd-analyze verify says nothing about them, so this systemd
#     knows every directive (Type=notify-reload needs 253 or later) and
#     every path; ExecStart= is pointed at the program just built, which
#     need not be installed;
#   - tlspolicyd.service reloads one way only: Type=notify-reload, where
#     systemd sends SIGHUP itself, without ExecReload=; notify or simple
#     with ExecReload= sending it;
#   - tlspolicy-milter.service, which has no reload, has no ExecReload= and
#     is not notify-reload.
#
# Skipped without systemd-analyze. Run by `make check` (TAP, with
# top_builddir set), or by hand after make: tests/check-units.sh
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$here/..}
top_builddir=${top_builddir:-$top_srcdir}
source "$top_srcdir/tests/lab/tap.sh"

units=("$top_builddir"/systemd/*.service)
[[ -f ${units[0]} ]] || bail_out "no systemd/*.service in $top_builddir (make builds them)"

# directive UNIT NAME: the values of NAME= in UNIT, one per line.
directive() {
	sed -n "s/^$2=//p" "$1"
}

for unit in "${units[@]}"; do
	name=${unit##*/}
	type=$(directive "$unit" Type)
	reload=$(directive "$unit" ExecReload)
	case $name in
	tlspolicyd.service)
		if [[ $type == notify-reload ]]; then
			is "$reload" "" "$name: Type=notify-reload, and no ExecReload= (systemd sends SIGHUP)"
		else
			like "$type" '^(notify|simple)$' "$name: Type=notify or simple"
			is "$reload" "/bin/kill -HUP \$MAINPID" "$name: Type=$type, ExecReload= sends SIGHUP"
		fi
		;;
	*)
		unlike "$type" '^notify-reload$' "$name: no reload, so not notify-reload"
		is "$reload" "" "$name: no ExecReload="
		;;
	esac
done

if ! command -v systemd-analyze >/dev/null 2>&1; then
	skip "systemd-analyze is not installed" "${#units[@]}"
	tap_done
	exit
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/check-units.XXXXXX") || bail_out "mktemp failed"
trap 'rm -rf "$work"' EXIT
for unit in "${units[@]}"; do
	name=${unit##*/}
	program=$(directive "$unit" ExecStart)
	program=${program%% *}
	sed "s|^ExecStart=$program|ExecStart=$top_builddir/bin/${program##*/}|" "$unit" >"$work/$name"
	out=$(cd "$work" && systemd-analyze verify --man=no "./$name" 2>&1)
	is "$out" "" "$name: systemd-analyze verify finds nothing to say"
done
tap_done
