#!/usr/bin/env bash
# System test: durability of a real 3-node ballotd cluster on 127.0.0.1 under crashes and
# damaged data directories (docs/storage.md, "Recovery"), with clients that record what was
# acknowledged. In order:
#   1. a second ballotd on a node's data dir refuses to start (the lock file);
#   2. kill -9 of the leader under a write load: the gap until writes succeed again, every
#      acknowledged write kept, the counter within acknowledged..attempted, the history
#      linearizable (`ballot check`);
#   3. kill -9 of every node after a few thousand pipelined SETs, restart: all there;
#   4. a wiped data dir, the node restarted under its id (a node that lost its disk; the
#      operator's procedure is phase 7's): it catches up by snapshot installation (the
#      leader's log is compacted: --snapshot-entries 200) and ends with every key, read
#      through it as leader;
#   5. a torn write after the last record (a crash mid-write): cut with a warning, rejoins;
#   6. the last record cut short after it was acknowledged: cut with a warning, rejoins;
#   7. a flipped bit in a committed record: the node refuses to start (exit 1) naming the
#      file and offset and what to do, `ballot wal check` agrees; the advice followed (the
#      node removed, wiped, added back empty as node 4 and promoted), every key is there;
#   8. SIGTERM of every node (each exits 0), restart: all there.
# After each phase every acknowledged write is read back. Measured figures are printed as
# "measured: ...". About a minute. Stops only the processes it started.
source "$(dirname "$0")/lib/cluster.bash"
node_flags=(--snapshot-entries 200)
bulk_keys=3000

# caught_up ID INDEX: node ID has applied at least INDEX.
caught_up() { local a; a=$(info "$1" applied_index); [[ -n $a && $a -ge $2 ]]; }
# keys ID: the number of keys in node ID's own state machine (INFO keyspace is local).
keys() { cli "$1" INFO keyspace 2>/dev/null | tr -d '\r' | sed -n 's/^db0:keys=\([0-9]*\),.*/\1/p'; }
# wait_caught_up ID LEADER NAME: node ID applies what LEADER had committed; prints the time.
wait_caught_up() {
	local target t0
	target=$(info "$2" commit_index)
	t0=$(now)
	if wait_until 30 caught_up "$1" "$target"; then
		ok
		figure "$3: node $1 applied index $target in $(elapsed "$t0") s"
	else
		fail "$3: node $1 did not apply index $target within 30 s (it is at $(info "$1" applied_index))"
	fi
}

# rejoin ID NAME: node ID, restarted with less log than the leader counts it for (a wiped
# dir, a lost record), must catch up: with no new write (the leader's heartbeats find the
# gap), and failing that after one write. If neither happens, leadership is moved to the
# third node (a new leader probes every follower afresh) so that the test can go on.
rejoin() {
	local id=$1 name=$2 l target t0 third
	l=$(wait_leader) || { fail "$name: no leader"; return; }
	target=$(info "$l" commit_index)
	t0=$(now)
	if wait_until 5 caught_up "$id" "$target"; then
		ok
		figure "$name: node $id applied index $target in $(elapsed "$t0") s, with no new write"
		return
	fi
	fail "$name: node $id, no new write: applied index $(info "$id" applied_index) after 5 s, the leader" \
		"(node $l) is at $target and counts it at $(cli "$l" INFO replication | tr -d '\r' | grep "id=$id,")"
	cli "$l" SET "rejoin:$name" yes >/dev/null
	target=$(info "$l" commit_index)
	if wait_until 5 caught_up "$id" "$target"; then
		ok
		figure "$name: node $id applied index $target $(elapsed "$t0") s after its restart, after a write"
		return
	fi
	fail "$name: node $id, after a write: applied index $(info "$id" applied_index) after 5 s, the leader is at $target"
	for third in 1 2 3; do [[ $third != "$l" && $third != "$id" ]] && break; done
	echo "(moving leadership from node $l to node $third, so that node $id is probed afresh)"
	cli "$l" BALLOT TRANSFER "$third" >/dev/null || true
	wait_until 10 eval '[[ $(info "$third" role) == leader ]]' || true
	target=$(info "$third" commit_index)
	t0=$(now)
	if wait_until 20 caught_up "$id" "$target"; then
		figure "$name: under a new leader, node $id applied index $target in $(elapsed "$t0") s"
	else
		fail "$name: node $id did not catch up even under a new leader"
	fi
}

