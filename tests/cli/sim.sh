#!/usr/bin/env bash
# CLI tests of `ballot sim`: output format, determinism (same seed, same bytes and trace
# hash), a clean run over many seeds, and usage errors. Bounded by `timeout`.
set -euo pipefail
BALLOT=${BALLOT:-build/bin/ballot}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }
ok() { passed=$((passed + 1)); }

# Many seeds with every fault: no violation.
rc=0
timeout 600 "$BALLOT" sim --seeds 1..150 --ops 600 >"$tmp/many" 2>"$tmp/many.err" || rc=$?
[[ $rc == 0 ]] && ok || fail "150 seeds: exit $rc: $(grep -A2 violation "$tmp/many" | head -5)"
grep -qx "150 seeds, 0 violations" "$tmp/many" && ok || fail "final line: $(tail -1 "$tmp/many")"
head -1 "$tmp/many" | grep -q "^ballot sim: seeds=1..150 nodes=5 ops=600 clients=5 faults=loss,dup,delay,partition,crash,membership,transfer,snapshot,bitflip " && ok || fail "header: $(head -1 "$tmp/many")"
lines=$(grep -c '^seed=' "$tmp/many")
[[ $lines == 150 ]] && ok || fail "expected 150 seed lines, got $lines"
for key in seed= ops= faults= flips= flips_harmless= corrupt= replaced= elections= max_unavailable_ticks= trace= verdict=ok; do
	bad=$(grep '^seed=' "$tmp/many" | grep -vc " $key\|^$key" || true)
	[[ $bad == 0 ]] && ok || fail "$bad seed lines lack $key"
done
grep -q "client ops/s" "$tmp/many.err" && ok || fail "timing line missing on stderr"

# Bit flips: every flip is found harmless or refused by recovery, and every damaged node is
# replaced (a liveness violation otherwise); with every fault, 150 seeds flip bits.
total_of() { grep '^total: ' "$1" | grep -o " $2=[0-9]*" | cut -d= -f2; }
flips=$(total_of "$tmp/many" flips)
[[ -n $flips && $flips -gt 100 ]] && ok || fail "150 seeds flipped only '$flips' bits"
"$BALLOT" sim --seeds 1..60 --faults crash,bitflip,loss >"$tmp/flips" 2>/dev/null && ok || fail "flips: $(grep -A2 violation "$tmp/flips" | head -3)"
flips=$(total_of "$tmp/flips" flips)
harmless=$(total_of "$tmp/flips" flips_harmless)
corrupt=$(total_of "$tmp/flips" corrupt)
replaced=$(total_of "$tmp/flips" replaced)
[[ $corrupt -gt 0 && $harmless -gt 0 ]] && ok || fail "flips: harmless=$harmless corrupt=$corrupt"
[[ $((harmless + corrupt)) == "$flips" ]] && ok || fail "flips=$flips, but harmless=$harmless + corrupt=$corrupt"
[[ $replaced == "$corrupt" ]] && ok || fail "corrupt=$corrupt, but replaced=$replaced"
# A seed's story: a voter's snapshot is damaged while it is down; recovery refuses it; the
# operator removes it and a new member joins, catches up and becomes a voter. The first such
# seed among 1..60 is told (which one depends on the core's exact message timing).
story=
for seed in $(seq 1 60); do
	"$BALLOT" sim --seed "$seed" --trace >"$tmp/story" 2>"$tmp/story.trace"
	if grep -q "data dir damaged, to be replaced: .*snapshot checksum mismatch" "$tmp/story.trace" &&
		grep -q "has replaced node [0-9]* as a voter" "$tmp/story.trace"; then
		story=$seed
		break
	fi
done
[[ -n $story ]] && ok || fail "no seed in 1..60 replaces a node whose snapshot was damaged"
[[ -z $story ]] || grep -q "verdict=ok" "$tmp/story" && ok || fail "seed $story: $(grep violation "$tmp/story")"

# Same seed, same run: identical standard output, bit for bit.
"$BALLOT" sim --seed 42 --nodes 7 --clients 9 >"$tmp/a" 2>/dev/null
"$BALLOT" sim --seed 42 --nodes 7 --clients 9 >"$tmp/b" 2>/dev/null
cmp -s "$tmp/a" "$tmp/b" && ok || fail "seed 42 twice differs: $(diff "$tmp/a" "$tmp/b" | head -4)"
"$BALLOT" sim --seed 43 --nodes 7 --clients 9 >"$tmp/c" 2>/dev/null
ta=$(grep -o 'trace=[0-9a-f]*' "$tmp/a")
tc=$(grep -o 'trace=[0-9a-f]*' "$tmp/c")
[[ $ta != "$tc" ]] && ok || fail "seeds 42 and 43 have the same trace $ta"

# A range replays its seeds exactly: seed 7 alone equals seed 7 within 1..10.
"$BALLOT" sim --seeds 1..10 | grep '^seed=7 ' >"$tmp/in_range"
"$BALLOT" sim --seed 7 | grep '^seed=7 ' >"$tmp/alone"
cmp -s "$tmp/in_range" "$tmp/alone" && ok || fail "seed 7 differs alone and in a range"

# Three nodes and no faults; seven nodes and all faults.
"$BALLOT" sim --seeds 1..20 --nodes 3 --faults none | grep -q "^20 seeds, 0 violations" && ok || fail "3 nodes, no faults"
"$BALLOT" sim --seeds 1..20 --nodes 7 --faults all | grep -q "^20 seeds, 0 violations" && ok || fail "7 nodes, all faults"

# Usage errors: exit 2 with a message.
usage() {
	local msg=$1
	shift
	rc=0
	"$BALLOT" sim "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
	[[ $rc == 2 ]] && grep -qF -- "$msg" "$tmp/err" && ok || fail "sim $*: exit $rc, stderr: $(cat "$tmp/err")"
}
usage "must be between 3 and 7" --nodes 2
usage "must be between 3 and 7" --nodes 8
usage "unknown fault" --faults loss,gremlins
usage "bitflip, all, none" --faults cosmic-rays
usage "give a range" --seeds 5
usage "the range is empty" --seeds 9..3
usage "unknown option" --bogus
usage "needs a value" --ops
usage "no canaries" --canary double-vote

echo "$passed passed, $failed failed"
((failed == 0))
