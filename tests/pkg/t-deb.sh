#!/usr/bin/env bash
# t-deb.sh - the Debian package, as an administrator gets it: built by
# dpkg-buildpackage from a clean copy of the tree, checked by lintian,
# installed on this machine with apt, the daemon started by hand as the
# packaged account and asked, an upgrade over an edited conffile, a purge,
# and nothing left behind.
#
# Root only (dpkg, adduser), skipped as the lab is otherwise; as root
# every tool must be there (./dev test installs them). Skipped, with the
# reason, where it would touch what is not its own: a tlspolicyd package
# already installed, /etc/tlspolicyd, /var/lib/tlspolicyd or /run/tlspolicyd
# already there (make install, a daemon of ./dev run). Skipped in tests/hardening.sh's ASan pass
# (LAB_SANITIZED): the package builds its own programs with Debian's flags,
# so a run there would test the same package again.
#
# The machine is left as the test found it, failed or not: the EXIT trap
# purges the packages, removes the account when the test made it, and
# the folders the precondition said were absent. The daemon runs in
# network, mount and PID namespaces of its own: its 127.0.0.1:7672 is
# nobody else's, /run is a private tmpfs, and the end of the namespace's
# first process ends it, whatever happened.
#
# One build (nocheck, noautodbgsym, parallel as many cores as there are):
# the upgrade installs the same packages repacked with a higher version.
# Each step's time is printed as a comment.
#
# Environment: top_srcdir and top_builddir (make check sets them).
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$here/../..}
top_builddir=${top_builddir:-$top_srcdir}
source "$top_srcdir/tests/lab/tap.sh"

[[ $(id -u) == 0 ]] || tap_skip_all "package tests need root (dpkg, adduser)"
[[ -z ${LAB_SANITIZED:-} ]] ||
	tap_skip_all "the ASan pass: the package builds its own programs with Debian's flags, which the normal pass tested"
for tool in dpkg-buildpackage dh dh_autoreconf lintian apt-get dpkg-deb dpkg-parsechangelog deb-systemd-helper \
	adduser deluser unshare ip pgrep postmap; do
	command -v "$tool" >/dev/null 2>&1 || bail_out "$tool is not installed (./dev test installs it)"
done
for pkg in tlspolicyd tlspolicy-milter; do
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null)
	[[ -z $status || $status == un* || $status == pn* ]] ||
		tap_skip_all "the package $pkg is on this machine ($status): the test would replace and purge it"
done
for dir in /etc/tlspolicyd /var/lib/tlspolicyd /run/tlspolicyd; do
	[[ ! -e $dir ]] || tap_skip_all "$dir exists (make install? a daemon of ./dev run?): purging the package would remove it"
done

user_existed=no group_existed=no
getent passwd tlspolicyd >/dev/null && user_existed=yes
getent group tlspolicyd >/dev/null && group_existed=yes
NS_PID=
work=$(mktemp -d "${TMPDIR:-/tmp}/t-deb.XXXXXX") || bail_out "mktemp failed"
# apt reads the .deb files as the user _apt.
chmod 0755 "$work"

cleanup() {
	[[ -z $NS_PID ]] || kill -KILL "$NS_PID" 2>/dev/null
	local installed
	installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' tlspolicy-milter tlspolicyd 2>/dev/null |
		awk '$1 !~ /^(un|pn)/ {print $2}')
	if [[ -n $installed ]]; then
		# shellcheck disable=SC2086 # one package name a word
		dpkg --purge $installed >/dev/null 2>&1 </dev/null ||
			dpkg --purge --force-all $installed >/dev/null 2>&1 </dev/null
	fi
	[[ $user_existed == yes ]] || ! getent passwd tlspolicyd >/dev/null || deluser --system --quiet tlspolicyd >/dev/null 2>&1
	[[ $group_existed == yes ]] || ! getent group tlspolicyd >/dev/null || delgroup --system --quiet tlspolicyd >/dev/null 2>&1
	# Absent before the test (the precondition), so nobody else's.
	rm -rf /etc/tlspolicyd /var/lib/tlspolicyd /run/tlspolicyd
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

