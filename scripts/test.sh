#!/usr/bin/env bash
# Every test, from a fresh Debian 12 machine: install what is missing, build with -Werror
# (with the canary build of the simulator), run the unit, CLI, simulator and canary tests,
# a longer simulator run, everything again under AddressSanitizer + UndefinedBehaviorSanitizer,
# then a short fuzzing run of every decoder.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test
jobs=$(nproc)
SIM_SEEDS=${SIM_SEEDS:-2000}

echo "== build and test (gcc, -Werror, with canaries)"
BUILD_DIR=build scripts/build.sh -DBALLOT_CANARIES=ON >/dev/null
ctest --test-dir build --output-on-failure -j "$jobs"

echo "== simulator: seeds 1..$SIM_SEEDS, every fault"
build/bin/ballot sim --seeds "1..$SIM_SEEDS" --stop | tail -n 3

echo "== build and test under ASan + UBSan"
BUILD_DIR=build-asan scripts/build.sh -DBALLOT_SANITIZE=ON -DBALLOT_BENCH=OFF >/dev/null
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --test-dir build-asan --output-on-failure -j "$jobs"

if [[ -x fuzz/run.sh ]]; then
	echo "== fuzz (${FUZZ_SECONDS:=20} s per target)"
	FUZZ_SECONDS=$FUZZ_SECONDS fuzz/run.sh
fi
