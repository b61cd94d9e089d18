#!/usr/bin/env bash
# System test: the key-value commands against a real redis-server 7. Starts redis-server
# (no persistence) and a one-node ballotd on free ports below 32768, sends both the same
# command sequences (tests/system/kv_vs_redis.py) and compares every reply byte for byte;
# ballot's deliberate differences are checked against its own expected replies. Skipped
# (exit 77) without redis-server. Stops only the processes it started, by PID.
set -euo pipefail
BALLOTD=${BALLOTD:?set BALLOTD to build/bin/ballotd}
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v redis-server >/dev/null; then
	echo "SKIP: redis-server missing (apt-get install redis-server, or scripts/deps.sh --test)"
	exit 77
fi
tmp=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do
		timeout 10 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -9 "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

port_free() { # port_free PORT: nobody listens on 127.0.0.1:PORT
	python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}
# Three consecutive free ports, below the ephemeral range (32768+).
base=
for try in $(seq 0 20); do
	b=$((12000 + (($$ + try * 37) % 800) * 10))
	if port_free "$b" && port_free $((b + 1)) && port_free $((b + 2)); then
		base=$b
		break
	fi
done
[[ -n $base ]] || { echo "FAIL: no free ports found" >&2; exit 1; }
redis_port=$base
ballot_port=$((base + 1))
peer_port=$((base + 2))

redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
	--daemonize no >"$tmp/redis.log" 2>&1 &
pids+=($!)
"$BALLOTD" --id 1 --cluster "1=127.0.0.1:$peer_port" --listen "127.0.0.1:$ballot_port" \
	--data-dir "$tmp/ballot" 2>"$tmp/ballotd.log" &
pids+=($!)

ready() { # ready PORT: the server takes a write
	for _ in $(seq 1 100); do
		[[ $(timeout 5 redis-cli -p "$1" SET kv_vs_redis:ready 1 2>/dev/null) == OK ]] && return 0
		sleep 0.1
	done
	return 1
}
ready "$redis_port" || { echo "FAIL: redis-server did not start: $(cat "$tmp/redis.log")" >&2; exit 1; }
ready "$ballot_port" || { echo "FAIL: ballotd did not start: $(cat "$tmp/ballotd.log")" >&2; exit 1; }
echo "redis-server $(redis-server --version | grep -o 'v=[0-9.]*') on :$redis_port, ballotd on :$ballot_port"
python3 "$here/kv_vs_redis.py" "$redis_port" "$ballot_port"
