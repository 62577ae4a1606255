#!/usr/bin/env python3
"""Checks a bench/soak.sh run from the files it collected (--dir):
samples.csv and actions.jsonl (bench/soak_driver.py), events.tsv (the
daemon's healthsweep_events, every state change it made), metrics-end.txt,
containers-end.json, healthsweepd.log. Prints one line per check and the
figures behind it; exits 1 when any check fails.

Definitions (the same for every run):
- warm-up: the first 20 % of DURATION (at least 60 s). Heartbeats, hook load,
  deaths and lapses all run during it; only the resource checks ignore it.
- RSS flat: after warm-up, (max - min) / min <= 5 % of the daemon's VmRSS
  (printed, not checked, for a sanitized daemon: ASan's quarantine and shadow
  memory grow RSS by themselves; LeakSanitizer at exit is the check there).
- descriptors flat: after warm-up, the median and the floor (minimum) of the
  last quarter of the samples are each at most 4 above the first quarter's.
  A leak raises the floor; in-flight work (up to 64 reactive checks, engine
  calls, connections) only raises peaks, which are printed, not bounded: a
  stall on a loaded machine piles work up for a moment (466 for one sample in
  run 2 at load 29, 358-366 around it).
- expected verdicts: each killed container's target goes offline after the
  kill, then restarting (the daemon's restart order), then online, and its
  container runs at the end; each stopped heartbeat's target goes offline
  with reason `heartbeat expired` no earlier than the key's TTL deadline and
  within 10 s of it, then online after the heartbeat is resumed.
- unexpected verdicts: any other state change than these and the first
  unknown -> online of each target.
- nothing lost: the events in PostgreSQL (the restart in the middle
  included) are exactly the daemon's healthsweep_transitions_total, ids unique.
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from soak_sample import metric_sum, parse_metrics  # noqa: E402


def load(d):
    with open(os.path.join(d, "samples.csv")) as f:
        samples = list(csv.DictReader(f))
    actions = [json.loads(line) for line in open(os.path.join(d, "actions.jsonl"))]
    events = []
    for line in open(os.path.join(d, "events.tsv")):
        eid, target, frm, to, layer, reason, at = line.rstrip("\n").split("\t")
        events.append(dict(id=int(eid), target=target, frm=frm, to=to, layer=layer, reason=reason, at=float(at)))
    metrics = parse_metrics(open(os.path.join(d, "metrics-end.txt")).read())
    containers = json.load(open(os.path.join(d, "containers-end.json")))
    log = open(os.path.join(d, "healthsweepd.log"), errors="replace").read()
    return samples, actions, events, metrics, containers, log


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))] if v else float("nan")


def spread(name, values, unit):
    return f"{name} p50 / p99 / max {pct(values, 50):.3f} / {pct(values, 99):.3f} / {max(values):.3f} {unit}"


def expected_verdicts(actions, events, containers):
    """(failures, figures, targets accounted for): each action's sequence."""
    by_target = {}
    for e in events:
        by_target.setdefault(e["target"], []).append(e)
    running = {n.lstrip("/"): c["State"] for c in containers for n in c.get("Names", [])}
    fails, kill_ms, lapse_ms = [], [], []
    resumes = {a["target"]: a["t"] for a in actions if a["kind"] == "resume"}
    for a in actions:
        if a["kind"] not in ("kill", "lapse"):
            continue
        t = a["target"]
        after = [e for e in by_target.get(t, []) if e["at"] >= a["t"] - 0.1]
        seq = [e["to"] for e in after]
        if a["kind"] == "kill":
            if a.get("status") != 204:
                fails.append(f"{t}: the kill itself failed (engine status {a.get('status')})")
            elif seq != ["offline", "restarting", "online"]:
                fails.append(f"{t}: killed at {a['t']:.3f}; state changes after it {seq}, "
                             "expected offline, restarting, online")
            elif running.get(t) != "running":
                fails.append(f"{t}: its container is {running.get(t)} at the end, not running")
            else:
                kill_ms.append((after[0]["at"] - a["t"]) * 1000)
        else:
            off = after[0] if after else None
            if seq != ["offline", "online"]:
                fails.append(f"{t}: heartbeat stopped (deadline {a['deadline_lo']:.3f}); state changes {seq}, "
                             "expected offline, online")
            elif "heartbeat expired" not in off["reason"]:
                fails.append(f"{t}: offline for '{off['reason']}', not an expired heartbeat")
            elif not a["deadline_lo"] - 0.05 <= off["at"] <= a["deadline_hi"] + 10:
                fails.append(f"{t}: offline at {off['at']:.3f}, deadline {a['deadline_lo']:.3f}.."
                             f"{a['deadline_hi']:.3f}")
            elif after[1]["at"] < resumes.get(t, float("inf")):
                fails.append(f"{t}: online again at {after[1]['at']:.3f} before its heartbeat was resumed")
            else:
                lapse_ms.append((off["at"] - a["deadline_hi"]) * 1000)
    return fails, kill_ms, lapse_ms


