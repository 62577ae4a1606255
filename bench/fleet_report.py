#!/usr/bin/env python3
"""The figures of a bench/fleet.sh run, each with its baseline from the same
run and the ratio, from the raw files fleet.sh keeps (see fleet_driver.py):

  bench/fleet_report.py RESULTS_DIR [PREFIX]
(PREFIX: the committed copies, e.g. bench/results issue15-fleet-2026-12-04-)

Verdict times are the daemon's events in PostgreSQL (events.tsv: target,
from, to, layer, reason, at as unix seconds); no fixed delay is in them
(remediation is `none`; `at` is the transition's own time)."""
import csv
import datetime
import json
import os
import re
import sys


prefix = ""  # of every raw file's name


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))]


def trio(values):
    return f"p50 {pct(values, 50):8.2f}  p99 {pct(values, 99):8.2f}  max {pct(values, 100):8.2f} ms (n={len(values)})"


def jsonl(path):
    return [json.loads(line) for line in open(path)] if os.path.exists(path) else []


def first_offline(events):
    """target -> [(at, layer, reason)] of its offline transitions, in order."""
    out = {}
    for target, _frm, to, layer, reason, at in events:
        if to == "offline":
            out.setdefault(target, []).append((float(at), layer, reason))
    return out


def after(offline, target, t):
    """The first offline verdict on target at or after t, or None."""
    return next((v for v in offline.get(target, []) if v[0] >= t), None)


def metrics(path):
    out = {}
    if not os.path.exists(path):
        return out
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        key, _, value = line.rpartition(" ")
        out[key] = float(value)
    return out


def histogram_p(start, end, name, p):
    """The bucket bound under which p % of the observations between two
    /metrics snapshots fall (None if the histogram is absent)."""
    buckets = []
    for key, v in end.items():
        m = re.fullmatch(name + r'_bucket\{(?:.*,)?le="([^"]+)"\}', key)
        if m:
            le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
            buckets.append((le, v - start.get(key, 0)))
    if not buckets:
        return None, 0
    buckets.sort()
    total = buckets[-1][1]
    for le, count in buckets:
        if total and count >= p / 100 * total:
            return le, total
    return None, total


def log_time(line):
    """A daemon log line's time, unix seconds (its ISO stamp is UTC, to the ms)."""
    at = datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f")
    return at.replace(tzinfo=datetime.timezone.utc).timestamp()


def long_handlers(path):
    """[(start, end)] unix seconds of each handler that held the loop 5 ms or
    more (the daemon's debug lines, logged as the handler ends)."""
    if not os.path.exists(path):
        return []
    out = []
    for line in open(path):
        m = re.search(r"held the loop ([\d.]+) ms", line)
        if m:
            end = log_time(line)
            out.append((end - float(m.group(1)) / 1000, end))
    return out


def passive_verdicts(path):
    """The daemon's log line for each dead verdict of the passive layer:
    [(time, target, ms after the deadline it believed, ms after it asked or
    None)]. Empty without the log."""
    if not os.path.exists(path):
        return []
    out = []
    for line in open(path):
        m = re.search(r"passive: (\S+) dead \([^)]*\), verdict ([\d.-]+) ms after the deadline"
                      r"(?: \(asked ([\d.-]+) ms after it\))?", line)
        if m:
            asked = float(m.group(3)) if m.group(3) is not None else None
            out.append((log_time(line), m.group(1), float(m.group(2)), asked))
    return out


def reactive_split(path, targets):
    """The daemon's log line for each dead verdict on news (sweeps/reactive):
    {target: (ms from the report to the verdict, ms from the report to the
    check's start, news queued ahead of the report or None)} for the given
    targets. Empty without the log (a daemon older than the line); the news
    ahead is None from a daemon older than that count (8ceaa4d and before)."""
    out = {}
    if not os.path.exists(path):
        return out
    for line in open(path):
        m = re.search(r"reactive: (\S+) dead \(.*\), verdict ([\d.-]+) ms after the report"
                      r" \(check began ([\d.-]+) ms after it(?:, behind (\d+) news)?\)", line)
        if m and m.group(1) in targets:
            ahead = int(m.group(4)) if m.group(4) is not None else None
            out[m.group(1)] = (float(m.group(2)), float(m.group(3)), ahead)
    return out


