#!/usr/bin/python3
"""PNG of a bench/fleet.sh run, from its raw results (the style of
bench/soak_plot.py): the verdict latency per layer over the run, each beside
its baseline from the same run (Redis `expired` events; the engine's `die`
time; the engine round-trip), and the daemon's RSS, loop lag and the
machine's load over the run.

  bench/fleet_plot.py RESULTS_DIR OUT_PNG [PREFIX]
(PREFIX: the committed copies, e.g. bench/results ... issue15-fleet-2026-12-04-)

Needs python3-matplotlib (Debian), hence /usr/bin/python3.
"""
import csv
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")  # no display: write the file only
import matplotlib.pyplot as plt  # noqa: E402


def jsonl(path):
    return [json.loads(line) for line in open(path)] if os.path.exists(path) else []


def main():
    d, out = sys.argv[1:3]
    prefix = sys.argv[3] if len(sys.argv) > 3 else ""
    rows = list(csv.DictReader(open(os.path.join(d, prefix + "samples.csv"))))
    t0 = float(rows[0]["unix_time"]) - float(rows[0]["t_s"])
    offline = {}
    for line in open(os.path.join(d, prefix + "events.tsv")):
        target, _frm, to, _layer, _reason, at = line.rstrip("\n").split("\t")
        if to == "offline":
            offline.setdefault(target, []).append(float(at))

    def col(name):
        return [float(r[name]) if r.get(name) not in ("", None) else float("nan") for r in rows]

    minutes = [float(r["t_s"]) / 60 for r in rows]
    fig, axes = plt.subplots(5, 1, figsize=(10, 13), sharex=True)
    layers = [
        (axes[0], "passive: verdict − deadline", jsonl(os.path.join(d, prefix + "lapses.jsonl")), "deadline",
         "shadow_expired", "Redis `expired` event − deadline (baseline)"),
        (axes[1], "proactive: offline − kill", jsonl(os.path.join(d, prefix + "kills.jsonl")), "t_kill",
         "die_time", "engine `die` time − kill (baseline)"),
        (axes[2], "hook: offline − POST", jsonl(os.path.join(d, prefix + "hooks.jsonl")), "t_post", None,
         "engine round-trip (baseline)"),
    ]
    for ax, label, items, origin, base_key, base_label in layers:
        xs, ys, bx, by = [], [], [], []
        for x in items:
            at = next((t for t in offline.get(x["target"], []) if t >= x[origin] - (1 if origin == "deadline" else 0)), None)
            if at is not None:
                xs.append((x[origin] - t0) / 60)
                ys.append(max(0.01, (at - x[origin]) * 1000))
            if base_key and x.get(base_key):
                bx.append((x[origin] - t0) / 60)
                by.append(max(0.01, (x[base_key] - x[origin]) * 1000))
            elif base_key is None:
                for v in x["inspect_ms"]:
                    bx.append((x[origin] - t0) / 60)
                    by.append(max(0.01, v))
        ax.scatter(bx, by, s=6, color="tab:gray", alpha=0.6, label=base_label)
        ax.scatter(xs, ys, s=8, color="tab:blue", label="healthsweepd")
        if xs or bx:  # a log axis with nothing on it breaks the layout
            ax.set_yscale("log")
        ax.set_ylabel(f"{label}\n(ms)")
        ax.grid(True, linewidth=0.3)
        ax.legend(loc="upper right", fontsize="small")
    axes[3].plot(minutes, col("rss_mib"), label="VmRSS", linewidth=1)
    axes[3].axhline(120, color="tab:red", linewidth=0.8, linestyle="--", label="goal 120 MiB")
    axes[3].set_ylim(0, max(max(col("rss_mib")), 120) * 1.2)
    axes[3].set_ylabel("RSS (MiB)")
    axes[3].grid(True, linewidth=0.3)
    axes[3].legend(loc="lower right", fontsize="small")
    lag = axes[4]
    lag.plot(minutes, col("healthz_max_ms"), label="GET /healthz max per sample", linewidth=1)
    if any(r.get("stall_max_ms") for r in rows):
        lag.plot(minutes, col("stall_max_ms"), label="healthsweep_event_loop_stall_max_seconds", linewidth=1)
    lag.set_yscale("log")
    lag.set_ylabel("loop lag (ms)")
    lag.grid(True, linewidth=0.3)
    lag.legend(loc="upper left", fontsize="small")
    load = lag.twinx()
    load.plot(minutes, col("load1"), color="tab:gray", linewidth=0.8, label="load average (1 min)")
    load.set_ylabel("load average")
    load.set_ylim(0, max(col("load1")) * 1.5)
    load.legend(loc="upper right", fontsize="small")
    axes[4].set_xlabel("minutes of load")
    run = open(os.path.join(d, prefix + "run.txt")).read().splitlines()
    fig.suptitle("healthsweepd, a fleet on one host: " + run[0].lstrip("# "), fontsize="small")
    fig.tight_layout()
    fig.savefig(out, dpi=90)


if __name__ == "__main__":
    main()
