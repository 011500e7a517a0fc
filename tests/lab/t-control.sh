#!/usr/bin/env bash
# The control socket: purge, refresh (with probes on demand) and stats,
# reachable by root and the daemon's group only.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"
source "$here/daemon.sh"

daemon_lab_start
lab_mail_up || bail_out "mail servers did not start"

is "$(stat -c '%a %G' "$LAB_DIR/control")" "660 $(id -gn nobody)" "socket: mode 0660, the daemon user's group"

is "$(pmq good.test)" "dane-only" "good.test answered"
probes() {
	grep -c "event=probe dest=$1 " "$DAEMON_LOG"
}
for ((i = 0; i < 50; i++)); do (( $(probes good.test) >= 1 )) && break; sleep 0.1; done
is "$(probes good.test)" 1 "probed once after the first answer"

out=$(tlsp refresh good.test)
is "$?" 0 "refresh: exit 0"
like "$out" '^OK resolved: OK dane-only; rule all-hosts-dane' "refresh: the new answer"
# Within probe_interval and probe_host_interval, yet probed again at once.
for ((i = 0; i < 50; i++)); do (( $(probes good.test) >= 2 )) && break; sleep 0.1; done
is "$(probes good.test)" 2 "refresh: probed again on demand"

is "$(tlsp purge good.test)" "OK good.test: cached answer forgotten" "purge: forgets the answer"
is "$(tlsp purge good.test)" "OK good.test: was not cached" "purge: twice, nothing left"
like "$(tlsp stats)" $'^OK\ncache_entries=[0-9]+ cache_hits=[0-9]+ cache_misses=[0-9]+ resolutions=[0-9]+' \
	"stats: cache counters"
like "$(tlsp stats)" 'probes=enabled probes_queued=0 probes_running=0 probes_submitted=[0-9]+' "stats: probe counters"
out=$(tlsp refresh 'not a domain')
is "$?" 1 "refresh of a bad key: exit 1"
like "$out" "^ERROR 'not a domain': not a valid domain name" "refresh of a bad key: says why"

# --- what a member of the group can do to the daemon
# ctl PERL: runs PERL with $s connected to the control socket (perl-base:
# bash has no unix sockets); prints what it prints.
ctl() {
	ip netns exec "$LAB_NETNS" timeout 20 perl -MSocket -MIO::Socket::UNIX -e '
		$SIG{PIPE} = "IGNORE";
		our $s = IO::Socket::UNIX->new(Peer => $ARGV[0], Type => SOCK_STREAM) or die "connect: $!\n";
		sub reply { local $/; my $r = <$s>; return defined $r ? $r : "" }
		eval $ARGV[1]; die $@ if $@;' "$LAB_DIR/control" "$1"
}

# A request sent one byte a second: closed at the deadline, five seconds
# after the connection, not answered when its last byte comes.
start=$(_lab_ms)
got=$(ctl 'for my $c (split //, "5:stats,") { print $s $c or last; sleep 1 } print reply();')
took=$(( $(_lab_ms) - start ))
is "$got" "" "a request trickled one byte a second is not answered"
ok $(( took < 8000 ? 0 : 1 )) "...the connection was closed at the deadline (${took} ms, 5 s)"

got=$(ctl 'print $s "5000:", "x" x 5000, ","; print reply();')
like "$got" '^[0-9]+:ERROR request too long: at most 4096 bytes,$' "a request over 4 KiB: an error, and the close"

# While a request is handled (a refresh of a destination whose name
# server never answers: dns_timeout, 3 s), the daemon reads nothing more:
# a client that keeps writing is stopped by the kernel's buffers instead
# of growing the daemon's memory.
lab_faults_up || bail_out "the DNS fault servers did not start"
got=$(ctl '
	print $s "20:refresh dropped.test,";
	$s->blocking(0);
	my ($sent, $junk, $idle) = (0, "x" x 65536, 0);
	while ($sent < 8 << 20 && $idle < 20) {
		my $n = syswrite($s, $junk);
		if (defined $n) { $sent += $n; $idle = 0 } else { $idle++; select(undef, undef, undef, 0.05) }
	}
	$s->blocking(1);
	print "$sent\n", reply();')
sent=${got%%$'\n'*}
ok $(( sent < (2 << 20) ? 0 : 1 )) "a client writing on while its request is handled is not read: ${sent} bytes taken of 8 MiB"
like "${got#*$'\n'}" '^[0-9]+:OK resolved: TEMP' "...and still gets its reply"
ok "the daemon is alive" kill -0 "$DAEMON_PID"

# Another user, not in the group, is turned away by the socket's mode.
# (A unix socket is a file: reached from any namespace.)
out=$(su daemon -s /bin/sh -c "$TLSPOLICY -c $DAEMON_CONF stats" 2>&1)
rc=$?
is "$rc" 2 "a user outside the group cannot connect"
like "$out" 'Permission denied' "and is told why"

daemon_stop
is "$?" 0 "SIGTERM: clean exit"
tap_done
