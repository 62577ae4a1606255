#!/usr/bin/env python3
"""Where in the proactive sweep's cycle the slowest verdicts of a bench/fleet.sh
run fell: for each layer (passive lapses, kills, hook samples) the ten slowest
verdicts as (ms, phase), phase = seconds after the first hook sample's post,
modulo the sweep interval (15 s in fleet.sh). Tails clustered in one band of
phases belong to something periodic (the sweep), not to random load.

  bench/fleet_phases.py OUT_DIR [INTERVAL_S]     (OUT_DIR: fleet.sh's FLEET_OUT)
"""
import json
import os
import sys


def jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    d = sys.argv[1]
    interval = float(sys.argv[2]) if len(sys.argv) > 2 else 15.0
    offline = {}  # target -> times of its offline verdicts (events.tsv: target from to layer reason at)
    with open(os.path.join(d, "events.tsv")) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) >= 6 and p[2] == "offline":
                offline.setdefault(p[0], []).append(float(p[5]))
    hooks = jsonl(os.path.join(d, "hooks.jsonl"))
    t0 = hooks[0]["t_post"]

    def slowest(rows, key):
        out = []
        for x in rows:
            after = [t for t in offline.get(x["target"], []) if t >= x[key] - 1]
            if after:
                out.append((round((after[0] - x[key]) * 1000, 1), round((x[key] - t0) % interval, 1)))
        return sorted(out, reverse=True)[:10]

    print("passive", slowest(jsonl(os.path.join(d, "lapses.jsonl")), "deadline"))
    print("kill", slowest(jsonl(os.path.join(d, "kills.jsonl")), "t_kill"))
    print("hook", slowest(hooks, "t_post"))


if __name__ == "__main__":
    main()
