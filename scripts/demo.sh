#!/usr/bin/env bash
# A short tour of ballot's voting and reliability analysis. Needs build/bin/ballot.
set -euo pipefail
cd "$(dirname "$0")/.."
ballot=${BALLOT:-$PWD/build/bin/ballot}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "N-version programming: four independent isqrt programs vote on every answer"
echo "\$ ballot vote ./isqrt_bisect.sh ./isqrt_newton.awk ./isqrt.py ./isqrt_float.awk < input.txt"
(cd examples/isqrt && "$ballot" vote ./isqrt_bisect.sh ./isqrt_newton.awk ./isqrt.py ./isqrt_float.awk <input.txt) 2>&1 || true

say "Inexact voting on a stream: three sensors, one stuck"
echo "\$ ballot vote --lines --epsilon 0.1 'sensor.sh 0' 'sensor.sh 0.04' 'sensor.sh stuck'"
(cd examples/sensors && "$ballot" vote --lines --epsilon 0.1 './sensor.sh 0' './sensor.sh 0.04' './sensor.sh stuck') 2>&1 || true

say "No majority: one version hangs, the other two disagree"
echo "\$ ballot vote --timeout 0.5 'echo 1' 'echo 2' 'sleep 60'"
"$ballot" vote --timeout 0.5 'echo 1' 'echo 2' 'sleep 60' 2>&1 || echo "(exit status $?: no winner)"

say "State machine replication: a simulated 5-node Raft cluster under faults, checked"
echo "\$ ballot sim --seeds 1..20"
"$ballot" sim --seeds 1..20 2>&1 | cut -c1-160 || true

say "Reliability: TMR of modules with R = 0.9"
"$ballot" reliability nmr --n 3 --r 0.9 || true

say "Reliability: simplex, TMR and 5MR across module reliabilities"
"$ballot" reliability table || true
