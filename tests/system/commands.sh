#!/usr/bin/env bash
# System test: the Redis commands and protocol of a real ballotd, end to end with redis-cli
# and raw sockets, each answer compared with a real redis-server 7.0 given the same
# requests (Debian's redis-server, on a free port in the test's temp dir, stopped by PID).
# Commands go to a follower of a 3-node cluster (it forwards data commands to the leader);
# AUTH and the ordering of a pipeline are also checked on a single-node cluster started
# with --requirepass. Where ballot differs from Redis on purpose (one database, no RESP3,
# keys that never expire, smaller limits), the test says what ballot answers instead.
source "$(dirname "$0")/lib/cluster.bash"
command -v redis-server >/dev/null || { echo "redis-server missing (apt-get install redis-server)" >&2; exit 1; }
# Elections after 1-2 s of silence instead of 200-400 ms: this test is about answers, and on
# a loaded 2-core machine one 16 MiB write can starve a node of CPU that long (elections are
# durability.sh's subject).
node_flags=(--election-ticks 40 --heartbeat-ticks 4)

for id in 1 2 3; do start "$id"; done
l=$(wait_leader) && ok || { fail "no leader within 10 s"; cat "$tmp"/n*.log >&2; exit 1; }
f=$(follower_of "$l")

# The reference: redis-server 7.0, no persistence, in its own dir.
rport=$((base + 15))
mkdir "$tmp/redis"
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp/redis" \
	--logfile "$tmp/redis/log" &
others+=($!)
wait_until 10 eval '[[ $(timeout 2 redis-cli -p "$rport" PING 2>/dev/null) == PONG ]]' ||
	{ fail "redis-server did not start"; exit 1; }
rversion=$(timeout 5 redis-cli -p "$rport" INFO server | tr -d '\r' | sed -n 's/^redis_version://p')
echo "reference: redis-server $rversion on port $rport; ballotd follower $f on port $(port "$f")"

b() { cli "$f" "$@"; }
oneline() { tr '\n' ' '; }
r() { timeout 10 redis-cli -p "$rport" "$@"; }
# same ARGS...: ballotd and Redis answer the same (redis-cli's rendering of the reply).
same() {
	local ours theirs
	ours=$(b "$@" 2>&1) || true
	theirs=$(r "$@" 2>&1) || true
	if [[ $ours == "$theirs" ]]; then ok; else
		fail "$*: ballotd said '$ours', Redis said '$theirs'"
	fi
}
# same_set ARGS...: the same answer as a set of lines (KEYS has no order).
same_set() {
	local ours theirs
	ours=$(b "$@" | sort) || true
	theirs=$(r "$@" | sort) || true
	if [[ $ours == "$theirs" ]]; then ok; else
		fail "$*: ballotd said '$(oneline <<<"$ours")', Redis said '$(oneline <<<"$theirs")'"
	fi
}
# expect WANT ARGS...: ballotd's answer (where it differs from Redis on purpose).
expect() {
	local want=$1 got
	shift
	got=$(b "$@" 2>&1) || true
	if [[ $got == "$want" ]]; then ok; else fail "$*: expected '$want', got '$got'"; fi
}

echo "== strings: SET NX/XX/GET, GETSET, APPEND, STRLEN, MSET/MGET, TYPE, DBSIZE"
same FLUSHALL
same SET s1 hello
same SET s1 other NX
same GET s1
same SET s1 world XX
same SET nope x XX
same GET nope
same SET s1 again XX GET
same SET s2 first NX GET
same SET s1 v NX XX
same SET s1 v GET GET
same GETSET s1 newer
same GETSET missing x
same GETSET s1
same APPEND s1 "+tail"
same APPEND fresh abc
same STRLEN s1
same STRLEN nothing
same MSET m1 one m2 two m3 three
same MSET m1
same MGET m1 m2 nothing m3
same MGET
same SETNX m1 x
same SETNX m4 four
same INCR n
same INCRBY n 41
same DECRBY n 2
same INCR s1
same INCRBY n notanumber
same INCRBY n 9223372036854775807
same TYPE s1
same TYPE nothing
same EXISTS s1 m1 nothing s1
same DEL m1 nothing
same DBSIZE
same GET
same SET onlykey
same FROBNICATE a b
expect "ERR keys do not expire in ballot: SET EX is not supported" SET e v EX 10

