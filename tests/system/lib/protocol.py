#!/usr/bin/python3
"""Hostile and unusual clients on raw sockets: what a ballotd node answers, compared with
what Redis 7.0 answers (the expected bytes below were recorded from redis-server 7.0.15;
with --redis-port, each is checked against a live redis-server too).

  protocol.py --port P [--redis-port R] --pid PID

Prints "ok NAME: ..." / "FAIL NAME: ..." lines (see tests/system/lib/cluster.bash,
pycheck), and figures. Every socket operation has a timeout.
"""
import argparse
import random
import socket
import time

import redis

# (name, bytes sent, reply expected, connection closed after it, compare with Redis)
CASES = [
    ("bad multibulk length", b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n", True, True),
    ("negative bulk length", b"*1\r\n$-5\r\n", b"-ERR Protocol error: invalid bulk length\r\n", True, True),
    ("bulk length not a number", b"*1\r\n$abc\r\n", b"-ERR Protocol error: invalid bulk length\r\n", True, True),
    ("no '$' before a bulk", b"*1\r\nx\r\n", b"-ERR Protocol error: expected '$', got 'x'\r\n", True, True),
    ("bulk past 512 MiB", b"*1\r\n$1073741824\r\n", b"-ERR Protocol error: invalid bulk length\r\n", True, True),
    # ballot's limit is lower than Redis's (an entry is at most 64 MiB): refused at once, in
    # Redis's words, where Redis would wait for the bytes.
    ("bulk past ballot's 64 MiB", b"*2\r\n$3\r\nGET\r\n$67108865\r\n",
     b"-ERR Protocol error: invalid bulk length\r\n", True, False),
    ("inline request past 64 KiB with no newline", b"a" * (64 * 1024 + 10),
     b"-ERR Protocol error: too big inline request\r\n", True, True),
    ("unbalanced quotes inline", b'SET "a b\r\n', b"-ERR Protocol error: unbalanced quotes in request\r\n", True, True),
    ("a closing quote not followed by a space", b'SET "a"b c\r\n',
     b"-ERR Protocol error: unbalanced quotes in request\r\n", True, True),
    ("inline commands typed by hand", b"SET hand typed\r\nGET hand\r\nPING\nECHO \"a b\"\r\n",
     b"+OK\r\n$5\r\ntyped\r\n+PONG\r\n$3\r\na b\r\n", False, True),
    ("blank lines and empty multibulks are skipped", b"\r\n\n*0\r\n*-1\r\nPING\r\n", b"+PONG\r\n", False, True),
    ("unknown inline command", b"FROB a b\r\n",
     b"-ERR unknown command 'FROB', with args beginning with: 'a' 'b' \r\n", False, True),
    ("a request split into single bytes", None, b"+OK\r\n$3\r\nv\x00w\r\n", False, True),
]


def talk(port, data, wait=1.0, byte_by_byte=False):
    """Sends data, reads until the server closes or is quiet for `wait` seconds."""
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
    got, closed = b"", False
    try:
        if byte_by_byte:
            for i in range(len(data)):
                s.sendall(data[i:i + 1])
                time.sleep(0.001)
        else:
            s.sendall(data)
        while True:
            b = s.recv(65536)
            if not b:
                closed = True
                break
            got += b
    except socket.timeout:
        pass
    except (ConnectionResetError, BrokenPipeError):
        closed = True
    finally:
        s.close()
    return got, closed


SPLIT = b"*3\r\n$3\r\nSET\r\n$5\r\nsplit\r\n$3\r\nv\x00w\r\n*2\r\n$3\r\nGET\r\n$5\r\nsplit\r\n"


def check_cases(a, check):
    for name, data, want, want_closed, compare in CASES:
        split = data is None
        data = SPLIT if split else data
        got, closed = talk(a.port, data, byte_by_byte=split)
        check(name, (got, closed) == (want, want_closed),
              "got %r%s" % (got[:200], ", closed" if closed else ", open"))
        if a.redis_port and compare:
            rgot = talk(a.redis_port, data, byte_by_byte=split)
            check(name + ": Redis says the same", rgot == (want, want_closed), "Redis: %r" % (rgot,))


def check_garbage(a, check):
    """Random bytes (no NUL, which stalls Redis's line search too) make an inline command
    that does not exist; the answer is an error and the connection stays usable."""
    rng = random.Random(4)
    body = bytes(rng.choice([b for b in range(1, 256) if b not in (10, 13, 32, 34, 39)]) for _ in range(300))
    data = body + b"\r\nPING\r\n"
    got, closed = talk(a.port, data)
    check("binary garbage: an error, then the connection serves",
          got.startswith(b"-ERR unknown command") and got.endswith(b"+PONG\r\n") and not closed, repr(got[:80]))
    if a.redis_port:
        check("binary garbage: Redis says the same", talk(a.redis_port, data) == (got, closed), "")
    value = bytes(range(256)) * 4 + b"\r\n$3\r\n*1\r\n"
    r = redis.Redis(host="127.0.0.1", port=a.port, socket_timeout=5)
    r.set(b"bin\x00key\r\n", value)
    check("binary-safe keys and values", r.get(b"bin\x00key\r\n") == value and r.strlen(b"bin\x00key\r\n") == len(value),
          "%d bytes" % len(value))


def check_others_served(a, check):
    """A connection stuck in the middle of a request (no line end yet) and one that sent a
    bad request hold up no one else."""
    stuck = socket.create_connection(("127.0.0.1", a.port), timeout=2)
    stuck.sendall(b"*2\r\n$3\r\nGET\r\n$100\r\nabc")
    half = socket.create_connection(("127.0.0.1", a.port), timeout=2)
    half.sendall(b"*1\r\nx")  # Redis waits for the line's end: so does ballotd
    r = redis.Redis(host="127.0.0.1", port=a.port, socket_timeout=2)
    t0 = time.time()
    good = r.ping() and r.set("served", "yes") and r.get("served") == b"yes"
    check("others are served beside half-sent requests", good, "%.3f s" % (time.time() - t0))
    half.settimeout(0.5)
    try:
        quiet = half.recv(100) == b""
    except socket.timeout:
        quiet = True
    check("'*1\\r\\nx' without a line end waits, as in Redis", quiet, "")
    stuck.close()
    half.close()


def rss_mb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) // 1024
    return -1