def unexpected_verdicts(actions, events):
    """Every state change not explained by an action: a target's first
    unknown -> online is its first judgement; anything else needs a fault."""
    first_fault = {}
    for a in actions:
        if a["kind"] in ("kill", "lapse"):
            first_fault.setdefault(a["target"], a["t"])
    out = []
    for e in events:
        if e["frm"] == "unknown" and e["to"] == "online":
            continue
        t0 = first_fault.get(e["target"])
        if t0 is None or e["at"] < t0 - 0.1:
            out.append(e)
    return out


def sanitized(daemon):
    try:
        libs = subprocess.run(["ldd", daemon], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return False
    return "libasan" in libs or "libubsan" in libs


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--targets", type=int, required=True)
    p.add_argument("--daemon", required=True)
    p.add_argument("--exit-status", type=int, required=True)
    p.add_argument("--settled", type=int, default=1)
    p.add_argument("--startup", default="", help="seconds to take up the fleet, slowest /metrics meanwhile")
    a = p.parse_args()
    samples, actions, events, metrics, containers, log = load(a.dir)
    results = []

    def check(name, ok, detail):
        results.append(ok)
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")

    warm = max(60.0, 0.2 * a.duration)
    steady = [s for s in samples if float(s["t_s"]) >= warm]
    loads = [float(s["load1"]) for s in samples]
    is_sanitized = sanitized(a.daemon)
    print(f"# soak: {len(samples)} samples over {float(samples[-1]['t_s']):.0f} s, warm-up {warm:.0f} s "
          f"({len(steady)} samples after it); daemon {a.daemon}{' (sanitized)' if is_sanitized else ''}")
    print(f"# load average (1 min) during the run: min {min(loads):.2f}, median {statistics.median(loads):.2f}, "
          f"max {max(loads):.2f} (nproc {os.cpu_count()})")
    if a.startup:
        took, slowest = a.startup.split()
        print(f"# start: every target online {took} s after the daemon was started; the slowest /metrics "
              f"answer meanwhile {float(slowest):.3f} s (before the clock of the run; not checked)")
    if len(steady) < 8:
        check("enough samples after warm-up", False, f"{len(steady)} samples")
        sys.exit(1)

    rss = [float(s["rss_mib"]) for s in steady]
    all_rss = [float(s["rss_mib"]) for s in samples]
    band = (max(rss) - min(rss)) / min(rss) * 100
    rss_detail = (f"{min(rss):.1f}..{max(rss):.1f} MiB, band {band:.2f} % (<= 5 %); whole run {min(all_rss):.1f}.."
                  f"{max(all_rss):.1f} MiB; first/last sample after warm-up {rss[0]:.1f} / {rss[-1]:.1f} MiB")
    if is_sanitized:
        # ASan's RSS is its own: freed blocks wait in a 256 MiB quarantine and
        # every byte has shadow memory, so it climbs for minutes whatever the
        # daemon does. There leaks are LeakSanitizer's (at exit, checked below);
        # the RSS bound is the Release build's.
        print(f"INFO  RSS after warm-up (not checked: sanitized build): {rss_detail}")
    else:
        check("RSS flat after warm-up", band <= 5.0, rss_detail)

    fds = [int(s["fds"]) for s in steady]
    q = max(1, len(fds) // 4)
    growth = statistics.median(fds[-q:]) - statistics.median(fds[:q])
    floor_rise = min(fds[-q:]) - min(fds[:q])
    peak = max(steady, key=lambda s: int(s["fds"]))
    check("descriptors flat after warm-up", growth <= 4 and floor_rise <= 4,
          f"{min(fds)}..{max(fds)} open; last quarter minus first: median {growth:+.1f}, floor {floor_rise:+d} "
          f"(each <= 4); peak {peak['fds']} at {float(peak['t_s']):.0f} s (load {peak['load1']}; in-flight "
          "checks and connections, not bounded)")

    lag_max = [float(s["healthz_max_ms"]) for s in samples if s["healthz_max_ms"]]
    lag_p50 = [float(s["healthz_p50_ms"]) for s in samples if s["healthz_p50_ms"]]
    probes = sum(int(s["healthz_probes"]) for s in samples)
    probe_fail = sum(int(s["healthz_failures"]) for s in samples)
    check("GET /healthz answered all along (loop lag seen from outside)", probe_fail == 0,
          f"{probes} probes every 20 ms, {probe_fail} failed; per-sample median "
          f"{spread('', lag_p50, 'ms').strip()}; per-sample max {spread('', lag_max, 'ms').strip()}")

    hook_rate = [float(s["hook_202_per_s"]) for s in steady if float(s["t_s"]) <= a.duration - 5]
    hook_other = int(samples[-1]["hook_other"])
    check("every hook request accepted (202)", hook_other == 0,
          f"{hook_other} other answers; accepted rate after warm-up mean {statistics.mean(hook_rate):.0f}, "
          f"median {statistics.median(hook_rate):.0f} req/s "
          f"(min {min(hook_rate):.0f}, max {max(hook_rate):.0f})")

    fails, kill_ms, lapse_ms = expected_verdicts(actions, events, containers)
    kills = sum(1 for x in actions if x["kind"] == "kill")
    lapses = sum(1 for x in actions if x["kind"] == "lapse")
    detail = f"{kills} containers killed, {lapses} heartbeats stopped, {len(fails)} not as expected"
    if kill_ms:
        detail += f"; {spread('kill -> offline', kill_ms, 'ms')}"
    if lapse_ms:
        detail += f"; {spread('TTL deadline -> offline', lapse_ms, 'ms')}"
    check("every expected verdict made", not fails and kills > 0 and lapses > 0, detail)
    for f in fails[:20]:
        print(f"      {f}")

    odd = unexpected_verdicts(actions, events)
    initial = sum(1 for e in events if e["frm"] == "unknown" and e["to"] == "online")
    check("no unexpected verdict", not odd,
          f"{len(odd)} state changes without a fault behind them ({initial} first judgements unknown -> online)")
    for e in odd[:20]:
        print(f"      {e['target']}: {e['frm']} -> {e['to']} ({e['layer']}: {e['reason']}) at {e['at']:.3f}")

    transitions = int(metric_sum(metrics, "healthsweep_transitions_total"))
    ids = [e["id"] for e in events]
    pg = [x for x in actions if x["kind"].startswith("pg_")]
    check("no event lost or doubled across the PostgreSQL restart",
          transitions == len(events) and len(set(ids)) == len(ids) and len(pg) == 3,
          f"{len(events)} events in PostgreSQL, {transitions} transitions counted by the daemon, "
          f"{len(ids) - len(set(ids))} duplicate ids; PostgreSQL down "
          + (f"{pg[2]['t'] - pg[0]['t']:.1f} s at {pg[0]['t'] - float(samples[0]['unix_time']):.0f} s"
             if len(pg) == 3 else "NOT restarted"))

    online = [int(s["targets_online"]) for s in samples]
    check("the fleet settled at the end", a.settled == 1,
          f"every one of {a.targets} targets online and the spool empty after the load stopped; "
          f"fewest online in a sample {min(online)}, most offline {max(int(s['targets_offline']) for s in samples)}")

    reports = [line for line in log.splitlines()
               if "AddressSanitizer" in line or "LeakSanitizer" in line or "runtime error:" in line]
    check("clean exit on SIGTERM, no sanitizer report", a.exit_status == 0 and not reports,
          f"exit status {a.exit_status}, {len(reports)} sanitizer lines")
    for line in reports[:10]:
        print(f"      {line}")

    print(f"# {sum(results)} of {len(results)} checks passed")
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