echo "== KEYS patterns and SCAN"
same FLUSHDB
keys=()
for i in $(seq 1 300); do keys+=("user:$i" "u$i"); done
keys+=("a*b" "a?b" "a[b" "hello" "hallo" "hxllo" "heeeello" "h\\llo")
same MSET $(for k in "${keys[@]}"; do printf '%s %s ' "$k" "v-$k"; done)
same DBSIZE
for pattern in '*' 'user:*' 'user:1?' 'u1*' 'h?llo' 'h*llo' 'h[ae]llo' 'h[^e]llo' 'h[a-b]llo' 'a\*b' 'a\?b' 'a\[b' \
	'h\\llo' '[' 'user:[' 'nomatch*' 'user:3[0-9][0-9]'; do
	same_set KEYS "$pattern"
done
same KEYS
same KEYS a b
# scan_all PORT [ARGS]: every key SCAN returns until cursor 0; sets scan_calls.
scan_all() {
	local p=$1 cursor=0 out i
	shift
	scan_calls=0
	for i in $(seq 1 10000); do
		out=$(timeout 10 redis-cli -p "$p" SCAN "$cursor" "$@") || return 1
		cursor=$(head -1 <<<"$out")
		tail -n +2 <<<"$out" | grep -v '^$' || true
		scan_calls=$((scan_calls + 1))
		[[ $cursor == 0 ]] && return 0
	done
	return 1
}
for args in "" "COUNT 7" "MATCH user:* COUNT 10" "MATCH h?llo" "MATCH nomatch* COUNT 1000"; do
	# shellcheck disable=SC2086
	scan_all "$(port "$f")" $args >"$tmp/scan" || fail "SCAN $args did not end"
	calls=$scan_calls
	pattern='*' # what Redis's KEYS says the scan must see
	[[ $args == MATCH* ]] && { pattern=${args#MATCH }; pattern=${pattern%% COUNT*}; }
	expected=$(r KEYS "$pattern" | sort)
	dups=$(sort "$tmp/scan" | uniq -d | head -3)
	check "SCAN 0 $args: no key twice (saw $(oneline <<<"$dups"))" test -z "$dups"
	if [[ $(sort "$tmp/scan") == "$expected" ]]; then ok; else
		fail "SCAN $args: saw $(wc -l <"$tmp/scan") keys, Redis's KEYS $pattern has $(grep -c . <<<"$expected")"
	fi
	figure "SCAN $args: $(wc -l <"$tmp/scan") keys in $calls calls"
done
same SCAN notanumber
same SCAN 0 COUNT 0
same SCAN 0 COUNT -1
same SCAN 0 MATCH
same SCAN 0 BOGUS 1
same SCAN
same FLUSHDB ASYNC
same DBSIZE
same FLUSHALL SYNC
same FLUSHDB extra

echo "== connection commands: CLIENT, CONFIG GET, HELLO, SELECT, PING, ECHO"
# One connection each (redis-cli reads the commands from stdin): a name lives with it.
# Masks what differs between any two servers: HELLO's version and connection id.
masked() { awk 'skip { print "*"; skip = 0; next } { print } /^(version|id)$/ { skip = 1 }'; }
session() { # session ARGS...: the same commands on one connection to each
	local ours theirs
	ours=$(printf '%s\n' "$@" | timeout 10 redis-cli -p "$(port "$f")" 2>&1 | masked) || true
	theirs=$(printf '%s\n' "$@" | timeout 10 redis-cli -p "$rport" 2>&1 | masked) || true
	if [[ $ours == "$theirs" ]]; then ok; else
		fail "session $*: ballotd said '$(oneline <<<"$ours")', Redis said '$(oneline <<<"$theirs")'"
	fi
}
session "CLIENT GETNAME" "CLIENT SETNAME worker-1" "CLIENT GETNAME" "CLIENT SETNAME ''" "CLIENT GETNAME"
session "CLIENT SETNAME 'a b'" "CLIENT GETNAME"
session "CLIENT SETNAME $(printf 'n%.0s' $(seq 1 63))" "CLIENT GETNAME"
session "CLIENT SETNAME é" "CLIENT SETNAME" "CLIENT SETNAME a b" "CLIENT GETNAME x" "CLIENT ID x" "CLIENT"
session "CLIENT BOGUS"
# Redis takes a name of any length; ballot keeps 63 bytes and says so rather than cut it.
expect "ERR client names are limited to 63 bytes in ballot" CLIENT SETNAME "$(printf 'n%.0s' $(seq 1 64))"
session "HELLO 2 SETNAME from-hello" "CLIENT GETNAME"
session "HELLO 2 FOO"
session "HELLO 2 AUTH"
session "HELLO x"
session "HELLO 1"
session "HELLO 4"
session "SELECT 0" "SELECT x" "SELECT 00" "SELECT -1" "SELECT 99999999999" "SELECT"
session "CONFIG GET" "CONFIG"
same_set CONFIG GET maxmemory maxmemory-policy
same_set CONFIG GET 'maxmemory-p*'
same AUTH default anything # no password configured: Redis's default user has none
session "HELLO 2 AUTH default anything" "HELLO 2 AUTH bob anything"
session "PING" "PING hi" "PING a b" "ECHO 'hello world'" "ECHO"
ids=$(printf 'CLIENT ID\nCLIENT ID\n' | timeout 10 redis-cli -p "$(port "$f")")
check "CLIENT ID: a positive integer, the same twice on one connection ($(oneline <<<"$ids"))" \
	eval '[[ $(sort -u <<<"$ids" | wc -l) == 1 && $(head -1 <<<"$ids") =~ ^[1-9][0-9]*$ ]]'
other=$(b CLIENT ID)
check "CLIENT ID: another connection, another id ($other)" test "$other" != "$(head -1 <<<"$ids")"
expect "NOPROTO unsupported protocol version" HELLO 3 # ballot speaks RESP2 only
expect "ERR DB index is out of range" SELECT 1      # one database
expect $'databases\n1' CONFIG GET databases
expect $'maxmemory\n0' CONFIG GET maxmemory
expect $'appendonly\nyes' CONFIG GET appendonly
expect "" CONFIG GET nothing-like-this
out=$(b HELLO 2 | tr '\n' ' ')
check "HELLO 2: $out" eval '[[ $out == "server redis version "*" proto 2 id "* ]]'

echo "== AUTH (--requirepass), on a single-node cluster"
sport=$((base + 14))
"$BALLOTD" --id 1 --cluster "1=127.0.0.1:$((base + 4))" --listen "127.0.0.1:$sport" --data-dir "$tmp/solo" \
	--cluster-id "$cluster_id" --requirepass 's3cret pass' 2>>"$tmp/n-solo.log" &
others+=($!)
rpport=$((base + 16))
redis-server --port "$rpport" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp/redis" \
	--requirepass 's3cret pass' --logfile "$tmp/redis/log2" &
others+=($!)
wait_until 10 eval '[[ $(timeout 2 redis-cli -p "$sport" PING 2>/dev/null) == NOAUTH* ]]' &&
	wait_until 10 eval '[[ $(timeout 2 redis-cli -p "$rpport" PING 2>/dev/null) == NOAUTH* ]]' ||
	fail "single-node ballotd or redis-server with a password did not start"
auth_session() {
	local ours theirs
	ours=$(printf '%s\n' "$@" | timeout 10 redis-cli -p "$sport" 2>&1 | masked) || true
	theirs=$(printf '%s\n' "$@" | timeout 10 redis-cli -p "$rpport" 2>&1 | masked) || true
	if [[ $ours == "$theirs" ]]; then ok; else
		fail "with a password, $*: ballotd said '$(oneline <<<"$ours")', Redis said '$(oneline <<<"$theirs")'"
	fi
}
auth_session "GET k" "SET k v" "PING" "CLIENT ID"
auth_session "AUTH wrong" "GET k"
auth_session "AUTH default wrong" "GET k"
auth_session "AUTH 's3cret pass'" "SET k v" "GET k"
auth_session "AUTH default 's3cret pass'" "GET k"
auth_session "AUTH bob 's3cret pass'" "AUTH Default 's3cret pass'" "GET k"
auth_session "AUTH" "AUTH a b c"
auth_session "HELLO 2" "GET k"
auth_session "HELLO 2 AUTH default nope" "GET k"
auth_session "HELLO 2 AUTH default 's3cret pass' SETNAME h" "CLIENT GETNAME" "GET k"
auth_session "QUIT"
same AUTH anything # no password configured

echo "== a pipeline on one connection runs in order"
for target in "$sport" "$(port "$l")" "$(port "$f")"; do
	out=$("$py" - "$target" "$sport" <<'PY' 2>&1
import sys, redis
r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), socket_timeout=10,
                password="s3cret pass" if sys.argv[1] == sys.argv[2] else None)
stale = 0
for i in range(300):
    p = r.pipeline(transaction=False)
    p.set("pipe:k", str(i)).get("pipe:k").incr("pipe:n").get("pipe:n")
    s, got, n, seen = p.execute()
    stale += got != str(i).encode() or int(seen) != n
print(stale)
PY
)
	check "port $target: a GET pipelined after a SET on one connection sees it (stale in $out of 300 pipelines)" \
		test "$out" = 0
