#!/usr/bin/env bash
# System test: membership changes through ballotd. A new node starts with --join, is added
# as a learner through a follower, catches up, is promoted; then a member is replaced as an
# operator replaces a node whose disk failed: removed, and a fresh node with a new id added
# in its place. Every acknowledged write survives. Stops only the processes it started.
set -euo pipefail
BALLOTD=${BALLOTD:?set BALLOTD to build/bin/ballotd}
command -v redis-cli >/dev/null || { echo "redis-cli missing (apt-get install redis-tools)" >&2; exit 1; }
tmp=$(mktemp -d)
base=$((10000 + ($$ % 1000) * 20)) # below the ephemeral ports (32768+)
pids=()
passed=0
failed=0
cleanup() {
	for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[[ -n ${KEEP:-} ]] || rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }
ok() { passed=$((passed + 1)); }

peer() { echo "127.0.0.1:$((base + $1))"; }
cluster="1=$(peer 1),2=$(peer 2),3=$(peer 3)"
start() { # start ID [--join]
	local id=$1
	shift
	local members=$cluster
	# A joiner is told where the members are (some may have left: it learns the real
	# configuration from the leader) and where it listens itself.
	[[ ${1:-} == --join ]] && members="1=$(peer 1),2=$(peer 2),3=$(peer 3),4=$(peer 4),5=$(peer 5)"
	"$BALLOTD" --id "$id" --cluster "$members" --listen "127.0.0.1:$((base + 100 + id))" \
		--data-dir "$tmp/n$id" "$@" 2>>"$tmp/n$id.log" &
	pids[$id]=$!
}
cli() { # cli ID ARGS...
	local id=$1
	shift
	timeout 10 redis-cli -p $((base + 100 + id)) "$@"
}
leader() {
	for id in "$@"; do
		if cli "$id" INFO replication 2>/dev/null | grep -q '^role:leader'; then echo "$id"; return; fi
	done
}
until_true() { # until_true SECONDS 'CODE': polls CODE (evaluated anew) every 0.1 s
	local deadline=$((SECONDS + $1))
	until eval "$2"; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}
field() { cli "$1" INFO replication | tr -d '\r' | sed -n "s/^$2://p"; }
members() { cli "$1" BALLOT MEMBERS | sort | tr '\n' ';'; }

for id in 1 2 3; do start $id; done
until_true 10 '[[ -n $(leader 1 2 3) ]]' && ok || { fail "no leader"; cat "$tmp"/n*.log >&2; exit 1; }
l=$(leader 1 2 3)
f=$((l % 3 + 1)) # a follower
for i in $(seq 1 200); do echo "SET key:$i value:$i"; done | cli "$l" >/dev/null
[[ $(cli "$l" INCRBY counter 7) == 7 ]] && ok || fail "INCRBY"

# A joiner starts empty: it must not campaign or lead on its own.
start 4 --join
sleep 1
[[ $(field 4 role) == follower && $(field 4 term) == 0 ]] && ok || fail "joiner campaigned: $(field 4 role) term $(field 4 term)"

# Add it through a follower (forwarded to the leader); it catches up as a learner.
r=$(cli "$f" BALLOT ADD 4 "$(peer 4)")
[[ $r == OK ]] && ok || fail "BALLOT ADD through follower $f: $r"
caught_up() { [[ $(field 4 applied_index) -ge $(field "$l" commit_index) && $(field 4 role) == learner ]]; }
until_true 10 caught_up && ok || fail "learner 4 did not catch up: $(cli 4 INFO replication | tr '\r\n' ' ')"
r=$(cli "$f" BALLOT PROMOTE 4)
[[ $r == OK ]] && ok || fail "BALLOT PROMOTE 4: $r"
until_true 10 '[[ $(cli "$l" BALLOT MEMBERS | grep -c voter) == 4 ]]' && ok || fail "4 voters: $(members "$l")"
[[ $(cli 4 GET key:200) == value:200 ]] && ok || fail "read through the new member"

# Replace a follower that "lost its disk": remove it, wipe it, add a fresh node 5.
victim=$f
[[ $victim == 4 ]] && victim=$((l % 3 + 1))
r=$(cli "$l" BALLOT REMOVE "$victim")
[[ $r == OK ]] && ok || fail "BALLOT REMOVE $victim: $r"
until_true 10 '[[ $(cli "$l" BALLOT MEMBERS | grep -c voter) == 3 ]]' && ok || fail "3 voters after removal: $(members "$l")"
kill -9 "${pids[$victim]}"
rm -rf "$tmp/n$victim"
start 5 --join
[[ $(cli "$l" BALLOT ADD 5 "$(peer 5)") == OK ]] && ok || fail "BALLOT ADD 5"
until_true 10 '[[ $(field 5 role) == learner ]]' && ok || fail "node 5 did not become a learner"
until_true 10 '[[ $(cli "$l" BALLOT PROMOTE 5) == OK ]]' && ok || fail "BALLOT PROMOTE 5"
until_true 10 '[[ $(cli "$l" BALLOT MEMBERS | grep -c voter) == 4 ]]' && ok || fail "4 voters with node 5: $(members "$l")"

# The new configuration carries writes, and survives losing the old leader.
[[ $(cli 5 INCR counter) == 8 ]] && ok || fail "INCR through node 5"
kill -9 "${pids[$l]}"
survivors=()
for id in 1 2 3 4 5; do [[ $id != "$l" && $id != "$victim" ]] && survivors+=("$id"); done
until_true 10 '[[ -n $(leader "${survivors[@]}") ]]' && ok || fail "no leader among ${survivors[*]} after killing $l"
s=${survivors[0]}
until_true 10 '[[ $(cli "$s" INCR counter 2>/dev/null) == 9 ]]' && ok || fail "INCR after failover: $(cli "$s" GET counter)"
[[ $(cli "$s" GET key:1) == value:1 ]] && ok || fail "data after the replacement and failover"

echo "$passed passed, $failed failed"
((failed == 0))
