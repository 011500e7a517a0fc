# fleet.sh - a fleet of tlspolicyd relays sharing through Redis (issue 16),
# inside a lab.  Source it after lab.sh and daemon.sh, once lab_start (or
# lab_up) has succeeded:
#
#   source "$here/lab.sh"; source "$here/daemon.sh"; source "$here/fleet.sh"
#   lab_start
#   lab_redis_up main 6379 || bail_out ...
#   lab_fleet_up 3 --redis main "alert_interval = 1h" "r3:redis_readonly = yes"
#   relay_pmq r2 good.test
#
# Redis (Debian's redis-server, no persistence: --save "" --appendonly no)
# listens on $LAB_REDIS_ADDR (127.0.5.1) inside the lab's namespace, each
# instance on a port of its own, its files in $LAB_DIR/redis/NAME; every
# process is recorded (lab_record_pid), so lab_down stops it even when the
# test fails half-way.
#
#   lab_redis_up [--password PW] NAME PORT [PRIMARY]
#                           start instance NAME on PORT, a replica of the
#                           instance PRIMARY (a name) when given, and wait
#                           until it answers PING; with --password, it
#                           requires PW (requirepass; a replica also
#                           authenticates to its primary with it)
#   lab_redis_stop NAME     stop it (SIGTERM; nothing is saved)
#   lab_redis_start NAME    start it again as lab_redis_up did, same port
#                           and options, its data gone
#   lab_redis_cli NAME ARGS...  redis-cli against NAME (authenticated)
#   lab_redis_endpoint NAME "127.0.5.1:PORT", for redis_server/redis_replica
#   lab_redis_synced NAME   true once replica NAME's link to its primary is
#                           up (INFO replication: master_link_status:up)
#   lab_redis_pid NAME      its pid, empty when it is not running
#   lab_redis_monitor NAME FILE  redis-cli MONITOR against NAME into FILE,
#                           in the background (recorded; its pid in
#                           LAB_REDIS_MONITOR_PID) until
#   lab_redis_monitor_stop  stops it
#   lab_redis_tamper NAME KEY MODE [ARG]  change a sealed value
#                           (fleetvalue.h: "VERSION EXPIRES MAC PAYLOAD")
#                           in place, inside Redis (Lua, so that the
#                           bytes are never through the shell), its TTL
#                           kept: garbage (the value "garbage"), copy SRC
#                           (the value of key SRC), expires +SECONDS (the
#                           EXPIRES field moved), mac HEX (the MAC field
#                           replaced: a value written without the key)
#
# Relays are named rI (I = 0 .. 99): r1 .. rN for the fleet, r0 by custom
# for a relay alone.  Relay rI listens on 127.0.0.1:(7680 + I) and
# unix:$LAB_DIR/fleet/rI/tlspolicyd.sock, serves metrics on
# 127.0.0.1:(9680 + I), and has its own control socket, status socket,
# state directory, exceptions file and log ($LAB_DIR/fleet/rI/tlspolicyd.log);
# everything else is daemon.sh's lab configuration.  In a fleet, every
# relay has redis_relay_name = rI and the same redis_key_file
# ($LAB_FLEET_KEY: 48 random bytes, mode 0640, made once per lab).
#
#   lab_fleet_up N [--redis NAME] [SETTING...]
#                           start relays r1 .. rN (lab_relay_start each);
#                           a SETTING "rI:name = value" applies to rI only
#   lab_relay_start NAME [--redis RNAME] [SETTING...]
#                           write NAME's configuration and start it; with
#                           --redis, redis_server (and redis_password when
#                           RNAME has one) and the fleet's key and name;
#                           waits until it answers (5 s times
#                           LAB_TIME_FACTOR)
#   lab_relay_stop NAME     SIGTERM, and wait for the exit (its status)
#   lab_fleet_down          stop every relay, then every Redis instance
#   lab_relays              the relays started, one name a line
#   relay_pid NAME, relay_log NAME, relay_conf NAME, relay_port NAME,
#   relay_metrics_port NAME
#   relay_pmq NAME KEY      ask NAME through postmap -q (daemon.sh's pmq)
#   relay_tlsp NAME ARGS... the tlspolicy command against NAME
#   relay_settle NAME       wait until NAME's log lines are in its file
#   relay_metrics NAME      NAME's metrics page, the body only
#   relay_metric NAME SAMPLE  one sample's value (the name with its
#                           labels, exactly as exposed), 0 when absent
#   relay_metric_sum NAME FAMILY  the sum of every sample of FAMILY
#   lab_fleet_require [TOOL...]  bail out unless redis-server, redis-cli
#                           and each TOOL are installed
#   relay_redis_addrs NAME RNAME  the addresses ("IP:PORT", one a line) of
#                           relay NAME's connections to Redis RNAME, as
#                           Redis sees them (CLIENT LIST, MONITOR)

