#!/usr/bin/env bash
# ballot's main job, from a fresh Debian 12 machine: install what is missing, build, and run
# the demo (N-version voting on the programs in examples/, and the reliability table).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh >/dev/null
exec scripts/demo.sh
