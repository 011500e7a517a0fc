#!/usr/bin/env bash
# The status page on metrics_listen, rendered by headless Chromium against
# the lab: a DANE destination (good.test), one whose TLSA records do not
# match (wrongtlsa.test: probed dane-mismatch, an alert, deferrals in the
# log, an exception proposed), one with deferrals in a recorded log
# (selfsigned.test) and an excepted one (notlsa.test). The rows Chromium shows, and their order,
# are those of /status.json, trouble first; the page's script ran under
# its Content-Security-Policy; an exceptions file's errors with markup in
# them are shown as text. The page, its JSON and a screenshot are
# kept in tests/lab/t-status.out.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"

RECORDED=$here/../logwatch
[[ -r $RECORDED/deliveries.log && -r $RECORDED/auth-failing.log ]] || bail_out "$RECORDED missing"
browser=
for b in chromium chromium-browser google-chrome; do
	if command -v "$b" >/dev/null; then
		browser=$b
		break
	fi
done
[[ -n $browser ]] || bail_out "chromium is not installed (./dev test installs it)"
OUT=${top_builddir:-.}/tests/lab/t-status.out

lab_start
rm -rf "$OUT"
mkdir -p "$OUT"
lab_mail_up || bail_out "mail servers did not start"
lab_sender_up "texthash:/dev/null" || bail_out "sender configuration failed"

# Postfix's log as recorded in the lab: wrongtlsa.test deferred with 4.7.5
# (deliveries.log), and selfsigned.test's deferrals (auth-failing.log; its
# good.test lines are left out, so that good.test stays fine).
grep -v 'good\.test' "$RECORDED/auth-failing.log" | cat "$RECORDED/deliveries.log" - > "$LAB_DIR/recorded.log"
printf 'notlsa.test encrypt\n' > "$LAB_DIR/exceptions"
chmod 644 "$LAB_DIR/exceptions" "$LAB_DIR/recorded.log"
daemon_conf "metrics_listen = inet:127.0.0.1:9672" "maillog_file = -"
# The log on standard input, as from journalctl -f (t-maillog.sh).
DAEMON_EXEC=(sh -c 'exec "$@" < "$0"' "$LAB_DIR/recorded.log")
daemon_start || bail_out "tlspolicyd did not start"
DAEMON_EXEC=()

for dest in good.test wrongtlsa.test selfsigned.test notlsa.test; do
	pmq "$dest" >/dev/null
done
# Then the exceptions file broken, with markup where a name should be:
# the list loaded at start stays in force, and the page shows the errors
# (looked for every 2 s, while the probes run).
printf 'notlsa.test encrypt\n<script>document.title="owned"</script>.test may\n' > "$LAB_DIR/exceptions.new"
chmod 644 "$LAB_DIR/exceptions.new"
mv "$LAB_DIR/exceptions.new" "$LAB_DIR/exceptions"

# get PATH: the whole reply, headers and body.
get() {
	ip netns exec "$LAB_NETNS" timeout 5 bash -c \
		'exec 3<>/dev/tcp/127.0.0.1/9672; printf "GET %s HTTP/1.0\r\n\r\n" "$1" >&3; cat <&3' _ "$1" |
		tr -d '\r'
}
body() {
	sed '1,/^$/d'
}
# Whether the state the test is about has arrived: probes finished, the
# log read, the excepted destination's background resolution cached.
ready() {
	get /status.json | body > "$OUT/status.json"
	jq -e '
		def row($d): .destinations[] | select(.dest == $d);
		(row("wrongtlsa.test").probes | map(.class) | index("dane-mismatch")) != null and
		(row("good.test").probes | map(.class) | index("dane-verified")) != null and
		row("wrongtlsa.test").alert != null and
		row("wrongtlsa.test").proposed and
		row("selfsigned.test").maillog.deferred_tls_since_sent > 0 and
		row("notlsa.test").exception != null and
		.exceptions.errors != null' "$OUT/status.json" >/dev/null 2>&1
}
for ((i = 0; i < 100 * ${LAB_TIME_FACTOR:-1}; i++)); do
	ready && break
	sleep 0.1
done
ok "probes, log, alert, exceptions and their errors are on the page" ready || diag "$(cat "$OUT/status.json")"

