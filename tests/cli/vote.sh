#!/usr/bin/env bash
# CLI tests of `ballot vote` against the real binary: agreement, dissent, no winner, every
# policy, the hostile versions (hang, flood, fork and exit, never read stdin, close stdout
# early), --lines, the JSON report and usage errors. Every run is bounded by `timeout`.
set -euo pipefail
BALLOT=${BALLOT:-build/bin/ballot}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
# Sleep lengths unique to this run, so leftover checks see only our own processes (and
# never another copy of this test running at the same time).
mark=9$$

fail() {
	echo "FAIL: $*" >&2
	failed=$((failed + 1))
}

# run NAME ARGS...: runs ballot vote with a 30 s bound; sets out, err, rc.
run() {
	local name=$1
	shift
	rc=0
	timeout 30 "$BALLOT" vote "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
	current=$name
}

expect() { # expect RC STDOUT
	if [[ $rc != "$1" ]]; then
		fail "$current: exit $rc, expected $1 (stderr: $err)"
		return
	fi
	if [[ $out != "$2" ]]; then
		fail "$current: stdout '$out', expected '$2'"
		return
	fi
	passed=$((passed + 1))
}

expect_err() { # expect_err FIXED-STRING: stderr contains it
	if ! grep -qF -- "$1" "$tmp/err"; then
		fail "$current: stderr lacks '$1'; it was: $err"
		return
	fi
	passed=$((passed + 1))
}

expect_no_err() {
	if [[ -n $err ]]; then
		fail "$current: expected empty stderr, got: $err"
		return
	fi
	passed=$((passed + 1))
}

# No process whose command line holds MARKER is left behind (killed processes may take a
# moment to be reaped on a loaded machine: allow up to 5 s).
expect_no_leftover() {
	for _ in $(seq 1 50); do
		pgrep -f "$1" >/dev/null || break
		sleep 0.1
	done
	if pgrep -f "$1" >/dev/null; then
		fail "$current: processes left behind: $(pgrep -af "$1")"
		pkill -9 -f "$1" || true
		return
	fi
	passed=$((passed + 1))
}

# ---- agreement and dissent --------------------------------------------------------------
run "all agree" 'echo 42' 'echo 42' 'echo 42'
expect 0 42
expect_no_err

run "one dissents and is named" 'echo 42' 'echo 42' 'echo 41'
expect 0 42
expect_err "ballot: version 3 (echo 41) dissented"

run "non-zero exit counts as failed" 'echo 42' 'echo 42; exit 1' 'echo 42'
expect 0 42
expect_err "ballot: version 2 (echo 42; exit 1) failed: exited with status 1"

run "failed version's stderr is quoted" 'echo 1' 'echo 1' 'echo boom >&2; exit 2'
expect 0 1
expect_err "failed: exited with status 2: boom"

run "majority counts failed versions in N" 'echo 1' 'echo 2' 'exit 1'
expect 3 ""
expect_err "no winner: no majority"

run "all failed" 'exit 1' 'exit 2' 'kill -9 $$'
expect 3 ""
expect_err "killed by signal 9"
expect_err "all modules failed"

run "output compared byte for byte" 'printf "a\n"' 'printf "a"' 'printf "a\n"'
expect 0 a
expect_err "version 2 (printf \"a\") dissented"

run "empty outputs agree" 'true' 'true' 'echo x'
expect 0 ""
expect_err "version 3 (echo x) dissented"

run "one version" 'echo solo'
expect 0 solo

# ---- policies ---------------------------------------------------------------------------
run "plurality wins with less than half" --policy plurality 'echo a' 'echo a' 'echo b' 'echo c' 'echo d'
expect 0 a
run "plurality tie is no winner" --policy plurality 'echo a' 'echo a' 'echo b' 'echo b'
expect 3 ""
expect_err "tie"
run "unanimous needs everyone" --policy unanimous 'echo a' 'echo a' 'exit 1'
expect 3 ""
expect_err "not unanimous"
run "unanimous agreement" --policy unanimous 'echo a' 'echo a' 'echo a'
expect 0 a
run "threshold reached" --policy threshold:2 'echo a' 'echo a' 'echo b' 'echo c' 'echo d'
expect 0 a
run "threshold not reached" --policy threshold:3 'echo a' 'echo a' 'echo b' 'echo c' 'echo d'
expect 3 ""
expect_err "below threshold"
run "weighted: heavy version outvotes two" --policy weighted --weights 3,1,1 'echo a' 'echo b' 'echo b'
expect 0 a
expect_err "version 2 (echo b) dissented"
run "weighted: exactly half is not enough" --policy weighted --weights 2,1,1 'echo a' 'echo b' 'echo b'
expect 3 ""
expect_err "no weighted majority"

