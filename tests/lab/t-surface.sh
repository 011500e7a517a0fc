#!/usr/bin/env bash
# What a local user can do to the daemon: hold at most
# max_connections_per_peer connections, counted per user over TCP on the
# loopback as over the unix socket, without keeping anyone else out; and
# not learn from the status map which destinations this host mails
# (cache=hit): only the status_listen listeners answer it.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"

command -v setpriv >/dev/null || bail_out "setpriv is missing (util-linux)"
daemon_lab_start "max_connections_per_peer = 3" "metrics_listen = inet:127.0.0.1:9672" "request_timeout = 2s"

# as USER GROUP CMD...: CMD in the lab's namespace as another user.
as() {
	local user=$1 group=$2
	shift 2
	ip netns exec "$LAB_NETNS" setpriv --reuid="$user" --regid="$group" --clear-groups "$@"
}

# ask_tcp USER GROUP: one request on a new TCP connection; the reply, or
# "closed" when the daemon closed the connection without one.
ask_tcp() {
	as "$1" "$2" timeout 5 bash -c '
		exec 3<>/dev/tcp/127.0.0.1/'"$DAEMON_PORT"' || exit 1
		printf "19:tlspolicy good.test," >&3
		if IFS= read -r -d , reply <&3; then printf "%s,\n" "$reply"; else echo closed; fi'
}

# ask_unix USER GROUP: the same over the unix socket (bash has no unix
# sockets; perl-base is in every Debian).
ask_unix() {
	as "$1" "$2" timeout 5 perl -MSocket -MIO::Socket::UNIX -e '
		$SIG{PIPE} = "IGNORE";
		my $s = IO::Socket::UNIX->new(Peer => $ARGV[0], Type => SOCK_STREAM) or die "connect: $!\n";
		print $s "19:tlspolicy good.test,";
		local $/ = ",";
		my $r = <$s>;
		print defined $r ? "$r\n" : "closed\n";' "$LAB_DIR/tlspolicyd.sock"
}

scrape() {
	ip netns exec "$LAB_NETNS" timeout 5 bash -c \
		'exec 3<>/dev/tcp/127.0.0.1/9672; printf "GET /metrics HTTP/1.0\r\n\r\n" >&3; cat <&3' | tr -d '\r'
}
metric() {
	scrape | awk -v m="$1" '$1 == m {print $2}'
}

# --- one user at its limit
is "$(ask_tcp nobody nogroup)" "12:OK dane-only," "a user's first connection is answered"
# nobody holds three connections (sleep inherits them) until killed; the
# pid file names the process that holds them.
install -m 600 -o nobody /dev/null "$LAB_DIR/holder.pid"
as nobody nogroup bash -c '
	for i in 1 2 3; do exec {fd}<>/dev/tcp/127.0.0.1/'"$DAEMON_PORT"' || exit 1; done
	echo $$ >"$0"
	exec sleep 60' "$LAB_DIR/holder.pid" &
launcher=$!
for ((i = 0; i < 100; i++)); do
	[[ -s $LAB_DIR/holder.pid ]] && break
	sleep 0.05
done
holder=$(cat "$LAB_DIR/holder.pid")
lab_record_pid "$holder" holder
for ((i = 0; i < 100; i++)); do
	[[ $(metric tlspolicyd_connections) == 3 ]] && break
	sleep 0.05
done
is "$(metric tlspolicyd_connections)" 3 "the user holds three connections"
is "$(ask_tcp nobody nogroup)" closed "a fourth over TCP is closed at once, unanswered"
is "$(ask_unix nobody postfix)" closed "...and over the unix socket: the same user, the same count"
is "$(ask_tcp root root)" "12:OK dane-only," "another user over TCP is answered meanwhile"
is "$(ask_unix daemon postfix)" "12:OK dane-only," "...and over the unix socket"
is "$(pmq good.test)" dane-only "...and Postfix's postmap"
daemon_settle
is "$(grep -c 'event=peer-limit peer=uid:65534 connections=3 refused=1 action=closed' "$DAEMON_LOG")" 1 \
	"the refusal is logged, naming the user"
is "$(grep -c 'event=peer-limit' "$DAEMON_LOG")" 1 "...once a minute, not once per refusal"
is "$(metric 'tlspolicyd_connections_refused_total{reason="peer_limit"}')" 2 "both refusals are counted"

_lab_stop_pid "$holder"
wait "$launcher" 2>/dev/null
_lab_forget_pid "$holder"
for ((i = 0; i < 100; i++)); do
	[[ $(metric tlspolicyd_connections) == 0 ]] && break
	sleep 0.05
done
is "$(ask_tcp nobody nogroup)" "12:OK dane-only," "its connections closed, the user is answered again"

# --- request_timeout bounds a request, not the idle time after it: a
# request sent in two parts is answered, and the connection then stays
# open for client_timeout (30 s), well past request_timeout (2 s).
start=$(_lab_ms)
got=$(ip netns exec "$LAB_NETNS" timeout 5 bash -c '
	exec 3<>/dev/tcp/127.0.0.1/'"$DAEMON_PORT"'
	printf "19:tlspolicy " >&3
	sleep 1
	printf "good.test," >&3
	IFS= read -r -d , reply <&3 && printf "%s,\n" "$reply"
	cat <&3')
rc=$?
is "$got" "12:OK dane-only," "a request in two parts, a second apart: answered"
is "$rc" 124 "...and the idle connection is still open 4 s later ($(( $(_lab_ms) - start )) ms)"

# --- the status map
status_req="tlspolicy-status good.test"
status_req="${#status_req}:$status_req,"
got=$(ip netns exec "$LAB_NETNS" timeout 5 bash -c '
	exec 3<>/dev/tcp/127.0.0.1/'"$DAEMON_PORT"'
	printf "%s" "$1" >&3
	IFS= read -r -d , reply <&3; printf "%s,\n" "$reply"' _ "$status_req")
like "$got" '^[0-9]+:PERM unknown map name' "the status map on the TCP listener: PERM, an unknown name"
got=$(ip netns exec "$LAB_NETNS" timeout 5 perl -MSocket -MIO::Socket::UNIX -e '
	my $s = IO::Socket::UNIX->new(Peer => $ARGV[0], Type => SOCK_STREAM) or die "connect: $!\n";
	print $s $ARGV[1];
	local $/ = ",";
	my $r = <$s>;
	print defined $r ? "$r\n" : "closed\n";' "$LAB_DIR/tlspolicyd.sock" "$status_req")
like "$got" '^[0-9]+:PERM unknown map name' "...and on the unix socket for Postfix"
unlike "$(cat "$DAEMON_LOG")" 'map=tlspolicy-status' "...not looked up at all"

is "$(stat -c '%a %G' "$LAB_DIR/status")" "660 $(id -gn nobody)" \
	"the status socket: mode 0660, the daemon user's group"
like "$(tlsp query -m tlspolicy-status good.test)" \
	$'^good\\.test\tOK result=ok policy=dane-only rule=all-hosts-dane failure=none cache=hit' \
	"tlspolicy query asks the status listener for the status map: answered"
like "$(tlsp query -s "unix:$LAB_DIR/status" good.test)" $'^good\\.test\tOK dane-only$' \
	"the status listener answers map_names too"
out=$(as daemon postfix "$TLSPOLICY" -c "$DAEMON_CONF" query -m tlspolicy-status good.test 2>&1)
is "$?" 2 "a user outside the daemon's group cannot reach the status listener"
like "$out" 'Permission denied' "...and is told why"

daemon_stop
is "$?" 0 "SIGTERM: clean exit"
tap_done
