// The batch statement's parameters: array literals that survive quotes,
// backslashes, commas and braces in a reason; and batches that end before a
// target's second event (PostgreSQL merges identical NOTIFYs of one
// transaction).
#include "store/event_batch.hpp"

#include <gtest/gtest.h>

namespace healthsweep::store {
namespace {

Event event_for(std::string target) {
  Event e;
  e.target = std::move(target);
  return e;
}
QueuedEvent for_target(std::string target) { return QueuedEvent(event_for(std::move(target))); }

TEST(EventBatch, ArrayElementsAreQuotedAndEscaped) {
  std::string a;
  append_array_element(a, R"(say "hi", {x} \ y)");
  append_array_element(a, "");
  a.push_back('}');
  EXPECT_EQ(a, R"({"say \"hi\", {x} \\ y",""})");
}

TEST(EventBatch, ABatchEndsBeforeATargetsSecondEvent) {
  std::deque<QueuedEvent> q;
  for (const auto* t : {"a", "b", "c", "a", "d"}) q.push_back(for_target(t));
  EXPECT_EQ(batch_size(q, 1000), 3u);
  EXPECT_EQ(batch_size(q, 2), 2u);
  EXPECT_EQ(batch_size({}, 1000), 0u);
}

TEST(EventBatch, ParamsHoldOneElementPerEventInEachOfFourteenColumns) {
  Event a = event_for("a"), b = event_for("b");
  a.reason = "x,y";
  b.recent_restarts = {std::chrono::system_clock::time_point(std::chrono::microseconds(5)),
                       std::chrono::system_clock::time_point(std::chrono::microseconds(7))};
  b.quarantined = true;
  b.instance = "hs-a";
  b.epoch = 42;
  std::deque<QueuedEvent> q;
  q.emplace_back(a);
  q.emplace_back(b);
  const auto p = batch_params(q, 2);
  ASSERT_EQ(p.size(), 14u);
  EXPECT_EQ(*p[1], R"({"a","b"})");
  EXPECT_EQ(*p[5], R"({"x,y",""})");
  EXPECT_EQ(*p[9], R"({"f","t"})");
  EXPECT_EQ(*p[11], R"({"","5,7"})");
  EXPECT_EQ(*p[12], R"({"","hs-a"})") << "no cluster section: an empty instance, never fenced";
  EXPECT_EQ(*p[13], R"({"0","42"})");
  EXPECT_EQ(*batch_params({}, 0)[0], "{}");
}

}  // namespace
}  // namespace healthsweep::store
