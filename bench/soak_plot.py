#!/usr/bin/python3
"""PNG of a bench/soak.sh run: the daemon's RSS, open descriptors and loop
lag (GET /healthz latency from outside: the daemon exports no loop-lag
figure) over time, plus the hook rate and the machine's load, from samples.csv; the warm-up is
shaded, the PostgreSQL outage and the container kills are marked (actions.jsonl).

  bench/soak_plot.py SAMPLES_CSV ACTIONS_JSONL OUT_PNG [TITLE]

Needs python3-matplotlib (Debian; bench/soak.sh installs it), hence
/usr/bin/python3 (the Debian interpreter), not whichever python3 is first in PATH.
"""
import csv
import json
import sys

import matplotlib

matplotlib.use("Agg")  # no display: write the file only
import matplotlib.pyplot as plt  # noqa: E402


def main():
    samples_path, actions_path, out = sys.argv[1:4]
    title = sys.argv[4] if len(sys.argv) > 4 else "healthsweepd soak"
    rows = list(csv.DictReader(open(samples_path)))
    actions = [json.loads(line) for line in open(actions_path)]
    t0 = float(rows[0]["unix_time"])
    minutes = [float(r["t_s"]) / 60 for r in rows]
    duration = minutes[-1]
    warm = max(1.0, 0.2 * duration)  # as soak_check.py: 20 %, at least 60 s

    def col(name):
        return [float(r[name]) if r[name] != "" else float("nan") for r in rows]

    fig, axes = plt.subplots(4, 1, figsize=(10, 10), sharex=True)
    panels = [
        (axes[0], [("rss_mib", "VmRSS")], "RSS (MiB)"),
        (axes[1], [("fds", "open descriptors")], "descriptors"),
        (axes[2], [("healthz_max_ms", "max per sample"), ("healthz_p50_ms", "median per sample")],
         "GET /healthz (ms)\n(loop lag from outside)"),
        (axes[3], [("hook_202_per_s", "hook 202/s")], "hook req/s"),
    ]
    for ax, series, label in panels:
        for name, legend in series:
            ax.plot(minutes, col(name), label=legend, linewidth=1)
        ax.set_ylabel(label)
        ax.axvspan(0, warm, color="0.9", label="warm-up")
        ax.grid(True, linewidth=0.3)
    rss = [v for v, m in zip(col("rss_mib"), minutes) if m >= warm]
    if rss:  # the 5 % band the check allows, from the lowest sample after warm-up
        axes[0].axhspan(min(rss), min(rss) * 1.05, color="tab:green", alpha=0.15, label="min + 5 %")
        axes[0].set_ylim(0, max(col("rss_mib")) * 1.2)
    axes[1].set_ylim(0, max(col("fds")) * 1.3)
    axes[2].set_yscale("log")
    pg = [(a["t"] - t0) / 60 for a in actions if a["kind"] in ("pg_stop", "pg_start")]
    kills = [(a["t"] - t0) / 60 for a in actions if a["kind"] == "kill"]
    for ax in axes:
        if len(pg) == 2:
            ax.axvspan(pg[0], pg[1], color="tab:red", alpha=0.2, label="PostgreSQL down")
        for k in kills:
            ax.axvline(k, color="tab:orange", linewidth=0.5, alpha=0.5)
    load = axes[3].twinx()  # the machine is shared: its load beside the hook rate
    load.plot(minutes, col("load1"), color="tab:gray", linewidth=0.8, label="load average (1 min)")
    load.set_ylabel("load average")
    load.set_ylim(0, max(col("load1")) * 1.5)
    load.legend(loc="lower right", fontsize="small")
    axes[0].legend(loc="lower right", fontsize="small")
    axes[2].legend(loc="upper right", fontsize="small")
    axes[3].set_xlabel("minutes (orange lines: container kills)")
    fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    fig.savefig(out, dpi=90)


if __name__ == "__main__":
    main()
