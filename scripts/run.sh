#!/usr/bin/env bash
# ballot's main job, from a fresh Debian 12 machine: install what is missing, build, run the
# demo (N-version voting, the simulator, the reliability table), then start a local 3-node
# ballotd cluster in the foreground for redis-cli (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh >/dev/null
scripts/demo.sh
printf '\n\033[1m== A local 3-node ballotd cluster\033[0m\n'
exec build/bin/ballot cluster up
