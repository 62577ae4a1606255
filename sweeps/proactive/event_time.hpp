// When an engine event happened, on our steady clock: pure, so the rule is
// unit-tested without an engine.
#pragma once

#include <algorithm>
#include <chrono>

namespace healthsweep::sweeps::proactive {

// The engine stamps each event with its wall clock; the event's age is that
// stamp against our wall clock now, placed on the steady clock. A step of
// the wall clock between the two (NTP, `date -s`, a skewed engine) would
// move the event by the whole step: an hour forwards made a `die` after a
// restart look older than the restart (and the state machine ignores such
// evidence during the startup grace), and its detection latency an hour.
// So the result is clamped to [earliest, now]: never in the future, never
// before the earliest moment the stream can have seen it (when we
// subscribed from "now", or the previous event: events come in order).
inline std::chrono::steady_clock::time_point event_observed_at(std::chrono::steady_clock::time_point now,
                                                               std::chrono::system_clock::time_point wall_now,
                                                               std::chrono::system_clock::time_point stamp,
                                                               std::chrono::steady_clock::time_point earliest) {
  const auto age = wall_now - stamp;
  if (age <= std::chrono::system_clock::duration::zero()) return now;
  const auto floor = std::min(earliest, now);
  // Compared as durations first: an absurd stamp (years off) must not
  // overflow the subtraction.
  if (age >= now - floor) return floor;
  return now - std::chrono::duration_cast<std::chrono::steady_clock::duration>(age);
}

}  // namespace healthsweep::sweeps::proactive
