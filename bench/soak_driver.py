#!/usr/bin/env python3
"""The fleet's side of bench/soak.sh (issue 13 section 7): heartbeats, deaths,
one PostgreSQL restart, and the samples of the daemon taken meanwhile.

  soak_driver.py containers SOCKET IMAGE N          create and start c-0..c-(N-1)
  soak_driver.py prime REDIS_SOCK TTL_MS IDS_FILE   one heartbeat for every id
  soak_driver.py run --...                          the soak itself (see main())

`run` keeps going for --duration seconds and writes:
  samples.csv   one row every --sample seconds (columns: SAMPLE_COLUMNS)
  actions.jsonl what it did and when (kill, lapse, resume, pg_stop, pg_start)
The verdicts are checked afterwards by soak_check.py from these files and
the daemon's event log in PostgreSQL.

Only the standard library: RESP is written by hand (SET with PX, pipelined),
the engine and the daemon are spoken to with http.client.
"""
import argparse
import csv
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time

from soak_sample import SAMPLE_COLUMNS, HealthzProbe, Sampler

HEARTBEAT_KEY = "healthsweep:heartbeat:{}"


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix socket (the engine's API)."""

    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def engine_call(sock, method, path, body=None):
    conn = UnixHTTPConnection(sock)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, "/v1.41" + path, None if body is None else json.dumps(body), headers)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def create_containers(sock, image, n):
    """c-0..c-(n-1): busybox `sleep`, --network none, labelled healthsweep.target=c-i."""
    for i in range(n):
        name = f"c-{i}"
        status, body = engine_call(sock, "POST", f"/containers/create?name={name}", {
            "Image": image, "Cmd": ["sleep", "1000000"],
            "Labels": {"healthsweep.target": name},
            "HostConfig": {"NetworkMode": "none"}})
        if status != 201:
            sys.exit(f"soak_driver: create {name}: {status} {body[:300]!r}")
        status, body = engine_call(sock, "POST", f"/containers/{name}/start")
        if status not in (204, 304):
            sys.exit(f"soak_driver: start {name}: {status} {body[:300]!r}")


def resp(*words):
    out = [b"*%d\r\n" % len(words)]
    for w in words:
        b = w if isinstance(w, bytes) else str(w).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class Redis:
    """One connection, pipelined SETs; every reply must be +OK."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(path)
        self.replies = self.sock.makefile("rb")

    def set_heartbeats(self, ids, ttl_ms):
        if not ids:
            return
        self.sock.sendall(b"".join(resp("SET", HEARTBEAT_KEY.format(i), "1", "PX", ttl_ms) for i in ids))
        for _ in ids:
            line = self.replies.readline()
            if line != b"+OK\r\n":
                raise RuntimeError(f"redis answered {line!r} to SET")


class Heartbeats(threading.Thread):
    """Refreshes every heartbeat once per `period` s, spread evenly over it
    (one pipelined batch every 100 ms), except the targets whose heartbeat
    is deliberately stopped. `sent[id]` is when its last SET left."""

    TICK = 0.1

    def __init__(self, redis_path, ids, ttl_ms, period, stop):
        super().__init__(daemon=True)
        self.redis_path, self.ids, self.ttl_ms, self.period, self.stop = redis_path, ids, ttl_ms, period, stop
        self.lock = threading.Lock()
        self.stopped = set()
        self.sent = {}
        self.error = None
        self.slowest = 0.0

    def pause(self, target):
        """Stops target's heartbeat; returns (last SET sent, its reply) times."""
        with self.lock:
            self.stopped.add(target)
            return self.sent[target]

    def resume(self, target):
        with self.lock:
            self.stopped.discard(target)
        self.redis.set_heartbeats([target], self.ttl_ms)  # at once, not at its next turn

    def run(self):
        try:
            self.redis = Redis(self.redis_path)
            per_tick = max(1, round(len(self.ids) * self.TICK / self.period))
            at, next_tick = 0, time.monotonic()
            while not self.stop.is_set():
                batch = [self.ids[(at + k) % len(self.ids)] for k in range(per_tick)]
                at = (at + per_tick) % len(self.ids)
                with self.lock:
                    batch = [t for t in batch if t not in self.stopped]
                    sent = time.time()
                    self.redis.set_heartbeats(batch, self.ttl_ms)
                    replied = time.time()
                    self.slowest = max(self.slowest, replied - sent)
                    for t in batch:
                        self.sent[t] = (sent, replied)
                next_tick += self.TICK
                self.stop.wait(max(0.0, next_tick - time.monotonic()))
        except Exception as e:  # reported by the main thread, which stops the run
            self.error = f"{e!r} at {time.strftime('%H:%M:%S')} (slowest batch so far {self.slowest:.3f} s)"
            self.stop.set()


