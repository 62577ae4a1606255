#include <gtest/gtest.h>

#include "daemon/log_limit.hpp"

using healthsweep::daemon::LogEverySecond;
using namespace std::chrono_literals;

TEST(LogEverySecond, OneLineASecondWithTheCountOfTheRest) {
  LogEverySecond limit;
  const auto t0 = LogEverySecond::clock::time_point{} + 100s;
  std::size_t suppressed = 99;
  EXPECT_TRUE(limit.allow(t0, suppressed));
  EXPECT_EQ(suppressed, 0u);
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(limit.allow(t0 + 10ms * i, suppressed));
  EXPECT_FALSE(limit.allow(t0 + 999ms, suppressed));
  EXPECT_TRUE(limit.allow(t0 + 1s, suppressed));
  EXPECT_EQ(suppressed, 51u);
  EXPECT_FALSE(limit.allow(t0 + 1500ms, suppressed));
  EXPECT_TRUE(limit.allow(t0 + 10s, suppressed));
  EXPECT_EQ(suppressed, 1u);
}
