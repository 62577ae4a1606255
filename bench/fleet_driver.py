#!/usr/bin/env python3
"""The fleet's side of bench/fleet.sh (issue 15): heartbeats, lapses with
shadow keys, container kills with the engine's die events, hook samples on
dead canned containers, and the daemon's samples. Reuses soak_driver.py's
RESP writer, heartbeat thread and engine calls, and soak_sample.py's sampler.

  fleet_driver.py containers SOCKET IMAGE N      c-0..c-(N-1), busybox, --network none, 8 at a time
  fleet_driver.py prime REDIS_SOCK N_OTHER IDS_FILE TTL_MS
                                                 N_OTHER unrelated keys (TTL 1-2 h), one heartbeat per id
  fleet_driver.py run --...                      the load (see main())

`run` measures Redis's CPU for --baseline seconds with the heartbeat traffic
alone, writes --baseline-file, waits for --ready ("PID PORT" of the daemon,
written by fleet.sh once the daemon holds the fleet), then runs --duration
seconds and writes into --out:
  samples.csv   soak_sample's columns + redis_cpu_pct, stall_max_ms,
                reactive_running, reactive_queued (healthsweep_reactive_checks)
  lapses.jsonl  {target, deadline (unix s), shadow_expired (unix s or null)}
  kills.jsonl   {target, via ("api" | "signal"), t_kill, t_exit (the main process's exit, our own pidfd),
                 die_time (engine's timeNano), die_seen}
  hooks.jsonl   {target, t_post, t_sent (connected and written), status,
                 inspect_ms: [engine round-trips just before]}
  redis_cpu.json {baseline: {seconds, cpu_s}, load: {seconds, cpu_s}}
The daemon's verdict times are its events in PostgreSQL (fleet.sh dumps them).
"""
import argparse
import csv
import http.client
import json
import os
import random
import select
import signal
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

from soak_driver import HEARTBEAT_KEY, Heartbeats, UnixHTTPConnection, engine_call, resp
from soak_driver import Redis as SoakRedis
from soak_sample import SAMPLE_COLUMNS, HealthzProbe, Sampler, metric_sum, parse_metrics

SHADOW_KEY = "fleet:shadow:{}"


def create_containers(sock, image, n):
    def one(i):
        name = f"c-{i}"
        status, body = engine_call(sock, "POST", f"/containers/create?name={name}", {
            "Image": image, "Cmd": ["sleep", "1000000"], "Labels": {"healthsweep.target": name},
            "HostConfig": {"NetworkMode": "none"}})
        if status != 201:
            raise RuntimeError(f"create {name}: {status} {body[:300]!r}")
        status, body = engine_call(sock, "POST", f"/containers/{name}/start")
        if status not in (204, 304):
            raise RuntimeError(f"start {name}: {status} {body[:300]!r}")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(n)))


class Redis(SoakRedis):
    """soak_driver's connection, plus any pipelined commands, replies checked."""

    def pipeline(self, commands):
        self.sock.sendall(b"".join(resp(*c) for c in commands))
        out = []
        for _ in commands:
            line = self.replies.readline()
            if line[:1] == b"-":
                raise RuntimeError(f"redis answered {line!r}")
            if line[:1] == b"$" and line[1:3] != b"-1":
                line = self.replies.readline()
            out.append(line.strip())
        return out


def prime(sock, n_other, ids, ttl_ms):
    r = Redis(sock)
    rng = random.Random(15)
    for lo in range(0, n_other, 10000):
        r.pipeline([("SET", f"fleet:other:{i}", "x", "PX", rng.randint(3600_000, 7200_000))
                    for i in range(lo, min(n_other, lo + 10000))])
    for lo in range(0, len(ids), 10000):
        r.pipeline([("SET", HEARTBEAT_KEY.format(t), "1", "PX", ttl_ms) for t in ids[lo:lo + 10000]])


def read_ids(path):
    return [line.strip() for line in open(path) if line.strip()]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class StreamLines(threading.Thread):
    """A subscription on a unix socket: sends `request`, then hands every
    complete line (split on `sep`) to on_line(line, arrival time) until stop."""

    def __init__(self, sock, stop, request, sep):
        super().__init__(daemon=True)
        self.sock_path, self.stop, self.request, self.sep = sock, stop, request, sep
        self.head = b""  # the stream's first bytes, kept for the record

    def run(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.sock_path)
        s.sendall(self.request)
        s.settimeout(0.5)
        buf = b""
        while not self.stop.is_set():
            try:
                data = s.recv(65536)
            except socket.timeout:
                continue
            if not data:
                return
            now = time.time()
            if len(self.head) < 4096:
                self.head += data[:4096]
            buf += data
            *lines, buf = buf.split(self.sep)
            for line in lines:
                self.on_line(line, now)


