#!/usr/bin/env bash
# System test: snapshots written while the node goes on (src/ballotd/node_snapshot.c). A
# child process writes each one; BALLOTD_TEST_SNAPSHOT_DELAY_MS holds it at work long enough
# to be caught there. In order:
#   1. while a node's writer is at work, the cluster (that node included) takes writes and
#      reads; then the snapshot is adopted (INFO persistence) and the node's log compacted;
#   2. kill -9 of a node whose writer is at work: the writer goes with it, the node restarts
#      at once on its port and data dir, no temporary file is left, and nothing is lost;
#   3. SIGTERM of a node whose writer is at work: it exits 0 within seconds, writer gone;
#   4. --snapshot-writer thread: the same snapshot written by a pool thread, adopted, and
#      recovered after a restart;
#   5. a snapshot that cannot be written (the data dir made immutable with chattr +i): the
#      failure is reported (INFO, the log) and retried after a pause, the node goes on
#      applying, and once the dir is writable again the next snapshot is written. Skipped
#      where chattr +i is refused.
# Stops only the processes it started.
source "$(dirname "$0")/lib/cluster.bash"
node_flags=(--snapshot-entries 1000000)

persistence() { cli "$1" INFO persistence 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }
keys() { cli "$1" INFO keyspace 2>/dev/null | tr -d '\r' | sed -n 's/^db0:keys=\([0-9]*\),.*/\1/p'; }
caught_up() { local a; a=$(info "$1" applied_index); [[ -n $a && $a -ge $2 ]]; }
in_progress() { [[ $(persistence "$1" snapshot_in_progress) == "$2" ]]; }
# writer_of ID: the pid of node ID's snapshot writer (its child), or nothing.
writer_of() { pgrep -P "${pids[$1]}" 2>/dev/null | head -n 1 || true; }
gone() { ! kill -0 "$1" 2>/dev/null; }
fill() { # fill ID FROM TO: SET k:FROM..k:TO through node ID, pipelined
	seq "$2" "$3" | awk '{ k = "k:" $1; v = "value-" $1
		printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v }' |
		timeout 60 redis-cli -p "$(port "$1")" --pipe >/dev/null 2>&1
}
# all_there ID LAST: node ID answers k:1..k:LAST with their values (sampled) and holds LAST keys.
all_there() {
	local k
	for k in 1 $(($2 / 3)) $(($2 / 2)) "$2"; do
		[[ $(cli "$1" GET "k:$k") == "value-$k" ]] || return 1
	done
	[[ $(keys "$1") == "$2" ]]
}

export BALLOTD_TEST_SNAPSHOT_DELAY_MS=6000 # each snapshot takes 6 s or more
for id in 1 2 3; do start "$id"; done
l=$(wait_leader) || { fail "no leader"; summary; exit 1; }
fill "$l" 1 5000
check "5000 keys written" wait_until 10 all_there "$l" 5000
w=$(follower_of "$l")
wait_until 10 caught_up "$w" "$(info "$l" commit_index)" || true

echo "== 1. the node goes on while its writer is at work"
check "BALLOT SNAPSHOT answers OK" test "$(cli "$w" BALLOT SNAPSHOT)" = OK
check "node $w's writer is at work (snapshot_in_progress:1)" wait_until 5 in_progress "$w" 1
child=$(writer_of "$w")
check "node $w's writer is a child process (${child:-none})" test -n "$child"
check "the writer is ballotd's own (fork)" test "$(persistence "$w" snapshot_writer)" = fork
fork_us=$(cli "$w" INFO stats 2>/dev/null | tr -d '\r' | sed -n 's/^latest_fork_usec://p')
check "INFO stats says how long the fork took (latest_fork_usec:${fork_us:-none})" test "${fork_us:-0}" -gt 0
fill "$w" 5001 6000 # through the node at work: it forwards them to the leader
check "writes through node $w while its writer is at work" test "$(cli "$w" GET k:6000)" = value-6000
check "...and it was still at work after them" in_progress "$w" 1
check "the snapshot is adopted" wait_until 20 in_progress "$w" 0
check "snapshots_taken:1, status ok" test "$(persistence "$w" snapshots_taken),$(persistence "$w" last_snapshot_status)" = 1,ok
# logged ID PID: node ID's log names the writer PID it started, and one snapshot written.
logged() {
	grep -q "snapshot at index [0-9]*: writer process $2 started (fork took [0-9]* us)" "$tmp/n$1.log" &&
		[[ $(grep -c "snapshot at index [0-9]* written: [0-9]* bytes in [0-9]* ms" "$tmp/n$1.log") == 1 ]]
}
check "node $w's log says its writer $child started and the snapshot was written" logged "$w" "$child"
snap=$(info "$w" snapshot_index)
check "node $w's log is compacted up to the snapshot (snapshot_index $snap >= 5000)" test "${snap:-0}" -ge 5000
check "no temporary file in node $w's data dir" test -z "$(find "$(dir "$w")" -name '*.tmp')"

