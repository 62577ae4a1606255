// Exact keyspace channels: names, batches, and what a change of the watched
// set subscribes and unsubscribes.
#include "sweeps/passive/keyspace_channels.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace healthsweep::sweeps {
using namespace healthsweep::sweeps::passive;
namespace {

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(KeyspaceChannels, TheChannelIsTheKeyspacePrefixAndTheHeartbeatKey) {
  const HeartbeatKeyPattern keys("healthsweep:heartbeat:{id}");
  EXPECT_EQ(keyspace_channel("__keyspace@3__:", keys, "ws-1"), "__keyspace@3__:healthsweep:heartbeat:ws-1");
  // Exact: glob metacharacters in an id stay as they are (no pattern here).
  EXPECT_EQ(keyspace_channel("__keyspace@0__:", HeartbeatKeyPattern("hb:{id}:x"), "a*b?"), "__keyspace@0__:hb:a*b?:x");
}

TEST(KeyspaceChannels, BatchesHoldAtMostTheLimitInOrder) {
  const HeartbeatKeyPattern keys("hb:{id}");
  std::vector<std::string> ids;
  for (int i = 0; i < 2501; ++i) ids.push_back(std::to_string(i));
  const auto batches = channel_batches("P:", keys, ids, 1000);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].size(), 1000u);
  EXPECT_EQ(batches[1].size(), 1000u);
  EXPECT_EQ(batches[2].size(), 501u);
  EXPECT_EQ(batches[0].front(), "P:hb:0");
  EXPECT_EQ(batches[1].front(), "P:hb:1000");
  EXPECT_EQ(batches[2].back(), "P:hb:2500");
}

TEST(KeyspaceChannels, NoIdsAreNoCommandsAndALimitOfZeroIsOne) {
  const HeartbeatKeyPattern keys("hb:{id}");
  EXPECT_TRUE(channel_batches("P:", keys, {}, 1000).empty());
  const auto one_each = channel_batches("P:", keys, {"a", "b"}, 0);
  ASSERT_EQ(one_each.size(), 2u);
  EXPECT_EQ(one_each[1], std::vector<std::string>{"P:hb:b"});
}

TEST(KeyspaceChannels, ChangesSubscribeTheNewAndUnsubscribeTheGone) {
  const std::unordered_set<std::string> subscribed{"a", "b", "c"};
  const auto changes = channel_changes(subscribed, {"b", "c", "d", "e"});
  EXPECT_EQ(sorted(changes.subscribe), (std::vector<std::string>{"d", "e"}));
  EXPECT_EQ(changes.unsubscribe, std::vector<std::string>{"a"});
  EXPECT_FALSE(changes.empty());
}

TEST(KeyspaceChannels, TheSameSetIsNoChangeAndDuplicatesCountOnce) {
  const std::unordered_set<std::string> subscribed{"a", "b"};
  EXPECT_TRUE(channel_changes(subscribed, {"b", "a", "a"}).empty());
  const auto fresh = channel_changes({}, {"x", "x", "y"});
  EXPECT_EQ(sorted(fresh.subscribe), (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(fresh.unsubscribe.empty());
  const auto gone = channel_changes(subscribed, {});
  EXPECT_EQ(sorted(gone.unsubscribe), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(gone.subscribe.empty());
}

TEST(KeyspaceChannels, AppliedChangesLeaveNothingToDo) {
  std::unordered_set<std::string> subscribed;
  std::vector<std::string> watched;
  for (int round = 0; round < 5; ++round) {
    watched.clear();
    for (int i = round * 7; i < round * 7 + 20; ++i) watched.push_back(std::to_string(i));
    const auto c = channel_changes(subscribed, watched);
    for (const auto& id : c.unsubscribe) subscribed.erase(id);
    subscribed.insert(c.subscribe.begin(), c.subscribe.end());
    EXPECT_EQ(subscribed.size(), watched.size());
    EXPECT_TRUE(channel_changes(subscribed, watched).empty()) << "round " << round;
  }
}

TEST(HeartbeatDeadlinesIds, ListsExactlyTheWatchedSet) {
  HeartbeatDeadlines d(std::chrono::seconds(60));
  const auto t = HeartbeatDeadlines::TimePoint{} + std::chrono::seconds(100);
  d.set_targets({"a", "b", "c"}, t);
  d.set_targets({"c", "d"}, t);
  EXPECT_EQ(sorted(d.ids()), (std::vector<std::string>{"c", "d"}));
}

}  // namespace
}  // namespace healthsweep::sweeps