def tcp_listener(port_file, stop):
    """Accepts and closes: the `tcp:` check of the tc-* targets finds them alive."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(512)
    srv.settimeout(0.5)
    with open(port_file, "w") as f:
        f.write(str(srv.getsockname()[1]))
    while not stop.is_set():
        try:
            conn, _ = srv.accept()
            conn.close()
        except socket.timeout:
            pass
    srv.close()


class Actions:
    """actions.jsonl: every deliberate fault with its times (unix seconds)."""

    def __init__(self, path):
        self.f = open(path, "w")
        self.lock = threading.Lock()

    def log(self, **fields):
        with self.lock:
            self.f.write(json.dumps(fields) + "\n")
            self.f.flush()


def pg_ctl(args, pg_data):
    pg_bin = sorted(d for d in os.listdir("/usr/lib/postgresql"))[-1]
    subprocess.run(["runuser", "-u", "postgres", "--", f"/usr/lib/postgresql/{pg_bin}/bin/pg_ctl",
                    "-D", pg_data, "-w", "-t", "60", *args], check=True, stdout=subprocess.DEVNULL)


def restart_postgres(a, actions, stop):
    """Stops the private PostgreSQL for --pg-down seconds, then starts it
    with the options scripts/services gave it."""
    actions.log(kind="pg_stop", t=time.time())
    pg_ctl(["-m", "fast", "stop"], a.pg_data)
    actions.log(kind="pg_stopped", t=time.time())
    stop.wait(a.pg_down)
    pg_ctl(["-o", a.pg_opts, "-l", os.path.join(os.path.dirname(a.pg_data), "log"), "start"], a.pg_data)
    actions.log(kind="pg_start", t=time.time())


def run(a):
    stop = threading.Event()
    ids = [line.strip() for line in open(a.ids) if line.strip()]
    containers = [t for t in ids if t.startswith("c-")]
    lapsable = [t for t in ids if t.startswith("h-")]
    random.seed(a.seed)
    random.shuffle(containers)
    random.shuffle(lapsable)
    actions = Actions(os.path.join(a.out, "actions.jsonl"))

    # The heartbeats start before the daemon does (soak.sh starts it once
    # this runs) and go on while it takes up the fleet, however long that
    # takes; the clock of the run starts when soak.sh writes the ready file
    # ("PID PORT" of the daemon, every target online).
    beats = Heartbeats(a.redis, ids, a.ttl_ms, a.refresh, stop)
    beats.start()
    while not os.path.exists(a.ready):
        if beats.error:
            sys.exit(f"soak_driver: heartbeats failed: {beats.error}")
        time.sleep(0.1)
    pid, port = (int(x) for x in open(a.ready).read().split())
    start = time.time()
    probe = HealthzProbe(port, stop)
    probe.start()
    sampler = Sampler(pid, port, probe, start)

    # The schedule, in seconds from the start. Deaths and lapses begin after
    # 30 s and end early enough to be seen through (restart + startup, or the
    # TTL + the resume) before the end; the PostgreSQL restart is at the middle.
    last_fault = a.duration - max(60.0, a.ttl_ms / 1000 + a.resume_after + 20)
    kill_every = 60.0 / max(a.kill_per_min, 1e-9)
    schedule = []
    t = 30.0
    while t <= last_fault and containers:
        schedule.append((t, "kill", containers.pop()))
        t += kill_every
    t = 35.0
    while t <= last_fault and lapsable:
        schedule.append((t, "lapse", lapsable.pop()))
        t += a.lapse_every
    schedule.append((a.duration / 2, "pg_restart", None))
    schedule.sort(key=lambda e: e[0])
    resumes = []  # (time, target)

    with open(os.path.join(a.out, "samples.csv"), "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(SAMPLE_COLUMNS)
        next_sample = start
        while True:
            now = time.time()
            elapsed = now - start
            if beats.error:
                sys.exit(f"soak_driver: heartbeats failed: {beats.error}")
            while schedule and schedule[0][0] <= elapsed:
                _, kind, target = schedule.pop(0)
                if kind == "kill":
                    t0 = time.time()
                    status, body = engine_call(a.engine, "POST", f"/containers/{target}/kill")
                    actions.log(kind="kill", target=target, t=t0, status=status)
                elif kind == "lapse":
                    sent, replied = beats.pause(target)
                    ttl = a.ttl_ms / 1000
                    actions.log(kind="lapse", target=target, t=time.time(),
                                deadline_lo=sent + ttl, deadline_hi=replied + ttl)
                    resumes.append((replied + ttl + a.resume_after, target))
                else:  # in a thread of its own: the samples go on meanwhile
                    threading.Thread(target=restart_postgres, args=(a, actions, stop), daemon=True).start()
            for due, target in [r for r in resumes if r[0] <= now]:
                resumes.remove((due, target))
                resumed = time.time()  # before the SET leaves: the daemon may see it within microseconds
                beats.resume(target)
                actions.log(kind="resume", target=target, t=resumed)
            if elapsed >= a.duration and not resumes:
                break
            if now >= next_sample and elapsed < a.duration:  # the hook load runs until a little after
                out.writerow(sampler.sample())
                f.flush()
                next_sample += a.sample
            stop.wait(0.05)
    stop.set()
    beats.join(5)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "containers":
        create_containers(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "prime":
        ids = [line.strip() for line in open(sys.argv[4]) if line.strip()]
        Redis(sys.argv[2]).set_heartbeats(ids, int(sys.argv[3]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "tcp-listener":
        tcp_listener(sys.argv[2], threading.Event())
        return
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["run"])
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--sample", type=float, default=5.0)
    p.add_argument("--ready", required=True, help="file that soak.sh writes: the daemon's PID and port")
    p.add_argument("--ids", required=True, help="file with every target id, one a line")
    p.add_argument("--redis", required=True, help="unix socket")
    p.add_argument("--engine", required=True, help="engine API unix socket")
    p.add_argument("--pg-data", required=True)
    p.add_argument("--pg-opts", required=True, help="postgres options, as scripts/services started it")
    p.add_argument("--pg-down", type=float, default=15.0, help="seconds PostgreSQL stays stopped")
    p.add_argument("--ttl-ms", type=int, default=30000)
    p.add_argument("--refresh", type=float, default=10.0, help="seconds between two SETs of one heartbeat")
    p.add_argument("--kill-per-min", type=float, required=True)
    p.add_argument("--lapse-every", type=float, default=30.0)
    p.add_argument("--resume-after", type=float, default=20.0, help="seconds after the lapse's deadline")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--out", required=True)
    run(p.parse_args())


if __name__ == "__main__":
    main()
