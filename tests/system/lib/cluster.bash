# Sourced by the system tests in tests/system/*.sh: a ballotd cluster on 127.0.0.1 that the
# test starts, stops and damages, and the counting of checks. Every wait is bounded; cleanup
# stops only the processes the test started, by PID.
#
# KEEP_TMP=1 keeps the data dirs and logs for a look afterwards. The sourcing script sets
# nothing first; it may set node_flags (extra ballotd flags for
# every node) before starting nodes. It ends with `summary`.
set -euo pipefail
BALLOTD=${BALLOTD:?set BALLOTD to build/bin/ballotd}
BALLOT=${BALLOT:?set BALLOT to build/bin/ballot}
command -v redis-cli >/dev/null || { echo "redis-cli missing (apt-get install redis-tools)" >&2; exit 1; }
py=/usr/bin/python3 # Debian's, where python3-redis installs
lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

tmp=$(mktemp -d)
pids=()       # pids[ID]: the running ballotd of node ID
others=()     # other processes the test started (writers, redis-server)
node_flags=() # extra flags for every node
passed=0
failed=0

cleanup() {
	local pid
	for pid in "${pids[@]}" "${others[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [[ ${KEEP_TMP:-} == 1 ]]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }
ok() { passed=$((passed + 1)); }
# check NAME COMMAND...: one check, passed if COMMAND succeeds.
check() {
	local name=$1
	shift
	if "$@"; then ok; else fail "$name"; fi
}
# figure TEXT: a measurement, for the log.
figure() { echo "measured: $*"; }

# Free ports: peers on base+1..3, clients on base+11..13, and base+4..6, base+14..16 spare
# for tests that need more. They lie below the kernel's range of ephemeral ports, so that
# no outgoing connection (a client's, a peer's) can hold one while a node restarts; the
# base depends on the PID so that two runs rarely collide.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_base() {
	local try p low=32768 slots
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	slots=$(((low - 10000) / 20))
	((slots > 0)) || { echo "no ports below the ephemeral range (from $low)" >&2; exit 1; }
	for try in $(seq 0 49); do
		base=$((10000 + (($$ + try * 7) % slots) * 20))
		for p in 1 2 3 4 5 6 11 12 13 14 15 16; do port_free $((base + p)) || continue 2; done
		return 0
	done
	echo "no free ports" >&2
	exit 1
}
pick_base
cluster="1=127.0.0.1:$((base + 1)),2=127.0.0.1:$((base + 2)),3=127.0.0.1:$((base + 3))"
# A cluster id of this run's own: nodes of other tests on this machine are refused.
cluster_id=$((RANDOM * 32768 + RANDOM + 2))
port() { echo $((base + 10 + $1)); }
dir() { echo "$tmp/n$1"; }

start() { # start ID: in the background, stderr appended to $tmp/nID.log
	"$BALLOTD" --id "$1" --cluster "$cluster" --listen "127.0.0.1:$(port "$1")" \
		--data-dir "$(dir "$1")" \
		--cluster-id "$cluster_id" "${node_flags[@]}" 2>>"$tmp/n$1.log" &
	pids[$1]=$!
}

# start_joiner ID: a new member (a replacement, ID > 3) started empty with --join, to be
# added with BALLOT ADD ID $(peer ID). Later restarts use start: the member list includes it.
peer() { echo "127.0.0.1:$((base + $1))"; }
start_joiner() {
	cluster="$cluster,$1=$(peer "$1")"
	node_flags_saved=("${node_flags[@]}")
	node_flags+=(--join)
	start "$1"
	node_flags=("${node_flags_saved[@]}")
}

# stop ID: SIGTERM, up to 10 s to exit, then SIGKILL. Sets stop_rc to its exit status.
stop() {
	local pid=${pids[$1]} i
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	stop_rc=0
	wait "$pid" 2>/dev/null || stop_rc=$?
	unset "pids[$1]"
}

crash() { # crash ID: SIGKILL
	local pid=${pids[$1]}
	kill -9 "$pid"
	wait "$pid" 2>/dev/null || true
	unset "pids[$1]"
}

cli() { # cli ID ARGS...
	local id=$1
	shift
	timeout 10 redis-cli -p "$(port "$id")" "$@"
}

# info ID FIELD: a field of INFO replication, answered by node ID itself.
info() { cli "$1" INFO replication 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }

leader() { # the id of a node that says it leads, or nothing
	local id
	for id in "${!pids[@]}"; do
		if [[ $(info "$id" role) == leader ]]; then echo "$id"; return; fi
	done
}
wait_leader() { # prints the leader's id; fails after 10 s without one
	local i l
	for i in $(seq 1 100); do
		l=$(leader)
		[[ -n $l ]] && { echo "$l"; return 0; }
		sleep 0.1
	done
	return 1
}
follower_of() { # follower_of LEADER: a running node other than LEADER
	local id
	for id in "${!pids[@]}"; do [[ $id != "$1" ]] && { echo "$id"; return; }; done
}

# wait_until SECONDS COMMAND...: polls every 0.1 s; fails if COMMAND never succeeds.
wait_until() {
	local limit=$1 i
	shift
	for i in $(seq 1 $((limit * 10))); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

# pycheck COMMAND...: runs a checker that prints "ok NAME: ..." and "FAIL NAME: ..." lines;
# each counts as a check, other lines are figures.
pycheck() {
	local out line rc=0
	out=$("$@" 2>&1) || rc=$?
	while IFS= read -r line; do
		case $line in
		"ok "*) ok ;;
		"FAIL "*) fail "${line#FAIL }" ;;
		*) echo "$line" ;;
		esac
	done <<<"$out"
	[[ $rc == 0 ]] || fail "$* exited with status $rc"
}

# The end of every test: no sanitizer report in any node's log, then the count.
summary() {
	local log
	for log in "$tmp"/n*.log; do
		[[ -e $log ]] || continue
		if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$log"; then
			fail "sanitizer report in $(basename "$log")"
			cat "$log" >&2
		fi
	done
	echo "$passed passed, $failed failed"
	((failed == 0))
}