class ExpiredEvents(StreamLines):
    """Redis's own `expired` events for the shadow keys: when each arrived."""

    PREFIX = SHADOW_KEY.format("").encode()

    def __init__(self, sock, stop):
        super().__init__(sock, stop, resp("SUBSCRIBE", "__keyevent@0__:expired"), b"\r\n")
        self.seen = {}

    def on_line(self, line, now):
        if line.startswith(self.PREFIX):
            self.seen.setdefault(line[len(self.PREFIX):].decode(), now)


class DieEvents(StreamLines):
    """The real engine's `die` events: its own time (timeNano) and when they reached us.
    Podman 4.3 matches an `event` filter against its own names ("died"), so
    nothing came through with one: only the type is filtered, die picked here."""

    def __init__(self, sock, stop):
        filters = quote(json.dumps({"type": ["container"]}))
        super().__init__(sock, stop, f"GET /v1.41/events?filters={filters} HTTP/1.1\r\nHost: d\r\n\r\n".encode(), b"\n")
        self.died = {}

    def on_line(self, line, now):
        line = line.strip()
        if not line.startswith(b"{"):
            return
        try:
            e = json.loads(line)
        except ValueError:
            return
        if (e.get("Action") or e.get("status")) not in ("die", "died"):
            return
        name = e.get("Actor", {}).get("Attributes", {}).get("name") or e.get("from", "")
        t = e.get("timeNano") or e.get("time", 0) * 1e9
        self.died.setdefault(name, (t / 1e9, now))


def kill_and_watch(sock, target, via):
    """SIGKILLs the container and times its main process's exit with a pidfd
    of our own: the physical death, the baseline no detector can beat (the
    engine's `die` event comes later, after conmon and Podman have noticed).
    The PID is the engine's State.Pid, which is the host's for a rootful
    engine, as the daemon's process watch reads it.
      via "api":    POST /containers/{id}/kill: an operator's kill, which
                    Podman delivers 60-400 ms after the request under load
                    (Docker at fleet size on 2 cores: p99 352 ms, run D1);
      via "signal": the signal sent to that process at once (pidfd_send_signal),
                    as a crash or the kernel's OOM killer ends a workload.
    Returns (t_kill, t_exit or None)."""
    status, body = engine_call(sock, "GET", f"/containers/{target}/json")
    pidfd = None
    if status == 200:
        try:
            pidfd = os.pidfd_open(int(json.loads(body)["State"]["Pid"]))
        except (OSError, ValueError, KeyError):
            pidfd = None
    # Watched from before the kill: the engine answers the kill only once it
    # has cleaned up after the container (Podman ~300 ms), long after the death.
    exited, watcher = [], None
    if pidfd is not None:
        def wait():
            p = select.poll()
            p.register(pidfd, select.POLLIN)
            if p.poll(10_000):
                exited.append(time.time())
        watcher = threading.Thread(target=wait, daemon=True)
        watcher.start()
    try:
        t_kill = time.time()
        if via == "signal" and pidfd is not None:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        else:
            engine_call(sock, "POST", f"/containers/{target}/kill?signal=KILL")
        if watcher:
            watcher.join(10)
        return t_kill, (exited[0] if exited else None)
    finally:
        if pidfd is not None:
            os.close(pidfd)


class FleetSampler(Sampler):
    """soak_sample's row, plus Redis's CPU share, the loop-stall gauge
    (healthsweep_event_loop_stall_max_seconds) and the reactive checks
    running and queued (healthsweep_reactive_checks), each when the daemon
    exports it (empty for an older daemon)."""

    def __init__(self, pid, port, probe, start, redis_pid):
        super().__init__(pid, port, probe, start)
        self.redis_pid = redis_pid
        self.redis_last = (time.time(), cpu_seconds(redis_pid))

    def sample(self):
        row = super().sample()
        now, cpu = time.time(), cpu_seconds(self.redis_pid)
        pct = 100.0 * (cpu - self.redis_last[1]) / (now - self.redis_last[0])
        self.redis_last = (now, cpu)
        _, text = self.get("/metrics")
        m = parse_metrics(text)
        stall = metric_sum(m, "healthsweep_event_loop_stall_max_seconds")
        has = any(n == "healthsweep_event_loop_stall_max_seconds" for n, _ in m)
        checks = [metric_sum(m, "healthsweep_reactive_checks", f'state="{s}"') for s in ("running", "queued")]
        has_checks = any(n == "healthsweep_reactive_checks" for n, _ in m)
        return row + [f"{pct:.1f}", f"{stall * 1000:.3f}" if has else ""] + \
            ([f"{c:.0f}" for c in checks] if has_checks else ["", ""])


