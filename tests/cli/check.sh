#!/usr/bin/env bash
# CLI tests of `ballot check` against the real binary: every golden history in
# tests/data/histories (ok-* exit 0, bad-* exit 1, malformed-lineN-* exit 2 naming line N,
# NAME.expect lines each found in the output), then usage errors, standard input, --quiet,
# and giving up at a bound (exit 3). Every run is bounded by `timeout`.
set -euo pipefail
BALLOT=${BALLOT:-build/bin/ballot}
SRC=${BALLOT_SOURCE_DIR:-.}
DATA=$SRC/tests/data/histories
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

fail() {
	echo "FAIL: $*" >&2
	failed=$((failed + 1))
}

# run NAME ARGS...: runs ballot check with a 60 s bound; sets out, err, rc.
run() {
	local name=$1
	shift
	rc=0
	timeout 60 "$BALLOT" check "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
	current=$name
}

expect_rc() {
	if [[ $rc != "$1" ]]; then
		fail "$current: exit $rc, expected $1 (stdout: $out; stderr: $err)"
		return
	fi
	passed=$((passed + 1))
}

expect_out() { # expect_out FIXED-STRING: stdout or stderr contains it
	if ! grep -qF -- "$1" "$tmp/out" "$tmp/err"; then
		fail "$current: output lacks '$1'; stdout: $out; stderr: $err"
		return
	fi
	passed=$((passed + 1))
}

# ---- golden histories -----------------------------------------------------------------
count=0
for file in "$DATA"/*.jsonl; do
	base=$(basename "$file" .jsonl)
	count=$((count + 1))
	run "$base" "$file"
	case $base in
	ok-*) expect_rc 0 && expect_out "linearizable:" ;;
	bad-*)
		expect_rc 1
		expect_out "not linearizable: key"
		# The window is printed as JSON lines, each with its line in the input.
		if ! grep -q '^{"line":[0-9]*,"process":' "$tmp/out"; then
			fail "$base: no window lines in: $out"
		fi
		;;
	malformed-line*)
		expect_rc 2
		line=${base#malformed-line}
		line=${line%%-*}
		expect_out "ballot: check: $file: line $line"
		;;
	*) fail "$base: golden file names start with ok-, bad- or malformed-lineN-" ;;
	esac
	if [[ -f $DATA/$base.expect ]]; then
		while IFS= read -r want; do
			[[ -n $want ]] && expect_out "$want"
		done <"$DATA/$base.expect"
	fi
done
if ((count < 20)); then
	fail "only $count golden histories found in $DATA"
fi

# Every window line printed for a violation is a line of the input, verbatim in meaning:
# feeding the printed lines back (without "line") reproduces the same events.
run "window lines are real lines" "$DATA/bad-stale-read.jsonl"
grep '^{' "$tmp/out" | while IFS= read -r json; do
	n=$(sed -E 's/^\{"line":([0-9]+),.*/\1/' <<<"$json")
	orig=$(sed -n "${n}p" "$DATA/bad-stale-read.jsonl" | tr -d ' ')
	mine=$(sed -E 's/^\{"line":[0-9]+,/{/' <<<"$json")
	if [[ $orig != "$mine" ]]; then
		echo "FAIL: window line $n: '$mine' vs input '$orig'" >&2
		exit 1
	fi
done || failed=$((failed + 1))

# ---- standard input, --quiet -----------------------------------------------------------
rc=0
timeout 60 "$BALLOT" check - <"$DATA/ok-cas-register.jsonl" >"$tmp/out" 2>"$tmp/err" || rc=$?
out=$(cat "$tmp/out")
err=$(cat "$tmp/err")
current="standard input"
expect_rc 0
expect_out "linearizable: 6 operations on 1 key ("

run "quiet" --quiet "$DATA/bad-stale-read.jsonl"
expect_rc 1
if [[ -n $out || -n $err ]]; then
	fail "quiet: printed '$out' '$err'"
fi

# ---- usage errors -----------------------------------------------------------------------
run "no file"
expect_rc 2
expect_out "usage: ballot check"

run "two files" a.jsonl b.jsonl
expect_rc 2
expect_out "one history at a time"

run "missing file" "$tmp/does-not-exist.jsonl"
expect_rc 2
expect_out "does-not-exist.jsonl: No such file or directory"

run "unknown flag" --frobnicate "$DATA/ok-empty.jsonl"
expect_rc 2
expect_out "unknown option '--frobnicate'"

run "bad timeout" --timeout-ms 0 "$DATA/ok-empty.jsonl"
expect_rc 2
expect_out "--timeout-ms 0: must be between 1 and"

run "bad memory" --memory-mb=lots "$DATA/ok-empty.jsonl"
expect_rc 2
expect_out "--memory-mb 'lots': not a non-negative integer"

run "missing value" "$DATA/ok-empty.jsonl" --max-steps
expect_rc 2
expect_out "--max-steps needs a value"

run "help" --help
expect_rc 0
expect_out "exit status: 0 linearizable, 1 not linearizable"

rc=0
"$BALLOT" help >"$tmp/out" 2>&1 || rc=$?
out=$(cat "$tmp/out")
err=""
current="ballot help lists check"
expect_rc 0
expect_out "check         is a history"

# ---- giving up ----------------------------------------------------------------------------
# Sixteen concurrent writes, each then read by its own reader, and a last read of a value
# nobody wrote: refuting it means trying a great many orders.
hard=$tmp/hard.jsonl
{
	for p in $(seq 0 15); do echo "{\"process\": $p, \"type\": \"invoke\", \"f\": \"write\", \"key\": \"x\", \"value\": $p}"; done
	for p in $(seq 0 15); do echo "{\"process\": $p, \"type\": \"ok\", \"f\": \"write\", \"key\": \"x\", \"value\": $p}"; done
	for p in $(seq 0 15); do echo "{\"process\": $((100 + p)), \"type\": \"invoke\", \"f\": \"read\", \"key\": \"x\", \"value\": null}"; done
	for p in $(seq 0 15); do echo "{\"process\": $((100 + p)), \"type\": \"ok\", \"f\": \"read\", \"key\": \"x\", \"value\": $p}"; done
	echo '{"process": 1, "type": "invoke", "f": "read", "key": "x", "value": null}'
	echo '{"process": 1, "type": "ok", "f": "read", "key": "x", "value": 99}'
} >"$hard"
run "steps bound" --max-steps 1000 "$hard"
expect_rc 3
expect_out "unknown: the search reached its steps bound on key \"x\""
expect_out "raise --max-steps to decide"

run "memory bound" --memory-mb 1 --max-steps 100000000 "$hard"
expect_rc 3
expect_out "gave up at the memory bound; raise --memory-mb"

run "time bound" --timeout-ms 1 --max-steps 100000000000 "$hard"
expect_rc 3
expect_out "gave up at the time bound; raise --timeout-ms"

echo "check.sh: $passed passed, $failed failed"
((failed == 0))
