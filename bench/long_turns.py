#!/usr/bin/env python3
"""Which code holds the event loop in one stretch: the long turns in a perf profile.

    perf record -F 499 --call-graph dwarf -t <loop thread> -o perf.data -- sleep 60
    perf script -i perf.data -F tid,time,ip,sym | bench/long_turns.py [--hz 499] [--min-ms 8] [--timeline]

    # the handlers themselves: the daemon at log level debug logs each handler
    # of 5 ms or more with its start on the monotonic clock; record with -k mono
    perf record -k mono -F 999 --call-graph dwarf -t <loop thread> -o perf.data -- sleep 60
    perf script -i perf.data -F tid,time,ip,sym | bench/long_turns.py --hz 999 --handlers healthsweepd.log

perf samples a thread only while it runs on a CPU, so back-to-back samples
(no gap longer than 1.5 sampling periods) are one stretch in which the loop
never waited: a stall for every timer and socket behind it. For each stretch
of at least --min-ms this prints its length and the healthsweep frames its
samples were in, then totals the stretches by their dominant frame, so the
handler to cut is named by measurement, not by guess. A stretch is not one
handler: a loop that never waits may run thousands in a row (the daemon's
healthsweep_event_loop_handler_seconds tells those apart). --timeline adds
the loop's busy share per half second with the samples in each layer's code,
which shows what the busy stretches line up with.
"""
import argparse
import collections
import re
import sys

# What each timeline column counts: samples with a healthsweep frame containing the key.
TIMELINE_KEYS = (("list", "list_containers"), ("sweep", "Impl::sweep"), ("arm", "arm_"),
                 ("probe", "clients::http::"), ("hook", "HttpServer"), ("inspect", "clients::engine"),
                 ("redis", "clients::redis"), ("passive", "sweeps::passive"))
HEADER = re.compile(r"^\s*(\d+)\s+(\d+\.\d+):\s*$")
FRAME = re.compile(r"^\s+([0-9a-f]+)\s+(.*)$")


def stacks(lines):
    """Yields (time, [(address, symbol) innermost first]) per sample of
    `perf script -F tid,time,ip,sym` (bench/loop_profile.py reads the
    addresses: a kernel frame's starts with ffffffff)."""
    time, frames = None, []
    for line in lines:
        m = HEADER.match(line)
        if m:
            if time is not None:
                yield time, frames
            time, frames = float(m.group(2)), []
            continue
        f = FRAME.match(line)
        if f and time is not None:
            frames.append((f.group(1), f.group(2).strip()))
    if time is not None:
        yield time, frames


def samples(lines):
    """Yields (time, [frames innermost first]) per sample."""
    for time, frames in stacks(lines):
        yield time, [symbol for _, symbol in frames]


def ours(frames):
    """The healthsweep frames of one stack, innermost first, templates cut short."""
    out = []
    for f in frames:
        if "healthsweep::" not in f:
            continue
        f = re.sub(r"\(.*", "", f)  # drop the argument list
        f = re.sub(r"<[^<>]*(<[^<>]*>[^<>]*)*>", "<>", f)
        out.append(f[:110])
    return out


LONG_LINE = re.compile(r"held the loop ([0-9.]+) ms \(began at monotonic (\d+) ns\)")


def turn_of(frames):
    """The handler's own code: the outermost healthsweep frame below App::run
    (App::run itself when the unwind reached it: dwarf stacks are cut at 8 KiB)."""
    mine = ours(frames)
    if not mine:
        return "(no healthsweep frame: " + (frames[0][:60] if frames else "?") + ")"
    turn = mine[:-1] if len(mine) >= 2 and "App::run" in mine[-1] else mine
    return turn[-1]