t_start=$SECONDS
step_start=$SECONDS
# step_time WHAT: a comment with the time since the last one.
step_time() {
	diag "$1: $((SECONDS - step_start)) s"
	step_start=$SECONDS
}

# --- the version: configure.ac's, in debian/changelog
version=$(sed -n 's/^AC_INIT(\[tlspolicyd\], \[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac")
is "$(dpkg-parsechangelog -l "$top_srcdir/debian/changelog" -S Version)" "$version" \
	"debian/changelog's version is configure.ac's ($version)"

# --- build from a copy holding only the sources: what git tracks or
# would track (uncommitted work included), or without git what make dist
# ships; nothing the working tree's own build made.
src=$work/tlspolicyd-$version
copy_sources() {
	set -o pipefail
	if git -C "$top_srcdir" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		# Deleted files not yet committed are left out.
		# shellcheck disable=SC2016 # the inner sh expands them
		mkdir -p "$src" &&
			git -C "$top_srcdir" ls-files -z --cached --others --exclude-standard |
			(cd "$top_srcdir" && xargs -0 sh -c 'for f; do [ ! -f "$f" ] || printf "%s\0" "$f"; done' sh) |
			tar -C "$top_srcdir" --null -T - -cf - | tar -C "$src" -xf -
	else
		make -C "$top_builddir" -s distdir distdir="$src" >/dev/null
	fi
}
(copy_sources)
ok $? "a clean copy of the sources"
[[ -x $src/debian/rules ]] || bail_out "no debian/rules in the copy"

# The source package too, from the still clean copy, for lintian's
# checks of debian/ itself (control, copyright, changelog, rules).
(cd "$work" && dpkg-source -b "${src##*/}") >"$work/source.log" 2>&1
ok $? "dpkg-source -b builds the source package" || diag "$(tail -n 20 "$work/source.log")"

arch=$(dpkg --print-architecture)
(cd "$src" && DEB_BUILD_OPTIONS="nocheck noautodbgsym parallel=$(nproc)" dpkg-buildpackage -us -uc -b) \
	>"$work/build.log" 2>&1 </dev/null
status=$?
deb=$work/tlspolicyd_${version}_$arch.deb
milter_deb=$work/tlspolicy-milter_${version}_$arch.deb
ok "$status" "dpkg-buildpackage -us -uc -b builds the packages"
if ((status != 0)) || [[ ! -f $deb || ! -f $milter_deb ]]; then
	diag "$(tail -n 40 "$work/build.log")"
	bail_out "the packages were not built (exit $status)"
fi
step_time "build"

# --- lintian: no error, no warning that is not overridden (with its
# reason, debian/*.lintian-overrides)
# lintian leaves temporary files of its own (mldbm-elf-*) behind; in the
# test's directory, the trap removes them.
mkdir -p "$work/lintian-tmp"
TMPDIR=$work/lintian-tmp lintian --fail-on error,warning --info "$work/tlspolicyd_$version.dsc" \
	"$work/tlspolicyd_${version}_$arch.changes" >"$work/lintian.log" 2>&1
ok $? "lintian on the source and binary packages: no errors, no warnings"
diag "$(grep -v 'running with root privileges' "$work/lintian.log" || echo 'lintian: nothing to say')"
step_time "lintian"

# --- install with apt, as the README says; nothing fetched
sim=$(apt-get install -s --no-install-recommends "$deb" "$milter_deb" 2>&1 </dev/null)
is "$(sed -n 's/^Inst \([^ ]*\) .*/\1/p' <<<"$sim" | sort | paste -sd' ')" "tlspolicy-milter tlspolicyd" \
	"apt installs the two packages and nothing else: Debian's libraries are all there" ||
	bail_out "apt would install more (see above); not installing"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$deb" "$milter_deb" \
	>"$work/install.log" 2>&1 </dev/null
ok $? "apt-get install ./tlspolicyd_*.deb ./tlspolicy-milter_*.deb" ||
	{ diag "$(tail -n 30 "$work/install.log")"; bail_out "not installed"; }
for pkg in tlspolicyd tlspolicy-milter; do
	is "$(dpkg-query -W -f='${Status} ${Version}' "$pkg" 2>/dev/null)" "install ok installed $version" \
		"$pkg $version is installed and configured"
done
# What apt says on the terminal: Debian's own warnings, the postinst's.
diag "$(grep -iE 'warn|error' "$work/install.log" || echo 'apt printed no warning')"

# --- the files, their owners and modes
mode() {
	stat -c '%a %U:%G' "$1" 2>&1
}
for f in /usr/sbin/tlspolicyd /usr/bin/tlspolicy /usr/sbin/tlspolicy-milter; do
	is "$(mode "$f")" "755 root:root" "$f: 0755 root"
done
is "$(mode /etc/tlspolicyd/tlspolicyd.conf)" "644 root:root" "/etc/tlspolicyd/tlspolicyd.conf: 0644 root"
ok "...the sample configuration, unchanged" cmp -s "$top_srcdir/conf/tlspolicyd.conf" /etc/tlspolicyd/tlspolicyd.conf
like "$(dpkg-query -W -f='${Conffiles}' tlspolicyd)" ' /etc/tlspolicyd/tlspolicyd\.conf [0-9a-f]{32}' \
	"...a conffile of tlspolicyd"
missing=()
for f in /usr/share/man/man8/tlspolicyd.8.gz /usr/share/man/man5/tlspolicyd.conf.5.gz \
	/usr/share/man/man1/tlspolicy.1.gz /usr/share/man/man8/tlspolicy-milter.8.gz \
	/usr/share/doc/tlspolicyd/README.Debian /usr/share/doc/tlspolicyd/examples/postfix-main.cf \
	/usr/share/doc/tlspolicyd/copyright /usr/share/doc/tlspolicy-milter/copyright; do
	[[ -f $f || -f $f.gz ]] || missing+=("$f")
done
is "${missing[*]}" "" "the manual pages, README.Debian, the Postfix lines, the copyright files are there"
for unit in tlspolicyd tlspolicy-milter; do
	f=/lib/systemd/system/$unit.service
	is "$(mode "$f")" "644 root:root" "$f: 0644 root"
	like "$(sed -n 's/^ExecStart=//p' "$f")" "^/usr/sbin/$unit -c /etc/tlspolicyd/tlspolicyd.conf$" \
		"...runs /usr/sbin/$unit on /etc/tlspolicyd/tlspolicyd.conf"
done
# What systemd finds at boot (this machine need not run it: the
# postinst's deb-systemd-helper makes the links all the same).
wants=/etc/systemd/system/multi-user.target.wants
is "$(readlink "$wants/tlspolicyd.service")" /lib/systemd/system/tlspolicyd.service "tlspolicyd.service is enabled"
[[ ! -e $wants/tlspolicy-milter.service ]]
ok $? "tlspolicy-milter.service is not (the administrator enables it once Postfix names it)"

# --- the account and the state directory
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd tlspolicyd)
ok $(( ${uid:-0} > 0 && ${uid:-1000} < 1000 ? 0 : 1 )) "the system user tlspolicyd (uid ${uid:-none})"
is "$(getent group "${gid:-x}" | cut -d: -f1)" "tlspolicyd" "...its primary group is tlspolicyd"
is "$home $shell" "/nonexistent /usr/sbin/nologin" "...no home, no shell"
is "$(id -nG tlspolicyd 2>&1)" "tlspolicyd" "...in no other group (adm only when the administrator says: README.Debian)"
is "$(mode /var/lib/tlspolicyd)" "750 tlspolicyd:tlspolicyd" "/var/lib/tlspolicyd: 0750, the daemon's"
/usr/bin/tlspolicy -c /etc/tlspolicyd/tlspolicyd.conf config >/dev/null 2>"$work/config.err"
ok $? "tlspolicy config accepts the installed configuration" || diag "$(cat "$work/config.err")"
step_time "install and files"

