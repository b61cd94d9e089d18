#!/usr/bin/python3
"""Clients under faults: concurrent writers against a ballot cluster, and the checks after.

  load.py run --ports P1,P2,P3 --seconds S --history FILE [--clients N]
      N client threads (default 4) for S seconds. Each does, in turn, INCR counter, SET of a
      key no one else writes (k:<process>:<n> = <n>) and GET counter, and records every
      operation as invoke/completion events in FILE, the history format of `ballot check`
      (docs/history.md), with a "time" field (seconds since the epoch). A reply is "ok"; an
      error reply that says the command did not take effect is "fail"; anything else (a
      timeout, a closed connection, UNCERTAIN, an unexpected error) is "info", and the client
      then continues as a new process (a process that got "info" issues nothing more) on the
      next node, round robin. Nothing is retried: each INCR is sent once.

  load.py verify --port P --history FILE [--kill-time T]
      Reads the counter and every key the history wrote, through port P, and prints one
      line per check, "ok NAME: detail" or "FAIL NAME: detail", and the figures measured:
      - every acknowledged SET is there with its value; a SET refused with an error that
        says it did not take effect (CLUSTERDOWN, TRYAGAIN, BUSY) is not;
      - acknowledged INCRs <= counter <= acknowledged + in doubt (= if none was in doubt);
      - with --kill-time: the time from the kill to the first acknowledged write invoked
        after it, and the longest time no write was acknowledged.
      Exit status 0 whether or not checks failed (the caller counts the FAIL lines); 2 on
      a usage error.
"""
import argparse
import json
import sys
import threading
import time

import redis

COUNTER = "counter"

# Error replies that say the command did not take effect (README, "errors a client may
# see": nothing was proposed, or it is known not to have committed); the history records
# them as "fail", so the checks below and `ballot check` hold ballotd to that. UNCERTAIN
# (and a lost connection, a timeout) leaves the outcome open: "info".
NEVER_RAN = ("CLUSTERDOWN", "TRYAGAIN", "BUSY")
OPEN = ("UNCERTAIN",)


class History:
    def __init__(self, path):
        self.out = open(path, "w")
        self.lock = threading.Lock()
        self.unexpected = []

    def event(self, **e):
        # One lock for the clock and the file: lines are in real-time order.
        with self.lock:
            e["time"] = time.time()
            self.out.write(json.dumps(e) + "\n")

    def close(self):
        self.out.close()


def connect(port, timeout):
    # retry_on_timeout False and no retry_on_error: redis-py sends each command once.
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=timeout,
                       socket_connect_timeout=1, retry_on_timeout=False)


def client(h, ports, first, seconds_end, process, step, timeout):
    node = first
    r = connect(ports[node], timeout)
    n = 0
    while time.time() < seconds_end:
        n += 1
        kind = n % 3
        if kind == 1:
            op = dict(f="incr", key=COUNTER, value=1)
            call = lambda: r.incr(COUNTER)
        elif kind == 2:
            key = "k:%d:%d" % (process, n)
            op = dict(f="write", key=key, value=str(n))
            call = lambda: r.set(key, str(n))
        else:
            op = dict(f="read", key=COUNTER, value=None)
            call = lambda: r.get(COUNTER)
        h.event(process=process, type="invoke", **op)
        try:
            got = call()
        except redis.ResponseError as e:
            text = str(e)
            if op["f"] == "read" or text.startswith(NEVER_RAN):
                h.event(process=process, type="fail", f=op["f"], key=op["key"], error=text)
                continue
            if not text.startswith(OPEN):
                h.unexpected.append(text)
            h.event(process=process, type="info", f=op["f"], key=op["key"], error=text)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
            kind = "fail" if op["f"] == "read" else "info"
            h.event(process=process, type=kind, f=op["f"], key=op["key"], error=type(e).__name__ + ": " + str(e))
            if kind == "fail":
                node = (node + 1) % len(ports)
                r = connect(ports[node], timeout)
                continue
        else:
            value = got.decode() if isinstance(got, bytes) else got
            if op["f"] == "read" and value is not None:
                value = int(value)
            h.event(process=process, type="ok", f=op["f"], key=op["key"], value=value)
            continue
        # Outcome unknown: this process is done; go on as a new one, on the next node.
        process += step
        node = (node + 1) % len(ports)
        r = connect(ports[node], timeout)


