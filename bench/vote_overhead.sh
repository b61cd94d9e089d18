#!/usr/bin/env bash
# vote_overhead.sh: what `ballot vote` adds over running the same three versions directly.
#
# Two workloads, each timed as the direct run and as `ballot vote`, in one run of this script
# on one machine (DESIGN.md: compare side by side, report differences and ratios):
#   echo 42      three trivial versions: `sh -c 'echo 42'` three times one after another,
#                three times in parallel (`... & ... & ... & wait`), and
#                `ballot vote 'echo 42' 'echo 42' 'echo 42'`;
#   md5sum 1MiB  1 MiB of standard input to three md5sum versions: `tee` into three md5sum
#                directly (through FIFOs), and `ballot vote md5sum md5sum md5sum`.
# The overhead is ballot vote minus the parallel direct run (mean, p50, and min, which a busy
# machine disturbs least); the target is a mean under 5 ms. The load average is printed
# first: on a loaded machine, process start-up times are mostly waiting for a CPU.
#
# Timing: hyperfine when it is installed (as root, the script installs it and jq with
# apt-get unless NO_INSTALL=1), else a bash loop timed with $EPOCHREALTIME (no fork inside
# the measured interval; `date +%s%N` on bash < 5). Both report mean, p50, p99 and min over
# RUNS runs after WARMUP runs.
#
# environment:
#   BALLOT   the ballot binary (default: build/bin/ballot under the repository root)
#   RUNS     timed runs per case, 1..10000 (default 200)
#   WARMUP   untimed runs per case first, 0..1000 (default 10)
#   METHOD   hyperfine or loop (default: hyperfine if available)
#   NO_INSTALL=1  never apt-get install anything
# exit status: 0; 1 if a case gives a wrong answer or a tool is missing; 2 on bad settings.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BALLOT=${BALLOT:-$ROOT/build/bin/ballot}
RUNS=${RUNS:-200}
WARMUP=${WARMUP:-10}
METHOD=${METHOD:-}
INPUT_BYTES=$((1024 * 1024))
TARGET_MS=5

die() { echo "vote_overhead: $1" >&2; exit "${2:-1}"; }

is_count() { [[ $1 =~ ^[0-9]+$ ]] && (( $1 >= $2 && $1 <= $3 )); }
is_count "$RUNS" 1 10000 || die "RUNS=$RUNS: give a whole number from 1 to 10000" 2
is_count "$WARMUP" 0 1000 || die "WARMUP=$WARMUP: give a whole number from 0 to 1000" 2
[[ -x $BALLOT ]] || die "$BALLOT is not an executable; build first (cmake --build build) or set BALLOT=path"

# ---- the timing tool -------------------------------------------------------------------

install_tools() {
	[[ ${NO_INSTALL:-0} == 1 || $(id -u) != 0 ]] && return 0
	command -v apt-get >/dev/null || return 0
	echo "vote_overhead: installing hyperfine and jq with apt-get" >&2
	apt-get install -y -q hyperfine jq >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q hyperfine jq >/dev/null 2>&1; } ||
		echo "vote_overhead: could not install hyperfine; timing with a bash loop" >&2
}

if [[ -z $METHOD ]]; then
	if ! command -v hyperfine >/dev/null || ! command -v jq >/dev/null; then
		install_tools
	fi
	if command -v hyperfine >/dev/null && command -v jq >/dev/null; then
		METHOD=hyperfine
	else
		METHOD=loop
	fi
fi
case $METHOD in
hyperfine)
	if ! command -v hyperfine >/dev/null || ! command -v jq >/dev/null; then
		die "METHOD=hyperfine needs hyperfine and jq"
	fi
	;;
loop) ;;
*) die "METHOD=$METHOD: use hyperfine or loop" 2 ;;
esac

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vote_overhead.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Microseconds since the epoch, without a fork where bash can.
now_us() {
	if [[ -n ${EPOCHREALTIME:-} ]]; then
		local t=${EPOCHREALTIME/[.,]/}
		echo "$t"
	else
		echo $(($(date +%s%N) / 1000))
	fi
}

# Writes one run time per line, in milliseconds, to $2 for the command line $1.
time_loop() {
	local cmd=$1 out=$2 i t0 t1
	: >"$out"
	for ((i = 0; i < WARMUP; i++)); do
		eval "$cmd" >/dev/null 2>&1 </dev/null
	done
	for ((i = 0; i < RUNS; i++)); do
		t0=$(now_us)
		eval "$cmd" >/dev/null 2>&1 </dev/null
		t1=$(now_us)
		echo "$(((t1 - t0) / 1000)).$(printf '%03d' $(((t1 - t0) % 1000)))" >>"$out"
	done
}