# Every acknowledged write of the load's history, and the pipelined keys, read through ID.
verify_all() { # verify_all ID PHASE
	pycheck "$py" "$lib/load.py" verify --port "$(port "$1")" --history "$tmp/history.jsonl"
	local expected got
	expected=$(seq 1 $bulk_keys | sed 's/^/value-/')
	got=$(seq 1 $bulk_keys | sed 's/^/bulk:/' | xargs timeout 30 redis-cli -p "$(port "$1")" MGET)
	if [[ $got == "$expected" ]]; then ok; else
		fail "$2: pipelined keys through node $1: $(diff <(echo "$expected") <(echo "$got") | head -5)"
	fi
}

# The JSON dump's records of a data dir, one per line: "FILE OFFSET INDEX LEN".
records() {
	"$BALLOT" wal dump --json "$1" | "$py" -c '
import json, sys
for line in sys.stdin:
    o = json.loads(line)
    if o["kind"] == "record":
        print(o["file"], o["offset"], o["index"], o["len"])
'
}

for id in 1 2 3; do start "$id"; done
l=$(wait_leader) && ok || { fail "no leader within 10 s"; cat "$tmp"/n*.log >&2; exit 1; }

echo "== two processes, one data dir"
rc=0
timeout 20 "$BALLOTD" --id 1 --listen "127.0.0.1:$((base + 14))" --data-dir "$(dir 1)" \
	--cluster "1=127.0.0.1:$((base + 4)),2=127.0.0.1:$((base + 5)),3=127.0.0.1:$((base + 6))" \
	>/dev/null 2>"$tmp/second.err" || rc=$?
check "a second ballotd on a data dir in use exits 1 (got $rc: $(cat "$tmp/second.err"))" test "$rc" = 1
check "its error names the lock file: $(cat "$tmp/second.err")" \
	grep -qF "data dir $(dir 1) is in use by another process (lock file $(dir 1)/LOCK)" "$tmp/second.err"
check "the first process still serves" test "$(cli 1 PING)" = PONG

echo "== kill -9 of the leader under a write load"
"$py" "$lib/load.py" run --ports "$(port 1),$(port 2),$(port 3)" --seconds 9 --clients 4 \
	--history "$tmp/history.jsonl" 2>"$tmp/load.err" &
writer=$!
others+=("$writer")
sleep 3
kill_time=$(now)
crash "$l"
echo "killed leader $l under load"
wait "$writer" && ok || fail "the load generator failed: $(cat "$tmp/load.err")"
check "no unexpected error replies under load: $(cat "$tmp/load.err")" test ! -s "$tmp/load.err"
survivor=$(follower_of "$l")
pycheck "$py" "$lib/load.py" verify --port "$(port "$survivor")" --history "$tmp/history.jsonl" \
	--kill-time "$kill_time" --gap-max 5
out=$("$BALLOT" check "$tmp/history.jsonl" 2>&1) && ok || fail "history not linearizable: $out"
echo "ballot check: $out"
start "$l"
l2=$(wait_leader) || { fail "no leader after the failover"; l2=$survivor; }
wait_caught_up "$l" "$l2" "restart after kill -9"

echo "== kill -9 of every node after $bulk_keys pipelined SETs"
f=$(follower_of "$l2")
term=$(info "$l2" term)
# The SETs are idempotent: a run that met a leader change (TRYAGAIN) is sent again, whole.
for try in 1 2 3; do
	out=$(seq 1 $bulk_keys | awk '{ k = "bulk:" $1; v = "value-" $1
		printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v }' |
		timeout 60 redis-cli -p "$(port "$f")" --pipe 2>&1) || true
	grep -q "errors: 0, replies: $bulk_keys" <<<"$out" && break
	echo "redis-cli --pipe, try $try: $(grep -m1 -v '^All data' <<<"$out")"
done
check "redis-cli --pipe: $out" grep -q "errors: 0, replies: $bulk_keys" <<<"$out"
figure "$bulk_keys pipelined SETs in $try run(s) of redis-cli --pipe; the term went from $term to $(info "$(wait_leader)" term)"
for id in 1 2 3; do crash "$id"; done
t0=$(now)
for id in 1 2 3; do start "$id"; done
l=$(wait_leader) && ok || fail "no leader after restarting every node"
figure "a leader $(elapsed "$t0") s after restarting all three nodes"
verify_all 1 "after kill -9 of every node"

