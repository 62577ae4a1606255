// Rendezvous ownership: the same answer everywhere, an even spread, and
// only about 1/N of the targets moving when an instance joins or leaves.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "cluster/rendezvous.hpp"

namespace healthsweep::cluster {
namespace {

std::vector<std::string> ids(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("ws-" + std::to_string(i));
  return out;
}

TEST(Rendezvous, NoMembersNoOwner) { EXPECT_EQ(rendezvous_owner("ws-1", {}), ""); }

TEST(Rendezvous, TheOrderOfTheMemberListDoesNotMatter) {
  const std::vector<std::string> abc{"a", "b", "c"}, cba{"c", "b", "a"};
  for (const auto& t : ids(500)) EXPECT_EQ(rendezvous_owner(t, abc), rendezvous_owner(t, cba)) << t;
}

TEST(Rendezvous, TheWeightIsFixedAcrossBuilds) {
  // Instances on different hosts and builds must agree: a changed hash
  // function would split ownership during a rolling upgrade.
  EXPECT_EQ(rendezvous_weight("host-a", "ws-1"), rendezvous_weight("host-a", "ws-1"));
  EXPECT_NE(rendezvous_weight("ab", "c"), rendezvous_weight("a", "bc"));
  EXPECT_EQ(rendezvous_weight("host-a", "ws-1"), 0x558d84cc0c1bb8b1ULL);
}

TEST(Rendezvous, ThreeInstancesShareTenThousandTargetsEvenly) {
  const std::vector<std::string> members{"host-a", "host-b", "host-c"};
  std::map<std::string, int> owned;
  for (const auto& t : ids(10000)) ++owned[std::string(rendezvous_owner(t, members))];
  ASSERT_EQ(owned.size(), 3u);
  for (const auto& [m, n] : owned) {
    EXPECT_GT(n, 3000) << m;
    EXPECT_LT(n, 3700) << m;
  }
}

TEST(Rendezvous, AJoiningInstanceTakesAboutAQuarterAndNothingElseMoves) {
  const std::vector<std::string> three{"host-a", "host-b", "host-c"}, four{"host-a", "host-b", "host-c", "host-d"};
  int moved = 0;
  for (const auto& t : ids(10000)) {
    const auto before = rendezvous_owner(t, three), after = rendezvous_owner(t, four);
    if (before == after) continue;
    ++moved;
    EXPECT_EQ(after, "host-d") << t << " moved between two old instances";
  }
  EXPECT_GT(moved, 2200);
  EXPECT_LT(moved, 2800);
}

TEST(Rendezvous, ALeavingInstanceGivesUpOnlyItsOwn) {
  const std::vector<std::string> three{"host-a", "host-b", "host-c"}, two{"host-a", "host-c"};
  for (const auto& t : ids(5000)) {
    const auto before = rendezvous_owner(t, three);
    if (before != "host-b") {
      EXPECT_EQ(rendezvous_owner(t, two), before) << t;
    }
  }
}

}  // namespace
}  // namespace healthsweep::cluster