done

echo "== raw sockets: inline commands, malformed RESP, limits, garbage, a client that does not read"
exec 3<>"/dev/tcp/127.0.0.1/$(port "$f")"
printf 'SET typed "by hand"\r\nGET typed\r\n' >&3
IFS= read -r -t 5 l1 <&3 || true
IFS= read -r -t 5 l2 <&3 || true
IFS= read -r -t 5 l3 <&3 || true
exec 3>&-
check "inline commands over /dev/tcp: '$l1' '$l2' '$l3'" test "$l1$l2$l3" = $'+OK\r$7\rby hand\r'
if command -v nc >/dev/null; then
	out=$(printf 'PING\r\nECHO hi\r\nQUIT\r\n' | timeout 5 nc 127.0.0.1 "$(port "$f")" | tr -d '\r' | tr '\n' ' ')
	check "inline commands through nc: $out" test "$out" = '+PONG $2 hi +OK '
fi
term=$(info "$l" term)
pycheck "$py" "$lib/protocol.py" --port "$(port "$l")" --redis-port "$rport" --pid "${pids[$l]}"
check "node $l is still the leader, in the same term ($term; now $(info "$l" role) in $(info "$l" term))" \
	test "$(info "$l" role) $(info "$l" term)" = "leader $term"
check "the leader still serves after all that" test "$(cli "$l" PING)" = PONG
check "the follower still serves after all that" test "$(b SET after raw)" = OK