def passive_split(verdicts, handlers_path, redis_path):
    """The daemon's own account of each lapse (its log line): when it asked
    Redis about the key (the deadline's timer, late by the loop), and how
    long the answer took (Redis and the loop's reading of it). With Redis's
    latency record of the run (fleet.sh's redis-latency.jsonl), how many of
    the slow answers came in a second in which Redis itself stalled."""
    asked, answered, slow, late = [], [], [], []
    for at, _target, verdict_ms, asked_ms in verdicts:  # at: the verdict's (logged with it)
        if asked_ms is None:
            continue
        asked.append(asked_ms)
        answered.append(verdict_ms - asked_ms)
        if answered[-1] > 5:
            slow.append((at - answered[-1] / 1000, at))
        if asked[-1] > 5:
            late.append((at - verdict_ms / 1000, at - answered[-1] / 1000))
    if asked:
        print(f"  the daemon's split (its log, n={len(asked)}): asked after the deadline {trio(asked)}")
        print(f"                     answered after asking {trio(answered)}")
    # With FLEET_LOG_LEVEL=debug: whether a handler of 5 ms or more held the
    # loop across the wait (deadline -> ask, or ask -> verdict), so the loop
    # was the delay; if not, the daemon or Redis waited for a core or Redis
    # was slow (below). Times are the log's, to the millisecond: ±1 ms.
    handlers = long_handlers(handlers_path)
    if handlers:
        def held(w):
            return any(b <= w[1] + 0.001 and e >= w[0] - 0.001 for b, e in handlers)
        print(f"  asked over 5 ms late: {len(late)}, with a handler ≥ 5 ms holding the loop then: "
              f"{sum(1 for w in late if held(w))}; answered over 5 ms after asking: {len(slow)},"
              f" with such a handler then: {sum(1 for w in slow if held(w))} (FLEET_LOG_LEVEL=debug)")
    if not os.path.exists(redis_path):
        return
    stalls, slowlog, delay = {}, [], None
    for line in open(redis_path):
        x = json.loads(line)
        if isinstance(x, dict) and "history" in x:
            for sec, ms in x["history"]:
                stalls.setdefault(sec, []).append((x["event"], ms))
        elif isinstance(x, dict) and "slowlog" in x:
            slowlog = x["slowlog"]
        elif isinstance(x, dict) and "run_delay_ms" in x:
            delay = x
    if delay:
        print(f"  Redis over the load: waited {delay['run_delay_ms']} ms for a core in {delay['seconds']} s"
              f" (schedstat); {len(stalls)} seconds with a stall of its own ≥ 5 ms (latency monitor:"
              f" {', '.join(sorted({e for v in stalls.values() for e, _ in v})) or 'none'});"
              f" {len(slowlog)} commands ≥ 5 ms")
    # Redis stamps an event with the second it ended in: a stall during the
    # wait for the answer ends in one of the seconds the wait spans.
    matched = [w for w in slow if any(s in stalls for s in range(int(w[0]), int(w[1]) + 1))]
    print(f"  answers slower than 5 ms: {len(slow)}; in a second in which Redis stalled: {len(matched)}")


def late_wakes(verdicts, lapses, offline):
    """Lapses the daemon's own deadline put later than the real one: its log
    says "verdict N ms after the deadline" of the deadline it believed, the
    events say when after the real (PXAT) one. More than 5 ms apart: the
    predicted deadline was late (a refresh notification handled late)."""
    if not verdicts:
        return
    logged = {target: verdict_ms for _at, target, verdict_ms, _asked in verdicts}
    late = []
    for x in lapses:
        v = after(offline, x["target"], x["deadline"] - 1)
        if v and x["target"] in logged and (v[0] - x["deadline"]) * 1000 - logged[x["target"]] > 5:
            late.append(f'{x["target"]} {(v[0] - x["deadline"]) * 1000:.1f} ms ({v[2]})')
    print(f"  lapses whose own deadline the daemon put over 5 ms late: {len(late)} {late[:5]}")