def jsonl(path):
    f = open(path, "w")
    lock = threading.Lock()

    def write(**fields):
        with lock:
            f.write(json.dumps(fields) + "\n")
            f.flush()
    return write


def hook_sample(a, target, write):
    """Engine round-trips (inspect of the live canned container through the
    same socket the daemon uses), then the container dies and the hook is
    POSTed at once; the daemon's verdict is its event in the store."""
    conn = UnixHTTPConnection(a.proxy)
    rtt = []
    for _ in range(3):
        t0 = time.monotonic()
        conn.request("GET", f"/v1.41/containers/{target}/json")
        conn.getresponse().read()
        rtt.append((time.monotonic() - t0) * 1000)
    conn.request("POST", f"/fleet/dead/{target}")
    conn.getresponse().read()
    conn.close()
    body = json.dumps({"target": target, "error": "connect ECONNREFUSED", "source": "fleet"})
    hook = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
    t_post = time.time()
    t_sent = None
    try:
        hook.request("POST", "/hooks/connection-error", body,
                     {"Authorization": f"Bearer {a.token}", "Content-Type": "application/json"})
        # Connected and written: what passed since t_post is the driver's
        # own (a new connection, Python waiting for a core), not the daemon's.
        t_sent = time.time()
        status = hook.getresponse().status
    except (OSError, http.client.HTTPException) as e:  # counted as a sample without a verdict
        status = repr(e)
    hook.close()
    write(target=target, t_post=t_post, t_sent=t_sent, status=status, inspect_ms=rtt)


