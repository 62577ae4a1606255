#!/usr/bin/env python3
"""The start-up's second memory peak, from 5 ms RSS traces of the daemon.

Each trace has lines "unix_time seconds_since_found vmrss_kB vmhwm_kB" (the
daemon's /proc status read every ~5 ms from its start). The config's load
makes the first peak, within 2 s; the engine's first list (11,200 containers
in bench/fleet.sh) makes the next: the moment VmHWM passes the first peak by
1 MiB. Printed per trace: that moment, the RSS in the half second before it,
the VmHWM within a second after it, and the VmHWM over the whole trace.

Usage: bench/listrise.py TRACE...
"""
import sys


def main():
    for path in sys.argv[1:]:
        rows = [tuple(map(float, l.split()[1:4])) for l in open(path) if not l.startswith("#") and len(l.split()) == 4]
        name = path.split("/")[-1]
        if not rows:
            print(f"{name}: empty")
            continue
        first_peak = max(h for t, _, h in rows if t < 2.0)
        jump = next(((t, h) for t, _, h in rows if t > 2.0 and h > first_peak + 1024), None)
        if not jump:
            print(f"{name}: no second peak; VmHWM {max(h for _, _, h in rows) / 1024:.1f}")
            continue
        at = jump[0]
        before = max(r for t, r, _ in rows if at - 0.5 <= t < at - 0.05)
        after = max(h for t, _, h in rows if t < at + 1.0)
        print(f"{name}: config peak {first_peak / 1024:.1f}, list at {at:.2f} s, RSS before {before / 1024:.1f}, "
              f"HWM after {after / 1024:.1f} (+{(after - before) / 1024:.1f}), trace HWM {max(h for _, _, h in rows) / 1024:.1f}")


if __name__ == "__main__":
    main()
