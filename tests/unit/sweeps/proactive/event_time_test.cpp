#include "sweeps/proactive/event_time.hpp"

#include <gtest/gtest.h>

using namespace healthsweep::sweeps::proactive;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using wall = std::chrono::system_clock;

namespace {
const steady::time_point now = steady::time_point(100h);
const wall::time_point wall_now = wall::time_point(1'800'000'000s);
const steady::time_point subscribed = now - 10min;  // the stream's earliest
}  // namespace

TEST(EventObservedAt, AnEventIsPlacedByItsAgeOnTheSteadyClock) {
  EXPECT_EQ(event_observed_at(now, wall_now, wall_now - 250ms, subscribed), now - 250ms);
  EXPECT_EQ(event_observed_at(now, wall_now, wall_now, subscribed), now);
}

TEST(EventObservedAt, AStampInTheFutureCountsAsNow) {
  // Our wall clock stepped back an hour after the engine stamped the event.
  EXPECT_EQ(event_observed_at(now, wall_now - 1h, wall_now, subscribed), now);
}

TEST(EventObservedAt, AForwardStepOfOurWallClockCannotPlaceTheEventBeforeTheStreamCouldHaveSeenIt) {
  // The engine stamped it a second ago; our wall clock has since stepped an
  // hour forwards: the age reads 1 h + 1 s, but the stream began 10 min ago.
  EXPECT_EQ(event_observed_at(now, wall_now + 1h, wall_now - 1s, subscribed), subscribed);
  // After an earlier event (the floor moves up with every event).
  const auto previous = now - 2s;
  EXPECT_EQ(event_observed_at(now, wall_now + 1h, wall_now - 1s, previous), previous);
}

TEST(EventObservedAt, AnAbsurdStampIsBoundedToo) {
  EXPECT_EQ(event_observed_at(now, wall_now, wall::time_point(0s), subscribed), subscribed);
  // A floor after now (never, but cheap to hold) is not the future.
  EXPECT_EQ(event_observed_at(now, wall_now, wall_now - 1s, now + 1h), now);
}
