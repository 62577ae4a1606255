"""What the demo reads back from the daemon and from Alertmanager: every line
of the timeline comes from here (the daemon's JSON log, /admin/targets,
/metrics, Alertmanager's API), never from what the demo expects."""

import datetime
import json
import re
import time
import urllib.request

from stack import AM_URL, DAEMON_URL, http_get

TRANSITION = re.compile(r"^target (?P<id>\S+): (?P<frm>\w+) -> (?P<to>\w+) \((?P<layer>\w+): (?P<reason>.*)\)$")
ORDER = re.compile(r"^target (?P<id>\S+): (?P<action>\w+) (?P<result>done|failed|suppressed by the fail-safe)"
                   r"(?:: | )?(?P<detail>.*)$")


def parse_ts(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def clock(ts):
    return ts.strftime("%H:%M:%S.") + f"{ts.microsecond // 1000:03d}"


class Event:
    """One log line of the daemon: a transition, a remediation order's result,
    or a fail-safe change."""

    def __init__(self, ts, level, msg):
        self.ts, self.level, self.msg = ts, level, msg
        self.transition = TRANSITION.match(msg)
        self.order = None if self.transition else ORDER.match(msg)
        self.target = (self.transition or self.order).group("id") if (self.transition or self.order) else None

    def describe(self):
        if self.transition:
            t = self.transition
            return t["layer"], f"{t['id']}: {t['frm']} -> {t['to']}: {t['reason']}"
        if self.order:
            o = self.order
            return "action", f"{o['id']}: {o['action']} {o['result']}" + (f": {o['detail']}" if o["detail"] else "")
        return "daemon", self.msg


class DaemonLog:
    """Reads the daemon's JSON log (log.format: json) as it grows."""

    def __init__(self, path):
        self.path, self.offset, self.events = path, 0, []

    def poll(self):
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1          # whole lines only
        self.offset += end
        for line in data[:end].splitlines():
            try:
                o = json.loads(line)
                self.events.append(Event(parse_ts(o["ts"]), o["level"], o["msg"]))
            except (ValueError, KeyError):
                pass                          # not a JSON log line (a library's stderr)
        return self.events

    @staticmethod
    def _to_ms(t):
        """The daemon stamps its lines to the millisecond: a line logged in
        the same millisecond as `t` but after it reads earlier than `t`
        (the process watch sees a kill within a millisecond)."""
        return t.replace(microsecond=t.microsecond // 1000 * 1000)

    def wait(self, what, match, since, timeout):
        """The first event after `since` for which match(event) holds."""
        deadline = time.monotonic() + timeout
        since = self._to_ms(since)
        while time.monotonic() < deadline:
            for e in self.poll():
                if e.ts >= since and match(e):
                    return e
            time.sleep(0.05)
        raise RuntimeError(f"the daemon did not log {what} within {timeout} s")

    def since(self, since, targets=None):
        since = self._to_ms(since)
        return [e for e in self.poll() if e.ts >= since and
                (targets is None or e.target in targets or (e.target is None and "FAIL-SAFE" in e.msg.upper()))]


class Admin:
    """The daemon's HTTP API."""

    def __init__(self, token):
        self.token = token

    def targets(self):
        return json.loads(http_get(f"{DAEMON_URL}/admin/targets"))

    def target(self, wid):
        return json.loads(http_get(f"{DAEMON_URL}/admin/targets/{wid}"))

    def metric(self, name, labels=""):
        """Sum of a metric's samples whose label set contains `labels`."""
        total = None
        for line in http_get(f"{DAEMON_URL}/metrics").splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                if labels in line:
                    total = (total or 0.0) + float(line.rsplit(" ", 1)[1])
        return total or 0.0

    def detection_latency(self, layer, before):
        """Mean of healthsweep_detection_latency_seconds{layer} since `before`
        (its sum and count then), in ms; None if nothing was detected."""
        s = self.metric("healthsweep_detection_latency_seconds_sum", f'layer="{layer}"')
        c = self.metric("healthsweep_detection_latency_seconds_count", f'layer="{layer}"')
        ds, dc = s - before[layer][0], c - before[layer][1]
        return (ds / dc * 1000.0, int(dc)) if dc > 0 else None

    def latency_snapshot(self):
        return {layer: (self.metric("healthsweep_detection_latency_seconds_sum", f'layer="{layer}"'),
                        self.metric("healthsweep_detection_latency_seconds_count", f'layer="{layer}"'))
                for layer in ("passive", "proactive", "reactive")}

    def post(self, path, body=None):
        req = urllib.request.Request(f"{DAEMON_URL}{path}", method="POST",
                                     data=json.dumps(body).encode() if body is not None else b"",
                                     headers={"Authorization": f"Bearer {self.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()


def alertmanager_alert(name):
    """The alert `name` as Alertmanager holds it (its API v2), or None."""
    alerts = json.loads(http_get(f"{AM_URL}/api/v2/alerts?filter=alertname%3D%22{name}%22"))
    return alerts[0] if alerts else None
