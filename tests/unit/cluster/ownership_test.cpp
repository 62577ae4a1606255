// Ownership: pins, engine locality, rendezvous for the rest; the same
// answer as rendezvous_owner where no locality applies.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "cluster/ownership.hpp"
#include "cluster/rendezvous.hpp"

namespace healthsweep::cluster {
namespace {

const std::vector<LiveMember> three{{"host-a", "engine-1"}, {"host-b", "engine-2"}, {"host-c", "engine-2"}};

TEST(Ownership, NobodyLiveNobodyOwns) {
  EXPECT_EQ(owner_of("ws-1", {}, {}), "");
  EXPECT_EQ(owner_of("ws-1", {"engine-1", ""}, {}), "");
}

TEST(Ownership, WithoutLocalityItIsRendezvousOverEveryone) {
  const std::vector<std::string> ids{"host-a", "host-b", "host-c"};
  for (int i = 0; i < 300; ++i) {
    const std::string t = "ws-" + std::to_string(i);
    EXPECT_EQ(owner_of(t, {}, three), rendezvous_owner(t, ids)) << t;
  }
}

TEST(Ownership, AContainerBelongsToAnInstanceOnItsEngineAndTwoThereSplitThem) {
  std::map<std::string, int> owners;
  for (int i = 0; i < 1000; ++i) {
    const std::string t = "ws-" + std::to_string(i);
    EXPECT_EQ(owner_of(t, {"engine-1", ""}, three), "host-a") << t;
    ++owners[std::string(owner_of(t, {"engine-2", ""}, three))];
  }
  ASSERT_EQ(owners.size(), 2u);
  EXPECT_GT(owners["host-b"], 400);
  EXPECT_GT(owners["host-c"], 400);
}

TEST(Ownership, AnEngineNoLiveInstanceWatchesLeavesItsContainersUnowned) {
  EXPECT_EQ(owner_of("ws-1", {"engine-3", ""}, three), "");
}

TEST(Ownership, APinWinsWhileItsInstanceLivesAndLeavesTheTargetUnownedOtherwise) {
  for (int i = 0; i < 100; ++i) {
    const std::string t = "ws-" + std::to_string(i);
    EXPECT_EQ(owner_of(t, {"", "host-c"}, three), "host-c") << t;
    EXPECT_EQ(owner_of(t, {"", "host-z"}, three), "") << t;
  }
}

TEST(Ownership, AJoiningInstancesShareIsNamedUntilItOwnsAndOnlyWhileItHoldsALease) {
  const std::vector<LiveMember> peers{{"host-a", ""}, {"host-b", ""}};
  const LiveMember self{"host-c", ""};
  const auto joining = with_joining_self(peers, true, self);
  ASSERT_EQ(joining.size(), 3u);
  int waiting = 0;
  for (int i = 0; i < 300; ++i) {
    const std::string t = "ws-" + std::to_string(i);
    // What waits for host-c is exactly what it will own once it is an owner.
    EXPECT_EQ(owner_of(t, {}, joining) == "host-c", owner_of(t, {}, three) == "host-c") << t;
    waiting += owner_of(t, {}, joining) == "host-c";
  }
  EXPECT_GT(waiting, 50) << "about a third";
  EXPECT_TRUE(with_joining_self(peers, false, self).empty()) << "without a lease it waits for nothing";
  EXPECT_TRUE(with_joining_self(three, true, self).empty()) << "an owner already: not joining";
}

}  // namespace
}  // namespace healthsweep::cluster
