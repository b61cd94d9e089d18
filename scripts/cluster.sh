#!/usr/bin/env bash
# Starts (or stops) a local 3-node ballotd cluster on 127.0.0.1 for trying it out:
# clients on ports 6001-6003, peers on 7001-7003, data under ./data/nodeN, logs beside.
#   scripts/cluster.sh start | stop | status
set -euo pipefail
cd "$(dirname "$0")/.."
ballotd=${BALLOTD:-build/bin/ballotd}
cluster="1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003"
case "${1:-start}" in
start)
	[[ -x $ballotd ]] || { scripts/deps.sh && scripts/build.sh >/dev/null; }
	mkdir -p data
	for id in 1 2 3; do
		if [[ -f data/node$id.pid ]] && kill -0 "$(cat data/node$id.pid)" 2>/dev/null; then
			echo "node $id already runs (pid $(cat data/node$id.pid))"
			continue
		fi
		"$ballotd" --id $id --cluster "$cluster" --listen 127.0.0.1:600$id --data-dir data/node$id \
			2>>data/node$id.log &
		echo $! >data/node$id.pid
		echo "node $id: pid $!, clients on 127.0.0.1:600$id, log data/node$id.log"
	done
	echo "try: redis-cli -p 6001 SET hello world; redis-cli -p 6002 GET hello; redis-cli -p 6003 INFO replication"
	;;
stop)
	for id in 1 2 3; do
		[[ -f data/node$id.pid ]] || continue
		kill -TERM "$(cat data/node$id.pid)" 2>/dev/null || true
		rm -f data/node$id.pid
	done
	;;
status)
	for id in 1 2 3; do
		printf 'node %s: ' $id
		redis-cli -p 600$id INFO replication 2>/dev/null | grep -E '^(role|term|leader_id|commit_index)' | tr '\r\n' '  ' || printf 'down'
		echo
	done
	;;
*)
	echo "usage: scripts/cluster.sh start|stop|status" >&2
	exit 2
	;;
esac