def check_slow_reader(a, check):
    """A client pipelines GETs of a 64 KiB value and never reads a reply. The node must
    keep its output to that client bounded (BALLOT_CLIENT_OUTPUT_BYTES_MAX, 64 MiB) and
    keep answering others promptly."""
    r = redis.Redis(host="127.0.0.1", port=a.port, socket_timeout=10)
    r.set("slow:big", b"v" * (64 * 1024))
    before = peak = rss_mb(a.pid, "VmRSS")
    hog = socket.create_connection(("127.0.0.1", a.port), timeout=2)
    hog.setblocking(False)
    burst = b"*2\r\n$3\r\nGET\r\n$8\r\nslow:big\r\n" * 4096
    sent, latencies, errors = 0, [], []
    end = time.time() + 4
    while time.time() < end:
        try:
            sent += hog.send(burst)
        except BlockingIOError:
            pass
        t0 = time.time()
        try:
            ok = r.ping() and r.set("slow:other", "1")
        except redis.RedisError as e:
            errors.append(str(e))
            ok = False
        latencies.append(time.time() - t0)
        peak = max(peak, rss_mb(a.pid, "VmRSS"))
        time.sleep(0.02)
    now = rss_mb(a.pid, "VmRSS")
    hog.close()
    print("slow reader: %.1f MB of GETs sent and never read; others' slowest PING+SET %.3f s; node RSS %d MB "
          "before, %d MB after, peak %d MB" % (sent / 1e6, max(latencies), before, now, peak))
    check("others are answered within 1 s while a client does not read", max(latencies) < 1 and not errors,
          "slowest %.3f s, errors %s" % (max(latencies), errors[:2]))
    check("the output kept for a client that does not read stays bounded", peak - before < 160,
          "peak RSS %d MB, %d MB before (bound: 160 MB more, 2.5 times the limit)" % (peak, before))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--redis-port", type=int)
    p.add_argument("--pid", type=int, required=True, help="the node's process, for its memory use")
    a = p.parse_args()

    def check(name, good, detail):
        print("%s %s: %s" % ("ok" if good else "FAIL", name, detail))

    check_cases(a, check)
    check_garbage(a, check)
    check_others_served(a, check)
    check_slow_reader(a, check)


if __name__ == "__main__":
    main()