echo "== limits"
l=$(wait_leader)
f=$(follower_of "$l")
term=$(info "$l" term)
out=$("$py" - "$(port "$f")" <<'PY' 2>&1
import sys, redis
r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), socket_timeout=30)
retries = 0
def err(f):
    # TRYAGAIN (a leader change meanwhile) asks for a retry: up to 3 tries.
    global retries
    for attempt in range(3):
        try:
            f()
            return "accepted"
        except redis.ResponseError as e:
            if not str(e).startswith("TRYAGAIN") or attempt == 2:
                return str(e)
            retries += 1
print(err(lambda: r.set("big", b"x" * (16 * 1024 * 1024 + 1))))
print(err(lambda: r.set(b"k" * (64 * 1024 + 1), b"x")))
print(err(lambda: r.mset({"mbig:%d" % i: b"x" * (1024 * 1024) for i in range(70)})))
print(r.ping())
print("TRYAGAIN retries: %d" % retries)
PY
)
echo "$out"
figure "limits: $(tail -1 <<<"$out"); the term went from $term to $(info "$(wait_leader)" term)"
check "a value past 16 MiB: Redis's error, ballot's limit" \
	grep -qx "string exceeds maximum allowed size (ballot's limit is 16777216 bytes)" <<<"$out"
check "a key past 64 KiB refused" grep -q "key of 65537 bytes is past ballot's limit of 65536 bytes" <<<"$out"
check "a write past the 64 MiB entry limit is refused as too large, not 'out of memory'" \
	eval '! grep -q "out of memory" <<<"$out" && [[ $(sed -n 3p <<<"$out") != accepted ]]'
check "the connection serves after the refusals" test "$(sed -n 4p <<<"$out")" = True

for id in 1 2 3; do
	stop "$id"
	check "SIGTERM: node $id exits 0 (got $stop_rc)" test "$stop_rc" = 0
done
summary
