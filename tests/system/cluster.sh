#!/usr/bin/env bash
# System test: a real 3-node ballotd cluster on 127.0.0.1, driven with redis-cli.
# Writes and reads through any node (followers forward), survives kill -9 of the leader,
# keeps acknowledged data across a full restart. Stops only the processes it started.
set -euo pipefail
BALLOTD=${BALLOTD:?set BALLOTD to build/bin/ballotd}
command -v redis-cli >/dev/null || { echo "redis-cli missing (apt-get install redis-tools)" >&2; exit 1; }
tmp=$(mktemp -d)
base=$((20000 + ($$ % 1200) * 10)) # below the ephemeral ports (32768+)
pids=()
passed=0
failed=0
cleanup() {
	for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }
ok() { passed=$((passed + 1)); }

cluster="1=127.0.0.1:$((base + 1)),2=127.0.0.1:$((base + 2)),3=127.0.0.1:$((base + 3))"
start() { # start ID: node 3 redirects clients to the leader, the others forward
	local mode=forward
	[[ $1 == 3 ]] && mode=redirect
	"$BALLOTD" --id "$1" --cluster "$cluster" --listen "127.0.0.1:$((base + 10 + $1))" \
		--data-dir "$tmp/n$1" --follower $mode 2>>"$tmp/n$1.log" &
	pids[$1]=$!
}
cli() { # cli ID ARGS...
	local id=$1
	shift
	timeout 10 redis-cli -c -p $((base + 10 + id)) "$@" # -c: follows node 3's redirects
}
leader() { # prints the id of the node that says it leads, or nothing
	for id in 1 2 3; do
		if cli "$id" INFO 2>/dev/null | grep -q '^role:leader'; then echo "$id"; return; fi
	done
}
wait_leader() {
	for _ in $(seq 1 100); do
		l=$(leader)
		[[ -n $l ]] && { echo "$l"; return 0; }
		sleep 0.1
	done
	return 1
}

# Bad flags and inconsistent configurations: a clear message, exit 2.
bad() { # bad MESSAGE ARGS...
	local msg=$1 rc=0
	shift
	"$BALLOTD" "$@" >/dev/null 2>"$tmp/bad.err" || rc=$?
	[[ $rc == 2 ]] && grep -qF -- "$msg" "$tmp/bad.err" && ok || fail "ballotd $*: exit $rc: $(cat "$tmp/bad.err")"
}
bad "not a member of --cluster" --id 4 --cluster "$cluster" --data-dir "$tmp/x"
bad "not a numeric IP:port" --id 1 --cluster "1=localhost:7001" --data-dir "$tmp/x"
bad "given twice" --id 1 --cluster "1=127.0.0.1:7001,1=127.0.0.1:7002" --data-dir "$tmp/x"
bad "unknown option" --id 1 --frobnicate 3
bad "give a directory" --id 1 --cluster "$cluster"
bad "give a whole number" --id one --cluster "$cluster" --data-dir "$tmp/x"
bad "give 'forward' or 'redirect'" --id 1 --cluster "$cluster" --data-dir "$tmp/x" --follower bounce
"$BALLOTD" --help | grep -q -- "--data-dir" && ok || fail "--help"

for id in 1 2 3; do start $id; done
l=$(wait_leader) && ok || { fail "no leader within 10 s"; cat "$tmp"/n*.log >&2; exit 1; }

# Admin commands reach the leader through any node: hand leadership to node 1 by asking
# node 2 (which forwards it when it is a follower).
[[ $(cli 2 BALLOT MEMBERS | wc -l) == 3 ]] && ok || fail "BALLOT MEMBERS: $(cli 2 BALLOT MEMBERS)"
if [[ $l != 1 ]]; then
	r=$(cli 2 BALLOT TRANSFER 1)
	[[ $r == OK ]] && ok || fail "BALLOT TRANSFER 1 through node 2: $r"
	for _ in $(seq 1 50); do [[ $(leader) == 1 ]] && break; sleep 0.1; done
fi
l=$(wait_leader)
[[ $l == 1 ]] && ok || fail "leadership did not move to node 1 (leader: $l)"
[[ $(cli 2 BALLOT REMOVE 99) == *"no such member"* ]] && ok || fail "BALLOT REMOVE of a stranger: $(cli 2 BALLOT REMOVE 99)"

# Node 3 redirects: a plain client sees MOVED with the leader's client address; redis-cli -c
# follows it.
r=$(timeout 10 redis-cli -p $((base + 13)) SET moved here)
[[ $r == "MOVED 0 127.0.0.1:$((base + 11))" ]] && ok || fail "redirect from node 3: '$r'"
[[ $(timeout 10 redis-cli -c -p $((base + 13)) SET moved here) == OK ]] && ok || fail "redis-cli -c did not follow MOVED"
[[ $(timeout 10 redis-cli -c -p $((base + 13)) GET moved) == here ]] && ok || fail "redis-cli -c GET through node 3"

