#!/usr/bin/env python3
"""The demo inside its network namespace (started by scripts/demo): brings the
stack up, plays the five faults, prints the targets table and the URLs, then
waits for Ctrl-C (or ends at once with --once). Stops what it started on
every way out (finally)."""

import argparse
import signal
import sys
import time

from observe import Admin, DaemonLog, clock, now
from stack import AM_URL, PROM_URL, WORKSPACES, Stack, wait_until, ws_id
from steps import Player, find_ctl


def say(text):
    print(text, flush=True)


def on_term(signum, frame):
    raise KeyboardInterrupt


def bring_up(stack):
    t0 = time.monotonic()
    stack.start_engine()
    stack.start_redis()
    stack.start_alertmanager()
    stack.start_daemon()
    stack.start_prometheus()
    stack.start_workspaces()
    log, admin = DaemonLog(stack.dir / "healthsweepd.log"), Admin(stack.token)
    # every workspace discovered by its label, heart-beating, and judged online
    wait_until("20 workspaces online", lambda: sum(
        t["state"] == "online" for t in admin.targets()) == WORKSPACES, 90, step=0.25)
    say(f"demo: up in {time.monotonic() - t0:.1f} s: {stack.engine} ({stack.socket}), Redis, healthsweepd, "
        f"Prometheus, Alertmanager and {WORKSPACES} workspaces, all online")
    return log, admin


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--engine", choices=("docker", "podman"), required=True)
    ap.add_argument("--daemon", required=True, help="the healthsweepd binary")
    ap.add_argument("--once", action="store_true")
    ap.add_argument("--urls", default="", help="'name=url ...' reachable from the host")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, on_term)

    stack = Stack(args.dir, args.engine, args.daemon)
    status = 0
    try:
        log, admin = bring_up(stack)
        ctl = find_ctl()
        player = Player(stack, log, admin, say)
        say(f"\nTIMELINE {now():%Y-%m-%d} (UTC; ms after the fault; the layer that saw it; the daemon's own log "
            f"lines, read from {stack.dir}/healthsweepd.log)")
        player.kill(ws_id(3))
        player.freeze(ws_id(7))
        player.hook(ws_id(11), 8100 + 11)
        player.mass_kill([ws_id(i) for i in range(12, 20)])
        player.crash_loop(ws_id(5), ctl)
        player.table(ctl)
        say(f"\nPrometheus:   {PROM_URL}  (alerts: {PROM_URL}/alerts)\nAlertmanager: {AM_URL}")
        if args.urls:
            say("from this host (a loopback forwarder into the namespace): " + args.urls)
        say(f"demo: timeline done at {clock(now())}")
        if not args.once:
            say("demo: running until Ctrl-C")
            while True:
                stack.check_running("healthsweepd")
                time.sleep(1)
    except KeyboardInterrupt:
        say("\ndemo: stopping")
    except (RuntimeError, OSError) as e:   # OSError: a service that stopped answering
        dead = [f"{name} exited ({p.returncode})" for name, p in stack.procs.items() if p.poll() is not None]
        say(f"\ndemo: {e}{'; ' + ', '.join(dead) if dead else ''}\ndemo: FAILED; the daemon's last log lines:")
        log_file = stack.dir / "healthsweepd.log"
        if log_file.exists():
            say("".join(log_file.read_text(errors="replace").splitlines(keepends=True)[-30:]))
        status = 1
    finally:
        daemon_status = stack.stop().get("healthsweepd")
    if daemon_status not in (0, None):
        say(f"demo: FAILED: healthsweepd exited {daemon_status} when stopped (SIGTERM), not 0")
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
