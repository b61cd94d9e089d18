#!/usr/bin/env bash
# run.sh: build the libFuzzer targets with clang and run each one for a bounded time.
#
# Builds every fuzz/fuzz_*.c into build-fuzz/bin/ (clang, libFuzzer, ASan and UBSan), then
# runs each target for FUZZ_SECONDS seconds on a working corpus fuzz/corpus-NAME/ (new
# inputs land there; it is not committed) seeded read-only from fuzz/corpus/NAME/. A crash,
# a leak, a timeout or a failed check stops that target, leaves the input under
# build-fuzz/fuzz-artifacts/ and makes this script exit non-zero.
#
# environment:
#   FUZZ_SECONDS   seconds per target, 1..86400 (default 30)
#   FUZZ_TARGETS   space-separated target names to run (default: all, e.g. "fuzz_numbers")
#   FUZZ_BUILD_DIR build directory (default build-fuzz under the repository root)
#   CC             the compiler (default clang; libFuzzer needs clang)
# Targets read their own settings too, e.g. FUZZ_NUMBERS_ALLOW (see fuzz/README.md).
# exit status: 0 when every target ran its time clean, 1 on a finding or a build failure,
# 2 on bad settings.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
BUILD=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
export CC=${CC:-clang}

die() { echo "fuzz/run.sh: $1" >&2; exit "${2:-1}"; }

if ! [[ $FUZZ_SECONDS =~ ^[0-9]+$ ]] || ((FUZZ_SECONDS < 1 || FUZZ_SECONDS > 86400)); then
	die "FUZZ_SECONDS=$FUZZ_SECONDS: give whole seconds from 1 to 86400" 2
fi
command -v "$CC" >/dev/null || die "$CC not found; libFuzzer needs clang (apt-get install clang)"

cmake -S "$ROOT" -B "$BUILD" -G Ninja -DBALLOT_FUZZ=ON -DBALLOT_TESTS=OFF -DBALLOT_BENCH=OFF >/dev/null
cmake --build "$BUILD" >/dev/null || { cmake --build "$BUILD"; die "the fuzz build failed"; }

targets=${FUZZ_TARGETS:-}
if [[ -z $targets ]]; then
	for src in "$ROOT"/fuzz/fuzz_*.c; do
		targets+=" $(basename "$src" .c)"
	done
fi

artifacts=$BUILD/fuzz-artifacts
mkdir -p "$artifacts"
failed=()
for name in $targets; do
	exe=$BUILD/bin/$name
	[[ -x $exe ]] || die "$exe was not built"
	short=${name#fuzz_}
	seeds=$ROOT/fuzz/corpus/$short
	work=$ROOT/fuzz/corpus-$short
	mkdir -p "$work"
	dirs=("$work")
	[[ -d $seeds ]] && dirs+=("$seeds")
	log=$BUILD/$name.log
	echo "== $name: ${FUZZ_SECONDS}s, corpus $work (seeds $seeds), log $log"
	set +e
	"$exe" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$artifacts/$name-" "${dirs[@]}" >"$log" 2>&1
	status=$?
	set -e
	grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)|INITED' "$log" || true
	if ((status != 0)); then
		echo "== $name: FAILED (exit $status); the end of its log:"
		tail -n 40 "$log"
		failed+=("$name")
	else
		echo "== $name: clean"
	fi
done

if ((${#failed[@]} > 0)); then
	echo "fuzz/run.sh: findings in: ${failed[*]} (inputs under $artifacts)" >&2
	exit 1
fi
