#!/usr/bin/env bash
# t-report.sh - the survey report as a browser sees it.
#
# For each survey of tests/survey (basic.jsonl, hostile.jsonl),
# tests/survey/surveysum-cli writes the HTML report and the JSON summary
# (surveyjson_write) of the same lines; headless Chromium loads the page and
# dumps the DOM it built. Then, in that DOM:
#   - the four charts are there (<svg class="chart" id=...>), each with one
#     bar per number it shows;
#   - every bar's data-count, the number its label shows, and every table
#     cell's number are the JSON's number at the bar's or cell's data-key;
#     a bar is drawn (width > 0) exactly when its number is not 0, and a
#     provider's stacked segments add up to its bar;
#   - the provider names, the mismatch list and the title read back as the
#     JSON has them, as text: names made to inject markup (hostile.jsonl)
#     add no element and no event handler.
# Without Chromium the test is skipped, with the reason; ./dev test
# installs it, so that CI runs it.
#
# Run by `make check` (TAP, with top_srcdir and top_builddir set), or by hand
# after a build: tests/survey/t-report.sh
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$here/../..}
top_builddir=${top_builddir:-$top_srcdir}
source "$top_srcdir/tests/lab/tap.sh"

CLI=$top_builddir/tests/survey/surveysum-cli
CHARTS=(domain-facts by-domain-class by-mx-host-class top-providers)

[[ -x $CLI ]] || bail_out "$CLI not built (make check builds it)"

browser=
for b in chromium chromium-browser google-chrome; do
	if command -v "$b" >/dev/null; then
		browser=$b
		break
	fi
done
[[ -n $browser ]] || tap_skip_all "chromium is not installed (apt-get install chromium; ./dev test installs it)"

work=$(mktemp -d "${TMPDIR:-/tmp}/tlspolicyd-report.XXXXXX")
trap 'rm -rf "$work"' EXIT

