#!/usr/bin/env bash
# CLI tests of `ballot reliability`: every subcommand's readable and JSON output, each class
# of bad input (exit 2, a message on stderr naming the flag, nothing on stdout), the quorum
# check's exit status, and the SVG plot. Needs $BALLOT (the built binary) and python3.
set -euo pipefail

: "${BALLOT:?set BALLOT to the path of the ballot binary}"
command -v python3 >/dev/null || { echo "reliability.sh: python3 is required" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
checks=0

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# run ARGS...: runs `ballot reliability ARGS...` with a time bound; sets $status and leaves
# stdout in $tmp/out and stderr in $tmp/err.
run() {
	last="ballot reliability $*"
	set +e
	timeout 30 "$BALLOT" reliability "$@" >"$tmp/out" 2>"$tmp/err"
	status=$?
	set -e
	checks=$((checks + 1))
}

expect_status() {
	if [[ $status -ne $1 ]]; then
		fail "$last: exit $status, expected $1; stderr: $(head -c 400 "$tmp/err")"
	fi
}

# expect_out REGEX: stdout has a line matching the extended regex.
expect_out() {
	grep -Eq -- "$1" "$tmp/out" || fail "$last: no line of stdout matches /$1/; stdout:
$(head -c 1500 "$tmp/out")"
}

# expect_json PYTHON_EXPR: stdout is one line of JSON and the expression holds for it as d.
expect_json() {
	local lines
	lines=$(wc -l <"$tmp/out")
	[[ $lines -eq 1 ]] || fail "$last: --json printed $lines lines, expected 1"
	python3 - "$tmp/out" "$1" <<'EOF' || fail "$last: JSON check failed: $1; stdout: $(head -c 1500 "$tmp/out")"
import json, math, sys
d = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2], {"d": d, "math": math})
sys.exit(0 if ok else 1)
EOF
}

# expect_usage_error STDERR_REGEX ARGS...: exit 2, the message on stderr, stdout empty.
expect_usage_error() {
	local pattern=$1
	shift
	run "$@"
	expect_status 2
	grep -Eq -- "$pattern" "$tmp/err" || fail "$last: stderr does not match /$pattern/: $(cat "$tmp/err")"
	[[ ! -s $tmp/out ]] || fail "$last: printed to stdout on a usage error"
}

# ---- usage ----
run
expect_status 2
for sub in nmr availability quorum mttf recovery table; do
	grep -q "^  $sub " "$tmp/err" || fail "$last: usage on stderr does not list $sub"
done
run --help
expect_status 0
expect_out '^  table '
for sub in nmr availability quorum mttf recovery table; do
	run "$sub" --help
	expect_status 0
	expect_out "^usage: ballot reliability $sub"
	expect_out '--json'
done

# ---- nmr ----
run nmr --n 3 --r 0.9
expect_status 0
expect_out '^reliability: +0\.972$'
expect_out '^2-of-3 system'
run nmr --n 3 --r 0.9 --json
expect_status 0
expect_json 'abs(d["result"] - 0.972) < 1e-12 and d["n"] == 3 and d["m"] == 2 and d["voter_r"] == 1'
run nmr --n 5 --m 5 --r=0.9 --voter-r 0.99 --json
expect_status 0
expect_json 'abs(d["result"] - 0.99 * 0.9**5) < 1e-12'
run nmr --n 3 --r 0.9 --monte-carlo 1000000 --json
expect_status 0
expect_json 'd["monte_carlo"]["trials"] == 1000000 and d["monte_carlo"]["seed"] == 1 and abs(d["monte_carlo"]["difference"]) < 5 * d["monte_carlo"]["stderr"]'
cp "$tmp/out" "$tmp/mc1"
run nmr --n 3 --r 0.9 --monte-carlo 1000000 --seed 1 --json
cmp -s "$tmp/out" "$tmp/mc1" || fail "$last: the same seed gave a different answer"
run nmr --n 3 --r 0.9 --monte-carlo 100000 --seed 9
expect_status 0
expect_out '^Monte Carlo, 100000 trials, seed 9'
expect_out '^  standard error'