LAB_REDIS_ADDR=127.0.5.1
LAB_FLEET_KEY=
LAB_RELAY_PORT_BASE=7680
LAB_RELAY_METRICS_PORT_BASE=9680

lab_fleet_require() {
	local tool
	for tool in redis-server redis-cli "$@"; do
		command -v "$tool" >/dev/null 2>&1 || bail_out "$tool is not installed (./dev test installs it)"
	done
}

# ---------------------------------------------------------------- Redis

_lab_redis_dir() {
	echo "$LAB_DIR/redis/$1"
}

_lab_redis_port() {
	cat "$(_lab_redis_dir "$1")/port" 2>/dev/null
}

lab_redis_endpoint() {
	echo "$LAB_REDIS_ADDR:$(_lab_redis_port "$1")"
}

lab_redis_cli() {
	local name=$1 d port auth=()
	shift
	d=$(_lab_redis_dir "$name")
	port=$(_lab_redis_port "$name") || return 1
	# REDISCLI_AUTH rather than -a: the password stays off the command line.
	[[ -s $d/password ]] && auth=(env REDISCLI_AUTH="$(cat "$d/password")")
	ip netns exec "$LAB_NETNS" "${auth[@]}" redis-cli -h "$LAB_REDIS_ADDR" -p "$port" "$@"
}

lab_redis_pid() {
	local pid name
	[[ -f $LAB_DIR/pids ]] || return 0
	while read -r pid name; do
		[[ $name == "redis-$1" ]] && echo "$pid"
	done <"$LAB_DIR/pids"
}

_lab_redis_answers() {
	[[ $(lab_redis_cli "$1" ping 2>/dev/null) == PONG ]]
}

lab_redis_synced() {
	lab_redis_cli "$1" info replication 2>/dev/null | tr -d '\r' | grep -qx 'master_link_status:up'
}

lab_redis_monitor() {
	local name=$1 file=$2
	lab_redis_cli "$name" monitor >"$file" 2>&1 &
	LAB_REDIS_MONITOR_PID=$!
	lab_record_pid "$LAB_REDIS_MONITOR_PID" "redis-monitor-$name"
	# MONITOR answers OK once it is on: nothing before that is seen.
	_lab_poll 5000 grep -q '^OK' "$file"
}

lab_redis_monitor_stop() {
	[[ -n ${LAB_REDIS_MONITOR_PID:-} ]] || return 0
	_lab_stop_pid "$LAB_REDIS_MONITOR_PID"
	_lab_forget_pid "$LAB_REDIS_MONITOR_PID"
	LAB_REDIS_MONITOR_PID=
}

lab_redis_tamper() {
	local name=$1 key=$2 mode=$3 arg=${4:-} script
	# Lua's . matches any byte, newlines included: the payload stays whole.
	case $mode in
	garbage)
		script="return redis.call('SET', KEYS[1], 'garbage', 'KEEPTTL')"
		lab_redis_cli "$name" eval "$script" 1 "$key"
		;;
	copy)
		script="return redis.call('SET', KEYS[1], redis.call('GET', KEYS[2]), 'KEEPTTL')"
		lab_redis_cli "$name" eval "$script" 2 "$key" "$arg"
		;;
	expires)
		script="local v = redis.call('GET', KEYS[1])
			local ver, exp, rest = string.match(v, '^(%S+) (%d+) (.*)$')
			return redis.call('SET', KEYS[1], ver .. ' ' .. string.format('%d', tonumber(exp) + tonumber(ARGV[1])) .. ' ' .. rest, 'KEEPTTL')"
		lab_redis_cli "$name" eval "$script" 1 "$key" "${arg#+}"
		;;
	mac)
		script="local v = redis.call('GET', KEYS[1])
			local ver, exp, mac, rest = string.match(v, '^(%S+) (%S+) (%S+) (.*)$')
			return redis.call('SET', KEYS[1], ver .. ' ' .. exp .. ' ' .. ARGV[1] .. ' ' .. rest, 'KEEPTTL')"
		lab_redis_cli "$name" eval "$script" 1 "$key" "$arg"
		;;
	*)
		diag "lab_redis_tamper: no mode $mode"
		return 1
		;;
	esac
}