# --- the daemon as an administrator starts it by hand, as root, on the
# installed configuration; in namespaces of its own, without DNS: the
# questions that need DNS get TEMP (never a weaker answer), the others
# their answer. The inner script prints name=value lines.
# shellcheck disable=SC2016 # bash -c expands them, in the namespaces
inner='
set -u
ip link set lo up || exit 1
mount -t tmpfs -o mode=0755 tmpfs /run || exit 1
# To a file: the daemon may keep what it was given, and a pipe would
# then never end.
/usr/sbin/tlspolicyd -c /etc/tlspolicyd/tlspolicyd.conf >"$T_DEB_WORK/start.out" 2>&1
echo "start=$?"
pid=$(pgrep -x tlspolicyd)
echo "pid=$pid"
[ -n "$pid" ] || exit 1
echo "user=$(stat -c %U:%G /proc/$pid)"
echo "uids=$(awk "/^Uid:/ {print \$2, \$3, \$4, \$5}" /proc/$pid/status)"
echo "literal=$(/usr/bin/tlspolicy query "[192.0.2.1]" 2>&1)"
echo "dns=$(/usr/bin/tlspolicy query example.org 2>&1)"
echo "postmap=$(postmap -c "$T_DEB_WORK/postfix" -q example.org socketmap:inet:127.0.0.1:7672:tlspolicy 2>&1 |
	head -n 1)"
