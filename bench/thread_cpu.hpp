// CPU time of the calling thread, for benchmarks that run on a shared,
// noisy machine: time spent descheduled is not the measured code's cost.
#pragma once

#include <time.h>

#include <algorithm>
#include <cstddef>
#include <vector>

namespace healthsweep::bench {

inline double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The median of `rounds` calls of f, each in this thread's CPU seconds.
template <class F>
double median_thread_cpu_seconds(int rounds, F&& f) {
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(rounds));
  for (int i = 0; i < rounds; ++i) {
    const double start = thread_cpu_seconds();
    f();
    samples.push_back(thread_cpu_seconds() - start);
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

}  // namespace healthsweep::bench