# lab_redis_start NAME: the instance as $LAB_DIR/redis/NAME describes it
# (lab_redis_up wrote that).
lab_redis_start() {
	local name=$1 d port primary pw args pid
	d=$(_lab_redis_dir "$name")
	if [[ ! -s $d/port ]]; then
		diag "lab_redis_start: no Redis instance $name (lab_redis_up first)"
		return 1
	fi
	if [[ -n $(lab_redis_pid "$name") ]]; then
		diag "lab_redis_start: $name runs already"
		return 1
	fi
	port=$(cat "$d/port")
	primary=$(cat "$d/primary" 2>/dev/null)
	pw=$(cat "$d/password" 2>/dev/null)
	mkdir -p "$d/data" || return 1
	rm -f "$d/data"/*
	# Settings on the command line but the password, which goes in a file
	# of its own (include), not in ps.
	{
		echo "# Redis instance $name of the tlspolicyd lab (tests/lab/fleet.sh)"
		if [[ -n $pw ]]; then
			echo "requirepass \"$pw\""
			echo "masterauth \"$pw\""
		fi
	} >"$d/redis.conf"
	chmod 600 "$d/redis.conf"
	args=("$d/redis.conf" --bind "$LAB_REDIS_ADDR" --port "$port" --protected-mode no
		--daemonize no --save "" --appendonly no --dir "$d/data"
		--repl-diskless-sync-delay 0
		--logfile "$d/redis.log")
	[[ -n $primary ]] && args+=(--replicaof "$LAB_REDIS_ADDR" "$(_lab_redis_port "$primary")")
	# Not through lab_exec: $! must be redis-server itself.
	ip netns exec "$LAB_NETNS" redis-server "${args[@]}" </dev/null >>"$d/redis.out" 2>&1 &
	pid=$!
	lab_record_pid "$pid" "redis-$name"
	if ! _lab_poll $((5000 * ${LAB_TIME_FACTOR:-1})) _lab_alive_and "$pid" _lab_redis_answers "$name"; then
		diag "lab_redis_start: Redis $name does not answer on $LAB_REDIS_ADDR:$port (or died)"
		_lab_log_tail "$d/redis.log"
		_lab_log_tail "$d/redis.out"
		return 1
	fi
}

lab_redis_up() {
	local pw='' name port primary d
	if [[ ${1:-} == --password ]]; then
		pw=$2
		shift 2
	fi
	name=${1:-} port=${2:-} primary=${3:-}
	if [[ ! $name =~ ^[a-z0-9-]+$ || ! $port =~ ^[0-9]+$ ]]; then
		diag "lab_redis_up: usage: lab_redis_up [--password PW] NAME PORT [PRIMARY]"
		return 1
	fi
	if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
		bail_out "redis-server or redis-cli is not installed (./dev test installs redis-server)"
	fi
	if [[ -n $primary && ! -s $(_lab_redis_dir "$primary")/port ]]; then
		diag "lab_redis_up: no Redis instance $primary to replicate"
		return 1
	fi
	d=$(_lab_redis_dir "$name")
	mkdir -p "$d" || return 1
	chmod 700 "$d"
	echo "$port" >"$d/port"
	printf '%s' "$primary" >"$d/primary"
	(umask 077 && printf '%s' "$pw" >"$d/password")
	lab_redis_start "$name"
}

lab_redis_stop() {
	local pid
	for pid in $(lab_redis_pid "$1"); do
		_lab_stop_pid "$pid"
		_lab_forget_pid "$pid"
	done
	if _lab_redis_answers "$1"; then
		diag "lab_redis_stop: Redis $1 still answers"
		return 1
	fi
}

# ---------------------------------------------------------------- relays

_lab_relay_index() {
	if [[ ! $1 =~ ^r([0-9]{1,2})$ ]]; then
		diag "fleet.sh: a relay is named rI, I from 0 to 99: not '$1'"
		return 1
	fi
	echo $((10#${BASH_REMATCH[1]}))
}

relay_dir() {
	echo "$LAB_DIR/fleet/$1"
}

relay_conf() {
	echo "$LAB_DIR/fleet/$1/tlspolicyd.conf"
}

relay_log() {
	echo "$LAB_DIR/fleet/$1/tlspolicyd.log"
}

relay_pid() {
	cat "$LAB_DIR/fleet/$1/pid" 2>/dev/null
}

relay_port() {
	local i
	i=$(_lab_relay_index "$1") || return 1
	echo $((LAB_RELAY_PORT_BASE + i))
}

relay_metrics_port() {
	local i
	i=$(_lab_relay_index "$1") || return 1
	echo $((LAB_RELAY_METRICS_PORT_BASE + i))
}

lab_relays() {
	local d
	for d in "$LAB_DIR"/fleet/r*/; do
		[[ -d $d ]] && basename "$d"
	done
}