def attribute_handlers(args, period, all_samples):
    """Each long handler the daemon logged, with the samples taken inside it:
    samples x period against its length is the share it ran on a CPU (the
    rest: the thread descheduled or blocked), and its frames say what it was."""
    import bisect
    times = [t for t, _ in all_samples]
    longs = []
    for line in open(args.handlers, errors="replace"):
        m = LONG_LINE.search(line)
        if m:
            begun = int(m.group(2)) / 1e9
            longs.append((begun, float(m.group(1)) / 1000))
    inside = [h for h in longs if times and times[0] <= h[0] <= times[-1]]
    print(f"\n# {len(longs)} long handlers in the log, {len(inside)} inside the profile")
    totals = collections.defaultdict(lambda: [0, 0.0, 0.0, 0])
    for begun, held in sorted(inside, key=lambda h: -h[1]):
        lo = bisect.bisect_left(times, begun)
        hi = bisect.bisect_right(times, begun + held)
        turns = collections.Counter(turn_of(all_samples[i][1]) for i in range(lo, hi))
        # innermost: the first healthsweep frame and the first frame of all
        inner = collections.Counter()
        for i in range(lo, hi):
            frames = all_samples[i][1]
            mine = ours(frames)
            inner[(mine[0] if mine else "-") + " / " + (frames[0][:50] if frames else "?")] += 1
        on_cpu = min(1.0, (hi - lo) * period / held)
        top = turns.most_common(1)[0][0] if turns else "(no sample: off the CPU)"
        t = totals[top]
        t[0] += 1
        t[1] += held * 1000
        t[2] = max(t[2], held * 1000)
        t[3] += hi - lo
        if args.show > 0:
            args.show -= 1
            print(f"  {held * 1000:6.1f} ms at {begun:.3f}: {hi - lo} samples, on a CPU ~{100 * on_cpu:.0f} %; "
                  + ", ".join(f"{k} ×{v}" for k, v in turns.most_common(3)))
            print("      inside: " + ", ".join(f"{k} ×{v}" for k, v in inner.most_common(4)))
    print("# long handlers by what they were (count, total ms, longest ms, share of their time on a CPU):")
    for top, (n, total, longest, nsamples) in sorted(totals.items(), key=lambda kv: -kv[1][1]):
        print(f"{n:5d} {total:9.1f} {longest:7.1f} {100 * min(1.0, nsamples * period * 1000 / total):4.0f} %  {top}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hz", type=float, default=499.0)
    ap.add_argument("--min-ms", type=float, default=8.0)
    ap.add_argument("--show", type=int, default=25, help="stretches printed in full")
    ap.add_argument("--timeline", action="store_true", help="busy share and layer samples per 0.5 s")
    ap.add_argument("--handlers", help="the daemon's log (debug): attribute samples to each long handler")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="also the N frames with the most samples: innermost (self), and healthsweep's (inclusive)")
    args = ap.parse_args()
    period = 1.0 / args.hz

    stretches, cur = [], []
    last = None
    total_samples = 0
    bins = collections.defaultdict(collections.Counter)
    all_samples = [] if args.handlers else None
    self_frames, our_frames = collections.Counter(), collections.Counter()
    for t, frames in samples(sys.stdin):
        if all_samples is not None:
            all_samples.append((t, frames))
        total_samples += 1
        if args.profile:
            self_frames[re.sub(r"\(.*", "", frames[0])[:110] if frames else "?"] += 1
            our_frames.update(set(ours(frames)))
        if args.timeline:
            joined = " ".join(ours(frames))
            b = bins[int(t * 2)]
            b["all"] += 1
            for name, key in TIMELINE_KEYS:
                if key in joined:
                    b[name] += 1
        if last is not None and t - last > 1.5 * period:
            stretches.append(cur)
            cur = []
        cur.append((t, frames))
        last = t
    if cur:
        stretches.append(cur)

    def length_ms(s):
        return (s[-1][0] - s[0][0] + period) * 1000.0

    long_ones = [s for s in stretches if length_ms(s) >= args.min_ms]
    span = (stretches[-1][-1][0] - stretches[0][0][0]) if stretches else 0.0
    print(f"# {total_samples} samples over {span:.1f} s at {args.hz:g} Hz; "
          f"{len(stretches)} stretches; {len(long_ones)} of at least {args.min_ms:g} ms")
    hist = collections.Counter()
    for s in stretches:
        ms = length_ms(s)
        for edge in (2, 5, 10, 20, 50, 100, 1e9):
            if ms <= edge:
                hist[edge] += ms
                break
    busy = sum(hist.values())
    print("# loop time on CPU by the length of the stretch it was in:")
    for edge in sorted(hist):
        label = f"<= {edge:g} ms" if edge < 1e9 else "> 100 ms"
        print(f"#   {label:>10}: {hist[edge]:9.1f} ms ({100 * hist[edge] / busy:5.1f} %)")

    by_top = collections.defaultdict(lambda: [0, 0.0, 0.0])
    long_ones.sort(key=length_ms, reverse=True)
    for i, s in enumerate(long_ones):
        inner = collections.Counter()
        outer = collections.Counter()
        for _, frames in s:
            mine = ours(frames)
            if mine:
                inner[mine[0]] += 1
                outer[turn_of(frames)] += 1
            else:
                inner["(no healthsweep frame: " + (frames[0][:60] if frames else "?") + ")"] += 1
        top = outer.most_common(1)[0][0] if outer else "?"
        entry = by_top[top]
        entry[0] += 1
        entry[1] += length_ms(s)
        entry[2] = max(entry[2], length_ms(s))
        if i < args.show:
            print(f"\n## {length_ms(s):.1f} ms at {s[0][0]:.3f} ({len(s)} samples)")
            print("   turn (outermost):", ", ".join(f"{k} ×{v}" for k, v in outer.most_common(3)))
            print("   inside (innermost):", ", ".join(f"{k} ×{v}" for k, v in inner.most_common(4)))
    print("\n# long stretches by what the turn was (count, total ms, longest ms):")
    for top, (n, total, longest) in sorted(by_top.items(), key=lambda kv: -kv[1][1]):
        print(f"{n:5d} {total:9.1f} {longest:7.1f}  {top}")
    if args.handlers:
        attribute_handlers(args, period, all_samples)
    if args.profile and total_samples:
        print(f"\n# the {args.profile} innermost frames with the most samples (self), of {total_samples}:")
        for frame, n in self_frames.most_common(args.profile):
            print(f"{100 * n / total_samples:6.1f} %  {frame}")
        print(f"\n# the {args.profile} healthsweep frames with the most samples (inclusive):")
        for frame, n in our_frames.most_common(args.profile):
            print(f"{100 * n / total_samples:6.1f} %  {frame}")
    if args.timeline and bins:
        first = min(bins)
        print("\n# per 0.5 s: the loop's busy share, and its samples in each layer's code")
        for b in sorted(bins):
            c = bins[b]
            busy = 100.0 * c["all"] / (args.hz / 2)
            print(f"{(b - first) / 2:6.1f} s busy {busy:4.0f} % " + " ".join(f"{k}={c[k]}" for k, _ in TIMELINE_KEYS))


if __name__ == "__main__":
    main()
