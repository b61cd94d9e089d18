#!/usr/bin/env bash
# CLI tests of `ballot wal check` and `ballot wal dump` against the real binary. Data
# directories are written by the hidden `ballot wal init-test DIR` (the real storage code
# over the real disk), then damaged with python3: a flipped byte in a record names the file
# and offset (exit 1), a torn tail is healthy with a warning, a missing segment and an
# unknown format version are corrupt, a damaged hard state copy falls back to the other.
# Neither command may change the directory. Every run is bounded by `timeout`.
set -euo pipefail
BALLOT=${BALLOT:-build/bin/ballot}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

fail() {
	echo "FAIL: $*" >&2
	failed=$((failed + 1))
}

# run NAME ARGS...: runs ballot with a 60 s bound; sets out, err, rc.
run() {
	current=$1
	shift
	rc=0
	timeout 60 "$BALLOT" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
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

# fingerprint DIR: the names and contents of its files (the lock file aside).
fingerprint() {
	(cd "$1" && for f in *; do [[ $f == LOCK ]] || sha256sum "$f"; done)
}

# The offset of the record of index $2 in the JSON dump of directory $1 (file name in $3).
record_offset() {
	"$BALLOT" wal dump --json "$1" | python3 -c '
import json, sys
want = int(sys.argv[1])
for line in sys.stdin:
    o = json.loads(line)
    if o["kind"] == "record" and o["index"] == want:
        print(o["file"], o["offset"])
        break
' "$2"
}

# flip FILE OFFSET: inverts one byte.
flip() {
	python3 - "$1" "$2" <<'EOF'
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(off)
    b = f.read(1)
    f.seek(off)
    f.write(bytes([b[0] ^ 0xFF]))
EOF
}

# ---- a healthy directory ---------------------------------------------------------------
d=$tmp/node1
run "init-test" wal init-test "$d" --entries 200 --snapshot-at 20
expect_rc 0
run "check healthy" wal check "$d"
expect_rc 0
expect_out "healthy"
expect_out "hard state: term 2, vote 1, commit 200"
expect_out "snapshot: index 20, term 2, 11 bytes, members: 1 at 127.0.0.1:7001"
expect_out "entries 1..200, terms 1..2, 180 after the snapshot"
expect_out "00000000000000000001.wal: entries 1..38 (38 records)"
before=$(fingerprint "$d")

run "check quiet" wal check -q "$d"
expect_rc 0
if [[ -n $out || -n $err ]]; then
	fail "check quiet: printed '$out' '$err'"
fi

run "dump" wal dump "$d"
expect_rc 0
expect_out "# hard state: term 2, vote 1, commit 200"
expect_out "# snapshot: index 20, term 2, 11 bytes"
expect_out "$(printf '1\t1\tnoop\t53\t"SET key1 value-1-abcdefg..."\t(in the snapshot)')"
expect_out "$(printf '150\t2\tnormal\t57\t"SET key150 value-150-abc..."')"
lines=$(grep -c $'^[0-9]*\t' "$tmp/out" || true)
if [[ $lines != 200 ]]; then
	fail "dump: $lines record lines, expected 200"
fi

run "dump json" wal dump --json "$d"
expect_rc 0
if ! python3 -c '
import json, sys
kinds = {}
for line in open(sys.argv[1]):
    o = json.loads(line)
    kinds[o["kind"]] = kinds.get(o["kind"], 0) + 1
assert kinds["record"] == 200 and kinds["state"] == 1 and kinds["segment"] >= 5, kinds
' "$tmp/out"; then
	fail "dump json: not 200 records, one state and the segments as JSON lines"
else
	passed=$((passed + 1))
fi
if [[ $(fingerprint "$d") != "$before" ]]; then
	fail "check and dump changed the directory"
fi

# ---- a flipped byte in a record followed by others: corrupt, named ------------------------
read -r file off < <(record_offset "$d" 100)
flip "$d/$file" $((off + 40))
run "flipped byte" wal check "$d"
expect_rc 1
expect_out "corrupt: $d/$file at offset $off: checksum mismatch in a complete record"
expect_out "replace the node (remove it from the cluster, wipe its data dir, add it back under a new id"
run "dump of a damaged log" wal dump "$d"
expect_rc 1
expect_out "$(printf '99\t2\tnormal')"
expect_out "ballot: wal dump: $d/$file at offset $off"
flip "$d/$file" $((off + 40))
flip "$d/$file" $((off + 1)) # the record's magic
run "flipped magic" wal check "$d"
expect_rc 1
expect_out "$d/$file at offset $off: bad record magic, and valid records follow it"
flip "$d/$file" $((off + 1))
run "flipped back" wal check -q "$d"
expect_rc 0

# ---- a torn tail: healthy, with a warning, untouched ---------------------------------------
read -r file off < <(record_offset "$d" 200)
python3 - "$d/$file" "$off" <<'EOF'
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(off + 20)
    f.write(bytes(200)) # the write of record 200 stopped 20 bytes in
EOF
torn=$(fingerprint "$d")
run "torn tail" wal check "$d"
expect_rc 0
expect_out "warning: $file: torn record at offset $off (a write cut short by a crash); the next open cuts it"
expect_out "entries 1..199"
if [[ $(fingerprint "$d") != "$torn" ]]; then
	fail "check cut the torn tail itself"
fi

# ---- the hard state: one damaged copy is survivable, two are not ----------------------------
flip "$d/hardstate" 30
run "one hard state copy" wal check "$d"
expect_rc 0
expect_out "warning: hardstate: copy 0 is damaged; copy 1 (save 1) is used"
flip "$d/hardstate" $((512 + 30))
run "both hard state copies" wal check "$d"
expect_rc 1
expect_out "corrupt: $d/hardstate at offset 0: both copies of the hard state are damaged"
flip "$d/hardstate" 30
flip "$d/hardstate" $((512 + 30))

# ---- an unknown format version, a missing segment -------------------------------------------
python3 - "$d/00000000000000000039.wal" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(8)
    f.write((2).to_bytes(4, "little"))
EOF
run "unknown version" wal check "$d"
expect_rc 1
expect_out "$d/00000000000000000039.wal at offset 8: format version 2, but this build reads version 1"

rm "$d/00000000000000000039.wal"
run "missing segment" wal check "$d"
expect_rc 1
expect_out "$d/00000000000000000077.wal at offset 0: the log jumps from index 38 to 77 (a segment is missing)"

# ---- usage -----------------------------------------------------------------------------------
run "no command" wal
expect_rc 2
expect_out "usage: ballot wal check"
run "no dir" wal check
expect_rc 2
expect_out "which data dir?"
run "unknown command" wal frobnicate "$d"
expect_rc 2
expect_out "unknown command 'frobnicate'"
run "unknown option" wal check --json "$d"
expect_rc 2
expect_out "unknown option '--json'"
run "two dirs" wal dump "$d" "$d"
expect_rc 2
expect_out "one data dir at a time"
run "help" wal --help
expect_rc 0
expect_out "exit status: 0 healthy, 1 damaged or unreadable"
run "missing dir" wal check "$tmp/nowhere"
expect_rc 1
expect_out "ballot: wal check: open directory $tmp/nowhere: No such file or directory"
mkdir "$tmp/empty"
run "empty dir" wal check "$tmp/empty"
expect_rc 1
expect_out "holds no ballot data"
run "ballot help lists wal" help
expect_rc 0
expect_out "wal           check or dump a node's data directory"

echo "wal.sh: $passed passed, $failed failed"
((failed == 0))