# ---- availability ----
run availability --n 5 --p 0.1
expect_status 0
expect_out '^availability: +0\.99144$'
expect_out '^nines: +2\.07$'
expect_out '^downtime per year: +3 d 3 h 2 min 13\.1 s'
run availability --n 5 --p 0.1 --json
expect_status 0
expect_json 'abs(d["result"] - 0.99144) < 1e-12 and d["f"] == 2 and abs(d["nines"] + math.log10(0.00856)) < 1e-9 and abs(d["downtime_per_year_s"] - 0.00856 * 31557600) < 1e-6'
run availability --n 5 --p 0 --json
expect_json 'd["result"] == 1 and d["nines"] is None'
run availability --n 5 --p 0.1 --monte-carlo 1000000 --seed 3 --json
expect_status 0
expect_json 'd["monte_carlo"]["seed"] == 3 and abs(d["monte_carlo"]["difference"]) < 5 * d["monte_carlo"]["stderr"]'

# ---- quorum ----
run quorum --f 1
expect_status 0
expect_out 'N = 2F\+1 = 3 nodes, quorum F\+1 = 2'
run quorum --f 1 --json
expect_json 'd["result"] == 3 and d["quorum"] == 2 and d["fault_model"] == "crash"'
run quorum --f 2 --byzantine --json
expect_json 'd["result"] == 7 and d["quorum"] == 5 and d["fault_model"] == "byzantine"'
run quorum --n 3 --r 1 --w 3
expect_status 0
expect_out ': safe$'
run quorum --n 3 --r 1 --w 3 --json
expect_status 0
expect_json 'd["result"] is True and d["read_failures_tolerated"] == 2 and d["write_failures_tolerated"] == 0'
run quorum --n 3 --r 1 --w 2
expect_status 1
expect_out 'R \+ W > N .*FAILS'
run quorum --n 3 --r 1 --w 2 --json
expect_status 1
expect_json 'd["result"] is False and d["failed_rules"] == ["R+W>N"] and d["r_plus_w_gt_n"] is False and d["w_gt_half_n"] is True'
run quorum --n 4 --r 3 --w 2 --json
expect_status 1
expect_json 'd["result"] is False and d["failed_rules"] == ["W>N/2"] and d["read_failures_tolerated"] == 1 and d["write_failures_tolerated"] == 2'

# ---- mttf ----
run mttf --lambda 1
expect_status 0
expect_out '^MTTF: +0\.833333$'
expect_out '^ratio: +0\.833333'
run mttf --lambda 0.001 --json
expect_json 'abs(d["result"] - 5 / (6 * 0.001)) < 1e-9 and d["n"] == 3 and d["m"] == 2 and d["mu"] == 0'
run mttf --lambda 0.001 --mu 0.1 --json
expect_json 'abs(d["result"] / ((5 * 0.001 + 0.1) / (6 * 0.001**2)) - 1) < 1e-12 and abs(d["ratio"] - 17.5) < 1e-9 and d["mttf_single_module"] == 1000'
run mttf --lambda 1 --n 5 --m 3 --json
expect_json 'abs(d["result"] - 47 / 60) < 1e-12'

# ---- recovery ----
run recovery --data 10GiB --bandwidth 1Gbit/s --sources 1
expect_status 0
expect_out '^recovery time: 85\.899[0-9]* s \(1 min 25\.9 s\)$'
run recovery --data=10GiB --bandwidth=1Gbit/s --sources=1 --json
expect_json 'abs(d["result"] - 85.89934592) < 1e-9 and d["data_bytes"] == 10737418240 and d["bandwidth_bytes_per_s"] == 125000000'
run recovery --data 1.5TB --bandwidth 100MB/s --sources 3 --json
expect_json 'abs(d["result"] - 1.5e12 / 3e8) < 1e-6'
run recovery --data 512 --bandwidth 1KiB/s --sources 1 --json
expect_json 'd["result"] == 0.5'

# ---- table and plot ----
run table
expect_status 0
expect_out '^0\.45 .*\*$'
expect_out '^0\.50 +0\.500000 +0\.500000 +0\.500000$'
expect_out '^0\.90 +0\.900000 +0\.972000 +0\.991440$'
expect_out 'crossover at R = 0\.5'
run table --json
expect_json 'len(d["result"]) == 21 and d["crossover_r"] == 0.5 and all(row["tmr_worse_than_simplex"] == (0 < row["r"] < 0.5) for row in d["result"])'
run table --plot "$tmp/plot.svg"
expect_status 0
grep -q '<svg' "$tmp/plot.svg" || fail "$last: $tmp/plot.svg has no <svg"
grep -c '<polyline' "$tmp/plot.svg" | grep -qx 3 || fail "$last: the plot does not have 3 polylines"
if command -v xmllint >/dev/null; then
	xmllint --noout "$tmp/plot.svg" || fail "$last: xmllint rejects the SVG"