echo "== a wiped data dir: catch-up by snapshot"
l=$(wait_leader)
w=$(follower_of "$l")
snap=$(info "$l" snapshot_index)
check "the leader has compacted its log (snapshot at $snap)" test "${snap:-0}" -gt 1
stop "$w"
check "SIGTERM: node $w exits 0 (got $stop_rc)" test "$stop_rc" = 0
rm -rf "$(dir "$w")"
start "$w"
# docs/storage.md: "the wiped node rejoins as an empty follower and receives the snapshot
# and the log from the leader".
rejoin "$w" "a wiped data dir"
check "the wiped node holds every key itself (INFO keyspace: $(keys "$w") here, $(keys "$l") on the leader)" \
	test "$(keys "$w")" = "$(keys "$l")"
stop "$w"
first=$(records "$(dir "$w")" | sed -n '1s/^[^ ]* [^ ]* \([0-9]*\) .*/\1/p')
snapshot=$("$BALLOT" wal dump "$(dir "$w")" | grep '^# snapshot' || true)
# Caught up by the snapshot, not by the log from entry 1: the dir holds the snapshot, and
# its log, empty when the snapshot reached the last entry, starts after it.
from_snapshot() { [[ -n $snapshot && ( -z $first || $first -gt 1 ) ]]; }
check "the wiped node holds a snapshot (${snapshot:-none}) and its log starts after it (first entry ${first:-none}), not at 1" from_snapshot
start "$w"
l=$(wait_leader)
wait_until 10 caught_up "$w" "$(info "$l" commit_index)" || true
# Reads through a follower go to the leader: make the wiped node the leader, then read.
out=$(cli "$l" BALLOT TRANSFER "$w")
check "BALLOT TRANSFER $w: $out" test "$out" = OK
check "leadership moves to the wiped node" wait_until 10 eval '[[ $(info "$w" role) == leader ]]'
verify_all "$w" "through the wiped node as leader"

# tear DIR FILE OFFSET LEN: writes LEN zeros at OFFSET of DIR/FILE.
zero() {
	"$py" -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); f.write(bytes(int(sys.argv[3])))' "$1/$2" "$3" "$4"
}

echo "== a torn write after the last record"
# A crash in the middle of writing a record: the record was never acknowledged, and the
# disk holds its first bytes. Made from a copy of the last record, renumbered as the next
# entry, without its last 12 bytes (part of its checksum and its end mark).
l=$(wait_leader)
t=$(follower_of "$l")
stop "$t"
file='' offset=0 index=0 len=0
read -r file offset index len < <(records "$(dir "$t")" | tail -1) || true
size=$((48 + (len + 7) / 8 * 8))
"$py" -c 'import struct, sys
path, at, size, index = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
with open(path, "r+b") as f:
    f.seek(at); rec = bytearray(f.read(size))
    rec[16:24] = struct.pack("<Q", index + 1)
    f.seek(at + size); f.write(rec[:size - 12])' "$(dir "$t")/$file" "$offset" "$size" "$index"
torn_at=$((offset + size))
echo "wrote a torn record for entry $((index + 1)) at $file offset $torn_at"
out=$("$BALLOT" wal check "$(dir "$t")" 2>&1) && ok || fail "wal check of a torn tail exits 0: $out"
check "wal check warns of the torn record: $out" grep -q "torn record at offset $torn_at" <<<"$out"
start "$t"
wait_caught_up "$t" "$l" "after a torn write"
check "node $t logged the cut: $(tail -2 "$tmp/n$t.log")" grep -q "cut a torn record at offset $torn_at" "$tmp/n$t.log"
check "writes go on through node $t" test "$(cli "$t" SET torn:after yes)" = OK
verify_all "$t" "after a torn write"

echo "== the last record cut short"
# The record was synced and acknowledged, and then lost its last bytes: not what a crash
# does, but what the node must survive (the leader and the third node hold the entry).
l=$(wait_leader)
t=$(follower_of "$l")
stop "$t"
read -r file offset index len < <(records "$(dir "$t")" | tail -1) || true
size=$((48 + (len + 7) / 8 * 8))
zero "$(dir "$t")" "$file" $((offset + size - 12)) 12
echo "cut entry $index at $file offset $offset ($size bytes) short"
out=$("$BALLOT" wal check "$(dir "$t")" 2>&1) && ok || fail "wal check of a cut last record exits 0: $out"
check "wal check warns of the torn record: $out" grep -q "torn record at offset $offset" <<<"$out"
start "$t"
check "node $t logged the cut" wait_until 10 grep -q "cut a torn record at offset $offset" "$tmp/n$t.log"
rejoin "$t" "the last record cut"
check "writes go on through node $t" test "$(cli "$t" SET cut:after yes)" = OK
verify_all "$t" "after the last record was cut"

