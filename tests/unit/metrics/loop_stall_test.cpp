#include "metrics/loop_stall.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace healthsweep::metrics {
namespace {

using namespace std::chrono_literals;
using Clock = StallSampler::Clock;

struct Run {
  std::vector<double> samples;
  Clock::time_point next;
};

Run observe(StallSampler& s, Clock::time_point due, Clock::time_point woke) {
  Run r;
  r.next = s.observe(due, woke, [&](double v) { r.samples.push_back(v); });
  return r;
}

TEST(StallSampler, AWakeOnTimeIsOneSampleOfZeroAndTheNextIsOnePeriodLater) {
  StallSampler s(10ms);
  const Clock::time_point t0{1s};
  auto r = observe(s, t0, t0);
  ASSERT_EQ(r.samples.size(), 1u);
  EXPECT_EQ(r.samples[0], 0.0);
  EXPECT_EQ(r.next, t0 + 10ms);
  EXPECT_EQ(s.longest(), 0ms);
}

TEST(StallSampler, ALongStallCountsEveryWakeThatFellDueDuringIt) {
  StallSampler s(10ms);
  const Clock::time_point t0{1s};
  // Held 35 ms: the wakes due at +0, +10, +20 and +30 ms all waited.
  auto r = observe(s, t0, t0 + 35ms);
  ASSERT_EQ(r.samples.size(), 4u);
  EXPECT_DOUBLE_EQ(r.samples[0], 0.035);
  EXPECT_DOUBLE_EQ(r.samples[1], 0.025);
  EXPECT_DOUBLE_EQ(r.samples[2], 0.015);
  EXPECT_DOUBLE_EQ(r.samples[3], 0.005);
  EXPECT_EQ(r.next, t0 + 40ms);  // fixed rate: the schedule does not drift
  EXPECT_EQ(s.longest(), 35ms);
}

TEST(StallSampler, TheLongestStallIsKeptAcrossShorterOnes) {
  StallSampler s(10ms);
  const Clock::time_point t0{1s};
  auto next = observe(s, t0, t0 + 3ms).next;
  next = observe(s, next, next + 1ms).next;
  EXPECT_EQ(s.longest(), 3ms);
  EXPECT_EQ(next, t0 + 20ms);
}

TEST(StallSampler, ASuspendedProcessIsCappedAndResumesOnTheSchedule) {
  StallSampler s(1ms);
  const Clock::time_point t0{1s};
  std::size_t count = 0;
  const auto woke = t0 + 1000s;  // a million periods
  const auto next = s.observe(t0, woke, [&](double) { ++count; });
  EXPECT_EQ(count, StallSampler::max_samples);
  EXPECT_GT(next, woke);
  EXPECT_LE(next, woke + 1ms);
  EXPECT_EQ((next - t0) % 1ms, Clock::duration::zero());
}

TEST(StallSampler, AWakeThatRanEarlyCountsAsOnTime) {
  StallSampler s(10ms);
  const Clock::time_point t0{1s};
  auto r = observe(s, t0, t0 - 1ms);
  EXPECT_TRUE(r.samples.empty());
  EXPECT_EQ(r.next, t0);
  EXPECT_EQ(s.longest(), 0ms);
}

}  // namespace
}  // namespace healthsweep::metrics
