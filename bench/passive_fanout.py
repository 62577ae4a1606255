#!/usr/bin/env python3
"""What keyspace notifications cost Redis, and how many reach each instance
(issue 14: the passive layer per instance; issue 15: Redis cost).

Starts its own redis-server (unix socket, no persistence), loads OTHER keys
with a TTL (default 1,000,000) and HEARTBEATS heartbeat keys (default
100,000, `hb:<i>`), then refreshes the heartbeat keys at RATE SET ... EX 20
per second (default 5,000: every key every 20 s) through every phase:

  none            no subscriber (the baseline)
  pattern-1       one subscriber, PSUBSCRIBE __keyspace@0__:hb:*  (one daemon today)
  exact-1         one subscriber, SUBSCRIBE of every key's own channel
  pattern-3       three subscribers with the pattern (three daemons today:
                  each receives every heartbeat's notifications)
  exact-3         three subscribers, each SUBSCRIBEd to the channels of its
                  own third of the keys (three daemons with exact channels)

Each phase lasts SECONDS (default 40) after 3 s of settling; Redis' CPU time
(INFO cpu, used_cpu_user + used_cpu_sys, cross-checked with /proc/<pid>/stat)
is read at both ends of the window. Prints per phase: Redis CPU as % of a
core, its ratio to `none` (same run), what the subscription adds in % of a
core, the messages each subscriber received per second and per refresh, and
Redis' used_memory after subscribing. Only the notifications are measured:
a daemon's PTTL per refresh (the same in both modes) is not sent.

  bench/passive_fanout.py [--seconds 40] [--heartbeats 100000] [--other 1000000] [--rate 5000]

Loopback only (a unix socket in a temporary directory), bounded (about
5 x (SECONDS + 3) s plus loading), and it kills its redis-server and its
subscriber processes on exit. Python 3.11, no packages.
"""
import argparse
import multiprocessing as mp
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from soak_driver import resp  # noqa: E402  (RESP encoding of one command)


class Conn:
    """A minimal blocking RESP client (replies read whole, enough for here)."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.s.recv(1 << 16)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self.buf += self.s.recv(1 << 16)
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-"):
            return rest.decode() if kind == b"+" else RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise RuntimeError("bad reply %r" % line)

    def run(self, *args):
        self.s.sendall(resp(*args))
        r = self.reply()
        if isinstance(r, RuntimeError):
            raise r
        return r

    def pipeline(self, commands):
        self.s.sendall(b"".join(resp(*c) for c in commands))
        return [self.reply() for _ in commands]


def redis_cpu(c, pid):
    info = c.run("INFO", "cpu").decode()
    f = dict(l.split(":", 1) for l in info.splitlines() if ":" in l)
    via_info = float(f["used_cpu_user"]) + float(f["used_cpu_sys"])
    with open("/proc/%d/stat" % pid) as st:
        fields = st.read().rsplit(")", 1)[1].split()
    via_proc = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return via_info, via_proc


def used_memory(c):
    info = c.run("INFO", "memory").decode()
    for l in info.splitlines():
        if l.startswith("used_memory:"):
            return int(l.split(":")[1])
    return 0


def subscriber(path, mode, ids, batch, ready, counts, stop):
    """One instance's pub/sub connection: subscribes, then counts messages."""
    c = Conn(path)
    if mode == "pattern":
        c.s.sendall(resp("PSUBSCRIBE", "__keyspace@0__:hb:*"))
        c.reply()
        marker = b"$8\r\npmessage\r\n"
    else:
        for at in range(0, len(ids), batch):
            chunk = ids[at:at + batch]
            c.s.sendall(resp("SUBSCRIBE", *["__keyspace@0__:hb:%d" % i for i in chunk]))
            for _ in chunk:
                c.reply()
        marker = b"$7\r\nmessage\r\n"
    ready.release()
    c.s.settimeout(0.2)
    n = 0
    tail = c.buf
    while not stop.is_set():
        try:
            data = c.s.recv(1 << 18)
        except socket.timeout:
            continue
        if not data:
            break
        chunk = tail + data
        n += chunk.count(marker)
        tail = chunk[-(len(marker) - 1):]
        counts.value = n


