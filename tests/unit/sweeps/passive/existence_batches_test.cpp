// The periodic reconciliation's batches and pacing (issue 15), pure.
#include "sweeps/passive/existence_batches.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace healthsweep::sweeps {
using namespace healthsweep::sweeps::passive;
namespace {

using namespace std::chrono_literals;
using TP = HeartbeatDeadlines::TimePoint;
const TP t0 = TP{} + 1000s;

TEST(ExistenceBatches, EveryWatchedIdOnceInBatchesOfOneExpectation) {
  HeartbeatDeadlines d{60s};
  std::vector<std::string> ids;
  for (int i = 0; i < 25; ++i) ids.push_back(std::string("t") + std::to_string(i));
  d.set_targets(ids, t0);
  for (int i = 0; i < 12; ++i) d.observe_pttl(ids[i], 30000, t0, {}, t0, {});  // alive
  const auto batches = existence_batches(d, 5);
  std::multiset<std::string> seen;
  for (const auto& b : batches) {
    EXPECT_LE(b.ids.size(), 5u);
    EXPECT_FALSE(b.ids.empty());
    for (const auto& id : b.ids) {
      seen.insert(id);
      EXPECT_EQ(b.expect_present, d.state(id) == HeartbeatState::alive) << id;
    }
  }
  EXPECT_EQ(seen, std::multiset<std::string>(ids.begin(), ids.end()));
  EXPECT_EQ(batches.size(), 6u) << "12 alive in 3, 13 others in 3";
}

TEST(ExistenceBatches, SlicesOfTheSlotsTogetherCoverEveryIdOnce) {
  HeartbeatDeadlines d{60s};
  std::vector<std::string> ids;
  for (int i = 0; i < 23; ++i) ids.push_back(std::string("t") + std::to_string(i));
  d.set_targets(ids, t0);
  d.set_targets(std::vector<std::string>(ids.begin() + 3, ids.end()), t0);  // free slots in the middle
  std::multiset<std::string> seen;
  for (std::size_t at = 0; at < d.slot_end(); at += 4)
    for (const auto& b : existence_batches(d, at, at + 4, 3)) seen.insert(b.ids.begin(), b.ids.end());
  EXPECT_EQ(seen, std::multiset<std::string>(ids.begin() + 3, ids.end()));
  EXPECT_TRUE(existence_batches(d, d.slot_end(), d.slot_end() + 10, 3).empty());
}

TEST(ExistenceBatches, ZeroPerBatchCountsAsOne) {
  HeartbeatDeadlines d{60s};
  d.set_targets({"a", "b"}, t0);
  EXPECT_EQ(existence_batches(d, 0).size(), 2u);
}

TEST(ExistenceBatches, MismatchWhenAnyKeyDiffersFromTheExpectation) {
  const ExistenceBatch alive{{"a", "b", "c"}, true};
  EXPECT_FALSE(existence_mismatch(alive, 3));
  EXPECT_TRUE(existence_mismatch(alive, 2)) << "a key deleted without a notification";
  const ExistenceBatch others{{"d", "e"}, false};
  EXPECT_FALSE(existence_mismatch(others, 0));
  EXPECT_TRUE(existence_mismatch(others, 1)) << "a key appeared for a target not alive";
}

TEST(ExistenceBatches, PacingSpreadsThePassAndBoundsTheSteps) {
  const auto p = pass_pacing(1000, 5000ms, 100);
  EXPECT_EQ(p.batches_per_step, 10u);
  EXPECT_EQ(p.pause, 50ms);
  const auto few = pass_pacing(4, 5000ms, 100);
  EXPECT_EQ(few.batches_per_step, 1u);
  EXPECT_EQ(few.pause, 1250ms);
  const auto one = pass_pacing(1, 5000ms, 100);
  EXPECT_EQ(one.pause, 0ms) << "nothing to wait for after the only step";
  EXPECT_EQ(pass_pacing(0, 5000ms, 100).batches_per_step, 1u);
}

}  // namespace
}  // namespace healthsweep::sweeps