def run(a):
    ports = [int(p) for p in a.ports.split(",")]
    h = History(a.history)
    end = time.time() + a.seconds
    threads = [threading.Thread(target=client, args=(h, ports, i % len(ports), end, i + 1, a.clients, a.timeout))
               for i in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    h.close()
    for text in sorted(set(h.unexpected)):
        print("unexpected error reply: " + text, file=sys.stderr)
    return 0


def read_history(path):
    """Pairs each invoke with its completion: a list of (invoke, completion or None)."""
    open_ops = {}
    ops = []
    with open(path) as f:
        for line in f:
            e = json.loads(line)
            if e["type"] == "invoke":
                open_ops[e["process"]] = len(ops)
                ops.append([e, None])
            else:
                ops[open_ops.pop(e["process"])][1] = e
    return ops


def verify(a):
    ops = read_history(a.history)
    r = connect(a.port, 10)
    checks = []

    def check(name, good, detail):
        checks.append(name)
        print("%s %s: %s" % ("ok" if good else "FAIL", name, detail))

    # Every key written once, by one process: what the history says it must hold.
    writes = [(inv, done) for inv, done in ops if inv["f"] == "write"]
    keys = [inv["key"] for inv, _ in writes]
    values = []
    for i in range(0, len(keys), 500):
        values += r.mget(keys[i:i + 500])
    lost, ghost, wrong = [], [], []
    for (inv, done), got in zip(writes, values):
        status = done["type"] if done else "info"
        if status == "ok" and got is None:
            lost.append(inv["key"])
        elif status == "fail" and got is not None:
            ghost.append(inv["key"])
        elif got is not None and got.decode() != inv["value"]:
            wrong.append(inv["key"])
    acked_sets = sum(1 for _, d in writes if d and d["type"] == "ok")
    check("acknowledged SETs readable", not lost and not wrong,
          "%d acknowledged, %d lost %s, %d wrong %s" % (acked_sets, len(lost), lost[:5], len(wrong), wrong[:5]))
    check("failed SETs absent", not ghost, "%d present %s" % (len(ghost), ghost[:5]))

    incrs = [d for inv, d in ops if inv["f"] == "incr"]
    acked = sum(1 for d in incrs if d and d["type"] == "ok")
    doubt = sum(1 for d in incrs if d is None or d["type"] == "info")
    value = int(r.get(COUNTER) or 0)
    print("counter: %d attempted, %d acknowledged, %d in doubt, value %d" % (len(incrs), acked, doubt, value))
    check("counter within acknowledged..acknowledged+in doubt", acked <= value <= acked + doubt,
          "%d <= %d <= %d" % (acked, value, acked + doubt))
    if doubt == 0:
        check("counter equals acknowledged INCRs", value == acked, "%d == %d" % (value, acked))
    seen = sorted(d["value"] for d in incrs if d and d["type"] == "ok")
    check("INCR replies distinct", len(seen) == len(set(seen)), "%d replies" % len(seen))

    if a.kill_time is not None:
        report_gap(ops, a.kill_time, a.gap_max, check)
    return 0


def report_gap(ops, kill, gap_max, check):
    writes = [(inv, d) for inv, d in ops if inv["f"] in ("write", "incr") and d and d["type"] == "ok"]
    after = [d["time"] for inv, d in writes if inv["time"] > kill]
    first = min(after) - kill if after else float("inf")
    times = sorted(d["time"] for _, d in writes)
    stall = max((b - a for a, b in zip(times, times[1:])), default=float("inf"))
    slowest = max((d["time"] - inv["time"] for inv, d in ops if d), default=0)
    print("failover: first acknowledged write %.3f s after the kill; longest stretch with no "
          "acknowledged write %.3f s; slowest operation %.3f s; %d writes acknowledged after the kill"
          % (first, stall, slowest, len(after)))
    check("writes resume after the kill", first < gap_max, "%.3f s (bound %.1f s)" % (first, gap_max))
    check("no client waits longer than the bound", slowest < gap_max, "%.3f s (bound %.1f s)" % (slowest, gap_max))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    pr = sub.add_parser("run")
    pr.add_argument("--ports", required=True)
    pr.add_argument("--seconds", type=float, required=True)
    pr.add_argument("--history", required=True)
    pr.add_argument("--clients", type=int, default=4)
    pr.add_argument("--timeout", type=float, default=10, help="seconds a client waits for a reply")
    pv = sub.add_parser("verify")
    pv.add_argument("--port", type=int, required=True)
    pv.add_argument("--history", required=True)
    pv.add_argument("--kill-time", type=float)
    pv.add_argument("--gap-max", type=float, default=5.0)
    a = p.parse_args()
    return run(a) if a.cmd == "run" else verify(a)


if __name__ == "__main__":
    sys.exit(main())