json=$(cat "$OUT/status.json")
is "$(jq -r .version <<<"$json")" "$("$TLSPOLICYD" -V | cut -d' ' -f2)" "status.json: the version"
is "$(jq -r .trust_check.state <<<"$json")" validating "status.json: the trust check"
is "$(jq -r .exceptions.entries <<<"$json")" 1 "status.json: the exceptions in force, from the file that loaded"
like "$(jq -r .exceptions.errors <<<"$json")" '<script>document\.title="owned"</script>\.test' \
	"status.json: the errors of the file that did not, as they are"
like "$(jq -r .answers_last_hour.ok <<<"$json")" '^[1-9]' "status.json: the answers of the last hour"
order=$(jq -r '.destinations[] | select(.dest | test("^(good|wrongtlsa|selfsigned|notlsa)\\.test$")) |
	"\(.dest) \(.trouble | join(","))"' <<<"$json")
# wrongtlsa.test's every DANE host mismatches: the daemon proposes an
# exception (exceptions_auto is off).
is "$order" "wrongtlsa.test mismatch,deferred,alert,proposed
selfsigned.test deferred
notlsa.test exception
good.test " "rows in trouble first, the most serious first"
is "$(jq -r '.destinations[] | select(.dest == "notlsa.test") | .reply' <<<"$json")" encrypt \
	"the excepted destination shows the exception's answer"
is "$(jq -r '.destinations[] | select(.dest == "good.test") | .reply' <<<"$json")" dane-only \
	"the DANE destination: dane-only"

head=$(get / | sed '/^$/q')
like "$head" $'^HTTP/1\\.1 200 OK\n' "GET /: 200"
like "$head" $'\nContent-Type: text/html; charset=utf-8\n' "...HTML"
like "$head" $'\nContent-Security-Policy: default-src \'none\';' "...allowed to load nothing"
like "$(get /nothing)" '^HTTP/1\.1 404 ' "another path: 404"

# Chromium in the lab's namespace, a profile of its own.
chrome() {
	ip netns exec "$LAB_NETNS" timeout 60 "$browser" --headless --disable-gpu --no-sandbox --no-first-run \
		--user-data-dir="$LAB_DIR/chromium" "$@" 2>>"$OUT/chromium.err"
}
chrome --dump-dom http://127.0.0.1:9672/ > "$OUT/status.dom.html"
ok $? "$browser loads the page and dumps its DOM"
dom=$(cat "$OUT/status.dom.html")
like "$(grep -o '<body[^>]*>' <<<"$dom")" 'data-script="ready"' "the page's script ran"
like "$dom" '&lt;script&gt;document\.title="owned"&lt;/script&gt;\.test' "the file's errors are text on the page"
is "$(grep -o '<script' <<<"$dom" | wc -l)" 1 "...no script but the page's own"
unlike "$(grep -o '<title>[^<]*' <<<"$dom")" owned "...which alone ran"
dom_rows=$(sed -n 's/.*<tr class="\(trouble\|fine\)" data-dest="\([^"]*\)".*/\2/p' "$OUT/status.dom.html")
json_rows=$(jq -r '.destinations[].dest' <<<"$json")
is "$dom_rows" "$json_rows" "the page's rows, in the order of /status.json"
trouble_rows=$(grep -c '<tr class="trouble"' "$OUT/status.dom.html")
is "$trouble_rows" "$(jq '[.destinations[] | select(.trouble != [])] | length' <<<"$json")" \
	"as many rows marked in trouble as status.json has"
like "$(grep 'data-dest="wrongtlsa.test"' "$OUT/status.dom.html")" \
	'mx\.wrongtlsa\.test\[127\.0\.1\.2\]: <span class="c-dane-mismatch">dane-mismatch</span>' \
	"wrongtlsa.test: its MX host probed dane-mismatch"
like "$(grep 'data-dest="selfsigned.test"' "$OUT/status.dom.html")" '<code>tlspolicy explain .selfsigned\.test.</code>' \
	"each row gives the command for the detail"
chrome --window-size=1400,900 --screenshot="$OUT/status.png" http://127.0.0.1:9672/ >/dev/null
ok $? "a screenshot"
[[ -s $OUT/status.png ]]
ok $? "kept in $OUT/status.png"
get / | body > "$OUT/status.html"


daemon_stop
is "$?" 0 "SIGTERM: clean exit"
tap_done
