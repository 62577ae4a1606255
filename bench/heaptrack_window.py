#!/usr/bin/env python3
"""What grew on the heap between two moments of a heaptrack recording.

heaptrack_print reports the peak and the leaks of a whole run; it cannot say
what was allocated around one moment (issue 15: the RSS rising by 20 MiB
within 80 ms when the engine's first list arrives, 5 s after the start). This
reads heaptrack's own interpreted trace (the file `heaptrack -o X` writes,
decompressed: `zstd -dc X.zst > X.txt`) and prints, per allocation site, the
bytes live at T2 minus those live at T1, and with a third time T3 what of
that was freed again by T3.

Usage: bench/heaptrack_window.py TRACE.txt T1,T2[,T3]   (seconds since start)

The trace's lines used (heaptrack file format v3, numbers in hex):
  s LEN TEXT       a string (function names, files)
  i IP MODULE FN…  an instruction pointer; FN indexes the strings
  t IP PARENT      a trace node: an instruction pointer and its caller's node
  a SIZE TRACE     an allocation kind: its size and its trace
  + KIND / - KIND  one allocation / one free of that kind
  c MS             the time
"""
import collections
import sys

# Frames that say nothing of who allocated: the allocator and the library's
# own containers. The first few others are printed.
SKIP = ("operator new", "malloc", "std::", "__gnu_cxx", "void std::", "boost::json::detail", "realloc", "calloc")


def read(path, times):
    strings, ips, traces, kinds = [""], [None], [None], []
    live = collections.Counter()  # allocation kind -> allocations live
    snaps = {}
    pending = sorted(times)
    with open(path) as f:
        for line in f:
            tag = line[0]
            if tag == "+":
                live[int(line[2:], 16)] += 1
            elif tag == "-":
                live[int(line[2:], 16)] -= 1
            elif tag == "c":
                now = int(line[2:], 16) / 1000.0
                while pending and now >= pending[0]:
                    snaps[pending.pop(0)] = collections.Counter(live)
            elif tag == "a":
                p = line.split()
                kinds.append((int(p[1], 16), int(p[2], 16)))
            elif tag == "t":
                p = line.split()
                traces.append((int(p[1], 16), int(p[2], 16)))
            elif tag == "i":
                p = line.split()
                ips.append(int(p[3], 16) if len(p) > 3 else 0)
            elif tag == "s":
                strings.append(line.rstrip("\n").split(" ", 2)[2] if line.count(" ") >= 2 else "")
    return strings, ips, traces, kinds, snaps


def site(strings, ips, traces, trace, frames=7):
    names = []
    while trace and len(names) < 40:
        ip, parent = traces[trace]
        names.append(strings[ips[ip]] if ips[ip] < len(strings) else "?")
        trace = parent
    kept = [n for n in names if not n.startswith(SKIP)][:frames]
    return " <- ".join(n[:90] for n in kept)


def main():
    path, times = sys.argv[1], [float(x) for x in sys.argv[2].split(",")]
    strings, ips, traces, kinds, snaps = read(path, times)
    missing = [t for t in times if t not in snaps]
    if missing:
        sys.exit(f"heaptrack_window: the recording ends before {missing}")

    def bytes_by_trace(counts):
        out = collections.Counter()
        for kind, n in counts.items():
            if n:
                out[kinds[kind][1]] += n * kinds[kind][0]
        return out

    by_time = {t: bytes_by_trace(snaps[t]) for t in times}
    for t in times:
        print(t, "total MiB", round(sum(by_time[t].values()) / 1048576, 1))

    def report(title, later, earlier, rows):
        diff = collections.Counter(by_time[later])
        diff.subtract(by_time[earlier])
        by_site = collections.Counter()
        for trace, n in diff.items():
            by_site[site(strings, ips, traces, trace)] += n
        print(f"\n== {title}")
        for name, n in by_site.most_common(rows):
            print(f"{n / 1048576:8.2f} MiB  {name}")

    report(f"growth {times[0]}->{times[1]}", times[1], times[0], 25)
    if len(times) > 2:
        report(f"released {times[1]}->{times[2]}", times[1], times[2], 15)


if __name__ == "__main__":
    main()
