#!/usr/bin/env bash
# compare.sh: ballotd against etcd and Redis on this machine, one system after another with
# the same settings and the same disk (issue 5). See bench/README.md.
#
#   bench/compare.sh [--quick] [--record] [all|table|failover|catchup|memory|disk]...
#
#   table     SET/GET/INCR at 1, 16, 64, 256 clients: a 3-node ballotd cluster (at its leader),
#             a 3-member etcd cluster (wrk + bench/etcd.lua on its JSON gateway), Redis with
#             appendfsync always, Redis with appendfsync everysec, and a Redis primary with two
#             replicas (appendfsync always, every write followed by WAIT 1 0)
#   failover  SIGKILL the leader under write load; longest gap between successful writes,
#             ballotd and etcd, FAILOVER_RUNS runs each
#   catchup   a follower that was down while CATCHUP_MIB of data was written, then the same
#             follower with its data dir wiped, catches up; against the disk's sequential
#             write bandwidth (each wait at most CATCHUP_WAIT_S)
#   memory    resident bytes per key, MEMORY_KEYS keys of 100 bytes: ballotd leader vs Redis
#   disk      bench/disk_sync: 128-byte records, fdatasync per 1/16/64/256 records, 1 and 3
#             processes syncing at once
#   all       every one of the above (the default)
#
#   --quick   2 s per point after 1 s warm-up, 1 and 64 clients, 2 failover runs, smaller
#             catch-up and memory data: a few minutes, for trying
#   --record  also append the results to bench/RESULTS.md
#
# Environment: BENCH_DIR (scratch data, default /var/tmp/ballot-bench.PID; must be a real
# disk, not tmpfs), OUT (results file, default bench/results/compare-DATE.md), KEEP_DATA=1,
# NO_INSTALL=1, POINT_SECONDS, WARMUP_SECONDS, CLIENTS ("1 16 64 256"), FAILOVER_RUNS,
# CATCHUP_MIB, CATCHUP_WAIT_S, MEMORY_KEYS, PORT_BASE, ROUNDS (table: run every system this
# many times in turn and report medians; 1 by default, 3 on a busy machine).
#
# Every server listens on 127.0.0.1 on ports of its own,
# PORT_BASE (default 27300; moved up by 100 while one is taken) + 1-3 ballotd clients, +11-13 ballotd peers, +21-23 etcd clients,
# +31-33 etcd peers, +41-43 Redis. They must lie below
# the ephemeral range (/proc/sys/net/ipv4/ip_local_port_range): there, the thousands of
# client connections a run opens (and their TIME_WAIT) take ports a server restarted later
# then cannot bind. Servers are started
# and stopped by PID here, and every wait has a deadline.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/build/bin
# The exact command, with the settings given in the environment.
ENV_SETTINGS=""
for setting in BENCH_DIR OUT ROUNDS POINT_SECONDS WARMUP_SECONDS CLIENTS FAILOVER_RUNS CATCHUP_MIB \
	CATCHUP_WAIT_S MEMORY_KEYS DISK_SECONDS PORT_BASE KEEP_DATA NO_INSTALL; do
	[[ -z ${!setting:-} ]] || ENV_SETTINGS+="$setting=${!setting@Q} "
done
COMMAND="${ENV_SETTINGS}bench/compare.sh${*:+ $*}"

QUICK=0
RECORD=0
MODES=()
for arg in "$@"; do
	case $arg in
	--quick) QUICK=1 ;;
	--record) RECORD=1 ;;
	all | table | failover | catchup | memory | disk) MODES+=("$arg") ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "compare.sh: unknown argument '$arg' (see --help)" >&2
		exit 2
		;;
	esac