time_hyperfine() {
	local cmd=$1 out=$2
	hyperfine --style none --shell=none --warmup "$WARMUP" --runs "$RUNS" \
		--export-json "$WORK/h.json" "$cmd" >/dev/null 2>"$WORK/hyperfine.err" ||
		{ cat "$WORK/hyperfine.err" >&2; die "hyperfine failed on: $cmd"; }
	jq -r '.results[0].times[] | . * 1000' "$WORK/h.json" >"$out"
}

# Prints "mean p50 p99 min" in ms for the times in $1 (p = the value at rank ceil(p*n)).
stats() {
	sort -g "$1" | awk '
		{ t[NR] = $1; sum += $1 }
		function rank(p,   r) { r = int(p * NR); if (r < p * NR) r++; if (r < 1) r = 1; return t[r] }
		END { printf "%.3f %.3f %.3f %.3f\n", sum / NR, rank(0.50), rank(0.99), t[1] }'
}

declare -A MEAN P50 P99 MIN
ORDER=()

# measure KEY LABEL CMD: times CMD and prints a table row.
measure() {
	local key=$1 label=$2 cmd=$3
	"time_$METHOD" "$cmd" "$WORK/$key.times"
	read -r "MEAN[$key]" "P50[$key]" "P99[$key]" "MIN[$key]" < <(stats "$WORK/$key.times")
	ORDER+=("$key")
	printf '%-46s %9s %9s %9s %9s\n' "$label" "${MEAN[$key]}" "${P50[$key]}" "${P99[$key]}" "${MIN[$key]}"
}

diff_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

# ---- the cases -------------------------------------------------------------------------

Q_BALLOT=$(printf '%q' "$BALLOT")
INPUT=$WORK/input
head -c "$INPUT_BYTES" /dev/urandom >"$INPUT"
mkfifo "$WORK/p1" "$WORK/p2"

ECHO_SEQ="sh -c \"sh -c 'echo 42'; sh -c 'echo 42'; sh -c 'echo 42'\""
ECHO_PAR="sh -c \"sh -c 'echo 42' & sh -c 'echo 42' & sh -c 'echo 42' & wait\""
ECHO_BALLOT="$Q_BALLOT vote 'echo 42' 'echo 42' 'echo 42'"
MD5_TEE="sh -c 'md5sum < $WORK/p1 > /dev/null & md5sum < $WORK/p2 > /dev/null & tee $WORK/p1 $WORK/p2 < $INPUT | md5sum > /dev/null; wait'"
MD5_BALLOT="sh -c '$Q_BALLOT vote md5sum md5sum md5sum < $INPUT'"

# A benchmark of a wrong answer measures nothing: check each workload once.
[[ $(eval "$ECHO_BALLOT" </dev/null) == 42 ]] || die "ballot vote 'echo 42' x3 did not print 42"
[[ $(eval "$ECHO_PAR" </dev/null) == $'42\n42\n42' ]] || die "the direct parallel run did not print 42 three times"
want=$(md5sum <"$INPUT")
[[ $(eval "$MD5_BALLOT") == "$want" ]] || die "ballot vote md5sum x3 did not print the input's md5"

echo "vote_overhead: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs, method $METHOD$( [[ $METHOD == hyperfine ]] && echo " ($(hyperfine --version))"), $RUNS runs after $WARMUP warm-up runs"
echo "ballot: $BALLOT; load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
echo
printf '%-46s %9s %9s %9s %9s\n' "case (times in ms)" mean p50 p99 min
measure echo_seq "echo 42: direct, 3 x sh -c, one after another" "$ECHO_SEQ"
measure echo_par "echo 42: direct, 3 x sh -c in parallel" "$ECHO_PAR"
measure echo_ballot "echo 42: ballot vote, 3 versions" "$ECHO_BALLOT"
measure md5_tee "md5sum, 1 MiB stdin: tee into 3 x md5sum" "$MD5_TEE"
measure md5_ballot "md5sum, 1 MiB stdin: ballot vote, 3 versions" "$MD5_BALLOT"

echo
for pair in "echo echo_ballot echo_par" "md5sum md5_ballot md5_tee"; do
	read -r name b d <<<"$pair"
	mean=$(diff_ms "${MEAN[$b]}" "${MEAN[$d]}")
	p50=$(diff_ms "${P50[$b]}" "${P50[$d]}")
	min=$(diff_ms "${MIN[$b]}" "${MIN[$d]}")
	verdict="met"
	below "$mean" "$TARGET_MS" || verdict="NOT met"
	printf 'overhead, %-7s ballot vote - direct: mean %s ms, p50 %s ms, min %s ms (ratio of means %s); target < %d ms (mean): %s\n' \
		"$name:" "$mean" "$p50" "$min" "$(ratio "${MEAN[$b]}" "${MEAN[$d]}")" "$TARGET_MS" "$verdict"
done
