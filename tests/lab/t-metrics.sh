#!/usr/bin/env bash
# The metrics endpoint serves valid Prometheus text exposition, and its
# numbers follow what the daemon did; a local user can neither trickle a
# request to hold a connection nor hold more than a few at once.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"

command -v setpriv >/dev/null || bail_out "setpriv is missing (util-linux)"
daemon_lab_start "metrics_listen = inet:127.0.0.1:9672" "request_timeout = 3s"

scrape() {
	ip netns exec "$LAB_NETNS" timeout 5 bash -c \
		'exec 3<>/dev/tcp/127.0.0.1/9672; printf "GET %s HTTP/1.0\r\n\r\n" "$1" >&3; cat <&3' _ "${1:-/metrics}" |
		tr -d '\r'
}
body() {
	sed '1,/^$/d'
}

# A strict reading of the text format (version 0.0.4): every line is a
# HELP, a TYPE before the family's first sample, or a sample whose name,
# labels and value are well formed; histogram buckets never decrease and
# the +Inf bucket equals the count. Prints what is wrong, nothing if all is.
validate() {
	awk '
	function fail(msg) { print "line " NR ": " msg ": " $0; bad = 1 }
	/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* / { next }
	/^# TYPE / {
		if ($4 !~ /^(counter|gauge|histogram|summary|untyped)$/) fail("bad TYPE")
		if ($3 in type) fail("TYPE twice")
		type[$3] = $4; next
	}
	/^#/ { fail("unknown comment"); next }
	/^$/ { fail("empty line"); next }
	{
		if (!match($0, /^[a-zA-Z_:][a-zA-Z0-9_:]*/)) { fail("bad name"); next }
		name = substr($0, 1, RLENGTH); rest = substr($0, RLENGTH + 1)
		if (rest ~ /^\{/) {
			if (!match(rest, /^\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*")*\}/)) {
				fail("bad labels"); next
			}
			labels = substr(rest, 1, RLENGTH); rest = substr(rest, RLENGTH + 1)
		} else labels = ""
		if (rest !~ /^ (-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|[+-]Inf|NaN)$/) { fail("bad value"); next }
		value = substr(rest, 2) + 0
		family = name; sub(/_(bucket|sum|count)$/, "", family)
		if (!(name in type) && !(family in type)) fail("sample before its TYPE")
		if (family in type && type[family] == "histogram" && name ~ /_bucket$/) {
			if (value < last[family]) fail("bucket decreases")
			last[family] = value
			if (labels ~ /le="\+Inf"/) inf[family] = value
		}
		if (family in type && type[family] == "histogram" && name ~ /_count$/ && inf[family] != value)
			fail("+Inf bucket differs from _count")
	}
	END { exit bad }'
}

raw=$(scrape)
like "$raw" $'^HTTP/1\\.[01] 200 OK\n' "GET /metrics: 200"
like "$raw" $'\nContent-Type: text/plain; version=0\\.0\\.4' "the exposition's content type"
problems=$(body <<<"$raw" | validate)
is "$problems" "" "valid Prometheus text exposition"

before=$(body <<<"$raw" | awk '$1 == "tlspolicyd_answers_total{result=\"OK\"}" {print $2}')
pmq good.test >/dev/null
pmq good.test >/dev/null
pmq nonexistent.test >/dev/null
after=$(scrape | body)
is "$(awk '$1 == "tlspolicyd_answers_total{result=\"OK\"}" {print $2}' <<<"$after")" "$(( before + 2 ))" \
	"answers by result follow the queries"
like "$after" 'tlspolicyd_cache_hits_total [1-9]' "a cache hit counted"
like "$after" 'tlspolicyd_dns_lookups_total\{security="secure",outcome="data"\} [1-9]' "secure lookups counted"
like "$after" 'tlspolicyd_resolution_seconds_count [1-9]' "resolutions timed"
is "$(validate <<<"$after")" "" "still valid after traffic"

like "$(scrape /other)" '^HTTP/1\.[01] 404' "anything but /metrics is 404"
head=$(ip netns exec "$LAB_NETNS" timeout 5 bash -c \
	'exec 3<>/dev/tcp/127.0.0.1/9672; printf "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n" >&3; cat <&3' | tr -d '\r')
like "$head" $'^HTTP/1\\.1 200 OK\n' "HEAD /metrics: 200"
is "$(body <<<"$head")" "" "...without a body"
like "$(ip netns exec "$LAB_NETNS" timeout 5 bash -c \
	'exec 3<>/dev/tcp/127.0.0.1/9672; printf "POST /metrics HTTP/1.0\r\n\r\n" >&3; cat <&3')" \
	'^HTTP/1\.1 405 ' "POST: 405"

# --- a local user against the endpoint
# as USER GROUP CMD...: CMD in the lab's namespace as another user.
as() {
	local user=$1 group=$2
	shift 2
	ip netns exec "$LAB_NETNS" setpriv --reuid="$user" --regid="$group" --clear-groups "$@"
}
# A scrape as USER: the status line, or nothing when closed unanswered.
scrape_as() {
	as "$1" "$2" timeout 5 bash -c \
		'exec 3<>/dev/tcp/127.0.0.1/9672; printf "GET /metrics HTTP/1.0\r\n\r\n" >&3; head -n 1 <&3' |
		tr -d '\r'
}
# hold USER GROUP N: N idle connections as USER until the end (the pid of
# the holder in HELD).
HELD=()
hold() {
	local pidfile=$LAB_DIR/hold.$1.pid i
	install -m 600 -o "$1" /dev/null "$pidfile"
	as "$1" "$2" bash -c '
		for ((i = 0; i < $1; i++)); do exec {fd}<>/dev/tcp/127.0.0.1/9672 || exit 1; done
		echo $$ >"$0"
		exec sleep 60' "$pidfile" "$3" &
	for ((i = 0; i < 100; i++)); do
		[[ -s $pidfile ]] && break
		sleep 0.05
	done
	HELD+=("$(cat "$pidfile")")
	lab_record_pid "${HELD[-1]}" holder
}

# A request sent one byte a second: the deadline (request_timeout, 3 s
# here) runs from the connection, and no byte extends it.
start=$(_lab_ms)
got=$(ip netns exec "$LAB_NETNS" timeout 10 bash -c '
	exec 3<>/dev/tcp/127.0.0.1/9672
	req=$'"'"'GET /metrics HTTP/1.0\r\n\r\n'"'"'
	{ for ((i = 0; i < ${#req}; i++)); do printf %s "${req:i:1}" >&3 || exit; sleep 1; done; } &
	cat <&3
	kill $! 2>/dev/null')
rc=$?
took=$(( $(_lab_ms) - start ))
is "$rc" 0 "a request trickled one byte a second: the connection is closed"
is "$got" "" "...unanswered"
ok $(( took >= 2500 && took < 6000 ? 0 : 1 )) "...at the deadline (${took} ms, 3 s)"

hold root root 4
is "$(scrape_as root root)" "" "a fifth connection of one user is closed at once"
like "$(scrape_as nobody nogroup)" '^HTTP/1\.1 200 OK$' "another user is served meanwhile"
hold nobody nogroup 4
is "$(scrape_as daemon daemon)" "" "8 connections open in all: the next is closed, whoever it is"
# The held connections reach the deadline; then the endpoint is free.
refused=2
for ((i = 0; i < 100; i++)); do
	got=$(scrape_as daemon daemon)
	[[ $got == "HTTP/1.1 200 OK" ]] && break
	refused=$((refused + 1))
	sleep 0.1
done
is "$got" "HTTP/1.1 200 OK" "the held connections are closed at their deadline"
like "$(scrape)" "tlspolicyd_metrics_refused_total $refused"$'\n' "the refusals are counted"
for pid in "${HELD[@]}"; do
	_lab_stop_pid "$pid"
	_lab_forget_pid "$pid"
done

daemon_stop
tap_done