# ---- numbers ----------------------------------------------------------------------------
run "numeric: 1.0 equals 1" --numeric 'echo 1.0' 'echo 1' 'echo 2'
expect 0 1.0
run "epsilon: last digits differ, still agree" --epsilon 1e-9 'echo 0.30000000000000004' 'echo 0.3' 'echo 0.4'
expect 0 0.3
expect_err "version 3 (echo 0.4) dissented"
run "numeric: field by field, layout kept" --numeric 'printf "1 2\n3\n"' 'printf "1 2\n3\n"' 'printf "1 5\n3\n"'
expect 0 "$(printf '1 2\n3')"
expect_err "version 3"
run "numeric: a non-numeric output fails" --numeric 'echo 5' 'echo 5' 'echo five'
expect 0 5
expect_err "output is not numeric"
run "numeric: disagreement on field count" --numeric 'echo 1 2' 'echo 1' 'echo 1 2 3'
expect 3 ""
expect_err "how many numbers"
run "median of three" --policy median 'echo 10' 'echo 11' 'echo 1000'
expect 0 11
run "median with epsilon names the outlier only" --policy median --epsilon 1 'echo 10' 'echo 11' 'echo 1000'
expect 0 11
expect_err "version 3 (echo 1000) dissented"
if grep -q "version 1" "$tmp/err"; then fail "median: version 1 within epsilon named"; else passed=$((passed + 1)); fi
run "mid-value of five drops the extremes" --policy mid-value 'echo 1' 'echo 2' 'echo 3' 'echo 6' 'echo 100'
expect 0 4
run "median needs more than half to answer" --policy median 'echo 1' 'exit 1' 'exit 1'
expect 3 ""
expect_err "too few answers"

# ---- hostile versions -------------------------------------------------------------------
start=$(date +%s)
run "a hung version times out" --timeout 1 "sleep ${mark}1; echo 1" 'echo 1' 'echo 1'
expect 0 1
expect_err "version 1 (sleep ${mark}1; echo 1) failed: timed out after 1 s"
(($(date +%s) - start < 10)) || fail "timeout took $(($(date +%s) - start)) s"
expect_no_leftover "sleep ${mark}1"

run "a hung version that ignores TERM, with children" --timeout 1 \
	"trap '' TERM; sleep ${mark}2 & sleep ${mark}2 & while :; do :; done" 'echo 1' 'echo 1'
expect 0 1
expect_err "timed out"
expect_no_leftover "sleep ${mark}2"

start=$(date +%s)
run "forks a child and exits: not waited for" "sleep ${mark}3 & echo 7" 'echo 7' 'echo 7'
expect 0 7
(($(date +%s) - start < 5)) || fail "fork-and-exit took $(($(date +%s) - start)) s"
expect_no_leftover "sleep ${mark}3"

run "a flood is cut at --max-output" --max-output 1M 'yes' 'echo 1' 'echo 1'
expect 0 1
expect_err "wrote more than 1048576 bytes"

run "gigabytes under the default cap" 'head -c 2000000000 /dev/zero' 'echo 1' 'echo 1'
expect 0 1
expect_err "wrote more than 67108864 bytes"

head -c 30000000 /dev/urandom >"$tmp/input"
want=$(md5sum <"$tmp/input")
rc=0
timeout 60 "$BALLOT" vote 'md5sum' 'true' 'md5sum' 'sleep 0.3; md5sum' <"$tmp/input" >"$tmp/out" 2>"$tmp/err" || rc=$?
out=$(cat "$tmp/out")
err=$(cat "$tmp/err")
current="same input to all; one never reads it"
expect 0 "$want"
expect_err "version 2 (true) dissented"

