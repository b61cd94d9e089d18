#!/usr/bin/env bash
# System test of `ballot cluster up`: it starts a local cluster in the foreground that
# redis-cli can use, keeps the data across runs, and stops every node on SIGINT (Ctrl-C)
# with exit 0; bad flags exit 2. Stops only the processes it started.
set -euo pipefail
BALLOT=${BALLOT:?set BALLOT to build/bin/ballot}
command -v redis-cli >/dev/null || { echo "redis-cli missing (apt-get install redis-tools)" >&2; exit 1; }
tmp=$(mktemp -d)
port=$((10000 + ($$ % 1000) * 20)) # below the ephemeral ports (32768+)
up_pid=
cleanup() {
	[[ -n $up_pid ]] && kill -9 "$up_pid" 2>/dev/null || true
	# Nodes still alive after a failed test: only those of this test's data dir.
	pkill -9 -f -- "--data-dir $tmp/" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
passed=0
failed=0
fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }
ok() { passed=$((passed + 1)); }

up() {
	"$BALLOT" cluster up --base-port "$port" --dir "$tmp/data" >"$tmp/out" 2>"$tmp/err" &
	up_pid=$!
}
wait_write() { # the cluster takes a write within 10 s
	for _ in $(seq 1 100); do
		[[ $(timeout 5 redis-cli -p "$port" SET "$1" "$2" 2>/dev/null) == OK ]] && return 0
		sleep 0.1
	done
	return 1
}
stop() { # SIGINT, as Ctrl-C: exit 0 within 15 s, and no node left
	kill -INT "$up_pid"
	local rc=0
	timeout 15 tail --pid="$up_pid" -f /dev/null || rc=$?
	wait "$up_pid" || rc=$?
	up_pid=
	[[ $rc == 0 ]] && ok || fail "cluster up exited $rc on SIGINT: $(cat "$tmp/err")"
	pgrep -f -- "--data-dir $tmp/" >/dev/null && fail "nodes left running" || ok
}

up
wait_write greeting hello && ok || fail "no write accepted: $(cat "$tmp/err" "$tmp"/data/*.log)"
grep -q "redis-cli -p $port" "$tmp/out" && ok || fail "it does not say how to connect: $(cat "$tmp/out")"
[[ $(timeout 5 redis-cli -p $((port + 2)) GET greeting) == hello ]] && ok || fail "read through node 3"
stop

up # again, on the same data
wait_write second run && ok || fail "no write on the second run"
[[ $(timeout 5 redis-cli -p $((port + 1)) GET greeting) == hello ]] && ok || fail "data lost across runs"
stop

rc=0
"$BALLOT" cluster up --nodes 9 2>/dev/null || rc=$?
[[ $rc == 2 ]] && ok || fail "--nodes 9: exit $rc"
rc=0
"$BALLOT" cluster down 2>/dev/null || rc=$?
[[ $rc == 2 ]] && ok || fail "cluster down: exit $rc"

echo "$passed passed, $failed failed"
((failed == 0))
