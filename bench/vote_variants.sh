#!/usr/bin/env bash
# vote_variants.sh: bench_vote against proposed changes to src/vote/vote.c, without changing it.
#
# Each variant is src/vote/vote.c with some of the patches in bench/variants/ applied, in a
# temporary directory. It is compiled with the build's flags and linked into bench_vote
# ahead of build/lib/libballot.a (so the library's own vote.o is not used). The variants run
# ROUNDS times, interleaved, so drift on a shared machine hits them alike; the script prints
# the median over rounds of each figure.
#
#   baseline       vote.c as it is
#   dispatch       xxh3-dispatch.patch: XXH3 through libxxhash's run-time CPU dispatch
#   tally          tally-scalars.patch: zero only the counters of the per-vote tally
#   compare-first  compare-first.patch: no hashing below 5 answers, memcmp only
#   all            the three patches together
#
# environment:
#   BUILD       the build directory with lib/libballot.a (default build under the repository)
#   ROUNDS      runs of each variant, 1..20 (default 3)
#   BENCH_ARGS  arguments for bench_vote (default: --min-time 0.2)
#   VARIANTS    which variants, space-separated (default: all five)
# exit status: 0; 1 if a patch does not apply or a build fails; 2 on bad settings.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
ROUNDS=${ROUNDS:-3}
BENCH_ARGS=${BENCH_ARGS:---min-time 0.2}
VARIANTS=${VARIANTS:-baseline dispatch tally compare-first all}
CC=${CC:-cc}

die() { echo "vote_variants: $1" >&2; exit "${2:-1}"; }

if ! [[ $ROUNDS =~ ^[0-9]+$ ]] || ((ROUNDS < 1 || ROUNDS > 20)); then
	die "ROUNDS=$ROUNDS: give 1 to 20" 2
fi
[[ -f $BUILD/lib/libballot.a ]] || die "$BUILD/lib/libballot.a not found; build first (cmake --build build)"
command -v jq >/dev/null || die "needs jq (apt-get install jq)"

patches_of() {
	case $1 in
	baseline) ;;
	dispatch) echo xxh3-dispatch.patch ;;
	tally) echo tally-scalars.patch ;;
	compare-first) echo compare-first.patch ;;
	all) echo xxh3-dispatch.patch tally-scalars.patch compare-first.patch ;;
	*) die "unknown variant $1" 2 ;;
	esac
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vote_variants.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
CFLAGS=(-std=c11 -O2 -g -DNDEBUG -D_POSIX_C_SOURCE=200809L -I"$ROOT/src" -I"$ROOT/include")

"$CC" "${CFLAGS[@]}" -c "$ROOT/bench/bench_vote.c" -o "$WORK/bench_vote.o"
for v in $VARIANTS; do
	mkdir -p "$WORK/$v/src/vote"
	cp "$ROOT/src/vote/vote.c" "$WORK/$v/src/vote/vote.c"
	for p in $(patches_of "$v"); do
		(cd "$WORK/$v" && patch -s -p1 <"$ROOT/bench/variants/$p") || die "$p does not apply to src/vote/vote.c"
	done
	"$CC" "${CFLAGS[@]}" -c "$WORK/$v/src/vote/vote.c" -o "$WORK/$v/vote.o" || die "variant $v does not compile"
	"$CC" -o "$WORK/$v/bench_vote" "$WORK/bench_vote.o" "$WORK/$v/vote.o" "$BUILD/lib/libballot.a" -lxxhash -lm
done

echo "vote_variants: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs, $ROUNDS rounds of bench_vote $BENCH_ARGS"
for ((r = 1; r <= ROUNDS; r++)); do
	for v in $VARIANTS; do
		# shellcheck disable=SC2086 # BENCH_ARGS is a list of arguments
		"$WORK/$v/bench_vote" --json $BENCH_ARGS >"$WORK/$v/round$r.json"
	done
done

# The median over rounds of one jq expression (a number per round).
median() {
	local v=$1 expr=$2
	for f in "$WORK/$v"/round*.json; do jq -r "$expr" "$f"; done | sort -g |
		awk '{ x[NR] = $1 } END { printf "%.2f", NR % 2 ? x[(NR + 1) / 2] : (x[NR / 2] + x[NR / 2 + 1]) / 2 }'
}

sizes=$(jq -r '[.bytes[] | select(.case == "equal") | .size_bytes] | join(" ")' "$WORK/baseline/round1.json" 2>/dev/null ||
	jq -r '[.bytes[] | select(.case == "equal") | .size_bytes] | join(" ")' "$WORK/${VARIANTS%% *}/round1.json")
echo
echo "median over $ROUNDS rounds; GB/s over 3 x size bytes; (x memcmp) is vote/memcmp of the same run"
for kind in equal dissent; do
	printf '%-14s' "vote, $kind"
	for s in $sizes; do printf ' %22s' "$s B"; done
	echo
	for v in $VARIANTS; do
		printf '%-14s' "$v"
		for s in $sizes; do
			sel=".bytes[] | select(.size_bytes == $s and .case == \"$kind\")"
			printf ' %10s GB/s (x%s)' "$(median "$v" "$sel | .vote_gb_s")" "$(median "$v" "$sel | .vote_over_memcmp")"
		done
		echo
	done
	echo
done
printf '%-14s %18s %18s %18s\n' "numeric" "majority votes/s" "epsilon votes/s" "median votes/s"
for v in $VARIANTS; do
	printf '%-14s' "$v"
	for i in 0 1 2; do printf ' %18.0f' "$(median "$v" ".numeric[$i].votes_per_s")"; done
	echo
done