echo "== a flipped bit in a committed record"
l=$(wait_leader)
b=$(follower_of "$l")
commit=$(info "$l" commit_index)
stop "$b"
# The middle one of the committed records with a payload, never the last record.
file='' offset=0 index=0 len=0
read -r file offset index len < <(records "$(dir "$b")" |
	awk -v c="$commit" '$3 <= c && $4 > 0 { r[++m] = $0 } END { if (m > 1) print r[int(m / 2)] }') || true
check "a committed record to damage (commit $commit)" test "$index" -gt 0
flip_at=$((offset + 32 + len / 2))
"$py" -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x10]))' \
	"$(dir "$b")/$file" "$flip_at"
echo "flipped a bit of entry $index (committed up to $commit) at $file offset $flip_at"
rc=0
out=$("$BALLOT" wal check "$(dir "$b")" 2>&1) || rc=$?
check "wal check of a flipped bit exits 1 (got $rc): $out" test "$rc" = 1
check "wal check names the file and offset: $out" grep -qF "$file at offset $offset" <<<"$out"
rc=0
timeout 20 "$BALLOTD" --id "$b" --cluster "$cluster" --listen "127.0.0.1:$(port "$b")" \
	--data-dir "$(dir "$b")" --cluster-id "$cluster_id" "${node_flags[@]}" >/dev/null 2>"$tmp/flip.err" || rc=$?
echo "ballotd on the damaged dir: exit $rc: $(cat "$tmp/flip.err")"
check "ballotd refuses a flipped bit: exit 1 (got $rc)" test "$rc" = 1
check "its error names the file and offset" grep -qF "$file at offset $offset" "$tmp/flip.err"
check "its error says what to do" grep -qF "replace the node (remove it from the cluster, wipe its data dir, add it back under a new id" "$tmp/flip.err"
# Following the advice (docs/storage.md, "Replacing a node whose data is damaged"): node
# $b leaves the configuration and comes back empty as node 4.
l=$(wait_leader)
out=$(cli "$l" BALLOT REMOVE "$b")
check "BALLOT REMOVE $b: $out" test "$out" = OK
check "two voters left" wait_until 10 eval '[[ $(cli "$l" BALLOT MEMBERS | grep -c voter) == 2 ]]'
rm -rf "$(dir "$b")"
start_joiner 4
check "BALLOT ADD 4 $(peer 4)" wait_until 10 eval '[[ $(cli "$l" BALLOT ADD 4 "$(peer 4)") == OK ]]'
wait_caught_up 4 "$l" "replacement node 4 (a learner)"
check "BALLOT PROMOTE 4" wait_until 10 eval '[[ $(cli "$l" BALLOT PROMOTE 4) == OK ]]'
check "three voters again: $(cli "$l" BALLOT MEMBERS | tr '\n' ' ')" \
	wait_until 10 eval '[[ $(cli "$l" BALLOT MEMBERS | grep -c voter) == 3 ]]'
check "node 4 holds every key ($(keys 4) here, $(keys "$l") on the leader)" test "$(keys 4)" = "$(keys "$l")"
verify_all 4 "through the replacement of the damaged node"

echo "== SIGTERM of every node, restart"
members=("${!pids[@]}")
for id in "${members[@]}"; do
	stop "$id"
	check "SIGTERM: node $id exits 0 (got $stop_rc)" test "$stop_rc" = 0
done
t0=$(now)
for id in "${members[@]}"; do start "$id"; done
l=$(wait_leader) && ok || fail "no leader after a full restart"
figure "a leader $(elapsed "$t0") s after restarting nodes ${members[*]}"
verify_all "$(follower_of "$l")" "after SIGTERM of every node"
for id in "${members[@]}"; do
	stop "$id"
	check "SIGTERM: node $id exits 0 (got $stop_rc)" test "$stop_rc" = 0
done
summary
