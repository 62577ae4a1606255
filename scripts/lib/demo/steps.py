"""The demo's five faults. Each does one thing to the workspaces, then prints
what the daemon logged about them (time, ms after the fault, layer, what it
saw and did) and ends with one `=> ...` summary line built from those
events (tests/integration/demo_test.sh checks these lines)."""

import os
import signal
import socket
import subprocess
import time

from observe import alertmanager_alert, clock, now
from stack import AM_URL, HEARTBEAT_TTL_MS, REPO, wait_until

FAILSAFE_ALERT = "HealthsweepFailSafeActive"


class Player:
    def __init__(self, stack, log, admin, out):
        self.stack, self.log, self.admin, self.say = stack, log, admin, out
        self.notes = []

    # --- narration -------------------------------------------------------------
    def header(self, n, title, fault, what):
        self.say(f"\n== {n}. {title}\n   {clock(fault)}  {what}")

    def note(self, layer, text):
        """Something the demo itself did or saw during a step (the proxy's
        connection attempt), printed in time order among the daemon's lines."""
        self.notes.append((now(), layer, text))

    def show(self, fault, targets, shown):
        """Prints the daemon's log lines about `targets` since the fault (and
        the demo's notes) that were not printed yet, in time order."""
        lines = [(e.ts, *e.describe(), id(e)) for e in self.log.since(fault, targets)]
        lines += [(ts, layer, text, (ts, text)) for ts, layer, text in self.notes if ts >= fault]
        for ts, layer, text, key in sorted(lines, key=lambda line: line[0]):
            if key in shown:
                continue
            shown.add(key)
            ms = (ts - fault).total_seconds() * 1000
            self.say(f"   {clock(ts)} {ms:+8.0f} ms  {layer:<9}  {text}")

    def wait_transition(self, wid, to, fault, timeout):
        return self.log.wait(f"{wid} -> {to}", lambda e: e.transition is not None and e.target == wid and
                             e.transition["to"] == to, fault, timeout)

    def wait_order(self, wid, fault, timeout):
        return self.log.wait(f"a remediation of {wid}", lambda e: e.order is not None and e.target == wid,
                             fault, timeout)

    def settle_online(self, wid, fault, shown, timeout=30):
        self.wait_transition(wid, "online", fault, timeout)
        self.show(fault, {wid}, shown)
        return self.admin.target(wid)["state"]

    def latency_note(self, layer, before):
        m = self.admin.detection_latency(layer, before)
        return (f"; /metrics healthsweep_detection_latency_seconds{{layer=\"{layer}\"}}: "
                f"{m[0]:.2f} ms" if m else "")

    # --- 1. a container killed ---------------------------------------------------
    def kill(self, wid):
        pid = self.stack.main_pid(wid)
        before, shown = self.admin.latency_snapshot(), set()
        fault = now()
        os.kill(pid, signal.SIGKILL)
        self.header(1, "a container killed", fault, f"SIGKILL to {wid}'s main process (pid {pid})")
        down = self.wait_transition(wid, "offline", fault, 30)
        order = self.wait_order(wid, fault, 30)
        state = self.settle_online(wid, fault, shown)
        ms = (down.ts - fault).total_seconds() * 1000
        self.say(f"   => kill: seen by {down.transition['layer']} +{ms:.0f} ms after the fault"
                 f"{self.latency_note(down.transition['layer'], before)}; did: {order.order['action']} "
                 f"{order.order['result']}; now {state}")

    # --- 2. a workspace frozen -----------------------------------------------------
    def freeze(self, wid):
        listed = self.stack.container_pids(wid)
        before, shown = self.admin.latency_snapshot(), set()
        fault = now()
        pids = signal_each(listed, signal.SIGSTOP)
        self.header(2, "a workspace frozen", fault, f"SIGSTOP to every process of {wid} ({len(pids)}: "
                    f"its heartbeat loop and its HTTP server); the container stays `running`")
        last_hb = self.admin.target(wid).get("last_heartbeat", "?")
        down = self.wait_transition(wid, "offline", fault, 30)
        order = self.wait_order(wid, fault, 30)
        state = self.settle_online(wid, fault, shown)
        ms = (down.ts - fault).total_seconds() * 1000
        self.say(f"   (last heartbeat {last_hb}, TTL {HEARTBEAT_TTL_MS} ms: the deadline is the TTL after it)")
        self.say(f"   => freeze: seen by {down.transition['layer']} +{ms:.0f} ms after the fault"
                 f"{self.latency_note(down.transition['layer'], before)} after the TTL deadline; did: "
                 f"{order.order['action']} {order.order['result']}; now {state}")

    # --- 3. a connection error reported to the hook ------------------------------------
    def hook(self, wid, port):
        httpd = [p for p in self.stack.container_pids(wid) if b"httpd" in cmdline(p)]
        before, shown = self.admin.latency_snapshot(), set()
        fault = now()
        for p in httpd:
            os.kill(p, signal.SIGKILL)
        for p in httpd:   # gone (its listening socket closed) before the proxy tries
            while os.path.exists(f"/proc/{p}/fd/0"):
                time.sleep(0.001)
        self.header(3, "a connection error reported to the hook", fault,
                    f"SIGKILL to {wid}'s HTTP server (pid {' '.join(map(str, httpd))}); its container, "
                    f"process and heartbeat carry on")
        reports = 0
        deadline = time.monotonic() + 30
        while not any(e.transition and e.target == wid and e.transition["to"] == "offline"
                      for e in self.log.since(fault, {wid})):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{wid} did not go offline after {reports} hook reports")
            err = self.proxy_connect(port)
            if err:   # what an API proxy in front of the workspace would report
                status, body = self.admin.post("/hooks/connection-error",
                                               {"target": wid, "error": err, "source": "demo-proxy"})
                reports += 1
                self.note("proxy", f"connect 127.0.0.1:{port}: {err}; POST /hooks/connection-error -> "
                          f"{status} {body}")
            time.sleep(0.15)  # the proxy's retry, past the hook's coalesce_window (100 ms)
            self.show(fault, {wid}, shown)
        down = self.wait_transition(wid, "offline", fault, 1)
        order = self.wait_order(wid, fault, 30)
        state = self.settle_online(wid, fault, shown)
        # The first verdict after the fault (the hook's check, when the report
        # came before the next proactive sweep); offline needs two bad looks.
        first = next(e for e in self.log.since(fault, {wid}) if e.transition)
        ms_first = (first.ts - fault).total_seconds() * 1000
        ms = (down.ts - fault).total_seconds() * 1000
        self.say(f"   => hook: seen by {first.transition['layer']} +{ms_first:.0f} ms after the fault "
                 f"({first.transition['to']}), offline by {down.transition['layer']} +{ms:.0f} ms "
                 f"({reports} report{'s' if reports > 1 else ''})"
                 f"{self.latency_note('reactive', before)}; did: {order.order['action']} {order.order['result']}; "
                 f"now {state}")

    @staticmethod
    def proxy_connect(port):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return None
        except OSError as e:
            return e.strerror or str(e)

    # --- 4. 40 % killed at once ----------------------------------------------------------
    def mass_kill(self, wids):
        pids = [self.stack.main_pid(w) for w in wids]
        shown, targets = set(), set(wids)
        fault = now()
        for p in pids:
            os.kill(p, signal.SIGKILL)
        self.header(4, f"{len(wids)} of 20 workspaces killed at once ({len(wids) * 5} %)", fault,
                    f"SIGKILL to the main processes of {', '.join(wids)}")
        active = self.log.wait("FAIL-SAFE ACTIVE", lambda e: e.msg.startswith("FAIL-SAFE ACTIVE"), fault, 30)
        time.sleep(1.0)   # the rest of the wave (a window to show, not a synchronisation)
        self.show(fault, targets, shown)
        gauge = self.admin.metric("healthsweep_failsafe_active")
        self.say(f"   /metrics: healthsweep_failsafe_active {gauge:.0f}; waiting for Prometheus to fire "
                 f"{FAILSAFE_ALERT} (the shipped rule: `for: 1m`) and Alertmanager to hold it ...")
        alert = None
        deadline = time.monotonic() + 150
        while alert is None or alert["status"]["state"] != "active":
            if time.monotonic() > deadline:
                raise RuntimeError(f"{FAILSAFE_ALERT} did not reach Alertmanager")
            time.sleep(1)
            alert = alertmanager_alert(FAILSAFE_ALERT)
        seen = now()
        self.show(fault, targets, shown)
        self.say(f"   {clock(seen)} {(seen - fault).total_seconds() * 1000:+8.0f} ms  alertmanager  "
                 f"{AM_URL}/api/v2/alerts: {FAILSAFE_ALERT} {alert['status']['state']} since "
                 f"{alert['startsAt']} ({alert['labels'].get('severity')}): {alert['annotations'].get('summary')}")
        suppressed = [e for e in self.log.since(fault, targets)
                      if e.order is not None and e.order["result"].startswith("suppressed")]
        restarted = [e for e in self.log.since(fault, targets) if e.order is not None and e.order["result"] == "done"]
        offline = [e for e in self.log.since(fault, targets) if e.transition and e.transition["to"] == "offline"]
        layers = sorted({e.transition["layer"] for e in offline})
        ms = (active.ts - fault).total_seconds() * 1000
        self.say(f"   => fail-safe: {len(offline)} offline seen by {'/'.join(layers)}; FAIL-SAFE ACTIVE +{ms:.0f} ms; "
                 f"did: restart suppressed x{len(suppressed)}, restarted {len(restarted)}; "
                 f"Alertmanager: {FAILSAFE_ALERT} {alert['status']['state']}")
        # The operator starts two by hand: the share offline falls to 30 %,
        # no longer above max_offline_fraction, the fail-safe clears and the
        # daemon itself restarts the six it held. (Starting all eight by hand
        # races the daemon's own retries once it clears: a restart of a
        # container the operator has just started kills it again.)
        by_hand, held = wids[:2], wids[2:]
        repair = now()
        self.say(f"\n   {clock(repair)}  the operator mends the shared cause and starts {' and '.join(by_hand)} "
                 f"by hand (`{self.stack.engine} start`)")
        self.stack.engine_cmd("start", *by_hand)
        cleared = self.log.wait("fail-safe cleared", lambda e: e.msg.startswith("fail-safe cleared"), repair, 90)
        for w in held:
            self.wait_order(w, cleared.ts, 60)
        wait_until("the eight online", lambda: all(self.admin.target(w)["state"] == "online" for w in wids), 60)
        self.show(repair, targets, shown)
        done = [e for e in self.log.since(cleared.ts, set(held)) if e.order is not None and e.order["result"] == "done"]
        ms = (cleared.ts - repair).total_seconds() * 1000
        self.say(f"   => fail-safe cleared +{ms:.0f} ms after the repair; the daemon restarted the {len(held)} it held "
                 f"(restart done x{len(done)}); "
                 f"{sum(self.admin.target(w)['state'] == 'online' for w in wids)} of {len(wids)} online")

    # --- 5. a crash loop ----------------------------------------------------------------
    def crash_loop(self, wid, ctl):
        shown = set()
        crash = self.stack.crash_file(wid)
        fault = now()
        crash.touch()
        self.header(5, "a crash loop", fault, f"{wid} starts crashing: exit 1 within a second of every start")
        quarantined = self.wait_transition(wid, "quarantined", fault, 90)
        self.show(fault, {wid}, shown)
        events = self.log.since(fault, {wid})
        restarts = [e for e in events if e.order is not None and e.order["result"] == "done"]
        first_down = next(e for e in events if e.transition and e.transition["to"] == "offline")
        gaps = [f"{(b.ts - a.ts).total_seconds():.1f} s" for a, b in zip(restarts, restarts[1:])]
        ms = (quarantined.ts - fault).total_seconds() * 1000
        self.say(f"   => crash loop: seen by {first_down.transition['layer']}; did: restart x{len(restarts)} "
                 f"(apart: {', '.join(gaps) or '-'}: the backoff), then quarantined +{ms:.0f} ms")
        crash.unlink()
        reset = now()
        if ctl:
            cmd = [ctl, "--config", str(self.stack.config), "reset", wid]
            r = subprocess.run(cmd, capture_output=True, text=True, check=False)
            how = f"{' '.join(['build/healthsweepctl', '--config', 'CONFIG', 'reset', wid])} -> exit " \
                  f"{r.returncode} {r.stdout.strip()} {r.stderr.strip()}".rstrip()
        else:
            status, body = self.admin.post(f"/admin/targets/{wid}/reset")
            how = (f"curl -X POST -H 'Authorization: Bearer TOKEN' 127.0.0.1:9470/admin/targets/{wid}/reset "
                   f"-> {status} {body} (build/healthsweepctl not built: the admin API directly)")
        self.say(f"   {clock(reset)}  the bug is fixed (crash file removed), then: {how}")
        state = self.settle_online(wid, reset, shown, timeout=60)
        self.say(f"   => reset: {'healthsweepctl' if ctl else 'curl'} reset; now {state}")

    def table(self, ctl):
        if ctl:
            r = subprocess.run([ctl, "--config", str(self.stack.config), "targets"],
                               capture_output=True, text=True, check=False)
            self.say(f"\n$ build/healthsweepctl --config {self.stack.config} targets\n{r.stdout}{r.stderr}")
            return
        self.say("\nGET /admin/targets (build/healthsweepctl not built):")
        self.say(f"{'ID':<7} {'STATE':<12} {'SINCE':<25} {'RESTARTS':>8}  REASON")
        for t in sorted(self.admin.targets(), key=lambda t: t["id"]):
            self.say(f"{t['id']:<7} {t['state']:<12} {t.get('since', ''):<25} {t.get('restarts', 0):>8}  "
                     f"{t.get('reason', '')}")


# The heartbeat loop's `sleep 1` and `nc` children live for a moment: one
# listed by the /proc scan may be gone before it is signalled or read. That
# raced under load (ProcessLookupError ended a demo in the middle).
def signal_each(pids, sig):
    """Sends sig to each of pids still alive; returns those it reached."""
    reached = []
    for p in pids:
        try:
            os.kill(p, sig)
            reached.append(p)
        except ProcessLookupError:
            pass
    return reached


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:  # gone since the scan
        return b""


def find_ctl():
    ctl = REPO / "build/healthsweepctl"
    return str(ctl) if os.access(ctl, os.X_OK) else None
