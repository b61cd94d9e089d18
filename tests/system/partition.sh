#!/usr/bin/env bash
# System test: network partitions with real ballotd processes in network namespaces.
#
# The test builds its own network and leaves the host's untouched: a hub namespace holding
# a bridge (and the clients, at 10.213.0.254) and one namespace per node (10.213.0.1-3),
# each joined to the bridge by a veth pair. Partitions are nftables rules inside the node
# namespaces that drop packets between node addresses; the hub's clients always reach
# every node, so a client can talk to a node that its peers cannot.
#
# Scenarios, each with bounded waits and numbers it prints:
#   1. the leader isolated: the majority elects a leader and takes writes; a write sent to
#      the old leader is refused, never acknowledged; healed, the old leader follows in the
#      new term and holds every acknowledged write;
#   2. a follower isolated under an INCR load: healed, it catches up, and its counter is
#      exactly what the leader applied (acknowledged <= value <= attempted);
#   3. one-way partitions between the leader and a follower, and a partial one: a leader
#      keeps working, no acknowledged write is lost, terms do not churn;
#   4. a node alone for 15 s: pre-vote keeps its term (and so the cluster's) from rising;
#      healed, it rejoins within a bound that does not grow with the partition's length;
#   5. a leader deaf to both followers: a write it answers with a retry-inviting error must
#      not have applied.
# At the end every node, made leader in turn, holds the same data.
#
# Needs root, iproute2 and nftables (scripts/deps.sh --test); skips (exit 77) when it cannot
# create network namespaces. Stops only the processes it started; deletes its namespaces.
set -euo pipefail
export LC_ALL=C
BALLOTD=${BALLOTD:?set BALLOTD to build/bin/ballotd}
BALLOTD=$(realpath "$BALLOTD")

skip() { echo "SKIP: $*" >&2; exit 77; }
[[ $(id -u) == 0 ]] || skip "creating network namespaces needs root"
for tool in ip nft redis-cli; do
	command -v "$tool" >/dev/null || { echo "$tool missing (scripts/deps.sh --test installs it)" >&2; exit 1; }
done

tmp=$(mktemp -d)
prefix=ballot-$$
hub=$prefix-hub
subnet=10.213.0
client_port=7379
peer_port=7000
namespaces=()
pids=()
load_pid=
passed=0
failed=0

cleanup() {
	local rc=$?
	[[ -n $load_pid ]] && kill -9 "$load_pid" 2>/dev/null
	for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if ((rc != 0 && rc != 77)); then
		for id in 1 2 3; do
			[[ -f $tmp/n$id.log ]] || continue
			echo "--- node $id log (last 30 lines) ---" >&2
			tail -n 30 "$tmp/n$id.log" >&2
		done
	fi
	# Deleting a namespace deletes the veth ends and the bridge inside it.
	for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }
ok() { passed=$((passed + 1)); }
die() { echo "FAIL: $*" >&2; failed=$((failed + 1)); echo "$passed passed, $failed failed"; exit 1; }
say() { echo "partition: $*"; }
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# ---- the network ------------------------------------------------------------------------

ns_of() { echo "$prefix-n$1"; }
addr_of() { echo "$subnet.$1"; }

ip netns add "$hub" 2>"$tmp/netns.err" || skip "ip netns add failed: $(cat "$tmp/netns.err") (no CAP_SYS_ADMIN?)"
namespaces+=("$hub")
ip -n "$hub" link set lo up
ip -n "$hub" link add br0 type bridge
ip -n "$hub" addr add "$subnet.254/24" dev br0
ip -n "$hub" link set br0 up
for id in 1 2 3; do
	ns=$(ns_of $id)
	ip netns add "$ns"
	namespaces+=("$ns")
	ip -n "$hub" link add "v$id" type veth peer name eth0 netns "$ns"
	ip -n "$hub" link set "v$id" master br0 up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$(addr_of $id)/24" dev eth0
	ip -n "$ns" link set eth0 up
	# Empty chains for the partitions to fill.
	ip netns exec "$ns" nft -f - <<-EOF
		table inet partition {
			chain input { type filter hook input priority 0; policy accept; }
			chain output { type filter hook output priority 0; policy accept; }
		}
	EOF