# The fleet's secret, made once: what every relay seals its values with.
_lab_fleet_key() {
	LAB_FLEET_KEY=$LAB_DIR/fleet/key
	[[ -s $LAB_FLEET_KEY ]] && return 0
	mkdir -p "$LAB_DIR/fleet" || return 1
	chmod 755 "$LAB_DIR/fleet"
	(umask 027 && head -c 48 /dev/urandom >"$LAB_FLEET_KEY") || return 1
	chmod 0640 "$LAB_FLEET_KEY"
}

relay_settle() {
	DAEMON_PID=$(relay_pid "$1") daemon_settle
}

relay_tlsp() {
	local name=$1
	shift
	DAEMON_CONF=$(relay_conf "$name") DAEMON_PID=$(relay_pid "$name") tlsp "$@"
}

relay_pmq() {
	DAEMON_PID=$(relay_pid "$1") pmq "$2" "socketmap:inet:127.0.0.1:$(relay_port "$1"):tlspolicy"
}

relay_metrics() {
	ip netns exec "$LAB_NETNS" timeout 5 bash -c \
		'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 && cat <&3' \
		_ "$(relay_metrics_port "$1")" | tr -d '\r' | sed '1,/^$/d'
}

relay_metric() {
	relay_metrics "$1" | awk -v n="$2" '$1 == n { v = $2 } END { print v + 0 }'
}