done
((${#MODES[@]} > 0)) || MODES=(all)

if ((QUICK)); then
	: "${POINT_SECONDS:=2}" "${WARMUP_SECONDS:=1}" "${CLIENTS:=1 64}" "${FAILOVER_RUNS:=2}"
	: "${CATCHUP_MIB:=128}" "${CATCHUP_WAIT_S:=30}" "${MEMORY_KEYS:=200000}" "${DISK_SECONDS:=1}"
else
	: "${POINT_SECONDS:=5}" "${WARMUP_SECONDS:=1}" "${CLIENTS:=1 16 64 256}" "${FAILOVER_RUNS:=5}"
	: "${CATCHUP_MIB:=1024}" "${CATCHUP_WAIT_S:=120}" "${MEMORY_KEYS:=1000000}" "${DISK_SECONDS:=2}"
fi
: "${ROUNDS:=1}"
KEYS=100000
VALUE_BYTES=100
FAILOVER_CLIENTS=16
FAILOVER_KILL_AFTER_S=3   # into the measured window
FAILOVER_WINDOW_S=9
FAILOVER_OP_TIMEOUT_MS=300 # a write without a reply by then is retried on the next node
CATCHUP_VALUE_BYTES=4096
START_TIMEOUT_S=30
STOP_TIMEOUT_S=15

STAMP=$(date -u +%Y%m%d-%H%M%S)
WORK=${BENCH_DIR:-/var/tmp/ballot-bench.$$}
OUT=${OUT:-$ROOT/bench/results/compare-$STAMP.md}
RAW_ROWS=$WORK/rows-raw.tsv # per point and round: system op clients ops/s p50 p99 p99.9 cpu/10k errors
TERMS=$WORK/ballotd-terms.tsv # per round: the leader and its term before the first point and after the last
ROWS=$WORK/rows.tsv         # the same, the median over the rounds (errors: their sum)
LOG=$WORK/compare.log

PORT_BASE=${PORT_BASE:-27300}
ballotd_port() { echo $((PORT_BASE + $1)); }      # node 1..3, Redis protocol
ballotd_peer_port() { echo $((PORT_BASE + 10 + $1)); }
etcd_port() { echo $((PORT_BASE + 20 + $1)); }        # member 1..3, client (JSON gateway)
etcd_peer_port() { echo $((PORT_BASE + 30 + $1)); }
init_ports() {
	REDIS_PORTS=($((PORT_BASE + 41)) $((PORT_BASE + 42)) $((PORT_BASE + 43)))
	BALLOTD_CLUSTER="1=127.0.0.1:$(ballotd_peer_port 1),2=127.0.0.1:$(ballotd_peer_port 2),3=127.0.0.1:$(ballotd_peer_port 3)"
	ETCD_CLUSTER="e1=http://127.0.0.1:$(etcd_peer_port 1),e2=http://127.0.0.1:$(etcd_peer_port 2),e3=http://127.0.0.1:$(etcd_peer_port 3)"
}

declare -A NODE_PID   # "system/N" -> pid of a server this script started
ALL_PIDS=()           # every process this script started, for the exit trap

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$LOG" >&2; }
die() {
	log "error: $*"
	exit 1
}

# --- processes ------------------------------------------------------------------------

# Stops the given PIDs: SIGTERM, then SIGKILL after STOP_TIMEOUT_S.
stop_pids() {
	local pid deadline=$((SECONDS + STOP_TIMEOUT_S))
	for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "$@"; do
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

cleanup() {
	local rc=$?
	local live=()
	for pid in "${ALL_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && live+=("$pid"); done
	((${#live[@]} == 0)) || stop_pids "${live[@]}"
	if [[ ${KEEP_DATA:-0} != 1 && -d $WORK ]]; then
		[[ -f $LOG ]] && cp "$LOG" "${OUT%.md}.log" 2>/dev/null || true
		rm -rf "$WORK"
	fi
	exit $rc
}

# wait_until SECONDS WHAT COMMAND...: runs COMMAND every 0.1 s until it succeeds.
wait_until() {
	local limit=$1 what=$2
	shift 2
	local deadline=$((SECONDS + limit))
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || die "timed out after ${limit} s waiting for $what"
		sleep 0.1
	done
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

require_free_ports() {
	local p
	for p in "$@"; do
		! port_busy "$p" || die "port $p on 127.0.0.1 is in use (ss -ltnp shows by whom); pick other ports with PORT_BASE=N"
	done
}

# start NAME LOGFILE COMMAND...: starts a server in the background and remembers its PID.
start() {
	local name=$1 logfile=$2
	shift 2
	"$@" >"$logfile" 2>&1 &
	NODE_PID[$name]=$!
	ALL_PIDS+=($!)
}

# The PIDs of system SYS's servers, comma-separated (for loadgen --cpu-pids).
pids_of() {
	local k out=()
	for k in "${!NODE_PID[@]}"; do [[ $k == "$1"/* ]] && out+=("${NODE_PID[$k]}"); done
	(IFS=,; echo "${out[*]}")
}

stop_system() {
	local k pids=()
	for k in "${!NODE_PID[@]}"; do
		[[ $k == "$1"/* ]] || continue
		pids+=("${NODE_PID[$k]}")
		unset "NODE_PID[$k]"
	done
	((${#pids[@]} == 0)) || stop_pids "${pids[@]}"
}

# utime+stime in seconds of the given PIDs (comma-separated), from /proc/PID/stat.
cpu_seconds() {
	local pid total=0 fields
	for pid in ${1//,/ }; do
		fields=$(sed 's/.*) //' "/proc/$pid/stat") || return 1
		set -- $fields
		total=$((total + ${12} + ${13}))
	done
	awk -v t="$total" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", t / hz }'
}

rss_bytes() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"; }

# --- setup ----------------------------------------------------------------------------

# All the ports of PORT_BASE are free now.
ports_free() {
	local i
	for i in 1 2 3 11 12 13 21 22 23 31 32 33 41 42 43; do
		! port_busy $((PORT_BASE + i)) || return 1
	done
}

# Keeps the ports below the ephemeral range, and moves PORT_BASE up in steps of 100 while
# something else (another user of this machine) listens on one of them.
check_ports() {
	local low tries=0
	low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	until ports_free; do
		((++tries < 20)) || die "no free ports found from PORT_BASE=$PORT_BASE; set PORT_BASE"
		PORT_BASE=$((PORT_BASE + 100))
	done
	((PORT_BASE + 43 < low)) ||
		die "PORT_BASE=$PORT_BASE: ports up to $((PORT_BASE + 43)) reach the ephemeral range (from $low); pick PORT_BASE below $((low - 143))"
	init_ports
	log "ports: $((PORT_BASE + 1))-$((PORT_BASE + 43)) (PORT_BASE=$PORT_BASE)"
}

install_deps() {
	local missing=()
	command -v etcd >/dev/null || missing+=(etcd-server)
	command -v etcdctl >/dev/null || missing+=(etcd-client)
	command -v redis-server >/dev/null || missing+=(redis-server)
	command -v redis-cli >/dev/null || missing+=(redis-tools)
	command -v wrk >/dev/null || missing+=(wrk)
	((${#missing[@]} > 0)) || return 0
	[[ ${NO_INSTALL:-0} != 1 ]] || die "missing: ${missing[*]} (NO_INSTALL=1 is set)"
	((EUID == 0)) || die "missing: ${missing[*]}; run as root, or: sudo apt-get install -y ${missing[*]}"
	log "installing ${missing[*]} from Debian"
	# Keep the packages from starting their system services (which would hold 6379 and
	# 2379): a policy-rc.d that says no, removed again if we put it there.
	local policy=/usr/sbin/policy-rc.d added_policy=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added_policy=1
	fi
	timeout 600 apt-get update -qq >>"$LOG" 2>&1 || die "apt-get update failed (see $LOG)"
	DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq "${missing[@]}" >>"$LOG" 2>&1 ||
		die "apt-get install ${missing[*]} failed (see $LOG)"
	((added_policy == 0)) || rm -f "$policy"
	stop_system_services
}

# If the packages' services run anyway (a machine without policy-rc.d and with systemd),
# stop and disable them: they are not ours to measure and they take ports and CPU.
stop_system_services() {
	local svc
	command -v systemctl >/dev/null || return 0
	for svc in redis-server etcd; do
		if systemctl is-active --quiet "$svc" 2>/dev/null; then
			log "stopping and disabling the system service $svc"
			timeout 60 systemctl disable --now "$svc" >>"$LOG" 2>&1 || true
		fi
	done
}

build() {
	log "building ballot (BUILD_DIR=build scripts/build.sh)"
	(cd "$ROOT" && BUILD_DIR=build timeout 1200 scripts/build.sh >>"$LOG" 2>&1) ||
		die "the build failed (see $LOG)"
	local b
	for b in ballotd loadgen disk_sync; do [[ -x $BIN/$b ]] || die "$BIN/$b was not built"; done
}

check_disk() {
	local fstype
	fstype=$(df --output=fstype "$WORK" | tail -1 | tr -d ' ')
	[[ $fstype != tmpfs && $fstype != ramfs ]] ||
		die "$WORK is on $fstype: set BENCH_DIR to a directory on a real disk"
	DISK_DESC="$(df --output=source,fstype "$WORK" | tail -1 | tr -s ' ') ($WORK)"
}

# --- the systems ----------------------------------------------------------------------

ballotd_role() { timeout 2 redis-cli -p "$1" INFO replication 2>/dev/null | tr -d '\r' | sed -n 's/^role://p'; }
ballotd_field() { timeout 2 redis-cli -p "$1" INFO replication 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }

# Sets LEADER_ID and LEADER_PORT to the node that says role:leader; fails if none does.
ballotd_find_leader() {
	local id
	for id in 1 2 3; do
		if [[ $(ballotd_role "$(ballotd_port "$id")") == leader ]]; then
			LEADER_ID=$id
			LEADER_PORT=$(ballotd_port "$id")
			return 0
		fi
	done
	return 1
}

# Node N's process lives and answers INFO.
ballotd_node_up() {
	kill -0 "${NODE_PID[ballotd/$1]}" 2>/dev/null || die "ballotd node $1 exited: $(tail -2 "$WORK/ballotd/node$1.log")"
	[[ -n $(ballotd_role "$(ballotd_port "$1")") ]]
}

start_ballotd_node() {
	local id=$1 dir=$2
	start "ballotd/$id" "$dir/node$id.log" "$BIN/ballotd" --id "$id" --cluster "$BALLOTD_CLUSTER" \
		--listen "127.0.0.1:$(ballotd_port "$id")" --data-dir "$dir/node$id"
}

start_ballotd() {
	local dir=$WORK/ballotd id
	rm -rf "$dir" && mkdir -p "$dir"
	for id in 1 2 3; do require_free_ports "$(ballotd_port "$id")" "$(ballotd_peer_port "$id")"; done
	for id in 1 2 3; do start_ballotd_node "$id" "$dir"; done
	for id in 1 2 3; do
		wait_until "$START_TIMEOUT_S" "ballotd node $id (see $dir/node$id.log)" ballotd_node_up "$id"
	done
	wait_until "$START_TIMEOUT_S" "a ballotd leader" ballotd_find_leader
	ballotd_find_leader
	log "ballotd: leader is node $LEADER_ID (port $LEADER_PORT), pids $(pids_of ballotd)"
}

etcd_endpoints() { echo "127.0.0.1:$(etcd_port 1),127.0.0.1:$(etcd_port 2),127.0.0.1:$(etcd_port 3)"; }

# Sets LEADER_ID and LEADER_PORT from `etcdctl endpoint status` (its 5th column: is leader).
etcd_find_leader() {
	local line
	line=$(timeout 5 etcdctl --endpoints "$(etcd_endpoints)" endpoint status 2>/dev/null |
		awk -F', ' '$5 == "true" { print $1 }')
	[[ -n $line ]] || return 1
	LEADER_PORT=${line##*:}
	LEADER_ID=$((LEADER_PORT - $(etcd_port 0)))
}

etcd_all_healthy() {
	local i
	for i in 1 2 3; do
		kill -0 "${NODE_PID[etcd/$i]}" 2>/dev/null || die "etcd member $i exited: $(tail -2 "$WORK/etcd/e$i.log")"
	done
	[[ $(timeout 5 etcdctl --endpoints "$(etcd_endpoints)" endpoint health 2>&1 | grep -c 'is healthy') == 3 ]]
}

start_etcd() {
	local dir=$WORK/etcd i client peer
	rm -rf "$dir" && mkdir -p "$dir"
	for i in 1 2 3; do require_free_ports "$(etcd_port "$i")" "$(etcd_peer_port "$i")"; done
	for i in 1 2 3; do
		client=http://127.0.0.1:$(etcd_port "$i")
		peer=http://127.0.0.1:$(etcd_peer_port "$i")
		start "etcd/$i" "$dir/e$i.log" etcd --name "e$i" --data-dir "$dir/e$i" \
			--listen-client-urls "$client" --advertise-client-urls "$client" \
			--listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
			--initial-cluster "$ETCD_CLUSTER" --initial-cluster-state new --initial-cluster-token ballot-bench \
			--logger zap --log-level warn
	done
	wait_until "$START_TIMEOUT_S" "an etcd leader" etcd_find_leader
	wait_until "$START_TIMEOUT_S" "3 healthy etcd members" etcd_all_healthy
	etcd_find_leader
	log "etcd: leader is e$LEADER_ID (port $LEADER_PORT), pids $(pids_of etcd)"
}

# start_redis SYSTEM INDEX FSYNC [replicaof-port]
start_redis() {
	local system=$1 i=$2 fsync=$3 primary=${4:-}
	local port=${REDIS_PORTS[$i]} dir=$WORK/$system/r$i
	mkdir -p "$dir"
	require_free_ports "$port"
	local args=(--port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --daemonize no
		--protected-mode no --appendonly yes --appendfsync "$fsync")
	[[ -z $primary ]] || args+=(--replicaof 127.0.0.1 "$primary")
	start "$system/$i" "$dir/redis.log" redis-server "${args[@]}"
	wait_until "$START_TIMEOUT_S" "redis on port $port" timeout 2 redis-cli -p "$port" PING
}

redis_replicas_online() {
	[[ $(timeout 2 redis-cli -p "$1" INFO replication | tr -d '\r' | grep -c '^slave[0-9]*:.*state=online') == "$2" ]]
}

# Starts SYSTEM (redis-always, redis-everysec or redis-repl); LEADER_PORT is the primary.
start_redis_system() {
	local system=$1
	rm -rf "${WORK:?}/$system"
	case $system in
	redis-always) start_redis "$system" 0 always ;;
	redis-everysec) start_redis "$system" 0 everysec ;;
	redis-repl)
		start_redis "$system" 0 always
		start_redis "$system" 1 always "${REDIS_PORTS[0]}"
		start_redis "$system" 2 always "${REDIS_PORTS[0]}"
		wait_until "$START_TIMEOUT_S" "two online redis replicas" redis_replicas_online "${REDIS_PORTS[0]}" 2
		;;
	esac
	LEADER_PORT=${REDIS_PORTS[0]}
	log "$system: primary on port $LEADER_PORT, pids $(pids_of "$system")"
}

start_system() {
	case $1 in
	ballotd) start_ballotd ;;
	etcd) start_etcd ;;
	*) start_redis_system "$1" ;;
	esac
}

# --- one measured point ---------------------------------------------------------------

# kv KEY LINE: the value of KEY in a line of key=value pairs.
kv() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p" | head -1; }

# record SYSTEM OP CLIENTS LINE CPU_S: appends a row to ROWS from a loadgen/wrk result line.
record() {
	local system=$1 op=$2 clients=$3 line=$4 cpu=$5
	local ops ops_s
	ops=$(kv ops "$line")
	ops_s=$(kv ops_per_s "$line")
	local cpu10k
	cpu10k=$(awk -v c="$cpu" -v n="$ops" 'BEGIN { if (n > 0 && c >= 0) printf "%.3f", c / n * 10000; else print "n/a" }')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$system" "$op" "$clients" "$ops_s" \
		"$(kv p50_ms "$line")" "$(kv p99_ms "$line")" "$(kv p999_ms "$line")" "$cpu10k" \
		"$(kv errors "$line")" >>"$RAW_ROWS"
	log "  $system $op c=$clients: $ops_s ops/s p50 $(kv p50_ms "$line") p99 $(kv p99_ms "$line") ms, cpu/10k $cpu10k s, errors $(kv errors "$line")"
}

# point_resp SYSTEM OP CLIENTS [loadgen args...]: one point through loadgen.
point_resp() {
	local system=$1 op=$2 clients=$3
	shift 3
	local line rc=0
	local limit=$((WARMUP_SECONDS + POINT_SECONDS + 30))
	line=$(timeout "$limit" "$BIN/loadgen" --ports "$LEADER_PORT" --op "$op" --clients "$clients" \
		--keys "$KEYS" --value-bytes "$VALUE_BYTES" --seconds "$POINT_SECONDS" --warmup "$WARMUP_SECONDS" \
		--cpu-pids "$(pids_of "$system")" "$@" 2>>"$LOG") || rc=$?
	((rc == 0)) || log "  warning: loadgen exited $rc for $system $op c=$clients (errors are in the table; see $LOG)"
	[[ -n $line ]] || die "loadgen printed nothing for $system $op c=$clients"
	record "$system" "$op" "$clients" "$line" "$(kv cpu_s "$line")"
}

# point_etcd OP CLIENTS: one point through wrk, warm-up run first; CPU read around the timed run.
point_etcd() {
	local op=$1 clients=$2 path threads line before after
	path=$([[ $op == set ]] && echo put || echo range)
	threads=$((clients < 2 ? clients : 2))
	local url=http://127.0.0.1:$LEADER_PORT script=$ROOT/bench/etcd.lua
	timeout $((WARMUP_SECONDS + 30)) wrk -t "$threads" -c "$clients" -d "${WARMUP_SECONDS}s" --timeout 10s \
		-s "$script" "$url" -- "$path" "$KEYS" "$VALUE_BYTES" >>"$LOG" 2>&1 || die "wrk warm-up failed"
	before=$(cpu_seconds "$(pids_of etcd)")
	line=$(timeout $((POINT_SECONDS + 30)) wrk -t "$threads" -c "$clients" -d "${POINT_SECONDS}s" --timeout 10s \
		-s "$script" "$url" -- "$path" "$KEYS" "$VALUE_BYTES" 2>>"$LOG" | tail -1) || die "wrk failed"
	after=$(cpu_seconds "$(pids_of etcd)")
	[[ $line == ops=* ]] || die "wrk printed no result line for etcd $op c=$clients"
	record etcd "$op" "$clients" "$line" "$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.3f", a - b }')"
}

# fill SYSTEM: writes all KEYS keys once, so GETs find values (not timed).
fill() {
	local system=$1 proto=resp
	[[ $system == etcd ]] && proto=etcd
	timeout 300 "$BIN/loadgen" --proto "$proto" --ports "$LEADER_PORT" --fill "$KEYS" --batch 100 \
		--clients 4 --value-bytes "$VALUE_BYTES" --seconds 240 >>"$LOG" 2>&1 ||
		die "filling $system with $KEYS keys failed (see $LOG)"
}

# The leader's id and term, "ID TERM" (the issue's "no spurious elections under full load").
ballotd_leader_term() { echo "$(ballotd_field "$LEADER_PORT" leader_id) $(ballotd_field "$LEADER_PORT" term)"; }

measure_system() {
	local system=$1 op c before=""
	log "== $system"
	start_system "$system"
	[[ $system == ballotd ]] && before=$(ballotd_leader_term)
	local wait=()
	[[ $system == redis-repl ]] && wait=(--wait 1)
	for op in set get incr; do
		[[ $op == get ]] && fill "$system"
		for c in $CLIENTS; do
			if [[ $system == etcd && $op == incr ]]; then
				printf 'etcd\tincr\t%s\tn/a\tn/a\tn/a\tn/a\tn/a\tn/a\n' "$c" >>"$RAW_ROWS"
			elif [[ $system == etcd ]]; then
				point_etcd "$op" "$c"
			elif [[ $op == get ]]; then
				point_resp "$system" "$op" "$c"
			else
				point_resp "$system" "$op" "$c" "${wait[@]}"
			fi
		done
	done
	if [[ $system == ballotd ]]; then
		# Asked of the first leader: a node that lost leadership names the new one and term.
		printf '%s\t%s\n' "$before" "$(ballotd_leader_term)" >>"$TERMS"
		log "ballotd: leader and term before the first point $before, after the last $(tail -1 "$TERMS" | cut -f2)"
	fi
	stop_system "$system"
}

# --- reports --------------------------------------------------------------------------

# Folds RAW_ROWS into ROWS: per (system, op, clients), the median of each column over the
# rounds, and the sum of the errors; the ops/s range goes into a tenth column.
aggregate_rows() {
	awk -F'\t' -v OFS='\t' '
		function median(k, c,   n, i, j, t, a) {
			n = cnt[k]
			for (i = 1; i <= n; i++) a[i] = v[k, c, i]
			if (a[1] == "n/a") return "n/a"
			for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		{ k = $1 OFS $2 OFS $3; if (!(k in cnt)) order[++keys] = k; n = ++cnt[k]
		  for (c = 4; c <= 9; c++) v[k, c, n] = $c }
		END {
			for (i = 1; i <= keys; i++) {
				k = order[i]; errs = 0; lo = ""; hi = ""
				for (r = 1; r <= cnt[k]; r++) {
					errs += v[k, 9, r]; x = v[k, 4, r]
					if (lo == "" || x + 0 < lo + 0) lo = x
					if (hi == "" || x + 0 > hi + 0) hi = x
				}
				range = lo == "n/a" ? "n/a" : sprintf("%.0f-%.0f", lo, hi)
				print k, median(k, 4), median(k, 5), median(k, 6), median(k, 7), median(k, 8), \
					v[k, 9, 1] == "n/a" ? "n/a" : errs, range
			}
		}' "$RAW_ROWS" >"$ROWS"
}

# Whether the ballotd cluster held one leader in one term through every point of a round.
elections_markdown() {
	awk -F'\t' '{ n++; all = all (n > 1 ? "; " : "") $1
		  if ($1 == $2 && $1 !~ /^ | $/) same++; else bad = bad sprintf(" round %d: %s -> %s;", n, $1, $2) }
		END {
			if (n == 0) exit
			if (same == n) printf "Elections under load: none. In each round the leader that took the first point led every point after it, in the same term (leader id and term, per round: %s).\n", all
			else printf "Elections under load: the leader or its term changed (leader id and term before -> after):%s\n", bad
		}' "$TERMS"
}

table_markdown() {
	local range_head="" range_rule=""
	if ((ROUNDS > 1)); then
		range_head=" ops/s range |"
		range_rule="---|"
	fi
	echo "| system | op | clients | ops/s | p50 ms | p99 ms | p99.9 ms | CPU s/10k ops | errors |$range_head"
	echo "|---|---|---|---|---|---|---|---|---|$range_rule"
	awk -F'\t' -v rounds="$ROUNDS" '{ ops = $4 == "n/a" ? "n/a" : sprintf("%.0f", $4)
		p50 = $5 == "n/a" ? $5 : sprintf("%.3f", $5); p99 = $6 == "n/a" ? $6 : sprintf("%.3f", $6)
		p999 = $7 == "n/a" ? $7 : sprintf("%.3f", $7); cpu = $8 == "n/a" ? $8 : sprintf("%.3f", $8)
		printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |", $1, toupper($2), $3, ops, p50, p99, p999, cpu, $9
		if (rounds > 1) printf " %s |", $10
		printf "\n" }' "$ROWS"
}

# Ratios of ballotd against each peer: throughput (ballotd/peer, above 1 is ballotd faster) and
# p99 (ballotd/peer, below 1 is ballotd's tail lower).
ratios_markdown() {
	local header="| peer | op |" rule="|---|---|" c
	for c in $CLIENTS; do
		header+=" $c clients |"
		rule+="---|"
	done
	echo "$header"
	echo "$rule"
	awk -F'\t' -v clients="$CLIENTS" '
		{ key = $2 SUBSEP $3; if ($1 == "ballotd") { bt[key] = $4; bp[key] = $6 } else { pt[$1, key] = $4; pp[$1, key] = $6; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } } }
		END {
			nc = split(clients, cs, " ")
			for (i = 1; i <= n; i++) {
				split("set get incr", ops, " ")
				for (o = 1; o <= 3; o++) {
					line = "| " order[i] " | " toupper(ops[o]) " |"
					for (j = 1; j <= nc; j++) {
						k = ops[o] SUBSEP cs[j]; p = order[i] SUBSEP k
						if (bt[k] == "" || pt[p] == "" || pt[p] == "n/a" || pt[p] + 0 == 0 || pp[p] + 0 == 0)
							line = line " n/a |"
						else
							line = line sprintf(" %.2fx / %.2fx |", bt[k] / pt[p], bp[k] / pp[p])
					}
					print line
				}
			}
		}' "$ROWS"
}

machine_markdown() {
	echo "- machine: $(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), $(free -g | awk '/^Mem:/ { print $2 }') GiB,"\
		"kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
	echo "- disk: $DISK_DESC"
	echo "- ballot $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src include || echo ' (with local changes)'),"\
		"$(etcd --version | head -1), redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'),"\
		"$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
	echo "- settings: $POINT_SECONDS s per point after $WARMUP_SECONDS s warm-up, clients: $CLIENTS, keys over $KEYS, values $VALUE_BYTES bytes, $ROUNDS round(s)"
}

# --- the modes ------------------------------------------------------------------------

mode_table() {
	: >"$RAW_ROWS"
	: >"$TERMS"
	local system round
	for round in $(seq 1 "$ROUNDS"); do
		((ROUNDS == 1)) || log "== round $round of $ROUNDS"
		for system in ballotd etcd redis-always redis-everysec redis-repl; do measure_system "$system"; done
	done
	aggregate_rows
	{
		echo "### Throughput and latency"
		echo
		echo "Closed loop: each client sends one operation and waits for its reply. ballotd: 3 nodes,"
		echo "load at the leader, GET linearizable (ReadIndex). etcd: 3 members, defaults (fsync on),"
		echo "wrk on the leader's JSON gateway, SET = put, GET = range (linearizable), INCR has no"
		echo "single-request equivalent (n/a). redis-always / redis-everysec: one node, appendonly yes,"
		echo "appendfsync always / everysec. redis-repl: a primary and 2 replicas, all appendfsync"
		echo "always; SET and INCR are each followed by WAIT 1 0 in the same write and timed as one"
		echo "operation; GET goes to the primary alone. GETs run after all $KEYS keys were written."
		echo "CPU: utime+stime of all the system's server processes over the timed window."
		((ROUNDS == 1)) || echo "$ROUNDS rounds of all systems in turn; each figure is the median over the rounds."
		echo
		table_markdown
		echo
		echo "### ballotd against each peer"
		echo
		echo "Each cell: throughput ratio (ballotd ops/s / peer ops/s; above 1, ballotd is faster) /"
		echo "p99 ratio (ballotd p99 / peer p99; below 1, ballotd's tail is lower)."
		echo
		ratios_markdown
		echo
		elections_markdown
		echo
	} >>"$WORK/report.md"
}

# failover_run SYSTEM RUN: one run on a fresh cluster; sets FAILOVER_LINE to loadgen's result.
# (Not called in $(...): a subshell would hide the PIDs it starts from the exit trap.)
failover_run() {
	local system=$1 run=$2 proto=resp ports lg_pid leader_pid
	start_system "$system"
	if [[ $system == etcd ]]; then
		proto=etcd
		ports=$(for i in 0 1 2; do etcd_port $(((LEADER_ID - 1 + i) % 3 + 1)); done | paste -sd,)
	else
		ports=$(for i in 0 1 2; do ballotd_port $(((LEADER_ID - 1 + i) % 3 + 1)); done | paste -sd,)
	fi
	leader_pid=${NODE_PID[$system/$LEADER_ID]}
	timeout $((FAILOVER_WINDOW_S + 40)) "$BIN/loadgen" --proto "$proto" --ports "$ports" --op set \
		--clients "$FAILOVER_CLIENTS" --retry --timeout-ms "$FAILOVER_OP_TIMEOUT_MS" --warmup 1 \
		--seconds "$FAILOVER_WINDOW_S" --seed "$run" >"$WORK/failover.out" 2>>"$LOG" &
	lg_pid=$!
	ALL_PIDS+=("$lg_pid")
	sleep $((1 + FAILOVER_KILL_AFTER_S))
	kill -KILL "$leader_pid"
	wait "$leader_pid" 2>/dev/null || true
	unset "NODE_PID[$system/$LEADER_ID]"
	wait "$lg_pid" || log "  warning: loadgen exited $? in $system failover run $run"
	FAILOVER_LINE=$(cat "$WORK/failover.out")
	stop_system "$system"
}

mode_failover() {
	local system run line gaps
	: >"$WORK/failover.tsv"
	for system in ballotd etcd; do
		log "== failover: $system, $FAILOVER_RUNS runs"
		for run in $(seq 1 "$FAILOVER_RUNS"); do
			failover_run "$system" "$run"
			line=$FAILOVER_LINE
			[[ $line == ops=* ]] || die "no result from the $system failover run $run"
			log "  run $run: longest gap $(kv max_gap_ms "$line") ms at $(kv max_gap_at_s "$line") s" \
				"(leader killed at ${FAILOVER_KILL_AFTER_S} s), $(kv ops_per_s "$line") writes/s, $(kv errors "$line") failed attempts"
			printf '%s\t%s\t%s\t%s\t%s\n' "$system" "$run" "$(kv max_gap_ms "$line")" \
				"$(kv max_gap_at_s "$line")" "$(kv errors "$line")" >>"$WORK/failover.tsv"
		done
	done
	{
		echo "### Failover"
		echo
		echo "$FAILOVER_CLIENTS clients write (SET / put) at the leader; ${FAILOVER_KILL_AFTER_S} s into a ${FAILOVER_WINDOW_S} s window the"
		echo "leader gets SIGKILL. A client whose write fails (error, lost connection, or no reply in"
		echo "$FAILOVER_OP_TIMEOUT_MS ms) reconnects to the next node and goes on. Figure: the longest time between two"
		echo "successful writes in the window. Each run on a fresh cluster."
		echo
		echo "| system | runs | median gap ms | max gap ms | gaps ms (each run) |"
		echo "|---|---|---|---|---|"
		for system in ballotd etcd; do
			gaps=$(awk -F'\t' -v s="$system" '$1 == s { print $3 }' "$WORK/failover.tsv" | sort -n)
			awk -v s="$system" -v all="$(paste -sd' ' <<<"$gaps")" '{ v[NR] = $1 } END {
				m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
				printf "| %s | %d | %.0f | %.0f | %s |\n", s, NR, m, v[NR], all }' <<<"$gaps"
		done
		echo
	} >>"$WORK/report.md"
}

# Sequential write bandwidth of the benchmark disk in MB/s (dd, O_DIRECT, 1 MiB blocks).
disk_bandwidth_mb_s() {
	local mib=$1 out
	out=$(timeout 300 dd if=/dev/zero of="$WORK/dd.dat" bs=1M count="$mib" oflag=direct conv=fdatasync 2>&1) ||
		die "dd failed: $out"
	rm -f "$WORK/dd.dat"
	awk -v mib="$mib" '/copied/ { for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^s,?$/) s = $i
		printf "%.1f", mib * 1048576 / s / 1e6 }' <<<"$out"
}

ballotd_applied() { ballotd_field "$1" applied_index; }
follower_caught_up() { [[ $(ballotd_applied "$1") -ge $2 ]]; }
all_applied() {
	local id
	for id in 1 2 3; do follower_caught_up "$(ballotd_port "$id")" "$1" || return 1; done
}

# catchup_wait NODE TARGET LIMIT: waits until NODE applied TARGET; sets CATCHUP_S to the time
# it took, or to "" if it had not after LIMIT seconds (CATCHUP_APPLIED: where it got).
catchup_wait() {
	local node=$1 target=$2 limit=$3 port t0 deadline
	port=$(ballotd_port "$node")
	t0=$EPOCHREALTIME
	deadline=$((SECONDS + limit))
	CATCHUP_S=""
	while ((SECONDS < deadline)); do
		if follower_caught_up "$port" "$target"; then
			CATCHUP_S=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
			break
		fi
		sleep 0.1
	done
	CATCHUP_APPLIED=$(ballotd_applied "$port")
}

stop_ballotd_node() {
	stop_pids "${NODE_PID[ballotd/$1]}"
	unset "NODE_PID[ballotd/$1]"
}

# catchup_line WHAT: one sentence on the last catchup_wait.
catchup_line() {
	if [[ -z $CATCHUP_S ]]; then
		echo "- $1: **not caught up after $CATCHUP_WAIT_S s** (applied index ${CATCHUP_APPLIED:-?} of $CATCHUP_TARGET)."
		return
	fi
	awk -v s="$CATCHUP_S" -v mib="$CATCHUP_MIB" -v bw="$CATCHUP_BW" -v what="$1" 'BEGIN {
		rate = mib * 1048576 / s / 1e6
		printf "- %s: caught up in **%.1f s**, %.1f MB/s of values, **%.2f of the disk'"'"'s sequential write bandwidth**.\n", what, s, rate, rate / bw }'
}

# Two ways a follower falls behind: it was down while the data was written (it has the
# log's start; the leader sends it the rest), or its data dir was wiped (it has nothing).
mode_catchup() {
	local keys=$((CATCHUP_MIB * 1048576 / CATCHUP_VALUE_BYTES)) follower line leader_bytes lagging wiped
	log "== catch-up: $CATCHUP_MIB MiB in $keys values of $CATCHUP_VALUE_BYTES bytes"
	CATCHUP_BW=$(disk_bandwidth_mb_s "$CATCHUP_MIB")
	log "  disk sequential write (dd oflag=direct, 1 MiB blocks): $CATCHUP_BW MB/s"
	start_ballotd
	follower=$((LEADER_ID % 3 + 1))
	log "  stopping node $follower, then filling through the leader (node $LEADER_ID)"
	stop_ballotd_node "$follower"
	line=$(timeout 900 "$BIN/loadgen" --ports "$LEADER_PORT" --fill "$keys" --batch 16 --pipeline 4 --clients 4 \
		--value-bytes "$CATCHUP_VALUE_BYTES" --seconds 840 2>>"$LOG") || die "filling ballotd failed: $line"
	log "  filled in $(kv seconds "$line") s ($(kv ops_per_s "$line") MSETs of 16 per second)"
	CATCHUP_TARGET=$(ballotd_field "$LEADER_PORT" commit_index)
	leader_bytes=$(du -sb "$WORK/ballotd/node$LEADER_ID" | cut -f1)

	log "  lagging follower: restarting node $follower (leader applied $CATCHUP_TARGET)"
	start_ballotd_node "$follower" "$WORK/ballotd"
	catchup_wait "$follower" "$CATCHUP_TARGET" "$CATCHUP_WAIT_S"
	lagging=$(catchup_line "a follower that was down during the fill, restarted")
	log "  ${lagging#- }"

	log "  wiped follower: stopping node $follower, deleting its data dir, restarting it"
	stop_ballotd_node "$follower"
	rm -rf "$WORK/ballotd/node$follower"
	start_ballotd_node "$follower" "$WORK/ballotd"
	catchup_wait "$follower" "$CATCHUP_TARGET" "$CATCHUP_WAIT_S"
	wiped=$(catchup_line "the same follower with its data dir deleted, restarted")
	log "  ${wiped#- }"
	stop_system ballotd
	{
		echo "### Catch-up"
		echo
		echo "A 3-node ballotd cluster, filled with $CATCHUP_MIB MiB ($keys values of $CATCHUP_VALUE_BYTES bytes, MSET of 16 per"
		echo "entry; the leader's data dir then $((leader_bytes / 1048576)) MiB on disk), while one follower was stopped. Time until"
		echo "that follower's applied index reached the leader's, as MB/s of values against the disk's"
		echo "sequential write bandwidth ($CATCHUP_BW MB/s, dd oflag=direct bs=1M), waiting at most $CATCHUP_WAIT_S s:"
		echo
		echo "$lagging"
		echo "$wiped"
		echo
	} >>"$WORK/report.md"
}

# fill_keys PORT KEYS: MEMORY_KEYS keys of 100 bytes, MSETs of 100.
fill_keys() {
	timeout 600 "$BIN/loadgen" --ports "$1" --fill "$2" --batch 100 --pipeline 4 --clients 4 \
		--value-bytes "$VALUE_BYTES" --seconds 540 >>"$LOG" 2>&1 || die "filling port $1 with $2 keys failed"
}

mode_memory() {
	local before after ballotd_per_key redis_per_key pid target redis_used
	log "== memory: $MEMORY_KEYS keys of $VALUE_BYTES bytes"
	start_ballotd
	pid=${NODE_PID[ballotd/$LEADER_ID]}
	before=$(rss_bytes "$pid")
	fill_keys "$LEADER_PORT" "$MEMORY_KEYS"
	target=$(ballotd_field "$LEADER_PORT" commit_index)
	wait_until 120 "the leader to apply index $target" follower_caught_up "$LEADER_PORT" "$target"
	after=$(rss_bytes "$pid")
	ballotd_per_key=$(((after - before) / MEMORY_KEYS))
	log "  ballotd leader RSS $before -> $after bytes: $ballotd_per_key bytes/key"
	local ballotd_row="| ballotd (leader) | $before | $after | $ballotd_per_key |"
	stop_system ballotd
	rm -rf "${WORK:?}/redis-memory" && mkdir -p "$WORK/redis-memory"
	require_free_ports "${REDIS_PORTS[0]}"
	start redis-memory/0 "$WORK/redis-memory/redis.log" redis-server --port "${REDIS_PORTS[0]}" --bind 127.0.0.1 \
		--dir "$WORK/redis-memory" --save "" --appendonly no --daemonize no
	wait_until "$START_TIMEOUT_S" "redis" timeout 2 redis-cli -p "${REDIS_PORTS[0]}" PING
	pid=${NODE_PID[redis-memory/0]}
	before=$(rss_bytes "$pid")
	fill_keys "${REDIS_PORTS[0]}" "$MEMORY_KEYS"
	after=$(rss_bytes "$pid")
	redis_used=$(timeout 2 redis-cli -p "${REDIS_PORTS[0]}" INFO memory | tr -d '\r' | sed -n 's/^used_memory://p')
	redis_per_key=$(((after - before) / MEMORY_KEYS))
	log "  redis RSS $before -> $after bytes: $redis_per_key bytes/key (used_memory $redis_used)"
	stop_system redis-memory
	{
		echo "### Memory"
		echo
		echo "Resident memory (VmRSS) before and after writing $MEMORY_KEYS keys (key:00000000...) of $VALUE_BYTES-byte values"
		echo "(MSET of 100), after the leader applied them. Redis: one node, no persistence."
		echo
		echo "| system | RSS before | RSS after | bytes per key |"
		echo "|---|---|---|---|"
		echo "$ballotd_row"
		echo "| Redis | $before | $after | $redis_per_key |"
		echo
		awk -v b="$ballotd_per_key" -v r="$redis_per_key" 'BEGIN { if (r > 0) printf "ballotd / Redis: %.2fx bytes per key.\n\n", b / r }'
	} >>"$WORK/report.md"
}

mode_disk() {
	log "== disk: disk_sync in $WORK"
	{
		echo "### The disk's own limit"
		echo
		echo "\`build/bin/disk_sync --dir $WORK --seconds $DISK_SECONDS --procs P\`: 128-byte records, one write"
		echo "and one fdatasync per batch; append grows the file, fallocated writes into blocks reserved"
		echo "with posix_fallocate (as a log segment), prefilled overwrites blocks written before. procs 3:"
		echo "three processes at once, each on its own file, as the three nodes of a cluster on this disk."
		echo "over 5 ms /s: syncs per second slower than 5 ms (stalls; see bench/README.md, disk_sync)."
		echo
		local procs
		for procs in 1 3; do
			timeout 600 "$BIN/disk_sync" --dir "$WORK" --seconds "$DISK_SECONDS" --procs "$procs" ||
				die "disk_sync --procs $procs failed"
			echo
		done
	} >>"$WORK/report.md"
}

# --- main -----------------------------------------------------------------------------

main() {
	mkdir -p "$WORK" "$(dirname "$OUT")"
	: >"$LOG"
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	log "command: $COMMAND"
	check_ports
	install_deps
	stop_system_services
	build
	check_disk
	local start=$SECONDS
	{
		echo "## ballotd against etcd and Redis ($(date -u '+%Y-%m-%d %H:%M UTC'))"
		echo
		echo "Command: \`$COMMAND\`"
		echo
		machine_markdown
		echo
	} >"$WORK/report.md"
	local modes=("${MODES[@]}")
	[[ " ${modes[*]} " != *" all "* ]] || modes=(disk table failover catchup memory)
	local m
	for m in "${modes[@]}"; do "mode_$m"; done
	echo "Whole run: $((SECONDS - start)) s; load average at the end $(cut -d" " -f1-3 /proc/loadavg)." >>"$WORK/report.md"
	cp "$WORK/report.md" "$OUT"
	if ((RECORD)); then
		{
			echo
			cat "$OUT"
		} >>"$ROOT/bench/RESULTS.md"
		log "appended to bench/RESULTS.md"
	fi
	cat "$OUT"
	log "results: $OUT"
	log "command: $COMMAND"
}

main