done

# drop_from A B: node A stops receiving packets from node B (rules live in A's namespace).
drop_from() { ip netns exec "$(ns_of "$1")" nft add rule inet partition input ip saddr "$(addr_of "$2")" drop; }
# drop_to A B: node A's packets to node B are dropped.
drop_to() { ip netns exec "$(ns_of "$1")" nft add rule inet partition output ip daddr "$(addr_of "$2")" drop; }
# sever A B: nothing passes between A and B, either way.
sever() { drop_from "$1" "$2"; drop_to "$1" "$2"; }
# isolate A: A and the other nodes cannot reach each other (clients in the hub still can).
isolate() {
	local other
	for other in 1 2 3; do [[ $other == "$1" ]] || sever "$1" "$other"; done
}
heal() {
	local id
	for id in 1 2 3; do
		ip netns exec "$(ns_of $id)" nft flush table inet partition
	done
}

# ---- the nodes --------------------------------------------------------------------------

cluster="1=$(addr_of 1):$peer_port,2=$(addr_of 2):$peer_port,3=$(addr_of 3):$peer_port"
start() { # start ID
	ip netns exec "$(ns_of "$1")" "$BALLOTD" --id "$1" --cluster "$cluster" \
		--listen "$(addr_of "$1"):$client_port" --data-dir "$tmp/n$1" 2>>"$tmp/n$1.log" &
	pids[$1]=$! # ip netns exec execs ballotd: this is its PID
}
# cli SECONDS ID ARGS...: redis-cli from the hub to node ID, given up after SECONDS.
cli_within() {
	local secs=$1 id=$2
	shift 2
	timeout "$secs" ip netns exec "$hub" redis-cli -h "$(addr_of "$id")" -p $client_port "$@"
}
cli() { cli_within 5 "$@"; }
# field ID NAME: a field of INFO replication/keyspace (empty if the node does not answer).
field() {
	cli_within 2 "$1" INFO replication keyspace 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p" || true
}
# Every replication field of a node on one line, for the log and for diagnostics.
state() {
	cli_within 2 "$1" INFO replication 2>/dev/null | tr -d '\r' |
		awk -F: '/^(role|term|leader_id|commit_index|applied_index):/ {printf "%s=%s ", $1, $2}' || true
}
leader_among() { # leader_among ID...: the first given node that says it leads
	local id
	for id in "$@"; do
		[[ $(field "$id" role) == leader ]] && { echo "$id"; return 0; }
	done
	return 1
}
# wait_for SECONDS COMMAND...: polls until COMMAND succeeds; fails after SECONDS.
wait_for() {
	local deadline=$(($(now_ms) + $1 * 1000))
	shift
	while (($(now_ms) < deadline)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}
# converged: one leader, every node in its term, following it, applied up to its commit.
converged() {
	local l term commit id
	l=$(leader_among 1 2 3) || return 1
	term=$(field "$l" term)
	commit=$(field "$l" commit_index)
	for id in 1 2 3; do
		[[ $(field $id term) == "$term" ]] || return 1
		[[ $(field $id leader_id) == "$l" ]] || return 1
		[[ $(field $id applied_index) == "$commit" ]] || return 1
	done
}
max_term() {
	local id t m=0
	for id in 1 2 3; do
		t=$(field $id term)
		[[ -n $t ]] && ((t > m)) && m=$t
	done
	echo "$m"
}
wait_leader() { # prints the leader's id once every node follows it
	wait_for "$1" converged || return 1
	leader_among 1 2 3
}

# Acknowledged writes: key -> value, checked on every node at the end.
declare -A acked=()
# write ID KEY VALUE: SET through node ID; records the write if it was acknowledged.
write() {
	local out
	out=$(cli_within 5 "$1" SET "$2" "$3" 2>&1) || true
	[[ $out == OK ]] || return 1
	acked[$2]=$3
}
followers_of() { local id; for id in 1 2 3; do [[ $id == "$1" ]] || echo "$id"; done; }

for id in 1 2 3; do start $id; done
t0=$(now_ms)
l=$(wait_leader 15) || die "no leader within 15 s of starting"
say "initial leader: node $l after $(($(now_ms) - t0)) ms"
ok
for i in 1 2 3 4 5; do write "$l" "before:$i" "v$i" || fail "SET before:$i through the leader"; done

# ---- 1. the leader isolated ----------------------------------------------------------------

old=$l
read -r a b < <(followers_of "$old" | xargs)
old_term=$(field "$old" term)
isolate "$old"
t_cut=$(now_ms)
# A write sent to the isolated leader: it cannot commit, so it must be refused in time.
(
	t=$(now_ms)
	out=$(cli_within 15 "$old" SET isolated:1 lost 2>&1) || true
	echo "$(($(now_ms) - t)) ${out:-<no reply>}" >"$tmp/iso1"
) &
iso1_pid=$!

new=
elected_ms=
deadline=$((t_cut + 10000))
while (($(now_ms) < deadline)); do
	if new=$(leader_among "$a" "$b") && (($(field "$new" term || true) + 0 > old_term)); then
		elected_ms=$(($(now_ms) - t_cut))
		break
	fi
	new=
	sleep 0.05
done
if [[ -n $new ]]; then
	say "1. leader $old isolated: node $new elected in term $(field "$new" term) after $elected_ms ms"
	((elected_ms < 5000)) && ok || fail "electing a new leader took $elected_ms ms (bound 5000)"
else
	die "the majority ($a, $b) elected no leader within 10 s of isolating leader $old"
fi

# Check-quorum: the old leader stops calling itself leader without hearing from anyone.
stepped_ms=
deadline=$((t_cut + 10000))
while (($(now_ms) < deadline)); do
	if [[ $(field "$old" role) != leader ]]; then stepped_ms=$(($(now_ms) - t_cut)); break; fi
	sleep 0.05
done
[[ -n $stepped_ms ]] && ok || fail "isolated old leader $old still says it leads after 10 s"
say "1. isolated old leader $old stopped leading after ${stepped_ms:-?} ms (check-quorum): $(state "$old")"

for i in 1 2 3 4 5; do
	write "$new" "majority:$i" "m$i" || fail "SET majority:$i through the new leader $new"
	write "$a" "majority-via-$a:$i" "a$i" || fail "SET through node $a of the majority"
done
ok

# A second write to the old leader, now a follower with no leader: CLUSTERDOWN, in bounded time.
t=$(now_ms)
out=$(cli_within 15 "$old" SET isolated:2 lost 2>&1) || true
iso2_ms=$(($(now_ms) - t))
say "1. write to the isolated node after it stepped down: '${out:-<no reply>}' after $iso2_ms ms"
[[ -n $out && $out != OK ]] && ok || fail "write to isolated node $old answered '${out:-<no reply within 15 s>}'"
[[ $out == CLUSTERDOWN* || $out == TRYAGAIN* ]] && ok || fail "expected CLUSTERDOWN/TRYAGAIN from isolated node, got '$out'"

wait "$iso1_pid" || true
read -r iso1_ms iso1_out <"$tmp/iso1"
say "1. write sent to the leader as it was isolated: '$iso1_out' after $iso1_ms ms"
[[ $iso1_out != OK ]] && ok || fail "isolated leader $old acknowledged a write it could not commit"
# UNCERTAIN is the honest answer of a leader that lost its quorum with the write in flight.
[[ $iso1_out == TRYAGAIN* || $iso1_out == CLUSTERDOWN* || $iso1_out == UNCERTAIN* ]] && ok || fail "write to the isolated leader: '$iso1_out'"

heal
t_heal=$(now_ms)
l=$(wait_leader 30) || die "no convergence within 30 s of healing: $(for i in 1 2 3; do state $i; echo; done)"
say "1. healed: converged after $(($(now_ms) - t_heal)) ms; $(state "$old")"
[[ $(field "$old" role) == follower && $(field "$old" term) == "$(field "$l" term)" ]] && ok ||
	fail "old leader $old after healing: $(state "$old"), leader: $(state "$l")"
for key in isolated:1 isolated:2; do
	[[ -z $(cli "$l" GET "$key") ]] && ok || fail "$key, never acknowledged and never replicated, exists"
done
# ballotd forwards every read to the leader: to read the old leader's own state machine,
# make it the leader.
transfer_to() { # transfer_to ID: makes node ID the leader (bounded)
	local deadline=$(($(now_ms) + 15000)) cur
	while (($(now_ms) < deadline)); do
		cur=$(leader_among 1 2 3) || { sleep 0.1; continue; }
		[[ $cur == "$1" ]] && return 0
		cli "$cur" BALLOT TRANSFER "$1" >/dev/null 2>&1 || true
		wait_for 2 leader_among "$1" && return 0
	done
	return 1
}
check_acked_on() { # check_acked_on ID: every acknowledged write, read from ID as leader
	local keys=("${!acked[@]}") got i bad=0
	transfer_to "$1" || { fail "could not make node $1 the leader"; return; }
	# One MGET: a value per line (acknowledged values hold no newline), empty if missing.
	mapfile -t got < <(cli "$1" MGET "${keys[@]}" 2>&1 || true)
	for i in "${!keys[@]}"; do
		[[ ${got[i]-} == "${acked[${keys[i]}]}" ]] && continue
		fail "node $1: ${keys[i]} is '${got[i]-}', acknowledged '${acked[${keys[i]}]}'"
		bad=1
	done
	if ((bad == 0)); then ok; fi
}
check_acked_on "$old"
say "1. old leader $old holds all ${#acked[@]} acknowledged writes"

# ---- 2. a follower isolated under a write load ------------------------------------------------

l=$(wait_leader 15) || die "no leader before scenario 2"
f=$(followers_of "$l" | head -n 1)
# The load runs in the hub, which no partition touches: no reply to it is lost.
cat >"$tmp/load.sh" <<EOF
# INCR until the stop file appears (bounded: 60 s or 20000 commands).
end=\$((SECONDS + 60))
for ((i = 0; i < 20000 && SECONDS < end; i++)); do
	[[ -e $tmp/load.stop ]] && break
	echo attempt >>"$tmp/load.out"
	r=\$(timeout 5 redis-cli -h $(addr_of "$l") -p $client_port INCR load:counter 2>&1) || true
	if [[ \$r =~ ^[0-9]+\$ ]]; then echo "ok \$r"; else echo "err \${r:-<no reply>}"; fi >>"$tmp/load.out"
done
EOF
: >"$tmp/load.out"
ip netns exec "$hub" bash "$tmp/load.sh" &
load_pid=$!
sleep 1
f_applied_before=$(field "$f" applied_index)
isolate "$f"
say "2. follower $f isolated under INCR load through leader $l"
sleep 3
f_applied_isolated=$(field "$f" applied_index)
sleep 0.5
f_applied_isolated2=$(field "$f" applied_index)
l_commit_isolated=$(field "$l" commit_index)
[[ $f_applied_isolated == "$f_applied_isolated2" ]] && ((l_commit_isolated > f_applied_isolated2)) && ok ||
	fail "isolated follower $f applied $f_applied_isolated then $f_applied_isolated2 (leader commit $l_commit_isolated): is the partition real?"
say "2. while isolated: follower applied $f_applied_isolated2 (was $f_applied_before), leader commit $l_commit_isolated"
heal
t_heal=$(now_ms)
sleep 1
touch "$tmp/load.stop"
wait "$load_pid" || true
load_pid=
attempted=$(grep -c '^attempt' "$tmp/load.out" || true)
acks=$(grep -c '^ok ' "$tmp/load.out" || true)
errors=$(grep -c '^err ' "$tmp/load.out" || true)
max_ack=$(awk '$1 == "ok" && $2 > m {m = $2} END {print m + 0}' "$tmp/load.out")
dups=$(awk '$1 == "ok" {print $2}' "$tmp/load.out" | sort | uniq -d | wc -l)
say "2. load: $attempted INCRs attempted, $acks acknowledged, $errors errors, highest reply $max_ack"
((acks > 0)) && ok || fail "no INCR acknowledged under the load"
((dups == 0)) && ok || fail "$dups INCR replies repeated a value: an increment applied twice or was lost"
grep '^err ' "$tmp/load.out" | sort | uniq -c | head -n 5 || true

caught_up() { [[ $(field "$f" applied_index) == "$(field "$l" commit_index)" ]]; }
if wait_for 30 caught_up; then
	say "2. follower $f caught up (applied $(field "$f" applied_index)) $(($(now_ms) - t_heal)) ms after healing"
	ok
else
	fail "follower $f did not catch up within 30 s of healing: $(state "$f") leader: $(state "$l")"
fi
transfer_to "$f" || fail "could not make follower $f the leader to read its counter"
value=$(cli "$f" GET load:counter 2>&1) || true
say "2. counter read from node $f: $value (acknowledged $acks, attempted $attempted)"
[[ $value =~ ^[0-9]+$ ]] && ((acks <= value && value <= attempted && max_ack <= value)) && ok ||
	fail "counter on node $f is '$value': outside acknowledged $acks .. attempted $attempted (highest reply $max_ack)"
# Every reply was delivered (the hub is never partitioned), so the value is exact.
((errors == 0)) && { [[ $value == "$acks" ]] && ok || fail "counter $value != $acks acknowledged INCRs, none failed"; }
[[ $value =~ ^[0-9]+$ ]] && acked[load:counter]=$value

# ---- 3. one-way and partial partitions between the leader and a follower --------------------

# one_way NAME SETUP...: runs SETUP (nft rules) for 5 s with writes through the leader, then heals.
one_way() {
	local name=$1 l f term0 term1 leader_changes=0 last_leader writes=0 oks=0 i cur
	shift
	l=$(wait_leader 30) || die "3. $name: no converged leader to start from"
	f=$(followers_of "$l" | head -n 1)
	term0=$(max_term)
	"$@" "$l" "$f"
	last_leader=$l
	local end=$(($(now_ms) + 5000))
	for ((i = 0; i < 100 && $(now_ms) < end; i++)); do
		cur=$(leader_among 1 2 3) || cur=
		[[ -n $cur && $cur != "$last_leader" ]] && { leader_changes=$((leader_changes + 1)); last_leader=$cur; }
		writes=$((writes + 1))
		[[ -n $cur ]] && write "$cur" "oneway:$name:$i" "$i" && oks=$((oks + 1))
		sleep 0.1
	done
	term1=$(max_term)
	say "3. $name (leader $l, follower $f): term $term0 -> $term1 over 5 s, $leader_changes leader changes, $oks/$writes writes acknowledged"
	((term1 - term0 < 20)) && ok || fail "3. $name: the term rose by $((term1 - term0)) in 5 s (endless elections)"
	((oks > 0)) && ok || fail "3. $name: no write acknowledged in 5 s: the cluster lost its working leader"
	heal
	local t_heal
	t_heal=$(now_ms)
	wait_leader 30 >/dev/null || die "3. $name: no convergence within 30 s of healing"
	say "3. $name healed: converged after $(($(now_ms) - t_heal)) ms, term $(max_term)"
}
# The leader hears nothing from the follower, which still hears the leader.
leader_deaf() { drop_from "$1" "$2"; }
# The leader's packets to the follower are lost; the follower's reach the leader.
leader_mute() { drop_to "$1" "$2"; }
# The leader and the follower cannot reach each other; both reach the third node.
partial() { sever "$1" "$2"; }
one_way leader-deaf leader_deaf
one_way leader-mute leader_mute
one_way partial partial

# ---- 4. a node alone: pre-vote keeps its term from rising; it rejoins soon after healing ------

# 15 s: long enough that TCP, left alone, would back its retransmissions off for seconds
# past the healing; a node must rejoin within a bound that does not grow with the partition.
alone_s=15
l=$(wait_leader 30) || die "4: no converged leader"
f=$(followers_of "$l" | tail -n 1)
term0=$(field "$l" term)
isolate "$f"
f_term_max=$term0
end=$(($(now_ms) + alone_s * 1000))
for ((i = 0; i < 100 && $(now_ms) < end; i++)); do
	t=$(field "$f" term)
	[[ -n $t ]] && ((t > f_term_max)) && f_term_max=$t
	write "$l" "alone:$i" "$i" || fail "4. write alone:$i through leader $l while node $f is alone"
	sleep 0.5
done
say "4. node $f alone for $alone_s s: its term $term0 -> at most $f_term_max (role $(field "$f" role))"
((f_term_max - term0 <= 1)) && ok || fail "4. isolated node $f raised its term from $term0 to $f_term_max (pre-vote should stop it)"
heal
t_heal=$(now_ms)
l2=$(wait_leader 30) || die "4. node $f did not rejoin within 30 s of healing: $(state "$f"), leader: $(state "$l")"
rejoin_ms=$(($(now_ms) - t_heal))
term1=$(field "$l2" term)
say "4. healed: node $f rejoined (applied up to the leader's commit) after $rejoin_ms ms; cluster term $term0 -> $term1, leader $l -> $l2"
((rejoin_ms <= 5000)) && ok || fail "4. node $f took $rejoin_ms ms to rejoin after a $alone_s s partition healed (bound 5000)"
((term1 - term0 <= 1)) && ok || fail "4. the cluster's term rose from $term0 to $term1 because of isolated node $f"

# ---- 5. a leader deaf to both followers: a write it refuses must not apply ------------------

# The followers still receive the leader's appends and store its entry; the leader hears
# none of their answers, so check-quorum makes it step down without learning that the entry
# committed, and a new leader (which has the entry) commits it. A reply of TRYAGAIN or
# CLUSTERDOWN tells a client to retry, which is only safe if the write did not apply; an
# outcome the node cannot know needs a reply that says so.
l=$(wait_leader 30) || die "5: no converged leader"
before=$(cli "$l" GET deaf:counter) || true
before=${before:-0}
for o in $(followers_of "$l"); do drop_from "$l" "$o"; done
t=$(now_ms)
out=$(cli_within 15 "$l" INCR deaf:counter 2>&1) || true
say "5. leader $l deaf to both followers: INCR answered '${out:-<no reply>}' after $(($(now_ms) - t)) ms"
heal
l2=$(wait_leader 30) || die "5. no convergence within 30 s of healing"
raw_after=$(cli "$l2" GET deaf:counter) || true
after=${raw_after:-0}
say "5. healed: counter $before -> $after"
if [[ $out =~ ^[0-9]+$ ]]; then
	[[ $after == "$out" ]] && ok || fail "5. INCR acknowledged $out, counter is $after"
elif [[ $after == "$before" ]]; then
	ok
elif [[ $out == TRYAGAIN* || $out == CLUSTERDOWN* ]]; then
	fail "5. the INCR was refused with '$out', which invites a retry, but it applied (counter $before -> $after)"
else
	ok
fi
[[ -n $raw_after ]] && acked[deaf:counter]=$after # checked on every node below, if it exists

# ---- every node holds the same data ---------------------------------------------------------

wait_leader 30 >/dev/null || die "no convergence at the end"
keys=()
for id in 1 2 3; do keys+=("$(field $id db0 | sed 's/,.*//')"); done
say "end: keys per node (INFO keyspace): ${keys[*]}"
[[ ${keys[0]} == "${keys[1]}" && ${keys[1]} == "${keys[2]}" ]] && ok || fail "key counts differ: ${keys[*]}"
digests=()
for id in 1 2 3; do
	check_acked_on "$id"
	dbsize=$(cli "$id" DBSIZE)
	# Every key and its value, as node $id (now the leader) has them.
	mapfile -t all_keys < <(cli "$id" KEYS '*' | sort)
	digest=$(paste -d= <(printf '%s\n' "${all_keys[@]}") <(cli "$id" MGET "${all_keys[@]}") | md5sum | cut -c1-12)
	digests+=("$digest")
	say "end: node $id as leader: DBSIZE $dbsize, data digest $digest"
done
[[ ${digests[0]} == "${digests[1]}" && ${digests[1]} == "${digests[2]}" ]] && ok || fail "the nodes' data differ: ${digests[*]}"
for id in 1 2 3; do
	kill -0 "${pids[$id]}" 2>/dev/null && ok || fail "node $id is not running (crashed?)"
done

echo "$passed passed, $failed failed"
((failed == 0))