relay_metric_sum() {
	relay_metrics "$1" | awk -v f="$2" '
		{ name = $1; sub(/\{.*/, "", name) }
		name == f { s += $2 }
		END { print s + 0 }'
}

relay_redis_addrs() {
	local pid port
	pid=$(relay_pid "$1")
	port=$(_lab_redis_port "$2") || return 1
	[[ -n $pid ]] || return 1
	# ss -p names the process behind each socket: the relay's, to Redis.
	ip netns exec "$LAB_NETNS" ss -Htnp state established dst "$LAB_REDIS_ADDR:$port" 2>/dev/null |
		awk -v p="pid=$pid," 'index($0, p) { print $3 }'
}

lab_relay_start() {
	local name=${1:-} redis='' i d pid line settings=() extra=()
	shift
	if [[ ${1:-} == --redis ]]; then
		redis=$2
		shift 2
	fi
	i=$(_lab_relay_index "$name") || return 1
	if [[ -n $(relay_pid "$name") ]] && kill -0 "$(relay_pid "$name")" 2>/dev/null; then
		diag "lab_relay_start: $name runs already"
		return 1
	fi
	# postmap -q reads the sender's main.cf: a sender without a map will do.
	if [[ ! -f $LAB_DIR/sender/main.cf ]]; then
		lab_sender_up "texthash:/dev/null" || return 1
	fi
	d=$(relay_dir "$name")
	mkdir -p "$d" || return 1
	chmod 755 "$LAB_DIR" "$LAB_DIR/fleet" "$d"
	settings=(
		"listen = inet:127.0.0.1:$((LAB_RELAY_PORT_BASE + i)), unix:$d/tlspolicyd.sock"
		"status_listen = unix:$d/status"
		"state_directory = $d/state"
		"control_socket = $d/control"
		"exceptions_file = $d/exceptions"
		"metrics_listen = inet:127.0.0.1:$((LAB_RELAY_METRICS_PORT_BASE + i))"
	)
	if [[ -n $redis ]]; then
		_lab_fleet_key || return 1
		settings+=("redis_server = $(lab_redis_endpoint "$redis")"
			"redis_key_file = $LAB_FLEET_KEY"
			"redis_relay_name = $name")
		if [[ -s $(_lab_redis_dir "$redis")/password ]]; then
			settings+=("redis_password = $(cat "$(_lab_redis_dir "$redis")/password")")
		fi
	fi
	# The caller's settings win over these (one line per name: the daemon
	# refuses a file that sets anything twice).
	for line in "$@"; do
		extra+=("$line")
	done
	for line in "${settings[@]}"; do
		[[ " ${extra[*]%% =*} " == *" ${line%% =*} "* ]] || extra=("$line" "${extra[@]}")
	done
	# The file holds the Redis password: not for others to read.
	(umask 077 && _daemon_conf_text "${extra[@]}" >"$d/tlspolicyd.conf") || return 1
	# Started directly with & so that $! is the daemon, not a subshell.
	ip netns exec "$LAB_NETNS" "${DAEMON_EXEC[@]}" "$TLSPOLICYD" -f -c "$d/tlspolicyd.conf" \
		2>>"$d/tlspolicyd.log" &
	pid=$!
	echo "$pid" >"$d/pid"
	lab_record_pid "$pid" "tlspolicyd-$name"
	for ((i = 0; i < 100 * ${LAB_TIME_FACTOR:-1}; i++)); do
		if relay_tlsp "$name" query '[192.0.2.1]' >/dev/null 2>&1; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			diag "lab_relay_start: tlspolicyd $name exited at start:"
			_lab_log_tail "$d/tlspolicyd.log" 20
			return 1
		fi
		sleep 0.05
	done
	diag "lab_relay_start: tlspolicyd $name did not answer within $((5 * ${LAB_TIME_FACTOR:-1})) s"
	_lab_log_tail "$d/tlspolicyd.log" 20
	return 1
}

lab_relay_stop() {
	local pid rc
	pid=$(relay_pid "$1")
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rc=$?
	_lab_forget_pid "$pid"
	rm -f "$(relay_dir "$1")/pid"
	return $rc
}

lab_fleet_up() {
	local n=${1:-} redis=() i name line settings
	shift
	if [[ ! $n =~ ^[0-9]+$ ]] || ((n < 1 || n > 99)); then
		diag "lab_fleet_up: usage: lab_fleet_up N [--redis NAME] [SETTING...]"
		return 1
	fi
	if [[ ${1:-} == --redis ]]; then
		redis=(--redis "$2")
		shift 2
	fi
	for ((i = 1; i <= n; i++)); do
		name=r$i
		settings=()
		for line in "$@"; do
			if [[ $line =~ ^(r[0-9]+):(.*)$ ]]; then
				[[ ${BASH_REMATCH[1]} == "$name" ]] && settings+=("${BASH_REMATCH[2]}")
			else
				settings+=("$line")
			fi
		done
		lab_relay_start "$name" "${redis[@]}" "${settings[@]}" || return 1
	done
}

lab_fleet_down() {
	local name rc=0 pid d
	for name in $(lab_relays); do
		lab_relay_stop "$name" || rc=1
	done
	for d in "$LAB_DIR"/redis/*/; do
		[[ -d $d ]] || continue
		name=$(basename "$d")
		[[ -n $(lab_redis_pid "$name") ]] && { lab_redis_stop "$name" || rc=1; }
	done
	return $rc
}
