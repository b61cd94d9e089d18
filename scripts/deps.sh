#!/usr/bin/env bash
# Installs what ballot needs to build and test, from Debian's packages, if anything is missing.
# Usage: scripts/deps.sh [--test]   (--test adds the tools the test suite uses)
set -euo pipefail
packages=(build-essential cmake ninja-build pkg-config libuv1-dev libxxhash-dev libcmocka-dev python3 redis-tools)
if [[ ${1:-} == --test ]]; then
	packages+=(clang libclang-rt-14-dev procps libxml2-utils redis-tools python3-redis iproute2 nftables redis-server netcat-openbsd)
fi
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0
echo "ballot: installing ${missing[*]}" >&2
if [[ $(id -u) != 0 ]]; then
	echo "ballot: run as root (or install these packages with sudo apt-get install)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