def run(a):
    # A thread woken by a pidfd or a socket waits for the GIL at most this
    # long (default 5 ms): the kill and hook timings are taken in threads.
    sys.setswitchinterval(0.001)
    stop = threading.Event()
    os.makedirs(a.out, exist_ok=True)
    ids = read_ids(a.ids)
    heart = [t for t in ids if t.startswith("h-")]  # the lapses' candidates
    beats = Heartbeats(a.redis, ids, a.ttl_ms, a.refresh, stop)
    beats.start()
    expired = ExpiredEvents(a.redis, stop)
    expired.start()
    Redis(a.redis).pipeline([("CONFIG", "SET", "notify-keyspace-events", "Ex")])  # the shadow keys' baseline

    # Redis CPU with the heartbeat traffic alone (no daemon yet).
    time.sleep(2)
    t0, c0 = time.time(), cpu_seconds(a.redis_pid)
    stop.wait(a.baseline)
    baseline = {"seconds": time.time() - t0, "cpu_s": cpu_seconds(a.redis_pid) - c0}
    with open(a.baseline_file, "w") as f:
        json.dump(baseline, f)
    while not os.path.exists(a.ready):
        if beats.error:
            sys.exit(f"fleet_driver: heartbeats failed: {beats.error}")
        time.sleep(0.1)
    pid, a.port = (int(x) for x in open(a.ready).read().split())

    dies = DieEvents(a.engine, stop)
    dies.start()
    start = time.time()
    probe = HealthzProbe(a.port, stop)
    probe.start()
    sampler = FleetSampler(pid, a.port, probe, start, a.redis_pid)
    c_load = cpu_seconds(a.redis_pid)

    rng = random.Random(15)
    ttl = a.ttl_ms / 1000
    last = max(30.0, a.duration - ttl - 10)
    lapse_targets = rng.sample(heart, a.lapses)
    schedule = [(rng.uniform(10, last), "lapse", t) for t in lapse_targets]
    containers = [f"c-{i}" for i in range(a.containers)]
    # With --kill-via both, the kills alternate: half through the API, half by signal.
    ways = ["api", "signal"] if a.kill_via == "both" else [a.kill_via]
    schedule += [(rng.uniform(10, a.duration - 10), "kill", (t, ways[k % len(ways)]))
                 for k, t in enumerate(rng.sample(containers, a.kills))]
    schedule += [(10 + k * (a.duration - 20) / max(1, a.hook_samples), "hook", f"t-{a.hook_first + k}")
                 for k in range(a.hook_samples)]
    schedule.sort()
    lapses, kills, hooks = {}, {}, jsonl(os.path.join(a.out, "hooks.jsonl"))
    r = Redis(a.redis)
    pool = ThreadPoolExecutor(4)
    futures = []
    with open(os.path.join(a.out, "samples.csv"), "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(SAMPLE_COLUMNS + ["redis_cpu_pct", "stall_max_ms", "reactive_running", "reactive_queued"])
        next_sample = start
        while True:
            now = time.time()
            elapsed = now - start
            if beats.error:
                sys.exit(f"fleet_driver: heartbeats failed: {beats.error}")
            while schedule and schedule[0][0] <= elapsed:
                _, kind, target = schedule.pop(0)
                if kind == "lapse":  # the last SET, with an exact deadline, for it and its shadow
                    beats.pause(target)
                    deadline_ms = int(time.time() * 1000) + a.ttl_ms
                    r.pipeline([("SET", HEARTBEAT_KEY.format(target), "1", "PXAT", deadline_ms),
                                ("SET", SHADOW_KEY.format(target), "1", "PXAT", deadline_ms)])
                    lapses[target] = deadline_ms / 1000
                elif kind == "kill":
                    target, via = target
                    kills[target] = (via, pool.submit(kill_and_watch, a.engine, target, via))
                    futures.append(kills[target][1])
                else:
                    futures.append(pool.submit(hook_sample, a, target, hooks))
            if elapsed >= a.duration:
                break
            if now >= next_sample:
                out.writerow(sampler.sample())
                f.flush()
                next_sample += a.sample
            stop.wait(0.02)
    load = {"seconds": time.time() - start, "cpu_s": cpu_seconds(a.redis_pid) - c_load}
    for fu in futures:
        fu.result()
    time.sleep(3)  # the last die events and expired events
    with open(os.path.join(a.out, "redis_cpu.json"), "w") as f:
        json.dump({"baseline": baseline, "load": load}, f)
    with open(os.path.join(a.out, "lapses.jsonl"), "w") as f:
        for t, d in lapses.items():
            f.write(json.dumps({"target": t, "deadline": d, "shadow_expired": expired.seen.get(t)}) + "\n")
    with open(os.path.join(a.out, "kills.jsonl"), "w") as f:
        for t, (via, fu) in kills.items():
            tk, t_exit = fu.result()
            die = dies.died.get(t)
            f.write(json.dumps({"target": t, "via": via, "t_kill": tk, "t_exit": t_exit,
                                "die_time": die and die[0], "die_seen": die and die[1]}) + "\n")
    with open(os.path.join(a.out, "die-events-head.txt"), "wb") as f:
        f.write(dies.head)
    stop.set()
    beats.join(5)


def main():
    if sys.argv[1:2] == ["containers"]:
        create_containers(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    if sys.argv[1:2] == ["prime"]:
        prime(sys.argv[2], int(sys.argv[3]), read_ids(sys.argv[4]), int(sys.argv[5]))
        return
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["run"])
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--baseline", type=float, required=True, help="seconds of Redis CPU without the daemon")
    p.add_argument("--baseline-file", required=True)
    p.add_argument("--sample", type=float, default=5.0)
    p.add_argument("--ready", required=True)
    p.add_argument("--redis", required=True, help="unix socket of the same Redis the daemon uses over TCP")
    p.add_argument("--redis-pid", type=int, required=True)
    p.add_argument("--ids", required=True, help="every target id, one a line: each heart-beats")
    p.add_argument("--ttl-ms", type=int, default=30000)
    p.add_argument("--refresh", type=float, default=20.0)
    p.add_argument("--lapses", type=int, required=True)
    p.add_argument("--engine", required=True, help="the real engine's socket (kills, die events)")
    p.add_argument("--containers", type=int, required=True)
    p.add_argument("--kills", type=int, required=True)
    p.add_argument("--kill-via", choices=["api", "signal", "both"], default="both")
    p.add_argument("--proxy", required=True, help="fleet_engine.py's socket, the daemon's engine")
    p.add_argument("--hook-first", type=int, required=True, help="first canned index kept for hook samples")
    p.add_argument("--hook-samples", type=int, required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--out", required=True)
    run(p.parse_args())


if __name__ == "__main__":
    main()
