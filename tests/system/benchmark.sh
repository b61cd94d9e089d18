#!/usr/bin/env bash
# System test: redis-benchmark (short: 2000 requests from 16 connections per test) against
# a real 3-node ballotd cluster, through a follower and through the leader. It must finish
# with no error reply (redis-benchmark prints "Error from server" and exits 1 on one) and
# print a rate for every test; afterwards its INCR counter must hold exactly the number of
# INCRs sent (each applied once, none lost). The rates are printed, not asserted.
source "$(dirname "$0")/lib/cluster.bash"
command -v redis-benchmark >/dev/null || { echo "redis-benchmark missing (apt-get install redis-tools)" >&2; exit 1; }
requests=2000

for id in 1 2 3; do start "$id"; done
l=$(wait_leader) && ok || { fail "no leader within 10 s"; cat "$tmp"/n*.log >&2; exit 1; }
f=$(follower_of "$l")

runs=0
for target in "$f" "$l"; do
	role=follower
	[[ $target == "$l" ]] && role=leader
	rc=0
	t0=$(now)
	out=$(timeout 120 redis-benchmark -p "$(port "$target")" -n $requests -c 16 -t set,get,incr,mset -q 2>&1) || rc=$?
	runs=$((runs + 1))
	echo "redis-benchmark through the $role (node $target), $(elapsed "$t0") s:"
	echo "$out" | tr '\r' '\n' | grep -E 'requests per second' | sed 's/^/  /'
	check "redis-benchmark through the $role exits 0 (got $rc)" test "$rc" = 0
	check "no error replies through the $role: $(grep -i -m3 error <<<"$out")" eval '! grep -qi error <<<"$out"'
	for t in SET GET INCR MSET; do
		check "a rate for $t through the $role" eval "tr '\r' '\n' <<<\"\$out\" | grep -qE '^$t[^:]*: [0-9.]+ requests per second'"
	done
	figure "through the $role: $(tr '\r' '\n' <<<"$out" | grep -E 'requests per second' | sed -E 's/: ([0-9.]+) requests per second.*/ \1\/s/' | tr '\n' ' ')"
done

# redis-benchmark without -r uses one key per test: every INCR went to counter:__rand_int__.
got=$(cli "$f" GET counter:__rand_int__)
check "the INCR counter is exactly $((runs * requests)) (got $got)" test "$got" = $((runs * requests))
check "the SET/GET key holds a value of the benchmark's 3 bytes (got $(cli "$f" STRLEN key:__rand_int__))" \
	test "$(cli "$f" STRLEN key:__rand_int__)" = 3

for id in 1 2 3; do
	stop "$id"
	check "SIGTERM: node $id exits 0 (got $stop_rc)" test "$stop_rc" = 0
done
summary
