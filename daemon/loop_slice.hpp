// The event loop's thread asks the kernel for short time slices (issue 15:
// the verdicts' tails at the normal scheduling policy, on a busy host).
//
// Linux 6.6 and later schedule normal threads by EEVDF, and take a thread's
// sched_attr::sched_runtime as the length of the slices it asks for (0.1 to
// 100 ms; the default here is 0.7 ms × (1 + log2 of the cores), 1.4 ms on 2).
// Since 6.12 a thread that asks for shorter slices than the running one
// preempts it on waking, where it used to wait for that slice to end. The
// loop's work comes in short bursts (a reply, a timer, a request) and each
// burst is a verdict waiting, so the loop asks for the shortest. It gets no
// larger share of the CPU for it (the weight is still its nice value's) and
// the call needs no privilege. Kernels before 6.6 have no slices to ask for
// (a refusal is logged once; the loop runs as before).
//
// A thread under another policy (SCHED_FIFO from the unit's realtime.conf
// drop-in, or batch/idle) is left as it is: asking would put it back under
// the normal policy. Threads
// inherit the slice: the ones started before the loop runs (the log's, the
// spool's fsync) keep the default; the loop's later ones (the engine list's
// parse thread) work in bursts of about a millisecond too, and share it.
#pragma once

#include <chrono>
#include <system_error>

namespace healthsweep::daemon {

inline constexpr std::chrono::nanoseconds loop_slice = std::chrono::microseconds{100};

struct SliceChange {
  bool normal_policy = false;           // false: another policy (real-time), left alone
  std::chrono::nanoseconds before{0};   // the slice it had (0: the kernel does not say)
  std::chrono::nanoseconds after{0};    // the slice it has now
};

// Asks for `slice` as the calling thread's, keeping its policy, nice value
// and reset-on-fork flag. The error is sched_getattr's or sched_setattr's.
std::error_code request_slice(std::chrono::nanoseconds slice, SliceChange& change);

}  // namespace healthsweep::daemon