def main():
    global prefix
    d = sys.argv[1]
    prefix = sys.argv[2] if len(sys.argv) > 2 else ""
    print(open(os.path.join(d, prefix + "run.txt")).read().rstrip())
    events = [line.rstrip("\n").split("\t") for line in open(os.path.join(d, prefix + "events.tsv")) if line.strip()]
    offline = first_offline(events)
    samples = list(csv.DictReader(open(os.path.join(d, prefix + "samples.csv"))))
    loads = [float(r["load1"]) for r in samples]
    load_text = f"load average (1 min) {min(loads):.2f}-{max(loads):.2f} during the load" if loads else "load ?"
    print(f"# {load_text}")
    rows = []  # (goal, figure, baseline, ratio, verdict)

    # Passive
    lapses = jsonl(os.path.join(d, prefix + "lapses.jsonl"))
    lapse_ids = {x["target"] for x in lapses}
    late, shadow, missed = [], [], 0
    for x in lapses:
        v = after(offline, x["target"], x["deadline"] - 1)
        if v:
            late.append((v[0] - x["deadline"]) * 1000)
        else:
            missed += 1
        if x["shadow_expired"]:
            shadow.append((x["shadow_expired"] - x["deadline"]) * 1000)
    wrong = sorted(t for t in offline if t.startswith("h-") and t not in lapse_ids)
    print("\n== Passive: heartbeat deadline -> the daemon's offline verdict (events.at - PXAT deadline)")
    print(f"  daemon:   {trio(late)}; {len(late)} of {len(lapses)} acted on, {missed} missed,"
          f" {len(wrong)} fresh heartbeats judged dead {wrong[:5]}")
    print(f"  BASELINE: Redis's own `expired` event for a shadow key with the same deadline: {trio(shadow)};"
          f" {len(lapses) - len(shadow)} of {len(lapses)} never arrived while the run lasted")
    within1 = sum(1 for s in shadow if s <= 1000)
    print(f"            shadow events within 1 s of the deadline: {within1} of {len(lapses)}")
    ratio = pct(late, 99) / pct(shadow, 99) if shadow else float("nan")
    print(f"  ratio of p99 daemon / expired events: {ratio:.4f}")
    verdicts = passive_verdicts(os.path.join(d, prefix + "passive-verdicts.log"))
    passive_split(verdicts, os.path.join(d, prefix + "long-handlers.log"),
                  os.path.join(d, prefix + "redis-latency.jsonl"))
    late_wakes(verdicts, lapses, offline)
    ok = pct(late, 99) <= 5 and pct(late, 100) <= 20 and not missed and not wrong
    rows.append(("passive: verdict − deadline p99 ≤ 5 ms, max ≤ 20 ms",
                 f"p50 {pct(late, 50):.1f} / p99 {pct(late, 99):.1f} / max {pct(late, 100):.1f} ms, "
                 f"{len(late)}/{len(lapses)} acted, {len(wrong)} wrong",
                 f"`expired` events: p99 {pct(shadow, 99):.0f} ms, {len(lapses) - len(shadow)} never" if shadow
                 else f"`expired` events: none of {len(lapses)} arrived", f"{ratio:.4f}", ok))

    # Redis CPU
    rc = json.load(open(os.path.join(d, prefix + "redis_cpu.json")))
    without = 100 * rc["baseline"]["cpu_s"] / rc["baseline"]["seconds"]
    with_d = 100 * rc["load"]["cpu_s"] / rc["load"]["seconds"]
    print("\n== Redis CPU (redis-server utime+stime, all threads)")
    print(f"  heartbeat traffic alone (BASELINE, {rc['baseline']['seconds']:.0f} s before the daemon): {without:.2f} % of a core")
    print(f"  same traffic with the daemon ({rc['load']['seconds']:.0f} s of load): {with_d:.2f} % of a core")
    print(f"  added by the daemon: {with_d - without:.2f} % of a core (ratio {with_d / without:.2f})")
    rows.append(("Redis CPU the daemon adds ≤ 3 % of a core", f"{with_d - without:.2f} % (with {with_d:.2f} %)",
                 f"{without:.2f} % without the daemon", f"{with_d / without:.2f}", with_d - without <= 3))

    # Proactive: the kills by how they were sent (runs before --kill-via sent them all through the API).
    kills = jsonl(os.path.join(d, prefix + "kills.jsonl"))
    run = open(os.path.join(d, prefix + "run.txt")).read()
    m = re.search(r"known after ([0-9.?]+) s.*reached\s+(\d+) after ([0-9.?]+) s", run, re.S)
    try:
        arm = f"{float(m.group(3)) - float(m.group(1)):.2f}"
    except (AttributeError, ValueError):
        arm = "?"
    # runs before FLEET_ENGINE had Podman only
    m = re.search(r"\bengine=(\w+)", run)
    engine_name = {"podman": "Podman", "docker": "Docker Engine"}.get(m.group(1) if m else "podman", "?")
    titles = {"signal": "SIGKILL straight to the container's process (a crash)",
              "api": "SIGKILL through the engine's API (POST /containers/{id}/kill)"}
    figures = {}
    for via in ("signal", "api"):
        group = [x for x in kills if x.get("via", "api") == via]
        if not group:
            continue
        k_lat, die_lat, seen_lat, exit_lat, own_lat, k_missed = [], [], [], [], [], 0
        for x in group:
            v = after(offline, x["target"], x["t_kill"])
            if v:
                k_lat.append((v[0] - x["t_kill"]) * 1000)
            else:
                k_missed += 1
            if x["die_time"]:
                die_lat.append((x["die_time"] - x["t_kill"]) * 1000)
                seen_lat.append((x["die_seen"] - x["t_kill"]) * 1000)
            # The process's exit seen by the driver's own pidfd (runs before it had none).
            if x.get("t_exit"):
                exit_lat.append((x["t_exit"] - x["t_kill"]) * 1000)
                if v:
                    own_lat.append((v[0] - x["t_exit"]) * 1000)
        print(f"\n== Proactive: kill -> offline, {titles[via]}, busybox on {engine_name}, sweeps of every container running")
        print(f"  daemon:   {trio(k_lat)}; {k_missed} of {len(group)} without an offline verdict after the kill")
        print(f"  BASELINE: the engine's own `die` event time (timeNano) - kill: {trio(die_lat)}")
        print(f"            the `die` event delivered to a subscriber - kill:   {trio(seen_lat)}")
        if exit_lat:
            print(f"  BASELINE: the main process's exit, seen by the driver's own pidfd - kill: {trio(exit_lat)}")
            print(f"  the daemon's own share, offline verdict - that exit: {trio(own_lat)}"
                  " (the driver wakes through Python: up to ~1 ms late, so this errs low by as much)")
        kratio = pct(k_lat, 99) / pct(die_lat, 99) if die_lat else float("nan")
        print(f"  ratio of p99 daemon / engine die time: {kratio:.2f}")
        figures[via] = (k_lat, die_lat, exit_lat, own_lat, k_missed, kratio)
    print(f"  process watch armed for every container: {arm} s after every target was known (the containers discovered)")
    # The goal's row: a crash when the run has any (what an operator's workload does
    # when it dies), the API's kill beside it.
    for via in ("signal", "api"):
        if via not in figures:
            continue
        k_lat, die_lat, exit_lat, own_lat, k_missed, kratio = figures[via]
        how = "by signal" if via == "signal" else "through the API"
        rows.append((f"proactive: kill ({how}) → offline p99 ≤ 25 ms while sweeps run",
                     f"p50 {pct(k_lat, 50):.1f} / p99 {pct(k_lat, 99):.1f} ms ({len(k_lat)} kills)"
                     + (f"; exit → offline p50 {pct(own_lat, 50):.1f} / p99 {pct(own_lat, 99):.1f} ms"
                        if own_lat else ""),
                     f"engine `die` time p99 {pct(die_lat, 99):.1f} ms"
                     + (f"; process exit p99 {pct(exit_lat, 99):.1f} ms" if exit_lat else ""),
                     f"{kratio:.2f}", pct(k_lat, 99) <= 25 and not k_missed))
    try:
        arm_ok = float(arm) <= 5
    except ValueError:
        arm_ok = False
    rows.append(("proactive: arm the watch for 1,000 new containers ≤ 5 s", f"{arm} s from discovery to all watched",
                 "—", "—", arm_ok))

    # Hook
    hooks = jsonl(os.path.join(d, prefix + "hooks.jsonl"))
    h_lat, rtt, h_missed = [], [], 0
    for x in hooks:
        rtt += x["inspect_ms"]
        v = after(offline, x["target"], x["t_post"])
        if v and x["status"] == 202:
            h_lat.append((v[0] - x["t_post"]) * 1000)
        else:
            h_missed += 1
    layers = {}
    for x in hooks:
        v = after(offline, x["target"], x["t_post"])
        if v:
            layers[v[1]] = layers.get(v[1], 0) + 1
    print("\n== Hook: POST /hooks/connection-error for a canned container just died -> offline verdict")
    print(f"  daemon:   {trio(h_lat)}; {h_missed} of {len(hooks)} without a verdict; verdict layers {layers}")
    print(f"  BASELINE: engine round-trip (inspect through the same socket, just before): {trio(rtt)}")
    print(f"  p99 − engine p99: {pct(h_lat, 99) - pct(rtt, 99):+.2f} ms (ratio {pct(h_lat, 99) / pct(rtt, 99):.2f})")
    split = reactive_split(os.path.join(d, prefix + "reactive-verdicts.log"), {x["target"] for x in hooks})
    if split:
        began = [b for _, b, _ in split.values()]
        checked = [v - b for v, b, _ in split.values()]
        print(f"  the daemon's split (its log, n={len(split)}): check began after the report {trio(began)}")
        print(f"                     check (the engine's answer, read) {trio(checked)}")
        # Outside the daemon's span (a driver of 2026-12-07 day on): the
        # driver connecting and writing the POST, and after it, the daemon
        # reading it and recording the verdict, less its own span.
        sent = [(x, after(offline, x["target"], x["t_post"])) for x in hooks
                if x.get("t_sent") and x["target"] in split]
        sent = [(x, v) for x, v in sent if v]
        if sent:
            writing = [(x["t_sent"] - x["t_post"]) * 1000 for x, _ in sent]
            reading = [(v[0] - x["t_sent"]) * 1000 - split[x["target"]][0] for x, v in sent]
            print(f"                     the driver connecting and writing the POST {trio(writing)}")
            print(f"                     from the POST written to the verdict recorded, less the span above {trio(reading)}")
        late = [(b, a) for _, b, a in split.values() if b > 5 and a is not None]
        if late:
            behind = sum(1 for _, a in late if a > 0)
            print(f"                     of the {len(late)} that began > 5 ms late: {behind} queued behind other news"
                  f" (most {max(a for _, a in late)}), {len(late) - behind} behind none (every slot taken)")
    gauges = [(float(r["reactive_running"]), float(r["reactive_queued"])) for r in samples
              if r.get("reactive_running")]
    if gauges:
        print(f"  reactive checks at the samples (every 5 s, n={len(gauges)}): running mean"
              f" {sum(g[0] for g in gauges) / len(gauges):.1f} max {max(g[0] for g in gauges):.0f};"
              f" queued mean {sum(g[1] for g in gauges) / len(gauges):.1f} max {max(g[1] for g in gauges):.0f}")
    rows.append(("hook → verdict p99 ≤ engine round-trip + 5 ms",
                 f"p50 {pct(h_lat, 50):.1f} / p99 {pct(h_lat, 99):.1f} ms ({len(h_lat)} samples)",
                 f"inspect p99 {pct(rtt, 99):.1f} ms", f"{pct(h_lat, 99) / pct(rtt, 99):.2f}",
                 pct(h_lat, 99) <= pct(rtt, 99) + 5 and not h_missed))
    st = json.load(open(os.path.join(d, prefix + "engine-stats.json")))
    m0, m1 = metrics(os.path.join(d, prefix + "metrics-start.txt")), metrics(os.path.join(d, prefix + "metrics-end.txt"))
    acc = sum(v - m0.get(k, 0) for k, v in m1.items() if k.startswith("healthsweep_hook_requests_total") and 'code="202"' in k)
    coal = sum(v - m0.get(k, 0) for k, v in m1.items() if k.startswith("healthsweep_reactive_coalesced_total"))
    secs = float(samples[-1]["t_s"]) if samples else 1
    print(f"  hook load: {acc:.0f} reports accepted (202) in {secs:.0f} s = {acc / secs:.0f}/s;"
          f" {coal:.0f} coalesced, {acc - coal:.0f} checks started")
    print(f"  per target (the engine counted every inspect of t-0..): {st['inspects']} checks over {st['targets_checked']}"
          f" targets; two checks of one target closer than the {st['window_ms']:.0f} ms window: {st['closer_than_window']}"
          f" times (closest {st['min_gap_ms'] if st['min_gap_ms'] is None else round(st['min_gap_ms'], 1)} ms);"
          f" most checks of one target within one window: {st['max_checks_in_window']};"
          f" targets by that most: {st['targets_by_max_checks_in_window']}")
    asked = int(re.search(r"hook_rate=(\d+)", run).group(1))
    rows.append(("hook: each target checked ≤ once per coalesce_window",
                 f"{st['closer_than_window']} pairs closer than {st['window_ms']:.0f} ms; max {st['max_checks_in_window']} per window",
                 f"{acc / secs:.0f} reports/s accepted (of {asked:,} asked)", "—",
                 st["closer_than_window"] == 0))

    # HTTP
    cpu = [(float(r["t_s"]), float(r["cpu_pct"])) for r in samples]
    cpu_s = sum((cpu[i][0] - cpu[i - 1][0]) * cpu[i][1] / 100 for i in range(1, len(cpu)))
    http_targets = int(re.search(r"http=(\d+)", run).group(1))
    probes = http_targets * secs / 15
    w_off = [t for t in offline if t.startswith("w-")]
    print("\n== HTTP: targets checked every 15 s, daemon's default pool")
    print(f"  {len(w_off)} of {http_targets} HTTP targets judged offline during the run")
    print(f"  daemon CPU over the load: {cpu_s:.1f} s = {100 * cpu_s / secs:.1f} % of a core, for every layer at once;"
          f" over ~{probes:.0f} sweep probes that is at most {cpu_s * 1e6 / probes:.0f} us per probe (an upper bound:"
          f" the hook load, Redis and the engine are in it); the layer alone: bench/results/issue15-http-10k-2026-12-04.txt")
    rows.append(("HTTP: 10,000 targets every 15 s, CPU per probe vs blackbox",
                 f"{len(w_off)} offline; ≤ {cpu_s * 1e6 / probes:.0f} µs/probe (all layers' CPU)",
                 "blackbox: per-layer run only", "—", None))

    # Event loop
    le, n = histogram_p(m0, m1, "healthsweep_event_loop_stall_seconds", 99)
    stall_max = m1.get("healthsweep_event_loop_stall_max_seconds")
    hz = [float(r["healthz_max_ms"]) for r in samples if r["healthz_max_ms"]]
    hz50 = [float(r["healthz_p50_ms"]) for r in samples if r["healthz_p50_ms"]]
    print("\n== Event loop")
    if le is not None:
        print(f"  healthsweep_event_loop_stall_seconds over the load: p99 ≤ {le * 1000:.1f} ms (bucket bound, {n:.0f} observations);"
              f" longest stall since the daemon's start, take-up included (gauge at end) {stall_max * 1000 if stall_max is not None else float('nan'):.1f} ms")
    else:
        print("  the daemon exports no healthsweep_event_loop_stall_seconds (main before the loop-stall probe)")
    # The longest single handler of each 10 ms window (metrics/handler_timing.hpp):
    # tells a long handler from a crowded round of short ones.
    h99, hn = histogram_p(m0, m1, "healthsweep_event_loop_handler_seconds", 99)
    h100, _ = histogram_p(m0, m1, "healthsweep_event_loop_handler_seconds", 100)
    handler_max = m1.get("healthsweep_event_loop_handler_max_seconds")
    if h99 is not None:
        print(f"  longest single handler per 10 ms window over the load: p99 ≤ {h99 * 1000:.1f} ms, all ≤ {h100 * 1000:.1f} ms"
              f" (bucket bounds, {hn:.0f} windows); longest handler since the start, take-up included (gauge at end)"
              f" {handler_max * 1000 if handler_max is not None else float('nan'):.1f} ms")
    else:
        print("  the daemon exports no healthsweep_event_loop_handler_seconds (before handler timing)")
    print(f"  outside view, GET /healthz every 20 ms: median of per-sample medians {pct(hz50, 50):.2f} ms,"
          f" worst per-sample max {pct(hz, 100):.1f} ms")
    rows.append(("event loop: stall p99 ≤ 5 ms",
                 (f"p99 ≤ {le * 1000:.1f} ms, longest {stall_max * 1000:.1f} ms"
                  + (f"; longest handler per window p99 ≤ {h99 * 1000:.1f} ms, all ≤ {h100 * 1000:.1f} ms" if h99 is not None else ""))
                 if le is not None and stall_max is not None
                 else f"no stall metric; /healthz max {pct(hz, 100):.0f} ms", f"/healthz p50 {pct(hz50, 50):.2f} ms", "—",
                 (le * 1000 <= 5) if le is not None else None))

    # Memory
    # The goal is the fleet held under load, flat: judged on every sample
    # after the first (taken as the load starts, with what the startup left
    # before the daemon's first heap trim), the startup's peak reported beside.
    rss = [(float(r["t_s"]), float(r["rss_mib"])) for r in samples]
    warm = [v for t, v in rss if t >= 0.2 * secs]
    under_load = [v for _, v in rss[1:]] or [v for _, v in rss]
    print("\n== Memory (VmRSS from /proc every sample)")
    if rss:
        print(f"  start of load {rss[0][1]:.1f} MiB, end {rss[-1][1]:.1f} MiB, max {max(v for _, v in rss):.1f} MiB;"
              f" from the second sample on: {min(under_load):.1f}-{max(under_load):.1f} MiB;"
              f" after the first 20 %: {min(warm):.1f}-{max(warm):.1f} MiB")
        rows.append(("memory: RSS ≤ 120 MiB, flat", f"{min(under_load):.0f}-{max(under_load):.0f} MiB under load"
                     f" (after 20 %: {min(warm):.0f}-{max(warm):.0f}); {rss[0][1]:.0f} MiB as the load started", "—", "—",
                     max(under_load) <= 120))

    # Store
    print("\n== Store")
    print(f"  {len(events)} events in PostgreSQL; spool at the end {m1.get('healthsweep_store_spool_events', float('nan')):.0f};"
          f" mass-death throughput alone: bench/bench_store.sh (bench/results/store-2026-12-03-run*.txt)")

    print(f"\n== Table ({load_text})")
    print("| goal | figure | baseline (same run) | ratio | met? |")
    print("|---|---|---|---|---|")
    for goal, fig, base, ratio, ok in rows:
        print(f"| {goal} | {fig} | {base} | {ratio} | {'—' if ok is None else ('met' if ok else '**missed**')} |")


if __name__ == "__main__":
    main()
