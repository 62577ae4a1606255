#!/usr/bin/env python3
"""Where the daemon's loop thread spent its CPU, from a fleet run's profile.

    python3 bench/loop_profile.py OUT/perf-script.txt.gz [TOP]

Reads `perf script -F tid,time,ip,sym` with call chains (bench/fleet.sh,
FLEET_PERF) and prints, as shares of all samples:
  - how many samples ended in the kernel (the leaf frame's address);
  - the innermost healthsweep:: frame of each sample (self time of our
    code, with the library and kernel frames under it folded in);
  - each healthsweep:: function's inclusive share (on the stack at all);
  - the leaf functions;
  - the system calls the kernel's samples were in (the handler under
    do_syscall_64: on loopback a send also does the peer's receive and
    wakes it, so __sys_sendmsg carries the peers' wake-ups).
Templates and argument lists are cut from the names so that one function
is one line. Two runs' outputs side by side tell whether the same work got
dearer (same shares, more CPU) or other work appeared (other shares).
"""
import collections
import gzip
import re
import sys

from long_turns import stacks  # the perf script reader of the long-turn report


def short(sym):
    sym = re.sub(r"<.*", "", sym)
    return re.sub(r"\(.*", "", sym)[:110]


def syscall_of(symbols):
    """The system call a kernel sample was in: the handler under do_syscall_64."""
    if "do_syscall_64" not in symbols:
        return "(not in a system call: " + short(symbols[-1])[:40] + ")"
    at = symbols.index("do_syscall_64")
    handler = symbols[at - 1] if at > 0 else "(do_syscall_64)"
    if handler == "x64_sys_call" and at > 1:
        handler = symbols[at - 2]
    return handler


def main():
    path = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    leaf, ours, incl = collections.Counter(), collections.Counter(), collections.Counter()
    calls = collections.Counter()
    samples = kernel = 0
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", errors="replace") as f:
        for _, frames in stacks(f):
            if not frames:
                continue
            samples += 1
            symbols = [sym for _, sym in frames]
            leaf[short(symbols[0])] += 1
            first, seen = None, set()
            for sym in symbols:
                s = short(sym)
                if first is None and "healthsweep::" in s:
                    first = s
                if s not in seen:
                    incl[s] += 1
                    seen.add(s)
            ours[first or "(no healthsweep frame)"] += 1
            if frames[0][0].startswith("ffffffff"):
                kernel += 1
                calls[syscall_of(symbols)] += 1
    if not samples:
        sys.exit("loop_profile: no samples in " + path)
    pct = lambda v: 100.0 * v / samples
    print(f"samples {samples}; the leaf in the kernel: {kernel} ({pct(kernel):.1f} %)")
    print("--- innermost healthsweep:: frame (self, libraries and kernel below it folded in)")
    for k, v in ours.most_common(top):
        print(f"{pct(v):6.2f} %  {k}")
    print("--- inclusive, healthsweep:: functions")
    for k, v in [kv for kv in incl.most_common() if "healthsweep::" in kv[0]][:top]:
        print(f"{pct(v):6.2f} %  {k}")
    print("--- leaf functions")
    for k, v in leaf.most_common(top):
        print(f"{pct(v):6.2f} %  {k}")
    print("--- system calls of the samples that ended in the kernel")
    for k, v in calls.most_common(top):
        print(f"{pct(v):6.2f} %  {k}")


if __name__ == "__main__":
    main()