[[ $(cli 1 PING) == PONG ]] && ok || fail "PING"
[[ $(cli 1 SET greeting hello) == OK ]] && ok || fail "SET through node 1"
for id in 1 2; do
	[[ $(cli $id GET greeting) == hello ]] && ok || fail "GET through node $id"
done
[[ $(cli 2 INCR counter) == 1 ]] && ok || fail "INCR"
[[ $(cli 3 INCRBY counter 41) == 42 ]] && ok || fail "INCRBY"
[[ $(cli 1 INCR greeting) == "ERR value is not an integer or out of range" ]] && ok || fail "INCR of a string: $(cli 1 INCR greeting)"
[[ $(cli 1 GET nothing) == "" ]] && ok || fail "GET of a missing key"
out=$(printf 'MULTI\nSET a 1\nINCR a\nEXEC\n' | cli 1)
[[ $out == *2* ]] && ok || fail "MULTI/EXEC: $out"
cli 1 INFO replication | grep -q "^commit_index:" && ok || fail "INFO replication"
cli 1 INFO commandstats | grep -q "^cmdstat_set:calls=" && ok || fail "INFO commandstats"
[[ $(cli 1 INFO | grep -c "^# ") -ge 4 ]] && ok || fail "INFO sections"
cli 1 INFO | grep -q "^# Commandstats" && fail "INFO shows commandstats by default" || ok
used=$(cli 1 INFO memory | tr -d '\r' | sed -n 's/^used_memory://p')
[[ ${used:-0} -gt 0 ]] && ok || fail "INFO memory used_memory: ${used:-none}"
# redis-cli --stat reads used_memory, blocked_clients and the persistence fields: every
# column a number (a missing field shows as -9223372036854775808).
stat=$({ timeout 1.5 stdbuf -oL redis-cli -p $((base + 11)) --stat 2>&1 || true; } | sed -n 3p)
[[ -n $stat && $stat != *-9223372036854775808* ]] && ok || fail "redis-cli --stat: '$stat'"

# Python's redis package (Debian's python3-redis): plain commands and a MULTI/EXEC pipeline,
# through a follower.
py=/usr/bin/python3 # Debian's, where python3-redis installs
if $py -c 'import redis' 2>/dev/null; then
	follower=1
	[[ $l == 1 ]] && follower=2
	out=$(timeout 30 $py - "$((base + 10 + follower))" <<'PY' 2>&1
import sys, redis
r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), socket_timeout=10)
assert r.ping()
r.set("py:a", "1")
assert r.get("py:a") == b"1", r.get("py:a")
p = r.pipeline()          # transaction=True: MULTI ... EXEC, one log entry
p.set("py:b", "x").incr("py:a").append("py:b", "yz").get("py:b")
assert p.execute() == [True, 2, 3, b"xyz"], "pipeline"
assert r.mget("py:a", "py:b", "py:none") == [b"2", b"xyz", None]
assert r.delete("py:a", "py:b") == 2
assert r.exists("py:a") == 0
try:
    r.incr("greeting")
    raise SystemExit("INCR of a string did not fail")
except redis.ResponseError as e:
    assert "not an integer" in str(e), e
print("python ok")
PY
)
	[[ $out == "python ok" ]] && ok || fail "python3-redis: $out"
else
	echo "skipped: python3-redis is not installed" >&2
fi

# Kill the leader: the others elect a new one and keep every acknowledged write.
kill -9 "${pids[$l]}"
first=1
[[ $l == 1 ]] && first=2
for _ in $(seq 1 100); do
	r=$(cli "$first" SET after failover 2>/dev/null || true)
	[[ $r == OK ]] && break
	sleep 0.1
done
[[ $r == OK ]] && ok || fail "no write accepted within 10 s of killing leader $l ($r)"
[[ $(cli "$first" GET counter) == 42 ]] && ok || fail "counter after failover"

# Restart the killed node: it catches up.
start "$l"
for _ in $(seq 1 100); do
	[[ $(cli "$l" GET after 2>/dev/null || true) == failover ]] && break
	sleep 0.1
done
[[ $(cli "$l" GET after) == failover ]] && ok || fail "restarted node $l did not catch up"

# Full restart: everything acknowledged is still there.
for id in 1 2 3; do kill -TERM "${pids[$id]}"; done
wait 2>/dev/null || true
for id in 1 2 3; do start $id; done
wait_leader >/dev/null && ok || fail "no leader after a full restart"
[[ $(cli 2 GET greeting) == hello ]] && ok || fail "data lost across a full restart"
[[ $(cli 3 GET counter) == 42 ]] && ok || fail "counter lost across a full restart"

echo "$passed passed, $failed failed"
((failed == 0))
