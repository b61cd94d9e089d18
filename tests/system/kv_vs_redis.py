#!/usr/bin/python3
"""Sends the same command sequences to redis-server and to ballotd and compares the raw
reply bytes, one reply at a time.

Usage: kv_vs_redis.py REDIS_PORT BALLOT_PORT   (both on 127.0.0.1)

Each case starts from an empty store (FLUSHALL on both). Replies are read as RESP2 values
from the socket and compared byte for byte; every difference is printed with the command
and both replies. A second list holds what ballot answers on purpose differently from Redis
(keys never expire, smaller limits, a deterministic RANDOMKEY): those are checked against
ballot's own expected bytes. Exit 0 if everything matched, 1 otherwise."""

import socket
import sys

# --- A RESP2 client that keeps the bytes ----------------------------------------------------


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        end = self.buf.index(b"\r\n") + 2
        line, self.buf = self.buf[:end], self.buf[end:]
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def reply(self):
        """One whole reply, as the bytes that came over the wire."""
        line = self._line()
        kind = line[:1]
        if kind in (b"+", b"-", b":"):
            return line
        n = int(line[1:-2])
        if kind == b"$":
            return line if n < 0 else line + self._exact(n + 2)
        if kind == b"*":
            out = line
            for _ in range(max(n, 0)):
                out += self.reply()
            return out
        raise ValueError("not a RESP2 reply: %r" % line)

    def call(self, args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self.reply()


def cmd(line):
    """A command written as space-separated words (use a list for empty or spaced args)."""
    return line.split(" ") if isinstance(line, str) else line


# --- What both must answer alike ----------------------------------------------------------

LONG_DIGITS = "0" * (5 * 1024 - 1) + "1"  # 5 KiB: not a number for Redis's string2ld

CASES = {
    "getdel": [
        "SET k hello", "GETDEL k", "GETDEL k", "EXISTS k", ["SET", "e", ""], "GETDEL e",
        "SET n 12345", "GETDEL n", "GETDEL", "GETDEL a b", "getDel k",
    ],
    "unlink": [
        "MSET a 1 b 2 c 3", "UNLINK a b zz a", "EXISTS a b c", "UNLINK c", "UNLINK", "DBSIZE",
    ],
    "msetnx": [
        "MSETNX a 1 b 2", "MGET a b", "MSETNX b 3 c 4", "EXISTS c", "GET b", "MSETNX x 1 x 2",
        "GET x", "MSETNX y 1 z", "MSETNX y", "MSETNX", "EXISTS y z",
        ["MSETNX", "", ""], ["GET", ""], ["MSETNX", "", "again"],
    ],
    "getrange": [
        "SET k Hello_World", "GETRANGE k 0 4", "GETRANGE k -5 -1", "GETRANGE k 0 -1",
        "GETRANGE k 6 100", "GETRANGE k -100 2", "GETRANGE k 0 -100", "GETRANGE k -1 -5", "GETRANGE k -100 -200", "GETRANGE k -200 -100",
        "GETRANGE k 5 3", "GETRANGE k 10 10", "GETRANGE k 11 11", "GETRANGE k -1 -1",
        "GETRANGE k -11 -11", "GETRANGE k -12 -12", "GETRANGE k 0 0", "GETRANGE k 3 -3",
        "GETRANGE k 0 4294967297", "GETRANGE k -9223372036854775808 9223372036854775807",
        "GETRANGE k 9223372036854775807 -9223372036854775808",
        "GETRANGE k 0 9223372036854775808", "GETRANGE k a 1", "GETRANGE k 0 1.5",
        "GETRANGE k +1 2", "GETRANGE k 01 2", "GETRANGE k -0 2", ["GETRANGE", "k", " 1", "2"],
        "GETRANGE missing 0 -1", "GETRANGE missing x 1", ["SET", "e", ""], "GETRANGE e 0 -1",
        "GETRANGE e -1 0", "SET n 1234567890", "GETRANGE n 2 4", "GETRANGE n -3 -1",
        "GETRANGE k 0", "GETRANGE k 0 1 2", "SUBSTR k 0 4", "SUBSTR k -3 -1", "SUBSTR k 0",
        "substr missing 0 1", "GetRange k 1 1",
    ],
    "setrange": [
        "SET k Hello_World", "SETRANGE k 6 Redis", "GET k", "SETRANGE k 9 dish!", "GET k",
        "SETRANGE fresh 3 ab", "GET fresh", "SETRANGE fresh 0 xyz", "GET fresh",
        "SETRANGE fresh 10 end", "GET fresh", "STRLEN fresh",
        ["SETRANGE", "missing", "5", ""], "EXISTS missing", ["SETRANGE", "k", "100", ""], "GET k",
        ["SETRANGE", "missing", "-1", ""], "SETRANGE k -1 x", "SETRANGE k x x",
        "SETRANGE k 1.5 x", "SETRANGE k 99999999999999999999 x",
        "SETRANGE k 536870912 x", "SETRANGE k 9223372036854775807 x",
        "SETRANGE k 9223372036854775807 xyz", "EXISTS big", "GET k",
        "SET n 100", "SETRANGE n 1 5", "GET n", "INCR n", "SETRANGE n 3 ab", "INCR n",
        ["SETRANGE", "bin", "2", "\0\r\n"], "GET bin", "SETRANGE k 0", "SETRANGE k 0 a b",
    ],
    "incrbyfloat": [
        "SET a 10.50", "INCRBYFLOAT a 0.1", "INCRBYFLOAT a -5", "GET a",
        "SET b 5.0e3", "INCRBYFLOAT b 2.0e2", "GET b", "SET c 3.0e3", "INCRBYFLOAT c 0",
        "INCRBYFLOAT n 0.1", "INCRBYFLOAT n 0.2", "INCRBYFLOAT n 0.3", "INCRBYFLOAT i 3",
        "INCRBYFLOAT i -4", "INCRBYFLOAT x 1.23456789012345678901234",
        "INCRBYFLOAT big 1e20", "INCRBYFLOAT big 1e20", "INCRBYFLOAT j 123456789012345678901234567890",
        "INCRBYFLOAT tiny -0.0000000000000000001", "INCRBYFLOAT zero -0", "INCRBYFLOAT zero 0.0",
        "INCRBYFLOAT small -6e-18", "INCRBYFLOAT small2 5e-18", "INCRBYFLOAT small3 -5e-18",
        "INCRBYFLOAT h 0x10", "INCRBYFLOAT h 0x1p-2", "INCRBYFLOAT h 0X1.8P1",
        "INCRBYFLOAT p 1.", "INCRBYFLOAT p .5", "INCRBYFLOAT p +.5", "INCRBYFLOAT p 1E2",
        "INCRBYFLOAT d 1e-4940", "INCRBYFLOAT d 0x1p-16400", "INCRBYFLOAT huge 1e4000",
        "INCRBYFLOAT huge 1e4000", "INCRBYFLOAT m -1e4932", "INCRBYFLOAT m -1e4932", "GET m",
        "INCRBYFLOAT third 0.333333333333333333333", "INCRBYFLOAT third 0.333333333333333333333",
        "INCRBYFLOAT third 0.333333333333333333333", "INCRBYFLOAT r 1.1", "INCRBYFLOAT r 2.2",
        "INCRBYFLOAT r -3.3", "INCRBYFLOAT e 2.5e-3", "INCRBYFLOAT e 1e15", "INCRBYFLOAT e 0.1",
        "INCRBYFLOAT maxi 9223372036854775807", "INCRBYFLOAT maxi 1",
        "INCRBYFLOAT mini -9223372036854775808", "INCRBYFLOAT mini -1",
        # Errors: what string2ld refuses, and sums that are not finite.
        "INCRBYFLOAT k abc", ["INCRBYFLOAT", "k", " 1"], ["INCRBYFLOAT", "k", "1 "],
        ["INCRBYFLOAT", "k", "\t1"], "INCRBYFLOAT k 1.5abc", "INCRBYFLOAT k 1e",
        "INCRBYFLOAT k nan", "INCRBYFLOAT k NaN", "INCRBYFLOAT k -nan", "INCRBYFLOAT k 1e5000",
        "INCRBYFLOAT k 1e-5000", ["INCRBYFLOAT", "k", ""], "INCRBYFLOAT k -", "INCRBYFLOAT k 1,5",
        ["INCRBYFLOAT", "k", b"1\0x"], ["INCRBYFLOAT", "k", b"\0"], ["INCRBYFLOAT", "k", b"1\0"],
        ["INCRBYFLOAT", "k", LONG_DIGITS], ["INCRBYFLOAT", "k", LONG_DIGITS[1:]],
        "INCRBYFLOAT k inf", "INCRBYFLOAT k -Infinity", "INCRBYFLOAT k INF",
        "SET s hello", "INCRBYFLOAT s 1", "GET s", "SET f inf", "INCRBYFLOAT f 1",
        "INCRBYFLOAT f -inf", "GET f", "SET g 1e308", "INCRBYFLOAT g 1e308",
        ["SET", "sp", " 2"], "INCRBYFLOAT sp 1", "SET hx 0x10", "INCRBYFLOAT hx 1",
        "INCRBYFLOAT k", "INCRBYFLOAT k 1 2", "IncrByFloat k 1",
    ],
    "rename": [
        "MSET a 1 b 2", "RENAME a c", "MGET a c", "RENAME c b", "GET b", "DBSIZE",
        "RENAME b b", "GET b", "RENAME zz yy", "RENAME zz zz", "EXISTS yy zz",
        ["RENAME", "b", ""], ["GET", ""], ["RENAME", "", "b"], "GET b", "RENAME b", "RENAME a b c",
        "SET n 42", "RENAME n m", "INCR m",
    ],
    "renamenx": [
        "MSET a 1 b 2", "RENAMENX a b", "MGET a b", "RENAMENX a c", "MGET a c",
        "RENAMENX c c", "RENAMENX zz c", "RENAMENX zz zz", "RENAMENX c", "DBSIZE",
    ],
    "ttl": [
        "SET k v", "TTL k", "PTTL k", "TTL missing", "PTTL missing", "EXPIRETIME k",
        "PEXPIRETIME k", "EXPIRETIME missing", "PEXPIRETIME missing", "PERSIST k",
        "PERSIST missing", "TTL", "PTTL k x", "PERSIST", "EXPIRETIME", "ttl k",
    ],
    "getex": [
        "SET k v", "GETEX k", "GETEX k PERSIST", "GETEX k persist PERSIST", "GETEX missing",
        "GETEX missing PERSIST", "GETEX k bogus", "GETEX k EX", "GETEX k EX 10 PX 10",
        "GETEX k PERSIST EX 10", "GETEX k EX 10 PERSIST", "GETEX k PERSIST 10", "GETEX",
        "GETEX k PX", "GETEX k EXAT 1 PXAT 1", "GET k",
    ],
    "arity": [
        "EXPIRE k", "PEXPIRE", "EXPIREAT k", "PEXPIREAT k", "SETEX k 10", "PSETEX k",
        "SETEX k", "RANDOMKEY x",
    ],
    "randomkey": ["RANDOMKEY", "SET only 1", "RANDOMKEY", "DEL only", "RANDOMKEY"],
    "multi": [
        "MULTI", "MSETNX a 1.5 b x", "INCRBYFLOAT a 1", "SETRANGE b 2 yz", "RENAME b c",
        "GETRANGE c 0 -1", "GETDEL a", "TTL c", "UNLINK c", "INCRBYFLOAT c x", "EXEC",
        "MULTI", "SET a 1", "GETRANGE a 0", "EXEC", "EXISTS a",
        "MULTI", "SET a 1", "RENAME nothing x", "GET a", "EXEC",
    ],
}

# --- What ballot answers on purpose differently ---------------------------------------------

BALLOT_ONLY = [
    ("SET k v", b"+OK\r\n"),
    ("EXPIRE k 10", b"-ERR keys do not expire in ballot: EXPIRE is not supported; keys live until deleted\r\n"),
    ("pexpire k 10 NX", b"-ERR keys do not expire in ballot: PEXPIRE is not supported; keys live until deleted\r\n"),
    ("EXPIREAT k 10", b"-ERR keys do not expire in ballot: EXPIREAT is not supported; keys live until deleted\r\n"),
    ("PEXPIREAT k 10", b"-ERR keys do not expire in ballot: PEXPIREAT is not supported; keys live until deleted\r\n"),
    ("SETEX k 10 w", b"-ERR keys do not expire in ballot: SETEX is not supported; use SET\r\n"),
    ("PSETEX k 10 w", b"-ERR keys do not expire in ballot: PSETEX is not supported; use SET\r\n"),
    ("GETEX k EX 10", b"-ERR keys do not expire in ballot: GETEX EX is not supported; use GET\r\n"),
    ("GETEX k pxat 10", b"-ERR keys do not expire in ballot: GETEX pxat is not supported; use GET\r\n"),
    ("TTL k", b":-1\r\n"),
    ("GET k", b"$1\r\nv\r\n"),
    # 16 MiB (BALLOT_KV_VALUE_MAX_BYTES) in Redis's words; Redis's own limit is 512 MB.
    ("SETRANGE big 16777216 x", b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"),
    ("SETRANGE big 16777215 x", b":16777216\r\n"),
    ("DEL big", b":1\r\n"),
    # RANDOMKEY: the first key in SCAN order, every time.
    ("MSET a 1 b 2 c 3 d 4", b"+OK\r\n"),
]


def run_cases(redis, ballot):
    failures = compared = 0
    for name, lines in CASES.items():
        for conn in (redis, ballot):
            assert conn.call(["FLUSHALL"]) == b"+OK\r\n"
        for line in lines:
            args = cmd(line)
            want = redis.call(args)
            got = ballot.call(args)
            compared += 1
            if want != got:
                failures += 1
                print("DIFF [%s] %r\n  redis:  %r\n  ballot: %r" % (name, args, want[:300], got[:300]))
    return compared, failures


def run_ballot_only(ballot):
    failures = 0
    assert ballot.call(["FLUSHALL"]) == b"+OK\r\n"
    for line, want in BALLOT_ONLY:
        got = ballot.call(cmd(line))
        if got != want:
            failures += 1
            print("BALLOT [%s]\n  expected: %r\n  got:      %r" % (line, want, got[:300]))
    first = ballot.call(["RANDOMKEY"])
    scan = ballot.call(["SCAN", "0", "COUNT", "1"])
    again = [ballot.call(["RANDOMKEY"]) for _ in range(5)]
    if first not in scan or any(r != first for r in again):
        failures += 1
        print("BALLOT RANDOMKEY %r is not the first SCAN key every time: %r %r" % (first, scan, again))
    return len(BALLOT_ONLY) + 1, failures


def main():
    redis = Conn(int(sys.argv[1]))
    ballot = Conn(int(sys.argv[2]))
    compared, failures = run_cases(redis, ballot)
    checked, ballot_failures = run_ballot_only(ballot)
    print("%d replies compared with redis-server, %d differ; %d ballot-only replies checked, %d wrong"
          % (compared, failures, checked, ballot_failures))
    return 0 if failures == 0 and ballot_failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
