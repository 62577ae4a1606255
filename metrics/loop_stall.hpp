// How long the event loop was held, as the loop-stall probe samples it: a
// timer asks to wake every `period`; a wake that runs late by L says the loop
// was busy with something else for L. Each due wake is one sample of "how
// long would work arriving now wait", so the samples are spread evenly over
// time (time-weighted), not over handlers.
//
// Without correction a 50 ms stall would count once, like a 0.1 ms one: the
// wakes due during it never ran on time and are never seen (coordinated
// omission). The sampler therefore records every wake that fell due while
// the loop was held, each with the wait it would have seen: L, L - period,
// L - 2 * period, ... Pure: the caller passes the times in.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace healthsweep::metrics {

class StallSampler {
 public:
  using Clock = std::chrono::steady_clock;

  explicit StallSampler(Clock::duration period) : period_(std::max(period, Clock::duration(1))) {}

  // A wake due at `due` ran at `woke`: calls record(seconds) once per wake
  // that fell due meanwhile (at most `max_samples`, so a suspended process
  // does not flood the histogram) and returns when the next wake is due.
  template <class Record>
  Clock::time_point observe(Clock::time_point due, Clock::time_point woke, Record&& record) {
    const auto late = std::max(woke - due, Clock::duration::zero());
    longest_ = std::max(longest_, late);
    auto t = due;
    for (std::uint32_t n = 0; t <= woke && n < max_samples; ++n, t += period_)
      record(std::chrono::duration<double>(woke - t).count());
    // The first due time after `woke`, also when the cap cut the samples short.
    if (t <= woke) t += ((woke - t) / period_ + 1) * period_;
    return t;
  }

  // The longest single stall seen so far.
  Clock::duration longest() const { return longest_; }
  Clock::duration period() const { return period_; }

  static constexpr std::uint32_t max_samples = 100'000;

 private:
  Clock::duration period_;
  Clock::duration longest_{};
};

}  // namespace healthsweep::metrics