echo "control=$(stat -c "%a %U:%G" /run/tlspolicyd/control 2>&1)"
echo "stats=$(/usr/bin/tlspolicy stats 2>&1 | head -n 1)"
kill -TERM "$pid"
for i in $(seq 1 600); do [ -d /proc/$pid ] || break; sleep 0.1; done
[ -d /proc/$pid ] && echo "stopped=no" || echo "stopped=yes"
echo "state=$(find /var/lib/tlspolicyd -mindepth 1 -printf "%f %u:%g %m\n" | sort | paste -sd, -)"
'
# Postfix's own client, postmap, needs a main.cf: an empty one.
mkdir -p "$work/postfix" && : >"$work/postfix/main.cf"
# --kill-child: if unshare goes (the trap, the timeout), its child goes, and
# with the namespace's first process every process in it.
T_DEB_WORK=$work timeout -s KILL 180 unshare --net --mount --pid --fork --mount-proc --kill-child \
	bash -c "$inner" >"$work/run.out" 2>&1 &
NS_PID=$!
wait "$NS_PID"
NS_PID=
val() {
	sed -n "s/^$1=//p" "$work/run.out" | head -n 1
}
is "$(val start)" 0 "tlspolicyd -c /etc/tlspolicyd/tlspolicyd.conf starts (exit 0, in the background)" ||
	diag "$(cat "$work/run.out" "$work/start.out" 2>&1)"
is "$(val user)" "tlspolicyd:tlspolicyd" "...and runs as tlspolicyd"
uid_line=$(val uids)
is "$uid_line" "$uid $uid $uid $uid" "...real, effective, saved and file-system uid all the account's"
like "$(val literal)" $'^\\[192\\.0\\.2\\.1\\]\tNOTFOUND' "tlspolicy query: an IP literal needs no DNS: NOTFOUND"
like "$(val dns)" $'^example\\.org\tTEMP ' "tlspolicy query: without DNS, TEMP (the mail waits; never may)"
like "$(val postmap)" 'socketmap server temporary error: trust check' \
	"postmap -q, Postfix's own client: the same temporary error, so Postfix defers"
is "$(val control)" "660 root:tlspolicyd" "the control socket: bound as root, 0660, the account's group"
is "$(val stats)" "OK" "tlspolicy stats, as root, through it"
is "$(val stopped)" yes "SIGTERM stops it"
state=$(val state)
like "$state" '^cache tlspolicyd:tlspolicyd 6[0-7]0(,|$)' "it saved its cache in /var/lib/tlspolicyd as the account ($state)"
unlike "$state" '(root|[0-7][0-7][1-7](,|$))' "...no file there is root's, none is for other users"
step_time "daemon"