unescape() {	# the text of HTML-escaped text
	local s=$1
	s=${s//&lt;/<}
	s=${s//&gt;/>}
	s=${s//&quot;/\"}
	s=${s//&#39;/\'}
	s=${s//&amp;/\&}	# bash 5.2: a bare & is the match
	printf '%s' "$s"
}

sum() {	# sum N...: their sum
	local t=0 x
	for x in "$@"; do
		t=$((t + x))
	done
	echo "$t"
}

# chart_bars ID: the lines of the bars of one chart in the DOM.
chart_bars() {
	sed -n "/<svg class=\"chart\" id=\"$1\"/,/<\/svg>/p" "$dom" | grep '<g class="bar"'
}

# check_chart ID NBARS: each bar against the JSON.
check_chart() {
	local id=$1 want=$2 line key count shown widths w seg bad=() n=0
	while IFS= read -r line; do
		n=$((n + 1))
		[[ $line =~ data-key=\"([^\"]*)\"\ data-count=\"([0-9]+)\" ]] || { bad+=("no data-key or data-count: $line"); continue; }
		key=${BASH_REMATCH[1]} count=${BASH_REMATCH[2]}
		[[ -n ${J[$key]+set} ]] || { bad+=("$key: not in the JSON"); continue; }
		[[ ${J[$key]} == "$count" ]] || bad+=("$key: data-count $count, the JSON ${J[$key]}")
		[[ $line =~ \<text\ class=\"value\"[^\>]*\>([0-9]+)\  ]] && shown=${BASH_REMATCH[1]} || shown=
		[[ $shown == "$count" ]] || bad+=("$key: the label shows '$shown', not $count")
		# The widths drawn: one rect, or the stacked segments.
		widths=$(sum $(grep -o ' width="[0-9]*"' <<<"$line" | tr -dc '0-9\n'))
		if [[ $count == 0 ]]; then
			[[ ${widths:-0} == 0 ]] || bad+=("$key: 0, but a bar $widths wide")
		else
			((widths > 0)) || bad+=("$key: $count, but no bar drawn")
		fi
		if [[ $line == *'class="seg"'* ]]; then
			seg=$(sum $(grep -o 'class="seg" data-class="[^"]*" data-count="[0-9]*"' <<<"$line" |
				grep -o '[0-9]*"$' | tr -d '"'))
			[[ $seg == "$count" ]] || bad+=("$key: segments add up to $seg, not $count")
		fi
	done < <(chart_bars "$id")
	((n == want)) || bad+=("$n bars, not $want")
	((${#bad[@]} == 0))
	ok $? "$name: chart $id: $want bars, each as the JSON has it"
	((${#bad[@]} == 0)) || diag "$(printf '%s\n' "${bad[@]}" | head -n 20)"
}

report() {	# report NAME JSONL TITLE WANT_REJECTED
	local name=$1 input=$2 title=$3 rejected=$4
	local dir=$work/$name html json k v id cells bad ntop got

	mkdir -p "$dir"
	html=$dir/report.html json=$dir/summary.json dom=$dir/dom.html
	"$CLI" --title "$title" --html "$html" --json "$json" "$input" 2> "$dir/cli.err"
	ok $? "$name: surveysum-cli writes the report and the summary"
	is "$(grep -c . "$dir/cli.err")" "$rejected" "$name: lines reported as refused: $rejected"
	[[ -s $dir/cli.err ]] && diag "$(cat "$dir/cli.err")"

	declare -gA J=()
	while IFS=$'\t' read -r k v; do
		J[$k]=$v
	done < <("$CLI" --flatten "$json")
	ok $((${#J[@]} == 0)) "$name: the JSON summary reads back (${#J[@]} values)"

	# A profile of its own: nothing shared with a browser someone runs.
	timeout 120 "$browser" --headless --disable-gpu --no-sandbox --no-first-run --user-data-dir="$dir/profile" \
		--dump-dom "file://$html" > "$dom" 2> "$dir/chromium.err"
	ok $? "$name: $browser loads the report and dumps its DOM"
	if ! grep -q '<h1>' "$dom"; then
		diag "$(tail -n 20 "$dir/chromium.err")"
		ok 1 "$name: the DOM has the page"
		return
	fi

	for id in "${CHARTS[@]}"; do
		grep -q "<svg class=\"chart\" id=\"$id\"" "$dom"
		ok $? "$name: chart $id is in the DOM"
	done
	ntop=$(grep -c '^top_providers\.[0-9]*\.name	' < <("$CLI" --flatten "$json"))
	check_chart domain-facts 9
	check_chart by-domain-class 10
	check_chart by-mx-host-class 11
	check_chart top-providers "$ntop"

	bad=() cells=0
	while IFS= read -r cell; do
		cells=$((cells + 1))
		[[ $cell =~ data-key=\"([^\"]*)\"\ data-count=\"([0-9]+)\"\>([0-9]+)\< ]] || { bad+=("$cell"); continue; }
		k=${BASH_REMATCH[1]}
		[[ ${J[$k]-} == "${BASH_REMATCH[2]}" && ${BASH_REMATCH[3]} == "${BASH_REMATCH[2]}" ]] ||
			bad+=("$k: ${BASH_REMATCH[3]} (data-count ${BASH_REMATCH[2]}), the JSON ${J[$k]-nothing}")
	done < <(grep -o '<td class="num" data-key="[^"]*" data-count="[0-9]*">[^<]*<' "$dom")
	((${#bad[@]} == 0 && cells >= 9 + 10 + 11 + 2 * ntop))
	ok $? "$name: the tables' $cells numbers are the JSON's"
	((${#bad[@]} == 0)) || diag "$(printf '%s\n' "${bad[@]}" | head -n 20)"

	bad=()
	for ((k = 0; k < ntop; k++)); do
		got=$(grep -o "<th scope=\"row\" data-key=\"top_providers.$k.name\">[^<]*</th>" "$dom" |
			sed 's/^<th[^>]*>//; s/<\/th>$//')
		got=$(unescape "$got")
		[[ $got == "${J[top_providers.$k.name]}" ]] || bad+=("provider $k: '$got', the JSON '${J[top_providers.$k.name]}'")
	done
	k=0
	while IFS= read -r got; do
		got=$(unescape "$got")
		[[ $got == "${J[tlsa_mismatch_domains.$k]-}" ]] || bad+=("mismatch $k: '$got', the JSON '${J[tlsa_mismatch_domains.$k]-}'")
		k=$((k + 1))
	done < <(sed -n '/<ul id="tlsa-mismatch-domains">/,/<\/ul>/p' "$dom" | grep -o '<li>[^<]*</li>' |
		sed 's/^<li>//; s/<\/li>$//')
	[[ $k == "${J[tlsa_mismatch]}" || $k == 100 ]] || bad+=("$k domains listed, the JSON ${J[tlsa_mismatch]}")
	got=$(grep -o '<title>[^<]*</title>' "$dom" | head -n 1 | sed 's/^<title>//; s/<\/title>$//')
	[[ $(unescape "$got") == "$title" ]] || bad+=("title: '$(unescape "$got")'")
	((${#bad[@]} == 0))
	ok $? "$name: names read back as text, as the JSON has them"
	((${#bad[@]} == 0)) || diag "$(printf '%s\n' "${bad[@]}")"

	unlike "$(grep -o '<script[^>]*>' "$dom")" '.' "$name: no script element"
	unlike "$(grep -oiE '<[a-z][^>]* on[a-z]+=' "$dom")" '.' "$name: no event handler attribute"
	unlike "$(grep -oiE '<(img|iframe|object|embed|link|b)[ >]' "$dom")" '.' "$name: no element from the data"
}

report basic "$top_srcdir/tests/survey/basic.jsonl" "DANE/TLS survey: basic.jsonl" 0
report hostile "$top_srcdir/tests/survey/hostile.jsonl" '</title><script>alert(6)</script> & "co"' 1
tap_done