rc=0
cat "$tmp/input" | timeout 60 "$BALLOT" vote 'md5sum' 'md5sum' 'head -c 10 >/dev/null; md5sum' >"$tmp/out" 2>"$tmp/err" || rc=$?
out=$(cat "$tmp/out")
err=$(cat "$tmp/err")
current="input from a pipe; one stops reading early"
expect 0 "$want"

run "closes stdout early, keeps running" 'exec >&-; sleep 0.3' 'true' 'true'
expect 0 ""
expect_no_err

# ---- line by line ------------------------------------------------------------------------
run "lines: voted one by one" --lines 'printf "1\n2\n3\n"' 'printf "1\n2\n4\n"' 'printf "1\n5\n3\n"'
expect 0 "$(printf '1\n2\n3')"
expect_err "line 2: version 3"
expect_err "line 3: version 2"

run "lines: a line without a winner" --lines 'printf "a\nb\n"' 'printf "a\nc\n"' 'printf "a\nd\n"'
expect 3 "a"
expect_err "line 2: no winner"

run "lines: a stalled version is dropped" --lines --timeout 1 \
	"echo 1; sleep ${mark}4; echo 2" 'echo 1; echo 2' 'echo 1; echo 2'
expect 0 "$(printf '1\n2')"
expect_err "wrote no line 2 within 1 s"
expect_no_leftover "sleep ${mark}4"

run "lines: numeric sensor feed with epsilon" --lines --epsilon 0.01 \
	'printf "20.00\n20.50\n"' 'printf "20.001\n20.502\n"' 'printf "19.2\n20.5\n"'
expect 0 "$(printf '20.00\n20.50')"
expect_err "line 1: version 3"

# ---- the report -------------------------------------------------------------------------
run "report: JSON per version" --report "$tmp/report.json" 'echo a' 'echo b' 'echo a; exit 3'
expect 3 ""
python3 - "$tmp/report.json" <<'EOF' && passed=$((passed + 1)) || fail "report content"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["policy"] == "majority" and r["has_winner"] is False and r["winner"] is None, r
v = r["versions"]
assert [x["version"] for x in v] == [1, 2, 3]
assert v[0]["command"] == "echo a" and v[0]["exit_status"] == 0 and v[0]["output_bytes"] == 2
assert v[2]["verdict"] == "failed" and v[2]["exit_status"] == 3 and "status 3" in v[2]["error"]
assert all(x["run_time_ms"] >= 0 for x in v)
EOF

run "report: winner and verdicts" --report "$tmp/report.json" 'echo a' 'echo a' 'echo b'
expect 0 a
python3 - "$tmp/report.json" <<'EOF' && passed=$((passed + 1)) || fail "report content (winner)"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["has_winner"] is True and r["winner"] == "a\n", r
assert r["support"] == {"count": 2, "weight": 2, "total_weight": 3}, r["support"]
assert [x["verdict"] for x in r["versions"]] == ["agreed", "agreed", "dissented"]
EOF

# ---- usage errors -----------------------------------------------------------------------
usage() { # usage MESSAGE ARGS...
	local msg=$1
	shift
	run "usage: $*" "$@"
	expect 2 ""
	expect_err "$msg"
}
usage "give the versions to run"
usage "unknown" --policy sometimes 'echo 1' 'echo 1'
usage "more than the 3 versions" --policy threshold:4 'echo 1' 'echo 1' 'echo 1'
usage "threshold needs M" --policy threshold 'echo 1'
usage "not a positive number" --policy weighted --weights 1,-2,1 a b c
usage "not a finite number" --policy weighted --weights 1,x,1 a b c
usage "give one per version" --policy weighted --weights 1,1 a b c
usage "must be >= 0" --epsilon -0.5 a b c
usage "not a finite number" --timeout soon a b c
usage "must be more than 0" --timeout 0 a b c
usage "unknown option" --frobnicate a b c
usage "needs a value" --policy
usage "cannot open" --report /nonexistent/dir/r.json a b c

echo "$passed passed, $failed failed"
((failed == 0))
