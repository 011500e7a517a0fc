#!/usr/bin/env bash
# The metrics endpoint serves valid Prometheus text exposition, and its
# numbers follow what the daemon did.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"

daemon_lab_start "metrics_listen = inet:127.0.0.1:9672"

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

daemon_stop
tap_done