def refresher(path, heartbeats, rate, stop, sent):
    """SET hb:<i> 1 EX 20 at `rate` per second, round robin over the keys."""
    c = Conn(path)
    tick = 0.01
    per_tick = max(1, int(rate * tick))
    i = 0
    next_at = time.monotonic()
    total = 0
    while not stop.is_set():
        cmds = []
        for _ in range(per_tick):
            cmds.append(("SET", "hb:%d" % i, "1", "EX", "20"))
            i = (i + 1) % heartbeats
        c.pipeline(cmds)
        total += per_tick
        sent.value = total
        next_at += tick
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=40)
    ap.add_argument("--heartbeats", type=int, default=100000)
    ap.add_argument("--other", type=int, default=1000000)
    ap.add_argument("--rate", type=int, default=5000)
    ap.add_argument("--instances", type=int, default=3)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--phases", default="none,pattern-1,exact-1,pattern-3,exact-3")
    a = ap.parse_args()

    server_bin = shutil.which("redis-server")
    if not server_bin:
        sys.exit("passive_fanout: no redis-server (package redis-server)")
    tmp = tempfile.mkdtemp(prefix="hs-fanout.")
    path = os.path.join(tmp, "redis.sock")
    server = subprocess.Popen([server_bin, "--port", "0", "--unixsocket", path, "--save", "", "--appendonly", "no",
                               "--notify-keyspace-events", "Kg$xe", "--dir", tmp],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = []
    try:
        for _ in range(200):
            if os.path.exists(path):
                break
            time.sleep(0.05)
        c = Conn(path)
        version = c.run("INFO", "server").decode()
        version = next(l for l in version.splitlines() if l.startswith("redis_version"))
        t0 = time.monotonic()
        # Other TTL keys, by a server-side loop (100,000 a script).
        load = ("for i = ARGV[1], ARGV[2] do redis.call('SET', 'other:' .. i, 'x', 'EX', 3600 + i % 3600) end "
                "return 1")
        for at in range(0, a.other, 100000):
            c.run("EVAL", load, "0", at, min(a.other, at + 100000) - 1)
        hb = "for i = ARGV[1], ARGV[2] do redis.call('SET', 'hb:' .. i, '1', 'EX', 20) end return 1"
        for at in range(0, a.heartbeats, 100000):
            c.run("EVAL", hb, "0", at, min(a.heartbeats, at + 100000) - 1)
        print("# %s; %d other TTL keys + %d heartbeat keys loaded in %.1f s (dbsize %d)" %
              (version, a.other, a.heartbeats, time.monotonic() - t0, c.run("DBSIZE")))
        print("# %d refreshes/s (SET hb:<i> 1 EX 20), %.0f s per phase after 3 s settling, %d instances, "
              "SUBSCRIBE batches of %d; loadavg %s" %
              (a.rate, a.seconds, a.instances, a.batch, open("/proc/loadavg").read().split()[:3]))
        print("# Redis CPU from INFO cpu (user+sys); /proc/<pid>/stat in brackets")

        stop_all = mp.Event()
        sent = mp.Value("q", 0)
        ref = mp.Process(target=refresher, args=(path, a.heartbeats, a.rate, stop_all, sent), daemon=True)
        ref.start()
        procs.append(ref)
        time.sleep(3)

        rows = []
        baseline = None
        for phase in a.phases.split(","):
            mode, _, n = phase.partition("-")
            n = int(n or 0)
            stop = mp.Event()
            ready = mp.Semaphore(0)
            counts = []
            subs = []
            mem0 = used_memory(c)
            ids = list(range(a.heartbeats))
            for k in range(n):
                share = ids if mode == "pattern" or n == 1 else ids[k::n]
                cnt = mp.Value("q", 0)
                p = mp.Process(target=subscriber, args=(path, mode, share, a.batch, ready, cnt, stop), daemon=True)
                p.start()
                subs.append(p)
                counts.append(cnt)
            for _ in subs:
                ready.acquire()
            mem = used_memory(c) - mem0
            time.sleep(3)
            cpu0, proc0 = redis_cpu(c, server.pid)
            got0 = [x.value for x in counts]
            sent0 = sent.value
            w0 = time.monotonic()
            time.sleep(a.seconds)
            cpu1, proc1 = redis_cpu(c, server.pid)
            got1 = [x.value for x in counts]
            sent1 = sent.value
            wall = time.monotonic() - w0
            stop.set()
            for p in subs:
                p.join(5)
                if p.is_alive():
                    p.kill()
            cpu = (cpu1 - cpu0) / wall * 100
            proc = (proc1 - proc0) / wall * 100
            refreshes = (sent1 - sent0) / wall
            per_sub = [(g1 - g0) / wall for g0, g1 in zip(got0, got1)]
            if baseline is None:
                baseline = cpu
            rows.append((phase, cpu, proc, refreshes, per_sub, mem))
            print("%-10s redis %5.1f %% of a core [%5.1f]  ratio %.2f  added %+5.1f %%  refreshes %6.0f/s  "
                  "messages/s per subscriber %s (per refresh %s, all subscribers %.0f/s)  subscriptions' memory %.1f MiB" %
                  (phase, cpu, proc, cpu / baseline, cpu - baseline, refreshes,
                   [round(x) for x in per_sub], [round(x / refreshes, 2) for x in per_sub], sum(per_sub),
                   mem / 1048576))
            sys.stdout.flush()
        stop_all.set()
        ref.join(5)
        print("# fan-out: notifications delivered per refresh, summed over subscribers")
        for phase, cpu, proc, refreshes, per_sub, mem in rows:
            if per_sub:
                print("#   %-10s %.2f per refresh (%d subscriber%s)" %
                      (phase, sum(per_sub) / refreshes, len(per_sub), "" if len(per_sub) == 1 else "s"))
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
        server.send_signal(signal.SIGKILL)
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
