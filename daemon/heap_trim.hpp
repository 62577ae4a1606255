// Giving freed heap back to the kernel (issue 15's memory goal). glibc
// returns memory on its own only from the top of a heap; a load of 100,000
// targets (the YAML tree, the specs handed from source to fleet, the wave of
// first verdicts queued for the store) leaves free holes below live blocks
// that stay resident: 54 MiB of a 235 MiB daemon at 100,000 targets
// (bench/bench_target_memory.sh, HS_BENCH_TRIM=1). malloc_trim(0) releases
// the free pages inside the heap too; it is called only when enough is free.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace healthsweep::daemon {

// How often the heap is looked at: rare enough to cost nothing (a trim,
// when due, took 0.7-1.3 ms at 100,000 targets, 2.9 ms after the load), soon
// enough that the startup load does not stay resident for long (at 30 s the
// fleet's first half-minute of load ran at its startup peak, 163 MiB) and
// that free pages brought back into RAM are handed back before many more
// follow (at 100,000 targets, 13 MiB every 30 s).
inline constexpr std::chrono::seconds heap_trim_every{10};

// Between two looks, a glance every second at the anonymous resident memory
// alone (one read of /proc/self/statm): a look at once when it grew by
// HeapTrimPolicy::min_growth. A fleet's proactive sweep (every 15 s) brings
// 13 MiB of free pages back into RAM and frees them within the sweep; with
// looks alone they stayed resident up to 10 s, a third of the time (issue 15,
// bench/results/issue15-fleet-00e38b1-redis-latency-2026-12-05-samples.csv).
inline constexpr std::chrono::seconds heap_glance_every{1};

// The startup's looks, 1 s, 2 s, 4 s and 8 s after the start: its load is
// freed within seconds (the YAML tree, the first specs); waiting the full
// period left a fleet of 100,000 targets at its startup level, 163 MiB,
// through its first 10 s. Glances follow.
inline constexpr unsigned heap_startup_looks = 4;

// The wait before look or glance number `n` (0, 1, ...): the startup's
// looks, then heap_glance_every.
constexpr std::chrono::seconds heap_trim_wait(unsigned n) {
  return n >= heap_startup_looks ? heap_glance_every
                                 : std::min(std::chrono::seconds{std::int64_t{1} << n}, heap_trim_every);
}

struct HeapUse {
  std::size_t in_use = 0;    // bytes handed out by malloc
  std::size_t free = 0;      // bytes malloc holds free (inside its heaps)
  std::size_t resident = 0;  // anonymous memory resident in RAM (0: unknown)
};

// When a malloc_trim(0) is worth it; two reasons.
// - More became free: freed chunks stay in malloc's free lists after a trim
//   (only their pages go back), so the free count does not fall; what is
//   judged is how much more became free since the last trim (or since the
//   lowest free count seen after it): at least 8 MiB and at least an eighth
//   of what is in use (a steady daemon churns a few MiB; that is left alone).
// - Free pages became resident again: a trimmed chunk's pages come back as
//   soon as a short-lived block lands in it, so the fleet's sweeps and hook
//   requests, landing all over the heap, brought 12-17 MiB of free memory
//   back into RAM within a minute of the startup's trim (issue 15,
//   bench/fleet.sh FLEET_HEAP=1). What is judged is the resident memory
//   beyond what is in use: trimmed once it is 8 MiB over what it was after
//   the last trim (or when first seen). Growth in use (more targets) is not
//   counted; nor is a daemon whose heap is small.
enum class TrimReason { none, more_free, resident_again };

class HeapTrimPolicy {
 public:
  static constexpr std::size_t min_growth = std::size_t{8} << 20;

  TrimReason should_trim(const HeapUse& use) {
    last_resident_ = use.resident;
    if (use.free < baseline_free_) baseline_free_ = use.free;
    const auto grown = use.free - baseline_free_;
    const auto slack = resident_slack(use);
    if (!slack_after_trim_) slack_after_trim_ = slack;
    const bool more_free = grown >= min_growth && grown >= use.in_use / 8;
    const bool resident_again = slack >= *slack_after_trim_ + min_growth;
    if (!more_free && !resident_again) return TrimReason::none;
    baseline_free_ = use.free;
    return more_free ? TrimReason::more_free : TrimReason::resident_again;
  }
  // What a trim left resident (`use` measured after it): the new baseline.
  void trimmed(const HeapUse& use) {
    slack_after_trim_ = resident_slack(use);
    last_resident_ = use.resident;
  }
  // A glance between looks: whether the anonymous resident memory grew by
  // min_growth since the last look (or trim) saw it, so that a look is due.
  bool worth_a_look(std::size_t resident) const { return resident >= last_resident_ + min_growth; }

 private:
  static std::size_t resident_slack(const HeapUse& use) {
    return use.resident > use.in_use ? use.resident - use.in_use : 0;
  }
  std::size_t baseline_free_ = 0;
  std::optional<std::size_t> slack_after_trim_;
  std::size_t last_resident_ = 0;
};

// glibc keeps small freed chunks in "fastbins" and merges them all in one go
// (malloc_consolidate) when a large block is asked for or freed. After a
// sweep has freed the ~100,000 small strings of an 11,200-container list,
// that one merge held the event loop 12-24 ms inside whatever allocated
// next (issue 15: bench/long_turns.py --handlers named malloc_consolidate
// in most of the sweep's long handlers). Without fastbins (mallopt
// M_MXFAST 0) each free merges its own neighbours at once: the same work,
// spread out; the per-thread tcache still serves the hot small sizes.
// Called once, first thing in main; false if glibc refused it.
bool heap_without_fastbins();

// Blocks of 256 KiB or more each get a mapping of their own, handed back to
// the kernel when freed. glibc starts there too, but raises the threshold to
// the largest mapped block ever freed (up to 32 MiB): after the first sweep
// its big arrays (the list's 11,200 summaries, the 20,000-spec snapshot, the
// probe results) came from the heap, between long-lived blocks, and their
// pages stayed resident. Fixed at 256 KiB, the fleet's RSS peaked at 163
// instead of 180 MiB, for the same CPU (issue 15,
// bench/results/issue15-fleet-f29fa18-mmap-256k-2026-12-05.txt).
// Called once, first thing in main; false if glibc refused it.
bool heap_maps_large_blocks();

// mallinfo2() of this process (every arena), and its anonymous resident
// memory (/proc/self/statm: resident minus file-backed and shared pages).
HeapUse heap_use();
// Only the latter (one read of /proc/self/statm; 0 when unreadable).
std::size_t resident_anonymous();
// malloc_trim(0); true when memory was released.
bool trim_heap();

}  // namespace healthsweep::daemon
