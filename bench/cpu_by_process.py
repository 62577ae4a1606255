#!/usr/bin/env python3
"""Who used the host's cores over a stretch of a benchmark, and who waited.

    cpu_by_process.py snapshot FILE          # every process's CPU and wait so far
    cpu_by_process.py diff FILE SECONDS [N]  # since FILE, the N biggest users

A shared 2-core host at the normal policy: the daemon's loop waits for a
core whenever the load's own processes (drivers, engine, web server, Redis)
keep both busy. The fleet report names them, summed by command name, so a
missed latency goal says whose CPU it was (issue 15's "measured reason").
CPU is utime+stime of every thread (/proc/PID/stat); the wait is the
schedstat run delay of every thread. Processes that start and end between
the two snapshots are not seen.
"""
import json
import os
import sys

HZ = os.sysconf("SC_CLK_TCK")


def read_all():
    procs = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2:].split()
            ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
            wait_ns = 0
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    wait_ns += int(f.read().split()[1])
            start = fields[19]  # starttime: a reused pid is another process
            if comm.startswith("python"):  # name the script: driver, engine, sampler
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
                script = next((x for x in argv[1:] if x.endswith(b".py")), b"")
                comm = os.path.basename(script.decode()) or comm
        except (OSError, ValueError, IndexError):
            continue  # gone while read, or a kernel thread's oddity
        procs[f"{pid}:{start}"] = [comm, ticks, wait_ns]
    return procs


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "snapshot":
        with open(sys.argv[2], "w") as f:
            json.dump(read_all(), f)
        return
    if len(sys.argv) >= 4 and sys.argv[1] == "diff":
        with open(sys.argv[2]) as f:
            before = json.load(f)
        seconds = float(sys.argv[3])
        show = int(sys.argv[4]) if len(sys.argv) > 4 else 10
        by_comm = {}
        for key, (comm, ticks, wait_ns) in read_all().items():
            t0, w0 = before.get(key, [comm, 0, 0])[1:]
            used = by_comm.setdefault(comm, [0, 0, 0])
            used[0] += ticks - t0
            used[1] += wait_ns - w0
            used[2] += 1
        total = sum(u[0] for u in by_comm.values())
        top = sorted(by_comm.items(), key=lambda kv: -kv[1][0])[:show]
        cores = os.cpu_count()
        print(f"cpu by process over the load ({seconds:.0f} s, {cores} cores): all processes"
              f" {100 * total / HZ / seconds:.1f} % of a core;"
              f" by command (% of a core, waited for a core s, processes): "
              + "; ".join(f"{c} {100 * u[0] / HZ / seconds:.1f} % {u[1] / 1e9:.1f} s ×{u[2]}" for c, u in top))
        return
    sys.exit(__doc__)


if __name__ == "__main__":
    main()
