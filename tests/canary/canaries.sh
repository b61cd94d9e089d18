#!/usr/bin/env bash
# The simulator must be able to fail: every canary bug of ballot-canary (a build with
# -DBALLOT_CANARIES=ON) is caught, exit 1, within 200 seeds; without a canary the same
# seeds pass. Each run stops at its first violation.
set -euo pipefail
CANARY=${BALLOT_CANARY:?set BALLOT_CANARY to build/bin/ballot-canary}
passed=0
failed=0
required="commit-without-majority double-vote apply-before-commit forget-vote read-without-confirm"
list=$("$CANARY" sim --canary list)
for name in $required; do
	grep -qx "$name" <<<"$list" || { echo "FAIL: canary $name is missing from --canary list" >&2; failed=$((failed + 1)); }
done
for name in $list; do
	rc=0
	out=$(timeout 900 "$CANARY" sim --seeds 1..200 --nodes 5 --stop --canary "$name" 2>/dev/null) || rc=$?
	if [[ $rc == 1 ]]; then
		seed=$(grep -m1 -o '^seed=[0-9]* ' <<<"$out")
		echo "canary $name: caught at $seed$(grep -m1 'violation:' <<<"$out")"
		passed=$((passed + 1))
	else
		echo "FAIL: canary $name: not caught in 200 seeds (exit $rc)" >&2
		failed=$((failed + 1))
	fi
done
rc=0
timeout 900 "$CANARY" sim --seeds 1..200 --nodes 5 --stop >/dev/null 2>&1 || rc=$?
[[ $rc == 0 ]] && passed=$((passed + 1)) || { echo "FAIL: without a canary, exit $rc" >&2; failed=$((failed + 1)); }
echo "$passed passed, $failed failed"
((failed == 0))