echo "== 2. kill -9 of a node whose writer is at work"
cli "$w" BALLOT SNAPSHOT >/dev/null
wait_until 5 in_progress "$w" 1 || true
child=$(writer_of "$w")
check "node $w's writer is at work (${child:-none})" test -n "$child"
crash "$w"
if [[ -n $child ]]; then
	check "its writer $child goes with it (well before its 6 s are up)" wait_until 3 gone "$child"
fi
start "$w" # at once: on the port and data dir its writer would hold if it had not closed them
l=$(wait_leader) || fail "no leader after the restart"
check "node $w restarts on its port and data dir" wait_until 10 caught_up "$w" "$(info "$l" commit_index)"
check "no temporary file after the restart" test -z "$(find "$(dir "$w")" -name '*.tmp')"
check "node $w holds every key" wait_until 10 all_there "$w" 6000
grep -q "in use" "$tmp/n$w.log" && fail "node $w found its data dir or port in use: $(grep "in use" "$tmp/n$w.log")"

echo "== 3. SIGTERM of a node whose writer is at work"
cli "$w" BALLOT SNAPSHOT >/dev/null
wait_until 5 in_progress "$w" 1 || true
child=$(writer_of "$w")
check "node $w's writer is at work (${child:-none})" test -n "$child"
t0=$(now)
stop "$w"
check "SIGTERM: node $w exits 0 (got $stop_rc)" test "$stop_rc" = 0
figure "node $w stopped in $(elapsed "$t0") s with its writer at work"
if [[ -n $child ]]; then check "its writer $child is gone" gone "$child"; fi

echo "== 4. --snapshot-writer thread"
unset BALLOTD_TEST_SNAPSHOT_DELAY_MS
node_flags+=(--snapshot-writer thread)
start "$w"
l=$(wait_leader) || fail "no leader"
wait_until 10 caught_up "$w" "$(info "$l" commit_index)" || fail "node $w did not catch up"
fill "$l" 6001 7000
wait_until 10 caught_up "$w" "$(info "$l" commit_index)" || true
check "BALLOT SNAPSHOT answers OK" test "$(cli "$w" BALLOT SNAPSHOT)" = OK
check "the snapshot is adopted" wait_until 15 eval '[[ $(persistence "$w" snapshots_taken) == 1 ]]'
check "written by a thread" test "$(persistence "$w" snapshot_writer)" = thread
check "no child process" test -z "$(writer_of "$w")"
snap=$(info "$w" snapshot_index)
check "node $w's snapshot is at $snap >= 7000" test "${snap:-0}" -ge 7000
stop "$w"
start "$w"
check "node $w recovers its snapshot after a restart" wait_until 10 eval '[[ $(info "$w" snapshot_index) == "$snap" ]]'
check "node $w holds every key" wait_until 10 all_there "$w" 7000

echo "== 5. a snapshot that cannot be written"
node_flags=(--snapshot-entries 100) # due again and again: failures must not be retried at every turn
stop "$w"
start "$w"
l=$(wait_leader) || fail "no leader"
wait_until 10 caught_up "$w" "$(info "$l" commit_index)" || true
if chattr +i "$(dir "$w")" 2>/dev/null; then
	cli "$w" BALLOT SNAPSHOT >/dev/null || true
	wait_until 10 eval '[[ $(persistence "$w" snapshot_failures) -ge 1 ]]' || true
	fill "$l" 7001 7500 || true
	wait_until 10 caught_up "$w" "$(info "$l" commit_index)" || true
	applied=$(info "$w" applied_index)
	chattr -i "$(dir "$w")"
	failures=$(persistence "$w" snapshot_failures)
	check "the failures are counted, and retried after a pause, not at every turn (snapshot_failures:$failures)" \
		test "${failures:-0}" -ge 1 -a "${failures:-0}" -le 4
	check "last_snapshot_status:err" test "$(persistence "$w" last_snapshot_status)" = err
	check "the log says why: $(grep -m1 'was not written' "$tmp/n$w.log")" grep -q "was not written" "$tmp/n$w.log"
	check "node $w went on applying (applied index $applied)" caught_up "$w" "$(info "$l" commit_index)"
	check "BALLOT SNAPSHOT answers OK" test "$(cli "$w" BALLOT SNAPSHOT)" = OK
	check "once the dir is writable, the next snapshot is written" \
		wait_until 15 eval '[[ $(persistence "$w" last_snapshot_status) == ok ]]'
	check "node $w's snapshot covers the new writes" wait_until 5 eval '[[ $(info "$w" snapshot_index) -ge $applied ]]'
	check "node $w holds every key" wait_until 10 all_there "$w" 7500
else
	figure "chattr +i refused here (not ext4, or no CAP_LINUX_IMMUTABLE): phase 5 skipped"
fi
summary