else
	echo "reliability.sh: xmllint not installed; skipping the SVG validity check" >&2
fi
run table --plot "$tmp/no/such/dir/plot.svg"
expect_status 1
grep -q -- '--plot' "$tmp/err" || fail "$last: the error does not name --plot"

# ---- bad input: exit 2, the flag named on stderr ----
expect_usage_error '--r 1\.5: must be a probability' nmr --n 3 --r 1.5
expect_usage_error '--r -0\.1' nmr --n 3 --r -0.1
expect_usage_error '--p 1\.1' availability --n 5 --p 1.1
expect_usage_error '--voter-r' nmr --n 3 --r 0.9 --voter-r 2
expect_usage_error '--n 0' nmr --n 0 --r 0.5
expect_usage_error '--n 1001' nmr --n 1001 --r 0.5
expect_usage_error '--n 1001' availability --n 1001 --p 0.1
expect_usage_error '--n .three' nmr --n three --r 0.5
expect_usage_error '--m 4: must be at most --n' nmr --n 3 --m 4 --r 0.5
expect_usage_error '--m 0' nmr --n 3 --m 0 --r 0.5
expect_usage_error '--m 4' mttf --lambda 1 --m 4
expect_usage_error '--f 6' availability --n 5 --p 0.1 --f 6
expect_usage_error '--lambda -1' mttf --lambda -1
expect_usage_error '--lambda 0' mttf --lambda 0
expect_usage_error '--mu -2' mttf --lambda 1 --mu -2
expect_usage_error '--data.*ambiguous' recovery --data 10G --bandwidth 1Gbit/s --sources 1
expect_usage_error '--data.*bits' recovery --data 10Gb --bandwidth 1Gbit/s --sources 1
expect_usage_error '--data.*unknown unit' recovery --data 10XB --bandwidth 1Gbit/s --sources 1
expect_usage_error '--data' recovery --data -5GB --bandwidth 1Gbit/s --sources 1
expect_usage_error '--bandwidth.*ambiguous' recovery --data 1GB --bandwidth 1Mb/s --sources 1
expect_usage_error '--bandwidth.*needs a unit' recovery --data 1GB --bandwidth 100 --sources 1
expect_usage_error '--sources 0' recovery --data 1GB --bandwidth 1Gbit/s --sources 0
expect_usage_error 'unknown flag .--bogus' nmr --n 3 --r 0.9 --bogus 1
expect_usage_error 'unknown flag .--plot' nmr --n 3 --r 0.9 --plot x.svg
expect_usage_error 'missing --r' nmr --n 3
expect_usage_error 'missing --lambda' mttf
expect_usage_error 'missing --sources' recovery --data 1GB --bandwidth 1Gbit/s
expect_usage_error 'missing --w' quorum --n 3 --r 1
expect_usage_error '--r: missing its value' nmr --n 3 --r
expect_usage_error '--n: missing its value' nmr --n --r 0.9
expect_usage_error '--n: given twice' nmr --n 3 --n 5 --r 0.9
expect_usage_error 'unexpected argument .extra' nmr --n 3 --r 0.9 extra
expect_usage_error '--r 4: must be at most --n' quorum --n 3 --r 4 --w 2
expect_usage_error 'not both' quorum --f 1 --n 3 --r 2 --w 2
expect_usage_error '--f.*at most 333' quorum --f 334 --byzantine
expect_usage_error '--monte-carlo 0' nmr --n 3 --r 0.9 --monte-carlo 0
expect_usage_error '--monte-carlo 1000000001' nmr --n 3 --r 0.9 --monte-carlo 1000000001
expect_usage_error '--seed: only used with --monte-carlo' availability --n 3 --p 0.1 --seed 4
expect_usage_error '--json: takes no value' table --json=yes
expect_usage_error "unknown subcommand 'frob'" frob

if [[ $failures -ne 0 ]]; then
	echo "reliability.sh: $failures failed checks in $checks runs" >&2
	exit 1
fi
echo "reliability.sh: all $checks runs passed"
