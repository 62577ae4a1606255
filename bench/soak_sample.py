#!/usr/bin/env python3
"""The samples of bench/soak.sh (issue 13 section 7), taken by soak_driver.py:
the daemon's RSS, descriptors and CPU from /proc, its /metrics and
/admin/liveness, and GET /healthz latency from outside (HealthzProbe), one
row of SAMPLE_COLUMNS each. Only the standard library."""
import http.client
import os
import threading
import time


class HealthzProbe(threading.Thread):
    """GET /healthz on one keep-alive connection every 20 ms. Its latency
    stands in for the event loop's lag, which the daemon does not export:
    it is the lag seen from outside (a turn of the loop plus the answer)."""

    def __init__(self, port, stop):
        super().__init__(daemon=True)
        self.port, self.stop = port, stop
        self.lock = threading.Lock()
        self.latencies, self.failures = [], 0

    def take(self):
        with self.lock:
            out, failed = self.latencies, self.failures
            self.latencies, self.failures = [], 0
        return out, failed

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                conn.request("GET", "/healthz")
                r = conn.getresponse()
                r.read()
                ok = r.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
            dt = time.monotonic() - t0
            with self.lock:
                if ok:
                    self.latencies.append(dt * 1000)
                else:
                    self.failures += 1
            self.stop.wait(max(0.0, 0.02 - dt))


def parse_metrics(text):
    """{(name, labels text): value} of a Prometheus text answer."""
    out = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        key, _, value = line.rpartition(" ")
        name, _, labels = key.partition("{")
        out[(name, labels.rstrip("}"))] = float(value)
    return out


def metric_sum(metrics, name, label_part=""):
    return sum(v for (n, l), v in metrics.items() if n == name and label_part in l)


STATES = ("online", "offline", "restarting", "suspect", "quarantined", "unknown")
SAMPLE_COLUMNS = (["t_s", "unix_time", "rss_mib", "fds", "cpu_pct", "healthz_p50_ms", "healthz_max_ms",
                   "healthz_probes", "healthz_failures", "hook_202_per_s", "hook_other"]
                  + [f"targets_{s}" for s in STATES]
                  + ["transitions", "spool", "failsafe", "liveness_http", "load1"])


class Sampler:
    """One row of SAMPLE_COLUMNS from /proc and the daemon's own endpoints."""

    def __init__(self, pid, port, probe, start):
        self.pid, self.port, self.probe, self.start = pid, port, probe, start
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.hz = os.sysconf("SC_CLK_TCK")
        self.last = None  # (time, cpu ticks, hook 202 count)

    def get(self, path):
        for attempt in (0, 1):  # the daemon closes an idle keep-alive after 10 s
            try:
                self.conn.request("GET", path)
                r = self.conn.getresponse()
                return r.status, r.read().decode()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                if attempt:
                    raise

    def proc(self):
        with open(f"/proc/{self.pid}/status") as f:
            rss_kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        fds = len(os.listdir(f"/proc/{self.pid}/fd"))
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        return rss_kb / 1024, fds, int(fields[11]) + int(fields[12])

    def sample(self):
        now = time.time()
        rss, fds, ticks = self.proc()
        _, text = self.get("/metrics")
        m = parse_metrics(text)
        liveness, _ = self.get("/admin/liveness")
        lat, failed = self.probe.take()
        lat.sort()
        hook_202 = metric_sum(m, "healthsweep_hook_requests_total", 'code="202"')
        hook_all = metric_sum(m, "healthsweep_hook_requests_total")
        cpu_pct = rate_202 = 0.0
        if self.last:
            dt = now - self.last[0]
            cpu_pct = 100.0 * (ticks - self.last[1]) / self.hz / dt
            rate_202 = (hook_202 - self.last[2]) / dt
        self.last = (now, ticks, hook_202)
        with open("/proc/loadavg") as f:
            load1 = f.read().split()[0]
        row = [f"{now - self.start:.1f}", f"{now:.3f}", f"{rss:.2f}", fds, f"{cpu_pct:.1f}",
               f"{lat[len(lat) // 2]:.3f}" if lat else "", f"{lat[-1]:.3f}" if lat else "", len(lat), failed,
               f"{rate_202:.0f}", int(hook_all - hook_202)]
        row += [int(metric_sum(m, "healthsweep_targets", f'state="{s}"')) for s in STATES]
        row += [int(metric_sum(m, "healthsweep_transitions_total")),
                int(metric_sum(m, "healthsweep_store_spool_events")),
                int(metric_sum(m, "healthsweep_failsafe_active")), liveness, load1]
        return row