# --- an upgrade keeps an edited conffile: the same packages repacked
# with a higher version, installed over it with dpkg -i, no terminal (a
# conffile question would fail it)
sed -i 's/^log_level = info$/log_level = notice/' /etc/tlspolicyd/tlspolicyd.conf
next=$version+t1
repack() {	# repack DEB: the same package at version $next, in $work/next
	local dir=$work/repack/${1##*/}
	rm -rf "$dir" && mkdir -p "$dir" "$work/next" &&
		dpkg-deb -R "$1" "$dir" &&
		sed -i -e "s/^Version: .*/Version: $next/" -e "s/(= $version)/(= $next)/" "$dir/DEBIAN/control" &&
		dpkg-deb -Zgzip -z1 -b "$dir" "$work/next/" >/dev/null
}
repack "$deb" && repack "$milter_deb"
ok $? "the packages repacked as version $next"
DEBIAN_FRONTEND=noninteractive dpkg -i "$work"/next/*.deb >"$work/upgrade.log" 2>&1 </dev/null
ok $? "dpkg -i: the upgrade to $next, without a question" || diag "$(tail -n 20 "$work/upgrade.log")"
is "$(dpkg-query -W -f='${Version}' tlspolicyd)" "$next" "...tlspolicyd is now $next"
is "$(grep '^log_level' /etc/tlspolicyd/tlspolicyd.conf)" "log_level = notice" "the edited conffile survived the upgrade"
is "$(find /etc/tlspolicyd -name '*.dpkg-*' | paste -sd' ')" "" "...and dpkg left no .dpkg-dist or .dpkg-new beside it"
is "$(mode /var/lib/tlspolicyd)" "750 tlspolicyd:tlspolicyd" "/var/lib/tlspolicyd is unchanged"
ok "...with the saved cache in it" test -f /var/lib/tlspolicyd/cache
step_time "upgrade"

# --- purge: nothing the packages shipped or made is left, but the account
files=$(dpkg -L tlspolicyd tlspolicy-milter 2>/dev/null)
dpkg --purge tlspolicy-milter tlspolicyd >"$work/purge.log" 2>&1 </dev/null
ok $? "dpkg --purge tlspolicy-milter tlspolicyd" || diag "$(tail -n 20 "$work/purge.log")"
left=$(dpkg-query -W -f='${db:Status-Abbrev}${Package}\n' tlspolicyd tlspolicy-milter 2>/dev/null | grep -v '^[up]n')
is "$left" "" "dpkg knows neither package any more"
left=()
while IFS= read -r f; do
	[[ -n $f && ( -e $f || -L $f ) ]] || continue
	# Folders stay (/usr/sbin), but for the packages' own.
	[[ -d $f && $f != *tlspolicy* ]] && continue
	left+=("$f")
done <<<"$files"
for f in /var/lib/tlspolicyd /etc/tlspolicyd /run/tlspolicyd /etc/systemd/system/multi-user.target.wants/tlspolicyd.service \
	/var/lib/dpkg/info/tlspolicyd.list /var/lib/dpkg/info/tlspolicy-milter.list; do
	[[ ! -e $f && ! -L $f ]] || left+=("$f")
done
while IFS= read -r f; do
	left+=("$f")
done < <(find /etc/systemd /var/lib/systemd -name '*tlspolicy*' 2>/dev/null)
is "${left[*]}" "" "nothing is left: files, folders, state, unit links and the records of deb-systemd-helper"
getent passwd tlspolicyd >/dev/null
ok $? "the account tlspolicyd stays, as Debian keeps system users (README.Debian)"
step_time "purge"

# Leaving the machine as it was: the account goes when the test made it.
if [[ $user_existed == no ]]; then
	deluser --system --quiet tlspolicyd >/dev/null 2>&1
	[[ $group_existed == yes ]] || ! getent group tlspolicyd >/dev/null || delgroup --system --quiet tlspolicyd >/dev/null 2>&1
	! getent passwd tlspolicyd >/dev/null && { [[ $group_existed == yes ]] || ! getent group tlspolicyd >/dev/null; }
	ok $? "the account made for the test is removed again"
fi
diag "the whole test: $((SECONDS - t_start)) s"
tap_done
