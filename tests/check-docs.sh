#!/usr/bin/env bash
# check-docs.sh - the documentation and the sample configuration follow the
# one table of settings (lib/config/config.c), as `tlspolicy config` reports it:
#
#   - doc/tlspolicyd.conf.5 has exactly one .TP entry per setting, tagged
#     "\fBname\fR (default: \fIvalue\fR)" ("(default: empty)" for an empty
#     value), and that value is the setting's real default;
#   - no .TP entry of that form names a setting that does not exist;
#   - conf/tlspolicyd.conf sets every setting once, and loads to exactly
#     what `config --defaults` prints;
#   - every man page formats without a single groff warning.
#
# Run by `make check` (TAP, with top_srcdir and top_builddir set), or by hand
# from the source tree after a build: tests/check-docs.sh
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$here/..}
top_builddir=${top_builddir:-$top_srcdir}
source "$top_srcdir/tests/lab/tap.sh"

TLSPOLICY=$top_builddir/bin/tlspolicy
MAN5=$top_srcdir/doc/tlspolicyd.conf.5
SAMPLE=$top_srcdir/conf/tlspolicyd.conf
MAN_PAGES=(doc/tlspolicyd.8 doc/tlspolicyd.conf.5 doc/tlspolicy.1 doc/tlspolicy-milter.8)

[[ -x $TLSPOLICY ]] || bail_out "$TLSPOLICY not built"
for f in "$MAN5" "$SAMPLE"; do
	[[ -r $f ]] || bail_out "$f missing"
done

# -c /dev/null: the built-in defaults, whatever /etc/tlspolicyd holds here.
names=$("$TLSPOLICY" -c /dev/null config --names) || bail_out "tlspolicy config --names failed"
defaults=$("$TLSPOLICY" -c /dev/null config --defaults) || bail_out "tlspolicy config --defaults failed"
mapfile -t NAMES <<<"$names"
((${#NAMES[@]} > 0)) && [[ -n ${NAMES[0]} ]] || bail_out "tlspolicy config --names printed nothing"

declare -A DEFAULT
while IFS= read -r line; do
	name=${line%% =*}
	DEFAULT[$name]=${line#"$name = "}
done <<<"$defaults"

# The .TP tags of the man page: the line after each .TP.
declare -A TP_VALUE TP_COUNT
tag_re='^\\fB([a-z0-9_]+)\\fR \(default: (.*)\)$'
prev=
while IFS= read -r line; do
	if [[ $prev == .TP && $line =~ $tag_re ]]; then
		name=${BASH_REMATCH[1]}
		TP_VALUE[$name]=${BASH_REMATCH[2]}
		TP_COUNT[$name]=$((${TP_COUNT[$name]:-0} + 1))
	fi
	prev=$line
done <"$MAN5"

# A tag's value as the reader sees it: fonts and escapes removed; a plain
# "empty" (Postfix's convention, not in italics) stands for the empty value.
man_value() {
	local v=$1
	[[ $v == empty ]] && return 0
	v=${v//\\fI/}
	v=${v//\\fB/}
	v=${v//\\fR/}
	v=${v//\\fP/}
	v=${v//\\&/}
	v=${v//\\-/-}
	v=${v//\\e/\\}
	printf '%s' "$v"
}

tap_plan $((3 * ${#NAMES[@]} + 2 + ${#MAN_PAGES[@]}))

for name in "${NAMES[@]}"; do
	is "${TP_COUNT[$name]:-0}" 1 "tlspolicyd.conf.5 has one .TP entry for $name"
	n=$(grep -Ec "^${name}[[:space:]]*=" "$SAMPLE")
	is "$n" 1 "conf/tlspolicyd.conf sets $name"
	if [[ -n ${TP_VALUE[$name]+set} ]]; then
		is "$(man_value "${TP_VALUE[$name]}")" "${DEFAULT[$name]}" \
			"tlspolicyd.conf.5 gives the real default of $name"
	else
		ok 1 "tlspolicyd.conf.5 gives the real default of $name (no entry)"
	fi
done

stale=()
for name in "${!TP_COUNT[@]}"; do
	[[ -n ${DEFAULT[$name]+set} ]] || stale+=("$name")
done
is "${stale[*]}" "" "tlspolicyd.conf.5 documents no setting that does not exist"

got=$("$TLSPOLICY" -c "$SAMPLE" config 2>&1)
if [[ $got == "$defaults" ]]; then
	ok 0 "conf/tlspolicyd.conf loads to exactly the defaults"
else
	ok 1 "conf/tlspolicyd.conf loads to exactly the defaults"
	diag "$(diff <(printf '%s\n' "$defaults") <(printf '%s\n' "$got"))"
fi

for page in "${MAN_PAGES[@]}"; do
	if ! command -v groff >/dev/null 2>&1; then
		skip "groff is not installed"
		continue
	fi
	warnings=$(groff -man -ww -z "$top_srcdir/$page" 2>&1)
	status=$?
	if ((status == 0)) && [[ -z $warnings ]]; then
		ok 0 "$page formats without groff warnings"
	else
		ok 1 "$page formats without groff warnings"
		diag "$warnings"
	fi
done

tap_done
